"""pass@k (issue 14's evaluation utility) against brute-force enumeration of k-subsets."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from jaxrl.passk import pass_at_k, pass_at_k_curve, pass_at_k_per_configuration


def brute_force(row: np.ndarray, k: int) -> Fraction:
    """The fraction of the k-subsets of the attempts that contain a success, exactly."""
    subsets = list(itertools.combinations(range(len(row)), k))
    return Fraction(sum(any(row[i] for i in s) for s in subsets), len(subsets))


@pytest.mark.parametrize("seed", range(4))
def test_pass_at_k_is_the_fraction_of_k_subsets_with_a_success(seed):
    rng = np.random.default_rng(seed)
    successes = rng.random((5, 8)) < rng.uniform(0.05, 0.6)
    for k in range(1, 9):
        exact = [brute_force(row, k) for row in successes]
        np.testing.assert_allclose(
            pass_at_k_per_configuration(successes, k), [float(f) for f in exact], rtol=1e-12
        )
        assert pass_at_k(successes, k) == pytest.approx(float(sum(exact) / len(exact)), 1e-12)


def test_edges_and_the_curve():
    never, always = np.zeros(6), np.ones(6)
    assert pass_at_k(never, 3) == 0.0 and pass_at_k(always, 1) == 1.0
    one = np.array([1, 0, 0, 0])
    np.testing.assert_allclose(pass_at_k_curve(one), [0.25, 0.5, 0.75, 1.0])  # k / n
    curve = pass_at_k_curve([[1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]])
    assert np.all(np.diff(curve) >= 0) and curve[-1] == 1.0
    np.testing.assert_allclose(pass_at_k_curve(one, ks=[2, 4]), [0.5, 1.0])


@pytest.mark.parametrize(
    "successes, k, message",
    [
        ([[1, 0, 1]], 4, r"k=4: expected an int in \[1, 3\]"),
        ([[1, 0, 1]], 0, r"k=0"),
        ([[1, 0, 1]], True, r"k=True"),
        ([[1, 0, 2]], 1, "only 0/1"),
        (np.zeros((2, 2, 2)), 1, r"got shape \(2, 2, 2\)"),
        (np.zeros((0, 3)), 1, r"got shape \(0, 3\)"),
    ],
)
def test_bad_input_names_the_argument(successes, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(successes, k)
