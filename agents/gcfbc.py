"""Goal-conditioned flow behaviour cloning (GCFBC), the no-value baseline of DQC's paper family
(Park et al., "Horizon Reduction Makes RL Scalable", 2025, arXiv:2506.04168; official code
seohongpark/horizon-reduction ``agents/gcfbc.py``).

A flow-matching policy ``pi(a_{t:t+h_a} | s, g)`` over (chunks of) dataset actions, conditioned
on the state and on a goal drawn from the *same trajectory's future* (hindsight relabelling):
:func:`actor_flow_loss` is the conditional flow-matching loss

    L = E_{(s, a, g) ~ D, t ~ U[0, 1], eps ~ N(0, I)} || v(s, g, x_t, t) - (eps - a) ||^2,
    x_t = (1 - t) a + t eps,

in :mod:`jaxrl.generative`'s convention (t = 1 noise, t = 0 data; the official code's
``t' = 1 - t`` gives the same Euler samples, see that module). Acting (:func:`act`) integrates
the flow from one fresh Gaussian sample (``flow_steps`` Euler steps) and clips it to ``[-1, 1]``,
as the official ``sample_actions``. There is no critic, so whatever DQC adds over GCFBC on the
same data is the value learning.

Goals (official ``get_config``): ``p_future = 1`` with geometric offsets
(``actor_geom_sample=True``, ``Geometric(1 - discount)``, capped at the episode's last row), from
:func:`jaxrl.data.sample_goal_chunks`. The data, env and observation conventions are DQC's
(:mod:`jaxrl.goals`: states-only datasets, env observations ``[state, goal]``).

Choices beyond the official single-action agent: ``action_horizon`` > 1 clones open-loop
``h_a``-chunks (flattened time-major, the DQC actor's target), executed open loop by evaluation
(:func:`action_chunk`); the default 1 is the official agent. Chunk starts follow the DQC sampler
(rows with ``idx + h_a <= end``), so with ``h_a = 1`` an episode's last row is never a start
(the official ``GCDataset`` may start there; one row in an episode's length).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl import generative, goals
from jaxrl.config import (
    COUNT,
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    Range,
    RangeSpec,
    check_choices,
    check_ranges,
    check_sizes,
    require_box,
)
from jaxrl.data import Dataset, sample_goal_chunks
from jaxrl.data.transforms import NormalizedDataset, from_unit_interval
from jaxrl.types import Env, Metrics, PRNGKey

NAME = "gcfbc"

LOSS_METRICS = ("actor_loss",)
"""The loss metrics ``train_step`` reports."""

FutureSampling = Literal["geometric", "uniform"]
"""How a future goal row of the same trajectory is drawn (:func:`jaxrl.data.sample_goal_chunks`)."""


@struct.dataclass
class Config:
    """GCFBC hyperparameters: the official defaults (4 x 1024 GELU + LayerNorm, batch 1024,
    lr 3e-4, 10 flow steps, future goals with geometric offsets at discount 0.999)."""

    learning_rate: float = 3e-4
    """Adam step size, >= 0."""
    discount: float = struct.field(pytree_node=False, default=0.999)
    """gamma of the geometric goal offsets ``Geometric(1 - gamma)``, in [0, 1) (static: it
    shapes the sampler)."""
    p_current: float = struct.field(pytree_node=False, default=0.0)
    """Probability that the goal is the start state itself, in [0, 1] (static)."""
    p_future: float = struct.field(pytree_node=False, default=1.0)
    """Probability of a future state of the same trajectory, in [0, 1] (static)."""
    p_random: float = struct.field(pytree_node=False, default=0.0)
    """Probability of a random dataset state, in [0, 1]; the three sum to 1 (static)."""
    future: FutureSampling = struct.field(pytree_node=False, default="geometric")
    """Future-goal offsets: ``"geometric"`` (official ``actor_geom_sample``) or ``"uniform"``
    (static)."""
    obs_std_eps: float = struct.field(pytree_node=False, default=1e-3)
    """Added to the dataset's state std when ``normalize_obs``, > 0 (static)."""
    action_horizon: int = struct.field(pytree_node=False, default=1)
    """Actions per cloned chunk, executed open loop per act call (1: the official agent), >= 1
    (static)."""
    flow_steps: int = struct.field(pytree_node=False, default=10)
    """Euler steps of the flow sampler, >= 1 (static)."""
    batch_size: int = struct.field(pytree_node=False, default=1024)
    """Samples per gradient step, >= 1 (static)."""
    actor_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(1024,) * 4)
    """Hidden widths of the velocity network (GELU, LayerNorm after it); non-empty (static)."""
    actor_layer_norm: bool = struct.field(pytree_node=False, default=True)
    """LayerNorm after each activation (static)."""
    normalize_obs: bool = struct.field(pytree_node=False, default=False)
    """Normalise states and goals with the dataset's state mean and std (static)."""

    def validate(self) -> None:
        """Raise a ValueError naming the field: numeric fields against :data:`RANGES`, the
        widths, the ``Literal`` choices and goal probabilities summing to 1."""
        check_ranges(self, RANGES)
        check_sizes(self, ("actor_hidden_sizes",))
        check_choices(self)
        goals.check_goal_probabilities(self)


RANGES: tuple[RangeSpec, ...] = (
    ("learning_rate", NONNEGATIVE),
    ("discount", Range(0.0, 1.0, high_open=True)),
    ("p_current", UNIT),
    ("p_future", UNIT),
    ("p_random", UNIT),
    ("obs_std_eps", POSITIVE),
    ("action_horizon", COUNT),
    ("flow_steps", COUNT),
    ("batch_size", COUNT),
)
"""Allowed values of every numeric field (checked by ``Config.validate``)."""


def action_chunk(config: Config) -> int:
    """``h_a``: :func:`act` returns ``[B, h_a, *action_shape]``, executed open loop."""
    return int(config.action_horizon)


def steps_per_iteration(config: Config) -> int:
    """One gradient step per ``train_step``."""
    del config
    return 1


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless it has ``Box`` actions and vector observations
    ``[state, goal]`` (:func:`jaxrl.goals.check_goal_env`). Reads ``env.spec`` only."""
    del config
    goals.check_goal_env("GCFBC", env)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> NormalizedDataset:
    """States-only ``dataset`` checked against ``env`` and prepared as DQC's
    (:func:`jaxrl.goals.prepare_states`)."""
    return goals.prepare_states("GCFBC", env, dataset, config.normalize_obs, config.obs_std_eps)


def check_data(config: Config, dataset: Dataset) -> None:
    """Refuse, naming ``Config.action_horizon``, a dataset whose episodes are all too short for one
    chunk and the state after it (:func:`jaxrl.goals.check_horizon`); the driver and the run layer
    call it before any work. (Not part of :func:`prepare_data`: ``load_policy`` prepares a
    two-row placeholder dataset.)"""
    goals.check_horizon("GCFBC", "action_horizon", config.action_horizon, dataset)


def make_actor(config: Config, env: Env) -> generative.ConditionalVelocityNet:
    """``v(concat[s, g], x, t)`` over flattened ``h_a``-chunks: Dense -> GELU -> LayerNorm per
    hidden layer, Xavier-uniform kernels, raw scalar time (the official ``ActorVectorField``)."""
    action_dim = int(np.prod(require_box("GCFBC", env).shape))
    return generative.ConditionalVelocityNet(
        output_dim=config.action_horizon * action_dim,
        hidden_sizes=tuple(config.actor_hidden_sizes),
        activation="gelu",
        raw_time=True,
        layer_norm=config.actor_layer_norm,
        kernel_init=nn.initializers.xavier_uniform(),
    )


class State(struct.PyTreeNode):
    """Everything a run needs to continue exactly (what checkpoints store)."""

    params: dict[str, Any]
    """``{"actor": velocity-network variables}``."""
    opt_state: Any
    obs_mean: jax.Array
    """State mean (0 without ``normalize_obs``), applied to state and goal in :func:`act`."""
    obs_std: jax.Array
    """State std + eps (1 without ``normalize_obs``)."""
    key: jax.Array
    step: jax.Array
    """Gradient steps done."""
    state_dim: int = struct.field(pytree_node=False, default=0)
    """Size of the dataset's states: env observations are ``[obs[:state_dim], obs[state_dim:]]``."""


def init(config: Config, env: Env, key: PRNGKey, data: NormalizedDataset) -> State:
    """Validate, check env against data, initialise the velocity network and Adam."""
    config.validate()
    check_env(config, env)
    state_dim = int(data.obs_shape[0])
    goals.check_goal_sizes("GCFBC", env, state_dim)
    k_pi, key = jax.random.split(key)
    params = {"actor": generative.init_net(make_actor(config, env), k_pi, 2 * state_dim)}
    return State(
        params=params,
        opt_state=optax.adam(config.learning_rate).init(params),
        obs_mean=jnp.asarray(data.obs_mean, jnp.float32),
        obs_std=jnp.asarray(data.obs_std, jnp.float32),
        key=key,
        step=jnp.zeros((), jnp.int32),
        state_dim=state_dim,
    )


def actor_flow_loss(
    actor: generative.ConditionalVelocityNet,
    params: Any,
    obs: jax.Array,
    goal: jax.Array,
    chunk: jax.Array,
    key: PRNGKey,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The conditional flow-matching loss (module docstring) of the flattened chunk
    ``[B, h_a * A]`` given ``concat[s, g]``, one noise and time per row (official
    ``actor_loss``): :func:`jaxrl.generative.flow_matching_loss`."""
    cond = jnp.concatenate([obs, goal], axis=-1)
    return generative.flow_matching_loss(actor.apply, params, cond, chunk, key, num_samples=1)


def train_step(
    config: Config, env: Env, state: State, data: NormalizedDataset
) -> tuple[State, Metrics]:
    """One Adam step of :func:`actor_flow_loss` on a batch of (state, future goal, chunk)."""
    actor = make_actor(config, env)
    key, k_batch, k_flow = jax.random.split(state.key, 3)
    batch = sample_goal_chunks(
        data,
        k_batch,
        config.batch_size,
        config.action_horizon,
        config.discount,
        p_current=config.p_current,
        p_future=config.p_future,
        p_random=config.p_random,
        future=config.future,
    )

    def loss_fn(p):
        return actor_flow_loss(
            actor, p["actor"], batch["obs"], batch["goal"], batch["actions_flat"], k_flow
        )

    (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = optax.adam(config.learning_rate).update(
        grads, state.opt_state, state.params
    )
    params = optax.apply_updates(state.params, updates)
    state = state.replace(params=params, opt_state=opt_state, key=key, step=state.step + 1)
    return state, {"loss": loss, "actor_loss": loss, "grad_norm": optax.tree.norm(grads)}


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = True,
) -> jax.Array:
    """One flow sample per env observation ``[state, goal]``, clipped to ``[-1, 1]`` and mapped
    to the env's bounds: ``[B, h_a, *action_shape]``. ``deterministic`` does not change it (a
    flow has no mode; the official agent samples from fresh noise either way)."""
    del deterministic
    actor = make_actor(config, env)
    box = require_box("GCFBC", env)
    s, g = goals.split_observation(obs, state.state_dim, state.obs_mean, state.obs_std)
    cond = jnp.concatenate([s, g], axis=-1)
    shape = (obs.shape[0], actor.output_dim)
    unit = generative.flow_sample_noise(
        actor.apply, state.params["actor"], cond, key, shape, config.flow_steps
    )
    unit = jnp.clip(unit, -1.0, 1.0).reshape(obs.shape[0], config.action_horizon, -1)
    action = from_unit_interval(unit, box.low_array.reshape(-1), box.high_array.reshape(-1))
    return action.reshape(obs.shape[0], config.action_horizon, *box.shape)


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
