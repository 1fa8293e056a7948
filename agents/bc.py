"""Behaviour cloning (BC), offline: the policy imitates the dataset's actions by supervised
learning on uniformly sampled transitions; rewards and next states are not used.

* Continuous actions (``Box``): a deterministic ``tanh`` policy ``pi(s)`` (TD3+BC's actor,
  :class:`jaxrl.agents.td3_bc.Actor`) regresses the dataset action mapped to ``[-1, 1]``:
  ``L = mean (pi(s) - a)^2``, TD3+BC's actor loss with the Q term removed (Fujimoto and Gu 2021,
  eq. 3 with ``lambda = 0``).
* Discrete actions: a categorical policy ``pi(a|s) = softmax(f(s))`` minimises the cross-entropy
  ``L = -mean log pi(a|s) - entropy_coef * mean H(pi(.|s))`` (the entropy term is off by default;
  polychromic PPO's pretraining uses it). The network is PPO's
  (:class:`jaxrl.networks.PolicyNetwork`), so with the same ``hidden_sizes`` and ``activation``
  ``state.params["policy"]`` is a PPO policy's parameters, ready for fine-tuning.

Observations are normalised with the dataset's mean and standard deviation, as in TD3+BC, by
:func:`prepare_data` (:func:`jaxrl.data.transforms.prepare`); :func:`act` applies the same
statistics, kept in the state. One ``train_step`` is one Adam step on one batch.

Inputs are checked before anything is traced: :meth:`Config.validate` (every numeric field
against :data:`RANGES`, widths, the activation) and :func:`check_env` (both action kinds work;
the MLP needs vector observations), called by :func:`prepare_data` and :func:`init`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.agents.td3_bc import Actor, behaviour_cloning_loss, env_actions
from jaxrl.config import (
    COUNT,
    NONNEGATIVE,
    POSITIVE,
    RangeSpec,
    check_choices,
    check_ranges,
    check_sizes,
    require_vector_obs,
)
from jaxrl.data import Dataset, sample_transitions, transforms
from jaxrl.data.transforms import NormalizedDataset, normalize
from jaxrl.networks import Activation, Categorical, PolicyNetwork
from jaxrl.types import Env, Metrics, PRNGKey

NAME = "bc"


@struct.dataclass
class Config:
    """BC hyperparameters. Float fields are pytree leaves (vmappable in sweeps, never
    recompile); fields marked static fix shapes."""

    learning_rate: float = 3e-4
    """Adam step size, >= 0."""
    entropy_coef: float = 0.0
    """Discrete actions: weight of the entropy bonus subtracted from the cross-entropy, >= 0."""
    obs_std_eps: float = 1e-3
    """Added to the dataset's observation std before dividing (as TD3+BC), > 0."""
    batch_size: int = struct.field(pytree_node=False, default=256)
    """Transitions per gradient step, >= 1 (static)."""
    hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(256, 256))
    """Hidden widths of the policy MLP; at least one layer, widths >= 1 (static)."""
    activation: Activation = struct.field(pytree_node=False, default="relu")
    """Activation of the policy MLP (static; one of jaxrl.networks.Activation)."""
    normalize_obs: bool = struct.field(pytree_node=False, default=True)
    """Normalise observations with the dataset's mean and std, also when acting (static)."""

    def validate(self) -> None:
        """Raise a ValueError naming the field, its value and what is allowed: every numeric
        field against :data:`RANGES` (NaN and infinities refused), the widths (non-empty,
        positive) and the activation."""
        check_ranges(self, RANGES)
        check_sizes(self, ("hidden_sizes",))
        check_choices(self)


RANGES: tuple[RangeSpec, ...] = (
    ("learning_rate", NONNEGATIVE),
    ("entropy_coef", NONNEGATIVE),
    ("obs_std_eps", POSITIVE),
    ("batch_size", COUNT),
)
"""Allowed values of every numeric field (checked by ``Config.validate``)."""


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless BC can train on it: ``Box`` and ``Discrete``
    actions both work; the policy MLP needs vector observations. Cheap: reads ``env.spec``."""
    del config
    require_vector_obs("BC", env)


def make_policy(config: Config, env: Env) -> Actor | PolicyNetwork:
    """The ``tanh`` actor for ``Box`` actions, PPO's categorical policy network otherwise."""
    spec = env.spec
    if spec.discrete:
        return PolicyNetwork(spec.action_dim, True, config.hidden_sizes, config.activation)
    return Actor(spec.action_dim, config.hidden_sizes, config.activation)


class State(struct.PyTreeNode):
    """Everything a run needs to continue exactly (what checkpoints store)."""

    params: dict[str, Any]
    """``{"policy": ...}``."""
    opt_state: Any
    """Adam state of the policy."""
    obs_mean: jax.Array
    """Dataset observation mean (applied by :func:`act`)."""
    obs_std: jax.Array
    """Dataset observation std + eps (applied by :func:`act`)."""
    key: jax.Array
    step: jax.Array
    """Gradient steps done."""


def steps_per_iteration(config: Config) -> int:
    """Gradient steps one ``train_step`` takes."""
    return 1


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = False,
) -> jax.Array:
    """Env actions for a batch of raw observations: the continuous policy's (deterministic, so
    ``key`` is unused), or a sample of the categorical policy (its mode if ``deterministic``)."""
    out = make_policy(config, env).apply(
        state.params["policy"], normalize(obs, state.obs_mean, state.obs_std)
    )
    if not isinstance(out, Categorical):
        return env_actions(env, out)
    return out.mode() if deterministic else out.sample(key)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> NormalizedDataset:
    """Check ``dataset`` against ``env``, scale continuous actions to ``[-1, 1]`` and normalise
    observations (:func:`jaxrl.data.transforms.prepare`); prepared data passes through."""
    check_env(config, env)
    return transforms.prepare(dataset, env.spec, config.normalize_obs, float(config.obs_std_eps))


def init(config: Config, env: Env, key: PRNGKey, data: NormalizedDataset) -> State:
    """Initialise the policy and its optimiser; keep the dataset's observation statistics
    (after ``config.validate()`` and :func:`check_env`)."""
    config.validate()
    check_env(config, env)
    k_policy, key = jax.random.split(key)
    obs = jnp.zeros((1, *env.spec.obs_shape), jnp.float32)
    params = {"policy": make_policy(config, env).init(k_policy, obs)}
    return State(
        params=params,
        opt_state=optax.adam(config.learning_rate).init(params),
        obs_mean=data.obs_mean,
        obs_std=data.obs_std,
        key=key,
        step=jnp.zeros((), jnp.int32),
    )


# --- losses ------------------------------------------------------------------------------------


def cross_entropy_loss(
    logits: jax.Array, actions: jax.Array, entropy_coef: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """``-mean log pi(a|s) - entropy_coef * mean H(pi(.|s))`` for ``pi = softmax(logits)``;
    also the cross-entropy alone, the entropy and the fraction of rows whose most likely action
    is the dataset's."""
    dist = Categorical(logits=logits)
    nll = -jnp.mean(dist.log_prob(actions))
    entropy = jnp.mean(dist.entropy())
    accuracy = jnp.mean((dist.mode() == actions).astype(jnp.float32))
    info = {"bc_loss": nll, "entropy": entropy, "accuracy": accuracy}
    return nll - entropy_coef * entropy, info


def bc_loss(
    config: Config, env: Env, params: Any, batch: dict[str, jax.Array]
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The loss of the module docstring on ``batch`` (prepared observations and actions)."""
    out = make_policy(config, env).apply(params["policy"], batch["obs"])
    if isinstance(out, Categorical):
        return cross_entropy_loss(out.logits, batch["action"], config.entropy_coef)
    loss = behaviour_cloning_loss(out, batch["action"])
    return loss, {"bc_loss": loss}


# --- training ----------------------------------------------------------------------------------


def train_step(
    config: Config, env: Env, state: State, data: NormalizedDataset
) -> tuple[State, Metrics]:
    """One Adam step of the policy on ``batch_size`` uniformly drawn transitions."""
    key, k_batch = jax.random.split(state.key)
    batch = sample_transitions(data, k_batch, config.batch_size)
    grad_fn = jax.value_and_grad(lambda p: bc_loss(config, env, p, batch), has_aux=True)
    (loss, info), grads = grad_fn(state.params)
    updates, opt_state = optax.adam(config.learning_rate).update(grads, state.opt_state)
    state = state.replace(
        params=optax.apply_updates(state.params, updates),
        opt_state=opt_state,
        key=key,
        step=state.step + 1,
    )
    return state, {"loss": loss, "grad_norm": optax.tree.norm(grads), **info}


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
