"""Dataset transforms an offline agent applies once, before training (in its ``prepare_data``).

Each transform is a pure function of a :class:`~jaxrl.data.Dataset` that returns a new one with
the same rows and episodes (only values change, so the episode index arrays stay valid) and works
under ``jit`` and ``vmap``. Whatever the agent needs to treat *new* inputs the same way comes back
with the data: :func:`normalize_observations` returns a :class:`NormalizedDataset`, whose
``obs_mean`` / ``obs_std`` the agent keeps in its state and applies in ``act`` with
:func:`normalize`; actions are mapped back with :func:`from_unit_interval` and the env's bounds.

* :func:`scale_actions`: continuous actions to ``[-1, 1]`` by the affine map of the env's bounds,
  the range of a ``tanh`` policy (TD3+BC, PRDC, BC).
* :func:`normalize_observations`: each observation dimension z-scored with the dataset's mean and
  standard deviation plus ``eps`` (TD3+BC, eq. 5), ``next_observations`` with the same statistics.
* :func:`shape_rewards`: ``scale * r + shift`` for every reward (the sparse-reward shaping of
  PRDC's antmaze runs, ``scale = 10000``, ``shift = -1``: LAMDA-RL/PRDC ``utils/buffer.py:43-45``
  applies it to every sampled batch, which is the same as applying it once here).
* :func:`prepare`: both, after checking the dataset against the env (what TD3+BC, PRDC and BC's
  ``prepare_data`` do), and the reward shaping when asked (TD3+BC, PRDC).
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.data.dataset import Dataset
from jaxrl.data.validation import check_matches_spec
from jaxrl.types import Box, EnvSpec

D = TypeVar("D", bound=Dataset)


def to_unit_interval(actions: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """``[low, high] -> [-1, 1]``: ``2 (a - low) / (high - low) - 1`` (elementwise)."""
    return 2.0 * (actions - low) / (high - low) - 1.0


def from_unit_interval(unit: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """``[-1, 1] -> [low, high]``, the inverse of :func:`to_unit_interval`."""
    return low + 0.5 * (unit + 1.0) * (high - low)


def scale_actions(dataset: Dataset, low: jax.Array, high: jax.Array) -> Dataset:
    """The dataset with float32 actions mapped from ``[low, high]`` (the env's ``Box`` bounds,
    broadcastable to the action shape) to ``[-1, 1]``, then clipped there (stored actions may
    sit a rounding error outside their bounds)."""
    unit = to_unit_interval(dataset.actions.astype(jnp.float32), low, high)
    return dataset.replace(actions=jnp.clip(unit, -1.0, 1.0))


def normalize(obs: jax.Array, mean: jax.Array, std: jax.Array) -> jax.Array:
    """``(obs - mean) / std`` (TD3+BC eq. 5), for the dataset and for observations in ``act``."""
    return (obs - mean) / std


class NormalizedDataset(Dataset):
    """A :class:`~jaxrl.data.Dataset` whose ``observations`` and ``next_observations`` are
    ``normalize(raw, obs_mean, obs_std)`` (built by :func:`normalize_observations`). Samplers take
    it like any dataset."""

    obs_mean: jax.Array | None = None
    """``[*obs_shape]`` float32, subtracted from every observation."""
    obs_std: jax.Array | None = None
    """``[*obs_shape]`` float32 (the standard deviation plus ``eps``), divided by."""
    reward_scale: float = struct.field(pytree_node=False, default=1.0)
    """The ``rewards`` are ``reward_scale * raw + reward_shift`` (:func:`shape_rewards`, by
    :func:`prepare`); 1 and 0: the raw rewards."""
    reward_shift: float = struct.field(pytree_node=False, default=0.0)
    """See ``reward_scale``."""


def shape_rewards(dataset: D, scale: float, shift: float) -> D:
    """The dataset (of the same type) with float32 rewards ``scale * r + shift``; every other
    field unchanged. ``scale`` and ``shift`` may be Python floats or arrays (under ``jit``)."""
    return dataset.replace(rewards=scale * dataset.rewards.astype(jnp.float32) + shift)


def observation_statistics(observations: jax.Array, eps: float) -> tuple[jax.Array, jax.Array]:
    """``(mean, std + eps)`` over the rows of ``observations``, as float32.

    Computed in float64 on the host (a ``pure_callback``, so it still works under ``jit`` and
    ``vmap``) and rounded once: the statistics are those of the reference implementations' numpy
    code, and do not depend on the accelerator's summation order. ``eps`` is a Python float.
    """
    shape = jax.ShapeDtypeStruct(observations.shape[1:], jnp.float32)

    def stats(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs = np.asarray(obs, np.float64)
        return obs.mean(axis=0).astype(np.float32), (obs.std(axis=0) + eps).astype(np.float32)

    return jax.pure_callback(stats, (shape, shape), observations, vmap_method="sequential")


def normalize_observations(
    dataset: Dataset,
    eps: float = 1e-3,
    statistics: tuple[jax.Array, jax.Array] | None = None,
) -> NormalizedDataset:
    """The dataset with float32 observations and next observations normalised (TD3+BC eq. 5).

    Args:
        dataset: any dataset with float or integer observations.
        eps: added to the standard deviation (a Python float; 1e-3 as the official TD3+BC code).
        statistics: ``(mean, std)`` to use instead of the dataset's own
            :func:`observation_statistics`: the training set's for a validation split, or
            ``(0, 1)`` to keep observations as they are while keeping the agent's state shape.
    """
    obs = dataset.observations.astype(jnp.float32)
    mean, std = statistics if statistics is not None else observation_statistics(obs, eps)
    mean, std = jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32)
    fields = {f.name: getattr(dataset, f.name) for f in dataclasses.fields(Dataset)}
    fields["observations"] = normalize(obs, mean, std)
    fields["next_observations"] = normalize(
        dataset.next_observations.astype(jnp.float32), mean, std
    )
    return NormalizedDataset(**fields, obs_mean=mean, obs_std=std)


def prepare(
    dataset: Dataset,
    spec: EnvSpec,
    normalize_obs: bool = True,
    eps: float = 1e-3,
    reward_scale: float | None = None,
    reward_shift: float | None = None,
) -> NormalizedDataset:
    """``dataset`` checked against an env (:func:`~jaxrl.data.check_matches_spec`, on the host),
    its actions scaled to ``[-1, 1]`` when the env's actions are a ``Box`` (discrete actions stay
    indices), its observations normalised with its own statistics, or with mean 0 and std 1
    when not ``normalize_obs`` (so the agent's state has the same shape either way), and, when
    ``reward_scale`` / ``reward_shift`` are given (Python floats; None: 1 and 0), its rewards
    shaped by :func:`shape_rewards` (recorded on the result).

    What an agent's ``prepare_data`` does (TD3+BC, PRDC, BC). A :class:`NormalizedDataset` is
    taken as prepared already and passes through unchanged.

    Raises:
        ValueError: a prepared dataset whose reward shaping is not the one asked for (when one
            is asked for), naming both.
    """
    if isinstance(dataset, NormalizedDataset):
        if (reward_scale, reward_shift) != (None, None):
            check_reward_shaping(dataset, _or(reward_scale, 1.0), _or(reward_shift, 0.0))
        return dataset
    if not isinstance(dataset, Dataset):
        raise TypeError(f"data must be a jaxrl.data.Dataset, got {type(dataset).__name__}")
    check_matches_spec(dataset, spec)
    if isinstance(spec.action_space, Box):
        box = spec.action_space
        dataset = scale_actions(dataset, box.low_array, box.high_array)
    shape = dataset.obs_shape
    identity = None if normalize_obs else (jnp.zeros(shape), jnp.ones(shape))
    prepared = normalize_observations(dataset, eps, identity)
    scale, shift = float(_or(reward_scale, 1.0)), float(_or(reward_shift, 0.0))
    if (scale, shift) == (1.0, 0.0):
        return prepared  # the raw rewards, bit for bit
    return shape_rewards(prepared, scale, shift).replace(reward_scale=scale, reward_shift=shift)


def check_reward_shaping(dataset: Dataset, scale: float, shift: float) -> None:
    """A ValueError naming both shapings unless ``dataset``'s rewards are ``scale * r + shift``
    (a dataset that records no shaping, i.e. not a :class:`NormalizedDataset`, holds the raw
    rewards: scale 1, shift 0)."""
    done = (getattr(dataset, "reward_scale", 1.0), getattr(dataset, "reward_shift", 0.0))
    if done != (scale, shift):
        raise ValueError(
            f"data was prepared with reward_scale={done[0]}, reward_shift={done[1]}; the config "
            f"has reward_scale={scale}, reward_shift={shift} (prepare the raw dataset again)"
        )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
