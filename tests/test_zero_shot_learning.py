"""FB learns zero-shot: trained on RND's reward-free data of the four rooms, it beats a random
policy on every one of the four reach tasks it never saw a reward of during training.

Calibrate with ``python tests/calibrate.py fb --keys 0 1`` (the per-seed returns of FB, of the
broken variant and of the random policy for each data key)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs, zero_shot
from jaxrl.agents import fb, rnd
from jaxrl.agents.presets import FB_CPU, RND_PRESETS

DOMAIN = "reach/fourrooms"
EVAL_DOMAIN = "reach/fourrooms-anywhere"
SEEDS = int(__import__("os").environ.get("FB_SEEDS", 8))
STEPS = 1000
EXPLORE_ITERATIONS = 40  # 16 envs x 64 steps each: 40,960 env steps of RND
EPISODES = 32
TASKS = ("reach_top_left", "reach_top_right", "reach_bottom_left", "reach_bottom_right")


def rnd_dataset(key: jax.Array):
    """ExORL's recipe at CPU scale: RND (the domain's preset) explores for 40 iterations; the
    policy at iterations 10, 20, 30 and 40 each collects 50 episodes of 200 steps (40,000
    rows with every task's reward)."""
    env = envs.make(DOMAIN)
    config = RND_PRESETS[DOMAIN]
    k_init, k_collect = jax.random.split(key)
    state = rnd.init(config, env, k_init)
    train = jax.jit(
        lambda s: jax.lax.scan(lambda c, _: rnd.train_step(config, env, c), s, None, 10)[0]
    )

    def policy(obs, k, s):
        return rnd.act(config, env, s, obs, k, deterministic=False)

    parts = []
    for i in range(4):
        state = train(state)
        parts.append(
            zero_shot.collect(env, policy, jax.random.fold_in(k_collect, i), 50, 200, state)
        )
    from jaxrl.data import concatenate

    return concatenate(parts)


def zero_shot_returns(data_key: int, config: fb.Config = FB_CPU) -> dict[str, np.ndarray]:
    """``[SEEDS, 4]`` zero-shot returns of FB (``config``, STEPS gradient steps) on each task,
    z inferred from the dataset's stored rewards of that task, EPISODES episodes from random
    starts anywhere in the maze; and ``[4]`` of a uniformly random policy."""
    env = envs.make(DOMAIN)
    eval_env = envs.make(EVAL_DOMAIN)
    data = rnd_dataset(jax.random.key(data_key))
    prepared = fb.prepare_data(config, env, data)
    assert tuple(env.task_names) == TASKS
    rewards = jnp.stack([data.task_rewards[t] for t in TASKS], axis=1)
    keys = jax.random.split(jax.random.key(100 + data_key), SEEDS)
    # never vmap an orthogonal init on CPU (batched QR can deadlock): init seed by seed
    states = jax.jit(jax.lax.map, static_argnums=0)(
        lambda k: fb.init(config, env, k, prepared), keys
    )

    def train_and_evaluate(state):
        state, _ = jax.lax.scan(
            lambda s, _: fb.train_step(config, env, s, prepared), state, None, STEPS
        )
        task_z = jnp.stack(
            [
                fb.infer_task_from_data(
                    config, env, state, prepared, rewards[:, t], jax.random.key(t)
                )
                for t in range(rewards.shape[1])
            ]
        )
        policy = lambda obs, z, k: fb.policy(config, env, state, obs, z)  # noqa: E731
        out = zero_shot.evaluate_zero_shot(eval_env, policy, task_z, jax.random.key(7), EPISODES)
        return out["return"]

    returns = jax.jit(jax.vmap(train_and_evaluate))(states)

    def uniform(obs, z, k):
        return jax.random.uniform(k, obs.shape, minval=-1.0, maxval=1.0)

    random = zero_shot.evaluate_zero_shot(
        eval_env, uniform, jnp.zeros((4, 1)), jax.random.key(7), EPISODES * SEEDS
    )["return"]
    return {"fb": np.asarray(returns), "random": np.asarray(random)}


BROKEN = fb.replace(FB_CPU, learning_rate=0.0)
"""The broken variant: F and B never train (learning rate 0), the actor trains on them."""


def passes(returns: np.ndarray, random: np.ndarray) -> bool:
    """The criterion: on every task the mean over seeds is more than twice the random policy's
    return and more than 10 above it (returns over 200 steps, 1 per step at the target)."""
    mean = returns.mean(axis=0)
    return bool(np.all((mean > random + 10.0) & (mean > 2.0 * random)))


def test_fb_beats_a_random_policy_on_every_task_zero_shot():
    """Calibration (``python tests/calibrate.py fb --keys 0 1``, 2-core CPU; mean over 8 seeds
    per task [top_left, top_right, bottom_left, bottom_right], from random starts anywhere):

    - random policy: [11.2, 14.2, 9.7, 13.0]
    - FB, data key 0: [95.6, 49.8, 83.2, 79.9]; lowest seed per task [78.4, 8.4, 61.5, 66.3]
    - FB, data key 1: [88.3, 54.3, 77.1, 77.4]; lowest seed per task [72.9, 36.3, 55.7, 61.1]
    - broken (F and B never train, the actor trains on them), key 0: [28.3, 13.6, 67.1, 19.5];
      key 1: [27.5, 10.4, 28.2, 27.6]; it passes some tasks by luck of a seed or two, never
      top_right (threshold 28.4)

    The threshold (mean > 2 x random and > random + 10 on every task) sits 21 or more below
    FB's means (top_right, about three standard errors of its 8-seed mean) and 15 above the
    broken variant's top_right. Earlier settings are in ``presets.FB_CPU``'s docstring (batch
    128 left seeds near 0; FB's returns drift down after ~1500 steps at lr 1e-3)."""
    out = zero_shot_returns(0)
    assert passes(out["fb"], out["random"]), (out["fb"].mean(0), out["random"])
    broken = zero_shot_returns(0, BROKEN)
    assert not passes(broken["fb"], broken["random"]), broken["fb"].mean(0)
