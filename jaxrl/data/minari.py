"""Minari datasets (Farama's maintained successor of D4RL), read and written with Minari itself.

Minari's layout
---------------
A dataset with id ``(namespace/)name-vN`` lives in ``<root>/<id>/data/``, where ``<root>`` is
``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``. The ``data/`` folder holds ``metadata.json``
(dataset id, ``data_format``, the serialised observation and action spaces, the env spec, optional
reference scores) and the episodes, either in one ``main_data.hdf5`` (``data_format: "hdf5"``) or
as one Arrow/Parquet folder per episode (``"arrow"``/``"parquet"``, which need ``pyarrow``). Each
episode of ``N`` steps stores ``N + 1`` observations (the reset observation first, the final
observation last), ``N`` actions, rewards, ``terminations`` and ``truncations``. The files are read
and written by Minari's own classes (:class:`minari.MinariDataset`,
:func:`minari.create_dataset_from_buffers`), never parsed here, so every storage format Minari
supports works.

Our mapping
-----------
Episode by episode, step ``i = 0 .. N-1`` becomes a row with ``observations[i]``,
``actions[i]``, ``rewards[i]``, ``next_observations[i] = observations[i + 1]`` (at the episode's
last step the true final observation), ``terminals = terminations`` and ``timeouts =
truncations`` (kept as stored: a step with both flags keeps both, and ``terminals`` wins). An
episode whose last step has neither flag (collection stopped mid-episode) gets ``timeouts`` set on
that step, with a :class:`~jaxrl.data.DatasetWarning`, so it still ends there.

Spaces: ``Box``, ``Discrete``, ``MultiDiscrete`` and ``MultiBinary`` observations and actions are
read as numeric arrays; ``Discrete`` actions become ``int32`` scalars per row (our discrete
convention, :class:`jaxrl.types.Discrete`), kept as stored (values ``start .. start + n - 1``).
Structured spaces (``Dict``, ``Tuple``, text, graphs) are refused with a
:class:`~jaxrl.data.DatasetError` naming the space: flattening them would lose their structure
(e.g. the goals of goal-conditioned mazes), so that is left to the caller.

``minari`` is an optional dependency (``pip install "jaxrl[minari]"``), imported only when a Minari
dataset is read or written.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import warnings
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

from jaxrl.data.dataset import Dataset
from jaxrl.data.npz import PathLike
from jaxrl.data.validation import (
    DatasetError,
    DatasetWarning,
    bad_rows,
    episode_bounds,
    rows_text,
)

METADATA_FILE = "metadata.json"

# A Minari dataset id, ``(namespace/)name(-vN)``: path components of word characters and dashes
# only (no absolute paths, no ``..``), so an id can be looked up under the datasets root safely.
_ID_RE = re.compile(r"^[-\w]+(?:/[-\w]+)*$")
# What :func:`save_minari` accepts: Minari needs the version suffix to create a dataset.
_WRITABLE_ID_RE = re.compile(r"^(?:[-\w]+/)*[-\w]+-v\d+$")

# The reminders Minari prints when optional metadata is not given; save_minari leaves them out.
_MINARI_NAGS = r".*(is set to None|env_spec is None).*"


# --------------------------------------------------------------------------- locating datasets


def datasets_root() -> pathlib.Path:
    """Where Minari keeps datasets: ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``."""
    root = os.environ.get("MINARI_DATASETS_PATH")
    if root is None:
        return pathlib.Path.home() / ".minari" / "datasets"
    return pathlib.Path(root)


def _is_data_folder(folder: pathlib.Path) -> bool:
    """True when ``folder`` holds a Minari dataset-level ``metadata.json`` (one naming a
    ``data_format``; the per-episode Arrow folders have a ``metadata.json`` without it)."""
    meta = folder / METADATA_FILE
    if not meta.is_file():
        return False
    try:
        with open(meta) as f:
            content = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and "data_format" in content


def _folder_data(folder: pathlib.Path) -> pathlib.Path | None:
    """The ``data/`` folder of a dataset folder, or the folder itself when it is one."""
    if _is_data_folder(folder):
        return folder
    if _is_data_folder(folder / "data"):
        return folder / "data"
    return None


def find_minari_data(path_or_id: PathLike) -> pathlib.Path | None:
    """The Minari ``data/`` folder that ``path_or_id`` names, or ``None`` when it names none.

    An existing directory is checked as a dataset folder (holding ``data/``) or as its ``data/``
    subfolder. A string that is not an existing path and looks like a dataset id is looked up as
    ``<root>/<id>/data`` (:func:`datasets_root`). Only the local file system is consulted; nothing
    is downloaded and Minari is not imported.
    """
    text = os.fspath(path_or_id)
    path = pathlib.Path(text)
    if path.is_dir():
        return _folder_data(path)
    if path.exists() or not looks_like_id(text):
        return None
    candidate = datasets_root() / text / "data"
    return candidate if _is_data_folder(candidate) else None


def looks_like_id(text: str) -> bool:
    """Whether ``text`` has the shape of a Minari dataset id (``(namespace/)name(-vN)``)."""
    return bool(_ID_RE.match(text))


def _require_data_folder(path_or_id: PathLike) -> pathlib.Path:
    """:func:`find_minari_data`, raising when there is no dataset there: FileNotFoundError for a
    path or id that does not exist, DatasetError for an existing path that is not a dataset."""
    folder = find_minari_data(path_or_id)
    if folder is not None:
        return folder
    text = os.fspath(path_or_id)
    expected = (
        "expected a Minari dataset folder holding data/ with its metadata.json, that data/ "
        "folder itself, or a dataset id under "
        f"MINARI_DATASETS_PATH={os.environ.get('MINARI_DATASETS_PATH', '(unset)')} "
        f"(looked in {datasets_root()}; nothing is downloaded)"
    )
    if os.path.exists(text):
        raise DatasetError(f"no Minari dataset at {text} ({expected})")
    raise FileNotFoundError(f"no Minari dataset at {text} ({expected})")


def _import_minari() -> ModuleType:
    """``minari``, or an ImportError saying how to install it."""
    try:
        import minari
    except ImportError as e:
        raise ImportError(
            'Minari datasets need the optional dependency minari: pip install "jaxrl[minari]"'
        ) from e
    return minari


def _open(path_or_id: PathLike) -> Any:
    """The :class:`minari.MinariDataset` at a path or local id (never downloaded)."""
    folder = _require_data_folder(path_or_id)
    minari = _import_minari()
    try:
        return minari.MinariDataset(folder)
    except ValueError as e:  # unsupported dataset version, missing files, ...
        raise DatasetError(f"{folder}: Minari could not read the dataset ({e})") from e


# --------------------------------------------------------------------------- reading


def load_minari(path_or_id: PathLike, **create_kwargs: Any) -> Dataset:
    """Read a local Minari dataset into a validated :class:`Dataset` (mapping in the module doc).

    Args:
        path_or_id: the dataset folder (the one holding ``data/``), its ``data/`` folder, or a
            dataset id such as ``"mujoco/pendulum/random-v0"`` looked up under
            ``$MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``). Nothing is downloaded.
        create_kwargs: passed to :meth:`Dataset.create` (``action_bounds``, ``clip_actions``).

    An episode whose last step is neither a termination nor a truncation (collection stopped
    mid-episode) has ``timeouts`` set on its last row, with a :class:`DatasetWarning`.

    Raises:
        ImportError: ``minari`` is not installed.
        FileNotFoundError: nothing exists at the path, and no local dataset has that id.
        DatasetError: the path holds no Minari dataset, Minari cannot read it, a space is not an
            array space (``Dict``, ``Tuple``, ...), an episode is malformed, or the data fails the
            checks of :meth:`Dataset.create`.
    """
    source = _open(path_or_id)  # imports minari, so gymnasium (its dependency) is there
    from gymnasium import spaces

    where = str(source.storage.data_path)
    _check_space(where, "observation_space", source.observation_space)
    _check_space(where, "action_space", source.action_space)
    discrete = isinstance(source.action_space, spaces.Discrete)
    fields = _rows(where, source.iterate_episodes(), discrete)
    return Dataset.create(**fields, **create_kwargs)


def _check_space(where: str, name: str, space: Any) -> None:
    """Refuse spaces whose samples are not plain arrays (``Dict``, ``Tuple``, ...)."""
    from gymnasium import spaces

    array_spaces = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
    if not isinstance(space, array_spaces):
        names = ", ".join(t.__name__ for t in array_spaces)
        raise DatasetError(
            f"{where}: {name} is {space}, which is not supported (only {names}: observations "
            "and actions must be numeric arrays); flatten the episodes yourself, e.g. with "
            "gymnasium.spaces.flatten"
        )


def _rows(where: str, episodes: Iterable[Any], discrete: bool) -> dict[str, np.ndarray]:
    """The fields of :meth:`Dataset.create` from Minari episodes (empty episodes are skipped)."""
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts", "nobs")
    }
    opened: list[int] = []
    for ep in episodes:
        rows = _episode_rows(where, ep)
        if rows is None:
            continue
        if not (rows["terminals"][-1] or rows["timeouts"][-1]):
            rows["timeouts"][-1] = True
            opened.append(int(ep.id))
        for k, v in rows.items():
            parts[k].append(v)
    if not parts["rewards"]:
        raise DatasetError(f"{where}: the Minari dataset has no steps")
    if opened:
        warnings.warn(
            f"{where}: {len(opened)} episode(s) end with neither a termination nor a truncation "
            f"(ids {opened[:10]}{', ...' if len(opened) > 10 else ''}); their last step is "
            "treated as a timeout",
            DatasetWarning,
            stacklevel=3,
        )
    out = {k: np.concatenate(v) for k, v in parts.items()}
    if discrete:
        out["actions"] = out["actions"].astype(np.int32)
    out["next_observations"] = out.pop("nobs")
    return out


def _episode_rows(where: str, ep: Any) -> dict[str, np.ndarray] | None:
    """One episode's rows (``None`` for an episode without steps); DatasetError on a shape that
    does not fit ``N + 1`` observations for ``N`` steps."""
    rewards = np.asarray(ep.rewards).reshape(-1)
    n = rewards.shape[0]
    if n == 0:
        return None
    obs = np.asarray(ep.observations)
    lengths = {
        "observations": (obs.shape[:1], (n + 1,)),
        "actions": (np.shape(ep.actions)[:1], (n,)),
        "terminations": (np.shape(ep.terminations), (n,)),
        "truncations": (np.shape(ep.truncations), (n,)),
    }
    for name, (got, want) in lengths.items():
        if got != want:
            raise DatasetError(
                f"{where}: episode {ep.id} has {n} rewards, so {name} should have "
                f"{want[0]} entries, but its shape is {got}"
            )
    return {
        "observations": obs[:-1],
        "actions": np.asarray(ep.actions),
        "rewards": rewards,
        "terminals": np.asarray(ep.terminations, bool).copy(),
        "timeouts": np.asarray(ep.truncations, bool).copy(),
        "nobs": obs[1:],
    }


def minari_card(path_or_id: PathLike) -> dict[str, Any]:
    """A card (JSON-ready dict) from a Minari dataset's metadata.

    Keys: ``source`` (``"minari"``), ``dataset_id``, ``total_steps``, ``total_episodes``,
    ``data_format``, ``minari_version``; when recorded, ``minari_env_id`` and
    ``max_episode_steps`` (from the env spec: a Gymnasium id, not a :mod:`jaxrl.envs` name, so
    it is not given as ``env``), ``algorithm_name``, ``description``, ``author``,
    ``code_permalink``, and the reference scores ``ref_min_score`` / ``ref_max_score``, also as
    ``random_return`` / ``expert_return`` (the names our cards use for normalised scores).
    """
    source = _open(path_or_id)
    meta = source.storage.metadata
    card: dict[str, Any] = {
        "source": "minari",
        "dataset_id": source.id,
        "total_steps": int(source.total_steps),
        "total_episodes": int(source.total_episodes),
        "data_format": meta.get("data_format"),
        "minari_version": source.minari_version,
    }
    if source.env_spec is not None:
        card["minari_env_id"] = source.env_spec.id
        card["max_episode_steps"] = source.env_spec.max_episode_steps
    for key in ("algorithm_name", "description", "code_permalink"):
        if key in meta:
            card[key] = meta[key]
    if "author" in meta:
        card["author"] = sorted(meta["author"])
    for key, ours in (("ref_min_score", "random_return"), ("ref_max_score", "expert_return")):
        if meta.get(key) is not None:
            card[key] = card[ours] = float(meta[key])
    return card


# --------------------------------------------------------------------------- writing


def save_minari(
    dataset: Dataset,
    dataset_id: str,
    *,
    root: PathLike | None = None,
    env_id: str | None = None,
    observation_space: Any | None = None,
    action_space: Any | None = None,
    data_format: str | None = None,
    **metadata: Any,
) -> pathlib.Path:
    """Write ``dataset`` as the Minari dataset ``dataset_id`` under ``root``.

    Episodes are split at our episode ends; each gets ``N + 1`` observations (the rows'
    observations, then the last row's ``next_observations``), and ``terminations`` /
    ``truncations`` from ``terminals`` / ``timeouts``. ``minari.load_dataset(dataset_id)`` reads it
    back with ``MINARI_DATASETS_PATH=root``. Written through
    :func:`minari.create_dataset_from_buffers`, without JPEG encoding of image observations (so
    nothing is lost).

    Not written: ``goals`` and ``physics`` (Minari has no per-row fields for them; a
    :class:`DatasetWarning` says so), and ``next_observations`` inside an episode that differ
    from the following row's observations (Minari stores one observation sequence per episode;
    a :class:`DatasetWarning` names the rows). ``task_rewards`` are refused rather than dropped
    (they are what a zero-shot dataset is for): save such a dataset with
    :func:`~jaxrl.data.save_npz` or :func:`~jaxrl.data.save_d4rl_hdf5`.

    Args:
        dataset: the dataset to write.
        dataset_id: ``(namespace/)name-vN`` (Minari needs the version suffix).
        root: the datasets root; default ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``.
            Minari reads the root from that variable only, so it is set while writing and then
            restored (do not write from several threads at once).
        env_id: a registered Gymnasium id recorded as the dataset's env (its spaces are used
            unless given); ``None`` records no env.
        observation_space, action_space: Gymnasium spaces; by default the env's, else derived
            from the data (:func:`space_for`: unbounded ``Box`` for floats, ``Discrete`` for
            integer scalar actions).
        data_format: ``"hdf5"`` (Minari's default) or ``"arrow"``/``"parquet"`` (need pyarrow).
        metadata: passed to :func:`minari.create_dataset_from_buffers` (``algorithm_name``,
            ``author``, ``description``, ``code_permalink``, ``ref_min_score``, ...).

    Returns:
        The dataset folder ``<root>/<dataset_id>`` (readable with :func:`jaxrl.data.load`).

    Raises:
        ImportError: ``minari`` is not installed.
        ValueError: ``dataset_id`` is not a versioned Minari id.
        FileExistsError: a dataset with that id already exists under ``root``.
        DatasetError: the dataset has ``task_rewards`` (Minari has no per-row field for them).
    """
    if dataset.task_rewards is not None:
        raise DatasetError(
            f"save_minari: task_rewards {list(dataset.task_names)} cannot be written (Minari has "
            "no per-row field for them); save with jaxrl.data.save_npz (task_rewards/<name> "
            "members) or save_d4rl_hdf5, which keep them"
        )
    minari = _import_minari()
    if not _WRITABLE_ID_RE.match(dataset_id):
        raise ValueError(
            f"save_minari: dataset_id {dataset_id!r} is not a Minari id "
            "'(namespace/)name-vN' (word characters and dashes, version suffix required)"
        )
    data = dataset.to_numpy()
    _warn_unwritten(data, dataset)
    if env_id is None and observation_space is None:
        observation_space = space_for(data["observations"], is_action=False)
    if env_id is None and action_space is None:
        action_space = space_for(data["actions"], is_action=True)
    buffers = list(_episode_buffers(data))
    with _datasets_root_set(root) as base:
        target = base / dataset_id
        if target.exists():
            raise FileExistsError(f"save_minari: {target} already exists (choose another id)")
        format_kwarg = {} if data_format is None else {"data_format": data_format}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_MINARI_NAGS, category=UserWarning)
            minari.create_dataset_from_buffers(
                dataset_id,
                buffers,
                env=env_id,
                observation_space=observation_space,
                action_space=action_space,
                jpeg_encoding=False,
                **format_kwarg,
                **metadata,
            )
    return target


def space_for(values: np.ndarray, *, is_action: bool) -> Any:
    """A Gymnasium space holding ``values`` (``[N, *shape]``): integer scalar actions give
    ``Discrete`` (from the smallest to the largest value seen); other integers and booleans an
    integer ``Box`` over the dtype's range; floats an unbounded ``Box``."""
    from gymnasium import spaces

    shape, dtype = values.shape[1:], values.dtype
    if dtype.kind in "iu" and is_action and shape == ():
        low, high = int(values.min()), int(values.max())
        return spaces.Discrete(high - low + 1, start=low)
    if dtype.kind == "b":
        return spaces.Box(False, True, shape, dtype=dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return spaces.Box(info.min, info.max, shape, dtype=dtype)
    return spaces.Box(-np.inf, np.inf, shape, dtype=dtype)


def _episode_buffers(data: dict[str, Any]) -> Iterator[Any]:
    """One :class:`minari.data_collector.EpisodeBuffer` per episode of ``data``."""
    from minari.data_collector import EpisodeBuffer

    first, last, _ = episode_bounds(data["terminals"] | data["timeouts"])
    for e, (a, b) in enumerate(zip(first, last + 1, strict=True)):
        obs = np.concatenate([data["observations"][a:b], data["next_observations"][b - 1 : b]])
        yield EpisodeBuffer(
            id=e,
            observations=obs,
            actions=data["actions"][a:b],
            rewards=data["rewards"][a:b].astype(np.float64),
            terminations=data["terminals"][a:b],
            truncations=data["timeouts"][a:b],
        )


def _warn_unwritten(data: dict[str, Any], dataset: Dataset) -> None:
    """Warn about what a Minari dataset cannot hold: goals, physics, and next observations inside
    an episode that are not the following row's observation."""
    dropped = [k for k in ("goals", "physics") if k in data]
    if dropped:
        warnings.warn(
            f"save_minari: {' and '.join(dropped)} not written (Minari has no field for them)",
            DatasetWarning,
            stacklevel=3,
        )
    if dataset.size < 2:
        return
    inner = ~(data["terminals"] | data["timeouts"])[:-1]
    obs, nobs = data["observations"], data["next_observations"]
    differ = np.intersect1d(bad_rows(nobs[:-1] != obs[1:]), np.flatnonzero(inner))
    if differ.size:
        warnings.warn(
            f"save_minari: next_observations differ from the following row's observations at "
            f"{rows_text(differ)}; Minari stores one observation sequence per episode, so the "
            "following rows' observations are written",
            DatasetWarning,
            stacklevel=3,
        )


@contextlib.contextmanager
def _datasets_root_set(root: PathLike | None) -> Iterator[pathlib.Path]:
    """``MINARI_DATASETS_PATH`` set to ``root`` (when given) for the block, then restored."""
    if root is None:
        yield datasets_root()
        return
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = os.fspath(root)
    try:
        yield pathlib.Path(root)
    finally:
        if before is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = before
