"""PRDC: Policy Regularization with Dataset Constraint (Ran, Li, Zhang, Zhang, Yu, ICML 2023,
arXiv:2306.06569), offline.

TD3+BC (:mod:`jaxrl.agents.td3_bc`, whose critic, target smoothing, delayed actor, EMA and
normalisation are reused unchanged) with one change: the actor is pulled not toward the batch's
own dataset action but toward the action ``a_hat`` of the **nearest (state, action) pair in the
whole dataset** to the key ``[beta * s, pi(s)]`` (states normalised with the dataset statistics):

    L_pi = -lambda mean Q1(s, pi(s)) + mean((pi(s) - a_hat)^2),  lambda = alpha / mean|Q1|

(the dataset constraint of the paper's Sec. 4; the constraint term has coefficient 1, only the Q
term is weighted). Large ``beta`` makes the nearest pair the sample's own state (TD3+BC); small
``beta`` makes it the dataset action nearest to ``pi(s)`` whatever the state (a support
constraint), so the policy can take good actions seen in *neighbouring* states.

The nearest-neighbour search is :mod:`jaxrl.neighbors` (exact; scipy's KD-tree through a host
callback on CPU, a brute-force matmul scan on accelerators), built once per dataset by
:func:`prepare_data` and passed to every ``train_step`` as data, never as a baked-in constant.

Choices, where the spec leaves room:
* ``beta`` is static: the index is built for one ``beta`` (``jaxrl.train`` builds it from the
  config through :func:`prepare_data`); sweeping ``beta`` means one run per value.
* default ``beta = 2.0`` (the official README's locomotion value and the default of its
  ``PRDC`` class; the spec notes a ``main.py`` default of 1.0, which its README overrides);
  use 7.5 for antmaze-like navigation data.
* ``k``: the k-th nearest neighbour is the target (scipy's ``k=[k]`` semantics), default 1.
* actions in keys are the ``[-1, 1]``-scaled actions (equal to the raw ones for D4RL bounds).

PRDC needs continuous (``Box``) actions and vector observations, as TD3+BC: :func:`check_env`
refuses other envs by name, and :func:`prepare_data` and :func:`init` call it before anything
is traced (a run script can call it earlier, through :func:`jaxrl.config.check_env`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl import neighbors
from jaxrl.agents import td3_bc
from jaxrl.agents.td3_bc import (
    State,
    act,
    behaviour_cloning_loss,
    q_weight,
    steps_per_iteration,
)
from jaxrl.config import (
    COUNT,
    NONNEGATIVE,
    RangeSpec,
    check_ranges,
    require_box,
    require_vector_obs,
)
from jaxrl.data import Dataset
from jaxrl.data.transforms import NormalizedDataset
from jaxrl.types import Env, Metrics, PRNGKey

__all__ = [
    "NAME",
    "Config",
    "PRDCData",
    "State",
    "init",
    "check_env",
    "act",
    "train_step",
    "steps_per_iteration",
    "prepare_data",
    "dataset_keys",
    "query_keys",
    "dataset_constraint_target",
    "dataset_constraint_loss",
    "prdc_actor_loss",
]

NAME = "prdc"

BETA = {"locomotion": 2.0, "antmaze": 7.5}
"""The official per-family ``beta`` (README commands)."""

ALPHA = {"hopper": 2.5, "walker2d": 2.5, "halfcheetah": 40.0, "antmaze": 7.5}
"""The official per-task ``alpha`` (README commands); 2.5 elsewhere."""

Backend = Literal["auto", "brute", "kdtree"]
"""Neighbour-search backends (:data:`jaxrl.neighbors.BACKENDS`; a test keeps them equal)."""


@struct.dataclass
class Config(td3_bc.Config):
    """PRDC hyperparameters: TD3+BC's (official defaults) plus the dataset constraint's."""

    beta: float = struct.field(pytree_node=False, default=2.0)
    """Weight of the normalised state in the search key [beta * s, a], >= 0: 2.0 for
    locomotion, 7.5 for antmaze (static: the neighbour index is built for one value)."""
    k: int = struct.field(pytree_node=False, default=1)
    """The k-th nearest dataset pair is the constraint target; 1 <= k <= dataset rows
    (static)."""
    backend: Backend = struct.field(pytree_node=False, default="auto")
    """Neighbour search: 'auto' (KD-tree on CPU, brute force on GPU/TPU), 'brute', 'kdtree'
    (static)."""

    def validate(self) -> None:
        """TD3+BC's checks (which also check the ``backend`` choice) and every numeric field
        against :data:`RANGES`; a ValueError names the field, its value and what is allowed."""
        super().validate()
        check_ranges(self, RANGES)


RANGES: tuple[RangeSpec, ...] = (*td3_bc.RANGES, ("beta", NONNEGATIVE), ("k", COUNT))
"""Allowed values of every numeric field (TD3+BC's and PRDC's), checked by
``Config.validate``."""


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless PRDC can train on it: continuous (``Box``)
    actions and vector observations. Cheap: reads ``env.spec`` only."""
    del config
    require_box("PRDC", env)
    require_vector_obs("PRDC", env)


def init(config: Config, env: Env, key: PRNGKey, data: PRDCData) -> State:
    """TD3+BC's :func:`jaxrl.agents.td3_bc.init` (networks, targets, optimisers, the dataset's
    observation statistics) after ``config.validate()`` and :func:`check_env`."""
    config.validate()
    check_env(config, env)
    return td3_bc.init(config, env, key, data)


class PRDCData(NormalizedDataset):
    """The dataset as :func:`jaxrl.agents.td3_bc.prepare_data` prepares it (actions in ``[-1, 1]``,
    observations normalised) plus the neighbour index over ``[beta * s, a]``."""

    index: neighbors.NeighborIndex = None  # type: ignore[assignment]
    beta: float = struct.field(pytree_node=False, default=2.0)


def query_keys(obs: jax.Array, action: jax.Array, beta: float) -> jax.Array:
    """The search key ``[beta * s, a]`` (``s`` normalised, ``a`` in ``[-1, 1]``)."""
    return jnp.concatenate([beta * obs, action], axis=-1)


def dataset_keys(data: Dataset, beta: float) -> jax.Array:
    """``[beta * s_i, a_i]`` for every dataset row (the points of the search structure)."""
    return jax.jit(query_keys, static_argnums=2)(data.observations, data.actions, beta)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> PRDCData:
    """Normalise the dataset (as TD3+BC) and build the exact neighbour index over
    ``[beta * s, a]`` once (after :func:`check_env`). ``jaxrl.train(..., data=dataset)`` calls
    this."""
    check_env(config, env)
    if isinstance(dataset, PRDCData):
        if dataset.beta != config.beta:
            raise ValueError(f"data was prepared for beta={dataset.beta}, config has {config.beta}")
        return dataset
    base = td3_bc.prepare_data(config, env, dataset)
    if config.k > base.size:
        raise ValueError(f"Config.k must be <= the dataset's {base.size} rows, got {config.k}")
    index = neighbors.build_index(dataset_keys(base, config.beta), config.backend)
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(NormalizedDataset)}
    return PRDCData(**fields, index=index, beta=float(config.beta))


# --- losses ------------------------------------------------------------------------------------


def dataset_constraint_target(
    index: neighbors.NeighborIndex,
    actions: jax.Array,
    obs: jax.Array,
    pi: jax.Array,
    beta: float,
    k: int = 1,
) -> tuple[jax.Array, jax.Array]:
    """``a_hat``: the action of the k-th nearest dataset pair to ``[beta * s, pi(s)]`` (no
    gradient), and that pair's key distance."""
    dist, idx = neighbors.query(index, query_keys(obs, jax.lax.stop_gradient(pi), beta), k=k)
    return actions[idx[..., k - 1]], dist[..., k - 1]


def dataset_constraint_loss(pi: jax.Array, target: jax.Array) -> jax.Array:
    """The dataset constraint (PRDC Sec. 4): ``mean ||pi(s) - a_hat||^2 / act_dim`` (MSE over
    batch and action dims), ``a_hat`` constant."""
    return behaviour_cloning_loss(pi, target)


def prdc_actor_loss(
    q_pi: jax.Array, pi: jax.Array, target: jax.Array, alpha: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """``-lambda mean Q1(s, pi(s)) + dataset_constraint_loss(pi, a_hat)``, ``lambda = alpha /
    mean|Q1|`` (stop-gradient); the constraint is unweighted."""
    lam = q_weight(q_pi, alpha)
    dc = dataset_constraint_loss(pi, target)
    return -lam * jnp.mean(q_pi) + dc, {"lambda": lam, "bc_loss": dc}


# --- training ----------------------------------------------------------------------------------


def _constraint(config: Config):
    def bc_target(data: PRDCData, batch: dict[str, jax.Array], pi: jax.Array):
        target, dist = dataset_constraint_target(
            data.index, data.actions, batch["obs"], pi, config.beta, config.k
        )
        same = jnp.mean(jnp.all(target == batch["action"], axis=-1).astype(jnp.float32))
        return target, {"dc_key_distance": jnp.mean(dist), "dc_target_is_own_action": same}

    return bc_target


def train_step(config: Config, env: Env, state: State, data: PRDCData) -> tuple[State, Metrics]:
    """One PRDC iteration: TD3+BC's ``policy_delay`` gradient steps, the actor trained with
    :func:`prdc_actor_loss` toward the dataset-constraint target ``a_hat``."""
    if not isinstance(data, PRDCData):
        raise TypeError("prdc.train_step needs PRDCData (from prdc.prepare_data)")
    if data.beta != config.beta:
        raise ValueError(f"data was prepared for beta={data.beta}, config has {config.beta}")
    return td3_bc.td3_train_step(config, env, state, data, _constraint(config), prdc_actor_loss)


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
