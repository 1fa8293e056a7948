"""BREEZE: behaviour-regularised zero-shot RL with a diffusion policy (Zheng, Teyssier et al.,
"Towards Robust Zero-Shot Reinforcement Learning", NeurIPS 2025, arXiv:2510.15382; official
PyTorch code Whiterrrrr/BREEZE).

BREEZE is FB (:mod:`jaxrl.agents.fb`) made in-sample. It learns the same ``F(s, a, z)`` and
``B(s')`` (the successor measure ``M^{pi_z} ~ F^T B rho``, ``Q_z = F^T z``, tasks inferred by
``z_r = E[r B]``), but never maximises Q over actions a network proposes:

1. **the FB target's next action** :func:`next_action`: with probability ``rho_a`` the dataset's
   own next action, otherwise the best (under the target ``Q_z``) of ``K_train`` samples of the
   EMA diffusion actor;
2. **an expectile value** ``V(s, z)`` (IQL, :func:`expectile_value_loss`) of the dataset's
   actions, and a **Q-regulariser** :func:`q_regulariser` pulling ``Q_z = F^T z`` toward
   ``r_z(s') + gamma V(s', z)`` with the implicit reward ``r_z = B(s')^T Cov^-1 z``
   (:func:`implicit_reward`);
3. **a task-conditioned diffusion policy** trained by advantage-weighted denoising
   (:func:`awr_weights`, :func:`awr_diffusion_loss`), which acts by best-of-``K_eval`` samples
   under ``Q_z`` (:func:`policy`): its actions stay in the data's support;
4. **attention networks**: ``F`` self-attends over two 512-d tokens (embeddings of ``(s, a)``
   and ``(s, z)``), ``B`` is a transformer encoder-decoder (:class:`AttentionForward`,
   :class:`TransformerBackward`); ``arch="mlp"`` uses FB's towers instead (CPU scale).

One ``train_step`` is one gradient step (``steps_per_iteration`` = 1): tasks, the F/B update
(measure loss of the twin F against the min of the target twins at :func:`next_action`,
``ortho_coef`` x orthonormality of B, ``q_reg_coef`` x the Q-regulariser), the value update, the
actor update, then the EMA of the target F and B (``tau``) and of the actor (``actor_tau``).
The EMA actor does all the sampling (targets and acting). Every optimiser is AdamW after an
elementwise gradient clamp to ``[-grad_clip, grad_clip]``; F and B's learning rate follows
cosine annealing with warm restarts (periods 5, 10, 20, ... gradient steps: torch's
``CosineAnnealingWarmRestarts(T_0=5, T_mult=2)`` stepped every gradient step).

Defaults are the paper's walker setting (spec table; ``presets.BREEZE_PRESETS``). Where we differ
from the official code, on purpose:

* actions live in ``[-1, 1]`` (the env's box, as every agent here), not z-scored with the data's
  statistics; samples are clipped to the box after the chain (the official code does not clip,
  its actions are unbounded z-scores that the env clips).
* ``Cov^-1 z`` is a solve with ``Cov + cov_ridge I`` (ridge 1e-4 by default) rather than an
  exact inverse: B lies on the ``sqrt(d)`` sphere so ``Cov`` has trace ``d`` and is well
  conditioned once B trains, but at init and with small batches it can be near-singular, and a
  gradient through an inverse of a singular matrix is NaN.
* ``B``'s transformer sees one token (the observation) and one decoder query, so every
  attention is over a sequence of length one: its softmax is 1 and the attention is exactly its
  value and output projections; we write it that way (:class:`TransformerBackward`), which is
  the same function as torch's ``nn.Transformer`` on those inputs whatever the head count
  (so B has 5.0 M parameters where the official has 5.8 M: the query and key projections that
  a length-one attention never uses are not there; F has 9.6 M and the actor 26.6 M, as the
  official).
* the tasks' ``B`` share (:func:`jaxrl.agents.fb.training_tasks`) embeds batch *next* states,
  as FB's references; the official BREEZE embeds a permutation of the batch's states (the same
  distribution up to one step).
* the measure loss and the Q-regulariser discount by ``gamma (1 - terminal)``; the official
  code uses a constant gamma. Reward-free data (ExORL, ``make_dataset.py exorl``) has no
  terminals, so the two agree there.
* the diffusion actor keeps flax's default init (LeCun-normal weights, zero biases) where the
  official one keeps torch's (uniform weights and biases); F and B have the official
  orthogonal weights and zero biases (:func:`dense`).
* ``arch="mlp"`` (not in the paper) for CPU-scale tests: FB's networks (:class:`jaxrl.agents.fb.
  ForwardMap`, :class:`jaxrl.agents.fb.BackwardMap`) with no dropout.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl import generative, zero_shot
from jaxrl.agents.fb import BackwardMap, ForwardMap, LayerNormTanh, training_tasks
from jaxrl.agents.td3_bc import env_actions
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
from jaxrl.data import Dataset, sample_transitions
from jaxrl.data.transforms import NormalizedDataset, normalize
from jaxrl.networks import ema
from jaxrl.types import Env, Metrics, PRNGKey
from jaxrl.zero_shot import OrthoForm

NAME = "breeze"

Arch = Literal["attention", "mlp"]


@struct.dataclass
class Config:
    """BREEZE hyperparameters (defaults: the paper's walker setting, see the module docstring).
    Float fields are pytree leaves (vmappable in sweeps); fields marked static fix shapes and
    loop counts."""

    learning_rate: float = 1e-4
    """AdamW step size of F and B at each warm restart, >= 0."""
    min_learning_rate: float = 1e-5
    """F and B's step size at the end of each cosine period (torch's ``eta_min``), >= 0."""
    value_learning_rate: float = 3e-4
    """AdamW step size of V, >= 0."""
    actor_learning_rate: float = 1e-4
    """AdamW step size of the diffusion actor, >= 0."""
    weight_decay: float = 0.03
    """AdamW weight decay of F, B and V, >= 0."""
    actor_weight_decay: float = 0.01
    """AdamW weight decay of the actor (torch's AdamW default), >= 0."""
    adam_b2: float = 0.99
    """Adam's second-moment rate for F, B and V, in [0, 1]."""
    grad_clip: float = 1.0
    """Every gradient entry of F, B and the actor is clamped to [-grad_clip, grad_clip] (not
    V's, as the official code), > 0."""
    discount: float = 0.98
    """Discount gamma of the successor measure, in [0, 1]."""
    tau: float = 0.01
    """EMA rate of the target F and B, in [0, 1]."""
    actor_tau: float = 0.001
    """EMA rate of the actor copy that does all the sampling, in [0, 1]."""
    ortho_coef: float = 10.0
    """Weight of the orthonormality loss of B, >= 0."""
    q_reg_coef: float = 1e-3
    """Weight omega_q of the Q-regulariser (:func:`q_regulariser`), >= 0."""
    cov_ridge: float = 1e-4
    """Ridge added to the in-batch ``Cov = B^T B / n`` before solving ``Cov^-1 z``, >= 0."""
    z_mix_prob: float = 0.5
    """Probability that a training task z is B of a batch next state instead of a random z,
    in [0, 1]."""
    expectile: float = 0.99
    """Expectile tau of V (:func:`expectile_value_loss`), in (0, 1)."""
    awr_temperature: float = 0.05
    """alpha of the advantage weights ``exp(alpha (Q - V))`` ("guide_weight"), >= 0."""
    awr_max_weight: float = 100.0
    """The advantage weights are clipped at this value, > 0."""
    dataset_action_prob: float = 0.1
    """rho_a: probability that the FB target uses the dataset's next action instead of the best
    EMA-actor sample, in [0, 1] (1: pure SARSA)."""
    train_samples: int = struct.field(pytree_node=False, default=9)
    """K_train: EMA-actor samples the FB target's next action is the best of, >= 1 (static)."""
    eval_samples: int = struct.field(pytree_node=False, default=64)
    """K_eval: actor samples the acting rule picks the best of, >= 1 (static)."""
    diffusion_steps: int = struct.field(pytree_node=False, default=5)
    """T of the DDPM (VP schedule, :meth:`jaxrl.generative.DiffusionSchedule.vp`), >= 1
    (static)."""
    z_dim: int = struct.field(pytree_node=False, default=50)
    """Dimension d of z, F and B, >= 1 (static)."""
    batch_size: int = struct.field(pytree_node=False, default=512)
    """Transitions per gradient step, >= 2 (off-diagonal pairs; static)."""
    arch: Arch = struct.field(pytree_node=False, default="attention")
    """F and B: "attention" (the paper's) or "mlp" (FB's towers, for CPU scale; static)."""
    preprocess_hidden: int = struct.field(pytree_node=False, default=1024)
    """Hidden width of F's token embeddings (attention) or first layer of its towers (mlp),
    >= 1 (static)."""
    preprocess_dim: int = struct.field(pytree_node=False, default=512)
    """Token width of F (attention) or tower output (mlp), >= 1 (static)."""
    forward_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(256,))
    """Hidden widths of each twin F head, >= 1 each (attention: linear, no activation, as the
    paper; mlp: ReLU; static)."""
    attention_blocks: int = struct.field(pytree_node=False, default=2)
    """Self-attention blocks of F, >= 1 (static)."""
    attention_ff: int = struct.field(pytree_node=False, default=2048)
    """Feed-forward width in F's blocks and B's transformer layers, >= 1 (static)."""
    backward_dim: int = struct.field(pytree_node=False, default=256)
    """d_model of B's transformer, >= 1 (static; attention only)."""
    backward_layers: int = struct.field(pytree_node=False, default=2)
    """Encoder layers and decoder layers of B's transformer, >= 1 (static; attention only)."""
    backward_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(256, 256))
    """B's widths with arch="mlp" (FB's BackwardMap), >= 1 each (static)."""
    dropout: float = struct.field(pytree_node=False, default=0.1)
    """Dropout rate of the attention F and B and of the actor's blocks while training, in
    [0, 1] (static)."""
    value_hidden: int = struct.field(pytree_node=False, default=512)
    """Width of V's two hidden layers, >= 1 (static)."""
    actor_hidden: int = struct.field(pytree_node=False, default=1024)
    """Width of the diffusion actor's residual stream (blocks widen it 4x), >= 1 (static)."""
    actor_blocks: int = struct.field(pytree_node=False, default=3)
    """FiLM residual blocks of the diffusion actor, >= 1 (static)."""
    time_features: int = struct.field(pytree_node=False, default=64)
    """Learned Fourier features of the diffusion step (even, >= 2; static)."""
    time_hidden: int = struct.field(pytree_node=False, default=128)
    """Width of the MLP on the time features, >= 1 (static)."""
    inference_samples: int = struct.field(pytree_node=False, default=10_000)
    """Reward-labelled dataset rows :func:`infer_task` averages B over, >= 1 (static)."""
    ortho_form: OrthoForm = struct.field(pytree_node=False, default="controllable_agent")
    """Which orthonormality loss: "controllable_agent" (BREEZE's) or "metamotivo" (static)."""
    normalize_obs: bool = struct.field(pytree_node=False, default=False)
    """Normalise observations with the dataset's mean and std (also when acting; static)."""

    def validate(self) -> None:
        """Raise a ValueError naming the field, its value and what is allowed."""
        check_ranges(self, RANGES)
        check_sizes(self, ("forward_hidden_sizes", "backward_hidden_sizes"))
        if self.batch_size < 2:
            raise ValueError(
                f"Config.batch_size={self.batch_size}: the measure loss needs at least 2 rows "
                "(off-diagonal pairs)"
            )
        if self.time_features % 2:
            raise ValueError(
                f"Config.time_features={self.time_features}: must be even (cosines and sines)"
            )
        check_choices(self)


RANGES: tuple[RangeSpec, ...] = (
    ("learning_rate", NONNEGATIVE),
    ("min_learning_rate", NONNEGATIVE),
    ("value_learning_rate", NONNEGATIVE),
    ("actor_learning_rate", NONNEGATIVE),
    ("weight_decay", NONNEGATIVE),
    ("actor_weight_decay", NONNEGATIVE),
    ("adam_b2", UNIT),
    ("grad_clip", POSITIVE),
    ("discount", UNIT),
    ("tau", UNIT),
    ("actor_tau", UNIT),
    ("ortho_coef", NONNEGATIVE),
    ("q_reg_coef", NONNEGATIVE),
    ("cov_ridge", NONNEGATIVE),
    ("z_mix_prob", UNIT),
    ("expectile", Range(0.0, 1.0, low_open=True, high_open=True)),
    ("awr_temperature", NONNEGATIVE),
    ("awr_max_weight", POSITIVE),
    ("dataset_action_prob", UNIT),
    ("train_samples", COUNT),
    ("eval_samples", COUNT),
    ("diffusion_steps", COUNT),
    ("z_dim", COUNT),
    ("batch_size", COUNT),
    ("preprocess_hidden", COUNT),
    ("preprocess_dim", COUNT),
    ("attention_blocks", COUNT),
    ("attention_ff", COUNT),
    ("backward_dim", COUNT),
    ("backward_layers", COUNT),
    ("dropout", UNIT),
    ("value_hidden", COUNT),
    ("actor_hidden", COUNT),
    ("actor_blocks", COUNT),
    ("time_features", Range(2, integer=True)),
    ("time_hidden", COUNT),
    ("inference_samples", COUNT),
)
"""Allowed values of every numeric field (checked by ``Config.validate``)."""


# --- networks ----------------------------------------------------------------------------------


def dense(features: int, **kwargs: Any) -> nn.Dense:
    """The official ``weight_init`` of F and B: orthogonal weights, zero biases."""
    return nn.Dense(features, kernel_init=nn.initializers.orthogonal(), **kwargs)


class Preprocessor(nn.Module):
    """A token of F: Linear-ReLU, Linear-ReLU, Linear-ReLU (the paper's 1024, 1024, 512)."""

    hidden: int
    out: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(dense(self.hidden)(x))
        x = nn.relu(dense(self.hidden)(x))
        return nn.relu(dense(self.out)(x))


class AttentionBlock(nn.Module):
    """One block of F over its tokens ``[..., n, w]``: single-head scaled dot-product
    self-attention (no residual around it), then ``x = a + FF(LayerNorm(a))`` with FF =
    RMSNorm, Linear 4x, GELU, Dropout, Linear, Dropout; then Dropout and LayerNorm."""

    ff: int
    dropout: float

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
        width = x.shape[-1]
        q, k, v = (dense(width)(x) for _ in range(3))
        weights = jax.nn.softmax(q @ jnp.swapaxes(k, -1, -2) / math.sqrt(width), axis=-1)
        a = weights @ v
        h = nn.RMSNorm()(nn.LayerNorm()(a))
        h = nn.Dropout(self.dropout)(nn.gelu(dense(self.ff)(h)), deterministic)
        h = nn.Dropout(self.dropout)(dense(width)(h), deterministic)
        x = nn.Dropout(self.dropout)(a + h, deterministic)
        return nn.LayerNorm()(x)


class AttentionForward(nn.Module):
    """The paper's twin ``F(s, a, z)``: tokens ``(s, z)`` and ``(s, a)``, attention blocks,
    flattened, two linear heads (no activation between their layers); ``[2, N, d]``."""

    z_dim: int
    preprocess_hidden: int
    preprocess_dim: int
    head_sizes: tuple[int, ...]
    blocks: int
    ff: int
    dropout: float

    @nn.compact
    def __call__(
        self, obs: jax.Array, action: jax.Array, z: jax.Array, deterministic: bool = True
    ) -> jax.Array:
        tokens = jnp.stack(
            [
                Preprocessor(self.preprocess_hidden, self.preprocess_dim)(
                    jnp.concatenate([obs, z], -1)
                ),
                Preprocessor(self.preprocess_hidden, self.preprocess_dim)(
                    jnp.concatenate([obs, action], -1)
                ),
            ],
            axis=-2,
        )
        for _ in range(self.blocks):
            tokens = AttentionBlock(self.ff, self.dropout)(tokens, deterministic)
        x = tokens.reshape(*tokens.shape[:-2], -1)
        heads = []
        for _ in range(2):
            h = x
            for width in (*self.head_sizes, self.z_dim):
                h = dense(width)(h)
            heads.append(h)
        return jnp.stack(heads)


class TransformerBackward(nn.Module):
    """The paper's ``B(s)``: torch ``nn.Transformer`` (post-norm, ReLU feed-forward) whose
    encoder sees one token ``Linear(s)`` and whose decoder one learned query, then a Linear to
    ``R^d`` on the ``sqrt(d)`` sphere. On length-one sequences attention is its value and output
    projections (the softmax over one key is 1), written so here."""

    z_dim: int
    width: int
    layers: int
    ff: int
    dropout: float

    def _attend(self, x: jax.Array) -> jax.Array:
        return dense(self.width)(dense(self.width)(x))

    def _sublayer(self, x: jax.Array, y: jax.Array, deterministic: bool) -> jax.Array:
        return nn.LayerNorm()(x + nn.Dropout(self.dropout)(y, deterministic))

    def _feed_forward(self, x: jax.Array, deterministic: bool) -> jax.Array:
        h = nn.Dropout(self.dropout)(nn.relu(dense(self.ff)(x)), deterministic)
        return dense(self.width)(h)

    @nn.compact
    def __call__(self, obs: jax.Array, deterministic: bool = True) -> jax.Array:
        memory = dense(self.width)(obs)
        for _ in range(self.layers):
            memory = self._sublayer(memory, self._attend(memory), deterministic)
            memory = self._sublayer(
                memory, self._feed_forward(memory, deterministic), deterministic
            )
        memory = nn.LayerNorm()(memory)
        query = self.param("query", nn.initializers.normal(1.0), (self.width,))
        x = jnp.broadcast_to(query, memory.shape)
        for _ in range(self.layers):
            x = self._sublayer(x, self._attend(x), deterministic)
            x = self._sublayer(x, self._attend(memory), deterministic)
            x = self._sublayer(x, self._feed_forward(x, deterministic), deterministic)
        x = nn.LayerNorm()(x)
        return zero_shot.project_sphere(dense(self.z_dim)(x))


class Value(nn.Module):
    """``V(s, z)``: Linear-LayerNorm-tanh, Linear-ReLU, Linear; ``[N]``."""

    hidden: int

    @nn.compact
    def __call__(self, obs: jax.Array, z: jax.Array) -> jax.Array:
        x = LayerNormTanh(self.hidden)(jnp.concatenate([obs, z], -1))
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(1)(x)[..., 0]


class FourierFeatures(nn.Module):
    """Learned Fourier features of a scalar: ``[cos 2 pi t w, sin 2 pi t w]``, ``w ~ N(0,
    0.2^2)`` (IDQL's time embedding)."""

    features: int

    @nn.compact
    def __call__(self, t: jax.Array) -> jax.Array:
        w = self.param("kernel", nn.initializers.normal(0.2), (self.features // 2,))
        f = 2.0 * jnp.pi * t[..., None] * w
        return jnp.concatenate([jnp.cos(f), jnp.sin(f)], -1)


class FiLMBlock(nn.Module):
    """IDQL's residual block with BREEZE's task FiLM: ``x + Linear(gamma(z) * mish(Linear 4x
    (LayerNorm(Dropout(x)))) + beta(z))`` with ``gamma``, ``beta`` linear in ``z`` and
    **zero-initialised** (multiplicative gamma: at init the block is the identity and z has no
    effect)."""

    hidden: int
    dropout: float

    @nn.compact
    def __call__(self, x: jax.Array, z: jax.Array, deterministic: bool = True) -> jax.Array:
        h = nn.LayerNorm()(nn.Dropout(self.dropout)(x, deterministic))
        h = jax.nn.mish(nn.Dense(4 * self.hidden)(h))
        zeros = nn.initializers.zeros
        gamma = nn.Dense(4 * self.hidden, kernel_init=zeros, name="film_gamma")(z)
        beta = nn.Dense(4 * self.hidden, kernel_init=zeros, name="film_beta")(z)
        return x + nn.Dense(self.hidden)(gamma * h + beta)


class DiffusionActor(nn.Module):
    """The noise predictor ``eps(x_t, t, s, z)`` of the task-conditioned diffusion policy, in
    :mod:`jaxrl.generative`'s ``apply(params, cond, x, t)`` convention with ``cond = [s, z]``
    (the last ``z_dim`` entries are z). ``t`` is the step index ``0..T-1`` as a float."""

    action_dim: int
    z_dim: int
    hidden: int
    blocks: int
    time_features: int
    time_hidden: int
    dropout: float

    @nn.compact
    def __call__(
        self, cond: jax.Array, x: jax.Array, t: jax.Array, deterministic: bool = True
    ) -> jax.Array:
        obs, z = cond[..., : -self.z_dim], cond[..., -self.z_dim :]
        time = FourierFeatures(self.time_features)(t)
        time = nn.Dense(self.time_hidden)(jax.nn.mish(nn.Dense(self.time_hidden)(time)))
        h = nn.Dense(self.hidden)(jnp.concatenate([time, x, obs], -1))
        for _ in range(self.blocks):
            h = FiLMBlock(self.hidden, self.dropout)(h, z, deterministic)
        return nn.Dense(self.action_dim)(jax.nn.mish(h))


def _apply(module: nn.Module, params: Any, *args: jax.Array, key: PRNGKey | None = None) -> Any:
    """``module.apply``; with a ``key``, in training mode (dropout on) when the module has
    dropout (the attention networks and the actor; FB's MLPs have none)."""
    if key is None or not getattr(module, "dropout", 0.0):
        return module.apply(params, *args)
    return module.apply(params, *args, deterministic=False, rngs={"dropout": key})


class Networks(struct.PyTreeNode):
    forward: nn.Module = struct.field(pytree_node=False)
    backward: nn.Module = struct.field(pytree_node=False)
    value: Value = struct.field(pytree_node=False)
    actor: DiffusionActor = struct.field(pytree_node=False)
    schedule: generative.DiffusionSchedule


def make_networks(config: Config, env: Env) -> Networks:
    """F, B, V and the diffusion actor for ``env`` (Box actions, vector observations)."""
    action_dim = int(np.prod(require_box("BREEZE", env).shape))
    if config.arch == "attention":
        forward = AttentionForward(
            config.z_dim,
            config.preprocess_hidden,
            config.preprocess_dim,
            tuple(config.forward_hidden_sizes),
            config.attention_blocks,
            config.attention_ff,
            config.dropout,
        )
        backward = TransformerBackward(
            config.z_dim,
            config.backward_dim,
            config.backward_layers,
            config.attention_ff,
            config.dropout,
        )
    else:
        forward = ForwardMap(
            config.z_dim,
            config.preprocess_hidden,
            config.preprocess_dim,
            tuple(config.forward_hidden_sizes),
        )
        backward = BackwardMap(config.z_dim, tuple(config.backward_hidden_sizes))
    return Networks(
        forward=forward,
        backward=backward,
        value=Value(config.value_hidden),
        actor=DiffusionActor(
            action_dim,
            config.z_dim,
            config.actor_hidden,
            config.actor_blocks,
            config.time_features,
            config.time_hidden,
            config.dropout,
        ),
        schedule=generative.DiffusionSchedule.vp(config.diffusion_steps),
    )


def warm_restarts(
    step: jax.Array, high: jax.Array, low: jax.Array, first_period: int = 5
) -> jax.Array:
    """Cosine annealing with warm restarts (Loshchilov and Hutter 2017; torch's
    ``CosineAnnealingWarmRestarts(T_0=first_period, T_mult=2, eta_min=low)``) at gradient step
    ``step``: period ``i`` lasts ``T_0 2^i`` steps and starts at ``T_0 (2^i - 1)``, and within
    it the rate falls from ``high`` to ``low`` as ``low + (high - low)(1 + cos(pi t / T_i)) /
    2``. A closed form rather than ``optax.sgdr_schedule``, which cannot take traced rates
    (sweeps vmap them)."""
    n = jnp.asarray(step, jnp.float32)
    i = jnp.floor(jnp.log2(n / first_period + 1.0))
    start = first_period * (2.0**i - 1.0)
    i = jnp.where(n < start, i - 1, jnp.where(n >= first_period * (2.0 ** (i + 1) - 1), i + 1, i))
    start = first_period * (2.0**i - 1.0)
    period = first_period * 2.0**i
    return low + (high - low) * 0.5 * (1.0 + jnp.cos(jnp.pi * (n - start) / period))


def optimisers(config: Config) -> dict[str, optax.GradientTransformation]:
    """The official optimisers: AdamW after an elementwise clamp of the gradient for F+B (cosine
    annealing with warm restarts, periods 5, 10, 20, ... steps, from ``learning_rate`` to
    ``min_learning_rate``; betas (0.9, ``adam_b2``)) and for the actor (torch's AdamW defaults
    but the rate: betas (0.9, 0.999), weight decay ``actor_weight_decay``); V's AdamW has no
    clamp (betas (0.9, ``adam_b2``))."""
    restarts = functools.partial(
        warm_restarts, high=config.learning_rate, low=config.min_learning_rate
    )
    clip = optax.clip(config.grad_clip)
    return {
        "fb": optax.chain(
            clip, optax.adamw(restarts, b2=config.adam_b2, weight_decay=config.weight_decay)
        ),
        "value": optax.adamw(
            config.value_learning_rate, b2=config.adam_b2, weight_decay=config.weight_decay
        ),
        "actor": optax.chain(
            clip, optax.adamw(config.actor_learning_rate, weight_decay=config.actor_weight_decay)
        ),
    }


# --- data and state ----------------------------------------------------------------------------


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless BREEZE can train on it
    (:func:`jaxrl.zero_shot.check_agent_env`: ``Box`` actions, vector observations)."""
    del config
    zero_shot.check_agent_env("BREEZE", env)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> NormalizedDataset:
    """``dataset`` checked against ``env``, actions in ``[-1, 1]``, observations normalised with
    ``normalize_obs`` (:func:`jaxrl.zero_shot.prepare_agent_data`); its rewards are never read."""
    return zero_shot.prepare_agent_data("BREEZE", env, dataset, config.normalize_obs)


class State(struct.PyTreeNode):
    """Everything a run needs to continue exactly (what checkpoints store)."""

    params: dict[str, Any]
    """``{"forward", "backward", "value", "actor"}``."""
    target_params: dict[str, Any]
    """EMA copies of ``params["forward"]`` and ``params["backward"]`` (rate ``tau``)."""
    actor_ema: Any
    """EMA copy of ``params["actor"]`` (rate ``actor_tau``): the actor that samples."""
    opt_state: dict[str, Any]
    """AdamW states ``{"fb", "value", "actor"}``."""
    obs_mean: jax.Array
    obs_std: jax.Array
    z: jax.Array
    """``[d]``: the task :func:`act` follows (set by :func:`with_task`)."""
    key: jax.Array
    step: jax.Array
    """Gradient steps done."""


def steps_per_iteration(config: Config) -> int:
    """Gradient steps one ``train_step`` takes (1)."""
    del config
    return 1


def init(config: Config, env: Env, key: PRNGKey, data: NormalizedDataset) -> State:
    """Initialise F, B, V, the actor, their EMA copies and optimisers (after
    ``config.validate()`` and :func:`check_env`)."""
    config.validate()
    check_env(config, env)
    nets = make_networks(config, env)
    k_f, k_b, k_v, k_pi, k_z, key = jax.random.split(key, 6)
    obs = jnp.zeros((1, *env.spec.obs_shape), jnp.float32)
    act = jnp.zeros((1, nets.actor.action_dim), jnp.float32)
    z = jnp.zeros((1, config.z_dim), jnp.float32)
    params = {
        "forward": nets.forward.init(k_f, obs, act, z),
        "backward": nets.backward.init(k_b, obs),
        "value": nets.value.init(k_v, obs, z),
        "actor": nets.actor.init(k_pi, jnp.concatenate([obs, z], -1), act, jnp.zeros((1,))),
    }
    fb = {"forward": params["forward"], "backward": params["backward"]}
    opt = optimisers(config)
    return State(
        params=params,
        target_params=fb,
        actor_ema=params["actor"],
        opt_state={
            "fb": opt["fb"].init(fb),
            "value": opt["value"].init(params["value"]),
            "actor": opt["actor"].init(params["actor"]),
        },
        obs_mean=data.obs_mean,
        obs_std=data.obs_std,
        z=zero_shot.sample_z(k_z, 1, config.z_dim)[0],
        key=key,
        step=jnp.zeros((), jnp.int32),
    )


# --- the paper's quantities --------------------------------------------------------------------


def q_value(f: jax.Array, z: jax.Array) -> jax.Array:
    """``Q_z = min_k F_k^T z`` over the twins: ``f [2, ..., d]``, ``z [..., d]`` -> ``[...]``."""
    return jnp.min(jnp.sum(f * z, axis=-1), axis=0)


def implicit_reward(b: jax.Array, z: jax.Array, ridge: jax.Array) -> jax.Array:
    """``r_z(s') = B(s')^T Cov^-1 z`` with the in-batch ``Cov = B^T B / n`` (the reward whose
    FB task is z: ``z = E[r B]`` gives ``r = B^T Cov^-1 z``). ``b [n, d]``, ``z [n, d]`` (one
    task per row) -> ``[n]``. Differentiable in ``b`` through ``Cov^-1`` too (the paper does not
    detach it); solved with ``Cov + ridge I`` (module docstring)."""
    n, d = b.shape
    cov = b.T @ b / n + ridge * jnp.eye(d, dtype=b.dtype)
    return jnp.sum(b * jnp.linalg.solve(cov, z.T).T, axis=-1)


def q_regulariser(
    f: jax.Array, z: jax.Array, reward: jax.Array, next_value: jax.Array, discount: jax.Array
) -> jax.Array:
    """``0.5 sum_k mean_i (F_k(s_i, a_i, z_i)^T z_i - y_i)^2`` with the one-step target
    ``y = r_z(s') + gamma sg(V(s', z))``: ``f [2, n, d]``, the rest ``[n]``. The reward is not
    detached (gradients reach B through it)."""
    y = reward + discount * jax.lax.stop_gradient(next_value)
    q = jnp.sum(f * z, axis=-1)
    return 0.5 * jnp.sum(jnp.mean((q - y) ** 2, axis=-1))


def expectile_value_loss(q: jax.Array, v: jax.Array, expectile: jax.Array) -> jax.Array:
    """IQL's expectile regression: ``mean |tau - 1[u < 0]| u^2`` with ``u = sg(Q) - V``."""
    u = jax.lax.stop_gradient(q) - v
    return jnp.mean(jnp.abs(expectile - (u < 0)) * u**2)


def awr_weights(
    q: jax.Array, v: jax.Array, temperature: jax.Array, max_weight: jax.Array
) -> jax.Array:
    """``min(exp(alpha (Q - V)), w_max)``, not differentiated."""
    return jax.lax.stop_gradient(jnp.minimum(jnp.exp(temperature * (q - v)), max_weight))


def awr_diffusion_loss(weights: jax.Array, eps_hat: jax.Array, eps: jax.Array) -> jax.Array:
    """Advantage-weighted denoising: ``mean_i w_i ||eps_hat_i - eps_i||^2`` (the squared error
    summed over action dimensions, as IDQL and BREEZE)."""
    return jnp.mean(weights * jnp.sum((eps_hat - eps) ** 2, axis=-1))


def actor_apply(nets: Networks, key: PRNGKey | None = None) -> generative.ApplyFn:
    """The actor as :mod:`jaxrl.generative`'s ``apply(params, cond, x, t)``: the generative
    module's time ``t / T`` back to the step index; dropout on when ``key`` is given."""
    steps = nets.schedule.num_steps

    def apply(params: Any, cond: jax.Array, x: jax.Array, t: jax.Array) -> jax.Array:
        return _apply(nets.actor, params, cond, x, t * steps, key=key)

    return apply


def sample_actions(
    nets: Networks,
    actor_params: Any,
    obs: jax.Array,
    z: jax.Array,
    key: PRNGKey,
    num: int,
    dropout_key: PRNGKey | None = None,
) -> jax.Array:
    """``num`` actions per row from the diffusion policy (ancestral DDPM, clipped to
    ``[-1, 1]``): ``obs [n, ...]``, ``z [n, d]`` -> ``[n, num, action_dim]``; dropout on with
    ``dropout_key``."""
    cond = jnp.concatenate([obs, z], -1)
    cond = jnp.broadcast_to(cond[:, None], (cond.shape[0], num, cond.shape[-1]))
    shape = (obs.shape[0], num, nets.actor.action_dim)
    apply = actor_apply(nets, dropout_key)
    return jnp.clip(
        generative.ddpm_sample(apply, actor_params, nets.schedule, cond, key, shape), -1, 1
    )


def best_of(
    nets: Networks,
    forward_params: Any,
    obs: jax.Array,
    z: jax.Array,
    candidates: jax.Array,
    dropout_key: PRNGKey | None = None,
) -> jax.Array:
    """The candidate ``[n, K, A]`` with the highest ``Q_z(s, a)`` per row: ``[n, A]``."""
    n, k = candidates.shape[:2]
    rep = lambda x: jnp.repeat(x, k, axis=0)  # noqa: E731
    flat = candidates.reshape(n * k, -1)
    f = _apply(nets.forward, forward_params, rep(obs), flat, rep(z), key=dropout_key)
    q = q_value(f, rep(z)).reshape(n, k)
    return jnp.take_along_axis(candidates, jnp.argmax(q, axis=1)[:, None, None], axis=1)[:, 0]


def next_action(
    config: Config,
    nets: Networks,
    actor_ema: Any,
    forward_params: Any,
    batch: dict[str, jax.Array],
    z: jax.Array,
    key: PRNGKey,
) -> jax.Array:
    """The FB target's ``a'``: per row, with probability ``rho_a`` the dataset's next action
    (where the row has one: not at an episode's last row), else the best of ``K_train``
    EMA-actor samples under the online ``Q_z(s', .)`` (the official ``predict_q``; both in
    training mode, dropout on)."""
    k_sample, k_drop_pi, k_drop_f, k_mix = jax.random.split(key, 4)
    samples = sample_actions(
        nets, actor_ema, batch["next_obs"], z, k_sample, config.train_samples, k_drop_pi
    )
    best = best_of(nets, forward_params, batch["next_obs"], z, samples, k_drop_f)
    use_data = jax.random.bernoulli(k_mix, config.dataset_action_prob, best.shape[:1])
    use_data = use_data & (batch["next_action_valid"] > 0)
    return jnp.where(use_data[:, None], batch["next_action"], best)


# --- the update --------------------------------------------------------------------------------


def fb_loss(
    config: Config,
    nets: Networks,
    fb_params: Any,
    target_params: Any,
    value_params: Any,
    batch: dict[str, jax.Array],
    z: jax.Array,
    action_next: jax.Array,
    key: PRNGKey,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The measure loss summed over the twin F against the min of the target twins at
    ``action_next``, plus ``ortho_coef`` x orthonormality of ``B(s')`` and ``q_reg_coef`` x
    :func:`q_regulariser` (every network in training mode: dropout on)."""
    k_f, k_b, k_tf, k_tb = jax.random.split(key, 4)
    next_obs = batch["next_obs"]
    target_f = _apply(nets.forward, target_params["forward"], next_obs, action_next, z, key=k_tf)
    target_b = _apply(nets.backward, target_params["backward"], next_obs, key=k_tb)
    f = _apply(nets.forward, fb_params["forward"], batch["obs"], batch["action"], z, key=k_f)
    b = _apply(nets.backward, fb_params["backward"], next_obs, key=k_b)
    discount = config.discount * batch["mask"]
    measure, info = zero_shot.twin_measure_loss(
        f, b, target_f, target_b, discount, config.ortho_coef, config.ortho_form
    )
    reward = implicit_reward(b, z, config.cov_ridge)
    next_value = nets.value.apply(value_params, next_obs, z)
    q_reg = q_regulariser(f, z, reward, next_value, discount)
    loss = measure + config.q_reg_coef * q_reg
    info = {**info, "q_reg_loss": q_reg, "implicit_reward_mean": jnp.mean(reward)}
    return loss, info


def value_loss(
    config: Config, nets: Networks, value_params: Any, q: jax.Array, obs: jax.Array, z: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """:func:`expectile_value_loss` of ``V(s, z)`` toward ``Q_z(s, a)`` at the dataset's
    actions."""
    v = nets.value.apply(value_params, obs, z)
    return expectile_value_loss(q, v, config.expectile), {"v_mean": jnp.mean(v)}


def actor_loss(
    config: Config,
    nets: Networks,
    actor_params: Any,
    batch: dict[str, jax.Array],
    z: jax.Array,
    weights: jax.Array,
    key: PRNGKey,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """:func:`awr_diffusion_loss` at one diffusion step ``t ~ U{0..T-1}`` and noise per row
    (actor in training mode)."""
    k_t, k_eps, k_drop = jax.random.split(key, 3)
    n, action_dim = batch["action"].shape
    t_index = jax.random.randint(k_t, (n, 1), 0, nets.schedule.num_steps)
    eps = jax.random.normal(k_eps, (n, 1, action_dim))
    cond = jnp.concatenate([batch["obs"], z], -1)
    eps_hat = generative.ddpm_prediction_at(
        actor_apply(nets, k_drop), actor_params, nets.schedule, cond, batch["action"], t_index, eps
    )
    loss = awr_diffusion_loss(weights, eps_hat[:, 0], eps[:, 0])
    return loss, {"awr_weight_mean": jnp.mean(weights), "awr_weight_max": jnp.max(weights)}


def train_step(
    config: Config, env: Env, state: State, data: NormalizedDataset
) -> tuple[State, Metrics]:
    """One BREEZE gradient step in the official order (``agents/breeze/agent.py`` ``update``):
    tasks; the target's next action; V's update toward the online ``Q_z`` of the data's actions;
    F and B's update (the Q-regulariser bootstraps from V *before* its update); the actor's
    update, weighted by the *updated* F and V; the EMA copies. Every network runs in training
    mode (dropout on), the targets and the EMA actor included, as the official agent trains in
    ``train()`` mode throughout."""
    nets = make_networks(config, env)
    opt = optimisers(config)
    key, k_batch, k_z, k_next, k_q, k_fb, k_q2, k_pi = jax.random.split(state.key, 8)
    batch = sample_transitions(data, k_batch, config.batch_size)
    z = training_tasks(config, nets, state.params, batch["next_obs"], k_z)
    action_next = next_action(
        config, nets, state.actor_ema, state.params["forward"], batch, z, k_next
    )

    def data_q(forward_params: Any, key: PRNGKey) -> jax.Array:
        f = _apply(nets.forward, forward_params, batch["obs"], batch["action"], z, key=key)
        return jax.lax.stop_gradient(q_value(f, z))

    (v_loss, v_info), v_grads = jax.value_and_grad(value_loss, argnums=2, has_aux=True)(
        config, nets, state.params["value"], data_q(state.params["forward"], k_q), batch["obs"], z
    )
    v_updates, value_opt = opt["value"].update(
        v_grads, state.opt_state["value"], state.params["value"]
    )
    value_params = optax.apply_updates(state.params["value"], v_updates)

    fb_params = {"forward": state.params["forward"], "backward": state.params["backward"]}
    (_, fb_info), grads = jax.value_and_grad(fb_loss, argnums=2, has_aux=True)(
        config, nets, fb_params, state.target_params, state.params["value"], batch, z,
        action_next, k_fb,
    )  # fmt: skip
    updates, fb_opt = opt["fb"].update(grads, state.opt_state["fb"], fb_params)
    fb_params = optax.apply_updates(fb_params, updates)

    q = data_q(fb_params["forward"], k_q2)
    v = nets.value.apply(value_params, batch["obs"], z)
    weights = awr_weights(q, v, config.awr_temperature, config.awr_max_weight)
    (a_loss, a_info), a_grads = jax.value_and_grad(actor_loss, argnums=2, has_aux=True)(
        config, nets, state.params["actor"], batch, z, weights, k_pi
    )
    a_updates, actor_opt = opt["actor"].update(
        a_grads, state.opt_state["actor"], state.params["actor"]
    )
    actor_params = optax.apply_updates(state.params["actor"], a_updates)

    state = state.replace(
        params={**fb_params, "value": value_params, "actor": actor_params},
        target_params=ema(fb_params, state.target_params, config.tau),
        actor_ema=ema(actor_params, state.actor_ema, config.actor_tau),
        opt_state={"fb": fb_opt, "value": value_opt, "actor": actor_opt},
        key=key,
        step=state.step + 1,
    )
    metrics = {
        **fb_info,
        **v_info,
        **a_info,
        "value_loss": v_loss,
        "actor_loss": a_loss,
        "q_mean": jnp.mean(q),
        "fb_grad_norm": optax.tree.norm(grads),
        "actor_grad_norm": optax.tree.norm(a_grads),
    }
    return state, metrics


# --- acting and task inference -----------------------------------------------------------------


def policy(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    z: jax.Array,
    key: PRNGKey | None = None,
) -> jax.Array:
    """``pi_z`` on raw observations ``[N, ...]`` with tasks ``z [N, d]``: the best of
    ``K_eval`` EMA-actor samples under ``Q_z`` (online F), as env actions. Needs ``key``."""
    if key is None:
        raise ValueError("breeze.policy: key=None; BREEZE samples its actions, pass a PRNG key")
    nets = make_networks(config, env)
    obs = normalize(obs, state.obs_mean, state.obs_std)
    candidates = sample_actions(nets, state.actor_ema, obs, z, key, config.eval_samples)
    return env_actions(env, best_of(nets, state.params["forward"], obs, z, candidates))


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = True,
) -> jax.Array:
    """:func:`policy` with the state's task ``state.z``. Best-of-K sampling is BREEZE's acting
    rule in training and evaluation alike, so ``deterministic`` changes nothing."""
    del deterministic
    return zero_shot.act_on_state_task(policy, config, env, state, obs, key)


def backward(config: Config, env: Env, state: State, obs: jax.Array) -> jax.Array:
    """``B`` of raw observations ``[N, ...]``: ``[N, d]`` on the sphere."""
    nets = make_networks(config, env)
    return nets.backward.apply(
        state.params["backward"], normalize(obs, state.obs_mean, state.obs_std)
    )


def infer_task(
    config: Config, env: Env, state: State, next_obs: jax.Array, rewards: jax.Array
) -> jax.Array:
    """Zero-shot task inference, as FB: ``z_r = sqrt(d) normalise(mean_i r_i B(s'_i))``."""
    return zero_shot.infer_z_from_rewards(backward(config, env, state, next_obs), rewards)


def infer_task_from_data(
    config: Config, env: Env, state: State, data: Any, rewards: jax.Array, key: PRNGKey
) -> jax.Array:
    """:func:`infer_task` on ``config.inference_samples`` random rows of ``data``, ``rewards
    [N]`` the task's reward of every row (:func:`jaxrl.zero_shot.infer_task_from_rows`)."""
    return zero_shot.infer_task_from_rows(infer_task, config, env, state, data, rewards, key)


with_task = zero_shot.with_task
"""``with_task(state, z)``: ``state`` whose :func:`act` follows task ``z``."""


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
