"""Our own ``.npz`` format: every field of a :class:`~jaxrl.data.Dataset`, physics entries as
``physics/<name>``, the format tag ``__format__`` and the JSON card ``__card__``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxrl.data.dataset import Dataset
from jaxrl.data.validation import DatasetError

PathLike = str | os.PathLike

NPZ_FORMAT = "jaxrl.dataset/1"

CORE_FIELDS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")


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
    ``next_observations``, optional ``goals``, ``physics/<name>`` per physics entry, ``__format__``
    (``"jaxrl.dataset/1"``) and, when given, ``__card__``: the card (a dict describing how the data
    was made) as a JSON string; read it back with :func:`load_card`.
    """
    data = dataset.to_numpy()
    arrays: dict[str, np.ndarray] = {k: data[k] for k in CORE_FIELDS}
    if "goals" in data:
        arrays["goals"] = data["goals"]
    for k, v in data.get("physics", {}).items():
        arrays[f"physics/{k}"] = v
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
    """
    with np.load(path, allow_pickle=False) as f:
        files = set(f.files)
        missing = [k for k in CORE_FIELDS if k not in files]
        if missing:
            raise DatasetError(f"{os.fspath(path)}: missing {', '.join(missing)}")
        kwargs: dict[str, Any] = {k: f[k] for k in CORE_FIELDS}
        if "goals" in files:
            kwargs["goals"] = f["goals"]
        physics = {k.split("/", 1)[1]: f[k] for k in f.files if k.startswith("physics/")}
    if physics:
        kwargs["physics"] = physics
    return Dataset.create(**kwargs, **create_kwargs)
