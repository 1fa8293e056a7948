"""Vectorised environments with a real autoreset, episode statistics, rollouts and evaluation.

``VecEnv`` batches any :class:`jaxrl.types.Env` with ``jax.vmap``. When an episode ends, the
transition keeps its true final observation (``info["final_obs"]``, ``Transition.next_obs``) and the
environment is reset with a fresh key, so successive episodes start from different states
(Brax/Playground's default reuses the first state). Three reset modes (``VecEnv.reset_mode``):

- ``"real"``: every step resets *every* environment with its own fresh key and keeps the resets
  of those that ended, so an expensive ``reset`` (a physics forward pass) is paid ``num_envs``
  times per step.
- ``"optimistic"`` (the default): resets are computed only for the environments that ended, in
  pools of ``reset_pool`` (the technique of Craftax and Stoix, which draw one pool per step). Unlike
  theirs, ours never hands one start state to two environments: the ``k``-th ended environment is
  reset with *its own* fresh key, the very key ``"real"`` would use, so both modes produce the same
  episodes (bit for bit where ``reset`` is elementwise), and when more environments end in one
  step than a pool holds, a ``lax.while_loop`` computes pools until each has its reset (none on a
  step where no episode ended; under ``vmap`` the loop runs until every run is done).
- ``"cached"``: every environment restarts from its own first initial state, as Brax does; a
  start state is reused, so episodes are not independent. For throughput comparisons only.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import typing
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.types import Discrete, Env, PRNGKey, TimeStep, Transition

# policy(obs [N, ...], key) -> (env_action [N, ...], raw_action [N, ...], extras {name: [N, ...]})
PolicyFn = Callable[[jax.Array, PRNGKey], tuple[jax.Array, jax.Array, dict[str, jax.Array]]]


class VecEnvState(struct.PyTreeNode):
    """State of ``num_envs`` environments plus per-environment episode statistics."""

    env_state: Any
    obs: jax.Array
    key: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    cached: Any = None  # (env_state, obs) of the first reset, only for reset_mode="cached"


ResetMode = Literal["real", "optimistic", "cached"]
"""How :class:`VecEnv` resets environments whose episode ended (see the module docstring)."""

_RESET_MODES: tuple[str, ...] = typing.get_args(ResetMode)

DEFAULT_POOL_DIVISOR = 16
"""``reset_pool=0`` means ``ceil(num_envs / 16)`` resets per step (Craftax's reset ratio)."""


def where(mask: jax.Array, x: Any, y: Any) -> Any:
    """``x`` where ``mask`` else ``y``, leaf by leaf; ``mask`` covers the leading axes."""

    def select(a: jax.Array, b: jax.Array) -> jax.Array:
        m = jnp.reshape(mask, mask.shape + (1,) * (a.ndim - mask.ndim))
        return jnp.where(m, a, b)

    return jax.tree.map(select, x, y)


@dataclasses.dataclass(frozen=True)
class VecEnv:
    """``num_envs`` copies of ``env`` stepped together, with autoreset and episode statistics."""

    env: Env
    num_envs: int
    reset_mode: ResetMode = "optimistic"
    """``"real"``, ``"optimistic"`` or ``"cached"`` (module docstring)."""
    reset_pool: int = 0
    """``"optimistic"``: resets computed per pass of its loop, in ``[0, num_envs]`` (a step runs
    as many passes as its ended envs need); 0 means ``ceil(num_envs / DEFAULT_POOL_DIVISOR)``."""

    def __post_init__(self) -> None:
        if self.num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {self.num_envs}")
        if self.reset_mode not in _RESET_MODES:
            raise ValueError(f"reset_mode must be one of {_RESET_MODES}, got {self.reset_mode!r}")
        if not 0 <= self.reset_pool <= self.num_envs:
            raise ValueError(
                f"reset_pool must be in [0, num_envs={self.num_envs}] (0: num_envs / "
                f"{DEFAULT_POOL_DIVISOR}), got {self.reset_pool}"
            )

    @property
    def pool_size(self) -> int:
        """Resets computed per step in ``"optimistic"`` mode (``reset_pool`` or its default)."""
        return self.reset_pool or math.ceil(self.num_envs / DEFAULT_POOL_DIVISOR)

    @property
    def spec(self):  # noqa: ANN201 - EnvSpec
        return self.env.spec

    def reset(self, key: PRNGKey) -> VecEnvState:
        key, reset_key = jax.random.split(key)
        env_state, ts = jax.vmap(self.env.reset)(jax.random.split(reset_key, self.num_envs))
        expected = (self.num_envs, *self.spec.obs_shape)
        if ts.obs.shape != expected:
            raise ValueError(
                f"env {self.spec.name!r}: reset returned observations of shape "
                f"{tuple(ts.obs.shape[1:])}, but its spec.obs_shape is {self.spec.obs_shape}"
            )
        zeros = jnp.zeros((self.num_envs,), jnp.float32)
        return VecEnvState(
            env_state=env_state,
            obs=ts.obs,
            key=jax.random.split(key, self.num_envs),
            episode_return=zeros,
            episode_length=jnp.zeros((self.num_envs,), jnp.int32),
            cached=(env_state, ts.obs) if self.reset_mode == "cached" else None,
        )

    def optimistic_reset(
        self, done: jax.Array, env_state: Any, obs: jax.Array, reset_keys: jax.Array
    ) -> tuple[Any, jax.Array]:
        """``(env_state, obs)`` with every env where ``done`` reset with its own key of
        ``reset_keys``. The ended envs, in index order, are reset in pools of :attr:`pool_size`
        (a ``lax.while_loop`` over pools, none when no episode ended), and each pool's states
        are scattered into their places."""
        n, m = self.num_envs, self.pool_size
        # ended envs first, then n (dropped by the scatter), padded so every pool slice fits
        ended = jnp.append(jnp.flatnonzero(done, size=n, fill_value=n), jnp.full(m, n))
        count = jnp.sum(done.astype(jnp.int32))

        def fill(carry: tuple[jax.Array, Any, jax.Array]) -> tuple[jax.Array, Any, jax.Array]:
            pool, env_state, obs = carry
            members = jax.lax.dynamic_slice_in_dim(ended, pool * m, m)
            keys = reset_keys[jnp.minimum(members, n - 1)]  # past the ended ones: dropped below
            fresh_state, fresh_ts = jax.vmap(self.env.reset)(keys)
            put = lambda x, y: x.at[members].set(y, mode="drop")  # noqa: E731
            return pool + 1, jax.tree.map(put, env_state, fresh_state), put(obs, fresh_ts.obs)

        _, env_state, obs = jax.lax.while_loop(
            lambda c: c[0] * m < count, fill, (jnp.int32(0), env_state, obs)
        )
        return env_state, obs

    def check_action(self, action: jax.Array) -> None:
        """Raise a clear error (at trace time) for a batch of actions of the wrong shape/dtype."""
        space = self.spec.action_space
        expected = (self.num_envs, *space.shape)
        if tuple(action.shape) != expected:
            raise ValueError(
                f"env {self.spec.name!r}: action has shape {tuple(action.shape)}, expected "
                f"{expected} (num_envs={self.num_envs}, action_space={space})"
            )
        if isinstance(space, Discrete) and not jnp.issubdtype(action.dtype, jnp.integer):
            raise ValueError(
                f"env {self.spec.name!r}: discrete actions must be integers, got {action.dtype}"
            )

    def step(self, state: VecEnvState, action: jax.Array) -> tuple[VecEnvState, TimeStep]:
        """Step every env; ended ones are reset. The returned ``TimeStep.obs`` is the observation
        to act on next (a new episode's first one where an episode ended), ``info["final_obs"]``
        the true successor of this step, ``info["episode_return"/"episode_length"]`` the totals
        of episodes that ended here (valid where ``done``)."""
        self.check_action(action)
        env_state, ts = jax.vmap(self.env.step)(state.env_state, action)
        done = ts.done
        episode_return = state.episode_return + ts.reward
        episode_length = state.episode_length + 1
        if self.reset_mode == "cached":
            reset_state, reset_obs = state.cached
            env_state = where(done, reset_state, env_state)
            obs = where(done, reset_obs, ts.obs)
            key = state.key
        else:
            split = jax.vmap(jax.random.split)(state.key)
            key, reset_keys = split[:, 0], split[:, 1]
            if self.reset_mode == "real":
                # Every env is reset and the ended ones selected.
                reset_state, reset_ts = jax.vmap(self.env.reset)(reset_keys)
                env_state = where(done, reset_state, env_state)
                obs = where(done, reset_ts.obs, ts.obs)
            else:
                env_state, obs = self.optimistic_reset(done, env_state, ts.obs, reset_keys)
        new_state = VecEnvState(
            env_state=env_state,
            obs=obs,
            key=key,
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, episode_length),
            cached=state.cached,
        )
        info = dict(ts.info)
        info.update(final_obs=ts.obs, episode_return=episode_return, episode_length=episode_length)
        return new_state, TimeStep(
            obs=new_state.obs,
            reward=ts.reward,
            terminated=ts.terminated,
            truncated=ts.truncated,
            info=info,
        )


def collect(
    vec_env: VecEnv,
    state: VecEnvState,
    policy: PolicyFn,
    key: PRNGKey,
    num_steps: int,
    info_keys: tuple[str, ...] = (),
) -> tuple[VecEnvState, Transition, dict[str, jax.Array]]:
    """Roll ``policy`` for ``num_steps`` steps in every env (``lax.scan``).

    Returns the new env state, time-major transitions ``[num_steps, num_envs, ...]`` and the
    episode statistics of this rollout (:func:`episode_metrics`). ``info_keys`` names entries of
    the env's ``info`` to keep: each step's value (after the step) is stored in
    ``Transition.extras`` under the same name (e.g. polychromic PPO's ``"room"``).
    """

    def body(carry, step_key):
        st = carry
        action, raw_action, extras = policy(st.obs, step_key)
        new_st, ts = vec_env.step(st, action)
        extras = with_info(extras, ts.info, info_keys, vec_env.spec.name)
        transition = Transition(
            obs=st.obs,
            action=action,
            raw_action=raw_action,
            reward=ts.reward,
            terminated=ts.terminated,
            truncated=ts.truncated,
            next_obs=ts.info["final_obs"],
            extras=extras,
        )
        stats = (ts.done, ts.info["episode_return"], ts.info["episode_length"])
        return new_st, (transition, stats)

    state, (transitions, (done, ret, length)) = jax.lax.scan(
        body, state, jax.random.split(key, num_steps)
    )
    return state, transitions, episode_metrics(done, ret, length)


def with_info(
    extras: dict[str, jax.Array], info: dict[str, Any], info_keys: tuple[str, ...], env_name: str
) -> dict[str, jax.Array]:
    """``extras`` plus ``info[name]`` for each of ``info_keys``, with an error naming the key
    when the env has no such entry or the policy's extras already use the name."""
    for name in info_keys:
        if name not in info:
            raise ValueError(
                f"env {env_name!r} has no info[{name!r}] to record; its info holds {sorted(info)}"
            )
        if name in extras:
            raise ValueError(f"info key {name!r} clashes with the policy's extras {sorted(extras)}")
        extras = {**extras, name: info[name]}
    return extras


def episode_metrics(
    done: jax.Array, episode_return: jax.Array, episode_length: jax.Array
) -> dict[str, jax.Array]:
    """Mean return/length of the episodes that ended (NaN when none did) and their count."""
    count = jnp.sum(done)
    safe = jnp.maximum(count, 1)
    nan = jnp.float32(jnp.nan)
    return {
        "episode_return": jnp.where(count > 0, jnp.sum(episode_return * done) / safe, nan),
        "episode_length": jnp.where(count > 0, jnp.sum(episode_length * done) / safe, nan),
        "episodes": count.astype(jnp.float32),
    }


def action_chunk(agent: Any, config: Any) -> int:
    """``h_a``, the number of actions ``agent.act`` returns per observation: ``agent.action_chunk(
    config)`` when the agent defines it (e.g. DQC's partial chunks, executed open loop), else 1.

    Raises:
        TypeError: ``action_chunk`` did not return a static Python int (it must read a static
            config field: the chunk length fixes the evaluation's loop structure).
        ValueError: it returned a value below 1.
    """
    fn = getattr(agent, "action_chunk", None)
    if fn is None:
        return 1
    value = fn(config)
    try:
        h = operator.index(value)
    except TypeError:  # also a tracer (TracerIntegerConversionError)
        raise TypeError(
            f"agent {getattr(agent, '__name__', type(agent).__name__)!r}: action_chunk(config) "
            f"must return a static Python int (read a static config field), got {value!r}"
        ) from None
    if h < 1:
        raise ValueError(f"action_chunk(config) must be >= 1, got {h}")
    return h


def has_tasks(env: Env) -> bool:
    """Whether ``env`` has evaluation tasks: ``reset_to_task(key, task_id)`` and ``num_tasks``
    (e.g. the point maze's five OGBench tasks per layout). Such envs are evaluated per task."""
    return callable(getattr(env, "reset_to_task", None)) and hasattr(env, "num_tasks")


def _as_actions(env: Env, actions: jax.Array, chunk: int) -> jax.Array:
    """``[B, *action_shape]`` (``chunk == 1``; a ``[B, 1, *action_shape]`` chunk is squeezed) or
    ``[B, chunk, *action_shape]`` (``chunk > 1``); anything else is a clear error at trace time."""
    shape = tuple(env.spec.action_space.shape)
    if chunk == 1 and actions.ndim == 2 + len(shape) and actions.shape[1] == 1:
        return actions[:, 0]
    want = (chunk,) * (chunk > 1) + shape
    if tuple(actions.shape[1:]) != want:
        raise ValueError(
            f"env {env.spec.name!r}: with chunk={chunk} the policy must return actions of shape "
            f"[batch, {', '.join(map(str, want))}] ([batch, h_a, *action_shape] for an action "
            f"chunk), got {tuple(actions.shape)}"
        )
    return actions


def run_episodes(
    env: Env,
    env_state: Any,
    ts: TimeStep,
    policy: Callable[[Any, PRNGKey], jax.Array],
    key: PRNGKey,
    max_steps: int,
    chunk: int = 1,
    observe: Callable[[TimeStep], Any] = lambda ts: ts.obs,
    until_success: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run a batch of episodes from ``(env_state, ts)`` (``[B]``-batched, e.g. vmapped resets)
    without autoreset; the one loop behind :func:`evaluate` and :func:`evaluate_tasks`.

    ``policy(observe(ts), key)`` is called once every ``chunk`` env steps, with the observation
    at the chunk's start and key ``split(key, ceil(max_steps / chunk))[c]`` for chunk ``c``, and
    returns ``[B, chunk, *action_shape]`` (``chunk == 1``: ``[B, *action_shape]``). The chunk's
    actions are executed in order, open loop (as DQC executes its ``h_a``-action chunks): the
    policy sees none of the observations inside a chunk. An episode counts (return, length) every
    env step up to its first ``terminated``/``truncated`` (with ``until_success``, also its first
    ``info["success"] > 0``), including one that ends mid-chunk, and nothing after it, nor after
    ``max_steps`` steps (the last chunk may be partial). Without ``until_success`` the loop is a
    ``lax.scan`` over chunks (``chunk == 1``: exactly the old per-step scan, same keys and bits);
    with it a ``lax.while_loop`` that stops once every episode has ended.

    Returns:
        ``(return [B] float32, length [B] int32, success [B] bool)``; ``success`` is all False
        without ``until_success``.
    """
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        raise ValueError(f"chunk must be an int >= 1, got {chunk!r}")
    n = ts.reward.shape[0]
    num_chunks = -(-max_steps // chunk)
    ragged = max_steps % chunk != 0  # the last chunk is partial: mask its steps past max_steps

    def env_step(carry: tuple, action: jax.Array, t: jax.Array | None) -> tuple:
        env_state, inputs, alive, ret, length, success = carry
        env_state, ts = jax.vmap(env.step)(env_state, action)
        live = alive if t is None else jnp.logical_and(alive, t < max_steps)
        ret = ret + jnp.where(live, ts.reward, 0.0)
        length = length + live.astype(jnp.int32)
        end = ts.done
        if until_success:
            hit = jnp.logical_and(live, ts.info["success"] > 0)
            success = jnp.logical_or(success, hit)
            end = jnp.logical_or(end, hit)
        alive = jnp.logical_and(alive, jnp.logical_not(end))
        return env_state, observe(ts), alive, ret, length, success

    def chunk_body(carry: tuple, c: jax.Array | None, chunk_key: PRNGKey) -> tuple:
        actions = _as_actions(env, policy(carry[1], chunk_key), chunk)
        if chunk == 1:
            return env_step(carry, actions, None)

        def inner(carry: tuple, xs: tuple) -> tuple:
            j, action = xs
            return env_step(carry, action, c * chunk + j if ragged else None), None

        carry, _ = jax.lax.scan(inner, carry, (jnp.arange(chunk), jnp.swapaxes(actions, 0, 1)))
        return carry

    init = (
        env_state,
        observe(ts),
        jnp.ones((n,), bool),
        jnp.zeros((n,), jnp.float32),
        jnp.zeros((n,), jnp.int32),
        jnp.zeros((n,), bool),
    )
    keys = jax.random.split(key, num_chunks)
    if until_success:

        def cond(loop: tuple) -> jax.Array:
            c, carry = loop
            return jnp.logical_and(c < num_chunks, jnp.any(carry[2]))

        def body(loop: tuple) -> tuple:
            c, carry = loop
            return c + 1, chunk_body(carry, c, keys[c])

        _, final = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), init))
    else:

        def scan_body(carry: tuple, xs: Any) -> tuple:
            c, chunk_key = xs if ragged else (None, xs)
            return chunk_body(carry, c, chunk_key), None

        xs = (jnp.arange(num_chunks), keys) if ragged else keys
        final, _ = jax.lax.scan(scan_body, init, xs)
    _, _, _, ret, length, success = final
    return ret, length, success


def evaluate(
    env: Env,
    act: Callable[[jax.Array, PRNGKey], jax.Array],
    key: PRNGKey,
    num_episodes: int,
    max_steps: int | None = None,
    chunk: int = 1,
) -> dict[str, jax.Array]:
    """Run ``num_episodes`` episodes in parallel, each from a fresh reset, and score them.

    ``act(obs [num_episodes, ...], key) -> actions`` is the (deterministic or stochastic) policy.
    Every episode runs to its first ``terminated`` or ``truncated`` (or ``max_steps``, default
    the spec's ``max_episode_steps``); no autoreset happens. With ``chunk = h_a > 1``, ``act``
    returns ``[num_episodes, h_a, *action_shape]`` action chunks, called once every ``h_a`` steps
    and executed open loop (:func:`run_episodes`). Returns the mean and standard deviation of the
    returns and the mean episode length.
    """
    max_steps = max_steps or env.spec.max_episode_steps
    reset_key, key = jax.random.split(key)
    env_state, ts = jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes))
    ret, length, _ = run_episodes(env, env_state, ts, act, key, max_steps, chunk)
    return {
        "eval_return": jnp.mean(ret),
        "eval_return_std": jnp.std(ret),
        "eval_length": jnp.mean(length.astype(jnp.float32)),
    }


def task_episodes(
    env: Env,
    policy: Callable[[Any, PRNGKey], jax.Array],
    key: PRNGKey,
    episodes_per_task: int,
    max_steps: int | None = None,
    chunk: int = 1,
    observe: Callable[[TimeStep], Any] = lambda ts: ts.obs,
) -> dict[str, jax.Array]:
    """``episodes_per_task`` episodes of every evaluation task of ``env`` (:func:`has_tasks`), all
    in parallel, each from ``env.reset_to_task(key, task_id)``; ``policy(observe(ts), key)`` as in
    :func:`run_episodes`. An episode runs to its first success (``info["success"] > 0``, which
    the env must report), termination or truncation, or ``max_steps`` (default the spec's time
    limit); the loop stops once every episode has ended.

    Returns:
        ``success`` (float32 0/1), ``return`` (float32) and ``length`` (int32), each
        ``[num_tasks, episodes_per_task]``.
    """
    if not has_tasks(env):
        raise ValueError(
            f"env {env.spec.name!r} has no evaluation tasks (reset_to_task and num_tasks)"
        )
    num_tasks = int(env.num_tasks)
    max_steps = max_steps or env.spec.max_episode_steps
    n = num_tasks * episodes_per_task
    reset_key, key = jax.random.split(key)
    task_ids = jnp.repeat(jnp.arange(num_tasks), episodes_per_task)
    state, ts = jax.vmap(env.reset_to_task)(jax.random.split(reset_key, n), task_ids)
    if "success" not in ts.info:
        raise ValueError(f"env {env.spec.name!r}: task evaluation needs info['success']")
    ret, length, success = run_episodes(
        env, state, ts, policy, key, max_steps, chunk, observe=observe, until_success=True
    )
    shape = (num_tasks, episodes_per_task)
    return {
        "success": success.astype(jnp.float32).reshape(shape),
        "return": ret.reshape(shape),
        "length": length.reshape(shape),
    }


def evaluate_tasks(
    env: Env,
    act: Callable[[jax.Array, PRNGKey], jax.Array],
    key: PRNGKey,
    episodes_per_task: int,
    max_steps: int | None = None,
    chunk: int = 1,
) -> dict[str, jax.Array]:
    """Goal-conditioned evaluation: :func:`task_episodes` with ``act(obs [B, ...], key)`` (the
    goal reaches the agent through the observation, e.g. a point maze made with
    ``goal_in_obs=True``; ``chunk`` as in :func:`evaluate`).

    Returns scalar metrics: ``eval_success`` (mean over tasks), ``eval_success_task<i>`` for each
    task ``i``, ``eval_return`` / ``eval_return_std`` and ``eval_length`` (means over every
    episode; an episode ends at its first success).
    """
    out = task_episodes(env, act, key, episodes_per_task, max_steps, chunk)
    task_success = jnp.mean(out["success"], axis=1)
    metrics = {"eval_success": jnp.mean(task_success)}
    metrics.update({f"eval_success_task{i}": s for i, s in enumerate(task_success)})
    metrics.update(
        eval_return=jnp.mean(out["return"]),
        eval_return_std=jnp.std(out["return"]),
        eval_length=jnp.mean(out["length"].astype(jnp.float32)),
    )
    return metrics
