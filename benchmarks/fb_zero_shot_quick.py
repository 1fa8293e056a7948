"""A quick zero-shot check for a lease-sized GPU slot: RND explores a domain reward-free, FB
trains on its data, and FB's return on every task is printed next to a random policy's.

No supervised reference and no run folder (``experiments/fb.py`` is the full report); every
stage is one compiled program: RND's training, one collection from the final RND policy, FB's
training (``jax.lax.scan`` over seeds with ``lax.map`` inits), one evaluation of FB and of the
random policy over all tasks.

    python benchmarks/fb_zero_shot_quick.py --domain reach/fourrooms --explore-iterations 40 \\
        --rows 40000 --fb-steps 1000 --preset cpu --out reach.json           # CPU, 3 minutes
    python benchmarks/fb_zero_shot_quick.py --domain dmc/walker --explore-iterations 100 \\
        --rows 50000 --fb-steps 20000 --preset paper --out walker.json       # GPU
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from throughput import hardware, save_json  # noqa: E402

from jaxrl import envs, zero_shot  # noqa: E402
from jaxrl.agents import fb, rnd  # noqa: E402
from jaxrl.agents.presets import FB_PRESETS, RND_PRESETS  # noqa: E402

EVAL_TWINS = {"reach/fourrooms": "reach/fourrooms-anywhere"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="reach/fourrooms")
    parser.add_argument("--explore-iterations", type=int, default=40)
    parser.add_argument("--explore-envs", type=int, default=16)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--fb-steps", type=int, default=1000)
    parser.add_argument("--preset", choices=sorted(FB_PRESETS), default="cpu")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    timings: dict[str, float] = {}
    env = envs.make(args.domain)
    eval_env = envs.make(EVAL_TWINS.get(args.domain, args.domain))
    length = env.spec.max_episode_steps

    t = time.perf_counter()
    config = RND_PRESETS.get(args.domain, rnd.Config(num_envs=args.explore_envs))
    state = rnd.init(config, env, jax.random.key(0))
    state = jax.jit(
        lambda s: jax.lax.scan(
            lambda c, _: rnd.train_step(config, env, c), s, None, args.explore_iterations
        )[0]
    )(state)
    jax.block_until_ready(state)
    timings["rnd_s"] = time.perf_counter() - t

    t = time.perf_counter()
    num_envs = max(1, args.rows // length)
    data = zero_shot.collect(
        env,
        lambda obs, k: rnd.act(config, env, state, obs, k, deterministic=False),
        jax.random.key(1),
        num_envs,
        length,
    )
    timings["collect_s"] = time.perf_counter() - t

    t = time.perf_counter()
    fb_config = FB_PRESETS[args.preset]
    prepared = fb.prepare_data(fb_config, env, data)
    tasks = tuple(env.task_names)
    rewards = jnp.stack([data.task_rewards[name] for name in tasks], axis=1)
    keys = jax.random.split(jax.random.key(2), args.seeds)
    states = jax.jit(jax.lax.map, static_argnums=0)(
        lambda k: fb.init(fb_config, env, k, prepared), keys
    )

    def train_and_evaluate(s):
        s, _ = jax.lax.scan(
            lambda c, _: fb.train_step(fb_config, env, c, prepared), s, None, args.fb_steps
        )
        task_z = jnp.stack(
            [
                fb.infer_task_from_data(
                    fb_config, env, s, prepared, rewards[:, i], jax.random.key(i)
                )
                for i in range(len(tasks))
            ]
        )
        policy = lambda obs, z, k: fb.policy(fb_config, env, s, obs, z)  # noqa: E731
        return zero_shot.evaluate_zero_shot(
            eval_env, policy, task_z, jax.random.key(7), args.episodes
        )["return"]

    returns = np.asarray(jax.jit(jax.vmap(train_and_evaluate))(states))
    timings["fb_train_and_eval_s"] = time.perf_counter() - t

    t = time.perf_counter()
    box = env.spec.action_space

    def uniform(obs, z, k):
        return jax.vmap(box.sample)(jax.random.split(k, obs.shape[0]))

    random = np.asarray(
        jax.jit(
            lambda: zero_shot.evaluate_zero_shot(
                eval_env, uniform, jnp.zeros((len(tasks), 1)), jax.random.key(7), args.episodes
            )["return"]
        )()
    )
    timings["random_eval_s"] = time.perf_counter() - t

    print(f"{'task':<22} {'FB mean':>9} {'FB per seed':>30} {'random':>8}")
    for i, name in enumerate(tasks):
        per = ", ".join(f"{x:.1f}" for x in returns[:, i])
        print(f"{name:<22} {returns[:, i].mean():>9.1f} {per:>30} {random[i]:>8.1f}")
    print(json.dumps(timings))
    if args.out:
        save_json(
            {
                "hardware": hardware(),
                "args": vars(args),
                "fb_config": {
                    f.name: getattr(fb_config, f.name) for f in dataclasses.fields(fb_config)
                },
                "tasks": list(tasks),
                "fb_returns": returns.tolist(),
                "random_returns": random.tolist(),
                "rows": int(data.size),
                "timings_s": timings,
            },
            args.out,
        )


if __name__ == "__main__":
    main()
