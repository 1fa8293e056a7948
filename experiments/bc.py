"""Behaviour cloning on an offline dataset (the offline baseline), evaluated on the matching env.

    python experiments/make_dataset.py locomotion --env pendulum --train-steps 400000 --steps 20000
    python experiments/bc.py --dataset datasets/pendulum-medium.npz --seeds 2
    python experiments/bc.py --dataset my-cartpole-data.npz --env cartpole   # discrete actions
    python experiments/bc.py --help     # every Config field, with its documentation

Continuous actions: a deterministic tanh actor fitted by mean squared error; discrete actions:
a categorical policy fitted by cross-entropy (see jaxrl/agents/bc.py). Writes
``runs/bc-<dataset>-<time>/`` like ``experiments/td3_bc.py``; ``--resume <run folder>``
continues a stopped run.
"""

from __future__ import annotations

import dataclasses

from jaxrl import envs, runs
from jaxrl.agents import bc


@dataclasses.dataclass
class Args(runs.OfflineArgs):
    """Behaviour cloning on a dataset file."""

    config: bc.Config = dataclasses.field(default_factory=bc.Config)
    """BC hyperparameters."""


def setup(args: Args) -> list[runs.Member]:
    data = runs.load_offline_args(args)
    env = envs.make(data.env)
    return [runs.Member(bc, args.config, env, args.total_steps, label="BC", offline=data)]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__)
    run = runs.start(args, setup)
    (member,) = run.members
    return run.report({"BC": run.train(member)}, title=f"BC on {member.offline.name}")


if __name__ == "__main__":
    runs.cli(main)
