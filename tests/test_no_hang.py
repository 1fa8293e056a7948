"""Stress test (issue 21): many fresh processes each run a small vmapped 4-seed run (init, the
step-0 evaluation, four evaluated chunks; PPO as a checkpointed, stopped and resumed 2-setting
sweep, TD3+BC offline), two at a time, each under a timeout. It fails, naming the hung runs and
showing their output (the watchdog's report and stacks), if any does not finish.

Calibration, measured while it was written (2-core CPU), with ``tests/stress_worker.py``:

- the old initialisation (``--vmapped-init``, a batched LAPACK QR) with the XLA:CPU workaround
  flags off (``JAXRL_KEEP_XLA_FLAGS=1``): 3 of 20 processes hung, each at 0% CPU in the step-0
  evaluation's ``device_get`` (waiting for the init program), each reported by the watchdog;
  with the flags on: 0 of 32 (the issue saw 1 of 24);
- the new initialisation (``lax.map``), flags off: 0 of 64; flags on: 0 of 48.

At the old path's 3-in-20 rate, :data:`PROCESSES` = 10 catch it with probability
1 - (17/20)^10 = 0.80 (16 processes, 0.93, cost about a minute more of the suite's time). Rarer
hangs (1 in 24 with the flags on) need the watchdog, which reports them by name in any run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "stress_worker.py")

PROCESSES = 10
"""Fresh processes per run of the test (half PPO, half TD3+BC)."""
PARALLEL = 2
"""Processes at a time (this machine's cores)."""
TIMEOUT = 240.0
"""Seconds one process may take (a normal one takes 5-20 s, the first compiles)."""


def test_many_fresh_vmapped_runs_finish(tmp_path):
    env = dict(os.environ)
    cache = str(tmp_path / "cache")
    agents = ["ppo", "td3_bc"] * (PROCESSES // 2)
    # The first of each agent fills the compilation cache alone; the rest run two at a time.
    for agent in agents[:2]:
        out = subprocess.run(
            [sys.executable, WORKER, "--agent", agent, "--cache", cache],
            capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=ROOT,
        )  # fmt: skip
        assert out.returncode == 0 and f"ok {agent}" in out.stdout, out.stderr[-4000:]
    pending, running, hung, failed = list(agents[2:]), [], [], []
    while pending or running:
        while pending and len(running) < PARALLEL:
            agent = pending.pop()
            # closed below, when its process has ended
            log = open(tmp_path / f"{len(pending)}-{agent}.log", "w+")  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, WORKER, "--agent", agent, "--cache", cache],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            )  # fmt: skip
            running.append((proc, agent, log, time.monotonic()))
        time.sleep(0.2)
        for item in list(running):
            proc, agent, log, start = item
            if proc.poll() is None and time.monotonic() - start < TIMEOUT:
                continue
            running.remove(item)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                hung.append(agent)
            elif proc.returncode != 0:
                failed.append(agent)
            log.seek(0)
            text = log.read()
            log.close()
            if proc.returncode != 0:
                print(f"--- {agent} (exit {proc.returncode}) ---\n{text[-4000:]}")
    assert not hung and not failed, f"hung: {hung}; failed: {failed} (output above)"
