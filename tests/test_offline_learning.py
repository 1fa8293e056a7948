"""Offline learning: TD3+BC and PRDC against behaviour cloning, on a dataset where cloning is poor.

The dataset (:func:`offline_problems.pendulum_random_plus_good`) is half uniformly random
episodes and half a noisy swing-up controller's. Behaviour cloning (TD3+BC with ``alpha = 0``:
the Q term off, everything else equal) regresses to the average of the two and cannot swing up,
so beating it by a wide margin on the same seeds is evidence for the Q-learning part, which is
what these tests are about. Each method trains ``SEEDS`` vmapped seeds for ``STEPS`` gradient
steps and is scored by the mean over seeds of its final evaluation (32 episodes per seed).

Calibration (``python tests/calibrate.py offline``; two disjoint sets of 8 seeds, keys 0 and
1; per-seed final returns, mean [min, max]; noiseless controller about -150, random policy
about -1200):

========================================  ======================  ======================
method                                    key 0                   key 1
========================================  ======================  ======================
BC (TD3+BC with ``alpha = 0``)            -841 [-1061, -706]      -822 [-966, -620]
TD3+BC (shipped defaults)                 -512 [-734, -403]       -514 [-701, -369]
PRDC (shipped defaults, ``beta = 2``)     -151 [-180, -126]       -151 [-180, -119]
broken: TD3+BC, frozen target (tau = 0)   -838 [-1035, -716]      -826 [-971, -589]
broken: PRDC, Q term off (alpha = 0)      -1293 [-1474, -992]     -1312 [-1559, -1108]
========================================  ======================  ======================

Thresholds, on the 8-seed means: TD3+BC beats BC by more than 100 (measured 329 and 307)
and scores above -650; PRDC beats BC by more than 400 (690 and 671) and scores above -300.
Per-seed standard deviations are about 115 (BC, TD3+BC) and 20 (PRDC), so an 8-seed mean has a
standard error of about 40 and a difference of two such means about 57 (if the shared keys
did not correlate them at all): the TD3+BC gap threshold is 3.6 such errors below the lower
calibration set (the two sets differ by 22), its -650 is 3.4, and PRDC's thresholds are
five or more. The broken variants miss: a frozen target gives gaps of +3 and -4, PRDC
without its Q term scores about -1300, below BC.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from offline_problems import pendulum_random_plus_good

import jaxrl
from jaxrl import envs
from jaxrl.agents import prdc, td3_bc

STEPS = 20_000
SEEDS = 8
ENV = envs.make("pendulum")

METHODS = {
    "bc": (td3_bc, td3_bc.Config(hidden_sizes=(64, 64), alpha=0.0)),
    "td3_bc": (td3_bc, td3_bc.Config(hidden_sizes=(64, 64))),
    "prdc": (prdc, prdc.Config(hidden_sizes=(64, 64))),
    # deliberately broken variants (for the calibration script; each must fail its test)
    "td3_bc-frozen-target": (td3_bc, td3_bc.Config(hidden_sizes=(64, 64), tau=0.0)),
    "prdc-no-q": (prdc, prdc.Config(hidden_sizes=(64, 64), alpha=0.0)),
}
"""The shipped defaults (``prdc.Config().beta`` included) with (64, 64) networks."""


@functools.cache
def dataset():
    return pendulum_random_plus_good()


@functools.cache
def final_returns(method: str, key: int = 0, seeds: int = SEEDS) -> np.ndarray:
    """Per-seed final evaluation returns ``[seeds]`` of ``method`` (a key of ``METHODS``)."""
    agent, config = METHODS[method]
    ds, _, _ = dataset()
    result = jaxrl.train(
        agent,
        config,
        ENV,
        jax.random.key(key),
        STEPS,
        data=ds,
        seeds=seeds,
        eval_every=STEPS,
        num_eval_episodes=32,
        progress=False,
    )
    return np.asarray(result.history["eval_return"], np.float64)[-1]


def test_behaviour_cloning_is_poor_on_this_dataset():
    """The premise: cloning stays far below the controller (about -150), so the margins below
    measure what the Q term adds."""
    bc = final_returns("bc")
    assert bc.mean() < -600, bc


def test_td3_bc_beats_behaviour_cloning():
    td3 = final_returns("td3_bc")
    bc = final_returns("bc")
    assert td3.mean() - bc.mean() > 100, (td3, bc)
    assert td3.mean() > -650, td3


def test_prdc_beats_behaviour_cloning_with_its_default_beta():
    assert prdc.Config().beta == 2.0  # the shipped default, not a test-only setting
    p = final_returns("prdc")
    bc = final_returns("bc")
    assert p.mean() - bc.mean() > 400, (p, bc)
    assert p.mean() > -300, p
