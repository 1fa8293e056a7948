"""FB (agents/fb.py): the agent's losses against NumPy on its own network outputs, the invariants
(determinism, vmap over seeds, bit-identical resume), task inference, and bad input. The
zero-shot learning test is in tests/test_zero_shot_learning.py; the core's losses in
test_zero_shot.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trees import assert_same

import jaxrl
from jaxrl import envs, zero_shot
from jaxrl.agents import fb

ENV = envs.make("reach/fourrooms")
SMALL = fb.Config(
    z_dim=8,
    batch_size=32,
    preprocess_hidden=32,
    preprocess_dim=16,
    forward_hidden_sizes=(32,),
    backward_hidden_sizes=(32, 32),
    actor_hidden_sizes=(32,),
    inference_samples=200,
)


@pytest.fixture(scope="module")
def data():
    return zero_shot.collect(
        ENV,
        lambda obs, k: jax.random.uniform(k, obs.shape, minval=-1.0, maxval=1.0),
        jax.random.key(0),
        num_envs=4,
        num_steps=100,
    )


def test_fb_loss_is_the_twin_sum_against_the_min_target_by_numpy(data):
    """fb_loss = sum over the twin F of the measure loss against min(target twins) at the noisy
    target action, + ortho_coef times the orthonormality loss, recomputed in NumPy from the
    networks' own outputs."""
    config = fb.replace(SMALL, ortho_coef=0.7, discount=0.9)
    prepared = fb.prepare_data(config, ENV, data)
    state = fb.init(config, ENV, jax.random.key(1), prepared)
    nets = fb.make_networks(config, ENV)
    batch = jaxrl.data.sample_transitions(prepared, jax.random.key(2), config.batch_size)
    z = fb.training_tasks(config, nets, state.params, batch["next_obs"], jax.random.key(3))
    fb_params = {k: state.params[k] for k in ("forward", "backward")}
    key = jax.random.key(4)
    loss, info = fb.fb_loss(
        config, nets, fb_params, state.target_params, state.params["actor"], batch, z, key
    )
    pi_next = nets.actor.apply(state.params["actor"], batch["next_obs"], z)
    a_next = fb.target_action(pi_next, key, config.policy_noise, config.noise_clip)
    tf = np.asarray(
        nets.forward.apply(state.target_params["forward"], batch["next_obs"], a_next, z)
    )
    tb = np.asarray(nets.backward.apply(state.target_params["backward"], batch["next_obs"]))
    f = np.asarray(nets.forward.apply(fb_params["forward"], batch["obs"], batch["action"], z))
    b = np.asarray(nets.backward.apply(fb_params["backward"], batch["next_obs"]))
    target = np.minimum(tf[0] @ tb.T, tf[1] @ tb.T)
    n = config.batch_size
    off = ~np.eye(n, dtype=bool)
    disc = 0.9 * np.asarray(batch["mask"])[:, None]
    expected = 0.0
    for k in range(2):
        m = f[k] @ b.T
        expected += 0.5 * np.mean(((m - disc * target) ** 2)[off]) - np.mean(np.diag(m))
    c = b @ b.T
    ortho = -2 * np.mean(np.diag(c)) + np.mean(c[off] ** 2)
    np.testing.assert_allclose(float(info["fb_loss"]), expected, rtol=2e-4)
    np.testing.assert_allclose(float(info["ortho_loss"]), ortho, rtol=2e-4)
    np.testing.assert_allclose(float(loss), expected + 0.7 * ortho, rtol=2e-4)
    np.testing.assert_allclose(np.linalg.norm(b, axis=-1), np.sqrt(8), rtol=1e-5)
    # the actor loss: -mean min_k F_k(s, pi(s, z), z)^T z
    a_loss, _ = fb.actor_loss(nets, state.params["actor"], fb_params["forward"], batch["obs"], z)
    pi = nets.actor.apply(state.params["actor"], batch["obs"], z)
    fp = np.asarray(nets.forward.apply(fb_params["forward"], batch["obs"], pi, z))
    q = np.minimum(np.sum(fp[0] * np.asarray(z), -1), np.sum(fp[1] * np.asarray(z), -1))
    np.testing.assert_allclose(float(a_loss), -np.mean(q), rtol=2e-4)


def test_backward_tells_apart_inputs_on_one_ray_from_the_origin():
    """LayerNorm after a zero-bias Linear is blind to the input's scale, so (1, 1) and (7, 7)
    would share one embedding; the first layer's random bias separates them."""
    config = fb.replace(SMALL, z_dim=4)
    nets = fb.make_networks(config, ENV)
    params = nets.backward.init(jax.random.key(0), jnp.zeros((1, 2)))
    b = np.asarray(nets.backward.apply(params, jnp.asarray([[1.0, 1.0], [7.0, 7.0]])))
    assert np.linalg.norm(b[0] - b[1]) > 0.1


def test_vmap_over_seeds_equals_single_runs_and_is_deterministic(data):
    kw = dict(data=data, eval_every=0, progress=False, chunk_steps=10)
    both = jaxrl.train(fb, SMALL, ENV, jax.random.key(4), 20, seeds=2, **kw)
    keys = jax.random.split(jax.random.key(4), 2)
    for i in range(2):
        single = jaxrl.train(fb, SMALL, ENV, keys[i], 20, **kw)
        mine = jax.tree.map(lambda x, i=i: x[i], both.state.params)
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
    again = jaxrl.train(fb, SMALL, ENV, jax.random.key(4), 20, seeds=2, **kw)
    assert_same(both.state, again.state)
    assert int(single.state.step) == 20
    for name in ("fb_loss", "ortho_loss", "actor_loss", "q_mean"):
        assert np.all(np.isfinite(both.history[name])), name


def test_resume_is_bit_identical(data, tmp_path):
    kw = dict(data=data, eval_every=0, progress=False, chunk_steps=10)
    whole = jaxrl.train(fb, SMALL, ENV, jax.random.key(2), 20, **kw)
    jaxrl.train(fb, SMALL, ENV, jax.random.key(2), 10, checkpoint_dir=str(tmp_path), **kw)
    resumed = jaxrl.train(
        fb, SMALL, ENV, jax.random.key(2), 20, checkpoint_dir=str(tmp_path), resume=True, **kw
    )
    assert resumed.steps_this_call == 10
    assert_same(whole.state, resumed.state)


def test_task_inference_and_acting_on_a_task(data):
    """infer_task is sqrt(d) normalise(mean r B(s')) on the given rows; with_task makes act
    follow that z, equal to the policy called with z explicitly."""
    prepared = fb.prepare_data(SMALL, ENV, data)
    state = fb.init(SMALL, ENV, jax.random.key(0), prepared)
    rewards = data.task_rewards["reach_top_left"]
    z = fb.infer_task(SMALL, ENV, state, data.next_observations, rewards)
    b = np.asarray(fb.backward(SMALL, ENV, state, data.next_observations))
    mean = (np.asarray(rewards)[:, None] * b).mean(0)
    np.testing.assert_allclose(np.asarray(z), np.sqrt(8) * mean / np.linalg.norm(mean), rtol=1e-4)
    sampled = fb.infer_task_from_data(SMALL, ENV, state, prepared, rewards, jax.random.key(1))
    assert sampled.shape == (8,) and np.isclose(np.linalg.norm(sampled), np.sqrt(8), rtol=1e-5)
    tasked = fb.with_task(state, z)
    obs = data.observations[:5]
    np.testing.assert_array_equal(
        fb.act(SMALL, ENV, tasked, obs, jax.random.key(0)),
        fb.policy(SMALL, ENV, state, obs, jnp.broadcast_to(z, (5, 8))),
    )


def test_bad_input_is_refused_by_field(data):
    with pytest.raises(ValueError, match="z_dim"):
        fb.init(
            fb.replace(SMALL, z_dim=0), ENV, jax.random.key(0), fb.prepare_data(SMALL, ENV, data)
        )
    with pytest.raises(ValueError, match="batch_size=1"):
        fb.replace(SMALL, batch_size=1).validate()
    with pytest.raises(ValueError, match="Box"):
        fb.check_env(SMALL, envs.make("cartpole"))
