"""PRDC against TD3+BC on the same datasets, seeds and gradient-step budget.

    python experiments/make_dataset.py locomotion --env pendulum --train-steps 400000 --steps 20000
    python experiments/prdc_vs_td3_bc.py --datasets datasets/pendulum-medium-replay.npz \
        datasets/pendulum-medium.npz --seeds 3 --total-steps 20000

Both agents get the same TD3 settings: ``--config.*`` is PRDC's config, and TD3+BC takes every
field the two share (widths, alpha, learning rates ...); PRDC adds ``--config.beta`` and the
neighbour search. Seed ``i`` uses the same key for both. Writes
``runs/prdc_vs_td3_bc-<dataset>-<time>/`` with one sub-folder per dataset and agent
(``<dataset>-td3_bc/``, ``<dataset>-prdc/``: checkpoints and metrics), ``curves.png`` (evaluation
return against gradient steps, mean and min-max band over seeds) and ``results.json`` (a row
per dataset and agent: final returns and normalised scores; with 2+ seeds, PRDC minus TD3+BC per
dataset with a 95% confidence interval). ``--resume <run folder>`` continues a stopped run.
"""

from __future__ import annotations

import dataclasses

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
    config: prdc.Config = dataclasses.field(default_factory=prdc.Config)
    """PRDC's hyperparameters; TD3+BC takes the fields they share."""


def td3_bc_config(config: prdc.Config) -> td3_bc.Config:
    """The TD3+BC config with PRDC's values of every shared field."""
    return td3_bc.Config(
        **{f.name: getattr(config, f.name) for f in dataclasses.fields(td3_bc.Config)}
    )


def setup(args: Args) -> list[runs.Member]:
    members = []
    for path in args.datasets:
        data = runs.load_offline(path, args.env)
        env = envs.make(data.env)
        for agent, label, config in (
            (td3_bc, "TD3+BC", td3_bc_config(args.config)),
            (prdc, "PRDC", args.config),
        ):
            name = f"{data.name}-{agent.NAME}"
            label = f"{data.name} {label}"
            members.append(
                runs.Member(agent, config, env, args.total_steps, name, label, offline=data)
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
