"""PROPS: Proximal Robust On-Policy Sampling (Corrado and Hanna, arXiv 2311.08290).

PPO's target policy ``pi_theta`` trains on a FIFO buffer of the last ``b`` target batches
(``b * n`` steps per environment), which holds data of older target policies. The data is
collected not by ``pi_theta`` but by a **behaviour policy** ``pi_phi``: every ``m`` steps ``phi`` is
reset to ``theta`` and then moved to *lower* the probability of the buffer's actions,

    L(phi) = mean_D max(r, clip(r, 1 - eps_P, 1 + eps_P)) + lambda * KL(pi_phi || pi_theta),
    r = pi_phi(a|s) / pi_theta(a|s),

so the next ``m`` steps fill in actions that the buffer under-represents and the buffer's
empirical state-action distribution stays close to ``pi_theta`` (low *sampling error*). The
target update is PPO over the whole buffer as if it were on-policy: ``log pi_old`` and the values
are recomputed under the current ``theta`` and the observations re-normalised with the current
statistics. PROPS's paper body could not be read for this implementation (see
``shared/specs/algorithms-online.md``), so its equation numbers are not cited; the losses cite the
authors' code instead: ``update_props``, ``update_ppo`` and ``compute_se`` in repo
NicholasCorrado/PPOROS, file PROPS/ppo_props_continuous.py.

One :func:`train_step` is one target iteration of ``n = num_steps`` steps in each of
``num_envs`` environments: ``n / m`` times (behaviour update, then collect ``m`` steps with
``pi_phi`` into the ring buffer), then the sampling error of the buffer, then the PPO update.
This is the authors' loop (collect m, PPO update when n steps are due, PROPS update) with the
PROPS update moved to the start of the next sub-iteration, which is the same sequence; the first
behaviour update of a run sees an empty buffer and leaves ``phi = theta``.

Choices (each checked against the authors' code where the spec marked it unverified):

- **Behaviour loss**: the clip only acts below 1 (the gradient is zero where ``r < 1 - eps_P``;
  there is no clip above 1); the KL regulariser is the closed form KL(pi_phi || pi_theta) *averaged*
  over action dimensions (categorical KL for discrete actions); lambda multiplies it. Before each
  minibatch step the approximate KL ``mean((r - 1) - log r)`` is compared with
  ``props_target_kl`` and the whole update stops once it is exceeded (so the KL can overshoot the
  target by at most one step). The oldest ``m``-batch is left out once the buffer is full (it is
  evicted by the next collection). ``phi`` keeps its own Adam state across the resets, with
  ``eps = props_adam_eps`` (default 1e-8, optax's). The default differs from the authors: their
  ``props_optimizer`` is ``Adam(..., eps=1e-5)`` (PROPS/ppo_props_continuous.py:572,
  PROPS/ppo_props_discrete.py:590), and so was the behaviour optimiser of every earlier PPOROS
  revision (``ros_optimizer`` in PPOROS/ppo_ros_continuous.py, ``optimizer_ros`` in
  PPOROS/ppo_ros_discrete.py); ``presets.PROPS_PAPER_OFFICIAL`` sets 1e-5.
- **Order of updates**: the 2025 rewrite's order: the behaviour loss uses the ``theta`` that
  ``phi`` was copied from (post-update), not the PPOROS quirk of a pre-update anchor.
- **Target update**: CleanRL PPO on the whole buffer with GAE over the chronologically ordered
  buffer, minibatches drawn from the whole buffer, and the per-minibatch early stop at
  ``target_kl`` of the authors' ``update_ppo`` (the ``target_kl`` hook of
  :func:`jaxrl.agents.ppo.sgd_epochs`, which the behaviour update uses too). Before the buffer is
  full, the unfilled slots are masked out of every mean (the authors train on the filled prefix;
  the minibatch count here is fixed, so minibatches are smaller in the first ``b - 1``
  iterations).
- **Observation statistics** are updated after every ``m``-step collection (the authors'
  ``NormalizeObservation`` updates at every step); the buffer stores raw observations and
  every update normalises them with the current statistics.
- **Rewards**: raw by default (PPO's ``reward_scale`` applies, as in :mod:`jaxrl.agents.ppo`).
  With ``normalize_reward`` the authors' scheme (repo NicholasCorrado/PPOROS,
  PROPS/ppo_props_continuous.py ~635-638 and ~672-675): each collected reward is normalised
  and clipped as it arrives (:class:`jaxrl.normalize.RewardNormalizer`, their per-env
  ``NormalizeReward`` then clip ±10), multiplied back by that step's scale into the buffer, and
  the whole buffer is divided by the *current* scale before each target update (no clip
  there). The authors use env 0's statistics for every env (they run one env); here each env
  has its own.
- **Sampling error** (:func:`sampling_error`): *unweighted*, as the authors' discrete
  ``compute_se`` (PROPS/ppo_props_discrete.py:478; its ``|advantage|`` weighting is commented
  out at lines 475-476). The authors' continuous ``compute_se`` is not: it multiplies each
  log-ratio by the absolute standardised advantage (PROPS/ppo_props_continuous.py:456-459) in
  every PPOROS revision that has it (715b86f to a0c8708), as does
  PROPS/ppo_props_discrete_minatar.py:670-672; the earlier ``compute_sampling_error`` of
  PPOROS/ppo_ros_continuous.py (up to fe9daf5) was unweighted but averaged ``(r - 1) - log r``.
  So for continuous actions our SE is not the quantity the authors' runs logged. Here an
  empirical policy ``pi_D`` starts as a copy of ``pi_theta`` with the hidden-layer kernels (and
  a CNN torso's) frozen (as the continuous ``compute_se``, lines 420-422; the discrete one
  freezes nothing) (biases, output layer and log-std train, log-std clamped to [-3, 1]), is
  fitted by maximum likelihood to the buffer (Adam, gradient norm 1), and
  ``SE = mean_D [log pi_D(a|s) - log pi_theta(a|s)]`` estimates KL(pi_D || pi_theta). For
  discrete actions :func:`counts_kl` adds the exact KL between the buffer's action histogram
  and ``pi_theta`` averaged over the buffer's states (exact for single-state tasks such as
  bandits). Both are measured on the buffer the PPO update is about to use,
  against the ``theta`` it treats that buffer as on-policy for.
- ``sampling="on_policy"`` gives the PPO-with-buffer baseline (collect with ``pi_theta``) with
  everything else identical; ``buffer_batches=1, sampling="on_policy"`` is PPO with early stopping.

Inputs are checked before anything is traced: :meth:`Config.validate` (PPO's checks, every
numeric field against :data:`RANGES`, the buffer and minibatch splits) and :func:`check_env`
(PPO's: ``Box`` and ``Discrete`` actions both work), both called by :func:`init`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl import rollout
from jaxrl.agents import ppo
from jaxrl.buffers import RingBuffer
from jaxrl.config import (
    COUNT,
    COUNT_OR_ZERO,
    NONNEGATIVE,
    POSITIVE,
    Range,
    RangeSpec,
    check_ranges,
)
from jaxrl.networks import Categorical, DiagGaussian, Distribution, stop_feature_gradients
from jaxrl.normalize import RunningStats
from jaxrl.types import Env, Metrics, PRNGKey, Transition

NAME = "props"

Sampling = Literal["props", "on_policy"]
"""Who collects the data (:attr:`Config.sampling`)."""
SAMPLINGS: tuple[str, ...] = get_args(Sampling)


@struct.dataclass
class Config(ppo.Config):
    """PROPS hyperparameters: every PPO Config field (they configure the target
    policy's PPO update; ``num_steps`` is the target batch n per environment, ``num_minibatches``
    splits the whole buffer) plus the buffer, the behaviour update and the sampling-error fit.
    Float fields are dynamic (pytree leaves); fields marked static fix shapes, loop counts or code
    paths.

    Defaults (see :mod:`jaxrl.agents.presets` for the authors' tuned MuJoCo settings): PROPS's
    own fields take the argparse defaults of the authors' PROPS/ppo_props_continuous.py
    (lines 62-121), except ``props_num_steps`` (16; theirs 1024, line 92), ``se_epochs`` (50;
    theirs 250, line 119, with the sampling error off, ``--se 0``, line 113) and
    ``se_num_minibatches`` (8; theirs ``num_steps / 512`` minibatches, line 435). The inherited
    PPO fields are :class:`jaxrl.agents.ppo.Config`'s (``target_kl`` 0.03 as theirs, line 84),
    which differ from that script in ``num_envs`` (64; theirs 1, line 53), ``num_steps`` (64;
    2048, line 62), ``learning_rate`` (3e-4, constant; 1e-4 annealed linearly to 0,
    ``--anneal-lr`` True, lines 66-67), ``num_epochs`` (4; 10, line 73), ``num_minibatches``
    (8; 32, line 72), ``ent_coef`` (0; 0.01, line 80) and ``clip_value_loss`` (False; True,
    line 78). Their environment also normalises rewards (``NormalizeReward`` then clip to
    [-10, 10], PROPS/utils.py:160-161) and their actor mean ends in ``tanh``
    (PROPS/utils.py:195): ``normalize_reward``, ``reward_clip`` and ``mean_activation`` (off by
    default) give them, and ``presets.PROPS_PAPER_OFFICIAL`` sets them with the annealing."""

    target_kl: float = 0.03
    """PPO update: stop all remaining minibatch steps once the approximate KL of a minibatch
    exceeds this (checked before each step, as the authors' ``update_ppo``); > 0, ``inf``
    disables."""
    props_learning_rate: float = 1e-4
    """Adam step size of the behaviour update (constant), >= 0 (0: phi stays theta)."""
    props_clip_eps: float = 0.3
    """eps_P: the behaviour ratio's gradient stops below ``1 - eps_P``; >= 0."""
    props_target_kl: float = 0.05
    """Behaviour update: stop once a minibatch's approximate KL(theta, phi) exceeds this; > 0,
    ``inf`` disables."""
    props_lambda: float = 0.3
    """lambda: weight of KL(pi_phi || pi_theta) (averaged over action dims) in the behaviour
    loss, >= 0."""
    props_max_grad_norm: float = 0.5
    """Global-norm gradient clipping of the behaviour update, > 0."""
    props_adam_eps: float = 1e-8
    """Adam's epsilon for phi, > 0. 1e-8 (optax's default) keeps this module's earlier
    behaviour; the authors' ``props_optimizer`` uses 1e-5 (repo NicholasCorrado/PPOROS,
    PROPS/ppo_props_continuous.py:572), which ``presets.PROPS_PAPER_OFFICIAL`` sets. The target
    optimiser's is the inherited ``adam_eps`` (1e-5, theirs too, line 558)."""
    se_learning_rate: float = 1e-3
    """Adam step size of the empirical-policy fit of the sampling error, >= 0."""
    sampling: Sampling = struct.field(pytree_node=False, default="props")
    """``"props"`` (behaviour policy) or ``"on_policy"`` (collect with pi_theta: the
    PPO-with-buffer baseline) (static)."""
    buffer_batches: int = struct.field(pytree_node=False, default=2)
    """b: target batches of ``num_steps`` steps kept in the buffer, >= 1 (static)."""
    props_num_steps: int = struct.field(pytree_node=False, default=16)
    """m: steps per environment collected between behaviour updates, >= 1; divides
    ``num_steps`` (static)."""
    props_num_epochs: int = struct.field(pytree_node=False, default=16)
    """Passes of the behaviour update over the buffer, >= 1 (static)."""
    props_num_minibatches: int = struct.field(pytree_node=False, default=16)
    """Minibatches per behaviour epoch, >= 1; divides the buffer size (static)."""
    se_epochs: int = struct.field(pytree_node=False, default=50)
    """Passes of the empirical-policy fit per iteration, >= 0; 0 skips the fitted sampling
    error (the discrete counts KL is always reported) (static)."""
    se_num_minibatches: int = struct.field(pytree_node=False, default=8)
    """Minibatches per pass of the empirical-policy fit, >= 1; divides the buffer size
    (static)."""

    def buffer_steps(self) -> int:
        """Time steps the ring buffer holds per environment (``b * n``)."""
        return self.buffer_batches * self.num_steps

    def validate(self) -> None:
        """PPO's checks (which also check the ``sampling`` choice), every numeric field
        against :data:`RANGES`, and the splits of ``num_steps`` and of the buffer; a
        ValueError names the field."""
        super().validate()
        check_ranges(self, RANGES)
        if self.sequence_length or self.obs_stats_update != "after":
            raise ValueError(
                "PROPS trains on a flat buffer of single steps with statistics updated after "
                "the update: Config.sequence_length must be 0 and Config.obs_stats_update "
                f"'after', got {self.sequence_length} and {self.obs_stats_update!r}"
            )
        if self.num_steps % self.props_num_steps:
            raise ValueError(
                f"Config.props_num_steps={self.props_num_steps} must divide "
                f"num_steps={self.num_steps}"
            )
        size = self.buffer_steps() * self.num_envs
        for name in ("props_num_minibatches", "se_num_minibatches"):
            if size % getattr(self, name):
                raise ValueError(
                    f"Config.{name}={getattr(self, name)} must divide the buffer size "
                    f"buffer_batches * num_steps * num_envs = {size}"
                )


_KL_LIMIT = Range(0.0, low_open=True, allow_inf=True)
"""``(0, inf]``: a KL early-stop threshold; ``inf`` switches the stop off."""

RANGES: tuple[RangeSpec, ...] = (
    *ppo.RANGES,
    ("target_kl", _KL_LIMIT),
    ("props_learning_rate", NONNEGATIVE),
    ("props_clip_eps", NONNEGATIVE),
    ("props_target_kl", _KL_LIMIT),
    ("props_lambda", NONNEGATIVE),
    ("props_max_grad_norm", POSITIVE),
    ("props_adam_eps", POSITIVE),
    ("se_learning_rate", NONNEGATIVE),
    ("buffer_batches", COUNT),
    ("props_num_steps", COUNT),
    ("props_num_epochs", COUNT),
    ("props_num_minibatches", COUNT),
    ("se_epochs", COUNT_OR_ZERO),
    ("se_num_minibatches", COUNT),
)
"""Allowed values of every numeric field (PPO's and PROPS's), checked by ``Config.validate``."""


def check_env(config: Config, env: Env) -> None:
    """PPO's :func:`jaxrl.agents.ppo.check_env`: PROPS takes ``Box`` and ``Discrete`` actions;
    the torso needs observations of its shape. Cheap: reads ``env.spec`` only."""
    ppo.check_env(config, env)


class State(ppo.State):
    """PPO's state of the target policy (``params``, ``opt_state``, normaliser, envs, key,
    iteration counter) plus the behaviour policy and the buffer."""

    behaviour_params: Any
    """Variables of pi_phi (the policy network's, same shape as ``params["policy"]``)."""
    behaviour_opt_state: Any
    """Adam state of phi; it persists across the phi <- theta resets."""
    buffer: RingBuffer
    """The last ``b`` target batches: rows are time steps, each a :class:`Transition` of
    ``num_envs`` environments (raw observations and rewards, ``extras`` empty)."""


def steps_per_iteration(config: Config) -> int:
    """Environment steps one ``train_step`` takes (summed over envs): one target batch."""
    return ppo.steps_per_iteration(config)


def make_behaviour_optimizer(config: Config) -> optax.GradientTransformation:
    """Global-norm clipping then Adam for phi (step size and ``props_adam_eps`` read from the
    traced config)."""
    return optax.chain(
        optax.clip_by_global_norm(config.props_max_grad_norm),
        optax.adam(config.props_learning_rate, eps=config.props_adam_eps),
    )


def _empty_buffer(config: Config, env: Env) -> RingBuffer:
    """A buffer of ``b * n`` time steps of ``num_envs`` environments."""
    spec, shape = env.spec, (config.num_envs,)
    obs = jax.ShapeDtypeStruct((*shape, *spec.obs_shape), jnp.float32)
    if spec.discrete:
        raw = action = jax.ShapeDtypeStruct(shape, jnp.int32)
    else:
        raw = jax.ShapeDtypeStruct((*shape, spec.action_dim), jnp.float32)
        action = jax.ShapeDtypeStruct((*shape, *spec.action_space.shape), jnp.float32)
    flags = jax.ShapeDtypeStruct(shape, bool)
    step = Transition(
        obs=obs,
        action=action,
        raw_action=raw,
        reward=jax.ShapeDtypeStruct(shape, jnp.float32),
        terminated=flags,
        truncated=flags,
        next_obs=obs,
        extras={},
    )
    return RingBuffer.create(step, config.buffer_steps())


def init(config: Config, env: Env, key: PRNGKey) -> State:
    """PPO's initial state (target networks, optimiser, normaliser, envs), phi = theta with a
    fresh Adam state, and an empty buffer (after ``config.validate()`` and :func:`check_env`)."""
    config.validate()
    check_env(config, env)
    base = ppo.init(config, env, key)
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(ppo.State)}
    behaviour = base.params["policy"]
    return State(
        **fields,
        behaviour_params=behaviour,
        behaviour_opt_state=make_behaviour_optimizer(config).init(behaviour),
        buffer=_empty_buffer(config, env),
    )


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = False,
) -> jax.Array:
    """Env actions of the *target* policy pi_theta (what evaluation scores)."""
    return ppo.act(config, env, state, obs, key, deterministic)


# --- buffer ----------------------------------------------------------------------------------


def behaviour_mask(buffer: RingBuffer, m: int) -> jax.Array:
    """Valid steps of the chronological buffer that enter the behaviour loss: all filled steps,
    minus those the next collection of ``m`` steps evicts (the oldest ``m``-batch once full)."""
    return buffer.valid() & ~buffer.oldest(buffer.count + m - buffer.capacity)


# --- losses ----------------------------------------------------------------------------------


def props_clip_loss(
    log_ratio: jax.Array, clip_eps: jax.Array, weight: jax.Array | None = None
) -> jax.Array:
    """PROPS's clipped objective: ``mean max(r, clip(r, 1 - eps_P, 1 + eps_P))`` with
    ``r = pi_phi / pi_theta`` (``update_props``): PPO's clipped loss with advantage -1 for every
    sample, so minimising it lowers the probability of the buffer's actions. The gradient is zero
    where ``r < 1 - eps_P`` and is not clipped above 1."""
    ratio = jnp.exp(log_ratio)
    return ppo.weighted_mean(
        jnp.maximum(ratio, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)), weight
    )


def props_kl_regulariser(
    phi: Distribution, theta: Distribution, weight: jax.Array | None = None
) -> jax.Array:
    """KL(pi_phi || pi_theta) in closed form, averaged over the batch *and the action
    dimensions* (``update_props``'s ``kl_regularizer_loss``); the categorical KL for discrete
    actions. A tanh-squashed Gaussian has the KL of its base Gaussian (tanh is invertible)."""
    if isinstance(phi, Categorical):
        kl = phi.kl(theta)
    else:
        kl = DiagGaussian.kl(phi, theta) / phi.mean.shape[-1]
    return ppo.weighted_mean(kl, weight)


def approx_kl(log_ratio: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """``mean((r - 1) - log r)``, the low-variance estimator of KL(pi_theta || pi_phi) on the
    buffer's actions, used for early stopping."""
    return ppo.weighted_mean(jnp.expm1(log_ratio) - log_ratio, weight)


class BehaviourBatch(struct.PyTreeNode):
    """Flat buffer data for the behaviour update (observations already normalised)."""

    obs: jax.Array
    raw_action: jax.Array
    target_log_prob: jax.Array
    """log pi_theta(a|s) under the theta that phi was reset to."""
    target_dist: Any
    """pi_theta(.|s) as a distribution pytree (the KL anchor)."""
    weight: jax.Array
    """1 for steps in the behaviour loss, 0 otherwise."""


def props_behaviour_loss(
    phi_params: Any, config: Config, env: Env, batch: BehaviourBatch
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The PROPS behaviour loss ``L_clip + lambda * L_KL`` (:func:`props_clip_loss`,
    :func:`props_kl_regulariser`) of phi on a minibatch, with its approximate KL to theta."""
    policy, _ = ppo.make_networks(config, env)
    dist = policy.apply(phi_params, batch.obs)
    log_ratio = dist.log_prob(batch.raw_action) - batch.target_log_prob
    clip = props_clip_loss(log_ratio, config.props_clip_eps, batch.weight)
    kl = props_kl_regulariser(dist, batch.target_dist, batch.weight)
    info = {
        "props_clip_loss": clip,
        "props_kl_regulariser": kl,
        "approx_kl": approx_kl(log_ratio, batch.weight),
    }
    return clip + config.props_lambda * kl, info


# --- updates ---------------------------------------------------------------------------------


def behaviour_batch(
    config: Config,
    env: Env,
    theta_policy: Any,
    normalizer: RunningStats,
    data: Transition,
    weight: jax.Array,
) -> BehaviourBatch:
    """Flatten ``[T, E]`` buffer data and record pi_theta's log-probs and distribution on it."""
    policy, _ = ppo.make_networks(config, env)
    obs = ppo.preprocess(config, normalizer, ppo.flatten_time(data.obs))
    raw = ppo.flatten_time(data.raw_action)
    dist = policy.apply(theta_policy, obs)
    return BehaviourBatch(
        obs=obs,
        raw_action=raw,
        target_log_prob=dist.log_prob(raw),
        target_dist=dist,
        weight=ppo.flatten_time(weight).astype(jnp.float32),
    )


def behaviour_update(
    config: Config,
    env: Env,
    theta_policy: Any,
    behaviour_opt_state: Any,
    normalizer: RunningStats,
    buffer: RingBuffer,
    key: PRNGKey,
) -> tuple[Any, Any, dict[str, jax.Array]]:
    """phi <- theta, then the early-stopped minibatch epochs on :func:`props_behaviour_loss`
    over the buffer minus the batch about to be evicted. ``phi`` starts from ``theta_policy``
    by construction (the previous phi is not an input); only its Adam state carries over.

    Returns phi, its optimiser state and metrics (``props_approx_kl`` is the approximate KL of
    the final phi over the whole behaviour batch)."""
    data, _ = buffer.chronological()
    mask = behaviour_mask(buffer, config.props_num_steps)
    weight = jnp.broadcast_to(mask[:, None], data.reward.shape)
    batch = behaviour_batch(config, env, theta_policy, normalizer, data, weight)
    loss_fn = lambda p, mb: props_behaviour_loss(p, config, env, mb)  # noqa: E731
    phi, opt_state, info = ppo.sgd_epochs(
        loss_fn,
        theta_policy,
        behaviour_opt_state,
        make_behaviour_optimizer(config),
        batch,
        key,
        config.props_num_epochs,
        config.props_num_minibatches,
        target_kl=config.props_target_kl,
        skip_empty=True,
    )
    _, final = props_behaviour_loss(phi, config, env, batch)
    metrics = {
        "props_loss": info["loss"],
        "props_clip_loss": info["props_clip_loss"],
        "props_kl_regulariser": final["props_kl_regulariser"],
        "props_approx_kl": final["approx_kl"],
        "props_updates": info["updates"],
        "props_stopped": info["stopped"],
        "props_grad_norm": info["grad_norm"],
    }
    return phi, opt_state, metrics


# --- sampling error --------------------------------------------------------------------------


def _clamp_log_std(dist: Distribution) -> Distribution:
    if isinstance(dist, Categorical):
        return dist
    return dist.replace(log_std=jnp.clip(dist.log_std, -3.0, 1.0))


def fit_empirical_policy(
    config: Config, env: Env, theta_policy: Any, batch: BehaviourBatch, key: PRNGKey
) -> Any:
    """pi_D: pi_theta refitted by maximum likelihood to the weighted batch with pi_theta's
    features kept (every kernel but the output layer's frozen, as ROS and ``compute_se`` freeze
    the hidden layers: :func:`jaxrl.networks.stop_feature_gradients`), log-std clamped to
    [-3, 1]; Adam at ``se_learning_rate``, gradient norm 1, ``se_epochs`` passes of
    ``se_num_minibatches`` minibatches."""
    policy, _ = ppo.make_networks(config, env)

    def loss_fn(params, mb):
        dist = _clamp_log_std(policy.apply(stop_feature_gradients(policy, params), mb.obs))
        return -ppo.weighted_mean(dist.log_prob(mb.raw_action), mb.weight), {}

    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(config.se_learning_rate))
    params, _, _ = ppo.sgd_epochs(
        loss_fn,
        theta_policy,
        tx.init(theta_policy),
        tx,
        batch,
        key,
        config.se_epochs,
        config.se_num_minibatches,
    )
    return params


def sampling_error(
    config: Config, env: Env, theta_policy: Any, batch: BehaviourBatch, key: PRNGKey
) -> jax.Array:
    """Sampling error of the (weighted) buffer w.r.t. pi_theta: KL(pi_D || pi_theta) estimated as
    ``mean_D [log pi_D(a|s) - log pi_theta(a|s)]`` with pi_D from :func:`fit_empirical_policy`
    (both log-stds clamped to [-3, 1], as ``compute_se``)."""
    policy, _ = ppo.make_networks(config, env)
    empirical = fit_empirical_policy(config, env, theta_policy, batch, key)
    log_d = _clamp_log_std(policy.apply(empirical, batch.obs)).log_prob(batch.raw_action)
    log_t = _clamp_log_std(policy.apply(theta_policy, batch.obs)).log_prob(batch.raw_action)
    return ppo.weighted_mean(log_d - log_t, batch.weight)


def counts_kl(logits: jax.Array, actions: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """Exact KL(counts / N || pi) of discrete actions: the weighted histogram of ``actions [N]``
    against pi_theta's probabilities ``softmax(logits [N, K])`` averaged over the same states
    (``0 log 0 = 0``). For a single-state task this is the exact sampling error; on-policy
    sampling gives about ``(K - 1) / (2 N)`` in expectation."""
    w = jnp.ones(actions.shape, jnp.float32) if weight is None else weight.astype(jnp.float32)
    total = jnp.maximum(jnp.sum(w), 1e-8)
    k = logits.shape[-1]
    empirical = jnp.sum(jax.nn.one_hot(actions, k) * w[:, None], axis=0) / total
    target = jnp.sum(jax.nn.softmax(logits) * w[:, None], axis=0) / total
    ratio = jnp.where(empirical > 0, empirical / jnp.maximum(target, 1e-30), 1.0)
    return jnp.sum(jnp.where(empirical > 0, empirical * jnp.log(ratio), 0.0))


# --- the iteration ---------------------------------------------------------------------------


def _merge_episode_metrics(infos: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Combine the per-collection episode statistics ``[n / m]`` into one row."""
    count = infos["episodes"]
    total = jnp.sum(count)
    nan = jnp.float32(jnp.nan)
    out = {"episodes": total}
    for name in ("episode_return", "episode_length"):
        value = jnp.sum(jnp.where(count > 0, infos[name] * count, 0.0))
        out[name] = jnp.where(total > 0, value / jnp.maximum(total, 1.0), nan)
    return out


def train_step(config: Config, env: Env, state: State) -> tuple[State, Metrics]:
    """One PROPS iteration: ``n / m`` times (behaviour update, collect ``m`` steps with pi_phi),
    then the sampling error of the buffer and the PPO update of theta over the whole buffer."""
    key, k_sub, k_se, k_sgd = jax.random.split(state.key, 4)
    vec_env = ppo.vec_env(config, env)
    m = config.props_num_steps

    def sub_iteration(state: State, sub_key: PRNGKey):
        k_b, k_c = jax.random.split(sub_key)
        metrics = {}
        if config.sampling == "props":
            phi, phi_opt_state, metrics = behaviour_update(
                config,
                env,
                state.params["policy"],
                state.behaviour_opt_state,
                state.normalizer,
                state.buffer,
                k_b,
            )
        else:
            phi, phi_opt_state = state.params["policy"], state.behaviour_opt_state
        policy_fn = ppo.make_policy_fn(config, env, {"policy": phi}, state.normalizer)
        env_state, traj, episode_info = rollout.collect(vec_env, state.env_state, policy_fn, k_c, m)
        normalizer = state.normalizer.update(traj.obs) if config.normalize_obs else state.normalizer
        reward_normalizer = state.reward_normalizer
        if config.normalize_reward:
            reward_normalizer, rewards, scales = reward_normalizer.normalize_rollout(
                traj.reward, traj.terminated, config.gamma, config.reward_clip
            )
            traj = traj.replace(reward=rewards * scales)  # the authors' ``unnormalize``
        state = state.replace(
            behaviour_params=phi,
            behaviour_opt_state=phi_opt_state,
            buffer=state.buffer.add(traj.replace(extras={})),
            env_state=env_state,
            normalizer=normalizer,
            reward_normalizer=reward_normalizer,
        )
        return state, (metrics, episode_info)

    state, (behaviour_info, episode_info) = jax.lax.scan(
        sub_iteration, state, jax.random.split(k_sub, config.num_steps // m)
    )

    # The target update over the whole buffer, everything recomputed under the current theta.
    data, valid = state.buffer.chronological()
    if config.normalize_reward:  # the buffer re-normalised with the current statistics
        data = data.replace(reward=data.reward / state.reward_normalizer.scale())
    weight = jnp.broadcast_to(valid[:, None], data.reward.shape).astype(jnp.float32)
    values, advantages, targets = ppo.compute_advantages(
        config, env, state.params, state.normalizer, data
    )
    theta = state.params["policy"]
    theta_batch = behaviour_batch(config, env, theta, state.normalizer, data, weight)
    se_metrics = {}
    if config.se_epochs > 0:
        se_metrics["sampling_error"] = sampling_error(config, env, theta, theta_batch, k_se)
    if env.spec.discrete:
        se_metrics["sampling_error_counts"] = counts_kl(
            theta_batch.target_dist.logits, theta_batch.raw_action, theta_batch.weight
        )
    batch = ppo.Batch(
        obs=ppo.flatten_time(data.obs),
        raw_action=theta_batch.raw_action,
        log_prob=theta_batch.target_log_prob,
        value=ppo.flatten_time(values),
        advantage=ppo.flatten_time(advantages),
        target=ppo.flatten_time(targets),
        weight=theta_batch.weight,
    )
    lr = ppo.learning_rate(config, state.step)

    def loss_fn(p: Any, mb: ppo.Batch, k: PRNGKey | None = None):
        return ppo.ppo_loss(p, config, env, state.normalizer, mb, key=k)

    params, opt_state, info = ppo.sgd_epochs(
        loss_fn,
        state.params,
        state.opt_state,
        ppo.make_optimizer(config, lr),
        batch,
        k_sgd,
        config.num_epochs,
        config.num_minibatches,
        target_kl=config.target_kl,
        skip_empty=True,
        keyed=ppo.needs_loss_key(config),
    )
    new_state = state.replace(params=params, opt_state=opt_state, key=key, step=state.step + 1)
    metrics = {
        **info,
        **jax.tree.map(jnp.mean, behaviour_info),
        **_merge_episode_metrics(episode_info),
        **se_metrics,
        "learning_rate": lr,
        "value_mean": ppo.weighted_mean(ppo.flatten_time(values), weight.reshape(-1)),
        "buffer_fill": state.buffer.count.astype(jnp.float32) / config.buffer_steps(),
    }
    return new_state, metrics


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
