"""Network factories and policy distributions (``flax.linen``, used through pure init/apply).

Distributions are small pytrees with ``sample``/``log_prob``/``entropy``/``mode`` so that agents can
be written against one interface for continuous and discrete actions.

:func:`actor_critic` is the factory of the on-policy agents (PPO and the agents built on it): a
policy and a value network, each an optional observation *torso* (a CNN for grid or image
observations, or any encoder registered in :data:`TORSOS`) followed by its own MLP, configured by
a :class:`NetworkConfig` that the agents fill from their documented ``Config`` fields.

Layer names are explicit and stable (:func:`dense_name`, :data:`MLP_NAME`), so code that reaches
into parameters (PROPS's frozen features, :func:`output_layer_path`) does not depend on Flax's
automatic naming. They are the names Flax used to generate for these modules, so parameters,
their initial values (Flax derives them from the names) and checkpoints of earlier versions are
unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.config import check_sizes
from jaxrl.types import Box, EnvSpec, PRNGKey

Activation = Literal["tanh", "relu", "elu", "gelu", "silu", "swish"]
"""Names of the activation functions (the keys of :data:`ACTIVATIONS`)."""

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": nn.tanh,
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "swish": nn.swish,
}


KernelInit = Literal["orthogonal", "lecun_uniform"]
"""Weight initialisers of :class:`MLP` layers: ``"orthogonal"`` (gain sqrt 2 for hidden layers,
``output_scale`` for the output layer; the PPO convention) or ``"lecun_uniform"`` (every layer,
``U(-sqrt(3 / fan_in), sqrt(3 / fan_in))``; the GoRL official code's ``mlp_init``, repo
bennidict23/GoRL, src/flow_policy/networks.py ~15-29). Biases start at 0 either way."""

KERNEL_INITS = get_args(KernelInit)


def _kernel_init(name: str, gain: float) -> Callable[..., jax.Array]:
    """The initialiser ``name`` (orthogonal with ``gain``, or LeCun uniform)."""
    if name == "orthogonal":
        return nn.initializers.orthogonal(gain)
    if name == "lecun_uniform":
        return nn.initializers.lecun_uniform()
    raise ValueError(f"unknown kernel init {name!r}; valid: {KERNEL_INITS}")


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    """Look up an activation by name; unknown names raise a ValueError listing the valid ones."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def dense_name(i: int) -> str:
    """Name of an :class:`MLP`'s ``i``-th Dense layer (the output layer is
    ``dense_name(len(hidden_sizes))``); hidden layer ``i``'s LayerNorm is ``LayerNorm_{i}``."""
    return f"Dense_{i}"


class MLP(nn.Module):
    """Multi-layer perceptron with orthogonal (or LeCun uniform) initialisation and optional
    LayerNorm. Its layers are named by :func:`dense_name`.

    Attributes:
        hidden_sizes: widths of the hidden layers.
        output_dim: width of the last (linear) layer; ``None`` returns the last hidden layer.
        activation: name in :data:`ACTIVATIONS`.
        layer_norm: apply LayerNorm after each hidden Dense (before the activation).
        output_scale: orthogonal-init gain of the last layer (0.01 for policy means, 1 for values).
        kernel_init: name in :data:`KERNEL_INITS`; ``"lecun_uniform"`` ignores ``output_scale``.
    """

    hidden_sizes: Sequence[int]
    output_dim: int | None = None
    activation: str = "tanh"
    layer_norm: bool = False
    output_scale: float = 1.0
    kernel_init: str = "orthogonal"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation_fn(self.activation)
        for i, width in enumerate(self.hidden_sizes):
            init = _kernel_init(self.kernel_init, math.sqrt(2.0))
            x = nn.Dense(width, kernel_init=init, name=dense_name(i))(x)
            if self.layer_norm:
                x = nn.LayerNorm(name=f"LayerNorm_{i}")(x)
            x = act(x)
        if self.output_dim is not None:
            init = _kernel_init(self.kernel_init, self.output_scale)
            x = nn.Dense(
                self.output_dim, kernel_init=init, name=dense_name(len(self.hidden_sizes))
            )(x)
        return x


class CNN(nn.Module):
    """Small convolutional torso for grid or image observations ``[..., H, W, C]`` (any leading
    batch axes): ``SAME``-padded square convolutions (orthogonal init, gain sqrt 2), each
    followed by the activation, then flattened to ``[..., features]``. Layers are named
    ``Conv_{i}``.

    Attributes:
        channels: output channels of each convolution.
        kernel_sizes: side of each square kernel (one per convolution).
        strides: stride of each convolution (one per convolution).
        activation: name in :data:`ACTIVATIONS`.
    """

    channels: Sequence[int] = (16, 32)
    kernel_sizes: Sequence[int] = (3, 3)
    strides: Sequence[int] = (1, 1)
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim < 3:
            raise ValueError(f"the CNN torso needs observations [..., H, W, C], got {x.shape}")
        act = activation_fn(self.activation)
        lead = x.shape[:-3]
        x = x.reshape(-1, *x.shape[-3:])
        layers = zip(self.channels, self.kernel_sizes, self.strides, strict=True)
        for i, (channels, size, stride) in enumerate(layers):
            init = nn.initializers.orthogonal(math.sqrt(2.0))
            x = nn.Conv(
                channels, (size, size), (stride, stride), "SAME", kernel_init=init, name=f"Conv_{i}"
            )(x)
            x = act(x)
        return x.reshape(*lead, -1)


class Ensemble(nn.Module):
    """``num`` independently initialised copies of an MLP evaluated on the same input.

    Output has a leading ensemble axis (used by twin critics and ensembles of Q-functions).
    """

    num: int
    hidden_sizes: Sequence[int]
    output_dim: int = 1
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        vmapped = nn.vmap(
            MLP,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num,
        )
        return vmapped(self.hidden_sizes, self.output_dim, self.activation, self.layer_norm)(x)


def ema(online: Any, target: Any, tau: jax.Array) -> Any:
    """Target-network update ``target <- tau online + (1 - tau) target``, leaf by leaf (TD3,
    FB, DQC's targets)."""
    return jax.tree.map(lambda o, t: tau * o + (1.0 - tau) * t, online, target)


# --- distributions ---------------------------------------------------------------------------


class DiagGaussian(struct.PyTreeNode):
    """Diagonal Gaussian over the last axis."""

    mean: jax.Array
    log_std: jax.Array

    def sample(self, key: PRNGKey) -> jax.Array:
        return self.mean + jnp.exp(self.log_std) * jax.random.normal(key, self.mean.shape)

    def log_prob(self, x: jax.Array) -> jax.Array:
        z = (x - self.mean) * jnp.exp(-self.log_std)
        return jnp.sum(-0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi), axis=-1)

    def entropy(self) -> jax.Array:
        return jnp.sum(self.log_std + 0.5 * math.log(2 * math.pi * math.e), axis=-1)

    def mode(self) -> jax.Array:
        return self.mean

    def kl(self, other: DiagGaussian) -> jax.Array:
        """KL(self || other), summed over action dimensions."""
        var, ovar = jnp.exp(2 * self.log_std), jnp.exp(2 * other.log_std)
        return jnp.sum(
            other.log_std - self.log_std + (var + (self.mean - other.mean) ** 2) / (2 * ovar) - 0.5,
            axis=-1,
        )


def tanh_log_det_jacobian(raw: jax.Array) -> jax.Array:
    """``log(d tanh(u) / du) = log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2 u))``,
    elementwise, in the form that stays finite far in the tails."""
    return 2.0 * (math.log(2.0) - raw - jax.nn.softplus(-2.0 * raw))


class TanhGaussian(DiagGaussian):
    """Gaussian squashed by tanh. ``sample``/``log_prob`` work on the *pre-tanh* variable (the raw
    action agents store); :meth:`squash` maps it to [-1, 1]. ``log_prob`` includes the change of
    variables, so it is the density of the squashed action.

    ``entropy`` is the base Gaussian's (closed form; the squashed entropy has none).
    :meth:`sampled_entropy` is Brax's estimate of the squashed entropy: the base entropy plus the
    tanh log-det-Jacobian at one reparameterised sample (repo google/brax,
    brax/training/distribution.py, ``ParametricDistribution.entropy`` ~83-92, used by Brax's PPO
    loss)."""

    def log_prob(self, raw: jax.Array) -> jax.Array:
        return super().log_prob(raw) - jnp.sum(tanh_log_det_jacobian(raw), axis=-1)

    def sampled_entropy(self, key: PRNGKey) -> jax.Array:
        """One-sample unbiased estimate of the entropy of ``tanh(u)``:
        ``H[u] + sum_i log(1 - tanh(u_i)^2)`` at ``u = sample(key)`` (since ``H[tanh u] = H[u] +
        E[log |det d tanh / du|]``). Gradients flow through the sample (``mean + std * noise``)
        into both the mean and the log-std, as in Brax."""
        return self.entropy() + jnp.sum(tanh_log_det_jacobian(self.sample(key)), axis=-1)

    @staticmethod
    def squash(raw: jax.Array) -> jax.Array:
        return jnp.tanh(raw)


class Categorical(struct.PyTreeNode):
    """Categorical distribution from unnormalised logits over the last axis."""

    logits: jax.Array

    def sample(self, key: PRNGKey) -> jax.Array:
        return jax.random.categorical(key, self.logits).astype(jnp.int32)

    def log_prob(self, x: jax.Array) -> jax.Array:
        logp = jax.nn.log_softmax(self.logits)
        return jnp.take_along_axis(logp, x[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self) -> jax.Array:
        logp = jax.nn.log_softmax(self.logits)
        return -jnp.sum(jnp.exp(logp) * logp, axis=-1)

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)

    def kl(self, other: Categorical) -> jax.Array:
        logp, logq = jax.nn.log_softmax(self.logits), jax.nn.log_softmax(other.logits)
        return jnp.sum(jnp.exp(logp) * (logp - logq), axis=-1)


Distribution = DiagGaussian | TanhGaussian | Categorical

PolicyHead = Literal["gaussian", "tanh_gaussian"]
"""Continuous-action heads of :class:`PolicyNetwork`."""

POLICY_HEADS = get_args(PolicyHead)

MeanActivation = Literal["linear", "tanh"]
"""What the Gaussian mean is: the policy MLP's (linear) output, or ``tanh`` of it (PROPS's
official actor, whose ``actor_mean`` ends in ``nn.Tanh()``: repo NicholasCorrado/PPOROS,
PROPS/utils.py ~189-196). The head (clip or tanh of the sample) is applied after."""

MEAN_ACTIVATIONS = get_args(MeanActivation)

TanhEntropy = Literal["base", "sampled"]
"""The entropy a ``tanh_gaussian`` head reports to the loss: ``"base"``, the pre-tanh Gaussian's
(closed form, :meth:`TanhGaussian.entropy`), or ``"sampled"``, Brax's one-sample estimate of the
squashed entropy (:meth:`TanhGaussian.sampled_entropy`)."""

MLP_NAME = "MLP_0"
"""Name of the MLP inside :class:`PolicyNetwork` and :class:`ValueNetwork`."""


class PolicyNetwork(nn.Module):
    """Stochastic policy: an optional observation torso, an MLP and a distribution head.

    Continuous actions use a Gaussian whose log-std is a learned, state-independent vector (the
    PPO convention) with ``head="gaussian"`` (the env action is the sample clipped to [-1, 1]) or
    ``head="tanh_gaussian"`` (the env action is ``tanh`` of the sample). Discrete actions use a
    categorical head. ``torso`` (a module mapping observations to feature vectors, e.g.
    :class:`CNN`; its parameters are named ``torso``) runs before the MLP; ``None`` feeds the
    observation vector to the MLP directly. ``mean_activation="tanh"`` (a name in
    :data:`MEAN_ACTIVATIONS`) squashes a continuous head's Gaussian mean into (-1, 1); it adds
    no parameters.
    """

    action_dim: int
    discrete: bool
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    layer_norm: bool = False
    head: str = "gaussian"
    init_log_std: float = 0.0
    torso: nn.Module | None = None
    mean_activation: str = "linear"

    @nn.compact
    def __call__(self, obs: jax.Array) -> Distribution:
        x = obs if self.torso is None else self.torso(obs)
        out = MLP(
            self.hidden_sizes,
            self.action_dim,
            self.activation,
            self.layer_norm,
            output_scale=0.01,
            name=MLP_NAME,
        )(x)
        if self.discrete:
            return Categorical(logits=out)
        log_std = self.param(
            "log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,)
        )
        log_std = jnp.broadcast_to(log_std, out.shape)
        if self.mean_activation == "tanh":
            out = jnp.tanh(out)
        elif self.mean_activation != "linear":
            raise ValueError(
                f"mean activation must be one of {MEAN_ACTIVATIONS}, got {self.mean_activation!r}"
            )
        if self.head == "tanh_gaussian":
            return TanhGaussian(mean=out, log_std=log_std)
        if self.head == "gaussian":
            return DiagGaussian(mean=out, log_std=log_std)
        raise ValueError(f"policy head must be one of {POLICY_HEADS}, got {self.head!r}")


class ValueNetwork(nn.Module):
    """State-value function V(s): an optional observation torso (as in :class:`PolicyNetwork`)
    and an MLP with a scalar output (``kernel_init``: a name in :data:`KERNEL_INITS`)."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    layer_norm: bool = False
    torso: nn.Module | None = None
    kernel_init: str = "orthogonal"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = obs if self.torso is None else self.torso(obs)
        mlp = MLP(
            self.hidden_sizes,
            1,
            self.activation,
            self.layer_norm,
            1.0,
            kernel_init=self.kernel_init,
            name=MLP_NAME,
        )
        return mlp(x)[..., 0]


def output_layer_path(policy: PolicyNetwork) -> tuple[str, ...]:
    """Path of ``policy``'s output Dense layer in its variables (``kernel`` and ``bias`` below
    it): ``("params", MLP_NAME, dense_name(len(hidden_sizes)))``."""
    return ("params", MLP_NAME, dense_name(len(policy.hidden_sizes)))


def stop_feature_gradients(policy: PolicyNetwork, variables: Any) -> Any:
    """``variables`` of ``policy`` with ``stop_gradient`` on every weight kernel except the
    output layer's: the torso's and the MLP's hidden layers' kernels (the features) are frozen;
    biases, LayerNorm parameters, the output layer and the log-std still train."""
    output = (*output_layer_path(policy), "kernel")

    def freeze(path: tuple[Any, ...], x: jax.Array) -> jax.Array:
        keys = tuple(getattr(k, "key", k) for k in path)
        return jax.lax.stop_gradient(x) if keys[-1] == "kernel" and keys != output else x

    return jax.tree_util.tree_map_with_path(freeze, variables)


# --- the actor-critic factory ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """What :func:`actor_critic` builds (hashable, so it can sit in a static config)."""

    policy_hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden widths of the policy MLP."""
    value_hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden widths of the value MLP."""
    activation: Activation = "tanh"
    """Activation of the MLPs' hidden layers and of the CNN torso (a name in ACTIVATIONS)."""
    layer_norm: bool = False
    """LayerNorm after each hidden Dense of the MLPs."""
    policy_head: PolicyHead = "gaussian"
    """Continuous-action head (POLICY_HEADS); discrete action spaces use a categorical head."""
    mean_activation: MeanActivation = "linear"
    """Continuous heads: the Gaussian mean is the policy MLP's output ("linear") or its tanh."""
    value_activation: Activation | None = None
    """Activation of the value MLP's hidden layers; None: ``activation``."""
    value_kernel_init: KernelInit = "orthogonal"
    """Initialiser of every value MLP layer (KERNEL_INITS)."""
    torso: str = "mlp"
    """Key of TORSOS: the observation torso before each MLP ("mlp": none). Typed ``str``, not
    :data:`Torso`: any name registered in TORSOS is valid, which :meth:`validate` checks."""
    cnn_channels: tuple[int, ...] = (16, 32)
    """``torso="cnn"``: output channels per convolution."""
    cnn_kernel_sizes: tuple[int, ...] = (3, 3)
    """``torso="cnn"``: square kernel side per convolution."""
    cnn_strides: tuple[int, ...] = (1, 1)
    """``torso="cnn"``: stride per convolution."""

    def validate(self) -> None:
        """Raise a ValueError naming the field for an unknown name, empty or non-positive layer
        widths, or mismatched CNN layers."""
        for name, valid in (
            ("activation", tuple(ACTIVATIONS)),
            ("policy_head", POLICY_HEADS),
            ("torso", tuple(TORSOS)),
            ("mean_activation", MEAN_ACTIVATIONS),
            ("value_activation", (*ACTIVATIONS, None)),
            ("value_kernel_init", KERNEL_INITS),
        ):
            if getattr(self, name) not in valid:
                raise ValueError(
                    f"Config.{name} must be one of {valid}, got {getattr(self, name)!r}"
                )
        check_sizes(self, ("policy_hidden_sizes", "value_hidden_sizes"))
        cnn = ("cnn_channels", "cnn_kernel_sizes", "cnn_strides")
        check_sizes(self, cnn, allow_empty=self.torso != "cnn")
        if self.torso == "cnn":
            lengths = {len(self.cnn_channels), len(self.cnn_kernel_sizes), len(self.cnn_strides)}
            if len(lengths) != 1:
                raise ValueError(
                    "Config.cnn_channels, cnn_kernel_sizes and cnn_strides need one entry per "
                    f"convolution, got {self.cnn_channels}, {self.cnn_kernel_sizes}, "
                    f"{self.cnn_strides}"
                )


Torso = Literal["mlp", "cnn"]
"""The built-in torsos (keys of :data:`TORSOS`). Agents annotate their ``torso`` field with it,
so tyro offers these names on the command line; from Python any key of :data:`TORSOS` is valid
(``Config.validate`` checks the registry, not this list)."""

TORSOS: dict[str, Callable[[NetworkConfig], nn.Module | None]] = {
    "mlp": lambda net: None,
    "cnn": lambda net: CNN(net.cnn_channels, net.cnn_kernel_sizes, net.cnn_strides, net.activation),
}
"""Torso factories by name: ``TORSOS[name](network_config)`` returns a fresh torso module
(``None``: no torso). Register another encoder here (``TORSOS["resnet"] = make_resnet``) and
select it with an agent's ``torso="resnet"``; no agent file changes."""


def actor_critic(spec: EnvSpec, net: NetworkConfig) -> tuple[PolicyNetwork, ValueNetwork]:
    """Policy and value modules for ``spec``'s observation and action spaces, each with its own
    torso (no shared parameters). The default ``NetworkConfig`` gives PPO's 64 x 64 tanh MLPs.
    The value MLP has its own widths, activation and initialiser (its torso uses
    ``activation``)."""
    policy = PolicyNetwork(
        action_dim=spec.action_dim,
        discrete=spec.discrete,
        hidden_sizes=net.policy_hidden_sizes,
        activation=net.activation,
        layer_norm=net.layer_norm,
        head=net.policy_head,
        torso=TORSOS[net.torso](net),
        mean_activation=net.mean_activation,
    )
    value = ValueNetwork(
        net.value_hidden_sizes,
        net.activation if net.value_activation is None else net.value_activation,
        net.layer_norm,
        torso=TORSOS[net.torso](net),
        kernel_init=net.value_kernel_init,
    )
    return policy, value


def env_action(dist: Distribution, raw_action: jax.Array, spec: EnvSpec) -> jax.Array:
    """Map a raw policy sample to the env's action space.

    Discrete: the index. Continuous: tanh (TanhGaussian) or a clip to [-1, 1] (Gaussian), then an
    affine map onto the env's ``Box`` bounds.
    """
    space = spec.action_space
    if not isinstance(space, Box):
        return raw_action
    unit = TanhGaussian.squash(raw_action) if isinstance(dist, TanhGaussian) else raw_action
    unit = jnp.clip(unit, -1.0, 1.0)
    low, high = space.low_array, space.high_array
    return (low + (unit + 1.0) * 0.5 * (high - low)).reshape(unit.shape[:-1] + space.shape)
