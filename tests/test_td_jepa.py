"""TD-JEPA (agents/td_jepa.py): the losses against NumPy on the networks' own outputs, the exact
successor features of a finite MDP, no collapse with the orthonormality terms (and collapse
without), least-squares task inference, the invariants (determinism, vmap over seeds,
bit-identical resume) and bad input. The zero-shot learning test is in
tests/test_zero_shot_learning.py, the Playground walker smoke in tests/test_zero_shot_smoke.py."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from trees import assert_same

import jaxrl
from jaxrl import envs, zero_shot
from jaxrl.agents import td_jepa
from jaxrl.agents.presets import TD_JEPA_CPU
from jaxrl.networks import ema

ENV = envs.make("reach/fourrooms")
SMALL = td_jepa.Config(
    z_dim=6,
    phi_dim=10,
    batch_size=32,
    phi_hidden_sizes=(32, 32),
    psi_hidden_sizes=(32, 32),
    predictor_hidden=32,
    actor_hidden=32,
    inference_samples=200,
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


def ortho(e: np.ndarray) -> float:
    """metamotivo's orthonormality loss in NumPy: -mean diag(C) + 0.5 mean_offdiag C^2."""
    c = e @ e.T
    off = ~np.eye(len(e), dtype=bool)
    return -np.mean(np.diag(c)) + 0.5 * np.mean(c[off] ** 2)


def init(config, prepared, key=0):
    """``td_jepa.init``, compiled (eager flax init compiles every operation on its own)."""
    return jax.jit(lambda k: td_jepa.init(config, ENV, k, prepared))(jax.random.key(key))


@jax.jit
def perturbed(params):
    """``params`` + N(0, 0.05^2) noise: targets apart from the online networks, so that a swapped
    argument shows."""
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(9), len(leaves))
    noisy = [x + 0.05 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(tree, noisy)


def setup(config, data, key=1):
    prepared = td_jepa.prepare_data(config, ENV, data)
    state = init(config, prepared, key)
    state = state.replace(target_params=perturbed(state.target_params))
    nets = td_jepa.make_networks(config, ENV)
    batch = jaxrl.data.sample_transitions(prepared, jax.random.key(2), config.batch_size)
    batch["mask"] = batch["mask"].at[:3].set(0.0)  # terminal rows: no bootstrap
    batch["next_obs"] = batch["next_obs"][::-1]  # s' far from s: psi(s) and psi(s') differ
    z = td_jepa.training_tasks(
        config, nets, state.params, state.cov, batch["next_obs"], jax.random.key(3)
    )
    return state, nets, batch, z


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_representation_loss_by_numpy(data, symmetric):
    """The latent TD targets cross over (P_phi onto psi_targ(s') + gamma mean_k
    P_phi,targ(phi_targ(s'), a', z), P_psi onto phi_targ(s') + ...; a' the online actor's
    clipped-noise action at phi_targ(s')), and the loss is both predictors' squared errors plus
    each encoder's orthonormality loss on s; recomputed in NumPy. The immediate term is the
    *next* state's: the same target with psi_targ(s) (the off-by-one) is far from it."""
    config = td_jepa.replace(
        SMALL, symmetric=symmetric, discount=0.9, phi_ortho_coef=0.3, psi_ortho_coef=0.7
    )
    state, nets, batch, z = setup(config, data)
    names = td_jepa.learned(config)
    params = {n: state.params[n] for n in names}
    key = jax.random.key(4)
    args = (state.target_params, state.params["actor"], batch, z, key)
    loss, info = jax.jit(lambda p, *a: td_jepa.representation_loss(config, nets, p, *a))(
        params, *args
    )
    targets = jax.jit(lambda *a: td_jepa.latent_targets(config, nets, *a))(*args)
    tp, p = state.target_params, params
    obs, next_obs, action = batch["obs"], batch["next_obs"], batch["action"]
    psi_name = "phi" if symmetric else "psi"
    phi_apply, psi_apply = jax.jit(nets.phi.apply), jax.jit(nets.psi.apply)
    next_phi = np.asarray(phi_apply(tp["phi"], next_obs))
    next_psi = np.asarray(psi_apply(tp[psi_name], next_obs))
    pi = jax.jit(nets.actor.apply)(state.params["actor"], next_phi, z)
    a_next = td_jepa.target_action(pi, key, config.policy_noise, config.noise_clip)
    disc = 0.9 * np.asarray(batch["mask"])[:, None]

    def td(pred_name, x, x_next, immediate):
        net = jax.jit(getattr(nets, pred_name).apply)
        target = immediate + disc * np.mean(np.asarray(net(tp[pred_name], x_next, a_next, z)), 0)
        np.testing.assert_allclose(targets[pred_name], target, rtol=2e-4, atol=2e-5)
        pred = np.asarray(net(p[pred_name], x, action, z))
        return np.mean(np.sum((pred - target[None]) ** 2, axis=-1)), target

    phi = np.asarray(phi_apply(p["phi"], obs))
    loss_phi, target_phi = td("pred_phi", phi, next_phi, next_psi)
    expected = loss_phi + 0.3 * ortho(phi)
    np.testing.assert_allclose(float(info["pred_phi_loss"]), loss_phi, rtol=2e-4)
    if not symmetric:
        psi = np.asarray(psi_apply(p["psi"], obs))
        loss_psi, _ = td("pred_psi", psi, next_psi, next_phi)
        expected += loss_psi + 0.7 * ortho(psi)
        np.testing.assert_allclose(float(info["ortho_psi"]), ortho(psi), rtol=2e-4)
    np.testing.assert_allclose(float(loss), expected, rtol=2e-4)
    off_by_one = target_phi - next_psi + np.asarray(psi_apply(tp[psi_name], obs))
    assert np.abs(off_by_one - np.asarray(targets["pred_phi"])).max() > 0.5
    np.testing.assert_allclose(np.linalg.norm(phi, axis=-1), np.sqrt(td_jepa.phi_dim(config)), 1e-5)


def test_actor_loss_by_numpy(data):
    """-mean_i mean_k P_phi,k(phi(s), a, z)^T z at the clipped-noise action on the detached
    phi(s); with bc_coef, divided by mean |Q_k| over members and rows, plus bc_coef times the mean
    squared error to the data's actions. No gradient reaches phi."""
    state, nets, batch, z = setup(SMALL, data)
    key = jax.random.key(5)
    phi = jax.jit(nets.phi.apply)(state.params["phi"], batch["obs"])
    pi = jax.jit(nets.actor.apply)(state.params["actor"], phi, z)
    action = td_jepa.target_action(pi, key, SMALL.policy_noise, SMALL.noise_clip)
    pred = jax.jit(nets.pred_phi.apply)(state.params["pred_phi"], phi, action, z)
    q = np.einsum("kid,id->ki", pred, z)
    bc = np.mean((np.asarray(action) - np.asarray(batch["action"])) ** 2)

    @jax.jit
    def loss(params, coef):
        config = td_jepa.replace(SMALL, bc_coef=coef)
        return td_jepa.actor_loss(config, nets, state.params["actor"], params, batch, z, key)[0]

    for coef, expected in ((0.0, -q.mean()), (2.0, -q.mean() / np.abs(q).mean() + 2.0 * bc)):
        np.testing.assert_allclose(float(loss(state.params, coef)), expected, rtol=2e-4)
    grads = jax.jit(jax.grad(loss))(state.params, 0.0)
    assert optax.tree.norm(grads["phi"]) == 0.0


def test_task_inference_is_least_squares_on_psi_of_next_states(data):
    """infer_task = sqrt(d) normalise(lstsq(psi(s'), r)) (NumPy's lstsq), not FB's mean r B."""
    prepared = td_jepa.prepare_data(SMALL, ENV, data)
    state = init(SMALL, prepared)
    rewards = data.task_rewards["reach_top_left"]
    z = td_jepa.infer_task(SMALL, ENV, state, data.next_observations, rewards)
    psi = np.asarray(td_jepa.backward(SMALL, ENV, state, data.next_observations), np.float64)
    w = np.linalg.lstsq(psi, np.asarray(rewards, np.float64), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(z), np.sqrt(6) * w / np.linalg.norm(w), atol=2e-3)
    mean = zero_shot.infer_z_from_rewards(jnp.asarray(psi, jnp.float32), rewards)
    assert np.linalg.norm(np.asarray(mean) - np.asarray(z)) > 0.1
    sampled = td_jepa.infer_task_from_data(SMALL, ENV, state, prepared, rewards, jax.random.key(1))
    assert sampled.shape == (6,) and np.isclose(np.linalg.norm(sampled), np.sqrt(6), rtol=1e-5)
    tasked = td_jepa.with_task(state, z)
    obs = data.observations[:5]
    np.testing.assert_array_equal(
        td_jepa.act(SMALL, ENV, tasked, obs, jax.random.key(0)),
        td_jepa.policy(SMALL, ENV, state, obs, jnp.broadcast_to(z, (5, 6))),
    )


def test_running_covariance_and_scaled_goal_tasks(data):
    """Cov <- (1 - rate) Cov + rate psi^T psi / N with psi(s) from before the step; with
    scale_train_goals the goal tasks are project(psi(s') (Cov + 1e-6 I)^-1)."""
    prepared = td_jepa.prepare_data(SMALL, ENV, data)
    state = init(SMALL, prepared)
    new, _ = jax.jit(lambda s: td_jepa.train_step(SMALL, ENV, s, prepared))(state)
    key_batch = jax.random.split(state.key, 5)[1]
    batch = jaxrl.data.sample_transitions(prepared, key_batch, 32)
    psi = np.asarray(td_jepa.make_networks(SMALL, ENV).psi.apply(state.params["psi"], batch["obs"]))
    np.testing.assert_allclose(
        np.asarray(new.cov), 0.995 * np.eye(6) + 0.005 * psi.T @ psi / 32, rtol=1e-4, atol=1e-6
    )
    config = td_jepa.replace(SMALL, scale_train_goals=True, z_mix_prob=1.0)
    nets = td_jepa.make_networks(config, ENV)
    cov = jnp.asarray(np.diag(np.arange(1.0, 7.0)), jnp.float32)
    z = td_jepa.training_tasks(
        config, nets, state.params, cov, batch["next_obs"], jax.random.key(0)
    )
    goals = np.asarray(nets.psi.apply(state.params["psi"], batch["next_obs"])) / np.arange(1.0, 7.0)
    goals = np.sqrt(6) * goals / np.linalg.norm(goals, axis=-1, keepdims=True)
    # every z is one of the scaled goals (a permutation of the batch)
    dist = np.linalg.norm(np.asarray(z)[:, None] - goals[None], axis=-1)
    assert dist.min(axis=1).max() < 1e-4


# --- exact successor features of a finite MDP ---------------------------------------------------

SF_STATES, SF_ACTIONS, SF_GAMMA = 6, 2, 0.8
SF_STEPS, SF_BATCH = 2000, 256
SF_TOLERANCE = 0.05
"""Largest error of the learned successor features, relative to their largest entry."""


def train_successor_features(immediate: str, key: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train the agent's predictor ensemble ``P_phi(phi(s), a, z)`` alone, with its loss
    (:func:`td_jepa.prediction_loss`) and target (:func:`td_jepa.successor_feature_target`), on a
    random 6-state, 2-action MDP under a fixed random policy, with *fixed* random encoders
    (``phi``: 8-d, ``psi``: 3-d, one vector per state) and a fixed z; ``immediate`` is "next"
    (the agent's psi(s')) or "current" (the off-by-one psi(s)). Returns the learned ``[S, A, 3]``
    and the exact ``P (I - gamma P_pi)^-1 Psi`` by linear algebra."""
    ks = jax.random.split(jax.random.key(key), 6)
    transitions = jax.random.dirichlet(ks[0], jnp.ones(SF_STATES), (SF_STATES, SF_ACTIONS))
    pi = jax.random.dirichlet(ks[1], jnp.ones(SF_ACTIONS), (SF_STATES,))
    phi = zero_shot.project_sphere(jax.random.normal(ks[2], (SF_STATES, 8)))
    psi = zero_shot.project_sphere(jax.random.normal(ks[3], (SF_STATES, 3)))
    z = jnp.broadcast_to(jax.random.normal(ks[4], (3,)), (SF_BATCH, 3))
    exact = zero_shot.successor_measure(transitions, pi, SF_GAMMA) @ psi
    net = td_jepa.PredictorEnsemble(3, 64, 1)
    onehot = jnp.eye(SF_ACTIONS)
    params = net.init(ks[5], phi[:1], onehot[:1], z[:1])
    opt = optax.adam(optax.cosine_decay_schedule(1e-3, SF_STEPS))  # to 0: no noise floor
    discount = jnp.full((SF_BATCH,), SF_GAMMA)

    def step(carry, key):
        params, target, opt_state = carry
        k_s, k_a, k_next, k_a_next = jax.random.split(key, 4)
        s = jax.random.randint(k_s, (SF_BATCH,), 0, SF_STATES)
        a = jax.random.randint(k_a, (SF_BATCH,), 0, SF_ACTIONS)
        s_next = jax.random.categorical(k_next, jnp.log(transitions[s, a]))
        a_next = jax.random.categorical(k_a_next, jnp.log(pi[s_next]))
        features = psi[s_next] if immediate == "next" else psi[s]
        y = td_jepa.successor_feature_target(
            features, net.apply(target, phi[s_next], onehot[a_next], z), discount
        )

        def loss(p):
            return td_jepa.prediction_loss(net.apply(p, phi[s], onehot[a], z), y)

        grads = jax.grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
        return (params, ema(params, target, 0.05), opt_state), None

    carry = (params, params, opt.init(params))
    keys = jax.random.split(jax.random.key(100 + key), SF_STEPS)
    params, _, _ = jax.jit(lambda c: jax.lax.scan(step, c, keys)[0])(carry)
    s, a = jnp.meshgrid(jnp.arange(SF_STATES), jnp.arange(SF_ACTIONS), indexing="ij")
    learned = net.apply(params, phi[s.ravel()], onehot[a.ravel()], z[: s.size]).mean(axis=0)
    return np.asarray(learned).reshape(SF_STATES, SF_ACTIONS, 3), np.asarray(exact)


def test_predictor_learns_the_exact_successor_features_of_a_finite_mdp():
    """The learned P_phi matches P (I - gamma P_pi)^-1 Psi within SF_TOLERANCE of its largest
    entry; with psi(s) as the immediate term (the off-by-one) it does not. Calibration
    (``python tests/calibrate.py td_jepa_sf --keys 0``, random MDPs 0-7; the test uses MDP 0):
    largest relative errors 0.014, 0.011, 0.008, 0.009, 0.008, 0.017, 0.012, 0.027 with psi(s')
    (2,000 Adam steps, learning rate decayed to 0; at a constant 1e-3 the errors stalled at
    0.04-0.08, the noise of the sampled targets); 0.60, 0.50, 0.56, 0.47 with psi(s) (MDPs 0-3),
    the wrong fixed point."""
    learned, exact = train_successor_features("next")
    error = np.abs(learned - exact).max() / np.abs(exact).max()
    assert error < SF_TOLERANCE, (error, learned, exact)
    wrong, _ = train_successor_features("current")
    assert np.abs(wrong - exact).max() / np.abs(exact).max() > 4 * SF_TOLERANCE


# --- no collapse ----------------------------------------------------------------------------------

COLLAPSE_STEPS, COLLAPSE_EVERY, COLLAPSE_SEEDS = 200, 100, 3
RANK_FLOOR = 12
"""The numerical rank of Cov(psi) (eigenvalues above 1 % of the largest; psi is 50-d) must stay
above this at every check with the orthonormality terms, and fall below it without them."""


@functools.cache
def psi_ranks(ortho: float, symmetric: bool = False, seeds: int = COLLAPSE_SEEDS) -> np.ndarray:
    """``[checks, seeds]``: the numerical rank of the covariance of psi over 2,000 dataset
    states, every COLLAPSE_EVERY steps of TD_JEPA_CPU (orthonormality coefficients ``ortho`` on
    both encoders) on 10,000 rows of uniformly random actions in the four rooms."""
    data = zero_shot.collect(
        ENV,
        lambda obs, k: jax.random.uniform(k, obs.shape, minval=-1.0, maxval=1.0),
        jax.random.key(0),
        num_envs=50,
        num_steps=200,
    )
    config = td_jepa.replace(
        TD_JEPA_CPU, phi_ortho_coef=ortho, psi_ortho_coef=ortho, symmetric=symmetric
    )
    prepared = td_jepa.prepare_data(config, ENV, data)
    probe = data.observations[:2000]
    keys = jax.random.split(jax.random.key(7), 8)[:seeds]
    states = jax.jit(jax.lax.map, static_argnums=0)(
        lambda k: td_jepa.init(config, ENV, k, prepared), keys
    )

    def chunk(state):
        state, _ = jax.lax.scan(
            lambda s, _: td_jepa.train_step(config, ENV, s, prepared), state, None, COLLAPSE_EVERY
        )
        psi = td_jepa.backward(config, ENV, state, probe)
        return state, psi.T @ psi / psi.shape[0]

    chunk = jax.jit(jax.vmap(chunk))
    ranks = []
    for _ in range(COLLAPSE_STEPS // COLLAPSE_EVERY):
        states, cov = chunk(states)
        eig = np.linalg.eigvalsh(np.asarray(cov, np.float64))  # ascending, per seed
        ranks.append(np.sum(eig > 0.01 * eig[:, -1:], axis=1))
    return np.stack(ranks)


def test_orthonormality_keeps_psi_from_collapsing():
    """With TD_JEPA_CPU's orthonormality terms the rank of Cov(psi) stays above RANK_FLOOR at
    every check; with them removed the encoders collapse onto a few directions (a constant psi
    is a fixed point of the latent TD loss) and it falls below. Calibration (``python
    tests/calibrate.py td_jepa_collapse --keys 0``, 8 seeds of 300 steps; rank at steps 100 /
    200 / 300, min and max over seeds; the test runs the first 3 seeds for 200 steps):

    - ortho 3 (the preset): 21-31 / 34-44 / 42-48 (the rank grows towards 50 as psi spreads);
    - no orthonormality: 6-7 / 6 / 6 (psi lies on 6 directions from step 100 on);
    - TD-JEPA-sym with ortho 3: 20-26 / 35-45 / 44-49.

    The floor 12 sits 9 above the collapsed runs' largest rank and 9 below the smallest kept
    one."""
    kept = psi_ranks(TD_JEPA_CPU.psi_ortho_coef)
    collapsed = psi_ranks(0.0)
    assert kept.min() > RANK_FLOOR, kept
    assert collapsed[-1].max() < RANK_FLOOR, collapsed


# --- invariants and bad input -------------------------------------------------------------------


def test_vmap_over_seeds_equals_single_runs_and_is_deterministic(data):
    config = SMALL
    kw = dict(data=data, eval_every=0, progress=False, chunk_steps=10)
    both = jaxrl.train(td_jepa, config, ENV, jax.random.key(4), 20, seeds=2, **kw)
    keys = jax.random.split(jax.random.key(4), 2)
    for i in range(2):
        single = jaxrl.train(td_jepa, config, ENV, keys[i], 20, **kw)
        mine = jax.tree.map(lambda x, i=i: x[i], both.state.params)
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
    again = jaxrl.train(td_jepa, config, ENV, jax.random.key(4), 20, seeds=2, **kw)
    assert_same(both.state, again.state)
    assert int(single.state.step) == 20
    assert set(single.state.params) == {"phi", "psi", "pred_phi", "pred_psi", "actor"}
    for name in ("representation_loss", "pred_phi_loss", "actor_loss", "q_mean"):
        assert np.all(np.isfinite(both.history[name])), name


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_resume_is_bit_identical(data, tmp_path, symmetric):
    """(Also the symmetric agent's driver-level invariant: its vmap runs the same code as the
    asymmetric agent's, tested above.)"""
    config = td_jepa.replace(SMALL, symmetric=symmetric)
    kw = dict(data=data, eval_every=0, progress=False, chunk_steps=10)
    whole = jaxrl.train(td_jepa, config, ENV, jax.random.key(2), 20, **kw)
    jaxrl.train(td_jepa, config, ENV, jax.random.key(2), 10, checkpoint_dir=str(tmp_path), **kw)
    resumed = jaxrl.train(
        td_jepa, config, ENV, jax.random.key(2), 20, checkpoint_dir=str(tmp_path), resume=True, **kw
    )
    assert resumed.steps_this_call == 10
    assert_same(whole.state, resumed.state)
    names = {"phi", "pred_phi", "actor"} if symmetric else {"phi", "psi", "pred_phi", "pred_psi"}
    assert names <= set(whole.state.params)


def test_bad_input_is_refused_by_field(data):
    prepared = td_jepa.prepare_data(SMALL, ENV, data)
    with pytest.raises(ValueError, match="z_dim"):
        td_jepa.init(td_jepa.replace(SMALL, z_dim=0), ENV, jax.random.key(0), prepared)
    with pytest.raises(ValueError, match="batch_size=1"):
        td_jepa.replace(SMALL, batch_size=1).validate()
    with pytest.raises(ValueError, match="predictor_hidden=1"):
        td_jepa.replace(SMALL, predictor_hidden=1).validate()
    with pytest.raises(ValueError, match="actor_input"):
        td_jepa.replace(SMALL, actor_input="pixels").validate()
    with pytest.raises(ValueError, match="Box"):
        td_jepa.check_env(SMALL, envs.make("cartpole"))
    assert TD_JEPA_CPU.batch_size == 256  # the preset the learning tests use validates
    TD_JEPA_CPU.validate()
