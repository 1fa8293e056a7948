"""GoRL against Gaussian (tanh-Gaussian) PPO on the same env, seeds and encoder-step budget.

    python experiments/gorl_vs_ppo.py --env pendulum --preset cpu --seeds 2
    python experiments/gorl_vs_ppo.py --env playground/HopperStand --preset paper --seeds 3  # GPU

PPO gets the stage-0 PPO settings of the GoRL preset (the paper's baseline uses the same
networks, with clip 0.1 at the paper scale) and as many env steps as GoRL's encoders take in all
stages together (the decoder's data collection is not counted, as in the paper's figure). Writes
``runs/gorl_vs_ppo-<env>-<time>/`` with ``results.json`` (each method's returns and wall time,
compilation and decoder fits included) and ``curves.png`` (deterministic evaluation return
against env steps, mean and min-max band over seeds).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import numpy as np
import tyro

import jaxrl
from jaxrl import envs
from jaxrl.agents import gorl, ppo
from jaxrl.agents.presets import gorl_preset


@dataclasses.dataclass
class Args:
    """GoRL vs Gaussian PPO."""

    env: str = "pendulum"
    """Environment name."""
    preset: str = "cpu"
    """``paper`` or ``cpu`` (see jaxrl.agents.presets.gorl_preset)."""
    decoder: str = "flow"
    """GoRL decoder: flow or diffusion."""
    seeds: int = 2
    """Seeds (the same keys for both methods)."""
    seed: int = 0
    """Base random seed."""
    num_eval_episodes: int = 16
    """Episodes per evaluation."""
    run_dir: str = "runs"
    """Parent folder of the run folder."""


def gorl_curves(args: Args, env, keys) -> tuple[np.ndarray, np.ndarray]:
    """Eval steps (cumulative encoder steps) and returns ``[evals, seeds]`` of GoRL."""
    configs, steps, eval_every = gorl_preset(args.preset, args.decoder)
    curves = []
    for i, key in enumerate(keys):
        stages = gorl.run_stages(
            configs,
            env,
            key,
            steps,
            eval_every,
            num_eval_episodes=args.num_eval_episodes,
            progress=True,
        )
        xs, ys, offset = [], [], 0
        for k, st in enumerate(stages):
            ev = np.asarray(st.history["eval_return"], float)
            ok = ~np.isnan(ev)
            xs += list(offset + np.asarray(st.history["step"])[ok])
            ys += list(ev[ok])
            offset += steps[k]
        print(
            f"GoRL seed {i}: best eval per stage {[round(s.best_eval_return, 1) for s in stages]}"
        )
        curves.append((np.asarray(xs), np.asarray(ys)))
    return curves[0][0], np.stack([c[1] for c in curves], axis=1)


def ppo_curves(args: Args, env, key) -> tuple[np.ndarray, np.ndarray]:
    """Eval steps and returns ``[evals, seeds]`` of tanh-Gaussian PPO on the same budget."""
    configs, steps, eval_every = gorl_preset(args.preset, args.decoder)
    base = configs[0]
    config = ppo.Config(**{f.name: getattr(base, f.name) for f in dataclasses.fields(ppo.Config)})
    config = dataclasses.replace(
        config, policy_head="tanh_gaussian", clip_eps=0.1 if args.preset == "paper" else 0.15
    )
    result = jaxrl.train(
        ppo,
        config,
        env,
        key,
        sum(steps),
        seeds=args.seeds,
        eval_every=eval_every,
        num_eval_episodes=args.num_eval_episodes,
        description="gaussian ppo",
    )
    ev = np.asarray(result.history["eval_return"], float)
    ok = ~np.isnan(ev).all(axis=1)
    return np.asarray(result.history["step"])[ok], ev[ok]


def main(argv: list[str] | None = None) -> dict:
    args = tyro.cli(Args, args=argv, description=__doc__)
    env = envs.make(args.env)
    key = jax.random.key(args.seed)
    keys = jax.random.split(key, args.seeds)  # seed i: the same key for both methods
    run = os.path.join(
        args.run_dir,
        f"gorl_vs_ppo-{args.env.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}",
    )
    os.makedirs(run, exist_ok=True)
    curves, wall = {}, {}
    for name, fn in (
        (f"GoRL ({args.decoder})", lambda: gorl_curves(args, env, keys)),
        ("Gaussian PPO", lambda: ppo_curves(args, env, key)),
    ):
        t0 = time.perf_counter()
        curves[name] = fn()
        wall[name] = time.perf_counter() - t0  # compilation and decoder fits included
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    results = {"args": dataclasses.asdict(args)}
    for name, (xs, ys) in curves.items():
        (line,) = ax.plot(xs, ys.mean(axis=1), lw=2, label=name)
        if ys.shape[1] > 1:
            ax.fill_between(xs, ys.min(axis=1), ys.max(axis=1), alpha=0.2, color=line.get_color())
        results[name] = {
            "final_mean": float(ys[-1].mean()),
            "final_per_seed": ys[-1].tolist(),
            "best_mean": float(ys.mean(axis=1).max()),
            "wall_seconds": wall[name],
        }
    ax.set_xlabel("env steps (GoRL: encoder steps)")
    ax.set_ylabel("eval return (deterministic)")
    ax.set_title(f"GoRL vs Gaussian PPO on {args.env} ({args.seeds} seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(run, "curves.png"), dpi=110)
    plt.close(fig)
    with open(os.path.join(run, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    for name in curves:
        r = results[name]
        print(
            f"{name}: final eval {r['final_mean']:.1f} (per seed {r['final_per_seed']}), "
            f"best mean eval {r['best_mean']:.1f}, wall {r['wall_seconds']:.0f} s"
        )
    print(f"curves and results in {run}")
    return results


if __name__ == "__main__":
    main()
