"""Forward-Backward representations (FB; Touati and Ollivier 2021, "Learning One Representation
to Optimize All Rewards", arXiv:2103.07945; Touati, Rapin, Ollivier 2023, "Does Zero-Shot
Reinforcement Learning Exist?", arXiv:2209.14935), offline and reward-free.

FB learns ``F(s, a, z)`` and ``B(s')`` in ``R^d`` such that the successor measure of the policy
``pi_z`` factorises, ``M^{pi_z}(s, a, ds') ~ F(s, a, z)^T B(s') rho(ds')`` (``rho``: the data's
next-state distribution), and ``pi_z(s) ~ argmax_a F(s, a, z)^T z``. For any reward,
``z_r = E_rho[r(s') B(s')]`` then gives ``Q_r(s, a) = F(s, a, z_r)^T z_r`` and ``pi_{z_r}`` is
optimal for ``r``: one training run, no reward, then any task zero-shot
(:func:`infer_task`, :func:`jaxrl.zero_shot.evaluate_zero_shot`).

One ``train_step`` is one gradient step on a batch (``steps_per_iteration`` = 1):

1. tasks ``z``: random on the ``sqrt(d)`` sphere, half replaced by ``B`` of batch next states
   (:func:`jaxrl.zero_shot.mix_z`);
2. the measure loss :func:`jaxrl.zero_shot.fb_measure_loss` summed over the twin ``F``, with the
   target ``min`` of the target twins at ``a' = pi(s', z)`` + clipped noise (controllable_agent
   ``fb_ddpg.update_fb``), plus ``ortho_coef`` times the orthonormality loss of ``B(s')``;
3. the actor (TD3, deterministic): ``-mean min_k F_k(s, pi(s, z), z)^T z``;
4. EMA of the target ``F`` and ``B``.

The machinery (z sampling, losses, task inference, evaluation) lives in :mod:`jaxrl.zero_shot`,
which BREEZE and TD-JEPA share. Networks follow controllable_agent (``fb_modules.py``): ``F``
embeds ``(s, a)`` and ``(s, z)`` with two towers (Linear-LayerNorm-tanh, Linear-ReLU), then two
heads (the twins) map their concatenation to ``R^d``; ``B`` is Linear-LayerNorm-tanh then ReLU
layers to ``R^d``, projected on the ``sqrt(d)`` sphere; the actor embeds ``(s, z)`` and ``s`` the
same way and ends in ``tanh``. Defaults are the spec's (metamotivo / TD-JEPA's DMC launch):
``z_dim`` 50, batch 1024, lr 1e-4, ortho 1, tau 0.01, gamma 0.98.

Where we differ from the references, on purpose:
* the actor loss uses the deterministic ``pi(s, z)`` (TD3); controllable_agent samples the
  actor's clipped-noise action there. The target action does use the noise, as both do.
* observations are not normalised (``normalize_obs`` may switch it on; the references do not).
* F and B share one Adam (metamotivo has separate ones with equal learning rates by default).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl import zero_shot
from jaxrl.agents.td3_bc import env_actions, target_action
from jaxrl.config import (
    COUNT,
    NONNEGATIVE,
    UNIT,
    RangeSpec,
    check_choices,
    check_ranges,
    check_sizes,
    require_box,
)
from jaxrl.data import Dataset, sample_transitions
from jaxrl.data.transforms import NormalizedDataset, normalize
from jaxrl.networks import MLP, Ensemble, ema
from jaxrl.types import Env, Metrics, PRNGKey
from jaxrl.zero_shot import OrthoForm

NAME = "fb"


@struct.dataclass
class Config:
    """FB hyperparameters (defaults: the spec's, see the module docstring). Float fields are
    pytree leaves (vmappable in sweeps); fields marked static fix shapes and loop counts."""

    learning_rate: float = 1e-4
    """Adam step size of F and B, >= 0."""
    actor_learning_rate: float = 1e-4
    """Adam step size of the actor, >= 0."""
    discount: float = 0.98
    """Discount gamma of the successor measure, in [0, 1]."""
    tau: float = 0.01
    """EMA rate of the target F and B, in [0, 1]."""
    ortho_coef: float = 1.0
    """Weight of the orthonormality loss of B, >= 0."""
    z_mix_prob: float = 0.5
    """Probability that a training task z is B of a batch next state instead of a random z,
    in [0, 1]."""
    policy_noise: float = 0.2
    """Std of the Gaussian noise on the target action a' = pi(s', z) (in [-1, 1] units), >= 0."""
    noise_clip: float = 0.3
    """The target-action noise is clipped to [-noise_clip, noise_clip], >= 0."""
    z_dim: int = struct.field(pytree_node=False, default=50)
    """Dimension d of z, F and B, >= 1 (static)."""
    batch_size: int = struct.field(pytree_node=False, default=1024)
    """Transitions per gradient step, >= 2 (the measure loss needs off-diagonal pairs;
    static)."""
    preprocess_hidden: int = struct.field(pytree_node=False, default=1024)
    """Width of the first (LayerNorm-tanh) layer of every embedding tower, >= 1 (static)."""
    preprocess_dim: int = struct.field(pytree_node=False, default=512)
    """Output width of the embedding towers of F and the actor, >= 1 (static)."""
    forward_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(1024,))
    """Hidden widths of each of the twin F heads (ReLU), >= 1 each (static)."""
    backward_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(256, 256))
    """Hidden widths of B: the first Linear-LayerNorm-tanh, the rest ReLU; >= 1 each
    (static)."""
    actor_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(1024,))
    """Hidden widths of the actor head (ReLU), >= 1 each (static)."""
    ortho_form: OrthoForm = struct.field(pytree_node=False, default="controllable_agent")
    """Which published orthonormality loss (:func:`jaxrl.zero_shot.orthonormality_loss`):
    "controllable_agent" (twin F's code, BREEZE) or "metamotivo" (half of it; static)."""
    inference_samples: int = struct.field(pytree_node=False, default=10_000)
    """Reward-labelled dataset rows :func:`infer_task` averages B over, >= 1 (controllable_agent:
    5120, metamotivo: 50000; static)."""
    normalize_obs: bool = struct.field(pytree_node=False, default=False)
    """Normalise observations with the dataset's mean and std (also when acting; static)."""

    def validate(self) -> None:
        """Raise a ValueError naming the field, its value and what is allowed."""
        check_ranges(self, RANGES)
        check_sizes(self, ("forward_hidden_sizes", "backward_hidden_sizes", "actor_hidden_sizes"))
        if self.batch_size < 2:
            raise ValueError(
                f"Config.batch_size={self.batch_size}: FB's measure loss needs at least 2 rows "
                "(off-diagonal pairs)"
            )
        check_choices(self)


RANGES: tuple[RangeSpec, ...] = (
    ("learning_rate", NONNEGATIVE),
    ("actor_learning_rate", NONNEGATIVE),
    ("discount", UNIT),
    ("tau", UNIT),
    ("ortho_coef", NONNEGATIVE),
    ("z_mix_prob", UNIT),
    ("policy_noise", NONNEGATIVE),
    ("noise_clip", NONNEGATIVE),
    ("z_dim", COUNT),
    ("batch_size", COUNT),
    ("preprocess_hidden", COUNT),
    ("preprocess_dim", COUNT),
    ("inference_samples", COUNT),
)
"""Allowed values of every numeric field (checked by ``Config.validate``)."""


# --- networks ----------------------------------------------------------------------------------


def uniform_bias(key: PRNGKey, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """Biases uniform in ``[-0.5, 0.5]``, for the Linear before a LayerNorm (see
    :class:`LayerNormTanh`)."""
    return jax.random.uniform(key, shape, dtype, -0.5, 0.5)


class LayerNormTanh(nn.Module):
    """Linear-LayerNorm-tanh, the first layer of every FB network.

    The Linear has a random (not zero) bias: ``LayerNorm(W x)`` is blind to the scale of ``x``,
    so with zero biases (controllable_agent's init) two observations on one ray from the origin,
    such as the positions (1, 1) and (7, 7), get the same embedding; on low-dimensional inputs
    that erases most of the state."""

    width: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(nn.LayerNorm()(nn.Dense(self.width, bias_init=uniform_bias)(x)))


class Tower(nn.Module):
    """controllable_agent's preprocessor: Linear-LayerNorm-tanh, then Linear-ReLU."""

    hidden: int
    out: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.relu(nn.Dense(self.out)(LayerNormTanh(self.hidden)(x)))


class ForwardMap(nn.Module):
    """Twin ``F(s, a, z)``: towers on ``(s, a)`` and ``(s, z)``, two heads; ``[2, N, d]``."""

    z_dim: int
    preprocess_hidden: int
    preprocess_dim: int
    hidden_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, z: jax.Array) -> jax.Array:
        sa = Tower(self.preprocess_hidden, self.preprocess_dim)(jnp.concatenate([obs, action], -1))
        sz = Tower(self.preprocess_hidden, self.preprocess_dim)(jnp.concatenate([obs, z], -1))
        return Ensemble(2, self.hidden_sizes, self.z_dim)(jnp.concatenate([sa, sz], -1))


class BackwardMap(nn.Module):
    """``B(s)`` on the ``sqrt(d)`` sphere: Linear-LayerNorm-tanh, ReLU layers, Linear; with no
    hidden layers, one Linear (TD-JEPA's linear state encoder)."""

    z_dim: int
    hidden_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        if not self.hidden_sizes:
            return zero_shot.project_sphere(nn.Dense(self.z_dim)(obs))
        x = LayerNormTanh(self.hidden_sizes[0])(obs)
        x = MLP(self.hidden_sizes[1:], self.z_dim, activation="relu")(x)
        return zero_shot.project_sphere(x)


class Actor(nn.Module):
    """Deterministic ``pi(s, z)`` in ``[-1, 1]``: towers on ``(s, z)`` and ``s``, a ReLU head,
    ``tanh``."""

    action_dim: int
    preprocess_hidden: int
    preprocess_dim: int
    hidden_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, obs: jax.Array, z: jax.Array) -> jax.Array:
        sz = Tower(self.preprocess_hidden, self.preprocess_dim)(jnp.concatenate([obs, z], -1))
        s = Tower(self.preprocess_hidden, self.preprocess_dim)(obs)
        x = MLP(self.hidden_sizes, self.action_dim, activation="relu")(jnp.concatenate([sz, s], -1))
        return jnp.tanh(x)


class Networks(struct.PyTreeNode):
    forward: ForwardMap = struct.field(pytree_node=False)
    backward: BackwardMap = struct.field(pytree_node=False)
    actor: Actor = struct.field(pytree_node=False)


def make_networks(config: Config, env: Env) -> Networks:
    """F, B and the actor for ``env`` (Box actions, vector observations)."""
    action_dim = int(np.prod(require_box("FB", env).shape))
    return Networks(
        forward=ForwardMap(
            config.z_dim,
            config.preprocess_hidden,
            config.preprocess_dim,
            tuple(config.forward_hidden_sizes),
        ),
        backward=BackwardMap(config.z_dim, tuple(config.backward_hidden_sizes)),
        actor=Actor(
            action_dim,
            config.preprocess_hidden,
            config.preprocess_dim,
            tuple(config.actor_hidden_sizes),
        ),
    )


# --- data and state ----------------------------------------------------------------------------


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless FB can train on it
    (:func:`jaxrl.zero_shot.check_agent_env`: ``Box`` actions, vector observations)."""
    del config
    zero_shot.check_agent_env("FB", env)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> NormalizedDataset:
    """``dataset`` checked against ``env``, actions in ``[-1, 1]``, observations normalised with
    ``normalize_obs`` (:func:`jaxrl.zero_shot.prepare_agent_data`); its rewards are never read."""
    return zero_shot.prepare_agent_data("FB", env, dataset, config.normalize_obs)


class State(struct.PyTreeNode):
    """Everything a run needs to continue exactly (what checkpoints store)."""

    params: dict[str, Any]
    """``{"forward": ..., "backward": ..., "actor": ...}``."""
    target_params: dict[str, Any]
    """EMA copies of ``params["forward"]`` and ``params["backward"]``."""
    opt_state: dict[str, Any]
    """Adam states ``{"fb": ..., "actor": ...}`` (F and B share one)."""
    obs_mean: jax.Array
    obs_std: jax.Array
    z: jax.Array
    """``[d]``: the task :func:`act` follows (set by :func:`with_task`; a random z at init)."""
    key: jax.Array
    step: jax.Array
    """Gradient steps done."""


def steps_per_iteration(config: Config) -> int:
    """Gradient steps one ``train_step`` takes (1)."""
    del config
    return 1


def init(config: Config, env: Env, key: PRNGKey, data: NormalizedDataset) -> State:
    """Initialise F, B, the actor, their targets and optimisers (after ``config.validate()``
    and :func:`check_env`)."""
    config.validate()
    check_env(config, env)
    nets = make_networks(config, env)
    k_f, k_b, k_pi, k_z, key = jax.random.split(key, 5)
    obs = jnp.zeros((1, *env.spec.obs_shape), jnp.float32)
    act = jnp.zeros((1, nets.actor.action_dim), jnp.float32)
    z = jnp.zeros((1, config.z_dim), jnp.float32)
    params = {
        "forward": nets.forward.init(k_f, obs, act, z),
        "backward": nets.backward.init(k_b, obs),
        "actor": nets.actor.init(k_pi, obs, z),
    }
    fb = {"forward": params["forward"], "backward": params["backward"]}
    return State(
        params=params,
        target_params=fb,
        opt_state={
            "fb": optax.adam(config.learning_rate).init(fb),
            "actor": optax.adam(config.actor_learning_rate).init(params["actor"]),
        },
        obs_mean=data.obs_mean,
        obs_std=data.obs_std,
        z=zero_shot.sample_z(k_z, 1, config.z_dim)[0],
        key=key,
        step=jnp.zeros((), jnp.int32),
    )


# --- the policy --------------------------------------------------------------------------------


def policy(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    z: jax.Array,
    key: PRNGKey | None = None,
) -> jax.Array:
    """``pi_z`` on raw observations ``[N, ...]`` with tasks ``z [N, d]``: env actions
    (deterministic: ``key`` is unused, taken so that every zero-shot agent's ``policy`` has
    one signature; BREEZE's samples)."""
    del key
    nets = make_networks(config, env)
    unit = nets.actor.apply(state.params["actor"], normalize(obs, state.obs_mean, state.obs_std), z)
    return env_actions(env, unit)


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = True,
) -> jax.Array:
    """``pi_z`` with the state's task ``state.z`` (deterministic; ``key`` unused)."""
    del deterministic
    return zero_shot.act_on_state_task(policy, config, env, state, obs, key)


def backward(config: Config, env: Env, state: State, obs: jax.Array) -> jax.Array:
    """``B`` of raw observations ``[N, ...]``: ``[N, d]`` on the sphere."""
    nets = make_networks(config, env)
    return nets.backward.apply(
        state.params["backward"], normalize(obs, state.obs_mean, state.obs_std)
    )


def infer_task(
    config: Config,
    env: Env,
    state: State,
    next_obs: jax.Array,
    rewards: jax.Array,
) -> jax.Array:
    """Zero-shot task inference (Touati et al. 2023, eq. 7): ``z_r = sqrt(d) normalise(mean_i
    r_i B(s'_i))`` over reward-labelled next observations ``[N, ...]`` and rewards ``[N]``."""
    return zero_shot.infer_z_from_rewards(backward(config, env, state, next_obs), rewards)


def infer_task_from_data(
    config: Config, env: Env, state: State, data: Any, rewards: jax.Array, key: PRNGKey
) -> jax.Array:
    """:func:`infer_task` on ``config.inference_samples`` random rows of ``data``, ``rewards
    [N]`` the task's reward of every row (:func:`jaxrl.zero_shot.infer_task_from_rows`)."""
    return zero_shot.infer_task_from_rows(infer_task, config, env, state, data, rewards, key)


with_task = zero_shot.with_task
"""``with_task(state, z)``: ``state`` whose :func:`act` follows task ``z``."""


# --- the update --------------------------------------------------------------------------------


def training_tasks(
    config: Config, nets: Networks, params: Any, next_obs: jax.Array, key: PRNGKey
) -> jax.Array:
    """The batch's tasks: random z, a ``z_mix_prob`` share replaced by B of batch next states
    (not differentiated)."""
    k_z, k_mix = jax.random.split(key)
    z = zero_shot.sample_z(k_z, next_obs.shape[0], config.z_dim)
    embeddings = jax.lax.stop_gradient(nets.backward.apply(params["backward"], next_obs))
    return zero_shot.mix_z(k_mix, z, embeddings, config.z_mix_prob)


def fb_loss(
    config: Config,
    nets: Networks,
    fb_params: Any,
    target_params: Any,
    actor_params: Any,
    batch: dict[str, jax.Array],
    z: jax.Array,
    key: PRNGKey,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The measure loss summed over the twin ``F`` against the ``min`` of the target twins,
    plus ``ortho_coef`` times the orthonormality loss of ``B(s')``."""
    pi_next = nets.actor.apply(actor_params, batch["next_obs"], z)
    next_action = target_action(pi_next, key, config.policy_noise, config.noise_clip)
    target_f = nets.forward.apply(target_params["forward"], batch["next_obs"], next_action, z)
    target_b = nets.backward.apply(target_params["backward"], batch["next_obs"])
    f = nets.forward.apply(fb_params["forward"], batch["obs"], batch["action"], z)
    b = nets.backward.apply(fb_params["backward"], batch["next_obs"])
    discount = config.discount * batch["mask"]
    return zero_shot.twin_measure_loss(
        f, b, target_f, target_b, discount, config.ortho_coef, config.ortho_form
    )


def actor_loss(
    nets: Networks,
    actor_params: Any,
    forward_params: Any,
    obs: jax.Array,
    z: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """``-mean_i min_k F_k(s_i, pi(s_i, z_i), z_i)^T z_i`` (controllable_agent's actor loss
    with the deterministic TD3 action)."""
    pi = nets.actor.apply(actor_params, obs, z)
    f = nets.forward.apply(forward_params, obs, pi, z)
    q = jnp.min(jnp.einsum("eid,id->ei", f, z), axis=0)
    return -jnp.mean(q), {"q_mean": jnp.mean(q)}


def train_step(
    config: Config, env: Env, state: State, data: NormalizedDataset
) -> tuple[State, Metrics]:
    """One FB gradient step: tasks, the F/B update, the actor update on the new F, targets."""
    nets = make_networks(config, env)
    key, k_batch, k_z, k_noise = jax.random.split(state.key, 4)
    batch = sample_transitions(data, k_batch, config.batch_size)
    z = training_tasks(config, nets, state.params, batch["next_obs"], k_z)
    fb_params = {"forward": state.params["forward"], "backward": state.params["backward"]}
    (_, fb_info), grads = jax.value_and_grad(fb_loss, argnums=2, has_aux=True)(
        config, nets, fb_params, state.target_params, state.params["actor"], batch, z, k_noise
    )
    updates, fb_opt = optax.adam(config.learning_rate).update(
        grads, state.opt_state["fb"], fb_params
    )
    fb_params = optax.apply_updates(fb_params, updates)
    (a_loss, a_info), a_grads = jax.value_and_grad(actor_loss, argnums=1, has_aux=True)(
        nets, state.params["actor"], fb_params["forward"], batch["obs"], z
    )
    a_updates, actor_opt = optax.adam(config.actor_learning_rate).update(
        a_grads, state.opt_state["actor"], state.params["actor"]
    )
    params = {**fb_params, "actor": optax.apply_updates(state.params["actor"], a_updates)}
    state = state.replace(
        params=params,
        target_params=ema(fb_params, state.target_params, config.tau),
        opt_state={"fb": fb_opt, "actor": actor_opt},
        key=key,
        step=state.step + 1,
    )
    metrics = {
        **fb_info,
        **a_info,
        "actor_loss": a_loss,
        "fb_grad_norm": optax.tree.norm(grads),
        "actor_grad_norm": optax.tree.norm(a_grads),
    }
    return state, metrics


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
