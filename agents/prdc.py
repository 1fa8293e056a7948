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

Choices, where the spec leaves room (paths cited are in the official code, LAMDA-RL/PRDC
@9f38464):
* ``beta`` is static: the index is built for one ``beta`` (``jaxrl.train`` builds it from the
  config through :func:`prepare_data`); sweeping ``beta`` means one run per value.
* default ``beta = 2.0``: the official README's locomotion value (its commands pass
  ``--beta 2.0``; 7.5 for antmaze) and the default of the ``PRDC`` class (``prdc.py:25``), which
  ``main.py`` never uses: it passes ``args.beta``, whose argparse default is 1.0
  (``utils/config.py:68``). The default config is TD3+BC's official one plus ``beta = 2.0``,
  ``k = 1`` and no reward shaping, for any dataset.
* the official per-task settings (README commands: ``alpha`` 40 for halfcheetah, 2.5 for hopper
  and walker2d, 7.5 with ``beta`` 7.5 and rewards ``10000 r - 1`` for antmaze) are
  :data:`PAPER_SETTINGS`, applied by :func:`paper_config` from a D4RL dataset name
  (``experiments/prdc.py --preset paper``).
* ``k``: the k-th nearest neighbour is the target (scipy's ``k=[k]`` semantics, as
  ``prdc.py:114``), default 1.
* actions in keys are the ``[-1, 1]``-scaled actions; the official keys hold the raw dataset
  actions (``main.py:57-59``), the same for D4RL, whose bounds are ``[-1, 1]``. The states in
  keys are normalised first, as there (``main.py:52-53``, ``utils/buffer.py:57-62``).

PRDC needs continuous (``Box``) actions and vector observations, as TD3+BC: :func:`check_env`
refuses other envs by name, and :func:`prepare_data` and :func:`init` call it before anything
is traced (a run script can call it earlier, through :func:`jaxrl.config.check_env`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
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
    "PAPER_SETTINGS",
    "paper_task",
    "paper_config",
]

NAME = "prdc"

Backend = Literal["auto", "brute", "kdtree"]
"""Neighbour-search backends (:data:`jaxrl.neighbors.BACKENDS`; a test keeps them equal)."""


@struct.dataclass
class Config(td3_bc.Config):
    """PRDC hyperparameters: TD3+BC's (official defaults, which are PRDC's too:
    ``utils/config.py:36-57``) plus the dataset constraint's; the official per-task values are
    :func:`paper_config`'s."""

    beta: float = struct.field(pytree_node=False, default=2.0)
    """Weight of the normalised state in the search key [beta * s, a], >= 0; the official
    README uses 2.0 for locomotion and 7.5 for antmaze (paper_config) (static: the neighbour
    index is built for one value)."""
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


# --- the official per-task settings ----------------------------------------------------------

PaperTask = Literal["halfcheetah", "hopper", "walker2d", "antmaze"]
"""The D4RL task families the official README gives settings for."""

PAPER_SETTINGS: dict[str, dict[str, float]] = {
    "halfcheetah": {"alpha": 40.0, "beta": 2.0, "k": 1},
    "hopper": {"alpha": 2.5, "beta": 2.0, "k": 1},
    "walker2d": {"alpha": 2.5, "beta": 2.0, "k": 1},
    "antmaze": {"alpha": 7.5, "beta": 7.5, "k": 1, "reward_scale": 10000.0, "reward_shift": -1.0},
}
"""The official per-task settings: the README's commands (``python main.py --env_id
halfcheetah-medium-v2 ... --alpha 40.0 --beta 2.0 --k 1``, ``hopper-medium-v2 ... --alpha 2.5
--beta 2.0 --k 1`` "for hopper & walker2d", ``antmaze-medium-play-v2 ... --alpha 7.5 --beta 7.5
--k 1 --scale=10000 --shift=-1``); every other field is the official default, which
:class:`Config`'s defaults are (``utils/config.py:36-69``). :func:`paper_config` applies them."""

_LOCOMOTION_DATA = ("random", "medium", "expert", "medium-replay", "medium-expert", "full-replay")
_MINARI_MUJOCO_DATA = ("simple", "medium", "expert")
_ANTMAZE_DATA = (
    "umaze",
    "umaze-diverse",
    "medium-play",
    "medium-diverse",
    "large-play",
    "large-diverse",
)
_PAPER_NAME = re.compile(
    r"(?:^|-)(?:(?P<loco>halfcheetah|hopper|walker2d)-(?:{})|antmaze-(?:{}))(?:-v\d+)?$".format(
        "|".join(sorted({*_LOCOMOTION_DATA, *_MINARI_MUJOCO_DATA}, key=len, reverse=True)),
        "|".join(sorted(_ANTMAZE_DATA, key=len, reverse=True)),
    )
)


def paper_task(name: str | Sequence[str]) -> PaperTask:
    """The task family of a D4RL dataset name, for :data:`PAPER_SETTINGS`.

    ``name`` is a D4RL id (``halfcheetah-medium-v2``, ``antmaze-medium-play-v2``; ``_`` may
    stand for ``-``: ``hopper_medium_replay-v2``), a Minari id (``mujoco/walker2d/expert-v0``,
    ``D4RL/antmaze/large-diverse-v1``) or a name ending in one of these, version optional
    (``brax_hopper-medium``, as ``experiments/make_dataset.py`` names its files: matched by
    name, so it gets the D4RL hopper setting). Case does not matter. A sequence holds the names
    of one dataset (:func:`jaxrl.runs.dataset_names`): the first that matches is used.

    Raises:
        ValueError: naming the dataset and the datasets that have official settings (other
            D4RL tasks, e.g. ant or the Adroit and Kitchen sets, and OGBench's antmaze
            ``navigate``/``stitch``/``explore`` sets, have none).
    """
    names = [name] if isinstance(name, str) else list(name)
    for each in names:
        match = _PAPER_NAME.search(str(each).lower().replace("_", "-").replace("/", "-"))
        if match is not None:
            return match["loco"] or "antmaze"  # type: ignore[return-value]
    known = " or ".join(repr(n) for n in names) or "''"
    raise ValueError(
        f"no official PRDC setting for dataset {known}: the official README gives settings for "
        f"D4RL halfcheetah, hopper and walker2d ({', '.join(_LOCOMOTION_DATA)}) and antmaze "
        f"({', '.join(_ANTMAZE_DATA)}) datasets, named e.g. 'halfcheetah-medium-v2' or "
        "'antmaze-medium-play-v2'"
    )


def paper_config(name: str | Sequence[str], config: Config | None = None) -> Config:
    """``config`` (default ``Config()``, TD3+BC's official defaults) with the official settings
    of the dataset ``name``'s task (:func:`paper_task`, :data:`PAPER_SETTINGS`): ``alpha``,
    ``beta``, ``k`` and, for antmaze, the reward shaping ``10000 r - 1``. A ValueError names
    the dataset when the task has no official setting."""
    return dataclasses.replace(config or Config(), **PAPER_SETTINGS[paper_task(name)])


# --- agent -----------------------------------------------------------------------------------


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
    observations normalised, rewards shaped) plus the neighbour index over ``[beta * s, a]``."""

    index: neighbors.NeighborIndex = None  # type: ignore[assignment]
    beta: float = struct.field(pytree_node=False, default=2.0)


def query_keys(obs: jax.Array, action: jax.Array, beta: float) -> jax.Array:
    """The search key ``[beta * s, a]`` (``s`` normalised, ``a`` in ``[-1, 1]``)."""
    return jnp.concatenate([beta * obs, action], axis=-1)


def dataset_keys(data: Dataset, beta: float) -> jax.Array:
    """``[beta * s_i, a_i]`` for every dataset row (the points of the search structure)."""
    return jax.jit(query_keys, static_argnums=2)(data.observations, data.actions, beta)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> PRDCData:
    """Prepare the dataset as TD3+BC (actions, observations, reward shaping) and build the
    exact neighbour index over ``[beta * s, a]`` once (after :func:`check_env`).
    ``jaxrl.train(..., data=dataset)`` calls this. Prepared data passes through (a ValueError
    if it was prepared for another ``beta`` or reward shaping)."""
    check_env(config, env)
    base = td3_bc.prepare_data(config, env, dataset)  # checks the shaping of prepared data
    if isinstance(base, PRDCData):
        if base.beta != config.beta:
            raise ValueError(f"data was prepared for beta={base.beta}, config has {config.beta}")
        return base
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
