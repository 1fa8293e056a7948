"""The zero-shot core (:mod:`jaxrl.zero_shot`): FB's losses and task inferences against NumPy, the
successor measure of a small MDP learned by the FB loss against linear algebra, and the reach
domain's task rewards, relabelling and evaluation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl import envs, zero_shot
from jaxrl.data import Dataset
from jaxrl.envs import reach
from jaxrl.envs.pointmaze import PointMazeState
from jaxrl.envs.wrappers import TimeLimitState

RNG = np.random.default_rng(0)


# --- losses and inferences against NumPy -------------------------------------------------------


def test_fb_measure_loss_matches_a_numpy_double_loop():
    n = 5
    m, target = RNG.normal(size=(n, n)), RNG.normal(size=(n, n))
    discount = RNG.uniform(0.5, 1.0, size=n)
    offdiag = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                offdiag += (m[i, j] - discount[i] * target[i, j]) ** 2
    offdiag = 0.5 * offdiag / (n * (n - 1))
    diag = -np.mean([m[i, i] for i in range(n)])
    loss, parts = zero_shot.fb_measure_loss(jnp.asarray(m), jnp.asarray(target), discount)
    np.testing.assert_allclose(float(parts["fb_offdiag"]), offdiag, rtol=1e-5)
    np.testing.assert_allclose(float(parts["fb_diag"]), diag, rtol=1e-5)
    np.testing.assert_allclose(float(loss), offdiag + diag, rtol=1e-5)
    # the target is a constant: no gradient flows into it
    grad = jax.grad(lambda t: zero_shot.fb_measure_loss(jnp.asarray(m), t, discount)[0])(
        jnp.asarray(target)
    )
    assert not np.any(np.asarray(grad))


def test_orthonormality_losses_match_numpy_in_both_published_forms():
    b = RNG.normal(size=(6, 3))
    c = b @ b.T
    off = ~np.eye(6, dtype=bool)
    metamotivo = -np.mean(np.diag(c)) + 0.5 * np.mean(c[off] ** 2)
    controllable = -2 * np.mean(np.diag(c)) + np.mean(c[off] ** 2)
    got_m = zero_shot.orthonormality_loss(jnp.asarray(b), "metamotivo")
    got_c = zero_shot.orthonormality_loss(jnp.asarray(b), "controllable_agent")
    np.testing.assert_allclose(float(got_m), metamotivo, rtol=1e-5)
    np.testing.assert_allclose(float(got_c), controllable, rtol=1e-5)


def test_task_inferences_match_numpy():
    b, r = RNG.normal(size=(50, 4)), RNG.normal(size=50)
    mean = (r[:, None] * b).mean(0)
    expected = 2.0 * mean / np.linalg.norm(mean)  # sqrt(d) = 2
    got = zero_shot.infer_z_from_rewards(jnp.asarray(b), jnp.asarray(r))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)
    w = np.linalg.lstsq(b, r, rcond=None)[0]
    raw = zero_shot.infer_z_least_squares(jnp.asarray(b), jnp.asarray(r), normalize=False)
    np.testing.assert_allclose(np.asarray(raw), w, rtol=1e-4, atol=1e-6)
    unit = zero_shot.infer_z_least_squares(jnp.asarray(b), jnp.asarray(r))
    np.testing.assert_allclose(np.asarray(unit), 2.0 * w / np.linalg.norm(w), rtol=1e-4)
    goal = jnp.asarray(b[0])
    assert zero_shot.infer_z_from_goal(goal) is goal


def test_z_sampling_lies_on_the_sphere_and_mixes_the_asked_share():
    z = zero_shot.sample_z(jax.random.key(0), 4000, 9)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(z), axis=-1), 3.0, rtol=1e-5)
    emb = zero_shot.project_sphere(jnp.ones((4000, 9)))
    mixed = np.asarray(zero_shot.mix_z(jax.random.key(1), z, emb, 0.5))
    share = np.mean(np.all(np.isclose(mixed, 1.0), axis=-1))
    assert 0.46 < share < 0.54, share
    none = zero_shot.mix_z(jax.random.key(1), z, emb, 0.0)
    np.testing.assert_array_equal(np.asarray(none), np.asarray(z))


# --- the successor measure of a finite MDP -----------------------------------------------------

S, A, GAMMA, COPIES = 6, 2, 0.8, 32


def ring_mdp() -> tuple[np.ndarray, np.ndarray]:
    """A ring of 6 states, action 0 steps +1, action 1 steps -1; a fixed stochastic policy whose
    probability of +1 grows from 0.2 to 0.9 around the ring. Every state has two incoming
    (state, action) pairs, so with (s, a) uniform the next-state distribution rho is uniform."""
    p = np.zeros((S, A, S))
    for s in range(S):
        p[s, 0, (s + 1) % S] = 1.0
        p[s, 1, (s - 1) % S] = 1.0
    up = np.linspace(0.2, 0.9, S)
    return p, np.stack([up, 1.0 - up], axis=1)


def test_successor_measure_matches_its_power_series():
    p, pi = ring_mdp()
    p_pi = np.einsum("sa,sat->st", pi, p)
    series = sum(
        GAMMA**t * np.einsum("sat,tu->sau", p, np.linalg.matrix_power(p_pi, t)) for t in range(200)
    )
    got = zero_shot.successor_measure(jnp.asarray(p), jnp.asarray(pi), GAMMA)
    np.testing.assert_allclose(np.asarray(got), series, rtol=1e-4, atol=1e-6)


def train_tabular_fb(positive_on_next_state: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Tabular F [S*A, d] and B [S, d] (d = S, B on the sphere) trained by the FB measure loss +
    the orthonormality loss, on a batch holding every (s, a) pair ``COPIES`` times with its
    next state; the target is the EMA F averaged over the fixed policy at s'. Returns
    ``F^T B`` as [S, A, S] and ``E_rho[B B^T]``. ``positive_on_next_state=False`` is the broken
    variant whose positive pairs are ``(s, a), B(s)`` instead of ``B(s')``."""
    p, pi = ring_mdp()
    sa = np.tile(np.arange(S * A), COPIES)
    s_next = p.reshape(S * A, S).argmax(1)[sa]
    s_now = sa // A
    d = S

    def loss(params, target):
        b = zero_shot.project_sphere(params["B"])
        f_target = jnp.einsum("sa,sad->sd", pi, target["F"].reshape(S, A, d))
        b_target = zero_shot.project_sphere(target["B"])
        m = params["F"][sa] @ b[s_next].T
        target_m = f_target[s_next] @ b_target[s_next].T
        value, parts = zero_shot.fb_measure_loss(m, target_m, jnp.full(sa.shape, GAMMA))
        if not positive_on_next_state:
            value = parts["fb_offdiag"] - jnp.mean(jnp.sum(params["F"][sa] * b[s_now], -1))
        return value + zero_shot.orthonormality_loss(b[s_next], "controllable_agent")

    tx = optax.adam(optax.cosine_decay_schedule(0.03, 4000))

    def step(carry, _):
        params, target, opt = carry
        updates, opt = tx.update(jax.grad(loss)(params, target), opt, params)
        params = optax.apply_updates(params, updates)
        target = jax.tree.map(lambda o, t: 0.05 * o + 0.95 * t, params, target)
        return (params, target, opt), None

    params = {
        "F": 0.1 * jax.random.normal(jax.random.key(0), (S * A, d)),
        "B": jax.random.normal(jax.random.key(1), (S, d)),
    }
    carry = (params, params, tx.init(params))
    (params, _, _), _ = jax.jit(lambda c: jax.lax.scan(step, c, None, length=4000))(carry)
    b = np.asarray(zero_shot.project_sphere(params["B"]))
    fb = (np.asarray(params["F"]) @ b.T).reshape(S, A, S)
    return fb, (b.T / S) @ b


def test_fb_loss_learns_the_exact_successor_measure_of_a_small_mdp():
    """F^T B -> M / rho with M = P (I - gamma P_pi)^{-1} (rho uniform, 1/6) and E[B B^T] -> I.

    Measured: relative Frobenius error 0.013 (the batch's off-diagonal pairs leave each row's own
    copy out, a 1/COPIES bias), |E[B B^T] - I| < 1e-3. The broken variant whose positive pairs
    use B(s) instead of B(s') (the spec's second pitfall) ends at 0.37 relative error."""
    p, pi = ring_mdp()
    exact = np.asarray(zero_shot.successor_measure(jnp.asarray(p), jnp.asarray(pi), GAMMA)) * S
    fb, cov = train_tabular_fb()
    error = np.linalg.norm(fb - exact) / np.linalg.norm(exact)
    assert error < 0.04, error
    np.testing.assert_allclose(cov, np.eye(S), atol=0.02)
    broken, _ = train_tabular_fb(positive_on_next_state=False)
    broken_error = np.linalg.norm(broken - exact) / np.linalg.norm(exact)
    assert broken_error > 0.1, broken_error


# --- the reach domain: task rewards, relabelling, task envs ------------------------------------


@pytest.fixture(scope="module")
def reach_data():
    env = envs.make("reach/fourrooms")
    data = zero_shot.collect(
        env,
        lambda obs, k: jax.random.uniform(k, obs.shape, minval=-1.0, maxval=1.0),
        jax.random.key(0),
        num_envs=4,
        num_steps=250,
    )
    return env, data


def test_stored_task_rewards_equal_each_task_envs_own_reward(reach_data):
    """Put each task's env in every stored row's state (the point at ``observations[i]``), take
    the stored action: the env's reward equals the stored task reward and its next observation
    the stored one; recomputation from the stored physics gives the stored rewards too."""
    env, data = reach_data
    assert set(data.task_names) == set(env.task_names)
    obs = data.observations

    for task in env.task_names:
        task_env = zero_shot.task_env(env, task)

        def step(pos, action, task_env=task_env):
            inner = PointMazeState(pos=pos, goal=pos)
            state = TimeLimitState(inner=inner, t=jnp.zeros((), jnp.int32))
            _, ts = task_env.step(state, action)
            return ts.reward, ts.obs

        rewards, next_obs = jax.vmap(step)(obs, data.actions)
        # one float32 ulp apart where a wall stops the point (XLA fuses the two programs apart)
        np.testing.assert_allclose(next_obs, data.next_observations, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(rewards, data.task_rewards[task], rtol=1e-5, atol=1e-6)
        relabelled = zero_shot.relabel(env, data, task)
        np.testing.assert_allclose(relabelled, data.task_rewards[task], rtol=1e-6, atol=1e-7)
    every = zero_shot.relabel(env, data)
    assert every.shape == (data.size, len(env.task_names))


def test_relabel_refuses_data_without_physics_and_unknown_tasks(reach_data):
    env, data = reach_data
    arrays = data.to_numpy()
    bare = Dataset.create(
        **{k: arrays[k] for k in ("observations", "actions", "rewards", "terminals", "timeouts")},
        next_observations=arrays["next_observations"],
    )
    with pytest.raises(ValueError, match="no stored physics after each step"):
        zero_shot.relabel(env, bare, "reach_top_left")
    with pytest.raises(ValueError, match=r"task='reach_middle' is not a task of domain"):
        zero_shot.relabel(env, data, "reach_middle")
    with pytest.raises(ValueError, match="not a multi-task domain"):
        zero_shot.task_env(envs.make("pendulum"), "swingup")
    np.testing.assert_array_equal(
        np.asarray(
            zero_shot.task_rewards_of(
                bare.replace(task_rewards=data.task_rewards), env, "reach_top_left"
            )
        ),
        np.asarray(data.task_rewards["reach_top_left"]),
    )


def test_tolerance_reward_by_hand():
    got = reach.tolerance(jnp.asarray([0.0, 0.5, 1.5, 2.5]), 0.5, 1.0)
    np.testing.assert_allclose(np.asarray(got), [1.0, 1.0, 0.1, 0.1**4], rtol=1e-6)


def test_evaluate_zero_shot_scores_an_oracle_above_random():
    """The BFS oracle steered to each task's target (z = the target's position) beats a random
    policy on every task: evaluation routes each task's reward and z correctly."""
    env = envs.make("reach/fourrooms")
    targets = env.env.targets()

    def oracle(obs, z, key):
        del key
        return env.maze.oracle_action(obs, z)

    def random(obs, z, key):
        return jax.random.uniform(key, obs.shape, minval=-1.0, maxval=1.0)

    good = zero_shot.evaluate_zero_shot(env, oracle, targets, jax.random.key(0), 8)["return"]
    bad = zero_shot.evaluate_zero_shot(env, random, targets, jax.random.key(0), 8)["return"]
    assert np.all(np.asarray(good) > np.asarray(bad) + 50), (good, bad)
    with pytest.raises(ValueError, match="task_z has 3 rows"):
        zero_shot.evaluate_zero_shot(env, oracle, targets[:3], jax.random.key(0), 2)


def test_coverage_counts_visited_free_area():
    env = envs.make("reach/fourrooms")
    free_cells = np.argwhere(~env.maze.walls)
    centres = free_cells[:, ::-1].astype(float)  # (x, y) = (column, row)
    assert reach.coverage(env, centres, bins_per_cell=1) == 1.0
    assert reach.coverage(env, centres[:10], bins_per_cell=1) == 10 / len(free_cells)
    assert reach.coverage(env, centres[:1], bins_per_cell=2) == 1 / (4 * len(free_cells))
