"""Train TD3+BC on an offline dataset and evaluate it on the matching env.

    python experiments/make_dataset.py locomotion --env pendulum --train-steps 400000 --steps 20000
    python experiments/td3_bc.py --dataset datasets/pendulum-medium-replay.npz --seeds 2
    python experiments/td3_bc.py --dataset my-d4rl.hdf5 --env brax/hopper \
        --random-return -20 --expert-return 3234
    python experiments/td3_bc.py --help     # every Config field, with its documentation

Writes ``runs/td3_bc-<dataset>-<time>/`` (``config.json``, ``checkpoints/``, ``metrics.jsonl``,
``metrics.csv``, ``curves.png`` against gradient steps, ``results.json`` with the final returns
and normalised scores from the dataset card's random/expert returns; see jaxrl/runs.py).
``--resume <run folder>`` continues a stopped run (``--total-steps`` may grow).
"""

from __future__ import annotations

import dataclasses

from jaxrl import envs, runs
from jaxrl.agents import td3_bc


@dataclasses.dataclass
class Args(runs.OfflineArgs):
    """TD3+BC on a dataset file."""

    config: td3_bc.Config = dataclasses.field(default_factory=td3_bc.Config)
    """TD3+BC hyperparameters (default: the official ones, for every dataset)."""


def setup(args: Args) -> list[runs.Member]:
    data = runs.load_offline_args(args)
    env = envs.make(data.env)
    return [runs.Member(td3_bc, args.config, env, args.total_steps, label="TD3+BC", offline=data)]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__)
    run = runs.start(args, setup)
    (member,) = run.members
    return run.report({"TD3+BC": run.train(member)}, title=f"TD3+BC on {member.offline.name}")


if __name__ == "__main__":
    runs.cli(main)
