"""A watchdog that makes a stalled run visible instead of silent.

A run on XLA:CPU can wedge: every thread waits for work that never comes and the process sits at
0% CPU forever (``jaxrl/_xla_cpu.py`` lists the cases seen on this project's machines). The
driver therefore runs each phase of a run (initialisation, compilation, each chunk, each
evaluation, each checkpoint) under a :class:`Watchdog`. When a phase has run longer than its
limit, the watchdog writes to stderr one line that names the phase, how long it has run and what
to do, then every thread's Python stack (:mod:`faulthandler`), and, if asked to, ends the
process with :data:`EXIT_CODE` so that a scheduler can restart it from its last checkpoint
(``resume=True``, ``--resume``). It reports each phase once. In a multi-process run
(``jax.distributed``) each process has its own watchdog; a report names the process, since a
process that stalls in a collective is usually waiting for another that failed or stalled.

The limit of a phase is ``timeout`` seconds, or :data:`SLACK` times the longest phase of the
same kind that has finished in this process, whichever is larger, so runs whose chunks
legitimately take many minutes do not raise false alarms after their first chunk.

Defaults: on, ``timeout`` :data:`DEFAULT_TIMEOUT` seconds, report only. The environment
variables :data:`ENV_TIMEOUT` (seconds; ``0`` or ``off`` switches the watchdog off) and
:data:`ENV_EXIT` (``1``: exit after the report) change the defaults of every run;
``jaxrl.train(watchdog=..., watchdog_exit=...)`` and the scripts' ``--watchdog`` /
``--watchdog-exit`` set them per run.
"""

from __future__ import annotations

import contextlib
import faulthandler
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

DEFAULT_TIMEOUT = 1800.0
"""Seconds a phase may run before the watchdog reports it (when no longer phase of its kind
finished before): long enough for a Brax/MJX compilation or a long chunk on a slow CPU."""

SLACK = 10.0
"""A phase may also run this many times the longest finished phase of its kind."""

EXIT_CODE = 75
"""Exit status after a report with ``exit_on_stall`` (``EX_TEMPFAIL``: try again later)."""

ENV_TIMEOUT = "JAXRL_WATCHDOG_SECONDS"
"""Environment variable: the default ``timeout`` in seconds (``0`` or ``off``: no watchdog)."""

ENV_EXIT = "JAXRL_WATCHDOG_EXIT"
"""Environment variable: ``1`` makes exiting after a report the default."""


def default_timeout() -> float | None:
    """The timeout :data:`ENV_TIMEOUT` asks for (``None``: off), else :data:`DEFAULT_TIMEOUT`.

    Raises:
        ValueError: naming the variable when its value is not a number of seconds or ``off``.
    """
    raw = os.environ.get(ENV_TIMEOUT, "").strip().lower()
    if not raw:
        return DEFAULT_TIMEOUT
    if raw in ("off", "none", "0"):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{ENV_TIMEOUT}={raw!r}: expected seconds >= 0, or 'off'")
    return value or None


def _process() -> tuple[int, int]:
    """``(jax.process_index(), jax.process_count())`` in a ``jax.distributed`` run, else
    ``(0, 1)`` (the watchdog never imports JAX itself)."""
    jax = sys.modules.get("jax")
    if jax is None:
        return 0, 1
    try:
        if not jax.distributed.is_initialized():
            return 0, 1
        return int(jax.process_index()), int(jax.process_count())
    except Exception:  # a backend that cannot start: report as one process
        return 0, 1


def default_exit() -> bool:
    """Whether :data:`ENV_EXIT` asks to exit after a report."""
    return os.environ.get(ENV_EXIT, "").strip().lower() in ("1", "true", "yes")


class Watchdog:
    """Reports a phase that runs past its limit (see the module docstring).

    Use as a context manager around the run, and :meth:`phase` around each step of it::

        with Watchdog(600) as dog:
            with dog.phase("chunk", "3/20, env steps 256-384"):
                ...

    ``timeout=None`` makes every method a no-op (no thread is started).
    """

    def __init__(
        self,
        timeout: float | None,
        exit_on_stall: bool = False,
        stream: TextIO | None = None,
        context: str = "",
        poll: float | None = None,
    ) -> None:
        self.timeout = timeout
        self.exit_on_stall = exit_on_stall
        self.stream = stream
        self.context = context
        self.poll = poll if poll is not None else min(5.0, (timeout or 5.0) / 4)
        self.resume_hint = ""
        """What to tell the user about resuming (set by the driver as checkpoints are written)."""
        self._longest: dict[str, float] = {}
        self._current: tuple[str, str, float] | None = None
        self._reported: tuple[str, str, float] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Watchdog:
        if self.timeout is not None:
            self._thread = threading.Thread(target=self._watch, name="jaxrl-watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @contextlib.contextmanager
    def phase(self, kind: str, detail: str = "") -> Iterator[None]:
        """Watch the enclosed block as one phase of ``kind`` (``"compile"``, ``"chunk"`` ...)."""
        if self.timeout is None:
            yield
            return
        start = time.monotonic()
        with self._lock:
            self._current = (kind, detail, start)
        try:
            yield
        finally:
            with self._lock:
                self._current = None
                elapsed = time.monotonic() - start
                self._longest[kind] = max(self._longest.get(kind, 0.0), elapsed)

    def limit(self, kind: str) -> float:
        """Seconds a phase of ``kind`` may run before it is reported."""
        return max(float(self.timeout or 0.0), SLACK * self._longest.get(kind, 0.0))

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            with self._lock:
                current = self._current
                if current is None or current == self._reported:
                    continue
                elapsed = time.monotonic() - current[2]
                if elapsed <= self.limit(current[0]):
                    continue
                self._reported = current
            self._report(current, elapsed)

    def _report(self, current: tuple[str, str, float], elapsed: float) -> None:
        kind, detail, _ = current
        stream = self.stream or sys.stderr
        where = f"{kind} ({detail})" if detail else kind
        then = (
            f"exiting with status {EXIT_CODE} so that it can be restarted"
            if self.exit_on_stall
            else "it keeps waiting"
        )
        process, count = _process()
        who = f"process {process} of {count}: " if count > 1 else ""
        lines = [
            "",
            f"jaxrl watchdog: {who}{self.context + ': ' if self.context else ''}no progress for "
            f"{elapsed:.1f} s in phase '{where}' (limit {self.limit(kind):.1f} s); {then}.",
            "  A run at 0% CPU here is most likely an XLA:CPU deadlock (see jaxrl/_xla_cpu.py). "
            "Please report it to the project with the stacks below.",
        ]
        if count > 1:
            lines.append(
                "  In a multi-process run (jax.distributed) every process waits for the others in "
                "each chunk, evaluation and checkpoint: look for another process that failed or "
                "stalled first."
            )
        if self.resume_hint:
            lines.append(f"  {self.resume_hint}")
        lines.append(
            f"  Set {ENV_TIMEOUT} (seconds, or 'off') or train(watchdog=...) to change the limit."
        )
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        try:
            faulthandler.dump_traceback(file=stream, all_threads=True)
        except (AttributeError, ValueError, OSError):  # a stream without a file descriptor
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
        stream.flush()
        if self.exit_on_stall:
            os._exit(EXIT_CODE)
