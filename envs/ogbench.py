"""``ogbench/<env>``: OGBench's goal-conditioned envs as spec-only envs for training on OGBench
data on device (``envs.make("ogbench/pointmaze-medium-v0")``).

OGBench's envs are MuJoCo envs stepped in Python, so they cannot run inside ``jit``; what
training needs of an env is its spec. The spec here is OGBench's own (read once from its env,
:func:`jaxrl.ogbench.env_shapes`): observation ``[ob, goal]`` (size ``2 * ob_dim``, as
:func:`jaxrl.ogbench.evaluate` builds it; DQC's ``[state, goal]``), OGBench's action box and time
limit. ``reset``/``step`` raise: train with ``eval_every=0`` and evaluate in OGBench's env with
:func:`jaxrl.ogbench.evaluate`, which reads the OGBench env from the policy's ``env_name``
(checkpoints record ``ogbench/<env>``, so ``jaxrl.load_policy(run)`` rebuilds this env by name).
See the module docstring of :mod:`jaxrl.ogbench` for why this is not jaxrl's pure-JAX maze.
Needs ``ogbench`` (``pip install 'jaxrl[ogbench]'``) when made.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn

from jaxrl import ogbench
from jaxrl.types import Box, EnvSpec

ENV_NAMES: tuple[str, ...] = ogbench.GOAL_ENVS
"""The OGBench env ids ``make`` accepts (``envs.make("ogbench/" + name)``)."""


class HostOnlyEnvError(RuntimeError):
    """A spec-only OGBench env was reset or stepped (e.g. by on-device evaluation)."""


@dataclasses.dataclass(frozen=True)
class OGBenchSpecEnv:
    """The spec of OGBench env ``env_name`` and nothing else (module docstring)."""

    env_name: str
    ob_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    max_episode_steps: int

    restorable = False
    """No on-device state to snapshot (polychromic PPO's vines refuse this env)."""

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            name=ogbench.ENV_PREFIX + self.env_name,
            obs_shape=(2 * self.ob_dim,),
            action_space=Box(self.action_low, self.action_high, (len(self.action_low),)),
            max_episode_steps=self.max_episode_steps,
        )

    def _refuse(self, what: str) -> NoReturn:
        raise HostOnlyEnvError(
            f"env {self.spec.name!r} is OGBench's MuJoCo env, which runs on the host only: it "
            f"has no on-device {what}. Train with eval_every=0 (scripts: --eval-every 0) and "
            "evaluate with jaxrl.ogbench.evaluate(policy)"
        )

    def reset(self, key: Any) -> NoReturn:
        self._refuse("reset")

    def step(self, state: Any, action: Any) -> NoReturn:
        self._refuse("step")


def make(name: str) -> OGBenchSpecEnv:
    """The spec-only env of OGBench env ``name`` (an entry of :data:`ENV_NAMES`).

    Raises:
        ValueError: an unknown name (lists the valid ones).
        ImportError: ``ogbench`` is not installed (says how to install it).
    """
    name = ogbench.check_env_name(name, "env name 'ogbench/<env>'")
    shapes = ogbench.env_shapes(name)
    return OGBenchSpecEnv(
        name, shapes.ob_dim, shapes.action_low, shapes.action_high, shapes.max_episode_steps
    )


def is_spec_env(env: Any) -> bool:
    """Whether ``env`` is a spec-only OGBench env (evaluated on the host, not on device)."""
    return isinstance(env, OGBenchSpecEnv)


__all__ = ["ENV_NAMES", "HostOnlyEnvError", "OGBenchSpecEnv", "is_spec_env", "make"]
