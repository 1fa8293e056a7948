"""TD-JEPA: latent-predictive representations for zero-shot RL (Bagatella, Pirotta, Touati,
Lazaric, Tirinzoni, ICLR 2026, arXiv:2510.00739), offline and reward-free. Checked line by line
against the official code, marbaga/td_jepa_public @9152a32 (``metamotivo/agents/td_jepa/``,
``metamotivo/nn_models.py``, the launch files under ``scripts/train/proprio/``); the paper's
equation numbers were not available to us, so the functions below cite the official functions.

A state encoder ``phi`` and a task encoder ``psi`` (both on their ``sqrt(d)`` spheres) are trained
with two policy-conditioned predictors, by temporal difference *in latent space*:

* ``P_phi(phi(s), a, z)`` regresses onto the successor features of ``psi`` under ``pi_z``, with
  the target ``psi_targ(s') + gamma P_phi,targ(phi_targ(s'), a', z)``;
* symmetrically ``P_psi(psi(s), a, z)`` onto the successor features of ``phi``: the targets
  *cross over*, each predictor regresses onto the other encoder's features
  (:func:`latent_targets`).

At the fixed point ``P_phi(phi(s), a, z) = E[sum_{k >= 1} gamma^(k-1) psi(s_k) | s, a, pi_z]``:
the successor features start at the *next* state, as FB's ``M`` with ``B(s')``
(:func:`successor_feature_target`; ``tests/test_td_jepa.py`` checks it against ``P (I - gamma
P_pi)^-1 Psi`` on a finite MDP). It is FB with the one-step measure replaced by latent
prediction (``F`` <-> ``P_phi``, ``B`` <-> ``psi``): ``Q_z(s, a) = P_phi(phi(s), a, z)^T z``, the
actor maximises it, and a reward is projected on ``psi`` by **least squares** at test time
(:func:`infer_task`; FB takes the reward-weighted mean of ``B``). The orthonormality terms on
both encoders keep them from collapsing: a constant ``psi`` is a perfect and useless fixed point
of the latent TD loss, and without those terms the encoders do fall onto a few directions
(``tests/test_td_jepa.py`` shows it).

One ``train_step`` is one gradient step on a batch (``steps_per_iteration`` = 1), in the official
order (``TDJEPAAgent.update``):

1. tasks ``z``, before any update: random on the ``sqrt(d)`` sphere, a ``z_mix_prob`` share
   replaced by the online ``psi`` of shuffled batch next states (:func:`training_tasks`);
2. the representation loss (:func:`representation_loss`): both predictors' squared errors to
   :func:`latent_targets` (ensemble-mean targets from the EMA encoders and predictors, at the
   online actor's clipped-noise action at ``phi_targ(s')``, not differentiated), plus each
   encoder's orthonormality loss on the batch states ``s``, with its own coefficient; one Adam
   per encoder and predictor, no gradient clipping;
3. the actor (TD3, :func:`actor_loss`) on the *updated*, detached ``phi(s)`` (the actor never
   trains the encoders): ``-mean_k P_phi,k(phi(s), a, z)^T z`` at its clipped-noise action,
   with ``bc_coef > 0`` normalised by ``mean |Q|`` and joined by a behaviour-cloning term;
4. EMA of the target encoders and predictors (no target actor), and the running covariance of
   ``psi(s)`` from before the update (:func:`running_covariance`; only OGBench's goal-based
   training tasks use it, ``scale_train_goals``).

``symmetric=True`` is TD-JEPA-sym (``update_tdjepa_sym``): one encoder ``phi = psi`` of dimension
``z_dim`` and one predictor, whose target is ``phi_targ(s') + gamma P_targ(phi_targ(s'), a',
z)``, and one orthonormality term.

Networks (``nn_models.py``): each encoder is Linear-LayerNorm-tanh, ReLU layers, a Linear to its
dimension and the ``sqrt(d)`` projection (FB's ``B``, :class:`jaxrl.agents.fb.BackwardMap`; with no
hidden layers, one Linear and the projection, the DMC launch's ``phi``); each predictor is an
ensemble of two full networks (towers Linear-LayerNorm-tanh-Linear-ReLU on ``(x, z)`` and ``(x,
a)``, ReLU layers, a Linear); the actor is FB's on ``(phi(s), z)`` (or the observation,
``actor_input="obs"``, the OGBench launch).

Where we differ from the official code, on purpose:

* flax's default initialisation and our FB's first-layer random bias
  (:class:`jaxrl.agents.fb.LayerNormTanh`) instead of torch's orthogonal init (gain 1 for
  single layers, sqrt 2 for the ensemble's, zero biases);
* actions are in ``[-1, 1]`` (the data's box mapped; the official clamps to 1 - 1e-6);
  observations optionally normalised (off, as the official proprio launches);
* the OGBench launch's actor is a noise-conditioned one-step policy regularised towards a flow-BC
  model; ours stays the TD3 actor with the squared-error BC term (the DMC agent's ``bc_coeff``
  form); the OGBench evaluation's reward shift of +1 before inference is not applied.
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

from jaxrl import zero_shot
from jaxrl.agents.fb import Actor, BackwardMap, Tower
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
from jaxrl.networks import MLP, ema
from jaxrl.types import Env, Metrics, PRNGKey
from jaxrl.zero_shot import OrthoForm

NAME = "td_jepa"

ENSEMBLE = 2
"""Members of each predictor ensemble (the official ``num_parallel``)."""


@struct.dataclass
class Config:
    """TD-JEPA hyperparameters. Defaults: the official DMC-proprio launch
    (``scripts/train/proprio/launch_td_jepa_dmc.py``, presets in ``jaxrl.agents.presets``). Float
    fields are pytree leaves (vmappable in sweeps); fields marked static fix shapes."""

    learning_rate: float = 1e-4
    """Adam step size of the state encoder phi and of both predictors, >= 0."""
    psi_learning_rate: float = 1e-4
    """Adam step size of the task encoder psi, >= 0 (swept in {1e-4, 1e-5} by the paper;
    unused when ``symmetric``)."""
    actor_learning_rate: float = 1e-4
    """Adam step size of the actor, >= 0."""
    discount: float = 0.98
    """Discount gamma of the successor features, in [0, 1]."""
    tau: float = 0.001
    """EMA rate of the target encoders and predictors, in [0, 1]."""
    phi_ortho_coef: float = 0.1
    """Weight of the orthonormality loss of phi(s), >= 0."""
    psi_ortho_coef: float = 0.1
    """Weight of the orthonormality loss of psi(s), >= 0 (unused when ``symmetric``)."""
    z_mix_prob: float = 0.5
    """Probability that a training task z is psi of a batch next state instead of a random z,
    in [0, 1]."""
    policy_noise: float = 0.2
    """Std of the Gaussian noise of the actor's actions in the target and the actor loss (in
    [-1, 1] units), >= 0."""
    noise_clip: float = 0.3
    """That noise is clipped to [-noise_clip, noise_clip], >= 0."""
    bc_coef: float = 0.0
    """Behaviour-cloning weight: with bc_coef > 0 the actor loss is -Q / mean|Q| + bc_coef x
    the squared error to the data's action (OGBench); 0: -Q alone (DMC). >= 0."""
    cov_rate: float = 0.005
    """Rate of the running covariance of psi, in [0, 1]."""
    actor_input: Literal["phi", "obs"] = struct.field(pytree_node=False, default="phi")
    """What the actor sees besides z: "phi" the detached phi(s) (DMC), "obs" the observation
    (the official OGBench setting, ``actor_use_full_encoder=False``; static)."""
    symmetric: bool = struct.field(pytree_node=False, default=False)
    """TD-JEPA-sym: one encoder (phi = psi) and one predictor (static)."""
    z_dim: int = struct.field(pytree_node=False, default=50)
    """Dimension d of z and of psi, >= 1 (static; also phi's when ``symmetric``)."""
    phi_dim: int = struct.field(pytree_node=False, default=256)
    """Dimension of phi, >= 1 (static; ignored when ``symmetric``)."""
    phi_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=())
    """Hidden widths of phi (the first Linear-LayerNorm-tanh, the rest ReLU); () is one Linear
    and the sphere projection (DMC; static)."""
    psi_hidden_sizes: tuple[int, ...] = struct.field(pytree_node=False, default=(256, 256))
    """Hidden widths of psi, as ``phi_hidden_sizes`` (static)."""
    predictor_hidden: int = struct.field(pytree_node=False, default=1024)
    """Width h of the predictors: two towers Linear(h)-LayerNorm-tanh-Linear(h/2)-ReLU, then
    ``predictor_layers`` ReLU layers of width h, >= 2 (static)."""
    predictor_layers: int = struct.field(pytree_node=False, default=1)
    """Hidden ReLU layers of the predictors after the towers, >= 0 (static)."""
    actor_hidden: int = struct.field(pytree_node=False, default=1024)
    """Width of the actor's towers and of its hidden layers, >= 2 (static)."""
    actor_layers: int = struct.field(pytree_node=False, default=1)
    """Hidden ReLU layers of the actor after the towers, >= 0 (static)."""
    batch_size: int = struct.field(pytree_node=False, default=1024)
    """Transitions per gradient step, >= 2 (the orthonormality loss needs pairs; static)."""
    scale_train_goals: bool = struct.field(pytree_node=False, default=False)
    """Goal-based training tasks are ``project(psi(s') Cov^-1)`` instead of ``psi(s')`` (the
    official OGBench setting; static)."""
    ortho_form: OrthoForm = struct.field(pytree_node=False, default="metamotivo")
    """Which orthonormality loss (:func:`jaxrl.zero_shot.orthonormality_loss`): "metamotivo"
    (TD-JEPA's) or "controllable_agent" (twice it; static)."""
    inference_samples: int = struct.field(pytree_node=False, default=10_000)
    """Reward-labelled dataset rows the least-squares task inference uses, >= 1 (the launch
    scripts' 10,000; static)."""
    normalize_obs: bool = struct.field(pytree_node=False, default=False)
    """Normalise observations with the dataset's mean and std (also when acting; static)."""

    def validate(self) -> None:
        """Raise a ValueError naming the field, its value and what is allowed."""
        check_ranges(self, RANGES)
        check_sizes(self, ("phi_hidden_sizes", "psi_hidden_sizes"), allow_empty=True)
        if self.batch_size < 2:
            raise ValueError(
                f"Config.batch_size={self.batch_size}: the orthonormality loss needs at least 2 "
                "rows (off-diagonal pairs)"
            )
        for name in ("predictor_hidden", "actor_hidden"):
            if getattr(self, name) < 2:
                raise ValueError(
                    f"Config.{name}={getattr(self, name)}: expected >= 2 (its towers are half "
                    "as wide)"
                )
        check_choices(self)


RANGES: tuple[RangeSpec, ...] = (
    ("learning_rate", NONNEGATIVE),
    ("psi_learning_rate", NONNEGATIVE),
    ("actor_learning_rate", NONNEGATIVE),
    ("discount", UNIT),
    ("tau", UNIT),
    ("phi_ortho_coef", NONNEGATIVE),
    ("psi_ortho_coef", NONNEGATIVE),
    ("z_mix_prob", UNIT),
    ("policy_noise", NONNEGATIVE),
    ("noise_clip", NONNEGATIVE),
    ("bc_coef", NONNEGATIVE),
    ("cov_rate", UNIT),
    ("z_dim", COUNT),
    ("phi_dim", COUNT),
    ("predictor_hidden", COUNT),
    ("predictor_layers", NONNEGATIVE),
    ("actor_hidden", COUNT),
    ("actor_layers", NONNEGATIVE),
    ("batch_size", COUNT),
    ("inference_samples", COUNT),
)
"""Allowed values of every numeric field (checked by ``Config.validate``)."""


# --- networks ----------------------------------------------------------------------------------


class Predictor(nn.Module):
    """One predictor ``P(x, a, z)``: towers on ``(x, z)`` and ``(x, a)``, ReLU layers, a Linear
    to ``out`` (``x``: an encoder's output)."""

    out: int
    hidden: int
    layers: int

    @nn.compact
    def __call__(self, x: jax.Array, action: jax.Array, z: jax.Array) -> jax.Array:
        xz = Tower(self.hidden, self.hidden // 2)(jnp.concatenate([x, z], -1))
        xa = Tower(self.hidden, self.hidden // 2)(jnp.concatenate([x, action], -1))
        head = MLP((self.hidden,) * self.layers, self.out, activation="relu")
        return head(jnp.concatenate([xz, xa], -1))


class PredictorEnsemble(nn.Module):
    """:data:`ENSEMBLE` independently initialised :class:`Predictor` s: ``[ENSEMBLE, N, out]``."""

    out: int
    hidden: int
    layers: int

    @nn.compact
    def __call__(self, x: jax.Array, action: jax.Array, z: jax.Array) -> jax.Array:
        members = nn.vmap(
            Predictor,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=ENSEMBLE,
        )
        return members(self.out, self.hidden, self.layers)(x, action, z)


class Networks(struct.PyTreeNode):
    phi: BackwardMap = struct.field(pytree_node=False)
    psi: BackwardMap = struct.field(pytree_node=False)
    """The task encoder (``phi`` itself when symmetric)."""
    pred_phi: PredictorEnsemble = struct.field(pytree_node=False)
    """``P_phi(phi(s), a, z)``, in psi's space."""
    pred_psi: PredictorEnsemble = struct.field(pytree_node=False)
    """``P_psi(psi(s), a, z)``, in phi's space (unused when symmetric)."""
    actor: Actor = struct.field(pytree_node=False)
    """``pi(phi(s), z)`` in ``[-1, 1]``."""


def phi_dim(config: Config) -> int:
    """The dimension of phi (``z_dim`` when symmetric)."""
    return config.z_dim if config.symmetric else config.phi_dim


def make_networks(config: Config, env: Env) -> Networks:
    """The encoders, predictors and actor for ``env`` (Box actions, vector observations)."""
    action_dim = int(np.prod(require_box("TD-JEPA", env).shape))
    phi = BackwardMap(phi_dim(config), tuple(config.phi_hidden_sizes))
    return Networks(
        phi=phi,
        psi=phi if config.symmetric else BackwardMap(config.z_dim, tuple(config.psi_hidden_sizes)),
        pred_phi=PredictorEnsemble(config.z_dim, config.predictor_hidden, config.predictor_layers),
        pred_psi=PredictorEnsemble(
            phi_dim(config), config.predictor_hidden, config.predictor_layers
        ),
        actor=Actor(
            action_dim,
            config.actor_hidden,
            config.actor_hidden // 2,
            (config.actor_hidden,) * config.actor_layers,
        ),
    )


def actor_features(config: Config, phi: jax.Array, obs: jax.Array) -> jax.Array:
    """The actor's state input: ``phi`` (an encoder output, never differentiated through the
    actor) or the observation ``obs`` (``config.actor_input``)."""
    return jax.lax.stop_gradient(phi) if config.actor_input == "phi" else obs


def learned(config: Config) -> tuple[str, ...]:
    """The encoders and predictors trained by the representation loss (each with its own Adam
    and EMA target): ``phi``, ``pred_phi`` and, unless symmetric, ``psi`` and ``pred_psi``."""
    return ("phi", "pred_phi") if config.symmetric else ("phi", "psi", "pred_phi", "pred_psi")


def optimisers(config: Config) -> dict[str, optax.GradientTransformation]:
    """One Adam per network, as the official code (``psi`` at ``psi_learning_rate``)."""
    rates = {
        "phi": config.learning_rate,
        "psi": config.psi_learning_rate,
        "pred_phi": config.learning_rate,
        "pred_psi": config.learning_rate,
        "actor": config.actor_learning_rate,
    }
    return {name: optax.adam(rates[name]) for name in (*learned(config), "actor")}


# --- data and state ----------------------------------------------------------------------------


def check_env(config: Config, env: Env) -> None:
    """Raise a ValueError naming the env unless TD-JEPA can train on it
    (:func:`jaxrl.zero_shot.check_agent_env`: ``Box`` actions, vector observations)."""
    del config
    zero_shot.check_agent_env("TD-JEPA", env)


def prepare_data(config: Config, env: Env, dataset: Dataset) -> NormalizedDataset:
    """``dataset`` checked against ``env``, actions in ``[-1, 1]``, observations normalised with
    ``normalize_obs`` (:func:`jaxrl.zero_shot.prepare_agent_data`); its rewards are never read."""
    return zero_shot.prepare_agent_data("TD-JEPA", env, dataset, config.normalize_obs)


class State(struct.PyTreeNode):
    """Everything a run needs to continue exactly (what checkpoints store)."""

    params: dict[str, Any]
    """``{"phi", "pred_phi", "actor"}``, and ``"psi"``, ``"pred_psi"`` unless symmetric."""
    target_params: dict[str, Any]
    """EMA copies of the encoders and predictors (not the actor: the official code has none)."""
    opt_state: dict[str, Any]
    """One Adam state per entry of ``params``."""
    cov: jax.Array
    """``[d, d]``: the running covariance of psi (:func:`running_covariance`)."""
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
    """Initialise the encoders, predictors, actor, targets and optimisers (after
    ``config.validate()`` and :func:`check_env`)."""
    config.validate()
    check_env(config, env)
    nets = make_networks(config, env)
    k_phi, k_psi, k_pphi, k_ppsi, k_pi, k_z, key = jax.random.split(key, 7)
    obs = jnp.zeros((1, *env.spec.obs_shape), jnp.float32)
    act = jnp.zeros((1, nets.actor.action_dim), jnp.float32)
    z = jnp.zeros((1, config.z_dim), jnp.float32)
    e = jnp.zeros((1, phi_dim(config)), jnp.float32)
    params = {
        "phi": nets.phi.init(k_phi, obs),
        "pred_phi": nets.pred_phi.init(k_pphi, e, act, z),
        "actor": nets.actor.init(k_pi, actor_features(config, e, obs), z),
    }
    if not config.symmetric:
        params["psi"] = nets.psi.init(k_psi, obs)
        params["pred_psi"] = nets.pred_psi.init(k_ppsi, z, act, z)
    opts = optimisers(config)
    return State(
        params=params,
        target_params={name: params[name] for name in learned(config)},
        opt_state={name: opt.init(params[name]) for name, opt in opts.items()},
        cov=jnp.eye(config.z_dim, dtype=jnp.float32),
        obs_mean=data.obs_mean,
        obs_std=data.obs_std,
        z=zero_shot.sample_z(k_z, 1, config.z_dim)[0],
        key=key,
        step=jnp.zeros((), jnp.int32),
    )


# --- the policy and task inference -------------------------------------------------------------


def policy(
    config: Config,
    env: Env,
    state: State,
    obs: jax.Array,
    z: jax.Array,
    key: PRNGKey | None = None,
) -> jax.Array:
    """``pi_z`` on raw observations ``[N, ...]`` with tasks ``z [N, d]``: env actions
    (deterministic; ``key`` is unused, taken for the zero-shot agents' common signature)."""
    del key
    nets = make_networks(config, env)
    obs = normalize(obs, state.obs_mean, state.obs_std)
    x = actor_features(config, nets.phi.apply(state.params["phi"], obs), obs)
    return env_actions(env, nets.actor.apply(state.params["actor"], x, z))


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
    """The task features ``psi`` of raw observations ``[N, ...]``: ``[N, d]`` on the sphere
    (named as FB's ``B``, its counterpart, so the zero-shot tools take either agent)."""
    nets = make_networks(config, env)
    name = "phi" if config.symmetric else "psi"
    return nets.psi.apply(state.params[name], normalize(obs, state.obs_mean, state.obs_std))


def infer_task(
    config: Config,
    env: Env,
    state: State,
    next_obs: jax.Array,
    rewards: jax.Array,
) -> jax.Array:
    """Zero-shot task inference by least squares (official ``reward_inference``): ``z_r = sqrt(d)
    normalise(argmin_z sum_i (psi(s'_i)^T z - r_i)^2)`` over reward-labelled next observations
    ``[N, ...]`` and rewards ``[N]`` (:func:`jaxrl.zero_shot.infer_z_least_squares`)."""
    return zero_shot.infer_z_least_squares(backward(config, env, state, next_obs), rewards)


def infer_task_from_data(
    config: Config, env: Env, state: State, data: Any, rewards: jax.Array, key: PRNGKey
) -> jax.Array:
    """:func:`infer_task` on ``config.inference_samples`` random rows of ``data``, ``rewards
    [N]`` the task's reward of every row (:func:`jaxrl.zero_shot.infer_task_from_rows`)."""
    return zero_shot.infer_task_from_rows(infer_task, config, env, state, data, rewards, key)


with_task = zero_shot.with_task
"""``with_task(state, z)``: ``state`` whose :func:`act` follows task ``z``."""


# --- losses ------------------------------------------------------------------------------------


def successor_feature_target(
    next_features: jax.Array, next_prediction: jax.Array, discount: jax.Array
) -> jax.Array:
    """The latent TD target (official ``update_tdjepa_asym``): ``features(s') + discount * mean_k
    P_targ,k(s', a', z)``, with ``next_features [N, d]`` the target encoder at the *next* state
    (the successor features start at ``s_1``: using ``s`` here would add ``features(s)`` to
    every value), ``next_prediction [K, N, d]`` the target predictor ensemble at ``(s', a')``,
    ``discount [N]`` = ``gamma (1 - terminal)``. The ensemble mean, as the official code
    (pessimism 0)."""
    return next_features + discount[:, None] * jnp.mean(next_prediction, axis=0)


def prediction_loss(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """``mean_{k, i} ||P_k(x_i, a_i, z_i) - target_i||^2`` (squared norm summed over the latent
    dimensions; ``prediction [K, N, d]``, ``target [N, d]`` not differentiated)."""
    diff = prediction - jax.lax.stop_gradient(target)[None]
    return jnp.mean(jnp.sum(diff**2, axis=-1))


def running_covariance(cov: jax.Array, psi: jax.Array, rate: jax.Array) -> jax.Array:
    """``(1 - rate) Cov + rate psi^T psi / N`` (the official running second moment of the task
    features, ``psi [N, d]``, not centred)."""
    return (1.0 - rate) * cov + rate * (psi.T @ psi) / psi.shape[0]


def training_tasks(
    config: Config,
    nets: Networks,
    params: Any,
    cov: jax.Array,
    next_obs: jax.Array,
    key: PRNGKey,
) -> jax.Array:
    """The batch's tasks: random z, a ``z_mix_prob`` share replaced by ``psi`` of batch next
    states (the online psi before the step; with ``scale_train_goals``, ``project(psi(s') (Cov +
    1e-6 I)^-1)``), not differentiated."""
    k_z, k_mix = jax.random.split(key)
    z = zero_shot.sample_z(k_z, next_obs.shape[0], config.z_dim)
    name = "phi" if config.symmetric else "psi"
    goals = jax.lax.stop_gradient(nets.psi.apply(params[name], next_obs))
    if config.scale_train_goals:
        eye = jnp.eye(cov.shape[0], dtype=cov.dtype)
        goals = zero_shot.project_sphere(jnp.linalg.solve(cov + 1e-6 * eye, goals.T).T)
    return zero_shot.mix_z(k_mix, z, goals, config.z_mix_prob)


def latent_targets(
    config: Config,
    nets: Networks,
    target_params: Any,
    actor_params: Any,
    batch: dict[str, jax.Array],
    z: jax.Array,
    key: PRNGKey,
) -> dict[str, jax.Array]:
    """The crossed-over TD targets (official ``update_tdjepa_asym``), from the EMA encoders and
    predictors at the online actor's clipped-noise action ``a' = pi(phi_targ(s'), z) + eps``:
    ``{"pred_phi": psi_targ(s') + gamma m P_phi,targ(phi_targ(s'), a', z) [N, d_psi]}`` and, unless
    symmetric, ``{"pred_psi": phi_targ(s') + gamma m P_psi,targ(psi_targ(s'), a', z) [N,
    d_phi]}`` (``m`` = 1 - terminal; :func:`successor_feature_target`)."""
    next_obs = batch["next_obs"]
    next_phi = nets.phi.apply(target_params["phi"], next_obs)
    pi_next = nets.actor.apply(actor_params, actor_features(config, next_phi, next_obs), z)
    next_action = target_action(pi_next, key, config.policy_noise, config.noise_clip)
    discount = config.discount * batch["mask"]
    if config.symmetric:
        prediction = nets.pred_phi.apply(target_params["pred_phi"], next_phi, next_action, z)
        return {"pred_phi": successor_feature_target(next_phi, prediction, discount)}
    next_psi = nets.psi.apply(target_params["psi"], next_obs)
    return {
        "pred_phi": successor_feature_target(
            next_psi,
            nets.pred_phi.apply(target_params["pred_phi"], next_phi, next_action, z),
            discount,
        ),
        "pred_psi": successor_feature_target(
            next_phi,
            nets.pred_psi.apply(target_params["pred_psi"], next_psi, next_action, z),
            discount,
        ),
    }


def representation_loss(
    config: Config,
    nets: Networks,
    params: Any,
    target_params: Any,
    actor_params: Any,
    batch: dict[str, jax.Array],
    z: jax.Array,
    key: PRNGKey,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Both predictors' latent TD losses against :func:`latent_targets` (not differentiated),
    plus each encoder's orthonormality loss on the batch states ``s``, with its own coefficient
    (``params``: the :func:`learned` networks)."""
    targets = latent_targets(config, nets, target_params, actor_params, batch, z, key)
    phi = nets.phi.apply(params["phi"], batch["obs"])
    loss_phi = prediction_loss(
        nets.pred_phi.apply(params["pred_phi"], phi, batch["action"], z), targets["pred_phi"]
    )
    ortho_phi = zero_shot.orthonormality_loss(phi, config.ortho_form)
    info = {"pred_phi_loss": loss_phi, "ortho_phi": ortho_phi}
    if config.symmetric:
        return loss_phi + config.phi_ortho_coef * ortho_phi, info
    psi = nets.psi.apply(params["psi"], batch["obs"])
    loss_psi = prediction_loss(
        nets.pred_psi.apply(params["pred_psi"], psi, batch["action"], z), targets["pred_psi"]
    )
    ortho_psi = zero_shot.orthonormality_loss(psi, config.ortho_form)
    total = (
        loss_phi + loss_psi + config.phi_ortho_coef * ortho_phi + config.psi_ortho_coef * ortho_psi
    )
    return total, {**info, "pred_psi_loss": loss_psi, "ortho_psi": ortho_psi}


def actor_loss(
    config: Config,
    nets: Networks,
    actor_params: Any,
    params: Any,
    batch: dict[str, jax.Array],
    z: jax.Array,
    key: PRNGKey,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """TD3 on the detached ``phi(s)`` (official ``update_actor``): ``-mean Q_z(s, a)`` at the
    clipped-noise action ``a = pi(phi(s), z) + eps`` ; with ``bc_coef > 0``,
    ``-mean Q / sg(mean_k,i |Q_k|) + bc_coef mean (a - a_data)^2`` (TD3+BC's normalisation over
    every member's Q; the squared error averaged over batch and action dimensions, torch's
    ``mse_loss``)."""
    phi = jax.lax.stop_gradient(nets.phi.apply(params["phi"], batch["obs"]))
    pi = nets.actor.apply(actor_params, actor_features(config, phi, batch["obs"]), z)
    action = target_action(pi, key, config.policy_noise, config.noise_clip)
    prediction = nets.pred_phi.apply(params["pred_phi"], phi, action, z)
    q_members = jnp.einsum("kid,id->ki", prediction, z)
    q = jnp.mean(q_members, axis=0)
    scale = jnp.where(config.bc_coef > 0, jax.lax.stop_gradient(jnp.mean(jnp.abs(q_members))), 1.0)
    bc = jnp.mean((action - batch["action"]) ** 2)
    loss = -jnp.mean(q) / scale + config.bc_coef * bc
    return loss, {"q_mean": jnp.mean(q), "bc_loss": bc}


def train_step(
    config: Config, env: Env, state: State, data: NormalizedDataset
) -> tuple[State, Metrics]:
    """One TD-JEPA gradient step: tasks, the representation update, the actor update on the new
    encoders and predictors, targets and the running covariance."""
    nets = make_networks(config, env)
    key, k_batch, k_z, k_target, k_actor = jax.random.split(state.key, 5)
    batch = sample_transitions(data, k_batch, config.batch_size)
    z = training_tasks(config, nets, state.params, state.cov, batch["next_obs"], k_z)
    names = learned(config)
    rep = {name: state.params[name] for name in names}
    psi_name = "phi" if config.symmetric else "psi"
    psi = nets.psi.apply(rep[psi_name], batch["obs"])  # before the step, as the official cov
    (rep_loss, info), grads = jax.value_and_grad(representation_loss, argnums=2, has_aux=True)(
        config, nets, rep, state.target_params, state.params["actor"], batch, z, k_target
    )
    opts = optimisers(config)
    opt_state = dict(state.opt_state)
    for name in names:
        updates, opt_state[name] = opts[name].update(grads[name], opt_state[name], rep[name])
        rep[name] = optax.apply_updates(rep[name], updates)
    (a_loss, a_info), a_grads = jax.value_and_grad(actor_loss, argnums=2, has_aux=True)(
        config, nets, state.params["actor"], rep, batch, z, k_actor
    )
    updates, opt_state["actor"] = opts["actor"].update(
        a_grads, opt_state["actor"], state.params["actor"]
    )
    params = {**rep, "actor": optax.apply_updates(state.params["actor"], updates)}
    state = state.replace(
        params=params,
        target_params=ema(rep, state.target_params, config.tau),
        opt_state=opt_state,
        cov=running_covariance(state.cov, psi, config.cov_rate),
        key=key,
        step=state.step + 1,
    )
    metrics = {
        **info,
        **a_info,
        "representation_loss": rep_loss,
        "actor_loss": a_loss,
        "grad_norm": optax.tree.norm(grads),
        "actor_grad_norm": optax.tree.norm(a_grads),
    }
    return state, metrics


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` for configs."""
    return dataclasses.replace(config, **changes)
