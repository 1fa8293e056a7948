"""The :class:`Dataset` pytree: validated once on the host, then held on device.

:meth:`Dataset.create` runs the checks of :mod:`jaxrl.data.validation` in a fixed order (the
fields' types and lengths, the optional fields, finiteness, action bounds, episode ends) and derives
the episode index arrays the samplers use. :func:`from_transitions` and :func:`concatenate` build
datasets from rollouts and from other datasets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.data.validation import (
    DatasetError,
    as_flags,
    as_numeric,
    canonical_dtype,
    check_action_bounds,
    check_finite,
    check_rows,
    close_open_end,
    episode_bounds,
    rows_text,
)

NAMED_FIELDS = ("physics", "task_rewards")
"""The optional dict fields of :class:`Dataset`: named ``[N, ...]`` arrays, stored in files as
``<field>/<name>``."""


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
            state of row ``i``: an entry whose name starts with ``next_`` holds the state after
            the row's action (at ``next_observations[i]``), any other the state at
            ``observations[i]``; ``None`` when absent.
        task_rewards: optional dict of ``[N]`` float32 arrays, one per task of a multi-task domain
            (zero-shot RL data, ExORL-style): entry ``name`` holds that task's raw reward of row
            ``i``'s transition, computed at collection time; ``None`` when absent.
        num_episodes: static number of episodes.
        max_episode_length: static length (rows) of the longest episode.

    Do not build it with the raw constructor or change fields with ``replace``: the derived index
    arrays would not be recomputed and nothing would be validated. (The transforms of
    :mod:`jaxrl.data.transforms` do use ``replace``: they change values, never rows or episodes.)
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
    task_rewards: dict[str, jax.Array] | None = None
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
        task_rewards: Mapping[str, Any] | None = None,
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
            physics: optional dict of ``[N, ...]`` arrays, the simulator state of each row:
                ``next_<name>`` entries after the row's action (at ``next_observations``), other
                entries at ``observations``. Names: non-empty strings without ``/``.
            task_rewards: optional dict of ``[N]`` arrays, each task's reward of each row's
                transition (stored as float32). Names: non-empty strings without ``/``.
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
        obs, act, rew, term, tout = _core_fields(
            observations, actions, rewards, terminals, timeouts
        )
        n = obs.shape[0]
        nobs = _next_observations_field(next_observations, obs, final_observations)
        goal_arr = None if goals is None else _per_row("goals", goals, n)
        phys = _named_field("physics", physics, n)
        task_rew = _task_rewards_field(task_rewards, n)
        _check_all_finite(
            obs, act, rew, nobs, goal_arr, {"physics": phys, "task_rewards": task_rew}
        )
        if action_bounds is not None:
            act = check_action_bounds(act, action_bounds, clip_actions)
        tout = close_open_end(term, tout, allow_open_end)
        first, last, episode_id = episode_bounds(term | tout)
        if nobs is None:
            nobs = _successors(obs, last, final_observations)
        return cls(
            **_on_device(obs, act, rew, term, tout, nobs, goal_arr, phys, task_rew),
            **_episode_index(first, last, episode_id),
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
    def task_names(self) -> tuple[str, ...]:
        """The names of the ``task_rewards`` entries, sorted (``()`` when there are none)."""
        return tuple(sorted(self.task_rewards or {}))

    @property
    def episode_lengths(self) -> np.ndarray:
        """Host ``[num_episodes]`` int array of episode lengths (rows), in row order."""
        _, last, _ = episode_bounds(np.asarray(self.terminals | self.timeouts))
        first = np.concatenate([[0], last[:-1] + 1])
        return (last - first + 1).astype(np.int64)

    @property
    def episode_returns(self) -> np.ndarray:
        """Host ``[num_episodes]`` float64 array of undiscounted episode returns, in row order."""
        ends = np.asarray(self.terminals | self.timeouts)
        _, _, episode_id = episode_bounds(ends)
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
        first, last, _ = episode_bounds(np.asarray(self.terminals | self.timeouts))
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
        """The stored fields as host arrays (``physics`` and ``task_rewards`` dicts; absent optional
        fields omitted)."""
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
        for field in NAMED_FIELDS:
            entries = getattr(self, field)
            if entries is not None:
                out[field] = _map_entries(np.asarray, entries)
        return out

    def select_rows(self, rows: np.ndarray) -> Dataset:
        """A new dataset made of ``rows`` (host int array); they must form whole episodes."""
        rows = np.asarray(rows, dtype=np.int64)
        return Dataset.create(**jax.tree.map(lambda v: v[rows], self.to_numpy()))

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
        _, _, episode_id = episode_bounds(np.asarray(self.terminals | self.timeouts))
        row_train = in_train[episode_id]
        return (
            self.select_rows(np.flatnonzero(row_train)),
            self.select_rows(np.flatnonzero(~row_train)),
        )

    def num_rows_with_remaining(self, steps: int) -> int:
        """How many rows have at least ``steps`` more rows after them in their episode (host)."""
        rem = np.asarray(self.remaining_sorted)
        return int(rem.size - np.searchsorted(rem, steps, side="left"))


# --- the steps of Dataset.create (host numpy; each raises DatasetError naming the field) --------


def _core_fields(
    observations: Any, actions: Any, rewards: Any, terminals: Any, timeouts: Any
) -> tuple[np.ndarray, ...]:
    """The five required fields as host arrays: numeric, one row per step, rewards ``[N]``, flags
    boolean ``[N]``."""
    obs = as_numeric("observations", observations)
    n = obs.shape[0]
    if n == 0:
        raise DatasetError("observations: the dataset is empty (0 rows)")
    act = as_numeric("actions", actions)
    rew = as_numeric("rewards", rewards)
    for name, arr in (("actions", act), ("rewards", rew)):
        check_rows(name, arr, n)
    if rew.ndim != 1:
        raise DatasetError(f"rewards: expected shape ({n},), got {rew.shape}")
    term_raw = as_numeric("terminals", terminals)
    tout_raw = as_numeric("timeouts", timeouts)
    check_rows("terminals", term_raw, n)
    check_rows("timeouts", tout_raw, n)
    return obs, act, rew, as_flags("terminals", term_raw, n), as_flags("timeouts", tout_raw, n)


def _next_observations_field(
    next_observations: Any, obs: np.ndarray, final_observations: Any
) -> np.ndarray | None:
    """``next_observations`` checked against ``observations`` (rows, per-row shape, dtype), or
    ``None`` when it is to be derived (then only ``final_observations`` may be given)."""
    if next_observations is None:
        return None
    nobs = as_numeric("next_observations", next_observations)
    check_rows("next_observations", nobs, obs.shape[0])
    if nobs.shape[1:] != obs.shape[1:]:
        raise DatasetError(
            f"next_observations: per-row shape {nobs.shape[1:]} differs from "
            f"observations {obs.shape[1:]}"
        )
    if canonical_dtype(nobs.dtype) != canonical_dtype(obs.dtype):
        raise DatasetError(
            f"next_observations: dtype {nobs.dtype} differs from observations {obs.dtype}"
        )
    if final_observations is not None:
        raise DatasetError("final_observations: only used when next_observations is not given")
    return nobs


def _per_row(name: str, value: Any, n: int) -> np.ndarray:
    arr = as_numeric(name, value)
    check_rows(name, arr, n)
    return arr


def _named_field(
    field: str, entries: Mapping[str, Any] | None, n: int
) -> dict[str, np.ndarray] | None:
    """The entries of a dict field (``physics``, ``task_rewards``): names are non-empty strings
    without ``/`` (files store them as ``<field>/<name>``), each value a numeric array with one
    row per step."""
    if entries is None:
        return None
    out = {}
    for k, v in entries.items():
        if not isinstance(k, str) or not k or "/" in k:
            raise DatasetError(f"{field}: key {k!r} must be a non-empty string without '/'")
        out[k] = _per_row(f"{field}/{k}", v, n)
    return out


def _task_rewards_field(
    task_rewards: Mapping[str, Any] | None, n: int
) -> dict[str, np.ndarray] | None:
    """The ``task_rewards`` entries: a dict field whose values are ``[N]`` (one reward per row)."""
    out = _named_field("task_rewards", task_rewards, n)
    for k, v in (out or {}).items():
        if v.shape != (n,):
            raise DatasetError(
                f"task_rewards/{k}: expected shape ({n},) (one reward per row), got {v.shape}"
            )
    return out


def _map_entries(
    fn: Callable[[Any], Any], entries: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """``fn`` applied to every value of a dict field (``None`` stays ``None``)."""
    return None if entries is None else {k: fn(v) for k, v in entries.items()}


def _check_all_finite(
    obs: np.ndarray,
    act: np.ndarray,
    rew: np.ndarray,
    nobs: np.ndarray | None,
    goals: np.ndarray | None,
    named: Mapping[str, dict[str, np.ndarray] | None],
) -> None:
    """No NaN/Inf in any floating-point field (the first offending field is named); ``named``
    maps each dict field (``physics``, ``task_rewards``) to its entries."""
    fields = [("observations", obs), ("actions", act), ("rewards", rew)]
    fields += [("next_observations", nobs), ("goals", goals)]
    for field, entries in named.items():
        fields += [(f"{field}/{k}", v) for k, v in (entries or {}).items()]
    for name, arr in fields:
        if arr is not None:
            check_finite(name, arr)


def _successors(obs: np.ndarray, last: np.ndarray, final_observations: Any) -> np.ndarray:
    """``next_observations`` derived from the following row of each episode, the last row of
    episode ``e`` taking ``final_observations[e]``."""
    if final_observations is None:
        raise DatasetError(
            "next_observations: not given, so it is taken from the following row of the "
            f"same episode, but the last row of each episode has none: {rows_text(last)}; "
            "pass next_observations, or final_observations (one per episode)"
        )
    fin = as_numeric("final_observations", final_observations)
    if fin.shape != (last.size, *obs.shape[1:]):
        raise DatasetError(
            f"final_observations: expected shape {(last.size, *obs.shape[1:])} "
            f"(one per episode), got {fin.shape}"
        )
    check_finite("final_observations", fin)
    nobs = np.empty_like(obs)
    nobs[:-1] = obs[1:]
    nobs[last] = fin.astype(obs.dtype, copy=False)
    return nobs


def _on_device(
    obs: np.ndarray,
    act: np.ndarray,
    rew: np.ndarray,
    term: np.ndarray,
    tout: np.ndarray,
    nobs: np.ndarray,
    goals: np.ndarray | None,
    physics: dict[str, np.ndarray] | None,
    task_rewards: dict[str, np.ndarray] | None,
) -> dict[str, Any]:
    """The stored fields as device arrays (JAX's canonical dtypes; rewards and task rewards
    float32)."""

    def dev(x: np.ndarray) -> jax.Array:
        return jnp.asarray(x.astype(canonical_dtype(x.dtype), copy=False))

    def dev_f32(x: np.ndarray) -> jax.Array:
        return jnp.asarray(x.astype(np.float32, copy=False))

    return dict(
        observations=dev(obs),
        actions=dev(act),
        rewards=dev_f32(rew),
        terminals=jnp.asarray(term),
        timeouts=jnp.asarray(tout),
        next_observations=dev(nobs),
        goals=None if goals is None else dev(goals),
        physics=_map_entries(dev, physics),
        task_rewards=_map_entries(dev_f32, task_rewards),
    )


def _episode_index(first: np.ndarray, last: np.ndarray, episode_id: np.ndarray) -> dict[str, Any]:
    """The derived index fields: each row's episode start and end, and the rows ordered by the
    number of rows left in their episode (what the samplers search)."""
    ep_end = last[episode_id]
    remaining = ep_end - np.arange(episode_id.size)
    order = np.argsort(remaining, kind="stable")
    return dict(
        episode_start=jnp.asarray(first[episode_id].astype(np.int32)),
        episode_end=jnp.asarray(ep_end.astype(np.int32)),
        rows_by_remaining=jnp.asarray(order.astype(np.int32)),
        remaining_sorted=jnp.asarray(remaining[order].astype(np.int32)),
        num_episodes=int(last.size),
        max_episode_length=int((last - first + 1).max()),
    )


def from_transitions(
    transitions: Any,
    goals: Any = None,
    physics: Mapping[str, Any] | None = None,
    task_rewards: Mapping[str, Any] | None = None,
    **create_kwargs: Any,
) -> Dataset:
    """A :class:`Dataset` from time-major rollouts ``[T, N, ...]`` (a
    :class:`jaxrl.types.Transition` from :func:`jaxrl.rollout.collect`, or anything with
    ``obs``, ``action``, ``reward``, ``terminated``, ``truncated`` and ``next_obs``).

    Each environment's stream becomes consecutive rows (env-major). The last step of every
    stream that did not end by itself is marked as a timeout (collection stopped there), so no
    episode runs into the next environment's data. ``goals``/``physics`` arrays are ``[T, N,
    ...]`` too, ``task_rewards`` arrays ``[T, N]``. ``action`` is the action the env received
    (``raw_action`` is ignored).
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
        physics=_map_entries(rows, physics),
        task_rewards=_map_entries(rows, task_rewards),
        **create_kwargs,
    )


def concatenate(datasets: Sequence[Dataset]) -> Dataset:
    """The rows of several datasets one after another; each keeps its own episodes. All must
    have the same optional fields (goals, physics keys, task names)."""
    if not datasets:
        raise DatasetError("concatenate: no datasets given")
    arrays = [d.to_numpy() for d in datasets]
    first = _fields_text(arrays[0])
    for i, a in enumerate(arrays[1:], start=1):
        if _fields_text(a) != first:
            raise DatasetError(
                f"concatenate: dataset {i} has {_fields_text(a)}, dataset 0 has {first}"
            )
    return Dataset.create(**jax.tree.map(lambda *xs: np.concatenate(xs), *arrays))


def _fields_text(data: Mapping[str, Any]) -> str:
    """``"fields [...] (physics [...], task_rewards [...])"``: the fields of ``to_numpy`` output
    and the names of each dict field's entries."""
    names = ", ".join(f"{k} {sorted(data.get(k, {}))}" for k in NAMED_FIELDS)
    return f"fields {sorted(data)} ({names})"
