"""Run management: exact resume (also after SIGKILL), sweeps, recompilation, NaN guard,
incompatible/damaged checkpoints, multi-device, the evaluation schedule (step 0 and about 10
evaluations by default), offline runs' units. Bad arguments: ``test_driver_inputs.py``."""

import dataclasses
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from conftest import CountingPPO

import jaxrl
from jaxrl import envs, rollout, staged
from jaxrl import sweep as sweeps
from jaxrl.agents import bc, ppo
from jaxrl.checkpoint import Checkpointer, CheckpointError
from jaxrl.driver import EVAL_STREAM, NonFiniteError, canonical_config, evaluation_keys
from jaxrl.loggers import read_jsonl

SMALL = ppo.Config(num_envs=8, num_steps=16, num_minibatches=2, num_epochs=2)
CHUNK = SMALL.num_envs * SMALL.num_steps
ENV = envs.make("pendulum")
HERE = os.path.dirname(os.path.abspath(__file__))


def leaves_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb, strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def run(config=SMALL, steps=4 * CHUNK, **kw):
    kw.setdefault("chunk_steps", CHUNK)
    return jaxrl.train(ppo, config, ENV, jax.random.key(1), steps, progress=False, **kw)


@pytest.mark.parametrize("seeds", [None, 2])
def test_resume_is_bit_identical(tmp_path, seeds):
    """Also after the step-0 evaluation row: the resumed run does not evaluate step 0 again,
    and its history (every row, evaluations included) equals the uninterrupted run's."""
    whole = run(steps=6 * CHUNK, seeds=seeds)
    first = run(steps=3 * CHUNK, seeds=seeds, checkpoint_dir=str(tmp_path))
    assert first.total_steps == 3 * CHUNK
    resumed = run(steps=6 * CHUNK, seeds=seeds, checkpoint_dir=str(tmp_path), resume=True)
    assert resumed.steps_this_call == 3 * CHUNK
    leaves_equal(whole.state, resumed.state)  # params, optimiser, normaliser, envs, keys, step
    assert sorted(resumed.history) == sorted(whole.history)
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name], err_msg=name)
    steps = [row["step"] for row in read_jsonl(tmp_path / "history.jsonl")]
    assert steps == [0, *range(CHUNK, 7 * CHUNK, CHUNK)]  # one step-0 row, no duplicate
    ckpt = Checkpointer(tmp_path)
    assert ckpt.read_record(6 * CHUNK)["history_rows"] == 7
    ckpt.close()


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    env = {**os.environ}
    worker = [sys.executable, os.path.join(HERE, "resume_worker.py")]
    clean = subprocess.run(
        worker + ["--dir", str(tmp_path / "a"), "--out", str(tmp_path / "a.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert clean.returncode == 0, clean.stderr[-2000:]
    proc = subprocess.Popen(
        worker + ["--dir", str(tmp_path / "b"), "--out", str(tmp_path / "b.npz"), "--sleep", "0.3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen = 0
    deadline = time.time() + 240
    while seen < 4 and time.time() < deadline:
        line = proc.stdout.readline()
        seen += line.startswith("chunk-done")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert seen == 4, "worker did not get far enough before the deadline"
    assert Checkpointer(tmp_path / "b").steps(), "no checkpoint survived the kill"
    resumed = subprocess.run(
        worker + ["--dir", str(tmp_path / "b"), "--out", str(tmp_path / "b.npz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    done = int(resumed.stdout.strip().splitlines()[-1].split()[-1])
    assert 0 < done < 10 * CHUNK  # it really resumed part-way
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])


def test_sweep_setting_equals_single_run():
    sweep = sweeps.grid(SMALL, learning_rate=[1e-3, 3e-4], clip_eps=[0.1, 0.3])
    assert sweep.size == 4 and sweep.labels[1] == "learning_rate=0.001,clip_eps=0.3"
    result = run(sweep, steps=2 * CHUNK, seeds=2)
    assert result.history["policy_loss"].shape == (3, 4, 2)  # step 0 + chunks, settings, seeds
    keys = jax.random.split(jax.random.key(1), 2)
    for i in (1, 2):
        single = jaxrl.train(
            ppo, sweep.setting(i), ENV, keys[1], 2 * CHUNK, chunk_steps=CHUNK, progress=False
        )
        mine = jax.tree.map(lambda x, i=i: x[i, 1], result.state.params)
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)
    table = sweeps.results_table(result, sweep)
    assert len(table) == 4 and table[0]["mean"] >= table[-1]["mean"]
    assert "learning_rate=" in sweeps.format_table(table)


def test_static_field_in_a_sweep_is_rejected():
    with pytest.raises(ValueError, match=r"Config.num_envs is static"):
        sweeps.grid(SMALL, num_envs=[4, 8])
    with pytest.raises(ValueError, match="no field 'lr'"):
        sweeps.grid(SMALL, lr=[1e-3])
    with pytest.raises(ValueError, match="num_steps is static and must be equal"):
        sweeps.stack([SMALL, dataclasses.replace(SMALL, num_steps=32)])
    rs = sweeps.random_search(
        SMALL, 5, learning_rate=("log_uniform", 1e-4, 1e-2), ent_coef=[0, 0.01]
    )
    assert rs.size == 5
    assert all(1e-4 <= s["learning_rate"] <= 1e-2 for s in rs.settings)


def test_changing_dynamic_values_never_retraces():
    agent = CountingPPO()
    for lr, clip in [(1e-3, 0.2), (3e-4, 0.1), (5e-5, 0.3)]:
        config = dataclasses.replace(SMALL, learning_rate=lr, clip_eps=clip)
        jaxrl.train(
            agent, config, ENV, jax.random.key(0), 2 * CHUNK, chunk_steps=CHUNK, progress=False
        )
    assert agent.traces == 1
    for lrs in ([1e-3, 3e-4], [1e-4, 2e-4]):
        jaxrl.train(
            agent,
            sweeps.grid(SMALL, learning_rate=lrs),
            ENV,
            jax.random.key(0),
            2 * CHUNK,
            chunk_steps=CHUNK,
            progress=False,
        )
    assert agent.traces == 2  # one more trace for the new (vmapped) program, none for new values


def test_nan_guard_names_metric_step_and_run(tmp_path):
    # Config.validate refuses NaN/inf values, so finite ones that overflow float32 break runs.
    broken = sweeps.grid(SMALL, reward_scale=[1.0, 1e38])
    with pytest.raises(NonFiniteError, match=r"non-finite .* env step 128 \(setting 1 .*seed 0\)"):
        run(broken, seeds=2)
    # A run that goes bad after checkpoints keeps its last good checkpoint.
    run(steps=2 * CHUNK, checkpoint_dir=str(tmp_path))
    bad = dataclasses.replace(SMALL, learning_rate=1e30)
    with pytest.raises(NonFiniteError, match=r"env step 384 .*last good checkpoint: step 256"):
        run(bad, steps=4 * CHUNK, checkpoint_dir=str(tmp_path), resume=True)
    assert Checkpointer(tmp_path).steps()[-1] == 2 * CHUNK
    good = run(steps=4 * CHUNK, checkpoint_dir=str(tmp_path), resume=True)
    assert np.isfinite(good.history["policy_loss"][1:]).all()  # row 0: the step-0 evaluation


def test_checkpoint_from_before_a_static_field_existed_resumes_at_its_default(tmp_path):
    """A checkpoint whose record lacks static fields added later (here the issue-20 options,
    removed from the record as an older version wrote it) resumes when the run keeps them at
    their defaults, bit for bit; a run that sets one is refused, naming it."""
    run(steps=2 * CHUNK, checkpoint_dir=str(tmp_path))
    for path in glob.glob(str(tmp_path / "*" / "record" / "metadata")):
        with open(path) as f:
            record = json.load(f)
        for name in ("sequence_length", "obs_stats_update", "advantage_form", "adam_eps"):
            record["static_config"].pop(name, None)
        with open(path, "w") as f:
            json.dump(record, f)
    resumed = run(steps=4 * CHUNK, checkpoint_dir=str(tmp_path), resume=True)
    assert resumed.steps_this_call == 2 * CHUNK
    whole = run(steps=4 * CHUNK)
    np.testing.assert_array_equal(
        jax.tree.leaves(resumed.state.params)[0], jax.tree.leaves(whole.state.params)[0]
    )
    brax = dataclasses.replace(SMALL, advantage_form="brax")
    with pytest.raises(CheckpointError, match=r"advantage_form=.*gae.* in the checkpoint, .*brax"):
        run(brax, steps=6 * CHUNK, checkpoint_dir=str(tmp_path), resume=True)


def test_incompatible_checkpoint_is_a_clear_error(tmp_path):
    run(steps=2 * CHUNK, checkpoint_dir=str(tmp_path))
    bigger = dataclasses.replace(SMALL, hidden_sizes=(32, 32))
    with pytest.raises(
        CheckpointError, match=r"static_config.hidden_sizes='\(64, 64\)' in the checkpoint"
    ):
        run(bigger, checkpoint_dir=str(tmp_path), resume=True)
    with pytest.raises(CheckpointError, match=r"seeds=None in the checkpoint, 2 here"):
        run(checkpoint_dir=str(tmp_path), resume=True, seeds=2)
    # Without the run record, the array signature still catches a state of another shape.
    other = ppo.init(bigger, ENV, jax.random.key(0))
    with pytest.raises(CheckpointError, match=r"(?s)does not fit this run.s state.*Dense_0"):
        Checkpointer(tmp_path).restore(like=other)


DAMAGE = """
import logging, os, sys
logging.basicConfig(format="%(levelname)s:%(name)s:%(message)s")
import jax, jaxrl
from jaxrl import envs
from jaxrl.agents import ppo
from jaxrl.checkpoint import CheckpointError
root = sys.argv[1]
cfg = ppo.Config(num_envs=4, num_steps=8, num_minibatches=1, num_epochs=1)
kw = dict(chunk_steps=32, eval_every=0, progress=False)
def train(folder, steps, **more):
    return jaxrl.train(ppo, cfg, envs.make("cartpole"), jax.random.key(0), steps,
                       checkpoint_dir=os.path.join(root, folder), **kw, **more)
def truncate_arrays(step_dir):
    for base, _, files in os.walk(os.path.join(step_dir, "state")):
        for f in files:
            if os.path.basename(base) == "d":
                open(os.path.join(base, f), "w").close()
for folder in ("one", "all"):
    train(folder, 96)
truncate_arrays(os.path.join(root, "one", "96"))
print("RESUMED", train("one", 128, resume=True).steps_this_call, file=sys.stderr, flush=True)
truncate_arrays(os.path.join(root, "all", "96"))
with open(os.path.join(root, "all", "64", "record", "metadata"), "w") as f:
    f.write('{"broken')
os.remove(os.path.join(root, "all", "32", "state", "manifest.ocdbt"))
try:
    train("all", 128, resume=True)
except CheckpointError as e:
    print("FINAL", e, file=sys.stderr, flush=True)
"""


def test_damaged_checkpoints_are_one_line_each(tmp_path):
    """Each damaged checkpoint is one warning line (folder, step, cause); orbax's and
    TensorStore's own output (absl logs, "Event loop is closed" tracebacks, abandoned tasks and
    coroutines, also at exit) does not reach the screen; when every checkpoint is damaged the
    CheckpointError lists each step and its cause and is the last thing printed."""
    out = subprocess.run(
        [sys.executable, "-c", DAMAGE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.path.dirname(HERE),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()
    for noise in ("Traceback", "Event loop is closed", "Exception ignored", "Task ", "absl"):
        assert noise not in out.stderr, out.stderr[-3000:]
    one = str(tmp_path / "one")
    assert lines[0].startswith(
        f"WARNING:jaxrl.checkpoint:checkpoint {one}/96 is damaged (unreadable arrays (ValueError: "
    )
    assert lines[0].endswith("; trying an older one") and lines[1] == "RESUMED 64"
    folder = str(tmp_path / "all")
    warnings, final = lines[2:5], lines[5:]
    for line, step in zip(warnings, (96, 64, 32), strict=True):
        assert line.startswith(f"WARNING:jaxrl.checkpoint:checkpoint {folder}/{step} is damaged (")
    assert "unreadable record (JSONDecodeError" in warnings[1]
    assert warnings[2].endswith("; no older checkpoint to try")
    assert final[0] == f"FINAL no usable checkpoint in {folder} (every one is damaged):"
    assert [line.split(":")[0] for line in final[1:]] == ["  step 96", "  step 64", "  step 32"]
    assert all(len(line) < 600 for line in lines)  # no TensorStore spec dumps


def test_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    run(steps=3 * CHUNK, checkpoint_dir=str(tmp_path))
    newest = tmp_path / str(3 * CHUNK)
    shutil.rmtree(newest / "state")
    (newest / "state").mkdir()
    (newest / "state" / "garbage").write_text("not an array")
    resumed = run(steps=4 * CHUNK, checkpoint_dir=str(tmp_path), resume=True)
    assert resumed.steps_this_call == 2 * CHUNK  # from step 256, not 384
    leaves_equal(resumed.state, run(steps=4 * CHUNK).state)


def test_history_is_written_once_and_restored_exactly(tmp_path):
    """Checkpoint records refer to the rows of history.jsonl instead of copying them; a resume
    after a damaged newest checkpoint truncates the file to the checkpoint it fell back to."""
    whole = run(steps=4 * CHUNK, eval_every=2 * CHUNK)
    run(steps=3 * CHUNK, eval_every=2 * CHUNK, checkpoint_dir=str(tmp_path))
    ckpt = Checkpointer(tmp_path)
    record = ckpt.read_record(3 * CHUNK)
    ckpt.close()
    assert "history" not in record and record["history_rows"] == 4  # step 0 + 3 chunks
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 4
    shutil.rmtree(tmp_path / str(3 * CHUNK) / "state")
    resumed = run(steps=4 * CHUNK, eval_every=2 * CHUNK, checkpoint_dir=str(tmp_path), resume=True)
    assert resumed.steps_this_call == 2 * CHUNK
    assert sorted(resumed.history) == sorted(whole.history)
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name], err_msg=name)
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 5
    # A fresh run in the same folder starts a new history.
    run(steps=CHUNK, checkpoint_dir=str(tmp_path))
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 2  # step 0 + 1 chunk


def test_resumes_checkpoints_that_hold_their_history(tmp_path):
    """Checkpoints written before the history moved to history.jsonl carry it in the record; a
    run resumed from one writes the file, so that its own checkpoints can be resumed again."""
    whole = run(steps=4 * CHUNK, eval_every=0)
    run(steps=2 * CHUNK, eval_every=0, checkpoint_dir=str(tmp_path))
    rows = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    for step in (CHUNK, 2 * CHUNK):
        path = tmp_path / str(step) / "record" / "metadata"
        record = json.loads(path.read_text())
        del record["history_rows"]
        path.write_text(json.dumps({**record, "history": rows[: step // CHUNK]}))
    (tmp_path / "history.jsonl").unlink()
    run(steps=3 * CHUNK, eval_every=0, checkpoint_dir=str(tmp_path), resume=True)
    resumed = run(steps=4 * CHUNK, eval_every=0, checkpoint_dir=str(tmp_path), resume=True)
    assert resumed.steps_this_call == CHUNK
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name], err_msg=name)


def test_init_state_continues_a_state_exactly():
    """``init_state`` starts from a given state (copied, not donated): two halves, the second
    started from the first's final state, equal the whole run."""
    whole = run(steps=4 * CHUNK, eval_every=0)
    half = run(steps=2 * CHUNK, eval_every=0)
    second = run(steps=2 * CHUNK, eval_every=0, init_state=half.state)
    again = run(steps=2 * CHUNK, eval_every=0, init_state=half.state)  # half.state still alive
    leaves_equal(second.state, whole.state)
    leaves_equal(again.state, whole.state)
    assert half.history["step"][0] == CHUNK  # eval_every=0: no step-0 evaluation either


def test_default_schedule_evaluates_step_0_then_about_10_times():
    """``eval_every=None``: chunks of 1/20 of the run, an evaluation after every second one, and
    one of the initial state (row ``step: 0``, evaluation metrics only). Each evaluation is
    reproduced outside the driver from :func:`evaluation_keys` (the keys after chunks are
    ``fold_in(fold_in(key, 0x5EED), chunk)``, as before step-0 evaluations existed)."""
    key, episodes, logger = jax.random.key(1), 2, ListLogger()
    result = jaxrl.train(
        ppo,
        SMALL,
        ENV,
        key,
        float(20 * CHUNK),  # a whole float is a count
        num_eval_episodes=episodes,
        loggers=[logger],
        progress=False,
    )
    assert (result.chunk_steps, result.total_steps, result.requested_steps) == (
        CHUNK,
        *[20 * CHUNK] * 2,
    )
    assert result.step_unit == "env steps" and not result.rounded_up
    steps, evals = result.history["step"], result.history["eval_return"]
    assert logger.steps == list(steps) and steps[0] == 0 and len(steps) == 21
    np.testing.assert_array_equal(
        steps[~np.isnan(evals)], [0, *range(2 * CHUNK, 21 * CHUNK, 2 * CHUNK)]
    )
    assert (
        np.isnan(result.history["policy_loss"][0])
        and np.isfinite(result.history["policy_loss"][1:]).all()
    )

    config = canonical_config(SMALL)

    @jax.jit
    def evaluate(state, k):
        def policy(obs, kk):
            return ppo.act(config, ENV, state, obs, kk, deterministic=True)

        return rollout.evaluate(ENV, policy, k, episodes)["eval_return"]

    start = ppo.init(config, ENV, key)
    assert float(evaluate(start, evaluation_keys(key, None))) == evals[0]
    assert float(evaluate(result.state, evaluation_keys(key, 19))) == evals[-1]
    after = jax.random.fold_in(jax.random.fold_in(key, EVAL_STREAM), 7)
    leaves_equal(evaluation_keys(key, 7), after)
    leaves_equal(evaluation_keys(key, -1, seeds=3), evaluation_keys(key, None, seeds=3))
    with pytest.raises(ValueError, match="chunk=-2"):
        evaluation_keys(key, -2)


def test_rounding_up_to_whole_chunks_is_reported():
    result = run(steps=2 * CHUNK + 1, eval_every=0)
    assert (result.requested_steps, result.total_steps) == (2 * CHUNK + 1, 3 * CHUNK)
    assert result.rounded_up and result.history["step"][-1] == 3 * CHUNK


def test_offline_runs_count_gradient_steps(tmp_path, capsys, monkeypatch):
    """An offline run's steps are gradient steps: ``step_unit``, the progress bar (unit
    ``grad``, the last evaluation, no episode return) and the plot's x-axis say so; the plot
    marks its few evaluations (a single one would be a lone point)."""
    from offline_problems import controller_dataset

    import jaxrl.plot

    ds = controller_dataset("cartpole", 2, 400)
    tiny = bc.Config(hidden_sizes=(16, 16), batch_size=32)
    result = jaxrl.train(
        bc,
        tiny,
        envs.make("cartpole"),
        jax.random.key(0),
        40,
        chunk_steps=20,
        data=ds,
        num_eval_episodes=2,
        progress=True,
    )
    assert result.step_unit == "gradient steps"
    np.testing.assert_array_equal(result.history["step"], [0, 20, 40])
    bar = capsys.readouterr().err.splitlines()[-1]
    assert "grad/s" in bar and "eval=" in bar and "ret=" not in bar, bar

    figures = []
    monkeypatch.setattr("matplotlib.pyplot.close", figures.append)
    history = {"step": np.array([0, 20, 40]), "eval_return": np.array([np.nan, 3.0, np.nan])}
    jaxrl.plot.plot_curves(history, tmp_path / "one.png", xlabel=result.step_unit)
    (ax,) = figures[0].axes
    (line,) = ax.get_lines()
    assert ax.get_xlabel() == "gradient steps" and line.get_marker() == "o"
    np.testing.assert_array_equal(line.get_xdata(), [20])
    history["eval_return"] = np.array([1.0, np.nan, 3.0])  # a gap: the two points are joined
    jaxrl.plot.plot_curves(history, tmp_path / "two.png")
    (line,) = figures[1].axes[0].get_lines()
    assert figures[1].axes[0].get_xlabel() == "env steps"
    np.testing.assert_array_equal(line.get_xdata(), [0, 40])


class ListLogger:
    def __init__(self):
        self.steps = []

    def log(self, step, row):
        self.steps.append(step)

    def close(self):
        pass


def test_staged_run_hands_the_best_state_on_and_resumes(tmp_path):
    """Phase 1 starts from what the hand-off returns (here phase 0's best state itself); a
    second call in the same folder retrains nothing and returns the same bits."""
    calls, loggers = [], []

    def handoff(end):
        calls.append((end.index, end.next_phase.name))
        return end.state, {"best_iteration": int(end.state.step)}

    def new_loggers(phase):
        loggers.append(ListLogger())
        return [loggers[-1]]

    def stage_run():
        phases = [staged.Phase(ppo, SMALL, 2 * CHUNK, name=f"p{k}") for k in range(2)]
        return staged.run(
            phases,
            ENV,
            jax.random.key(1),
            eval_every=CHUNK,
            handoff=handoff,
            run_dir=str(tmp_path),
            num_eval_episodes=2,
            loggers_fn=new_loggers,
        )

    first = stage_run()
    assert calls == [(0, "p1")] and [log.steps for log in loggers] == [[0, 128, 256]] * 2
    p0, p1 = first
    assert p0.best_eval_return == np.nanmax(p0.history["eval_return"][1:])  # not step 0's
    assert p0.info == {"best_iteration": p0.best_step // CHUNK} and p1.info is None
    assert int(p1.state.step) == (p0.best_step + p1.best_step) // CHUNK  # continued from p0's
    again = stage_run()
    assert calls == [(0, "p1")] * 2 and [log.steps for log in loggers[2:]] == [[], []]
    for a, b in zip(first, again, strict=True):
        leaves_equal(a.state, b.state)
        assert a.best_step == b.best_step and a.info == b.info
        for name in a.history:
            np.testing.assert_array_equal(a.history[name], b.history[name])


MULTI_DEVICE = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import jax, numpy as np, envs, jaxrl
from jaxrl.agents import ppo
assert jax.device_count() == 4
cfg = ppo.Config(num_envs=8, num_steps=16, num_minibatches=2, num_epochs=2)
env = envs.make("pendulum")
for seeds in (None, 4):
    one = jaxrl.train(ppo, cfg, env, jax.random.key(1), 512, chunk_steps=128, seeds=seeds,
                      progress=False)
    four = jaxrl.train(ppo, cfg, env, jax.random.key(1), 512, chunk_steps=128, seeds=seeds,
                       progress=False, devices=4)
    obs = four.state.env_state.obs
    assert len(obs.sharding.device_set) == 4, obs.sharding
    assert not obs.sharding.is_fully_replicated
    for x, y in zip(jax.tree.leaves(one.state.params), jax.tree.leaves(four.state.params)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-5)
    print("ok", seeds)
"""


@pytest.mark.multidevice
def test_four_cpu_devices_match_one():
    out = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.path.dirname(HERE),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["ok", "None", "ok", "4"]


def test_checkpoint_round_trips_keys_and_empty_arrays(tmp_path):
    """MJX states hold zero-size arrays (orbax refuses them) and states hold typed keys."""
    state = {
        "key": jax.random.key(3),
        "empty": jax.numpy.zeros((4, 0), jax.numpy.float32),
        "x": jax.numpy.arange(5.0),
    }
    ckpt = Checkpointer(tmp_path, async_save=False)
    ckpt.save(7, state, {"agent": "none"})
    restored, record = ckpt.restore(like=state)
    ckpt.close()
    assert record["step"] == 7
    leaves_equal(state, restored)
    assert restored["empty"].shape == (4, 0)


@pytest.mark.parametrize(
    "returns, first, later",
    [
        ([1.0, 3.0, 2.0, 3.0], 1, 3),  # an exact tie: the earliest, or the later
        ([1.0, 3.0, 3.0 - 5e-7, 2.0], 1, 2),  # within LATER_TOLERANCE below: the later too
        ([3.0, 3.0 - 6e-7, 3.0 - 1.2e-6], 0, 2),  # the kept return drifts down, as GoRL's
        ([3.0, 3.0 - 2e-6], 0, 0),  # beyond the tolerance: the higher one
        ([0.5], 0, 0),
    ],
)
def test_best_evaluation_tie_rules(returns, first, later):
    # "later" is GoRL's `current_reward >= best_reward - 1e-6` then
    # `best_reward = current_reward` (scripts/components/train_encoder_ppo.py:235-236)
    assert staged.best_evaluation(returns) == first
    assert staged.best_evaluation(np.array(returns), "later") == later


def test_best_evaluation_refuses_empty_nan_and_unknown_rules():
    for bad in ([], [1.0, float("nan")]):
        with pytest.raises(ValueError, match="non-empty 1-D array without NaN"):
            staged.best_evaluation(bad)
    with pytest.raises(ValueError, match="'first' or 'later'"):
        staged.best_evaluation([1.0], "last")  # type: ignore[arg-type]


def test_staged_phase_ties_choose_the_restored_checkpoint(monkeypatch, tmp_path):
    """A phase's ``ties`` reaches the selection, and the restored state is the one picked."""
    seen = []

    def pick(returns, ties="first"):
        seen.append((len(returns), ties))
        return 0 if ties == "first" else len(returns) - 1

    monkeypatch.setattr(staged, "best_evaluation", pick)
    for ties in ("first", "later"):
        phase = staged.Phase(ppo, SMALL, 2 * CHUNK, name=ties, ties=ties)
        (done,) = staged.run(
            [phase],
            ENV,
            jax.random.key(1),
            eval_every=CHUNK,
            run_dir=str(tmp_path),
            num_eval_episodes=1,
        )
        assert done.best_step == (CHUNK if ties == "first" else 2 * CHUNK)
        assert int(done.state.step) == done.best_step // CHUNK
    assert seen == [(2, "first"), (2, "later")]


# --- explicit evaluation schedules (eval_at) ---------------------------------------------------


def test_eval_at_evaluates_and_checkpoints_exactly_the_listed_steps(tmp_path):
    """GoRL's official schedule shape: the start, irregular steps, not the last chunk. Chunks
    are the gcd of the listed iterations and the run's (here one iteration); checkpoints follow
    the evaluations (plus the last chunk); a resumed run evaluates on the same steps."""
    per = SMALL.num_envs * SMALL.num_steps  # 128 steps per iteration
    at = [0, 2 * per, 3 * per, 7 * per]
    run = lambda steps, **kw: jaxrl.train(  # noqa: E731
        ppo,
        SMALL,
        ENV,
        jax.random.key(0),
        steps,
        **{"eval_at": at, **kw},
        num_eval_episodes=2,
        progress=False,
        keep_checkpoints=10,
    )
    whole = run(9 * per)
    steps, evals = whole.history["step"], whole.history["eval_return"]
    assert list(steps) == [0, *range(per, 10 * per, per)]
    assert list(steps[~np.isnan(evals)]) == at
    run(4 * per, checkpoint_dir=str(tmp_path / "cut"), eval_at=at[:3])  # steps within the run
    resumed = run(9 * per, checkpoint_dir=str(tmp_path / "cut"), resume=True)
    np.testing.assert_array_equal(resumed.history["eval_return"], evals)
    checkpointer = Checkpointer(str(tmp_path / "cut"), keep=10)
    try:
        assert checkpointer.steps() == [2 * per, 3 * per, 4 * per, 7 * per, 9 * per]
    finally:
        checkpointer.close()
    # chunks of two iterations when the schedule allows them
    even = jaxrl.train(
        ppo, SMALL, ENV, jax.random.key(0), 8 * per, eval_at=[2 * per, 6 * per], progress=False
    )
    assert list(even.history["step"]) == [2 * per, 4 * per, 6 * per, 8 * per]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"eval_at": [0, 128], "eval_every": 128}, ValueError, "give one evaluation schedule"),
        ({"eval_at": [0, 10_000]}, ValueError, r"eval_at\[1\]=10000.*<= total_steps=1024"),
        ({"eval_at": [-128]}, ValueError, r"eval_at\[0\]=-128"),
        ({"eval_at": [True]}, TypeError, r"eval_at\[0\]=True"),
        ({"eval_at": 128}, TypeError, "expected a sequence of step counts"),
    ],
)
def test_bad_eval_at_is_refused_by_name(kwargs, error, message, tmp_path):
    with pytest.raises(error, match=message):
        jaxrl.train(
            ppo, SMALL, ENV, jax.random.key(0), 1024, checkpoint_dir=str(tmp_path / "x"), **kwargs
        )
    assert not (tmp_path / "x").exists()


def test_staged_phase_eval_at_can_keep_the_start_state(monkeypatch, tmp_path):
    """With 0 in ``Phase.eval_at`` the start row is a candidate: picked, the phase hands on the
    state it started from (``agent.init`` with the phase key, or the given start), not a
    trained checkpoint. Without 0 the start is never a candidate."""
    monkeypatch.setattr(staged, "best_evaluation", lambda returns, ties="first": 0)
    key = jax.random.key(1)
    phase = staged.Phase(ppo, SMALL, 2 * CHUNK, name="p", eval_at=(0, CHUNK, 2 * CHUNK))
    (done,) = staged.run([phase], ENV, key, eval_every=None, run_dir=str(tmp_path / "a"))
    assert done.best_step == 0 and int(done.state.step) == 0
    fresh = ppo.init(SMALL, ENV, jax.random.fold_in(key, 0))
    for a, b in zip(jax.tree.leaves(fresh.params), jax.tree.leaves(done.state.params), strict=True):
        np.testing.assert_array_equal(a, b)
    later = dataclasses.replace(phase, eval_at=(CHUNK, 2 * CHUNK))
    (done,) = staged.run([later], ENV, key, eval_every=None, run_dir=str(tmp_path / "b"))
    assert done.best_step == CHUNK
    with pytest.raises(ValueError, match="every Phase to have its own eval_at"):
        staged.run([phase, dataclasses.replace(phase, eval_at=None)], ENV, key, eval_every=None)
    with pytest.raises(ValueError, match="needs a step > 0"):
        staged.run([dataclasses.replace(phase, eval_at=(0,))], ENV, key, eval_every=None)


def test_cpu_init_forms_no_batched_lapack_call_and_keeps_the_single_run_bits():
    """Issue 21: a vmapped orthogonal initialiser is a batched LAPACK QR, which jaxlib 0.10's
    CPU kernel spreads over XLA:CPU's intra-op pool and waits for on it. It deadlocked a 4-seed
    PRDC run, and this very test's first version, which *ran* the vmapped program to compare
    bits: one of five ``tests/test_driver.py`` runs without the XLA flags, under load, stopped
    here with both XLA threads in ``lapack_sgeqrf_ffi -> ParallelBatchMap ->
    BlockingCounter::Wait``. So the batched program is only lowered here, never run. The
    driver initialises seeds (and sweep settings) one after another on CPU: every LAPACK call
    in its init program has no batch dimension, where the vmapped program's have one, and each
    seed's parameters are those of a single run with its key, bit for bit."""
    from jaxrl import driver

    keys = jax.random.split(jax.random.key(0), 4)

    def init(config, key, data):
        return ppo.init(config, ENV, key).params

    def lapack_batch_dims(fn):
        text = jax.jit(fn).lower(SMALL, keys, None).as_text()
        calls = [line for line in text.splitlines() if "@lapack_" in line]
        assert calls  # the orthogonal initialiser's QR
        return {line.split('num_batch_dims = "')[1].split('"')[0] for line in calls}

    ours = driver._Layout(sweep=None, seeds=4).init(init)
    vmapped = jax.vmap(init, in_axes=(None, 0, None))
    assert lapack_batch_dims(ours) == {"0"} and lapack_batch_dims(vmapped) == {"1"}
    single = jax.jit(lambda key: init(SMALL, key, None))
    singles = [single(k) for k in keys]
    a = jax.jit(ours)(SMALL, keys, None)
    for i, one in enumerate(singles):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(one), strict=True):
            np.testing.assert_array_equal(x[i], y)
    sweep = sweeps.grid(SMALL, learning_rate=[1e-3, 3e-3])
    layout = driver._Layout(sweep=sweep.size, seeds=4)
    both = jax.jit(layout.init(init))(sweep.config, keys, None)
    for x, y in zip(jax.tree.leaves(both), jax.tree.leaves(singles[3]), strict=True):
        np.testing.assert_array_equal(x[1, 3], y)  # the same keys for every setting
