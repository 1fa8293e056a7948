"""GoRL: generative online RL with a latent Gaussian encoder and a staged generative decoder
(arXiv 2512.02581; official JAX code: repo bennidict23/GoRL).

The policy factorises as ``pi(a|s) = int p_phi(a|s, z) pi_theta(z|s) dz``:

- the **encoder** ``pi_theta(z|s)`` is PPO's diagonal Gaussian policy over a latent ``z`` with
  ``z_dim = action_dim``, trained by PPO *through the frozen decoder* as if ``z`` were the action
  (log-probs and ratios are on ``z``);
- the **decoder** ``g_phi(s, z)`` is a deterministic conditional flow (Euler, ``decoder_steps``
  steps from ``x_1 = z`` at t = 1 down to t = 0) or DDIM sampler (from ``x_T = z``); the env
  receives ``tanh(g_phi(s, z))`` mapped onto its action bounds.

Training runs in **stages** (:func:`run_stages`, a :func:`jaxrl.staged.run` with
:func:`stage_handoff` between stages): (1) a *fresh* encoder is trained with PPO through the
current decoder (:func:`train_step`, driven by :func:`jaxrl.train`) and the best
deterministically evaluated encoder of the stage is kept; (2) that encoder, sampling
stochastically, and the current decoder collect ``(obs, pre-tanh action)`` pairs
(:func:`collect_decoder_data`); (3) a *new* decoder is trained from scratch on them with a fixed
N(0, I) prior (:func:`fit_decoder`); (4) :func:`start_stage` puts the new decoder and a fresh
encoder together for the next stage. Steps (2) to (4) are pure, jittable functions.

Stage 0 uses the **identity decoder**: a zero network, for which the flow sampler returns ``z``
exactly, so stage 0 is PPO with ``env action = tanh(z)``. For the diffusion decoder the identity
uses the *linear* beta schedule (1e-4 .. 0.02), where the zero network gives
``z / sqrt(alpha_bar[T-1]) ~= 1.05 z`` (T = 10), as in the official code; trained diffusion
decoders use the cosine schedule. The schedule therefore lives in the state.

Differences from the official code (each deliberate, see also :class:`Config`):

- The encoder is PPO's :class:`jaxrl.networks.PolicyNetwork` (orthogonal init, a learned
  *state-independent* log-std starting at 0, so sigma = 1 at a stage start) instead of the
  official 4 x 32 SiLU MLP with a state-dependent ``softplus`` scale (sigma ~= 0.69 at init). The
  width and activation come from ``hidden_sizes``/``activation`` (the presets use 4 x 32 SiLU).
  sigma = 1 makes a fresh encoder's latent distribution exactly the decoder's N(0, I) training
  prior.
- Observation statistics use our exact Welford merge (:class:`jaxrl.normalize.RunningStats`). The
  official ``RunningStats.update`` drops the old variance sum, so its std shrinks like
  ``1/sqrt(#updates)`` (about 1/7.8 after 61 iterations); reproducing its curves exactly needs
  that bug.
- By default PPO minibatches are flat shuffled steps and GAE is computed once per iteration with
  the value net of the rollout. The official code, Brax-style, shuffles length-30 subsequences,
  recomputes GAE inside the loss with the current value net and updates the observation
  statistics before the epochs; ``sequence_length=30`` and ``obs_stats_update="before"`` (set by
  the ``paper`` preset, :func:`jaxrl.agents.presets.gorl_preset`) do the same.
- Early stopping of the decoder (:func:`jaxrl.generative.fit_with_early_stopping`) runs a fixed
  number of epochs (``decoder_epochs``) inside one ``lax.scan``; after ``decoder_patience``
  epochs without a better validation loss the parameters are frozen, and the best-validation
  parameters are returned (same result as stopping).

GoRL needs continuous (``Box``) actions (the decoder's output is squashed onto the action box):
:func:`check_env` refuses a ``Discrete`` env by name, and :func:`init` calls it (after
``config.validate()``) before anything is traced; a run script can call it earlier, through
:func:`jaxrl.config.check_env`, before it makes any folder.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from collections.abc import Sequence
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl import generative as gen
from jaxrl import rollout, staged
from jaxrl.agents import ppo
from jaxrl.config import (
    COUNT,
    NONNEGATIVE,
    Range,
    RangeSpec,
    check_ranges,
    check_sizes,
    require_box,
)
from jaxrl.normalize import RunningStats
from jaxrl.types import Env, Metrics, PRNGKey

NAME = "gorl"

ZReg = Literal["l2", "kl"]
"""Latent regularisers (:attr:`Config.z_reg`)."""
Decoder = Literal["flow", "diffusion"]
"""Decoder kinds (:attr:`Config.decoder`)."""
Z_REGS: tuple[str, ...] = get_args(ZReg)
DECODERS: tuple[str, ...] = get_args(Decoder)


@struct.dataclass
class Config(ppo.Config):
    """GoRL hyperparameters: every PPO Config field (they configure the encoder's
    PPO) plus the latent regulariser and the decoder. Float fields are dynamic (pytree leaves);
    fields marked static fix shapes, loop counts or code paths.

    Notes on the inherited PPO fields: the encoder head must be ``policy_head="gaussian"`` (a
    Gaussian over z; the tanh is applied after the decoder). Our value loss is
    ``0.5 * mean((V - V_targ)^2)``, so the official ``0.25 * mean(...)`` is ``vf_coef=0.5``.
    """

    z_reg_coef: float = 5e-4
    """Coefficient c of the latent regulariser, >= 0 (official: 5e-4 in stage 0, 1e-3 later)."""
    z_reg: ZReg = struct.field(pytree_node=False, default="l2")
    """Latent regulariser (static). ``"l2"``: the official code's ``c * (mean(mu^2) +
    mean(sigma^2))`` (default, to match the published curves; it pushes sigma towards 0, the
    entropy bonus counteracts). ``"kl"``: the paper's KL to N(0, I),
    ``c * mean_{batch, dims} 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2)`` (per-dimension mean, so
    ``c`` has the same scale as for ``"l2"``)."""
    decoder: Decoder = struct.field(pytree_node=False, default="flow")
    """``"flow"`` (conditional flow matching, Euler sampler) or ``"diffusion"`` (DDPM training with
    the cosine schedule, DDIM sampling) (static)."""
    decoder_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(64,) * 4)
    """Hidden widths of the decoder MLP, SiLU activations; at least one layer, widths >= 1
    (static)."""
    decoder_steps: int = struct.field(pytree_node=False, default=10)
    """Flow Euler steps / diffusion steps T, >= 1 (static)."""
    decoder_lr: float = 3e-4
    """Adam step size of decoder training, >= 0."""
    decoder_batch: int = struct.field(pytree_node=False, default=8192)
    """Decoder minibatch size, >= 1 (static; capped at the training-set size)."""
    decoder_epochs: int = struct.field(pytree_node=False, default=50)
    """Decoder training epochs, >= 1 (static)."""
    decoder_patience: int = struct.field(pytree_node=False, default=20)
    """Freeze the decoder after this many epochs without a better validation loss, >= 1
    (static)."""
    decoder_samples: int = struct.field(pytree_node=False, default=8)
    """(t, eps) pairs per action in the decoder loss, >= 1 (static)."""
    decoder_val_fraction: float = struct.field(pytree_node=False, default=0.1)
    """Fraction of the collected pairs held out for validation / early stopping, in (0, 1)
    (static)."""
    collect_steps: int = struct.field(pytree_node=False, default=64)
    """Steps per env collected for the decoder at a stage boundary, >= 1 (static; the official
    code collects 20 x 480 steps x 2048 envs)."""
    eval_ties: staged.Ties = struct.field(pytree_node=False, default="first")
    """Which evaluated encoder a stage keeps (and collects the next decoder's data with) when
    evaluation returns tie: ``"first"`` (the earliest) or ``"later"`` (the official rule,
    ``current_reward >= best_reward - 1e-6``, repo bennidict23/GoRL @1461fb0,
    scripts/components/train_encoder_ppo.py:235; see :func:`jaxrl.staged.best_evaluation`)
    (static)."""

    def validate(self) -> None:
        """PPO's checks (which also check the ``z_reg`` and ``decoder`` choices), every numeric
        field against :data:`RANGES`, the decoder widths, the Gaussian encoder head and enough
        collected pairs for a training and a validation split; a ValueError names the field."""
        super().validate()
        check_ranges(self, RANGES)
        check_sizes(self, ("decoder_hidden_sizes",))
        if self.policy_head != "gaussian":
            raise ValueError(
                f"Config.policy_head must be 'gaussian' for GoRL's encoder, got "
                f"{self.policy_head!r}"
            )
        if self.num_envs * self.collect_steps < 2:
            raise ValueError(
                "Config.collect_steps * num_envs must be >= 2 (the decoder needs a training and "
                f"a validation pair), got {self.collect_steps} * {self.num_envs}"
            )


RANGES: tuple[RangeSpec, ...] = (
    *ppo.RANGES,
    ("z_reg_coef", NONNEGATIVE),
    ("decoder_lr", NONNEGATIVE),
    ("decoder_steps", COUNT),
    ("decoder_batch", COUNT),
    ("decoder_epochs", COUNT),
    ("decoder_patience", COUNT),
    ("decoder_samples", COUNT),
    ("decoder_val_fraction", Range(0.0, 1.0, low_open=True, high_open=True)),
    ("collect_steps", COUNT),
)
"""Allowed values of every numeric field (PPO's and GoRL's), checked by ``Config.validate``."""


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless GoRL can train on it: continuous (``Box``)
    actions, and observations of the shape the encoder's torso reads (:func:`ppo.check_env`).
    Cheap: reads ``env.spec`` only."""
    require_box("GoRL", env)
    ppo.check_env(config, env)


class State(ppo.State):
    """PPO's state of the encoder (``params["policy"]`` is the encoder over z, ``params["value"]``
    the critic, their optimiser, observation normaliser, envs, key, iteration counter) plus the
    frozen decoder of the current stage."""

    decoder_params: Any
    """Variables of the :class:`jaxrl.generative.ConditionalVelocityNet` decoder."""
    decoder_stats: RunningStats
    """Observation statistics of the decoder's training data (its condition normaliser)."""
    schedule: gen.DiffusionSchedule
    """Diffusion schedule of the decoder (linear for the stage-0 identity, cosine once trained;
    carried but unused by the flow decoder)."""
    stage: jax.Array
    """Stage index (0: identity decoder)."""


def steps_per_iteration(config: Config) -> int:
    """Environment steps one ``train_step`` takes (summed over envs)."""
    return ppo.steps_per_iteration(config)


# --- decoder ---------------------------------------------------------------------------------


def make_decoder(config: Config, env: Env, zero_init: bool = False) -> gen.ConditionalVelocityNet:
    """GoRL's decoder net over ``concat[obs_norm, x_t, emb(t)]`` (SiLU, 8-dim time embedding)."""
    return gen.ConditionalVelocityNet(
        output_dim=env.spec.action_dim,
        hidden_sizes=config.decoder_hidden_sizes,
        activation="silu",
        zero_init=zero_init,
    )


def _obs_dim(env: Env) -> int:
    return int(math.prod(env.spec.obs_shape))


def _cond(stats: RunningStats, obs: jax.Array, env: Env) -> jax.Array:
    flat = obs.reshape(*obs.shape[: obs.ndim - len(env.spec.obs_shape)], -1)
    return stats.normalize(flat)


def identity_decoder(config: Config, env: Env) -> tuple[Any, RunningStats, gen.DiffusionSchedule]:
    """Stage 0's decoder: all weights zero (flow: ``a = z`` exactly; diffusion with the linear
    schedule: ``a = z / sqrt(alpha_bar[T-1])``, about 1.05 z for T = 10)."""
    net = make_decoder(config, env, zero_init=True)
    params = gen.init_net(net, jax.random.key(0), _obs_dim(env))
    stats = RunningStats.create((_obs_dim(env),))
    return params, stats, gen.DiffusionSchedule.linear(config.decoder_steps)


def decode(
    config: Config,
    env: Env,
    decoder_params: Any,
    decoder_stats: RunningStats,
    schedule: gen.DiffusionSchedule,
    obs: jax.Array,
    z: jax.Array,
) -> jax.Array:
    """Pre-tanh action ``g_phi(s, z)``: the deterministic sampler started at the latent ``z``."""
    net = make_decoder(config, env)
    cond = _cond(decoder_stats, obs, env)
    if config.decoder == "flow":
        return gen.flow_sample(net.apply, decoder_params, cond, z, config.decoder_steps)
    return gen.ddim_sample(net.apply, decoder_params, schedule, cond, z)


def squash_to_env(env: Env, pre_tanh: jax.Array) -> jax.Array:
    """``tanh`` then the affine map onto the env's Box bounds."""
    space = require_box("GoRL", env)
    unit = jnp.tanh(pre_tanh)
    low, high = space.low_array, space.high_array
    return (low + (unit + 1.0) * 0.5 * (high - low)).reshape(unit.shape[:-1] + space.shape)


def make_action_fn(config: Config, env: Env, state: State) -> ppo.ActionFn:
    """PPO's ``action_fn``: ``z -> tanh(decoder(s, z))`` on the env bounds."""

    def action_fn(obs: jax.Array, dist: Any, z: jax.Array) -> jax.Array:
        del dist
        a = decode(config, env, state.decoder_params, state.decoder_stats, state.schedule, obs, z)
        return squash_to_env(env, a)

    return action_fn


# --- losses ----------------------------------------------------------------------------------


def latent_regularizer(
    config: Config, mean: jax.Array, log_std: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The latent penalty ``L_z`` (see :attr:`Config.z_reg`), means over batch and dims.

    ``"l2"`` (official code): ``c * (mean(mu^2) + mean(sigma^2))``;
    ``"kl"`` (paper): ``c * mean(0.5 * (mu^2 + sigma^2 - 1 - 2 log sigma))`` = c * mean per-dim
    KL(N(mu, sigma^2) || N(0, 1)).
    """
    sigma2 = jnp.exp(2.0 * log_std)
    if config.z_reg == "l2":
        value = jnp.mean(mean**2) + jnp.mean(sigma2)
    elif config.z_reg == "kl":
        value = jnp.mean(0.5 * (mean**2 + sigma2 - 1.0 - 2.0 * log_std))
    else:
        raise ValueError(f"Config.z_reg must be one of {Z_REGS}, got {config.z_reg!r}")
    return config.z_reg_coef * value, {"z_reg": value, "z_mean_sq": jnp.mean(mean**2)}


def decoder_loss(
    config: Config,
    env: Env,
    params: Any,
    schedule: gen.DiffusionSchedule,
    cond: jax.Array,
    actions: jax.Array,
    key: PRNGKey,
) -> jax.Array:
    """Flow-matching (``decoder_flow_loss``) or DDPM epsilon loss of the decoder on
    ``(normalised obs, pre-tanh action)`` pairs, with a fixed N(0, I) prior."""
    net = make_decoder(config, env)
    if config.decoder == "flow":
        loss, _ = gen.flow_matching_loss(
            net.apply, params, cond, actions, key, config.decoder_samples
        )
    else:
        loss, _ = gen.ddpm_loss(
            net.apply, params, schedule, cond, actions, key, config.decoder_samples
        )
    return loss


# --- the agent interface (jaxrl.train) --------------------------------------------------------


def init(config: Config, env: Env, key: PRNGKey) -> State:
    """Stage 0: a fresh encoder (PPO init) and the identity decoder (after
    ``config.validate()`` and :func:`check_env`)."""
    config.validate()
    check_env(config, env)
    base = ppo.init(config, env, key)
    dec_params, dec_stats, schedule = identity_decoder(config, env)
    return State(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
        decoder_params=dec_params,
        decoder_stats=dec_stats,
        schedule=schedule,
        stage=jnp.zeros((), jnp.int32),
    )


def train_step(config: Config, env: Env, state: State) -> tuple[State, Metrics]:
    """One PPO iteration of the encoder through the frozen decoder, with the latent penalty added
    to PPO's loss."""

    def extra_loss(dist: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        return latent_regularizer(config, dist.mean, dist.log_std)

    state, metrics = ppo.train_step(
        config, env, state, action_fn=make_action_fn(config, env, state), extra_loss=extra_loss
    )
    return state, {**metrics, "stage": state.stage.astype(jnp.float32)}


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = False,
) -> jax.Array:
    """Env actions: ``z`` = encoder mean (``deterministic``) or a sample, then the decoder."""
    return ppo.act(
        config, env, state, obs, key, deterministic, action_fn=make_action_fn(config, env, state)
    )


# --- stage boundaries -------------------------------------------------------------------------


def collect_decoder_data(
    config: Config, env: Env, state: State, key: PRNGKey
) -> tuple[jax.Array, jax.Array]:
    """Roll out the *stochastic* encoder with the current decoder for ``collect_steps`` steps in
    ``num_envs`` fresh environments; returns flat ``(obs [N, obs_dim], pre_tanh_actions [N, A])``
    (N = num_envs * collect_steps)."""
    k_reset, k_roll = jax.random.split(key)
    vec_env = ppo.vec_env(config, env)
    policy, _ = ppo.make_networks(config, env)

    def policy_fn(obs: jax.Array, k: PRNGKey):
        dist = policy.apply(state.params["policy"], ppo._preprocess(config, state.normalizer, obs))
        z = dist.sample(k)
        a = decode(config, env, state.decoder_params, state.decoder_stats, state.schedule, obs, z)
        return squash_to_env(env, a), a, {}

    _, traj, _ = rollout.collect(
        vec_env, vec_env.reset(k_reset), policy_fn, k_roll, config.collect_steps
    )
    obs = traj.obs.reshape(-1, _obs_dim(env))
    return obs, traj.raw_action.reshape(-1, traj.raw_action.shape[-1])


def fit_decoder(
    config: Config, env: Env, obs: jax.Array, actions: jax.Array, key: PRNGKey
) -> tuple[Any, RunningStats, dict[str, jax.Array]]:
    """Train a **new** decoder from scratch on ``(obs, pre-tanh actions)`` (jittable).

    The decoder's observation statistics come from this data. Training is
    :func:`jaxrl.generative.fit_with_early_stopping` of :func:`decoder_loss` with a fixed N(0, I)
    prior: ``decoder_epochs`` epochs of Adam(``decoder_lr``) minibatches of ``decoder_batch``,
    ``decoder_val_fraction`` held out, frozen after ``decoder_patience`` epochs without a better
    validation loss, the best-validation parameters returned (never the random init).

    Returns:
        ``(decoder_params, decoder_stats, info)``; info has ``train_loss`` and ``val_loss`` per
        epoch, ``best_val_loss``, ``best_epoch`` and ``initial_val_loss``.
    """
    obs = obs.reshape(obs.shape[0], -1)
    stats = RunningStats.create((obs.shape[-1],)).update(obs)
    schedule = gen.DiffusionSchedule.cosine(config.decoder_steps)
    net = make_decoder(config, env)
    params, info = gen.fit_with_early_stopping(
        lambda k: gen.init_net(net, k, obs.shape[-1]),
        lambda p, c, a, k: decoder_loss(config, env, p, schedule, c, a, k),
        stats.normalize(obs),
        actions,
        key,
        optimizer=optax.adam(config.decoder_lr),
        batch_size=config.decoder_batch,
        epochs=config.decoder_epochs,
        patience=config.decoder_patience,
        val_fraction=config.decoder_val_fraction,
    )
    return params, stats, info


def start_stage(
    config: Config,
    env: Env,
    state: State,
    decoder_params: Any,
    decoder_stats: RunningStats,
    key: PRNGKey,
) -> State:
    """The next stage's state: a **fresh** encoder, critic, optimiser, normaliser and envs (PPO
    init from ``key``), the new decoder (cosine schedule for diffusion) and ``stage + 1``."""
    fresh = init(config, env, key)
    return fresh.replace(
        decoder_params=decoder_params,
        decoder_stats=decoder_stats,
        schedule=gen.DiffusionSchedule.cosine(config.decoder_steps),
        stage=state.stage + 1,
    )


# --- the stage loop (jaxrl.staged) ------------------------------------------------------------


def stage_handoff(env: Env, end: staged.PhaseEnd) -> tuple[State | None, dict[str, np.ndarray]]:
    """GoRL's stage boundary as a :func:`jaxrl.staged.run` hand-off: the stage's best encoder
    collects decoder data stochastically (:func:`collect_decoder_data`), a new decoder is fitted
    (:func:`fit_decoder`) and the next stage starts with it and a fresh encoder
    (:func:`start_stage`, keyed like the next stage's ``init``). Returns ``(next stage's state or
    None after the last stage, the decoder fit's info)``."""
    k_collect, k_fit = jax.random.split(end.key)
    config = end.phase.config
    obs, actions = jax.jit(collect_decoder_data, static_argnums=1)(
        config, env, end.state, k_collect
    )
    params, stats, info = jax.jit(fit_decoder, static_argnums=1)(config, env, obs, actions, k_fit)
    start = None
    if end.next_phase is not None:
        start = jax.jit(start_stage, static_argnums=1)(
            end.next_phase.config, env, end.state, params, stats, end.next_key
        )
    return start, jax.tree.map(np.asarray, info)


@dataclasses.dataclass
class StageResult:
    """One stage of :func:`run_stages`."""

    history: dict[str, np.ndarray]
    """:func:`jaxrl.train`'s history of the encoder training."""
    best_step: int
    """Env step (within the stage) of the best-eval encoder used for collection."""
    best_eval_return: float
    decoder_info: dict[str, np.ndarray] | None
    """:func:`fit_decoder`'s info for the decoder trained at the end of this stage."""
    state: Any
    """The best-eval state of the stage (its encoder and the decoder it was trained with)."""


def run_stages(
    config: Config | Sequence[Config],
    env: Env,
    key: PRNGKey,
    stage_steps: Sequence[int],
    eval_every: int | None,
    *,
    eval_at: Sequence[Sequence[int]] | None = None,
    num_eval_episodes: int = 16,
    watchdog: float | bool | None = True,
    watchdog_exit: bool | None = None,
    run_dir: str | None = None,
    loggers_fn=None,
    progress: bool = False,
    fit_last_decoder: bool = False,
) -> list[StageResult]:
    """The full GoRL loop (one seed): :func:`jaxrl.staged.run` of one phase per stage, this
    module as the agent, :func:`stage_handoff` between stages.

    Stage k trains a fresh encoder through the current decoder for ``stage_steps[k]`` env steps
    (key ``fold_in(key, k)``), evaluating deterministically every ``eval_every`` steps and
    checkpointing each evaluated state under ``run_dir/stage_k`` (a temporary folder when
    ``run_dir`` is None); its best-eval state collects the data of the next decoder (keys from
    ``fold_in(key, 1000 + k)``). The last stage's decoder is only fitted with
    ``fit_last_decoder`` (the official code trains it but never uses it). With ``run_dir`` a
    stopped run resumes (see :mod:`jaxrl.staged`): the same bits on the same machine.

    Args:
        config: one config for all stages, or one per stage (e.g. the official clip 0.15 / 0.30,
            max_grad_norm 0.5 / 1.0, z_reg 5e-4 / 1e-3); static fields must agree.
        eval_at: instead of ``eval_every``, each stage's own evaluation steps
            (:attr:`jaxrl.staged.Phase.eval_at`), e.g. the official schedule
            :func:`jaxrl.agents.presets.gorl_eval_at`, whose step 0 makes the stage's starting
            state a candidate for the encoder kept.
        loggers_fn: optional ``stage -> list of loggers`` for :func:`jaxrl.train`.
        watchdog, watchdog_exit: :func:`jaxrl.train`'s, for every stage.
    """
    configs = list(config) if isinstance(config, Sequence) else [config] * len(stage_steps)
    if len(configs) != len(stage_steps):
        raise ValueError(f"{len(configs)} configs for {len(stage_steps)} stages")
    if eval_at is not None and len(eval_at) != len(stage_steps):
        raise ValueError(f"eval_at has {len(eval_at)} schedules for {len(stage_steps)} stages")
    this = sys.modules[__name__]
    phases = [
        staged.Phase(
            this,
            c,
            steps,
            name=f"stage_{k}",
            ties=c.eval_ties,
            eval_at=None if eval_at is None else tuple(eval_at[k]),
        )
        for k, (c, steps) in enumerate(zip(configs, stage_steps, strict=True))
    ]
    done = staged.run(
        phases,
        env,
        key,
        eval_every=eval_every,
        handoff=functools.partial(stage_handoff, env),
        handoff_after_last=fit_last_decoder,
        run_dir=run_dir,
        num_eval_episodes=num_eval_episodes,
        watchdog=watchdog,
        watchdog_exit=watchdog_exit,
        loggers_fn=loggers_fn,
        progress=progress,
    )
    return [StageResult(p.history, p.best_step, p.best_eval_return, p.info, p.state) for p in done]
