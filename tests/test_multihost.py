"""Multi-process training through ``jax.distributed`` (issue 19): 2 processes on this machine,
each with 2 forced CPU devices (XLA's gloo collectives, a coordinator on 127.0.0.1), started by
``python -m jaxrl.launch``, train PPO on ``pendulum`` through ``experiments/ppo.py``'s ``main``
in both layouts (independent seeds, data parallelism over environments), checkpoint, resume from
the same run folders, and must equal a one-process run on 4 forced devices
(``tests/multihost_worker.py`` does the runs). By hand::

    python -m pytest tests/test_multihost.py -n 0
    # or the runs alone:
    python -m jaxrl.launch --num-processes 2 --cpu-devices 2 --timeout 300 \\
        tests/multihost_worker.py /tmp/multihost
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxrl.loggers import read_csv, read_jsonl

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "multihost_worker.py")
TIMEOUT = 400  # seconds, each of the two runs (they run side by side)

# Layout -> the steps of the metric rows: 4 chunks of 128 env steps; the independent runs are
# evaluated (a step-0 row first), the data-parallel run is not.
ROWS = {"runs": [0, 128, 256, 384, 512], "envs": [128, 256, 384, 512]}
RUN_FILES = {
    "config.json",
    "amendments.jsonl",
    "metrics.jsonl",
    "metrics.csv",
    "curves.png",
    "results.json",
    "checkpoints",
}


def _env(devices: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    env["JAX_PLATFORMS"] = "cpu"
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _finish(proc: subprocess.Popen, what: str) -> str:
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"{what} did not finish within {TIMEOUT} s:\n{out[-4000:]}")
    assert proc.returncode == 0, f"{what} exited with {proc.returncode}:\n{out[-6000:]}"
    return out


def _result(out: str, layout: str, process: int) -> dict[str, np.ndarray]:
    with np.load(os.path.join(out, f"result-{layout}-p{process}.npz")) as f:
        return {k: f[k] for k in f.files}


def _check_run_folder(out: str, layout: str) -> None:
    """One run folder, written once: process 1 made no folder of its own and logged nothing
    (its rows would repeat every step in the metric files)."""
    runs = os.listdir(os.path.join(out, f"runs-{layout}"))
    assert len(runs) == 1, runs
    run = os.path.join(out, f"runs-{layout}", runs[0])
    assert set(os.listdir(run)) == RUN_FILES
    steps = ROWS[layout]
    assert [r["step"] for r in read_jsonl(os.path.join(run, "metrics.jsonl"))] == steps
    assert [int(r["step"]) for r in read_csv(os.path.join(run, "metrics.csv"))] == steps
    history = read_jsonl(os.path.join(run, "checkpoints", "history.jsonl"))
    assert [r["step"] for r in history] == steps
    assert len(read_jsonl(os.path.join(run, "amendments.jsonl"))) == 1
    with open(os.path.join(run, "config.json"), encoding="utf-8") as f:
        assert json.load(f)["seeds"] == (4 if layout == "runs" else 1)


@pytest.mark.multidevice
def test_two_processes_match_one_process_on_four_devices(tmp_path):
    multi, single = tmp_path / "multi", tmp_path / "single"
    multi.mkdir()
    single.mkdir()
    launch = [sys.executable, "-m", "jaxrl.launch", "--num-processes", "2", "--cpu-devices", "2"]
    launch += ["--timeout", str(TIMEOUT - 20), WORKER, str(multi)]
    reference = [sys.executable, WORKER, str(single), "--reference"]
    kw = {"cwd": ROOT, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    procs = [
        subprocess.Popen(launch, env=_env(None), **kw),
        subprocess.Popen(reference, env=_env(4), **kw),
    ]
    try:
        printed = _finish(procs[0], "the 2-process run")
        _finish(procs[1], "the 1-process reference")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    # process 1 printed nothing of the run layer (a line each for the 2 new runs, 2 resumes)
    assert printed.count("new run: ") == 2, printed[-4000:]
    assert printed.count("resuming ") == 2, printed[-4000:]
    for layout in ROWS:
        p0, p1 = _result(multi, layout, 0), _result(multi, layout, 1)
        ref = _result(single, layout, 0)
        assert p0.keys() == p1.keys() == ref.keys()
        for name in p0:  # both processes hold the same run: same folder, parameters and rows
            np.testing.assert_array_equal(p0[name], p1[name], err_msg=f"{layout}: {name}")
        params = [k for k in p0 if k.startswith("param/")]
        assert params
        for name in params:  # the tolerance of tests/test_driver.py's 4-device test
            np.testing.assert_allclose(
                p0[name], ref[name], rtol=1e-4, atol=1e-5, err_msg=f"{layout}: {name}"
            )
        np.testing.assert_array_equal(p0["history/step"], ROWS[layout])
        _check_run_folder(str(multi), layout)


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "give the script to run"),
        (["--num-processes", "0", WORKER], "--num-processes 0: expected an int >= 1"),
        (["--num-processes", "2", "no_such_script.py"], "is not a file"),
        (["--process-id", "0", WORKER], "--process-id needs --num-processes and --coordinator"),
        (
            ["--num-processes", "2", "--process-id", "2", "--coordinator", "h:1", WORKER],
            "--process-id 2: expected 0 <= id < --num-processes 2",
        ),
        (["--num-processes", "2", "--coordinator", "nohost", WORKER], "expected HOST:PORT"),
        (["--num-processes", "2", "--cpu-devices", "0", WORKER], "--cpu-devices 0"),
        (["--num-processes", "2", "--timeout", "-1", WORKER], "--timeout -1.0"),
        (["--timeout", "5", WORKER], "--timeout applies to local runs"),
    ],
)
def test_launcher_refuses_bad_arguments(argv, message, capsys):
    from jaxrl import launch

    with pytest.raises(SystemExit) as e:
        launch.main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_single_process_helpers_are_plain_jax():
    """Outside jax.distributed the helpers are device_put / device_get / identity, and
    ``initialize`` refuses a bad count or id before it touches JAX."""
    import jax

    from jaxrl import distributed

    assert not distributed.multi_process() and distributed.is_primary()
    tree = {"x": np.arange(4.0, dtype=np.float32), "key": jax.random.key(3)}
    placed = distributed.to_global(tree, jax.sharding.SingleDeviceSharding(jax.devices()[0]))
    back = distributed.gather(placed)
    np.testing.assert_array_equal(back["x"], tree["x"])
    np.testing.assert_array_equal(
        jax.random.key_data(back["key"]), jax.random.key_data(tree["key"])
    )
    assert distributed.broadcast_text("run folder") == "run folder"
    distributed.check_spans_processes(jax.devices()[:1])  # one process: nothing to leave out
    with pytest.raises(ValueError, match="num_processes=0"):
        distributed.initialize("127.0.0.1:1", 0, 0)
    with pytest.raises(ValueError, match="process_id=2"):
        distributed.initialize("127.0.0.1:1", 2, 2)
