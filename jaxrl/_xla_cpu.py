"""A workaround applied when ``jaxrl`` is imported: single-threaded Eigen on XLA:CPU, and
XLA:CPU's concurrency-optimised thunk scheduler off.

With jax/jaxlib 0.10.2 on a 2-core machine, a compiled training chunk intermittently never
finished: the process sat at 0% CPU inside ``jax.device_get`` (seen in the notebook's vmapped
sweep, in resume tests and in ``Checkpointer.restore``), in roughly one fresh process in three.
Others report the same wedge of XLA:CPU's multi-threaded Eigen pool on vmapped programs
(PyAutoLabs/PyAutoFit issues 1528 and 1530) and that ``--xla_cpu_multi_thread_eigen=false``
removes it; it did here too. ``python -m pytest tests/test_driver.py`` repeated in a fresh clone
on this 2-core machine (under load from other jobs): without the flag, 2 of the first 3 runs hung
(one blocked in ``Checkpointer.restore``'s ``device_get``, one killed at a 400 s timeout); with
it, 6 of 6 runs passed. Its cost for our small networks is below the noise: PPO with the pendulum
preset, 4 seeds, alternating runs under the same load, trained at 24.7k and 30.4k env
steps/s with the Eigen pool and 23.5k and 31.5k without.

The flag only changes how XLA:CPU runs matrix products (one thread instead of Eigen's pool); it
has no effect on GPU or TPU. It is added to ``XLA_FLAGS`` only when the user has not set
``xla_cpu_multi_thread_eigen`` themselves, and only takes effect if no JAX backend has been
initialised yet (backends start lazily, on the first computation). Set
``JAXRL_KEEP_XLA_FLAGS=1`` to leave ``XLA_FLAGS`` untouched.

The Eigen flag was not enough for PROPS: its vmapped chunk (``seeds=2``, the behaviour and
empirical-policy updates nested in the rollout scan) wedged the same way, at 0% CPU in
``device_get`` with every XLA thread waiting for work, in each of five fresh processes with the
Eigen flag set (with or without ``--xla_cpu_use_xnnpack=false``), and finished in each of seven
PROPS runs (tests, scripts, the same vmapped chunk included) with
``--xla_cpu_enable_concurrency_optimized_scheduler=false`` added. That flag only changes the
order in which XLA:CPU schedules independent operations; it is added on the same terms.

Neither flag covers jaxlib's own LAPACK kernels. A 4-seed vmapped PRDC run (one fresh process of
24) stopped at 0% CPU with both XLA worker threads in ``lapack_sgeqrf_ffi`` ->
``QrFactorization::Kernel`` -> ``ParallelBatchMap`` -> ``BlockingCounter::Wait``: a *batched* QR
(the orthogonal initialiser under ``vmap``) hands its batch to the intra-op pool and waits for
it while running on that pool, so two at once can wait for each other. The driver therefore
never forms a batched LAPACK call on CPU: it initialises seeds and sweep settings with
``lax.map`` (``jaxrl.driver.sequential_map``; each seed's parameters are a single run's, bit for
bit, and ``tests/test_driver.py`` checks the compiled program). The same deadlock stopped one of
five ``tests/test_driver.py`` runs without the two flags above, under load, in the test that
then still *ran* a vmapped initialiser to compare bits (it now only lowers it). No other
LAPACK call (Cholesky, eigh, solves) runs in our programs today; agents that add one under
``vmap`` should do the same. And since no workaround
is proof against the next such case, every run has a watchdog (``jaxrl/watchdog.py``) that
reports a stalled phase by name with every thread's stack.
"""

from __future__ import annotations

import os

FLAG = "--xla_cpu_multi_thread_eigen=false"
SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
FLAGS = (FLAG, SCHEDULER_FLAG)


def apply() -> bool:
    """Append each of :data:`FLAGS` to ``XLA_FLAGS`` unless the user set that flag (or
    ``JAXRL_KEEP_XLA_FLAGS``); True if any was added."""
    if os.environ.get("JAXRL_KEEP_XLA_FLAGS"):
        return False
    flags = os.environ.get("XLA_FLAGS", "")
    added = [f for f in FLAGS if f.split("=")[0] not in flags]
    if added:
        os.environ["XLA_FLAGS"] = " ".join([flags, *added]).strip()
    return bool(added)
