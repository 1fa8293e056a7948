"""Reading any supported source: :func:`load` picks the format from the file's contents (or
recognises a Minari dataset folder or local dataset id), and :func:`load_card` finds the JSON card
saved with a dataset (for Minari, one made from the dataset's metadata)."""

from __future__ import annotations

import json
import os
from typing import Any

from jaxrl.data.d4rl import load_d4rl_hdf5
from jaxrl.data.dataset import Dataset
from jaxrl.data.minari import (
    datasets_root,
    find_minari_data,
    load_minari,
    looks_like_id,
    minari_card,
)
from jaxrl.data.npz import PathLike, load_npz, npz_members, read_npz
from jaxrl.data.ogbench import load_ogbench_npz
from jaxrl.data.validation import DatasetError


def sniff(path: str) -> str:
    """``"hdf5"``, ``"npz"`` or ``"unknown"``, from the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"PK"):
        return "npz"
    return "unknown"


def _minari_source(path: str) -> bool:
    """Whether ``path`` is for :func:`load_minari`: a directory (only Minari datasets are
    folders), or a string that is no existing path but looks like a Minari dataset id and names
    one under the local datasets root."""
    if os.path.isdir(path):
        return True
    return not os.path.exists(path) and find_minari_data(path) is not None


def load(path: PathLike, **kwargs: Any) -> Dataset:
    """Load any supported source: HDF5 (D4RL-style) by signature or ``.h5``/``.hdf5`` extension;
    ``.npz`` as ours when it has ``__format__`` or ``rewards`` + ``timeouts``, else OGBench-style;
    a Minari dataset folder (or its ``data/`` folder), or the id of a Minari dataset stored
    locally (:func:`~jaxrl.data.minari.load_minari`; nothing is downloaded).

    ``kwargs`` go to the chosen loader.
    """
    path = os.fspath(path)
    if _minari_source(path):
        return load_minari(path, **kwargs)
    if not os.path.exists(path):
        minari = f", nor a Minari dataset id under {datasets_root()}" if looks_like_id(path) else ""
        raise FileNotFoundError(f"{path}: no such file or folder{minari}")
    kind = sniff(path)
    if kind == "hdf5" or (kind == "unknown" and path.endswith((".h5", ".hdf5"))):
        return load_d4rl_hdf5(path, **kwargs)
    if kind == "npz":
        files = npz_members(path)
        if "__format__" in files or {"rewards", "timeouts", "next_observations"} <= files:
            return load_npz(path, **kwargs)
        return load_ogbench_npz(path, **kwargs)
    raise DatasetError(f"{path}: not an .npz archive or an HDF5 file")


def load_card(path: PathLike) -> dict[str, Any] | None:
    """The JSON card saved with a dataset: inside an ``.npz`` (``__card__``), an HDF5 root attribute
    ``card``, or a sidecar ``<path>.json``; ``None`` when there is none. For a Minari dataset
    (folder or local id) the card is made from its metadata
    (:func:`~jaxrl.data.minari.minari_card`)."""
    path = os.fspath(path)
    if _minari_source(path):
        return minari_card(path)
    kind = sniff(path)
    if kind == "npz":
        arrays = read_npz(path, lambda name: name == "__card__")
        if "__card__" in arrays:
            return json.loads(str(arrays["__card__"]))
    elif kind == "hdf5":
        import h5py

        try:
            with h5py.File(path, "r") as f:
                text = f.attrs.get("card")
        except OSError as e:
            raise DatasetError(
                f"{path}: not a readable HDF5 file (truncated or damaged: {type(e).__name__}: {e})"
            ) from e
        if text is not None:
            return json.loads(text.decode() if isinstance(text, bytes) else str(text))
    sidecar = path + ".json"
    if os.path.exists(sidecar):
        with open(sidecar) as fh:
            return json.load(fh)
    return None
