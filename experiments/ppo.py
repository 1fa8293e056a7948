"""Train PPO on any jaxrl environment.

    python experiments/ppo.py --env pendulum --total-steps 1000000 --seeds 4
    python experiments/ppo.py --env brax/inverted_pendulum --config.learning-rate 1e-3
    python experiments/ppo.py --help        # every Config field, with its documentation

Per-env tuned presets (``PPO_PRESETS`` in jaxrl.agents.presets) are the default config. Writes
``runs/ppo-<env>-<time>/`` (``config.json``, ``checkpoints/``, ``metrics.jsonl``,
``metrics.csv``, ``curves.png``, ``results.json``; see jaxrl/runs.py). A stopped run continues
exactly, and may train longer or with new dynamic values (recorded in ``amendments.jsonl``):

    python experiments/ppo.py --resume runs/ppo-pendulum-20261124-101500
    python experiments/ppo.py --resume runs/ppo-pendulum-20261124-101500 --total-steps 2000000
"""

from __future__ import annotations

import dataclasses

from jaxrl import envs, runs
from jaxrl.agents import ppo
from jaxrl.agents.presets import PPO_PRESETS


@dataclasses.dataclass
class Args(runs.OnlineArgs):
    """PPO on a jaxrl environment."""

    config: ppo.Config = dataclasses.field(default_factory=ppo.Config)
    """PPO hyperparameters (default: the env's preset if there is one)."""


def preset(env: str) -> ppo.Config:
    """The default config for ``env``."""
    return PPO_PRESETS.get(env, ppo.Config())


def setup(args: Args) -> list[runs.Member]:
    return [runs.Member(ppo, args.config, envs.make(args.env), args.total_steps, label="PPO")]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=preset)
    run = runs.start(args, setup)
    (member,) = run.members
    return run.report({"PPO": run.train(member)}, title=f"PPO on {args.env}")


if __name__ == "__main__":
    runs.cli(main)
