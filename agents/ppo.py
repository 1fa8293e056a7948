"""Proximal Policy Optimization (Schulman et al. 2017, arXiv:1707.06347).

One ``train_step`` collects ``num_steps`` steps from ``num_envs`` vectorised environments, computes
GAE advantages (bootstrapping through time limits from the final observation, never through true
terminations) and takes ``num_epochs`` passes of ``num_minibatches`` Adam steps on the clipped
surrogate (eq. 7) plus value and entropy terms (eq. 9).

Options for the PPO-family agents' official settings, each off by default (the defaults compute
exactly what PPO computed before they existed): reward normalisation by the running
discounted-return variance (``normalize_reward``, Gymnasium's ``NormalizeReward``), a tanh on
the Gaussian mean (``mean_activation``), Brax's sampled tanh entropy (``tanh_entropy``), Brax's
policy advantages (``advantage_form``), Brax's minibatches of whole sequences with advantages
recomputed by the current critic (``sequence_length``) and its observation-statistics order
(``obs_stats_update``), a value network with its own activation and initialiser
(``value_hidden_sizes``, ``value_activation``, ``value_kernel_init``) and linear learning-rate
annealing (``lr_decay_steps``).

The pieces other agents reuse (GoRL, PROPS, polychromic PPO) are public module functions:
:func:`make_networks`, :func:`make_optimizer`, :func:`policy_loss`, :func:`value_loss`,
:func:`ppo_loss`, :func:`weighted_mean`, :func:`compute_advantages`, :func:`to_sequences`,
:func:`sequence_batch`, :func:`sgd_epochs` (with
its KL early stop), :func:`preprocess` and :func:`flatten_time`; :func:`train_step` takes three
optional hooks: ``action_fn`` and ``extra_loss`` (GoRL) and ``reward_fn`` (RND's intrinsic
reward).

Inputs are checked before anything is traced: :meth:`Config.validate` (every numeric field
against :data:`RANGES`, layer widths, string choices, the minibatch split) and
:func:`check_env` (PPO takes ``Box`` and ``Discrete`` actions; the ``"mlp"`` torso needs vector
observations, ``"cnn"`` needs ``[H, W, C]`` ones), both called by :func:`init`. ``check_env`` is
cheap (it reads ``env.spec``), so a run script can call it, through
:func:`jaxrl.config.check_env`, before it makes any folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl import rollout
from jaxrl.config import (
    COUNT,
    COUNT_OR_ZERO,
    NONNEGATIVE,
    POSITIVE,
    UNIT,
    Range,
    RangeSpec,
    check_choices,
    check_ranges,
    check_sizes,
    require_vector_obs,
)
from jaxrl.networks import (
    TORSOS,
    Activation,
    KernelInit,
    MeanActivation,
    NetworkConfig,
    PolicyHead,
    PolicyNetwork,
    TanhEntropy,
    TanhGaussian,
    Torso,
    ValueNetwork,
    actor_critic,
    env_action,
)
from jaxrl.normalize import RewardNormalizer, RunningStats
from jaxrl.returns import AdvantageForm, brax_advantages, gae
from jaxrl.types import Env, Metrics, PRNGKey, Transition

NAME = "ppo"

ObsStatsUpdate = Literal["after", "before"]
"""When an iteration's observations enter the running statistics (``Config.obs_stats_update``)."""


@struct.dataclass
class Config:
    """PPO hyperparameters. Float fields are pytree leaves (vmappable in sweeps, never recompile);
    fields marked static fix shapes and loop counts."""

    learning_rate: float = 3e-4
    """Adam step size, >= 0 (0 freezes the networks)."""
    gamma: float = 0.99
    """Discount factor, in [0, 1]."""
    gae_lambda: float = 0.95
    """GAE lambda, in [0, 1]."""
    clip_eps: float = 0.2
    """PPO ratio clip range epsilon (also the value clip with clip_value_loss), >= 0."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient, >= 0."""
    vf_coef: float = 0.5
    """Value loss coefficient, >= 0."""
    max_grad_norm: float = 0.5
    """Global-norm gradient clipping threshold, > 0; inf switches clipping off (the official
    GoRL Gaussian-PPO baseline has none, repo bennidict23/GoRL @1461fb0,
    src/flow_policy/ppo.py:186-199)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before computing advantages (after normalize_reward),
    > 0."""
    reward_clip: float = 10.0
    """normalize_reward: normalised rewards are clipped to [-reward_clip, reward_clip] (PROPS's
    10); > 0, inf disables."""
    lr_decay_steps: float = 0.0
    """If > 0, the learning rate decays linearly to 0 over this many env steps (>= 0); set it
    to the run's total steps for CleanRL's / PROPS's ``anneal_lr`` (the update after ``k``
    iterations uses ``learning_rate * (1 - k / num_iterations)``)."""
    adam_eps: float = 1e-5
    """Adam's epsilon (added to the root of the second-moment estimate), > 0. 1e-5 as CleanRL's
    PPO and the PROPS authors' target optimiser (repo NicholasCorrado/PPOROS,
    PROPS/ppo_props_continuous.py:558); GoRL's official encoder and critic use optax's
    ``scale_by_adam()`` default 1e-8 (repo bennidict23/GoRL, src/flow_policy/encoder_ppo.py:109)."""
    num_envs: int = struct.field(pytree_node=False, default=64)
    """Number of parallel environments, >= 1 (static)."""
    num_steps: int = struct.field(pytree_node=False, default=64)
    """Rollout length per environment per iteration, >= 1 (static)."""
    num_epochs: int = struct.field(pytree_node=False, default=4)
    """Passes over each batch, >= 1 (static)."""
    num_minibatches: int = struct.field(pytree_node=False, default=8)
    """Minibatches per epoch, >= 1; must divide num_envs * num_steps (static)."""
    hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(64, 64))
    """Hidden layer widths of the policy and value MLPs, where policy_hidden_sizes /
    value_hidden_sizes do not override them; at least one layer, widths >= 1 (static)."""
    policy_hidden_sizes: tuple[int, ...] | None = struct.field(pytree_node=False, default=None)
    """Hidden layer widths of the policy MLP (non-empty, >= 1); None: hidden_sizes (static)."""
    value_hidden_sizes: tuple[int, ...] | None = struct.field(pytree_node=False, default=None)
    """Hidden layer widths of the value MLP (non-empty, >= 1); None: hidden_sizes (static)."""
    activation: Activation = struct.field(pytree_node=False, default="tanh")
    """Activation of the hidden layers (MLPs and CNN torso) (static)."""
    value_activation: Activation | None = struct.field(pytree_node=False, default=None)
    """Activation of the value MLP's hidden layers; None: activation (static)."""
    value_kernel_init: KernelInit = struct.field(pytree_node=False, default="orthogonal")
    """Initialiser of every value MLP layer: 'orthogonal' (gain sqrt 2, output layer 1) or
    'lecun_uniform' (GoRL's official critic) (static)."""
    layer_norm: bool = struct.field(pytree_node=False, default=False)
    """LayerNorm after each hidden layer of the MLPs (static)."""
    torso: Torso = struct.field(pytree_node=False, default="mlp")
    """Observation torso before each MLP (policy and value have their own): 'mlp': none, the
    MLPs read the observation vector; 'cnn': the cnn_* convolutions on [H, W, C] observations
    (grids, images), flattened. The command line offers the built-in torsos; from Python, any
    name registered in jaxrl.networks.TORSOS (validate checks the registry) (static)."""
    cnn_channels: tuple[int, ...] = struct.field(pytree_node=False, default=(16, 32))
    """torso='cnn': output channels of each convolution, each >= 1 (static)."""
    cnn_kernel_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(3, 3))
    """torso='cnn': square kernel side of each convolution, one per channel entry (static)."""
    cnn_strides: tuple[int, ...] = struct.field(pytree_node=False, default=(1, 1))
    """torso='cnn': stride of each convolution, one per channel entry (static)."""
    policy_head: PolicyHead = struct.field(pytree_node=False, default="gaussian")
    """Continuous action head: 'gaussian' (sample clipped to the action box) or
    'tanh_gaussian'; discrete actions always use a categorical head (static)."""
    mean_activation: MeanActivation = struct.field(pytree_node=False, default="linear")
    """Continuous heads: the Gaussian mean is the policy MLP's output ('linear') or its tanh
    ('tanh', PROPS's official actor) (static)."""
    tanh_entropy: TanhEntropy = struct.field(pytree_node=False, default="base")
    """Entropy of the 'tanh_gaussian' head in the loss: 'base' (the pre-tanh Gaussian's) or
    'sampled' (Brax's: plus the tanh log-det-Jacobian at a fresh sample per minibatch step);
    'sampled' needs policy_head='tanh_gaussian' (static)."""
    advantage_form: AdvantageForm = struct.field(pytree_node=False, default="gae")
    """Policy advantages: 'gae' or 'brax' (delta_t + gamma * A^GAE_{t+1}, Brax's and GoRL's);
    the value targets are GAE's either way (static)."""
    sequence_length: int = struct.field(pytree_node=False, default=0)
    """0: the iteration's steps are shuffled one by one and advantages and value targets are
    computed once, before the epochs, with the rollout's critic. L >= 1: Brax's layout (Brax's
    PPO, GoRL's official encoder, repo bennidict23/GoRL @1461fb0,
    src/flow_policy/rollouts.py:32-60 and src/flow_policy/encoder_ppo.py:239-278): each env's
    rollout is cut into sequences of L consecutive steps, minibatches are whole shuffled
    sequences, and each minibatch's loss recomputes values, advantages and value targets on its
    sequences with the current critic (each sequence bootstraps from its last step's successor);
    L must divide num_steps and num_minibatches the number of sequences (static)."""
    obs_stats_update: ObsStatsUpdate = struct.field(pytree_node=False, default="after")
    """When an iteration's observations enter the running statistics: 'after' the update (the
    rollout, its stored log-probs and the update see the same normalisation) or 'before' it
    (Brax's and GoRL's official order, encoder_ppo.py:153-157: the update normalises with
    statistics that include the batch, so the first ratios are not exactly 1) (static)."""
    normalize_obs: bool = struct.field(pytree_node=False, default=True)
    """Normalise observations with running statistics (static)."""
    normalize_reward: bool = struct.field(pytree_node=False, default=False)
    """Divide each reward by the running std of its env's discounted return, then clip to
    reward_clip (Gymnasium's NormalizeReward per env, as CleanRL and PROPS); the statistics
    live in State.reward_normalizer (static)."""
    normalize_advantages: bool = struct.field(pytree_node=False, default=True)
    """Normalise advantages per minibatch (static)."""
    clip_value_loss: bool = struct.field(pytree_node=False, default=False)
    """Clip the value update around the old values with clip_eps (static)."""
    reset_mode: rollout.ResetMode = struct.field(pytree_node=False, default="optimistic")
    """How envs whose episode ended restart (jaxrl.rollout): 'optimistic' resets only those
    envs, reset_pool at a time, each with its own fresh key (the episodes of 'real', at the cost
    of the resets needed); 'real' resets every env every step and keeps the ended ones';
    'cached' restarts each env from its first state, as Brax does (start states reused: for
    throughput comparisons only) (static)."""
    reset_pool: int = struct.field(pytree_node=False, default=0)
    """reset_mode='optimistic': resets computed per pass of its loop, in [0, num_envs] (a step
    runs as many passes as its ended envs need, none when no episode ended); 0 means
    ceil(num_envs / 16) (static)."""

    def validate(self) -> None:
        """Raise a ValueError naming the field, its value and what is allowed: every numeric
        field against :data:`RANGES` (NaN and infinities refused), layer widths (non-empty,
        positive), string choices (``torso`` against the :data:`jaxrl.networks.TORSOS`
        registry), the minibatch split and the CNN layers."""
        check_ranges(self, RANGES)
        check_sizes(self, ("hidden_sizes",))
        check_sizes(self, ("policy_hidden_sizes", "value_hidden_sizes"), optional=True)
        check_choices(self, {"torso": tuple(TORSOS)})
        if self.tanh_entropy == "sampled" and self.policy_head != "tanh_gaussian":
            raise ValueError(
                "Config.tanh_entropy='sampled' needs policy_head='tanh_gaussian', got "
                f"policy_head={self.policy_head!r}"
            )
        if self.reset_pool > self.num_envs:
            raise ValueError(
                f"Config.reset_pool must be in [0, num_envs={self.num_envs}], got {self.reset_pool}"
            )
        batch = self.num_envs * self.num_steps
        if self.sequence_length:
            if self.num_steps % self.sequence_length:
                raise ValueError(
                    f"Config.sequence_length={self.sequence_length} must divide "
                    f"num_steps={self.num_steps}"
                )
            sequences = batch // self.sequence_length
            if sequences % self.num_minibatches:
                raise ValueError(
                    f"Config.num_minibatches={self.num_minibatches} must divide the number of "
                    f"sequences num_envs * num_steps / sequence_length = {self.num_envs} * "
                    f"{self.num_steps} / {self.sequence_length} = {sequences}"
                )
        elif batch % self.num_minibatches:
            raise ValueError(
                f"Config.num_minibatches={self.num_minibatches} must divide the batch "
                f"num_envs * num_steps = {self.num_envs} * {self.num_steps} = {batch}"
            )
        network_config(self).validate()


RANGES: tuple[RangeSpec, ...] = (
    ("learning_rate", NONNEGATIVE),
    ("gamma", UNIT),
    ("gae_lambda", UNIT),
    ("clip_eps", NONNEGATIVE),
    ("ent_coef", NONNEGATIVE),
    ("vf_coef", NONNEGATIVE),
    ("max_grad_norm", Range(0.0, low_open=True, allow_inf=True)),
    ("reward_scale", POSITIVE),
    ("reward_clip", Range(0.0, low_open=True, allow_inf=True)),
    ("lr_decay_steps", NONNEGATIVE),
    ("adam_eps", POSITIVE),
    ("num_envs", COUNT),
    ("num_steps", COUNT),
    ("num_epochs", COUNT),
    ("num_minibatches", COUNT),
    ("sequence_length", COUNT_OR_ZERO),
    ("reset_pool", COUNT_OR_ZERO),
)
"""Allowed values of every numeric field, dynamic and static (checked by ``Config.validate``;
GoRL and PROPS extend it)."""


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env when ``config`` cannot train on it (cheap: reads
    ``env.spec`` only). PPO takes ``Box`` and ``Discrete`` actions; the built-in torsos need
    observations of their shape: ``"mlp"`` vectors, ``"cnn"`` ``[H, W, C]`` arrays (a torso
    registered in :data:`jaxrl.networks.TORSOS` is not checked)."""
    shape = tuple(env.spec.obs_shape)
    if config.torso == "mlp":
        require_vector_obs("Config.torso='mlp' (an MLP on the observation)", env)
    elif config.torso == "cnn" and len(shape) != 3:
        raise ValueError(
            f"Config.torso='cnn' needs image observations [H, W, C]; env {env.spec.name!r} has "
            f"observations of shape {shape}"
        )


class State(struct.PyTreeNode):
    """Everything a run needs to continue exactly (what checkpoints store)."""

    params: dict[str, Any]
    opt_state: Any
    normalizer: RunningStats
    env_state: rollout.VecEnvState
    key: jax.Array
    step: jax.Array
    """Training iterations done."""
    reward_normalizer: RewardNormalizer | None
    """The per-env discounted-return statistics with ``normalize_reward``; ``None`` (no
    leaves, so the checkpoint layout is what it was before the option) without."""


def steps_per_iteration(config: Config) -> int:
    """Environment steps one ``train_step`` takes (summed over envs)."""
    return config.num_envs * config.num_steps


def network_config(config: Config) -> NetworkConfig:
    """The :class:`jaxrl.networks.NetworkConfig` that ``config``'s network fields describe."""
    widths = lambda own: tuple(config.hidden_sizes if own is None else own)  # noqa: E731
    return NetworkConfig(
        policy_hidden_sizes=widths(config.policy_hidden_sizes),
        value_hidden_sizes=widths(config.value_hidden_sizes),
        activation=config.activation,
        layer_norm=config.layer_norm,
        policy_head=config.policy_head,
        mean_activation=config.mean_activation,
        value_activation=config.value_activation,
        value_kernel_init=config.value_kernel_init,
        torso=config.torso,
        cnn_channels=tuple(config.cnn_channels),
        cnn_kernel_sizes=tuple(config.cnn_kernel_sizes),
        cnn_strides=tuple(config.cnn_strides),
    )


def make_networks(config: Config, env: Env) -> tuple[PolicyNetwork, ValueNetwork]:
    """Policy and value modules for ``env``'s spaces, from :func:`jaxrl.networks.actor_critic`
    with the config's network fields (see :func:`network_config`)."""
    return actor_critic(env.spec, network_config(config))


def make_optimizer(
    config: Config, learning_rate: float | jax.Array
) -> optax.GradientTransformation:
    """Global-norm clipping then Adam with ``config.adam_eps``. Built from traced config values
    inside ``train_step``: the optimiser state does not depend on them, so changing them never
    recompiles."""
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adam(learning_rate, eps=config.adam_eps),
    )


def vec_env(config: Config, env: Env, num_envs: int | None = None) -> rollout.VecEnv:
    """``num_envs`` (default ``config.num_envs``) batched copies of ``env`` with the config's
    ``reset_mode`` and ``reset_pool`` (a pool larger than ``num_envs`` is capped to it)."""
    n = config.num_envs if num_envs is None else num_envs
    return rollout.VecEnv(env, n, config.reset_mode, min(config.reset_pool, n))


def init(config: Config, env: Env, key: PRNGKey) -> State:
    """Initialise networks, optimiser, normaliser and ``num_envs`` environments (after
    ``config.validate()`` and :func:`check_env`)."""
    config.validate()
    check_env(config, env)
    policy, value = make_networks(config, env)
    k_pi, k_v, k_env, key = jax.random.split(key, 4)
    dummy = jnp.zeros((1, *env.spec.obs_shape), jnp.float32)
    params = {"policy": policy.init(k_pi, dummy), "value": value.init(k_v, dummy)}
    env_state = vec_env(config, env).reset(k_env)
    normalizer = RunningStats.create(env.spec.obs_shape)
    if config.normalize_obs:
        normalizer = normalizer.update(env_state.obs)
    return State(
        params=params,
        opt_state=make_optimizer(config, config.learning_rate).init(params),
        normalizer=normalizer,
        env_state=env_state,
        key=key,
        step=jnp.zeros((), jnp.int32),
        reward_normalizer=(
            RewardNormalizer.create(config.num_envs) if config.normalize_reward else None
        ),
    )


def preprocess(config: Config, normalizer: RunningStats, obs: jax.Array) -> jax.Array:
    """What the networks see: ``obs`` normalised with the running statistics (if
    ``normalize_obs``), else unchanged."""
    return normalizer.normalize(obs) if config.normalize_obs else obs


_preprocess = preprocess  # the earlier private name, still used by agents/gorl.py


def flatten_time(x: jax.Array) -> jax.Array:
    """``[T, num_envs, ...] -> [T * num_envs, ...]``: a rollout as a flat training batch."""
    return x.reshape(-1, *x.shape[2:])


ActionFn = Callable[[jax.Array, Any, jax.Array], jax.Array]
"""``action_fn(obs, dist, raw) -> env action``: how a raw policy sample becomes the env's action
(``obs`` unnormalised). The default is :func:`jaxrl.networks.env_action`; GoRL passes its decoder
here, so PPO's log-probs, ratios and updates stay on the raw sample (GoRL's latent z)."""

ExtraLossFn = Callable[[Any], tuple[jax.Array, dict[str, jax.Array]]]
"""``extra_loss(dist) -> (term, info)``: a term added to :func:`ppo_loss` (GoRL's latent
regulariser), computed from the policy distribution of the minibatch."""

RewardFn = Callable[[State, Transition], tuple[State, jax.Array, Metrics]]
"""``reward_fn(state, traj) -> (state, rewards, metrics)``: the rewards PPO learns from instead of
the env's (RND's intrinsic reward, :mod:`jaxrl.agents.rnd`). Called by :func:`train_step` right
after the rollout, before ``normalize_reward``, with the current state (possibly a subclass of
:class:`State`) and the time-major trajectory; returns the state with the hook's own fields
updated (e.g. a predictor trained on the batch), the rewards ``[num_steps, num_envs]`` and
scalar metrics merged into the iteration's."""


def _default_action_fn(env: Env) -> ActionFn:
    return lambda obs, dist, raw: env_action(dist, raw, env.spec)


def make_policy_fn(
    config: Config,
    env: Env,
    params: Any,
    normalizer: RunningStats,
    action_fn: ActionFn | None = None,
):
    """A :data:`jaxrl.rollout.PolicyFn` sampling from the current policy (stores log-probs).
    ``action_fn`` maps ``(obs, dist, raw)`` to the env action (default :func:`env_action`)."""
    policy, _ = make_networks(config, env)
    to_env = action_fn or _default_action_fn(env)

    def policy_fn(obs: jax.Array, key: PRNGKey):
        dist = policy.apply(params["policy"], preprocess(config, normalizer, obs))
        raw = dist.sample(key)
        return to_env(obs, dist, raw), raw, {"log_prob": dist.log_prob(raw)}

    return policy_fn


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = False,
    action_fn: ActionFn | None = None,
) -> jax.Array:
    """Env actions for a batch of observations (the mode of the policy if ``deterministic``);
    ``action_fn`` as in :func:`make_policy_fn`."""
    policy, _ = make_networks(config, env)
    dist = policy.apply(state.params["policy"], preprocess(config, state.normalizer, obs))
    raw = dist.mode() if deterministic else dist.sample(key)
    return (action_fn or _default_action_fn(env))(obs, dist, raw)


# --- losses ----------------------------------------------------------------------------------


def weighted_mean(x: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """``mean(x)``, or ``sum(w x) / sum(w)`` when ``weight`` is given (0 where all weights are 0).
    Agents that train on partly filled, fixed-shape buffers (PROPS) pass a 0/1 validity mask."""
    if weight is None:
        return jnp.mean(x)
    return jnp.sum(weight * x) / jnp.maximum(jnp.sum(weight), 1e-8)


def policy_loss(
    log_prob: jax.Array,
    old_log_prob: jax.Array,
    advantages: jax.Array,
    clip_eps: jax.Array,
    weight: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Clipped surrogate, eq. 7: ``-E[min(r A, clip(r, 1-eps, 1+eps) A)]`` with
    ``r = pi(a|s) / pi_old(a|s)``. Also returns the approximate KL and the clip fraction.
    ``weight`` turns every mean into :func:`weighted_mean`."""
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    surrogate = jnp.minimum(
        ratio * advantages, jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    )
    info = {
        # the low-variance estimator E[(r - 1) - log r] of KL(pi_old || pi)
        "approx_kl": weighted_mean((ratio - 1.0) - log_ratio, weight),
        "clip_fraction": weighted_mean(
            (jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32), weight
        ),
    }
    return -weighted_mean(surrogate, weight), info


def value_loss(
    values: jax.Array,
    targets: jax.Array,
    old_values: jax.Array,
    clip_eps: jax.Array,
    clip: bool,
    weight: jax.Array | None = None,
) -> jax.Array:
    """``0.5 E[(V(s) - V_targ)^2]``; with ``clip`` the pessimistic clipped form of PPO2/CleanRL.
    ``weight`` makes the mean a :func:`weighted_mean`."""
    loss = (values - targets) ** 2
    if clip:
        clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
        loss = jnp.maximum(loss, (clipped - targets) ** 2)
    return 0.5 * weighted_mean(loss, weight)


class Batch(struct.PyTreeNode):
    """Flat training batch for the PPO update."""

    obs: jax.Array
    raw_action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    advantage: jax.Array
    target: jax.Array
    weight: jax.Array | None = None
    """Optional per-sample weight (a 0/1 mask of valid entries, PROPS's partly filled buffer);
    ``None`` weighs every sample equally."""


def policy_entropy(config: Config, dist: Any, key: PRNGKey | None = None) -> jax.Array:
    """The entropy term's per-sample values: ``dist.entropy()``, or with
    ``tanh_entropy="sampled"`` and a tanh-Gaussian ``dist`` Brax's one-sample estimate
    :meth:`jaxrl.networks.TanhGaussian.sampled_entropy` drawn with ``key``."""
    if config.tanh_entropy == "sampled" and isinstance(dist, TanhGaussian):
        if key is None:
            raise ValueError(
                "Config.tanh_entropy='sampled' draws a sample in the loss: pass key= to "
                "ppo_loss (sgd_epochs(..., keyed=True) gives one per minibatch step)"
            )
        return dist.sampled_entropy(key)
    return dist.entropy()


def needs_loss_key(config: Config) -> bool:
    """Whether :func:`ppo_loss` draws random numbers (``tanh_entropy="sampled"``), so callers
    run :func:`sgd_epochs` with ``keyed=True``."""
    return config.tanh_entropy == "sampled"


def ppo_loss(
    params: Any,
    config: Config,
    env: Env,
    normalizer: RunningStats,
    batch: Batch,
    extra_loss: ExtraLossFn | None = None,
    key: PRNGKey | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Total loss of eq. 9: ``L_clip + vf_coef * L_V - ent_coef * H`` (plus
    ``extra_loss(dist)`` when given; its info is merged into the returned info). ``key`` is
    needed only when :func:`needs_loss_key` (the entropy of :func:`policy_entropy`)."""
    policy, value_net = make_networks(config, env)
    obs = preprocess(config, normalizer, batch.obs)
    dist = policy.apply(params["policy"], obs)
    adv, w = batch.advantage, batch.weight
    if config.normalize_advantages:
        if w is None:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        else:
            mean = weighted_mean(adv, w)
            adv = (adv - mean) / (jnp.sqrt(weighted_mean((adv - mean) ** 2, w)) + 1e-8)
    pi_loss, info = policy_loss(
        dist.log_prob(batch.raw_action), batch.log_prob, adv, config.clip_eps, w
    )
    v_loss = value_loss(
        value_net.apply(params["value"], obs),
        batch.target,
        batch.value,
        config.clip_eps,
        config.clip_value_loss,
        w,
    )
    entropy = weighted_mean(policy_entropy(config, dist, key), w)
    total = pi_loss + config.vf_coef * v_loss - config.ent_coef * entropy
    if extra_loss is not None:
        extra, extra_info = extra_loss(dist)
        total = total + extra
        info = {**info, **extra_info}
    return total, {"policy_loss": pi_loss, "value_loss": v_loss, "entropy": entropy, **info}


def compute_advantages(
    config: Config, env: Env, params: Any, normalizer: RunningStats, traj: Transition
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Values of ``obs`` and of the true successors, then GAE (or with
    ``advantage_form="brax"`` :func:`jaxrl.returns.brax_advantages`, same targets) on
    ``reward_scale`` times ``traj.reward``.

    Returns ``(values, advantages, targets)``.
    """
    _, value_net = make_networks(config, env)
    values = value_net.apply(params["value"], preprocess(config, normalizer, traj.obs))
    next_values = value_net.apply(params["value"], preprocess(config, normalizer, traj.next_obs))
    estimator = brax_advantages if config.advantage_form == "brax" else gae
    advantages, targets = estimator(
        traj.reward * config.reward_scale,
        values,
        next_values,
        traj.terminated,
        traj.truncated,
        config.gamma,
        config.gae_lambda,
    )
    return values, advantages, targets


def to_sequences(tree: Any, length: int) -> Any:
    """``[T, num_envs, ...] -> [num_envs * T / length, length, ...]`` for every leaf: each env's
    rollout cut into sequences of ``length`` consecutive steps (env-major, so sequence ``i`` is
    steps ``(i mod (T / length)) * length ...`` of env ``i // (T / length)``), the units that
    ``sequence_length > 0`` shuffles (GoRL's ``prepare_minibatches``, repo bennidict23/GoRL
    @1461fb0, src/flow_policy/rollouts.py:32-60)."""

    def cut(x: jax.Array) -> jax.Array:
        x = jnp.swapaxes(x, 0, 1)
        return x.reshape(-1, length, *x.shape[2:])

    return jax.tree.map(cut, tree)


def sequence_batch(
    config: Config,
    env: Env,
    params: Any,
    normalizer: RunningStats,
    traj: Transition,
    old_values: jax.Array,
) -> Batch:
    """The flat :class:`Batch` of a minibatch of whole sequences (leaves ``[B, L, ...]``, from
    :func:`to_sequences`): values, advantages and value targets recomputed over each sequence with
    the *current* critic ``params`` (no gradient flows through them), each sequence bootstrapping
    from the value of its last step's true successor (:func:`compute_advantages` on the
    ``[L, B]`` time-major view; GoRL's official loss does the same inside each minibatch, repo
    bennidict23/GoRL @1461fb0, src/flow_policy/encoder_ppo.py:255-278). ``old_values`` (the
    rollout critic's) stay the reference of the clipped value loss."""
    traj = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), traj)
    _, advantages, targets = compute_advantages(
        config, env, jax.lax.stop_gradient(params), normalizer, traj
    )
    return Batch(
        obs=flatten_time(traj.obs),
        raw_action=flatten_time(traj.raw_action),
        log_prob=flatten_time(traj.extras["log_prob"]),
        value=flatten_time(jnp.swapaxes(old_values, 0, 1)),
        advantage=flatten_time(advantages),
        target=flatten_time(targets),
    )


def sgd_epochs(
    loss_fn,
    params: Any,
    opt_state: Any,
    tx: optax.GradientTransformation,
    batch: Any,
    key,
    num_epochs: int,
    num_minibatches: int,
    target_kl: jax.Array | None = None,
    skip_empty: bool = False,
    keyed: bool = False,
) -> tuple[Any, Any, dict[str, jax.Array]]:
    """``num_epochs`` shuffled passes of ``num_minibatches`` gradient steps of ``loss_fn(params,
    minibatch) -> (loss, info)`` over a flat ``batch``. Returns params, optimiser state and the
    mean of the loss infos (plus the gradient norm).

    Two optional hooks turn some steps into no-ops (the step is computed, then its parameter and
    optimiser updates are selected away, so shapes and loop counts stay static):

    - ``target_kl``: the per-minibatch early stop of CleanRL / PROPS. Before each step, the
      minibatch's ``info["approx_kl"]`` (computed at the current parameters) is compared with
      ``target_kl``; once it exceeds it, this and every later step is skipped.
    - ``skip_empty``: skip steps whose minibatch's ``weight`` (a 0/1 validity mask, as in
      :class:`Batch`) sums to 0, so a partly filled fixed-shape buffer takes no Adam step on
      padding alone.

    With either hook the infos are averaged over the steps taken, and ``updates`` (steps taken)
    and ``stopped`` (1 if the KL stop fired) are added. Without them the computation is exactly
    PPO's plain loop.

    ``keyed``: ``loss_fn(params, minibatch, key)`` gets a fresh key per minibatch step (split
    from ``fold_in(epoch_key, 1)``; the shuffles use the same keys as without it), for losses
    that sample (Brax's tanh entropy, :func:`policy_entropy`).

    The stop is a select inside ``lax.scan``, not a ``lax.while_loop``: stopped runs still pay
    for the remaining gradients, but data-dependent loops inside the compiled chunk hung XLA:CPU
    intermittently on this project's machines (as the ``lax.cond`` reset in
    ``jaxrl/rollout.py`` did).
    """
    size = jax.tree.leaves(batch)[0].shape[0]
    masked = target_kl is not None or skip_empty

    def minibatch_step(carry, mb):
        params, opt_state = carry[:2]
        step_loss = loss_fn
        if keyed:
            mb, step_key = mb
            step_loss = lambda p, m: loss_fn(p, m, step_key)  # noqa: E731
        if masked:  # ``mb`` holds the minibatch's indices
            mb = jax.tree.map(lambda x: x[mb], batch)
        (loss, info), grads = jax.value_and_grad(step_loss, has_aux=True)(params, mb)
        updates, new_opt_state = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        row = {"loss": loss, "grad_norm": optax.tree.norm(grads), **info}
        if not masked:
            return (new_params, new_opt_state), row
        stopped = carry[2]
        if target_kl is not None:
            stopped = stopped | (info["approx_kl"] > target_kl)
        take = ~stopped
        if skip_empty:
            take = take & (jnp.sum(mb.weight) > 0)
        select = lambda a, b: jax.tree.map(lambda x, y: jnp.where(take, x, y), a, b)  # noqa: E731
        carry = (select(new_params, params), select(new_opt_state, opt_state), stopped)
        return carry, (row, take)

    def epoch(carry, epoch_key):
        index = jax.random.permutation(epoch_key, size).reshape(num_minibatches, -1)
        # Where the minibatch is gathered (per epoch here, per step in the masked loop) changes
        # XLA's fusion and so the last bits of the gradients; each path keeps the placement of
        # the loop it replaced, so earlier PPO and PROPS runs reproduce bit for bit.
        minibatches = index if masked else jax.tree.map(lambda x: x[index], batch)
        if keyed:
            step_keys = jax.random.split(jax.random.fold_in(epoch_key, 1), num_minibatches)
            minibatches = (minibatches, step_keys)
        return jax.lax.scan(minibatch_step, carry, minibatches)

    carry = (params, opt_state, jnp.array(False)) if masked else (params, opt_state)
    carry, rows = jax.lax.scan(epoch, carry, jax.random.split(key, num_epochs))
    if not masked:
        return carry[0], carry[1], jax.tree.map(jnp.mean, rows)
    rows, taken = jax.tree.map(lambda x: x.reshape(-1), rows)
    updates = jnp.sum(taken.astype(jnp.float32))
    n = jnp.maximum(updates, 1.0)
    info = {k: jnp.sum(jnp.where(taken, v.astype(jnp.float32), 0.0)) / n for k, v in rows.items()}
    info["updates"] = updates
    info["stopped"] = carry[2].astype(jnp.float32)
    return carry[0], carry[1], info


def learning_rate(config: Config, step: jax.Array) -> jax.Array:
    """Current learning rate: constant, or linear decay to 0 over ``lr_decay_steps`` env steps."""
    env_steps = step.astype(jnp.float32) * steps_per_iteration(config)
    frac = jnp.where(
        config.lr_decay_steps > 0,
        jnp.clip(1.0 - env_steps / jnp.maximum(config.lr_decay_steps, 1.0), 0.0, 1.0),
        1.0,
    )
    return config.learning_rate * frac


def train_step(
    config: Config,
    env: Env,
    state: State,
    action_fn: ActionFn | None = None,
    extra_loss: ExtraLossFn | None = None,
    reward_fn: RewardFn | None = None,
) -> tuple[State, Metrics]:
    """One PPO iteration: collect a batch, compute GAE, run the epochs of minibatch updates.

    Observation statistics are updated *after* the update (``obs_stats_update="after"``), so
    acting, the stored log-probs, the values and the update of one iteration all see the same
    normalisation; ``"before"`` is Brax's order. With ``sequence_length > 0`` the minibatches
    are whole sequences whose advantages are recomputed in the loss (:func:`sequence_batch`).
    With
    ``normalize_reward`` the rewards are normalised step by step as they were collected
    (:meth:`jaxrl.normalize.RewardNormalizer.normalize_rollout`, what an env wrapper would
    return); episode returns in the metrics stay raw.

    ``action_fn`` (see :func:`make_policy_fn`) and ``extra_loss`` (see :func:`ppo_loss`) let other
    agents reuse the iteration (GoRL); ``state`` may be a subclass of :class:`State`, whose extra
    fields are carried through unchanged.

    ``reward_fn`` (see :data:`RewardFn`; RND) replaces the collected rewards: it runs right after
    the rollout and before ``normalize_reward``, gets ``state`` and the trajectory, and its
    returned state is the one the rest of the iteration continues from (its extra fields end up
    in the new state; PPO's own fields are then updated as without the hook, so a hook should
    change only its own). Its metrics are merged into the returned ones. The episode returns in
    the metrics stay the env's. Without it the iteration is exactly the one above.
    """
    key, k_roll, k_sgd = jax.random.split(state.key, 3)
    venv = vec_env(config, env)
    policy_fn = make_policy_fn(config, env, state.params, state.normalizer, action_fn)
    env_state, traj, episode_info = rollout.collect(
        venv, state.env_state, policy_fn, k_roll, config.num_steps
    )
    reward_metrics: Metrics = {}
    if reward_fn is not None:
        state, rewards, reward_metrics = reward_fn(state, traj)
        traj = traj.replace(reward=rewards)
    reward_normalizer = state.reward_normalizer
    if config.normalize_reward:
        reward_normalizer, rewards, _ = reward_normalizer.normalize_rollout(
            traj.reward, traj.terminated, config.gamma, config.reward_clip
        )
        traj = traj.replace(reward=rewards)
    updated = state.normalizer.update(traj.obs) if config.normalize_obs else state.normalizer
    normalizer = updated if config.obs_stats_update == "before" else state.normalizer
    values, advantages, targets = compute_advantages(config, env, state.params, normalizer, traj)
    if config.sequence_length:
        batch = to_sequences((traj, values), config.sequence_length)
    else:
        batch = Batch(
            obs=flatten_time(traj.obs),
            raw_action=flatten_time(traj.raw_action),
            log_prob=flatten_time(traj.extras["log_prob"]),
            value=flatten_time(values),
            advantage=flatten_time(advantages),
            target=flatten_time(targets),
        )
    lr = learning_rate(config, state.step)
    tx = make_optimizer(config, lr)
    keyed = needs_loss_key(config)

    def loss_fn(p: Any, mb: Any, k: PRNGKey | None = None):
        if config.sequence_length:
            mb = sequence_batch(config, env, p, normalizer, *mb)
        return ppo_loss(p, config, env, normalizer, mb, extra_loss, key=k)

    params, opt_state, info = sgd_epochs(
        loss_fn,
        state.params,
        state.opt_state,
        tx,
        batch,
        k_sgd,
        config.num_epochs,
        config.num_minibatches,
        keyed=keyed,
    )
    new_state = state.replace(
        params=params,
        opt_state=opt_state,
        normalizer=updated,
        env_state=env_state,
        key=key,
        step=state.step + 1,
        reward_normalizer=reward_normalizer,
    )
    metrics = {
        **info,
        **episode_info,
        "learning_rate": lr,
        "value_mean": jnp.mean(values),
        **reward_metrics,
    }
    return new_state, metrics


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs (kept here so scripts need not import dataclasses)."""
    return dataclasses.replace(config, **changes)
