"""Adapter from MuJoCo Playground DM Control suite tasks to the :class:`jaxrl.types.Env` protocol.

    env = jaxrl.envs.playground.make("CartpoleSwingup")       # TimeLimit(PlaygroundEnv(...), 1000)
    state, ts = env.reset(key)
    state, ts = env.step(state, action)                 # one env; batch with jax.vmap

Playground's ``done`` is a true termination (``terminated``); the time limit (the config's
``episode_length`` unless overridden) comes from :class:`jaxrl.envs.wrappers.TimeLimit`.

Playground 0.2.0 defaults ``config.impl = "warp"`` (MuJoCo Warp) even on CPU, where it is launch-
bound and slow; :func:`make` picks ``"jax"`` (MJX) when JAX runs on CPU. Locomotion and
manipulation tasks need the MuJoCo Menagerie checkout, which Playground would ``git clone`` on
load; :func:`make` refuses them up front instead of attempting the clone.

Importing this module does not import ``mujoco_playground`` (that takes seconds).

:func:`render_frames` draws a trajectory with MuJoCo's offscreen renderer, which needs an
offscreen OpenGL backend: :func:`offscreen_gl` finds one (``MUJOCO_GL=egl`` or ``osmesa``).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

# jaxrl.envs.brax does not import brax
from jaxrl.envs.brax import StateEnvAdapter, _freeze, inner_state, unstack, unwrap
from jaxrl.envs.wrappers import TimeLimit
from jaxrl.types import Box, Env, EnvSpec

# mujoco_playground 0.2.0 ``dm_control_suite.ALL_ENVS`` (tests check this against playground).
ENV_NAMES: tuple[str, ...] = (
    "AcrobotSwingup",
    "AcrobotSwingupSparse",
    "BallInCup",
    "CartpoleBalance",
    "CartpoleBalanceSparse",
    "CartpoleSwingup",
    "CartpoleSwingupSparse",
    "CheetahRun",
    "FingerSpin",
    "FingerTurnEasy",
    "FingerTurnHard",
    "FishSwim",
    "HopperHop",
    "HopperStand",
    "HumanoidStand",
    "HumanoidWalk",
    "HumanoidRun",
    "PendulumSwingup",
    "PointMass",
    "ReacherEasy",
    "ReacherHard",
    "SwimmerSwimmer6",
    "WalkerRun",
    "WalkerStand",
    "WalkerWalk",
)

#: Simulation implementations accepted by ``impl``.
IMPLS: tuple[str, ...] = ("jax", "warp")


@dataclasses.dataclass(frozen=True)
class PlaygroundEnv(StateEnvAdapter):
    """One (unbatched) Playground environment behind the :class:`jaxrl.types.Env` protocol.

    Equality and hash are defined by ``(name, impl, config_overrides)`` only, so two adapters
    built with the same arguments are interchangeable as static jit arguments. The env state is
    Playground's ``mjx_env.State`` (its ``info`` holds the env's own RNG key), so snapshots are
    pytrees. ``spec.max_episode_steps`` is informational: the :class:`TimeLimit` wrapper that
    :func:`make` adds enforces it.
    """

    name: str
    impl: str
    config_overrides: tuple[tuple[str, Any], ...]
    env: Any = dataclasses.field(compare=False, hash=False, repr=False)
    spec: EnvSpec = dataclasses.field(compare=False, hash=False, repr=False)


def _has_warp() -> bool:
    import importlib.util

    return importlib.util.find_spec("warp") is not None


def _check_impl(impl: str | None) -> None:
    if impl is not None and impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS} (or None), got {impl!r}")


def make(
    name: str,
    impl: str | None = None,
    max_episode_steps: int | None = None,
    config_overrides: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Env:
    """Builds ``TimeLimit(PlaygroundEnv(name), max_episode_steps)``.

    Args:
        name: a DM Control suite task name without prefix, e.g. ``"CartpoleSwingup"`` (see
            :data:`ENV_NAMES`).
        impl: ``"jax"`` (MJX) or ``"warp"`` (MuJoCo Warp). None picks ``"jax"`` when
            ``jax.default_backend() == "cpu"`` and the task config's default otherwise.
        max_episode_steps: time limit after which ``truncated`` is set; None uses the task
            config's ``episode_length`` (1000 for every suite task).
        config_overrides: flattened config overrides, e.g. ``{"ctrl_dt": 0.02}`` or
            ``{"vision_config.nworld": 8}``; applied before the env is built.
        **kwargs: more config overrides (merged over ``config_overrides``).

    Raises:
        ValueError: unknown name (lists the valid names), a locomotion/manipulation task (needs
            the MuJoCo Menagerie), invalid ``impl``/``max_episode_steps``/override keys, or a
            task whose observations are a dict (e.g. with ``vision=True``).
    """
    _check_impl(impl)
    if max_episode_steps is not None and (
        not isinstance(max_episode_steps, int) or max_episode_steps < 1
    ):
        raise ValueError(
            f"max_episode_steps must be a positive int or None, got {max_episode_steps!r}"
        )
    overrides = {**dict(config_overrides or {}), **kwargs}
    if "impl" in overrides:
        raise ValueError(
            "set the simulation implementation with make(..., impl=...), not a config override"
        )
    frozen_overrides = _freeze(overrides, "config_overrides")

    from mujoco_playground import registry  # imported lazily: takes seconds
    from mujoco_playground._src import mjx_env

    suite = tuple(registry.dm_control_suite.ALL_ENVS)
    if name not in suite:
        others = (*registry.locomotion.ALL_ENVS, *registry.manipulation.ALL_ENVS)
        if name in others and not mjx_env.MENAGERIE_PATH.exists():
            raise ValueError(
                f"playground env {name!r} is a locomotion/manipulation task: it needs the MuJoCo "
                f"Menagerie checkout at {mjx_env.MENAGERIE_PATH}, which Playground would git-clone "
                "and which cannot be fetched here. Supported playground envs (DM Control suite): "
                + ", ".join(suite)
            )
        if name not in others:
            raise ValueError(
                f"unknown playground env {name!r}; valid playground names are: {', '.join(suite)}"
            )

    cfg = registry.get_default_config(name)
    if impl is None:
        # Warp is launch-bound on CPU, and absent from some GPU images: fall back to MJX there.
        impl = "jax" if jax.default_backend() == "cpu" or not _has_warp() else str(cfg.impl)
    _check_impl(impl)
    cfg.impl = impl
    for key in overrides:
        if key.split(".")[0] not in cfg:
            raise ValueError(
                f"config_overrides key {key!r} is not a field of the {name} config; "
                f"valid fields: {', '.join(sorted(cfg.keys()))}"
            )
    if overrides:
        try:
            cfg.update_from_flattened_dict(overrides)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"invalid config_overrides {overrides} for {name}: {e}") from e
    pg_env = registry.load(name, config=cfg)
    if max_episode_steps is None:
        max_episode_steps = int(cfg.episode_length)  # read after load: envs may adjust it

    obs = jax.eval_shape(pg_env.reset, jax.random.PRNGKey(0)).obs
    if isinstance(obs, Mapping):
        raise ValueError(
            f"playground env {name!r} returns dict observations (keys {sorted(obs)}); only flat "
            "array observations are supported (vision configs are not)"
        )
    model = pg_env.mj_model
    limited = np.asarray(model.actuator_ctrllimited, bool)
    ctrl = np.asarray(model.actuator_ctrlrange, np.float64).reshape(-1, 2)
    low = np.where(limited, ctrl[:, 0], -1.0)
    high = np.where(limited, ctrl[:, 1], 1.0)
    action_size = int(pg_env.action_size)
    if low.shape != (action_size,):  # actuator table does not describe the action vector
        low, high = -np.ones(action_size), np.ones(action_size)
    spec = EnvSpec(
        name=f"playground/{name}",
        obs_shape=tuple(obs.shape),
        action_space=Box(
            low=tuple(float(x) for x in low),
            high=tuple(float(x) for x in high),
            shape=(action_size,),
        ),
        max_episode_steps=max_episode_steps,
    )
    adapter = PlaygroundEnv(
        name=name, impl=impl, config_overrides=frozen_overrides, env=pg_env, spec=spec
    )
    return TimeLimit(adapter, max_episode_steps)


_GL_BACKENDS = ("egl", "osmesa")
_GL_PROBE = """
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size=".1"/></worldbody></mujoco>')
r = mujoco.Renderer(m, 16, 16)
r.update_scene(mujoco.MjData(m))
assert r.render().shape == (16, 16, 3)
"""


def offscreen_gl(timeout: float = 120.0) -> tuple[str | None, str]:
    """Which MuJoCo offscreen OpenGL backend renders on this machine: ``(backend, "")`` or
    ``(None, why not)``. Tries ``$MUJOCO_GL`` if set, else ``egl`` then ``osmesa``, each by
    rendering a tiny model in a subprocess (a failing GL library can abort the process that
    loads it). MuJoCo reads ``MUJOCO_GL`` when it is first imported, so set
    ``os.environ["MUJOCO_GL"] = backend`` before anything imports ``mujoco``."""
    chosen = os.environ.get("MUJOCO_GL")
    failures = []
    for backend in (chosen,) if chosen else _GL_BACKENDS:
        try:
            done = subprocess.run(
                [sys.executable, "-c", _GL_PROBE],
                env={**os.environ, "MUJOCO_GL": backend},
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            failures.append(f"MUJOCO_GL={backend}: timed out")
            continue
        if done.returncode == 0:
            return backend, ""
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        failures.append(f"MUJOCO_GL={backend}: {last}")
    return None, "; ".join(failures)


def render_frames(
    env: Env, states: Any, height: int = 240, width: int = 320, camera: str | int = -1
) -> list[np.ndarray]:
    """RGB frames ``[height, width, 3]`` uint8 of a trajectory of ``env`` (a Playground env from
    :func:`make`, wrappers allowed), drawn by MuJoCo's offscreen renderer (``mujoco.Renderer``)
    from each state's positions, velocities and mocap poses. ``states`` are the env's states in
    order, as a list or stacked on a leading time axis; ``camera`` is a camera name or id (-1:
    the free camera). Needs a working offscreen OpenGL backend (:func:`offscreen_gl`).

    Raises:
        RuntimeError: MuJoCo cannot create an OpenGL context here (names ``MUJOCO_GL``).
    """
    import mujoco

    model = unwrap(env, PlaygroundEnv).env.mj_model
    try:
        renderer = mujoco.Renderer(model, height=height, width=width)
    except Exception as e:
        raise RuntimeError(
            f"MuJoCo cannot render offscreen here (MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}): "
            f"{type(e).__name__}: {e}. Set MUJOCO_GL to a backend that offscreen_gl() finds "
            "before mujoco is imported"
        ) from e
    frames = []
    data = mujoco.MjData(model)
    try:
        for state in unstack(jax.device_get(states)):
            sim = inner_state(state).data
            data.qpos, data.qvel = sim.qpos, sim.qvel
            data.mocap_pos, data.mocap_quat = sim.mocap_pos, sim.mocap_quat
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera=camera)
            frames.append(np.asarray(renderer.render()))
    finally:
        renderer.close()
    return frames


__all__ = ["ENV_NAMES", "IMPLS", "PlaygroundEnv", "make", "offscreen_gl", "render_frames"]
