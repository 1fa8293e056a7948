"""Goal-conditioned offline agents' shared data and observation conventions (DQC, GCFBC).

The dataset holds *states* only; goals are dataset states picked by
:func:`jaxrl.data.sample_goal_chunks`. The env the agent acts in shows ``[state, goal]``
(e.g. ``envs.make("pointmaze-medium-goal")``), so the agent keeps the state size and splits
every observation in two. Actions are mapped to ``[-1, 1]`` with the env's bounds and clipped to
``+-(1 - 1e-5)`` as OGBench's loaders (and the official DQC ``CGCDataset``) do.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.config import require_box, require_vector_obs
from jaxrl.data import Dataset, transforms
from jaxrl.data.transforms import NormalizedDataset, normalize
from jaxrl.types import Env

ACTION_CLIP = 1.0 - 1e-5
"""Dataset actions are clipped to ``+-ACTION_CLIP`` (official ``CGCDataset``)."""


def check_goal_probabilities(config: Any) -> None:
    """A ``ValueError`` unless ``config.p_current + config.p_future + config.p_random`` is 1
    (the goal mix of :func:`jaxrl.data.sample_goal_chunks`)."""
    total = config.p_current + config.p_future + config.p_random
    if not np.isclose(total, 1.0):
        raise ValueError(
            f"Config.p_current + Config.p_future + Config.p_random must sum to 1, got {total}"
        )


def check_goal_env(agent: str, env: Env) -> None:
    """A ``ValueError`` naming ``agent`` and the env unless the env has continuous (``Box``)
    actions and vector observations ``[state, goal]`` of even size. Reads ``env.spec`` only."""
    require_box(agent, env)
    require_vector_obs(agent, env)
    size = int(env.spec.obs_shape[0])
    if size % 2:
        raise ValueError(
            f"{agent} needs observations [state, goal] (e.g. goal_in_obs=True); env "
            f"{env.spec.name!r} has observations of odd size {size}"
        )


def check_goal_sizes(agent: str, env: Env, state_dim: int) -> None:
    """A ``ValueError`` unless the env's observations are ``[state, goal]`` for states of
    ``state_dim`` (the dataset's row size)."""
    size = int(env.spec.obs_shape[0])
    if size != 2 * state_dim:
        raise ValueError(
            f"{agent} needs env observations [state, goal] of size 2 x {state_dim} (the "
            f"dataset's state size); env {env.spec.name!r} has observations of size {size} "
            "(use goal_in_obs=True)"
        )


def check_horizon(agent: str, field: str, horizon: int, dataset: Dataset) -> None:
    """A ``ValueError`` naming ``Config.<field>`` unless some episode of ``dataset`` has more
    than ``horizon`` rows (a chunk of ``horizon`` actions and the state after it must fit in
    one episode: :func:`jaxrl.data.sample_goal_chunks`)."""
    longest = int(dataset.max_episode_length)
    if int(horizon) > longest - 1:
        raise ValueError(
            f"Config.{field} must be < the longest episode's length ({longest} rows) so that a "
            f"chunk and the state after it fit in one episode; got {field}={horizon}"
        )


def prepare_states(
    agent: str, env: Env, dataset: Dataset, normalize_obs: bool, eps: float
) -> NormalizedDataset:
    """Check ``dataset`` (states only) against ``env`` (observations ``[state, goal]``), map its
    actions to ``[-1, 1]``, clip them to ``+-ACTION_CLIP``, and normalise states with their own
    statistics when ``normalize_obs`` (else mean 0, std 1). Prepared data passes through."""
    check_goal_env(agent, env)
    if isinstance(dataset, NormalizedDataset):
        return dataset
    if not isinstance(dataset, Dataset) or len(dataset.obs_shape) != 1:
        raise TypeError(f"{agent}: data must be a jaxrl.data.Dataset of vector states")
    check_goal_sizes(agent, env, dataset.obs_shape[0])
    state_spec = dataclasses.replace(env.spec, obs_shape=dataset.obs_shape)
    prepared = transforms.prepare(dataset, state_spec, normalize_obs, eps)
    return prepared.replace(actions=jnp.clip(prepared.actions, -ACTION_CLIP, ACTION_CLIP))


def split_observation(
    obs: jax.Array, state_dim: int, mean: jax.Array, std: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """``[state, goal]`` observations to the normalised ``(state, goal)`` pair (the goal with
    the states' statistics)."""
    state, goal = obs[..., :state_dim], obs[..., state_dim:]
    return normalize(state, mean, std), normalize(goal, mean, std)
