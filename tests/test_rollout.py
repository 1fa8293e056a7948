"""Autoreset, episode statistics, rollouts and evaluation on a transparent counter env."""

import dataclasses
import operator

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from flax import struct
from trees import assert_same

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


def make(num_envs=2, limit=3, mode="real", pool=0):
    return rollout.VecEnv(TimeLimit(Counter(), limit), num_envs, reset_mode=mode, reset_pool=pool)


REAL_MODES = [("real", 0), ("optimistic", 0), ("optimistic", 1)]


@pytest.mark.parametrize("mode, pool", REAL_MODES)
def test_truncation_keeps_final_obs_and_resets_for_real(mode, pool):
    venv = make(mode=mode, pool=pool)
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


@pytest.mark.parametrize("mode, pool", REAL_MODES)
def test_termination_is_not_truncation_and_stats_reset(mode, pool):
    venv = make(limit=10, mode=mode, pool=pool)
    st = venv.reset(jax.random.key(1))
    st, ts = venv.step(st, jnp.array([[0.0], [1.0]]))
    np.testing.assert_array_equal(ts.terminated, [False, True])
    np.testing.assert_array_equal(ts.truncated, [False, False])
    np.testing.assert_allclose(st.episode_return, [1.0, 0.0])
    np.testing.assert_allclose(st.episode_length, [1, 0])


@pytest.mark.parametrize("mode, pool", REAL_MODES)
def test_terminating_on_the_last_step_is_terminated_only(mode, pool):
    venv = make(limit=1, mode=mode, pool=pool)
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


@pytest.mark.parametrize("mode, pool", REAL_MODES)
def test_collect_next_obs_is_true_successor(mode, pool):
    venv = make(num_envs=3, limit=4, mode=mode, pool=pool)
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
        make(mode="lazy")
    with pytest.raises(ValueError, match="num_envs"):
        make(num_envs=0)
    with pytest.raises(ValueError, match=r"reset_pool must be in \[0, num_envs=2\].*got 3"):
        make(pool=3)
    assert make(num_envs=33, mode="optimistic").pool_size == 3  # ceil(33 / 16)


def random_endings(venv, key, num_steps, p_end):
    """``num_steps`` steps of ``venv`` (jitted scan) where each env terminates with probability
    ``p_end`` per step; returns every step's ``(obs, final_obs, done)`` and the final state."""

    def body(st, k):
        action = jax.random.bernoulli(k, p_end, (venv.num_envs, 1)).astype(jnp.float32)
        st, ts = venv.step(st, action)
        return st, (ts.obs, ts.info["final_obs"], ts.done)

    def run(key):
        k_reset, k_steps = jax.random.split(key)
        return jax.lax.scan(body, venv.reset(k_reset), jax.random.split(k_steps, num_steps))

    return jax.jit(run)(key)


@pytest.mark.parametrize("pool", [1, 3, 37])
def test_optimistic_reset_equals_the_real_reset(pool):
    """Each ended env is reset with its own fresh key, the one ``"real"`` uses: the same
    episodes bit for bit, also on steps where more envs end than one pool holds (p_end = 0.3 of
    37 envs ends ~11 per step: pools of 1 and 3 need the while loop on most steps)."""
    real = random_endings(make(37, limit=5), jax.random.key(7), 60, 0.3)
    opt = random_endings(
        make(37, limit=5, mode="optimistic", pool=pool), jax.random.key(7), 60, 0.3
    )
    assert int(np.asarray(real[1][2]).sum(axis=1).max()) > 3  # overflowing steps happen
    assert_same(opt, real)


def test_optimistic_reset_under_vmap_equals_each_run():
    """Vmapped over seeds the while loop runs until every seed's ended envs are reset; each
    seed's episodes equal its own unvmapped run."""
    venv = make(16, limit=4, mode="optimistic", pool=2)
    keys = jax.random.split(jax.random.key(8), 3)
    batched = jax.vmap(lambda k: random_endings(venv, k, 30, 0.2))(keys)
    for i in range(3):
        assert_same(
            jax.tree.map(operator.itemgetter(i), batched), random_endings(venv, keys[i], 30, 0.2)
        )


def episode_starts(venv, key, num_steps, p_end):
    """The ``start`` of every episode begun in a run of :func:`random_endings` (the initial
    ones and each reset's), as a flat numpy array."""
    st, (obs, _, done) = random_endings(venv, key, num_steps, p_end)
    first = np.asarray(venv.reset(jax.random.split(key)[0]).obs[:, 1])
    return np.concatenate([first, np.asarray(obs[..., 1])[np.asarray(done)]])


def test_optimistic_resets_never_reuse_a_start_and_match_the_reset_distribution():
    """64 envs, a pool of 2, each env ending with probability 0.25 per step (~16 per step, so
    nearly every step overflows the pool): over 150 steps ~2,400 episodes start. Every start is
    distinct (Counter draws a fresh uniform start per reset; a reused state repeats one), and
    their distribution matches the reset distribution U(0, 1) (Kolmogorov-Smirnov, p > 1e-3;
    the statistic's 1e-3 critical value at n=2,400 is ~0.04). The cached mode, which reuses
    starts, fails the first check, and a pool that hands its first state to every ended env
    (the deliberately broken variant below) fails both."""
    venv = make(64, limit=1000, mode="optimistic", pool=2)
    starts = episode_starts(venv, jax.random.key(9), 150, 0.25)
    assert len(starts) > 2000
    assert len(np.unique(starts)) == len(starts)
    assert scipy.stats.kstest(starts, "uniform").pvalue > 1e-3
    # the uniform start distribution of fresh real resets, for comparison
    real = episode_starts(make(64, limit=1000), jax.random.key(9), 150, 0.25)
    assert scipy.stats.ks_2samp(starts, real).pvalue > 1e-3

    cached = episode_starts(make(64, limit=1000, mode="cached"), jax.random.key(9), 150, 0.25)
    assert len(np.unique(cached)) == 64 < len(cached)

    class OnePool(rollout.VecEnv):  # broken: every ended env gets the pool's first reset
        def optimistic_reset(self, done, env_state, obs, reset_keys):
            fresh_state, fresh_ts = jax.vmap(self.env.reset)(reset_keys[:1])
            fresh = jax.tree.map(
                lambda x: jnp.repeat(x, self.num_envs, 0), (fresh_state, fresh_ts.obs)
            )
            return rollout.where(done, fresh, (env_state, obs))

    broken = OnePool(TimeLimit(Counter(), 1000), 64, reset_mode="optimistic", reset_pool=2)
    bad = episode_starts(broken, jax.random.key(9), 150, 0.25)
    assert len(np.unique(bad)) < len(bad) / 4
    assert scipy.stats.ks_2samp(bad, real).pvalue < 1e-3


def test_evaluate_scores_whole_episodes_without_autoreset():
    env = TimeLimit(Counter(), 5)

    def act(obs, key):  # terminate at the third step of every episode
        return (obs[:, :1] >= 2.0).astype(jnp.float32)

    out = rollout.evaluate(env, act, jax.random.key(0), num_episodes=4)
    assert float(out["eval_return"]) == 3.0
    assert float(out["eval_length"]) == 3.0


# --- open-loop action chunks (DQC's execution of h_a-action chunks) ----------------------------


@dataclasses.dataclass(frozen=True)
class Tape:
    """obs = (t, start). Reward 1 when the action equals the step counter t (so only actions
    applied in order score), else 0; the action 99 terminates."""

    spec = EnvSpec("tape", (2,), Box.uniform((1,), -100.0, 100.0), 1000)

    def reset(self, key):
        s = CounterState(t=jnp.zeros(()), start=jax.random.uniform(key))
        return s, TimeStep(
            jnp.stack([s.t, s.start]), jnp.zeros(()), jnp.array(False), jnp.array(False)
        )

    def step(self, s, a):
        reward = (a[0] == s.t).astype(jnp.float32)
        s = s.replace(t=s.t + 1)
        return s, TimeStep(jnp.stack([s.t, s.start]), reward, a[0] >= 99, jnp.array(False))


def counting_chunk_policy(h, calls, stop_at=None):
    """Chunk [t0, t0+1, ..., t0+h-1] from the chunk-start observation t0; records each call's
    t0 per episode. ``stop_at=j``: episodes with start > 0.5 play 99 (terminate) at position j."""

    def act(obs, key):
        jax.debug.callback(lambda t: calls.append(np.asarray(t).copy()), obs[:, 0], ordered=True)
        chunk = obs[:, :1][:, None, :] + jnp.arange(h, dtype=jnp.float32)[None, :, None]
        if stop_at is not None:
            stop = (obs[:, 1] > 0.5)[:, None, None] & (jnp.arange(h) == stop_at)[None, :, None]
            chunk = jnp.where(stop, 99.0, chunk)
        return chunk

    return act


def test_chunk_is_applied_in_order_and_policy_called_once_per_chunk():
    calls = []
    act = counting_chunk_policy(4, calls)
    out = jax.jit(lambda k: rollout.evaluate(Tape(), act, k, 3, max_steps=12, chunk=4))(
        jax.random.key(0)
    )
    # every step scored 1: the env saw t0, t0+1, ... in order; all 12 steps counted
    assert float(out["eval_return"]) == 12.0 and float(out["eval_length"]) == 12.0
    np.testing.assert_array_equal(np.stack(calls), [[0, 0, 0], [4, 4, 4], [8, 8, 8]])
    # reversed chunks score only where the reversed action happens to equal t: never
    rev = jax.jit(
        lambda k: rollout.evaluate(Tape(), lambda o, kk: act(o, kk)[:, ::-1], k, 3, 12, chunk=4)
    )(jax.random.key(0))
    assert float(rev["eval_return"]) == 0.0 and float(rev["eval_length"]) == 12.0


def test_episode_ending_mid_chunk_stops_counting_there():
    calls = []
    act = counting_chunk_policy(4, calls, stop_at=2)
    key = jax.random.key(3)
    reset_key, _ = jax.random.split(key)
    starts = np.asarray(jax.vmap(Tape().reset)(jax.random.split(reset_key, 8))[1].obs[:, 1])
    assert (starts > 0.5).any() and (starts <= 0.5).any()
    env_state, ts = jax.vmap(Tape().reset)(jax.random.split(reset_key, 8))
    ret, length, _ = jax.jit(
        lambda k: rollout.run_episodes(Tape(), env_state, ts, act, k, max_steps=10, chunk=4)
    )(jax.random.split(key)[1])
    stop = starts > 0.5
    # terminating episodes: 2 scored steps, then the terminal step (reward 0): length 3
    np.testing.assert_array_equal(np.asarray(length), np.where(stop, 3, 10))
    np.testing.assert_array_equal(np.asarray(ret), np.where(stop, 2.0, 10.0))
    # max_steps=10 is not a multiple of 4: three chunks, the last one partial
    calls = np.stack(calls)
    assert calls.shape == (3, 8)
    np.testing.assert_array_equal(
        calls[:, ~stop], np.broadcast_to([[0], [4], [8]], (3, (~stop).sum()))
    )


def test_time_limit_mid_chunk_and_partial_last_chunk():
    env = TimeLimit(Tape(), 7)
    act = counting_chunk_policy(3, [])
    out = rollout.evaluate(env, act, jax.random.key(1), 4, chunk=3)  # truncated mid-chunk
    assert float(out["eval_return"]) == 7.0 and float(out["eval_length"]) == 7.0
    for max_steps in (1, 5, 6, 7):  # partial last chunks and an exact multiple
        out = rollout.evaluate(env, act, jax.random.key(1), 2, max_steps=max_steps, chunk=3)
        assert float(out["eval_length"]) == max_steps == float(out["eval_return"])


def test_chunked_evaluate_vmaps_over_seeds():
    env = TimeLimit(Tape(), 9)

    def act(obs, key):  # stochastic: some chunks are played in order, some reversed
        chunk = obs[:, :1][:, None, :] + jnp.arange(4.0)[None, :, None]
        flip = jax.random.bernoulli(key, 0.5, (obs.shape[0], 1, 1))
        return jnp.where(flip, chunk[:, ::-1], chunk)

    keys = jax.random.split(jax.random.key(5), 3)
    batched = jax.jit(jax.vmap(lambda k: rollout.evaluate(env, act, k, 6, chunk=4)))(keys)
    for i, k in enumerate(keys):
        one = rollout.evaluate(env, act, k, 6, chunk=4)
        for name in one:
            np.testing.assert_allclose(batched[name][i], one[name], rtol=1e-6, err_msg=name)
    assert float(jnp.min(batched["eval_return"])) < 9.0  # the flips mattered


def _old_evaluate(env, act, key, num_episodes, max_steps=None):
    """rollout.evaluate before action chunks existed (copied verbatim)."""
    max_steps = max_steps or env.spec.max_episode_steps
    reset_key, key = jax.random.split(key)
    env_state, ts = jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes))

    def body(carry, step_key):
        env_state, obs, alive, ret, length = carry
        action = act(obs, step_key)
        env_state, ts = jax.vmap(env.step)(env_state, action)
        ret = ret + jnp.where(alive, ts.reward, 0.0)
        length = length + alive.astype(jnp.int32)
        alive = jnp.logical_and(alive, jnp.logical_not(ts.done))
        return (env_state, ts.obs, alive, ret, length), None

    init = (
        env_state,
        ts.obs,
        jnp.ones((num_episodes,), bool),
        jnp.zeros((num_episodes,), jnp.float32),
        jnp.zeros((num_episodes,), jnp.int32),
    )
    (_, _, _, ret, length), _ = jax.lax.scan(body, init, jax.random.split(key, max_steps))
    return {
        "eval_return": jnp.mean(ret),
        "eval_return_std": jnp.std(ret),
        "eval_length": jnp.mean(length.astype(jnp.float32)),
    }


def test_chunk_1_is_bit_identical_to_the_old_evaluation():
    from jaxrl import envs

    env = envs.make("pendulum")

    def act(obs, key):  # stochastic and observation-dependent
        noise = jax.random.normal(key, (obs.shape[0], 1))
        return jnp.clip(-obs[:, 2:3] + 0.5 * noise, -2.0, 2.0)

    key = jax.random.key(7)
    old = jax.jit(lambda k: _old_evaluate(env, act, k, 5))(key)
    new = jax.jit(lambda k: rollout.evaluate(env, act, k, 5))(key)
    as_chunk = jax.jit(lambda k: rollout.evaluate(env, lambda o, kk: act(o, kk)[:, None], k, 5))
    for got in (new, as_chunk(key)):
        assert sorted(got) == sorted(old)
        for name in old:
            np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(old[name]), name)
    # the counter env too, and a ragged max_steps
    env = TimeLimit(Counter(), 5)
    old = _old_evaluate(env, lambda o, k: jax.random.uniform(k, (o.shape[0], 1)), key, 6, 4)
    new = rollout.evaluate(env, lambda o, k: jax.random.uniform(k, (o.shape[0], 1)), key, 6, 4)
    for name in old:
        np.testing.assert_array_equal(np.asarray(new[name]), np.asarray(old[name]), name)


def test_wrong_chunk_shape_and_bad_chunk_are_clear_errors():
    env = TimeLimit(Counter(), 5)
    with pytest.raises(ValueError, match=r"chunk=3 .* shape \[batch, 3, 1\].*got \(2, 1\)"):
        rollout.evaluate(
            env, lambda o, k: jnp.zeros((o.shape[0], 1)), jax.random.key(0), 2, chunk=3
        )
    with pytest.raises(ValueError, match="chunk must be an int >= 1"):
        rollout.evaluate(
            env, lambda o, k: jnp.zeros((o.shape[0], 1)), jax.random.key(0), 2, chunk=0
        )


def test_action_chunk_of_an_agent():
    import types

    assert rollout.action_chunk(types.SimpleNamespace(), None) == 1
    agent = types.SimpleNamespace(action_chunk=lambda c: c["h_a"])
    assert rollout.action_chunk(agent, {"h_a": 5}) == 5
    assert rollout.action_chunk(agent, {"h_a": np.int64(2)}) == 2
    with pytest.raises(ValueError, match=">= 1"):
        rollout.action_chunk(agent, {"h_a": 0})
    with pytest.raises(TypeError, match="static Python int"):
        jax.jit(lambda h: rollout.action_chunk(agent, {"h_a": h}))(3)
    with pytest.raises(TypeError, match="static Python int"):
        rollout.action_chunk(agent, {"h_a": 2.5})
