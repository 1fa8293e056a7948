"""Multi-task (zero-shot) DM Control domains on MuJoCo Playground: walker and cheetah.

    domain = jaxrl.envs.dmc_tasks.make("walker")       # spec.name "dmc/walker"
    state, ts = domain.reset(key)
    state, ts = domain.step(state, action)
    ts.reward                      # 0: the domain is reward-free
    ts.info["physics"]             # {"qpos", "qvel"} after the step
    ts.info["task_rewards"]        # [T], one reward per name in domain.task_names
    domain.task_rewards(physics, action)   # the same [T], recomputed from stored physics

Each domain is one Playground env (``WalkerWalk`` / ``CheetahRun``, built by
:func:`jaxrl.envs.playground.make`, so its dynamics, observations, reset distribution and time
limit are Playground's) with its own reward replaced by 0, implementing
:class:`jaxrl.zero_shot.TaskDomain`:

* ``walker``: ``("stand", "walk", "run", "flip")``. stand/walk/run are Playground's
  ``PlanarWalker`` rewards (``mujoco_playground/_src/dm_control_suite/walker.py``,
  ``_get_stand_reward`` / ``_get_move_reward`` with move speed 0, ``WALK_SPEED`` = 1,
  ``RUN_SPEED`` = 8); flip is ExORL/URLB's (``rll-research/url_benchmark``
  ``custom_dmc_tasks/walker.py``, ``PlanarWalker.get_reward`` with ``flip=True``: the walk reward
  with the horizontal speed replaced by the torso subtree's angular momentum about +y,
  ``_SPIN_SPEED`` = 5). MJX fills the subtree angular momentum (``data._impl.subtree_angmom``) in
  the same call that fills the ``torso_subtreelinvel`` sensor (``mjx.sensor_vel`` runs
  ``mjx.subtree_vel`` for it), so flip costs nothing extra.
* ``cheetah``: ``("run", "run_backward", "walk", "walk_backward")``, ExORL's cheetah rewards
  (``marbaga/td_jepa_public`` ``metamotivo/envs/dmc_tasks/cheetah.py``, ``Cheetah.get_reward``:
  ``tolerance(sign * speed, bounds=(v, inf), margin=v, value_at_margin=0, sigmoid="linear")``
  with ``v`` = 10 (run, Playground's ``cheetah._RUN_SPEED``) or 2 (walk) and ``sign`` = -1 for the
  backward tasks). "run" is Playground's ``cheetah.Run._get_reward``.

**Rewards are evaluated at the state after the step.** :meth:`DMCDomain.task_rewards` rebuilds
the torso pose, the ``torso_subtreelinvel`` sensor and the subtree angular momentum from
``(qpos, qvel)`` (``mjx.kinematics``, ``com_pos``, ``com_vel``, ``sensor_vel``: no collision or
constraint solve), and each step's ``info["task_rewards"]`` is that same function applied to the
step's ``info["physics"]``, so relabelled and collected rewards cannot diverge. This is what
dm_control (whose ``Physics.step`` re-syncs the derived quantities after integrating) and ExORL's
relabelling (``set_state`` then ``get_reward``) compute. Playground's own rewards differ: MJX's
``mjx.step`` runs ``forward`` *before* integrating, so the ``xpos``/``sensordata`` its reward
reads after a control step belong to the state one physics substep earlier (walker: 1 of 10
substeps; cheetah, one substep per control step: the state *before* the step). Applied to
``mjx.forward`` of the same post-step data, Playground's reward functions give exactly ours (the
tests check this). Observations are Playground's unchanged.

The reward rebuild uses a ``jax``-implementation MJX model of the same MuJoCo model whatever
``impl`` simulates, so relabelling works on any backend.

Importing this module does not import ``mujoco_playground`` (that takes seconds).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal

import jax
import jax.numpy as jnp

from jaxrl.envs.brax import inner_state
from jaxrl.envs.playground import make as make_playground
from jaxrl.types import Env, EnvSpec, PRNGKey, TimeStep

DOMAINS: tuple[str, ...] = ("walker", "cheetah")
"""The domains :func:`make` builds (``spec.name`` is ``"dmc/<domain>"``)."""

WALKER_TASKS: tuple[str, ...] = ("stand", "walk", "run", "flip")
CHEETAH_TASKS: tuple[str, ...] = ("run", "run_backward", "walk", "walk_backward")

# Playground dm_control_suite/walker.py (the tests check these against it).
WALKER_STAND_HEIGHT = 1.2  # walker._STAND_HEIGHT
WALKER_WALK_SPEED = 1.0  # walker.WALK_SPEED
WALKER_RUN_SPEED = 8.0  # walker.RUN_SPEED
# ExORL/URLB custom_dmc_tasks/walker.py _SPIN_SPEED (the flip task).
WALKER_SPIN_SPEED = 5.0
# Playground dm_control_suite/cheetah.py _RUN_SPEED; ExORL's cheetah.py _WALK_SPEED.
CHEETAH_RUN_SPEED = 10.0
CHEETAH_WALK_SPEED = 2.0

# The Playground env each domain simulates (its own reward is discarded).
_PLAYGROUND_ENV = {"walker": "WalkerWalk", "cheetah": "CheetahRun"}
_TASKS = {"walker": WALKER_TASKS, "cheetah": CHEETAH_TASKS}


# --- rewards: pure functions of the torso quantities -------------------------------------------


def tolerance_linear(
    x: jax.Array, lower: float, margin: float, value_at_margin: float
) -> jax.Array:
    """dm_control's ``rewards.tolerance(x, bounds=(lower, inf), margin, value_at_margin,
    sigmoid="linear")`` (Playground's port: ``mujoco_playground/_src/reward.py``): 1 at or above
    ``lower``, below it falling linearly through ``value_at_margin`` at ``lower - margin`` to 0
    (and 0 beyond)."""
    d = (lower - x) / margin * (1.0 - value_at_margin)
    return jnp.where(x >= lower, 1.0, jnp.where(jnp.abs(d) < 1.0, 1.0 - d, 0.0))


def standing(torso_height: jax.Array) -> jax.Array:
    """``tolerance(torso_height, bounds=(1.2, inf), margin=0.6)`` (gaussian sigmoid, value 0.1 at
    the margin): Playground walker.py ``PlanarWalker._get_stand_reward``."""
    d = (WALKER_STAND_HEIGHT - torso_height) / (WALKER_STAND_HEIGHT / 2)
    gaussian = jnp.exp(-0.5 * (d * jnp.sqrt(-2.0 * jnp.log(0.1))) ** 2)
    return jnp.where(torso_height >= WALKER_STAND_HEIGHT, 1.0, gaussian)


def stand_reward(torso_height: jax.Array, torso_upright: jax.Array) -> jax.Array:
    """``(3 * standing + (1 + upright) / 2) / 4``: Playground walker.py ``_get_stand_reward``."""
    return (3.0 * standing(torso_height) + (1.0 + torso_upright) / 2.0) / 4.0


def move_reward(
    torso_height: jax.Array, torso_upright: jax.Array, speed: jax.Array, move_speed: float
) -> jax.Array:
    """``stand * (5 * move + 1) / 6`` with ``move = tolerance(speed, bounds=(move_speed, inf),
    margin=move_speed / 2, value_at_margin=0.5, sigmoid="linear")``: Playground walker.py
    ``PlanarWalker._get_move_reward`` (walk: ``move_speed`` 1, run: 8)."""
    move = tolerance_linear(speed, move_speed, move_speed / 2.0, 0.5)
    return stand_reward(torso_height, torso_upright) * (5.0 * move + 1.0) / 6.0


def flip_reward(
    torso_height: jax.Array, torso_upright: jax.Array, angmom_y: jax.Array
) -> jax.Array:
    """ExORL/URLB custom_dmc_tasks/walker.py ``PlanarWalker.get_reward`` with ``flip=True``:
    ``stand * (5 * spin + 1) / 6``, ``spin = tolerance(angmom_y, bounds=(5, inf), margin=5,
    value_at_margin=0, sigmoid="linear")``, ``angmom_y = subtree_angmom["torso"][1]``."""
    spin = tolerance_linear(angmom_y, WALKER_SPIN_SPEED, WALKER_SPIN_SPEED, 0.0)
    return stand_reward(torso_height, torso_upright) * (5.0 * spin + 1.0) / 6.0


def cheetah_reward(speed: jax.Array, move_speed: float, forward: bool = True) -> jax.Array:
    """``tolerance(sign * speed, bounds=(move_speed, inf), margin=move_speed, value_at_margin=0,
    sigmoid="linear")``: ExORL cheetah.py ``Cheetah.get_reward`` (Playground cheetah.py
    ``Run._get_reward`` for ``move_speed=10, forward=True``)."""
    sign = 1.0 if forward else -1.0
    return tolerance_linear(sign * speed, move_speed, move_speed, 0.0)


def walker_task_rewards(q: dict[str, jax.Array]) -> jax.Array:
    """``[4]``: stand, walk, run, flip from :func:`torso_quantities`."""
    h, up = q["torso_height"], q["torso_upright"]
    return jnp.stack(
        [
            stand_reward(h, up),
            move_reward(h, up, q["speed"], WALKER_WALK_SPEED),
            move_reward(h, up, q["speed"], WALKER_RUN_SPEED),
            flip_reward(h, up, q["angmom_y"]),
        ]
    )


def cheetah_task_rewards(q: dict[str, jax.Array]) -> jax.Array:
    """``[4]``: run, run_backward, walk, walk_backward from :func:`torso_quantities`."""
    v = q["speed"]
    return jnp.stack(
        [
            cheetah_reward(v, CHEETAH_RUN_SPEED),
            cheetah_reward(v, CHEETAH_RUN_SPEED, forward=False),
            cheetah_reward(v, CHEETAH_WALK_SPEED),
            cheetah_reward(v, CHEETAH_WALK_SPEED, forward=False),
        ]
    )


_TASK_REWARDS = {"walker": walker_task_rewards, "cheetah": cheetah_task_rewards}


# --- physics -> torso quantities ---------------------------------------------------------------


def rebuild(model: Any, template: Any, qpos: jax.Array, qvel: jax.Array) -> Any:
    """MJX data at ``(qpos, qvel)`` with what the rewards read filled: body poses (``xpos``,
    ``xmat``), the velocity sensors (``sensordata``: ``torso_subtreelinvel``) and the subtree
    momenta (``_impl.subtree_linvel/subtree_angmom``). The velocity-stage part of
    ``mjx.forward`` (no collision, actuation or constraint solve); ``model`` is a ``jax``-impl
    MJX model and ``template`` its ``mjx.make_data``."""
    from mujoco import mjx

    d = template.replace(qpos=jnp.asarray(qpos, template.qpos.dtype))
    d = d.replace(qvel=jnp.asarray(qvel, template.qvel.dtype))
    d = mjx.kinematics(model, d)
    d = mjx.com_pos(model, d)
    d = mjx.com_vel(model, d)
    return mjx.sensor_vel(model, d)


@dataclasses.dataclass(frozen=True)
class _Ids:
    torso: int  # body id of "torso"
    sensor: int  # sensordata address of "torso_subtreelinvel"


def torso_quantities(data: Any, ids: _Ids) -> dict[str, jax.Array]:
    """The torso's height (``xpos[torso, z]``), uprightness (``xmat[torso, zz]``), horizontal
    speed (sensor ``torso_subtreelinvel[0]``, the subtree centre of mass's x velocity) and angular
    momentum about +y (``subtree_angmom[torso][1]``), as dm_control's walker/cheetah ``Physics``
    and Playground's reward functions read them."""
    return {
        "torso_height": data.xpos[ids.torso, 2],
        "torso_upright": data.xmat[ids.torso, 2, 2],
        "speed": data.sensordata[ids.sensor],
        "angmom_y": data._impl.subtree_angmom[ids.torso, 1],
    }


# --- the domain ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DMCDomain:
    """A reward-free Playground env with named task rewards (:class:`jaxrl.zero_shot.TaskDomain`;
    see the module docstring). ``env`` is ``TimeLimit(PlaygroundEnv)``; equality and hash are
    ``(domain, env)``, so domains built with the same arguments are interchangeable as static jit
    arguments."""

    domain: str
    env: Env
    model: Any = dataclasses.field(compare=False, hash=False, repr=False)
    template: Any = dataclasses.field(compare=False, hash=False, repr=False)
    ids: _Ids = dataclasses.field(compare=False, hash=False, repr=False)

    @property
    def spec(self) -> EnvSpec:
        return dataclasses.replace(self.env.spec, name=f"dmc/{self.domain}")

    @property
    def task_names(self) -> tuple[str, ...]:
        return _TASKS[self.domain]

    def task_rewards(self, physics: dict[str, jax.Array], action: jax.Array) -> jax.Array:
        """``[T]`` float32: each task's reward for a step that ended in ``physics`` (``qpos``,
        ``qvel``); ``action`` is unused (no task has a control cost)."""
        del action
        return _task_rewards(self, physics["qpos"], physics["qvel"])

    def _with_tasks(self, state: Any, ts: TimeStep, rewards: jax.Array) -> TimeStep:
        data = inner_state(state).data
        physics = {"qpos": data.qpos, "qvel": data.qvel}
        info = {**ts.info, "physics": physics, "task_rewards": rewards}
        return ts.replace(reward=jnp.zeros_like(ts.reward), info=info)

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]:
        """Playground's reset; ``info["task_rewards"]`` is 0 there, like every reward at reset."""
        state, ts = self.env.reset(key)
        return state, self._with_tasks(state, ts, jnp.zeros(len(self.task_names), jnp.float32))

    def step(self, state: Any, action: jax.Array) -> tuple[Any, TimeStep]:
        state, ts = self.env.step(state, action)
        data = inner_state(state).data
        rewards = self.task_rewards({"qpos": data.qpos, "qvel": data.qvel}, action)
        return state, self._with_tasks(state, ts, rewards)


@functools.partial(jax.jit, static_argnums=0)
def _task_rewards(domain: DMCDomain, qpos: jax.Array, qvel: jax.Array) -> jax.Array:
    # jitted so that an eager jax.vmap (jaxrl.zero_shot.relabel) runs one compiled call instead
    # of dispatching MJX's kinematics op by op (seconds vs tens of seconds); inlined under jit.
    data = rebuild(domain.model, domain.template, qpos, qvel)
    rewards = _TASK_REWARDS[domain.domain](torso_quantities(data, domain.ids))
    return rewards.astype(jnp.float32)


def make(
    domain: Literal["walker", "cheetah"],
    impl: str | None = None,
    max_episode_steps: int | None = None,
    **config_overrides: Any,
) -> DMCDomain:
    """The zero-shot ``walker`` or ``cheetah`` domain (``spec.name`` ``"dmc/<domain>"``).

    Args:
        domain: ``"walker"`` or ``"cheetah"``.
        impl: the simulation, as for :func:`jaxrl.envs.playground.make` (None: MJX on CPU).
        max_episode_steps: the time limit; None uses Playground's ``episode_length`` (1000, as
            DMC: 25 s of walker, 10 s of cheetah).
        **config_overrides: Playground config overrides (e.g. ``ctrl_dt``).

    Raises:
        ValueError: unknown domain (lists :data:`DOMAINS`), or an invalid argument for
            :func:`jaxrl.envs.playground.make`.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown dmc domain {domain!r}; valid domains are: {', '.join(DOMAINS)}")
    import mujoco
    from mujoco import mjx

    from jaxrl.envs.brax import unwrap
    from jaxrl.envs.playground import PlaygroundEnv

    env = make_playground(
        _PLAYGROUND_ENV[domain],
        impl=impl,
        max_episode_steps=max_episode_steps,
        config_overrides=config_overrides,
    )
    mj_model = unwrap(env, PlaygroundEnv).env.mj_model
    model = mjx.put_model(mj_model, impl="jax")
    sensor = mj_model.sensor("torso_subtreelinvel")
    if sensor.type[0] != mujoco.mjtSensor.mjSENS_SUBTREELINVEL:  # pragma: no cover
        raise ValueError(f"{domain}: sensor torso_subtreelinvel is not a subtree velocity sensor")
    ids = _Ids(torso=int(mj_model.body("torso").id), sensor=int(mj_model.sensor_adr[sensor.id]))
    return DMCDomain(domain, env, model, mjx.make_data(model), ids)


__all__ = [
    "CHEETAH_TASKS",
    "DMCDomain",
    "DOMAINS",
    "WALKER_TASKS",
    "cheetah_reward",
    "flip_reward",
    "make",
    "move_reward",
    "rebuild",
    "stand_reward",
    "standing",
    "tolerance_linear",
    "torso_quantities",
]
