"""Train PPO on any jaxrl environment.

    python experiments/ppo.py --env pendulum --total-steps 1000000 --seeds 4
    python experiments/ppo.py --env brax/inverted_pendulum --config.learning-rate 1e-3
    python experiments/ppo.py --help        # every Config field, with its documentation

Writes ``runs/ppo-<env>-<time>/`` with ``config.json``, ``metrics.jsonl``, ``metrics.csv``,
``curves.png`` and ``checkpoints/`` (the whole state, at every evaluation). Per-env tuned
presets (``PPO_PRESETS`` in jaxrl.agents.presets) are the defaults. A stopped run
continues exactly with

    python experiments/ppo.py --resume runs/ppo-pendulum-20261124-101500
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import numpy as np
import tyro

import jaxrl
from jaxrl import envs
from jaxrl.agents import ppo
from jaxrl.agents.presets import PPO_PRESETS
from jaxrl.loggers import CsvLogger, JsonlLogger, TensorBoardLogger, WandbLogger
from jaxrl.plot import plot_curves


@dataclasses.dataclass
class Args:
    """PPO on a jaxrl environment."""

    env: str = "pendulum"
    """Environment name, e.g. pendulum, cartpole, brax/ant, playground/CartpoleSwingup."""
    total_steps: int = 1_000_000
    """Environment steps to train for (per seed)."""
    seeds: int = 1
    """Independent seeds, trained in parallel with jax.vmap."""
    seed: int = 0
    """Base random seed."""
    eval_every: int = 100_000
    """Evaluate (deterministic policy) every this many env steps."""
    num_eval_episodes: int = 16
    """Episodes per evaluation."""
    run_dir: str = "runs"
    """Parent folder of the run folder."""
    progress: bool = True
    """Show a progress bar."""
    resume: str | None = None
    """Continue the run in this run folder (its config.json is used; --total-steps may grow)."""
    tensorboard: bool = False
    """Also write TensorBoard event files to the run folder (needs tensorboardX)."""
    wandb: bool = False
    """Also log to Weights & Biases (offline mode unless WANDB_MODE says otherwise)."""
    config: ppo.Config = dataclasses.field(default_factory=ppo.Config)
    """PPO hyperparameters (defaults: the env's preset if there is one)."""


def parse_args(argv: list[str]) -> Args:
    """Read --env first so that its preset becomes the default Config, then parse everything."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--env", default=Args.env)
    pre.add_argument("--resume", default=None)
    known, _ = pre.parse_known_args(argv)
    if known.resume:
        with open(os.path.join(known.resume, "config.json")) as f:
            saved = json.load(f)
        config = ppo.Config(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in saved.pop("config").items()}
        )
        default = Args(**{**saved, "resume": known.resume, "config": config})
    else:
        default = Args(env=known.env, config=PPO_PRESETS.get(known.env, ppo.Config()))
    return tyro.cli(Args, default=default, args=argv, description=__doc__)


def main(argv: list[str] | None = None) -> jaxrl.TrainResult:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = envs.make(args.env)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run = args.resume or os.path.join(args.run_dir, f"ppo-{args.env.replace('/', '_')}-{stamp}")
    os.makedirs(run, exist_ok=True)
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump({**dataclasses.asdict(args), "resume": None}, f, indent=2)
    print(f"PPO on {args.env}: {args.total_steps:,} steps x {args.seeds} seed(s) -> {run}")
    loggers = [
        JsonlLogger(os.path.join(run, "metrics.jsonl")),
        CsvLogger(os.path.join(run, "metrics.csv")),
    ]
    if args.tensorboard:
        loggers.append(TensorBoardLogger(os.path.join(run, "tensorboard")))
    if args.wandb:
        loggers.append(
            WandbLogger(config=dataclasses.asdict(args), name=os.path.basename(run), dir=run)
        )
    result = jaxrl.train(
        ppo,
        args.config,
        env,
        jax.random.key(args.seed),
        args.total_steps,
        seeds=args.seeds if args.seeds > 1 else None,
        eval_every=args.eval_every,
        num_eval_episodes=args.num_eval_episodes,
        loggers=loggers,
        progress=args.progress,
        checkpoint_dir=os.path.abspath(os.path.join(run, "checkpoints")),
        checkpoint_every=args.eval_every,
        resume=bool(args.resume),
        description=f"ppo {args.env}",
    )
    curves = plot_curves(
        result.history, os.path.join(run, "curves.png"), title=f"PPO on {args.env}"
    )
    final = np.atleast_1d(result.final("eval_return"))
    spread = f" +- {final.std():.1f} over {final.size} seeds" if final.size > 1 else ""
    print(
        f"final eval return {final.mean():.1f}{spread} after {result.total_steps:,} steps | "
        f"{result.steps_per_second:,.0f} env steps/s, compile {result.compile_seconds:.1f}s\n"
        f"curves: {curves}"
    )
    return result


if __name__ == "__main__":
    main()
