"""Zero-shot pipeline smoke test on the Playground walker (``dmc/walker``): a tiny RND
exploration, its data collected with every task's reward, relabelled from the stored physics, a
few steps each of FB, BREEZE (the paper's attention networks, tiny) and TD-JEPA (the DMC
launch's linear phi) on it and a zero-shot evaluation of every task by each, all with finite
numbers.

Nothing here measures learning (tests/test_fb.py and tests/test_rnd.py do, on the cheap reach
domain); this checks that the pieces fit on a MuJoCo domain. Compiling MJX on a CPU is the cost,
so the domain is built once and only four programs step it: RND's init and iterations (one jit),
the collection, the relabelling (the reward rebuild only) and each agent's evaluation (which
unrolls one rollout per task: most of the module's compile time). They are compiled with
``jax_disable_most_optimizations`` (this module only): the programs run for a few hundred steps,
so XLA's optimisation passes cost more than they save (on a 2-core CPU the module's compile time
drops by about a third, to about 2 minutes of CPU time).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl import envs, zero_shot
from jaxrl.agents import breeze, fb, rnd, td_jepa

pytestmark = pytest.mark.physics

EPISODE = 20
"""The walker's time limit here (steps per episode)."""
NUM_ENVS = 2
COLLECT_STEPS = 2 * EPISODE  # per env: two whole episodes each (autoreset)
RND_ITERATIONS = 2

RND = rnd.Config(
    num_envs=NUM_ENVS,
    num_steps=10,
    num_epochs=1,
    num_minibatches=2,
    hidden_sizes=(16, 16),
    rnd_hidden_sizes=(16,),
    rnd_embedding_dim=8,
    rnd_minibatches=2,
)
FB = fb.Config(
    z_dim=4,
    batch_size=8,
    preprocess_hidden=16,
    preprocess_dim=16,
    forward_hidden_sizes=(16,),
    backward_hidden_sizes=(16, 16),
    actor_hidden_sizes=(16,),
    inference_samples=NUM_ENVS * COLLECT_STEPS,
)
BREEZE = breeze.Config(
    z_dim=4,
    batch_size=8,
    preprocess_hidden=16,
    preprocess_dim=8,
    forward_hidden_sizes=(8,),
    attention_blocks=1,
    attention_ff=16,
    backward_dim=8,
    backward_layers=1,
    value_hidden=16,
    actor_hidden=8,
    actor_blocks=1,
    time_features=8,
    time_hidden=8,
    train_samples=2,
    eval_samples=2,
    inference_samples=NUM_ENVS * COLLECT_STEPS,
)
"""BREEZE with the paper's attention F and transformer B (tiny widths) and its diffusion
actor."""
TD_JEPA = td_jepa.Config(
    z_dim=4,
    phi_dim=8,
    batch_size=8,
    psi_hidden_sizes=(16, 16),
    predictor_hidden=16,
    actor_hidden=16,
    inference_samples=NUM_ENVS * COLLECT_STEPS,
)
"""TD-JEPA with the DMC launch's shapes (a linear phi, a two-layer psi), tiny widths."""
LOSSES = {
    "fb": ("fb_loss", "ortho_loss"),
    "breeze": ("fb_loss", "ortho_loss"),
    "td_jepa": ("representation_loss", "pred_phi_loss", "pred_psi_loss", "ortho_psi"),
}
"""The representation-loss metrics each agent reports."""
FB_STEPS = 5


@pytest.fixture(scope="module", autouse=True)
def _quick_compiles():
    """Compile this module's programs with XLA's optimisations mostly off, then restore the
    flag (a process-wide setting; an xdist worker runs other modules afterwards)."""
    before = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", before)


@pytest.fixture(scope="module")
def walker():
    return envs.make("dmc/walker", max_episode_steps=EPISODE)


@pytest.fixture(scope="module")
def explored(walker):
    """RND's state after ``RND_ITERATIONS`` iterations (init and training in one program) and
    the metrics of each iteration."""

    @jax.jit
    def explore(key):
        state = rnd.init(RND, walker, key)
        return jax.lax.scan(
            lambda s, _: rnd.train_step(RND, walker, s), state, None, RND_ITERATIONS
        )

    return explore(jax.random.key(0))


@pytest.fixture(scope="module")
def dataset(walker, explored):
    state, _ = explored
    return zero_shot.collect(
        walker,
        lambda obs, k: rnd.act(RND, walker, state, obs, k, deterministic=False),
        jax.random.key(1),
        NUM_ENVS,
        COLLECT_STEPS,
    )


def _finite(tree) -> bool:
    return all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(tree))


def test_rnd_explores_the_walker(walker, explored):
    state, metrics = explored
    assert int(state.step) == RND_ITERATIONS
    for name in ("rnd_intrinsic_reward", "rnd_prediction_error", "rnd_predictor_loss"):
        values = np.asarray(metrics[name])
        assert values.shape == (RND_ITERATIONS,) and np.isfinite(values).all(), (name, values)
    assert (np.asarray(metrics["rnd_prediction_error"]) > 0).all()
    assert _finite(state.params) and _finite(state.predictor_params)


def test_collected_data_relabel_to_the_stored_task_rewards(walker, dataset):
    n = NUM_ENVS * COLLECT_STEPS
    assert dataset.size == n
    assert dataset.observations.shape == (n, 24) and dataset.actions.shape == (n, 6)
    assert set(dataset.task_rewards) == set(walker.task_names) == {"stand", "walk", "run", "flip"}
    assert set(dataset.physics) == {"next_qpos", "next_qvel"}
    np.testing.assert_array_equal(dataset.rewards, 0.0)  # reward-free
    assert int(np.asarray(dataset.timeouts).sum()) == NUM_ENVS * COLLECT_STEPS // EPISODE
    stored = np.stack([np.asarray(dataset.task_rewards[t]) for t in walker.task_names], axis=-1)
    assert stored.shape == (n, 4) and _finite(stored)
    assert ((stored >= 0) & (stored <= 1)).all()
    relabelled = np.asarray(zero_shot.relabel(walker, dataset))
    assert relabelled.shape == (n, 4)
    np.testing.assert_allclose(relabelled, stored, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "agent, config",
    [(fb, FB), (breeze, BREEZE), (td_jepa, TD_JEPA)],
    ids=["fb", "breeze", "td_jepa"],
)
def test_zero_shot_agent_trains_and_evaluates_on_the_walker(walker, dataset, agent, config):
    result = jaxrl.train(
        agent, config, walker, jax.random.key(2), FB_STEPS, data=dataset, eval_every=0,
        progress=False,
    )  # fmt: skip
    state = result.state
    assert int(state.step) == FB_STEPS
    for name in (*LOSSES[agent.NAME], "actor_loss", "q_mean"):
        assert np.isfinite(np.asarray(result.history[name])).all(), name
    assert _finite(state.params)

    task_z = jnp.stack(
        [
            agent.infer_task(
                config, walker, state, dataset.next_observations, dataset.task_rewards[t]
            )
            for t in walker.task_names
        ]
    )
    assert task_z.shape == (4, config.z_dim) and _finite(task_z)
    np.testing.assert_allclose(np.linalg.norm(task_z, axis=-1), np.sqrt(config.z_dim), rtol=1e-5)

    def policy(obs, z, key):
        return agent.policy(config, walker, state, obs, z, key)

    evaluate = jax.jit(
        lambda z, k: zero_shot.evaluate_zero_shot(walker, policy, z, k, 2, max_steps=EPISODE)
    )
    out = evaluate(task_z, jax.random.key(3))
    assert set(out) == {"return", "return_std"}
    for name, value in out.items():
        assert value.shape == (4,) and _finite(value), (name, value)
    # every task's reward is in [0, 1] per step
    assert (np.asarray(out["return"]) >= 0).all()
    assert (np.asarray(out["return"]) <= EPISODE).all()
