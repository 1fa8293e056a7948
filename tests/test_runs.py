"""The run layer (jaxrl/runs.py): a refused command line writes nothing, config.json is written
once and never changes, a resume refuses what would change the run and records what it amends.

Nothing here trains: runs are started with :func:`jaxrl.runs.start` (folder and config.json
only), and every refusal happens before training would begin.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

import numpy as np
import pytest

from jaxrl import data, runs
from jaxrl.agents import ppo as ppo_agent
from jaxrl.config import from_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ppo = importlib.import_module("experiments.ppo")
td3_bc = importlib.import_module("experiments.td3_bc")

TINY = [
    "--config.num-envs",
    "4",
    "--config.num-steps",
    "32",
    "--config.num-minibatches",
    "2",
    "--total-steps",
    "256",
    "--no-progress",
]


def started(tmp_path, *argv: str) -> str:
    """Start (but do not train) an experiments/ppo.py run; its folder."""
    args = runs.parse(ppo.Args, [*TINY, "--run-dir", str(tmp_path), *argv], preset=ppo.preset)
    return runs.start(args, ppo.setup).path


def resume(path: str, *argv: str) -> runs.Run:
    """What ``experiments/ppo.py --resume path argv`` does before training."""
    return runs.start(runs.parse(ppo.Args, ["--resume", path, *argv], preset=ppo.preset), ppo.setup)


def snapshot(path: str) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes."""
    out = {}
    for folder, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                out[os.path.relpath(os.path.join(folder, name), path)] = f.read()
    return out


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--config.learning-rate", "-1"], "learning_rate"),
        (["--config.num-minibatches", "3"], "num_minibatches"),
        (["--seeds", "0"], "seeds"),
        (["--seeds", "-3"], "seeds"),
        (["--env", "no-such-env"], "unknown env name 'no-such-env'"),
        (["--total-steps", "100"], r"total_steps=100 is less than one iteration .* at least 128"),
        (["--num-eval-episodes", "0"], "num_eval_episodes"),
        (["--eval-every", "-5"], "eval_every"),
    ],
)
def test_refused_command_line_leaves_no_run_folder(tmp_path, argv, match):
    run_dir = tmp_path / "runs"
    with pytest.raises(runs.RunError, match=match):
        ppo.main([*TINY, "--run-dir", str(run_dir), *argv])
    assert not run_dir.exists()


def test_missing_or_bad_dataset_leaves_no_run_folder(tmp_path):
    run_dir = tmp_path / "runs"
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(runs.RunError, match=f"(?s){missing}.*does not exist.*make_dataset.py"):
        td3_bc.main(["--dataset", str(missing), "--run-dir", str(run_dir)])
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a dataset")
    with pytest.raises(runs.RunError, match="bad.npz"):
        td3_bc.main(["--dataset", str(bad), "--run-dir", str(run_dir)])
    assert not run_dir.exists()


def test_tyro_refusal_leaves_no_run_folder(tmp_path, capsys):
    run_dir = tmp_path / "runs"
    with pytest.raises(SystemExit):
        ppo.main(["--config.activation", "sigmoid", "--run-dir", str(run_dir)])
    assert not run_dir.exists()
    assert "sigmoid" in capsys.readouterr().err


def test_config_json_schema_and_rebuild(tmp_path):
    path = started(tmp_path, "--env", "cartpole", "--seeds", "3", "--config.learning-rate", "1e-3")
    name = os.path.basename(path)
    assert name.startswith("ppo-cartpole-") and len(name) == len("ppo-cartpole-20260101-120000")
    assert sorted(os.listdir(path)) == ["config.json"]
    with open(os.path.join(path, "config.json")) as f:
        saved = json.load(f)
    assert set(saved) == {
        "script",
        "agent",
        "env",
        "dataset",
        "seed",
        "seeds",
        "config",
        "args",
        "members",
        "created",
        "jaxrl_version",
    }
    assert (saved["script"], saved["agent"], saved["env"]) == ("ppo", "ppo", "cartpole")
    assert (saved["dataset"], saved["seed"], saved["seeds"]) == (None, 0, 3)
    assert saved["args"]["resume"] is None and saved["args"]["total_steps"] == 256
    config = from_json(ppo_agent.Config, saved["config"])
    assert config.learning_rate == 1e-3 and config.num_envs == 4
    assert config.num_minibatches == 2 and config.hidden_sizes == (64, 64)  # cartpole's preset
    assert saved["members"] == [
        {
            "label": "PPO",
            "path": ".",
            "agent": "ppo",
            "env": "cartpole",
            "dataset": None,
            "config": saved["config"],
        }
    ]


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    paths = {started(tmp_path) for _ in range(3)}
    assert len(paths) == 3
    assert all(os.path.exists(os.path.join(p, "config.json")) for p in paths)


@pytest.mark.parametrize(
    "argv, field, old, new",
    [
        (["--env", "cartpole"], "env", "'pendulum'", "'cartpole'"),
        (["--seeds", "2"], "seeds", "1", "2"),
        (["--seeds", "0"], "seeds", "1", "0"),
        (["--seed", "7"], "seed", "0", "7"),
        (["--config.num-envs", "8"], "config.num_envs", "4", "8"),
        (
            ["--config.policy-head", "gaussian"],
            "config.policy_head",
            "'tanh_gaussian'",
            "'gaussian'",
        ),
        (["--total-steps", "128"], "total_steps", "256", "128"),
        (["--eval-every", "64"], "eval_every", "None", "64"),
    ],
)
def test_refused_resume_keeps_the_run_folder_byte_identical(tmp_path, argv, field, old, new):
    path = started(tmp_path)
    before = snapshot(path)
    with pytest.raises(runs.RunError) as refused:
        resume(path, *argv)
    message = str(refused.value)
    assert f"change {field} from {old}" in message and f"to {new}" in message, message
    assert snapshot(path) == before


def test_resume_amends_dynamic_values_and_total_steps(tmp_path, capsys):
    path = started(tmp_path)
    config_json = snapshot(path)["config.json"]
    run = resume(path, "--config.learning-rate", "0.002", "--total-steps", "512", "--no-progress")
    assert run.path == path and run.resumed
    assert run.members[0].config.learning_rate == 0.002 and run.members[0].total_steps == 512
    assert "config.learning_rate: 0.001 -> 0.002" in capsys.readouterr().out
    # written when the resumed run logs its first row (test_experiments: through real resumes)
    assert runs.read_amendments(path) == []
    run.record_amendment()
    (amendment,) = runs.read_amendments(path)
    assert amendment["changes"] == {
        "total_steps": [256, 512],
        "config.learning_rate": [0.001, 0.002],
    }
    assert amendment["time"][:2] == "20"
    assert snapshot(path)["config.json"] == config_json
    # the amended values are the run's values now: a plain resume keeps them, amends nothing
    run = resume(path)
    assert run.members[0].config.learning_rate == 0.002 and run.members[0].total_steps == 512
    assert len(runs.read_amendments(path)) == 1
    # display flags change nothing worth recording
    resume(path, "--progress", "--run-dir", str(tmp_path / "elsewhere"))
    assert len(runs.read_amendments(path)) == 1
    assert snapshot(path)["config.json"] == config_json


def test_resume_of_something_else_is_refused(tmp_path):
    with pytest.raises(runs.RunError, match="no config.json"):
        resume(str(tmp_path))
    path = started(tmp_path)
    with pytest.raises(runs.RunError, match="experiments/ppo.py, not of experiments/td3_bc.py"):
        runs.parse(td3_bc.Args, ["--resume", path])


def test_dataset_return_counts_complete_episodes_only():
    """Time limit 3: rows 0-1 terminate, 2-4 reach the limit, 5-6 are a fragment (cut by the end
    of collection), as in tests/test_make_dataset.py."""
    term = [0, 1, 0, 0, 0, 0, 0]
    tout = [0, 0, 0, 0, 1, 0, 1]
    n = len(term)
    ds = data.Dataset.create(
        observations=np.zeros((n, 1)),
        actions=np.zeros((n, 1)),
        rewards=np.arange(n, dtype=np.float32),
        terminals=np.array(term, bool),
        timeouts=np.array(tout, bool),
        next_observations=np.zeros((n, 1)),
    )
    mean, complete = runs.dataset_return(ds, 3)
    assert complete == 2 and mean == pytest.approx(((0 + 1) + (2 + 3 + 4)) / 2)
    assert runs.dataset_return(ds, None) == (None, None)
    assert runs.dataset_return(ds, 2) == (None, None)  # not the right limit: unknown
    np.testing.assert_allclose(runs.normalised([-100.0, 0.0], (-100.0, 100.0)), [0.0, 50.0])
    assert runs.normalised([1.0], None) is None
    assert runs.reference_returns({"random_return": -1, "expert_return": 2}, None, 5) == (-1, 5)


def test_resume_with_every_checkpoint_damaged_records_nothing(tmp_path):
    """A resume that cannot start (every checkpoint's record damaged) fails with the
    CheckpointError naming each step, and leaves the run folder as it was: no amendment."""
    from jaxrl.checkpoint import CheckpointError

    common = [*TINY, "--eval-every", "128", "--num-eval-episodes", "2", "--no-progress"]
    done = ppo.main([*common, "--total-steps", "256", "--run-dir", str(tmp_path)])
    folder = os.path.join(done.path, "checkpoints")
    steps = sorted(int(s) for s in os.listdir(folder) if s.isdigit())
    assert steps
    for step in steps:  # orbax keeps each checkpoint's JSON record in <step>/record/metadata
        with open(os.path.join(folder, str(step), "record", "metadata"), "w") as out:
            out.write("{not json")
    before = snapshot(done.path)
    with pytest.raises(CheckpointError, match="no usable checkpoint") as failed:
        ppo.main(["--resume", done.path, "--total-steps", "512", "--no-progress"])
    assert all(f"step {s}" in str(failed.value) for s in steps)
    assert snapshot(done.path) == before and runs.read_amendments(done.path) == []
