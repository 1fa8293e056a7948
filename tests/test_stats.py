"""Paired differences with confidence intervals, against hand computations."""

import numpy as np
import pytest

from jaxrl.stats import paired_difference


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
