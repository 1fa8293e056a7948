"""The line protocol between a speed benchmark and an official implementation running in its own
Python (``dqc_speed.py`` / ``dqc_official.py``, ``fb_speed.py`` / its driver).

The worker prints one ``<PREFIX>{json}`` line when it is ready (its ``info``), then reads a step
count per line from stdin, runs that many updates and answers ``<PREFIX>{"seconds": t}``; the
line ``quit`` ends it. Other output lines are ignored.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any


class PipeWorker:
    """A worker subprocess started with ``command`` (``PYTHONPATH`` removed from its
    environment, so it imports nothing of ours)."""

    def __init__(self, command: list[str], prefix: str):
        self.command = command
        self.prefix = prefix
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.info = self._read()
        self.start_s = time.perf_counter() - t0

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(self.prefix):
                return json.loads(line[len(self.prefix) :])
        raise RuntimeError(f"official worker exited ({self.proc.wait()}): {self.command}")

    def window(self, steps: int) -> float:
        """Seconds the worker took for ``steps`` updates."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{steps}\n")
        self.proc.stdin.flush()
        return float(self._read()["seconds"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
