"""The zero-shot walker and cheetah domains (jaxrl.envs.dmc_tasks) against MuJoCo Playground's
own rewards, MuJoCo's C engine and hand formulas; relabelling from stored physics.

Each domain's random rollout (with Playground's reference rewards computed on the same data) is
compiled once per module: 30-60 s per domain on a 2-core CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from jaxrl import zero_shot
from jaxrl.data import Dataset
from jaxrl.envs import dmc_tasks
from jaxrl.envs.brax import unwrap
from jaxrl.envs.playground import PlaygroundEnv

pytestmark = pytest.mark.physics

N_STEPS = 12


def _rollout(domain, references, n_steps: int = N_STEPS, seed: int = 0) -> dict[str, np.ndarray]:
    """A random rollout of ``domain`` (its time limit is ``n_steps``) recording, per step, the
    domain's outputs, the physics recomputation, Playground's own reward of the step
    (``live``: the inner Playground env's reward, from the data its step leaves) and the
    ``references`` (Playground envs) rewards on ``mjx.forward`` of the post-step data
    (``fresh``)."""
    from mujoco import mjx

    pg = unwrap(domain, PlaygroundEnv).env
    action_size = domain.spec.action_space.shape[0]

    @jax.jit
    def run(key):
        state, ts0 = domain.reset(key)

        def body(state, k):
            action = jax.random.uniform(k, (action_size,), minval=-1.0, maxval=1.0)
            state, ts = domain.step(state, action)
            data = state.inner.data
            fwd = mjx.forward(pg.mjx_model, data)
            fresh = jnp.stack([r._get_reward(fwd, action, {}, {}) for r in references])
            out = {
                "obs": ts.obs,
                "action": action,
                "reward": ts.reward,
                "truncated": ts.truncated,
                "terminated": ts.terminated,
                "task_rewards": ts.info["task_rewards"],
                "qpos": ts.info["physics"]["qpos"],
                "qvel": ts.info["physics"]["qvel"],
                "recomputed": domain.task_rewards(ts.info["physics"], action),
                "live": state.inner.reward,
                "fresh": fresh,
            }
            return state, out

        _, outs = jax.lax.scan(body, state, jax.random.split(key, n_steps))
        return ts0, outs

    ts0, outs = run(jax.random.PRNGKey(seed))
    out = {k: np.asarray(v) for k, v in outs.items()}
    out["obs0"] = np.asarray(ts0.obs)
    out["reset_task_rewards"] = np.asarray(ts0.info["task_rewards"])
    out["reset_qpos"] = np.asarray(ts0.info["physics"]["qpos"])
    return out


def _c_forward(domain, qpos, qvel) -> tuple[float, float]:
    """MuJoCo's C engine at ``(qpos, qvel)``: the ``torso_subtreelinvel`` sensor's x and
    ``subtree_angmom["torso"][1]`` (float64)."""
    model = unwrap(domain, PlaygroundEnv).env.mj_model
    data = mujoco.MjData(model)
    data.qpos, data.qvel = qpos, qvel
    mujoco.mj_forward(model, data)
    mujoco.mj_subtreeVel(model, data)
    torso = model.body("torso").id
    return float(data.sensor("torso_subtreelinvel").data[0]), float(data.subtree_angmom[torso, 1])


@pytest.fixture(scope="module")
def walker():
    from mujoco_playground import registry

    domain = dmc_tasks.make("walker", max_episode_steps=N_STEPS)
    refs = [
        registry.load(name, config_overrides={"impl": "jax"})
        for name in ("WalkerStand", "WalkerWalk", "WalkerRun")
    ]
    return domain, _rollout(domain, refs)


@pytest.fixture(scope="module")
def cheetah():
    from mujoco_playground import registry

    domain = dmc_tasks.make("cheetah", max_episode_steps=N_STEPS)
    refs = [registry.load("CheetahRun", config_overrides={"impl": "jax"})]
    return domain, _rollout(domain, refs, seed=1)


def test_walker_matches_playground_and_exorl(walker):
    from mujoco_playground._src.dm_control_suite import walker as pg_walker

    domain, out = walker
    assert isinstance(domain, zero_shot.TaskDomain)
    assert domain.task_names == ("stand", "walk", "run", "flip")
    assert domain.spec.name == "dmc/walker" and domain.spec.obs_shape == (24,)
    assert domain.spec.max_episode_steps == N_STEPS
    assert (dmc_tasks.WALKER_STAND_HEIGHT, dmc_tasks.WALKER_WALK_SPEED) == (
        pg_walker._STAND_HEIGHT,
        pg_walker.WALK_SPEED,
    )
    assert dmc_tasks.WALKER_RUN_SPEED == pg_walker.RUN_SPEED
    assert dmc_tasks.make("walker", max_episode_steps=N_STEPS) == domain  # static-arg safe

    tr = out["task_rewards"]
    assert tr.shape == (N_STEPS, 4) and tr.dtype == np.float32
    np.testing.assert_array_equal(out["reward"], 0.0)
    np.testing.assert_array_equal(out["reset_task_rewards"], 0.0)
    assert out["truncated"][-1] and not out["truncated"][:-1].any()
    assert not out["terminated"].any()
    # Playground's WalkerStand/Walk/Run rewards on the same post-step state and action.
    np.testing.assert_allclose(tr[:, :3], out["fresh"], rtol=1e-5, atol=1e-7)
    # The step's rewards are the stored physics' rewards.
    np.testing.assert_allclose(out["recomputed"], tr, rtol=1e-6, atol=0)
    # Playground's own step reward reads the kinematics one substep stale: close, not equal.
    np.testing.assert_allclose(out["live"], tr[:, 1], atol=0.05)
    # flip: ExORL's formula on MuJoCo's (C) subtree angular momentum of the torso.
    for t in range(N_STEPS):
        _, angmom = _c_forward(domain, out["qpos"][t], out["qvel"][t])
        spin = np.clip(angmom / dmc_tasks.WALKER_SPIN_SPEED, 0.0, 1.0)
        np.testing.assert_allclose(tr[t, 3], tr[t, 0] * (5 * spin + 1) / 6, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="stand, walk, run, flip"):
        zero_shot.task_env(domain, "spin")
    with pytest.raises(ValueError, match="walker, cheetah"):
        dmc_tasks.make("quadruped")


def test_cheetah_matches_playground_and_exorl(cheetah):
    from mujoco_playground._src.dm_control_suite import cheetah as pg_cheetah

    domain, out = cheetah
    assert domain.task_names == ("run", "run_backward", "walk", "walk_backward")
    assert domain.spec.name == "dmc/cheetah" and domain.spec.obs_shape == (17,)
    assert dmc_tasks.CHEETAH_RUN_SPEED == pg_cheetah._RUN_SPEED
    tr = out["task_rewards"]
    np.testing.assert_array_equal(out["reward"], 0.0)
    np.testing.assert_allclose(out["recomputed"], tr, rtol=1e-6, atol=0)
    # Playground's CheetahRun on the same post-step state ...
    np.testing.assert_allclose(tr[:, 0], out["fresh"][:, 0], rtol=1e-5, atol=1e-7)
    # ... and its own step reward, which (one physics substep per control step) reads the state
    # before the step: exactly ours one step later.
    np.testing.assert_allclose(out["live"][1:], tr[:-1, 0], rtol=1e-5, atol=1e-7)
    # Every task by hand, tolerance(sign * v, (target, inf), margin=target, 0 at the margin,
    # linear) = clip(sign * v / target, 0, 1), on MuJoCo's (C) torso_subtreelinvel sensor.
    speeds = np.array(
        [_c_forward(domain, q, v)[0] for q, v in zip(out["qpos"], out["qvel"], strict=True)]
    )
    run, walk = dmc_tasks.CHEETAH_RUN_SPEED, dmc_tasks.CHEETAH_WALK_SPEED
    expected = np.stack(
        [
            np.clip(s * speeds / v, 0.0, 1.0)
            for v, s in ((run, 1), (run, -1), (walk, 1), (walk, -1))
        ],
        axis=1,
    )
    np.testing.assert_allclose(tr, expected, rtol=1e-4, atol=1e-5)
    assert (tr > 0).any(axis=0).all()  # the rollout moves both ways: no task is checked at 0 only


def test_relabel_from_stored_physics(walker):
    domain, out = walker
    obs = np.concatenate([out["obs0"][None], out["obs"]])
    dataset = Dataset.create(
        observations=obs[:-1],
        actions=out["action"],
        rewards=np.zeros(N_STEPS, np.float32),
        terminals=np.zeros(N_STEPS, bool),
        timeouts=out["truncated"],
        next_observations=obs[1:],
        physics={"next_qpos": out["qpos"], "next_qvel": out["qvel"]},
    )
    # (float32 rounding differs between the batched and the per-step compilation)
    relabelled = zero_shot.relabel(domain, dataset)
    np.testing.assert_allclose(np.asarray(relabelled), out["task_rewards"], rtol=1e-5, atol=1e-7)
    flip = zero_shot.relabel(domain, dataset, "flip")
    np.testing.assert_allclose(np.asarray(flip), out["task_rewards"][:, 3], rtol=1e-5, atol=1e-7)
