"""TD3+BC: losses against numpy references, vmap/determinism, dataset validation and
evaluation-time normalisation. Learning (against behaviour cloning) is in
``test_offline_learning.py``."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl import data, envs
from jaxrl.agents import td3_bc

ENV = envs.make("pendulum")
SMALL = td3_bc.Config(hidden_sizes=(64, 64))


def tiny_dataset(n=400, obs_dim=3, act_dim=1, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    ends = np.zeros(n, bool)
    ends[49::50] = True
    return data.Dataset.create(
        obs,
        rng.uniform(-1, 1, size=(n, act_dim)).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        np.zeros(n, bool),
        ends,
        obs + 0.1,
    )


# --- losses ------------------------------------------------------------------------------------


def test_target_action_clips_noise_and_action():
    key = jax.random.key(3)
    pi = jnp.array([[0.9, -0.2], [0.0, -0.95], [0.5, 0.5]])
    out = td3_bc.target_action(pi, key, 0.6, 0.5)
    eps = np.asarray(jax.random.normal(key, pi.shape))  # the draw target_action makes
    expect = np.clip(np.asarray(pi) + np.clip(0.6 * eps, -0.5, 0.5), -1.0, 1.0)
    np.testing.assert_allclose(np.asarray(out), expect, rtol=1e-6)
    assert np.abs(eps * 0.6).max() > 0.5  # the noise clip was exercised


def test_critic_target_and_loss_match_numpy():
    reward = np.array([1.0, -0.5, 2.0, 0.0], np.float32)
    mask = np.array([1.0, 0.0, 1.0, 1.0], np.float32)  # row 1 is terminal: no bootstrap
    target_q = np.array([[3.0, 5.0, -1.0, 0.5], [2.0, 7.0, -3.0, 0.25]], np.float32)
    y = np.asarray(td3_bc.critic_target(reward, mask, 0.9, target_q))
    expect = [1.0 + 0.9 * 2.0, -0.5, 2.0 + 0.9 * -3.0, 0.9 * 0.25]
    np.testing.assert_allclose(y, expect, rtol=1e-6)
    q = np.array([[1.0, 0.0, 0.0, 1.0], [2.0, -1.0, 1.0, 0.0]], np.float32)
    loss = float(td3_bc.critic_loss(jnp.asarray(q), jnp.asarray(y)))
    ref = sum(np.mean([(q[i, j] - expect[j]) ** 2 for j in range(4)]) for i in range(2))
    np.testing.assert_allclose(loss, ref, rtol=1e-6)


def test_td3_bc_actor_loss_matches_numpy_with_stopped_lambda():
    q_pi = jnp.array([2.0, -4.0, 1.0])
    pi = jnp.array([[0.5, 0.1], [-0.3, 0.2], [0.0, 0.9]])
    a = jnp.array([[0.4, 0.0], [0.3, 0.2], [-1.0, 1.0]])
    loss, info = td3_bc.td3_bc_actor_loss(q_pi, pi, a, 2.5)
    lam = 2.5 / np.mean(np.abs(np.asarray(q_pi)))
    bc = np.mean((np.asarray(pi) - np.asarray(a)) ** 2)
    np.testing.assert_allclose(float(loss), -lam * np.mean(np.asarray(q_pi)) + bc, rtol=1e-6)
    np.testing.assert_allclose(float(info["lambda"]), lam, rtol=1e-6)
    # lambda is a constant: d loss / d Q = -lambda / B (no term from differentiating mean|Q|)
    g = jax.grad(lambda q: td3_bc.td3_bc_actor_loss(q, pi, a, 2.5)[0])(q_pi)
    np.testing.assert_allclose(np.asarray(g), -lam / 3 * np.ones(3), rtol=1e-6)
    # and the dataset action is a constant
    g_a = jax.grad(lambda aa: td3_bc.td3_bc_actor_loss(q_pi, pi, aa, 2.5)[0])(a)
    np.testing.assert_array_equal(np.asarray(g_a), 0.0)


# --- agent -------------------------------------------------------------------------------------


def test_vmap_over_seeds_equals_single_runs_and_is_deterministic():
    ds = tiny_dataset()
    env = ENV
    config = td3_bc.Config(hidden_sizes=(32, 32), batch_size=32)
    kw = dict(data=ds, eval_every=0, progress=False, chunk_steps=20)
    both = jaxrl.train(td3_bc, config, env, jax.random.key(4), 60, seeds=2, **kw)
    keys = jax.random.split(jax.random.key(4), 2)
    for i in range(2):
        single = jaxrl.train(td3_bc, config, env, keys[i], 60, **kw)
        mine = jax.tree.map(lambda x, i=i: x[i], both.state.params)
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)
    again = jaxrl.train(td3_bc, config, env, jax.random.key(4), 60, seeds=2, **kw)
    leaves = zip(jax.tree.leaves(both.state), jax.tree.leaves(again.state), strict=True)
    for x, y in leaves:
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert both.history["critic_loss"].shape == (3, 2)
    assert int(single.state.step) == 60  # total_steps counts gradient steps


def test_bad_datasets_are_rejected_before_training():
    n = 100
    obs = np.zeros((n, 3), np.float32)
    obs[7, 1] = np.nan
    ends = np.zeros(n, bool)
    ends[-1] = True
    with pytest.raises(data.DatasetError, match=r"observations.*7"):
        data.Dataset.create(obs, np.zeros((n, 1)), np.zeros(n), ends, ends * 0, obs)
    run = functools.partial(jaxrl.train, td3_bc, SMALL, ENV, jax.random.key(0), 10, progress=False)
    with pytest.raises(data.DatasetError, match=r"observations: per-row shape \(4,\)"):
        run(data=tiny_dataset(obs_dim=4))
    with pytest.raises(data.DatasetError, match=r"actions: per-row shape \(2,\)"):
        run(data=tiny_dataset(act_dim=2))
    big = tiny_dataset()
    wild = data.Dataset.create(
        **{**big.to_numpy(), "actions": 3.0 * np.ones((big.size, 1), np.float32)}
    )
    with pytest.raises(data.DatasetError, match="actions: outside the env's bounds"):
        run(data=wild)


def test_act_applies_dataset_normalisation():
    ds = tiny_dataset()
    prepared = td3_bc.prepare_data(SMALL, ENV, ds)
    obs = np.asarray(ds.observations, np.float64)
    np.testing.assert_allclose(prepared.obs_mean, obs.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(prepared.obs_std, obs.std(0) + 1e-3, rtol=1e-5)
    state = td3_bc.init(SMALL, ENV, jax.random.key(0), prepared)
    raw = jnp.asarray(obs[:5], jnp.float32)
    actor, _ = td3_bc.make_networks(SMALL, ENV)
    expect = actor.apply(state.params["actor"], (raw - prepared.obs_mean) / prepared.obs_std)
    got = td3_bc.act(SMALL, ENV, state, raw, jax.random.key(1))
    np.testing.assert_allclose(np.asarray(got), np.asarray(expect), rtol=1e-5)  # bounds [-1, 1]


def test_offline_resume_is_bit_identical(tmp_path):
    """The dataset is not in the checkpoint (it is an argument); the state is, so a resumed
    offline run equals an uninterrupted one."""
    ds = tiny_dataset()
    config = td3_bc.Config(hidden_sizes=(16, 16), batch_size=16)
    kw = dict(data=ds, eval_every=0, progress=False, chunk_steps=10)
    whole = jaxrl.train(td3_bc, config, ENV, jax.random.key(2), 40, **kw)
    jaxrl.train(td3_bc, config, ENV, jax.random.key(2), 20, checkpoint_dir=str(tmp_path), **kw)
    resumed = jaxrl.train(
        td3_bc, config, ENV, jax.random.key(2), 40, checkpoint_dir=str(tmp_path), resume=True, **kw
    )
    assert resumed.steps_this_call == 20
    for x, y in zip(jax.tree.leaves(whole.state), jax.tree.leaves(resumed.state), strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# --- reward shaping ----------------------------------------------------------------------------


def test_reward_shaping_is_applied_once_when_the_data_are_prepared():
    """r' = reward_scale * r + reward_shift on every row (PRDC's antmaze setting, 10000 r - 1,
    on sparse 0/1 rewards, by hand), recorded on the prepared data; the defaults keep the raw
    rewards bit for bit; prepared data with another shaping is refused by name."""
    ds = tiny_dataset(n=100)
    sparse = np.zeros(100, np.float32)
    sparse[[3, 49, 97]] = 1.0
    ds = data.Dataset.create(**{**ds.to_numpy(), "rewards": sparse})
    antmaze = td3_bc.Config(reward_scale=10000.0, reward_shift=-1.0)
    shaped = td3_bc.prepare_data(antmaze, ENV, ds)
    expect = np.full(100, -1.0, np.float32)
    expect[[3, 49, 97]] = 9999.0
    np.testing.assert_array_equal(np.asarray(shaped.rewards), expect)
    assert (shaped.reward_scale, shaped.reward_shift) == (10000.0, -1.0)
    # only the rewards change
    plain = td3_bc.prepare_data(td3_bc.Config(), ENV, ds)
    np.testing.assert_array_equal(np.asarray(plain.rewards), sparse)
    assert (plain.reward_scale, plain.reward_shift) == (1.0, 0.0)
    for name in ("observations", "actions", "next_observations", "terminals", "obs_std"):
        np.testing.assert_array_equal(getattr(shaped, name), getattr(plain, name))
    # a scale and a shift of other values: 0.5 r + 2
    half = td3_bc.prepare_data(td3_bc.Config(reward_scale=0.5, reward_shift=2.0), ENV, ds)
    np.testing.assert_array_equal(np.asarray(half.rewards), 0.5 * sparse + 2.0)
    # prepared data passes through only with the same shaping
    assert td3_bc.prepare_data(antmaze, ENV, shaped) is shaped
    with pytest.raises(ValueError, match="prepared with reward_scale=10000.0, reward_shift=-1.0"):
        td3_bc.prepare_data(td3_bc.Config(), ENV, shaped)
    state = td3_bc.init(SMALL, ENV, jax.random.key(0), plain)
    with pytest.raises(ValueError, match="config has reward_scale=1.0, reward_shift=0.0"):
        td3_bc.train_step(SMALL, ENV, state, shaped)


def test_shaped_rewards_reach_the_critic_target():
    """With reward_scale 2 and shift 3, one critic update on the shaped data equals one on
    rewards 2 r + 3 written into the raw dataset (the shaping happens once, before sampling)."""
    ds = tiny_dataset()
    config = td3_bc.Config(hidden_sizes=(16, 16), batch_size=16, reward_scale=2.0, reward_shift=3.0)
    shaped = td3_bc.prepare_data(config, ENV, ds)
    by_hand = data.Dataset.create(
        **{**ds.to_numpy(), "rewards": 2.0 * ds.to_numpy()["rewards"] + 3}
    )
    plain_config = td3_bc.Config(hidden_sizes=(16, 16), batch_size=16)
    plain = td3_bc.prepare_data(plain_config, ENV, by_hand)
    state = td3_bc.init(config, ENV, jax.random.key(1), shaped)
    a, info_a = td3_bc.train_step(config, ENV, state, shaped)
    b, info_b = td3_bc.train_step(plain_config, ENV, state, plain)
    np.testing.assert_allclose(
        float(info_a["critic_loss"]), float(info_b["critic_loss"]), rtol=1e-6
    )
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
