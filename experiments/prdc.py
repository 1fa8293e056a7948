"""Train PRDC on an offline dataset and evaluate it on the matching env.

    python experiments/make_dataset.py locomotion --env pendulum --train-steps 400000 --steps 20000
    python experiments/prdc.py --dataset datasets/pendulum-medium-replay.npz --seeds 2
    python experiments/prdc.py --dataset my-d4rl.hdf5 --env brax/hopper --config.beta 2.0
    python experiments/prdc.py --help     # every Config field, with its documentation

The neighbour index over ``[beta * s, a]`` is built once before training (scipy KD-tree on CPU,
exact brute force on GPU/TPU; ``--config.backend`` forces one). Writes
``runs/prdc-<dataset>-<time>/`` like ``experiments/td3_bc.py``; ``--resume <run folder>``
continues a stopped run.
"""

from __future__ import annotations

import dataclasses

from jaxrl import envs, runs
from jaxrl.agents import prdc


@dataclasses.dataclass
class Args(runs.OfflineArgs):
    """PRDC on a dataset file."""

    config: prdc.Config = dataclasses.field(default_factory=prdc.Config)
    """PRDC hyperparameters (the official defaults; beta 2.0 for locomotion, 7.5 antmaze)."""


def setup(args: Args) -> list[runs.Member]:
    data = runs.load_offline_args(args)
    env = envs.make(data.env)
    return [runs.Member(prdc, args.config, env, args.total_steps, label="PRDC", offline=data)]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__)
    run = runs.start(args, setup)
    (member,) = run.members
    return run.report({"PRDC": run.train(member)}, title=f"PRDC on {member.offline.name}")


if __name__ == "__main__":
    runs.cli(main)
