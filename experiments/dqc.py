"""Train DQC (decoupled Q-chunking, agents/dqc.py) on a point-maze dataset and evaluate its
success on the maze's five evaluation tasks.

    python experiments/make_dataset.py pointmaze --maze medium --kind navigate --episodes 200
    python experiments/dqc.py --dataset datasets/pointmaze-medium-navigate.npz --seeds 2 \
        --total-steps 20000
    python experiments/dqc.py --dataset datasets/pointmaze-medium-navigate.npz --preset paper \
        --total-steps 1000000                        # the paper's networks and horizons (GPU)
    python experiments/dqc.py --dataset ... --config.variant qc --config.horizon 8 \
        --config.action-horizon 8                    # one of the baselines alone
    python experiments/dqc.py --help                 # every Config field, with its documentation

The dataset holds states only (its card names the maze, e.g. ``pointmaze-medium``); the agent is
evaluated on the goal-in-observation maze of that layout (``pointmaze-medium-goal``, observation
``[pos, goal]``), which is also the env name its checkpoints record, so
``jaxrl.load_policy(run_folder)`` rebuilds it. ``--env`` overrides the evaluation env.

Config: ``--preset cpu`` (default) starts from ``presets.DQC_CPU`` (h = 8, h_a = 2, 2 x 64 nets,
batch 128: a CPU-scale setting, not a tuned one); ``--preset paper`` from ``dqc.Config()`` (the
paper's h = 25, h_a = 5, 4 x 1024 nets, batch 4096). Any ``--config.<field>`` then overrides it.

Evaluation runs every task ``ceil(num_eval_episodes / 5)`` times. Writes
``runs/dqc-<dataset>-<time>/`` (``config.json``, ``checkpoints/``, ``metrics.jsonl`` with
``eval_success`` and ``eval_success_task<i>``, ``metrics.csv``, ``curves.png`` with the overall
and per-task success and the losses against gradient steps, ``results.json``). The final table
shows the final eval return (an episode's return is 1 on reaching the goal, else 0, so it is the
final success rate) and the success averaged over the run's evaluations; a second table, also in
``results.json`` under ``task_success``, gives the final success per task. ``--resume <run
folder>`` continues a stopped run (``--total-steps`` may grow).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from jaxrl import envs, runs
from jaxrl.agents import dqc, presets
from jaxrl.driver import TrainResult
from jaxrl.envs import pointmaze

Preset = Literal["cpu", "paper"]
"""Which default config: ``presets.DQC_CPU`` or the paper's ``dqc.Config()``."""
PRESETS: dict[str, dqc.Config] = {"cpu": presets.DQC_CPU, "paper": dqc.Config()}

LOSSES = ("chunk_critic_loss", "distill_loss", "value_loss", "actor_loss")
"""DQC's loss metrics (the baselines have no chunk-critic loss)."""


@dataclasses.dataclass
class Args(runs.OfflineArgs):
    """DQC on a point-maze dataset file."""

    dataset: str = "datasets/pointmaze-medium-navigate.npz"
    """Point-maze dataset file (experiments/make_dataset.py pointmaze)."""
    env: str | None = None
    """Evaluation env (default: the goal-in-observation maze of the card's layout, e.g.
    pointmaze-medium-goal)."""
    preset: Preset = "cpu"
    """Default config: cpu (presets.DQC_CPU) or paper (dqc.Config(), h = 25, h_a = 5)."""
    config: dqc.Config = dataclasses.field(default_factory=lambda: presets.DQC_CPU)
    """DQC hyperparameters (default: the --preset's)."""


def preset(preset: str = "cpu") -> dqc.Config:
    """The default config of ``--preset`` (KeyError for an unknown one: tyro then names it)."""
    return PRESETS[preset]


def eval_env_name(data: runs.OfflineData, env: str | None = None) -> str:
    """The evaluation env: ``env`` if given, else the card's maze with the goal in the
    observation (``pointmaze-medium`` -> ``pointmaze-medium-goal``)."""
    if env is not None:
        return env
    name = data.env
    if name.startswith("pointmaze-") and not name.endswith(pointmaze.GOAL_SUFFIX):
        name += pointmaze.GOAL_SUFFIX
    return name


def task_success(results: Mapping[str, TrainResult]) -> dict[str, dict[str, Any]]:
    """Final success per evaluation task for each row: ``{label: {"task<i>": mean over seeds,
    "task<i>_per_seed": [...]}}`` (tasks the history has, in order)."""
    out = {}
    for label, result in results.items():
        row: dict[str, Any] = {}
        i = 0
        while f"eval_success_task{i}" in result.history:
            per_seed = np.asarray(result.final(f"eval_success_task{i}"), np.float64).reshape(-1)
            row[f"task{i}"] = float(np.nanmean(per_seed)) if per_seed.size else float("nan")
            row[f"task{i}_per_seed"] = per_seed.tolist()
            i += 1
        out[label] = row
    return out


def format_task_table(table: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per row: final success on each task (mean over seeds)."""
    tasks = sorted(
        {k for row in table.values() for k in row if not k.endswith("_per_seed")},
        key=lambda k: int(k.removeprefix("task")),
    )
    width = max(len("final success"), *(len(k) for k in table))
    head = f"{'final success':<{width}}" + "".join(f"  {t:>6}" for t in tasks)
    lines = [head, "-" * len(head)]
    for label, row in table.items():
        cells = "".join(f"  {row.get(t, float('nan')):>6.2f}" for t in tasks)
        lines.append(f"{label:<{width}}{cells}")
    return "\n".join(lines)


def report(run: runs.Run, results: Mapping[str, TrainResult], **kwargs: Any) -> runs.Report:
    """``run.report`` with mean success in the table and the per-task success table after it
    (also in ``results.json`` as ``task_success``)."""
    table = task_success(results)
    out = run.report(
        results, mean_metrics=("eval_success",), extra={"task_success": table}, **kwargs
    )
    print(format_task_table(table))
    return out


def setup(args: Args) -> list[runs.Member]:
    data = runs.load_offline_args(args)
    env = envs.make(eval_env_name(data, args.env))
    return [runs.Member(dqc, args.config, env, args.total_steps, label="DQC", offline=data)]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=preset)
    run = runs.start(args, setup)
    (member,) = run.members
    tasks = [f"eval_success_task{i}" for i in range(getattr(member.env, "num_tasks", 0))]
    return report(
        run,
        {"DQC": run.train(member)},
        metrics=("eval_success", *tasks, *LOSSES),
        title=f"DQC ({args.config.variant}, h={args.config.horizon}, "
        f"h_a={args.config.action_horizon}) on {member.offline.name}",
    )


if __name__ == "__main__":
    runs.cli(main)
