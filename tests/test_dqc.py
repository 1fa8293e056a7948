"""DQC: every loss against numpy on hand-checkable inputs, the toy chunk MDP (spec section 1,
CPU-scale checks 1 and 2: Q_a's implicit max over completions, V's quantile over prefixes), a
point-maze smoke run through ``jaxrl.train``, determinism and vmap over seeds, and the refusals
of ``validate``/``check_env``/``prepare_data``."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxrl
from jaxrl import envs, generative
from jaxrl.agents import dqc, presets
from jaxrl.driver import evaluation_keys
from jaxrl.envs import pointmaze

ENV = envs.make("pointmaze-medium", goal_in_obs=True)
TINY = dataclasses.replace(
    presets.DQC_CPU, batch_size=32, hidden_sizes=(16,), actor_hidden_sizes=(16,)
)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_bce(x, t):
    return -(t * np.log(np_sigmoid(x)) + (1 - t) * np.log(np_sigmoid(-x)))


def np_logit(p):
    p = np.clip(p, 1e-5, 1 - 1e-5)
    return np.log(p) - np.log(1 - p)


# --- losses against numpy ---------------------------------------------------------------------


def test_bce_on_logits_matches_numpy():
    x = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], np.float32)
    t = np.array([0.0, 0.2, 0.5, 1.0, 0.9], np.float32)
    np.testing.assert_allclose(dqc.bce_with_logits(x, t), np_bce(x, t), rtol=1e-5)
    # at x = 0 the loss is log 2 for any target
    np.testing.assert_allclose(
        dqc.bce_with_logits(jnp.zeros(3), jnp.array([0, 0.3, 1.0])),
        np.log(2) * np.ones(3),
        rtol=1e-6,
    )


def test_chunk_critic_target_uses_online_v_discounts_by_k_and_clips():
    reward = np.array([0.0, 0.99**2, 0.0, 1.5], np.float32)  # the last one only to see the clip
    mask = np.array([1.0, 0.0, 1.0, 1.0], np.float32)
    k = np.array([8, 2, 8, 1], np.int32)
    next_v_logit = np.array([0.0, 5.0, 2.0, 0.0], np.float32)
    y = dqc.chunk_critic_target(reward, mask, k, 0.99, next_v_logit)
    want = np.clip(reward + 0.99 ** k.astype(np.float64) * mask * np_sigmoid(next_v_logit), 0, 1)
    np.testing.assert_allclose(y, want, rtol=1e-5)
    assert float(y[3]) == 1.0 and float(y[1]) == pytest.approx(0.99**2)  # success: no bootstrap
    # sg(V): no gradient reaches the value net through the target
    g = jax.grad(lambda v: jnp.sum(dqc.chunk_critic_target(reward, mask, k, 0.99, v)))(next_v_logit)
    np.testing.assert_array_equal(g, 0.0)
    # the loss: mean over ensemble and batch of BCE on logits, no gradient into y
    qh = np.array([[0.3, -1.0, 2.0, 0.0], [1.0, 0.5, -0.5, 3.0]], np.float32)
    np.testing.assert_allclose(
        dqc.chunk_critic_loss(qh, y), np_bce(qh, np.asarray(y)[None]).mean(), rtol=1e-5
    )
    gy = jax.grad(lambda t: dqc.chunk_critic_loss(qh, t))(jnp.asarray(y))
    np.testing.assert_array_equal(gy, 0.0)


def test_distillation_loss_weights_by_comparing_probabilities():
    # member i of Q_a is paired with member i of Q_h: [E=2, B=3]
    qa = np.array([[0.0, 1.0, -2.0], [0.5, -0.5, 0.0]], np.float32)
    target = np.array([[0.7, 0.6, 0.1], [0.5, 0.2, 0.5]], np.float32)
    # probabilities: sigmoid(qa) = [[.5, .731, .119], [.622, .378, .5]]
    w = np.where(target >= np_sigmoid(qa), 0.8, 0.2)
    np.testing.assert_array_equal(w, [[0.8, 0.2, 0.2], [0.2, 0.2, 0.8]])
    np.testing.assert_allclose(dqc.asymmetric_weight(target, jax.nn.sigmoid(qa), 0.8), w, rtol=1e-6)
    got = dqc.distillation_loss(qa, target, 0.8, "expectile")
    np.testing.assert_allclose(got, (w * np_bce(qa, target)).mean(), rtol=1e-5)
    got = dqc.distillation_loss(qa, target, 0.8, "quantile")
    np.testing.assert_allclose(got, (w * np.abs(qa - np_logit(target))).mean(), rtol=1e-5)
    # kappa 0.5 is plain BCE / 2; a [B] target (QC/NS/OS: y) broadcasts to every member
    y = np.array([0.3, 0.9, 0.0], np.float32)
    np.testing.assert_allclose(
        dqc.distillation_loss(qa, y, 0.5), 0.5 * np_bce(qa, y[None]).mean(), rtol=1e-5
    )
    # the target is a constant
    g = jax.grad(lambda t: dqc.distillation_loss(qa, t, 0.8))(jnp.asarray(target))
    np.testing.assert_array_equal(g, 0.0)


def test_value_loss_is_logit_space_quantile_regression_on_the_aggregated_target():
    v = np.array([0.0, 1.0, -1.0], np.float32)  # sigmoid: .5, .731, .269
    qa_t = np.array([[1.0, 0.0, -3.0], [-1.0, 2.0, -0.5]], np.float32)
    for agg, fn in (("mean", np.mean), ("min", np.min)):
        q = fn(np_sigmoid(qa_t), axis=0)
        w = np.where(q >= np_sigmoid(v), 0.9, 0.1)
        got = dqc.value_loss(v, qa_t, 0.9, agg, "quantile")
        np.testing.assert_allclose(got, (w * np.abs(v - np_logit(q))).mean(), rtol=1e-5)
        got = dqc.value_loss(v, qa_t, 0.9, agg, "expectile")
        np.testing.assert_allclose(got, (w * np_bce(v, q)).mean(), rtol=1e-5)
    # mean: q = [.5, .5, .149] -> weights [0.9 (q >= v, equal), 0.1, 0.1]
    q = np.mean(np_sigmoid(qa_t), axis=0)
    np.testing.assert_array_equal(np.where(q >= np_sigmoid(v), 0.9, 0.1), [0.9, 0.1, 0.1])
    # no gradient into the target critic
    g = jax.grad(lambda t: dqc.value_loss(v, t, 0.9))(jnp.asarray(qa_t))
    np.testing.assert_array_equal(g, 0.0)


def test_actor_flow_loss_is_goal_free_flow_matching_of_the_chunk():
    net = generative.ConditionalVelocityNet(
        output_dim=4, hidden_sizes=(8,), raw_time=True, zero_init=True
    )
    params = generative.init_net(net, jax.random.key(0), 2)
    obs = jnp.ones((5, 2))
    chunk = jnp.linspace(-1, 1, 20).reshape(5, 4)  # [B, h_a * A] time-major
    key = jax.random.key(1)
    loss, _ = dqc.actor_flow_loss(net, params, obs, chunk, key)
    # zero network: v = 0, so the loss is mean (eps - a)^2 with the sampler's own draws
    _, k_eps = jax.random.split(key)
    eps = np.asarray(jax.random.normal(k_eps, (5, 1, 4)))
    np.testing.assert_allclose(loss, np.mean((eps - np.asarray(chunk)[:, None]) ** 2), rtol=1e-5)


# --- toy chunk MDP (CPU-scale checks 1 and 2) -------------------------------------------------

# 2 states x 2 first actions (prefixes, h_a = 1); each prefix has 3 dataset completions whose
# chunk-critic values Q_h are fixed here (a table standing in for a trained Q_h, h = 4).
TOY_QH = np.array([[[0.2, 0.5, 0.9], [0.1, 0.3, 0.4]], [[0.6, 0.7, 0.95], [0.05, 0.5, 0.6]]])


def np_expectile(values, kappa):
    """Fixed point of kappa-weighted BCE in probability space: q = sum w T / sum w."""
    q = values.mean()
    for _ in range(200):
        w = np.where(values >= q, kappa, 1 - kappa)
        q = np.sum(w * values) / np.sum(w)
    return q


def fit(loss_of, params, steps=1500):
    tx = optax.adam(optax.linear_schedule(3e-3, 1e-5, steps))

    def step(carry, _):
        p, opt = carry
        g = jax.grad(loss_of)(p)
        updates, opt = tx.update(g, opt, p)
        return (optax.apply_updates(p, updates), opt), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
    return params


@jax.jit
def train_toy_qa(kappa_d):
    s = np.repeat(np.eye(2), 6, axis=0).astype(np.float32)  # rows: state, prefix, completion
    a1 = np.tile(np.repeat([-0.5, 0.5], 3), 2)[:, None].astype(np.float32)
    target = TOY_QH.reshape(-1).astype(np.float32)
    goal = np.zeros_like(s)
    critic = dqc.GoalCritic(2, (32, 32))
    params = critic.init(jax.random.key(0), s, goal, a1)
    params = fit(
        lambda p: dqc.distillation_loss(critic.apply(p, s, goal, a1), target, kappa_d), params
    )
    s4 = np.repeat(np.eye(2), 2, axis=0).astype(np.float32)
    a4 = np.array([[-0.5], [0.5], [-0.5], [0.5]], np.float32)
    return jax.nn.sigmoid(critic.apply(params, s4, np.zeros_like(s4), a4)).reshape(2, 2, 2)


def test_toy_chunk_mdp_distilled_critic_is_an_implicit_max_over_completions():
    """sigmoid Q_a per prefix (each ensemble member) vs the completions' max / mean: with
    kappa_d = 0.99 within 0.02 of the max (and within 0.005 of the exact 0.99-expectile), with
    kappa_d = 0.5 within 0.005 of the mean; Q_a >= the mean."""
    high = np.asarray(train_toy_qa(0.99))  # [E, state, prefix]
    mid = np.asarray(train_toy_qa(0.5))
    qmax, qmean = TOY_QH.max(-1), TOY_QH.mean(-1)
    expectile = np.vectorize(lambda i, j: np_expectile(TOY_QH[i, j], 0.99))(*np.indices((2, 2)))
    for member in range(2):
        np.testing.assert_allclose(high[member], expectile, atol=5e-3)
        np.testing.assert_allclose(high[member], qmax, atol=0.02)
        np.testing.assert_allclose(mid[member], qmean, atol=5e-3)
        assert np.all(high[member] >= qmean)


@jax.jit
def train_toy_v(kappa_b):
    # 2 states, 5 dataset prefixes each, with fixed target-Q_a values (both members equal)
    qa = np.array([[0.1, 0.3, 0.5, 0.7, 0.9], [0.2, 0.25, 0.6, 0.8, 0.85]], np.float32)
    s = np.repeat(np.eye(2), 5, axis=0).astype(np.float32)
    logits = np.broadcast_to(np_logit(qa.reshape(-1)), (2, 10)).astype(np.float32)
    value = dqc.GoalValue((32, 32))
    params = value.init(jax.random.key(0), s, np.zeros_like(s))
    params = fit(
        lambda p: dqc.value_loss(value.apply(p, s, np.zeros_like(s)), logits, kappa_b), params
    )
    return jax.nn.sigmoid(value.apply(params, np.eye(2), np.zeros((2, 2))))


def test_toy_value_tracks_the_kappa_b_quantile_of_qa_over_prefixes():
    """5 equally likely prefixes: the 0.5-quantile is the 3rd value, the 0.7-quantile the 4th,
    the 0.9-quantile the 5th; V within 0.01 of each."""
    np.testing.assert_allclose(train_toy_v(0.5), [0.5, 0.6], atol=0.01)
    np.testing.assert_allclose(train_toy_v(0.7), [0.7, 0.8], atol=0.01)
    np.testing.assert_allclose(train_toy_v(0.9), [0.9, 0.85], atol=0.01)


# --- training through jaxrl.train -------------------------------------------------------------


def navigate_dataset(episodes=4, length=200, seed=0):
    """A tiny point-maze navigate dataset (the generator experiments/make_dataset.py uses)."""
    key = jax.random.key(seed)
    return pointmaze.generate_dataset("medium", key, episodes, "navigate", length, batch=episodes)


DATA = navigate_dataset()


def test_smoke_run_reports_finite_losses_and_per_task_success(tmp_path):
    result = jaxrl.train(
        dqc,
        presets.DQC_CPU,
        ENV,
        jax.random.key(0),
        40,
        data=DATA,
        chunk_steps=20,
        eval_every=40,
        num_eval_episodes=5,
        progress=False,
        checkpoint_dir=str(tmp_path / "checkpoints"),
    )
    h = result.history
    for name in ("loss", "chunk_critic_loss", "distill_loss", "value_loss", "actor_loss"):
        assert np.all(np.isfinite(h[name][1:])), (name, h[name])
    for name in ("eval_success", *(f"eval_success_task{i}" for i in range(5))):
        assert np.isfinite(h[name][-1]) and 0.0 <= h[name][-1] <= 1.0
    assert int(result.state.step) == 40 and result.state.state_dim == 2
    # act: a [B, h_a, 2] chunk inside the env's bounds
    obs = jnp.concatenate([DATA.observations[:3], DATA.observations[10:13]], axis=-1)
    chunk = dqc.act(presets.DQC_CPU, ENV, result.state, obs, jax.random.key(1))
    assert chunk.shape == (3, 4, 2) and dqc.action_chunk(presets.DQC_CPU) == 4
    assert np.all(np.abs(np.asarray(chunk)) <= 1.0)
    # reloaded from the checkpoint alone (the record keeps the dataset's state-only row shapes and
    # the env's name, pointmaze-medium-goal), it evaluates the same (the jitted policy acts like
    # the eager act up to float rounding)
    assert ENV.spec.name == "pointmaze-medium-goal"
    policy = jaxrl.load_policy(str(tmp_path))
    again = policy.evaluate(evaluation_keys(jax.random.key(0), 1), num_episodes=5)
    assert again["eval_success"] == h["eval_success"][-1]
    np.testing.assert_allclose(policy(obs, jax.random.key(1)), chunk, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant, h, h_a", [("qc", 4, 4), ("ns", 4, 1), ("os", 1, 1)])
def test_baseline_variants_train_without_a_chunk_critic(variant, h, h_a):
    config = dataclasses.replace(TINY, variant=variant, horizon=h, action_horizon=h_a)
    result = jaxrl.train(
        dqc,
        config,
        ENV,
        jax.random.key(0),
        4,
        data=DATA,
        chunk_steps=4,
        eval_every=0,
        progress=False,
    )
    assert "chunk_critic" not in result.state.params and "chunk_critic_loss" not in result.history
    assert np.all(np.isfinite(result.history["loss"][1:]))
    chunk = dqc.act(config, ENV, result.state, jnp.zeros((2, 4)), jax.random.key(0))
    assert chunk.shape == (2, h_a, 2)


def test_vmap_over_seeds_equals_single_runs_and_is_deterministic():
    kw = dict(data=DATA, eval_every=0, progress=False, chunk_steps=10)
    both = jaxrl.train(dqc, TINY, ENV, jax.random.key(4), 20, seeds=2, **kw)
    keys = jax.random.split(jax.random.key(4), 2)
    for i in range(2):
        single = jaxrl.train(dqc, TINY, ENV, keys[i], 20, **kw)
        mine = jax.tree.map(lambda x, i=i: x[i], both.state.params)
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)
    again = jaxrl.train(dqc, TINY, ENV, jax.random.key(4), 20, seeds=2, **kw)
    for x, y in zip(jax.tree.leaves(both.state), jax.tree.leaves(again.state), strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert both.history["loss"].shape == (2, 2)  # one row per chunk


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, needle",
    [
        (dict(horizon=4, action_horizon=5), "Config.action_horizon must be <= Config.horizon"),
        (dict(variant="qc", horizon=4, action_horizon=2), "Config.action_horizon must equal"),
        (dict(variant="ns", horizon=4, action_horizon=2), "Config.action_horizon must be 1"),
        (dict(variant="os", horizon=2, action_horizon=1), "must be 1 for variant 'os'"),
        (dict(p_current=0.5), "must sum to 1"),
        (dict(kappa_d=1.5), "Config.kappa_d must be"),
        (dict(variant="iql"), "Config.variant must be one of"),
    ],
)
def test_validate_refuses_by_field_name(changes, needle):
    with pytest.raises(ValueError, match=needle):
        dataclasses.replace(dqc.Config(), **changes).validate()


def test_env_and_data_mismatches_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Box"):
        dqc.check_env(dqc.Config(), envs.make("cartpole"))
    with pytest.raises(ValueError, match="odd size 3"):
        dqc.check_env(dqc.Config(), envs.make("pendulum"))
    with pytest.raises(ValueError, match=r"Config.horizon must be < the longest episode's"):
        dqc.check_data(dataclasses.replace(TINY, horizon=200), DATA)  # 200-row episodes
    dqc.check_data(dataclasses.replace(TINY, horizon=199), DATA)
    ckpt = tmp_path / "checkpoints"  # refused by jaxrl.train before any work or folder
    with pytest.raises(ValueError, match=r"Config.horizon must be < the longest episode's"):
        jaxrl.train(
            dqc,
            dataclasses.replace(TINY, horizon=200),
            ENV,
            jax.random.key(0),
            10,
            data=DATA,
            checkpoint_dir=str(ckpt),
            progress=False,
        )
    assert not ckpt.exists()
    plain = envs.make("pointmaze-medium")  # obs = position only, no goal
    with pytest.raises(ValueError, match="goal_in_obs=True"):
        dqc.prepare_data(TINY, plain, DATA)
    dqc.check_env(dqc.Config(), ENV)
