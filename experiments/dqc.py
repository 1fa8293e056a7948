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

OGBench data (``make_dataset.py ogbench``, or a real OGBench file with ``--env
ogbench/pointmaze-medium-v0``) are in OGBench's MuJoCo coordinates: the run trains with the
spec-only env ``ogbench/<env>`` (envs/ogbench.py), has no on-device evaluation, and each seed's
final policy is evaluated in OGBench's own env on the host (``jaxrl.ogbench.evaluate``, OGBench's
task ids 1..5), in ``results.json`` under ``ogbench`` and printed as a per-task table;
``--eval-every`` then only sets the chunk (checkpoint) size.

Config: ``--preset cpu`` (default) starts from ``presets.DQC_CPU`` (h = 16, h_a = 4, 2 x 64 nets,
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
from typing import Literal

from jaxrl import envs, ogbench, runs
from jaxrl.agents import dqc, presets
from jaxrl.envs import ogbench as ogbench_envs
from jaxrl.envs import pointmaze


@dataclasses.dataclass
class Args(runs.OfflineArgs):
    """DQC on a point-maze dataset file."""

    dataset: str = "datasets/pointmaze-medium-navigate.npz"
    """Point-maze dataset file (experiments/make_dataset.py pointmaze)."""
    env: str | None = None
    """Evaluation env (default: the goal-in-observation maze of the card's layout, e.g.
    pointmaze-medium-goal)."""
    preset: Literal["cpu", "paper"] = "cpu"
    """Default config: cpu (presets.DQC_CPU) or paper (dqc.Config(), h = 25, h_a = 5)."""
    config: dqc.Config = dataclasses.field(default_factory=lambda: presets.DQC_CPU)
    """DQC hyperparameters (default: the --preset's)."""


def preset(preset: str = "cpu") -> dqc.Config:
    """The default config of ``--preset`` (``presets.DQC_PRESETS``)."""
    return presets.DQC_PRESETS[preset]


def setup(args: Args) -> list[runs.Member]:
    data = runs.load_offline_args(args)
    env = envs.make(args.env or pointmaze.goal_env_name(data.env))
    options = {}
    if ogbench_envs.is_spec_env(env):  # host-only env: main evaluates it after training, and
        options = {"eval_every": 0, "chunk_steps": args.eval_every}  # --eval-every: chunk size
    return [
        runs.Member(
            dqc, args.config, env, args.total_steps, label="DQC", offline=data, options=options
        )
    ]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=preset)
    run = runs.start(args, setup)
    (member,) = run.members
    tasks = [f"eval_success_task{i}" for i in range(getattr(member.env, "num_tasks", 0))]
    result = run.train(member)
    extra = None
    if ogbench_envs.is_spec_env(member.env):
        seeds = runs.driver_options(args, member)["seeds"]
        extra = {
            "ogbench": ogbench.evaluate_seeds(
                dqc, args.config, member.env, result.state, seeds, args.num_eval_episodes
            )
        }
    report = run.report(
        {"DQC": result},
        metrics=("eval_success", *tasks, *dqc.LOSS_METRICS),
        title=f"DQC ({args.config.variant}, h={args.config.horizon}, "
        f"h_a={args.config.action_horizon}) on {member.offline.name}",
        extra=extra,
    )
    if extra:
        out = extra["ogbench"]
        print(f"in OGBench's {out['env']} (mean success {out['success']:.2f}):")
        print(runs.format_task_table({"DQC": out["task_success"]}))
    return report


if __name__ == "__main__":
    runs.cli(main)
