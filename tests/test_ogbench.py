"""OGBench interop with OGBench's own env and oracle (``jaxrl.ogbench``; skipped only when the
``ogbench`` package is missing, CI installs it with ``.[test]``).

Figures measured with ogbench 1.2.2 / mujoco 4.0 on a 2-core CPU (seeds as in the tests):

* generation: 0.06 s per 200-step episode. With noise 0.5, 12 of 12 medium stitch episodes reach
  their goal (seeds 0-3: 12 every time); without noise 11 / 10 / 12 / 12 of 12: OGBench's oracle
  stops at the goal cell's centre (``get_oracle_subgoal``), so a goal whose reset noise (+-1 unit
  per axis) puts it more than ``goal_tol`` = 1 unit from that centre, and which the point does not
  cross on its way in, is never reached; the noise lets the point wander onto it. Over 20
  navigate episodes of 1000 steps: 6.6 goals per episode without noise, 8.9 with 0.5.
* 99.3% of the transitions are free moves ``next_ob - ob = 0.2 * action`` (OGBench's point
  dynamics; the rest touch a wall).
* evaluation: jaxrl's pure-JAX BFS oracle (``envs/pointmaze.py``, acting in OGBench's coordinates
  through ``to_ogbench_xy``'s inverse) succeeds on 5/5 tasks x 4 episodes of medium (and 2
  episodes of large and giant), in 84-165 steps on medium; the zero policy scores 0 (every
  episode runs the 1000-step limit).
* ``experiments/dqc.py`` (``presets.DQC_CPU``, 200 gradient steps) on 4 OGBench episodes:
  17-22 s in all on the shared 2-core machine (12-21 s of it compiling, about 3 s evaluating 5
  episodes in OGBench's env, compiling ``act`` included); a smoke test, no learning is claimed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

ogbench = pytest.importorskip("ogbench")

import jaxrl  # noqa: E402
from jaxrl import data, envs  # noqa: E402
from jaxrl import ogbench as og  # noqa: E402
from jaxrl.agents import presets  # noqa: E402
from jaxrl.envs import pointmaze  # noqa: E402
from jaxrl.envs.ogbench import HostOnlyEnvError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
make_dataset = importlib.import_module("experiments.make_dataset")
script_dqc = importlib.import_module("experiments.dqc")

EPISODES, STEPS = 4, 200


@pytest.fixture(scope="module")
def navigate(tmp_path_factory: pytest.TempPathFactory) -> str:
    """4 + 1 (validation) medium navigate episodes of 200 transitions, through the CLI."""
    path = str(tmp_path_factory.mktemp("ogbench") / "pointmaze-medium-navigate-v0.npz")
    argv = ["ogbench", "--episodes", str(EPISODES), "--episode-steps", str(STEPS)]
    make_dataset.main([*argv, "--val-episodes", "1", "--out", path])
    return path


def oracle_policy(layout: str, chunk: int = 1):
    """jaxrl's BFS oracle (cells of 1) acting on OGBench observations ``[ob, goal]`` (4 units a
    cell, ``to_ogbench_xy``'s inverse), jitted; ``chunk`` repeats its action."""
    maze = pointmaze.unwrap(pointmaze.make(layout))

    @jax.jit
    def act(obs: jax.Array, key: jax.Array) -> jax.Array:
        cells = (obs + 4.0) / 4.0
        a = maze.oracle_action(cells[:, :2], cells[:, 2:])
        return a if chunk == 1 else jnp.repeat(a[:, None], chunk, axis=1)

    return act


# --- datasets ---------------------------------------------------------------------------------


def test_dataset_is_ogbench_layout_and_loads_in_both_libraries(navigate):
    rows = EPISODES * (STEPS + 1)
    with np.load(navigate) as raw:  # OGBench's raw layout, as its generator writes it
        assert {"observations", "actions", "terminals", "qpos", "qvel"} <= set(raw.files)
        assert raw["observations"].shape == (rows, 2) and raw["observations"].dtype == np.float32
        assert raw["terminals"].dtype == bool
        np.testing.assert_array_equal(np.flatnonzero(raw["terminals"]), np.arange(1, 5) * 201 - 1)
    ref = ogbench.utils.load_dataset(navigate, add_info=True)
    assert ref["observations"].shape == ref["next_observations"].shape == (EPISODES * STEPS, 2)
    assert ref["actions"].shape == (EPISODES * STEPS, 2) and ref["qvel"].shape == (800, 2)
    ds = data.load(navigate)
    assert ds.size == EPISODES * STEPS and ds.num_episodes == EPISODES
    np.testing.assert_array_equal(ds.observations, ref["observations"])
    np.testing.assert_array_equal(ds.next_observations, ref["next_observations"])
    np.testing.assert_array_equal(ds.actions, ref["actions"])
    np.testing.assert_array_equal(np.asarray(ds.timeouts), ref["terminals"] > 0)
    assert not np.asarray(ds.terminals).any()
    np.testing.assert_array_equal(ds.physics["qpos"], ds.observations)  # the point's ob is qpos
    # OGBench's own entry point pairs it with the validation file
    _, train, val = ogbench.make_env_and_datasets(
        "pointmaze-medium-navigate-v0", dataset_path=navigate
    )
    assert train["observations"].shape == (800, 2) and val["observations"].shape == (STEPS, 2)
    card = data.load_card(navigate)
    with open(navigate + ".json") as f:
        assert card == json.load(f)
    assert card["env"] == "ogbench/pointmaze-medium-v0" and card["noise"] == 0.5
    assert (card["episodes"], card["episode_steps"], card["seed"]) == (EPISODES, STEPS, 0)
    assert card["val_file"] == "pointmaze-medium-navigate-v0-val.npz"
    assert card["goals_reached"]["total"] >= EPISODES  # measured: 9
    # OGBench's point dynamics (qpos += 0.2 * action) away from walls: measured 99.3% of rows
    delta = ref["next_observations"] - ref["observations"]
    free = np.isclose(delta, 0.2 * ref["actions"], atol=1e-4).all(axis=1)
    assert free.mean() > 0.95 and np.abs(ref["actions"]).max() <= 1.0


def test_oracle_reaches_goals_noise_helps_and_seed_fixes_the_file(tmp_path):
    state = np.random.get_state()
    reached = {}
    for noise in (0.0, 0.5):
        path = tmp_path / f"stitch-{noise}.npz"
        card = og.generate_dataset(
            "pointmaze-medium-stitch-v0", path, episodes=12, val_episodes=0, noise=noise
        )
        reached[noise] = card["goals_reached"]["episodes_reaching_goal"]
    # measured 11 / 12 without noise (the oracle stops at the goal cell's centre), 12 with it
    assert reached[0.5] == 12 and 9 <= reached[0.0] <= 12
    with np.load(tmp_path / "stitch-0.0.npz") as raw:
        ends = raw["observations"][raw["terminals"]]
        moves = np.linalg.norm(raw["actions"][~raw["terminals"]], axis=1)
    # noise-free: unit subgoal directions (OGBench's norm + 1e-6 shortens them by < 1% only
    # within 0.0001 of a subgoal)
    assert moves.max() <= 1.0 + 1e-6 and moves.min() > 0.99
    # every noise-free episode ends at a cell centre (4 j - 4, 4 i - 4), oscillating within 0.2
    assert np.abs((ends + 4.0) / 4.0 - np.round((ends + 4.0) / 4.0)).max() * 4.0 <= 0.2
    og.generate_dataset("pointmaze-medium-stitch-v0", tmp_path / "again.npz", episodes=12,
                        val_episodes=0, noise=0.5)  # fmt: skip
    with np.load(tmp_path / "stitch-0.5.npz") as a, np.load(tmp_path / "again.npz") as b:
        for k in ("observations", "actions", "terminals", "qpos", "qvel"):
            np.testing.assert_array_equal(a[k], b[k])
    after = np.random.get_state()  # NumPy's global generator is the caller's again
    assert all(np.array_equal(x, y) for x, y in zip(state, after, strict=True))


# --- host-side evaluation ---------------------------------------------------------------------


def test_scripted_oracle_succeeds_and_zero_policy_fails_in_ogbench_env():
    out = og.evaluate(oracle_policy("medium"), "pointmaze-medium-v0", episodes_per_task=2)
    assert out["success"] == 1.0 and list(out["task_success"]) == [f"task{k}" for k in range(1, 6)]
    lengths = np.asarray(out["episode_length"])
    assert lengths.shape == (5, 2) and lengths.max() < 300  # measured 84-165 steps
    # open-loop chunks of 3: every step counts, and the same seed gives the same episodes
    chunked = og.evaluate(oracle_policy("medium", 3), "pointmaze-medium-v0", task_ids=[3], chunk=3)
    again = og.evaluate(oracle_policy("medium", 3), "pointmaze-medium-v0", task_ids=[3], chunk=3)
    assert chunked["success"] == 1.0 and chunked["episode_length"] == again["episode_length"]
    zero = jax.jit(lambda obs, key: jnp.zeros((obs.shape[0], 2)))
    out = og.evaluate(zero, "ogbench/pointmaze-medium-v0", task_ids=(1, 3))
    assert out["success"] == 0.0 and out["episode_length"] == [[1000], [1000]]


def test_dqc_script_on_ogbench_data_evaluates_in_ogbench_env(navigate, tmp_path):
    """experiments/dqc.py (presets.DQC_CPU, 200 gradient steps) on the OGBench-generated file:
    the card's spec-only env ogbench/pointmaze-medium-v0 trains on device without on-device
    evaluation, each seed is evaluated in OGBench's env at the end (results.json "ogbench"), and
    jaxrl.load_policy(run) evaluates the same. A smoke test: success is not expected."""
    env = envs.make(data.load_card(navigate)["env"])  # [ob, goal], OGBench's box and time limit
    assert env.spec.obs_shape == (4,) and env.spec.max_episode_steps == 1000
    argv = ["--dataset", navigate, "--total-steps", "200", "--num-eval-episodes", "5"]
    argv += ["--eval-every", "100"]  # no on-device evaluation: two chunks (checkpoints)
    report = script_dqc.main([*argv, "--no-progress", "--run-dir", str(tmp_path)])
    out = report.results["ogbench"]
    assert out["env"] == "pointmaze-medium-v0" and len(out["per_seed"]) == 1
    tasks = {k: v for k, v in out["task_success"].items() if not k.endswith("_per_seed")}
    assert list(tasks) == [f"task{k}" for k in range(1, 6)]
    assert all(0.0 <= s <= 1.0 for s in tasks.values()) and 0.0 <= out["success"] <= 1.0
    (run,) = out["per_seed"]
    assert run["chunk"] == presets.DQC_CPU.action_horizon and np.asarray(
        run["episode_length"]
    ).shape == (5, 1)
    policy = jaxrl.load_policy(report.path)
    assert policy.env_name == "ogbench/pointmaze-medium-v0"
    again = og.evaluate(policy, episodes_per_task=1)  # the OGBench env from the policy's name
    assert again["task_success"] == run["task_success"]
    assert again["episode_length"] == run["episode_length"]
    with pytest.raises(HostOnlyEnvError, match="jaxrl.ogbench.evaluate"):
        policy.evaluate(jax.random.key(0), num_episodes=5)  # no on-device copy of OGBench's env


# --- refusals ---------------------------------------------------------------------------------


def test_bad_inputs_are_refused_by_field(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="env_name='pointmaze-tiny-v0' is not one of"):
        og.evaluate(oracle_policy("medium"), "pointmaze-tiny-v0")
    with pytest.raises(ValueError, match="its env is 'pointmaze-medium-v0'"):
        og.evaluate(oracle_policy("medium"), "pointmaze-medium-navigate-v0")
    with pytest.raises(ValueError, match="env_name is required"):
        og.evaluate(oracle_policy("medium"))
    with pytest.raises(ValueError, match=r"task_ids must be OGBench task ids in 1\.\.5.*\[0, 6\]"):
        og.evaluate(oracle_policy("medium"), "pointmaze-medium-v0", task_ids=[1, 0, 6])
    with pytest.raises(ValueError, match="episodes_per_task must be an int >= 1"):
        og.evaluate(oracle_policy("medium"), "pointmaze-medium-v0", episodes_per_task=0)
    wrong = jax.jit(lambda obs, key: jnp.zeros((obs.shape[0], 3)))
    with pytest.raises(ValueError, match=r"policy returned actions of shape \(1, 3\)"):
        og.evaluate(wrong, "pointmaze-medium-v0", task_ids=[1])
    with pytest.raises(ValueError, match=r"dataset='antmaze-medium-navigate-v0': only OGBench"):
        og.generate_dataset("antmaze-medium-navigate-v0", tmp_path / "x.npz")
    with pytest.raises(ValueError, match="episodes must be an int >= 1"):
        og.generate_dataset("pointmaze-medium-stitch-v0", tmp_path / "x.npz", episodes=0)
    with pytest.raises(ValueError, match="path must end with .npz"):
        og.generate_dataset("pointmaze-medium-stitch-v0", tmp_path / "x.h5")
    with pytest.raises(ValueError, match="'ogbench/<env>'='cube-tiny-v0' is not one of"):
        envs.make("ogbench/cube-tiny-v0")
    monkeypatch.setitem(sys.modules, "ogbench", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'jaxrl\[ogbench\]'"):
        og.generate_dataset("pointmaze-medium-stitch-v0", tmp_path / "x.npz", episodes=1)
    assert not os.listdir(tmp_path)  # refused before anything was written
