"""TD3+BC (Fujimoto and Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning",
arXiv:2106.06860), offline.

TD3 (Fujimoto et al. 2018) with two changes: states are normalised with the dataset's mean and
standard deviation (eq. 5; also at evaluation), and the actor maximises
``lambda Q(s, pi(s)) - (pi(s) - a)^2`` with ``lambda = alpha / mean|Q(s, pi(s))|`` (eq. 4, the
normaliser is not differentiated).

One ``train_step`` is ``policy_delay`` gradient steps (so ``steps_per_iteration`` counts gradient
steps, and ``jaxrl.train(..., total_steps)`` trains that many): ``policy_delay - 1`` critic-only
updates, then a critic update followed by the delayed actor update and the target-network EMA on
the same batch, exactly the order of the official loop (``total_it % policy_freq == 0``,
``TD3_BC.py:104,136``). No ``lax.cond`` is needed, so vmapped seeds never run both branches.

The dataset is prepared once by :func:`prepare_data` with :mod:`jaxrl.data.transforms` (actions
to ``[-1, 1]``, observations normalised; the statistics go into the state for :func:`act`), and
batches are drawn by :func:`jaxrl.data.sample_transitions`. The pieces PRDC and BC reuse are
public: :class:`Config` fields, :func:`prepare_data`, :class:`Actor`, :func:`critic_loss` and
friends, and :func:`td3_train_step`, which takes the behaviour-cloning target as a function
(TD3+BC: the batch's own dataset action; PRDC: the action of the nearest dataset pair).

Choices where the official code (sfujim/TD3_BC @8791ad7; paths below are in it) is not
followed literally (docs/official_settings_offline.md lists every setting):
* networks use jaxrl's MLP (orthogonal initialisation) instead of PyTorch's default init;
* actions are mapped to ``[-1, 1]`` with the env's bounds (the official actor multiplies its
  ``tanh`` by ``max_action``, ``TD3_BC.py:25``; identical for D4RL, whose bounds are
  ``[-1, 1]``), so target-policy noise is in those units (the official noise and clip are
  multiplied by ``max_action``, ``main.py:90-91``).

TD3+BC needs continuous (``Box``) actions and vector observations: :func:`check_env` refuses
other envs by name, and :func:`prepare_data` and :func:`init` call it before anything is
traced (a run script can call it earlier, through :func:`jaxrl.config.check_env`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

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
    require_vector_obs,
)
from jaxrl.data import Dataset, sample_transitions, transforms
from jaxrl.data.transforms import NormalizedDataset, from_unit_interval, normalize
from jaxrl.networks import MLP, Ensemble, ema
from jaxrl.types import Box, Env, Metrics, PRNGKey

NAME = "td3_bc"


@struct.dataclass
class Config:
    """TD3+BC hyperparameters; the defaults are the official ones (``main.py:47-57``,
    ``TD3_BC.py:81,85``, ``utils.py:52``; checked by tests/test_presets_official.py). Float
    fields are pytree leaves (vmappable in sweeps, never recompile); fields marked static fix
    shapes and loop counts."""

    alpha: float = 2.5
    """Weight of the Q term: lambda = alpha / mean|Q(s, pi(s))| (eq. 4), >= 0 (0: BC)."""
    actor_learning_rate: float = 3e-4
    """Adam step size of the actor, >= 0."""
    critic_learning_rate: float = 3e-4
    """Adam step size of the twin critic, >= 0."""
    discount: float = 0.99
    """Discount factor gamma, in [0, 1]."""
    tau: float = 0.005
    """Target-network EMA rate (updated on actor steps only), in [0, 1]."""
    policy_noise: float = 0.2
    """Std of the Gaussian noise on the target action (target policy smoothing), in [-1, 1]
    action units; >= 0."""
    noise_clip: float = 0.5
    """The target-action noise is clipped to [-noise_clip, noise_clip]; >= 0."""
    obs_std_eps: float = 1e-3
    """Added to the dataset's observation std before dividing (as the official code,
    ``utils.py:52``), > 0."""
    reward_scale: float = struct.field(pytree_node=False, default=1.0)
    """Rewards become reward_scale * r + reward_shift, once, when the data are prepared; > 0.
    1 (with shift 0): the raw rewards, as the official TD3+BC code (no shaping for any task).
    PRDC's antmaze setting is 10000 with shift -1 (static: the prepared data hold the shaped
    rewards)."""
    reward_shift: float = struct.field(pytree_node=False, default=0.0)
    """Added to every scaled reward (see reward_scale); any finite number (static)."""
    batch_size: int = struct.field(pytree_node=False, default=256)
    """Transitions per gradient step, >= 1 (static)."""
    policy_delay: int = struct.field(pytree_node=False, default=2)
    """Critic updates per actor update, >= 1; one train_step is this many gradient steps
    (static)."""
    hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(256, 256))
    """Hidden widths of the actor and of each critic (ReLU); at least one layer, widths >= 1
    (static)."""
    normalize_obs: bool = struct.field(pytree_node=False, default=True)
    """Normalise observations with the dataset's mean and std, also at evaluation (static)."""

    def validate(self) -> None:
        """Raise a ValueError naming the field, its value and what is allowed: every numeric
        field against :data:`RANGES` (NaN and infinities refused), the widths (non-empty,
        positive) and any string choice (a subclass's ``Literal`` fields, e.g. PRDC's
        ``backend``)."""
        check_ranges(self, RANGES)
        check_sizes(self, ("hidden_sizes",))
        check_choices(self)


RANGES: tuple[RangeSpec, ...] = (
    ("alpha", NONNEGATIVE),
    ("actor_learning_rate", NONNEGATIVE),
    ("critic_learning_rate", NONNEGATIVE),
    ("discount", UNIT),
    ("tau", UNIT),
    ("policy_noise", NONNEGATIVE),
    ("noise_clip", NONNEGATIVE),
    ("obs_std_eps", POSITIVE),
    ("reward_scale", POSITIVE),
    ("reward_shift", Range()),
    ("batch_size", COUNT),
    ("policy_delay", COUNT),
)
"""Allowed values of every numeric field (checked by ``Config.validate``; PRDC extends it)."""


# --- data --------------------------------------------------------------------------------------


def _action_box(env: Env) -> Box:
    return require_box("TD3+BC", env)


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless TD3+BC can train on it: continuous (``Box``)
    actions and vector observations. Cheap: reads ``env.spec`` only."""
    del config
    require_box("TD3+BC", env)
    require_vector_obs("TD3+BC", env)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> NormalizedDataset:
    """Check ``dataset`` against ``env``, map its actions to ``[-1, 1]``, normalise its
    observations with its own statistics (with ``normalize_obs``; else mean 0, std 1) and shape
    its rewards (``reward_scale * r + reward_shift``), by
    :func:`jaxrl.data.transforms.prepare`. ``jaxrl.train(..., data=dataset)`` calls this;
    prepared data passes through unchanged (a ValueError if its reward shaping is not the
    config's)."""
    check_env(config, env)
    return transforms.prepare(
        dataset,
        env.spec,
        config.normalize_obs,
        float(config.obs_std_eps),
        reward_scale=float(config.reward_scale),
        reward_shift=float(config.reward_shift),
    )


# --- networks ----------------------------------------------------------------------------------


class Actor(nn.Module):
    """Deterministic policy: MLP (ReLU by default), then ``tanh`` (actions in ``[-1, 1]``)."""

    action_dim: int
    hidden_sizes: tuple[int, ...]
    activation: str = "relu"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return jnp.tanh(MLP(self.hidden_sizes, self.action_dim, activation=self.activation)(obs))


class TwinCritic(nn.Module):
    """Two independent ReLU MLPs on ``concat(s, a)``; output ``[2, ...]``."""

    hidden_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([obs, action], axis=-1)
        return Ensemble(2, self.hidden_sizes, 1, activation="relu")(x)[..., 0]


def make_networks(config: Any, env: Env) -> tuple[Actor, TwinCritic]:
    """Actor and twin critic for ``env``."""
    action_dim = int(np.prod(_action_box(env).shape))
    return Actor(action_dim, config.hidden_sizes), TwinCritic(config.hidden_sizes)


class State(struct.PyTreeNode):
    """Everything a run needs to continue exactly (what checkpoints store)."""

    params: dict[str, Any]
    """``{"actor": ..., "critic": ...}``."""
    target_params: dict[str, Any]
    """EMA copies of ``params``."""
    opt_state: dict[str, Any]
    """Adam states ``{"actor": ..., "critic": ...}``."""
    obs_mean: jax.Array
    """Dataset observation mean (applied by :func:`act`)."""
    obs_std: jax.Array
    """Dataset observation std + eps (applied by :func:`act`)."""
    key: jax.Array
    step: jax.Array
    """Gradient steps done."""


def steps_per_iteration(config: Config) -> int:
    """Gradient steps one ``train_step`` takes (``policy_delay``)."""
    return config.policy_delay


def init(config: Config, env: Env, key: PRNGKey, data: NormalizedDataset) -> State:
    """Initialise networks, targets and optimisers; keep the dataset's observation statistics
    (after ``config.validate()`` and :func:`check_env`)."""
    config.validate()
    check_env(config, env)
    actor, critic = make_networks(config, env)
    k_actor, k_critic, key = jax.random.split(key, 3)
    obs = jnp.zeros((1, *env.spec.obs_shape), jnp.float32)
    act = jnp.zeros((1, actor.action_dim), jnp.float32)
    params = {"actor": actor.init(k_actor, obs), "critic": critic.init(k_critic, obs, act)}
    opt_state = {
        "actor": optax.adam(config.actor_learning_rate).init(params["actor"]),
        "critic": optax.adam(config.critic_learning_rate).init(params["critic"]),
    }
    return State(
        params=params,
        target_params=params,
        opt_state=opt_state,
        obs_mean=data.obs_mean,
        obs_std=data.obs_std,
        key=key,
        step=jnp.zeros((), jnp.int32),
    )


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = True,
) -> jax.Array:
    """Env actions for a batch of raw observations (normalised with the dataset statistics in
    ``state``). The policy is deterministic, so ``key`` and ``deterministic`` are unused."""
    del key, deterministic
    actor, _ = make_networks(config, env)
    action = actor.apply(state.params["actor"], normalize(obs, state.obs_mean, state.obs_std))
    return env_actions(env, action)


def env_actions(env: Env, unit: jax.Array) -> jax.Array:
    """Policy outputs in ``[-1, 1]`` (``[..., act_dim]``) -> env actions in the env's bounds
    (``[..., *action_shape]``)."""
    box = _action_box(env)
    action = from_unit_interval(unit, box.low_array, box.high_array)
    return action.reshape(*unit.shape[:-1], *box.shape)


# --- losses ------------------------------------------------------------------------------------


def target_action(
    target_pi: jax.Array, key: PRNGKey, policy_noise: jax.Array, noise_clip: jax.Array
) -> jax.Array:
    """Target policy smoothing (TD3, eq. 14): ``clip(pi'(s') + clip(eps, -c, c), -1, 1)`` with
    ``eps ~ N(0, policy_noise^2)``."""
    noise = policy_noise * jax.random.normal(key, target_pi.shape)
    noise = jnp.clip(noise, -noise_clip, noise_clip)
    return jnp.clip(target_pi + noise, -1.0, 1.0)


def critic_target(
    reward: jax.Array, mask: jax.Array, discount: jax.Array, target_q: jax.Array
) -> jax.Array:
    """Clipped double-Q target (TD3, eq. 10): ``y = r + gamma (1 - d) min(Q1', Q2')(s', a')``;
    ``target_q`` is ``[2, B]``, ``mask`` is ``1 - d``."""
    return reward + discount * mask * jnp.min(target_q, axis=0)


def critic_loss(q: jax.Array, target: jax.Array) -> jax.Array:
    """``MSE(Q1(s, a), y) + MSE(Q2(s, a), y)`` (TD3; ``q`` is ``[2, B]``, ``y`` constant)."""
    return jnp.sum(jnp.mean((q - jax.lax.stop_gradient(target)[None]) ** 2, axis=-1))


def q_weight(q_pi: jax.Array, alpha: jax.Array) -> jax.Array:
    """``lambda = alpha / mean|Q(s, pi(s))|`` (TD3+BC eq. 4), not differentiated."""
    return jax.lax.stop_gradient(alpha / jnp.mean(jnp.abs(q_pi)))


def behaviour_cloning_loss(pi: jax.Array, target_action: jax.Array) -> jax.Array:
    """``mean((pi(s) - a)^2)`` over batch and action dims (TD3+BC eq. 3); ``a`` constant."""
    return jnp.mean((pi - jax.lax.stop_gradient(target_action)) ** 2)


def td3_bc_actor_loss(
    q_pi: jax.Array, pi: jax.Array, action: jax.Array, alpha: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """TD3+BC actor loss (eq. 3-4): ``-lambda mean Q1(s, pi(s)) + mean((pi(s) - a)^2)`` with
    ``lambda = alpha / mean|Q1(s, pi(s))|`` (stop-gradient)."""
    lam = q_weight(q_pi, alpha)
    bc = behaviour_cloning_loss(pi, action)
    return -lam * jnp.mean(q_pi) + bc, {"lambda": lam, "bc_loss": bc}


# --- updates -----------------------------------------------------------------------------------

BCTargetFn = Callable[[Any, dict[str, jax.Array], jax.Array], tuple[jax.Array, dict[str, Any]]]
"""``bc_target(data, batch, pi) -> (target actions [B, A], info)``: the action the actor is
pulled toward (TD3+BC: ``batch["action"]``; PRDC: the nearest dataset pair's action)."""


ActorLossFn = Callable[
    [jax.Array, jax.Array, jax.Array, jax.Array], tuple[jax.Array, dict[str, jax.Array]]
]
"""``actor_loss(q_pi, pi, target, alpha) -> (loss, info)``."""


def critic_update(
    config: Any, env: Env, state: State, batch: dict[str, jax.Array], key: PRNGKey
) -> tuple[State, dict[str, jax.Array]]:
    """One Adam step of the twin critic on ``batch``."""
    actor, critic = make_networks(config, env)
    next_pi = actor.apply(state.target_params["actor"], batch["next_obs"])
    next_action = target_action(next_pi, key, config.policy_noise, config.noise_clip)
    target_q = critic.apply(state.target_params["critic"], batch["next_obs"], next_action)
    y = critic_target(batch["reward"], batch["mask"], config.discount, target_q)

    def loss_fn(p):
        q = critic.apply(p, batch["obs"], batch["action"])
        return critic_loss(q, y), jnp.mean(q)

    (loss, q_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["critic"])
    tx = optax.adam(config.critic_learning_rate)
    updates, opt = tx.update(grads, state.opt_state["critic"], state.params["critic"])
    params = {**state.params, "critic": optax.apply_updates(state.params["critic"], updates)}
    state = state.replace(params=params, opt_state={**state.opt_state, "critic": opt})
    info = {"critic_loss": loss, "q_mean": q_mean, "critic_grad_norm": optax.tree.norm(grads)}
    return state, info


def actor_update(
    config: Any,
    env: Env,
    state: State,
    data: Any,
    batch: dict[str, jax.Array],
    bc_target: BCTargetFn,
    actor_loss: ActorLossFn | None = None,
) -> tuple[State, dict[str, jax.Array]]:
    """One Adam step of the actor (``actor_loss``, default :func:`td3_bc_actor_loss`), then the
    target EMA."""
    loss_of = actor_loss or td3_bc_actor_loss
    actor, critic = make_networks(config, env)
    pi0 = actor.apply(state.params["actor"], batch["obs"])
    target, target_info = bc_target(data, batch, jax.lax.stop_gradient(pi0))

    def loss_fn(p):
        pi = actor.apply(p, batch["obs"])
        q_pi = critic.apply(state.params["critic"], batch["obs"], pi)[0]
        return loss_of(q_pi, pi, target, config.alpha)

    (loss, info), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["actor"])
    tx = optax.adam(config.actor_learning_rate)
    updates, opt = tx.update(grads, state.opt_state["actor"], state.params["actor"])
    params = {**state.params, "actor": optax.apply_updates(state.params["actor"], updates)}
    state = state.replace(
        params=params,
        opt_state={**state.opt_state, "actor": opt},
        target_params=ema(params, state.target_params, config.tau),
    )
    info = {
        "actor_loss": loss,
        "actor_grad_norm": optax.tree.norm(grads),
        **info,
        **target_info,
    }
    return state, info


def dataset_action(
    data: Dataset, batch: dict[str, jax.Array], pi: jax.Array
) -> tuple[jax.Array, dict[str, Any]]:
    """TD3+BC's behaviour-cloning target: the batch's own dataset action."""
    del data, pi
    return batch["action"], {}


def td3_train_step(
    config: Any,
    env: Env,
    state: State,
    data: Any,
    bc_target: BCTargetFn,
    actor_loss: ActorLossFn | None = None,
) -> tuple[State, Metrics]:
    """``policy_delay`` gradient steps: critic-only updates, then critic + actor + targets on
    the last batch. ``data`` is the prepared dataset (PRDC's carries its neighbour index), whose
    reward shaping must be the config's (:func:`jaxrl.data.transforms.check_reward_shaping`)."""
    transforms.check_reward_shaping(data, config.reward_scale, config.reward_shift)
    key, k_batches, k_noise = jax.random.split(state.key, 3)
    batch_keys = jax.random.split(k_batches, config.policy_delay)
    noise_keys = jax.random.split(k_noise, config.policy_delay)

    def critic_only(s, keys):
        kb, kn = keys
        return critic_update(config, env, s, sample_transitions(data, kb, config.batch_size), kn)

    state, critic_infos = jax.lax.scan(
        critic_only, state, (batch_keys[:-1], noise_keys[:-1]), length=config.policy_delay - 1
    )
    batch = sample_transitions(data, batch_keys[-1], config.batch_size)
    state, last_critic = critic_update(config, env, state, batch, noise_keys[-1])
    state, actor_info = actor_update(config, env, state, data, batch, bc_target, actor_loss)
    critic_info = jax.tree.map(
        lambda many, last: (jnp.sum(many, 0) + last) / config.policy_delay,
        critic_infos,
        last_critic,
    )
    state = state.replace(key=key, step=state.step + config.policy_delay)
    return state, {**critic_info, **actor_info}


def train_step(
    config: Config, env: Env, state: State, data: NormalizedDataset
) -> tuple[State, Metrics]:
    """One TD3+BC iteration (``policy_delay`` gradient steps)."""
    return td3_train_step(config, env, state, data, dataset_action)


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
