"""DQC against its baselines QC, NS and OS (agents/dqc.py's variants) and goal-conditioned flow
BC (agents/gcfbc.py) on the same point-maze dataset, seeds and gradient-step budget.

    python experiments/make_dataset.py pointmaze --maze medium --kind navigate --episodes 200
    python experiments/dqc_variants.py --dataset datasets/pointmaze-medium-navigate.npz \
        --seeds 3 --total-steps 20000
    python experiments/dqc_variants.py --dataset ... --variants dqc os --preset paper

Horizons per variant come from the config's ``horizon`` h and ``action_horizon`` h_a (``--preset
cpu``, the default: ``presets.DQC_CPU``, h = 16, h_a = 4; ``--preset paper``: h = 25, h_a = 5):

* ``dqc``: chunk critic over h steps, policy chunks of h_a;
* ``qc``: Q-chunking, policy chunks of the whole backup horizon, h_a = h;
* ``ns``: single actions with an h-step (n-step) backup, h_a = 1;
* ``os``: one-step, h = h_a = 1;
* ``gcfbc``: goal-conditioned flow BC, no value at all (single actions; the shared config's
  ``learning_rate``, ``batch_size``, ``actor_hidden_sizes``, ``actor_layer_norm``, ``flow_steps``,
  ``normalize_obs`` and ``obs_std_eps``, and ``discount`` for its geometric future goals).

Every other field (``--config.*``) is shared. Seed ``i`` uses the same key for every variant.
Each variant is evaluated on the goal-in-observation maze of the card's layout (as
experiments/dqc.py). Writes ``runs/dqc_variants-<dataset>-<time>/`` with one sub-folder per
variant (``dqc/``, ``qc/``, ... : checkpoints and metrics), ``curves.png`` (success and losses
against gradient steps, mean and min-max band over seeds), ``results.json`` (a row per variant:
final and mean success; per-task final success under ``task_success``; with 2+ seeds, DQC minus
each baseline with a paired 95% confidence interval). ``--resume <run folder>`` continues a
stopped run.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from jaxrl import envs, runs
from jaxrl.agents import dqc, gcfbc, presets
from jaxrl.envs import pointmaze
from jaxrl.types import Env

Method = Literal["dqc", "qc", "ns", "os", "gcfbc"]
"""A DQC variant or the flow-BC baseline."""
LABELS = {"dqc": "DQC", "qc": "QC", "ns": "NS", "os": "OS", "gcfbc": "GCFBC"}


@dataclasses.dataclass
class Args(runs.RunArgs):
    """DQC vs QC vs NS vs OS."""

    dataset: str = "datasets/pointmaze-medium-navigate.npz"
    """Point-maze dataset file (experiments/make_dataset.py pointmaze)."""
    env: str | None = None
    """Evaluation env (default: the goal-in-observation maze of the card's layout)."""
    variants: tuple[Method, ...] = ("dqc", "qc", "ns", "os", "gcfbc")
    """Methods to train (each once per seed, all on the same data and keys)."""
    total_steps: int = 100_000
    """Gradient steps per seed."""
    seeds: int = 2
    """Seeds (>= 1; the same keys for every variant)."""
    preset: Literal["cpu", "paper"] = "cpu"
    """Default config: cpu (presets.DQC_CPU) or paper (dqc.Config(), h = 25, h_a = 5)."""
    config: dqc.Config = dataclasses.field(default_factory=lambda: presets.DQC_CPU)
    """Shared hyperparameters; each variant sets its own variant and horizons from horizon
    and action_horizon."""


def variant_config(config: dqc.Config, variant: str) -> dqc.Config:
    """``config`` as ``variant``, with that variant's horizons (module docstring)."""
    h, h_a = config.horizon, config.action_horizon
    horizons = {"dqc": (h, h_a), "qc": (h, h), "ns": (h, 1), "os": (1, 1)}[variant]
    return dataclasses.replace(
        config, variant=variant, horizon=horizons[0], action_horizon=horizons[1]
    )


def flow_bc_config(config: dqc.Config) -> gcfbc.Config:
    """The GCFBC baseline with ``config``'s actor, optimiser and data settings (module
    docstring)."""
    return gcfbc.Config(
        learning_rate=config.learning_rate,
        discount=config.discount,
        obs_std_eps=config.obs_std_eps,
        flow_steps=config.flow_steps,
        batch_size=config.batch_size,
        actor_hidden_sizes=config.actor_hidden_sizes,
        actor_layer_norm=config.actor_layer_norm,
        normalize_obs=config.normalize_obs,
    )


def member(args: Args, method: str, env: Env, data: runs.OfflineData) -> runs.Member:
    """One method's run on the shared data and env."""
    if method == "gcfbc":
        agent, config = gcfbc, flow_bc_config(args.config)
    else:
        agent, config = dqc, variant_config(args.config, method)
    return runs.Member(
        agent, config, env, args.total_steps, name=method, label=LABELS[method], offline=data
    )


def setup(args: Args) -> list[runs.Member]:
    if not args.variants or len(set(args.variants)) != len(args.variants):
        raise ValueError(f"--variants must name distinct variants, got {args.variants}")
    data = runs.load_offline(args.dataset, None)
    env = envs.make(args.env or pointmaze.goal_env_name(data.env))
    return [member(args, method, env, data) for method in args.variants]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=lambda preset="cpu": presets.DQC_PRESETS[preset])
    run = runs.start(args, setup)
    results = {member.label: run.train(member) for member in run.members}
    labels = list(results)
    base = "DQC" if "DQC" in results else labels[0]
    return run.report(
        results,
        compare=[(base, other) for other in labels if other != base],
        metrics=("eval_success", *dqc.LOSS_METRICS),
        title=f"DQC variants on {run.members[0].offline.name} ({args.seeds} seeds)",
    )


if __name__ == "__main__":
    runs.cli(main)
