"""Brax and MuJoCo Playground adapters: shapes, dtypes, hashing, time limits, error messages.

Every physics env pays seconds of tracing and compilation on CPU, so each env is built and its
reset/step jitted once per module (fixtures below) and shared by the tests.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import brax as brax_envs
from jaxrl.envs import playground as playground_envs
from jaxrl.envs.wrappers import TimeLimit
from jaxrl.types import Box, TimeStep

N_ENVS = 4


class Compiled:
    """An env with its vmapped reset/step jitted once."""

    def __init__(self, env):
        self.env = env
        self.reset = jax.jit(jax.vmap(env.reset))
        self.step = jax.jit(jax.vmap(env.step))

    def random_rollout(self, n_steps: int, seed: int = 0):
        """Resets N_ENVS envs and takes ``n_steps`` uniformly random actions; returns all steps."""
        key = jax.random.PRNGKey(seed)
        key, reset_key = jax.random.split(key)
        state, ts = self.reset(jax.random.split(reset_key, N_ENVS))
        steps = [(state, ts)]
        space = self.env.spec.action_space
        for _ in range(n_steps):
            key, sub = jax.random.split(key)
            actions = jax.vmap(space.sample)(jax.random.split(sub, N_ENVS))
            state, ts = self.step(state, actions)
            steps.append((state, ts))
        return steps


@pytest.fixture(scope="module")
def pendulum() -> Compiled:
    # A short limit so that the same compiled step also serves the time-limit test.
    return Compiled(brax_envs.make("inverted_pendulum", backend="generalized", max_episode_steps=5))


@pytest.fixture(scope="module")
def cartpole() -> Compiled:
    return Compiled(playground_envs.make("CartpoleSwingup", impl="jax"))


def _signature(tree):
    return jax.tree_util.tree_map(lambda x: (x.shape, x.dtype, x.weak_type), tree)


def _check_rollout(compiled: Compiled, steps) -> None:
    spec = compiled.env.spec
    for _, ts in steps:
        assert isinstance(ts, TimeStep)
        assert ts.obs.shape == (N_ENVS, *spec.obs_shape)
        assert ts.obs.dtype == jnp.float32
        assert ts.reward.shape == (N_ENVS,) and ts.reward.dtype == jnp.float32
        assert ts.terminated.shape == (N_ENVS,) and ts.terminated.dtype == jnp.bool_
        assert ts.truncated.shape == (N_ENVS,) and ts.truncated.dtype == jnp.bool_
        assert np.isfinite(np.asarray(ts.obs)).all()
        assert np.isfinite(np.asarray(ts.reward)).all()
    # reset and step return identically typed pytrees (scan carries and autoreset selects need it)
    assert _signature(steps[0]) == _signature(steps[-1])


@pytest.mark.parametrize(
    ("fixture", "name", "make", "kwargs", "obs_shape", "action_dim"),
    [
        (
            "pendulum",
            "brax/inverted_pendulum",
            brax_envs.make,
            dict(name="inverted_pendulum", backend="generalized", max_episode_steps=5),
            (4,),
            1,
        ),
        (
            "cartpole",
            "playground/CartpoleSwingup",
            playground_envs.make,
            dict(name="CartpoleSwingup", impl="jax"),
            (5,),
            1,
        ),
    ],
)
def test_physics_env_rollout_and_hashing(
    request, fixture, name, make, kwargs, obs_shape, action_dim
) -> None:
    compiled = request.getfixturevalue(fixture)
    env = compiled.env
    assert isinstance(env, TimeLimit)
    spec = env.spec
    assert spec.name == name
    assert spec.obs_shape == obs_shape
    assert isinstance(spec.action_space, Box)
    assert spec.action_space.shape == (action_dim,)
    assert spec.action_space.low == (-1.0,) * action_dim
    assert spec.action_space.high == (1.0,) * action_dim

    _check_rollout(compiled, compiled.random_rollout(n_steps=3))

    rebuilt = make(**kwargs)
    assert rebuilt == env and hash(rebuilt) == hash(env)
    assert rebuilt.env == env.env and hash(rebuilt.env) == hash(env.env)
    assert {env, rebuilt} == {env}


def test_time_limit_truncates_at_max_episode_steps(pendulum: Compiled) -> None:
    assert pendulum.env.spec.max_episode_steps == 5
    state, ts = pendulum.reset(jax.random.split(jax.random.PRNGKey(1), N_ENVS))
    assert not ts.truncated.any() and not ts.terminated.any()
    for t in range(1, 6):
        state, ts = pendulum.step(state, jnp.zeros((N_ENVS, 1)))
        terminated, truncated = np.asarray(ts.terminated), np.asarray(ts.truncated)
        assert not (terminated & truncated).any(), "a step is never both terminated and truncated"
        # the pole starts within 0.01 rad of upright and stays up for 5 steps without force
        assert not terminated.any(), f"inverted_pendulum terminated at t={t} under zero action"
        assert (truncated == (t == 5)).all(), f"truncated={truncated} at t={t}"
    assert (np.asarray(state.t) == 5).all()


def test_env_name_lists_match_the_libraries(pendulum: Compiled, cartpole: Compiled) -> None:
    import brax.envs
    from mujoco_playground import registry

    listed_brax, listed_playground = brax_envs.ENV_NAMES, playground_envs.ENV_NAMES
    assert listed_brax == tuple(brax.envs._envs)
    assert listed_playground == tuple(registry.dm_control_suite.ALL_ENVS)
    assert len(listed_playground) == 25


def test_brax_bad_arguments_raise_helpful_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown brax env 'no_such_env'.*inverted_pendulum"):
        brax_envs.make("no_such_env")
    with pytest.raises(ValueError, match=r"backend must be one of .*generalized.*'warp'"):
        brax_envs.make("inverted_pendulum", backend="warp")
    with pytest.raises(ValueError, match="max_episode_steps"):
        brax_envs.make("inverted_pendulum", max_episode_steps=0)


def test_playground_bad_arguments_raise_helpful_errors(monkeypatch) -> None:
    from mujoco_playground._src import mjx_env

    if mjx_env.MENAGERIE_PATH.exists():
        pytest.skip("a MuJoCo Menagerie checkout is present, so locomotion envs can load")

    def no_git(*args, **kwargs):
        raise AssertionError("make() must not try to fetch the MuJoCo Menagerie")

    monkeypatch.setattr(mjx_env, "ensure_menagerie_exists", no_git)
    monkeypatch.setattr(mjx_env, "_clone_with_progress", no_git)

    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"Go1JoystickFlatTerrain.*Menagerie.*CartpoleSwingup"):
        playground_envs.make("Go1JoystickFlatTerrain")
    with pytest.raises(ValueError, match=r"PandaPickCube.*Menagerie"):
        playground_envs.make("PandaPickCube")
    assert time.perf_counter() - start < 5.0

    with pytest.raises(ValueError, match=r"unknown playground env 'NoSuchTask'.*HopperStand"):
        playground_envs.make("NoSuchTask")
    with pytest.raises(ValueError, match=r"impl must be one of .*'mjx'"):
        playground_envs.make("CartpoleSwingup", impl="mjx")
    with pytest.raises(ValueError, match=r"'no_such_field' is not a field.*episode_length"):
        playground_envs.make("CartpoleSwingup", config_overrides={"no_such_field": 1})
