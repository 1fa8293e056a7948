"""jaxrl.load_policy / make_policy and experiments/evaluate.py.

Tiny two-seed runs of PPO, PROPS, TD3+BC, PRDC and GoRL are trained once (module fixture) in the
layouts the experiment scripts write: a comparison with members (``compare/PPO/checkpoints``,
``compare/PROPS/checkpoints``), a run folder (``prdc/checkpoints``), a bare checkpoint folder
(``td3_bc``) and GoRL's ``gorl/seed_<i>/stage_<k>``. A fresh process loads seed 1 of each and
must reproduce the training process's last evaluation return for the same evaluation key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxrl
from jaxrl import data, envs, rollout
from jaxrl.agents import gorl, ppo, prdc, props, td3_bc
from jaxrl.driver import evaluation_keys
from jaxrl.policy import load_policy, make_policy, num_seeds, select_run
from jaxrl.sweep import grid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPISODES = 2
KEY = 0

PPO = ppo.Config(num_envs=4, num_steps=8, num_minibatches=2, num_epochs=1, hidden_sizes=(16, 16))
PROPS = props.Config(
    num_envs=2,
    num_steps=16,
    props_num_steps=8,
    num_minibatches=2,
    num_epochs=1,
    props_num_epochs=1,
    props_num_minibatches=2,
    se_epochs=1,
    se_num_minibatches=2,
    hidden_sizes=(16, 16),
)
TD3_BC = td3_bc.Config(hidden_sizes=(16, 16), batch_size=16)
PRDC = prdc.Config(hidden_sizes=(16, 16), batch_size=16)
GORL = gorl.Config(
    num_envs=8,
    num_steps=8,
    num_minibatches=2,
    num_epochs=1,
    hidden_sizes=(16, 16),
    decoder_hidden_sizes=(16, 16),
    decoder_batch=32,
    decoder_epochs=2,
    collect_steps=8,
)


def eval_key(key: jax.Array, chunk: int, seeds: int | None, seed: int) -> jax.Array:
    """The driver's evaluation key of ``seed`` after ``chunk``."""
    keys = evaluation_keys(key, chunk, seeds)
    return keys[seed] if seeds else keys


def tiny_dataset(n: int = 64) -> data.Dataset:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    ends = np.zeros(n, bool)
    ends[15::16] = True
    actions = rng.uniform(-1, 1, size=(n, 1)).astype(np.float32)
    rewards = rng.normal(size=n).astype(np.float32)
    return data.Dataset.create(obs, actions, rewards, np.zeros(n, bool), ends, obs + 0.1)


def _train(agent, config, folder: str, steps: int, chunk: int, **kw) -> tuple[dict, object]:
    """Two seeds (of every setting of a sweep) into ``folder``; the case for seed 1 (of the
    last setting) and the result."""
    key = jax.random.key(KEY)
    result = jaxrl.train(
        agent,
        config,
        envs.make("pendulum"),
        key,
        steps,
        seeds=2,
        chunk_steps=chunk,
        num_eval_episodes=EPISODES,
        checkpoint_dir=folder,
        progress=False,
        **kw,
    )
    chunks = int((np.asarray(result.history["step"]) > 0).sum())  # not the step-0 row
    case = {
        "key": jax.random.key_data(eval_key(key, chunks - 1, 2, 1)).tolist(),
        "expected": float(result.history["eval_return"][-1, ..., 1].reshape(-1)[-1]),
        "agent": agent.NAME,
    }
    return case, result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("runs"))
    compare = os.path.join(root, "compare")
    cases, results = {}, {}
    lrs = grid(PPO, learning_rate=[3e-4, 1e-3])
    case, results["ppo"] = _train(ppo, lrs, os.path.join(compare, "PPO", "checkpoints"), 64, 32)
    cases["ppo"] = {**case, "path": compare, "member": "PPO", "setting": 1}
    case, _ = _train(props, PROPS, os.path.join(compare, "PROPS", "checkpoints"), 64, 32)
    cases["props"] = {**case, "path": os.path.join(compare, "PROPS")}
    dataset = tiny_dataset()
    case, _ = _train(td3_bc, TD3_BC, os.path.join(root, "td3_bc"), 8, 4, data=dataset)
    cases["td3_bc"] = {**case, "path": os.path.join(root, "td3_bc")}
    run = os.path.join(root, "prdc")
    case, _ = _train(prdc, PRDC, os.path.join(run, "checkpoints"), 8, 4, data=dataset)
    cases["prdc"] = {**case, "path": run}

    gorl_run = os.path.join(root, "gorl")
    for i in range(2):  # as experiments/gorl.py: one run_stages per seed, in seed_<i>
        seed_key = jax.random.fold_in(jax.random.key(KEY), i)
        stages = gorl.run_stages(
            GORL,
            envs.make("pendulum"),
            seed_key,
            [128, 128],
            64,
            num_eval_episodes=EPISODES,
            run_dir=os.path.join(gorl_run, f"seed_{i}"),
        )
    last = stages[-1].history  # seed 1, stage 1: trained with the key fold_in(seed_key, 1)
    stage_key = jax.random.fold_in(seed_key, 1)
    cases["gorl"] = {
        "key": jax.random.key_data(
            eval_key(stage_key, int((last["step"] > 0).sum()) - 1, None, 0)
        ).tolist(),
        "expected": float(last["eval_return"][-1]),
        "agent": "gorl",
        "path": gorl_run,
    }
    return {"root": root, "compare": compare, "cases": cases, "results": results}


LOADER = """
import json, sys
import jax, jax.numpy as jnp
import jaxrl
from jaxrl import rollout

out = {}
episodes, cases = json.loads(sys.argv[1])
for name, case in cases.items():
    policy = jaxrl.load_policy(
        case["path"], seed=1, member=case.get("member"), setting=case.get("setting")
    )
    key = jax.random.wrap_key_data(jnp.asarray(case["key"], jnp.uint32))
    act = lambda obs, k, p=policy: p(obs, k, deterministic=True)
    metrics = jax.jit(lambda k: rollout.evaluate(policy.env, act, k, episodes))(key)
    out[name] = {
        "return": float(metrics["eval_return"]),
        "agent": policy.agent_name,
        "env": policy.env_name,
        "step": policy.step,
    }
print("RESULT" + json.dumps(out))
"""


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": ROOT + (os.pathsep + path if path else "")}


def test_fresh_process_reproduces_the_training_evaluation(runs):
    cases = runs["cases"]
    done = subprocess.run(
        [sys.executable, "-c", LOADER, json.dumps([EPISODES, cases])],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    got = json.loads(line.removeprefix("RESULT"))
    assert set(got) == {"ppo", "props", "td3_bc", "prdc", "gorl"}
    for name, case in cases.items():
        assert got[name]["agent"] == case["agent"]
        assert got[name]["env"] == "pendulum"
        np.testing.assert_allclose(got[name]["return"], case["expected"], rtol=1e-5, err_msg=name)
    assert got["ppo"]["step"] == 64 and got["td3_bc"]["step"] == 8


def test_errors_name_the_problem(runs, tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"no checkpoints in {tmp_path}.*expected"):
        load_policy(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_policy(tmp_path / "missing")
    compare = runs["compare"]
    with pytest.raises(ValueError, match="several members: PPO, PROPS.*member="):
        load_policy(compare)
    with pytest.raises(ValueError, match="no member 'SAC'.*PPO, PROPS"):
        load_policy(compare, member="SAC")
    with pytest.raises(ValueError, match=r"sweep of 2 settings; pick one with setting=.*1: "):
        load_policy(compare, member="PPO")
    with pytest.raises(ValueError, match=r"setting=2 is out of range: .* has 2 settings"):
        load_policy(compare, member="PPO", setting=2)
    with pytest.raises(ValueError, match=r"seed=2 is out of range: .* has 2 seeds"):
        load_policy(compare, member="PPO", seed=2, setting=0)
    gorl_run = runs["cases"]["gorl"]["path"]
    with pytest.raises(ValueError, match=r"seed=5 is out of range: .* has 2 seeds \(folders"):
        load_policy(gorl_run, seed=5)
    with pytest.raises(ValueError, match=r"step=7: .* checkpoints at steps 32, 64"):
        load_policy(compare, member="PPO", step=7, setting=0)
    with pytest.raises(ValueError, match="setting=1 is out of range: .* without a sweep"):
        load_policy(compare, member="PROPS", setting=1)
    assert num_seeds(compare, member="PPO") == 2 and num_seeds(gorl_run) == 2


def test_one_observation_or_a_batch(runs):
    policy = load_policy(runs["compare"], member="PPO", seed=1, setting=1, step=32)
    assert (policy.agent, policy.env_name, policy.step, policy.seed) == (ppo, "pendulum", 32, 1)
    assert policy.config.num_envs == PPO.num_envs and policy.setting == 1
    assert np.float32(policy.config.learning_rate) == np.float32(1e-3)
    assert policy.state.env_state.obs is None  # what acting does not read is dropped
    obs = jax.random.normal(jax.random.key(1), (5, 3))
    key = jax.random.key(2)
    batch = policy(obs, key, deterministic=True)
    assert batch.shape == (5, 1)
    for i in range(5):
        one = policy(np.asarray(obs[i]), key, deterministic=True)
        assert one.shape == (1,)
        np.testing.assert_allclose(one, batch[i], rtol=1e-6, atol=1e-6)
    sampled = policy(obs, key)
    assert sampled.shape == (5, 1) and not np.allclose(sampled, batch)
    with pytest.raises(ValueError, match=r"obs must have shape \(3,\)"):
        policy(np.zeros((5, 4)), key)


def test_make_policy_on_a_train_result(runs):
    result = runs["results"]["ppo"]
    env = envs.make("pendulum")
    case = runs["cases"]["ppo"]
    config = grid(PPO, learning_rate=[3e-4, 1e-3]).setting(1)  # as trained
    policy = make_policy(ppo, config, env, select_run(result.state, seed=1, setting=1))
    key = jax.random.wrap_key_data(np.asarray(case["key"], np.uint32))
    got = jax.jit(lambda k: rollout.evaluate(env, lambda o, kk: policy(o, kk, True), k, EPISODES))
    np.testing.assert_allclose(float(got(key)["eval_return"]), case["expected"], rtol=1e-5)
    np.testing.assert_allclose(policy.evaluate(key, EPISODES)["eval_return"], case["expected"])
    with pytest.raises(ValueError, match="select_run"):
        make_policy(ppo, config, env, select_run(result.state, setting=1))  # a seed axis


def test_evaluate_script(runs, tmp_path):
    compare = runs["compare"]
    video = str(tmp_path / "episode.mp4")
    command = [sys.executable, "experiments/evaluate.py", compare, "--member", "PPO"]
    command += ["--setting", "1", "--all-seeds", "--episodes", "3", "--video", video]
    done = subprocess.run(
        command, capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "over 6 episodes of 2 seed(s)" in done.stdout
    with open(os.path.join(compare, "PPO", "evaluation.json")) as f:
        written = json.load(f)
    assert [s["seed"] for s in written["seeds"]] == [0, 1]
    assert (written["agent"], written["env"], written["setting"]) == ("ppo", "pendulum", 1)
    assert written["deterministic"] and written["episodes_per_seed"] == 3
    assert written["video"] == str(tmp_path / "episode.png")  # pendulum: a plot of the episode
    assert os.path.getsize(written["video"]) > 0
    means = [s["return_mean"] for s in written["seeds"]]
    np.testing.assert_allclose(written["return_mean"], np.mean(means), rtol=1e-6)

    bad = subprocess.run(
        [sys.executable, "-m", "experiments.evaluate", compare, "--member", "PROPS", "--seed", "3"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=600,
    )
    assert bad.returncode != 0 and "seed=3 is out of range" in bad.stderr


def test_brax_and_pointmaze_episodes_render(tmp_path):
    """Brax's HTML viewer and the maze plot, from a few steps of zero actions (no training)."""
    import matplotlib

    matplotlib.use("Agg")
    from jaxrl.envs import brax, pointmaze

    for name in ("brax/inverted_pendulum", "pointmaze-medium"):
        env = envs.make(name)

        def episode(key, env=env):
            state, _ = env.reset(key)

            def body(s, _):
                s, _ = env.step(s, np.ones(env.spec.action_space.shape, np.float32))
                return s, s

            return jax.lax.scan(body, state, None, length=5)[1]

        states = jax.jit(episode)(jax.random.key(0))
        if name.startswith("brax/"):
            page = brax.render_html(env, states)
            assert page.startswith("<!DOCTYPE html>") and "Brax visualizer" in page
            assert len(brax.unstack(states)) == 5
        else:
            ax = pointmaze.plot_episode(env, states)
            ax.figure.savefig(tmp_path / "maze.png")
            assert os.path.getsize(tmp_path / "maze.png") > 0
