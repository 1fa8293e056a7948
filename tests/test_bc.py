"""Behaviour cloning: both losses against numpy, the action scaling round trip, imitation of a known
deterministic controller (continuous: the pendulum swing-up; discrete: a CartPole balancing rule),
determinism, vmap and resume equivalence, and dataset validation.

Calibration of the imitation tests (this machine; ``train_and_score`` with 8 seeds for each of
keys 0 and 1; per seed, mean [min, max]; held out: 8 pendulum and 2 CartPole episodes):

==========================================  ========================  ========================
figure                                      key 0                     key 1
==========================================  ========================  ========================
pendulum: final return (controller -175)    -182 [-238, -136]         -174 [-296, -121]
pendulum: held-out action MSE               0.0058 [0.0042, 0.0076]   0.0064 [0.0049, 0.0083]
cartpole: final return (limit 500)          500 [500, 500]            500 [500, 500]
cartpole: held-out action agreement         0.966 [0.962, 0.967]      0.964 [0.960, 0.970]
==========================================  ========================  ========================

Baselines: a uniformly random pendulum policy returns about -1200, and always predicting the
controller's mean action has a held-out MSE of 0.111; the CartPole rule pushes right on half of the
held-out states, and a constant action falls after about 9 steps. A broken BC whose ``act``
forgets the dataset's observation statistics (4 seeds, key 0) fails both tests: pendulum returns
-1551 to -1589 and held-out MSE 0.48 to 0.96; CartPole returns 359 to 421 and agreement 0.78 to
0.81.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from offline_problems import cartpole_controller, controller_dataset, pendulum_controller

import jaxrl
from jaxrl import data, envs
from jaxrl.agents import bc, td3_bc
from jaxrl.types import Box, EnvSpec

PENDULUM = envs.make("pendulum")
CARTPOLE = envs.make("cartpole")
LEARN = bc.Config(hidden_sizes=(64, 64), batch_size=128, learning_rate=1e-3)
TINY = bc.Config(hidden_sizes=(16, 16), batch_size=32)


@functools.cache
def controller_data(env_name: str) -> tuple[data.Dataset, data.Dataset]:
    """Training and held-out episodes of the noiseless controller: pendulum 32 + 8 episodes of
    200 steps, CartPole 8 + 2 of 500."""
    episodes, length = {"pendulum": (40, 200), "cartpole": (10, 500)}[env_name]
    return controller_dataset(env_name, episodes, episodes * length).split(0.8)


def test_losses_match_numpy():
    logits = jnp.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 1.0, 1.5]])
    actions = jnp.array([0, 2, 1])
    loss, info = bc.cross_entropy_loss(logits, actions, 0.1)
    lz = np.asarray(logits, np.float64)
    logp = lz - np.log(np.exp(lz).sum(1, keepdims=True))
    nll = -np.mean(logp[np.arange(3), np.asarray(actions)])
    entropy = -np.mean((np.exp(logp) * logp).sum(1))
    np.testing.assert_allclose(float(info["bc_loss"]), nll, rtol=1e-6)
    np.testing.assert_allclose(float(loss), nll - 0.1 * entropy, rtol=1e-6)
    assert float(info["accuracy"]) == pytest.approx(1 / 3)  # only row 0's argmax is its action
    # the cross-entropy gradient in the logits is (softmax - onehot) / batch
    g = jax.grad(lambda z: bc.cross_entropy_loss(z, actions, 0.0)[0])(logits)
    np.testing.assert_allclose(np.asarray(g), (np.exp(logp) - np.eye(3)[actions]) / 3, atol=1e-6)
    # continuous: MSE between the policy's output and the (constant) dataset action
    params = {"policy": bc.make_policy(TINY, PENDULUM).init(jax.random.key(0), jnp.zeros((1, 3)))}
    batch = {"obs": jax.random.normal(jax.random.key(1), (5, 3)), "action": jnp.linspace(-1, 1, 5)}
    batch["action"] = batch["action"][:, None]
    out = bc.make_policy(TINY, PENDULUM).apply(params["policy"], batch["obs"])
    loss, _ = bc.bc_loss(TINY, PENDULUM, params, batch)
    np.testing.assert_allclose(float(loss), np.mean((out - batch["action"]) ** 2), rtol=1e-6)
    g_a = jax.grad(lambda a: bc.bc_loss(TINY, PENDULUM, params, {**batch, "action": a})[0])
    np.testing.assert_array_equal(np.asarray(g_a(batch["action"])), 0.0)


def test_continuous_actions_are_scaled_to_the_unit_interval_and_back():
    @dataclasses.dataclass(frozen=True)
    class Wide:  # only the spec is read by prepare_data and env_actions
        spec: EnvSpec = EnvSpec("wide", (3,), Box.uniform((1,), 0.0, 4.0), 10)

    ds = controller_data("pendulum")[1]
    raw = 2.0 * np.asarray(ds.actions) + 2.0  # the controller's actions, in [0, 4]
    wide = data.Dataset.create(**{**ds.to_numpy(), "actions": raw})
    prepared = bc.prepare_data(TINY, Wide(), wide)
    np.testing.assert_allclose(np.asarray(prepared.actions), np.asarray(ds.actions), atol=1e-6)
    np.testing.assert_allclose(td3_bc.env_actions(Wide(), prepared.actions), raw, atol=1e-6)


def train_and_score(env, controller, seeds, steps, key=0):
    """Final per-seed eval returns, the policies' actions on the held-out controller states and
    the controller's."""
    train, held = controller_data(env.spec.name)
    kw = dict(data=train, seeds=seeds, eval_every=steps, num_eval_episodes=8, progress=False)
    result = jaxrl.train(bc, LEARN, env, jax.random.key(key), steps, **kw)
    act = jax.vmap(lambda s: bc.act(LEARN, env, s, held.observations, None, deterministic=True))
    target = controller(held.observations, jax.random.key(0))
    return result.history["eval_return"][-1], act(result.state), target


def test_imitates_the_pendulum_controller():
    returns, actions, target = train_and_score(
        PENDULUM, lambda o, k: pendulum_controller(o, k, 0.0), 4, 3000
    )
    mse = np.mean((np.asarray(actions) - np.asarray(target)) ** 2, axis=(1, 2))
    assert (mse < 0.02).all(), mse
    assert returns.mean() > -250 and (returns > -450).all(), returns


def test_imitates_the_cartpole_rule():
    returns, actions, target = train_and_score(CARTPOLE, cartpole_controller, 4, 1000)
    agreement = np.mean(np.asarray(actions) == np.asarray(target), axis=1)
    assert (agreement > 0.9).all(), agreement
    assert (returns > 450).all(), returns


def bits(x: jax.Array) -> np.ndarray:
    """A state leaf as a host array (the raw bits of a PRNG key)."""
    return np.asarray(
        jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
    )


def test_vmap_over_seeds_equals_single_runs_and_is_deterministic():
    kw = dict(data=controller_data("cartpole")[0], eval_every=0, progress=False, chunk_steps=20)
    both = jaxrl.train(bc, TINY, CARTPOLE, jax.random.key(4), 40, seeds=2, **kw)
    for i, key in enumerate(jax.random.split(jax.random.key(4), 2)):
        single = jaxrl.train(bc, TINY, CARTPOLE, key, 40, **kw)
        mine = jax.tree.map(lambda x, i=i: x[i], both.state.params)
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)
    again = jaxrl.train(bc, TINY, CARTPOLE, jax.random.key(4), 40, seeds=2, **kw)
    for x, y in zip(jax.tree.leaves(both.state), jax.tree.leaves(again.state), strict=True):
        np.testing.assert_array_equal(bits(x), bits(y))
    assert both.history["accuracy"].shape == (2, 2) and int(single.state.step) == 40


def test_resume_is_bit_identical(tmp_path):
    # the vmap test's settings, so the single-run chunk is compiled once for both
    kw = dict(data=controller_data("cartpole")[0], eval_every=0, progress=False, chunk_steps=20)
    whole = jaxrl.train(bc, TINY, CARTPOLE, jax.random.key(2), 40, **kw)
    jaxrl.train(bc, TINY, CARTPOLE, jax.random.key(2), 20, checkpoint_dir=str(tmp_path), **kw)
    resumed = jaxrl.train(
        bc, TINY, CARTPOLE, jax.random.key(2), 40, checkpoint_dir=str(tmp_path), resume=True, **kw
    )
    assert resumed.steps_this_call == 20
    for x, y in zip(jax.tree.leaves(whole.state), jax.tree.leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(bits(x), bits(y))


def test_bad_datasets_are_rejected_before_training():
    good = controller_data("cartpole")[0].to_numpy()
    run = functools.partial(jaxrl.train, bc, TINY, CARTPOLE, jax.random.key(0), 10, progress=False)
    with pytest.raises(data.DatasetError, match=r"actions: dtype float32.*Discrete\(2\)"):
        run(data=data.Dataset.create(**{**good, "actions": good["actions"].astype(np.float32)}))
    wrong = good["actions"].copy()
    wrong[[3, 70]] = 2
    with pytest.raises(data.DatasetError, match=r"actions: indices outside \[0, 2\).*\[3, 70\]"):
        run(data=data.Dataset.create(**{**good, "actions": wrong}))
    with pytest.raises(data.DatasetError, match=r"observations: per-row shape \(3,\)"):
        run(data=controller_data("pendulum")[1])
