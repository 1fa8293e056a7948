"""GCFBC: the flow loss against numpy, the goals it trains on (future states of the same
trajectory), acting (one clipped flow sample in the env's bounds, h_a-chunks), a point-maze run
through ``jaxrl.train`` with reload, determinism and vmap over seeds, and the refusals."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl import envs, generative
from jaxrl.agents import gcfbc, presets
from jaxrl.data import sample_goal_chunks
from jaxrl.driver import evaluation_keys
from jaxrl.envs import pointmaze

ENV = envs.make("pointmaze-medium-goal")
DATA = pointmaze.generate_dataset("medium", jax.random.key(0), 4, "navigate", 200, batch=4)
TINY = dataclasses.replace(presets.GCFBC_CPU, batch_size=32, actor_hidden_sizes=(16,))


def test_actor_flow_loss_is_flow_matching_conditioned_on_state_and_goal():
    """A linear velocity field ``v = W concat[s, g, x, t] + b`` written out in numpy, with the
    loss's own draws of t and eps: ``mean (v(s, g, x_t, t) - (eps - a))^2``, ``x_t = (1 - t) a +
    t eps`` (t = 1 noise)."""
    net = generative.ConditionalVelocityNet(output_dim=4, hidden_sizes=(), raw_time=True)
    params = generative.init_net(net, jax.random.key(0), 4)
    obs, goal = jnp.ones((5, 2)), jnp.linspace(-1, 1, 10).reshape(5, 2)
    chunk = jnp.linspace(-1, 1, 20).reshape(5, 4)
    key = jax.random.key(1)
    loss, _ = gcfbc.actor_flow_loss(net, params, obs, goal, chunk, key)
    k_t, k_eps = jax.random.split(key)
    t = np.asarray(jax.random.uniform(k_t, (5, 1)))[:, 0]
    eps = np.asarray(jax.random.normal(k_eps, (5, 1, 4)))[:, 0]
    a = np.asarray(chunk)
    x_t = (1 - t[:, None]) * a + t[:, None] * eps
    w = np.asarray(params["params"]["Dense_0"]["kernel"])
    b = np.asarray(params["params"]["Dense_0"]["bias"])
    inputs = np.concatenate([np.asarray(obs), np.asarray(goal), x_t, t[:, None]], axis=-1)
    v = inputs @ w + b
    np.testing.assert_allclose(loss, np.mean((v - (eps - a)) ** 2), rtol=1e-5)


def test_goals_are_future_states_of_the_same_episode():
    """The official sampling (p_future = 1, geometric offsets): every goal row lies after its
    start row in the same episode, with a mean offset near 1 / (1 - gamma) when episodes are long
    enough (here gamma = 0.99 on 200-step episodes: capped, so below 100)."""
    config = dataclasses.replace(TINY, discount=0.99)
    batch = sample_goal_chunks(
        DATA,
        jax.random.key(0),
        4096,
        1,
        config.discount,
        p_current=config.p_current,
        p_future=config.p_future,
        p_random=config.p_random,
        future=config.future,
    )
    idx, goal = np.asarray(batch["index"]), np.asarray(batch["goal_index"])
    assert np.all(goal > idx) and np.all(goal // 200 == idx // 200)
    assert 30 < np.mean(goal - idx) < 100


def test_run_acts_in_bounds_reloads_and_evaluates_per_task(tmp_path):
    config = dataclasses.replace(TINY, action_horizon=2)
    result = jaxrl.train(
        gcfbc,
        config,
        ENV,
        jax.random.key(0),
        40,
        data=DATA,
        chunk_steps=20,
        eval_every=40,
        num_eval_episodes=5,
        progress=False,
        checkpoint_dir=str(tmp_path / "checkpoints"),
    )
    h = result.history
    assert np.all(np.isfinite(h["actor_loss"][1:]))
    for name in ("eval_success", *(f"eval_success_task{i}" for i in range(5))):
        assert 0.0 <= h[name][-1] <= 1.0
    obs = jnp.concatenate([DATA.observations[:3], DATA.observations[10:13]], axis=-1)
    chunk = gcfbc.act(config, ENV, result.state, obs, jax.random.key(1))
    assert chunk.shape == (3, 2, 2) and gcfbc.action_chunk(config) == 2
    assert np.all(np.abs(np.asarray(chunk)) <= 1.0)
    policy = jaxrl.load_policy(str(tmp_path))
    again = policy.evaluate(evaluation_keys(jax.random.key(0), 2), num_episodes=5)
    assert again["eval_success"] == h["eval_success"][-1]


def test_vmap_over_seeds_equals_single_runs_and_is_deterministic():
    kw = dict(data=DATA, eval_every=0, progress=False, chunk_steps=10)
    both = jaxrl.train(gcfbc, TINY, ENV, jax.random.key(4), 20, seeds=2, **kw)
    for i, key in enumerate(jax.random.split(jax.random.key(4), 2)):
        single = jaxrl.train(gcfbc, TINY, ENV, key, 20, **kw)
        mine = jax.tree.map(lambda x, i=i: x[i], both.state.params)
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)
    again = jaxrl.train(gcfbc, TINY, ENV, jax.random.key(4), 20, seeds=2, **kw)
    pairs = zip(
        jax.tree.leaves(both.state.params), jax.tree.leaves(again.state.params), strict=True
    )
    for x, y in pairs:
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize(
    "changes, needle",
    [
        (dict(p_future=0.5), "must sum to 1"),
        (dict(discount=1.0), "Config.discount must be"),
        (dict(action_horizon=0), "Config.action_horizon must be"),
        (dict(future="exponential"), "Config.future must be one of"),
    ],
)
def test_validate_refuses_by_field_name(changes, needle):
    with pytest.raises(ValueError, match=needle):
        dataclasses.replace(gcfbc.Config(), **changes).validate()


def test_env_and_data_mismatches_are_refused():
    with pytest.raises(ValueError, match="GCFBC needs a continuous"):
        gcfbc.check_env(gcfbc.Config(), envs.make("cartpole"))
    with pytest.raises(ValueError, match="goal_in_obs=True"):
        gcfbc.prepare_data(TINY, envs.make("pointmaze-medium"), DATA)
    with pytest.raises(ValueError, match=r"Config.action_horizon must be < the longest"):
        gcfbc.check_data(dataclasses.replace(TINY, action_horizon=200), DATA)
