"""Zero-shot learning on the four rooms: FB, BREEZE and TD-JEPA, trained on RND's reward-free
data, beat a random policy on every one of the four reach tasks they never saw a reward of during
training; BREEZE's actions stay closer to the data's than FB's.

Both agents share one setup (:func:`zero_shot_returns`): the same RND dataset per data key, the
same seeds, gradient steps, task inference and evaluation episodes, so the figures in the
docstrings compare like with like. Calibrate with ``python tests/calibrate.py fb --keys 0 1``
``python tests/calibrate.py breeze --keys 0 1`` and ``python tests/calibrate.py td_jepa --keys 0
1`` (the per-seed returns of each agent, of the
broken variant and of the random policy for each data key)."""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs, neighbors, zero_shot
from jaxrl.agents import breeze, fb, rnd, td_jepa
from jaxrl.agents.presets import BREEZE_CPU, FB_CPU, RND_PRESETS, TD_JEPA_CPU
from jaxrl.data import concatenate

DOMAIN = "reach/fourrooms"
EVAL_DOMAIN = "reach/fourrooms-anywhere"
SEEDS = int(os.environ.get("FB_SEEDS", 8))
STEPS = 1000
EXPLORE_ITERATIONS = 40  # 16 envs x 64 steps each: 40,960 env steps of RND
EPISODES = 32
TASKS = ("reach_top_left", "reach_top_right", "reach_bottom_left", "reach_bottom_right")
NEIGHBOURS = 8
"""Dataset states whose actions an evaluation action is compared with (:func:`action_gaps`)."""
PROBE_STATES = 512
"""Dataset states the in-sample property is measured at, per task."""


@functools.cache
def rnd_dataset(key: int):
    """ExORL's recipe at CPU scale: RND (the domain's preset) explores for 40 iterations; the
    policy at iterations 10, 20, 30 and 40 each collects 50 episodes of 200 steps (40,000
    rows with every task's reward). Cached per key: both agents train on the same data."""
    env = envs.make(DOMAIN)
    config = RND_PRESETS[DOMAIN]
    k_init, k_collect = jax.random.split(jax.random.key(key))
    state = rnd.init(config, env, k_init)
    train = jax.jit(
        lambda s: jax.lax.scan(lambda c, _: rnd.train_step(config, env, c), s, None, 10)[0]
    )

    def policy(obs, k, s):
        return rnd.act(config, env, s, obs, k, deterministic=False)

    parts = []
    for i in range(4):
        state = train(state)
        parts.append(
            zero_shot.collect(env, policy, jax.random.fold_in(k_collect, i), 50, 200, state)
        )
    return concatenate(parts)


def narrow_behaviour(obs: jax.Array, key: jax.Array) -> jax.Array:
    """A behaviour policy with a narrow action distribution at every state: a smooth direction
    field over the maze, ``0.7 (sin 2x, cos 1.7y)``, plus Gaussian noise of std 0.1 (RND's data
    are too spread for an in-sample test: 40 % of its actions sit on the box's bounds and any
    action, uniform ones included, is 0.5-0.6 from the nearest of its neighbours')."""
    x, y = obs[:, 0], obs[:, 1]
    field = 0.7 * jnp.stack([jnp.sin(2.0 * x), jnp.cos(1.7 * y)], axis=-1)
    return jnp.clip(field + 0.1 * jax.random.normal(key, field.shape), -1.0, 1.0)


@functools.cache
def narrow_dataset(key: int):
    """50 episodes of 200 steps of :func:`narrow_behaviour` from the top-left room (10,000
    rows with every task's reward)."""
    env = envs.make(DOMAIN)
    return zero_shot.collect(env, narrow_behaviour, jax.random.key(1000 + key), 50, 200)


def action_gaps(actions: jax.Array, neighbour_actions: jax.Array) -> jax.Array:
    """Per row, the distance from ``actions [N, A]`` (in ``[-1, 1]`` units) to the nearest of
    ``neighbour_actions [N, k, A]``, the dataset's actions at the ``NEIGHBOURS`` dataset states
    nearest each row's state: how far an action is from what the data did there."""
    return jnp.min(jnp.linalg.norm(neighbour_actions - actions[:, None], axis=-1), axis=1)


@functools.cache
def zero_shot_returns(
    data_key: int,
    agent: Any = fb,
    config: Any = FB_CPU,
    seeds: int = SEEDS,
    data_name: str = "rnd",
    steps: int = STEPS,
    evaluate: bool = True,
) -> dict[str, Any]:
    """Train ``agent`` (``fb``, ``breeze`` or ``td_jepa``, ``config``) for ``steps`` gradient
    steps on the data ``data_name`` (``"rnd"``: :func:`rnd_dataset`, ``"narrow"``:
    :func:`narrow_dataset`) of ``data_key``, the first ``seeds`` of the SEEDS calibrated seeds,
    and return ``gap``: ``[seeds]`` mean :func:`action_gaps` of the agent's actions for each
    task (z inferred from the dataset's stored rewards of that task) at PROBE_STATES dataset
    states; with ``evaluate``, ``agent``: ``[seeds, 4]`` zero-shot returns on each task,
    EPISODES episodes from random starts anywhere in the maze, and ``random``: ``[4]`` returns
    of a uniformly random policy. Cached: tests of this module share runs."""
    env = envs.make(DOMAIN)
    eval_env = envs.make(EVAL_DOMAIN)
    data = rnd_dataset(data_key) if data_name == "rnd" else narrow_dataset(data_key)
    prepared = agent.prepare_data(config, env, data)
    assert tuple(env.task_names) == TASKS
    rewards = jnp.stack([data.task_rewards[t] for t in TASKS], axis=1)
    keys = jax.random.split(jax.random.key(100 + data_key), SEEDS)[:seeds]
    # never vmap an orthogonal init on CPU (batched QR can deadlock): init seed by seed
    states = jax.jit(jax.lax.map, static_argnums=0)(
        lambda k: agent.init(config, env, k, prepared), keys
    )
    probe = jax.random.choice(jax.random.key(11), data.observations.shape[0], (PROBE_STATES,))
    probe_obs = data.observations[probe]
    _, rows = neighbors.query(neighbors.build_index(data.observations), probe_obs, NEIGHBOURS)
    neighbour_actions = prepared.actions[rows]  # in [-1, 1], as the agents act

    def train_and_evaluate(state):
        state, _ = jax.lax.scan(
            lambda s, _: agent.train_step(config, env, s, prepared), state, None, steps
        )
        task_z = jnp.stack(
            [
                agent.infer_task_from_data(
                    config, env, state, prepared, rewards[:, t], jax.random.key(t)
                )
                for t in range(rewards.shape[1])
            ]
        )

        def policy(obs, z, k):
            return agent.policy(config, env, state, obs, z, k)

        gaps = [
            action_gaps(
                policy(probe_obs, jnp.broadcast_to(z, (PROBE_STATES, z.shape[0])), k),
                neighbour_actions,
            )
            for z, k in zip(task_z, jax.random.split(jax.random.key(8), len(TASKS)), strict=True)
        ]
        if not evaluate:
            return jnp.zeros(len(TASKS)), jnp.mean(jnp.stack(gaps))
        out = zero_shot.evaluate_zero_shot(eval_env, policy, task_z, jax.random.key(7), EPISODES)
        return out["return"], jnp.mean(jnp.stack(gaps))

    returns, gap = jax.jit(jax.vmap(train_and_evaluate))(states)
    if not evaluate:
        return {"gap": np.asarray(gap)}
    return {"agent": np.asarray(returns), "gap": np.asarray(gap), "random": random_returns()}


@functools.cache
def random_returns() -> np.ndarray:
    """``[4]`` returns of a uniformly random policy on each task, EPISODES x SEEDS episodes from
    random starts anywhere (the same for every agent, data key and ``seeds``: computed once for
    the module's three zero-shot tests, in one compiled program; eagerly, each call traced and
    compiled the loop anew and ran its setup op by op)."""

    def uniform(obs, z, k):
        return jax.random.uniform(k, obs.shape, minval=-1.0, maxval=1.0)

    evaluate = jax.jit(
        lambda k: zero_shot.evaluate_zero_shot(
            envs.make(EVAL_DOMAIN), uniform, jnp.zeros((4, 1)), k, EPISODES * SEEDS
        )["return"]
    )
    return np.asarray(evaluate(jax.random.key(7)))


def passes(returns: np.ndarray, random: np.ndarray) -> bool:
    """The criterion: on every task the mean over seeds is more than twice the random policy's
    return and more than 10 above it (returns over 200 steps, 1 per step at the target)."""
    mean = returns.mean(axis=0)
    return bool(np.all((mean > random + 10.0) & (mean > 2.0 * random)))


def test_fb_beats_a_random_policy_on_every_task_zero_shot():
    """Calibration (``python tests/calibrate.py fb --keys 0 1``, 2-core CPU; mean over 8 seeds
    per task [top_left, top_right, bottom_left, bottom_right], from random starts anywhere):

    - random policy: [11.2, 14.2, 9.7, 13.0]
    - FB, data key 0: [104.1, 56.8, 84.1, 83.1]; lowest seed per task [78.3, 30.5, 55.7, 67.0]
    - FB, data key 1: [91.0, 62.2, 72.0, 79.2]; lowest seed per task [83.4, 49.0, 55.6, 65.6]
    - broken (F and B never train, the actor trains on them: :data:`BROKEN`), key 0: [26.5,
      14.4, 63.4, 17.9]; key 1: [27.5, 7.8, 27.1, 27.5]; it passes some tasks by luck of a seed
      or two, never top_right (threshold 28.4), so ``passes`` is False on both keys. The suite
      runs FB only (the broken runs are calibration's: 70-90 s more each).

    The threshold (mean > 2 x random and > random + 10 on every task) sits 28 or more below
    FB's means (top_right, about four standard errors of its 8-seed mean) and 14 above the
    broken variant's best top_right. Earlier settings are in ``presets.FB_CPU``'s docstring
    (batch 128 left seeds near 0; FB's returns drift down after ~1500 steps at lr 1e-3)."""
    out = zero_shot_returns(0)
    assert passes(out["agent"], out["random"]), (out["agent"].mean(0), out["random"])


BROKEN = fb.replace(FB_CPU, learning_rate=0.0)
"""FB's broken variant: F and B never train (learning rate 0), the actor trains on them."""


BREEZE_BROKEN = breeze.replace(BREEZE_CPU, learning_rate=0.0)
"""BREEZE's broken variant: F and B never train; V and the actor train on them."""

BREEZE_SEEDS = 3
"""Seeds of BREEZE in the zero-shot test (the first 3 of the 8 calibrated; BREEZE's step costs
about 10 of FB's at this scale)."""
BREEZE_VS_FB = 0.6
"""BREEZE's mean return over tasks and seeds must be at least this share of FB's."""


def test_breeze_beats_a_random_policy_on_every_task_and_stays_near_fb_zero_shot():
    """Same data, steps, task inference and evaluation as FB's test. Calibration (``python
    tests/calibrate.py breeze --keys 0 1``, 8 seeds; [top_left, top_right, bottom_left,
    bottom_right]):

    - BREEZE, data key 0: [61.1, 49.3, 59.7, 95.8] (mean 66.4; FB's 82.0); lowest seed per task
      [54.0, 14.5, 54.6, 81.9]; the first 3 seeds' mean over tasks 69.5
    - BREEZE, data key 1: [57.2, 54.2, 76.6, 87.3] (mean 68.8; FB's 76.1); lowest seed per task
      [40.7, 48.3, 71.2, 77.3]
    - broken (F and B never train; V and the actor train on them: :data:`BREEZE_BROKEN`),
      key 0: [16.4, 26.3, 40.3, 37.6], mean 30.1; its first 3 seeds [13.1, 19.8, 36.7, 28.3]
      fail ``passes`` (top_left and top_right) and the FB share (0.30 of FB's mean)

    At 1,000 gradient steps on RND's broad data BREEZE does not match FB here: its mean over
    tasks is 0.81 of FB's on key 0 (0.90 on key 1). The test asserts what holds: it beats
    the random policy on every task (``passes``; its 3-seed means sit 7 or more above the
    threshold even for the 3 worst seeds of top_right) and its mean over tasks and seeds is at
    least 0.6 of FB's (the worst 3 of 8 seeds give 0.73 on key 0)."""
    out = zero_shot_returns(0, breeze, BREEZE_CPU, BREEZE_SEEDS)
    assert passes(out["agent"], out["random"]), (out["agent"].mean(0), out["random"])
    fb_mean = zero_shot_returns(0)["agent"].mean()  # FB's test's run (cached)
    assert out["agent"].mean() >= BREEZE_VS_FB * fb_mean, (out["agent"].mean(0), fb_mean)


TD_JEPA_SYM = td_jepa.replace(TD_JEPA_CPU, symmetric=True)
"""TD-JEPA-sym at the CPU preset (one encoder and one predictor; calibration only)."""
TD_JEPA_BROKEN = td_jepa.replace(TD_JEPA_CPU, learning_rate=0.0, psi_learning_rate=0.0)
"""TD-JEPA's broken variant: the encoders and predictors never train; the actor trains on them."""
TD_JEPA_SEEDS = 4
"""Seeds of TD-JEPA in the zero-shot test (the first 4 of the 8 calibrated)."""
TD_JEPA_VS_FB = 0.75
"""TD-JEPA's mean return over tasks and seeds must be at least this share of FB's."""


def test_td_jepa_beats_a_random_policy_on_every_task_and_stays_near_fb_zero_shot():
    """Same data, steps, task inference (least squares on psi(s') where FB takes the mean of r
    B) and evaluation as FB's test. Calibration (``python tests/calibrate.py td_jepa --keys 0
    1``, 8 seeds; [top_left, top_right, bottom_left, bottom_right]):

    - TD-JEPA, data key 0: [105.8, 49.2, 68.4, 91.7] (mean 78.8; FB's 82.0: 0.96); lowest seed
      per task [98.9, 0.02, 0.57, 70.2] (one seed of eight misses two rooms); per-seed means
      over tasks 49.8-97.0 (std 13.6)
    - TD-JEPA, data key 1: [105.5, 67.9, 77.7, 77.6] (mean 82.2; FB's 76.1: 1.08); lowest seed
      per task [61.4, 49.0, 54.7, 1.6]
    - TD-JEPA-sym (:data:`TD_JEPA_SYM`), key 0: [97.3, 16.9, 61.0, 50.2] (mean 56.4), fails
      ``passes`` on top_right; key 1: [109.1, 54.4, 65.3, 82.8] (mean 77.9), passes. The
      asymmetric agent is the stronger one here (the paper's Table 3 has it ahead too, by less:
      661.2 against 657.5 on proprioceptive DMC)
    - broken (:data:`TD_JEPA_BROKEN`: encoders and predictors never train, the actor trains on
      them), key 0: [23.2, 20.2, 9.0, 10.6] (mean 15.7, 0.19 of FB's): fails both criteria

    The test runs the first 4 seeds of key 0: [107.4, 65.1, 74.1, 95.0], mean 85.4. Margins,
    counted in standard errors of a 4-seed mean with the 8 seeds' spread: the weakest task is
    top_right, 65.1 against the ``passes`` threshold 28.4 (2.9 errors, the spread inflated by the
    one seed that failed it); the mean over tasks is 85.4 against the share's 0.75 x 82.0 = 61.5
    (3.4 errors); the 8-seed means (78.8, top_right 49.2) pass as well. With the
    orthonormality coefficient at the DMC launch's 0.1 instead of the
    preset's 3 (4 seeds, key 0) TD-JEPA's mean was 41.6 and top_right 3.2: see
    ``presets.TD_JEPA_CPU``."""
    out = zero_shot_returns(0, td_jepa, TD_JEPA_CPU, TD_JEPA_SEEDS)
    assert passes(out["agent"], out["random"]), (out["agent"].mean(0), out["random"])
    fb_mean = zero_shot_returns(0)["agent"].mean()  # FB's test's run (cached)
    assert out["agent"].mean() >= TD_JEPA_VS_FB * fb_mean, (out["agent"].mean(0), fb_mean)


IN_SAMPLE_STEPS = 500
"""Gradient steps of the in-sample test (on :func:`narrow_dataset`)."""
IN_SAMPLE_SEEDS = 2
"""Seeds of each agent in the in-sample test (the first 2 of the 8 calibrated)."""
IN_SAMPLE_GAP = 0.33
"""The in-sample threshold on the mean action gap (between BREEZE's and FB's seeds, below)."""


def test_breeze_acts_in_sample_where_fb_does_not():
    """On data whose actions are narrow at every state (:func:`narrow_behaviour`), after
    IN_SAMPLE_STEPS gradient steps, the distance from each agent's action (for each of the four
    inferred tasks, at 512 dataset states) to the nearest of the dataset's actions at the 8
    nearest dataset states (``jaxrl.neighbors``). Calibration (``python tests/calibrate.py
    in_sample --keys 0``, 8 seeds): BREEZE 0.229 (seeds 0.20-0.25), FB's TD3 actor 0.520
    (0.41-0.67); the threshold 0.33 sits between the two ranges of single seeds, and BREEZE's
    gap is under 0.7 x FB's (for the worst pairs of seeds, 0.247 against 0.421: 0.59). With the
    paper's actor EMA rate 0.001 instead of the CPU preset's 0.02, BREEZE's gap was 1.14 (the
    EMA actor was still 61 % its random init): this test fails then."""
    kw = dict(data_name="narrow", steps=IN_SAMPLE_STEPS, evaluate=False)
    fb_gap = zero_shot_returns(0, fb, FB_CPU, IN_SAMPLE_SEEDS, **kw)["gap"]
    breeze_gap = zero_shot_returns(0, breeze, BREEZE_CPU, IN_SAMPLE_SEEDS, **kw)["gap"]
    assert breeze_gap.mean() < IN_SAMPLE_GAP < fb_gap.mean(), (breeze_gap, fb_gap)
    assert breeze_gap.mean() < 0.7 * fb_gap.mean(), (breeze_gap, fb_gap)
