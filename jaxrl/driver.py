"""``jaxrl.train``: run any agent in compiled chunks with progress, logging, evaluation,
checkpoints, seeds, sweeps and several devices.

The agent's ``train_step`` is scanned over ``chunk_iterations`` iterations and compiled once
(ahead of time, so a shape change can never silently recompile; compiled chunks are cached, so a
new run that differs only in dynamic config values does not recompile either). Python runs only
between chunks. Metrics are reduced to one row per chunk *inside* the compiled function, so
memory does not grow with run length.

:func:`train` is its steps, in order: :meth:`_Arguments.check` and :func:`_setup` (check every
argument, the agent and its config, fix the batching: bad input fails here, before any state or
folder exists), :func:`_initial_state`, :func:`_place` (devices), :func:`_restore` (on resume),
:func:`_plan_chunks`, :func:`_compile`, and the host loop :func:`_train_chunks`. Any object
that fits :class:`jaxrl.types.Agent` can be trained.

Several processes (``jax.distributed``, :mod:`jaxrl.distributed`): whatever the host loop reads
(the metrics row, the NaN/Inf flag, evaluations) is compiled with a replicated output, so every
process reads the same whole values and takes the same decisions (all stop together on a NaN);
only process 0 logs, appends to ``history.jsonl`` and shows the progress bar; checkpoints are
saved and restored by every process (:class:`jaxrl.checkpoint.Checkpointer`).

Evaluation: by default the run is cut into about 20 chunks and evaluated after every second one
(about :data:`DEFAULT_EVALUATIONS` evaluations, the last chunk always included), plus once before
training (the row ``step: 0``, which holds only the evaluation metrics), so every run has a
learning curve that starts at the untrained policy. Each evaluation's keys come from
:func:`evaluation_keys`, a stream separate from training's: evaluating never changes the
training bits.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import numbers
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxrl import distributed, rollout
from jaxrl.checkpoint import Checkpointer, History, config_record, json_equal
from jaxrl.config import to_json
from jaxrl.loggers import Logger
from jaxrl.sweep import Sweep
from jaxrl.types import Agent, Env, PRNGKey, agent_modes, agent_name
from jaxrl.watchdog import Watchdog, default_exit, default_timeout

log = logging.getLogger(__name__)

SPARSE_PREFIXES = ("episode_", "eval_")
"""Metrics with these prefixes are NaN when there is nothing to report (no episode ended, no
evaluation ran); every other metric must be finite (the NaN guard checks them)."""


DEFAULT_EVALUATIONS = 10
"""Evaluations of a run with ``eval_every=None`` (besides the one at step 0): every
``round(chunks / 10)`` chunks (at least every chunk) and after the last chunk."""

EVAL_STREAM = 0x5EED
"""``fold_in(key, EVAL_STREAM)``: the key stream of the evaluations after chunks."""

START_EVAL_STREAM = 0x5EED0
"""``fold_in(key, START_EVAL_STREAM)``: the key of the evaluation at step 0 (a stream of its own,
so the keys after chunks are what they were before step-0 evaluations existed)."""


class NonFiniteError(FloatingPointError):
    """Training produced a NaN/Inf loss, gradient norm or parameter."""


def evaluation_keys(key: PRNGKey, chunk: int | None, seeds: int | None = None) -> jax.Array:
    """The keys :func:`train` evaluates with, so that an evaluation can be reproduced elsewhere
    (e.g. in a fresh process from a checkpoint).

    Args:
        key: the ``key`` given to :func:`train`.
        chunk: the 0-based chunk after which the evaluation ran: the row at step ``s`` of a run
            with chunks of ``c`` steps (``TrainResult.chunk_steps``, or ``chunk_iterations x
            steps_per_iteration`` of a checkpoint record) is chunk ``s // c - 1``. ``None`` or
            ``-1``: the evaluation at step 0, before training.
        seeds: ``train``'s ``seeds``. ``None``: one key; else ``[seeds]`` keys, seed ``i``
            evaluating with the ``i``-th. Every setting of a sweep uses the same keys.

    Returns:
        ``fold_in(fold_in(key, EVAL_STREAM), chunk)`` (after a chunk) or ``fold_in(key,
        START_EVAL_STREAM)`` (step 0), split into ``seeds`` keys when ``seeds`` is given. The
        evaluation itself is ``rollout.evaluate(env, policy, keys[i], num_eval_episodes)``
        (:func:`make_eval_fn`: per task for an env with evaluation tasks).
    """
    if chunk is None or chunk == -1:
        k = jax.random.fold_in(key, START_EVAL_STREAM)
    elif chunk < 0:
        raise ValueError(f"chunk={chunk}: expected a chunk index >= 0, or None / -1 for step 0")
    else:
        k = jax.random.fold_in(jax.random.fold_in(key, EVAL_STREAM), chunk)
    return jax.random.split(k, seeds) if seeds else k


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        state: the final agent state, with leading axes ``[settings][seeds]`` for sweeps / seeds.
            Spread over devices as the run was; in a multi-process run its sharded leaves are
            global arrays that no process holds whole (:func:`jaxrl.distributed.gather` fetches
            them).
        history: ``{name: array}`` with one row per chunk (``[rows]``, ``[rows, seeds]``,
            ``[rows, settings]`` or ``[rows, settings, seeds]``); ``history["step"]`` holds the
            steps (per run, in ``step_unit``) at the end of each chunk. A run that evaluates
            starts with the row ``step == 0``: the evaluation of the initial state, every other
            metric NaN. Evaluation metrics (``eval_return`` ...) are NaN in rows where no
            evaluation ran.
        total_steps: steps actually taken per run: the requested ``total_steps`` rounded up to
            whole chunks (``requested_steps`` says what was asked for).
        train_seconds: wall time of the training loop in this call, compilation excluded.
        compile_seconds: time to trace and compile (0 when the compiled chunk was cached).
        num_runs: runs trained in parallel (settings x seeds).
        steps_this_call: steps per run trained by this call (less than ``total_steps`` after
            a resume).
        step_unit: what a step is: ``"env steps"``, or ``"gradient steps"`` for an offline run
            (``train(..., data=...)``); e.g. the x-axis label of :func:`jaxrl.plot.plot_curves`.
        requested_steps: the ``total_steps`` given to :func:`train`.
        chunk_steps: steps per compiled chunk (the row at step ``s`` is chunk ``s //
            chunk_steps - 1``, see :func:`evaluation_keys`).
    """

    state: Any
    history: dict[str, np.ndarray]
    total_steps: int
    train_seconds: float
    compile_seconds: float
    num_runs: int = 1
    steps_this_call: int = 0
    step_unit: str = "env steps"
    requested_steps: int = 0
    chunk_steps: int = 0

    @property
    def rounded_up(self) -> bool:
        """Whether more steps were trained than requested (whole chunks)."""
        return self.total_steps > self.requested_steps

    @property
    def steps_per_second(self) -> float:
        """Environment steps per second trained by this call, summed over all parallel runs."""
        return self.steps_this_call * self.num_runs / max(self.train_seconds, 1e-9)

    def final(self, name: str = "eval_return") -> np.ndarray:
        """The last non-NaN value of a metric (per run when there are run axes)."""
        values = np.asarray(self.history[name], dtype=np.float64)
        out = np.full(values.shape[1:], np.nan)
        for row in values:
            out = np.where(np.isnan(row), out, row)
        return out


# --- compiled pieces -------------------------------------------------------------------------


def _nanmean(x: jax.Array) -> jax.Array:
    """Mean over axis 0 ignoring NaN (NaN only when every entry is NaN)."""
    x = x.astype(jnp.float32)
    ok = ~jnp.isnan(x)
    count = jnp.sum(ok, axis=0)
    total = jnp.sum(jnp.where(ok, x, 0.0), axis=0)
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)


def _all_finite(tree: Any) -> jax.Array:
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    if not leaves:
        return jnp.array(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def make_chunk_fn(agent: Agent, env: Env, chunk_iterations: int, offline: bool = False):
    """``chunk(config, state, data) -> (state, metrics, params_finite)``: ``chunk_iterations``
    train steps; sparse metrics (``episode_*``) are averaged ignoring NaN, the others plainly (so
    a NaN anywhere in the chunk shows). With ``offline``, ``data`` is passed on as
    ``agent.train_step(config, env, state, data)``; otherwise it is ignored (``None``)."""

    def chunk(
        config: Any, state: Any, data: Any = None
    ) -> tuple[Any, dict[str, jax.Array], jax.Array]:
        extra = (data,) if offline else ()

        def body(s, _):
            return agent.train_step(config, env, s, *extra)

        state, metrics = jax.lax.scan(body, state, None, length=chunk_iterations)
        reduced = {
            k: _nanmean(v) if k.startswith(SPARSE_PREFIXES) else jnp.mean(v.astype(jnp.float32), 0)
            for k, v in metrics.items()
        }
        finite = _all_finite((getattr(state, "params", None), getattr(state, "opt_state", None)))
        return state, reduced, finite

    return chunk


def make_eval_fn(agent: Agent, env: Env, num_episodes: int, deterministic: bool):
    """``evaluate(config, state, key) -> metrics`` over ``num_episodes`` fresh episodes.

    An agent with ``action_chunk(config) = h_a`` is evaluated with its ``h_a``-action chunks
    executed open loop (``rollout.evaluate(..., chunk=h_a)``). An env with evaluation tasks
    (:func:`jaxrl.rollout.has_tasks`, e.g. the point maze) is evaluated per task instead:
    ``ceil(num_episodes / num_tasks)`` episodes of each task (:func:`jaxrl.rollout.evaluate_tasks`:
    ``eval_success``, ``eval_success_task<i>``, ``eval_return``, ``eval_length``)."""

    def evaluate(config: Any, state: Any, key: PRNGKey) -> dict[str, jax.Array]:
        def policy(obs, k):
            return agent.act(config, env, state, obs, k, deterministic=deterministic)

        chunk = rollout.action_chunk(agent, config)
        if rollout.has_tasks(env):
            per_task = math.ceil(num_episodes / env.num_tasks)
            return rollout.evaluate_tasks(env, policy, key, per_task, chunk=chunk)
        return rollout.evaluate(env, policy, key, num_episodes, chunk=chunk)

    return evaluate


def sequential_map(f: Callable[..., Any], in_axes: tuple[int | None, ...]) -> Callable[..., Any]:
    """``jax.vmap(f, in_axes)`` computed as a ``lax.map`` (one element after another inside
    one compiled program): the same results, but no batched operation is ever formed."""

    def mapped(*args: Any) -> Any:
        batched = tuple(a for a, axis in zip(args, in_axes, strict=True) if axis == 0)

        def one(xs: tuple[Any, ...]) -> Any:
            it = iter(xs)
            return f(*(next(it) if axis == 0 else a for a, axis in zip(args, in_axes, strict=True)))

        return jax.lax.map(one, batched)

    return mapped


@dataclasses.dataclass(frozen=True)
class _Layout:
    """How runs are batched: an optional sweep axis outside an optional seed axis."""

    sweep: int | None
    seeds: int | None

    @property
    def num_runs(self) -> int:
        return (self.sweep or 1) * (self.seeds or 1)

    def init(self, f):
        """``f(config, key, data)``; ``data`` is shared by every run (never batched).

        On CPU the runs are initialised one after another (:func:`sequential_map`), not
        vmapped: a vmapped orthogonal initialiser is a *batched* LAPACK QR, which jaxlib 0.10's
        CPU kernel spreads over XLA:CPU's intra-op pool and then waits for on that same pool,
        so that two of them running at once can deadlock (issue 21, ``jaxrl/_xla_cpu.py``).
        Each run's QR then has batch 1; each run's parameters are a single run's, bit for bit
        (``tests/test_driver.py``), which the vmapped ones were too."""
        batch = sequential_map if jax.default_backend() == "cpu" else jax.vmap
        if self.seeds:
            f = batch(f, in_axes=(None, 0, None))
        if self.sweep:
            f = batch(f, in_axes=(0, None, None))  # same keys for every setting
        return f

    def chunk(self, f):
        """``f(config, state, data)``; ``data`` is shared by every run (never batched)."""
        if self.seeds:
            f = jax.vmap(f, in_axes=(None, 0, None))
        if self.sweep:
            f = jax.vmap(f, in_axes=(0, 0, None))
        return f

    def evaluate(self, f):
        if self.seeds:
            f = jax.vmap(f, in_axes=(None, 0, 0))
        if self.sweep:
            f = jax.vmap(f, in_axes=(0, 0, None))
        return f

    def run_name(self, index: tuple[int, ...], labels: list[str] | None) -> str:
        parts = []
        i = 0
        if self.sweep:
            s = index[i]
            parts.append(f"setting {s}" + (f" ({labels[s]})" if labels else ""))
            i += 1
        if self.seeds:
            parts.append(f"seed {index[i]}")
        return ", ".join(parts) or "the run"


_CACHE: collections.OrderedDict[Any, Any] = collections.OrderedDict()
_CACHE_SIZE = 16


def _signature(tree: Any) -> tuple[Any, ...]:
    leaves, treedef = jax.tree.flatten(tree)
    return (
        treedef,
        tuple(
            (np.shape(x), str(np.asarray(x).dtype) if not hasattr(x, "dtype") else str(x.dtype))
            for x in leaves
        ),
    )


def _cached(key: Any, build):
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key], False
    value = build()
    _CACHE[key] = value
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value, True


def clear_cache() -> None:
    """Forget compiled chunks (they are otherwise reused across :func:`train` calls)."""
    _CACHE.clear()


def canonical_config(config: Any) -> Any:
    """Dynamic leaves as float32/int32 numpy arrays, so Python floats and arrays give the same
    compiled signature (and a new value never recompiles)."""

    def canon(x):
        a = np.asarray(x)
        if a.dtype == np.float64:
            return a.astype(np.float32)
        if a.dtype == np.int64:
            return a.astype(np.int32)
        return a

    return jax.tree.map(canon, config)


# --- host loop helpers -----------------------------------------------------------------------


def _to_row(metrics: dict[str, Any]) -> dict[str, Any]:
    row = {}
    for name, value in metrics.items():
        value = np.asarray(value, dtype=np.float64)
        row[name] = value.tolist() if value.ndim else float(value)
    return row


def _display(value: Any) -> float:
    arr = np.asarray(value, dtype=np.float64)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def _stack(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    names = {name for row in rows for name in row}
    history = {}
    for name in sorted(names):
        shapes = {np.shape(row[name]) for row in rows if name in row}
        shape = shapes.pop() if len(shapes) == 1 else ()
        history[name] = np.stack(
            [np.asarray(row.get(name, np.full(shape, np.nan)), dtype=np.float64) for row in rows]
        )
    return history


def _static_record(config: Any) -> dict[str, Any]:
    if not dataclasses.is_dataclass(config):
        return {}
    return {
        f.name: repr(getattr(config, f.name))
        for f in dataclasses.fields(config)
        if not f.metadata.get("pytree_node", True)
    }


def _static_defaults(config: Any) -> dict[str, Any]:
    """The static fields' defaults as :func:`_static_record` writes them: a checkpoint written
    before a field existed resumes when the run keeps that field at its default (each option
    added to a ``Config`` defaults to the behaviour before it)."""
    if not dataclasses.is_dataclass(config):
        return {}
    return {
        f.name: repr(f.default)
        for f in dataclasses.fields(config)
        if not f.metadata.get("pytree_node", True) and f.default is not dataclasses.MISSING
    }


def _check_nonfinite(
    row: dict[str, Any], finite: np.ndarray, step: int, run: _Run, last_ckpt: int | None
) -> None:
    layout, labels, unit = run.layout, run.labels, run.step_unit[:-1]  # "env step"
    where = f"last good checkpoint: step {last_ckpt}" if last_ckpt else "no checkpoint was written"
    bad = [(name, np.asarray(v, np.float64)) for name, v in row.items()]
    bad = [(n, v) for n, v in bad if not n.startswith(SPARSE_PREFIXES) and not np.isfinite(v).all()]
    if bad:
        name, values = bad[0]
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0]) if values.ndim else ()
        value = values[index] if index else values
        raise NonFiniteError(
            f"non-finite metric {name!r} = {float(value)} in the chunk ending at {unit} {step} "
            f"({layout.run_name(index, labels)}); training stopped ({where})"
        )
    finite = np.asarray(finite)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0]) if finite.ndim else ()
        raise NonFiniteError(
            f"non-finite parameters or optimiser state after the chunk ending at {unit} {step} "
            f"({layout.run_name(index, labels)}); training stopped ({where})"
        )


# --- what one train() call works with ---------------------------------------------------------


@dataclasses.dataclass
class _Run:
    """What a :func:`train` call trains, fixed before any state exists."""

    agent: Agent
    env: Env
    config: Any  # as given: one config or a Sweep
    base: Any  # the canonical (stacked) config every compiled function takes
    layout: _Layout
    per_iter: int  # env steps (offline: gradient steps) per train_step
    total_iters: int
    data: Any  # the prepared dataset of an offline run, else None
    key: PRNGKey
    data_shapes: dict[str, list[int]] | None = None  # per-row shapes of the raw dataset

    @property
    def offline(self) -> bool:
        return self.data is not None

    @property
    def step_unit(self) -> str:
        """What ``total_steps`` and the history's ``step`` count."""
        return "gradient steps" if self.offline else "env steps"

    @property
    def sweep(self) -> Sweep | None:
        return self.config if isinstance(self.config, Sweep) else None

    @property
    def labels(self) -> list[str] | None:
        return self.sweep.labels if self.sweep else None

    @property
    def first(self) -> Any:
        """The config of the only (or the first) setting."""
        return self.sweep.setting(0) if self.sweep else self.config

    def record(self) -> dict[str, Any]:
        """Checkpoint record fields that a resuming run must match."""
        return {
            "agent": agent_name(self.agent),
            "env": self.env.spec.name,
            "static_config": _static_record(self.first),
            "seeds": self.layout.seeds,
            "sweep": list(self.sweep.settings) if self.sweep else None,
        }

    def init_keys(self) -> jax.Array:
        """Training keys: seed ``i`` uses ``split(key, seeds)[i]``."""
        return jax.random.split(self.key, self.layout.seeds) if self.layout.seeds else self.key

    def eval_keys(self, chunk: int | None) -> jax.Array:
        """Evaluation keys after ``chunk`` (``None``: at step 0): :func:`evaluation_keys`."""
        return evaluation_keys(self.key, chunk, self.layout.seeds)


@dataclasses.dataclass(frozen=True)
class _Chunks:
    """How the run is cut into compiled chunks."""

    iterations: int  # train steps per chunk
    count: int  # chunks in the whole run
    done: int  # chunks finished before this call (restored)
    steps: int  # env steps per chunk
    eval_every: int  # chunks between evaluations; 0: never
    checkpoint_every: int  # chunks between checkpoints
    eval_at: frozenset[int] | None = None  # with train(eval_at=...): chunks (-1: step 0)
    checkpoint_at_evals: bool = False  # checkpoint after the eval_at chunks (and the last)

    @property
    def evaluating(self) -> bool:
        """Whether the run evaluates at all (and so compiles an evaluation)."""
        return bool(self.eval_at) if self.eval_at is not None else self.eval_every > 0

    @property
    def evaluates_start(self) -> bool:
        """Evaluate the initial state (step 0): a run that evaluates, unless it resumed (with
        ``eval_at``: only when it lists 0)."""
        if self.eval_at is not None:
            return -1 in self.eval_at and self.done == 0
        return self.eval_every > 0 and self.done == 0

    def evaluates(self, chunk: int) -> bool:
        if self.eval_at is not None:
            return chunk in self.eval_at
        last = chunk == self.count - 1
        return self.eval_every > 0 and ((chunk + 1) % self.eval_every == 0 or last)

    def checkpoints(self, chunk: int) -> bool:
        if chunk == self.count - 1:
            return True
        if self.checkpoint_at_evals:
            return chunk in (self.eval_at or ())
        return (chunk + 1) % self.checkpoint_every == 0


@dataclasses.dataclass
class _Restored:
    state: Any
    chunk_iterations: int
    chunks_done: int
    rows: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class _Sharding:
    state: Any  # shardings of the state
    replicated: Any  # sharding of the config, data and metrics


class _Outputs:
    """Where each row and state go: loggers, then the checkpoint folder (the row to its
    :class:`~jaxrl.checkpoint.History`, the state to a checkpoint that refers to the rows). The
    step-0 evaluation row goes to the loggers and the history too, but no checkpoint is written
    for it (the next checkpoint's ``history_rows`` counts it)."""

    def __init__(self, loggers: Sequence[Logger], directory: str | None, keep: int) -> None:
        # in a multi-process run only process 0 logs (every process saves its checkpoint shards)
        self.loggers = list(loggers) if distributed.is_primary() else []
        self.checkpointer = Checkpointer(directory, keep=keep) if directory else None
        self.history = History(directory) if directory else None
        steps = self.checkpointer.steps() if self.checkpointer else []
        self.last_checkpoint: int | None = steps[-1] if steps else None

    def write_start(self, row: dict[str, Any]) -> None:
        """The row of the evaluation at step 0."""
        for logger in self.loggers:
            logger.log(0, row)
        if self.history is not None:
            self.history.append(0, row)

    def write(
        self,
        run: _Run,
        chunks: _Chunks,
        chunk: int,
        row: dict[str, Any],
        state: Any,
        history_rows: int,
    ) -> None:
        """The row of ``chunk``, then (when due) a checkpoint covering the first
        ``history_rows`` rows of the history (this one included)."""
        step = (chunk + 1) * chunks.steps
        for logger in self.loggers:
            logger.log(step, row)
        if self.checkpointer is None:
            return
        self.history.append(step, row)
        if chunks.checkpoints(chunk):
            record = {
                **run.record(),
                "config": config_record(run.base),
                # the whole config as JSON (jaxrl.config.from_json rebuilds it: jaxrl.policy)
                "agent_config": to_json(run.first) if dataclasses.is_dataclass(run.first) else None,
                "data_shapes": run.data_shapes,
                "chunk_iterations": chunks.iterations,
                "chunks_done": chunk + 1,
                "history_rows": history_rows,
            }
            self.checkpointer.save(step, state, record)
            self.last_checkpoint = step

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()
        if self.checkpointer:
            self.history.close()
            self.checkpointer.close()


def _bar_label(run: _Run) -> str:
    """The default progress-bar label: the agent's name (and, offline, what the steps are)."""
    name = agent_name(run.agent)
    return f"{name} (gradient steps)" if run.offline else name


class _ProgressBar:
    """tqdm over steps (env steps, or gradient steps of an offline run: unit ``grad``), showing
    steps/s, the last episode return (only when rows have ``episode_return``) and the last
    evaluation (once one ran)."""

    def __init__(self, run: _Run, chunks: _Chunks, show: bool, description: str | None) -> None:
        self.bar = tqdm(
            total=chunks.count * chunks.steps,
            initial=chunks.done * chunks.steps,
            unit="grad" if run.offline else "step",
            unit_scale=True,
            disable=not show or not distributed.is_primary(),
            desc=description or _bar_label(run),
            dynamic_ncols=True,
        )
        self.chunk_steps = chunks.steps
        self.runs = run.layout.num_runs
        self.rate = "gps" if run.offline else "sps"
        self.trained = 0
        self.seconds = 0.0
        self.last_return: float | None = None  # None: no row had episode returns
        self.last_eval: float | None = None  # None: no evaluation yet

    def evaluated(self, row: dict[str, Any]) -> None:
        """Show the evaluation at step 0."""
        self._remember(row)
        self._show()

    def update(self, row: dict[str, Any], train_seconds: float) -> None:
        self.trained += self.chunk_steps
        self.seconds = train_seconds
        self._remember(row)
        self.bar.update(self.chunk_steps)
        self._show()

    def _remember(self, row: dict[str, Any]) -> None:
        if "episode_return" in row:
            ret = _display(row["episode_return"])
            if math.isfinite(ret) or self.last_return is None:  # keep the last finite return
                self.last_return = ret
        if "eval_return" in row:
            self.last_eval = _display(row["eval_return"])

    def _show(self) -> None:
        postfix = {}
        if self.trained:
            postfix[self.rate] = f"{self.trained * self.runs / max(self.seconds, 1e-9):.3g}"
        if self.last_return is not None:
            postfix["ret"] = f"{self.last_return:.4g}"
        if self.last_eval is not None:
            postfix["eval"] = f"{self.last_eval:.4g}"
        self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self.bar.close()


# --- the steps of train() ---------------------------------------------------------------------


def _whole(name: str, value: Any, minimum: int, optional: bool = False) -> int | None:
    """``value`` as an int ``>= minimum`` (``None`` allowed when ``optional``). A float is
    accepted when it is a whole number (``total_steps=1e6``); a bool, NaN or inf is not. The
    error names the argument, its value and what was expected."""
    expected = ("None or " if optional else "") + f"an int >= {minimum}"
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r}: expected {expected}, got a {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name}={value}: expected {expected} (a finite number)")
    if value != int(value):
        raise ValueError(f"{name}={value}: expected {expected} (a whole number)")
    if value < minimum:
        raise ValueError(f"{name}={value}: expected {expected}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class _Arguments:
    """:func:`train`'s run-shaping arguments, checked (:meth:`check`) before any work starts."""

    total_steps: int
    seeds: int | None
    chunk_steps: int | None
    eval_every: int | None
    eval_at: tuple[int, ...] | None
    num_eval_episodes: int
    checkpoint_every: int | None
    keep_checkpoints: int
    devices: int | list[jax.Device] | None

    @classmethod
    def check(
        cls,
        *,
        total_steps: Any,
        seeds: Any,
        chunk_steps: Any,
        eval_every: Any,
        num_eval_episodes: Any,
        checkpoint_every: Any,
        keep_checkpoints: Any,
        devices: Any,
        resume: bool,
        checkpoint_dir: str | None,
        eval_at: Any = None,
    ) -> _Arguments:
        """Every argument checked (``resume`` first, then in the order of :func:`train`'s
        signature); the first bad one raises.

        Raises:
            TypeError: an argument of the wrong type (e.g. a bool where a count is expected).
            ValueError: out of range, NaN/inf, more devices than JAX sees, or ``resume``
                without ``checkpoint_dir``.
        """
        if resume and checkpoint_dir is None:
            raise ValueError(
                f"resume={resume!r} needs a checkpoint_dir to resume from (got checkpoint_dir="
                "None): pass checkpoint_dir=<folder>, or resume=False"
            )
        return cls(
            total_steps=_whole("total_steps", total_steps, 1),
            seeds=_whole("seeds", seeds, 1, optional=True),
            chunk_steps=_whole("chunk_steps", chunk_steps, 1, optional=True),
            eval_every=_whole("eval_every", eval_every, 0, optional=True),
            eval_at=_check_eval_at(eval_at, eval_every, total_steps),
            num_eval_episodes=_whole("num_eval_episodes", num_eval_episodes, 1),
            checkpoint_every=_whole("checkpoint_every", checkpoint_every, 1, optional=True),
            keep_checkpoints=_whole("keep_checkpoints", keep_checkpoints, 1),
            devices=_check_devices(devices),
        )


def _check_eval_at(eval_at: Any, eval_every: Any, total_steps: Any) -> tuple[int, ...] | None:
    """``eval_at`` as a sorted tuple of distinct whole step counts in ``[0, total_steps]``, or
    ``None``; refused together with ``eval_every`` (one schedule per run)."""
    if eval_at is None:
        return None
    if eval_every is not None:
        raise ValueError(
            f"eval_at={eval_at!r} and eval_every={eval_every!r}: give one evaluation schedule "
            "(eval_at: the steps to evaluate at; eval_every: an interval)"
        )
    if isinstance(eval_at, (str, bytes, numbers.Real)) or not hasattr(eval_at, "__iter__"):
        raise TypeError(f"eval_at={eval_at!r}: expected a sequence of step counts >= 0")
    steps = [_whole(f"eval_at[{i}]", s, 0) for i, s in enumerate(eval_at)]
    total = _whole("total_steps", total_steps, 1)
    for i, s in enumerate(steps):
        if s > total:
            raise ValueError(
                f"eval_at[{i}]={s}: expected a step within the run, <= total_steps={total}"
            )
    return tuple(sorted(set(steps)))


def _check_devices(devices: Any) -> int | list[jax.Device] | None:
    """``devices`` as ``None``, a count of at most ``len(jax.devices())``, or a non-empty list
    of ``jax.Device``."""
    if devices is None:
        return None
    if isinstance(devices, (numbers.Real, bool, np.bool_)):
        n = _whole("devices", devices, 1)
        available = jax.devices()
        if n > len(available):
            raise ValueError(
                f"devices={n}: expected at most {len(available)}, the number of devices JAX "
                f"sees ({', '.join(str(d) for d in available)})"
            )
        distributed.check_spans_processes(available[:n])
        return n
    listed = list(devices)
    if not listed or not all(isinstance(d, jax.Device) for d in listed):
        raise ValueError(
            f"devices={devices!r}: expected None, an int >= 1 or a non-empty list of jax.Device"
        )
    distributed.check_spans_processes(listed)
    return listed


def _device_count(devices: int | list[jax.Device] | None) -> int:
    if devices is None:  # one device; in a multi-process run every device of every process
        return jax.device_count() if distributed.multi_process() else 1
    return devices if isinstance(devices, int) else len(devices)


def _check_run(agent: Agent, config: Any, args: _Arguments, data: Any) -> tuple[Any, int]:
    """Check the agent against the protocol and the data, the config (every sweep setting), the
    devices against the run layout, and that ``total_steps`` covers one iteration. Returns the
    first setting's config and the steps per iteration."""
    modes = agent_modes(agent)
    name = agent_name(agent)
    if data is not None and "offline" not in modes:
        raise TypeError(f"agent {name!r} trains online: its init takes no data")
    if data is None and "online" not in modes:
        raise TypeError(f"agent {name!r} trains from data: pass data=<dataset>")
    sweep = config if isinstance(config, Sweep) else None
    if sweep:
        sweep.validate()
    elif hasattr(config, "validate"):
        config.validate()
    first = sweep.setting(0) if sweep else config
    check_data = getattr(agent, "check_data", None)
    if data is not None and check_data is not None:
        check_data(first, data)  # reads static fields, which every sweep setting shares
    layout = _Layout(sweep=sweep.size if sweep else None, seeds=args.seeds)
    if data is not None and layout.num_runs == 1 and _device_count(args.devices) > 1:
        raise ValueError(
            f"devices={args.devices!r}: an offline agent with a single run has no environment "
            "axis to split; use seeds or a sweep to spread runs over devices"
        )
    per_iter = int(agent.steps_per_iteration(first))
    if args.total_steps < per_iter:
        unit = "gradient steps" if data is not None else "env steps"
        envs, steps = getattr(first, "num_envs", None), getattr(first, "num_steps", None)
        product = ""
        if isinstance(envs, int) and isinstance(steps, int) and envs * steps == per_iter:
            product = f" = num_envs {envs} x num_steps {steps}"  # PPO and the agents built on it
        raise ValueError(
            f"total_steps={args.total_steps} is less than one iteration of {name!r} "
            f"(steps_per_iteration(config) = {per_iter} {unit}{product}); ask for at least "
            f"{per_iter}"
        )
    return first, per_iter


def check_arguments(
    agent: Agent,
    config: Any,
    env: Env,
    total_steps: Any,
    *,
    seeds: Any = None,
    chunk_steps: Any = None,
    eval_every: Any = None,
    eval_at: Any = None,
    num_eval_episodes: Any = 16,
    checkpoint_every: Any = None,
    keep_checkpoints: Any = 3,
    devices: Any = None,
    resume: bool = False,
    checkpoint_dir: str | None = None,
    data: Any = None,
    watchdog: Any = True,
    watchdog_exit: bool | None = None,
) -> None:
    """Every check :func:`train` makes before any work, without doing any: the arguments (as
    :func:`train` takes them), the agent's fit to the protocol and to ``data``, the config (each
    sweep setting) and that ``total_steps`` covers one iteration. The run layer
    (:mod:`jaxrl.runs`) calls it before it creates a run folder. ``env`` is the env the run
    would use (its compatibility is the agent's ``check_env``, see :mod:`jaxrl.types`).

    Raises:
        TypeError, ValueError: naming the argument (or ``Config.<field>``), the value and what
            was expected.
    """
    del env
    args = _Arguments.check(
        total_steps=total_steps,
        seeds=seeds,
        chunk_steps=chunk_steps,
        eval_every=eval_every,
        eval_at=eval_at,
        num_eval_episodes=num_eval_episodes,
        checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints,
        devices=devices,
        resume=resume,
        checkpoint_dir=checkpoint_dir,
    )
    _check_watchdog(watchdog)
    del watchdog_exit
    _check_run(agent, config, args, data)


def _setup(agent: Agent, config: Any, env: Env, key: PRNGKey, args: _Arguments, data: Any) -> _Run:
    """Step 1: check the agent, its config and that ``total_steps`` covers an iteration
    (:func:`_check_run`), then prepare the dataset and fix the batching. (The arguments were
    checked by :meth:`_Arguments.check` before this.)"""
    first, per_iter = _check_run(agent, config, args, data)
    sweep = config if isinstance(config, Sweep) else None
    layout = _Layout(sweep=sweep.size if sweep else None, seeds=args.seeds)
    data_shapes = _data_shapes(data)
    if data is not None and hasattr(agent, "prepare_data"):
        data = agent.prepare_data(first, env, data)
    return _Run(
        agent=agent,
        env=env,
        config=config,
        base=canonical_config(sweep.config if sweep else config),
        layout=layout,
        per_iter=per_iter,
        total_iters=math.ceil(args.total_steps / per_iter),
        data=data,
        key=key,
        data_shapes=data_shapes,
    )


def _data_shapes(data: Any) -> dict[str, list[int]] | None:
    """Per-row shapes of a dataset's observations and actions, for the checkpoint record: what
    :func:`jaxrl.load_policy` needs to rebuild an offline agent's state without the data (the
    dataset's observations may differ from the env's, e.g. states without goals)."""
    if data is None:
        return None
    shapes = {
        name: list(np.shape(getattr(data, name))[1:])
        for name in ("observations", "actions")
        if hasattr(data, name)
    }
    return shapes or None


def _initial_state(run: _Run, init_state: Any) -> Any:
    """Step 2: ``agent.init`` for every run (jitted and cached), or a copy of ``init_state``
    (copied because the compiled chunk donates the state it is given)."""
    if init_state is not None:
        return jax.tree.map(jnp.copy, init_state)
    agent, env, offline = run.agent, run.env, run.offline

    def init_one(c: Any, k: PRNGKey, d: Any) -> Any:
        return agent.init(c, env, k, d) if offline else agent.init(c, env, k)

    init_fn, _ = _cached(
        ("init", agent, env, run.layout, run.offline, _signature(run.data)),
        lambda: jax.jit(run.layout.init(init_one)),
    )
    return init_fn(run.base, run.init_keys(), run.data)


def _restore(run: _Run, outputs: _Outputs, like: Any) -> _Restored:
    """Step 4 (resume): the newest usable checkpoint's state, chunk layout and metric rows;
    loggers rewind to its step so that later rows are not written twice."""
    added = {"static_config": _static_defaults(run.first)}
    state, record = outputs.checkpointer.restore(like=like, expect=run.record(), added=added)
    if not json_equal(record.get("config"), config_record(run.base)):
        log.warning("resuming with dynamic config values that differ from the checkpoint's")
    rows = outputs.history.restore(record)
    for logger in outputs.loggers:
        if hasattr(logger, "rewind"):
            logger.rewind(int(record["step"]))
    return _Restored(state, int(record["chunk_iterations"]), int(record["chunks_done"]), rows=rows)


def _plan_chunks(run: _Run, args: _Arguments, restored: _Restored | None) -> _Chunks:
    """Step 5: whole chunks of (nearly) the requested size covering the run; a resumed run keeps
    its checkpoint's chunk size (and so its compiled chunk and its bits).

    Chunks are ``chunk_steps``, else ``eval_every``, else about 1/20 of the run (at least one
    iteration). Evaluations are every ``eval_every`` steps rounded to whole chunks; with
    ``eval_every=None`` every ``round(chunks / DEFAULT_EVALUATIONS)`` chunks (at least one),
    i.e. every second chunk of the default 20, about 10 evaluations; the last chunk is always
    evaluated. (Chunks of 1/20 with an evaluation every second one, rather than chunks of 1/10,
    keep the default chunking, and so the compiled programs and bits of existing runs.)"""
    per_iter, total_iters = run.per_iter, run.total_iters
    total_steps, chunk_steps, eval_every = args.total_steps, args.chunk_steps, args.eval_every
    eval_at = args.eval_at
    if restored:
        iterations, done = restored.chunk_iterations, restored.chunks_done
    elif eval_at is not None and chunk_steps is None:
        # chunks as long as the schedule allows: the gcd of the evaluated iteration counts and
        # the run's, so every listed step ends a chunk and the run is not lengthened
        iterations = math.gcd(total_iters, *(round(s / per_iter) for s in eval_at))
        done = 0
    else:
        interval = chunk_steps or eval_every or max(per_iter, total_steps // 20)
        count = max(1, round(total_iters / max(1, round(interval / per_iter))))
        iterations, done = math.ceil(total_iters / count), 0
    count = max(done, math.ceil(total_iters / iterations))
    steps = iterations * per_iter

    def every(env_steps: int | None, default: int) -> int:
        return default if env_steps is None else max(1, round(env_steps / steps))

    at = None
    if eval_at is not None:  # each step rounded to the end of a whole chunk (-1: step 0)
        at = frozenset(min(count, max(0, round(s / steps))) - 1 for s in eval_at)
    return _Chunks(
        iterations=iterations,
        count=count,
        done=done,
        steps=steps,
        eval_every=0 if eval_every == 0 else every(eval_every, default_eval_every(count)),
        checkpoint_every=every(args.checkpoint_every, 1),
        eval_at=at,
        checkpoint_at_evals=at is not None and args.checkpoint_every is None,
    )


def default_eval_every(chunks: int) -> int:
    """Chunks between evaluations of a run of ``chunks`` chunks with ``eval_every=None``:
    about :data:`DEFAULT_EVALUATIONS` evaluations (plus the one at step 0)."""
    return max(1, round(chunks / DEFAULT_EVALUATIONS))


def _place(run: _Run, state: Any, devices) -> tuple[_Run, Any, _Sharding | None]:
    """Step 3 (before a restore, which then reads straight into this layout): spread
    independent runs over the devices, or a single run's environments (data parallelism);
    config and data are replicated. In a multi-process run every process built the same host
    values and :func:`jaxrl.distributed.to_global` makes them global arrays (each process
    fills its own devices' shards); ``devices=None`` then means every device."""
    if devices is None and distributed.multi_process():
        devices = jax.device_count()  # a multi-process run spans every process's devices
    if devices is None:
        return run, state, None
    devs = jax.devices()[:devices] if isinstance(devices, int) else list(devices)
    if len(devs) < 2:
        return run, state, None
    mesh = distributed.make_mesh(devs)
    if run.layout.num_runs > 1:
        shardings = distributed.run_axis_shardings(
            state, mesh, run.layout.sweep or run.layout.seeds
        )
    else:  # an online run (_setup refuses a single offline run on several devices)
        shardings = distributed.env_axis_shardings(state, mesh, run.base.num_envs)
    rep = distributed.replicated(mesh)
    run = dataclasses.replace(
        run, base=distributed.to_global(run.base, rep), data=distributed.to_global(run.data, rep)
    )
    return run, distributed.to_global(state, shardings), _Sharding(shardings, rep)


def _compile(run: _Run, chunks: _Chunks, state, sharding, num_eval_episodes, deterministic):
    """Step 6: the chunk and (if the run evaluates) the evaluation, compiled ahead of time and
    cached, so a run that differs only in dynamic values compiles nothing."""
    agent, env, layout = run.agent, run.env, run.layout
    shard_key = tuple(jax.tree.leaves(sharding.state)) if sharding else None
    sig = (layout, _signature(run.base), _signature(state), shard_key)

    def build_chunk():
        fn = layout.chunk(make_chunk_fn(agent, env, chunks.iterations, run.offline))
        rep = sharding.replicated if sharding else None
        kw = {"out_shardings": (sharding.state, rep, rep)} if sharding else {}
        return jax.jit(fn, donate_argnums=1, **kw).lower(run.base, state, run.data).compile()

    def build_eval():
        fn = layout.evaluate(make_eval_fn(agent, env, num_eval_episodes, deterministic))
        kw = {}
        if sharding:  # metrics replicated: every process reads the whole evaluation
            rep = sharding.replicated
            kw = {"in_shardings": (rep, sharding.state, rep), "out_shardings": rep}
        return jax.jit(fn, **kw).lower(run.base, state, _eval_keys(run, 0, sharding)).compile()

    key = ("chunk", agent, env, chunks.iterations, run.offline, _signature(run.data), *sig)
    chunk, _ = _cached(key, build_chunk)
    if not chunks.evaluating:
        return chunk, None
    evaluate, _ = _cached(("eval", agent, env, num_eval_episodes, deterministic, *sig), build_eval)
    return chunk, evaluate


def _eval_keys(run: _Run, chunk: int | None, sharding: _Sharding | None) -> jax.Array:
    """:meth:`_Run.eval_keys`, replicated over the mesh when the run is spread over devices (in
    a multi-process run, a global array every process holds whole)."""
    keys = run.eval_keys(chunk)
    return keys if sharding is None else distributed.to_global(keys, sharding.replicated)


def _train_chunks(run: _Run, chunks: _Chunks, compiled, state, rows, outputs, bar, dog, sharding):
    """Step 7, the host loop. A run that evaluates and did not resume first evaluates the
    initial state (the row ``step: 0``, keys ``evaluation_keys(key, None, seeds)``). Then each
    chunk runs compiled; between chunks Python checks for NaN/Inf, evaluates, keeps the row,
    logs, checkpoints and updates the progress bar. ``rows`` (the restored ones on resume) grows
    by the new rows. Returns ``(state, seconds spent in the compiled chunks)``."""
    chunk_fn, eval_fn = compiled
    seconds = 0.0
    unit = run.step_unit
    if eval_fn is not None and chunks.evaluates_start:
        with dog.phase("evaluation", f"of the initial state, {unit} 0"):
            keys = _eval_keys(run, None, sharding)
            row = _to_row(jax.device_get(eval_fn(run.base, state, keys)))
        rows.append({"step": 0, **row})
        outputs.write_start(row)
        bar.evaluated(row)
    for chunk in range(chunks.done, chunks.count):
        step = (chunk + 1) * chunks.steps
        span = f"{unit} {step - chunks.steps}-{step}"
        t0 = time.perf_counter()
        with dog.phase("chunk", f"{chunk + 1}/{chunks.count}, {span}"):
            state, metrics, finite = chunk_fn(run.base, state, run.data)
            metrics, finite = jax.device_get((metrics, finite))
        seconds += time.perf_counter() - t0
        row = _to_row(metrics)
        _check_nonfinite(row, finite, step, run, outputs.last_checkpoint)
        if eval_fn is not None and chunks.evaluates(chunk):
            with dog.phase("evaluation", f"after chunk {chunk + 1}, {unit} {step}"):
                keys = _eval_keys(run, chunk, sharding)
                eval_row = jax.device_get(eval_fn(run.base, state, keys))
            row.update(_to_row(eval_row))
        rows.append({"step": step, **row})
        with dog.phase("checkpoint", f"logging and saving at {unit} {step}"):
            outputs.write(run, chunks, chunk, row, state, history_rows=len(rows))
        if outputs.last_checkpoint is not None:
            dog.resume_hint = (
                f"The newest checkpoint is at {unit} {outputs.last_checkpoint} in "
                f"{outputs.checkpointer.directory}: train(..., resume=True) or the script's "
                "--resume continues from it."
            )
        bar.update(row, seconds)
    return state, seconds


# --- the driver ------------------------------------------------------------------------------


def train(
    agent: Agent,
    config: Any,
    env: Env,
    key: PRNGKey,
    total_steps: int,
    *,
    seeds: int | None = None,
    chunk_steps: int | None = None,
    eval_every: int | None = None,
    eval_at: Sequence[int] | None = None,
    num_eval_episodes: int = 16,
    eval_deterministic: bool = True,
    loggers: Sequence[Logger] = (),
    progress: bool = True,
    description: str | None = None,
    checkpoint_dir: str | None = None,
    checkpoint_every: int | None = None,
    keep_checkpoints: int = 3,
    resume: bool = False,
    devices: int | Sequence[jax.Device] | None = None,
    data: Any = None,
    init_state: Any = None,
    watchdog: float | bool | None = True,
    watchdog_exit: bool | None = None,
) -> TrainResult:
    """Train ``agent`` (see :class:`jaxrl.types.Agent`) on ``env`` for at least ``total_steps``
    environment steps per run (for an offline agent, trained on ``data``, gradient steps).

    Every argument is checked before any work starts (before ``agent.init``, before the
    checkpoint folder is created); an error names the argument, its value and what was
    expected. Counts may be given as whole floats (``total_steps=1e6``), never as bools, NaN or
    inf.

    Args:
        agent: the agent, e.g. the module ``jaxrl.agents.ppo``.
        config: the agent's ``Config``, or a :class:`jaxrl.sweep.Sweep` of them (vmapped).
        env: an environment (``envs.make(...)``).
        key: PRNG key. With ``seeds=N`` the run for seed ``i`` uses ``jax.random.split(key, N)[i]``
            and equals a single run with that key; every sweep setting uses the same keys.
        total_steps: env steps per run (offline: gradient steps), at least one iteration of the
            agent (``agent.steps_per_iteration(config)``, e.g. ``num_envs x num_steps`` for
            PPO). Rounded up to whole chunks (``TrainResult.total_steps`` says how many were
            trained, ``TrainResult.requested_steps`` what was asked). On resume, the target
            total.
        seeds: ``None``, or an int >= 1: ``jax.vmap`` over this many seeds; metrics keep a seed
            axis.
        chunk_steps: ``None`` or >= 1: steps per compiled chunk (one progress/log row each),
            rounded to whole iterations. Default: ``eval_every`` if given, else about 1/20 of
            the run.
        eval_every: ``None`` or >= 0: evaluate every this many steps (rounded to whole chunks,
            the last chunk always included). ``None``: about 10 evaluations spread evenly over
            the run (every second chunk of the default ~20). 0: never. A run that evaluates also
            evaluates its initial state before training: the first history row is ``step: 0``
            with only the evaluation metrics (not repeated on resume). Evaluation keys come from
            :func:`evaluation_keys` (never the training keys).
        eval_at: ``None``, or instead of ``eval_every`` an explicit schedule: the env steps
            (each in ``[0, total_steps]``) after which to evaluate, 0 meaning the initial state
            and nothing else evaluated (not even the last chunk), e.g. GoRL's official
            ``linspace(0, iterations - 1, 10)`` iterations
            (:func:`jaxrl.agents.presets.gorl_eval_at`). Without ``chunk_steps``, chunks are
            the greatest common divisor of the listed iteration counts and the run's, so every
            listed step ends a chunk; with it, each step is rounded to the nearest chunk end.
            Without ``checkpoint_every``, checkpoints are written after the evaluated chunks
            and the last one (so a stopped run loses the steps since the last evaluation).
        num_eval_episodes: >= 1: episodes per evaluation (run in parallel, from fresh resets;
            for an env with evaluation tasks, ``ceil(num_eval_episodes / num_tasks)`` per task).
        eval_deterministic: evaluate the policy's mode rather than samples.
        loggers: metric writers (:mod:`jaxrl.loggers`), one row per chunk.
        progress: show a tqdm progress bar.
        description: progress-bar label.
        checkpoint_dir: save the whole state here (orbax), every ``checkpoint_every`` env steps
            (default: every chunk) and at the end; the metric rows go to its ``history.jsonl``.
        checkpoint_every: ``None`` or >= 1: steps between checkpoints (rounded to whole
            chunks).
        keep_checkpoints: >= 1: how many recent checkpoints to keep.
        resume: continue from the newest usable checkpoint in ``checkpoint_dir`` (required) if
            there is one (state, chunk layout and history; bit-identical to an uninterrupted run
            on the same machine). Damaged checkpoints are skipped with one warning line each.
            Without it, a run in ``checkpoint_dir`` starts a new history there.
        devices: ``None``: the default device (in a multi-process run, ``jax.distributed``:
            every device of every process). An int ``1 <= n <= len(jax.devices())`` or a
            non-empty list of devices: spread over those devices (independent runs split across
            devices when there are seeds or sweep settings, else data parallelism over the
            environments, which an offline single run does not have; see
            :mod:`jaxrl.distributed`). In a multi-process run the devices must include some of
            every process; every process calls :func:`train` with the same arguments, only
            process 0 logs, writes the history and shows the progress bar, and every process
            takes part in each checkpoint save and restore.
        data: an offline dataset (e.g. a :class:`jaxrl.data.Dataset`) for an agent that trains
            from data. It goes through ``agent.prepare_data(config, env, data)`` when the agent
            has one, then is passed *unbatched* (shared by all seeds and settings, an argument of
            the compiled chunk, never a baked-in constant) as ``agent.init(config, env, key,
            data)`` and ``agent.train_step(config, env, state, data)``. Without it, agents are
            called without data. Evaluation always uses ``agent.act`` on ``env``.
        init_state: start from this state instead of ``agent.init`` (e.g. the hand-off between
            the phases of :mod:`jaxrl.staged`); with seeds or a sweep it has their leading axes.
            It is copied, not donated. On resume the checkpoint's state wins.
        watchdog: report a phase (init, compilation, a chunk, an evaluation, a checkpoint)
            that makes no progress for this many seconds (or 10 times the longest finished
            phase of its kind) with the phase's name and every thread's stack on stderr
            (:mod:`jaxrl.watchdog`). ``True``: :data:`jaxrl.watchdog.DEFAULT_TIMEOUT` (30
            minutes) or the ``JAXRL_WATCHDOG_SECONDS`` environment variable; ``False``/``None``:
            off.
        watchdog_exit: after such a report, end the process with status 75 so that a scheduler
            can restart it (with ``resume=True``) from the newest checkpoint. ``None``: the
            ``JAXRL_WATCHDOG_EXIT`` environment variable (``1``), else report only.

    Raises:
        TypeError: ``agent`` does not fit :class:`jaxrl.types.Agent`, ``data`` is given to an
            agent that takes none (or missing for one that needs it), or an argument has the
            wrong type.
        ValueError: an argument is out of range (see Args), or ``resume`` has no
            ``checkpoint_dir``.
        NonFiniteError: a loss, gradient norm or parameter became NaN/Inf (the message names the
            metric, the step and the seed); checkpoints written before stay as they were.
        jaxrl.checkpoint.CheckpointError: ``resume`` found an incompatible checkpoint, or every
            checkpoint is damaged (the message lists each step and its cause).
    """
    args = _Arguments.check(
        total_steps=total_steps,
        seeds=seeds,
        chunk_steps=chunk_steps,
        eval_every=eval_every,
        eval_at=eval_at,
        num_eval_episodes=num_eval_episodes,
        checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints,
        devices=devices,
        resume=resume,
        checkpoint_dir=checkpoint_dir,
    )
    timeout = _check_watchdog(watchdog)
    run = _setup(agent, config, env, key, args, data)
    # Nothing above creates state or folders: bad input has failed by now.
    dog = Watchdog(
        timeout,
        exit_on_stall=default_exit() if watchdog_exit is None else bool(watchdog_exit),
        context=description or _bar_label(run),
    )
    with dog:
        return _train(
            run, args, dog, init_state, loggers, checkpoint_dir, resume, progress, description,
            eval_deterministic,
        )  # fmt: skip


def _check_watchdog(watchdog: Any) -> float | None:
    """``train``'s ``watchdog`` as seconds (``None``: off)."""
    if isinstance(watchdog, (bool, np.bool_)):
        return default_timeout() if watchdog else None
    if watchdog is None:
        return None
    if not isinstance(watchdog, numbers.Real):
        raise TypeError(f"watchdog={watchdog!r}: expected True, False, None or seconds > 0")
    if not math.isfinite(watchdog) or watchdog <= 0:
        raise ValueError(f"watchdog={watchdog!r}: expected True, False, None or seconds > 0")
    return float(watchdog)


def _train(
    run: _Run,
    args: _Arguments,
    dog: Watchdog,
    init_state: Any,
    loggers: Sequence[Logger],
    checkpoint_dir: str | None,
    resume: bool,
    progress: bool,
    description: str | None,
    eval_deterministic: bool,
) -> TrainResult:
    """Steps 2-7 of :func:`train` (after the checks), each phase under the watchdog."""
    t0 = time.perf_counter()
    with dog.phase("init", "agent.init and its compilation"):
        state = _initial_state(run, init_state)
    # placed before a restore, so that orbax restores each process's shards straight into the
    # run's layout (in a multi-process run no process can hold the whole state)
    placed, state, sharding = _place(run, state, args.devices)
    outputs = _Outputs(loggers, checkpoint_dir, args.keep_checkpoints)
    bar, restored = None, None
    try:
        if resume and outputs.checkpointer.steps():
            with dog.phase("restore", f"the newest checkpoint in {checkpoint_dir}"):
                restored = _restore(run, outputs, like=state)
            state = restored.state
            if sharding is not None:
                state = distributed.to_global(state, sharding.state)
        elif outputs.history is not None:
            outputs.history.start()
        run = placed
        chunks = _plan_chunks(run, args, restored)
        if chunks.count * chunks.steps > args.total_steps:
            log.info(
                "total_steps=%d rounded up to %d %s (%d whole chunks of %d)",
                args.total_steps,
                chunks.count * chunks.steps,
                run.step_unit,
                chunks.count,
                chunks.steps,
            )
        with dog.phase("compile", "the training chunk and the evaluation"):
            compiled = _compile(
                run, chunks, state, sharding, args.num_eval_episodes, eval_deterministic
            )
        compile_seconds = time.perf_counter() - t0
        bar = _ProgressBar(run, chunks, progress, description)
        rows = restored.rows if restored else []
        state, seconds = _train_chunks(
            run, chunks, compiled, state, rows, outputs, bar, dog, sharding
        )
    finally:
        if bar:
            bar.close()
        with dog.phase("checkpoint", "waiting for the last saves"):
            outputs.close()
    return TrainResult(
        state=state,
        history=_stack(rows),
        total_steps=chunks.count * chunks.steps,
        train_seconds=seconds,
        compile_seconds=compile_seconds,
        num_runs=run.layout.num_runs,
        steps_this_call=(chunks.count - chunks.done) * chunks.steps,
        step_unit=run.step_unit,
        requested_steps=args.total_steps,
        chunk_steps=chunks.steps,
    )
