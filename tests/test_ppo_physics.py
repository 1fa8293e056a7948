"""PPO on real Brax / MuJoCo Playground physics: one learning test and smoke runs.

Each physics env costs 20-70 s of compilation on a 2-core CPU, so these are few and small.
"""

import jax
import numpy as np
import pytest
from test_ppo import learning_run

import jaxrl
from jaxrl import envs
from jaxrl.agents import ppo

pytestmark = pytest.mark.physics

TINY = ppo.Config(num_envs=8, num_steps=8, num_minibatches=2, num_epochs=2)


def test_ppo_learns_brax_inverted_pendulum():
    """Brax inverted pendulum (reward 1 per step alive, max return 1000). 150k steps; a random
    policy survives about 5-30 steps, and Brax's own PPO needs about 270k steps to reach 1000 on
    this machine. Threshold 800: the pole must stay up for most of the 1000-step episode.
    Calibration (``python tests/calibrate.py ppo``, 8 seeds): 1000 on every seed."""
    assert learning_run("brax/inverted_pendulum")[0] > 800


@pytest.mark.parametrize(
    "name", ["brax/ant", "playground/HopperStand", "playground/CartpoleSwingup"]
)
def test_ppo_smoke_on_physics_envs(name):
    env = envs.make(name)
    result = jaxrl.train(
        ppo, TINY, env, jax.random.key(0), 3 * 64, chunk_steps=64, eval_every=0, progress=False
    )
    assert len(result.history["step"]) == 3
    for metric in ("policy_loss", "value_loss", "entropy", "grad_norm", "approx_kl"):
        assert np.isfinite(result.history[metric]).all(), (name, metric)
    obs = np.asarray(result.state.env_state.obs)
    assert obs.shape == (TINY.num_envs, *env.spec.obs_shape) and np.isfinite(obs).all()
