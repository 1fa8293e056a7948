"""What PROPS costs over PPO-with-buffer, and what bounds it: wall time against gradient work.

PROPS (``jaxrl.agents.props``) and its baseline PPO-with-buffer (the same agent with
``sampling="on_policy"``: the same ring buffer, the same target update, no behaviour policy) are
trained in one process on the same env, seeds and step budget, with and without the
sampling-error fit (``se_epochs``, a diagnostic metric both variants compute when it is on). For
each run the script reports the training wall time (compilation excluded), the gradient steps of
one iteration (behaviour update, sampling-error fit, target update; from the config, with the
behaviour steps the KL stop let through read from the run's history) and the parameter-row
passes they cost (rows per minibatch x steps, the behaviour and fit losses reading the policy only,
the target loss policy and value), then each variant's time and work relative to
PPO-with-buffer. When the time ratio follows the work ratio, the behaviour update's gradient
steps, not overhead around them, are what PROPS costs.

    python benchmarks/props_overhead.py --env cartpole --steps 24576 --out props.json

Timings are never asserted anywhere; see ``benchmarks/README.md`` for recorded results.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxrl  # noqa: E402
from benchmarks.throughput import hardware, save_json  # noqa: E402
from jaxrl import envs  # noqa: E402
from jaxrl.agents import props  # noqa: E402
from jaxrl.agents.presets import PROPS_PRESETS  # noqa: E402


def gradient_work(config: props.Config, behaviour_steps: float) -> dict[str, float]:
    """Gradient steps per iteration of each update and their cost in network-row passes.

    ``behaviour_steps``: the behaviour update's steps actually taken per sub-iteration (its KL
    stop can end it early). A target step reads policy and value (2 networks of the same
    widths), a behaviour or fit step the policy only (1)."""
    buffer = config.buffer_steps() * config.num_envs
    sub_iterations = config.num_steps // config.props_num_steps
    behaviour = sub_iterations * behaviour_steps if config.sampling == "props" else 0.0
    fit = config.se_epochs * config.se_num_minibatches
    target = config.num_epochs * config.num_minibatches
    rows = (
        behaviour * buffer / config.props_num_minibatches
        + fit * buffer / config.se_num_minibatches
        + 2 * target * buffer / config.num_minibatches
    )
    return {"behaviour": behaviour, "fit": fit, "target": target, "row_passes": rows}


def measure(config: props.Config, env: Any, steps: int, key: jax.Array) -> dict[str, Any]:
    """Train ``config`` for ``steps`` env steps; wall time, compile time and gradient work."""
    result = jaxrl.train(
        props, config, env, key, total_steps=steps, eval_every=0, progress=False, chunk_steps=steps
    )
    taken = result.history.get("props_updates")
    behaviour_steps = (
        float(np.nanmean(np.asarray(taken)))
        if taken is not None and config.sampling == "props"
        else float(config.props_num_epochs * config.props_num_minibatches)
    )
    return {
        "train_s": result.train_seconds,
        "compile_s": result.compile_seconds,
        "iterations": result.total_steps // props.steps_per_iteration(config),
        "behaviour_steps_taken": behaviour_steps,
        **gradient_work(config, behaviour_steps),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Time the four variants, print the table and write the JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="cartpole", help="env name (PROPS_PRESETS[env] settings)")
    p.add_argument("--steps", type=int, default=24_576, help="env steps of each run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the results as JSON to this path")
    args = p.parse_args(argv)
    env = envs.make(args.env)
    base = PROPS_PRESETS.get(args.env, props.Config())
    se = base.se_epochs
    variants = {
        "ppo_with_buffer": dataclasses.replace(base, sampling="on_policy"),
        "props": base,
        "ppo_with_buffer_se0": dataclasses.replace(base, sampling="on_policy", se_epochs=0),
        "props_se0": dataclasses.replace(base, se_epochs=0),
    }
    results: dict[str, Any] = {}
    for name, config in variants.items():
        print(f"{name} ...", flush=True)
        results[name] = measure(config, env, args.steps, jax.random.key(args.seed))
        print(f"  {results[name]}", flush=True)
    print(f"\n{args.env}, {args.steps} env steps, sampling-error fit se_epochs={se} or 0")
    head = ("variant", "train s", "time ratio", "grad steps/iter", "step ratio", "row ratio")
    print(" | ".join(head))
    for name, r in results.items():
        ref = results["ppo_with_buffer" if not name.endswith("se0") else "ppo_with_buffer_se0"]
        steps = r["behaviour"] + r["fit"] + r["target"]
        ref_steps = ref["behaviour"] + ref["fit"] + ref["target"]
        print(
            f"{name} | {r['train_s']:.2f} | {r['train_s'] / ref['train_s']:.2f} | "
            f"{steps:.0f} (behaviour {r['behaviour']:.0f}, fit {r['fit']:.0f}, target "
            f"{r['target']:.0f}) | {steps / ref_steps:.2f} | "
            f"{r['row_passes'] / ref['row_passes']:.2f}"
        )
    payload = {"hardware": hardware(), "command": sys.argv, "env": args.env, "results": results}
    if args.out:
        save_json(payload, args.out)
    return payload


if __name__ == "__main__":
    main()
