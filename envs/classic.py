"""Tiny pure-JAX control tasks for fast tests and examples (compile in seconds on a CPU).

- ``pendulum``: the classic torque-limited swing-up (Gym ``Pendulum-v1`` dynamics), 200 steps,
  truncation only. A random policy scores about -1200; a good one about -150.
- ``cartpole``: the classic discrete balancing task (Barto et al. 1983, Gym ``CartPole-v1``), +1 per
  step, terminated when the pole falls or the cart leaves the track, truncated at 500 steps.
- ``bandit``: a one-step continuous bandit with reward ``-||a - a*||^2``; the optimum ``a*`` is
  known (``optimal_action``), so the best return is exactly 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.wrappers import RescaleAction, TimeLimit
from jaxrl.types import Box, Discrete, Env, EnvSpec, PRNGKey, TimeStep


def _timestep(obs: jax.Array, reward: jax.Array, terminated: jax.Array) -> TimeStep:
    return TimeStep(
        obs=obs.astype(jnp.float32),
        reward=jnp.asarray(reward, jnp.float32),
        terminated=jnp.asarray(terminated, bool),
        truncated=jnp.zeros((), bool),
    )


class PendulumState(struct.PyTreeNode):
    theta: jax.Array
    theta_dot: jax.Array


@dataclasses.dataclass(frozen=True)
class Pendulum:
    """Swing a pendulum up and hold it; observation (cos th, sin th, th_dot), torque in [-2, 2]."""

    max_speed: float = 8.0
    max_torque: float = 2.0
    dt: float = 0.05
    g: float = 10.0
    m: float = 1.0
    length: float = 1.0

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            name="pendulum",
            obs_shape=(3,),
            action_space=Box.uniform((1,), -self.max_torque, self.max_torque),
            max_episode_steps=200,
        )

    def _obs(self, s: PendulumState) -> jax.Array:
        return jnp.stack([jnp.cos(s.theta), jnp.sin(s.theta), s.theta_dot])

    def reset(self, key: PRNGKey) -> tuple[PendulumState, TimeStep]:
        k1, k2 = jax.random.split(key)
        state = PendulumState(
            theta=jax.random.uniform(k1, (), minval=-jnp.pi, maxval=jnp.pi),
            theta_dot=jax.random.uniform(k2, (), minval=-1.0, maxval=1.0),
        )
        return state, _timestep(self._obs(state), 0.0, False)

    def step(self, state: PendulumState, action: jax.Array) -> tuple[PendulumState, TimeStep]:
        u = jnp.clip(jnp.reshape(action, ()), -self.max_torque, self.max_torque)
        angle = ((state.theta + jnp.pi) % (2 * jnp.pi)) - jnp.pi
        cost = angle**2 + 0.1 * state.theta_dot**2 + 0.001 * u**2
        theta_dot = (
            state.theta_dot
            + (
                3 * self.g / (2 * self.length) * jnp.sin(state.theta)
                + 3.0 / (self.m * self.length**2) * u
            )
            * self.dt
        )
        theta_dot = jnp.clip(theta_dot, -self.max_speed, self.max_speed)
        new = PendulumState(theta=state.theta + theta_dot * self.dt, theta_dot=theta_dot)
        return new, _timestep(self._obs(new), -cost, False)


class CartPoleState(struct.PyTreeNode):
    x: jax.Array


@dataclasses.dataclass(frozen=True)
class CartPole:
    """Balance a pole on a cart with two discrete pushes; +1 reward per step."""

    gravity: float = 9.8
    cart_mass: float = 1.0
    pole_mass: float = 0.1
    half_length: float = 0.5
    force_mag: float = 10.0
    tau: float = 0.02
    theta_limit: float = 12 * 2 * jnp.pi / 360
    x_limit: float = 2.4

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            name="cartpole", obs_shape=(4,), action_space=Discrete(2), max_episode_steps=500
        )

    def reset(self, key: PRNGKey) -> tuple[CartPoleState, TimeStep]:
        state = CartPoleState(x=jax.random.uniform(key, (4,), minval=-0.05, maxval=0.05))
        return state, _timestep(state.x, 0.0, False)

    def step(self, state: CartPoleState, action: jax.Array) -> tuple[CartPoleState, TimeStep]:
        x, x_dot, theta, theta_dot = state.x
        force = jnp.where(jnp.reshape(action, ()) == 1, self.force_mag, -self.force_mag)
        total_mass = self.cart_mass + self.pole_mass
        pml = self.pole_mass * self.half_length
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        temp = (force + pml * theta_dot**2 * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.half_length * (4.0 / 3.0 - self.pole_mass * cos**2 / total_mass)
        )
        x_acc = temp - pml * theta_acc * cos / total_mass
        new = jnp.stack(
            [
                x + self.tau * x_dot,
                x_dot + self.tau * x_acc,
                theta + self.tau * theta_dot,
                theta_dot + self.tau * theta_acc,
            ]
        )
        fallen = (jnp.abs(new[0]) > self.x_limit) | (jnp.abs(new[2]) > self.theta_limit)
        return CartPoleState(x=new), _timestep(new, 1.0, fallen)


@dataclasses.dataclass(frozen=True)
class ContinuousBandit:
    """One-step bandit: reward ``-||a - optimal_action||^2``, constant observation."""

    optimal_action: tuple[float, ...] = (0.5, -0.3)

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            name="bandit",
            obs_shape=(1,),
            action_space=Box.uniform((len(self.optimal_action),)),
            max_episode_steps=1,
        )

    def reset(self, key: PRNGKey) -> tuple[jax.Array, TimeStep]:
        del key
        return jnp.zeros(()), _timestep(jnp.ones((1,)), 0.0, False)

    def step(self, state: jax.Array, action: jax.Array) -> tuple[jax.Array, TimeStep]:
        target = jnp.asarray(self.optimal_action, jnp.float32)
        reward = -jnp.sum((jnp.reshape(action, target.shape) - target) ** 2)
        return state, _timestep(jnp.ones((1,)), reward, True)


def make_pendulum(max_episode_steps: int = 200, **kwargs: float) -> Env:
    """Pendulum swing-up with actions rescaled to [-1, 1] and a time limit."""
    return TimeLimit(RescaleAction(Pendulum(**kwargs)), max_episode_steps)


def make_cartpole(max_episode_steps: int = 500, **kwargs: float) -> Env:
    """CartPole with a time limit (500 steps, as CartPole-v1)."""
    return TimeLimit(CartPole(**kwargs), max_episode_steps)


def make_bandit(optimal_action: tuple[float, ...] = (0.5, -0.3)) -> Env:
    """Continuous bandit with a known optimum (already in [-1, 1])."""
    return TimeLimit(ContinuousBandit(tuple(float(a) for a in optimal_action)), 1)


REGISTRY: dict[str, Callable[..., Env]] = {
    "pendulum": make_pendulum,
    "cartpole": make_cartpole,
    "bandit": make_bandit,
}
