"""Comparing methods over seeds: paired differences with confidence intervals.

Two methods run on the same keys give paired per-seed figures; the comparison that says
something is the mean per-seed difference with its confidence interval (Student's t over
seeds, :func:`scipy.stats.ttest_rel`), not two means side by side.

Many tasks and few seeds (zero-shot RL): the interquartile mean over every (task, seed) score,
:func:`iqm`, with a percentile confidence interval from a bootstrap that resamples the seeds
within each task, :func:`bootstrap_ci` (Agarwal et al. 2021, rliable's IQM and stratified
bootstrap).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy import stats


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """``a - b`` over paired seeds: mean, ``confidence`` interval ``[low, high]``, two-sided
    p-value of "no difference", and the number of pairs."""

    mean: float
    low: float
    high: float
    p_value: float
    n: int
    confidence: float

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        pct = round(100 * self.confidence)
        return (
            f"{self.mean:+.4g} [{self.low:+.4g}, {self.high:+.4g}] ({pct}% CI over {self.n} "
            f"paired seeds, p = {self.p_value:.2g})"
        )


def paired_difference(a, b, confidence: float = 0.95) -> PairedDifference:
    """Mean of ``a - b`` over paired seeds with its Student-t confidence interval.

    Args:
        a, b: per-seed figures ``[seeds]`` of two methods run on the same keys.
        confidence: level of the interval, in (0, 1).

    Raises:
        ValueError: the shapes differ, there are fewer than 2 pairs, a figure is not finite,
            or ``confidence`` is outside (0, 1).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_difference: a and b must be [seeds]; got {a.shape}, {b.shape}")
    if a.size < 2:
        raise ValueError(f"paired_difference: needs at least 2 paired seeds, got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired_difference: every per-seed figure must be finite")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"paired_difference: confidence must be in (0, 1), got {confidence}")
    d = a - b
    if np.all(d == d[0]):  # no spread: the interval is the point (t is undefined)
        return PairedDifference(
            float(d[0]), float(d[0]), float(d[0]), float(d[0] == 0), d.size, confidence
        )
    result = stats.ttest_rel(a, b)
    ci = result.confidence_interval(confidence_level=confidence)
    return PairedDifference(
        float(d.mean()), float(ci.low), float(ci.high), float(result.pvalue), d.size, confidence
    )


def iqm(x, axis: int | None = None):
    """Interquartile mean: the mean of what is left after ``floor(n / 4)`` values are cut from
    each end of the sorted ``x`` (``scipy.stats.trim_mean(x, 0.25)``, rliable's IQM): ``1..8``
    keeps ``3..6``, ``1..10`` keeps ``3..8``, fewer than 4 values keep all.

    Args:
        x: scores; ``axis`` None: all of them (a float), else the IQM along ``axis`` (an array).

    Raises:
        ValueError: ``x`` has no values along ``axis``.
    """
    x = np.asarray(x, np.float64)
    if axis is None:
        x, axis = x.reshape(-1), 0
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    if n == 0:
        raise ValueError("iqm: no values")
    cut = n // 4
    kept = np.sort(x, axis=-1)[..., cut : n - cut]
    out = kept.mean(axis=-1)
    return float(out) if out.ndim == 0 else out


@dataclasses.dataclass(frozen=True)
class Interval:
    """A statistic of ``[tasks, seeds]`` scores with its bootstrap ``confidence`` interval
    ``[low, high]``."""

    value: float
    low: float
    high: float
    confidence: float
    reps: int
    tasks: int
    seeds: int

    def __str__(self) -> str:
        pct = round(100 * self.confidence)
        return (
            f"{self.value:.4g} [{self.low:.4g}, {self.high:.4g}] ({pct}% CI, stratified "
            f"bootstrap over {self.seeds} seeds x {self.tasks} tasks)"
        )


def bootstrap_ci(
    scores,
    statistic: Callable[..., np.ndarray | float] = iqm,
    *,
    confidence: float = 0.95,
    reps: int = 10_000,
    seed: int = 0,
) -> Interval:
    """``statistic`` of every score with a percentile-bootstrap confidence interval, stratified
    by task (rliable's ``StratifiedBootstrap``): each of ``reps`` resamples draws, for every task
    on its own, as many seeds as it has with replacement; the interval is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles of the resampled
    statistics. Deterministic: the draws come from ``numpy.random.default_rng(seed)``.

    Args:
        scores: ``[tasks, seeds]`` (a 1-D ``[seeds]`` is one task).
        statistic: ``statistic(x, axis=-1)`` reduces the last axis of ``x [..., n]``
            (default :func:`iqm`; ``np.mean`` works too).
        confidence: level of the interval, in (0, 1).
        reps: bootstrap resamples (>= 1).
        seed: seed of the resampling.

    Raises:
        ValueError: ``scores`` is not 1-D or 2-D, is empty, has a non-finite value, or
            ``confidence`` / ``reps`` is out of range.
    """
    x = np.asarray(scores, np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"bootstrap_ci: scores must be [tasks, seeds]; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("bootstrap_ci: every score must be finite")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"bootstrap_ci: confidence must be in (0, 1), got {confidence}")
    if reps < 1:
        raise ValueError(f"bootstrap_ci: reps must be >= 1, got {reps}")
    tasks, seeds = x.shape
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, seeds, size=(reps, tasks, seeds))
    resampled = x[np.arange(tasks)[None, :, None], picks].reshape(reps, tasks * seeds)
    values = np.asarray(statistic(resampled, axis=-1), np.float64)
    low, high = np.percentile(values, [50 * (1 - confidence), 50 * (1 + confidence)])
    value = float(np.asarray(statistic(x.reshape(1, -1), axis=-1)).reshape(-1)[0])
    return Interval(value, float(low), float(high), confidence, reps, tasks, seeds)
