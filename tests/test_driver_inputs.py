"""``jaxrl.train`` checks every argument before any work starts: each bad value is an error that
names the argument, the value and what was expected, raised before ``agent.init`` runs and
before the checkpoint folder exists. (No compilation here: every case fails first.)"""

import math

import jax
import pytest

import jaxrl
from jaxrl import envs
from jaxrl.agents import ppo, td3_bc

TINY = ppo.Config(num_envs=4, num_steps=8, num_minibatches=1, num_epochs=1)  # 32 steps/iteration
ENV = envs.make("cartpole")


class NoInitPPO:
    """PPO whose ``init`` must not be reached (the checks come first)."""

    NAME = "ppo"
    steps_per_iteration = staticmethod(ppo.steps_per_iteration)
    train_step = staticmethod(ppo.train_step)
    act = staticmethod(ppo.act)

    @staticmethod
    def init(config, env, key):
        raise AssertionError("agent.init ran before the arguments were checked")


GOOD = dict(total_steps=64)
DEVICES = len(jax.devices())
CASES = [
    # (arguments, exception, pattern the message must contain)
    (dict(total_steps=0), ValueError, r"total_steps=0: expected an int >= 1"),
    (dict(total_steps=-5), ValueError, r"total_steps=-5: expected an int >= 1"),
    (dict(total_steps=2.5), ValueError, r"total_steps=2.5: expected an int >= 1 \(a whole"),
    (dict(total_steps=math.nan), ValueError, r"total_steps=nan: expected an int >= 1 \(a finite"),
    (dict(total_steps=math.inf), ValueError, r"total_steps=inf: expected an int >= 1 \(a finite"),
    (dict(total_steps=True), TypeError, r"total_steps=True: expected an int >= 1, got a bool"),
    (dict(total_steps="64"), TypeError, r"total_steps='64': expected an int >= 1, got a str"),
    (
        dict(total_steps=10),
        ValueError,
        r"total_steps=10 is less than one iteration of 'ppo' \(steps_per_iteration\(config\) = "
        r"32 env steps = num_envs 4 x num_steps 8\); ask for at least 32",
    ),
    (dict(seeds=0), ValueError, r"seeds=0: expected None or an int >= 1"),
    (dict(seeds=True), TypeError, r"seeds=True: expected None or an int >= 1, got a bool"),
    (dict(seeds=1.5), ValueError, r"seeds=1.5: expected None or an int >= 1"),
    (dict(seeds=math.nan), ValueError, r"seeds=nan: expected None or an int >= 1"),
    (dict(chunk_steps=0), ValueError, r"chunk_steps=0: expected None or an int >= 1"),
    (dict(chunk_steps=math.inf), ValueError, r"chunk_steps=inf: expected None or an int >= 1"),
    (dict(eval_every=-1), ValueError, r"eval_every=-1: expected None or an int >= 0"),
    (dict(eval_every=math.nan), ValueError, r"eval_every=nan: expected None or an int >= 0"),
    (dict(num_eval_episodes=0), ValueError, r"num_eval_episodes=0: expected an int >= 1"),
    (dict(num_eval_episodes=None), TypeError, r"num_eval_episodes=None: expected an int >= 1"),
    (dict(checkpoint_every=0), ValueError, r"checkpoint_every=0: expected None or an int >= 1"),
    (
        dict(checkpoint_every=-math.inf),
        ValueError,
        r"checkpoint_every=-inf: expected None or an int >= 1",
    ),
    (dict(keep_checkpoints=0), ValueError, r"keep_checkpoints=0: expected an int >= 1"),
    (dict(keep_checkpoints=math.nan), ValueError, r"keep_checkpoints=nan: expected an int >= 1"),
    (
        dict(devices=DEVICES + 1),
        ValueError,
        rf"devices={DEVICES + 1}: expected at most {DEVICES}, the number of devices JAX sees",
    ),
    (dict(devices=0), ValueError, r"devices=0: expected an int >= 1"),
    (dict(devices=True), TypeError, r"devices=True: expected an int >= 1, got a bool"),
    (dict(devices=[]), ValueError, r"devices=\[\]: expected None, an int >= 1 or a non-empty"),
    (
        dict(resume=True, checkpoint_dir=None),
        ValueError,
        r"resume=True needs a checkpoint_dir .*got checkpoint_dir=None",
    ),
]


@pytest.mark.parametrize(
    "changes, error, message",
    CASES,
    ids=[" ".join(f"{k}={v!r}" for k, v in c[0].items()) for c in CASES],
)
def test_bad_argument_fails_before_any_work(tmp_path, changes, error, message):
    folder = tmp_path / "run"
    kw = {**GOOD, "checkpoint_dir": str(folder), "progress": False, **changes}
    total_steps = kw.pop("total_steps")
    with pytest.raises(error, match=message):
        jaxrl.train(NoInitPPO(), TINY, ENV, jax.random.key(0), total_steps, **kw)
    assert not folder.exists()


def test_offline_total_steps_below_one_iteration_counts_gradient_steps(tmp_path):
    """An agent whose iteration takes several gradient steps (TD3+BC: ``policy_delay``) names
    them; the dataset is not even looked at (``prepare_data`` comes after the checks)."""
    config = td3_bc.Config(policy_delay=4)
    with pytest.raises(ValueError, match=r"total_steps=3 .*= 4 gradient steps\); .*at least 4"):
        jaxrl.train(td3_bc, config, envs.make("pendulum"), jax.random.key(0), 3, data=object())
