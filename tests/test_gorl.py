"""GoRL: identity stage 0, latent regulariser by hand, decoder expressivity through fit_decoder,
a multimodal-reward bandit against Gaussian PPO, determinism / vmap, and a physics smoke run."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl import envs
from jaxrl import generative as gen
from jaxrl.agents import gorl, ppo
from jaxrl.types import Box, EnvSpec, TimeStep

SMALL = gorl.Config(
    num_envs=16,
    num_steps=8,
    num_minibatches=2,
    num_epochs=2,
    decoder_batch=64,
    decoder_epochs=3,
    collect_steps=8,
)


# --- (a) identity stage 0 --------------------------------------------------------------------


@pytest.mark.parametrize("decoder", ["flow", "diffusion"])
def test_identity_decoder_maps_z_to_z(decoder):
    cfg = dataclasses.replace(SMALL, decoder=decoder)
    env = envs.make("pendulum")
    params, stats, schedule = gorl.identity_decoder(cfg, env)
    obs = jax.random.normal(jax.random.key(0), (32, 3))
    z = jax.random.normal(jax.random.key(1), (32, 1))
    a = gorl.decode(cfg, env, params, stats, schedule, obs, z)
    if decoder == "flow":
        np.testing.assert_array_equal(a, z)  # exactly
    else:  # zero eps-net, linear schedule: z / sqrt(alpha_bar[9]) ~= 1.052 z
        scale = 1.0 / math.sqrt(float(schedule.alpha_bars[-1]))
        np.testing.assert_allclose(scale, 1.052, atol=5e-4)
        np.testing.assert_allclose(a, scale * z, rtol=1e-5)


def test_stage0_train_step_equals_ppo_with_tanh_of_the_sample():
    """GoRL stage 0 (identity flow decoder, z_reg 0) is PPO on a Gaussian whose sample is squashed
    by tanh only when stepping the env (same log-probs on z): the same bits after two steps."""
    env = envs.make("pendulum")
    cfg = dataclasses.replace(SMALL, z_reg_coef=0.0)
    pcfg = ppo.Config(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(ppo.Config)})
    key = jax.random.key(3)

    def tanh_action(obs, dist, raw):
        return gorl.squash_to_env(env, raw)

    g_step = jax.jit(gorl.train_step, static_argnums=1)
    p_step = jax.jit(
        lambda c, s: ppo.train_step(c, env, s, action_fn=tanh_action), static_argnums=()
    )
    gs, ps = gorl.init(cfg, env, key), ppo.init(pcfg, env, key)
    for _ in range(2):
        gs, gm = g_step(cfg, env, gs)
        ps, pm = p_step(pcfg, ps)
    for x, y in zip(jax.tree.leaves(gs.params), jax.tree.leaves(ps.params), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(gm["episode_return"], pm["episode_return"])
    assert float(gm["stage"]) == 0.0


# --- (b) latent regulariser ------------------------------------------------------------------


def test_latent_regularizer_hand_computed():
    mu = jnp.array([[0.5, -1.0], [0.0, 2.0]])
    log_std = jnp.log(jnp.array([[1.0, 0.5], [2.0, 1.0]]))
    sig2 = np.array([[1.0, 0.25], [4.0, 1.0]])
    l2, info = gorl.latent_regularizer(
        dataclasses.replace(SMALL, z_reg="l2", z_reg_coef=0.1), mu, log_std
    )
    expected = np.mean(np.array([0.25, 1.0, 0.0, 4.0])) + np.mean(sig2)
    np.testing.assert_allclose(l2, 0.1 * expected, rtol=1e-6)
    np.testing.assert_allclose(info["z_reg"], expected, rtol=1e-6)
    kl, _ = gorl.latent_regularizer(
        dataclasses.replace(SMALL, z_reg="kl", z_reg_coef=0.1), mu, log_std
    )
    per_dim = 0.5 * (np.asarray(mu) ** 2 + sig2 - 1.0 - np.log(sig2))
    np.testing.assert_allclose(kl, 0.1 * per_dim.mean(), rtol=1e-6)
    # the KL is 0 at N(0, 1); the L2 penalty is not (it pushes sigma to 0)
    zero, one = jnp.zeros((3, 2)), jnp.zeros((3, 2))
    kl0, _ = gorl.latent_regularizer(dataclasses.replace(SMALL, z_reg="kl"), zero, one)
    assert float(kl0) == 0.0


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="z_reg"):
        dataclasses.replace(SMALL, z_reg="kl2").validate()
    with pytest.raises(ValueError, match="decoder"):
        dataclasses.replace(SMALL, decoder="vae").validate()
    with pytest.raises(ValueError, match="policy_head"):
        dataclasses.replace(SMALL, policy_head="tanh_gaussian").validate()


# --- (c) fit_decoder is expressive -----------------------------------------------------------


def test_fit_decoder_bimodal_data_gives_bimodal_decoder():
    """0.5 N(-0.7, 0.05^2) + 0.5 N(0.7, 0.05^2) with a constant observation, through
    fit_decoder (90/10 split, keep-best); push eps ~ N(0, 1) through the flow decoder."""
    env = envs.make("bandit", optimal_action=(0.0,))
    cfg = dataclasses.replace(
        SMALL, decoder_batch=128, decoder_epochs=25, decoder_lr=3e-3, decoder_patience=10
    )
    n = 8192
    k1, k2, k_fit = jax.random.split(jax.random.key(0), 3)
    sign = jnp.where(jax.random.bernoulli(k1, 0.5, (n, 1)), 1.0, -1.0)
    actions = 0.7 * sign + 0.05 * jax.random.normal(k2, (n, 1))
    obs = jnp.ones((n, 1))
    params, stats, info = jax.jit(gorl.fit_decoder, static_argnums=1)(cfg, env, obs, actions, k_fit)
    assert int(info["best_epoch"]) >= 0
    assert float(info["best_val_loss"]) < float(info["initial_val_loss"])
    eps = jax.random.normal(jax.random.key(5), (4096, 1))
    a = np.asarray(
        gorl.decode(cfg, env, params, stats, gen.DiffusionSchedule.cosine(10), obs[:4096], eps)
    )[:, 0]
    near = np.mean(np.minimum(np.abs(a - 0.7), np.abs(a + 0.7)) < 0.2)
    middle = np.mean(np.abs(a) < 0.3)
    print(f"near modes {near:.3f}, middle {middle:.3f}")
    assert near > 0.9 and middle < 0.05


# --- (d) multimodal-reward bandit ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TwoBumpBandit:
    """One-step bandit with a 1-D action: reward = max of two narrow bumps at +-0.7 (width 0.1)
    minus a penalty around 0 (so a unimodal policy straddling both bumps pays for it)."""

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec("two-bump", (1,), Box.uniform((1,)), 1)

    def reset(self, key):
        del key
        return jnp.zeros(()), self._ts(jnp.zeros(()), False)

    @staticmethod
    def _ts(reward, done):
        return TimeStep(
            obs=jnp.ones((1,), jnp.float32),
            reward=jnp.asarray(reward, jnp.float32),
            terminated=jnp.asarray(done, bool),
            truncated=jnp.zeros((), bool),
        )

    @staticmethod
    def reward(a):
        bump = lambda c: jnp.exp(-0.5 * ((a - c) / 0.1) ** 2)  # noqa: E731
        return jnp.maximum(bump(0.7), bump(-0.7)) - 0.5 * jnp.exp(-0.5 * (a / 0.2) ** 2)

    def step(self, state, action):
        return state, self._ts(self.reward(jnp.reshape(action, ())), True)


BANDIT = gorl.Config(
    num_envs=64,
    num_steps=8,
    num_minibatches=4,
    num_epochs=4,
    learning_rate=3e-3,
    ent_coef=0.0,
    z_reg_coef=0.0,
    decoder_batch=256,
    decoder_epochs=30,
    decoder_lr=3e-3,
    collect_steps=64,
)


def two_bump_run(seed: int = 0, decoder_lr: float | None = None):
    """Three GoRL stages (3 x 8192 steps) and Gaussian PPO with the same total budget, seed and
    PPO settings; stochastic actions of both final policies (4096 samples). ``decoder_lr = 0``
    is the broken variant for the calibration: decoders that never leave their random init."""
    env = TwoBumpBandit()
    key = jax.random.key(seed)
    stage_steps = (8192, 8192, 8192)
    config = BANDIT if decoder_lr is None else dataclasses.replace(BANDIT, decoder_lr=decoder_lr)
    stages = gorl.run_stages(config, env, key, stage_steps, eval_every=4096)
    pcfg = ppo.Config(**{f.name: getattr(BANDIT, f.name) for f in dataclasses.fields(ppo.Config)})
    p_res = jaxrl.train(ppo, pcfg, env, key, sum(stage_steps), progress=False, eval_every=0)
    k_eval, obs = jax.random.key(11), jnp.ones((4096, 1))
    a_g = jax.jit(gorl.act, static_argnums=1)(BANDIT, env, stages[-1].state, obs, k_eval)
    a_p = jax.jit(ppo.act, static_argnums=1)(pcfg, env, p_res.state, obs, k_eval)
    return env, np.asarray(a_g)[:, 0], np.asarray(a_p)[:, 0], stages


def two_bump_returns(seed: int = 0, decoder_lr: float | None = None) -> tuple[float, float]:
    """Stochastic returns (mean reward of the 4096 sampled actions) of GoRL and of PPO."""
    env, a_g, a_p, _ = two_bump_run(seed, decoder_lr)
    r_g = float(np.mean(env.reward(jnp.asarray(a_g))))
    r_p = float(np.mean(env.reward(jnp.asarray(a_p))))
    return r_g, r_p


TWO_BUMP_SEEDS = (0, 1, 2, 3)


def test_two_bump_bandit_gorl_beats_gaussian_ppo():
    """GoRL's stochastic return beats Gaussian PPO's, same budget and PPO settings, averaged
    over seeds 0-3 (one run each; ``run_stages`` is a host loop over one seed).

    Calibration (``python tests/calibrate.py gorl``; seeds 0-15, GoRL minus PPO): +0.085,
    +0.285, +0.167, +0.112, +0.190, +0.017, +0.210, +0.093, +0.106, +0.132, +0.224, -0.087,
    +0.703, +0.240, +0.144, +0.686 (seed 0: 0.751 vs 0.666). Mean +0.207, median +0.155, 15 of
    16 positive: one seed alone (this test before calibration) fails on about 1 machine in 16.
    A mean of 4 resampled from these 16 falls below the threshold 0 with probability 0.002
    (bootstrap, 10^6 draws). Broken (``python tests/calibrate.py gorl_broken``: decoders left at
    their random init, ``decoder_lr = 0``): 0.326 vs 0.666 and 0.189 vs 0.651 for seeds 0, 1.

    The spec's check 4 also expects GoRL's final action histogram to be bimodal. We do not
    assert it, because the algorithm as specified does not produce it here: stage 0 is
    tanh-Gaussian PPO, which breaks the symmetry between the bumps (its stochastic policy ends
    with 0.28 / 0.13 of its mass near -0.7 / +0.7 for seed 0, 0.65 / 0.00 for seed 1); the
    decoder is fitted to that behaviour distribution, a 1-D flow map is monotone, and each
    later PPO stage moves the fresh latent Gaussian towards the richer side, so the mass ends
    at 0.98 / 0.00 and 1.00 / 0.00 after three stages. A shorter stage 0 (2048 steps) or the
    official entropy bonus (0.01) end the same way (seeds 0 / 1: 0.00 / 0.75 and 0.99 / 0.00
    with the short stage 0; 0.97 / 0.00 and 1.00 / 0.00 with the entropy bonus).
    The decoder *can* represent two modes
    (``test_fit_decoder_bimodal_data_gives_bimodal_decoder``); nothing in the loop rewards
    keeping both when both pay the same."""
    returns = np.array([two_bump_returns(seed) for seed in TWO_BUMP_SEEDS])  # [seeds, 2]
    print(f"stochastic returns, GoRL and PPO per seed: {returns.round(3).tolist()}")
    assert (returns[:, 0] - returns[:, 1]).mean() > 0.0, returns


# --- (e) determinism and vmap ----------------------------------------------------------------


def test_determinism_and_vmap_over_seeds():
    env = envs.make("pendulum")
    key = jax.random.key(7)
    cfg = SMALL
    kw = dict(progress=False, eval_every=0)
    vm = jaxrl.train(gorl, cfg, env, key, 512, seeds=2, **kw)
    for i, k in enumerate(jax.random.split(key, 2)):
        single = jaxrl.train(gorl, cfg, env, k, 512, **kw)
        again = jaxrl.train(gorl, cfg, env, k, 512, **kw)
        one = jax.tree.map(lambda x, i=i: x[i], vm.state.params)
        for x, y, z in zip(
            jax.tree.leaves(one),
            jax.tree.leaves(single.state.params),
            jax.tree.leaves(again.state.params),
            strict=True,
        ):
            np.testing.assert_array_equal(y, z)
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)


def test_stage_boundary_functions_are_jittable_and_fresh():
    env = envs.make("pendulum")
    state = gorl.init(SMALL, env, jax.random.key(0))
    state, _ = jax.jit(gorl.train_step, static_argnums=1)(SMALL, env, state)
    obs, acts = jax.jit(gorl.collect_decoder_data, static_argnums=1)(
        SMALL, env, state, jax.random.key(1)
    )
    assert obs.shape == (SMALL.num_envs * SMALL.collect_steps, 3) and acts.shape[-1] == 1
    params, stats, info = jax.jit(gorl.fit_decoder, static_argnums=1)(
        SMALL, env, obs, acts, jax.random.key(2)
    )
    assert np.isfinite(info["val_loss"]).all()
    new = jax.jit(gorl.start_stage, static_argnums=1)(
        SMALL, env, state, params, stats, jax.random.key(0)
    )
    assert int(new.stage) == 1 and int(new.step) == 0
    fresh = gorl.init(SMALL, env, jax.random.key(0))
    for x, y in zip(jax.tree.leaves(new.params), jax.tree.leaves(fresh.params), strict=True):
        np.testing.assert_array_equal(x, y)  # a fresh encoder (same key, same init)
    new_state, metrics = jax.jit(gorl.train_step, static_argnums=1)(SMALL, env, new)
    assert float(metrics["stage"]) == 1.0 and np.isfinite(metrics["loss"])


# --- (f) physics smoke -----------------------------------------------------------------------


@pytest.mark.physics
def test_gorl_stage_cycle_on_hopper_stand():
    env = envs.make("playground/HopperStand")
    cfg = dataclasses.replace(
        SMALL, num_envs=8, num_steps=8, decoder_batch=32, decoder_epochs=2, collect_steps=8
    )
    stages = gorl.run_stages(
        cfg, env, jax.random.key(0), (128, 128), eval_every=128, num_eval_episodes=2
    )
    assert len(stages) == 2 and stages[0].decoder_info is not None
    assert np.isfinite(stages[0].decoder_info["val_loss"]).all()
    for s in stages:
        assert np.isfinite(s.history["loss"][1:]).all() and np.isfinite(s.best_eval_return)
    assert int(stages[1].state.stage) == 1


def test_run_stages_passes_each_stage_its_tie_rule(monkeypatch):
    # eval_ties="later" is the official rule (GoRL scripts/components/train_encoder_ppo.py:235)
    captured = {}

    def fake_run(phases, *args, **kwargs):
        captured["ties"] = [phase.ties for phase in phases]
        return []

    monkeypatch.setattr(gorl.staged, "run", fake_run)
    configs = [gorl.Config(eval_ties="first"), gorl.Config(eval_ties="later")]
    gorl.run_stages(configs, envs.make("pendulum"), jax.random.key(0), (64, 64), 32)
    assert captured["ties"] == ["first", "later"]
    assert gorl.Config().eval_ties == "first"  # the default keeps the earlier behaviour
