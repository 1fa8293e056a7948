"""``jaxrl.config.check_ranges``: the shared range check behind every agent's ``validate``."""

import dataclasses

import jax
import jax.numpy as jnp
import pytest

from jaxrl.config import Range, check_ranges


@dataclasses.dataclass
class Cfg:
    gamma: float = 0.99
    lr: float = 3e-4


RANGES = (("gamma", 0.0, 1.0), ("lr", 0.0, None))


def test_in_range_passes_and_out_of_range_names_field_value_and_bound():
    check_ranges(Cfg(), RANGES)
    with pytest.raises(
        ValueError, match=r"Config.gamma must be a finite number in \[0, 1\], got 1.5"
    ):
        check_ranges(Cfg(gamma=1.5), RANGES)
    with pytest.raises(
        ValueError, match=r"Config.lr must be a finite number in \[0, inf\), got -1.0"
    ):
        check_ranges(Cfg(lr=-1.0), RANGES)


def test_traced_and_stacked_values_are_left_to_the_host_checks():
    check_ranges(Cfg(gamma=jnp.array([0.5, 2.0])), RANGES)  # a sweep's stacked axis
    jax.jit(lambda g: check_ranges(Cfg(gamma=g), RANGES) or g)(2.0)  # traced


def test_nan_and_infinities_are_refused_unless_the_range_allows_inf():
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match=rf"Config.lr must be a finite number .*got {bad}"):
            check_ranges(Cfg(lr=bad), RANGES)
    off = Range(0.0, low_open=True, allow_inf=True)
    check_ranges(Cfg(lr=float("inf")), [("lr", off)])
    with pytest.raises(ValueError, match=r"Config.lr must be a number in \(0, inf\], got nan"):
        check_ranges(Cfg(lr=float("nan")), [("lr", off)])
    with pytest.raises(ValueError, match=r"\(0, inf\], got 0"):
        check_ranges(Cfg(lr=0), [("lr", off)])


def test_integer_ranges_refuse_fractions_and_bools():
    count = [("lr", Range(1, integer=True))]
    check_ranges(Cfg(lr=3), count)
    for bad in (2.5, True, 0):
        with pytest.raises(
            ValueError, match=rf"Config.lr must be an integer in \[1, inf\), got {bad}"
        ):
            check_ranges(Cfg(lr=bad), count)
