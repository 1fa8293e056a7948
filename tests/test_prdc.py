"""PRDC: the dataset-constraint target and loss against numpy, the beta limits, a toy problem
where only PRDC can reach a good action seen in neighbouring states, vmap/determinism for both
neighbour backends, and a Brax smoke run. Learning (against behaviour cloning, with the default
beta) is in ``test_offline_learning.py``."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from offline_problems import GOOD, NeighbourBandit, neighbour_dataset

import jaxrl
from jaxrl import data, envs, rollout
from jaxrl.agents import prdc, td3_bc

ENV = envs.make("pendulum")


def random_dataset(n=600, seed=0, duplicates=True):
    rng = np.random.default_rng(seed)
    obs = (rng.normal(size=(n, 3)) * [1.0, 2.0, 5.0] + [0.0, 1.0, -3.0]).astype(np.float32)
    act = rng.uniform(-1, 1, size=(n, 1)).astype(np.float32)
    if duplicates:
        obs[10:14], act[10:14] = obs[2], act[2]
    ends = np.zeros(n, bool)
    ends[99::100] = True
    return data.Dataset.create(obs, act, rng.normal(size=n), np.zeros(n, bool), ends, obs)


def numpy_target(ds: data.Dataset, obs_batch, pi, beta):
    """Independent reference: z-score with the dataset statistics (+1e-3), keys
    [beta * s, a], exhaustive float64 search, ties by the lowest row."""
    obs = np.asarray(ds.observations, np.float64)
    mean, std = obs.mean(0), obs.std(0) + 1e-3
    keys = np.concatenate([beta * (obs - mean) / std, np.asarray(ds.actions, np.float64)], 1)
    q = np.concatenate([beta * np.asarray(obs_batch, np.float64), np.asarray(pi, np.float64)], 1)
    d = ((q[:, None] - keys[None]) ** 2).sum(-1)
    rows = np.argmin(d, axis=1)  # first minimum = lowest index
    return np.asarray(ds.actions)[rows], rows


@pytest.mark.parametrize("backend", ["brute", "kdtree"])
def test_dataset_constraint_target_and_loss_match_numpy(backend):
    ds = random_dataset()
    config = prdc.Config(beta=2.0, backend=backend)
    prepared = prdc.prepare_data(config, ENV, ds)
    rng = np.random.default_rng(1)
    rows = rng.integers(0, ds.size, 64)
    rows[:3] = [2, 11, 12]  # duplicated pairs: the lowest row wins
    obs_n = prepared.observations[rows]
    pi = jnp.asarray(rng.uniform(-1, 1, size=(64, 1)), jnp.float32)
    pi = pi.at[:3].set(prepared.actions[rows[:3]])
    target, dist = jax.jit(prdc.dataset_constraint_target, static_argnums=(4, 5))(
        prepared.index, prepared.actions, obs_n, pi, 2.0, 1
    )
    ref_target, ref_rows = numpy_target(ds, obs_n, pi, 2.0)
    np.testing.assert_allclose(np.asarray(target), ref_target, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(target), np.asarray(prepared.actions)[ref_rows])
    assert ref_rows[:3].tolist() == [2, 2, 2]
    np.testing.assert_allclose(np.asarray(dist[:3]), 0.0, atol=1e-6)
    # the constraint: ||pi - a_hat||^2 / act_dim averaged over the batch, a_hat constant
    loss = prdc.dataset_constraint_loss(pi, target)
    np.testing.assert_allclose(float(loss), np.mean((np.asarray(pi) - ref_target) ** 2), rtol=1e-6)
    q_pi = jnp.asarray(rng.normal(size=64), jnp.float32)
    total, info = prdc.prdc_actor_loss(q_pi, pi, target, 2.5)
    lam = 2.5 / np.mean(np.abs(np.asarray(q_pi)))
    np.testing.assert_allclose(
        float(total), -lam * np.mean(np.asarray(q_pi)) + float(loss), rtol=1e-5
    )
    np.testing.assert_allclose(float(info["lambda"]), lam, rtol=1e-6)
    g = jax.grad(lambda t: prdc.prdc_actor_loss(q_pi, pi, t, 2.5)[0])(target)
    np.testing.assert_array_equal(np.asarray(g), 0.0)


def test_beta_limits():
    """beta -> large: a_hat is the action at the sample's own state (TD3+BC's target, for
    states without duplicates). beta -> 0: a_hat is the dataset action nearest to pi(s),
    whatever the state."""
    ds = random_dataset(duplicates=False)
    rng = np.random.default_rng(2)
    rows = rng.integers(0, ds.size, 128)
    pi = jnp.asarray(rng.uniform(-1, 1, size=(128, 1)), jnp.float32)
    big = prdc.prepare_data(prdc.Config(beta=1e4), ENV, ds)
    target, _ = prdc.dataset_constraint_target(
        big.index, big.actions, big.observations[rows], pi, 1e4
    )
    np.testing.assert_array_equal(np.asarray(target), np.asarray(big.actions[rows]))
    zero = prdc.prepare_data(prdc.Config(beta=0.0), ENV, ds)
    target, _ = prdc.dataset_constraint_target(
        zero.index, zero.actions, zero.observations[rows], pi, 0.0
    )
    acts = np.asarray(zero.actions)[:, 0]
    nearest = acts[np.argmin(np.abs(np.asarray(pi) - acts[None]), axis=1)]
    np.testing.assert_array_equal(np.asarray(target)[:, 0], nearest)
    # a different state, same pi: same target
    shuffled = zero.observations[rng.permutation(rows)]
    again, _ = prdc.dataset_constraint_target(zero.index, zero.actions, shuffled, pi, 0.0)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(target))


def test_prdc_recovers_an_action_seen_only_in_neighbouring_states():
    """At every flag=-1 state the dataset holds only the bad action (-0.8); the good one (0.6)
    appears at the neighbouring flag=+1 state with the same x (reward 1 - (a - 0.6)^2
    everywhere). TD3+BC clones the local bad action there; PRDC's nearest pair for a policy
    action above the midpoint is the neighbour's, so it moves to the good side. A PRDC whose
    target is the sample's own action, or whose key ignores the policy's action, stays bad."""
    env = NeighbourBandit()
    ds = neighbour_dataset()
    bad_states = jnp.asarray(np.asarray(ds.observations)[1::2])
    kw = dict(data=ds, eval_every=0, progress=False, seeds=2)
    out = {}
    for agent, config in (
        (td3_bc, td3_bc.Config(hidden_sizes=(64, 64), alpha=1.0)),
        (prdc, prdc.Config(hidden_sizes=(64, 64), alpha=1.0, beta=0.2)),
    ):
        result = jaxrl.train(agent, config, env, jax.random.key(0), 3000, **kw)
        act = jax.vmap(lambda s, a=agent, c=config: a.act(c, env, s, bad_states, None))
        out[agent.NAME] = np.asarray(act(result.state))[..., 0]  # [seeds, states]
    means = {k: v.mean(axis=1) for k, v in out.items()}
    assert (means["td3_bc"] < -0.3).all(), means  # local behaviour action (-0.8) plus a bit
    assert (means["prdc"] > 0.3).all(), means  # beyond the midpoint -0.1: the good side
    reward = {k: np.mean(1 - (v - GOOD) ** 2) for k, v in out.items()}
    assert reward["prdc"] > reward["td3_bc"] + 1.0, reward


@pytest.mark.parametrize("backend", ["brute", "kdtree"])
def test_vmap_over_seeds_equals_single_runs_and_is_deterministic(backend):
    ds = random_dataset()
    config = prdc.Config(hidden_sizes=(32, 32), batch_size=32, backend=backend)
    kw = dict(data=ds, eval_every=0, progress=False, chunk_steps=20)
    both = jaxrl.train(prdc, config, ENV, jax.random.key(5), 40, seeds=2, **kw)
    keys = jax.random.split(jax.random.key(5), 2)
    single = jaxrl.train(prdc, config, ENV, keys[1], 40, **kw)
    mine = jax.tree.map(lambda x: x[1], both.state.params)
    for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(single.state.params), strict=True):
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)
    again = jaxrl.train(prdc, config, ENV, jax.random.key(5), 40, seeds=2, **kw)
    for x, y in zip(
        jax.tree.leaves(both.state.params), jax.tree.leaves(again.state.params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_data_and_config_must_agree():
    ds = random_dataset()
    prepared = prdc.prepare_data(prdc.Config(beta=2.0), ENV, ds)
    with pytest.raises(ValueError, match="prepared for beta=2.0"):
        prdc.prepare_data(prdc.Config(beta=5.0), ENV, prepared)
    with pytest.raises(ValueError, match="Config.k"):
        prdc.Config(k=0).validate()
    with pytest.raises(data.DatasetError, match="observations: per-row shape"):
        jaxrl.train(prdc, prdc.Config(), envs.make("bandit"), jax.random.key(0), 4, data=ds)


@pytest.mark.physics
def test_prdc_smoke_on_brax_inverted_pendulum():
    """A tiny dataset of random actions collected through our rollout code, then a few PRDC
    updates and one evaluation on the real Brax env."""
    env = envs.make("brax/inverted_pendulum")
    vec = rollout.VecEnv(env, 4)
    space = env.spec.action_space

    def policy(obs, k):
        a = jax.vmap(space.sample)(jax.random.split(k, obs.shape[0]))
        return a, a, {}

    k1, k2 = jax.random.split(jax.random.key(0))
    traj = jax.jit(lambda: rollout.collect(vec, vec.reset(k1), policy, k2, 64)[1])()
    ds = data.from_transitions(jax.device_get(traj))
    config = prdc.Config(hidden_sizes=(32, 32), batch_size=64)
    result = jaxrl.train(
        prdc,
        config,
        env,
        jax.random.key(1),
        20,
        data=ds,
        chunk_steps=10,
        num_eval_episodes=2,
        progress=False,
    )
    for name in ("critic_loss", "actor_loss", "bc_loss", "dc_key_distance"):
        assert np.isfinite(result.history[name][1:]).all(), name  # row 0: the step-0 evaluation
    assert np.isfinite(result.final("eval_return"))


# --- the official per-task settings ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, task",
    [
        ("halfcheetah-medium-v2", "halfcheetah"),
        ("halfcheetah_medium_expert-v2", "halfcheetah"),
        ("hopper-medium-replay-v2", "hopper"),
        ("hopper_random-v0", "hopper"),
        ("Walker2d-Expert-v2", "walker2d"),
        ("walker2d-full-replay-v2", "walker2d"),
        ("mujoco/walker2d/simple-v0", "walker2d"),
        ("brax_hopper-medium", "hopper"),  # experiments/make_dataset.py's file names
        ("antmaze-umaze-v2", "antmaze"),
        ("antmaze-umaze-diverse-v0", "antmaze"),
        ("antmaze-medium-play-v2", "antmaze"),
        ("D4RL/antmaze/large-diverse-v1", "antmaze"),
        (("pendulum-mixed", "antmaze-large-play-v2"), "antmaze"),  # the first name that matches
    ],
)
def test_paper_task_reads_d4rl_names(name, task):
    assert prdc.paper_task(name) == task


@pytest.mark.parametrize(
    "name",
    [
        "pendulum-medium-replay",
        "brax_inverted_pendulum-medium",
        "ant-medium-v2",  # D4RL ant: the README gives no setting
        "antmaze-medium-navigate-v0",  # OGBench's antmaze, not D4RL's
        "grasshopper-medium-v2",
        "hopper-medium-v2-extra",
        "pen-human-v1",
    ],
)
def test_paper_task_refuses_other_datasets_by_name(name):
    with pytest.raises(ValueError, match=f"no official PRDC setting for dataset '{name}'"):
        prdc.paper_task(name)


def test_paper_config_sets_the_task_fields_only():
    base = prdc.Config(hidden_sizes=(32, 32), batch_size=64)
    cheetah = prdc.paper_config("halfcheetah-medium-v2", base)
    assert (cheetah.alpha, cheetah.beta, cheetah.k) == (40.0, 2.0, 1)
    assert (cheetah.reward_scale, cheetah.reward_shift) == (1.0, 0.0)
    assert (cheetah.hidden_sizes, cheetah.batch_size) == ((32, 32), 64)
    maze = prdc.paper_config("antmaze-large-diverse-v2")
    assert (maze.alpha, maze.beta, maze.reward_scale, maze.reward_shift) == (7.5, 7.5, 1e4, -1.0)
    assert dataclasses.replace(maze, alpha=2.5, beta=2.0, reward_scale=1.0, reward_shift=0.0) == (
        prdc.Config()
    )
    maze.validate()
    with pytest.raises(ValueError, match="'pendulum-mixed'"):
        prdc.paper_config("pendulum-mixed", base)


def test_antmaze_preset_shapes_the_rewards_prdc_trains_on():
    """The paper preset's antmaze shaping reaches PRDC's prepared data (10000 r - 1, by hand),
    and prepared data is refused by a config of another shaping or beta."""
    ds = random_dataset(n=200)
    sparse = np.zeros(200, np.float32)
    sparse[[0, 99, 150]] = 1.0
    ds = data.Dataset.create(**{**ds.to_numpy(), "rewards": sparse})
    config = prdc.paper_config("antmaze-umaze-v2", prdc.Config(backend="brute"))
    prepared = prdc.prepare_data(config, ENV, ds)
    expect = np.full(200, -1.0, np.float32)
    expect[[0, 99, 150]] = 9999.0
    np.testing.assert_array_equal(np.asarray(prepared.rewards), expect)
    assert prepared.beta == 7.5
    assert prdc.prepare_data(config, ENV, prepared) is prepared
    with pytest.raises(ValueError, match="prepared with reward_scale=10000.0"):
        prdc.prepare_data(dataclasses.replace(config, reward_scale=1.0), ENV, prepared)
    with pytest.raises(ValueError, match="prepared for beta=7.5"):
        prdc.prepare_data(dataclasses.replace(config, beta=2.0), ENV, prepared)


def test_scripts_apply_the_paper_preset_by_dataset_name(tmp_path):
    """``experiments/prdc.py --preset paper`` takes the setting of the dataset's task from its
    file name (or --paper-task) with --config flags on top, and refuses a dataset of no known
    task, naming it; the default preset is prdc.Config() whatever the name.
    ``prdc_vs_td3_bc.py --preset paper`` sets it per dataset, for both agents."""
    import os
    import sys

    from jaxrl import runs

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from experiments import prdc as script
    from experiments import prdc_vs_td3_bc as versus

    ds = random_dataset(n=200)
    paths = {}
    for name in ("halfcheetah-medium-v2", "pendulum-mixed"):
        paths[name] = str(tmp_path / f"{name}.npz")
        data.save_npz(ds, paths[name], card={"env": "pendulum"})

    def parse(*argv):
        return runs.parse(script.Args, list(argv), preset=script.preset)

    cheetah = paths["halfcheetah-medium-v2"]
    assert parse("--dataset", cheetah).config == prdc.Config()
    args = parse("--dataset", cheetah, "--preset", "paper", "--config.beta", "5")
    assert (args.config.alpha, args.config.beta) == (40.0, 5.0)
    assert script.setup(args)[0].config == args.config
    args = parse(
        "--dataset",
        paths["pendulum-mixed"],
        "--preset",
        "paper",
        "--paper-task",
        "antmaze-umaze-v2",
    )
    assert (args.config.alpha, args.config.reward_scale) == (7.5, 10000.0)
    args = parse("--dataset", paths["pendulum-mixed"], "--preset", "paper")
    with pytest.raises(ValueError, match="'pendulum-mixed'.*--paper-task"):
        script.setup(args)

    both = versus.Args(datasets=(cheetah, paths["pendulum-mixed"]), preset="paper")
    with pytest.raises(ValueError, match="'pendulum-mixed'.*--paper-tasks"):
        versus.setup(both)
    both = dataclasses.replace(both, paper_tasks=("halfcheetah-medium-v2", "hopper-medium-v2"))
    members = versus.setup(both)
    assert [(m.label, m.config.alpha) for m in members] == [
        ("halfcheetah-medium-v2 TD3+BC", 40.0),
        ("halfcheetah-medium-v2 PRDC", 40.0),
        ("pendulum-mixed TD3+BC", 2.5),
        ("pendulum-mixed PRDC", 2.5),
    ]
    with pytest.raises(ValueError, match="drop --config.alpha 3.0"):
        versus.setup(dataclasses.replace(both, config=prdc.Config(alpha=3.0)))
