"""One process of ``tests/test_multihost.py`` (or its one-process reference).

Runs ``experiments/ppo.py``'s ``main`` (the run layer, driver, checkpoints and loggers as a user
gets them) with a small PPO config on ``pendulum`` in both layouts: 4 independent seeds (split
over the devices) and one run with data parallelism over its environments. Each trains 2
chunks, then resumes from its run folder to 4 chunks. Afterwards every process writes what it
holds (the parameters gathered to the host, the metric history) to
``OUT/result-<layout>-p<process>.npz``: files of the test, outside the run folders.

    python -m jaxrl.launch --num-processes 2 --cpu-devices 2 tests/multihost_worker.py OUT
    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/multihost_worker.py OUT \\
        --reference      # one process, the same 4 devices (--devices 4)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import jax
import numpy as np

from jaxrl import distributed

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "experiments", "ppo.py")

LAYOUTS = {"runs": (4, 1), "envs": (1, 0)}
"""Layout name -> (seeds, evaluate every so many chunks): 4 seeds are split over the 4 devices
(evaluated after each chunk: the evaluation's outputs would be sharded by seed), 1 run splits
its environments (not evaluated: one compilation less)."""

CHUNK = 128  # one iteration: num_envs 8 x num_steps 16
SMALL = [
    "--env", "pendulum", "--config.num-envs", "8", "--config.num-steps", "16",
    "--config.num-minibatches", "2", "--config.num-epochs", "2",
    "--num-eval-episodes", "2", "--no-progress",
]  # fmt: skip


def _script():
    spec = importlib.util.spec_from_file_location("ppo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # tyro resolves the Args annotations through it
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--reference", action="store_true")
    ns = parser.parse_args()
    ppo = _script()
    devices = ["--devices", str(jax.device_count())] if ns.reference else []
    for layout, (seeds, evaluate) in LAYOUTS.items():
        run_dir = os.path.join(ns.out, f"runs-{layout}")
        schedule = ["--eval-every", str(evaluate * CHUNK)]
        common = [*SMALL, *schedule, "--seeds", str(seeds), "--run-dir", run_dir]
        first = ppo.main([*common, *devices, "--total-steps", str(2 * CHUNK)])
        resumed = ppo.main(["--resume", first.path, "--total-steps", str(4 * CHUNK)])
        result = resumed.outcomes["PPO"]
        params = distributed.gather(result.state.params)
        leaves = {
            f"param/{jax.tree_util.keystr(path)}": np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_leaves_with_path(params)
        }
        history = {f"history/{k}": np.asarray(v) for k, v in result.history.items()}
        name = f"result-{layout}-p{jax.process_index()}.npz"
        np.savez(os.path.join(ns.out, name), path=first.path, **leaves, **history)


if __name__ == "__main__":
    main()
