"""Subprocess worker for the kill-and-resume test: trains PPO with a checkpoint every chunk,
prints one line per chunk, optionally sleeps after each chunk, and saves the final parameters."""

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jaxrl  # noqa: E402
from jaxrl import envs  # noqa: E402
from jaxrl.agents import ppo  # noqa: E402

cache = os.environ.get("JAXRL_TEST_CACHE")
if cache:
    jax.config.update("jax_compilation_cache_dir", cache)


class PrintLogger:
    def __init__(self, sleep: float):
        self.sleep = sleep

    def log(self, step, row):
        print(f"chunk-done {step}", flush=True)
        time.sleep(self.sleep)

    def close(self):
        pass


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sleep", type=float, default=0.0)
    a = p.parse_args()
    config = ppo.Config(num_envs=8, num_steps=16, num_minibatches=2, num_epochs=2)
    result = jaxrl.train(
        ppo,
        config,
        envs.make("pendulum"),
        jax.random.key(5),
        10 * 128,
        chunk_steps=128,
        seeds=2,
        checkpoint_dir=a.dir,
        resume=True,
        loggers=[PrintLogger(a.sleep)],
        progress=False,
    )
    leaves = jax.tree.leaves(result.state.params)
    np.savez(a.out, *[np.asarray(x) for x in leaves])
    print(f"finished {result.steps_this_call}", flush=True)


if __name__ == "__main__":
    main()
