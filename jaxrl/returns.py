"""Advantage and return estimators on time-major arrays ``[T, ...]``.

Termination and truncation are kept apart: a *terminated* step has no future (its successor value
is 0), a *truncated* step bootstraps from the value of its true final observation, and neither lets
the recursion run into the next episode.

:func:`gae` gives the standard advantages; :func:`brax_advantages` gives Brax's policy
advantages (the same value targets, one ``lambda`` fewer on the first step), selected by name
through :data:`AdvantageForm`.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

AdvantageForm = Literal["gae", "brax"]
"""Which advantages train the policy: ``"gae"`` (:func:`gae`) or ``"brax"``
(:func:`brax_advantages`); the value targets are GAE's ``A + V`` in both."""


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


def brax_advantages(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float | jax.Array,
    lam: float | jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Brax's PPO advantages: the one-step TD error towards the GAE value target of the
    successor, ``A_t = r_t + gamma (1 - term_t) v_{t+1} - V(s_t)`` with ``v = A^GAE + V``, i.e.

        A_t = delta_t + gamma * (1 - done_t) * A^GAE_{t+1}

    (standard GAE has ``gamma * lam``; the two agree at ``lam = 1``). At a termination and at
    the last step of the rollout (where ``A^GAE_T`` is 0) it is ``delta_t``. Sources: repo
    google/brax, brax/training/agents/ppo/losses.py, ``compute_gae`` ~94-100 (``vs_t_plus_1``
    and ``advantages``); repo bennidict23/GoRL, src/flow_policy/rollouts.py ~332-338.

    One difference, deliberate: at a *truncation* Brax and GoRL multiply the step's advantage
    by 0 (Brax's autoreset loses the final observation, so it cannot bootstrap) and cut the
    recursion there; here the truncated step bootstraps from ``next_values`` (the final
    observation's value) as in :func:`gae`, so ``A_t = delta_t`` there and the step before it
    sees that step's ``A^GAE``. Without truncations the two are equal.

    Args and the value targets: as :func:`gae` (``returns = A^GAE + values``, Brax's ``vs``).

    Returns:
        ``(advantages, returns)``.
    """
    gae_advantages, returns = gae(rewards, values, next_values, terminated, truncated, gamma, lam)
    term = terminated.astype(values.dtype)
    done = jnp.logical_or(term > 0, truncated).astype(values.dtype)
    deltas = rewards + gamma * (1.0 - term) * next_values - values
    following = jnp.concatenate([gae_advantages[1:], jnp.zeros_like(gae_advantages[:1])])
    return deltas + gamma * (1.0 - done) * following, returns
