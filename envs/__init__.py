"""One string-addressed registry for every environment jaxrl can train on.

envs.make("pendulum")                  # pure-JAX tasks in envs/classic.py
envs.make("brax/ant", backend="mjx")   # any brax.envs environment
envs.make("playground/HopperStand")    # MuJoCo Playground DM Control suite (MJX)
envs.make("pointmaze-medium")          # goal-conditioned OGBench-style mazes in envs/pointmaze.py
envs.make("pointmaze-medium-goal")     # the same maze observing [pos, goal] (goal_in_obs=True)
envs.make("minigrid/FourRooms")       # XLand-MiniGrid grid navigation (envs/minigrid.py; needs
                                       # the minigrid extra): FourRooms, MultiRoute
envs.make("reach/fourrooms")           # zero-shot domain: reward-free, info["task_rewards"]
                                       # of four reach tasks (envs/reach.py; jaxrl.zero_shot)
envs.make("dmc/walker")                # zero-shot Playground domains: walker (stand, walk, run,
envs.make("dmc/cheetah")               # flip), cheetah (run/walk, forward/backward); dmc_tasks.py
envs.make("dmc/walker:run")            # one task of a zero-shot domain: its reward is the task's
envs.make("ogbench/pointmaze-medium-v0")  # OGBench's env, spec only: train on device, evaluate
                                          # on the host (jaxrl.ogbench.evaluate); needs ogbench

Every env's ``spec.name`` is a name :func:`make` accepts and rebuilds it from (with default
keyword arguments), which is all a checkpoint records of its env: ``pointmaze-<layout>-goal``
exists so the goal-in-observation maze that goal-conditioned agents (DQC) train on round-trips.
"""

from __future__ import annotations

from typing import Any

from jaxrl.types import Env


def list_envs() -> list[str]:
    """Every name :func:`make` accepts (Brax/Playground names are listed without importing them)."""
    from jaxrl.envs import brax as brax_envs
    from jaxrl.envs import classic, playground, pointmaze
    from jaxrl.envs import ogbench as ogbench_envs

    return (
        sorted(classic.REGISTRY)
        + pointmaze.registry_names()
        + [f"brax/{n}" for n in brax_envs.ENV_NAMES]
        + [f"playground/{n}" for n in playground.ENV_NAMES]
        + [f"ogbench/{n}" for n in ogbench_envs.ENV_NAMES]
        + [f"minigrid/{n}" for n in ("FourRooms", "MultiRoute")]
        + ["reach/fourrooms", "reach/fourrooms-anywhere", "dmc/walker", "dmc/cheetah"]
    )


def make(name: str, **kwargs: Any) -> Env:
    """Build an environment from its registry name; keyword arguments go to the adapter.

    Raises:
        ValueError: the name is unknown; the message lists the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"env name must be a string, got {type(name).__name__}: {name!r}")
    if name.startswith("brax/"):
        from jaxrl.envs import brax as brax_envs

        return brax_envs.make(name.removeprefix("brax/"), **kwargs)
    if name.startswith("playground/"):
        from jaxrl.envs import playground

        return playground.make(name.removeprefix("playground/"), **kwargs)
    if name.startswith("ogbench/"):
        from jaxrl.envs import ogbench as ogbench_envs

        return ogbench_envs.make(name.removeprefix("ogbench/"), **kwargs)
    if name.startswith("minigrid/"):
        from jaxrl.envs import minigrid

        return minigrid.make(name.removeprefix("minigrid/"), **kwargs)
    if ":" in name:  # "<domain>:<task>", one task of a zero-shot domain
        from jaxrl import zero_shot

        domain, task = name.rsplit(":", 1)
        return zero_shot.task_env(make(domain, **kwargs), task)
    if name.startswith("dmc/"):
        from jaxrl.envs import dmc_tasks

        return dmc_tasks.make(name.removeprefix("dmc/"), **kwargs)
    if name in ("reach/fourrooms", "reach/fourrooms-anywhere"):
        from jaxrl.envs import reach

        start = "anywhere" if name.endswith("-anywhere") else "top_left"
        return reach.make(**{"start": start, **kwargs})
    if name.startswith("pointmaze-"):
        from jaxrl.envs import pointmaze

        return pointmaze.make_by_name(name.removeprefix("pointmaze-"), **kwargs)
    from jaxrl.envs import classic

    if name in classic.REGISTRY:
        return classic.REGISTRY[name](**kwargs)
    raise ValueError(f"unknown env name {name!r}; valid names are: {', '.join(list_envs())}")


__all__ = ["make", "list_envs"]
