"""RND: exploration by Random Network Distillation (Burda et al. 2018, arXiv:1810.12894), as
PPO on the intrinsic reward, to generate reward-free exploration datasets (ExORL-style) for
zero-shot RL.

A fixed, randomly initialised **target** network ``f: O -> R^k`` embeds observations; a
**predictor** ``f_hat(.; theta)`` of the same shape is trained by gradient descent to match it
on the states the agent visits (paper section 2.2). Its prediction error is small on states
seen often and large on novel ones, so it is the exploration bonus: PPO (:mod:`jaxrl.agents.ppo`,
reused whole through its ``reward_fn`` hook) maximises

    r_t = intrinsic_coef * r_int(s_{t+1}) + extrinsic_coef * r_ext_t,

with ``extrinsic_coef = 0`` by default (reward-free: the data of ExORL / URLB's RND).

One :func:`train_step` is one PPO iteration; inside it, right after the rollout,
:func:`make_reward_fn`'s hook

1. merges the batch's successor observations into the RND observation statistics and
   normalises them (:func:`normalize_obs`: whiten per dimension, clip to ``[-5, 5]``; section
   2.4);
2. computes the :func:`prediction_error` of the *current* predictor on them (the rewards the
   rollout earned, before the predictor has trained on it, as Burda's code computes them during
   the rollout);
3. merges the errors into their running statistics and divides by the running std
   (:func:`intrinsic_reward`, URLB's normalisation);
4. trains the predictor on the batch (:func:`predictor_loss`, ``rnd_epochs`` shuffled passes of
   ``rnd_minibatches`` Adam steps with :func:`jaxrl.agents.ppo.sgd_epochs`).

Choices, each against the references in ``specs/zero-shot-update.md`` section 4 (URLB's RND,
rll-research/url_benchmark:agent/rnd.py, which generated ExORL's data; Craftax's pure-JAX PPO-RND,
MichaelTMatthews/Craftax_Baselines:ppo_rnd.py):

- **Networks**: target and predictor are the same MLP, ``obs -> 256 -> 256 -> 256 -> 512``
  ReLU (Craftax's ``RNDNetwork``; URLB's is ``1024 -> 1024 -> 512``), orthogonally initialised
  with gain sqrt 2 in the hidden layers and 1 at the output (URLB's ``weight_init``; the paper's
  and Craftax's output gain is sqrt 2, a constant factor the error normalisation removes).
  Burda's predictor has two more layers than the target; keeping them equal (both pure-JAX and
  URLB references do) means only the field widths need choosing. Vector observations only
  (:func:`check_env`).
- **Observation normalisation**: exact running mean/var (:class:`jaxrl.normalize.RunningStats`,
  Welford over every successor observation so far), *including* the current batch before it is
  normalised (URLB's ``BatchNorm1d`` in training mode normalises with the batch; this also makes
  the first iteration use real statistics instead of the paper's random-agent warm-up), clipped
  to ``[-rnd_obs_clip, rnd_obs_clip]`` (5, paper section 2.4 and URLB). Separate from PPO's own
  observation normaliser.
- **Intrinsic reward normalisation**: ``err / (sqrt(running var of err) + 1e-8)`` (URLB's, with
  ``rnd_scale`` = :attr:`Config.intrinsic_coef`); the paper divides by the running std of the
  intrinsic *returns* instead, which PPO's ``normalize_reward=True`` adds on top (Gymnasium's
  per-env discounted-return normalisation, applied after the hook). Craftax does not normalise.
- **One critic, one discount**: the paper keeps two value heads (episodic extrinsic with
  gamma 0.999, non-episodic intrinsic with gamma 0.99) and sums their advantages with weights
  2 and 1. Here PPO's single critic learns the mixed reward with PPO's ``gamma``; with one
  discount GAE is linear in the reward, so the advantage is the same weighted sum. The intrinsic
  return is therefore episodic wherever the env *terminates* (time limits bootstrap as always);
  the reward-free domains this agent collects data in (``reach/fourrooms``, mazes with
  ``terminate_at_goal=False``) never terminate, so nothing differs there.
- **Predictor updates**: on every step of the batch (the paper trains on a random 25 % of each
  batch to keep the predictor from learning too fast with many envs; Craftax and URLB use all),
  ``rnd_epochs=1`` pass (Craftax's one exploration epoch) of ``rnd_minibatches=8`` steps (PPO's
  split), Adam with ``rnd_learning_rate=1e-4`` (the paper's and URLB's) and no gradient
  clipping (URLB).
- **Successor observations**: the reward of step ``t`` is the novelty of ``s_{t+1}``, the state
  the action led to (the paper, URLB and Craftax), using the true final observation at an
  episode's end (``Transition.next_obs``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.agents import ppo
from jaxrl.config import (
    COUNT,
    NONNEGATIVE,
    Range,
    RangeSpec,
    check_ranges,
    check_sizes,
    require_vector_obs,
)
from jaxrl.networks import MLP
from jaxrl.normalize import RunningStats
from jaxrl.types import Env, Metrics, PRNGKey, Transition

NAME = "rnd"

REWARD_EPS = 1e-8
"""Added to the running std of the prediction error before dividing (URLB's ``1e-8``)."""

_PREDICTOR_STREAM = 0x524E44
"""``fold_in`` constant that derives the predictor's shuffling key from the iteration's key
(``"RND"`` in ASCII); PPO's own splits of the same key are unaffected."""


@struct.dataclass
class Config(ppo.Config):
    """RND hyperparameters: every PPO field (they configure the policy that maximises the
    intrinsic reward) plus the target/predictor networks and the reward mix. Float fields are
    dynamic (pytree leaves: vmappable, never recompile); fields marked static fix shapes and
    loop counts."""

    intrinsic_coef: float = 1.0
    """Weight of the normalised intrinsic reward in PPO's reward, >= 0 (URLB's ``rnd_scale`` 1;
    the paper's intrinsic advantage coefficient 1). 0 leaves only the extrinsic reward (with the
    default ``extrinsic_coef`` 0: no reward at all, the broken control of the tests)."""
    extrinsic_coef: float = 0.0
    """Weight of the env's reward, >= 0. 0 (default): reward-free exploration, the ExORL / URLB
    data; the paper uses 2 to play games."""
    rnd_learning_rate: float = 1e-4
    """Adam step size of the predictor, >= 0 (the paper's and URLB's 1e-4; Craftax 3e-4)."""
    rnd_obs_clip: float = 5.0
    """Normalised observations fed to the target and predictor are clipped to
    ``[-rnd_obs_clip, rnd_obs_clip]``, > 0 (5: the paper's section 2.4 and URLB); inf disables."""
    rnd_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(256, 256, 256))
    """Hidden ReLU layer widths of the target and predictor MLPs (the same for both); at least
    one layer, widths >= 1 (static; Craftax's 3 x 256)."""
    rnd_embedding_dim: int = struct.field(pytree_node=False, default=512)
    """Output width k of the target and predictor, >= 1 (static; 512 in the paper, URLB and
    Craftax)."""
    rnd_epochs: int = struct.field(pytree_node=False, default=1)
    """Shuffled passes of predictor training over each iteration's batch, >= 1 (static;
    Craftax's one exploration epoch)."""
    rnd_minibatches: int = struct.field(pytree_node=False, default=8)
    """Predictor Adam steps per pass, >= 1; must divide num_envs * num_steps (static)."""

    def validate(self) -> None:
        """PPO's checks, every numeric field against :data:`RANGES`, the RND widths and the
        predictor's minibatch split; a ValueError names the field, its value and what is
        allowed."""
        super().validate()
        check_ranges(self, RANGES)
        check_sizes(self, ("rnd_hidden_sizes",))
        batch = self.num_envs * self.num_steps
        if batch % self.rnd_minibatches:
            raise ValueError(
                f"Config.rnd_minibatches={self.rnd_minibatches} must divide the batch "
                f"num_envs * num_steps = {self.num_envs} * {self.num_steps} = {batch}"
            )


RANGES: tuple[RangeSpec, ...] = (
    *ppo.RANGES,
    ("intrinsic_coef", NONNEGATIVE),
    ("extrinsic_coef", NONNEGATIVE),
    ("rnd_learning_rate", NONNEGATIVE),
    ("rnd_obs_clip", Range(0.0, low_open=True, allow_inf=True)),
    ("rnd_embedding_dim", COUNT),
    ("rnd_epochs", COUNT),
    ("rnd_minibatches", COUNT),
)
"""Allowed values of every numeric field (PPO's and RND's), checked by ``Config.validate``."""


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless RND can train on it: PPO's checks
    (:func:`jaxrl.agents.ppo.check_env`) and vector observations for the MLP target and
    predictor. Cheap: reads ``env.spec`` only."""
    ppo.check_env(config, env)
    require_vector_obs("RND (MLP target and predictor on the observation)", env)


class State(ppo.State):
    """PPO's state (policy, critic, optimiser, PPO's observation normaliser, envs, key, counter)
    plus RND's networks and statistics."""

    target_params: Any
    """The random target network's variables, fixed at ``init`` (never trained)."""
    predictor_params: Any
    """The predictor's variables, trained to match the target on visited states."""
    predictor_opt_state: Any
    """Adam's state of the predictor."""
    rnd_obs_stats: RunningStats
    """Running mean/var of the successor observations, per dimension (the networks' input
    whitening)."""
    error_stats: RunningStats
    """Running mean/var of the prediction error (a scalar stream; the reward's divisor)."""


def steps_per_iteration(config: Config) -> int:
    """Environment steps one ``train_step`` takes (summed over envs)."""
    return ppo.steps_per_iteration(config)


# --- RND's quantities --------------------------------------------------------------------------


def make_rnd_network(config: Config) -> MLP:
    """The MLP shared by target and predictor: ``rnd_hidden_sizes`` ReLU layers, then a linear
    ``rnd_embedding_dim`` output (orthogonal init, gain sqrt 2 hidden, 1 output)."""
    return MLP(
        hidden_sizes=tuple(config.rnd_hidden_sizes),
        output_dim=config.rnd_embedding_dim,
        activation="relu",
    )


def make_predictor_optimizer(learning_rate: float | jax.Array) -> optax.GradientTransformation:
    """Adam (optax's default epsilon, no clipping, as URLB). Rebuilt inside ``train_step`` from
    the traced ``rnd_learning_rate``; its state does not depend on it, so changing it never
    recompiles."""
    return optax.adam(learning_rate)


def normalize_obs(stats: RunningStats, obs: jax.Array, clip: float | jax.Array) -> jax.Array:
    """The networks' input, paper section 2.4: ``clip((obs - mean) / sqrt(var + 1e-8), -clip,
    clip)`` per dimension with the running statistics ``stats``."""
    return stats.normalize(obs, clip=clip)


def prediction_error(target_features: jax.Array, predicted_features: jax.Array) -> jax.Array:
    """The distillation error per state, paper section 2.2: ``||f_hat(x) - f(x)||^2 / k``, the
    squared error averaged over the ``k`` embedding dimensions (the last axis; URLB's and
    Craftax's mean, the paper's squared norm divided by a constant). Leading axes are kept."""
    return jnp.mean((predicted_features - target_features) ** 2, axis=-1)


def intrinsic_reward(error: jax.Array, error_stats: RunningStats) -> jax.Array:
    """The exploration bonus: the prediction error divided by the running std of prediction
    errors, ``err / (sqrt(var_err) + 1e-8)`` (URLB's normalisation of the paper's bonus,
    section 2.2; the paper itself normalises by the std of intrinsic returns, section 2.4,
    which ``normalize_reward=True`` adds). Not mean-centred: every bonus is >= 0."""
    return error / (jnp.sqrt(error_stats.var) + REWARD_EPS)


def predictor_loss(
    predictor_params: Any,
    network: MLP,
    obs: jax.Array,
    target_features: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The distillation loss, paper section 2.2: the mean :func:`prediction_error` of the
    predictor ``network(predictor_params)`` on normalised observations ``obs`` against the
    fixed ``target_features`` (no gradient reaches the target). Returns ``(loss, info)`` for
    :func:`jaxrl.agents.ppo.sgd_epochs`."""
    predicted = network.apply(predictor_params, obs)
    loss = jnp.mean(prediction_error(jax.lax.stop_gradient(target_features), predicted))
    return loss, {}


def mixed_reward(config: Config, intrinsic: jax.Array, extrinsic: jax.Array) -> jax.Array:
    """What PPO maximises: ``intrinsic_coef * r_int + extrinsic_coef * r_ext`` (paper section
    2.3's weighted sum; with one discount, the sum of advantages of the two streams)."""
    return config.intrinsic_coef * intrinsic + config.extrinsic_coef * extrinsic


def make_reward_fn(config: Config, env: Env) -> ppo.RewardFn:
    """The :data:`jaxrl.agents.ppo.RewardFn` hook of one iteration (steps 1 to 4 of the module
    docstring): returns the state with the predictor, its optimiser and both statistics updated,
    the rewards :func:`mixed_reward` and the metrics ``rnd_intrinsic_reward`` (mean normalised
    bonus of the batch), ``rnd_prediction_error`` (mean raw error before training) and
    ``rnd_predictor_loss`` (mean loss over the predictor's steps)."""
    del env
    network = make_rnd_network(config)

    def reward_fn(state: State, traj: Transition) -> tuple[State, jax.Array, Metrics]:
        obs = traj.next_obs.reshape(*traj.next_obs.shape[:2], -1)
        obs_stats = state.rnd_obs_stats.update(obs)
        x = normalize_obs(obs_stats, obs, config.rnd_obs_clip)
        target_features = network.apply(state.target_params, x)
        error = prediction_error(target_features, network.apply(state.predictor_params, x))
        error_stats = state.error_stats.update(error)
        r_int = intrinsic_reward(error, error_stats)
        batch = (ppo.flatten_time(x), ppo.flatten_time(target_features))
        params, opt_state, info = ppo.sgd_epochs(
            lambda p, mb: predictor_loss(p, network, *mb),
            state.predictor_params,
            state.predictor_opt_state,
            make_predictor_optimizer(config.rnd_learning_rate),
            batch,
            jax.random.fold_in(state.key, _PREDICTOR_STREAM),
            config.rnd_epochs,
            config.rnd_minibatches,
        )
        new_state = state.replace(
            predictor_params=params,
            predictor_opt_state=opt_state,
            rnd_obs_stats=obs_stats,
            error_stats=error_stats,
        )
        metrics = {
            "rnd_intrinsic_reward": jnp.mean(r_int),
            "rnd_prediction_error": jnp.mean(error),
            "rnd_predictor_loss": info["loss"],
        }
        return new_state, mixed_reward(config, r_int, traj.reward), metrics

    return reward_fn


# --- the agent interface (jaxrl.train) ---------------------------------------------------------


def init(config: Config, env: Env, key: PRNGKey) -> State:
    """PPO's state (:func:`jaxrl.agents.ppo.init`, after ``config.validate()`` and
    :func:`check_env`) plus a random target, a predictor with its own initialisation, Adam's
    state and fresh statistics (mean 0, var 1, count 0: the first iteration's batch replaces
    them exactly)."""
    config.validate()
    check_env(config, env)
    k_ppo, k_target, k_predictor = jax.random.split(key, 3)
    base = ppo.init(config, env, k_ppo)
    network = make_rnd_network(config)
    obs_dim = math.prod(env.spec.obs_shape)
    dummy = jnp.zeros((1, obs_dim), jnp.float32)
    predictor_params = network.init(k_predictor, dummy)
    return State(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
        target_params=network.init(k_target, dummy),
        predictor_params=predictor_params,
        predictor_opt_state=make_predictor_optimizer(config.rnd_learning_rate).init(
            predictor_params
        ),
        rnd_obs_stats=RunningStats.create((obs_dim,)),
        error_stats=RunningStats.create(()),
    )


def train_step(config: Config, env: Env, state: State) -> tuple[State, Metrics]:
    """One PPO iteration (:func:`jaxrl.agents.ppo.train_step`) on the reward of
    :func:`make_reward_fn`, which also trains the predictor on the iteration's batch. The
    episode returns in the metrics stay the env's (extrinsic) ones."""
    return ppo.train_step(config, env, state, reward_fn=make_reward_fn(config, env))


def act(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    key: PRNGKey,
    deterministic: bool = False,
) -> jax.Array:
    """Env actions of the exploration policy (PPO's, :func:`jaxrl.agents.ppo.act`)."""
    return ppo.act(config, env, state, obs, key, deterministic)


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs (kept here so scripts need not import dataclasses)."""
    return dataclasses.replace(config, **changes)
