"""Pytree comparisons the invariant tests share (determinism, vmap equivalence, resume)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def assert_same(a: Any, b: Any, **tol: float) -> None:
    """Every leaf of ``a`` equals ``b``'s: bit for bit, or within ``np.testing.assert_allclose``
    tolerances (``rtol``, ``atol``) for floating leaves when given. PRNG keys compare by data."""
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        if tol and jnp.issubdtype(x.dtype, jnp.inexact):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)
        else:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def differ(a: Any, b: Any) -> bool:
    """Whether some leaf of ``a`` differs from ``b``'s."""
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return not all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in pairs)
