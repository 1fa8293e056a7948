"""Autoreset, episode statistics, rollouts and evaluation on a transparent counter env."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from jaxrl import rollout
from jaxrl.envs.wrappers import TimeLimit
from jaxrl.types import Box, EnvSpec, TimeStep


class CounterState(struct.PyTreeNode):
    t: jax.Array
    start: jax.Array


@dataclasses.dataclass(frozen=True)
class Counter:
    """obs = (t, start); reward = 1 per step; terminates when the action is > 0.5."""

    spec = EnvSpec("counter", (2,), Box.uniform((1,)), 1000)

    def reset(self, key):
        s = CounterState(t=jnp.zeros(()), start=jax.random.uniform(key))
        return s, TimeStep(
            jnp.stack([s.t, s.start]), jnp.zeros(()), jnp.array(False), jnp.array(False)
        )

    def step(self, s, a):
        s = s.replace(t=s.t + 1)
        obs = jnp.stack([s.t, s.start])
        return s, TimeStep(obs, jnp.ones(()), a[0] > 0.5, jnp.array(False))


def make(num_envs=2, limit=3, mode="real"):
    return rollout.VecEnv(TimeLimit(Counter(), limit), num_envs, reset_mode=mode)


def test_truncation_keeps_final_obs_and_resets_for_real():
    venv = make()
    st = venv.reset(jax.random.key(0))
    start0 = np.asarray(st.obs[:, 1])
    zero = jnp.zeros((2, 1))
    for _ in range(2):
        st, ts = venv.step(st, zero)
        assert not ts.truncated.any() and not ts.terminated.any()
    st, ts = venv.step(st, zero)
    assert ts.truncated.all() and not ts.terminated.any()  # a time limit is not a termination
    np.testing.assert_allclose(ts.info["final_obs"][:, 0], 3.0)  # the true last observation
    np.testing.assert_allclose(ts.info["final_obs"][:, 1], start0)
    np.testing.assert_allclose(ts.obs[:, 0], 0.0)  # the next episode's first observation
    assert not np.allclose(ts.obs[:, 1], start0)  # a real reset: a new initial state
    np.testing.assert_allclose(ts.info["episode_return"], 3.0)
    np.testing.assert_allclose(ts.info["episode_length"], 3)
    starts = {float(x) for x in start0}
    for _ in range(4):  # successive episodes keep starting from new states
        for _ in range(3):
            st, ts = venv.step(st, zero)
        new = {float(x) for x in ts.obs[:, 1]}
        assert not new & starts
        starts |= new


def test_termination_is_not_truncation_and_stats_reset():
    venv = make(limit=10)
    st = venv.reset(jax.random.key(1))
    st, ts = venv.step(st, jnp.array([[0.0], [1.0]]))
    np.testing.assert_array_equal(ts.terminated, [False, True])
    np.testing.assert_array_equal(ts.truncated, [False, False])
    np.testing.assert_allclose(st.episode_return, [1.0, 0.0])
    np.testing.assert_allclose(st.episode_length, [1, 0])


def test_terminating_on_the_last_step_is_terminated_only():
    venv = make(limit=1)
    st = venv.reset(jax.random.key(2))
    _, ts = venv.step(st, jnp.array([[0.0], [1.0]]))
    np.testing.assert_array_equal(ts.terminated, [False, True])
    np.testing.assert_array_equal(ts.truncated, [True, False])


def test_cached_reset_reuses_the_first_state():
    venv = make(limit=2, mode="cached")
    st = venv.reset(jax.random.key(3))
    first = np.asarray(st.obs)
    for _ in range(2):
        st, ts = venv.step(st, jnp.zeros((2, 1)))
    np.testing.assert_allclose(ts.obs, first)


def test_collect_next_obs_is_true_successor():
    venv = make(num_envs=3, limit=4)
    st = venv.reset(jax.random.key(4))

    def policy(obs, key):
        a = jnp.zeros((obs.shape[0], 1))
        return a, a, {}

    st, traj, info = jax.jit(lambda s, k: rollout.collect(venv, s, policy, k, 10))(
        st, jax.random.key(5)
    )
    assert traj.obs.shape == (10, 3, 2)
    # within an episode next_obs[t] == obs[t+1]; at a boundary next_obs is the final obs (t=4)
    done = np.asarray(traj.truncated)
    np.testing.assert_allclose(np.asarray(traj.next_obs)[done][:, 0], 4.0)
    np.testing.assert_allclose(
        np.asarray(traj.next_obs)[:-1][~done[:-1]], np.asarray(traj.obs)[1:][~done[:-1]]
    )
    assert float(info["episodes"]) == 6  # episodes end at t=3 and t=7 in each of 3 envs
    assert float(info["episode_return"]) == 4.0


def test_wrong_action_shape_is_a_clear_error():
    venv = make()
    st = venv.reset(jax.random.key(0))
    with pytest.raises(ValueError, match=r"action has shape \(2,\), expected \(2, 1\)"):
        venv.step(st, jnp.zeros((2,)))


def test_bad_vecenv_arguments():
    with pytest.raises(ValueError, match="reset_mode"):
        make(mode="optimistic")
    with pytest.raises(ValueError, match="num_envs"):
        make(num_envs=0)


def test_evaluate_scores_whole_episodes_without_autoreset():
    env = TimeLimit(Counter(), 5)

    def act(obs, key):  # terminate at the third step of every episode
        return (obs[:, :1] >= 2.0).astype(jnp.float32)

    out = rollout.evaluate(env, act, jax.random.key(0), num_episodes=4)
    assert float(out["eval_return"]) == 3.0
    assert float(out["eval_length"]) == 3.0
