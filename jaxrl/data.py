"""Offline datasets: a validated, device-resident :class:`Dataset`, jittable samplers, file formats.

Row conventions
---------------
A dataset is a sequence of rows ``i = 0 .. N-1``; row ``i`` is the transition
``(observations[i], actions[i], rewards[i], next_observations[i])``. Episodes are contiguous runs of
rows. An episode ends at a row whose ``terminals`` (a true end: do not bootstrap from
``next_observations``) or ``timeouts`` (the episode was cut by a time limit or by the end of
collection: bootstrap) flag is set; both may be set, and then ``terminals`` wins. Within an episode
``next_observations[i]`` is normally ``observations[i + 1]``; at an episode's last row it is the
successor that is not stored as a row (the final observation).

``episode_start[i]`` / ``episode_end[i]`` are the first and last rows of the episode containing row
``i``. They are computed once, on the host, by :meth:`Dataset.create`, together with an ordering of
the rows by the number of steps left in their episode, which lets every sampler draw "a start row
with at least ``m`` steps left" uniformly inside ``jit`` with one ``searchsorted``.

Samplers
--------
Every sampler is a pure function ``f(dataset, key, batch_size, ...) -> dict[str, jax.Array]`` with
static ``batch_size`` / ``horizon`` arguments. They use no host callbacks, so they can run inside a
jitted, vmapped training step (pass the dataset as an argument rather than closing over it, so a
large dataset is not baked into the compiled program as a constant).

Files
-----
* our ``.npz`` (:func:`save_npz`, :func:`load_npz`): every field, physics entries as
  ``physics/<name>``, the JSON card inside (``__card__``).
* D4RL-style HDF5 (:func:`save_d4rl_hdf5`, :func:`load_d4rl_hdf5`).
* OGBench-style ``.npz`` (:func:`save_ogbench_npz`, :func:`load_ogbench_npz`).
* :func:`load` dispatches on the extension and the file's contents.

All loaders validate through :meth:`Dataset.create`; every problem raises :class:`DatasetError`
naming the field and the first offending rows.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "sample_transitions",
    "sample_chunks",
    "sample_goal_chunks",
    "sample_future_states",
    "flatten_chunk",
    "discounted_chunk_return",
    "save_npz",
    "load_npz",
    "load_card",
    "save_d4rl_hdf5",
    "load_d4rl_hdf5",
    "save_ogbench_npz",
    "load_ogbench_npz",
    "load",
]

PathLike = str | os.PathLike

NPZ_FORMAT = "jaxrl.dataset/1"
_MAX_SHOWN_ROWS = 10


class DatasetError(ValueError):
    """A dataset (or a file holding one) is malformed; the message names the field and rows."""


class DatasetWarning(UserWarning):
    """Something was changed on purpose (clipped, dropped, assumed); the message says what."""


# --------------------------------------------------------------------------------------------
# Validation helpers (host numpy).
# --------------------------------------------------------------------------------------------


def _rows(rows: np.ndarray) -> str:
    """``"rows [17, 18, 40] (3 rows)"``: the first few offending rows and how many there are."""
    rows = np.asarray(rows).ravel()
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_SHOWN_ROWS])
    if rows.size > _MAX_SHOWN_ROWS:
        shown += ", ..."
    return f"rows [{shown}] ({rows.size} row{'' if rows.size == 1 else 's'})"


def _bad_rows(mask: np.ndarray) -> np.ndarray:
    """Row indices where ``mask`` (shape ``[N, ...]``) is true anywhere in the row."""
    mask = np.asarray(mask)
    if mask.ndim > 1:
        mask = mask.reshape(mask.shape[0], -1).any(axis=1)
    return np.flatnonzero(mask)


def _canonical_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype JAX stores ``dtype`` as (float64 -> float32, int64 -> int32 unless x64 is on)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def _as_numeric(name: str, value: Any) -> np.ndarray:
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


def _check_finite(name: str, arr: np.ndarray) -> None:
    if arr.dtype.kind == "f":
        bad = _bad_rows(~np.isfinite(arr))
        if bad.size:
            raise DatasetError(f"{name}: non-finite values at {_rows(bad)}")


def _as_flags(name: str, value: Any, n: int) -> np.ndarray:
    """A boolean ``[n]`` array from bool or 0/1-valued numbers, else :class:`DatasetError`."""
    arr = _as_numeric(name, value)
    if arr.shape != (n,):
        raise DatasetError(f"{name}: expected shape ({n},), got {arr.shape}")
    if arr.dtype.kind == "b":
        return arr
    bad = _bad_rows((arr != 0) & (arr != 1))
    if bad.size:
        example = arr[bad[0]]
        raise DatasetError(
            f"{name}: not boolean-like: values other than 0/1 (e.g. {example}) at {_rows(bad)}"
        )
    return arr.astype(bool)


def _check_rows(name: str, arr: np.ndarray, n: int, ref: str = "observations") -> None:
    if arr.shape[0] != n:
        raise DatasetError(f"{name} has {arr.shape[0]} rows, {ref} has {n}")


def _episode_bounds(ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first rows [E], last rows [E], episode id per row [N]) for flags that end every episode."""
    last = np.flatnonzero(ends)
    first = np.concatenate([[0], last[:-1] + 1]).astype(np.int64)
    episode_id = np.concatenate([[0], np.cumsum(ends[:-1])]).astype(np.int64)
    return first, last, episode_id


# --------------------------------------------------------------------------------------------
# Dataset.
# --------------------------------------------------------------------------------------------


class Dataset(struct.PyTreeNode):
    """A validated offline dataset held on device (build it with :meth:`Dataset.create`).

    Attributes:
        observations: ``[N, *obs_shape]``.
        actions: ``[N, *action_shape]``.
        rewards: ``[N]`` float32.
        terminals: ``[N]`` bool, a true end of the episode at this row (no bootstrap).
        timeouts: ``[N]`` bool, the episode was cut after this row (bootstrap from next obs).
        next_observations: ``[N, *obs_shape]``, the observation after row ``i``'s action.
        episode_start: ``[N]`` int32, first row of the episode containing row ``i``.
        episode_end: ``[N]`` int32, last row of the episode containing row ``i``.
        rows_by_remaining: ``[N]`` int32, the rows sorted (stably) by ``episode_end - row``.
        remaining_sorted: ``[N]`` int32, ``episode_end - row`` in that order (ascending).
        goals: optional ``[N, *goal_shape]`` goal-space representation of each row
            (e.g. an oracle representation); ``None`` when absent.
        physics: optional dict of ``[N, ...]`` arrays (e.g. ``qpos``, ``qvel``), the simulator
            state at ``observations[i]``; ``None`` when absent.
        num_episodes: static number of episodes.
        max_episode_length: static length (rows) of the longest episode.

    Do not build it with the raw constructor or change fields with ``replace``: the derived index
    arrays would not be recomputed and nothing would be validated.
    """

    observations: jax.Array
    actions: jax.Array
    rewards: jax.Array
    terminals: jax.Array
    timeouts: jax.Array
    next_observations: jax.Array
    episode_start: jax.Array
    episode_end: jax.Array
    rows_by_remaining: jax.Array
    remaining_sorted: jax.Array
    goals: jax.Array | None = None
    physics: dict[str, jax.Array] | None = None
    num_episodes: int = struct.field(pytree_node=False, default=0)
    max_episode_length: int = struct.field(pytree_node=False, default=0)

    # ---------------------------------------------------------------- construction

    @classmethod
    def create(
        cls,
        observations: Any,
        actions: Any,
        rewards: Any,
        terminals: Any,
        timeouts: Any,
        next_observations: Any | None = None,
        *,
        goals: Any | None = None,
        physics: Mapping[str, Any] | None = None,
        final_observations: Any | None = None,
        action_bounds: tuple[Any, Any] | None = None,
        clip_actions: bool = False,
        allow_open_end: bool = False,
    ) -> Dataset:
        """Validate host arrays, derive the episode index arrays and put everything on device.

        Args:
            observations: ``[N, *obs_shape]`` numeric array.
            actions: ``[N, *action_shape]`` numeric array.
            rewards: ``[N]`` numbers (stored as float32).
            terminals: ``[N]`` bool or 0/1 numbers: a true end (no bootstrap) after this row.
            timeouts: ``[N]`` bool or 0/1 numbers: the episode was cut after this row.
            next_observations: ``[N, *obs_shape]``. When ``None`` it is taken from the following
                row of the same episode; the last row of each episode then needs
                ``final_observations`` (otherwise :class:`DatasetError` names those rows).
            goals: optional ``[N, *goal_shape]`` goal representation of each row.
            physics: optional dict of ``[N, ...]`` arrays (simulator state at ``observations``).
            final_observations: ``[num_episodes, *obs_shape]``, the successor of each episode's
                last row; only used (and only allowed) when ``next_observations`` is ``None``.
            action_bounds: optional ``(low, high)``, scalars or arrays broadcastable to the action
                shape. Actions outside raise :class:`DatasetError` unless ``clip_actions``.
            clip_actions: clip out-of-bounds actions to ``action_bounds`` and warn with the count.
            allow_open_end: when the last row ends no episode, treat it as a time limit (set its
                ``timeouts`` flag) and warn, instead of raising "episode that never ends".

        Float64 / int64 arrays are stored as float32 / int32 (JAX's default precision) unless
        ``jax_enable_x64`` is on; every other dtype is kept as given.

        Raises:
            DatasetError: a non-numeric dtype, mismatched lengths or shapes, non-finite values in a
                floating-point field, flags that are not 0/1, actions out of bounds, an episode
                that never ends, or a missing next observation.
        """
        obs = _as_numeric("observations", observations)
        n = obs.shape[0]
        if n == 0:
            raise DatasetError("observations: the dataset is empty (0 rows)")
        act = _as_numeric("actions", actions)
        rew = _as_numeric("rewards", rewards)
        for name, arr in (("actions", act), ("rewards", rew)):
            _check_rows(name, arr, n)
        if rew.ndim != 1:
            raise DatasetError(f"rewards: expected shape ({n},), got {rew.shape}")
        term_raw = _as_numeric("terminals", terminals)
        tout_raw = _as_numeric("timeouts", timeouts)
        _check_rows("terminals", term_raw, n)
        _check_rows("timeouts", tout_raw, n)
        term = _as_flags("terminals", term_raw, n)
        tout = _as_flags("timeouts", tout_raw, n).copy()

        nobs = None
        if next_observations is not None:
            nobs = _as_numeric("next_observations", next_observations)
            _check_rows("next_observations", nobs, n)
            if nobs.shape[1:] != obs.shape[1:]:
                raise DatasetError(
                    f"next_observations: per-row shape {nobs.shape[1:]} differs from "
                    f"observations {obs.shape[1:]}"
                )
            if _canonical_dtype(nobs.dtype) != _canonical_dtype(obs.dtype):
                raise DatasetError(
                    f"next_observations: dtype {nobs.dtype} differs from observations {obs.dtype}"
                )
            if final_observations is not None:
                raise DatasetError(
                    "final_observations: only used when next_observations is not given"
                )
        goal_arr = None
        if goals is not None:
            goal_arr = _as_numeric("goals", goals)
            _check_rows("goals", goal_arr, n)
        phys: dict[str, np.ndarray] | None = None
        if physics is not None:
            phys = {}
            for k, v in physics.items():
                if not isinstance(k, str) or not k or "/" in k:
                    raise DatasetError(f"physics: key {k!r} must be a non-empty string without '/'")
                phys[k] = _as_numeric(f"physics/{k}", v)
                _check_rows(f"physics/{k}", phys[k], n)

        for name, arr in (("observations", obs), ("actions", act), ("rewards", rew)):
            _check_finite(name, arr)
        if nobs is not None:
            _check_finite("next_observations", nobs)
        if goal_arr is not None:
            _check_finite("goals", goal_arr)
        for k, v in (phys or {}).items():
            _check_finite(f"physics/{k}", v)

        if action_bounds is not None:
            act = _check_action_bounds(act, action_bounds, clip_actions)

        ends = term | tout
        if not ends[-1]:
            prev_ends = np.flatnonzero(ends[:-1])
            first_open = int(prev_ends[-1]) + 1 if prev_ends.size else 0
            if not allow_open_end:
                raise DatasetError(
                    f"terminals/timeouts: episode that never ends: rows {first_open}..{n - 1} "
                    f"(the last row, {n - 1}, has neither terminals nor timeouts set); pass "
                    "allow_open_end=True to treat the end of the data as a time limit"
                )
            warnings.warn(
                f"timeouts: episode at rows {first_open}..{n - 1} never ends; its last row "
                f"{n - 1} is treated as a timeout (allow_open_end=True)",
                DatasetWarning,
                stacklevel=2,
            )
            tout[-1] = True
            ends = term | tout

        first, last, episode_id = _episode_bounds(ends)
        if nobs is None:
            if final_observations is None:
                raise DatasetError(
                    "next_observations: not given, so it is taken from the following row of the "
                    f"same episode, but the last row of each episode has none: {_rows(last)}; "
                    "pass next_observations, or final_observations (one per episode)"
                )
            fin = _as_numeric("final_observations", final_observations)
            if fin.shape != (last.size, *obs.shape[1:]):
                raise DatasetError(
                    f"final_observations: expected shape {(last.size, *obs.shape[1:])} "
                    f"(one per episode), got {fin.shape}"
                )
            _check_finite("final_observations", fin)
            nobs = np.empty_like(obs)
            nobs[:-1] = obs[1:]
            nobs[last] = fin.astype(obs.dtype, copy=False)

        ep_start = first[episode_id]
        ep_end = last[episode_id]
        remaining = ep_end - np.arange(n)
        order = np.argsort(remaining, kind="stable")

        def dev(x: np.ndarray) -> jax.Array:
            return jnp.asarray(x.astype(_canonical_dtype(x.dtype), copy=False))

        return cls(
            observations=dev(obs),
            actions=dev(act),
            rewards=jnp.asarray(rew.astype(np.float32, copy=False)),
            terminals=jnp.asarray(term),
            timeouts=jnp.asarray(tout),
            next_observations=dev(nobs),
            episode_start=jnp.asarray(ep_start.astype(np.int32)),
            episode_end=jnp.asarray(ep_end.astype(np.int32)),
            rows_by_remaining=jnp.asarray(order.astype(np.int32)),
            remaining_sorted=jnp.asarray(remaining[order].astype(np.int32)),
            goals=None if goal_arr is None else dev(goal_arr),
            physics=None if phys is None else {k: dev(v) for k, v in phys.items()},
            num_episodes=int(last.size),
            max_episode_length=int((last - first + 1).max()),
        )

    # ---------------------------------------------------------------- properties

    @property
    def size(self) -> int:
        """Number of rows ``N``."""
        return int(self.observations.shape[0])

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """Shape of one observation."""
        return tuple(self.observations.shape[1:])

    @property
    def action_shape(self) -> tuple[int, ...]:
        """Shape of one action (``()`` for discrete actions)."""
        return tuple(self.actions.shape[1:])

    @property
    def episode_lengths(self) -> np.ndarray:
        """Host ``[num_episodes]`` int array of episode lengths (rows), in row order."""
        _, last, _ = _episode_bounds(np.asarray(self.terminals | self.timeouts))
        first = np.concatenate([[0], last[:-1] + 1])
        return (last - first + 1).astype(np.int64)

    @property
    def episode_returns(self) -> np.ndarray:
        """Host ``[num_episodes]`` float64 array of undiscounted episode returns, in row order."""
        ends = np.asarray(self.terminals | self.timeouts)
        _, _, episode_id = _episode_bounds(ends)
        rewards = np.asarray(self.rewards, dtype=np.float64)
        return np.bincount(episode_id, weights=rewards, minlength=int(ends.sum()))

    def episode_complete(self, time_limit: int) -> np.ndarray:
        """Host ``[num_episodes]`` bool array, in row order: which episodes ended on their own
        (by a termination or by the environment's time limit) rather than being cut off by the
        end of collection.

        The flags alone cannot tell the two kinds of ``timeouts`` apart, so the time limit
        decides: an episode is complete when its last row is a terminal, or when it is
        ``time_limit`` rows long. A shorter episode that ends in a timeout is a fragment, cut by
        the end of collection (such as the last episode of each environment stream in
        :func:`from_transitions`). This assumes every episode starts at a reset and that the
        time limit is the only source of truncation (true for data collected with
        :func:`jaxrl.rollout.collect` from an env wrapped in ``TimeLimit``).

        Use it as ``dataset.episode_returns[dataset.episode_complete(limit)]``.

        Args:
            time_limit: the environment's ``max_episode_steps``.

        Raises:
            ValueError: ``time_limit`` is not a positive int.
            DatasetError: an episode is longer than ``time_limit`` (so it is not the right limit).
        """
        if (
            not isinstance(time_limit, (int, np.integer))
            or isinstance(time_limit, bool)
            or time_limit < 1
        ):
            raise ValueError(
                f"episode_complete: time_limit must be a positive int, got {time_limit!r}"
            )
        first, last, _ = _episode_bounds(np.asarray(self.terminals | self.timeouts))
        lengths = last - first + 1
        too_long = np.flatnonzero(lengths > time_limit)
        if too_long.size:
            raise DatasetError(
                f"episode_complete: {too_long.size} episode(s) longer than time_limit "
                f"{time_limit} (the first has {lengths[too_long[0]]} rows, starting at row "
                f"{first[too_long[0]]}); pass the environment's actual time limit"
            )
        return np.asarray(self.terminals)[last] | (lengths == time_limit)

    def to_numpy(self) -> dict[str, Any]:
        """The stored fields as host arrays (``physics`` a dict; absent optional fields omitted)."""
        out: dict[str, Any] = {
            k: np.asarray(getattr(self, k))
            for k in (
                "observations",
                "actions",
                "rewards",
                "terminals",
                "timeouts",
                "next_observations",
            )
        }
        if self.goals is not None:
            out["goals"] = np.asarray(self.goals)
        if self.physics is not None:
            out["physics"] = {k: np.asarray(v) for k, v in self.physics.items()}
        return out

    def select_rows(self, rows: np.ndarray) -> Dataset:
        """A new dataset made of ``rows`` (host int array); they must form whole episodes."""
        rows = np.asarray(rows, dtype=np.int64)
        data = self.to_numpy()
        physics = data.pop("physics", None)
        sub = {k: v[rows] for k, v in data.items()}
        if physics is not None:
            sub["physics"] = {k: v[rows] for k, v in physics.items()}
        return Dataset.create(**sub)

    def split(self, fraction: float, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Split by whole episodes into ``(train, validation)``.

        ``round(fraction * num_episodes)`` episodes, drawn at random with ``seed``, go to the first
        dataset; both keep the original row order. Each part gets at least one episode.
        """
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"split: fraction must be in (0, 1), got {fraction}")
        num = self.num_episodes
        if num < 2:
            raise DatasetError(f"split: needs at least 2 episodes, the dataset has {num}")
        n_train = min(max(int(round(fraction * num)), 1), num - 1)
        perm = np.random.default_rng(seed).permutation(num)
        in_train = np.zeros(num, bool)
        in_train[perm[:n_train]] = True
        _, _, episode_id = _episode_bounds(np.asarray(self.terminals | self.timeouts))
        row_train = in_train[episode_id]
        return (
            self.select_rows(np.flatnonzero(row_train)),
            self.select_rows(np.flatnonzero(~row_train)),
        )

    def num_rows_with_remaining(self, steps: int) -> int:
        """How many rows have at least ``steps`` more rows after them in their episode (host)."""
        rem = np.asarray(self.remaining_sorted)
        return int(rem.size - np.searchsorted(rem, steps, side="left"))


def _check_action_bounds(act: np.ndarray, bounds: tuple[Any, Any], clip: bool) -> np.ndarray:
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
    bad = _bad_rows(outside)
    if not bad.size:
        return act
    if not clip:
        raise DatasetError(
            f"actions: values outside action_bounds at {_rows(bad)} (min {act.min():.6g}, max "
            f"{act.max():.6g}); pass clip_actions=True to clip them"
        )
    warnings.warn(
        f"actions: clipped {int(outside.sum())} values in {bad.size} rows to action_bounds "
        f"(first rows: {_rows(bad)})",
        DatasetWarning,
        stacklevel=3,
    )
    return np.clip(act, low, high).astype(act.dtype)


# --------------------------------------------------------------------------------------------
# Samplers (jittable, no host callbacks).
# --------------------------------------------------------------------------------------------


def _sample_rows_with_remaining(
    dataset: Dataset, key: jax.Array, batch_size: int, steps: int
) -> jax.Array:
    """Rows drawn uniformly among those with ``episode_end - row >= steps`` (``steps`` static)."""
    if steps <= 0:
        return jax.random.randint(key, (batch_size,), 0, dataset.observations.shape[0])
    if steps > dataset.max_episode_length - 1:
        raise DatasetError(
            f"no row has {steps} more rows after it in its episode: the longest episode has "
            f"{dataset.max_episode_length} rows"
        )
    n = dataset.remaining_sorted.shape[0]
    count = n - jnp.searchsorted(dataset.remaining_sorted, steps, side="left")
    j = jax.random.randint(key, (batch_size,), 0, count)
    return dataset.rows_by_remaining[n - count + j]


def flatten_chunk(actions: jax.Array) -> jax.Array:
    """``[B, h, *act] -> [B, h * prod(act)]``, time-major (``a_t, a_{t+1}, ...``)."""
    return actions.reshape(actions.shape[0], -1)


def discounted_chunk_return(rewards: jax.Array, gamma: float) -> jax.Array:
    """``sum_i gamma^i rewards[:, i]`` over a ``[B, h]`` chunk (rewards past the end are 0)."""
    h = rewards.shape[-1]
    return jnp.sum(rewards * gamma ** jnp.arange(h, dtype=jnp.float32), axis=-1)


def sample_transitions(dataset: Dataset, key: jax.Array, batch_size: int) -> dict[str, jax.Array]:
    """Uniformly sampled rows (single transitions).

    Returns a dict with (leading axis ``batch_size``):
        ``index`` int32 row; ``obs``; ``action``; ``reward`` f32; ``terminal`` f32 (1 = true end);
        ``timeout`` f32; ``mask`` f32 ``= 1 - terminal`` (bootstrap weight); ``next_obs``;
        ``next_action`` (the action at row ``index + 1`` when that row is in the same episode,
        zeros at an episode's last row); ``next_action_valid`` f32 (0 at an episode's last row).
    """
    idx = jax.random.randint(key, (batch_size,), 0, dataset.observations.shape[0])
    n = dataset.observations.shape[0]
    has_next = idx < dataset.episode_end[idx]
    next_action = dataset.actions[jnp.minimum(idx + 1, n - 1)]
    valid_b = has_next.reshape(has_next.shape + (1,) * (next_action.ndim - 1))
    terminal = dataset.terminals[idx].astype(jnp.float32)
    return {
        "index": idx,
        "obs": dataset.observations[idx],
        "action": dataset.actions[idx],
        "reward": dataset.rewards[idx],
        "terminal": terminal,
        "timeout": dataset.timeouts[idx].astype(jnp.float32),
        "mask": 1.0 - terminal,
        "next_obs": dataset.next_observations[idx],
        "next_action": jnp.where(valid_b, next_action, jnp.zeros_like(next_action)),
        "next_action_valid": has_next.astype(jnp.float32),
    }


def sample_chunks(
    dataset: Dataset,
    key: jax.Array,
    batch_size: int,
    horizon: int,
    full_only: bool = False,
) -> dict[str, jax.Array]:
    """Action chunks of ``horizon`` steps from uniformly sampled start rows.

    Start rows are uniform over all rows, or, with ``full_only=True``, uniform over the rows whose
    whole chunk fits in their episode (``start + horizon - 1 <= episode_end``).

    Step ``i`` of a chunk is row ``start + i``. ``valid[:, i] = 1`` while that row is still in the
    start row's episode (``start + i <= episode_end[start]``). This equals Q-chunking's convention
    ``valid[i] = 1 - any(done[start : start + i])`` with ``done = terminals | timeouts``
    (ColinQiyangLi/qc utils/datasets.py ``sample_sequence``: ``valid[..., i] = 1 -
    terminals[..., i - 1]`` with ``terminals`` accumulated by max), so a chunk never silently
    crosses an episode end.

    Steps past the end (``valid == 0``): ``actions`` repeat the episode's last action (the index is
    clamped to the episode end, as DQC's CGCDataset does); ``rewards``, ``terminals`` and
    ``timeouts`` are 0, so ``discounted_chunk_return(rewards, gamma)`` needs no extra masking.

    Returns a dict with:
        ``index`` [B] start row; ``obs`` [B, *obs]; ``actions`` [B, h, *act] (time-major);
        ``actions_flat`` [B, h * prod(act)]; ``rewards`` [B, h]; ``terminals`` [B, h];
        ``timeouts`` [B, h]; ``valid`` [B, h]; ``num_valid`` [B] int32
        ``= min(h, end - start + 1)``;
        ``next_obs`` [B, *obs], the observation after the last valid step
        (``next_observations[start + num_valid - 1]``); ``mask`` [B] ``= 1 - terminals`` at the
        last valid step. An n-step target is then
        ``discounted_chunk_return(rewards, gamma) + gamma**num_valid * mask * V(next_obs)``.
    """
    if horizon < 1:
        raise ValueError(f"sample_chunks: horizon must be >= 1, got {horizon}")
    idx = _sample_rows_with_remaining(dataset, key, batch_size, horizon - 1 if full_only else 0)
    end = dataset.episode_end[idx]
    rows = idx[:, None] + jnp.arange(horizon, dtype=idx.dtype)[None, :]
    valid = rows <= end[:, None]
    rows_c = jnp.minimum(rows, end[:, None])
    validf = valid.astype(jnp.float32)
    actions = dataset.actions[rows_c]
    num_valid = jnp.minimum(horizon, end - idx + 1).astype(jnp.int32)
    last = idx + num_valid - 1
    terminals = dataset.terminals[rows_c].astype(jnp.float32) * validf
    return {
        "index": idx,
        "obs": dataset.observations[idx],
        "actions": actions,
        "actions_flat": flatten_chunk(actions),
        "rewards": dataset.rewards[rows_c] * validf,
        "terminals": terminals,
        "timeouts": dataset.timeouts[rows_c].astype(jnp.float32) * validf,
        "valid": validf,
        "num_valid": num_valid,
        "next_obs": dataset.next_observations[last],
        "mask": 1.0 - dataset.terminals[last].astype(jnp.float32),
    }


def _goal_source(dataset: Dataset, goal_key: str) -> jax.Array:
    if goal_key == "observations":
        return dataset.observations
    if goal_key == "goals":
        if dataset.goals is None:
            raise DatasetError("goals: goal_key='goals' but the dataset has no goals field")
        return dataset.goals
    if goal_key.startswith("physics/"):
        name = goal_key.split("/", 1)[1]
        if dataset.physics is None or name not in dataset.physics:
            raise DatasetError(f"{goal_key}: not in the dataset's physics entries")
        return dataset.physics[name]
    raise ValueError(
        f"goal_key must be 'observations', 'goals' or 'physics/<name>', got {goal_key!r}"
    )


def _geometric(key: jax.Array, gamma: float, shape: tuple[int, ...]) -> jax.Array:
    """Offsets ``>= 1`` with ``P(k) = gamma^(k-1) (1 - gamma)`` (int32, capped at 2**30)."""
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1) for geometric offsets, got {gamma}")
    if gamma == 0.0:
        return jnp.ones(shape, jnp.int32)
    u = 1.0 - jax.random.uniform(key, shape)  # (0, 1]
    k = jnp.floor(jnp.log(u) / math.log(gamma))
    return (jnp.minimum(k, 2.0**30) + 1).astype(jnp.int32)


def sample_goal_chunks(
    dataset: Dataset,
    key: jax.Array,
    batch_size: int,
    horizon: int,
    gamma: float,
    p_current: float = 0.2,
    p_future: float = 0.5,
    p_random: float = 0.3,
    future: str = "uniform",
    goal_key: str = "observations",
    random_goals_from_chunk_starts: bool = True,
) -> dict[str, jax.Array]:
    """DQC's goal-conditioned chunk sampler (ColinQiyangLi/dqc utils/datasets.py ``CGCDataset``).

    With ``end = episode_end[idx]`` (the episode's last row) and ``h = horizon``:

    * Start rows ``idx`` are uniform over rows with ``idx + h <= end`` (the reference builds
      ``np.arange(cur_idx, terminal_idx + 1 - backup_horizon)``). The chunk is
      ``actions[idx : idx + h]``, always inside the episode, and its successor
      ``observations[idx + h]`` is a row of the same episode; the episode's last transition is
      therefore never inside a full chunk, as in the reference.
    * Goal row: with probability ``p_current`` the start row itself; else with probability
      ``p_future / (1 - p_current)`` a future row of the same episode, otherwise a random row.
      ``future="uniform"`` reproduces the reference's
      ``round(min(idx+1, end) * d + end * (1 - d))``, ``d ~ U[0, 1)``: a row in ``[idx+1, end]``
      (the two extremes get half the weight of the others); ``future="geometric"`` uses
      ``min(idx + Geometric(1 - gamma), end)``. Random goals are drawn, as in the reference with
      OGBench's compact datasets (``get_random_idxs`` reads ``valid_idxs``, which CGCDataset sets
      to the chunk starts), from the valid start rows; set ``random_goals_from_chunk_starts=False``
      to draw them from all rows.
    * Backup horizon ``k = min(h, end - idx)`` (``compute_high_next_idxs``; ``= h`` for valid
      starts). If the goal row lies in ``[idx, idx + k)`` then ``k = goal - idx`` and
      ``success = 1`` (success is index equality, never a distance).
      ``reward = gamma**k * success``, ``mask = 1 - success``, ``next_obs = observations[idx + k]``.
      (The reference computes success as ``k < h``, identical for valid starts.)

    Args:
        dataset: the dataset; ``goal_key`` picks where goals are read from: ``"observations"``,
            ``"goals"`` (``dataset.goals``, e.g. an oracle representation) or ``"physics/<name>"``.
        key: PRNG key.
        batch_size: static batch size.
        horizon: static chunk length ``h`` (>= 1); some episode must have more than ``h`` rows.
        gamma: discount for the reward (and the geometric goal offsets).
        p_current, p_future, p_random: goal probabilities (must sum to 1).
        future: ``"uniform"`` or ``"geometric"``.
        goal_key: see ``dataset``.
        random_goals_from_chunk_starts: see above.

    Returns a dict with:
        ``index`` [B]; ``obs`` [B, *obs]; ``obs_goal_rep`` [B, *goal] (the start row read from the
        goal source, the reference's ``high_value_reps``); ``goal`` [B, *goal]; ``goal_index`` [B];
        ``goal_offset`` [B] ``= goal_index - index``; ``actions`` [B, h, *act]; ``actions_flat``
        [B, h * prod(act)]; ``k`` [B] int32; ``reward`` [B] f32; ``mask`` [B] f32; ``success`` [B]
        f32; ``next_obs`` [B, *obs].
    """
    if horizon < 1:
        raise ValueError(f"sample_goal_chunks: horizon must be >= 1, got {horizon}")
    if not np.isclose(p_current + p_future + p_random, 1.0):
        raise ValueError(
            f"goal probabilities must sum to 1, got {p_current} + {p_future} + {p_random}"
        )
    if future not in ("uniform", "geometric"):
        raise ValueError(f"future must be 'uniform' or 'geometric', got {future!r}")
    source = _goal_source(dataset, goal_key)
    k_idx, k_fut, k_geo, k_rand, k_sel, k_cur = jax.random.split(key, 6)
    idx = _sample_rows_with_remaining(dataset, k_idx, batch_size, horizon)
    end = dataset.episode_end[idx]

    if future == "uniform":
        d = jax.random.uniform(k_fut, (batch_size,))
        lo = jnp.minimum(idx + 1, end)
        # lo * d + end * (1 - d), computed relative to lo so float32 stays exact for large N.
        traj = lo + jnp.round((end - lo).astype(jnp.float32) * (1.0 - d)).astype(idx.dtype)
    else:
        offsets = _geometric(k_geo, gamma, (batch_size,))
        traj = idx + jnp.minimum(offsets, end - idx)
    if random_goals_from_chunk_starts:
        rand = _sample_rows_with_remaining(dataset, k_rand, batch_size, horizon)
    else:
        rand = jax.random.randint(k_rand, (batch_size,), 0, dataset.observations.shape[0])
    if p_current == 1.0:
        goal = idx
    else:
        u_sel = jax.random.uniform(k_sel, (batch_size,))
        goal = jnp.where(u_sel < p_future / (1.0 - p_current), traj, rand)
        goal = jnp.where(jax.random.uniform(k_cur, (batch_size,)) < p_current, idx, goal)

    k0 = jnp.minimum(horizon, end - idx)
    diff = goal - idx
    success = (diff >= 0) & (diff < k0)
    k = jnp.where(success, diff, k0).astype(jnp.int32)
    successf = success.astype(jnp.float32)
    rows = jnp.minimum(idx[:, None] + jnp.arange(horizon, dtype=idx.dtype)[None, :], end[:, None])
    actions = dataset.actions[rows]
    return {
        "index": idx,
        "obs": dataset.observations[idx],
        "obs_goal_rep": source[idx],
        "goal": source[goal],
        "goal_index": goal,
        "goal_offset": diff,
        "actions": actions,
        "actions_flat": flatten_chunk(actions),
        "k": k,
        "reward": jnp.asarray(gamma, jnp.float32) ** k.astype(jnp.float32) * successf,
        "mask": 1.0 - successf,
        "success": successf,
        "next_obs": dataset.observations[idx + k],
    }


def sample_future_states(
    dataset: Dataset, key: jax.Array, batch_size: int, gamma: float | None = None
) -> dict[str, jax.Array]:
    """A start row and a future state of the same episode (representation learning).

    The start row is uniform over all rows. ``offset >= 1`` counts steps ahead of the start row:
    ``future_obs`` is the state reached after ``offset`` actions, i.e.
    ``next_observations[index + offset - 1]`` (``offset = 1`` gives ``next_obs``). With ``gamma``
    the offset is ``Geometric(1 - gamma)`` (``P(offset = j) = gamma^(j-1) (1 - gamma)``), truncated
    at the episode end: offsets past the end become ``end - index + 1``, i.e. the episode's final
    observation (``next_observations[end]``) gets the leftover mass, as HIQL/OGBench's
    ``np.minimum(idxs + offsets, final_state_idxs)`` does. With ``gamma=None`` the offset is uniform
    in ``[1, end - index + 1]``.

    Returns a dict with: ``index`` [B]; ``obs``; ``action``; ``reward``; ``mask``
    (``1 - terminal``); ``next_obs``; ``future_obs``; ``future_index`` [B] (the row whose
    ``next_observations`` is ``future_obs``); ``offset`` [B] int32.
    """
    k_idx, k_off = jax.random.split(key)
    idx = jax.random.randint(k_idx, (batch_size,), 0, dataset.observations.shape[0])
    end = dataset.episode_end[idx]
    max_off = end - idx + 1
    if gamma is None:
        offset = jax.random.randint(k_off, (batch_size,), 1, max_off + 1)
    else:
        offset = jnp.minimum(_geometric(k_off, gamma, (batch_size,)), max_off)
    offset = offset.astype(jnp.int32)
    fut = idx + offset - 1
    return {
        "index": idx,
        "obs": dataset.observations[idx],
        "action": dataset.actions[idx],
        "reward": dataset.rewards[idx],
        "mask": 1.0 - dataset.terminals[idx].astype(jnp.float32),
        "next_obs": dataset.next_observations[idx],
        "future_obs": dataset.next_observations[fut],
        "future_index": fut,
        "offset": offset,
    }


# --------------------------------------------------------------------------------------------
# Files: our .npz.
# --------------------------------------------------------------------------------------------

_CORE = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")


def _card_json(card: Mapping[str, Any] | None) -> str | None:
    if card is None:
        return None
    try:
        return json.dumps(dict(card), sort_keys=True)
    except TypeError as e:
        raise ValueError(f"card: not JSON-serialisable ({e})") from e


def save_npz(
    dataset: Dataset,
    path: PathLike,
    card: Mapping[str, Any] | None = None,
    compress: bool = False,
) -> None:
    """Write every field to ``path`` (exactly that name) as an ``.npz`` archive.

    Keys: ``observations``, ``actions``, ``rewards``, ``terminals``, ``timeouts``,
    ``next_observations``, optional ``goals``, ``physics/<name>`` per physics entry, ``__format__``
    (``"jaxrl.dataset/1"``) and, when given, ``__card__``: the card (a dict describing how the data
    was made) as a JSON string; read it back with :func:`load_card`.
    """
    data = dataset.to_numpy()
    arrays: dict[str, np.ndarray] = {k: data[k] for k in _CORE}
    if "goals" in data:
        arrays["goals"] = data["goals"]
    for k, v in data.get("physics", {}).items():
        arrays[f"physics/{k}"] = v
    arrays["__format__"] = np.asarray(NPZ_FORMAT)
    text = _card_json(card)
    if text is not None:
        arrays["__card__"] = np.asarray(text)
    with open(path, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **arrays)


def load_npz(path: PathLike, **create_kwargs: Any) -> Dataset:
    """Read a dataset written by :func:`save_npz` (validated by :meth:`Dataset.create`).

    ``create_kwargs`` (``action_bounds``, ``clip_actions``, ``allow_open_end``) go to
    :meth:`Dataset.create`.
    """
    with np.load(path, allow_pickle=False) as f:
        files = set(f.files)
        missing = [k for k in _CORE if k not in files]
        if missing:
            raise DatasetError(f"{os.fspath(path)}: missing {', '.join(missing)}")
        kwargs: dict[str, Any] = {k: f[k] for k in _CORE}
        if "goals" in files:
            kwargs["goals"] = f["goals"]
        physics = {k.split("/", 1)[1]: f[k] for k in f.files if k.startswith("physics/")}
    if physics:
        kwargs["physics"] = physics
    return Dataset.create(**kwargs, **create_kwargs)


def load_card(path: PathLike) -> dict[str, Any] | None:
    """The JSON card saved with a dataset: inside an ``.npz`` (``__card__``), an HDF5 root attribute
    ``card``, or a sidecar ``<path>.json``; ``None`` when there is none."""
    path = os.fspath(path)
    kind = _sniff(path)
    if kind == "npz":
        with np.load(path, allow_pickle=False) as f:
            if "__card__" in f.files:
                return json.loads(str(f["__card__"]))
    elif kind == "hdf5":
        import h5py

        with h5py.File(path, "r") as f:
            if "card" in f.attrs:
                text = f.attrs["card"]
                return json.loads(text.decode() if isinstance(text, bytes) else str(text))
    sidecar = path + ".json"
    if os.path.exists(sidecar):
        with open(sidecar) as fh:
            return json.load(fh)
    return None


# --------------------------------------------------------------------------------------------
# Files: D4RL-style HDF5.
# --------------------------------------------------------------------------------------------


def save_d4rl_hdf5(dataset: Dataset, path: PathLike, card: Mapping[str, Any] | None = None) -> None:
    """Write a D4RL-style HDF5 file.

    Datasets: ``observations``, ``actions``, ``rewards``, ``terminals`` (bool), ``timeouts`` (bool),
    ``next_observations``, ``infos/<name>`` for each physics entry (``infos/qpos``, ``infos/qvel``
    as in D4RL), and ``goals`` when present (not a D4RL key). The card goes in the root attribute
    ``card`` (JSON).
    """
    import h5py

    data = dataset.to_numpy()
    with h5py.File(path, "w") as f:
        for k in _CORE:
            f.create_dataset(k, data=data[k])
        if "goals" in data:
            f.create_dataset("goals", data=data["goals"])
        for k, v in data.get("physics", {}).items():
            f.create_dataset(f"infos/{k}", data=v)
        f.attrs["format"] = NPZ_FORMAT
        text = _card_json(card)
        if text is not None:
            f.attrs["card"] = text


def _squeeze_column(name: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2 and arr.shape[1] == 1:
        return arr[:, 0]
    return arr


def load_d4rl_hdf5(
    path: PathLike,
    max_episode_steps: int | None = None,
    **create_kwargs: Any,
) -> Dataset:
    """Read a D4RL-style HDF5 file.

    Keys read: ``observations``, ``actions``, ``rewards`` (any float; stored as float32; an
    ``[N, 1]`` column is flattened), ``terminals`` (bool or 0/1 floats), ``timeouts`` (optional),
    ``next_observations`` (optional), ``goals`` (optional) and every ``infos/<name>`` array with one
    row per step into ``physics[<name>]`` (``qpos``, ``qvel``, ...). ``metadata/*`` is ignored.

    D4RL quirks:
        * No ``timeouts`` (old files): with ``max_episode_steps`` a timeout is set every
          ``max_episode_steps`` rows since the last episode end (d4rl's fallback
          ``episode_step == env._max_episode_steps - 1``); without it no timeouts are set.
        * No ``next_observations``: row ``i`` gets ``observations[i + 1]`` when row ``i`` ends no
          episode. The last row of a timeout-ended episode has no stored successor; it is
          **dropped** (as ``d4rl.qlearning_dataset`` does) and the row before it, now the last of
          its episode, is flagged as a timeout; a warning gives the count. The last row of a
          terminal-ended episode is kept (its reward matters and it is never bootstrapped from)
          with its own observation as a placeholder ``next_observations`` (d4rl uses the next
          episode's first observation); a row with both flags counts as terminal.

    ``create_kwargs`` go to :meth:`Dataset.create` (``action_bounds``, ``clip_actions``,
    ``allow_open_end``; an open end is treated as a timeout, so without ``next_observations`` its
    last row is dropped too).
    """
    import h5py

    path = os.fspath(path)
    with h5py.File(path, "r") as f:
        for k in ("observations", "actions", "rewards", "terminals"):
            if k not in f:
                raise DatasetError(f"{path}: missing the D4RL key {k!r}")
        obs = f["observations"][()]
        act = f["actions"][()]
        rew = _squeeze_column("rewards", np.asarray(f["rewards"][()]))
        term = _squeeze_column("terminals", np.asarray(f["terminals"][()]))
        tout = None
        if "timeouts" in f:
            tout = _squeeze_column("timeouts", np.asarray(f["timeouts"][()]))
        nobs = f["next_observations"][()] if "next_observations" in f else None
        goals = f["goals"][()] if "goals" in f else None
        n = obs.shape[0]
        physics: dict[str, np.ndarray] = {}
        if "infos" in f:
            for k, v in f["infos"].items():
                if isinstance(v, h5py.Dataset) and v.shape[:1] == (n,):
                    physics[k] = v[()]

    obs = _as_numeric("observations", obs)
    n = obs.shape[0]
    for name, arr in (("actions", act), ("rewards", rew), ("terminals", term), ("timeouts", tout)):
        if arr is not None:
            _check_rows(name, _as_numeric(name, arr), n)
    if nobs is not None:
        _check_rows("next_observations", _as_numeric("next_observations", nobs), n)
    if goals is not None:
        _check_rows("goals", _as_numeric("goals", goals), n)
    term_b = _as_flags("terminals", term, n)
    if tout is None:
        tout_b = np.zeros(n, bool)
        if max_episode_steps is not None:
            step = 0
            for i in range(n):
                if step == max_episode_steps - 1:
                    tout_b[i] = True
                if term_b[i] or tout_b[i]:
                    step = 0
                else:
                    step += 1
    else:
        tout_b = _as_flags("timeouts", tout, n)

    kwargs: dict[str, Any] = dict(
        observations=obs, actions=act, rewards=rew, terminals=term_b, timeouts=tout_b
    )
    if goals is not None:
        kwargs["goals"] = goals
    if physics:
        kwargs["physics"] = physics
    if nobs is not None:
        return Dataset.create(next_observations=nobs, **kwargs, **create_kwargs)

    # Derive next observations (see the docstring for the conventions).
    ends = term_b | tout_b
    if not ends[-1] and create_kwargs.get("allow_open_end", False):
        prev = np.flatnonzero(ends[:-1])
        first_open = int(prev[-1]) + 1 if prev.size else 0
        warnings.warn(
            f"timeouts: episode at rows {first_open}..{n - 1} never ends; its last row {n - 1} "
            "is treated as a timeout (allow_open_end=True)",
            DatasetWarning,
            stacklevel=2,
        )
        tout_b = tout_b.copy()
        tout_b[-1] = True
        ends = term_b | tout_b
    elif not ends[-1]:
        prev = np.flatnonzero(ends[:-1])
        first_open = int(prev[-1]) + 1 if prev.size else 0
        raise DatasetError(
            f"terminals/timeouts: episode that never ends: rows {first_open}..{n - 1} (the last "
            f"row, {n - 1}, has neither terminals nor timeouts set); pass allow_open_end=True "
            "to treat the end of the data as a time limit"
        )
    nobs = np.empty_like(obs)
    nobs[:-1] = obs[1:]
    term_end = ends & term_b
    nobs[term_end] = obs[term_end]
    drop = ends & ~term_b
    new_tout = tout_b & term_b  # keep flags of rows that stay; re-derive timeout ends below
    prev_rows = np.flatnonzero(drop) - 1
    prev_rows = prev_rows[(prev_rows >= 0) & ~ends[np.maximum(prev_rows, 0)]]
    new_tout[prev_rows] = True
    keep = ~drop
    if drop.any():
        warnings.warn(
            f"{path}: no next_observations stored; dropped the last row of {int(drop.sum())} "
            "timeout-ended episodes (no successor observation), as d4rl.qlearning_dataset does",
            DatasetWarning,
            stacklevel=2,
        )
    if not keep.any():
        raise DatasetError(f"{path}: no transition left after dropping rows without a successor")
    sub = dict(
        observations=obs[keep],
        actions=np.asarray(act)[keep],
        rewards=rew[keep],
        terminals=term_b[keep],
        timeouts=new_tout[keep],
        next_observations=nobs[keep],
    )
    if goals is not None:
        sub["goals"] = goals[keep]
    if physics:
        sub["physics"] = {k: v[keep] for k, v in physics.items()}
    create_kwargs = {k: v for k, v in create_kwargs.items() if k != "allow_open_end"}
    return Dataset.create(**sub, **create_kwargs)


# --------------------------------------------------------------------------------------------
# Files: OGBench-style .npz.
# --------------------------------------------------------------------------------------------

_OG_KNOWN = {"observations", "actions", "terminals", "valids", "next_observations"}
_OG_EXTRA = "jaxrl/"  # our additions, ignored by ogbench.utils.load_dataset


def save_ogbench_npz(
    dataset: Dataset, path: PathLike, card: Mapping[str, Any] | None = None
) -> None:
    """Write OGBench's raw trajectory layout (what ``ogbench.utils.load_dataset`` reads).

    Each episode of ``T`` rows becomes ``T + 1`` rows: its observations followed by the episode's
    final observation (``next_observations`` of its last row); ``terminals`` (float32) is 1 on that
    appended row only (OGBench's trajectory-end marker). The appended row's ``actions`` and physics
    entries are zeros (nothing is known there; OGBench's own loaders drop that row or mask it with
    ``valids``). Physics entries are written under their own names (``qpos``, ``qvel``,
    ``button_states``). OGBench has no rewards and no true terminations; when the dataset has
    nonzero rewards, terminal flags or goals they are written as extra keys ``jaxrl/rewards``,
    ``jaxrl/terminals``, ``jaxrl/timeouts``, ``jaxrl/goals`` (ignored by OGBench) so the round trip
    is exact. A card is stored as ``__card__`` (JSON), as in :func:`save_npz`.

    Raises:
        DatasetError: when some ``next_observations[i]`` differs from ``observations[i + 1]``
            inside an episode (this layout stores each observation once).
    """
    data = dataset.to_numpy()
    obs, nobs = data["observations"], data["next_observations"]
    ends = data["terminals"] | data["timeouts"]
    inner = np.flatnonzero(~ends[:-1])
    mismatch = inner[_bad_rows(obs[inner + 1] != nobs[inner])]
    if mismatch.size:
        raise DatasetError(
            "next_observations: differs from the following row's observations inside an episode "
            f"at {_rows(mismatch)}; the OGBench layout cannot store that (use save_npz)"
        )
    n = obs.shape[0]
    last = np.flatnonzero(ends)
    # Row i goes to i + (episodes ended before i); the final observation of episode e goes to
    # last[e] + e + 1.
    dest = np.arange(n) + np.concatenate([[0], np.cumsum(ends[:-1])])
    extra = last + np.arange(last.size) + 1
    m = n + last.size

    def expand(arr: np.ndarray, final: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros((m, *arr.shape[1:]), arr.dtype)
        out[dest] = arr
        if final is not None:
            out[extra] = final
        return out

    arrays: dict[str, np.ndarray] = {
        "observations": expand(obs, nobs[last]),
        "actions": expand(data["actions"]),
    }
    term = np.zeros(m, np.float32)
    term[extra] = 1.0
    arrays["terminals"] = term
    for k, v in data.get("physics", {}).items():
        if k in _OG_KNOWN or k.startswith(_OG_EXTRA):
            raise DatasetError(f"physics/{k}: name collides with an OGBench key")
        arrays[k] = expand(v)
    rew = data["rewards"]
    if np.any(rew.view(np.uint32) != 0):
        arrays[_OG_EXTRA + "rewards"] = expand(rew)
    if data["terminals"].any():
        arrays[_OG_EXTRA + "terminals"] = expand(data["terminals"])
        arrays[_OG_EXTRA + "timeouts"] = expand(data["timeouts"])
    if "goals" in data:
        arrays[_OG_EXTRA + "goals"] = expand(data["goals"])
    text = _card_json(card)
    if text is not None:
        arrays["__card__"] = np.asarray(text)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_ogbench_npz(path: PathLike, **create_kwargs: Any) -> Dataset:
    """Read an OGBench-style ``.npz`` (``ogbench.utils.load_dataset`` semantics).

    Three layouts are recognised:

    * raw (OGBench's files): each trajectory of ``T`` transitions is ``T + 1`` rows
      ``s_0 .. s_T`` with ``terminals = 1`` on the ``s_T`` row, which has no transition. Rows with
      ``terminals = 1`` are dropped (like ``load_dataset(compact_dataset=False)``'s ``ob_mask``),
      ``next_observations[i] = observations[i + 1]``, and the last transition of each trajectory
      gets ``timeouts = 1``: OGBench's terminals mark trajectory ends, not true terminations.
    * compact (``valids`` present, ``compact_dataset=True``): rows with ``valids = 0`` are the
      observation-only rows; otherwise as above.
    * regular (``next_observations`` present): each row is a transition, ``terminals`` marks the
      last transition of each trajectory -> ``timeouts``.

    Rewards are zeros (OGBench datasets are reward-free) unless our extra key ``jaxrl/rewards`` is
    present; likewise ``jaxrl/terminals``, ``jaxrl/timeouts`` and ``jaxrl/goals``. Every other array
    with one row per file row (``qpos``, ``qvel``, ``button_states``, ...) goes into ``physics``,
    restricted to the kept rows (the final ``s_T`` rows' physics is dropped, as OGBench's loader
    does). dtypes are kept as stored. ``create_kwargs`` go to :meth:`Dataset.create`.
    """
    path = os.fspath(path)
    with np.load(path, allow_pickle=False) as f:
        raw = {k: f[k] for k in f.files if not k.startswith("__")}
    for k in ("observations", "actions", "terminals"):
        if k not in raw:
            raise DatasetError(f"{path}: missing the OGBench key {k!r}")
    obs = _as_numeric("observations", raw["observations"])
    m = obs.shape[0]
    flags = _as_flags("terminals", _squeeze_column("terminals", raw["terminals"]), m)
    extras = {k[len(_OG_EXTRA) :]: v for k, v in raw.items() if k.startswith(_OG_EXTRA)}
    physics = {
        k: v
        for k, v in raw.items()
        if k not in _OG_KNOWN
        and not k.startswith(_OG_EXTRA)
        and np.ndim(v) >= 1
        and np.shape(v)[0] == m
    }

    if "next_observations" in raw:
        keep = np.ones(m, bool)
        nobs = raw["next_observations"]
        traj_end = flags
    else:
        if "valids" in raw:
            obs_only = ~_as_flags("valids", _squeeze_column("valids", raw["valids"]), m)
        else:
            obs_only = flags
        if not obs_only[-1]:
            prev = np.flatnonzero(obs_only[:-1])
            first_open = int(prev[-1]) + 1 if prev.size else 0
            raise DatasetError(
                f"terminals: episode that never ends: rows {first_open}..{m - 1} of {path} "
                "(an OGBench trajectory must end with a final-observation row with terminals=1)"
            )
        keep = ~obs_only
        rows = np.flatnonzero(keep)
        nobs = obs[rows + 1]
        traj_end = np.zeros(m, bool)
        traj_end[rows] = obs_only[rows + 1]
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise DatasetError(f"{path}: no transitions (every row is a final observation)")

    if "terminals" in extras:
        term = _as_flags("jaxrl/terminals", extras["terminals"], m)[rows]
        tout = _as_flags("jaxrl/timeouts", extras["timeouts"], m)[rows]
        mism = _bad_rows((term | tout) != traj_end[rows])
        if mism.size:
            raise DatasetError(
                f"jaxrl/terminals: episode ends disagree with the trajectory ends at {_rows(mism)}"
            )
    else:
        term = np.zeros(rows.size, bool)
        tout = traj_end[rows]
    act = _as_numeric("actions", raw["actions"])
    _check_rows("actions", act, m)
    for k, v in extras.items():
        _check_rows(_OG_EXTRA + k, _as_numeric(_OG_EXTRA + k, v), m)
    rewards = extras["rewards"][rows] if "rewards" in extras else np.zeros(rows.size, np.float32)
    kwargs: dict[str, Any] = dict(
        observations=obs[rows],
        actions=act[rows],
        rewards=rewards,
        terminals=term,
        timeouts=tout,
        next_observations=nobs,
    )
    if "goals" in extras:
        kwargs["goals"] = extras["goals"][rows]
    if physics:
        kwargs["physics"] = {k: np.asarray(v)[rows] for k, v in physics.items()}
    return Dataset.create(**kwargs, **create_kwargs)


# --------------------------------------------------------------------------------------------
# Dispatch.
# --------------------------------------------------------------------------------------------


def _sniff(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"PK"):
        return "npz"
    return "unknown"


def load(path: PathLike, **kwargs: Any) -> Dataset:
    """Load any supported file: HDF5 (D4RL-style) by signature or ``.h5``/``.hdf5`` extension;
    ``.npz`` as ours when it has ``__format__`` or ``rewards`` + ``timeouts``, else OGBench-style.

    ``kwargs`` go to the chosen loader.
    """
    path = os.fspath(path)
    kind = _sniff(path)
    if kind == "hdf5" or (kind == "unknown" and path.endswith((".h5", ".hdf5"))):
        return load_d4rl_hdf5(path, **kwargs)
    if kind == "npz":
        with np.load(path, allow_pickle=False) as f:
            files = set(f.files)
        if "__format__" in files or {"rewards", "timeouts", "next_observations"} <= files:
            return load_npz(path, **kwargs)
        return load_ogbench_npz(path, **kwargs)
    raise DatasetError(f"{path}: not an .npz archive or an HDF5 file")


def from_transitions(
    transitions: Any,
    goals: Any = None,
    physics: Mapping[str, Any] | None = None,
    **create_kwargs: Any,
) -> Dataset:
    """A :class:`Dataset` from time-major rollouts ``[T, N, ...]`` (a
    :class:`jaxrl.types.Transition` from :func:`jaxrl.rollout.collect`, or anything with
    ``obs``, ``action``, ``reward``, ``terminated``, ``truncated`` and ``next_obs``).

    Each environment's stream becomes consecutive rows (env-major). The last step of every
    stream that did not end by itself is marked as a timeout (collection stopped there), so no
    episode runs into the next environment's data. ``goals``/``physics`` arrays are ``[T, N,
    ...]`` too. ``action`` is the action the env received (``raw_action`` is ignored).
    """

    def rows(x: Any) -> np.ndarray:
        x = np.asarray(x)
        return np.swapaxes(x, 0, 1).reshape(-1, *x.shape[2:])

    terminals = np.asarray(transitions.terminated, bool)
    timeouts = np.asarray(transitions.truncated, bool) & ~terminals
    timeouts[-1] |= ~terminals[-1]
    return Dataset.create(
        observations=rows(transitions.obs),
        actions=rows(transitions.action),
        rewards=rows(transitions.reward),
        terminals=rows(terminals),
        timeouts=rows(timeouts),
        next_observations=rows(transitions.next_obs),
        goals=None if goals is None else rows(goals),
        physics=None if physics is None else {k: rows(v) for k, v in physics.items()},
        **create_kwargs,
    )


def concatenate(datasets: Sequence[Dataset]) -> Dataset:
    """The rows of several datasets one after another; each keeps its own episodes. All must
    have the same optional fields (goals, physics keys)."""
    if not datasets:
        raise DatasetError("concatenate: no datasets given")
    arrays = [d.to_numpy() for d in datasets]
    fields = set(arrays[0])
    physics_keys = set(arrays[0].get("physics", {}))
    for i, a in enumerate(arrays[1:], start=1):
        if set(a) != fields or set(a.get("physics", {})) != physics_keys:
            raise DatasetError(
                f"concatenate: dataset {i} has fields {sorted(a)} (physics "
                f"{sorted(a.get('physics', {}))}), dataset 0 has {sorted(fields)} (physics "
                f"{sorted(physics_keys)})"
            )
    out: dict[str, Any] = {
        k: np.concatenate([a[k] for a in arrays]) for k in fields if k != "physics"
    }
    if physics_keys:
        out["physics"] = {
            k: np.concatenate([a["physics"][k] for a in arrays]) for k in physics_keys
        }
    return Dataset.create(**out)
