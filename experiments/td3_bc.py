"""Train TD3+BC on an offline dataset and evaluate it on the matching env.

    python experiments/make_dataset.py locomotion --env pendulum --train-steps 400000 --steps 20000
    python experiments/td3_bc.py --dataset datasets/pendulum-medium-replay.npz --seeds 2
    python experiments/td3_bc.py --dataset my-d4rl.hdf5 --env brax/hopper \
        --random-return -20 --expert-return 3234
    python experiments/td3_bc.py --help     # every Config field, with its documentation

Writes ``runs/td3_bc-<dataset>-<time>/`` with ``config.json``, ``metrics.jsonl``,
``metrics.csv``, ``curves.png`` and ``results.json`` (final returns and normalised scores, using
the dataset card's random/expert returns when present).
"""

from __future__ import annotations

import dataclasses

import tyro
from offline_run import OfflineArgs, main_for

from jaxrl.agents import td3_bc


@dataclasses.dataclass
class Args(OfflineArgs):
    """TD3+BC on a dataset file."""

    config: td3_bc.Config = dataclasses.field(default_factory=td3_bc.Config)
    """TD3+BC hyperparameters (the official defaults)."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    return main_for(td3_bc, args, args.config)


if __name__ == "__main__":
    main()
