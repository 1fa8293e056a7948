"""PRDC against TD3+BC on the same datasets, seeds and gradient-step budget.

    python experiments/make_dataset.py locomotion --env pendulum --train-steps 400000 --steps 20000
    python experiments/prdc_vs_td3_bc.py --datasets datasets/pendulum-medium-replay.npz \
        datasets/pendulum-medium.npz --seeds 3 --total-steps 20000

Both agents get identical TD3 settings (``--hidden-sizes``, ``--alpha``); PRDC adds ``--beta``.
Seed ``i`` uses the same key for both. Writes ``runs/prdc_vs_td3_bc-<time>/`` with
``results.json`` (final returns and normalised scores per dataset, agent and seed) and
``curves.png`` (deterministic evaluation return against gradient steps, one panel per dataset,
mean and min-max band over seeds).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import numpy as np
import tyro
from offline_run import OfflineArgs, load_dataset, normalised, reference_returns, train_offline

from jaxrl.agents import prdc, td3_bc


@dataclasses.dataclass
class Args:
    """PRDC vs TD3+BC."""

    datasets: tuple[str, ...] = ("datasets/pendulum-medium-replay.npz",)
    """Dataset files (each evaluated on its card's env, or --env)."""
    env: str | None = None
    """Environment for datasets without a card."""
    total_steps: int = 20_000
    """Gradient steps per seed."""
    seeds: int = 2
    """Seeds (the same keys for both agents)."""
    seed: int = 0
    """Base random seed."""
    eval_every: int = 2_000
    """Evaluate every this many gradient steps."""
    num_eval_episodes: int = 16
    """Episodes per evaluation."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Actor and critic widths (both agents)."""
    alpha: float = 2.5
    """Q-term weight alpha (both agents)."""
    beta: float = 2.0
    """PRDC's state weight in the search key."""
    backend: str = "auto"
    """PRDC's neighbour search backend: auto, brute or kdtree."""
    run_dir: str = "runs"
    """Parent folder of the run folder."""
    progress: bool = True
    """Show progress bars."""


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    run = os.path.join(args.run_dir, f"prdc_vs_td3_bc-{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(run, exist_ok=True)
    agents = {
        "TD3+BC": (td3_bc, td3_bc.Config(hidden_sizes=args.hidden_sizes, alpha=args.alpha)),
        "PRDC": (
            prdc,
            prdc.Config(
                hidden_sizes=args.hidden_sizes,
                alpha=args.alpha,
                beta=args.beta,
                backend=args.backend,
            ),
        ),
    }
    results: dict = {"args": dataclasses.asdict(args), "datasets": {}}
    curves: dict = {}
    for path in args.datasets:
        offline = OfflineArgs(
            dataset=path,
            env=args.env,
            total_steps=args.total_steps,
            seeds=args.seeds,
            seed=args.seed,
            eval_every=args.eval_every,
            num_eval_episodes=args.num_eval_episodes,
            progress=args.progress,
        )
        dataset, card, env_name = load_dataset(offline)
        ref = reference_returns(offline, card)
        name = os.path.splitext(os.path.basename(path))[0]
        entry = {
            "env": env_name,
            "size": dataset.size,
            "dataset_return_mean": float(dataset.episode_returns.mean()),
            "reference_returns": ref,
        }
        for label, (agent, config) in agents.items():
            result = train_offline(
                agent,
                config,
                offline,
                dataset,
                env_name,
                os.path.join(run, f"{name}-{agent.NAME}"),
                key=jax.random.key(args.seed),
            )
            ev = np.asarray(result.history["eval_return"], float).reshape(
                len(result.history["step"]), -1
            )
            ok = ~np.isnan(ev).all(axis=1)
            curves[(name, label)] = (np.asarray(result.history["step"])[ok], ev[ok])
            final = ev[ok][-1]
            score = normalised(final, ref)
            entry[label] = {
                "final_return_per_seed": final.tolist(),
                "final_return_mean": float(final.mean()),
                "final_score_mean": None if score is None else float(score.mean()),
                "gradient_steps_per_second": result.steps_per_second,
            }
            shown = "" if score is None else f", normalised {score.mean():.1f}"
            print(f"{name} {label}: final return {final.mean():.1f}{shown}")
        results["datasets"][name] = entry

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["datasets"])
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for label in agents:
            xs, ys = curves[(name, label)]
            (line,) = ax.plot(xs, ys.mean(axis=1), lw=2, label=label)
            if ys.shape[1] > 1:
                band = (ys.min(axis=1), ys.max(axis=1))
                ax.fill_between(xs, *band, alpha=0.2, color=line.get_color())
        ref = results["datasets"][name]["reference_returns"]
        if ref:
            ax.axhline(ref[0], color="grey", ls=":", lw=1, label="random policy")
        ax.set_title(name)
        ax.set_xlabel("gradient steps")
        ax.set_ylabel("eval return (deterministic)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"PRDC vs TD3+BC ({args.seeds} seeds, band: min-max)")
    fig.tight_layout()
    fig.savefig(os.path.join(run, "curves.png"), dpi=110)
    plt.close(fig)
    with open(os.path.join(run, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"curves and results in {run}")
    return results


if __name__ == "__main__":
    main()
