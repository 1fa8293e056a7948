"""Full-state checkpoints with orbax's ``CheckpointManager``.

A checkpoint holds the *whole* training state (parameters, optimiser state, normalisers, env
states, RNG keys, counters) plus a JSON record of the run: agent, env, config, chunk layout, how
many metric rows it covers and a signature of every array (path, shape, dtype). Orbax writes each
checkpoint to a temporary folder and renames it when complete, so an interrupted save never
replaces a good checkpoint. Resuming checks the signature first and says exactly what differs.

The metric history itself is not copied into every checkpoint: :class:`History` appends one row
per chunk to ``history.jsonl`` in the checkpoint folder, and a record refers to its first
``history_rows`` rows.

A damaged checkpoint (cut-short array files, a broken record) is reported as one warning line
naming its folder and the cause, and the previous one is tried; orbax's and TensorStore's own
output about the failed read (absl log lines, "Event loop is closed" tracebacks from reads left
running when orbax closes its event loop) is kept off the screen (see :func:`_quiet_orbax`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from jaxrl import distributed
from jaxrl.loggers import JsonlLogger, read_jsonl

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used for this run (incompatible, or every checkpoint damaged)."""


# --- keeping a damaged checkpoint to one line ----------------------------------------------------

_ORBAX_LOGGERS = ("absl", "orbax", "tensorstore", "asyncio")
"""Loggers that orbax (through absl), TensorStore and orbax's event loop write to while a restore
fails."""

_TENSORSTORE_SPEC = re.compile(r"\s*\[tensorstore_spec=.*$|\s*See full TensorStore details:.*$")


def _cause(error: BaseException, limit: int = 300) -> str:
    """``Type: message`` of ``error`` on one line: the first line of the message, without the
    TensorStore spec (a long JSON document) that orbax appends, cut at ``limit`` characters."""
    lines = str(error).strip().splitlines()
    message = _TENSORSTORE_SPEC.sub("", lines[0] if lines else "")
    if len(message) > limit:
        message = message[: limit - 3] + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _is_orbax_leftover(unraisable: Any) -> bool:
    """What a failed orbax restore leaves behind after it returned: orbax runs the read in a
    fresh event loop and closes it as soon as one array fails, so TensorStore's callbacks for
    the reads still running raise ``RuntimeError('Event loop is closed')`` in their threads, and
    the abandoned read coroutines raise again when they are garbage-collected. Python prints
    both through ``sys.unraisablehook``, long after :meth:`Checkpointer.restore` returned."""
    error = unraisable.exc_value
    if unraisable.object is None and isinstance(error, RuntimeError):
        return str(error) == "Event loop is closed"
    code = getattr(unraisable.object, "cr_code", None)  # a coroutine
    return code is not None and f"{os.sep}orbax{os.sep}" in code.co_filename


def _is_orbax_task_report(record: logging.LogRecord) -> bool:
    """asyncio's report of a task of a failed orbax read, collected after it was abandoned:
    "Task exception was never retrieved" / "Task was destroyed but it is pending!" for a
    TensorStore read (wrapped by ``_wrap_awaitable``) or an orbax coroutine."""
    message = record.getMessage()
    return message.startswith(("Task exception was never retrieved", "Task was destroyed")) and (
        "_wrap_awaitable" in message or f"{os.sep}orbax{os.sep}" in message
    )


def _collect_failed_read(timeout: float = 1.0) -> None:
    """Collect what a failed orbax read leaves behind (tasks, coroutines, TensorStore futures)
    while orbax is quiet: the reads still running when orbax gave up finish within moments and
    their objects become garbage; collected later, each would print its own report. Waits until
    a collection that found garbage is followed by one that finds none (at most ``timeout``)."""
    deadline = time.monotonic() + timeout
    found_some = False
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        while time.monotonic() < deadline:
            found = gc.collect()
            if found_some and not found:
                return
            found_some = found_some or found > 0
            time.sleep(0.02)


_filters_installed = False


def _drop_orbax_leftovers() -> None:
    """Install (once per process, at the first checkpoint read) the filters for what a failed
    orbax read reports after :meth:`Checkpointer.restore` moved on: an ``unraisablehook`` that
    drops :func:`_is_orbax_leftover` reports (logged at DEBUG level) and hands everything else to
    the hook that was there before, and a filter on the ``asyncio`` logger that drops
    :func:`_is_orbax_task_report` records. Both match only those reports."""
    global _filters_installed
    if _filters_installed:
        return
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if _is_orbax_leftover(unraisable):
            log.debug("ignored after a failed restore: %s", _cause(unraisable.exc_value))
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    logging.getLogger("asyncio").addFilter(lambda record: not _is_orbax_task_report(record))
    _filters_installed = True


@contextlib.contextmanager
def _quiet_orbax() -> Iterator[None]:
    """Silence orbax's, absl's and TensorStore's loggers while a checkpoint is read: a damaged
    checkpoint is reported once, by :meth:`Checkpointer.restore`, not by every layer below.
    Also installs the filter of :func:`_drop_orbax_leftovers` (before the read: TensorStore's
    threads may report while orbax is still unwinding)."""
    _drop_orbax_leftovers()
    loggers = [logging.getLogger(name) for name in _ORBAX_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


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


def _global_or_host(x: Any) -> Any:
    """A leaf to save in a multi-process run: a global array as it is (orbax writes each
    process's shards), anything else as a host value."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return x
    return jax.device_get(x)


def _restore_target(like: Any) -> Any:
    """What orbax restores into: shapes and dtypes of ``like`` (as stored); in a multi-process
    run with ``like`` 's shardings too, so that each process reads only its own shards of the
    global arrays (a leaf without one, e.g. an empty-array placeholder, is replicated)."""
    if not distributed.multi_process():
        return jax.tree.map(ocp.utils.to_shape_dtype_struct, _to_storable(jax.device_get(like)))
    everywhere = distributed.replicated(distributed.make_mesh())

    def target(x: Any) -> jax.ShapeDtypeStruct:
        sharding = getattr(x, "sharding", None)
        if not isinstance(sharding, jax.sharding.Sharding) or sharding.is_fully_addressable:
            sharding = everywhere  # a host value: the same on every process
        return jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=sharding)

    return jax.tree.map(target, _to_storable(like))


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
        with _quiet_orbax():  # orbax logs an error per damaged metadata file it scans
            self._manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        """Env steps of the checkpoints on disk, oldest first."""
        with _quiet_orbax():
            return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, record: dict[str, Any]) -> None:
        """Write ``state`` and ``record`` (JSON) as the checkpoint for ``step``."""
        record = _json_safe({**record, "signature": signature(state), "step": step})
        if distributed.multi_process():
            # every process writes its own shards (orbax: process 0 the metadata and record);
            # the save is synchronous, so it is done before the state is donated
            state = jax.tree.map(_global_or_host, state)
        else:
            state = jax.device_get(state)  # host copies: nothing refers to (donated) buffers
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
        with _quiet_orbax():
            return self._manager.restore(
                step, args=ocp.args.Composite(record=ocp.args.JsonRestore())
            ).record

    def restore(
        self,
        like: Any,
        step: int | None = None,
        expect: dict[str, Any] | None = None,
        added: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Restore the newest usable checkpoint (or the one at ``step``) into the structure of
        ``like``. A damaged checkpoint is reported as one warning line (folder, step and cause)
        and the previous one is tried; orbax's own error output is silenced. ``expect`` maps
        record fields (agent, env, seeds ...) to the values this run has; a difference is an
        error that names the field. ``added`` maps a dict-valued ``expect`` field to the keys a
        checkpoint written before they existed may lack, each with the value that reproduces
        the behaviour before it (e.g. a config field added later, at its default): a missing
        key is accepted when this run's value is that one.

        Raises:
            CheckpointError: no checkpoint, an incompatible one (names what differs), or every
                checkpoint damaged (lists every step and its cause, one line each).
        """
        steps = [step] if step is not None else self.steps()[::-1]
        if not steps:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        expected = signature(like)
        problems = []
        for i, s in enumerate(steps):
            try:
                record = self.read_record(s)
            except Exception as e:  # damaged JSON / missing files
                problems.append((s, f"unreadable record ({_cause(e)})"))
                self._damaged(*problems[-1], last=i == len(steps) - 1)
                continue
            self._check_record(record, s, expect or {}, expected, added or {})
            stored_like = _restore_target(like)
            failure = None
            with _quiet_orbax():
                try:
                    restored = self._manager.restore(
                        s,
                        args=ocp.args.Composite(state=ocp.args.StandardRestore(stored_like)),
                    ).state
                except Exception as e:
                    failure = f"unreadable arrays ({_cause(e)})"
                if failure:
                    _collect_failed_read()
            if failure:
                problems.append((s, failure))
                self._damaged(s, failure, last=i == len(steps) - 1)
                continue
            return _from_storable(restored, like), record
        raise CheckpointError(
            f"no usable checkpoint in {self.directory} (every one is damaged):\n  "
            + "\n  ".join(f"step {s}: {problem}" for s, problem in problems)
        )

    def _damaged(self, step: int, problem: str, last: bool) -> None:
        """One warning line for a damaged checkpoint."""
        then = "no older checkpoint to try" if last else "trying an older one"
        log.warning("checkpoint %s/%s is damaged (%s); %s", self.directory, step, problem, then)

    def _check_record(
        self,
        record: dict[str, Any],
        step: int,
        expect: dict[str, Any],
        expected: list[Any],
        added: dict[str, dict[str, Any]],
    ) -> None:
        """Raise :class:`CheckpointError` if ``record`` belongs to another run (a field of
        ``expect`` differs, keys of ``added`` missing from it at their old value aside) or its
        array signature does not fit ``expected``."""
        for field, value in expect.items():
            stored = record.get(field)
            if isinstance(stored, dict) and isinstance(value, dict) and field in added:
                old = added[field]
                stored = {
                    **{k: old[k] for k in old if k not in stored and k in value},
                    **stored,
                }
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
                f"checkpoint {self.directory}/{step} belongs to another run: " + "; ".join(diffs)
            )
        check_compatible(record.get("signature", []), expected, self.directory, step)

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
        self.writes = distributed.is_primary()
        """Whether this process writes the file: in a multi-process run only process 0 does;
        the others read it on resume."""

    def start(self) -> None:
        """Forget the rows of an earlier run in this folder (a run that does not resume)."""
        self._writer.close()
        if self.writes and os.path.exists(self.path):
            os.remove(self.path)

    def append(self, step: int, row: dict[str, Any]) -> None:
        """Add the row of the chunk that ended at env step ``step`` (before its checkpoint)."""
        if self.writes:
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
                self.append(row["step"], {k: v for k, v in row.items() if k != "step"})
        else:
            step, count = int(record["step"]), int(record["history_rows"])
            if self.writes:
                self._writer.rewind(step)
            # rows up to the step: the file as process 0 left it before or after its rewind
            # (an atomic rename), or with process 0's newer rows appended after it
            rows = read_jsonl(self.path) if os.path.exists(self.path) else []
            rows = [r for r in rows if r.get("step", math.inf) <= step]
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
