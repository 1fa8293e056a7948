"""PRDC against TD3+BC on the same datasets, seeds and gradient-step budget.

    python experiments/make_dataset.py locomotion --env pendulum --train-steps 400000 --steps 20000
    python experiments/prdc_vs_td3_bc.py --datasets datasets/pendulum-medium-replay.npz \
        datasets/pendulum-medium.npz --seeds 3 --total-steps 20000

Both agents get the same TD3 settings: ``--config.*`` is PRDC's config, and TD3+BC takes every
field the two share (widths, alpha, learning rates, reward shaping ...); PRDC adds
``--config.beta`` and the neighbour search. Seed ``i`` uses the same key for both.

``--preset default`` (the default) uses ``--config`` for every dataset. ``--preset paper`` sets,
per dataset, PRDC's official README setting for its D4RL task (``prdc.paper_config``: alpha,
beta, k and, for antmaze, rewards ``10000 r - 1``), found by the dataset's card id or file name
(``--paper-tasks`` names them instead); the ``--config`` flags for those fields are refused
then. TD3+BC takes the same alpha and reward shaping, so the two differ only in the constraint;
that is not TD3+BC's own official setting (alpha 2.5 and the raw rewards for every task, which
``experiments/td3_bc.py`` runs). Writes
``runs/prdc_vs_td3_bc-<dataset>-<time>/`` with one sub-folder per dataset and agent
(``<dataset>-td3_bc/``, ``<dataset>-prdc/``: checkpoints and metrics), ``curves.png`` (evaluation
return against gradient steps, mean and min-max band over seeds) and ``results.json`` (a row
per dataset and agent: final returns and normalised scores; with 2+ seeds, PRDC minus TD3+BC per
dataset with a 95% confidence interval). ``--resume <run folder>`` continues a stopped run.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from jaxrl import envs, runs
from jaxrl.agents import prdc, td3_bc


@dataclasses.dataclass
class Args(runs.RunArgs):
    """PRDC vs TD3+BC."""

    datasets: tuple[str, ...] = ("datasets/pendulum-medium-replay.npz",)
    """Dataset files (each evaluated on its card's env, or --env)."""
    env: str | None = None
    """Environment for datasets without a card."""
    total_steps: int = 20_000
    """Gradient steps per seed."""
    seeds: int = 2
    """Seeds (>= 1; the same keys for both agents)."""
    preset: Literal["default", "paper"] = "default"
    """default: --config for every dataset; paper: PRDC's official README setting per dataset
    (alpha, beta, k, antmaze reward shaping), by its D4RL task name."""
    paper_tasks: tuple[str, ...] = ()
    """With --preset paper: the D4RL name of each dataset, in --datasets order, e.g.
    hopper-medium-v2 (default: each dataset's card id, else its file name)."""
    config: prdc.Config = dataclasses.field(default_factory=prdc.Config)
    """PRDC's hyperparameters; TD3+BC takes the fields they share."""


def td3_bc_config(config: prdc.Config) -> td3_bc.Config:
    """The TD3+BC config with PRDC's values of every shared field."""
    return td3_bc.Config(
        **{f.name: getattr(config, f.name) for f in dataclasses.fields(td3_bc.Config)}
    )


PAPER_FIELDS = tuple(sorted({name for row in prdc.PAPER_SETTINGS.values() for name in row}))
"""The fields ``--preset paper`` sets per dataset."""


def dataset_config(args: Args, data: runs.OfflineData, i: int) -> prdc.Config:
    """PRDC's config for the ``i``-th dataset: ``args.config``, with the paper preset's
    per-task values under ``--preset paper``."""
    if args.preset != "paper":
        if args.paper_tasks:
            raise ValueError("--paper-tasks needs --preset paper")
        return args.config
    if args.paper_tasks and len(args.paper_tasks) != len(args.datasets):
        raise ValueError(
            f"--paper-tasks needs one name per dataset ({len(args.datasets)}), got "
            f"{len(args.paper_tasks)}"
        )
    default = prdc.Config()
    given = [f for f in PAPER_FIELDS if getattr(args.config, f) != getattr(default, f)]
    if given:
        flags = ", ".join(
            f"--config.{f.replace('_', '-')} {getattr(args.config, f)}" for f in given
        )
        raise ValueError(
            f"--preset paper sets {', '.join(PAPER_FIELDS)} per dataset; drop {flags} (or use "
            "--preset default)"
        )
    names = (args.paper_tasks[i],) if args.paper_tasks else data.names
    try:
        return prdc.paper_config(names, args.config)
    except ValueError as e:
        raise ValueError(f"--preset paper: {e}; name the tasks with --paper-tasks") from e


def setup(args: Args) -> list[runs.Member]:
    members = []
    for i, path in enumerate(args.datasets):
        data = runs.load_offline(path, args.env)
        env = envs.make(data.env)
        config = dataset_config(args, data, i)
        for agent, label, member_config in (
            (td3_bc, "TD3+BC", td3_bc_config(config)),
            (prdc, "PRDC", config),
        ):
            name = f"{data.name}-{agent.NAME}"
            label = f"{data.name} {label}"
            members.append(
                runs.Member(agent, member_config, env, args.total_steps, name, label, offline=data)
            )
    return members


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__)
    run = runs.start(args, setup)
    results = {member.label: run.train(member) for member in run.members}
    names = dict.fromkeys(m.offline.name for m in run.members)
    return run.report(
        results,
        compare=[(f"{n} PRDC", f"{n} TD3+BC") for n in names],
        metrics=("eval_return", "critic_loss", "bc_loss"),
        title=f"PRDC vs TD3+BC ({args.seeds} seeds)",
    )


if __name__ == "__main__":
    runs.cli(main)
