"""Our own ``.npz`` format: every field of a :class:`~jaxrl.data.Dataset`, the entries of its dict
fields as ``physics/<name>`` and ``task_rewards/<name>``, the format tag ``__format__`` and the
JSON card ``__card__``.

:func:`read_npz` and :func:`npz_members` are the guarded ways to open any ``.npz`` (ours and
OGBench's): a truncated, damaged or foreign file raises a :class:`DatasetError` naming the path
and the cause instead of a bare ``zipfile.BadZipFile``."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxrl.data.dataset import NAMED_FIELDS, Dataset
from jaxrl.data.validation import DatasetError

PathLike = str | os.PathLike

NPZ_FORMAT = "jaxrl.dataset/1"

CORE_FIELDS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")


_MISSING = (FileNotFoundError, IsADirectoryError, PermissionError)
"""OS errors that already name the path and mean what they say: passed through unchanged."""

_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
"""What reading a truncated or damaged archive raises."""


def _unreadable(path: str, error: Exception, member: str | None = None) -> DatasetError:
    """The :class:`DatasetError` for an archive that cannot be read, naming path and cause."""
    where = f"{path}: member {member!r}:" if member is not None else f"{path}:"
    damaged = "truncated or damaged: " if isinstance(error, _DAMAGED) else ""
    return DatasetError(
        f"{where} not a readable .npz archive ({damaged}{type(error).__name__}: {error})"
    )


def _open_npz(path: str) -> np.lib.npyio.NpzFile:
    with open(path, "rb") as fh:  # missing files raise FileNotFoundError here, naming the path
        head = fh.read(8)
    if not head.startswith(b"PK"):  # numpy would take anything else for a pickle or an .npy
        what = "empty file" if not head else f"no zip signature; the file starts with {head!r}"
        raise DatasetError(f"{path}: not a readable .npz archive ({what})")
    try:
        f = np.load(path, allow_pickle=False)
    except _MISSING:
        raise
    except (*_DAMAGED, ValueError) as e:
        raise _unreadable(path, e) from e
    return f


def npz_members(path: PathLike) -> set[str]:
    """The member names of the ``.npz`` archive at ``path`` (nothing is read).

    Raises:
        DatasetError: the file is not a readable ``.npz`` archive (truncated, damaged, another
            format); the message names the path and the cause.
    """
    path = os.fspath(path)
    with _open_npz(path) as f:
        return set(f.files)


def read_npz(path: PathLike, select: Callable[[str], bool] | None = None) -> dict[str, np.ndarray]:
    """The members of the ``.npz`` archive at ``path`` (those whose name ``select`` accepts;
    all without it), read now (no pickles).

    Raises:
        DatasetError: the file, or one of its members, cannot be read (truncated, damaged, an
            object array, not an archive); the message names the path, the member and the
            cause, e.g. ``x.npz: not a readable .npz archive (truncated or damaged:
            BadZipFile: File is not a zip file)``.
        FileNotFoundError: no file at ``path``.
    """
    path = os.fspath(path)
    with _open_npz(path) as f:
        out: dict[str, np.ndarray] = {}
        for k in f.files:
            if select is not None and not select(k):
                continue
            try:
                out[k] = f[k]
            except (*_DAMAGED, ValueError) as e:
                raise _unreadable(path, e, k) from e
    return out


def card_json(card: Mapping[str, Any] | None) -> str | None:
    """The card as a JSON string (``None`` for no card); a ValueError when it cannot be one."""
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
    ``next_observations``, optional ``goals``, ``physics/<name>`` per physics entry,
    ``task_rewards/<name>`` per task, ``__format__`` (``"jaxrl.dataset/1"``) and, when given,
    ``__card__``: the card (a dict describing how the data was made) as a JSON string; read it
    back with :func:`load_card`.
    """
    data = dataset.to_numpy()
    arrays: dict[str, np.ndarray] = {k: data[k] for k in CORE_FIELDS}
    if "goals" in data:
        arrays["goals"] = data["goals"]
    arrays.update(flatten_named(data))
    arrays["__format__"] = np.asarray(NPZ_FORMAT)
    text = card_json(card)
    if text is not None:
        arrays["__card__"] = np.asarray(text)
    with open(path, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **arrays)


def load_npz(path: PathLike, **create_kwargs: Any) -> Dataset:
    """Read a dataset written by :func:`save_npz` (validated by :meth:`Dataset.create`).

    ``create_kwargs`` (``action_bounds``, ``clip_actions``, ``allow_open_end``) go to
    :meth:`Dataset.create`.

    Raises:
        DatasetError: the file is not a readable archive (:func:`read_npz`), misses a field, or
            its fields fail validation; the message names the path or the field.
    """
    path = os.fspath(path)
    arrays = read_npz(path, lambda k: k in CORE_FIELDS or k == "goals" or _is_named(k))
    missing = [k for k in CORE_FIELDS if k not in arrays]
    if missing:
        raise DatasetError(f"{path}: missing {', '.join(missing)}")
    kwargs: dict[str, Any] = {k: arrays[k] for k in CORE_FIELDS}
    if "goals" in arrays:
        kwargs["goals"] = arrays["goals"]
    kwargs.update(unflatten_named(arrays))
    return Dataset.create(**kwargs, **create_kwargs)


def flatten_named(data: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The entries of the dict fields of ``data`` (:meth:`Dataset.to_numpy` output) under flat
    names ``<field>/<name>`` (``physics/qpos``, ``task_rewards/run``), as files store them."""
    return {f"{field}/{k}": v for field in NAMED_FIELDS for k, v in data.get(field, {}).items()}


def unflatten_named(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The inverse of :func:`flatten_named`: ``{field: {name: array}}`` from the ``<field>/<name>``
    members of ``arrays`` (other members ignored; a field without members left out)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, v in arrays.items():
        if _is_named(key):
            field, _, name = key.partition("/")
            out.setdefault(field, {})[name] = v
    return out


def _is_named(key: str) -> bool:
    """Whether ``key`` is a ``<field>/<name>`` member of a dict field."""
    field, _, name = key.partition("/")
    return field in NAMED_FIELDS and bool(name)
