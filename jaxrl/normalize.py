"""Running statistics as explicit, checkpointable state: observations and rewards.

:class:`RunningStats` merges a whole batch at once with the parallel form of Welford's algorithm
(Chan et al. 1979), which is exact: after any sequence of updates, ``mean`` and ``var`` equal the
statistics of all samples seen (population variance).

:class:`RewardNormalizer` is Gymnasium's ``NormalizeReward`` (discounted-return variance
normalisation) for ``num_envs`` environments, as a pytree that jit, vmap and checkpoints carry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


class RunningStats(struct.PyTreeNode):
    """Mean, variance and sample count of a stream of arrays of a fixed shape."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @staticmethod
    def create(shape: tuple[int, ...]) -> RunningStats:
        return RunningStats(
            mean=jnp.zeros(shape, jnp.float32),
            var=jnp.ones(shape, jnp.float32),
            count=jnp.zeros((), jnp.float32),
        )

    def update(self, batch: jax.Array) -> RunningStats:
        """Merge a batch whose trailing axes have ``mean.shape`` (all leading axes are samples)."""
        x = jnp.reshape(batch, (-1, *self.mean.shape)).astype(jnp.float32)
        n = jnp.asarray(x.shape[0], jnp.float32)
        batch_mean = jnp.mean(x, axis=0)
        batch_var = jnp.var(x, axis=0)
        total = self.count + n
        delta = batch_mean - self.mean
        mean = self.mean + delta * (n / total)
        m2 = self.var * self.count + batch_var * n + delta**2 * (self.count * n / total)
        return RunningStats(mean=mean, var=m2 / total, count=total)

    def normalize(self, x: jax.Array, clip: float = 10.0, eps: float = 1e-8) -> jax.Array:
        """``clip((x - mean) / sqrt(var + eps), -clip, clip)``."""
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + eps), -clip, clip)


REWARD_NORM_EPS = 1e-8
"""Added to the return variance before the square root (Gymnasium's ``epsilon`` default)."""

GYMNASIUM_COUNT = 1e-4
"""Gymnasium's ``RunningMeanStd`` starts from ``count = epsilon = 1e-4`` (``mean = 0``,
``var = 1``) rather than from an empty count (gymnasium/wrappers/utils.py, ``RunningMeanStd``)."""


class RewardNormalizer(struct.PyTreeNode):
    """Discounted-return variance normalisation of rewards, one normaliser per environment, as
    Gymnasium's single-env ``NormalizeReward`` wrapped around each of the environments (what
    CleanRL's and PROPS's ``make_env`` do: repo NicholasCorrado/PPOROS, PROPS/utils.py ~80-131
    and ~160; Farama-Foundation/Gymnasium, gymnasium/wrappers/stateful_reward.py, ``step``).

    Each environment step, per environment, in this order:

    1. ``R <- gamma * R * (1 - terminated) + r``: the running discounted return. The *current*
       step's ``terminated`` drops the return accumulated so far, so the return at a terminal
       step is its reward alone, and the next episode continues from it (Gymnasium never zeroes
       ``R`` on reset); ``truncated`` does not reset ``R`` at all.
    2. The running statistics of ``R`` take ``R`` as one new sample (Gymnasium's
       ``RunningMeanStd.update``: the parallel Welford merge, starting from ``count = 1e-4``,
       ``mean = 0``, ``var = 1``).
    3. ``r / sqrt(var + 1e-8)`` with the variance *after* that update (the mean is not
       subtracted), then clipped to ``[-clip, clip]`` (PROPS's
       ``TransformReward(np.clip(reward, -10, 10))``).

    Only rewards and termination flags enter, so applying it to a collected ``[T, num_envs]``
    rollout (:meth:`normalize_rollout`, a ``lax.scan`` over time) equals wrapping the
    environments. Gymnasium's *vector* ``NormalizeReward`` (one statistic shared by all
    environments) is not this.
    """

    returns: jax.Array
    """``R``, the running discounted return of each environment, ``[num_envs]``."""
    stats: RunningStats
    """Running mean and variance of each environment's ``R`` (``mean``, ``var``:
    ``[num_envs]``; ``count``: steps seen, plus Gymnasium's initial 1e-4)."""

    @staticmethod
    def create(num_envs: int) -> RewardNormalizer:
        """Fresh normalisers for ``num_envs`` environments (Gymnasium's initial state)."""
        return RewardNormalizer(
            returns=jnp.zeros((num_envs,), jnp.float32),
            stats=RunningStats.create((num_envs,)).replace(
                count=jnp.asarray(GYMNASIUM_COUNT, jnp.float32)
            ),
        )

    def scale(self) -> jax.Array:
        """``sqrt(var + 1e-8)`` per environment: what a reward is divided by now."""
        return jnp.sqrt(self.stats.var + REWARD_NORM_EPS)

    def step(
        self, reward: jax.Array, terminated: jax.Array, gamma: float | jax.Array
    ) -> tuple[RewardNormalizer, jax.Array]:
        """One environment step of every environment (``reward``, ``terminated``:
        ``[num_envs]``): steps 1 and 2 of the class docstring. Returns the updated normaliser
        and the scale ``sqrt(var + 1e-8)`` the step's reward is divided by."""
        keep = 1.0 - terminated.astype(jnp.float32)
        returns = self.returns * gamma * keep + reward.astype(jnp.float32)
        new = RewardNormalizer(returns=returns, stats=self.stats.update(returns[None]))
        return new, new.scale()

    def normalize_rollout(
        self,
        rewards: jax.Array,
        terminated: jax.Array,
        gamma: float | jax.Array,
        clip: float | jax.Array,
    ) -> tuple[RewardNormalizer, jax.Array, jax.Array]:
        """Normalise a time-major rollout ``[T, num_envs]`` step by step.

        Returns ``(normaliser after the last step, clip(r_t / scale_t, -clip, clip),
        scale_t)``; ``scale_t = sqrt(var_t + 1e-8)`` is the divisor of step ``t`` (PROPS
        stores ``normalised * scale_t`` in its buffer and divides by the scale of the update).
        """

        def body(norm: RewardNormalizer, x: tuple[jax.Array, jax.Array]):
            reward, term = x
            norm, scale = norm.step(reward, term, gamma)
            return norm, (jnp.clip(reward / scale, -clip, clip), scale)

        norm, (normalized, scales) = jax.lax.scan(body, self, (rewards, terminated))
        return norm, normalized, scales
