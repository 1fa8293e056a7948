"""DQC learns goal reaching from noisy navigate data better than its one-step variant and than
goal-conditioned flow BC, on the same data and seeds.

The dataset is generated here (:func:`jaxrl.envs.pointmaze.generate_dataset`, OGBench's recipe):
200 episodes of 1000 steps of the BFS oracle with N(0, 0.5^2) action noise, heading to random
maze vertices on ``pointmaze-medium``. Each method trains ``SEEDS`` vmapped seeds for ``STEPS``
gradient steps and is scored by its final success over the maze's five evaluation tasks
(``EVAL_EPISODES`` episodes per seed, the same number per task), averaged over seeds:

* DQC: ``presets.DQC_CPU`` (h = {h}, h_a = {h_a}, 2 x 64 networks, batch 128);
* OS: the same with ``variant="os"``, ``h = h_a = 1`` (one-step backup, single actions);
* GCFBC: ``presets.GCFBC_CPU``, flow BC towards future states, no value.

CALIBRATION
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np

import jaxrl
from jaxrl import envs
from jaxrl.agents import dqc, gcfbc, presets
from jaxrl.envs import pointmaze

STEPS = 15_000
EVAL_EVERY = 1_500
SEEDS = 8
EVAL_EPISODES = 50
LAYOUT, KIND, EPISODES = "large", "stitch", 1000
ENV = envs.make(f"pointmaze-{LAYOUT}-goal")

METHODS = {
    "dqc": (dqc, presets.DQC_CPU),
    "os": (dqc, dataclasses.replace(presets.DQC_CPU, variant="os", horizon=1, action_horizon=1)),
    "gcfbc": (gcfbc, presets.GCFBC_CPU),
    # deliberately broken variants (for the calibration script; each must fail the DQC test)
    "dqc-kappa_d-0": (dqc, dataclasses.replace(presets.DQC_CPU, kappa_d=0.0)),
    "dqc-no-bootstrap": (dqc, dataclasses.replace(presets.DQC_CPU, discount=0.0)),
}
"""Method name -> (agent module, config)."""


@functools.cache
def dataset():
    return pointmaze.generate_dataset(LAYOUT, jax.random.key(0), EPISODES, KIND)


@functools.cache
def late_success(method: str, key: int = 0, seeds: int = SEEDS) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed success ``[seeds]`` of ``method`` averaged over the evaluations of the second
    half of training (steps 9k to 15k: five evaluations of ``EVAL_EPISODES`` episodes each, a
    less noisy score than the last one alone), and per-task success ``[5, seeds]`` averaged the
    same way."""
    agent, config = METHODS[method]
    result = jaxrl.train(
        agent,
        config,
        ENV,
        jax.random.key(key),
        STEPS,
        data=dataset(),
        seeds=seeds,
        eval_every=EVAL_EVERY,
        num_eval_episodes=EVAL_EPISODES,
        progress=False,
    )
    h = result.history
    late = np.asarray(h["step"]) > STEPS // 2
    tasks = np.stack([np.asarray(h[f"eval_success_task{i}"])[late].mean(axis=0) for i in range(5)])
    return np.asarray(h["eval_success"], np.float64)[late].mean(axis=0), tasks


def test_dqc_beats_one_step_and_flow_bc_on_the_same_seeds():
    """DQC's mean success is well above the one-step variant's and flow BC's (thresholds and
    their margins in the module docstring)."""
    d, d_tasks = late_success("dqc")
    o, _ = late_success("os")
    b, _ = late_success("gcfbc")
    assert d.mean() > 0.25, (d, d_tasks.mean(axis=1))
    assert d.mean() - o.mean() > 0.12, (d, o)
    assert d.mean() - b.mean() > 0.12, (d, b)
