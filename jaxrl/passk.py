"""pass@k: the chance that at least one of ``k`` attempts succeeds, estimated without bias from
``n >= k`` recorded attempts per configuration (Chen et al. 2021, arXiv:2107.03374, eq. 1; the
pass@k curves of polychromic PPO, arXiv:2509.25424, ``shared/specs/polychromic.md``).

For a configuration with ``c`` successes among ``n`` attempts, the probability that ``k``
attempts drawn without replacement from the ``n`` contain a success is
``1 - C(n - c, k) / C(n, k)``; it is computed as ``1 - prod_{i = n - c + 1}^{n} (1 - k / i)``,
which needs no large binomials. The estimate of a set of configurations (the paper's 50 fixed
Four Rooms layouts) is the mean over configurations. Host-side NumPy: evaluation results come
back from the device as arrays of successes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def _successes(successes: ArrayLike) -> np.ndarray:
    """``successes`` as a ``[configurations, attempts]`` bool array (a 1-D array: one
    configuration), refusing anything but 0/1 values."""
    array = np.asarray(successes)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(
            "successes must be [configurations, attempts] (or [attempts]) with at least one "
            f"of each, got shape {np.shape(successes)}"
        )
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise ValueError("successes must hold only 0/1 (or booleans): one entry per attempt")
    return array.astype(bool)


def pass_at_k_per_configuration(successes: ArrayLike, k: int) -> np.ndarray:
    """The unbiased pass@k of each configuration (``[configurations]``, float64).

    Args:
        successes: ``[configurations, attempts]`` 0/1 (or bool), one entry per recorded attempt.
        k: attempts allowed, ``1 <= k <= attempts``.
    """
    array = _successes(successes)
    n = array.shape[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k={k!r}: expected an int in [1, {n}] (the attempts per configuration)")
    c = array.sum(axis=1)
    out = np.empty(len(c))
    for j, successes_j in enumerate(c):
        if n - successes_j < k:  # every k-subset holds a success
            out[j] = 1.0
        else:
            i = np.arange(n - successes_j + 1, n + 1, dtype=np.float64)
            out[j] = 1.0 - np.prod(1.0 - k / i)
    return out


def pass_at_k(successes: ArrayLike, k: int) -> float:
    """The unbiased pass@k of ``successes`` (``[configurations, attempts]``), averaged over
    configurations (:func:`pass_at_k_per_configuration`)."""
    return float(np.mean(pass_at_k_per_configuration(successes, k)))


def pass_at_k_curve(successes: ArrayLike, ks: Sequence[int] | None = None) -> np.ndarray:
    """pass@k for each ``k`` of ``ks`` (default ``1 .. attempts``), as a float64 array."""
    array = _successes(successes)
    ks = range(1, array.shape[1] + 1) if ks is None else ks
    return np.array([pass_at_k(array, int(k)) for k in ks])
