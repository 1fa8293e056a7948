"""GAE and Monte-Carlo returns against an independent numpy loop, hand-computed cases and
DeepMind's rlax (an external reference with its own conventions, mapped onto ours below)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from jaxrl.returns import brax_advantages, discounted_returns, gae


def numpy_gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Straightforward backward loop, one environment at a time."""
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        running = 0.0
        for t in reversed(range(T)):
            if terminated[t, n]:
                delta = rewards[t, n] - values[t, n]
                running = delta
            elif truncated[t, n]:
                delta = rewards[t, n] + gamma * next_values[t, n] - values[t, n]
                running = delta
            else:
                delta = rewards[t, n] + gamma * next_values[t, n] - values[t, n]
                running = delta + gamma * lam * running
            adv[t, n] = running
    return adv


def test_gae_matches_numpy_loop_with_terminations_and_truncations():
    rng = np.random.default_rng(0)
    T, N = 50, 7
    rewards = rng.normal(size=(T, N))
    values = rng.normal(size=(T, N))
    next_values = rng.normal(size=(T, N))
    terminated = rng.random((T, N)) < 0.1
    truncated = (rng.random((T, N)) < 0.1) & ~terminated
    assert terminated.any() and truncated.any()
    adv, ret = gae(
        *(jnp.asarray(x, jnp.float32) for x in (rewards, values, next_values)),
        jnp.asarray(terminated),
        jnp.asarray(truncated),
        0.97,
        0.9,
    )
    expected = numpy_gae(rewards, values, next_values, terminated, truncated, 0.97, 0.9)
    np.testing.assert_allclose(adv, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, expected + values, rtol=1e-5, atol=1e-5)


def test_gae_hand_computed_three_steps():
    # t0 -> t1 truncated (bootstrap from final obs value 10), t2 terminated.
    r = jnp.array([[1.0], [2.0], [3.0]])
    v = jnp.array([[0.5], [1.0], [2.0]])
    nv = jnp.array([[1.0], [10.0], [99.0]])
    term = jnp.array([[False], [False], [True]])
    trunc = jnp.array([[False], [True], [False]])
    adv, _ = gae(r, v, nv, term, trunc, 0.5, 0.5)
    a2 = 3.0 - 2.0  # no bootstrap through termination (99 ignored)
    a1 = 2.0 + 0.5 * 10.0 - 1.0  # bootstrap through truncation, recursion cut
    a0 = (1.0 + 0.5 * 1.0 - 0.5) + 0.25 * a1
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2], rtol=1e-6)


def test_discounted_returns_hand_computed_no_dones():
    """Only the last step bootstraps: the intermediate next_values (2, 3) must be ignored."""
    r = jnp.array([1.0, 1.0, 1.0])
    nv = jnp.array([2.0, 3.0, 4.0])
    no = jnp.zeros(3, bool)
    ret = discounted_returns(r, nv, no, no, 0.5)
    g2 = 1.0 + 0.5 * 4.0  # rollout end: bootstrap from next_values[-1]
    g1 = 1.0 + 0.5 * g2
    g0 = 1.0 + 0.5 * g1
    np.testing.assert_allclose(ret, [g0, g1, g2], rtol=1e-6)
    np.testing.assert_allclose(ret, [2.25, 2.5, 3.0], rtol=1e-6)
    # the same as GAE with lam = 1 and values consistent with next_values (V(s_1) = 2, V(s_2) = 3)
    _, gae_ret = gae(r, jnp.array([-7.0, 2.0, 3.0]), nv, no, no, 0.5, 1.0)
    np.testing.assert_allclose(ret, gae_ret, rtol=1e-6)
    # GAE's returns cancel the values only when they are consistent: with zero values (the old
    # implementation of discounted_returns) every step adds gamma * next_values[t] on top
    _, inconsistent = gae(r, jnp.zeros(3), nv, no, no, 0.5, 1.0)
    np.testing.assert_allclose(inconsistent[0], 4.0, rtol=1e-6)


def test_discounted_returns_hand_computed_termination_and_truncation():
    """t1 terminates (its next value 20 is ignored), t2 is truncated (bootstraps from 30 and does
    not read G_3), t3 ends the rollout (bootstraps from 40); t0's next value 10 is ignored."""
    r = jnp.array([1.0, 2.0, 3.0, 4.0])
    nv = jnp.array([10.0, 20.0, 30.0, 40.0])
    term = jnp.array([False, True, False, False])
    trunc = jnp.array([False, False, True, False])
    ret = discounted_returns(r, nv, term, trunc, 0.5)
    g3 = 4.0 + 0.5 * 40.0
    g2 = 3.0 + 0.5 * 30.0
    g1 = 2.0
    g0 = 1.0 + 0.5 * g1
    np.testing.assert_allclose(ret, [g0, g1, g2, g3], rtol=1e-6)


def _random_rollout(
    seed: int, T: int = 64, B: int = 8, truncations: bool = True
) -> dict[str, np.ndarray]:
    """Random float32 rollout ``[T, B]`` with terminations and (optionally) truncations (never
    both at one step), and ``values`` consistent with ``next_values`` inside episodes:
    ``values[t + 1] = next_values[t]`` where step ``t`` is not done; elsewhere (first step,
    first step after a done) ``values`` is an unrelated random number."""
    rng = np.random.default_rng(seed)
    next_values = rng.normal(size=(T, B)).astype(np.float32)
    terminated = rng.random((T, B)) < 0.1
    truncated = (rng.random((T, B)) < 0.1) & ~terminated & truncations
    done = terminated | truncated
    values = rng.normal(size=(T, B)).astype(np.float32)
    values[1:] = np.where(done[:-1], values[1:], next_values[:-1])
    assert terminated.any() and truncated.any() == truncations and (~done).any()
    return {
        "rewards": rng.normal(size=(T, B)).astype(np.float32),
        "values": values,
        "next_values": next_values,
        "terminated": terminated,
        "truncated": truncated,
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discounted_returns_equals_gae_lambda_one_on_random_rollouts(seed):
    """With lam = 1 the values cancel: GAE's returns equal the Monte-Carlo returns."""
    ro = _random_rollout(seed)
    ret = discounted_returns(
        ro["rewards"], ro["next_values"], ro["terminated"], ro["truncated"], 0.97
    )
    _, gae_ret = gae(
        ro["rewards"],
        ro["values"],
        ro["next_values"],
        ro["terminated"],
        ro["truncated"],
        0.97,
        1.0,
    )
    np.testing.assert_allclose(ret, gae_ret, rtol=1e-5, atol=1e-5)


# --- rlax as an external reference --------------------------------------------------------------
#
# rlax works on one sequence t = 0..T-1 with a per-step discount ``discount_t`` (the discount
# applied to what follows step t) and no separate termination / truncation flags:
#   * lambda_returns(r_t, discount_t, v_t, lam): G_t = r_t + discount_t [(1 - lam) v_t +
#     lam G_{t+1}], where v_t is the value of the successor of step t (our next_values) and
#     G_T = v_t[T - 1] (the rollout end bootstraps).
#   * truncated_generalized_advantage_estimation(r_t, discount_t, lam, values): values has T + 1
#     entries V(s_0..s_T), delta_t = r_t + discount_t V(s_{t+1}) - V(s_t),
#     A_t = delta_t + discount_t lam A_{t+1}, A_T = 0.
# Our flags map onto that exactly:
#   * not done at t: discount_t = gamma (the recursion continues into t + 1);
#   * terminated at t: discount_t = 0 (no successor value, recursion cut);
#   * truncated at t: discount_t = 0 (recursion cut) and gamma * next_values[t] is added to r_t,
#     which is exactly the bootstrap term our estimators add at a truncation;
#   * GAE's values: V(s_0..s_{T-1}) = our values, V(s_T) = next_values[T - 1]. Inside an episode
#     rlax reads V(s_{t+1}) from values[t + 1]; our gae reads next_values[t]; they agree because
#     the rollout is consistent (see _random_rollout). Where done, discount_t = 0 hides the
#     mismatch (values[t + 1] is then the next episode's first state).


def _to_rlax(ro: dict[str, np.ndarray], gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """``(r_t, discount_t)`` for rlax from our rewards and flags (mapping above)."""
    done = ro["terminated"] | ro["truncated"]
    discount = (gamma * ~done).astype(np.float32)
    rewards = ro["rewards"] + np.where(ro["truncated"], gamma * ro["next_values"], 0.0)
    return rewards.astype(np.float32), discount


def _over_batch(fn):
    """rlax takes rank-1 sequences: vmap over the batch axis 1 of ``[T, B]`` arrays."""
    return jax.vmap(fn, in_axes=1, out_axes=1)


@pytest.mark.parametrize("with_truncations", [False, True])
def test_discounted_returns_match_rlax_lambda_returns(with_truncations):
    """discounted_returns == rlax.lambda_returns(lam=1). Without truncations the mapping is the
    plain discount gamma * (1 - terminated) plus rlax's own rollout-end bootstrap; with
    truncations, the truncated step's bootstrap gamma * V(final obs) is folded into its reward
    and its discount is 0."""
    ro = _random_rollout(3, truncations=with_truncations)
    gamma = 0.95
    r_t, discount_t = _to_rlax(ro, gamma)
    want = _over_batch(lambda r, d, v: rlax.lambda_returns(r, d, v, 1.0))(
        r_t, discount_t, ro["next_values"]
    )
    got = discounted_returns(
        ro["rewards"], ro["next_values"], ro["terminated"], ro["truncated"], gamma
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
@pytest.mark.parametrize("with_truncations", [False, True])
def test_gae_matches_rlax(lam, with_truncations):
    """Our gae's advantages equal rlax's truncated GAE, and its returns (advantages + values)
    equal rlax's lambda-returns with v_t = next_values, on random rollouts with terminations
    (and, folded into rewards as mapped above, truncations)."""
    ro = _random_rollout(4 + int(10 * lam), truncations=with_truncations)
    gamma = 0.9
    r_t, discount_t = _to_rlax(ro, gamma)
    values_0_to_T = np.concatenate([ro["values"], ro["next_values"][-1:]])
    want_adv = _over_batch(
        lambda r, d, v: rlax.truncated_generalized_advantage_estimation(r, d, lam, v)
    )(r_t, discount_t, values_0_to_T)
    want_ret = _over_batch(lambda r, d, v: rlax.lambda_returns(r, d, v, lam))(
        r_t, discount_t, ro["next_values"]
    )
    adv, ret = gae(
        ro["rewards"],
        ro["values"],
        ro["next_values"],
        ro["terminated"],
        ro["truncated"],
        gamma,
        lam,
    )
    np.testing.assert_allclose(adv, want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, want_ret, rtol=1e-5, atol=1e-5)


# --- Brax's policy-advantage form -------------------------------------------------------------


def numpy_brax_compute_gae(rewards, values, bootstrap_value, termination, gamma, lam):
    """Numpy loop of Brax's ``compute_gae`` (brax/training/agents/ppo/losses.py) for rollouts
    without truncations: ``vs = V + A^GAE`` and ``A_t = r_t + gamma (1 - term_t) vs_{t+1} - V_t``
    with ``vs_T`` the bootstrap value. Returns ``(advantages, vs)``."""
    T, N = rewards.shape
    next_v = np.concatenate([values[1:], bootstrap_value[None]])
    vs = np.zeros((T, N))
    acc = np.zeros(N)
    for t in reversed(range(T)):
        delta = rewards[t] + gamma * (1 - termination[t]) * next_v[t] - values[t]
        acc = delta + gamma * (1 - termination[t]) * lam * acc
        vs[t] = acc + values[t]
    next_vs = np.concatenate([vs[1:], bootstrap_value[None]])
    return rewards + gamma * (1 - termination) * next_vs - values, vs


def test_brax_advantages_hand_computed_with_termination_and_truncation():
    """gamma 0.9, lam 0.5; step 2 terminates, step 3 is truncated (final-obs value 7), step 4
    ends the rollout (bootstrap 3). deltas = [1.4, 2.8, 1.0, 8.8, 6.7]; GAE = [2.8625, 3.25,
    1.0, 8.8, 6.7]; Brax's form = delta_t + 0.9 * A^GAE_{t+1} inside the episode: [1.4 + 0.9 *
    3.25, 2.8 + 0.9 * 1.0, 1.0, 8.8, 6.7] = [4.325, 3.7, 1.0, 8.8, 6.7]; targets = GAE + V."""
    col = lambda *x: jnp.array(x, jnp.float32)[:, None]  # noqa: E731
    r, v = col(1, 2, 3, 4, 5), col(0.5, 1, 2, 1.5, 1)
    nv = col(1, 2, 9, 7, 3)  # nv[2] is never read (termination)
    term, trunc = col(0, 0, 1, 0, 0) > 0, col(0, 0, 0, 1, 0) > 0
    adv, targets = brax_advantages(r, v, nv, term, trunc, 0.9, 0.5)
    np.testing.assert_allclose(adv[:, 0], [4.325, 3.7, 1.0, 8.8, 6.7], rtol=1e-6)
    np.testing.assert_allclose(targets[:, 0], [3.3625, 4.25, 3.0, 10.3, 7.7], rtol=1e-6)
    gae_adv, gae_targets = gae(r, v, nv, term, trunc, 0.9, 0.5)
    np.testing.assert_allclose(gae_adv[:, 0], [2.8625, 3.25, 1.0, 8.8, 6.7], rtol=1e-6)
    np.testing.assert_array_equal(targets, gae_targets)


@pytest.mark.parametrize("lam", [0.0, 0.95, 1.0])
def test_brax_advantages_match_brax_compute_gae_without_truncations(lam):
    rng = np.random.default_rng(3)
    T, N, gamma = 40, 5, 0.97
    rewards, values = rng.normal(size=(T, N)), rng.normal(size=(T, N))
    bootstrap = rng.normal(size=N)
    terminated = rng.random((T, N)) < 0.1
    next_values = np.concatenate([values[1:], bootstrap[None]])  # consistent successors
    adv, targets = brax_advantages(
        *(jnp.asarray(x, jnp.float32) for x in (rewards, values, next_values)),
        jnp.asarray(terminated),
        jnp.zeros((T, N), bool),
        gamma,
        lam,
    )
    ref_adv, ref_vs = numpy_brax_compute_gae(rewards, values, bootstrap, terminated, gamma, lam)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, ref_vs, rtol=1e-5, atol=1e-5)
    if lam == 1.0:  # the two forms agree at lam = 1
        gae_adv, _ = gae(
            *(jnp.asarray(x, jnp.float32) for x in (rewards, values, next_values)),
            jnp.asarray(terminated),
            jnp.zeros((T, N), bool),
            gamma,
            lam,
        )
        np.testing.assert_allclose(adv, gae_adv, rtol=1e-5, atol=1e-5)
