"""Small offline problems shared by the BC, TD3+BC and PRDC tests (and the PRDC experiment)."""

from __future__ import annotations

import dataclasses
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import data, envs, rollout
from jaxrl.types import Box, EnvSpec, PRNGKey, TimeStep

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "experiments"))
import make_dataset  # noqa: E402

GOOD, BAD = 0.6, -0.8
"""Actions of the neighbour bandit: reward ``1 - (a - GOOD)^2`` in every state."""


@dataclasses.dataclass(frozen=True)
class NeighbourBandit:
    """One-step task: state ``(x, flag)`` with ``x ~ U(-1, 1)``, ``flag = +-1``; reward
    ``1 - (a - GOOD)^2`` whatever the state."""

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec("neighbour-bandit", (2,), Box.uniform((1,)), 1)

    def _ts(self, obs, reward, done) -> TimeStep:
        return TimeStep(
            obs=obs,
            reward=jnp.asarray(reward, jnp.float32),
            terminated=jnp.asarray(done),
            truncated=jnp.zeros((), bool),
        )

    def reset(self, key: PRNGKey):
        k1, k2 = jax.random.split(key)
        x = jax.random.uniform(k1, (), minval=-1.0, maxval=1.0)
        flag = jnp.where(jax.random.bernoulli(k2), 1.0, -1.0)
        s = jnp.stack([x, flag])
        return s, self._ts(s, 0.0, False)

    def step(self, state, action):
        reward = 1.0 - (jnp.reshape(action, ()) - GOOD) ** 2
        return state, self._ts(state, reward, True)


def neighbour_dataset(n: int = 128) -> data.Dataset:
    """``n`` grid points ``x``, each twice: with ``flag = +1`` and the good action, with
    ``flag = -1`` and only the bad one. At a ``flag = -1`` state the good action exists only in
    the *neighbouring* state ``(x, +1)`` (normalised distance 2; a policy can tell the two
    apart, so behaviour cloning keeps the bad action there). Rows alternate +1, -1."""
    x = np.repeat(np.linspace(-1.0, 1.0, n, dtype=np.float32), 2)
    flag = np.tile(np.array([1.0, -1.0], np.float32), n)
    s = np.stack([x, flag], axis=1)
    a = np.where(flag > 0, GOOD, BAD).astype(np.float32)[:, None]
    r = 1.0 - (a[:, 0] - GOOD) ** 2
    return data.Dataset.create(s, a, r, np.ones(2 * n, bool), np.zeros(2 * n, bool), s)


def pendulum_controller(obs: jax.Array, key: PRNGKey, noise: float) -> jax.Array:
    """Energy-shaping swing-up plus a PD hold near the top, with Gaussian action noise (actions
    in [-1, 1] as ``envs.make("pendulum")`` takes them). Noise 0 returns about -175, noise 1
    about -560, noise 3 about -940 (a uniformly random policy: about -1200)."""
    c, s, w = obs[..., 0], obs[..., 1], obs[..., 2]
    energy = 0.5 * w**2 + 15.0 * c  # 15 = upright at rest
    swing = jnp.clip(0.2 * (15.0 - energy) * jnp.sign(w + 1e-6), -2.0, 2.0)
    hold = jnp.clip(-(10.0 * jnp.arctan2(s, c) + 2.0 * w), -2.0, 2.0)
    u = jnp.where(c > 0.85, hold, swing) / 2.0
    return jnp.clip(u + noise * jax.random.normal(key, u.shape), -1.0, 1.0)[..., None]


def cartpole_controller(obs: jax.Array, key: PRNGKey | None = None) -> jax.Array:
    """A deterministic linear rule for ``envs.make("cartpole")``: push right (1) when
    ``theta + 0.5 theta_dot + 0.01 x + 0.1 x_dot > 0``, else left (0). It balances for the whole
    500 steps from every reset we tried; ``key`` is unused."""
    del key
    x, x_dot, theta, theta_dot = (obs[..., i] for i in range(4))
    return (theta + 0.5 * theta_dot + 0.01 * x + 0.1 * x_dot > 0).astype(jnp.int32)


def controller_dataset(env_name: str, num_envs: int, steps: int, seed: int = 0) -> data.Dataset:
    """``steps`` transitions of the noiseless controller of ``"pendulum"``
    (:func:`pendulum_controller` with noise 0) or ``"cartpole"`` (:func:`cartpole_controller`)
    over ``num_envs`` envs, collected with ``experiments/make_dataset.py``'s collector."""
    controllers = {
        "pendulum": lambda obs, k: pendulum_controller(obs, k, 0.0),
        "cartpole": cartpole_controller,
    }
    env = envs.make(env_name)
    return make_dataset._collect(env, controllers[env_name], jax.random.key(seed), num_envs, steps)


def pendulum_random_plus_good(
    random_steps: int = 3200, good_steps: int = 3200, good_noise: float = 0.3, seed: int = 0
) -> tuple[data.Dataset, float, float]:
    """A pendulum dataset on which behaviour cloning is poor but the good actions are there:
    ``random_steps`` transitions of the uniformly random policy (16 episodes of 200 steps by
    default) and ``good_steps`` of the swing-up controller with ``good_noise`` (about -300),
    collected with ``experiments/make_dataset.py``'s collector over 8 envs. Cloning averages the
    two (the random actions have mean 0 whatever the state), so it halves the controller's
    torque and fails to swing up; an agent whose Q-function tells the good actions from the
    random ones can follow the controller. Returns it with the uniformly random policy's and the
    noiseless controller's returns (for normalised scores)."""
    env = envs.make("pendulum")
    key = jax.random.key(seed)
    space = env.spec.action_space

    def random_act(obs, k):
        return jax.vmap(space.sample)(jax.random.split(k, obs.shape[0]))

    def good_act(obs, k):
        return pendulum_controller(obs, k, good_noise)

    parts = [
        make_dataset._collect(env, random_act, jax.random.fold_in(key, 0), 8, random_steps),
        make_dataset._collect(env, good_act, jax.random.fold_in(key, 1), 8, good_steps),
    ]
    evaluate = jax.jit(lambda k, f: rollout.evaluate(env, f, k, 32), static_argnums=1)
    random_return = float(evaluate(jax.random.fold_in(key, 100), random_act)["eval_return"])
    expert_return = float(
        evaluate(jax.random.fold_in(key, 101), lambda obs, k: pendulum_controller(obs, k, 0.0))[
            "eval_return"
        ]
    )
    return data.concatenate(parts), random_return, expert_return
