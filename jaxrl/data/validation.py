"""Host-side (numpy) checks shared by :class:`~jaxrl.data.Dataset` and the file readers.

Every check raises :class:`DatasetError` with a message that starts with the field's name and, for
per-row problems, lists the first offending rows. The helpers here are the package's own; the
public names are :class:`DatasetError`, :class:`DatasetWarning` and :func:`check_matches_spec`.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import numpy as np

from jaxrl.types import Box, Discrete, EnvSpec

_MAX_SHOWN_ROWS = 10


class DatasetError(ValueError):
    """A dataset (or a file holding one) is malformed; the message names the field and rows."""


class DatasetWarning(UserWarning):
    """Something was changed on purpose (clipped, dropped, assumed); the message says what."""


def rows_text(rows: np.ndarray) -> str:
    """``"rows [17, 18, 40] (3 rows)"``: the first few offending rows and how many there are."""
    rows = np.asarray(rows).ravel()
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_SHOWN_ROWS])
    if rows.size > _MAX_SHOWN_ROWS:
        shown += ", ..."
    return f"rows [{shown}] ({rows.size} row{'' if rows.size == 1 else 's'})"


def bad_rows(mask: np.ndarray) -> np.ndarray:
    """Row indices where ``mask`` (shape ``[N, ...]``) is true anywhere in the row."""
    mask = np.asarray(mask)
    if mask.ndim > 1:
        mask = mask.reshape(mask.shape[0], -1).any(axis=1)
    return np.flatnonzero(mask)


def canonical_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype JAX stores ``dtype`` as (float64 -> float32, int64 -> int32 unless x64 is on)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def as_numeric(name: str, value: Any) -> np.ndarray:
    """``value`` as a host array with a numeric (or bool) dtype, else :class:`DatasetError`."""
    try:
        arr = np.asarray(value)
    except Exception as e:  # ragged lists and the like
        raise DatasetError(f"{name}: could not be turned into an array ({e})") from e
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise DatasetError(
            f"{name}: dtype {arr.dtype} is not numeric (expected bool, integer or floating point)"
        )
    if arr.ndim == 0:
        raise DatasetError(f"{name}: expected an array with one row per step, got a scalar")
    return arr


def check_finite(name: str, arr: np.ndarray) -> None:
    """Raise naming ``name`` and the rows when a floating-point ``arr`` holds NaN or Inf."""
    if arr.dtype.kind == "f":
        bad = bad_rows(~np.isfinite(arr))
        if bad.size:
            raise DatasetError(f"{name}: non-finite values at {rows_text(bad)}")


def as_flags(name: str, value: Any, n: int) -> np.ndarray:
    """A boolean ``[n]`` array from bool or 0/1-valued numbers, else :class:`DatasetError`."""
    arr = as_numeric(name, value)
    if arr.shape != (n,):
        raise DatasetError(f"{name}: expected shape ({n},), got {arr.shape}")
    if arr.dtype.kind == "b":
        return arr
    bad = bad_rows((arr != 0) & (arr != 1))
    if bad.size:
        example = arr[bad[0]]
        raise DatasetError(
            f"{name}: not boolean-like: values other than 0/1 (e.g. {example}) at {rows_text(bad)}"
        )
    return arr.astype(bool)


def check_rows(name: str, arr: np.ndarray, n: int, ref: str = "observations") -> None:
    """Raise when ``arr`` does not have ``n`` rows (as many as ``ref``)."""
    if arr.shape[0] != n:
        raise DatasetError(f"{name} has {arr.shape[0]} rows, {ref} has {n}")


def squeeze_column(arr: np.ndarray) -> np.ndarray:
    """``[N, 1] -> [N]`` (files that store per-step scalars as a column); other shapes as given."""
    if arr.ndim == 2 and arr.shape[1] == 1:
        return arr[:, 0]
    return arr


def episode_bounds(ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first rows [E], last rows [E], episode id per row [N]) for flags that end every episode."""
    last = np.flatnonzero(ends)
    first = np.concatenate([[0], last[:-1] + 1]).astype(np.int64)
    episode_id = np.concatenate([[0], np.cumsum(ends[:-1])]).astype(np.int64)
    return first, last, episode_id


def close_open_end(terminals: np.ndarray, timeouts: np.ndarray, allow: bool) -> np.ndarray:
    """``timeouts``, with the last row flagged when it ends no episode and ``allow`` is set (with
    a :class:`DatasetWarning`); without ``allow`` such an open end is a :class:`DatasetError`.
    The warning is attributed to the caller of the public function that called this."""
    if terminals[-1] or timeouts[-1]:
        return timeouts
    n = terminals.shape[0]
    prev_ends = np.flatnonzero(terminals[:-1] | timeouts[:-1])
    first_open = int(prev_ends[-1]) + 1 if prev_ends.size else 0
    if not allow:
        raise DatasetError(
            f"terminals/timeouts: episode that never ends: rows {first_open}..{n - 1} "
            f"(the last row, {n - 1}, has neither terminals nor timeouts set); pass "
            "allow_open_end=True to treat the end of the data as a time limit"
        )
    warnings.warn(
        f"timeouts: episode at rows {first_open}..{n - 1} never ends; its last row "
        f"{n - 1} is treated as a timeout (allow_open_end=True)",
        DatasetWarning,
        stacklevel=3,
    )
    timeouts = timeouts.copy()
    timeouts[-1] = True
    return timeouts


def check_action_bounds(act: np.ndarray, bounds: tuple[Any, Any], clip: bool) -> np.ndarray:
    """``act`` when inside ``bounds = (low, high)``; clipped with a warning when ``clip``; else a
    :class:`DatasetError` naming the rows."""
    low, high = (np.asarray(b, dtype=np.float64) for b in bounds)
    try:
        low = np.broadcast_to(low, act.shape[1:])
        high = np.broadcast_to(high, act.shape[1:])
    except ValueError as e:
        raise DatasetError(
            f"action_bounds: shapes {np.shape(bounds[0])}/{np.shape(bounds[1])} do not broadcast "
            f"to the action shape {act.shape[1:]}"
        ) from e
    if np.any(low > high):
        raise DatasetError("action_bounds: low > high somewhere")
    outside = (act < low) | (act > high)
    bad = bad_rows(outside)
    if not bad.size:
        return act
    if not clip:
        raise DatasetError(
            f"actions: values outside action_bounds at {rows_text(bad)} (min {act.min():.6g}, max "
            f"{act.max():.6g}); pass clip_actions=True to clip them"
        )
    warnings.warn(
        f"actions: clipped {int(outside.sum())} values in {bad.size} rows to action_bounds "
        f"(first rows: {rows_text(bad)})",
        DatasetWarning,
        stacklevel=3,
    )
    return np.clip(act, low, high).astype(act.dtype)


def check_matches_spec(dataset: Any, spec: EnvSpec, flat_observations: bool = True) -> None:
    """Raise :class:`DatasetError` naming the field when ``dataset`` does not fit an env.

    Checks the per-row observation shape (and, with ``flat_observations``, that observations are
    vectors, as MLP agents need), the per-row action shape, and the action values: inside the
    ``Box`` bounds up to a relative slack of ``1e-4`` (float rounding in stored files), or integer
    indices in ``[0, n)`` for a ``Discrete`` space.
    """
    space = spec.action_space
    if dataset.obs_shape != tuple(spec.obs_shape):
        raise DatasetError(
            f"observations: per-row shape {dataset.obs_shape} does not match the env "
            f"{spec.name!r} observation shape {tuple(spec.obs_shape)}"
        )
    if dataset.action_shape != tuple(space.shape):
        raise DatasetError(
            f"actions: per-row shape {dataset.action_shape} does not match the env "
            f"{spec.name!r} action shape {tuple(space.shape)}"
        )
    if flat_observations and len(dataset.obs_shape) != 1:
        raise DatasetError(f"observations: expected flat vectors, got {dataset.obs_shape}")
    act = np.asarray(dataset.actions)
    if isinstance(space, Box):
        act = act.astype(np.float64)
        low = np.asarray(space.low, np.float64).reshape(space.shape)
        high = np.asarray(space.high, np.float64).reshape(space.shape)
        slack = 1e-4 * (high - low)
        bad = bad_rows((act < low - slack) | (act > high + slack))
        if bad.size:
            raise DatasetError(
                f"actions: outside the env's bounds [{space.low}, {space.high}] at {rows_text(bad)}"
            )
    elif isinstance(space, Discrete):
        if act.dtype.kind not in "iu":
            raise DatasetError(
                f"actions: dtype {act.dtype}, but the env {spec.name!r} has Discrete({space.n}) "
                "actions: store integer action indices"
            )
        bad = bad_rows((act < 0) | (act >= space.n))
        if bad.size:
            raise DatasetError(
                f"actions: indices outside [0, {space.n}) of the env {spec.name!r} at "
                f"{rows_text(bad)}"
            )
