"""A vmapped PPO hyperparameter sweep: every (learning rate, clip range) setting x every seed is
trained at once in one compiled program, then ranked.

    python experiments/sweep.py      # pendulum: 3 x 3 settings x 2 seeds
    python experiments/sweep.py --env cartpole --learning-rates 1e-4 3e-4 --seeds 4
    python experiments/sweep.py --resume runs/sweep-pendulum-20261124-101500 --total-steps 600000

The other PPO hyperparameters are ``--config.*`` (default: the env's preset). Writes
``runs/sweep-<env>-<time>/`` (``config.json``, ``checkpoints/``, ``metrics.jsonl`` and
``metrics.csv`` with one series per setting and seed, ``curves.png`` with one line per setting
and a band over seeds, ``results.json`` with a row per setting, best first).
"""

from __future__ import annotations

import dataclasses

from jaxrl import envs, runs
from jaxrl import sweep as sweeps
from jaxrl.agents import ppo
from jaxrl.agents.presets import PPO_PRESETS


@dataclasses.dataclass
class Args(runs.OnlineArgs):
    """Grid sweep of PPO's learning rate and clip range, vmapped over settings and seeds."""

    learning_rates: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    """Learning rates to try."""
    clip_ranges: tuple[float, ...] = (0.1, 0.2, 0.3)
    """PPO clip ranges to try."""
    seeds: int = 2
    """Seeds per setting (>= 1; all settings share the same seed keys)."""
    total_steps: int = 300_000
    """Env steps per run."""
    config: ppo.Config = dataclasses.field(default_factory=ppo.Config)
    """The other PPO hyperparameters (default: the env's preset if there is one)."""


def setup(args: Args) -> list[runs.Member]:
    grid = sweeps.grid(
        args.config, learning_rate=list(args.learning_rates), clip_eps=list(args.clip_ranges)
    )
    return [runs.Member(ppo, grid, envs.make(args.env), args.total_steps, label="sweep")]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=lambda env: PPO_PRESETS.get(env, ppo.Config()))
    run = runs.start(args, setup)
    (member,) = run.members
    result = run.train(member)
    return run.report(
        runs.split_sweep(result, member.config),
        metrics=("eval_return",),
        sort=True,
        title=f"PPO sweep on {args.env}, {args.seeds} seeds per setting",
    )


if __name__ == "__main__":
    runs.cli(main)
