"""Full-state checkpoints with orbax's ``CheckpointManager``.

A checkpoint holds the *whole* training state (parameters, optimiser state, normalisers, env
states, RNG keys, counters) plus a JSON record of the run: agent, env, config, chunk layout, how
many metric rows it covers and a signature of every array (path, shape, dtype). Orbax writes each
checkpoint to a temporary folder and renames it when complete, so an interrupted save never
replaces a good checkpoint. Resuming checks the signature first and says exactly what differs.

The metric history itself is not copied into every checkpoint: :class:`History` appends one row
per chunk to ``history.jsonl`` in the checkpoint folder, and a record refers to its first
``history_rows`` rows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from jaxrl.loggers import JsonlLogger, read_jsonl

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used for this run (incompatible, or every checkpoint damaged)."""


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_storable(state: Any) -> Any:
    """What orbax can store: typed PRNG keys become their raw uint32 data, and empty arrays (MJX
    states have some, e.g. ``data.act`` of a model without activations) a one-element
    placeholder; their shape and dtype come back from the restore target."""

    def store(x: Any) -> Any:
        if _is_key(x):
            return jax.random.key_data(x)
        if np.size(x) == 0:
            return np.zeros((1,), np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype)
        return x

    return jax.tree.map(store, state)


def _from_storable(stored: Any, like: Any) -> Any:
    def back(x, ref):
        if _is_key(ref):
            return jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref))
        if np.size(ref) == 0:
            return jnp.zeros(np.shape(ref), ref.dtype)
        return x

    return jax.tree.map(back, stored, like)


def signature(state: Any) -> list[list[Any]]:
    """``[path, shape, dtype]`` of every leaf: what must match for a state to be restored."""
    out = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        dtype = str(leaf.dtype) if hasattr(leaf, "dtype") else type(leaf).__name__
        out.append([jax.tree_util.keystr(path), list(np.shape(leaf)), dtype])
    return out


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.ndarray, jax.Array)):
        return _json_safe(np.asarray(x).tolist())
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def config_record(config: Any) -> dict[str, Any]:
    """A JSON-safe dict of a (possibly stacked) config's fields."""
    if dataclasses.is_dataclass(config):
        return {f.name: _json_safe(getattr(config, f.name)) for f in dataclasses.fields(config)}
    return {"repr": repr(config)}


class Checkpointer:
    """Saves and restores whole training states in ``directory`` (one sub-folder per env step).

    Args:
        directory: where checkpoints live (created if missing).
        keep: how many of the most recent checkpoints to keep.
        async_save: write in orbax's background thread. Off by default: the driver donates the
            state to the next chunk right after saving, and a notebook kernel's running event
            loop makes orbax's asynchronous machinery hang intermittently (seen in CI). States
            are copied to the host before saving, so a synchronous save costs one device-to-host
            copy and a small write per checkpoint.
    """

    def __init__(self, directory: str | os.PathLike[str], keep: int = 3, async_save: bool = False):
        self.directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, enable_async_checkpointing=async_save, create=True
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        """Env steps of the checkpoints on disk, oldest first."""
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, record: dict[str, Any]) -> None:
        """Write ``state`` and ``record`` (JSON) as the checkpoint for ``step``."""
        record = _json_safe({**record, "signature": signature(state), "step": step})
        state = jax.device_get(state)  # host copies: nothing refers to (donated) device buffers
        if step in self._manager.all_steps():
            # Only reached when a resume skipped this (damaged) checkpoint and retrained the step.
            self._manager.wait_until_finished()
            self._manager.delete(step)
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_to_storable(state)),
                record=ocp.args.JsonSave(record),
            ),
            force=True,
        )

    def read_record(self, step: int) -> dict[str, Any]:
        """The JSON record of the checkpoint at ``step``."""
        return self._manager.restore(
            step, args=ocp.args.Composite(record=ocp.args.JsonRestore())
        ).record

    def restore(
        self, like: Any, step: int | None = None, expect: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Restore the newest usable checkpoint (or the one at ``step``) into the structure of
        ``like``. A damaged newest checkpoint is reported and the previous one is used.
        ``expect`` maps record fields (agent, env, seeds ...) to the values this run has; a
        difference is an error that names the field.

        Raises:
            CheckpointError: no checkpoint, an incompatible one (names what differs), or every
                checkpoint damaged.
        """
        steps = [step] if step is not None else self.steps()[::-1]
        if not steps:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        expected = signature(like)
        problems = []
        for s in steps:
            try:
                record = self.read_record(s)
            except Exception as e:  # damaged JSON / missing files
                problems.append(f"step {s}: unreadable record ({type(e).__name__}: {e})")
                log.warning("checkpoint %s/%s is damaged, trying an older one", self.directory, s)
                continue
            for field, value in (expect or {}).items():
                stored = record.get(field)
                if json_equal(stored, value):
                    continue
                if isinstance(stored, dict) and isinstance(value, dict):
                    diffs = [
                        f"{field}.{k}={stored.get(k)!r} in the checkpoint, {value.get(k)!r} here"
                        for k in sorted(set(stored) | set(value))
                        if not json_equal(stored.get(k), value.get(k))
                    ]
                else:
                    diffs = [f"{field}={stored!r} in the checkpoint, {value!r} here"]
                raise CheckpointError(
                    f"checkpoint {self.directory}/{s} belongs to another run: " + "; ".join(diffs)
                )
            check_compatible(record.get("signature", []), expected, self.directory, s)
            stored_like = jax.tree.map(
                ocp.utils.to_shape_dtype_struct, _to_storable(jax.device_get(like))
            )
            try:
                restored = self._manager.restore(
                    s,
                    args=ocp.args.Composite(state=ocp.args.StandardRestore(stored_like)),
                ).state
            except Exception as e:
                problems.append(f"step {s}: unreadable arrays ({type(e).__name__}: {e})")
                log.warning("checkpoint %s/%s is damaged, trying an older one", self.directory, s)
                continue
            return _from_storable(restored, like), record
        raise CheckpointError(
            f"no usable checkpoint in {self.directory}:\n  " + "\n  ".join(problems)
        )

    def wait(self) -> None:
        """Block until background saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()


class History:
    """The metric rows of a checkpointed run: ``<directory>/history.jsonl``, one JSON line per
    chunk (``{"step": ..., **metrics}``, NaN written as null), appended as each chunk finishes.

    A checkpoint record says how many rows it covers (``history_rows``), so a save costs the same
    at any run length. Resuming from the checkpoint at ``step`` truncates the file to the rows up
    to ``step`` (dropping rows of chunks trained after it, e.g. after a damaged newer checkpoint)
    and reads them back exactly (floats round-trip through their shortest repr).
    """

    FILE = "history.jsonl"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = os.path.join(os.path.abspath(os.fspath(directory)), self.FILE)
        self._writer = JsonlLogger(self.path)

    def start(self) -> None:
        """Forget the rows of an earlier run in this folder (a run that does not resume)."""
        self._writer.close()
        if os.path.exists(self.path):
            os.remove(self.path)

    def append(self, step: int, row: dict[str, Any]) -> None:
        """Add the row of the chunk that ended at env step ``step`` (before its checkpoint)."""
        self._writer.log(step, row)

    def restore(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows a checkpoint ``record`` covers, NaN restored; later rows leave the file.

        Raises:
            CheckpointError: the file lacks rows the checkpoint covers.
        """
        if "history" in record:  # written before histories moved out of the record
            rows = record["history"]
            self.start()
            for row in rows:  # later records count these rows
                self._writer.log(row["step"], {k: v for k, v in row.items() if k != "step"})
        else:
            step, count = int(record["step"]), int(record["history_rows"])
            self._writer.rewind(step)
            rows = read_jsonl(self.path) if os.path.exists(self.path) else []
            if len(rows) != count or (count and rows[-1].get("step") != step):
                end = f" ending at step {rows[-1].get('step')}" if rows else ""
                raise CheckpointError(
                    f"{self.path} does not match the checkpoint at step {step}: it needs "
                    f"{count} rows ending at that step, the file has {len(rows)} rows{end}"
                )
        return [_none_to_nan(r) for r in rows]

    def close(self) -> None:
        self._writer.close()


def _none_to_nan(row: dict[str, Any]) -> dict[str, Any]:
    def back(v: Any) -> Any:
        if isinstance(v, list):
            return [back(x) for x in v]
        return float("nan") if v is None else v

    return {k: back(v) for k, v in row.items()}


def json_equal(a: Any, b: Any) -> bool:
    """Equality after a JSON round trip (tuples become lists, NaN becomes None)."""
    return json.loads(json.dumps(_json_safe(a), default=str)) == json.loads(
        json.dumps(_json_safe(b), default=str)
    )


def check_compatible(
    stored: list[list[Any]], expected: list[list[Any]], directory: str, step: int
) -> None:
    """Raise :class:`CheckpointError` listing the first differences between two signatures."""
    stored_map = {p: (tuple(s), d) for p, s, d in stored}
    expected_map = {p: (tuple(s), d) for p, s, d in expected}
    diffs = []
    for p in expected_map:
        if p not in stored_map:
            diffs.append(f"{p}: missing in the checkpoint")
        elif stored_map[p] != expected_map[p]:
            (s1, d1), (s2, d2) = stored_map[p], expected_map[p]
            diffs.append(f"{p}: checkpoint has shape {list(s1)} {d1}, this run {list(s2)} {d2}")
    diffs += [f"{p}: not in this run's state" for p in stored_map if p not in expected_map]
    if diffs:
        more = f"\n  ... and {len(diffs) - 8} more" if len(diffs) > 8 else ""
        raise CheckpointError(
            f"checkpoint {directory}/{step} does not fit this run's state (another agent, env or "
            f"config shapes?):\n  " + "\n  ".join(diffs[:8]) + more
        )
