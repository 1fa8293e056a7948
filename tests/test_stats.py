"""Paired differences, the interquartile mean and its stratified bootstrap interval, against
hand computations."""

import numpy as np
import pytest
from scipy import stats

from jaxrl.stats import bootstrap_ci, iqm, paired_difference


def test_paired_difference_matches_hand_computation():
    """d = a - b = [1, 2, 3, 4]: mean 2.5, sd sqrt(5/3), se sd/2; t(0.975, 3) = 3.182446305."""
    a = np.array([11.0, 12.0, 13.0, 14.0])
    b = np.array([10.0, 10.0, 10.0, 10.0])
    diff = paired_difference(a, b)
    half = 3.182446305284263 * np.sqrt(5.0 / 3.0) / 2.0
    assert diff.mean == pytest.approx(2.5)
    assert diff.low == pytest.approx(2.5 - half) and diff.high == pytest.approx(2.5 + half)
    assert diff.n == 4 and diff.significant
    # t = 2.5 / (sd / 2) = 3.873 with 3 dof: two-sided p = 0.0305
    assert diff.p_value == pytest.approx(0.030466, abs=1e-5)
    assert "95% CI over 4 paired seeds" in str(diff)


def test_paired_difference_straddling_zero_is_not_significant():
    diff = paired_difference([1.0, -1.0, 2.0, -2.0], [0.0, 0.0, 0.0, 0.0])
    assert diff.low < 0 < diff.high and not diff.significant


def test_constant_difference_is_a_point():
    diff = paired_difference([3.0, 4.0], [1.0, 2.0])
    assert (diff.mean, diff.low, diff.high) == (2.0, 2.0, 2.0) and diff.significant


@pytest.mark.parametrize(
    "a, b, match",
    [
        ([1.0, 2.0], [1.0], "must be \\[seeds\\]"),
        ([1.0], [1.0], "at least 2"),
        ([1.0, np.nan], [1.0, 2.0], "finite"),
    ],
)
def test_bad_input_names_the_problem(a, b, match):
    with pytest.raises(ValueError, match=match):
        paired_difference(a, b)


@pytest.mark.parametrize(
    "x, expected",
    [
        (np.arange(1.0, 9.0), 4.5),  # 1..8: cut 2 from each end, mean of 3..6
        (np.arange(1.0, 11.0), 5.5),  # 1..10: cut floor(2.5) = 2, mean of 3..8
        ([3.0, 1.0, 2.0], 2.0),  # under 4 values: nothing cut
        ([0.0, 100.0, 0.0, 0.0], 0.0),  # cut one from each end: mean of 0, 0
        ([[8.0, 1.0], [5.0, 2.0], [3.0, 100.0]], 4.5),  # all six: 1 | 2 3 5 8 | 100
    ],
)
def test_iqm_matches_hand_computation(x, expected):
    assert iqm(x) == pytest.approx(expected)


def test_iqm_matches_scipy_trim_mean_and_reduces_an_axis():
    rng = np.random.default_rng(0)
    for n in range(1, 14):
        x = rng.normal(size=n)
        assert iqm(x) == pytest.approx(stats.trim_mean(x, 0.25)), n
    x = rng.normal(size=(5, 9))
    np.testing.assert_allclose(iqm(x, axis=-1), stats.trim_mean(x, 0.25, axis=-1))
    np.testing.assert_allclose(iqm(x, axis=0), stats.trim_mean(x, 0.25, axis=0))
    with pytest.raises(ValueError, match="no values"):
        iqm([])


def test_bootstrap_of_two_seeds_spans_both():
    """One task, seeds [0, 1]: a resample is {0, 0}, {0, 1}, {1, 0} or {1, 1}, each with
    probability 1/4, so the resampled IQM (the mean of two) is 0, 0.5 or 1 and the 2.5 and
    97.5 percentiles are 0 and 1."""
    ci = bootstrap_ci([0.0, 1.0])
    assert (ci.value, ci.low, ci.high) == (0.5, 0.0, 1.0)
    assert (ci.tasks, ci.seeds, ci.reps, ci.confidence) == (1, 2, 10_000, 0.95)
    assert "95% CI" in str(ci)


def test_bootstrap_resamples_seeds_within_each_task():
    """Tasks [0, 1] and [10, 10]: every resample holds two values of task 0 and two 10s. Both
    0s (probability 1/4): IQM of 0 0 10 10 = 5; otherwise a 1 is among the middle two: 5.5. So
    the interval is [5, 5.5] around the IQM 5.5 of the scores. A bootstrap over all four
    scores at once would also draw 0 0 0 0 (IQM 0)."""
    ci = bootstrap_ci([[0.0, 1.0], [10.0, 10.0]], reps=4000)
    assert (ci.value, ci.low, ci.high) == (5.5, 5.0, 5.5)
    same = bootstrap_ci([[0.0, 0.0], [10.0, 10.0]])
    assert (same.value, same.low, same.high) == (5.0, 5.0, 5.0)


def test_bootstrap_is_deterministic_per_seed_and_takes_any_statistic():
    x = np.random.default_rng(1).normal(size=(4, 5))
    a, b = bootstrap_ci(x, seed=3), bootstrap_ci(x, seed=3)
    assert a == b and a.low <= a.value <= a.high
    assert bootstrap_ci(x, seed=4) != a
    mean = bootstrap_ci(x, np.mean, confidence=0.5, reps=500)
    assert mean.value == pytest.approx(x.mean()) and mean.low < mean.value < mean.high
    narrow = bootstrap_ci(x, np.mean, confidence=0.2, reps=500)
    assert mean.low < narrow.low <= narrow.high < mean.high


@pytest.mark.parametrize(
    "scores, kwargs, match",
    [
        (np.zeros((2, 2, 2)), {}, "tasks, seeds"),
        (np.zeros((0, 2)), {}, "tasks, seeds"),
        ([1.0, np.nan], {}, "finite"),
        ([1.0, 2.0], {"confidence": 1.0}, "confidence"),
        ([1.0, 2.0], {"reps": 0}, "reps"),
    ],
)
def test_bootstrap_bad_input_names_the_problem(scores, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(scores, **kwargs)
