"""Comparing methods over seeds: paired differences with confidence intervals.

Two methods run on the same keys give paired per-seed figures; the comparison that says
something is the mean per-seed difference with its confidence interval (Student's t over
seeds, :func:`scipy.stats.ttest_rel`), not two means side by side.
"""

from __future__ import annotations

import dataclasses

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
