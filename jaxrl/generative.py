"""Conditional generative decoders: flow matching and DDPM/DDIM (loss + deterministic sampler).

Shared by GoRL (decoder g_phi(s, eps)), DQC (flow-BC actor), BREEZE (diffusion actor) and TD-JEPA
(flow-BC vector field). Everything here is a pure function of arrays and params, jittable and
vmappable; the only module is :class:`ConditionalVelocityNet`, used through ``init``/``apply``.
:func:`fit_with_early_stopping` trains a fresh model on a fixed set of pairs (GoRL's decoder
between stages).

**Network convention.** Every loss and sampler takes ``apply_fn(params, cond, x, t) -> out`` with
``cond: (*batch, cond_dim)``, ``x: (*batch, dim)`` and ``t: (*batch,)`` (a float per row: flow
time in [0, 1], or ``t_index / T`` for diffusion, see :func:`diffusion_time`). ``out`` has ``x``'s
shape: a velocity (flow) or a noise prediction (diffusion). ``ConditionalVelocityNet(...).apply``
is such a function, with ``params`` the variables dict returned by ``init``.

**Flow convention (GoRL, repo bennidict23/GoRL, src/flow_policy/decoder_fm.py).** t = 1 is noise,
t = 0 is data, on the linear path

    x_t = t * eps + (1 - t) * a,        u = dx_t/dt = eps - a,

and sampling integrates dx/dt = v(s, x, t) *backwards* from t = 1 to t = 0 with Euler steps.

**DQC / rectified-flow convention** (x'_t' = (1 - t') x0 + t' x1, x0 noise, x1 data, integrate
t' = 0 -> 1 with v' = x1 - x0) is the same path under t = 1 - t', eps = x0, a = x1, and the
velocities are related by v'(s, x, t') = -v(s, x, 1 - t'). A DQC Euler step at t' = i/N,
x <- x + (1/N) v'(x, i/N), is exactly our step i: x <- x - (1/N) v(x, 1 - i/N). So DQC can use
:func:`flow_matching_loss` and :func:`flow_sample` unchanged: it only learns -v' reparametrised
by t = 1 - t' (an affine change of the raw-time input, so the function class is the same), and
the samples are identical in distribution.

**Diffusion convention (GoRL, src/flow_policy/decoder_diffusion.py).** T discrete steps with
indices 0..T-1, ``x_t = sqrt(ab_t) a + sqrt(1 - ab_t) eps``, epsilon-prediction MSE, and a
deterministic DDIM (eta = 0) sampler over T - 1 steps t = T-1 -> 0 starting at ``x_{T-1} = start``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.networks import activation_fn
from jaxrl.types import PRNGKey

ApplyFn = Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array]
"""``apply_fn(params, cond, x, t) -> out`` with ``out.shape == x.shape`` (see module docstring)."""


# --- time embedding and network ---------------------------------------------------------------


def sinusoidal_embedding(t: jax.Array, num_freqs: int = 4) -> jax.Array:
    """Fourier features of a scalar time, GoRL's ``embed_timestep``.

    Layout (all cosines first, then all sines, frequencies increasing)::

        emb(t) = [cos(t*2^0), ..., cos(t*2^(K-1)), sin(t*2^0), ..., sin(t*2^(K-1))],  K = num_freqs

    Args:
        t: times of any shape ``(*batch,)``.
        num_freqs: K; the embedding has 2K entries (GoRL: K = 4, 8 dims).

    Returns:
        ``(*batch, 2 * num_freqs)``.
    """
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(jnp.float32)
    scaled = t[..., None] * (2.0 ** jnp.arange(num_freqs, dtype=t.dtype))
    return jnp.concatenate([jnp.cos(scaled), jnp.sin(scaled)], axis=-1)


class ConditionalVelocityNet(nn.Module):
    """MLP ``f(cond, x, t)`` over ``concat[cond, x, emb(t)]`` (GoRL's decoder: 4 x 64 SiLU).

    Output is a velocity (flow matching) or a noise prediction (diffusion); ``cond`` and ``t`` are
    broadcast to ``x``'s batch shape, so ``t`` may be a scalar.

    Attributes:
        output_dim: width of the output (the action / chunk dimension).
        hidden_sizes: hidden widths (GoRL: (64, 64, 64, 64); DQC: (1024,) * 4).
        activation: name in :data:`jaxrl.networks.ACTIVATIONS` (GoRL "silu", DQC "gelu").
        num_freqs: K of :func:`sinusoidal_embedding` (ignored with ``raw_time``).
        raw_time: feed ``t`` as one raw scalar instead of the embedding (DQC's actor).
        layer_norm: LayerNorm *after* each activation (DQC's order Dense -> act -> LN; note this is
            not :class:`jaxrl.networks.MLP`'s LN-before-activation, which is why that MLP is not
            reused here; neither is its orthogonal init).
        zero_init: every weight and bias starts at zero, so the output is 0 for all inputs: GoRL's
            stage-0 identity decoder (the flow sampler then returns its start point exactly).
            With ``layer_norm`` the LN scales keep their init of 1; the output is still 0.
        kernel_init: Dense kernel initialiser otherwise (GoRL: lecun_uniform, zero biases; DQC's
            variance_scaling(1, fan_avg, uniform) is ``nn.initializers.xavier_uniform()``).
    """

    output_dim: int
    hidden_sizes: Sequence[int] = (64, 64, 64, 64)
    activation: str = "silu"
    num_freqs: int = 4
    raw_time: bool = False
    layer_norm: bool = False
    zero_init: bool = False
    kernel_init: Callable[..., jax.Array] = nn.initializers.lecun_uniform()

    @nn.compact
    def __call__(self, cond: jax.Array, x: jax.Array, t: jax.Array) -> jax.Array:
        batch = x.shape[:-1]
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), batch)
        cond = jnp.broadcast_to(cond, batch + cond.shape[-1:])
        t_feat = t[..., None] if self.raw_time else sinusoidal_embedding(t, self.num_freqs)
        h = jnp.concatenate([cond, x, t_feat], axis=-1)
        k_init = nn.initializers.zeros if self.zero_init else self.kernel_init
        act = activation_fn(self.activation)
        for width in self.hidden_sizes:
            h = act(nn.Dense(width, kernel_init=k_init, bias_init=nn.initializers.zeros)(h))
            if self.layer_norm:
                h = nn.LayerNorm()(h)
        return nn.Dense(self.output_dim, kernel_init=k_init, bias_init=nn.initializers.zeros)(h)


def init_net(net: ConditionalVelocityNet, key: PRNGKey, cond_dim: int) -> Any:
    """Variables dict of ``net`` for conditions of width ``cond_dim`` (``net.apply`` is the
    ``apply_fn`` of every function below)."""
    return net.init(key, jnp.zeros((1, cond_dim)), jnp.zeros((1, net.output_dim)), jnp.zeros((1,)))


# --- flow matching ----------------------------------------------------------------------------


def flow_matching_loss_at(
    apply_fn: ApplyFn,
    params: Any,
    cond: jax.Array,
    actions: jax.Array,
    t: jax.Array,
    eps: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Conditional flow-matching loss at given times and noises (GoRL ``compute_cfm_loss``).

        x_t = t * eps + (1 - t) * a,   u = eps - a,
        L = mean_{batch, samples, dims} (v(s, x_t, t) - u)^2

    Args:
        apply_fn, params: the velocity net (module docstring).
        cond: ``(*batch, cond_dim)``.
        actions: data ``a``, ``(*batch, dim)``.
        t: ``(*batch, S)`` times in [0, 1], S samples per action.
        eps: ``(*batch, S, dim)`` noise.

    Returns:
        ``(loss, info)``; info has ``loss``, ``prediction_sq`` (mean v^2) and ``target_sq``
        (mean u^2).
    """
    a = actions[..., None, :]
    x_t = t[..., None] * eps + (1.0 - t[..., None]) * a
    target = eps - a
    v = apply_fn(params, cond[..., None, :], x_t, t)
    loss = jnp.mean((v - target) ** 2)
    info = {
        "loss": loss,
        "prediction_sq": jnp.mean(v**2),
        "target_sq": jnp.mean(target**2),
    }
    return loss, info


def flow_matching_loss(
    apply_fn: ApplyFn,
    params: Any,
    cond: jax.Array,
    actions: jax.Array,
    key: PRNGKey,
    num_samples: int = 8,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """:func:`flow_matching_loss_at` with ``num_samples`` fresh pairs per action,
    t ~ U[0, 1] and eps ~ N(0, I) (GoRL: 8 pairs; the prior is always N(0, I), never the
    encoder's z). The draws are ``t = uniform(k_t, (*batch, S))`` and
    ``eps = normal(k_eps, (*batch, S, dim))`` with ``k_t, k_eps = split(key)``."""
    k_t, k_eps = jax.random.split(key)
    batch = actions.shape[:-1]
    t = jax.random.uniform(k_t, (*batch, num_samples), dtype=actions.dtype)
    eps = jax.random.normal(k_eps, (*batch, num_samples, actions.shape[-1]), dtype=actions.dtype)
    return flow_matching_loss_at(apply_fn, params, cond, actions, t, eps)


def flow_sample(
    apply_fn: ApplyFn,
    params: Any,
    cond: jax.Array,
    start: jax.Array,
    num_steps: int = 10,
) -> jax.Array:
    """Deterministic Euler integration of dx/dt = v(s, x, t) from t = 1 (``start``) to t = 0.

        x_0 = start;  for i = 0..N-1:  t_i = 1 - i/N,  x <- x + dt * v(s, x, t_i),  dt = -1/N

    GoRL starts at the encoder's latent z (``sample_action_from_z``, sde_sigma = 0); with a zero
    network (``zero_init``) the result is ``start`` exactly. ``num_steps`` is static.

    Args:
        cond: ``(*batch, cond_dim)``; start: ``(*batch, dim)``.

    Returns:
        actions ``(*batch, dim)`` (pre-squash: GoRL applies tanh only when stepping the env).
    """
    dt = -1.0 / num_steps
    batch = start.shape[:-1]

    def step(x: jax.Array, i: jax.Array) -> tuple[jax.Array, None]:
        t = jnp.full(batch, 1.0 - i / num_steps, dtype=x.dtype)
        return x + dt * apply_fn(params, cond, x, t), None

    x, _ = jax.lax.scan(step, start, jnp.arange(num_steps, dtype=start.dtype))
    return x


def flow_sample_noise(
    apply_fn: ApplyFn,
    params: Any,
    cond: jax.Array,
    key: PRNGKey,
    shape: Sequence[int],
    num_steps: int = 10,
) -> jax.Array:
    """:func:`flow_sample` from fresh noise ``start = normal(key, shape)`` (``shape`` =
    ``(*batch, dim)``; DQC/TD-JEPA acting, GoRL's ``sample_action``)."""
    start = jax.random.normal(key, tuple(shape))
    return flow_sample(apply_fn, params, cond, start, num_steps)


# --- diffusion (DDPM training, DDIM sampling) -------------------------------------------------


class DiffusionSchedule(struct.PyTreeNode):
    """Discrete noise schedule over indices t = 0..T-1 (``num_steps`` = T is static).

    ``alpha_bars`` is the source of truth: the loss and the sampler use only it. ``betas`` and
    ``alphas`` are kept for stochastic (DDPM ancestral) samplers and for inspection.
    """

    betas: jax.Array
    alphas: jax.Array
    alpha_bars: jax.Array
    num_steps: int = struct.field(pytree_node=False)

    @classmethod
    def linear(
        cls, num_steps: int = 10, beta_start: float = 1e-4, beta_end: float = 0.02
    ) -> DiffusionSchedule:
        """DDPM linear schedule: ``betas = linspace(beta_start, beta_end, T)``,
        ``alphas = 1 - betas``, ``alpha_bars = cumprod(alphas)`` (so alpha_bar[0] = 1 - beta_start).
        GoRL's identity (zero-network) diffusion decoder uses it: DDIM then maps z to
        z / sqrt(alpha_bar[T-1]) (T = 10: alpha_bar[9] = 0.9039, a factor 1.0518)."""
        betas = jnp.linspace(beta_start, beta_end, num_steps, dtype=jnp.float32)
        alphas = 1.0 - betas
        return cls(
            betas=betas,
            alphas=alphas,
            alpha_bars=jnp.cumprod(alphas),
            num_steps=num_steps,
        )

    @classmethod
    def cosine(cls, num_steps: int = 10, s: float = 0.008) -> DiffusionSchedule:
        """Improved-DDPM cosine schedule, indexed exactly as GoRL's ``get_beta_schedule``::

            f(u) = cos((u + s) / (1 + s) * pi / 2)^2,   u_k = k / T,  k = 0..T
            alpha_bar[t] = f(u_t) / f(u_0)              for t = 0..T-1  (the k = T entry is dropped)

        so alpha_bar[0] = 1 exactly (x_0 is clean data) and alpha_bar[T-1] = f((T-1)/T) / f(0)
        (T = 10: 0.02410). ``alphas[t] = alpha_bar[t] / alpha_bar[t-1]`` (alpha_bar[-1] := 1, so
        ``cumprod(alphas) == alpha_bars``) and ``betas = clip(1 - alphas, 1e-4, 0.9999)``, as in
        GoRL (hence beta[0] = 1e-4 although alpha[0] = 1; betas are informational only).
        """
        u = jnp.arange(num_steps + 1, dtype=jnp.float32) / num_steps
        f = jnp.cos((u + s) / (1.0 + s) * (math.pi / 2.0)) ** 2
        alpha_bars = (f / f[0])[:-1]
        prev = jnp.concatenate([jnp.ones((1,), jnp.float32), alpha_bars[:-1]])
        alphas = alpha_bars / prev
        betas = jnp.clip(1.0 - alphas, 1e-4, 0.9999)
        return cls(betas=betas, alphas=alphas, alpha_bars=alpha_bars, num_steps=num_steps)

    @classmethod
    def vp(
        cls, num_steps: int = 5, beta_min: float = 0.1, beta_max: float = 10.0
    ) -> DiffusionSchedule:
        """The discretised variance-preserving SDE of IDQL (``vp_beta_schedule``), BREEZE's::

            alphas[t] = exp(-beta_min / T - (beta_max - beta_min) (2 (t + 1) - 1) / (2 T^2)),
            betas = 1 - alphas,  alpha_bars = cumprod(alphas),   t = 0..T-1

        so ``alpha_bars[T-1] = exp(-(beta_min + beta_max) / 2)`` whatever T (0.0064 for the
        defaults): the last index is nearly pure noise, as ancestral sampling from N(0, I)
        assumes (:func:`ddpm_sample`)."""
        t = jnp.arange(1, num_steps + 1, dtype=jnp.float32)
        alphas = jnp.exp(
            -beta_min / num_steps - 0.5 * (beta_max - beta_min) * (2 * t - 1) / num_steps**2
        )
        return cls(
            betas=1.0 - alphas, alphas=alphas, alpha_bars=jnp.cumprod(alphas), num_steps=num_steps
        )


def diffusion_time(t_index: jax.Array, num_steps: int) -> jax.Array:
    """The float time the network sees for diffusion index ``t_index``: ``t_index / T`` in
    [0, (T-1)/T] (GoRL divides by ``diffusion_steps`` inside its embedding; with
    ``raw_time`` the same scalar is fed directly)."""
    return jnp.asarray(t_index, jnp.float32) / num_steps


def ddpm_prediction_at(
    apply_fn: ApplyFn,
    params: Any,
    schedule: DiffusionSchedule,
    cond: jax.Array,
    actions: jax.Array,
    t_index: jax.Array,
    eps: jax.Array,
) -> jax.Array:
    """The network's noise prediction ``eps_hat(s, x_t, t_index / T)`` at the noised actions
    ``x_t = sqrt(ab_t) a + sqrt(1 - ab_t) eps`` (shapes as :func:`ddpm_loss_at`): the piece a
    weighted loss (BREEZE's advantage-weighted denoising) reduces its own way."""
    ab = schedule.alpha_bars[t_index][..., None]
    x_t = jnp.sqrt(ab) * actions[..., None, :] + jnp.sqrt(1.0 - ab) * eps
    return apply_fn(params, cond[..., None, :], x_t, diffusion_time(t_index, schedule.num_steps))


def ddpm_loss_at(
    apply_fn: ApplyFn,
    params: Any,
    schedule: DiffusionSchedule,
    cond: jax.Array,
    actions: jax.Array,
    t_index: jax.Array,
    eps: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """DDPM epsilon-prediction loss at given indices and noises (GoRL ``compute_ddpm_loss``).

        x_t = sqrt(ab_t) * a + sqrt(1 - ab_t) * eps,
        L = mean_{batch, samples, dims} (eps_hat(s, x_t, t_index / T) - eps)^2

    With the cosine schedule ab_0 = 1, so index-0 samples carry no information about eps (an
    irreducible loss of 1 per dim there, as in GoRL; the DDIM sampler never queries t = 0).

    Args:
        t_index: ``(*batch, S)`` integers in 0..T-1.
        eps: ``(*batch, S, dim)``.

    Returns:
        ``(loss, info)`` with ``loss`` and ``prediction_sq`` (mean eps_hat^2).
    """
    eps_hat = ddpm_prediction_at(apply_fn, params, schedule, cond, actions, t_index, eps)
    loss = jnp.mean((eps_hat - eps) ** 2)
    return loss, {"loss": loss, "prediction_sq": jnp.mean(eps_hat**2)}


def ddpm_loss(
    apply_fn: ApplyFn,
    params: Any,
    schedule: DiffusionSchedule,
    cond: jax.Array,
    actions: jax.Array,
    key: PRNGKey,
    num_samples: int = 8,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """:func:`ddpm_loss_at` with ``num_samples`` fresh draws per action,
    ``t_index ~ U{0..T-1}`` (``randint(k_t, (*batch, S), 0, T)``) and
    ``eps = normal(k_eps, (*batch, S, dim))`` with ``k_t, k_eps = split(key)``."""
    k_t, k_eps = jax.random.split(key)
    batch = actions.shape[:-1]
    t_index = jax.random.randint(k_t, (*batch, num_samples), 0, schedule.num_steps)
    eps = jax.random.normal(k_eps, (*batch, num_samples, actions.shape[-1]), dtype=actions.dtype)
    return ddpm_loss_at(apply_fn, params, schedule, cond, actions, t_index, eps)


def ddim_sample(
    apply_fn: ApplyFn,
    params: Any,
    schedule: DiffusionSchedule,
    cond: jax.Array,
    start: jax.Array,
) -> jax.Array:
    """Deterministic DDIM (eta = 0) from ``x_{T-1} = start`` down to x_0, GoRL's schedule:
    T - 1 steps with t = T-1, ..., 1 and next index t - 1, where the last step (to index 0) uses
    ab_next = 1 (clean data) instead of alpha_bar[0]::

        eps_hat = f(s, x_t, t / T)
        x0_hat  = (x_t - sqrt(1 - ab_t) * eps_hat) / sqrt(ab_t)
        x_{t-1} = sqrt(ab_next) * x0_hat + sqrt(1 - ab_next) * eps_hat

    With a zero network every step multiplies x by sqrt(ab_next / ab_t); the product telescopes
    to the documented scaling ``start / sqrt(alpha_bar[T-1])``: 1.0518 * start for the linear
    schedule (GoRL's identity decoder, "about 1.05 z"), 6.44 * start for cosine with T = 10.

    Args:
        cond: ``(*batch, cond_dim)``; start: ``(*batch, dim)``.

    Returns:
        actions ``(*batch, dim)``.
    """
    T = schedule.num_steps
    batch = start.shape[:-1]
    t_cur = jnp.arange(T - 1, 0, -1)  # T-1, ..., 1
    ab = schedule.alpha_bars
    ab_cur = ab[t_cur]
    ab_next = jnp.where(t_cur - 1 == 0, 1.0, ab[t_cur - 1])

    def step(x: jax.Array, inputs: tuple[jax.Array, ...]) -> tuple[jax.Array, None]:
        t, a_t, a_next = inputs
        time = jnp.broadcast_to(diffusion_time(t, T), batch).astype(x.dtype)
        eps_hat = apply_fn(params, cond, x, time)
        x0_hat = (x - jnp.sqrt(1.0 - a_t) * eps_hat) / jnp.sqrt(a_t)
        return jnp.sqrt(a_next) * x0_hat + jnp.sqrt(1.0 - a_next) * eps_hat, None

    x, _ = jax.lax.scan(step, start, (t_cur, ab_cur, ab_next))
    return x


def ddim_sample_noise(
    apply_fn: ApplyFn,
    params: Any,
    schedule: DiffusionSchedule,
    cond: jax.Array,
    key: PRNGKey,
    shape: Sequence[int],
) -> jax.Array:
    """:func:`ddim_sample` from fresh noise ``start = normal(key, shape)``."""
    return ddim_sample(apply_fn, params, schedule, cond, jax.random.normal(key, tuple(shape)))


def ddpm_sample(
    apply_fn: ApplyFn,
    params: Any,
    schedule: DiffusionSchedule,
    cond: jax.Array,
    key: PRNGKey,
    shape: Sequence[int],
) -> jax.Array:
    """Ancestral DDPM sampling (Ho et al. 2020, Algorithm 2; IDQL's ``ddpm_sampler`` with
    temperature 1): ``x_{T-1} ~ N(0, I)``, then for t = T-1, ..., 0::

        x <- (x - (1 - alpha_t) / sqrt(1 - ab_t) * eps_hat(s, x, t / T)) / sqrt(alpha_t)
             + [t > 0] sqrt(beta_t) * noise

    No clipping inside the chain (the caller clips the result to its action box).

    Args:
        cond: ``(*batch, cond_dim)``; shape: ``(*batch, dim)``.

    Returns:
        samples of ``shape``.
    """
    T = schedule.num_steps
    k_start, k_noise = jax.random.split(key)
    batch = tuple(shape)[:-1]
    noises = jax.random.normal(k_noise, (T, *shape))
    t_all = jnp.arange(T - 1, -1, -1)

    def step(x: jax.Array, inputs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
        t, noise = inputs
        time = jnp.broadcast_to(diffusion_time(t, T), batch).astype(x.dtype)
        eps_hat = apply_fn(params, cond, x, time)
        alpha, ab = schedule.alphas[t], schedule.alpha_bars[t]
        x = (x - (1.0 - alpha) / jnp.sqrt(1.0 - ab) * eps_hat) / jnp.sqrt(alpha)
        return x + jnp.where(t > 0, jnp.sqrt(schedule.betas[t]), 0.0) * noise, None

    x, _ = jax.lax.scan(step, jax.random.normal(k_start, tuple(shape)), (t_all, noises[t_all]))
    return x


# --- fitting a fresh model with early stopping ------------------------------------------------

LossFn = Callable[[Any, jax.Array, jax.Array, PRNGKey], jax.Array]
"""``loss_fn(params, cond, x, key) -> scalar`` on a batch of pairs (e.g. :func:`ddpm_loss` or
:func:`flow_matching_loss` of a net, without the info)."""


class _Fit(NamedTuple):
    """The carry of :func:`fit_with_early_stopping`'s epoch loop."""

    params: Any
    opt_state: Any
    best: Any  # parameters with the best validation loss so far
    best_val: jax.Array
    best_epoch: jax.Array  # -1 until an epoch improves on inf
    since: jax.Array  # epochs since the last improvement
    epoch: jax.Array


def _early_stopping_epoch(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    train: tuple[jax.Array, jax.Array],
    val: tuple[jax.Array, jax.Array, PRNGKey],
    batch: int,
    num_batches: int,
    patience: int,
) -> Callable[[_Fit, PRNGKey], tuple[_Fit, tuple[jax.Array, jax.Array]]]:
    """``epoch(fit, key) -> (fit, (mean train loss, val loss))`` of
    :func:`fit_with_early_stopping` on ``train = (cond, x)`` and ``val = (cond, x, key)``."""
    (c_tr, x_tr), (c_val, x_val, k_val) = train, val
    n_train = x_tr.shape[0]

    def minibatch_step(carry, inputs):
        p, o = carry
        ids, k = inputs
        loss, grads = jax.value_and_grad(loss_fn)(p, c_tr[ids], x_tr[ids], k)
        updates, o = optimizer.update(grads, o, p)
        return (optax.apply_updates(p, updates), o), loss

    def epoch(fit: _Fit, k: PRNGKey) -> tuple[_Fit, tuple[jax.Array, jax.Array]]:
        k_perm, k_steps = jax.random.split(k)
        idx = jax.random.permutation(k_perm, n_train)[: num_batches * batch]
        (new_p, new_o), losses = jax.lax.scan(
            minibatch_step,
            (fit.params, fit.opt_state),
            (idx.reshape(num_batches, batch), jax.random.split(k_steps, num_batches)),
        )
        stopped = fit.since >= patience
        params = jax.tree.map(lambda old, new: jnp.where(stopped, old, new), fit.params, new_p)
        opt_state = jax.tree.map(
            lambda old, new: jnp.where(stopped, old, new), fit.opt_state, new_o
        )
        val = loss_fn(params, c_val, x_val, k_val)
        better = (val < fit.best_val) & ~stopped
        fit = _Fit(
            params=params,
            opt_state=opt_state,
            best=jax.tree.map(lambda b, p: jnp.where(better, p, b), fit.best, params),
            best_val=jnp.where(better, val, fit.best_val),
            best_epoch=jnp.where(better, fit.epoch, fit.best_epoch),
            since=jnp.where(better, 0, fit.since + 1),
            epoch=fit.epoch + 1,
        )
        return fit, (jnp.mean(losses), val)

    return epoch


def fit_with_early_stopping(
    init_fn: Callable[[PRNGKey], Any],
    loss_fn: LossFn,
    cond: jax.Array,
    x: jax.Array,
    key: PRNGKey,
    *,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    epochs: int,
    patience: int,
    val_fraction: float,
) -> tuple[Any, dict[str, jax.Array]]:
    """Train a **new** model on the pairs ``(cond[i], x[i])``, with a held-out validation set and
    early stopping, in one ``lax.scan`` (jittable; sizes and counts are static).

    A random ``val_fraction`` of the pairs (at least one) is held out. Each of ``epochs`` epochs
    takes ``optimizer`` steps on shuffled minibatches of ``batch_size`` (capped at the training
    set's size; a last partial batch is left out), then computes the validation loss with one
    fixed key, so epochs are comparable. After ``patience`` epochs without a better validation
    loss the parameters freeze (the remaining epochs change nothing: the same result as stopping).
    The parameters with the best validation loss among the epochs' ends are returned, never the
    initial ones.

    Args:
        init_fn: ``key -> params`` of the fresh model.
        loss_fn: see :data:`LossFn`.
        cond: ``(N, cond_dim)`` conditions; x: ``(N, dim)`` targets.
        key: split into the validation split, the init, the validation draws and the epochs.

    Returns:
        ``(best_params, info)``; info has ``train_loss`` and ``val_loss`` per epoch,
        ``best_val_loss``, ``best_epoch`` and ``initial_val_loss``.
    """
    n = x.shape[0]
    n_train = n - max(1, int(round(n * val_fraction)))
    if n_train < 1:
        raise ValueError(f"fit_with_early_stopping needs at least 2 samples, got {n}")
    batch = min(batch_size, n_train)
    num_batches = n_train // batch
    k_split, k_init, k_val, k_epochs = jax.random.split(key, 4)
    perm = jax.random.permutation(k_split, n)
    c_tr, x_tr = cond[perm[:n_train]], x[perm[:n_train]]
    c_val, x_val = cond[perm[n_train:]], x[perm[n_train:]]
    epoch = _early_stopping_epoch(
        loss_fn, optimizer, (c_tr, x_tr), (c_val, x_val, k_val), batch, num_batches, patience
    )
    params = init_fn(k_init)
    start = _Fit(
        params=params,
        opt_state=optimizer.init(params),
        best=params,
        best_val=jnp.inf,
        best_epoch=jnp.array(-1),
        since=jnp.array(0),
        epoch=jnp.array(0),
    )
    fit, (train_losses, val_losses) = jax.lax.scan(epoch, start, jax.random.split(k_epochs, epochs))
    info = {
        "train_loss": train_losses,
        "val_loss": val_losses,
        "best_val_loss": fit.best_val,
        "best_epoch": fit.best_epoch,
        "initial_val_loss": loss_fn(params, c_val, x_val, k_val),
    }
    return fit.best, info
