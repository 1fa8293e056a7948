"""Trained policies as plain functions: ``policy(obs, key, deterministic=False) -> action``.

    policy = jaxrl.load_policy("runs/ppo-pendulum-20250101-120000", seed=1)
    action = policy(obs, jax.random.key(0), deterministic=True)
    metrics = policy.evaluate(jax.random.key(0), num_episodes=16)

How :func:`load_policy` loads a policy, in a fresh process and from the checkpoint alone:

1. **Find the checkpoint folder** (:func:`find_checkpoints`). ``path`` may be the folder that
   ``jaxrl.train(checkpoint_dir=...)`` wrote (numbered step folders), a run folder holding
   ``checkpoints/``, a comparison's member folder (``<run>/PPO/``) or a comparison run with
   several members (then ``member=`` picks one; without it the error lists them), or a GoRL run
   (``seed_<i>/stage_<k>/``: ``seed`` picks the folder, the last stage is loaded). Nothing in the
   run's ``config.json`` is needed.
2. **Read the checkpoint's record** (newest step, or ``step=``): ``agent`` names the agent in
   :data:`jaxrl.agents.REGISTRY`, ``env`` the environment (``jaxrl.envs.make(record["env"])``
   builds it only for its spec; nothing is compiled and no env state is created),
   ``agent_config`` rebuilds the whole ``Config`` (:func:`jaxrl.config.from_json`; for a sweep,
   the chosen setting's values from ``sweep`` replace the first setting's), ``seeds`` and
   ``sweep`` give the state's leading ``[settings][seeds]`` axes.
3. **Derive the state's structure** without running anything (:func:`abstract_state`):
   ``jax.eval_shape`` of the agent's ``init`` gives one run's state as shapes and dtypes, and the
   leading axes are prepended. An offline agent's ``init`` takes the prepared dataset, of which a
   state only keeps per-feature statistics, so a two-row placeholder dataset of the env's shapes
   (through ``agent.prepare_data``) stands in for it. Keys are typed or raw as the record's
   ``signature`` says. The checkpointer then checks this structure against the signature of
   every stored array, so a mismatch is an error naming the arrays, never a silent misload.
4. **Restore and select** the seed (and setting) slice of the whole state
   (:class:`jaxrl.checkpoint.Checkpointer`), then :func:`make_policy`.

:func:`make_policy` turns any one-run state in memory (e.g. ``select_run(result.state, seed=1)``
of a :class:`jaxrl.TrainResult`) into the same :class:`Policy`. It traces ``agent.act`` once to
find the state's arrays that acting reads (parameters, observation statistics, action scales)
and keeps only those: env states, replay buffers and optimiser states are dropped. The policy is
``agent.act(config, env, state, obs, key, deterministic)``, exactly what the driver evaluates,
so observation normalisation and action scaling are the agent's own.

This is the one module of ``jaxrl/`` that resolves names to agents and environments: it imports
:mod:`jaxrl.agents` and :mod:`jaxrl.envs` inside :func:`load_policy`, never at import time.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import rollout
from jaxrl.checkpoint import Checkpointer
from jaxrl.config import from_json
from jaxrl.driver import canonical_config, make_eval_fn
from jaxrl.types import Agent, Box, Env, PRNGKey, agent_modes, agent_name

__all__ = [
    "CheckpointLocation",
    "Policy",
    "abstract_state",
    "find_checkpoints",
    "load_policy",
    "make_policy",
    "num_seeds",
    "read_record",
    "select_run",
]

_SEED_FOLDER = re.compile(r"seed_(\d+)$")
_PHASE_FOLDER = re.compile(r"(?:stage|phase)_(\d+)$")
_CONTAINER = "checkpoints"
_MAX_DEPTH = 4


# --- the policy --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _act_fn(agent: Agent, env: Env) -> Callable[..., jax.Array]:
    """``act(state, config, obs, key, deterministic)``, jitted once per (agent, env) and shared by
    every policy of them (so loading another seed compiles nothing new). ``obs`` is one
    observation ``[*obs_shape]`` or a batch ``[B, *obs_shape]``."""
    ndim = len(env.spec.obs_shape)

    def act(state: Any, config: Any, obs: jax.Array, key: PRNGKey, deterministic: bool):
        if obs.ndim == ndim:
            return agent.act(config, env, state, obs[None], key, deterministic=deterministic)[0]
        return agent.act(config, env, state, obs, key, deterministic=deterministic)

    return jax.jit(act, static_argnames="deterministic")


@functools.lru_cache(maxsize=64)
def _evaluate_fn(
    agent: Agent, env: Env, num_episodes: int, deterministic: bool
) -> Callable[..., dict[str, jax.Array]]:
    # The driver's own evaluation: open-loop action chunks and per-task success where the agent
    # and env have them, so a loaded policy scores exactly as the training run did.
    evaluate = make_eval_fn(agent, env, num_episodes, deterministic)
    return jax.jit(lambda state, config, key: evaluate(config, state, key))


@dataclasses.dataclass(frozen=True, eq=False)
class Policy:
    """A trained policy: ``policy(obs, key, deterministic=False) -> action``.

    ``obs`` is one observation (shape ``spec.obs_shape``; returns one action) or a batch
    ``[B, *obs_shape]`` (returns ``[B, ...]`` actions, with one ``key`` for the whole batch, as
    ``agent.act`` takes it). An agent with ``action_chunk(config) = h_a`` may return a chunk of
    ``h_a`` actions per observation (``[h_a, ...]`` / ``[B, h_a, ...]``, also for ``h_a = 1``,
    as DQC's one-step variants do), to be executed open loop as :meth:`evaluate` does. Actions
    are in the env's own bounds (what ``env.step`` takes). The call is jitted (compiled once per
    agent, env and input shape) and can be used inside other jitted code, e.g.
    ``rollout.evaluate(policy.env, policy, key, n)``. ``deterministic=True`` acts with the
    policy's mode, as the driver's evaluation does by default.
    """

    agent: Agent
    """The agent module (``jaxrl.agents.ppo`` ...)."""
    config: Any
    """The agent's ``Config`` (dynamic fields as float32/int32 arrays, as the driver uses it)."""
    env: Env
    """The environment the policy acts in (built from the checkpoint's env name)."""
    state: Any
    """One run's state, reduced to what ``agent.act`` reads (the other leaves are ``None``)."""
    step: int | None = None
    """Env steps (offline: gradient steps) of the checkpoint; ``None`` for a state in memory."""
    seed: int | None = None
    """The seed this policy is (index into the run's seeds, or its ``seed_<i>`` folder)."""
    setting: int | None = None
    """The sweep setting this policy is (``None``: not a sweep)."""
    directory: str | None = None
    """The checkpoint folder it was loaded from."""

    @property
    def env_name(self) -> str:
        """The env registry name (``jaxrl.envs.make(policy.env_name)``)."""
        return self.env.spec.name

    @property
    def agent_name(self) -> str:
        """The agent's registry name (``jaxrl.agents.REGISTRY``)."""
        return agent_name(self.agent)

    def __call__(self, obs: Any, key: PRNGKey, deterministic: bool = False) -> jax.Array:
        obs = jnp.asarray(obs)
        shape = tuple(self.env.spec.obs_shape)
        if tuple(obs.shape[obs.ndim - len(shape) :]) != shape or obs.ndim > len(shape) + 1:
            raise ValueError(
                f"policy for {self.env_name!r}: obs must have shape {shape} (one observation) or "
                f"[batch, *{shape}], got {tuple(obs.shape)}"
            )
        return _act_fn(self.agent, self.env)(self.state, self.config, obs, key, deterministic)

    def evaluate(
        self, key: PRNGKey, num_episodes: int = 16, deterministic: bool = True
    ) -> dict[str, float]:
        """The driver's evaluation of this policy on :attr:`env`
        (:func:`jaxrl.driver.make_eval_fn`): mean and standard deviation of the return over
        ``num_episodes`` fresh episodes and the mean length, plus per-task success on envs with
        evaluation tasks; action chunks run open loop. The compiled evaluation is shared by all
        policies of the same agent and env."""
        fn = _evaluate_fn(self.agent, self.env, int(num_episodes), bool(deterministic))
        return {k: float(v) for k, v in jax.device_get(fn(self.state, self.config, key)).items()}


def select_run(state: Any, *, seed: int | None = None, setting: int | None = None) -> Any:
    """One run's state out of a batched one: a sweep's ``[settings]`` axis comes first, then the
    ``[seeds]`` axis (as :class:`jaxrl.TrainResult.state` has them). Pass the index of each axis
    the state has, e.g. ``select_run(result.state, seed=1)`` after ``train(..., seeds=2)``."""
    index = tuple(i for i in (setting, seed) if i is not None)
    return jax.tree.map(lambda x: x[index], state) if index else state


def _used_leaves(agent: Agent, config: Any, env: Env, state: Any) -> list[bool]:
    """Which leaves of ``state`` ``agent.act`` reads (for either value of ``deterministic``),
    from the jaxprs of one batched call. Raises if ``act`` does not accept the state."""
    leaves, treedef = jax.tree.flatten(state)
    obs = jax.ShapeDtypeStruct((1, *env.spec.obs_shape), jnp.float32)
    used = [False] * len(leaves)
    for deterministic in (True, False):

        def act(leaves: list[Any], obs: jax.Array, d: bool = deterministic) -> jax.Array:
            state = jax.tree.unflatten(treedef, leaves)
            return agent.act(config, env, state, obs, jax.random.key(0), deterministic=d)

        closed = jax.make_jaxpr(act)(leaves, obs)
        jaxpr = closed.jaxpr
        read = {id(v) for eqn in jaxpr.eqns for v in eqn.invars}
        read |= {id(v) for v in jaxpr.outvars}
        for i, var in enumerate(jaxpr.invars[: len(leaves)]):
            used[i] = used[i] or id(var) in read
        out = jax.eval_shape(act, leaves, obs)
        chunk = rollout.action_chunk(agent, config)
        expected = (1, *((chunk,) if chunk > 1 else ()), *env.spec.action_space.shape)
        if tuple(out.shape) not in (expected, (1, 1, *env.spec.action_space.shape)):
            raise ValueError(
                f"{agent_name(agent)}.act returned actions of shape {tuple(out.shape)} for one "
                f"observation of {env.spec.name!r}, expected {expected}: does the state still "
                "have seed or sweep axes? select one run with jaxrl.policy.select_run"
            )
    return used


def make_policy(
    agent: Agent,
    config: Any,
    env: Env,
    state: Any,
    *,
    step: int | None = None,
    seed: int | None = None,
    setting: int | None = None,
    directory: str | None = None,
) -> Policy:
    """The :class:`Policy` of one run's ``state`` (no seed or sweep axes: see
    :func:`select_run`), acting as ``agent.act(config, env, state, ...)``. Leaves ``act`` does
    not read are dropped from the kept state. ``step``, ``seed``, ``setting`` and ``directory``
    are only recorded on the policy.

    Raises:
        ValueError: ``act`` does not produce one action per observation with this state (e.g.
            the state still has a seed axis).
    """
    config = canonical_config(config)
    try:
        used = _used_leaves(agent, config, env, state)
    except ValueError:
        raise
    except Exception as e:
        raise ValueError(
            f"{agent_name(agent)}.act cannot act with this state on {env.spec.name!r} "
            f"({type(e).__name__}: {e}); is it one run's state of this agent (see select_run)?"
        ) from e
    leaves, treedef = jax.tree.flatten(state)
    kept = jax.tree.unflatten(
        treedef, [x if u else None for x, u in zip(leaves, used, strict=True)]
    )
    return Policy(agent, config, env, kept, step, seed, setting, directory)


# --- finding checkpoints -----------------------------------------------------------------------


def _is_checkpoint_dir(path: str) -> bool:
    """A folder written by :class:`jaxrl.checkpoint.Checkpointer`: numbered step folders, each
    with a ``record``."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return any(n.isdigit() and os.path.isdir(os.path.join(path, n, "record")) for n in names)


def _checkpoint_dirs(root: str) -> list[str]:
    """Checkpoint folders at or under ``root`` (not looking inside one), relative to ``root``."""
    found: list[str] = []

    def walk(rel: str, depth: int) -> None:
        path = os.path.join(root, rel) if rel else root
        if _is_checkpoint_dir(path):
            found.append(rel)
            return
        if depth == _MAX_DEPTH:
            return
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return
        for name in names:
            if not name.startswith(".") and os.path.isdir(os.path.join(path, name)):
                walk(os.path.join(rel, name) if rel else name, depth + 1)

    walk("", 0)
    return found


@dataclasses.dataclass(frozen=True)
class _Entry:
    rel: str
    member: str
    seed: int | None  # from a seed_<i> folder
    phase: int  # from a stage_<k> / phase_<k> folder (-1: none)


def _entry(rel: str) -> _Entry:
    parts = [p for p in rel.split(os.sep) if p] if rel else []
    seed, phase, rest = None, -1, []
    for p in parts:
        if (m := _SEED_FOLDER.match(p)) and seed is None:
            seed = int(m.group(1))
        elif m := _PHASE_FOLDER.match(p):
            phase = int(m.group(1))
        elif p != _CONTAINER:
            rest.append(p)
    return _Entry(rel, "/".join(rest), seed, phase)


@dataclasses.dataclass(frozen=True)
class CheckpointLocation:
    """Where one run's checkpoints are (see :func:`find_checkpoints`)."""

    directory: str
    """The checkpoint folder."""
    member: str
    """The member of a comparison ('' for a single-agent run)."""
    seed_folders: int | None
    """How many ``seed_<i>`` folders the member has (GoRL); ``None``: seeds are an axis of the
    stored state instead."""


_EXPECTED = (
    "expected a checkpoint folder (numbered step folders written by jaxrl.train(..., "
    "checkpoint_dir=...)), a run folder holding checkpoints/, a comparison's member folder "
    "(e.g. <run>/PPO/checkpoints/), or GoRL's seed_<i>/stage_<k>/ folders"
)


def find_checkpoints(
    path: str | os.PathLike[str], *, seed: int = 0, member: str | None = None
) -> CheckpointLocation:
    """The checkpoint folder of ``path`` (see the module docstring for the accepted layouts).
    With ``seed_<i>`` folders, ``seed`` picks the folder and the highest ``stage_<k>`` (or
    ``phase_<k>``) in it is used; otherwise ``seed`` is not looked at here.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no checkpoints (names both).
        ValueError: several members and no (or an unknown) ``member``, listing the members; a
            ``seed`` without its ``seed_<i>`` folder, naming ``seed`` and the number of seeds.
    """
    root = os.path.abspath(os.fspath(path))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root} is not a folder; {_EXPECTED}")
    entries = [_entry(rel) for rel in _checkpoint_dirs(root)]
    if not entries:
        raise FileNotFoundError(f"no checkpoints in {root}: {_EXPECTED}")
    members = sorted({e.member for e in entries})
    if member is None and len(members) > 1:
        raise ValueError(
            f"{root} holds the checkpoints of several members: {', '.join(members)}; pick one "
            "with member=... (--member on the command line)"
        )
    chosen = members[0] if member is None else member.strip("/")
    if chosen not in members:
        raise ValueError(f"{root} has no member {member!r}; its members are: {', '.join(members)}")
    entries = [e for e in entries if e.member == chosen]
    seeds = sorted({e.seed for e in entries if e.seed is not None})
    seed_folders = None
    if seeds:
        seed_folders = len(seeds)
        if seed not in seeds:
            raise ValueError(
                f"seed={seed} is out of range: {root} has {len(seeds)} seeds "
                f"(folders {', '.join(f'seed_{s}' for s in seeds)})"
            )
        entries = [e for e in entries if e.seed == seed]
    best = max(entries, key=lambda e: e.phase)
    if sum(e.phase == best.phase for e in entries) > 1:
        names = ", ".join(e.rel for e in entries if e.phase == best.phase)
        raise ValueError(f"{root}: several checkpoint folders could be meant ({names}); pass one")
    return CheckpointLocation(os.path.join(root, best.rel), chosen, seed_folders)


def _read_newest_record(checkpointer: Checkpointer, step: int | None) -> dict[str, Any]:
    steps = checkpointer.steps()
    if not steps:
        raise FileNotFoundError(f"no checkpoints in {checkpointer.directory}: {_EXPECTED}")
    if step is not None:
        if step not in steps:
            raise ValueError(
                f"step={step}: {checkpointer.directory} has checkpoints at steps "
                f"{', '.join(map(str, steps))}"
            )
        return checkpointer.read_record(step)
    problems = []
    for s in reversed(steps):
        try:
            return checkpointer.read_record(s)
        except Exception as e:  # a damaged record: try an older one, as restore() does
            problems.append(f"step {s}: {type(e).__name__}: {e}")
    raise FileNotFoundError(
        f"no readable checkpoint record in {checkpointer.directory}:\n  " + "\n  ".join(problems)
    )


def read_record(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    member: str | None = None,
    step: int | None = None,
) -> dict[str, Any]:
    """The JSON record of the checkpoint :func:`load_policy` would load (agent, env, configs,
    seeds, sweep, step, signature), read without restoring any array."""
    location = find_checkpoints(path, seed=seed, member=member)
    checkpointer = Checkpointer(location.directory)
    try:
        return _read_newest_record(checkpointer, step)
    finally:
        checkpointer.close()


def num_seeds(path: str | os.PathLike[str], *, member: str | None = None) -> int:
    """How many seeds the run at ``path`` (resolved as in :func:`load_policy`) has."""
    location = find_checkpoints(path, member=member)
    if location.seed_folders is not None:
        return location.seed_folders
    return int(read_record(location.directory).get("seeds") or 1)


# --- the state's structure ---------------------------------------------------------------------


def _placeholder_data(
    agent: Agent, config: Any, env: Env, shapes: dict[str, list[int]] | None = None
) -> Any:
    """A prepared two-row dataset: what an offline agent's ``init`` needs to show the structure
    of its state (the state keeps per-feature statistics, not the rows). Row shapes come from the
    checkpoint record's ``data_shapes`` (the training dataset's), else from ``env``'s spec."""
    from jaxrl.data import Dataset

    spec = env.spec
    shapes = shapes or {}
    obs = np.zeros((2, *shapes.get("observations", spec.obs_shape)), np.float32)
    space = spec.action_space
    if isinstance(space, Box):
        middle = (np.asarray(space.low, np.float32) + np.asarray(space.high, np.float32)) / 2
        actions = np.broadcast_to(middle.reshape(space.shape), (2, *space.shape)).copy()
    else:
        actions = np.zeros((2,), np.int32)
    data = Dataset.create(
        obs, actions, np.zeros(2, np.float32), np.array([False, True]), np.zeros(2, bool), obs
    )
    prepare = getattr(agent, "prepare_data", None)
    return prepare(config, env, data) if prepare is not None else data


def abstract_state(agent: Agent, config: Any, env: Env, record: dict[str, Any]) -> Any:
    """The structure of the state a checkpoint ``record`` describes, for
    :meth:`jaxrl.checkpoint.Checkpointer.restore`: ``jax.eval_shape`` of ``agent.init`` (with a
    placeholder dataset for offline agents) with the record's ``[settings][seeds]`` axes
    prepended. Array leaves are ``jax.ShapeDtypeStruct``; PRNG key leaves are (small) concrete
    key arrays, because the checkpointer needs a key's implementation to rebuild it."""
    config = canonical_config(config)
    typed = any(str(d).startswith("key<") for _, _, d in record.get("signature", []))
    key = jax.random.key(0) if typed else jax.random.PRNGKey(0)
    if "online" in agent_modes(agent):
        one = jax.eval_shape(lambda k: agent.init(config, env, k), key)
    else:
        data = _placeholder_data(agent, config, env, record.get("data_shapes"))
        one = jax.eval_shape(lambda k: agent.init(config, env, k, data), key)
    lead = tuple(
        n for n in (len(record["sweep"]) if record.get("sweep") else None, record.get("seeds")) if n
    )

    typed_key = key if typed else jax.random.key(0)

    def batched(leaf: jax.ShapeDtypeStruct) -> Any:
        shape = (*lead, *leaf.shape)
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            data_shape = jax.random.key_data(typed_key).shape
            raw = jnp.zeros((*shape, *data_shape), jnp.uint32)
            return jax.random.wrap_key_data(raw, impl=jax.random.key_impl(typed_key))
        return jax.ShapeDtypeStruct(shape, leaf.dtype)

    return jax.tree.map(batched, one)


# --- loading -----------------------------------------------------------------------------------


def _agent_of(record: dict[str, Any], directory: str) -> Agent:
    from jaxrl.agents import REGISTRY

    name = record.get("agent")
    if name not in REGISTRY:
        raise ValueError(
            f"{directory}: the checkpoint was written by agent {name!r}, which is not in "
            f"jaxrl.agents.REGISTRY ({', '.join(sorted(REGISTRY))}); restore it yourself and use "
            "jaxrl.policy.make_policy"
        )
    return REGISTRY[name]


def _config_of(agent: Agent, record: dict[str, Any], setting: int | None, directory: str) -> Any:
    data = record.get("agent_config")
    if data is None:
        raise ValueError(
            f"{directory}: the checkpoint record has no agent_config (written before records "
            "held the whole Config); rebuild the config yourself and use jaxrl.policy.make_policy"
        )
    config = from_json(agent.Config, data, what=f"agent_config of {directory}")
    if setting is not None:
        values = record["sweep"][setting]
        config = dataclasses.replace(
            config,
            **{k: type(getattr(config, k))(v) for k, v in values.items()},
        )
    return config


def _check_index(
    name: str, value: int | None, count: int | None, directory: str, what: str
) -> int | None:
    """``value`` checked against an axis of ``count`` entries (``None``: the axis is absent)."""
    if count is None:
        if value not in (None, 0):
            raise ValueError(
                f"{name}={value} is out of range: {directory} holds a run without {what} "
                f"(1 {name}; use {name}=0)"
            )
        return None
    if value is None:
        return None
    if not 0 <= value < count:
        raise ValueError(
            f"{name}={value} is out of range: {directory} has {count} {name}s (0 to {count - 1})"
        )
    return value


def load_policy(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    setting: int | None = None,
    member: str | None = None,
    step: int | None = None,
    env: Env | None = None,
) -> Policy:
    """Load a trained policy from a run's checkpoints (see the module docstring for how).

    Args:
        path: a checkpoint folder, a run folder, a comparison's member folder, or a comparison
            run folder with ``member``; GoRL's ``seed_<i>/stage_<k>/`` layout too.
        seed: which seed (the index into the run's seeds, or its ``seed_<i>`` folder).
        setting: which sweep setting; required for a sweep of several settings.
        member: which member of a comparison run (e.g. ``"PPO"``).
        step: the checkpoint's env step (default: the newest usable one).
        env: the env to act in, when the run used ``envs.make`` arguments other than the
            defaults (the record has only the env's name, which ``env.spec.name`` must match).

    Returns:
        a :class:`Policy`; ``policy(obs, key, deterministic=False) -> action`` for one
        observation or a batch.

    Raises:
        FileNotFoundError: no checkpoints at ``path`` (names the path and what was expected).
        ValueError: ``seed``/``setting`` out of range (names it and the count), several members
            and no ``member`` (lists them), an unknown ``step`` (lists the steps), an agent that
            is not registered, or an ``env`` of another name.
        jaxrl.checkpoint.CheckpointError: the stored arrays do not fit the agent's state.
    """
    location = find_checkpoints(path, seed=seed, member=member)
    directory = location.directory
    checkpointer = Checkpointer(directory)
    try:
        record = _read_newest_record(checkpointer, step)
        agent = _agent_of(record, directory)
        sweep = record.get("sweep") or None
        if sweep and setting is None and len(sweep) > 1:
            labels = "; ".join(
                f"{i}: " + ",".join(f"{k}={v:.4g}" for k, v in s.items())
                for i, s in enumerate(sweep)
            )
            raise ValueError(
                f"{directory} holds a sweep of {len(sweep)} settings; pick one with setting=... "
                f"({labels})"
            )
        setting = _check_index(
            "setting", setting, len(sweep) if sweep else None, directory, "a sweep"
        )
        if sweep and setting is None:
            setting = 0
        if location.seed_folders is not None:
            if record.get("seeds"):
                raise ValueError(
                    f"{directory} has both seed_<i> folders and a seed axis; load it with "
                    "jaxrl.checkpoint.Checkpointer and make_policy"
                )
            seed_index = None
        else:
            seed_index = _check_index("seed", seed, record.get("seeds"), directory, "seeds")
        config = _config_of(agent, record, setting, directory)
        if env is None:
            from jaxrl import envs

            env = envs.make(record["env"])
        elif env.spec.name != record["env"]:
            raise ValueError(
                f"env {env.spec.name!r} given, but {directory} was trained on {record['env']!r}"
            )
        like = abstract_state(agent, config, env, record)
        state, record = checkpointer.restore(like=like, step=step)
    finally:
        checkpointer.close()
    state = select_run(state, seed=seed_index, setting=setting if sweep else None)
    return make_policy(
        agent,
        config,
        env,
        state,
        step=int(record["step"]),
        seed=seed,
        setting=setting,
        directory=directory,
    )
