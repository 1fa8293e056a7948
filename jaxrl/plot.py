"""Learning curves from a run's history or metrics file: mean over seeds with a spread band.

A sparse metric (evaluations, which are NaN in the rows where none ran) is drawn through the rows
that have a value, connected, with a marker at each; short curves get markers too, so a run with
one or two evaluations is a visible point, not an empty frame.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

MARKERS_UP_TO = 30
"""Curves with at most this many points are drawn with a marker at each point."""


def _series(
    history: dict[str, Any], name: str, groups: int | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Steps and values ``[points, groups, runs]`` of the rows where ``name`` has a value (in
    any run): the NaN rows of a sparse metric are dropped, so its points connect."""
    if name not in history:
        return None
    steps = np.asarray(history["step"], dtype=np.float64)
    values = np.asarray(history[name], dtype=np.float64).reshape(len(steps), groups or 1, -1)
    keep = np.isfinite(values).any(axis=(1, 2))
    if not keep.any():
        return None
    return steps[keep], values[keep]


def history_from_rows(rows: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Turn metrics.jsonl rows (None = missing) into ``{name: [chunks] or [chunks, seeds]}``."""
    names = sorted({k for r in rows for k in r})
    out = {}
    for name in names:
        width = max((len(r[name]) for r in rows if isinstance(r.get(name), list)), default=0)
        col = []
        for r in rows:
            v = r.get(name)
            if isinstance(v, list):
                col.append([np.nan if x is None else x for x in v])
            elif v is None:
                col.append([np.nan] * width if width else np.nan)
            else:
                col.append(v)
        out[name] = np.asarray(col, dtype=np.float64)
    return out


def plot_curves(
    history: dict[str, Any],
    path: str | os.PathLike[str],
    metrics: Sequence[str] = ("eval_return", "episode_return"),
    title: str | None = None,
    labels: Sequence[str] | None = None,
    xlabel: str = "env steps",
) -> str:
    """Plot each metric against steps: per line, the mean over seeds with a band from the
    minimum to the maximum seed. With ``labels`` (a sweep), the history has a settings axis before
    the seed axis and each setting gets its own line. Rows where a metric is NaN (e.g. no
    evaluation) are skipped, so its points are joined; a curve of at most
    :data:`MARKERS_UP_TO` points, and every ``eval_*`` curve, has a marker at each point.

    Args:
        xlabel: the x-axis label; ``TrainResult.step_unit`` (``"gradient steps"`` for an
            offline run).

    Returns:
        The written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = len(labels) if labels else None
    present = [m for m in metrics if _series(history, m, groups) is not None]
    fig, axes = plt.subplots(1, max(1, len(present)), figsize=(5.5 * max(1, len(present)), 3.8))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, present, strict=False):
        steps, values = _series(history, name, groups)
        marker = "o" if name.startswith("eval_") or len(steps) <= MARKERS_UP_TO else None
        for g in range(values.shape[1]):
            runs = values[:, g, :]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: dropped below
                mean = np.nanmean(runs, axis=1)
                low, high = np.nanmin(runs, axis=1), np.nanmax(runs, axis=1)
            ok = np.isfinite(mean)  # this line's points (another setting may have others)
            label = labels[g] if labels else f"mean of {runs.shape[1]} seed(s)"
            (line,) = ax.plot(steps[ok], mean[ok], lw=2, marker=marker, markersize=4, label=label)
            if runs.shape[1] > 1:
                ax.fill_between(steps[ok], low[ok], high[ok], alpha=0.2, color=line.get_color())
        ax.set_xlabel(xlabel)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
    if title:
        fig.suptitle(title + ("" if labels else "  (band: min-max over seeds)"))
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.fspath(path)
