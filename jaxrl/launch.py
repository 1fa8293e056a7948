"""Run a script as several JAX processes (``jax.distributed``): locally, on hosts reached by SSH,
or under Slurm.

Every process joins the run (:func:`jaxrl.distributed.initialize`) and then runs the same script
(as ``python SCRIPT ARGS`` would); :func:`jaxrl.train` and :mod:`jaxrl.runs` spread the run over
the devices of all processes, and only process 0 writes the run folder, logs and progress::

    # N processes on this machine (a coordinator on 127.0.0.1), e.g. to test on forced CPU devices
    python -m jaxrl.launch --num-processes 2 --cpu-devices 2 experiments/ppo.py --env pendulum

    # one process per host (run on every host, process ids 0 .. N-1, host 0 coordinates)
    python -m jaxrl.launch --coordinator host0:12345 --num-processes 4 --process-id $I \\
        experiments/ppo.py --env brax/ant

    # Slurm: one task per host; JAX reads the coordinator, count and id from Slurm's variables
    srun python -m jaxrl.launch experiments/ppo.py --env brax/ant

``-m MODULE`` runs a module instead of a script file. Locally, the launcher waits for all
processes; when one fails it stops the others and exits with the failed one's status
(``--timeout``: all are stopped after that many seconds, status 124).
"""

from __future__ import annotations

import argparse
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

EXIT_TIMEOUT = 124
"""The launcher's exit status when ``--timeout`` ran out."""

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (bound to port 0 and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jaxrl.launch",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Everything after the script (or -m MODULE) is passed to it unchanged.",
    )
    parser.add_argument(
        "--num-processes",
        type=int,
        help="processes in the run; without --process-id: start them all on this machine",
    )
    parser.add_argument(
        "--process-id", type=int, help="this process's id in [0, num-processes): join a run"
    )
    parser.add_argument(
        "--coordinator",
        help="HOST:PORT of process 0's coordinator (local default: 127.0.0.1 and a free port)",
    )
    parser.add_argument(
        "--cpu-devices",
        type=int,
        help="run on the CPU with this many forced devices per process (testing)",
    )
    parser.add_argument(
        "--timeout", type=float, help="local runs: stop every process after this many seconds"
    )
    parser.add_argument("-m", dest="module", help="run this module (as python -m) instead")
    parser.add_argument("target", nargs=argparse.REMAINDER, help="SCRIPT [ARGS ...]")
    return parser


def _check(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> None:
    """Refuse bad launcher arguments by name (argparse's error: usage, message, status 2)."""
    if ns.module is None and not ns.target:
        parser.error("give the script to run (SCRIPT [ARGS ...]) or -m MODULE [ARGS ...]")
    if ns.module is None and ns.target[0].startswith("-"):
        parser.error(f"unknown launcher option {ns.target[0]!r} (the script comes first)")
    if ns.module is None and not os.path.isfile(ns.target[0]):
        parser.error(f"script {ns.target[0]!r} is not a file")
    if ns.num_processes is not None and ns.num_processes < 1:
        parser.error(f"--num-processes {ns.num_processes}: expected an int >= 1")
    if ns.process_id is not None:
        if ns.num_processes is None or ns.coordinator is None:
            parser.error("--process-id needs --num-processes and --coordinator (HOST:PORT)")
        if not 0 <= ns.process_id < ns.num_processes:
            parser.error(
                f"--process-id {ns.process_id}: expected 0 <= id < --num-processes "
                f"{ns.num_processes}"
            )
    if ns.coordinator is not None:
        host, _, port = ns.coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            parser.error(f"--coordinator {ns.coordinator!r}: expected HOST:PORT")
    if ns.cpu_devices is not None and ns.cpu_devices < 1:
        parser.error(f"--cpu-devices {ns.cpu_devices}: expected an int >= 1")
    if ns.timeout is not None and not ns.timeout > 0:
        parser.error(f"--timeout {ns.timeout}: expected seconds > 0")
    if ns.timeout is not None and (ns.num_processes is None or ns.process_id is not None):
        parser.error("--timeout applies to local runs (--num-processes without --process-id)")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring). Returns the exit status."""
    parser = _parser()
    ns = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    _check(parser, ns)
    if ns.num_processes is not None and ns.process_id is None:
        return launch_local(
            ns.num_processes,
            ns.target if ns.module is None else ["-m", ns.module, *ns.target],
            coordinator=ns.coordinator,
            cpu_devices=ns.cpu_devices,
            timeout=ns.timeout,
        )
    join(ns.coordinator, ns.num_processes, ns.process_id, cpu_devices=ns.cpu_devices)
    run_target(ns.target, ns.module)
    return 0


def launch_local(
    num_processes: int,
    target: Sequence[str],
    *,
    coordinator: str | None = None,
    cpu_devices: int | None = None,
    timeout: float | None = None,
) -> int:
    """Start ``num_processes`` processes of ``target`` (``[SCRIPT, *ARGS]`` or ``["-m", MODULE,
    *ARGS]``) on this machine, each joining a run coordinated at ``coordinator`` (default
    ``127.0.0.1`` on a free port), and wait for them. Returns 0, the first failure's status
    (the others are stopped), or :data:`EXIT_TIMEOUT`."""
    coordinator = coordinator or f"127.0.0.1:{free_port()}"
    extra = ["--cpu-devices", str(cpu_devices)] if cpu_devices else []
    procs = []
    for i in range(num_processes):
        command = [
            sys.executable, "-m", "jaxrl.launch", "--coordinator", coordinator,
            "--num-processes", str(num_processes), "--process-id", str(i), *extra, *target,
        ]  # fmt: skip
        procs.append(subprocess.Popen(command))
    deadline = None if timeout is None else time.monotonic() + timeout
    status = 0
    try:
        while any(p.poll() is None for p in procs):
            failed = [p.returncode for p in procs if p.returncode not in (None, 0)]
            if failed:
                status = failed[0]
                print(f"jaxrl.launch: a process exited with status {status}", file=sys.stderr)
                break
            if deadline is not None and time.monotonic() > deadline:
                status = EXIT_TIMEOUT
                print(f"jaxrl.launch: stopped after --timeout {timeout} s", file=sys.stderr)
                break
            time.sleep(0.1)
    finally:
        _stop(procs)
    if status == 0:
        status = next((p.returncode for p in procs if p.returncode), 0)
    return status


def _stop(procs: Sequence[subprocess.Popen], grace: float = 10.0) -> None:
    """End the processes still running: SIGTERM, then SIGKILL after ``grace`` seconds."""
    running = [p for p in procs if p.poll() is None]
    for p in running:
        p.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    for p in running:
        try:
            p.wait(max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def join(
    coordinator: str | None,
    num_processes: int | None,
    process_id: int | None,
    *,
    cpu_devices: int | None = None,
) -> None:
    """Make this process one of the run: force ``cpu_devices`` CPU devices if asked, then
    :func:`jaxrl.distributed.initialize` (``None`` arguments: JAX detects the cluster, e.g.
    Slurm). A coordinator on a loopback address also binds only there."""
    if cpu_devices:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            count = f"--xla_force_host_platform_device_count={cpu_devices}"
            os.environ["XLA_FLAGS"] = f"{flags} {count}".strip()
    import jax

    from jaxrl import distributed

    if cpu_devices:
        jax.config.update("jax_platforms", "cpu")
    kwargs = {}
    if coordinator is not None and coordinator.rpartition(":")[0] in LOOPBACK:
        kwargs["coordinator_bind_address"] = coordinator
        distributed.collectives_on_loopback()
    distributed.initialize(coordinator, num_processes, process_id, **kwargs)


def run_target(target: Sequence[str], module: str | None = None) -> None:
    """Run ``target`` (``[SCRIPT, *ARGS]``, or ``module`` with ``target`` as its arguments) as
    ``__main__``, as ``python SCRIPT ARGS`` / ``python -m MODULE ARGS`` would."""
    if module is not None:
        sys.argv = [module, *target]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return
    script, *args = target
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    raise SystemExit(main())
