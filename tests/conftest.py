"""Shared test setup.

A persistent compilation cache is used only when ``JAXRL_TEST_CACHE`` names a folder (CI runs
without it, so every compile is measured from scratch).
"""

from __future__ import annotations

import os

# Several test processes (pytest-xdist workers) may share one accelerator: allocate on demand.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402

from jaxrl import _xla_cpu  # noqa: E402

_xla_cpu.apply()  # also for test modules that compute before importing jaxrl (see the module)

_CACHE = os.environ.get("JAXRL_TEST_CACHE")
if _CACHE:
    jax.config.update("jax_compilation_cache_dir", _CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


class CountingPPO:
    """PPO with a counter of how often ``train_step`` is traced (trace-count tests):
    an object, not a module, that fits :class:`jaxrl.types.Agent` (online)."""

    NAME = "counting-ppo"

    def __init__(self) -> None:
        from jaxrl.agents import ppo

        self.ppo = ppo
        self.traces = 0
        self.steps_per_iteration = ppo.steps_per_iteration
        self.init = ppo.init
        self.act = ppo.act

    def train_step(self, config, env, state):
        self.traces += 1
        return self.ppo.train_step(config, env, state)
