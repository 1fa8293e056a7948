"""Advantage and return estimators on time-major arrays ``[T, ...]``.

Termination and truncation are kept apart: a *terminated* step has no future (its successor value
is 0), a *truncated* step bootstraps from the value of its true final observation, and neither lets
the recursion run into the next episode.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
    lam: float | jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation (Schulman et al. 2016, eq. 16) with proper time limits.

    Args:
        rewards: ``r_t``, shape ``[T, ...]``.
        values: ``V(s_t)``.
        next_values: ``V(s_{t+1})`` where ``s_{t+1}`` is the true successor (the final observation
            when the episode ended at ``t``).
        terminated: true end at ``t``: ``delta_t = r_t - V(s_t)``.
        truncated: time limit at ``t``: ``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)``.
        gamma, lam: discount and GAE parameter.

    Returns:
        ``(advantages, returns)`` with ``returns = advantages + values`` (the value targets).
    """
    terminated = terminated.astype(values.dtype)
    done = jnp.logical_or(terminated > 0, truncated).astype(values.dtype)
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values

    def body(carry, x):
        delta, d = x
        adv = delta + gamma * lam * (1.0 - d) * carry
        return adv, adv

    _, advantages = jax.lax.scan(body, jnp.zeros_like(values[0]), (deltas, done), reverse=True)
    return advantages, advantages + values


def discounted_returns(
    rewards: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
) -> jax.Array:
    """Monte-Carlo returns within the rollout, bootstrapped at truncations and at the rollout end.

    The backward recursion, with ``done_t = terminated_t or truncated_t``::

        G_t = r_t + gamma * X_t,   X_t = 0                 if terminated_t
                                   X_t = next_values[t]    elif truncated_t
                                   X_t = G_{t+1}           otherwise (t < T - 1)
                                   X_t = next_values[T-1]  otherwise (t = T - 1, the rollout end)

    So ``next_values`` is read only where the recursion stops without a true end: at truncations
    and at the last step of the rollout; intermediate entries are ignored.

    This is the ``returns`` output of :func:`gae` with ``lam = 1`` for any ``values`` that are
    consistent with ``next_values`` inside episodes, i.e. ``values[t + 1] == next_values[t]``
    wherever step ``t`` is not done (true of any real rollout: both are ``V(s_{t+1})``).
    Proof: with ``lam = 1`` GAE's returns ``R_t = A_t + V_t`` satisfy
    ``R_t = r_t + gamma (1 - term_t) V'_t + gamma (1 - done_t) (R_{t+1} - V_{t+1})``; at a
    non-done step this is ``r_t + gamma R_{t+1} + gamma (V'_t - V_{t+1}) = r_t + gamma R_{t+1}``,
    at a truncation ``r_t + gamma V'_t``, at a termination ``r_t``, and at ``t = T - 1`` (where
    the scan's carry is 0) ``r_t + gamma (1 - term_t) V'_t``. Without that consistency GAE's
    returns depend on ``values`` (they gain ``gamma (V'_t - V_{t+1})`` terms) and this function
    does not.

    Args:
        rewards: ``r_t``, shape ``[T, ...]``.
        next_values: ``V(s_{t+1})`` where ``s_{t+1}`` is the true successor (the final observation
            when the episode ended at ``t``), same shape.
        terminated: true end at ``t`` (no bootstrap).
        truncated: time limit at ``t`` (bootstrap from ``next_values[t]``, recursion cut).
        gamma: discount.

    Returns:
        ``G``, shape ``[T, ...]``.
    """
    terminated = terminated.astype(bool)
    truncated = truncated.astype(bool)
    zero = jnp.zeros_like(next_values[0])

    def body(g_next, x):
        r, nv, term, trunc = x
        follow = jnp.where(term, zero, jnp.where(trunc, nv, g_next))
        g = r + gamma * follow
        return g, g

    _, returns = jax.lax.scan(
        body, next_values[-1], (rewards, next_values, terminated, truncated), reverse=True
    )
    return returns
