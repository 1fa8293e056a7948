"""Metric writers used by the driver. Each takes one row of scalar metrics per chunk.

A row maps metric names to

* a float (a single run),
* a list of floats, one per seed (the run vmaps over seeds), or
* a list of lists of floats, ``[setting][seed]`` (a vmapped hyperparameter sweep).

NaN means "no value" (no episode ended in the chunk, evaluation did not run in it). JSONL keeps
the row's shape; CSV, TensorBoard and Weights & Biases store one scalar *series* per metric, seed
and setting, named by :func:`series`:

* ``name`` for a float,
* ``name/seed{i}`` for a list (seed axis),
* ``name/{label}/seed{i}`` for a list of lists, ``label`` from ``labels`` (default
  ``setting{s}``); with ``labels`` given, a flat list is a sweep without a seed axis:
  ``name/{label}``.

Every writer has ``rewind(step)``: the driver calls it when a run resumes from a checkpoint taken
at ``step``, so that rows written after that checkpoint are dropped instead of duplicated.

Several processes (``jax.distributed``, :mod:`jaxrl.distributed`): every process computes the
same rows, and only process 0 writes them: :func:`jaxrl.train` hands rows to its loggers only
there, and :class:`WandbLogger` made on another process starts no W&B run (its methods do
nothing), so a script may build the same loggers everywhere.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class Logger(Protocol):
    """What the driver calls: ``log`` once per chunk, ``rewind`` on resume, ``close`` at the end."""

    def log(self, step: int, row: dict[str, Any]) -> None: ...

    def rewind(self, step: int) -> None: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------------------------------
# Naming rule (shared by CSV, TensorBoard and W&B)


def _label(labels: Sequence[str] | None, s: int, n: int, name: str) -> str:
    if labels is None:
        return f"setting{s}"
    if len(labels) != n:
        raise ValueError(f"metric {name!r} has {n} settings but {len(labels)} labels were given")
    return str(labels[s])


def series(row: Mapping[str, Any], labels: Sequence[str] | None = None) -> dict[str, float]:
    """Flatten a row into named scalar series (NaN kept: it means "no value").

    ``{"ret": 1.0}`` -> ``{"ret": 1.0}``; ``{"ret": [1, 2]}`` -> ``{"ret/seed0": 1, "ret/seed1":
    2}``; ``{"ret": [[1, 2], [3, 4]]}`` -> ``ret/setting0/seed0 ... ret/setting1/seed1`` (or
    ``ret/{labels[s]}/seed{i}``). With ``labels`` given, a flat list is one value per setting
    (a sweep without a seed axis): ``ret/{labels[s]}``. ``None`` is read as NaN, so rows read
    back from JSONL flatten the same way.
    """
    out: dict[str, float] = {}
    for name, value in row.items():
        arr = np.asarray(np.nan if value is None else value, dtype=np.float64)
        if arr.ndim == 0:
            out[name] = float(arr)
        elif arr.ndim == 1 and labels is None:
            for i, v in enumerate(arr.tolist()):
                out[f"{name}/seed{i}"] = v
        elif arr.ndim == 1:
            for s, v in enumerate(arr.tolist()):
                out[f"{name}/{_label(labels, s, arr.shape[0], name)}"] = v
        elif arr.ndim == 2:
            for s in range(arr.shape[0]):
                label = _label(labels, s, arr.shape[0], name)
                for i, v in enumerate(arr[s].tolist()):
                    out[f"{name}/{label}/seed{i}"] = v
        else:
            raise ValueError(
                f"metric {name!r} has shape {arr.shape}; a row holds floats, [seed] or "
                "[setting][seed] lists"
            )
    return out


# --------------------------------------------------------------------------------------------------
# Helpers


def _makedirs_for(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def _atomic_write(path: str, write: Any) -> None:
    """Write ``path`` through ``write(file)`` into a temp file in the same folder, then replace."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/Inf become None (JSON has no NaN), numpy scalars/arrays become Python."""
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------------
# JSONL


class JsonlLogger:
    """Appends one JSON object per chunk to ``path`` (``metrics.jsonl``), flushed every line.

    The row keeps its shape (lists per seed/setting); NaN/Inf are written as ``null``. The file is
    opened lazily in append mode, so a resumed run appends after :meth:`rewind`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        _makedirs_for(self.path)
        self._file: Any = None

    def log(self, step: int, row: dict[str, Any]) -> None:
        """Append ``{"step": step, **row}`` as one line."""
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._file.write(json.dumps({"step": int(step), **_clean(row)}) + "\n")
        self._file.flush()

    def rewind(self, step: int) -> None:
        """Rewrite the file (atomically) keeping only rows with ``step <= step``.

        Lines that do not parse (a line cut short by a crash) are dropped too.
        """
        self.close()
        if not os.path.exists(self.path):
            return
        kept = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and rec.get("step", math.inf) <= step:
                    kept.append(line if line.endswith("\n") else line + "\n")
        _atomic_write(self.path, lambda f: f.writelines(kept))

    def close(self) -> None:
        """Close the file (a later :meth:`log` reopens it in append mode)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a metrics file written by :class:`JsonlLogger` (None stays None: missing value)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --------------------------------------------------------------------------------------------------
# CSV


def _cell(value: float | None) -> str:
    if value is None or math.isnan(value):
        return ""
    return repr(float(value))  # shortest round-trip form; inf/-inf stay readable


class CsvLogger:
    """One CSV file: a ``step`` column, then one column per series (see :func:`series`).

    Columns are ordered by first appearance. NaN (no value) and series missing from a row are
    written as empty cells. When a row brings new columns (e.g. the eval columns at the first
    evaluation, or a metric that only appears later), the whole file is rewritten atomically
    (temp file + ``os.replace``) with the widened header and the earlier rows padded with empty
    cells, so the file is always a valid, rectangular CSV. Rows are flushed as they are written.
    An existing file is appended to (its header is read back first), so a resumed run continues
    the same file after :meth:`rewind`.
    """

    def __init__(self, path: str | os.PathLike[str], labels: Sequence[str] | None = None) -> None:
        self.path = os.fspath(path)
        self.labels = None if labels is None else list(labels)
        _makedirs_for(self.path)
        self._columns: list[str] | None = None  # series columns (without "step"); None: unread
        self._file: Any = None
        self._writer: Any = None

    def _read(self) -> tuple[list[str], list[list[str]]]:
        """Header (series columns) and rows of the existing file; rows of the wrong width (cut
        short by a crash) are dropped."""
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return [], []
        with open(self.path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None) or ["step"]
            rows = [r for r in reader if len(r) == len(header)]
        return header[1:], rows

    def _rewrite(self, columns: list[str], rows: Iterable[Sequence[str]]) -> None:
        def write(f: Any) -> None:
            w = csv.writer(f)
            w.writerow(["step", *columns])
            w.writerows(rows)

        _atomic_write(self.path, write)

    def _open(self) -> None:
        self._file = open(self.path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._file)

    def log(self, step: int, row: dict[str, Any]) -> None:
        """Append one CSV row (widening the header first if the row has new series)."""
        values = series(row, self.labels)
        if self._columns is None:
            self._columns, _ = self._read()
        new = [k for k in values if k not in self._columns]
        if new or self._file is None:
            if new or not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
                self.close()
                old_columns, old_rows = self._read()
                pad = [""] * len(new)
                self._columns = old_columns + new
                self._rewrite(self._columns, (r + pad for r in old_rows))
            self._open()
        self._writer.writerow([int(step), *(_cell(values.get(c)) for c in self._columns)])
        self._file.flush()

    def rewind(self, step: int) -> None:
        """Rewrite the file (atomically) keeping only rows with ``step <= step`` (the header and
        its columns are kept)."""
        self.close()
        columns, rows = self._read()
        self._columns = columns
        if not os.path.exists(self.path):
            return
        kept = []
        for r in rows:
            try:
                if int(r[0]) <= step:
                    kept.append(r)
            except ValueError:
                continue
        self._rewrite(columns, kept)

    def close(self) -> None:
        """Close the file (a later :meth:`log` reopens it in append mode)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a file written by :class:`CsvLogger`: one dict per row, ``step`` as int, every
    series as float, empty cells (no value) as NaN."""
    with open(path, encoding="utf-8", newline="") as f:
        return [
            {k: int(v) if k == "step" else (float(v) if v else math.nan) for k, v in r.items()}
            for r in csv.DictReader(f)
        ]


# --------------------------------------------------------------------------------------------------
# TensorBoard

_TB_INVALID = re.compile(r"[^-/\w\.]")


def tensorboard_tag(name: str) -> str:
    """The tag a series gets in TensorBoard: characters TensorBoard does not allow in tags (e.g.
    ``,`` and ``=`` in sweep labels) become ``_``, as tensorboardX itself would do."""
    return _TB_INVALID.sub("_", name).lstrip("/")


class TensorBoardLogger:
    """One ``tensorboardX`` scalar per series (see :func:`series`; tags via
    :func:`tensorboard_tag`), ``global_step`` = environment steps. NaN values are skipped.

    :meth:`rewind` closes the writer and opens a new events file with
    ``purge_step=step + 1``: TensorBoard then hides every event of this ``logdir`` with a
    greater step written before it (the old files are kept, nothing is deleted on disk).
    """

    def __init__(self, logdir: str | os.PathLike[str], labels: Sequence[str] | None = None) -> None:
        self.logdir = os.fspath(logdir)
        self.labels = None if labels is None else list(labels)
        self._writer: Any = None

    def _open(self, purge_step: int | None = None) -> None:
        from tensorboardX import SummaryWriter

        # A unique, increasing suffix: tensorboardX names files by the second, and a rewind within
        # the same second must neither overwrite the previous file nor sort before it.
        self._writer = SummaryWriter(
            self.logdir, purge_step=purge_step, filename_suffix=f".{time.time_ns():020d}"
        )

    def log(self, step: int, row: dict[str, Any]) -> None:
        """Write one scalar per non-NaN series at ``global_step=step``."""
        if self._writer is None:
            self._open()
        for name, value in series(row, self.labels).items():
            if not math.isnan(value):
                self._writer.add_scalar(tensorboard_tag(name), value, global_step=int(step))
        self._writer.flush()

    def rewind(self, step: int) -> None:
        """Hide everything logged after ``step`` (new events file with ``purge_step=step+1``)."""
        self.close()
        self._open(purge_step=int(step) + 1)
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the events file (a later :meth:`log` opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


# --------------------------------------------------------------------------------------------------
# Weights & Biases


def _primary_process() -> bool:
    """Whether this process writes (process 0 of a ``jax.distributed`` run, or the only one)."""
    from jaxrl import distributed

    return distributed.is_primary()


def _import_wandb() -> Any:
    try:
        import wandb
    except ImportError as e:
        raise ImportError(
            'WandbLogger needs the wandb package: pip install "jaxrl[logging]"'
        ) from e
    return wandb


def _wandb_settings(wandb: Any, mode: str) -> Any:
    """Quiet settings; offline/disabled runs also skip system-metrics sampling and machine info
    (no background sampler, nothing that could wait on the network)."""
    wanted: dict[str, Any] = {"silent": True, "console": "off"}
    if mode in ("offline", "disabled"):
        wanted.update(x_disable_stats=True, x_disable_meta=True, x_disable_machine_info=True)
    fields = getattr(wandb.Settings, "model_fields", None)
    if fields is not None:  # wandb >= 0.19 (pydantic settings): pass the ones it knows
        wanted = {k: v for k, v in wanted.items() if k in fields}
    else:
        wanted = {"silent": True}
    return wandb.Settings(**wanted)


class WandbLogger:
    """Weights & Biases: one key per series (see :func:`series`), ``step`` = environment steps.

    Seeds and settings are separate keys (``episode_return/seed0`` ...) because W&B would
    otherwise collapse a vmapped run into one curve. NaN values are skipped. ``mode="offline"``
    (the default) writes the run under ``dir`` (or ``$WANDB_DIR``) without touching the network
    or asking for a login; upload it later with ``wandb sync``. ``mode="online"`` logs live.
    ``config`` (a mapping or dataclass) is stored as the run config; ``settings`` and other
    ``wandb.init`` arguments can be passed through ``init_kwargs``.
    """

    def __init__(
        self,
        project: str = "jaxrl",
        labels: Sequence[str] | None = None,
        mode: str = "offline",
        dir: str | os.PathLike[str] | None = None,
        config: Any = None,
        name: str | None = None,
        **init_kwargs: Any,
    ) -> None:
        wandb = _import_wandb()
        self.labels = None if labels is None else list(labels)
        self.run: Any = None
        self._finished = True
        if not _primary_process():
            return  # one W&B run per multi-process run: process 0's
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
        if dir is not None:
            os.makedirs(dir, exist_ok=True)
            dir = os.fspath(dir)
        settings = init_kwargs.pop("settings", None) or _wandb_settings(wandb, mode)
        self.run = wandb.init(
            project=project,
            mode=mode,
            dir=dir,
            config=config,
            name=name,
            settings=settings,
            **init_kwargs,
        )
        self._finished = False

    def log(self, step: int, row: dict[str, Any]) -> None:
        """Log the non-NaN series of the row at ``step`` (env steps; must increase)."""
        data = {k: v for k, v in series(row, self.labels).items() if not math.isnan(v)}
        if data and self.run is not None:
            self.run.log(data, step=int(step))

    def rewind(self, step: int) -> None:
        """No-op. An offline (or new online) run is a new run that starts empty, so there is
        nothing after ``step`` to drop; a resumed online run (``resume=...`` in ``init_kwargs``)
        ignores steps not greater than the last one W&B already has."""

    def close(self) -> None:
        """Finish the run (writes everything; idempotent)."""
        if not self._finished:
            self._finished = True
            self.run.finish()
