"""How the cost per seed falls when seeds are vmapped into one program.

    python benchmarks/sweep_scaling.py                       # pendulum, 1/4/16/64 seeds
    python benchmarks/sweep_scaling.py --seeds 1 8 64 512 --steps 200000   # on a GPU

For each seed count, trains PPO for ``--steps`` env steps *per seed* in one vmapped program and
reports the training wall time (compilation excluded and shown separately), the time per seed
and that time relative to a single seed (1.0 = no gain from batching; 1/64 = perfect batching).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform

import jax
import tyro

import jaxrl
from jaxrl import envs
from jaxrl.agents.presets import PPO_PRESETS


@dataclasses.dataclass
class Args:
    env: str = "pendulum"
    """Environment name (one with a PPO preset, or PPO defaults are used)."""
    seeds: tuple[int, ...] = (1, 4, 16, 64)
    """Seed counts to measure."""
    steps: int = 65_536
    """Env steps per seed."""
    out: str | None = None
    """Write the results as JSON here."""


def hardware() -> str:
    """The device(s) and, on CPU, the processor model."""
    devices = jax.devices()
    name = f"{len(devices)} x {devices[0].device_kind}"
    if devices[0].platform == "cpu":
        try:
            with open("/proc/cpuinfo") as f:
                model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
        except (OSError, StopIteration):
            model = platform.processor()
        name += f" ({model}, {os.cpu_count()} cores)"
    return name


def main(args: Args) -> list[dict]:
    from jaxrl.agents import ppo

    config = PPO_PRESETS.get(args.env, ppo.Config())
    env = envs.make(args.env)
    rows = []
    for n in args.seeds:
        result = jaxrl.train(
            ppo,
            config,
            env,
            jax.random.key(0),
            args.steps,
            seeds=n if n > 1 else None,
            chunk_steps=args.steps,
            eval_every=0,
            progress=False,
        )
        rows.append(
            {
                "seeds": n,
                "steps_per_seed": result.total_steps,
                "train_s": result.train_seconds,
                "compile_s": result.compile_seconds,
                "per_seed_s": result.train_seconds / n,
                "env_steps_per_s": result.steps_per_second,
            }
        )
    base = rows[0]["per_seed_s"] * rows[0]["seeds"] if rows[0]["seeds"] == 1 else None
    print(f"PPO {args.env}, {args.steps:,} steps per seed, on {hardware()}")
    print("| seeds | train s | compile s | s per seed | per seed / 1 seed | env steps/s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        r["relative"] = r["per_seed_s"] / base if base else float("nan")
        print(
            f"| {r['seeds']} | {r['train_s']:.2f} | {r['compile_s']:.1f} | {r['per_seed_s']:.3f} "
            f"| {r['relative']:.3f} | {r['env_steps_per_s']:,.0f} |"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"hardware": hardware(), "args": dataclasses.asdict(args), "rows": rows}, f)
    return rows


if __name__ == "__main__":
    main(tyro.cli(Args))
