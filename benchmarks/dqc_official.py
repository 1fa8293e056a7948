"""Worker for ``dqc_speed.py``: times the official DQC code's training loop in its own process.

Run with the official checkout's Python environment (never with jaxrl on the path: both projects
have top-level ``agents`` and ``envs`` packages), e.g.::

    /work/ext/venv-dqc/bin/python benchmarks/dqc_official.py --repo /work/ext/dqc \\
        --data /work/ext/data/pointmaze-medium-navigate-v0.npz --config '{"batch_size": 256}'

It imports the official modules from ``--repo`` unchanged and repeats the setup of the
official ``main.py`` (``make_ogbench_env_and_datasets(..., compact_dataset=True,
add_info=True)``, actions clipped to ``+-(1 - 1e-5)``, ``CGCDataset``, ``DQCAgent.create``), then
its loop body, ``batch = train_dataset.sample(batch_size); agent, info = agent.update(batch)``.
Logging, evaluation and checkpointing (every 5,000 / 250,000 / 1M steps in ``main.py``) are
left out. ``--config`` (JSON) overrides entries of the official ``agents/dqc.py:get_config()``.

Protocol, so that the parent can interleave windows with its own: every line this worker
prints for the parent starts with ``DQCBENCH `` followed by JSON. After setup and compilation it
prints ``{"ready": ...}``; then for each stdin line ``N`` it runs ``N`` loop iterations, waits
for the result (``jax.block_until_ready``) and prints ``{"steps": N, "seconds": ...}``. An empty
line or ``quit`` ends it. Host-side dispatch is asynchronous, as in ``main.py``: sampling the
next batch on the host overlaps the device's previous update.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

PREFIX = "DQCBENCH "


def say(obj: dict) -> None:
    print(PREFIX + json.dumps(obj), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, help="official checkout (ColinQiyangLi/dqc)")
    parser.add_argument("--data", required=True, help="OGBench-layout .npz (and its -val.npz)")
    parser.add_argument("--env-name", default="pointmaze-medium-navigate-oraclerep-v0")
    parser.add_argument("--config", default="{}", help="JSON overrides of get_config()")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=3, help="loop iterations before ready")
    parser.add_argument("--sample-probe", type=int, default=20, help="sample() calls timed alone")
    args = parser.parse_args()

    repo = os.path.abspath(args.repo)
    sys.path.insert(0, repo)
    os.chdir(repo)

    import jax
    import numpy as np
    from envs.env_utils import make_ogbench_env_and_datasets
    from utils.datasets import CGCDataset, Dataset

    from agents import agents
    from agents.dqc import get_config

    config = get_config()
    overrides = json.loads(args.config)
    config.update({k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})

    t0 = time.perf_counter()
    # main.py's setup, minus wandb and the loggers.
    _, train_dataset, _ = make_ogbench_env_and_datasets(
        args.env_name, dataset_path=args.data, compact_dataset=True, add_info=True
    )
    train_dataset = Dataset.create(**train_dataset)
    eps = 1e-5
    train_dataset = train_dataset.copy(
        add_or_replace=dict(actions=np.clip(train_dataset["actions"], -1 + eps, 1 - eps))
    )
    random.seed(args.seed)
    np.random.seed(args.seed)
    train_dataset = CGCDataset(Dataset.create(**train_dataset), config)
    example_batch = train_dataset.sample(1)
    agent = agents[config["agent_name"]].create(args.seed, example_batch, config)
    setup_s = time.perf_counter() - t0

    batch_size = config["batch_size"]
    t0 = time.perf_counter()
    agent, info = agent.update(train_dataset.sample(batch_size))
    jax.block_until_ready(info)
    first_update_s = time.perf_counter() - t0  # trace + compile + one update
    for _ in range(args.warmup):
        agent, info = agent.update(train_dataset.sample(batch_size))
    jax.block_until_ready((agent, info))

    # XLA's operation count of one compiled update (load-independent, unlike the timings).
    cost = type(agent).update.lower(agent, train_dataset.sample(batch_size)).compile()
    cost = cost.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost

    t0 = time.perf_counter()
    for _ in range(args.sample_probe):
        train_dataset.sample(batch_size)
    sample_s = (time.perf_counter() - t0) / max(args.sample_probe, 1)

    import subprocess
    from importlib.metadata import version

    try:
        commit = subprocess.run(
            ["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None

    versions = {d: version(d) for d in ("jax", "jaxlib", "flax", "optax", "numpy", "ogbench")}
    say(
        {
            "ready": True,
            "setup_s": setup_s,
            "first_update_s": first_update_s,
            "sample_s": sample_s,
            "flops_per_step": float(cost.get("flops", float("nan"))),
            "dataset_rows": int(train_dataset.size),
            "config": {k: config[k] for k in sorted(config.keys()) if k != "ob_dims"},
            "versions": versions,
            "commit": commit,
            "python": sys.version.split()[0],
            "jax_devices": [str(d) for d in jax.devices()],
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
        }
    )

    for line in sys.stdin:
        line = line.strip()
        if not line or line == "quit":
            break
        n = int(line)
        t0 = time.perf_counter()
        for _ in range(n):
            batch = train_dataset.sample(batch_size)
            agent, info = agent.update(batch)
        jax.block_until_ready((agent, info))
        say({"steps": n, "seconds": time.perf_counter() - t0})


if __name__ == "__main__":
    main()
