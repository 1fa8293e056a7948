"""A vmapped PPO hyperparameter sweep: every (learning rate, clip range) setting x every seed is
trained at once in one compiled program, then ranked.

    python experiments/sweep.py      # pendulum: 3 x 3 settings x 2 seeds
    python experiments/sweep.py --env cartpole --learning-rates 1e-4 3e-4 --seeds 4

Writes ``runs/sweep-<env>-<time>/`` with ``results.md`` (the table), ``results.json``,
``metrics.jsonl``, ``metrics.csv`` (one column per setting and seed) and ``curves.png``
(one line per setting, band over seeds).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import tyro

import jaxrl
from jaxrl import envs
from jaxrl import sweep as sweeps
from jaxrl.agents import ppo
from jaxrl.agents.presets import PPO_PRESETS
from jaxrl.loggers import CsvLogger, JsonlLogger
from jaxrl.plot import plot_curves


@dataclasses.dataclass
class Args:
    """Grid sweep of PPO's learning rate and clip range, vmapped over settings and seeds."""

    env: str = "pendulum"
    """Environment name."""
    learning_rates: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    """Learning rates to try."""
    clip_ranges: tuple[float, ...] = (0.1, 0.2, 0.3)
    """PPO clip ranges to try."""
    seeds: int = 2
    """Seeds per setting (all settings share the same seed keys)."""
    total_steps: int = 300_000
    """Env steps per run."""
    eval_every: int = 50_000
    """Evaluation interval in env steps."""
    seed: int = 0
    """Base random seed."""
    run_dir: str = "runs"
    """Parent folder of the run folder."""


def main(args: Args) -> list[dict]:
    base = PPO_PRESETS.get(args.env, ppo.Config())
    sweep = sweeps.grid(
        base, learning_rate=list(args.learning_rates), clip_eps=list(args.clip_ranges)
    )
    run = os.path.join(
        args.run_dir, f"sweep-{args.env.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    os.makedirs(run, exist_ok=True)
    print(f"{sweep.size} settings x {args.seeds} seeds on {args.env} -> {run}")
    result = jaxrl.train(
        ppo,
        sweep,
        envs.make(args.env),
        jax.random.key(args.seed),
        args.total_steps,
        seeds=args.seeds,
        eval_every=args.eval_every,
        loggers=[
            JsonlLogger(os.path.join(run, "metrics.jsonl")),
            CsvLogger(os.path.join(run, "metrics.csv"), labels=sweep.labels),
        ],
        description=f"sweep {args.env}",
    )
    rows = sweeps.results_table(result, sweep)
    table = sweeps.format_table(rows)
    with open(os.path.join(run, "results.md"), "w") as f:
        f.write(f"PPO sweep on {args.env}, {result.total_steps:,} steps, {args.seeds} seeds\n\n")
        f.write("```\n" + table + "\n```\n")
    with open(os.path.join(run, "results.json"), "w") as f:
        json.dump({"args": dataclasses.asdict(args), "results": rows}, f, indent=2)
    plot_curves(
        result.history,
        os.path.join(run, "curves.png"),
        metrics=("eval_return",),
        title=f"PPO sweep on {args.env}",
        labels=sweep.labels,
    )
    print(table)
    print(
        f"{result.num_runs} runs in {result.train_seconds:.0f}s "
        f"({result.steps_per_second:,.0f} env steps/s in total, compile "
        f"{result.compile_seconds:.0f}s); table, curves and metrics in {run}"
    )
    return rows


if __name__ == "__main__":
    main(tyro.cli(Args))
