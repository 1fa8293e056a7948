"""Every training script in experiments/ resumes exactly: the whole budget in one run equals
part of it, then ``--resume`` to the whole (metric rows, final table and final parameters, bit
for bit). Budgets are tiny (two or three compiled chunks); each script runs in-process through
its ``main(argv)``, so the three runs share compiled chunks. Also: the scripts start from the
repository root both as files and as modules, and their ``--help`` lists string choices.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import subprocess
import sys
import typing

import jax
import numpy as np
import pytest

import jaxrl
from jaxrl import data, rollout, runs, stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TIMING = ("steps_per_second", "train_seconds", "compile_seconds")
"""Fields of results.json rows that are measured, not computed."""

PPO = [
    *("--config.num-envs", "4", "--config.num-steps", "32", "--config.num-minibatches", "2"),
    *("--config.num-epochs", "1", "--config.hidden-sizes", "8"),
]
"""A tiny PPO-family config: 128 env steps per iteration."""
GORL = [
    *PPO,
    *("--config.decoder-hidden-sizes", "8", "--config.decoder-epochs", "2"),
    *(
        "--config.decoder-batch",
        "64",
        "--config.collect-steps",
        "16",
        "--config.decoder-steps",
        "2",
    ),
    *("--stage-steps", "256", "256", "--eval-every", "128"),
]
PROPS = [
    *PPO,
    *("--config.props-num-steps", "8", "--config.props-num-minibatches", "2"),
    *("--config.se-num-minibatches", "2", "--config.se-epochs", "1"),
    *("--config.props-num-epochs", "1", "--env", "cartpole", "--methods", "PROPS", "PPO"),
]
OFFLINE = ["--config.batch-size", "32", "--config.hidden-sizes", "16", "16", "--eval-every", "20"]
COMMON = ["--num-eval-episodes", "2", "--no-progress"]
DQC = [
    *("--config.batch-size", "16", "--config.hidden-sizes", "8", "--config.actor-hidden-sizes"),
    *("8", "--config.horizon", "4", "--config.action-horizon", "2", "--config.best-of-n", "2"),
    *("--config.flow-steps", "2", "--eval-every", "20", "--dataset", "{maze}"),
]
"""A tiny DQC config on the tiny point-maze dataset ("{maze}"); 5 tasks x 1 episode."""

POLY = [
    *("--env", "minigrid/MultiRoute", "--config.num-envs", "2", "--config.num-steps", "8"),
    *("--config.num-vines", "4", "--config.set-size", "2", "--config.num-sets", "2"),
    *("--config.vine-steps", "10", "--config.num-minibatches", "2", "--config.hidden-sizes", "8"),
    *("--bc-steps", "10", "--attempts", "2", "--ppo-minibatches", "2", "--eval-every", "176"),
    *("--dataset", "{grid}"),
]
"""A tiny Polychromic PPO comparison on MultiRoute: 176 env steps per iteration (vines
counted), BC for 10 steps on 20 demonstrations."""

FB_CONFIG = [
    *("--config.z-dim", "4", "--config.batch-size", "16", "--config.preprocess-hidden", "16"),
    *("--config.preprocess-dim", "8", "--config.forward-hidden-sizes", "16"),
    *("--config.backward-hidden-sizes", "16", "16", "--config.actor-hidden-sizes", "16"),
    *("--config.inference-samples", "100"),
]
"""A tiny FB config."""
BREEZE_CONFIG = [
    *("--config.z-dim", "4", "--config.batch-size", "16", "--config.preprocess-hidden", "16"),
    *("--config.preprocess-dim", "8", "--config.forward-hidden-sizes", "16"),
    *("--config.backward-hidden-sizes", "16", "16", "--config.value-hidden", "16"),
    *("--config.actor-hidden", "16", "--config.actor-blocks", "1", "--config.time-features"),
    *("4", "--config.time-hidden", "8", "--config.train-samples", "2"),
    *("--config.eval-samples", "2", "--config.diffusion-steps", "2"),
    *("--config.inference-samples", "100"),
]
"""A tiny BREEZE config (from --preset cpu: FB's towers, arch mlp)."""
ZERO_SHOT = [
    *("--td3.batch-size", "32", "--td3.hidden-sizes", "16", "16", "--tasks", "reach_top_left"),
    *("--eval-every", "20", "--dataset", "{reach}"),
]
"""A tiny zero-shot report on the tiny random reach dataset ("{reach}"): one task (and its TD3+BC
reference), checkpoints (zero-shot evaluations) every 20 gradient steps."""
FB = [*FB_CONFIG, *ZERO_SHOT]
TD_JEPA_CONFIG = [
    *("--config.z-dim", "4", "--config.phi-dim", "6", "--config.batch-size", "16"),
    *("--config.phi-hidden-sizes", "16", "--config.psi-hidden-sizes", "16"),
    *("--config.predictor-hidden", "16", "--config.actor-hidden", "16"),
    *("--config.inference-samples", "100"),
]
"""A tiny TD-JEPA config."""

BOTH = [
    *(a.replace("--config.", "--fb.") for a in FB_CONFIG),
    *(a.replace("--config.", "--breeze.") for a in BREEZE_CONFIG),
    *(a.replace("--config.", "--td-jepa.") for a in TD_JEPA_CONFIG),
    *ZERO_SHOT,
    "--no-td3-reference",
]
"""experiments/zero_shot.py with FB, BREEZE and TD-JEPA (``--agents`` default), the tiny configs
and no TD3+BC (experiments/fb.py's tests cover it)."""

SCRIPTS = {
    # script: (argv, total_steps of the part run, of the whole run); "{data}": the dataset
    "ppo": ([*PPO, *COMMON, "--eval-every", "128", "--seeds", "2"], 256, 384),
    "sweep": (
        [*PPO, *COMMON, "--eval-every", "128", "--learning-rates", "1e-3", "3e-3"]
        + ["--clip-ranges", "0.2", "--seeds", "1"],
        256,
        384,
    ),
    "props": ([*PROPS, *COMMON, "--eval-every", "128", "--seeds", "2"], 256, 384),
    "gorl": ([*GORL, *COMMON, "--eval-schedule", "official"], 384, 512),  # 0, 128 per stage
    "gorl_vs_ppo": ([*GORL, *COMMON, "--seeds", "1"], 384, 512),
    "bc": ([*OFFLINE, *COMMON, "--dataset", "{data}"], 40, 60),
    "td3_bc": ([*OFFLINE, *COMMON, "--dataset", "{data}"], 40, 60),
    "prdc": ([*OFFLINE, *COMMON, "--dataset", "{data}"], 40, 60),
    "prdc_vs_td3_bc": ([*OFFLINE, *COMMON, "--datasets", "{data}", "--seeds", "2"], 40, 60),
    "dqc": ([*DQC, *COMMON, "--seeds", "2"], 40, 60),  # compiles shared with dqc_variants
    "dqc_variants": ([*DQC, *COMMON, "--variants", "dqc", "gcfbc", "--seeds", "2"], 40, 60),
    "polychromic_ppo": ([*POLY, *COMMON, "--seeds", "2"], 352, 528),
    "zero_shot": ([*BOTH, *COMMON, "--seeds", "2"], 40, 60),
}
"""(experiments/fb.py, breeze.py and td_jepa.py are zero_shot.py with ``--agents fb``,
``breeze`` or ``td_jepa``: zero_shot's resume test covers their resume with all three agents;
their --help tests are below.)"""


def script(name: str):
    return importlib.import_module(f"experiments.{name}")


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> str:
    """A small pendulum dataset written by experiments/make_dataset.py's writer: half random,
    half noisy swing-up controller (tests/offline_problems.py), 8 complete episodes each."""
    from offline_problems import pendulum_random_plus_good

    make_dataset = script("make_dataset")
    ds, low, high = pendulum_random_plus_good(1600, 1600)
    path = str(tmp_path_factory.mktemp("data") / "pendulum-mixed.npz")
    card = make_dataset._card(
        "random+good", ds, 200, env="pendulum", random_return=low, expert_return=high
    )
    return make_dataset.write(ds, path, card)


@pytest.fixture(scope="session")
def maze_dataset(tmp_path_factory) -> str:
    """A tiny point-maze navigate dataset written by ``make_dataset.py pointmaze`` (4 episodes of
    100 steps; its card names pointmaze-medium)."""
    path = str(tmp_path_factory.mktemp("maze") / "pointmaze-medium-navigate.npz")
    argv = ["pointmaze", "--episodes", "4", "--episode-length", "100", "--batch", "4"]
    return script("make_dataset").main([*argv, "--out", path])


@pytest.fixture(scope="session")
def grid_dataset(tmp_path_factory) -> str:
    """20 expert episodes on MultiRoute written by ``make_dataset.py minigrid``."""
    pytest.importorskip("xminigrid")
    path = str(tmp_path_factory.mktemp("grid") / "minigrid-MultiRoute-expert.npz")
    argv = ["minigrid", "--env", "minigrid/MultiRoute", "--episodes", "20", "--out", path]
    return script("make_dataset").main(argv)


@pytest.fixture(scope="session")
def reach_dataset(tmp_path_factory) -> str:
    """Reward-free random-action data on reach/fourrooms with every task's reward, written by
    ``make_dataset.py exorl`` (4 episodes of 200 steps; its card names the domain)."""
    path = str(tmp_path_factory.mktemp("reach") / "reach-random.npz")
    argv = ["exorl", "--domain", "reach/fourrooms", "--agent", "random", "--steps", "800"]
    return script("make_dataset").main([*argv, "--out", path])


def files(path: str, name: str) -> dict[str, str]:
    """Every file called ``name`` under ``path`` (relative path -> text)."""
    out = {}
    for folder, _, names in os.walk(path):
        if name in names:
            with open(os.path.join(folder, name)) as f:
                out[os.path.relpath(folder, path)] = f.read()
    return out


def rows(report: runs.Report) -> dict:
    """The rows of the run's results.json (NaN written as null) without the timings."""
    with open(os.path.join(report.path, "results.json")) as f:
        results = json.load(f)
    return {
        label: {k: v for k, v in row.items() if k not in TIMING}
        for label, row in results["rows"].items()
    }


def assert_same_states(a: runs.Report, b: runs.Report) -> None:
    for label in a.outcomes:
        left = jax.tree.leaves(a.outcomes[label].state)
        right = jax.tree.leaves(b.outcomes[label].state)
        assert len(left) == len(right) > 0
        for x, y in zip(left, right, strict=True):
            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                x, y = jax.random.key_data(x), jax.random.key_data(y)
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=label)


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_part_then_resume_equals_the_whole_run(name, tmp_path, request):
    argv, part, whole = SCRIPTS[name]
    fixtures = (
        ("{data}", "dataset"),
        ("{maze}", "maze_dataset"),
        ("{grid}", "grid_dataset"),
        ("{reach}", "reach_dataset"),
    )
    for tag, fixture in fixtures:
        if tag in argv:  # make each dataset only when a script needs it
            path = request.getfixturevalue(fixture)
            argv = [a.replace(tag, path) for a in argv]
    main = script(name).main
    full = main([*argv, "--total-steps", str(whole), "--run-dir", str(tmp_path / "full")])
    first = main([*argv, "--total-steps", str(part), "--run-dir", str(tmp_path / "split")])
    assert rows(first) != rows(full)
    resumed = main(["--resume", first.path, "--total-steps", str(whole), "--no-progress"])
    assert resumed.path == first.path
    (amendment,) = runs.read_amendments(first.path)
    assert amendment["changes"] == {"total_steps": [part, whole]}
    assert rows(resumed) == rows(full)
    for metrics in ("metrics.jsonl", "metrics.csv"):
        whole_files, resumed_files = files(full.path, metrics), files(first.path, metrics)
        assert whole_files and whole_files == resumed_files, metrics
    assert_same_states(full, resumed)
    with open(os.path.join(full.path, "config.json")) as f:
        saved = json.load(f)
    assert saved["script"] == name and saved["args"]["total_steps"] == whole
    assert os.path.exists(os.path.join(full.path, "curves.png"))
    assert_policies_load(full)


def assert_policies_load(report: runs.Report) -> None:
    """``jaxrl.load_policy`` finds every member of the run folder the script wrote (its own
    folder, a comparison's sub-folder, GoRL's seed/stage folders, a sweep's last setting) and
    acts in range (an action-chunking agent: ``h_a`` actions per observation).
    (tests/test_policy.py checks, in a fresh process, that a loaded policy reproduces the
    training run's evaluation return.)"""
    for member in runs.read_run(report.path)["members"]:
        top = member["path"].split("/")[0]
        kwargs = {} if top == "." or top.startswith("seed_") else {"member": top}
        if member.get("sweep"):
            kwargs["setting"] = len(member["sweep"]) - 1
        policy = jaxrl.load_policy(report.path, **kwargs)
        spec = policy.env.spec
        obs = np.zeros((3, *spec.obs_shape), np.float32)
        action = np.asarray(policy(obs, jax.random.key(0), deterministic=True))
        n = 3
        if not spec.discrete and action.ndim == 2 + len(spec.action_space.shape):
            # an action-chunking agent: [B, h_a, ...] (DQC's h_a = 1 variants keep the axis)
            chunk = rollout.action_chunk(policy.agent, policy.config)
            assert action.shape[:2] == (3, chunk), member["path"]
            n = 3 * chunk
            action = action.reshape(n, *action.shape[2:])
        if spec.discrete:
            assert action.shape == (n,) and ((action >= 0) & (action < spec.action_dim)).all()
        else:
            low, high = spec.action_space.low_array, spec.action_space.high_array
            assert action.shape == (n, *spec.action_space.shape), member["path"]
            assert np.all((low - 1e-6 <= action) & (action <= high + 1e-6)), member["path"]


def test_fb_reports_each_task_next_to_random_and_td3(reach_dataset, tmp_path):
    """experiments/fb.py's table: a row per task (and their mean) with FB's zero-shot return,
    the random policy's and TD3+BC's on the task's true reward, finite for every seed; FB's
    zero-shot curve has a point per checkpoint. (Its resume is zero_shot.py's resume test.)"""
    argv = [*(a.replace("{reach}", reach_dataset) for a in FB), *COMMON, "--seeds", "2"]
    report = script("fb").main([*argv, "--total-steps", "40", "--run-dir", str(tmp_path)])
    with open(os.path.join(report.path, "results.json")) as f:
        results = json.load(f)
    (domain,) = results["zero_shot"]
    assert domain == "reach/fourrooms"
    out = results["zero_shot"][domain]
    assert out["eval_env"] == "reach/fourrooms-anywhere" and out["fb_steps"] == 40
    assert list(out["table"]) == ["reach_top_left", "mean"]  # --tasks reach_top_left
    for task, row in out["table"].items():
        for method in ("FB", "random", "TD3+BC"):
            cell = row[method]
            assert len(cell["per_seed"]) == 2, (task, method)
            assert np.isfinite([cell["mean"], cell["std"], *cell["per_seed"]]).all(), (task, method)
            assert cell["mean"] >= 0.0  # rewards are in [0, 1]
    fb_row, td3_row = results["rows"]["FB reach_top_left"], results["rows"]["TD3+BC reach_top_left"]
    assert fb_row["final_eval_return"] == out["table"]["reach_top_left"]["FB"]["mean"]
    assert td3_row["final_eval_return"] == out["table"]["reach_top_left"]["TD3+BC"]["mean"]
    curve = out["fb_curve"]  # zero-shot, so every task of the domain at every checkpoint
    assert curve["step"] == [20.0, 40.0]
    for task in ("reach_top_left", "reach_top_right", "reach_bottom_left", "reach_bottom_right"):
        assert np.shape(curve[task]) == (2, 2) and np.isfinite(curve[task]).all(), task
    assert os.path.exists(os.path.join(report.path, "curves.png"))
    with pytest.raises(runs.RunError, match="--tasks"):
        script("fb").main([*argv, "--tasks", "reach_nowhere", "--run-dir", str(tmp_path / "no")])
    assert not os.path.exists(tmp_path / "no")


def test_zero_shot_reports_every_agent_with_an_iqm(reach_dataset, tmp_path, capsys):
    """experiments/zero_shot.py trains FB, BREEZE and TD-JEPA on the same data with the same
    keys: a column per agent and random's, and per column the IQM over tasks x seeds inside its
    bootstrap interval, printed and in results.json. (Same flags as its resume test above, so
    the compiled chunks are shared.)"""
    argv = [*(a.replace("{reach}", reach_dataset) for a in BOTH), *COMMON, "--seeds", "2"]
    report = script("zero_shot").main([*argv, "--total-steps", "40", "--run-dir", str(tmp_path)])
    printed = capsys.readouterr().out
    with open(os.path.join(report.path, "results.json")) as f:
        results = json.load(f)
    out = results["zero_shot"]["reach/fourrooms"]
    assert out["agents"] == ["fb", "breeze", "td_jepa"]
    assert out["fb_steps"] == out["breeze_steps"] == out["td_jepa_steps"] == 40
    assert "td3_steps" not in out  # --no-td3-reference
    assert list(out["table"]) == ["reach_top_left", "mean"]
    for task, row in out["table"].items():
        assert list(row) == ["FB", "BREEZE", "TD-JEPA", "random"], task
        for method, cell in row.items():
            assert len(cell["per_seed"]) == 2, (task, method)
            assert np.isfinite([cell["mean"], cell["std"], *cell["per_seed"]]).all(), method
    assert list(out["iqm"]) == ["FB", "BREEZE", "TD-JEPA", "random"]
    for method, iqm in out["iqm"].items():
        assert (iqm["tasks"], iqm["seeds"], iqm["confidence"]) == (1, 2, 0.95), method
        assert np.isfinite([iqm["iqm"], iqm["low"], iqm["high"]]).all(), method
        assert iqm["low"] <= iqm["iqm"] <= iqm["high"], method
        per_seed = out["table"]["reach_top_left"][method]["per_seed"]
        assert iqm["iqm"] == pytest.approx(stats.iqm(per_seed)), method  # 2 values: their mean
    for head in ("FB (zero-shot)", "BREEZE (zero-shot)", "TD-JEPA (zero-shot)", "random", "IQM"):
        assert head in printed, head
    assert "TD3+BC (true reward)" not in printed
    assert set(results["rows"]) == {f"{a} reach_top_left" for a in ("FB", "BREEZE", "TD-JEPA")}
    assert "FB reach_top_left - BREEZE reach_top_left" in results["differences"]
    assert "FB reach_top_left - TD-JEPA reach_top_left" in results["differences"]
    curves = [out[f"{a}_curve"]["step"] for a in ("fb", "breeze", "td_jepa")]
    assert curves == [[20.0, 40.0]] * 3
    assert os.path.exists(os.path.join(report.path, "curves.png"))


@pytest.mark.parametrize(
    "agents, error",
    [(["fb", "nobody"], SystemExit), (["fb", "fb"], runs.RunError), ([], runs.RunError)],
)
def test_zero_shot_refuses_bad_agents_before_writing(reach_dataset, tmp_path, agents, error):
    """An unknown agent name (refused by tyro's Literal), one named twice or none: nothing is
    written."""
    argv = [*(a.replace("{reach}", reach_dataset) for a in BOTH), *COMMON]
    with pytest.raises(error):
        script("zero_shot").main([*argv, "--agents", *agents, "--run-dir", str(tmp_path / "no")])
    assert not os.path.exists(tmp_path / "no")


def test_breeze_presets_are_its_preset_choices():
    """experiments/breeze.py's --preset lists every entry of presets.BREEZE_PRESETS, and
    zero_shot.py's the presets every agent has."""
    from jaxrl.agents import presets

    assert typing.get_args(script("breeze").Preset) == tuple(presets.BREEZE_PRESETS)
    common = set(presets.FB_PRESETS) & set(presets.BREEZE_PRESETS) & set(presets.TD_JEPA_PRESETS)
    zero_shot = script("zero_shot")
    assert set(typing.get_args(typing.get_type_hints(zero_shot.Args)["preset"])) == common
    args = zero_shot.parse(["--preset", "paper", "--fb.z-dim", "8"])
    assert args.breeze == presets.BREEZE_PRESETS["paper"]
    assert args.fb == dataclasses.replace(presets.FB_PRESETS["paper"], z_dim=8)
    assert zero_shot.parse([]).fb == presets.FB_PRESETS["cpu"]


def test_td_jepa_presets_are_its_preset_choices():
    """experiments/td_jepa.py's --preset lists every entry of presets.TD_JEPA_PRESETS, and
    zero_shot.py's --preset sets TD-JEPA's config too."""
    from jaxrl.agents import presets

    assert typing.get_args(script("td_jepa").Preset) == tuple(presets.TD_JEPA_PRESETS)
    args = script("zero_shot").parse(["--preset", "paper", "--td-jepa.z-dim", "8"])
    assert args.td_jepa == dataclasses.replace(presets.TD_JEPA_PRESETS["paper"], z_dim=8)


class Stop(Exception):
    """Stands for a killed process."""


class StopAt:
    """A logger that stops training when the chunk ending at ``step`` is logged (before its
    checkpoint is written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def log(self, step: int, row: dict) -> None:
        if step >= self.step:
            raise Stop(step)

    def rewind(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


def test_make_dataset_resumes_an_interrupted_expert(tmp_path, monkeypatch):
    """make_dataset.py's settings cannot change on resume, so its run is stopped mid-training
    (as a killed process would be) and resumed with a plain ``--resume``."""
    make_dataset = script("make_dataset")
    argv = [
        *("locomotion", "--env", "pendulum", "--train-steps", "384", "--snapshots", "3"),
        *("--steps", "64", "--num-envs", "4", "--kinds", "random", "medium-replay", "expert"),
        *PPO,
        "--no-progress",
    ]
    whole = make_dataset.main([*argv, "--out-dir", str(tmp_path / "a"), "--run-dir", str(tmp_path)])
    loggers = runs.Run.loggers
    monkeypatch.setattr(
        runs.Run, "loggers", lambda self, folder, labels=None: [*loggers(self, folder), StopAt(256)]
    )
    split = tmp_path / "split"
    with pytest.raises(Stop):
        make_dataset.main([*argv, "--out-dir", str(tmp_path / "b"), "--run-dir", str(split)])
    monkeypatch.undo()
    (folder,) = os.listdir(split)
    again = make_dataset.main(["locomotion", "--resume", str(split / folder), "--no-progress"])
    assert [os.path.basename(p) for p in again] == [os.path.basename(p) for p in whole]
    for a, b in zip(whole, again, strict=True):
        left, right = data.load(a).to_numpy(), data.load(b).to_numpy()
        assert left.keys() == right.keys()
        for key in left:
            np.testing.assert_array_equal(left[key], right[key], err_msg=key)
    expert = data.load_card(whole[0])["expert_run"]
    assert files(expert, "metrics.jsonl") == files(str(split / folder), "metrics.jsonl")


@pytest.mark.parametrize("how", [["-m", "experiments.ppo"], ["experiments/ppo.py"]])
def test_scripts_start_from_the_repository_root(how):
    env = {**os.environ, "PYTHONPATH": ROOT, "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, *how, "--help"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "Train PPO on any jaxrl environment" in out.stdout and "--resume" in out.stdout


def literal_choices(cls: type) -> list[tuple[str, tuple[str, ...]]]:
    """``(field, choices)`` of every Literal-typed field of an Args class and its configs."""
    out = []
    for field, kind in typing.get_type_hints(cls).items():
        args = typing.get_args(kind)
        if typing.get_origin(kind) is typing.Literal:
            out.append((field, args))
        elif args and typing.get_origin(args[0]) is typing.Literal:  # tuple[Literal, ...]
            out.append((field, typing.get_args(args[0])))
        elif isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
            out += [(f"{field}.{f}", c) for f, c in literal_choices(kind)]
    return out


@pytest.mark.parametrize("name", [*SCRIPTS, "fb", "breeze", "td_jepa", "make_dataset"])
def test_help_lists_string_choices(name, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    module = script(name)
    cls = module.LocomotionArgs if name == "make_dataset" else module.Args
    argv = ["locomotion", "--help"] if name == "make_dataset" else ["--help"]
    with pytest.raises(SystemExit) as done:
        module.main(argv)
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--resume" in text and "--run-dir" in text
    for field, options in literal_choices(cls):
        assert "{" + ",".join(options) + "}" in text, (name, field, options)
