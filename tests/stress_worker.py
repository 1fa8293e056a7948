"""Subprocess worker for the no-hang stress test (issue 21): in a fresh process, the init, the
step-0 evaluation and four chunks (each evaluated) of a vmapped 4-seed run with 256 x 256
networks: PPO (online; a 2-setting sweep, checkpointed, stopped after two chunks and resumed) or
TD3+BC (offline, on a random pendulum dataset), the work that wedged XLA:CPU in earlier rounds.
Prints ``ok <agent>`` when done. ``--cache`` names a persistent compilation cache shared by the
workers (compiling is not what hangs; running is)."""

import argparse
import os
import sys
import tempfile

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jaxrl  # noqa: E402
from jaxrl import data, envs, sweep  # noqa: E402
from jaxrl.agents import ppo, td3_bc  # noqa: E402


def random_pendulum(rows: int = 2000, episode: int = 200) -> data.Dataset:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(rows, 3)).astype(np.float32)
    ends = (np.arange(rows) % episode) == episode - 1
    return data.Dataset.create(
        observations=obs,
        actions=rng.uniform(-1, 1, size=(rows, 1)).astype(np.float32),
        rewards=rng.normal(size=rows).astype(np.float32),
        terminals=np.zeros(rows, bool),
        timeouts=ends,
        next_observations=rng.normal(size=(rows, 3)).astype(np.float32),
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--agent", choices=["ppo", "td3_bc"], required=True)
    p.add_argument("--cache", default=None)
    p.add_argument(
        "--vmapped-init",
        action="store_true",
        help="initialise seeds with vmap as before issue 21 (to measure the old deadlock)",
    )
    a = p.parse_args()
    if a.vmapped_init:
        from jaxrl import driver

        driver.sequential_map = jax.vmap
    if a.cache:
        jax.config.update("jax_compilation_cache_dir", a.cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    env = envs.make("pendulum")
    common = {"seeds": 4, "progress": False, "num_eval_episodes": 4, "watchdog": 60}
    if a.agent == "ppo":  # a 2-setting sweep of 4 seeds, stopped and resumed from a checkpoint
        base = ppo.Config(num_envs=16, num_steps=32, num_minibatches=4, hidden_sizes=(256, 256))
        config = sweep.grid(base, learning_rate=[3e-4, 1e-3])
        with tempfile.TemporaryDirectory() as folder:
            for steps in (2 * 512, 4 * 512):
                jaxrl.train(
                    ppo, config, env, jax.random.key(0), steps, chunk_steps=512,
                    checkpoint_dir=folder, resume=True, **common,
                )  # fmt: skip
    else:
        config = td3_bc.Config(batch_size=256)  # 256 x 256 networks
        jaxrl.train(
            td3_bc, config, env, jax.random.key(0), 200, chunk_steps=50, data=random_pendulum(),
            **common,
        )  # fmt: skip
    print(f"ok {a.agent}", flush=True)


if __name__ == "__main__":
    main()
