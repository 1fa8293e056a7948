"""Throughput of Polychromic PPO against PPO and the raw grid environment, in one process.

For each number of trunks ``B`` (``--trunks``) on ``minigrid/FourRooms`` (the Four Rooms preset
of ``agents/presets.py`` otherwise: 100-step trunks, N = 8 vines from p = 2 rollout states,
100-step vines, 2 x 64 MLP), this measures:

1. raw env steps/s: a jitted scan of :class:`jaxrl.rollout.VecEnv` steps with uniform random
   actions over ``B * p * N`` envs (the vines' batch), compilation apart
   (``benchmarks/throughput.py``'s ``measure_raw``);
2. PPO env steps/s through :func:`jaxrl.train` with ``B`` envs of 100 steps (the trunks alone);
3. Polychromic PPO env steps/s through :func:`jaxrl.train`, every simulated vine step counted
   (``steps_per_iteration``).

It prints the ratios Polychromic PPO / raw, PPO / raw and Polychromic PPO / PPO, measured on the
same hardware in the same process; compile seconds apart. No test asserts them.

    python benchmarks/polychromic_throughput.py --trunks 16 --out cpu.json
    python benchmarks/polychromic_throughput.py --trunks 64 256 1024 --iterations 20 --out gpu.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from throughput import hardware, measure_raw, save_json  # noqa: E402

import jaxrl  # noqa: E402
from jaxrl import envs  # noqa: E402
from jaxrl.agents import polychromic_ppo, ppo  # noqa: E402
from jaxrl.agents.presets import POLYCHROMIC_PRESETS  # noqa: E402


def measure(trunks: int, iterations: int) -> dict:
    env = envs.make("minigrid/FourRooms")
    poly = dataclasses.replace(POLYCHROMIC_PRESETS["minigrid/FourRooms"], num_envs=trunks)
    fields = {f.name: getattr(poly, f.name) for f in dataclasses.fields(ppo.Config)}
    base = ppo.Config(**{**fields, "num_minibatches": 4})
    vines = trunks * poly.rollout_states * poly.num_vines
    raw = measure_raw(env, vines, poly.vine_steps, jax.random.PRNGKey(0))
    out = {
        "trunks": trunks,
        "vines": vines,
        "raw_sps": raw["sps"],
        "raw_compile_s": raw["compile_s"],
    }
    for name, agent, config in (("ppo", ppo, base), ("poly", polychromic_ppo, poly)):
        per = agent.steps_per_iteration(config)
        result = jaxrl.train(
            agent,
            config,
            env,
            jax.random.key(0),
            iterations * per,
            chunk_steps=max(1, iterations // 2) * per,
            eval_every=0,
            progress=False,
            watchdog=False,
        )
        out[f"{name}_sps"] = result.steps_per_second
        out[f"{name}_compile_s"] = result.compile_seconds
        out[f"{name}_steps_per_iteration"] = per
    out["poly_over_raw"] = out["poly_sps"] / out["raw_sps"]
    out["ppo_over_raw"] = out["ppo_sps"] / out["raw_sps"]
    out["poly_over_ppo"] = out["poly_sps"] / out["ppo_sps"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trunks", type=int, nargs="+", default=[16])
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for b in args.trunks:
        rows.append(measure(b, args.iterations))
        print(rows[-1], flush=True)
    header = f"{'trunks':>7} {'raw sps':>12} {'PPO sps':>12} {'Poly sps':>12} "
    header += f"{'Poly/raw':>9} {'PPO/raw':>8} {'Poly/PPO':>9} {'compile s (PPO, Poly)':>22}"
    print(header)
    for r in rows:
        print(
            f"{r['trunks']:>7} {r['raw_sps']:>12,.0f} {r['ppo_sps']:>12,.0f} "
            f"{r['poly_sps']:>12,.0f} "
            f"{r['poly_over_raw']:>9.3f} {r['ppo_over_raw']:>8.3f} {r['poly_over_ppo']:>9.3f} "
            f"{r['ppo_compile_s']:>10.1f}, {r['poly_compile_s']:.1f}"
        )
    if args.out:
        save_json({"hardware": hardware(), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
