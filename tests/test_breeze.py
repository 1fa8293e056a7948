"""BREEZE (agents/breeze.py): its losses against NumPy (the Q-regulariser with its gradient into
B by finite differences, the expectile loss, the AWR weights and their clip, the weighted
denoising loss), the next action of the FB target, the diffusion actor's expressivity and its
AWR shift, the networks, the invariants (determinism, vmap over seeds, bit-identical resume) and
bad input. The zero-shot learning and in-sample tests are in tests/test_zero_shot_learning.py;
the walker smoke test in tests/test_zero_shot_smoke.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from trees import assert_same

import jaxrl
from jaxrl import envs, generative, zero_shot
from jaxrl.agents import breeze
from jaxrl.data import sample_transitions

ENV = envs.make("reach/fourrooms")
SMALL = breeze.Config(
    z_dim=8,
    batch_size=32,
    arch="mlp",
    preprocess_hidden=32,
    preprocess_dim=16,
    forward_hidden_sizes=(32,),
    backward_hidden_sizes=(32, 32),
    value_hidden=32,
    actor_hidden=16,
    actor_blocks=1,
    time_features=8,
    time_hidden=16,
    train_samples=3,
    eval_samples=4,
    inference_samples=200,
)
TINY_ATTENTION = breeze.replace(
    SMALL,
    arch="attention",
    preprocess_hidden=16,
    preprocess_dim=8,
    forward_hidden_sizes=(8,),
    attention_blocks=1,
    attention_ff=16,
    backward_dim=8,
    backward_layers=1,
)


@pytest.fixture(scope="module")
def data():
    return zero_shot.collect(
        ENV,
        lambda obs, k: jax.random.uniform(k, obs.shape, minval=-1.0, maxval=1.0),
        jax.random.key(0),
        num_envs=4,
        num_steps=100,
    )


# --- losses against NumPy ----------------------------------------------------------------------


def _q_reg_numpy(f, z, b, next_value, discount, ridge):
    """The Q-regulariser in float64 NumPy: r = B^T (B^T B / n + ridge I)^-1 z per row."""
    n, d = b.shape
    cov = b.T @ b / n + ridge * np.eye(d)
    r = np.einsum("id,id->i", b, np.linalg.solve(cov, z.T).T)
    y = r + discount * next_value
    q = np.einsum("eid,id->ei", f, z)
    return 0.5 * np.sum(np.mean((q - y) ** 2, axis=1)), r


def test_q_regulariser_and_its_gradient_into_b_match_numpy():
    """Value, implicit reward and the gradient with respect to B (finite differences of the
    float64 NumPy loss): the gradient flows through Cov^-1, not only through B(s')."""
    rng = np.random.default_rng(0)
    n, d = 12, 3
    f = rng.normal(size=(2, n, d))
    z = rng.normal(size=(n, d))
    b = rng.normal(size=(n, d))
    next_value = rng.normal(size=n)
    discount = np.where(rng.random(n) < 0.2, 0.0, 0.9)
    ridge = 1e-3

    def loss(b_):
        r = breeze.implicit_reward(b_, jnp.asarray(z, jnp.float32), ridge)
        return breeze.q_regulariser(
            jnp.asarray(f, jnp.float32),
            jnp.asarray(z, jnp.float32),
            r,
            jnp.asarray(next_value, jnp.float32),
            jnp.asarray(discount, jnp.float32),
        )

    expected, r_np = _q_reg_numpy(f, z, b, next_value, discount, ridge)
    b32 = jnp.asarray(b, jnp.float32)
    np.testing.assert_allclose(float(loss(b32)), expected, rtol=1e-4)
    np.testing.assert_allclose(
        breeze.implicit_reward(b32, jnp.asarray(z, jnp.float32), ridge), r_np, rtol=1e-4
    )
    grad = np.asarray(jax.grad(loss)(b32))
    h = 1e-6
    numeric = np.zeros_like(b)
    for i in range(n):
        for j in range(d):
            up, down = b.copy(), b.copy()
            up[i, j] += h
            down[i, j] -= h
            numeric[i, j] = (
                _q_reg_numpy(f, z, up, next_value, discount, ridge)[0]
                - _q_reg_numpy(f, z, down, next_value, discount, ridge)[0]
            ) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=2e-3, atol=1e-4)

    def detached_cov(b_):  # what the gradient would be without the path through Cov^-1
        cov = jax.lax.stop_gradient(b_.T @ b_ / n) + ridge * jnp.eye(d)
        r = jnp.sum(b_ * jnp.linalg.solve(cov, jnp.asarray(z, jnp.float32).T).T, -1)
        return breeze.q_regulariser(
            jnp.asarray(f, jnp.float32),
            jnp.asarray(z, jnp.float32),
            r,
            jnp.asarray(next_value, jnp.float32),
            jnp.asarray(discount, jnp.float32),
        )

    assert np.abs(np.asarray(jax.grad(detached_cov)(b32)) - numeric).max() > 0.1


def test_q_regulariser_does_not_differentiate_the_next_value():
    f = jnp.ones((2, 4, 2))
    z = jnp.ones((4, 2))
    grad = jax.grad(lambda v: breeze.q_regulariser(f, z, jnp.zeros(4), v, jnp.full(4, 0.9)))(
        jnp.ones(4)
    )
    np.testing.assert_array_equal(grad, 0.0)


def test_expectile_value_loss_matches_numpy_and_stops_the_q_gradient():
    rng = np.random.default_rng(1)
    q, v = rng.normal(size=64), rng.normal(size=64)
    for tau in (0.5, 0.7, 0.99):
        u = q - v
        expected = np.mean(np.where(u < 0, 1 - tau, tau) * u**2)
        got = breeze.expectile_value_loss(jnp.asarray(q), jnp.asarray(v), tau)
        np.testing.assert_allclose(float(got), expected, rtol=1e-5)
        grad_v = np.asarray(jax.grad(breeze.expectile_value_loss, argnums=1)(q, v, tau))
        np.testing.assert_allclose(grad_v, -2 * np.where(u < 0, 1 - tau, tau) * u / 64, rtol=1e-4)
    np.testing.assert_array_equal(jax.grad(breeze.expectile_value_loss)(q, v, 0.9), 0.0)
    # tau 0.99 puts V near the top of Q: minimising over a constant V lands above the mean
    grid = np.linspace(-3, 3, 601)
    best = grid[
        np.argmin([float(breeze.expectile_value_loss(q, jnp.full(64, c), 0.99)) for c in grid])
    ]
    assert best > np.quantile(q, 0.8)


def test_awr_weights_match_numpy_are_clipped_and_not_differentiated():
    q = jnp.asarray([-50.0, 0.0, 10.0, 80.0, 200.0])
    v = jnp.zeros(5)
    w = breeze.awr_weights(q, v, 0.05, 100.0)
    np.testing.assert_allclose(w, np.minimum(np.exp(0.05 * np.asarray(q)), 100.0), rtol=1e-6)
    assert float(w[-1]) == 100.0 and float(w[-2]) == pytest.approx(np.exp(4.0), rel=1e-6)
    grad = jax.grad(lambda q_: jnp.sum(breeze.awr_weights(q_, v, 0.05, 100.0)))(q)
    np.testing.assert_array_equal(grad, 0.0)


def test_awr_diffusion_loss_matches_numpy():
    rng = np.random.default_rng(2)
    w, eps_hat, eps = rng.random(16), rng.normal(size=(16, 3)), rng.normal(size=(16, 3))
    expected = np.mean(w * np.sum((eps_hat - eps) ** 2, axis=-1))
    got = breeze.awr_diffusion_loss(jnp.asarray(w), jnp.asarray(eps_hat), jnp.asarray(eps))
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def test_vp_schedule_matches_idql_formula():
    for steps in (1, 5, 10):
        s = generative.DiffusionSchedule.vp(steps)
        t = np.arange(1, steps + 1)
        alphas = np.exp(-0.1 / steps - 0.5 * 9.9 * (2 * t - 1) / steps**2)
        np.testing.assert_allclose(s.alphas, alphas, rtol=1e-6)
        np.testing.assert_allclose(s.betas, 1 - alphas, rtol=1e-5)
        np.testing.assert_allclose(s.alpha_bars[-1], np.exp(-5.05), rtol=1e-5)


# --- the target's next action ------------------------------------------------------------------


def test_next_action_uses_only_dataset_actions_when_rho_is_one(data):
    """rho_a = 1: every row with a dataset next action gets exactly it (an EMA-actor sample
    leaking in would differ: continuous samples never equal the data); rows at an episode's end
    get the best actor sample. rho_a = 0: no row is the dataset's."""
    prepared = breeze.prepare_data(SMALL, ENV, data)
    state = jax.jit(lambda k: breeze.init(SMALL, ENV, k, prepared))(jax.random.key(0))
    nets = breeze.make_networks(SMALL, ENV)
    batch = sample_transitions(prepared, jax.random.key(1), 256)
    z = zero_shot.sample_z(jax.random.key(2), 256, SMALL.z_dim)
    valid = np.asarray(batch["next_action_valid"]) > 0
    assert valid.sum() > 200 and (~valid).sum() > 0

    @jax.jit  # one program for every rho (a traced config float); eager flax compiles op by op
    def compiled(rho):
        config = breeze.replace(SMALL, dataset_action_prob=rho)
        fwd = state.target_params["forward"]
        return breeze.next_action(config, nets, state.actor_ema, fwd, batch, z, jax.random.key(3))

    def next_action(rho):
        return np.asarray(compiled(jnp.float32(rho)))

    data_next = np.asarray(batch["next_action"])
    pure = next_action(1.0)
    np.testing.assert_array_equal(pure[valid], data_next[valid])
    sampled = next_action(0.0)
    assert not np.any(np.all(sampled == data_next, axis=-1))
    np.testing.assert_array_equal(pure[~valid], sampled[~valid])  # same key: the same samples
    half = np.all(next_action(0.5) == data_next, axis=-1)[valid].mean()
    assert 0.4 < half < 0.6


def test_best_of_picks_the_highest_q_candidate(data):
    prepared = breeze.prepare_data(SMALL, ENV, data)
    state = breeze.init(SMALL, ENV, jax.random.key(0), prepared)
    nets = breeze.make_networks(SMALL, ENV)
    obs = prepared.observations[:6]
    z = zero_shot.sample_z(jax.random.key(1), 6, SMALL.z_dim)
    cands = jax.random.uniform(jax.random.key(2), (6, 5, 2), minval=-1, maxval=1)
    best = np.asarray(breeze.best_of(nets, state.params["forward"], obs, z, cands))
    for i in range(6):
        f = nets.forward.apply(
            state.params["forward"],
            jnp.repeat(obs[i : i + 1], 5, 0),
            cands[i],
            jnp.repeat(z[i : i + 1], 5, 0),
        )
        q = np.min(
            np.einsum("ekd,kd->ek", np.asarray(f), np.repeat(np.asarray(z[i : i + 1]), 5, 0)), 0
        )
        np.testing.assert_array_equal(best[i], np.asarray(cands[i, np.argmax(q)]))


# --- the diffusion actor -----------------------------------------------------------------------

BIMODAL = breeze.replace(SMALL, actor_hidden=64, actor_blocks=2, time_features=16, time_hidden=32)
"""The actor of the expressivity tests (64 wide, 2 FiLM blocks; the rest of SMALL)."""


def _fit_actor(weight_fn, steps: int = 1500, seed: int = 0):
    """Fit the diffusion actor alone on a 1-D-action dataset whose actions are +-0.6 with equal
    probability at every state, with AWR weights ``weight_fn(actions)``, then sample 2000
    actions from the EMA actor at one state. Returns the samples ``[2000, 2]`` (both action
    dims carry the same mode)."""
    config = breeze.replace(BIMODAL, actor_learning_rate=3e-3, actor_tau=0.02)
    nets = breeze.make_networks(config, ENV)
    obs_dim, z_dim = 2, config.z_dim
    params = nets.actor.init(
        jax.random.key(seed), jnp.zeros((1, obs_dim + z_dim)), jnp.zeros((1, 2)), jnp.zeros((1,))
    )
    opt = breeze.optimisers(config)["actor"]
    z = zero_shot.sample_z(jax.random.key(9), 1, z_dim)[0]

    def step(carry, key):
        params, ema_params, opt_state = carry
        k_obs, k_mode, k_loss = jax.random.split(key, 3)
        obs = jax.random.uniform(k_obs, (256, obs_dim), minval=-1, maxval=1)
        sign = jnp.where(jax.random.bernoulli(k_mode, 0.5, (256, 1)), 1.0, -1.0)
        actions = jnp.broadcast_to(0.6 * sign, (256, 2))
        batch = {"obs": obs, "action": actions}
        zs = jnp.broadcast_to(z, (256, z_dim))
        grads = jax.grad(
            lambda p: breeze.actor_loss(config, nets, p, batch, zs, weight_fn(actions), k_loss)[0]
        )(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, jaxrl.networks.ema(params, ema_params, config.actor_tau), opt_state), None

    carry = (params, params, opt.init(params))
    carry, _ = jax.jit(lambda c, ks: jax.lax.scan(step, c, ks))(
        carry, jax.random.split(jax.random.key(1 + 100 * seed), steps)
    )
    obs = jnp.full((1, obs_dim), 0.3)
    return np.asarray(
        breeze.sample_actions(nets, carry[1], obs, z[None], jax.random.key(5), 2000)[0]
    )


def test_diffusion_actor_reproduces_both_modes_and_awr_shifts_mass_toward_the_better_one():
    """alpha -> 0 (weights 1): the EMA actor's samples split between the modes +-0.6.
    Measured over 3 seeds (``_fit_actor(..., seed=0, 1, 2)``): 0.51 / 0.51 / 0.50 of the mass on
    the positive mode, 0.83 / 0.82 / 0.82 of the samples within 0.2 of a mode (each mode's
    spread is about 0.16 with T = 5). Bounds: each mode 0.5 +- 0.1, and 0.7 near a mode (a
    unimodal Gaussian fit of the same actions, N(0, 0.6^2), puts 0.32 there). With a Q that
    prefers +0.6 (Q = +-20, V = 0, alpha 0.05: weights e and 1/e, a 7.4 ratio, so the weighted
    data put 0.88 on it) the mass on +0.6 rises to 0.86 / 0.86 / 0.86; bound 0.75."""
    plain = _fit_actor(lambda a: jnp.ones(a.shape[0]))
    positive = plain[:, 0] > 0
    near = np.min(np.abs(plain[:, :1] - np.array([[-0.6, 0.6]])), axis=1) < 0.2
    assert 0.4 < positive.mean() < 0.6, positive.mean()
    assert near.mean() > 0.7, near.mean()

    def prefer_positive(a):
        q = 20.0 * jnp.sign(a[:, 0])
        return breeze.awr_weights(q, jnp.zeros_like(q), 0.05, 100.0)

    shifted = _fit_actor(prefer_positive)
    assert (shifted[:, 0] > 0).mean() > 0.75, (shifted[:, 0] > 0).mean()


def test_film_is_zero_initialised_so_z_has_no_effect_at_init():
    nets = breeze.make_networks(SMALL, ENV)
    cond = jnp.zeros((1, 2 + SMALL.z_dim))
    params = nets.actor.init(jax.random.key(0), cond, jnp.zeros((1, 2)), jnp.zeros((1,)))
    x, t = jnp.full((3, 2), 0.2), jnp.full((3,), 2.0)
    obs = jnp.full((3, 2), 0.5)
    z1, z2 = (zero_shot.sample_z(jax.random.key(i), 3, SMALL.z_dim) for i in (1, 2))
    out1 = nets.actor.apply(params, jnp.concatenate([obs, z1], -1), x, t)
    out2 = nets.actor.apply(params, jnp.concatenate([obs, z2], -1), x, t)
    np.testing.assert_array_equal(out1, out2)


def test_attention_networks_shapes_sphere_and_dropout(data):
    """The paper's networks: F is [2, N, d], B on the sqrt(d) sphere; dropout changes the output
    only in training mode."""
    nets = breeze.make_networks(TINY_ATTENTION, ENV)
    obs, act = data.observations[:5], data.actions[:5]
    z = zero_shot.sample_z(jax.random.key(0), 5, TINY_ATTENTION.z_dim)
    pf = nets.forward.init(jax.random.key(1), obs, act, z)
    pb = nets.backward.init(jax.random.key(2), obs)
    f = nets.forward.apply(pf, obs, act, z)
    b = nets.backward.apply(pb, obs)
    assert f.shape == (2, 5, 8) and b.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(b, axis=-1), np.sqrt(8), rtol=1e-5)
    np.testing.assert_array_equal(f, nets.forward.apply(pf, obs, act, z))
    train = breeze._apply(nets.forward, pf, obs, act, z, key=jax.random.key(3))
    assert np.abs(np.asarray(train) - np.asarray(f)).max() > 1e-4


# --- invariants --------------------------------------------------------------------------------


def test_vmap_over_seeds_equals_single_runs_and_is_deterministic(data):
    """With FB's MLPs (the attention networks' resume is bit-identical below; under vmap their
    near-zero-gradient weights differ by Adam-normalised float noise, up to 1e-4 in 20 steps)."""
    config = SMALL
    kw = dict(data=data, eval_every=0, progress=False, chunk_steps=10)
    both = jaxrl.train(breeze, config, ENV, jax.random.key(4), 20, seeds=2, **kw)
    keys = jax.random.split(jax.random.key(4), 2)
    for i in range(2):
        single = jaxrl.train(breeze, config, ENV, keys[i], 20, **kw)
        mine = jax.tree.map(lambda x, i=i: x[i], both.state.params)
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
    again = jaxrl.train(breeze, config, ENV, jax.random.key(4), 20, seeds=2, **kw)
    assert_same(both.state, again.state)
    assert int(single.state.step) == 20
    for name in ("fb_loss", "ortho_loss", "q_reg_loss", "value_loss", "actor_loss", "q_mean"):
        assert np.all(np.isfinite(both.history[name])), name


def test_resume_is_bit_identical(data, tmp_path):
    """With the paper's attention networks (dropout on in training)."""
    kw = dict(data=data, eval_every=0, progress=False, chunk_steps=10)
    config = TINY_ATTENTION
    whole = jaxrl.train(breeze, config, ENV, jax.random.key(2), 20, **kw)
    jaxrl.train(breeze, config, ENV, jax.random.key(2), 10, checkpoint_dir=str(tmp_path), **kw)
    resumed = jaxrl.train(
        breeze, config, ENV, jax.random.key(2), 20, checkpoint_dir=str(tmp_path), resume=True, **kw
    )
    assert resumed.steps_this_call == 10
    assert_same(whole.state, resumed.state)


def test_learning_rate_restarts_every_5_10_20_steps():
    """F and B's AdamW step size: torch's CosineAnnealingWarmRestarts(T_0=5, T_mult=2) stepped
    every gradient step: back to the top at steps 5, 15, 35, 75."""
    config = breeze.replace(SMALL, learning_rate=1.0, min_learning_rate=0.1, grad_clip=1e9)
    opt = breeze.optimisers(config)["fb"]
    params = {"w": jnp.zeros(())}
    state = opt.init(params)
    sizes = []
    for _ in range(80):
        updates, state = opt.update({"w": jnp.ones(())}, state, params)
        sizes.append(-float(updates["w"]))  # Adam's first step per unit gradient is 1 x lr
    lrs = np.asarray(sizes)

    def torch_lr(n):
        i = int(np.floor(np.log2(n / 5 + 1)))
        start, period = 5 * (2**i - 1), 5 * 2**i
        return 0.1 + 0.9 * (1 + np.cos(np.pi * (n - start) / period)) / 2

    expected = np.array([torch_lr(n) for n in range(80)])
    # Adam's normalised step for a constant gradient is 1 at every step (bias-corrected)
    np.testing.assert_allclose(lrs, expected, rtol=1e-3)
    for restart in (5, 15, 35, 75):
        assert lrs[restart] > 0.99 and lrs[restart - 1] < 0.2


def test_task_inference_and_acting_on_a_task(data):
    prepared = breeze.prepare_data(SMALL, ENV, data)
    state = breeze.init(SMALL, ENV, jax.random.key(0), prepared)
    rewards = data.task_rewards["reach_top_left"]
    z = breeze.infer_task(SMALL, ENV, state, data.next_observations, rewards)
    b = np.asarray(breeze.backward(SMALL, ENV, state, data.next_observations))
    mean = (np.asarray(rewards)[:, None] * b).mean(0)
    np.testing.assert_allclose(np.asarray(z), np.sqrt(8) * mean / np.linalg.norm(mean), rtol=1e-4)
    tasked = breeze.with_task(state, z)
    obs = data.observations[:5]
    key = jax.random.key(0)
    acted = breeze.act(SMALL, ENV, tasked, obs, key)
    np.testing.assert_array_equal(
        acted, breeze.policy(SMALL, ENV, state, obs, jnp.broadcast_to(z, (5, 8)), key)
    )
    assert np.all(np.abs(np.asarray(acted)) <= 1.0)
    with pytest.raises(ValueError, match="key=None"):
        breeze.policy(SMALL, ENV, state, obs, jnp.broadcast_to(z, (5, 8)))


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("train_samples", 0, r"train_samples must be an integer in \[1, inf\), got 0"),
        ("eval_samples", 0, r"eval_samples.*got 0"),
        ("dataset_action_prob", 1.5, r"dataset_action_prob.*\[0, 1\], got 1.5"),
        ("dataset_action_prob", -0.1, r"dataset_action_prob.*got -0.1"),
        ("expectile", 1.0, r"expectile.*\(0, 1\), got 1.0"),
        ("expectile", 0.0, r"expectile.*\(0, 1\), got 0.0"),
        ("time_features", 7, r"time_features=7.*even"),
    ],
)
def test_bad_input_is_refused_by_field(data, field, value, match):
    config = breeze.replace(SMALL, **{field: value})
    with pytest.raises(ValueError, match=match):
        config.validate()
    with pytest.raises(ValueError, match=field):
        breeze.init(config, ENV, jax.random.key(0), breeze.prepare_data(SMALL, ENV, data))
