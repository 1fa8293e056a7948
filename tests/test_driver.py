"""Run management: exact resume (also after SIGKILL), sweeps, recompilation, NaN guard,
incompatible/damaged checkpoints, multi-device."""

import dataclasses
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
from jaxrl import envs, staged
from jaxrl import sweep as sweeps
from jaxrl.agents import ppo
from jaxrl.checkpoint import Checkpointer, CheckpointError
from jaxrl.driver import NonFiniteError

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
    whole = run(steps=6 * CHUNK, seeds=seeds)
    first = run(steps=3 * CHUNK, seeds=seeds, checkpoint_dir=str(tmp_path))
    assert first.total_steps == 3 * CHUNK
    resumed = run(steps=6 * CHUNK, seeds=seeds, checkpoint_dir=str(tmp_path), resume=True)
    assert resumed.steps_this_call == 3 * CHUNK
    leaves_equal(whole.state, resumed.state)  # params, optimiser, normaliser, envs, keys, step
    np.testing.assert_array_equal(resumed.history["step"], whole.history["step"])
    np.testing.assert_array_equal(resumed.history["policy_loss"], whole.history["policy_loss"])


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
    assert result.history["policy_loss"].shape == (2, 4, 2)  # chunks, settings, seeds
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
    assert np.isfinite(good.history["policy_loss"]).all()


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
    assert "history" not in record and record["history_rows"] == 3
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 3
    shutil.rmtree(tmp_path / str(3 * CHUNK) / "state")
    resumed = run(steps=4 * CHUNK, eval_every=2 * CHUNK, checkpoint_dir=str(tmp_path), resume=True)
    assert resumed.steps_this_call == 2 * CHUNK
    assert sorted(resumed.history) == sorted(whole.history)
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name], err_msg=name)
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 4
    # A fresh run in the same folder starts a new history.
    run(steps=CHUNK, checkpoint_dir=str(tmp_path))
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1


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
    assert calls == [(0, "p1")] and [log.steps for log in loggers] == [[128, 256], [128, 256]]
    p0, p1 = first
    assert p0.best_eval_return == np.nanmax(p0.history["eval_return"])
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
