"""D4RL-style HDF5 files (``observations``, ``actions``, ``rewards``, ``terminals``, ``timeouts``,
optional ``next_observations`` and ``infos/<name>``), as written by D4RL and read by
``d4rl.qlearning_dataset``; our files add ``goals`` and ``task_rewards/<name>``."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from jaxrl.data.dataset import Dataset
from jaxrl.data.npz import CORE_FIELDS, NPZ_FORMAT, PathLike, card_json
from jaxrl.data.validation import (
    DatasetError,
    DatasetWarning,
    as_flags,
    as_numeric,
    check_rows,
    close_open_end,
    squeeze_column,
)


def save_d4rl_hdf5(dataset: Dataset, path: PathLike, card: Mapping[str, Any] | None = None) -> None:
    """Write a D4RL-style HDF5 file.

    Datasets: ``observations``, ``actions``, ``rewards``, ``terminals`` (bool), ``timeouts`` (bool),
    ``next_observations``, ``infos/<name>`` for each physics entry (``infos/qpos``, ``infos/qvel``
    as in D4RL), and when present ``goals`` and ``task_rewards/<name>`` for each task (not D4RL
    keys). The card goes in the root attribute ``card`` (JSON).
    """
    import h5py

    data = dataset.to_numpy()
    with h5py.File(path, "w") as f:
        for k in CORE_FIELDS:
            f.create_dataset(k, data=data[k])
        if "goals" in data:
            f.create_dataset("goals", data=data["goals"])
        for k, v in data.get("physics", {}).items():
            f.create_dataset(f"infos/{k}", data=v)
        for k, v in data.get("task_rewards", {}).items():
            f.create_dataset(f"task_rewards/{k}", data=v)
        f.attrs["format"] = NPZ_FORMAT
        text = card_json(card)
        if text is not None:
            f.attrs["card"] = text


def load_d4rl_hdf5(
    path: PathLike,
    max_episode_steps: int | None = None,
    **create_kwargs: Any,
) -> Dataset:
    """Read a D4RL-style HDF5 file.

    Keys read: ``observations``, ``actions``, ``rewards`` (any float; stored as float32; an
    ``[N, 1]`` column is flattened), ``terminals`` (bool or 0/1 floats), ``timeouts`` (optional),
    ``next_observations`` (optional), ``goals`` (optional), every ``infos/<name>`` array with one
    row per step into ``physics[<name>]`` (``qpos``, ``qvel``, ...) and every
    ``task_rewards/<name>`` array into ``task_rewards[<name>]``. ``metadata/*`` is ignored.

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

    Raises:
        DatasetError: the file is not a readable HDF5 file (truncated, damaged, another format:
            the message names the path and the cause), misses a D4RL key, or fails validation.
        FileNotFoundError: no file at ``path``.
    """
    path = os.fspath(path)
    obs, act, rew, term, tout, nobs, goals, physics, task_rewards = _read_d4rl(path)
    obs = as_numeric("observations", obs)
    n = obs.shape[0]
    per_row = [("actions", act), ("rewards", rew), ("terminals", term), ("timeouts", tout)]
    per_row += [("next_observations", nobs), ("goals", goals)]
    per_row += [(f"task_rewards/{k}", v) for k, v in task_rewards.items()]
    for name, arr in per_row:
        if arr is not None:
            check_rows(name, as_numeric(name, arr), n)
    term_b = as_flags("terminals", term, n)
    if tout is None:
        tout_b = _timeouts_from_limit(term_b, max_episode_steps)
    else:
        tout_b = as_flags("timeouts", tout, n)

    kwargs: dict[str, Any] = dict(
        observations=obs, actions=act, rewards=rew, terminals=term_b, timeouts=tout_b
    )
    if goals is not None:
        kwargs["goals"] = goals
    if physics:
        kwargs["physics"] = physics
    if task_rewards:
        kwargs["task_rewards"] = task_rewards
    if nobs is not None:
        return Dataset.create(next_observations=nobs, **kwargs, **create_kwargs)
    kwargs["timeouts"] = close_open_end(term_b, tout_b, create_kwargs.pop("allow_open_end", False))
    return Dataset.create(**_drop_rows_without_successor(path, **kwargs), **create_kwargs)


class _D4RLArrays(NamedTuple):
    """What :func:`_read_d4rl` reads (``None``: the key is absent)."""

    obs: np.ndarray
    act: np.ndarray
    rew: np.ndarray
    term: np.ndarray
    tout: np.ndarray | None
    nobs: np.ndarray | None
    goals: np.ndarray | None
    physics: dict[str, np.ndarray]
    task_rewards: dict[str, np.ndarray]


def _read_d4rl(path: str) -> _D4RLArrays:
    """The arrays of a D4RL file (``infos/<name>`` arrays with one row per step as physics, every
    ``task_rewards/<name>`` array as task rewards).
    h5py's errors on a file it cannot read (they do not name the file) become a
    :class:`DatasetError` naming the path and the cause."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            for k in ("observations", "actions", "rewards", "terminals"):
                if k not in f:
                    raise DatasetError(f"{path}: missing the D4RL key {k!r}")
            obs = f["observations"][()]
            act = f["actions"][()]
            rew = squeeze_column(np.asarray(f["rewards"][()]))
            term = squeeze_column(np.asarray(f["terminals"][()]))
            tout = None
            if "timeouts" in f:
                tout = squeeze_column(np.asarray(f["timeouts"][()]))
            nobs = f["next_observations"][()] if "next_observations" in f else None
            goals = f["goals"][()] if "goals" in f else None
            physics = _group_arrays(f, "infos", rows=obs.shape[0])
            task_rewards = _group_arrays(f, "task_rewards")
    except (DatasetError, FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as e:
        raise DatasetError(
            f"{path}: not a readable HDF5 file (truncated or damaged: {type(e).__name__}: {e})"
        ) from e
    return _D4RLArrays(obs, act, rew, term, tout, nobs, goals, physics, task_rewards)


def _group_arrays(f: Any, group: str, rows: int | None = None) -> dict[str, np.ndarray]:
    """The arrays directly in the HDF5 group ``group`` of the open file ``f`` (none when it is
    absent), only those with ``rows`` rows when ``rows`` is given."""
    import h5py

    if group not in f:
        return {}
    return {
        k: v[()]
        for k, v in f[group].items()
        if isinstance(v, h5py.Dataset) and (rows is None or v.shape[:1] == (rows,))
    }


def _timeouts_from_limit(terminals: np.ndarray, max_episode_steps: int | None) -> np.ndarray:
    """Old D4RL files have no ``timeouts``: set one every ``max_episode_steps`` rows since the
    last episode end (d4rl's ``episode_step == env._max_episode_steps - 1``); none without it."""
    timeouts = np.zeros(terminals.shape[0], bool)
    if max_episode_steps is None:
        return timeouts
    step = 0
    for i in range(terminals.shape[0]):
        if step == max_episode_steps - 1:
            timeouts[i] = True
        if terminals[i] or timeouts[i]:
            step = 0
        else:
            step += 1
    return timeouts


def _drop_rows_without_successor(
    path: str,
    observations: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    terminals: np.ndarray,
    timeouts: np.ndarray,
    goals: np.ndarray | None = None,
    physics: dict[str, np.ndarray] | None = None,
    task_rewards: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The fields with ``next_observations`` derived as :func:`load_d4rl_hdf5` describes: the last
    row of each timeout-ended episode is dropped (with a warning giving the count), the row before
    it becomes a timeout; terminal rows keep their own observation as a placeholder successor."""
    obs = observations
    ends = terminals | timeouts
    nobs = np.empty_like(obs)
    nobs[:-1] = obs[1:]
    term_end = ends & terminals
    nobs[term_end] = obs[term_end]
    drop = ends & ~terminals
    new_tout = timeouts & terminals  # keep flags of rows that stay; re-derive timeout ends below
    prev_rows = np.flatnonzero(drop) - 1
    prev_rows = prev_rows[(prev_rows >= 0) & ~ends[np.maximum(prev_rows, 0)]]
    new_tout[prev_rows] = True
    keep = ~drop
    if drop.any():
        warnings.warn(
            f"{path}: no next_observations stored; dropped the last row of {int(drop.sum())} "
            "timeout-ended episodes (no successor observation), as d4rl.qlearning_dataset does",
            DatasetWarning,
            stacklevel=3,
        )
    if not keep.any():
        raise DatasetError(f"{path}: no transition left after dropping rows without a successor")
    sub: dict[str, Any] = dict(
        observations=obs[keep],
        actions=np.asarray(actions)[keep],
        rewards=rewards[keep],
        terminals=terminals[keep],
        timeouts=new_tout[keep],
        next_observations=nobs[keep],
    )
    if goals is not None:
        sub["goals"] = goals[keep]
    for field, entries in (("physics", physics), ("task_rewards", task_rewards)):
        if entries:
            sub[field] = {k: v[keep] for k, v in entries.items()}
    return sub
