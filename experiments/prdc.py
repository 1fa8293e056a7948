"""Train PRDC on an offline dataset and evaluate it on the matching env.

    python experiments/make_dataset.py locomotion --env pendulum --train-steps 400000 --steps 20000
    python experiments/prdc.py --dataset datasets/pendulum-medium-replay.npz --seeds 2
    python experiments/prdc.py --dataset my-d4rl.hdf5 --env brax/hopper --config.beta 2.0
    python experiments/prdc.py --dataset datasets/brax_halfcheetah-medium.npz --preset paper
    python experiments/prdc.py --help     # every Config field, with its documentation

Config: ``--preset default`` (the default) is ``prdc.Config()`` for every dataset: TD3+BC's
official settings plus beta 2.0, k 1 and the raw rewards. ``--preset paper`` is the official
README's setting for the dataset's D4RL task (``prdc.paper_config``): alpha 40 for halfcheetah,
2.5 for hopper and walker2d, alpha 7.5, beta 7.5 and rewards ``10000 r - 1`` for antmaze. The
task is read from the dataset's name: its card's dataset id, else its file name (``--paper-task``
names it instead), so ``brax_halfcheetah-medium.npz`` above gets halfcheetah's alpha 40; a
dataset of no such task (e.g. our generated pendulum sets) is refused.
``--config.*`` flags change the preset's values. The gradient-step budget and evaluation are
ours either way (the official runs: 1M steps, 50 episodes every 1000 steps; here
``--total-steps 1000000 --eval-every 1000 --num-eval-episodes 50``).

The neighbour index over ``[beta * s, a]`` is built once before training (scipy KD-tree on CPU,
exact brute force on GPU/TPU; ``--config.backend`` forces one). Writes
``runs/prdc-<dataset>-<time>/`` like ``experiments/td3_bc.py``; ``--resume <run folder>``
continues a stopped run.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from jaxrl import envs, runs
from jaxrl.agents import prdc


@dataclasses.dataclass
class Args(runs.OfflineArgs):
    """PRDC on a dataset file."""

    preset: Literal["default", "paper"] = "default"
    """default: prdc.Config() for any dataset; paper: the official README's setting for the
    dataset's D4RL task (halfcheetah, hopper, walker2d, antmaze), found by name."""
    paper_task: str | None = None
    """With --preset paper: the D4RL name to look the setting up by, e.g.
    antmaze-medium-play-v2 (default: the dataset card's id, else the file name)."""
    config: prdc.Config = dataclasses.field(default_factory=prdc.Config)
    """PRDC hyperparameters (default: the --preset's)."""


def preset(
    preset: str = "default", dataset: str = "", paper_task: str | None = None
) -> prdc.Config:
    """The default config of ``--preset`` for ``--dataset`` (a ValueError when the paper preset
    has no setting for it; :func:`setup` reports it)."""
    if preset != "paper":
        return prdc.Config()
    return prdc.paper_config(paper_task or runs.dataset_names(dataset))


def setup(args: Args) -> list[runs.Member]:
    data = runs.load_offline_args(args)
    if args.preset == "paper":
        try:
            prdc.paper_task(args.paper_task or data.names)
        except ValueError as e:
            raise ValueError(f"--preset paper: {e}; name the task with --paper-task") from e
    elif args.paper_task is not None:
        raise ValueError(f"--paper-task {args.paper_task!r} needs --preset paper")
    env = envs.make(data.env)
    return [runs.Member(prdc, args.config, env, args.total_steps, label="PRDC", offline=data)]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=preset)
    run = runs.start(args, setup)
    (member,) = run.members
    return run.report({"PRDC": run.train(member)}, title=f"PRDC on {member.offline.name}")


if __name__ == "__main__":
    runs.cli(main)
