"""OGBench-style ``.npz`` files: one observation per step plus each trajectory's final one
(``terminals`` marks it), the raw, compact (``valids``) and regular (``next_observations``) layouts
that ``ogbench.utils.load_dataset`` reads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxrl.data.dataset import Dataset
from jaxrl.data.npz import PathLike, card_json, read_npz
from jaxrl.data.validation import (
    DatasetError,
    as_flags,
    as_numeric,
    bad_rows,
    check_rows,
    rows_text,
    squeeze_column,
)

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
            inside an episode (this layout stores each observation once), or the dataset has
            ``task_rewards`` (OGBench's layout has no place for them).
    """
    if dataset.task_rewards is not None:
        raise DatasetError(
            f"save_ogbench_npz: task_rewards {list(dataset.task_names)} cannot be written in "
            "OGBench's layout; save with jaxrl.data.save_npz (task_rewards/<name> entries)"
        )
    data = dataset.to_numpy()
    obs, nobs = data["observations"], data["next_observations"]
    ends = data["terminals"] | data["timeouts"]
    inner = np.flatnonzero(~ends[:-1])
    mismatch = inner[bad_rows(obs[inner + 1] != nobs[inner])]
    if mismatch.size:
        raise DatasetError(
            "next_observations: differs from the following row's observations inside an episode "
            f"at {rows_text(mismatch)}; the OGBench layout cannot store that (use save_npz)"
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
    text = card_json(card)
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

    Raises:
        DatasetError: the file is not a readable ``.npz`` archive
            (:func:`~jaxrl.data.npz.read_npz`: the message names the path and the cause), misses
            an OGBench key, or fails validation.
    """
    path = os.fspath(path)
    raw = read_npz(path, lambda k: not k.startswith("__"))
    for k in ("observations", "actions", "terminals"):
        if k not in raw:
            raise DatasetError(f"{path}: missing the OGBench key {k!r}")
    obs = as_numeric("observations", raw["observations"])
    m = obs.shape[0]
    flags = as_flags("terminals", squeeze_column(raw["terminals"]), m)
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
            obs_only = ~as_flags("valids", squeeze_column(raw["valids"]), m)
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
        term = as_flags("jaxrl/terminals", extras["terminals"], m)[rows]
        tout = as_flags("jaxrl/timeouts", extras["timeouts"], m)[rows]
        mism = bad_rows((term | tout) != traj_end[rows])
        if mism.size:
            raise DatasetError(
                "jaxrl/terminals: episode ends disagree with the trajectory ends at "
                f"{rows_text(mism)}"
            )
    else:
        term = np.zeros(rows.size, bool)
        tout = traj_end[rows]
    act = as_numeric("actions", raw["actions"])
    check_rows("actions", act, m)
    for k, v in extras.items():
        check_rows(_OG_EXTRA + k, as_numeric(_OG_EXTRA + k, v), m)
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
