"""Distributions against scipy / numerical references; network shapes, names and the
actor-critic factory."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from jaxrl import networks
from jaxrl.networks import (
    CNN,
    MLP,
    Categorical,
    DiagGaussian,
    Ensemble,
    NetworkConfig,
    PolicyNetwork,
    TanhGaussian,
    ValueNetwork,
    actor_critic,
    env_action,
    output_layer_path,
    stop_feature_gradients,
)
from jaxrl.types import Box, Discrete, EnvSpec


def test_diag_gaussian_matches_scipy():
    mean, log_std = np.array([0.3, -1.0]), np.array([-0.5, 0.2])
    x = np.array([0.1, 0.4])
    d = DiagGaussian(jnp.asarray(mean), jnp.asarray(log_std))
    ref = stats.norm(mean, np.exp(log_std))
    np.testing.assert_allclose(d.log_prob(jnp.asarray(x)), ref.logpdf(x).sum(), rtol=1e-5)
    np.testing.assert_allclose(d.entropy(), ref.entropy().sum(), rtol=1e-5)
    other = DiagGaussian(jnp.zeros(2), jnp.zeros(2))
    # KL of Gaussians, hand formula
    s1, s2 = np.exp(log_std), 1.0
    kl = np.sum(np.log(s2 / s1) + (s1**2 + mean**2) / (2 * s2**2) - 0.5)
    np.testing.assert_allclose(d.kl(other), kl, rtol=1e-5)


def test_tanh_gaussian_log_prob_is_density_of_squashed_action():
    d = TanhGaussian(jnp.array([0.2]), jnp.array([-0.3]))
    raw = jnp.array([0.7])
    a = np.tanh(0.7)
    # change of variables: p(a) = p(u) / (1 - tanh(u)^2)
    expected = stats.norm(0.2, np.exp(-0.3)).logpdf(0.7) - np.log(1 - a**2)
    np.testing.assert_allclose(d.log_prob(raw), expected, rtol=1e-5)
    # numerically stable far in the tail
    assert np.isfinite(float(d.log_prob(jnp.array([30.0]))))


def test_categorical_matches_numpy():
    logits = jnp.array([1.0, 2.0, -1.0])
    p = np.exp(logits) / np.exp(logits).sum()
    d = Categorical(logits)
    np.testing.assert_allclose(d.log_prob(jnp.array(1)), np.log(p[1]), rtol=1e-6)
    np.testing.assert_allclose(d.entropy(), -(p * np.log(p)).sum(), rtol=1e-6)
    assert int(d.mode()) == 1
    q = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(
        d.kl(Categorical(jnp.log(jnp.asarray(q)))), (p * np.log(p / q)).sum(), rtol=1e-5
    )
    samples = jax.vmap(d.sample)(jax.random.split(jax.random.key(0), 20000))
    np.testing.assert_allclose(np.bincount(np.asarray(samples)) / 20000, p, atol=0.015)


def test_mlp_layer_norm_and_ensemble_shapes():
    x = jnp.ones((5, 3))
    mlp = MLP((8, 8), 2, layer_norm=True)
    params = mlp.init(jax.random.key(0), x)
    assert "LayerNorm_0" in params["params"]
    assert mlp.apply(params, x).shape == (5, 2)
    ens = Ensemble(num=4, hidden_sizes=(8,), output_dim=1)
    p = ens.init(jax.random.key(0), x)
    out = ens.apply(p, x)
    assert out.shape == (4, 5, 1)
    assert not np.allclose(out[0], out[1])  # independently initialised members


def test_policy_heads_and_env_action_bounds():
    obs = jnp.ones((6, 3))
    spec = EnvSpec("t", (3,), Box((-2.0, 0.0), (2.0, 1.0), (2,)), 10)
    for head in ("gaussian", "tanh_gaussian"):
        net = PolicyNetwork(2, False, head=head)
        dist = net.apply(net.init(jax.random.key(0), obs), obs)
        raw = 10 * dist.sample(jax.random.key(1)) + 5
        a = env_action(dist, raw, spec)
        assert a.shape == (6, 2)
        assert (a[:, 0] >= -2).all() and (a[:, 0] <= 2).all()
        assert (a[:, 1] >= 0).all() and (a[:, 1] <= 1).all()
    with pytest.raises(ValueError, match="policy head"):
        PolicyNetwork(2, False, head="beta").init(jax.random.key(0), obs)
    net = PolicyNetwork(4, True)
    dist = net.apply(net.init(jax.random.key(0), obs), obs)
    dspec = EnvSpec("d", (3,), Discrete(4), 10)
    assert env_action(dist, dist.mode(), dspec).dtype == jnp.int32
    v = ValueNetwork()
    assert v.apply(v.init(jax.random.key(0), obs), obs).shape == (6,)


# --- explicit layer names, the factory, the CNN torso, frozen features -----------------------


def _auto_named_policy(layer_norm: bool) -> nn.Module:
    """The policy network as written before its layers were named explicitly: Flax generates
    the names from the class names, so the local classes are called MLP and PolicyNetwork."""

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for width in (64, 64):
                x = nn.Dense(width, kernel_init=nn.initializers.orthogonal(math.sqrt(2.0)))(x)
                x = nn.tanh(nn.LayerNorm()(x) if layer_norm else x)
            return nn.Dense(3, kernel_init=nn.initializers.orthogonal(0.01))(x)

    class PolicyNetwork(nn.Module):
        @nn.compact
        def __call__(self, x):
            return MLP()(x), self.param("log_std", nn.initializers.zeros, (3,))

    return PolicyNetwork()


@pytest.mark.parametrize("layer_norm", [False, True])
def test_explicit_names_keep_the_auto_generated_parameters(layer_norm):
    """The explicit names are the ones Flax generated, so the parameter trees and their initial
    values (Flax derives the init keys from the names) are bit-identical to before."""
    obs = jnp.ones((1, 5))
    key = jax.random.key(3)
    ours = PolicyNetwork(3, False, layer_norm=layer_norm).init(key, obs)
    before = _auto_named_policy(layer_norm).init(key, obs)
    assert jax.tree.structure(ours) == jax.tree.structure(before)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(before), strict=True):
        np.testing.assert_array_equal(a, b)


def _shapes(variables):
    return {
        jax.tree_util.keystr(path): x.shape
        for path, x in jax.tree_util.tree_flatten_with_path(variables)[0]
    }


def test_actor_critic_separate_widths_and_activation():
    spec = EnvSpec("t", (3,), Box.uniform((2,)), 10)
    net = NetworkConfig(policy_hidden_sizes=(32,), value_hidden_sizes=(8, 16, 4), activation="relu")
    policy, value = actor_critic(spec, net)
    obs = jnp.ones((7, 3))
    pi = _shapes(policy.init(jax.random.key(0), obs))
    assert pi == {
        "['params']['MLP_0']['Dense_0']['kernel']": (3, 32),
        "['params']['MLP_0']['Dense_0']['bias']": (32,),
        "['params']['MLP_0']['Dense_1']['kernel']": (32, 2),
        "['params']['MLP_0']['Dense_1']['bias']": (2,),
        "['params']['log_std']": (2,),
    }
    v = value.init(jax.random.key(1), obs)
    kernels = [x.shape for p, x in jax.tree_util.tree_flatten_with_path(v)[0] if "kernel" in str(p)]
    assert kernels == [(3, 8), (8, 16), (16, 4), (4, 1)]
    assert value.apply(v, obs).shape == (7,)
    assert policy.activation == value.activation == "relu"


def test_cnn_torso_shapes_and_leading_axes():
    spec = EnvSpec("grid", (5, 4, 2), Discrete(3), 10)
    net = NetworkConfig(
        torso="cnn", cnn_channels=(4, 6), cnn_kernel_sizes=(3, 2), cnn_strides=(1, 2)
    )
    policy, value = actor_critic(spec, net)
    obs = jax.random.normal(jax.random.key(0), (3, 2, 5, 4, 2))  # [T, E, H, W, C]
    pv = policy.init(jax.random.key(1), obs[0])
    shapes = _shapes(pv)
    assert shapes["['params']['torso']['Conv_0']['kernel']"] == (3, 3, 2, 4)
    assert shapes["['params']['torso']['Conv_1']['kernel']"] == (2, 2, 4, 6)
    # SAME padding: 5 x 4 -> 5 x 4 -> (stride 2) 3 x 2, 6 channels = 36 features
    assert shapes["['params']['MLP_0']['Dense_0']['kernel']"] == (36, 64)
    logits = policy.apply(pv, obs).logits
    assert logits.shape == (3, 2, 3)
    np.testing.assert_allclose(logits[1], policy.apply(pv, obs[1]).logits, rtol=1e-6)
    vv = value.init(jax.random.key(2), obs[0])
    assert value.apply(vv, obs).shape == (3, 2)
    assert not any("log_std" in k for k in _shapes(vv))
    with pytest.raises(ValueError, match=r"\[\.\.\., H, W, C\]"):
        CNN().init(jax.random.key(0), jnp.ones((4, 3)))


def test_network_config_errors_name_the_field():
    for bad, match in (
        (NetworkConfig(torso="resnet"), "torso"),
        (NetworkConfig(activation="sigmoid"), "activation"),
        (NetworkConfig(policy_head="beta"), "policy_head"),
        (NetworkConfig(torso="cnn", cnn_channels=(8, 8), cnn_kernel_sizes=(3,)), "cnn_channels"),
    ):
        with pytest.raises(ValueError, match=match):
            bad.validate()
    assert set(networks.ACTIVATIONS) == set(networks.Activation.__args__)
    assert set(networks.TORSOS) >= set(networks.Torso.__args__)


@pytest.mark.parametrize("torso", ["mlp", "cnn"])
def test_stop_feature_gradients_freezes_every_kernel_but_the_output_layer(torso):
    spec = EnvSpec("t", (4, 4, 1) if torso == "cnn" else (3,), Box.uniform((2,)), 10)
    policy, _ = actor_critic(spec, NetworkConfig(torso=torso, layer_norm=True))
    obs = jax.random.normal(jax.random.key(0), (5, *spec.obs_shape))
    variables = policy.init(jax.random.key(1), obs)
    raw = jax.random.normal(jax.random.key(2), (5, 2))
    grads = jax.grad(
        lambda v: -policy.apply(stop_feature_gradients(policy, v), obs).log_prob(raw).mean()
    )(variables)
    output = output_layer_path(policy)
    assert output == ("params", "MLP_0", "Dense_2")
    for path, g in jax.tree_util.tree_flatten_with_path(grads)[0]:
        keys = tuple(k.key for k in path)
        frozen = keys[-1] == "kernel" and keys[:-1] != output
        assert bool(jnp.all(g == 0)) == frozen, keys


# --- options for the official settings: tanh mean, sampled tanh entropy, the value network --


def _numpy_mlp(variables, x, activation, hidden):
    """Forward pass of an MLP's variables in numpy (``hidden`` layers, then a linear one)."""
    layers = variables["params"]["MLP_0"]
    for i in range(hidden + 1):
        x = x @ np.asarray(layers[f"Dense_{i}"]["kernel"]) + np.asarray(
            layers[f"Dense_{i}"]["bias"]
        )
        if i < hidden:
            x = activation(x)
    return x


def test_tanh_mean_is_tanh_of_the_linear_output_and_adds_no_parameters():
    """PROPS's actor: the Gaussian mean is tanh of the last Dense layer; log-probs are the
    Gaussian's around that mean (scipy)."""
    spec = EnvSpec("t", (3,), Box.uniform((2,)), 10)
    obs = jax.random.normal(jax.random.key(0), (6, 3))
    linear, _ = actor_critic(spec, NetworkConfig())
    squashed, _ = actor_critic(spec, NetworkConfig(mean_activation="tanh"))
    variables = squashed.init(jax.random.key(1), obs)
    same = linear.init(jax.random.key(1), obs)
    for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves(same), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.asarray(obs, np.float64)
    out = _numpy_mlp(variables, x, np.tanh, 2)
    dist = squashed.apply(variables, obs)
    np.testing.assert_allclose(dist.mean, np.tanh(out), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(linear.apply(variables, obs).mean, out, rtol=1e-5, atol=1e-7)
    big = squashed.apply(jax.tree.map(lambda p: 1e3 * p, variables), obs).mean
    assert np.all(np.abs(big) <= 1.0)
    raw = jax.random.normal(jax.random.key(2), (6, 2))
    ref = stats.norm(np.tanh(out), 1.0).logpdf(np.asarray(raw)).sum(-1)  # log_std starts at 0
    np.testing.assert_allclose(dist.log_prob(raw), ref, rtol=1e-5)


def _squashed_entropy_quadrature(mean: float, std: float) -> float:
    """H[tanh(u)], u ~ N(mean, std^2), by quadrature: H[u] + E[log(1 - tanh(u)^2)]."""
    log_det = lambda u: np.log(4.0) - 2.0 * np.logaddexp(u, -u)  # log(1 - tanh^2), stable  # noqa: E731
    expectation, _ = integrate.quad(
        lambda u: stats.norm(mean, std).pdf(u) * log_det(u), mean - 12 * std, mean + 12 * std
    )
    return float(stats.norm(mean, std).entropy() + expectation)


def test_sampled_tanh_entropy_matches_quadrature_and_monte_carlo():
    """Brax's estimate is unbiased for the entropy of the squashed action: its mean over
    200k keys matches quadrature of ``H[u] + E log(1 - tanh^2 u)`` and an independent numpy
    Monte-Carlo of ``E[-log p_Y(Y)]`` with ``p_Y(y) = N(atanh y) / (1 - y^2)``, within 4
    standard errors (SE 4.7e-3 and 3.8e-3; when written, exact 0.4099 against 0.4065
    and 0.4105, errors of 0.7 and 0.2 SE; the base Gaussian's entropy is 3.04). One sample
    is ``entropy() + sum log(1 - tanh(u)^2)`` at ``u = sample(key)``."""
    mean, log_std = np.array([0.3, -1.2]), np.array([-0.2, 0.4])
    dist = TanhGaussian(jnp.asarray(mean, jnp.float32), jnp.asarray(log_std, jnp.float32))
    key = jax.random.key(0)
    u = np.asarray(dist.sample(key), np.float64)
    one = np.asarray(dist.entropy()) + np.sum(np.log(1.0 - np.tanh(u) ** 2))
    np.testing.assert_allclose(dist.sampled_entropy(key), one, rtol=1e-5)
    exact = sum(
        _squashed_entropy_quadrature(m, np.exp(s)) for m, s in zip(mean, log_std, strict=True)
    )
    estimates = np.asarray(jax.vmap(dist.sampled_entropy)(jax.random.split(key, 200_000)))
    stderr = estimates.std() / np.sqrt(len(estimates))
    assert abs(estimates.mean() - exact) < 4 * stderr, (estimates.mean(), exact, stderr)
    rng = np.random.default_rng(0)
    samples = rng.normal(mean, np.exp(log_std), size=(200_000, 2))
    y = np.tanh(samples)
    log_p = stats.norm(mean, np.exp(log_std)).logpdf(np.arctanh(y)) - np.log(1.0 - y**2)
    mc = -log_p.sum(-1)
    both = np.sqrt(stderr**2 + mc.var() / len(mc))
    assert abs(mc.mean() - exact) < 4 * mc.std() / np.sqrt(len(mc))
    assert abs(estimates.mean() - mc.mean()) < 4 * both
    assert exact < float(dist.entropy())  # squashing into (-1, 1) lowers the entropy
    # gradients flow through the sample into the mean (the base entropy has none)
    grad = jax.grad(lambda m: TanhGaussian(m, dist.log_std).sampled_entropy(key))(dist.mean)
    assert np.all(np.asarray(grad) != 0)


def test_value_network_own_activation_and_lecun_uniform_init():
    """GoRL's official critic: 5 x 256 SiLU, every layer LeCun uniform (U(+-sqrt(3 / fan_in)),
    variance 1 / fan_in), zero biases; the policy network is unchanged by the value options."""
    spec = EnvSpec("t", (17,), Box.uniform((6,)), 10)
    net = NetworkConfig(
        value_hidden_sizes=(256,) * 5, value_activation="silu", value_kernel_init="lecun_uniform"
    )
    policy, value = actor_critic(spec, net)
    obs = jax.random.normal(jax.random.key(0), (4, 17))
    variables = value.init(jax.random.key(1), obs)
    layers = variables["params"]["MLP_0"]
    fan_ins = [17, 256, 256, 256, 256, 256]
    for i, fan_in in enumerate(fan_ins):
        kernel = np.asarray(layers[f"Dense_{i}"]["kernel"])
        assert kernel.shape[0] == fan_in
        assert np.abs(kernel).max() <= np.sqrt(3.0 / fan_in)
        if kernel.size > 10_000:
            np.testing.assert_allclose(kernel.var(), 1.0 / fan_in, rtol=0.05)
        assert not np.any(np.asarray(layers[f"Dense_{i}"]["bias"]))
    silu = lambda x: x / (1.0 + np.exp(-x))  # noqa: E731
    ref = _numpy_mlp(variables, np.asarray(obs, np.float64), silu, 5)[:, 0]
    np.testing.assert_allclose(value.apply(variables, obs), ref, rtol=1e-4, atol=1e-6)
    default_policy, default_value = actor_critic(spec, NetworkConfig())
    for a, b in zip(
        jax.tree.leaves(policy.init(jax.random.key(2), obs)),
        jax.tree.leaves(default_policy.init(jax.random.key(2), obs)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert default_value.activation == "tanh" and default_value.kernel_init == "orthogonal"
    assert value.activation == "silu" and policy.activation == "tanh"


def test_new_network_options_refuse_unknown_names():
    for bad, match in (
        (NetworkConfig(mean_activation="relu"), "mean_activation"),
        (NetworkConfig(value_activation="sigmoid"), "value_activation"),
        (NetworkConfig(value_kernel_init="he"), "value_kernel_init"),
    ):
        with pytest.raises(ValueError, match=match):
            bad.validate()
    with pytest.raises(ValueError, match="mean activation"):
        PolicyNetwork(2, False, mean_activation="relu").init(jax.random.key(0), jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="kernel init"):
        ValueNetwork(kernel_init="he").init(jax.random.key(0), jnp.ones((1, 3)))
