"""Validation and JSON round trip shared by every agent's ``Config``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def check_ranges(config: Any, ranges: Iterable[tuple[str, float, float | None]]) -> None:
    """Raise a ``ValueError`` naming the field, the value and the range when a dynamic field's
    concrete value lies outside ``[low, high]`` (``high=None``: no upper bound).

    Traced values (inside ``jit``) and stacked ones (a sweep's ``[settings]`` axis) are skipped:
    sweeps validate each setting on the host before stacking.
    """
    for name, low, high in ranges:
        value = getattr(config, name)
        if isinstance(value, jax.core.Tracer) or jnp.ndim(value) != 0:
            continue
        value = float(value)
        if value < low or (high is not None and value > high):
            bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise ValueError(f"Config.{name} must be {bound}, got {value}")


def to_json(config: Any) -> dict[str, Any]:
    """A dataclass ``Config`` (static and dynamic fields) as JSON-ready values: arrays and numpy
    scalars become Python numbers or lists, tuples become lists. :func:`from_json` inverts it."""

    def plain(x: Any) -> Any:
        if isinstance(x, tuple | list):
            return [plain(v) for v in x]
        if isinstance(x, np.ndarray | np.generic | jax.Array):
            return np.asarray(x).tolist()
        return x

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def from_json(cls: type, data: Mapping[str, Any], what: str = "config") -> Any:
    """Rebuild ``cls`` (a dataclass ``Config``) from :func:`to_json`'s output: lists become
    tuples, missing fields keep their defaults.

    Raises:
        ValueError: ``data`` names a field ``cls`` does not have (``what`` names the source).
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"{what}: {cls.__module__}.{cls.__qualname__} has no field(s) {', '.join(unknown)}"
        )

    def back(x: Any) -> Any:
        return tuple(back(v) for v in x) if isinstance(x, list) else x

    return cls(**{k: back(v) for k, v in data.items()})
