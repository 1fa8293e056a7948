"""Throughput of the zero-shot pipeline: RND exploration against the raw domain, and FB's
gradient steps, in one process.

1. raw env steps/s of ``reach/fourrooms`` (uniform random actions over ``--envs`` envs,
   ``benchmarks/throughput.py``'s ``measure_raw``);
2. RND env steps/s through :func:`jaxrl.train` (the domain's preset with ``--envs`` envs of 64
   steps), and its ratio to the raw env;
3. FB gradient steps/s through :func:`jaxrl.train` on a reward-free dataset of ``reach/fourrooms``
   (random actions, 40,000 rows) at the CPU preset (``presets.FB_CPU``) and at the paper's sizes
   (``fb.Config()``: z 50, batch 1024, 1024-wide F and actor, 256-wide B).

Compilation is reported apart; no test asserts these numbers. The FB figure at the paper's
sizes is what the BREEZE paper's "4 h for 1M FB steps" compares with (about 69 steps/s).

    python benchmarks/zero_shot_throughput.py --envs 16 --fb-steps 200 --out cpu.json
    python benchmarks/zero_shot_throughput.py --envs 1024 --fb-steps 2000 --out gpu.json
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
from jaxrl import envs, zero_shot  # noqa: E402
from jaxrl.agents import fb, rnd  # noqa: E402
from jaxrl.agents.presets import FB_CPU, RND_PRESETS  # noqa: E402

DOMAIN = "reach/fourrooms"


def measure_rnd(num_envs: int, iterations: int) -> dict:
    env = envs.make(DOMAIN)
    config = dataclasses.replace(RND_PRESETS[DOMAIN], num_envs=num_envs)
    raw = measure_raw(env, num_envs, config.num_steps, jax.random.PRNGKey(0))
    per = rnd.steps_per_iteration(config)
    result = jaxrl.train(
        rnd,
        config,
        env,
        jax.random.key(0),
        iterations * per,
        chunk_steps=max(1, iterations // 2) * per,
        eval_every=0,
        progress=False,
        watchdog=False,
    )
    return {
        "envs": num_envs,
        "raw_sps": raw["sps"],
        "raw_compile_s": raw["compile_s"],
        "rnd_sps": result.steps_per_second,
        "rnd_compile_s": result.compile_seconds,
        "rnd_over_raw": result.steps_per_second / raw["sps"],
    }


def measure_fb(label: str, config: fb.Config, steps: int) -> dict:
    env = envs.make(DOMAIN)
    data = zero_shot.collect(
        env,
        lambda obs, k: jax.random.uniform(k, obs.shape, minval=-1.0, maxval=1.0),
        jax.random.key(0),
        num_envs=200,
        num_steps=200,
    )
    result = jaxrl.train(
        fb,
        config,
        env,
        jax.random.key(0),
        steps,
        data=data,
        chunk_steps=max(1, steps // 2),
        eval_every=0,
        progress=False,
        watchdog=False,
    )
    return {
        "config": label,
        "batch_size": config.batch_size,
        "fb_steps_per_s": result.steps_per_second,
        "fb_compile_s": result.compile_seconds,
        "hours_per_million_steps": 1e6 / result.steps_per_second / 3600,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[16])
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--fb-steps", type=int, default=200)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rnd_rows = [measure_rnd(n, args.iterations) for n in args.envs]
    for r in rnd_rows:
        print(
            f"RND {r['envs']:>6} envs: raw {r['raw_sps']:,.0f} steps/s, RND {r['rnd_sps']:,.0f} "
            f"steps/s, RND/raw {r['rnd_over_raw']:.3f} (compile {r['rnd_compile_s']:.1f} s)",
            flush=True,
        )
    fb_rows = [
        measure_fb("cpu preset", FB_CPU, args.fb_steps),
        measure_fb("paper sizes", fb.Config(), args.fb_steps),
    ]
    for r in fb_rows:
        print(
            f"FB {r['config']:<12} batch {r['batch_size']:>5}: {r['fb_steps_per_s']:,.1f} "
            f"gradient steps/s ({r['hours_per_million_steps']:.2f} h per 1M steps; compile "
            f"{r['fb_compile_s']:.1f} s)",
            flush=True,
        )
    if args.out:
        save_json({"hardware": hardware(), "rnd": rnd_rows, "fb": fb_rows}, args.out)


if __name__ == "__main__":
    main()
