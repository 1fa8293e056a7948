"""Core types shared by every environment and agent: spaces, the env and agent protocols, time
steps."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
from flax import struct

PRNGKey = jax.Array
EnvState = Any
Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Box:
    """A continuous space: arrays of ``shape`` with elementwise bounds ``low``/``high``.

    Bounds are stored as tuples so the space is hashable (env objects are static under jit).
    """

    low: tuple[float, ...]
    high: tuple[float, ...]
    shape: tuple[int, ...]

    @staticmethod
    def uniform(shape: tuple[int, ...], low: float = -1.0, high: float = 1.0) -> Box:
        """A box with the same bounds on every coordinate."""
        size = 1
        for d in shape:
            size *= d
        return Box(low=(float(low),) * size, high=(float(high),) * size, shape=tuple(shape))

    @property
    def low_array(self) -> jax.Array:
        return jnp.asarray(self.low, jnp.float32).reshape(self.shape)

    @property
    def high_array(self) -> jax.Array:
        return jnp.asarray(self.high, jnp.float32).reshape(self.shape)

    def sample(self, key: PRNGKey) -> jax.Array:
        """A uniform sample (used for random-action baselines and benchmarks)."""
        return jax.random.uniform(key, self.shape, minval=self.low_array, maxval=self.high_array)


@dataclasses.dataclass(frozen=True)
class Discrete:
    """A discrete space of ``n`` actions, represented as an int32 scalar."""

    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    def sample(self, key: PRNGKey) -> jax.Array:
        return jax.random.randint(key, (), 0, self.n)


Space = Box | Discrete


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Static description of an environment.

    Attributes:
        name: registry name, e.g. ``"brax/ant"``.
        obs_shape: shape of one observation (float32).
        action_space: a :class:`Box` or :class:`Discrete`.
        max_episode_steps: the time limit after which ``truncated`` is set.
    """

    name: str
    obs_shape: tuple[int, ...]
    action_space: Space
    max_episode_steps: int

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    @property
    def action_dim(self) -> int:
        """Number of action logits (discrete) or action coordinates (continuous)."""
        if isinstance(self.action_space, Discrete):
            return self.action_space.n
        size = 1
        for d in self.action_space.shape:
            size *= d
        return size


class TimeStep(struct.PyTreeNode):
    """What an environment returns after ``reset`` or ``step``.

    ``terminated`` is a true end of the episode (do not bootstrap); ``truncated`` is a time limit
    (bootstrap from the value of ``obs``, which for a truncated step is the final observation).
    ``info`` carries env-specific extras; after an autoreset it also holds ``final_obs``.
    """

    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    info: dict[str, Any] = struct.field(default_factory=dict)

    @property
    def done(self) -> jax.Array:
        return jnp.logical_or(self.terminated, self.truncated)


@runtime_checkable
class Env(Protocol):
    """A single (unbatched) environment; batching is ``jax.vmap`` in :mod:`jaxrl.rollout`.

    Env objects must be hashable: they are closed over / passed as static arguments under jit.
    The env state is a pytree and ``step`` a pure function of it, so a saved state is an exact
    snapshot (stepping it repeats the episode); an env whose state is not one (OGBench's
    spec-only envs) sets the class attribute ``restorable = False``, and agents that branch
    from saved states (polychromic PPO's vines) refuse it.
    """

    spec: EnvSpec

    def reset(self, key: PRNGKey) -> tuple[EnvState, TimeStep]: ...

    def step(self, state: EnvState, action: jax.Array) -> tuple[EnvState, TimeStep]: ...


class Transition(struct.PyTreeNode):
    """One vectorised environment step as agents store it (leading axes: time, env).

    ``next_obs`` is the true successor observation: the final observation when the episode ended,
    not the first observation of the next episode. ``raw_action`` is what the policy sampled before
    squashing/clipping (the quantity its log-probability is defined on).
    """

    obs: jax.Array
    action: jax.Array
    raw_action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: jax.Array
    extras: dict[str, jax.Array] = struct.field(default_factory=dict)


# --- agents -----------------------------------------------------------------------------------


@runtime_checkable
class Agent(Protocol):
    """What :func:`jaxrl.train` needs from an agent: four pure functions of pytrees (usually the
    module ``agents/<algo>.py`` itself; any object with these attributes will do).

    One signature serves online and offline agents; the dataset is an optional last argument::

        init(config, env, key, data=None) -> state
        train_step(config, env, state, data=None) -> (state, metrics)
        act(config, env, state, obs, key, deterministic=False) -> env actions for a batch of obs
        steps_per_iteration(config) -> int     # env steps per train_step (offline: gradient steps)
        action_chunk(config) -> int            # optional: act returns [B, h_a, ...] chunks
        prepare_data(config, env, dataset) -> data     # optional, offline only
        check_data(config, dataset) -> None    # optional, offline only: cheap checks

    - ``config`` is the agent's ``Config`` (dynamic fields may be traced, even vmapped);
      ``env`` a hashable :class:`Env`; ``state`` a pytree holding everything training changes
      (parameters, optimiser state, normalisers, env states, the PRNG key, counters).
    - ``train_step`` is one whole iteration, jittable; ``metrics`` maps names to scalars.
      Metrics named ``episode_*`` or ``eval_*`` may be NaN (nothing to report); every other
      metric must stay finite (the driver's NaN guard checks them).
    - ``data`` is passed **only** when ``train(..., data=...)`` is given, positionally, as
      ``init(config, env, key, data)`` and ``train_step(config, env, state, data)``, after
      ``prepare_data`` (when the agent has one) has turned the raw dataset into what the agent
      samples from. So an agent that only trains online may leave the parameter out
      (``init(config, env, key)``, as ``jaxrl.agents.ppo`` does), one that only trains from data may
      make it required (``jaxrl.agents.td3_bc``), and one that does both declares ``data=None``.
      ``init`` and ``train_step`` must agree. :func:`agent_modes` reads this from the signatures.
    - ``act`` must not change ``state``; the driver evaluates with it (``deterministic`` for the
      policy's mode) and the dataset is never passed to it: statistics it needs live in the state.
    - An optional ``action_chunk(config) -> int`` (``h_a``, a static Python int read from static
      config fields; 1 when absent) makes ``act`` return an action *chunk* per observation,
      ``[B, h_a, *action_shape]`` (time-major), which evaluation executes open loop over ``h_a``
      env steps, calling ``act`` once per chunk with the observation at its start (DQC's
      open-loop execution; :func:`jaxrl.rollout.run_episodes`). With ``h_a = 1`` either
      ``[B, 1, *action_shape]`` or ``[B, *action_shape]`` is accepted.
    - Evaluation acts on the observation only: an env with evaluation tasks
      (:func:`jaxrl.rollout.has_tasks`) is evaluated per task (``eval_success``,
      ``eval_success_task<i>``), and a goal reaches the agent through the observation (e.g.
      ``envs.make("pointmaze-medium", goal_in_obs=True)``).
    - An optional ``NAME`` (str) names the agent in progress bars and checkpoint records.
    - An optional ``check_env(config, env) -> None`` refuses an env the agent cannot train on
      (e.g. discrete actions for a continuous-only agent), reading only ``env.spec``, with a
      ``ValueError`` naming the agent, the env and the mismatch; ``init`` calls it, and the run
      layer calls it (through :func:`jaxrl.config.check_env`) before creating a run folder.
    - An optional ``check_data(config, dataset) -> None`` refuses a raw dataset the config
      cannot train on (DQC: a chunk longer than every episode) with a ``ValueError`` naming the
      ``Config`` field, cheaply (no pass over the data); :func:`jaxrl.train` and the run layer
      (through :func:`jaxrl.driver.check_arguments`) call it before any work or folder.
    """

    def init(self, config: Any, env: Env, key: PRNGKey, data: Any = None) -> Any: ...

    def train_step(
        self, config: Any, env: Env, state: Any, data: Any = None
    ) -> tuple[Any, Metrics]: ...

    def act(
        self,
        config: Any,
        env: Env,
        state: Any,
        obs: jax.Array,
        key: PRNGKey,
        deterministic: bool = False,
    ) -> jax.Array: ...

    def steps_per_iteration(self, config: Any) -> int: ...


def agent_name(agent: Any) -> str:
    """``agent.NAME``, else the module or class name."""
    return str(getattr(agent, "NAME", getattr(agent, "__name__", type(agent).__name__)))


def _accepts(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool | None:
    """Whether ``fn`` can be called with these arguments (None: no readable signature)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        return False
    return True


def _shape_error(agent: Any, fn: str, expected: str) -> TypeError:
    try:
        sig = str(inspect.signature(getattr(agent, fn)))
    except (TypeError, ValueError):
        sig = "(unreadable)"
    return TypeError(
        f"agent {agent_name(agent)!r}: {fn} must take {expected} (see jaxrl.types.Agent); "
        f"its signature is {fn}{sig}"
    )


def agent_modes(agent: Any) -> frozenset[str]:
    """Check ``agent`` against :class:`Agent` and say how it trains: a non-empty subset of
    ``{"online", "offline"}`` ("offline": ``init`` and ``train_step`` take ``data``).

    Raises:
        TypeError: a missing or non-callable piece, or a signature that does not fit, naming the
            piece, the expected arguments and the signature found.
    """
    missing = [
        n
        for n in ("init", "train_step", "act", "steps_per_iteration")
        if not callable(getattr(agent, n, None))
    ]
    if missing:
        raise TypeError(
            f"agent {agent_name(agent)!r} lacks {', '.join(missing)} (an agent provides init, "
            "train_step, act and steps_per_iteration; see jaxrl.types.Agent)"
        )
    x = object()
    if _accepts(agent.act, x, x, x, x, x, deterministic=True) is False:
        raise _shape_error(agent, "act", "(config, env, state, obs, key, deterministic=...)")
    if _accepts(agent.steps_per_iteration, x) is False:
        raise _shape_error(agent, "steps_per_iteration", "(config)")
    prepare = getattr(agent, "prepare_data", None)
    if prepare is not None and _accepts(prepare, x, x, x) is False:
        raise _shape_error(agent, "prepare_data", "(config, env, dataset)")
    shapes = {"online": (x, x, x), "offline": (x, x, x, x)}
    init = {m for m, a in shapes.items() if _accepts(agent.init, *a) is not False}
    step = {m for m, a in shapes.items() if _accepts(agent.train_step, *a) is not False}
    if not init:
        raise _shape_error(agent, "init", "(config, env, key) or (config, env, key, data)")
    if not step:
        expected = "(config, env, state) or (config, env, state, data)"
        raise _shape_error(agent, "train_step", expected)
    if not init & step:
        raise TypeError(
            f"agent {agent_name(agent)!r}: init and train_step disagree about data (init trains "
            f"{'/'.join(sorted(init))}, train_step {'/'.join(sorted(step))}); see jaxrl.types.Agent"
        )
    return frozenset(init & step)
