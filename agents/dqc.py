"""Decoupled Q-Chunking (DQC; Li, Park and Levine 2025, arXiv:2512.10926), offline and
goal-conditioned. Official code: ColinQiyangLi/dqc (agents/dqc.py, utils/datasets.py).

Four networks, all outputs are logits of values in ``[0, 1]`` (discounted success
probabilities), fitted with sigmoid + binary cross-entropy:

* the **chunk critic** ``Q_h(s, g, a_{t:t+h})`` (an ensemble of ``num_qs``), backed up over the
  whole ``h``-step open-loop chunk: ``y = r_h + gamma^k m sg(sigmoid V(s_{t+k}, g))``, clipped to
  ``[0, 1]``, with the *online* ``V`` (:func:`chunk_critic_target`, :func:`chunk_critic_loss`);
* the **distilled critic** ``Q_a(s, g, a_{t:t+h_a})`` (the partial chunk the policy emits;
  member ``i`` distils from chunk-critic member ``i``), regressed toward ``sigmoid Q_h`` over the
  dataset completions of its prefix with an upper expectile ``kappa_d``: an implicit max over
  completions (:func:`distillation_loss`). It is the only network with an EMA target (``tau``);
* the **value** ``V(s, g)``: the ``kappa_b``-quantile, in logit space, of the target ``Q_a``
  over dataset prefixes, an implicit max over the next partial chunk (:func:`value_loss`);
* the **actor**: goal-agnostic flow-matching behaviour cloning of ``h_a``-chunks
  (:func:`actor_flow_loss`).

The four losses are summed and one Adam step updates every module (no gradient clipping), then
the ``Q_a`` target moves by EMA. Acting (:func:`act`) samples ``best_of_n`` chunks from the flow
(``flow_steps`` Euler steps, clipped to ``[-1, 1]``), scores them with ``Q_a`` (``q_agg`` over the
ensemble) and returns the best ``h_a``-chunk ``[B, h_a, *action_shape]``, which evaluation
executes open loop (:func:`action_chunk`).

**Variants** (``Config.variant``, the official ``use_chunk_critic`` / ``backup_horizon`` /
``policy_chunk_size``):

* ``"dqc"``: chunk critic over ``h = horizon`` steps, policy chunks of ``h_a = action_horizon``
  (``h_a <= h``; ``h`` need not be a multiple of ``h_a``: ``Q_a`` reads the first ``h_a`` actions).
* ``"qc"``: Q-chunking, ``h_a = h``, no chunk critic: ``Q_a`` is trained directly on ``y``
  (the same ``kappa_d``-weighted loss; ``kappa_d = 0.5`` is plain BCE).
* ``"ns"``: ``h_a = 1`` with an ``h``-step backup (n-step return, no chunk critic).
* ``"os"``: one-step, ``h = h_a = 1`` (no chunk critic).

**Data.** The dataset holds states only; goals, chunks, the backup horizon ``k``, the reward
``r_h = gamma^k success`` and the mask come from :func:`jaxrl.data.sample_goal_chunks` (the
official ``CGCDataset``; goals are dataset states: current 0.2 / same-trajectory future 0.5 /
random 0.3). The env's observations are ``[state, goal]`` (e.g.
``envs.make("pointmaze-medium", goal_in_obs=True)``); the state size is kept in the agent's state
(:attr:`State.state_dim`) so :func:`act` can split them. Actions are mapped to ``[-1, 1]`` with the
env's bounds and clipped to ``+-(1 - 1e-5)`` as the official loader does.

Choices where the official code is not followed literally:

* the value target's ``logit(q)`` clips ``q`` to ``[1e-5, 1 - 1e-5]`` (as the official
  distillation target does) so a saturated ensemble never gives an infinite logit;
* the flow uses :mod:`jaxrl.generative`'s convention (t = 1 noise, t = 0 data); its module
  docstring shows the Euler samples equal DQC's (t' = 1 - t) exactly;
* ``act(..., deterministic=True)`` is still best-of-N with the given key (a flow has no mode;
  the paper evaluates with best-of-N sampling), so the driver's evaluation keys fix it;
* observations may be normalised (``normalize_obs``, off by default as in the official code);
  then the goal half of an env observation is normalised with the same state statistics.
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
    RangeSpec,
    check_choices,
    check_ranges,
    check_sizes,
    require_box,
)
from jaxrl.data import Dataset, sample_goal_chunks
from jaxrl.data.transforms import NormalizedDataset, from_unit_interval
from jaxrl.networks import activation_fn, ema
from jaxrl.types import Env, Metrics, PRNGKey

NAME = "dqc"

LOSS_METRICS = ("chunk_critic_loss", "distill_loss", "value_loss", "actor_loss")
"""The loss metrics ``train_step`` reports (the one-step variants report no chunk-critic loss)."""

Variant = Literal["dqc", "qc", "ns", "os"]
"""Which horizon structure (module docstring)."""
RegressionMethod = Literal["expectile", "quantile"]
"""``"expectile"``: kappa-weighted BCE on logits; ``"quantile"``: kappa-weighted absolute error
in logit space."""
QAgg = Literal["mean", "min"]
"""Aggregation of the ``Q_a`` ensemble (value target and best-of-N scores)."""

PROB_CLIP = 1e-5
"""Probabilities are clipped to ``[PROB_CLIP, 1 - PROB_CLIP]`` before taking a logit."""


@struct.dataclass
class Config:
    """DQC hyperparameters: the paper's main setting (h = 25, h_a = 5, 4 x 1024 GELU + LayerNorm,
    batch 4096, gamma 0.999). Float fields marked static fix Python branches of the sampler;
    the others are pytree leaves (vmappable, never recompile)."""

    learning_rate: float = 3e-4
    """Adam step size of the single optimiser over all modules, >= 0."""
    discount: float = 0.999
    """Discount gamma, in [0, 1]."""
    tau: float = 0.005
    """EMA rate of the distilled critic's target (the only target network), in [0, 1]."""
    kappa_b: float = 0.9
    """Implicit value backup: V is the kappa_b-quantile of Q_a over dataset prefixes, in [0, 1]
    (official default 0.9)."""
    kappa_d: float = 0.8
    """Distillation expectile of Q_a toward Q_h over completions, in [0, 1] (0.5: the mean;
    -> 1: the max; the paper's cube/humanoidmaze value 0.8). Without a chunk critic it weights
    Q_a's regression on y the same way."""
    p_current: float = struct.field(pytree_node=False, default=0.2)
    """Probability that the goal is the start state itself, in [0, 1] (static)."""
    p_future: float = struct.field(pytree_node=False, default=0.5)
    """Probability of a uniform future state of the same trajectory, in [0, 1] (static)."""
    p_random: float = struct.field(pytree_node=False, default=0.3)
    """Probability of a random dataset state, in [0, 1]; the three sum to 1 (static)."""
    obs_std_eps: float = struct.field(pytree_node=False, default=1e-3)
    """Added to the dataset's state std when ``normalize_obs``, > 0 (static)."""
    variant: Variant = struct.field(pytree_node=False, default="dqc")
    """``"dqc"``, ``"qc"``, ``"ns"`` or ``"os"`` (module docstring; static)."""
    horizon: int = struct.field(pytree_node=False, default=25)
    """Backup horizon h (chunk-critic chunk length / n of the n-step backup), >= 1 (static)."""
    action_horizon: int = struct.field(pytree_node=False, default=5)
    """Policy chunk length h_a (actions executed open loop per act call), in [1, h] (static)."""
    distill_method: RegressionMethod = struct.field(pytree_node=False, default="expectile")
    """How Q_a regresses toward its target (official ``distill_method``; static)."""
    value_method: RegressionMethod = struct.field(pytree_node=False, default="quantile")
    """How V regresses toward Q_a (official ``implicit_backup_type``; static)."""
    q_agg: QAgg = struct.field(pytree_node=False, default="mean")
    """Ensemble aggregation of Q_a ("min" for cube, "mean" for humanoid/puzzle; static)."""
    num_qs: int = struct.field(pytree_node=False, default=2)
    """Ensemble size of the chunk and distilled critics, >= 1 (static)."""
    best_of_n: int = struct.field(pytree_node=False, default=32)
    """Chunks sampled per observation when acting, >= 1 (static)."""
    flow_steps: int = struct.field(pytree_node=False, default=10)
    """Euler steps of the flow sampler, >= 1 (static)."""
    batch_size: int = struct.field(pytree_node=False, default=4096)
    """Samples per gradient step, >= 1 (static)."""
    hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(1024,) * 4)
    """Hidden widths of every critic and of V (GELU, LayerNorm after it); non-empty (static)."""
    actor_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(1024,) * 4)
    """Hidden widths of the flow actor (GELU, LayerNorm after it); non-empty (static)."""
    layer_norm: bool = struct.field(pytree_node=False, default=True)
    """LayerNorm after each activation in the critics and V (static)."""
    actor_layer_norm: bool = struct.field(pytree_node=False, default=True)
    """LayerNorm after each activation in the actor (static)."""
    normalize_obs: bool = struct.field(pytree_node=False, default=False)
    """Normalise states and goals with the dataset's state mean and std (static)."""

    @property
    def use_chunk_critic(self) -> bool:
        """Whether Q_h exists (``variant == "dqc"``)."""
        return self.variant == "dqc"

    def validate(self) -> None:
        """Raise a ValueError naming the field: every numeric field against :data:`RANGES`,
        the widths, the ``Literal`` choices, then the horizons each variant needs
        (``action_horizon <= horizon``; qc: ``action_horizon == horizon``; ns:
        ``action_horizon == 1``; os: ``horizon == action_horizon == 1``) and goal probabilities
        summing to 1."""
        check_ranges(self, RANGES)
        check_sizes(self, ("hidden_sizes", "actor_hidden_sizes"))
        check_choices(self)
        h, h_a = self.horizon, self.action_horizon
        if h_a > h:
            raise ValueError(
                f"Config.action_horizon must be <= Config.horizon, got action_horizon={h_a} > "
                f"horizon={h}"
            )
        if self.variant == "qc" and h_a != h:
            raise ValueError(
                f"Config.action_horizon must equal Config.horizon for variant 'qc' (the policy "
                f"emits the whole critic chunk), got action_horizon={h_a}, horizon={h}"
            )
        if self.variant == "ns" and h_a != 1:
            raise ValueError(f"Config.action_horizon must be 1 for variant 'ns', got {h_a}")
        if self.variant == "os" and (h, h_a) != (1, 1):
            raise ValueError(
                f"Config.horizon and Config.action_horizon must be 1 for variant 'os', got "
                f"horizon={h}, action_horizon={h_a}"
            )
        goals.check_goal_probabilities(self)


RANGES: tuple[RangeSpec, ...] = (
    ("learning_rate", NONNEGATIVE),
    ("discount", UNIT),
    ("tau", UNIT),
    ("kappa_b", UNIT),
    ("kappa_d", UNIT),
    ("p_current", UNIT),
    ("p_future", UNIT),
    ("p_random", UNIT),
    ("obs_std_eps", POSITIVE),
    ("horizon", COUNT),
    ("action_horizon", COUNT),
    ("num_qs", COUNT),
    ("best_of_n", COUNT),
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


# --- data --------------------------------------------------------------------------------------


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless DQC can train on it: continuous (``Box``)
    actions and vector observations ``[state, goal]`` of even size (state and goal of the same
    size; :func:`prepare_data` checks them against the dataset). Reads ``env.spec`` only."""
    del config
    goals.check_goal_env("DQC", env)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> NormalizedDataset:
    """Check ``dataset`` (states only) against ``env`` (observations ``[state, goal]``), map its
    actions to ``[-1, 1]`` and clip them to ``+-(1 - 1e-5)``, and normalise states with their own
    statistics when ``normalize_obs`` (else mean 0, std 1): :func:`jaxrl.goals.prepare_states`.
    Prepared data passes through."""
    return goals.prepare_states("DQC", env, dataset, config.normalize_obs, config.obs_std_eps)


def check_data(config: Config, dataset: Dataset) -> None:
    """Refuse, naming ``Config.horizon``, a dataset whose episodes are all too short for one
    chunk and the state after it (:func:`jaxrl.goals.check_horizon`); the driver and the run layer
    call it before any work. (Not part of :func:`prepare_data`: ``load_policy`` prepares a
    two-row placeholder dataset.)"""
    goals.check_horizon("DQC", "horizon", config.horizon, dataset)


# --- networks ----------------------------------------------------------------------------------


class DQCMLP(nn.Module):
    """DQC's MLP: ``Dense -> GELU -> LayerNorm`` per hidden layer (LN *after* the activation),
    then a linear head; kernels ``variance_scaling(1, fan_avg, uniform)`` (Xavier uniform)."""

    hidden_sizes: tuple[int, ...]
    output_dim: int = 1
    layer_norm: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = nn.initializers.xavier_uniform()
        for width in self.hidden_sizes:
            x = activation_fn("gelu")(nn.Dense(width, kernel_init=init)(x))
            if self.layer_norm:
                x = nn.LayerNorm()(x)
        return nn.Dense(self.output_dim, kernel_init=init)(x)


class GoalCritic(nn.Module):
    """An ensemble of ``num`` :class:`DQCMLP` on ``concat[state, goal, flat chunk]``; logits
    ``[num, *batch]``."""

    num: int
    hidden_sizes: tuple[int, ...]
    layer_norm: bool = True

    @nn.compact
    def __call__(self, obs: jax.Array, goal: jax.Array, actions: jax.Array) -> jax.Array:
        x = jnp.concatenate([obs, goal, actions], axis=-1)
        ensemble = nn.vmap(
            DQCMLP,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num,
        )
        return ensemble(self.hidden_sizes, 1, self.layer_norm)(x)[..., 0]


class GoalValue(nn.Module):
    """``V(s, g)``: one :class:`DQCMLP` on ``concat[state, goal]``; logits ``[*batch]``."""

    hidden_sizes: tuple[int, ...]
    layer_norm: bool = True

    @nn.compact
    def __call__(self, obs: jax.Array, goal: jax.Array) -> jax.Array:
        x = jnp.concatenate([obs, goal], axis=-1)
        return DQCMLP(self.hidden_sizes, 1, self.layer_norm)(x)[..., 0]


class Networks(struct.PyTreeNode):
    """The modules of one configuration (static: built from config and env)."""

    chunk_critic: GoalCritic = struct.field(pytree_node=False)
    action_critic: GoalCritic = struct.field(pytree_node=False)
    value: GoalValue = struct.field(pytree_node=False)
    actor: generative.ConditionalVelocityNet = struct.field(pytree_node=False)
    action_dim: int = struct.field(pytree_node=False)


def make_networks(config: Config, env: Env) -> Networks:
    """Chunk critic, distilled critic, value and flow actor for ``env``."""
    box = require_box("DQC", env)
    action_dim = int(np.prod(box.shape))
    critic = GoalCritic(config.num_qs, tuple(config.hidden_sizes), config.layer_norm)
    actor = generative.ConditionalVelocityNet(
        output_dim=config.action_horizon * action_dim,
        hidden_sizes=tuple(config.actor_hidden_sizes),
        activation="gelu",
        raw_time=True,
        layer_norm=config.actor_layer_norm,
        kernel_init=nn.initializers.xavier_uniform(),
    )
    return Networks(
        chunk_critic=critic,
        action_critic=critic,
        value=GoalValue(tuple(config.hidden_sizes), config.layer_norm),
        actor=actor,
        action_dim=action_dim,
    )


class State(struct.PyTreeNode):
    """Everything a run needs to continue exactly (what checkpoints store)."""

    params: dict[str, Any]
    """``{"chunk_critic" (variant dqc only), "action_critic", "value", "actor"}``."""
    target_params: dict[str, Any]
    """``{"action_critic": EMA of params["action_critic"]}`` (the only target)."""
    opt_state: Any
    """One Adam state over all of ``params``."""
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
    """Validate, check the env against the data, initialise every module (the ``Q_a`` target
    starts equal to ``Q_a``) and one Adam state."""
    config.validate()
    check_env(config, env)
    state_dim = int(data.obs_shape[0])
    goals.check_goal_sizes("DQC", env, state_dim)
    nets = make_networks(config, env)
    k_h, k_a, k_v, k_pi, key = jax.random.split(key, 5)
    obs = jnp.zeros((1, state_dim), jnp.float32)
    chunk = jnp.zeros((1, config.horizon * nets.action_dim), jnp.float32)
    partial = jnp.zeros((1, config.action_horizon * nets.action_dim), jnp.float32)
    params = {
        "action_critic": nets.action_critic.init(k_a, obs, obs, partial),
        "value": nets.value.init(k_v, obs, obs),
        "actor": generative.init_net(nets.actor, k_pi, state_dim),
    }
    if config.use_chunk_critic:
        params["chunk_critic"] = nets.chunk_critic.init(k_h, obs, obs, chunk)
    return State(
        params=params,
        target_params={"action_critic": params["action_critic"]},
        opt_state=optax.adam(config.learning_rate).init(params),
        obs_mean=jnp.asarray(data.obs_mean, jnp.float32),
        obs_std=jnp.asarray(data.obs_std, jnp.float32),
        key=key,
        step=jnp.zeros((), jnp.int32),
        state_dim=state_dim,
    )


# --- losses ------------------------------------------------------------------------------------


def bce_with_logits(logit: jax.Array, target: jax.Array) -> jax.Array:
    """Elementwise ``-(t log sigmoid(x) + (1 - t) log sigmoid(-x))`` (official ``bce_loss``)."""
    return -(target * jax.nn.log_sigmoid(logit) + (1.0 - target) * jax.nn.log_sigmoid(-logit))


def prob_logit(p: jax.Array) -> jax.Array:
    """``log p - log(1 - p)`` of ``p`` clipped to ``[1e-5, 1 - 1e-5]``."""
    p = jnp.clip(p, PROB_CLIP, 1.0 - PROB_CLIP)
    return jnp.log(p) - jnp.log1p(-p)


def asymmetric_weight(target: jax.Array, prediction: jax.Array, kappa: jax.Array) -> jax.Array:
    """``kappa`` where ``target >= prediction`` else ``1 - kappa``, comparing *probabilities*
    (official ``jnp.where(target_v >= q, kappa, 1 - kappa)``)."""
    return jnp.where(target >= prediction, kappa, 1.0 - kappa)


def chunk_critic_target(
    reward: jax.Array,
    mask: jax.Array,
    k: jax.Array,
    discount: jax.Array,
    next_v_logit: jax.Array,
) -> jax.Array:
    """DQC's backup (official ``chunk_critic_loss``): ``y = clip(r_h + gamma^k m
    sg(sigmoid V(s_{t+k}, g)), 0, 1)`` with the *online* V (no target net), ``k`` the backup
    horizon actually used (truncated at the goal)."""
    next_v = jax.nn.sigmoid(jax.lax.stop_gradient(next_v_logit))
    y = reward + discount ** k.astype(jnp.float32) * mask * next_v
    return jnp.clip(y, 0.0, 1.0)


def chunk_critic_loss(qh_logits: jax.Array, target: jax.Array) -> jax.Array:
    """Mean over ensemble and batch of ``BCE(Q_h logit, y)``; ``qh_logits`` ``[E, B]``, ``y``
    ``[B]`` (a constant)."""
    return jnp.mean(bce_with_logits(qh_logits, jax.lax.stop_gradient(target)[None]))


def distillation_loss(
    qa_logits: jax.Array,
    target: jax.Array,
    kappa_d: jax.Array,
    method: RegressionMethod = "expectile",
) -> jax.Array:
    """Q_a's implicit max over completions (official ``action_critic_loss``).

    ``target`` are probabilities: ``sigmoid Q_h(s, g, a_{t:t+h})`` with member ``i`` of
    ``qa_logits`` ``[E, B]`` paired with member ``i`` of a ``[E, B]`` target (DQC), or ``y``
    ``[B]`` broadcast to every member (QC/NS/OS). With ``w = kappa_d`` where
    ``target >= sigmoid(Q_a)`` else ``1 - kappa_d``:

    * ``"expectile"``: ``mean(w BCE(Q_a logit, target))``; its fixed point is the
      ``kappa_d``-expectile of the targets in probability space (0.5: the mean; -> 1: the max);
    * ``"quantile"``: ``mean(w |Q_a logit - logit(target)|)``, the ``kappa_d``-quantile.
    """
    target = jax.lax.stop_gradient(target)
    w = asymmetric_weight(target, jax.nn.sigmoid(qa_logits), kappa_d)
    if method == "expectile":
        return jnp.mean(w * bce_with_logits(qa_logits, target))
    if method == "quantile":
        return jnp.mean(w * jnp.abs(qa_logits - prob_logit(target)))
    raise ValueError(f"distillation method must be 'expectile' or 'quantile', got {method!r}")


def aggregate(values: jax.Array, how: QAgg) -> jax.Array:
    """``mean`` or ``min`` over the leading ensemble axis."""
    return jnp.min(values, axis=0) if how == "min" else jnp.mean(values, axis=0)


def value_loss(
    v_logit: jax.Array,
    qa_target_logits: jax.Array,
    kappa_b: jax.Array,
    q_agg: QAgg = "mean",
    method: RegressionMethod = "quantile",
) -> jax.Array:
    """V's implicit backup over dataset prefixes (official ``implicit_backup_type``).

    ``q = agg_ensemble(sigmoid Q_a_target(s, g, a_{t:t+h_a}))`` (``[E, B] -> [B]``, constant),
    ``w = kappa_b`` where ``q >= sigmoid(V)`` else ``1 - kappa_b`` (probabilities compared):

    * ``"quantile"`` (default): ``mean(w |V logit - logit(q)|)``, quantile regression in logit
      space: V -> the ``kappa_b``-quantile of Q_a over prefixes;
    * ``"expectile"``: ``mean(w BCE(V logit, q))``.
    """
    q = jax.lax.stop_gradient(aggregate(jax.nn.sigmoid(qa_target_logits), q_agg))
    w = asymmetric_weight(q, jax.nn.sigmoid(v_logit), kappa_b)
    if method == "quantile":
        return jnp.mean(w * jnp.abs(v_logit - prob_logit(q)))
    if method == "expectile":
        return jnp.mean(w * bce_with_logits(v_logit, q))
    raise ValueError(f"value method must be 'quantile' or 'expectile', got {method!r}")


def actor_flow_loss(
    actor: generative.ConditionalVelocityNet,
    params: Any,
    obs: jax.Array,
    chunk: jax.Array,
    key: PRNGKey,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Goal-agnostic flow-matching BC of the flattened time-major ``h_a``-chunk ``[B, h_a * A]``
    conditioned on the state only (official ``actor_loss``: one noise and time per sample):
    :func:`jaxrl.generative.flow_matching_loss` with one pair per row."""
    return generative.flow_matching_loss(actor.apply, params, obs, chunk, key, num_samples=1)


# --- update ------------------------------------------------------------------------------------


def total_loss(
    config: Config,
    nets: Networks,
    params: dict[str, Any],
    target_params: dict[str, Any],
    batch: dict[str, jax.Array],
    key: PRNGKey,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Sum of the four losses on one :func:`jaxrl.data.sample_goal_chunks` batch."""
    obs, goal = batch["obs"], batch["goal"]
    partial = batch["actions_flat"][:, : config.action_horizon * nets.action_dim]
    next_v_logit = nets.value.apply(params["value"], batch["next_obs"], goal)
    y = chunk_critic_target(
        batch["reward"], batch["mask"], batch["k"], config.discount, next_v_logit
    )
    info: dict[str, jax.Array] = {"target_mean": jnp.mean(y)}
    loss = jnp.zeros(())
    if config.use_chunk_critic:
        qh_logits = nets.chunk_critic.apply(
            params["chunk_critic"], obs, goal, batch["actions_flat"]
        )
        l_h = chunk_critic_loss(qh_logits, y)
        loss = loss + l_h
        distill_target = jax.nn.sigmoid(qh_logits)
        info |= {"chunk_critic_loss": l_h, "qh_mean": jnp.mean(distill_target)}
    else:
        distill_target = y
    qa_logits = nets.action_critic.apply(params["action_critic"], obs, goal, partial)
    l_a = distillation_loss(qa_logits, distill_target, config.kappa_d, config.distill_method)
    qa_target = nets.action_critic.apply(target_params["action_critic"], obs, goal, partial)
    v_logit = nets.value.apply(params["value"], obs, goal)
    l_v = value_loss(v_logit, qa_target, config.kappa_b, config.q_agg, config.value_method)
    l_pi, _ = actor_flow_loss(nets.actor, params["actor"], obs, partial, key)
    loss = loss + l_a + l_v + l_pi
    info |= {
        "distill_loss": l_a,
        "value_loss": l_v,
        "actor_loss": l_pi,
        "qa_mean": jnp.mean(jax.nn.sigmoid(qa_logits)),
        "v_mean": jnp.mean(jax.nn.sigmoid(v_logit)),
        "success_rate": jnp.mean(batch["success"]),
    }
    return loss, info


def train_step(
    config: Config, env: Env, state: State, data: NormalizedDataset
) -> tuple[State, Metrics]:
    """One gradient step: sample a goal-chunk batch, one Adam step on the summed losses over all
    modules, then the EMA of the ``Q_a`` target."""
    nets = make_networks(config, env)
    key, k_batch, k_flow = jax.random.split(state.key, 3)
    batch = sample_goal_chunks(
        data,
        k_batch,
        config.batch_size,
        config.horizon,
        config.discount,
        p_current=config.p_current,
        p_future=config.p_future,
        p_random=config.p_random,
    )

    def loss_fn(p):
        return total_loss(config, nets, p, state.target_params, batch, k_flow)

    (loss, info), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    tx = optax.adam(config.learning_rate)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    target = {
        "action_critic": ema(
            params["action_critic"], state.target_params["action_critic"], config.tau
        )
    }
    state = state.replace(
        params=params, target_params=target, opt_state=opt_state, key=key, step=state.step + 1
    )
    return state, {"loss": loss, "grad_norm": optax.tree.norm(grads), **info}


# --- acting ------------------------------------------------------------------------------------


def best_of_n(
    config: Config,
    nets: Networks,
    params: dict[str, Any],
    obs: jax.Array,
    goal: jax.Array,
    key: PRNGKey,
) -> jax.Array:
    """Best-of-N extraction (official ``sample_actions``): ``best_of_n`` flow samples per row
    (``flow_steps`` Euler steps from N(0, I), clipped to ``[-1, 1]``), scored by ``q_agg`` of
    Q_a; the argmax chunk ``[B, h_a * A]`` in ``[-1, 1]``."""
    n, b = config.best_of_n, obs.shape[0]
    dim = config.action_horizon * nets.action_dim
    chunks = generative.flow_sample_noise(
        nets.actor.apply, params["actor"], obs, key, (n, b, dim), config.flow_steps
    )
    chunks = jnp.clip(chunks, -1.0, 1.0)
    obs_n = jnp.broadcast_to(obs, (n, *obs.shape))
    goal_n = jnp.broadcast_to(goal, (n, *goal.shape))
    scores = aggregate(
        nets.action_critic.apply(params["action_critic"], obs_n, goal_n, chunks), config.q_agg
    )
    best = jnp.argmax(scores, axis=0)
    return chunks[best, jnp.arange(b)]


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = True,
) -> jax.Array:
    """The best-of-N ``h_a``-chunk per env observation ``[state, goal]``:
    ``[B, h_a, *action_shape]`` in the env's bounds. ``deterministic`` does not change it (a
    flow has no mode; best-of-N with ``key`` either way, as the paper evaluates)."""
    del deterministic
    nets = make_networks(config, env)
    s, g = goals.split_observation(obs, state.state_dim, state.obs_mean, state.obs_std)
    unit = best_of_n(config, nets, state.params, s, g, key)
    box = require_box("DQC", env)
    unit = unit.reshape(obs.shape[0], config.action_horizon, nets.action_dim)
    action = from_unit_interval(unit, box.low_array.reshape(-1), box.high_array.reshape(-1))
    return action.reshape(obs.shape[0], config.action_horizon, *box.shape)


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
