"""What the offline experiment scripts (td3_bc.py, prdc.py, prdc_vs_td3_bc.py) share: load a
dataset file and its card, find the matching env, train through ``jaxrl.train(data=...)`` into
a run folder, and report D4RL-style normalised scores.

Normalised score: ``100 * (return - random_return) / (expert_return - random_return)`` with the
returns from the dataset card (``experiments/make_dataset.py`` writes them) or from
``--random-return`` / ``--expert-return`` (e.g. D4RL's reference scores for a user's file).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from types import ModuleType
from typing import Any

import jax
import numpy as np

import jaxrl
from jaxrl import data, envs
from jaxrl.loggers import CsvLogger, JsonlLogger
from jaxrl.plot import plot_curves


@dataclasses.dataclass
class OfflineArgs:
    """Arguments every offline script takes."""

    dataset: str = "datasets/pendulum-medium-replay.npz"
    """Dataset file: our .npz (experiments/make_dataset.py), a D4RL-style HDF5 or an
    OGBench-style .npz."""
    env: str | None = None
    """Environment to evaluate on (default: the dataset card's env)."""
    total_steps: int = 100_000
    """Gradient steps per seed."""
    seeds: int = 1
    """Independent seeds, trained in parallel with jax.vmap."""
    seed: int = 0
    """Base random seed."""
    eval_every: int = 5_000
    """Evaluate (deterministic policy) every this many gradient steps."""
    num_eval_episodes: int = 16
    """Episodes per evaluation."""
    random_return: float | None = None
    """Random-policy return for normalised scores (default: the dataset card's)."""
    expert_return: float | None = None
    """Expert return for normalised scores (default: the dataset card's)."""
    run_dir: str = "runs"
    """Parent folder of the run folder."""
    progress: bool = True
    """Show a progress bar."""


def load_dataset(args: OfflineArgs) -> tuple[data.Dataset, dict[str, Any], str]:
    """The validated dataset, its card (``{}`` if none) and the env name to evaluate on."""
    if not os.path.exists(args.dataset):
        raise SystemExit(
            f"{args.dataset} does not exist; generate one, e.g.\n"
            "  python experiments/make_dataset.py locomotion --env pendulum "
            "--train-steps 400000 --steps 20000"
        )
    dataset = data.load(args.dataset)
    card = data.load_card(args.dataset) or {}
    env_name = args.env or card.get("env")
    if env_name is None:
        raise SystemExit("the dataset has no card naming its env: pass --env")
    return dataset, card, env_name


def reference_returns(args: OfflineArgs, card: dict[str, Any]) -> tuple[float, float] | None:
    """``(random_return, expert_return)`` for normalised scores, when known."""
    low = args.random_return if args.random_return is not None else card.get("random_return")
    high = args.expert_return if args.expert_return is not None else card.get("expert_return")
    return None if low is None or high is None else (float(low), float(high))


def normalised(returns: np.ndarray, ref: tuple[float, float] | None) -> np.ndarray | None:
    """D4RL-style score (0 = random, 100 = expert)."""
    if ref is None:
        return None
    return 100.0 * (np.asarray(returns) - ref[0]) / (ref[1] - ref[0])


def train_offline(
    agent: ModuleType,
    config: Any,
    args: OfflineArgs,
    dataset: data.Dataset,
    env_name: str,
    run: str,
    key: jax.Array | None = None,
) -> jaxrl.TrainResult:
    """``jaxrl.train`` of ``agent`` on ``dataset`` with JSONL/CSV logs in ``run``."""
    env = envs.make(env_name)
    os.makedirs(run, exist_ok=True)
    loggers = [
        JsonlLogger(os.path.join(run, "metrics.jsonl")),
        CsvLogger(os.path.join(run, "metrics.csv")),
    ]
    return jaxrl.train(
        agent,
        config,
        env,
        jax.random.key(args.seed) if key is None else key,
        args.total_steps,
        data=dataset,
        seeds=args.seeds if args.seeds > 1 else None,
        eval_every=args.eval_every,
        num_eval_episodes=args.num_eval_episodes,
        loggers=loggers,
        progress=args.progress,
        description=f"{agent.NAME} {os.path.basename(args.dataset)}",
    )


def main_for(agent: ModuleType, args: OfflineArgs, config: Any) -> dict[str, Any]:
    """One script's whole run: train, plot, write ``results.json``, print the scores."""
    dataset, card, env_name = load_dataset(args)
    name = os.path.splitext(os.path.basename(args.dataset))[0]
    run = os.path.join(args.run_dir, f"{agent.NAME}-{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(run, exist_ok=True)
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump(dataclasses.asdict(args) | {"env": env_name}, f, indent=2, default=str)
    print(
        f"{agent.NAME} on {args.dataset} ({dataset.size:,} transitions), evaluated on "
        f"{env_name}: {args.total_steps:,} gradient steps x {args.seeds} seed(s) -> {run}"
    )
    result = train_offline(agent, config, args, dataset, env_name, run)
    curves = plot_curves(
        result.history,
        os.path.join(run, "curves.png"),
        metrics=("eval_return", "critic_loss", "bc_loss"),
        title=f"{agent.NAME} on {name}",
    )
    final = np.atleast_1d(result.final("eval_return"))
    ref = reference_returns(args, card)
    score = normalised(final, ref)
    summary = {
        "final_return": final.tolist(),
        "final_normalised_score": None if score is None else score.tolist(),
        "dataset_return_mean": float(dataset.episode_returns.mean()),
        "reference_returns": ref,
        "gradient_steps_per_second": result.steps_per_second,
        "compile_seconds": result.compile_seconds,
    }
    with open(os.path.join(run, "results.json"), "w") as f:
        json.dump(summary, f, indent=2)
    text = f"final eval return {final.mean():.1f}"
    if final.size > 1:
        text += f" +- {final.std():.1f} over {final.size} seeds"
    if score is not None:
        text += f", normalised score {score.mean():.1f}"
    print(
        f"{text} | {result.steps_per_second:,.0f} gradient steps/s, compile "
        f"{result.compile_seconds:.1f}s\ncurves: {curves}"
    )
    return summary
