"""Adapter from ``brax.envs`` environments to the :class:`jaxrl.types.Env` protocol.

    env = jaxrl.envs.brax.make("inverted_pendulum")            # TimeLimit(BraxEnv(...), 1000)
    state, ts = env.reset(key)
    state, ts = env.step(state, action)                  # one env; batch with jax.vmap

Brax's ``done`` is a true termination (``terminated``); the time limit comes from
:class:`jaxrl.envs.wrappers.TimeLimit`. Brax's own EpisodeWrapper/AutoResetWrapper are not used:
autoreset lives in :mod:`jaxrl.rollout`.

Importing this module does not import brax (``import brax.envs`` takes seconds), so
:data:`ENV_NAMES` is a static list; :func:`make` checks names against brax's live registry.

:func:`render_html` writes a trajectory as Brax's HTML viewer page (no display or OpenGL needed).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.envs.wrappers import TimeLimit, TimeLimitState
from jaxrl.types import Box, Env, EnvSpec, PRNGKey, TimeStep

# brax 0.14.2 ``brax.envs._envs`` keys, in registry order (tests check this against brax).
# "swimmer" fails to trace with jax 0.10 (brax's fluid.py uses jnp.clip(a_min=...)): make() says so.
ENV_NAMES: tuple[str, ...] = (
    "ant",
    "fast",
    "halfcheetah",
    "hopper",
    "humanoid",
    "humanoidstandup",
    "inverted_pendulum",
    "inverted_double_pendulum",
    "pusher",
    "reacher",
    "swimmer",
    "walker2d",
)

#: Physics pipelines accepted by ``brax.envs.base.PipelineEnv``.
BACKENDS: tuple[str, ...] = ("generalized", "positional", "spring", "mjx")


def _freeze(value: Any, where: str) -> Any:
    """A hashable version of ``value`` (dicts/lists become tuples), or a ValueError naming it."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v, f"{where}.{k}")) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v, where) for v in value)
    try:
        hash(value)
    except TypeError as e:
        raise ValueError(f"{where}={value!r} is not hashable; env arguments must be") from e
    return value


def _strong(tree: Any) -> Any:
    """Casts every leaf to a strongly typed array of its own dtype.

    Brax envs return Python floats or weakly typed arrays from ``step`` where ``reset`` returns
    float32 arrays; making both identical keeps ``lax.scan`` carries and autoreset selects simple.
    """

    def strong(x: Any) -> Any:
        if isinstance(x, bool | int | float) or getattr(x, "weak_type", False):
            return jnp.asarray(x, dtype=jnp.asarray(x).dtype)
        return x

    return jax.tree_util.tree_map(strong, tree)


class StateEnvAdapter:
    """Shared by the Brax and Playground adapters, whose envs return a state object with ``obs``,
    ``reward`` and ``done`` (a true termination). Subclasses hold the wrapped env in ``self.env``.
    Reward and done are stored as float32 scalars and weakly typed leaves made strong, so
    ``reset`` and ``step`` return identically typed states (needed by ``scan`` and autoreset)."""

    env: Any

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]:
        """Samples an initial state; ``reward`` is 0 and ``terminated``/``truncated`` False."""
        state = self._canonical(self.env.reset(key))
        return state, self._timestep(state)

    def step(self, state: Any, action: jax.Array) -> tuple[Any, TimeStep]:
        """Advances one control step; ``terminated`` is the env's ``done``, ``truncated`` False."""
        state = self._canonical(self.env.step(state, jnp.asarray(action, jnp.float32)))
        return state, self._timestep(state)

    @staticmethod
    def _canonical(state: Any) -> Any:
        state = _strong(state)
        return state.replace(
            obs=jnp.asarray(state.obs, jnp.float32),
            reward=jnp.asarray(state.reward, jnp.float32).reshape(()),
            done=jnp.asarray(state.done, jnp.float32).reshape(()),
        )

    @staticmethod
    def _timestep(state: Any) -> TimeStep:
        return TimeStep(
            obs=state.obs,
            reward=state.reward,
            terminated=state.done != 0,
            truncated=jnp.zeros((), jnp.bool_),
            info={},
        )


@dataclasses.dataclass(frozen=True)
class BraxEnv(StateEnvAdapter):
    """One (unbatched) brax environment behind the :class:`jaxrl.types.Env` protocol.

    Equality and hash are defined by ``(name, backend, kwargs)`` only, so two adapters built with
    the same arguments are interchangeable as static jit arguments. The env state is brax's own
    ``brax.envs.base.State`` (with ``reward``/``done`` cast to float32), so snapshots are pytrees.

    ``spec.max_episode_steps`` is informational here: the :class:`TimeLimit` wrapper that
    :func:`make` puts around this adapter enforces it (and its hash includes it).
    """

    name: str
    backend: str | None
    kwargs: tuple[tuple[str, Any], ...]
    env: Any = dataclasses.field(compare=False, hash=False, repr=False)
    spec: EnvSpec = dataclasses.field(compare=False, hash=False, repr=False)


def _default_backend(cls: Any) -> str | None:
    """The ``backend`` default of a brax env constructor, or None if it takes no backend."""
    try:
        param = inspect.signature(cls).parameters.get("backend")
    except (TypeError, ValueError):
        return None
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


def make(
    name: str,
    backend: str | None = None,
    max_episode_steps: int = 1000,
    **kwargs: Any,
) -> Env:
    """Builds ``TimeLimit(BraxEnv(name), max_episode_steps)``.

    Args:
        name: a ``brax.envs`` name without prefix, e.g. ``"ant"`` (see :data:`ENV_NAMES`).
        backend: physics pipeline, one of :data:`BACKENDS`; None uses the env's default
            (``"generalized"`` for every brax 0.14 env).
        max_episode_steps: time limit after which ``truncated`` is set.
        **kwargs: passed to the brax env constructor (e.g. ``ctrl_cost_weight=0.1``); values
            must be hashable (lists/dicts are frozen into tuples for the hash).

    Raises:
        ValueError: unknown name (lists the valid names), invalid backend or max_episode_steps,
            or keyword arguments the brax env rejects.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} (or None), got {backend!r}")
    if not isinstance(max_episode_steps, int) or max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be a positive int, got {max_episode_steps!r}")
    frozen_kwargs = _freeze(dict(kwargs), "kwargs")

    import brax.envs  # imported lazily: takes seconds

    registry = brax.envs._envs  # brax has no public listing
    if name not in registry:
        raise ValueError(
            f"unknown brax env {name!r}; valid brax names are: {', '.join(sorted(registry))}"
        )
    cls = registry[name]
    default = _default_backend(cls)
    if default is None and backend is not None:
        raise ValueError(f"brax env {name!r} takes no backend argument, got backend={backend!r}")
    backend = backend or default
    ctor_kwargs = dict(kwargs)
    if backend is not None:
        ctor_kwargs["backend"] = backend
    try:
        brax_env = cls(**ctor_kwargs)
    except TypeError as e:
        raise ValueError(f"brax env {name!r} rejected keyword arguments {kwargs}: {e}") from e

    action_size = int(brax_env.action_size)
    try:
        # Tracing one step up front turns brax/jax incompatibilities into a clear error here.
        first = jax.eval_shape(brax_env.reset, jax.random.PRNGKey(0))
        jax.eval_shape(brax_env.step, first, jax.ShapeDtypeStruct((action_size,), jnp.float32))
        obs = first.obs
    except Exception as e:  # e.g. brax 0.14.2 swimmer: fluid.py calls jnp.clip(a_min=...)
        raise RuntimeError(
            f"brax env {name!r} (backend {backend!r}) does not trace with the installed "
            f"jax {jax.__version__}: {type(e).__name__}: {e}"
        ) from e
    if not hasattr(obs, "shape"):
        raise ValueError(
            f"brax env {name!r} returns structured observations ({type(obs).__name__}); "
            "only flat array observations are supported"
        )
    spec = EnvSpec(
        name=f"brax/{name}",
        obs_shape=tuple(obs.shape),
        # brax envs take actions in [-1, 1] and rescale to actuator limits internally.
        action_space=Box.uniform((action_size,), -1.0, 1.0),
        max_episode_steps=max_episode_steps,
    )
    adapter = BraxEnv(name=name, backend=backend, kwargs=frozen_kwargs, env=brax_env, spec=spec)
    return TimeLimit(adapter, max_episode_steps)


def unstack(states: Any) -> list[Any]:
    """A list of states: ``states`` itself if it is a list or tuple, else one per entry of the
    leading (time) axis of a stacked pytree (e.g. what ``lax.scan`` over ``env.step`` returns)."""
    if isinstance(states, list | tuple):
        return list(states)
    length = len(jax.tree.leaves(states)[0])
    return [jax.tree.map(lambda x, i=i: x[i], states) for i in range(length)]


def unwrap(env: Env, adapter: type) -> Any:
    """The ``adapter`` instance inside ``env``'s wrappers (each wrapper keeps its inner env in
    ``.env``), or a ValueError naming the env."""
    inner = env
    while not isinstance(inner, adapter):
        inner = getattr(inner, "env", None)
        if inner is None:
            raise ValueError(f"{env.spec.name!r} is not a {adapter.__name__} (or a wrapper of one)")
    return inner


def inner_state(state: Any) -> Any:
    """The adapter's own state inside the wrapper states (:class:`TimeLimitState`)."""
    while isinstance(state, TimeLimitState):
        state = state.inner
    return state


def render_html(env: Env, states: Any, height: int = 480) -> str:
    """Brax's HTML viewer page (``brax.io.html.render``) of a trajectory of ``env`` (a brax env
    from :func:`make`, wrappers allowed). ``states`` are the env's states in order, as a list or
    stacked on a leading time axis. Rendering needs no display or OpenGL (the page draws with
    three.js in the browser, which loads it from a CDN when the file is opened)."""
    from brax.io import html

    adapter = unwrap(env, BraxEnv)
    pipeline = [inner_state(s).pipeline_state for s in unstack(jax.device_get(states))]
    return html.render(adapter.env.sys, pipeline, height=height)


__all__ = [
    "BACKENDS",
    "ENV_NAMES",
    "BraxEnv",
    "inner_state",
    "make",
    "render_html",
    "unstack",
    "unwrap",
]
