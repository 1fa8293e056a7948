"""Runs in phases: train an agent with :func:`jaxrl.train`, hand the phase's best evaluated state
to a host function, and start the next phase from the state that function returns.

    phases = [staged.Phase(agent, config, 100_000, name=f"stage_{k}") for k in range(3)]
    results = staged.run(phases, env, key, eval_every=10_000, handoff=my_handoff)

Phase ``k`` trains ``phase.agent`` for ``phase.steps`` env steps with the key ``fold_in(key, k)``,
evaluating every ``eval_every`` steps and checkpointing every evaluated state under
``run_dir/<phase.name>``. Its best evaluated checkpoint is restored (of equal returns the first, or
the later with ``Phase(ties="later")``, see :func:`best_evaluation`) and, between phases, given to
``handoff`` as a :class:`PhaseEnd`. The hand-off is plain host code (it may jit what it likes) and
returns ``(start, info)``: ``start`` is the next phase's initial state (``None``: the next agent's
``init``), ``info`` is kept in the phase's :class:`PhaseResult`. It gets its own key,
``fold_in(key, 1000 + k)``, and the key the next phase trains with (to initialise the fresh parts of
the next state as ``init`` would).

With ``run_dir`` a stopped run resumes: finished phases are restored from their checkpoints (no
step is retrained), the hand-offs run again from the restored best states (deterministic, so the
same bits on the same machine) and an unfinished phase resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import numpy as np

from jaxrl.checkpoint import Checkpointer
from jaxrl.driver import train
from jaxrl.loggers import Logger
from jaxrl.types import Agent, Env, PRNGKey, agent_name

HANDOFF_KEY_OFFSET = 1000
"""The hand-off after phase ``k`` uses ``fold_in(key, HANDOFF_KEY_OFFSET + k)``."""

Ties = Literal["first", "later"]
"""Which evaluated state a phase keeps when returns tie (:func:`best_evaluation`)."""

LATER_TOLERANCE = 1e-6
"""``ties="later"``: a return at most this far below the best so far replaces it (GoRL's
``current_reward >= best_reward - 1e-6``, repo bennidict23/GoRL @1461fb0,
scripts/components/train_encoder_ppo.py:235)."""


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase: ``agent`` trained with ``config`` for ``steps`` env steps."""

    agent: Agent
    config: Any
    steps: int
    name: str = ""
    """Checkpoint sub-folder and progress label (default ``phase_<k>``)."""
    ties: Ties = "first"
    """Which evaluated state the phase keeps when returns tie (:func:`best_evaluation`)."""
    eval_at: tuple[int, ...] | None = None
    """The phase's own evaluation schedule (``jaxrl.train``'s ``eval_at``: env steps within
    the phase, checkpointed after each) instead of the run's ``eval_every``. With 0 in it the
    phase's starting state is evaluated and may be the one kept (GoRL's official
    ``linspace(0, iterations - 1, 10)`` includes iteration 0); without, the start state is never
    kept."""


@dataclasses.dataclass(frozen=True)
class PhaseEnd:
    """What a hand-off sees after phase ``index``."""

    index: int
    phase: Phase
    state: Any
    """The phase's best evaluated state."""
    key: PRNGKey
    """For the hand-off's own randomness."""
    next_phase: Phase | None
    """``None`` after the last phase (with ``handoff_after_last``)."""
    next_key: PRNGKey | None
    """The key the next phase trains with (``None`` after the last phase)."""


Handoff = Callable[[PhaseEnd], tuple[Any, Any]]
"""``handoff(end) -> (start state of the next phase or None, info)``."""


@dataclasses.dataclass
class PhaseResult:
    """One phase of :func:`run`."""

    history: dict[str, np.ndarray]
    """:func:`jaxrl.train`'s history of the phase."""
    best_step: int
    """Env step (within the phase) of the best evaluated state."""
    best_eval_return: float
    state: Any
    """The best evaluated state (what the hand-off was given)."""
    info: Any = None
    """What the hand-off after this phase returned as ``info`` (None if it did not run)."""


def run(
    phases: Sequence[Phase],
    env: Env,
    key: PRNGKey,
    *,
    eval_every: int | None,
    handoff: Handoff | None = None,
    handoff_after_last: bool = False,
    run_dir: str | None = None,
    num_eval_episodes: int = 16,
    watchdog: float | bool | None = True,
    watchdog_exit: bool | None = None,
    loggers_fn: Callable[[int], Sequence[Logger]] | None = None,
    progress: bool = False,
) -> list[PhaseResult]:
    """Train ``phases`` one after the other on ``env`` (one seed), see the module docstring.

    Args:
        eval_every: env steps between deterministic evaluations (and checkpoints) in every phase
            without its own ``Phase.eval_at``; ``None`` only when every phase has one.
        handoff: runs between phases; without it every phase starts from its agent's ``init``.
        handoff_after_last: also run the hand-off after the last phase (for its ``info``).
        run_dir: where the phases' checkpoints live (resumable); a temporary folder if None.
        loggers_fn: ``phase index -> loggers`` for :func:`jaxrl.train`.
        watchdog, watchdog_exit: :func:`jaxrl.train`'s, for every phase.
    """
    phases = list(phases)
    if not phases or len(phases) > HANDOFF_KEY_OFFSET:
        raise ValueError(f"a staged run has 1 to {HANDOFF_KEY_OFFSET} phases, got {len(phases)}")
    if eval_every is None:
        if any(p.eval_at is None for p in phases):
            raise ValueError("eval_every=None needs every Phase to have its own eval_at")
    elif eval_every <= 0:
        raise ValueError(f"eval_every must be positive (phases keep their best), got {eval_every}")
    for k, phase in enumerate(phases):
        if phase.eval_at is not None and not [s for s in phase.eval_at if s > 0]:
            raise ValueError(
                f"phase {k} ({phase.name or 'unnamed'}): Phase.eval_at={phase.eval_at} needs a "
                "step > 0, so that a trained state can be kept"
            )
    folder = contextlib.nullcontext(run_dir) if run_dir else tempfile.TemporaryDirectory()
    with folder as root:
        results: list[PhaseResult] = []
        start = None
        for k, phase in enumerate(phases):
            directory = os.path.abspath(os.path.join(root, phase.name or f"phase_{k}"))
            done = _train_phase(
                phase,
                env,
                jax.random.fold_in(key, k),
                start,
                directory,
                eval_every=eval_every,
                num_eval_episodes=num_eval_episodes,
                watchdog=watchdog,
                watchdog_exit=watchdog_exit,
                loggers=loggers_fn(k) if loggers_fn else (),
                progress=progress,
            )
            start = None
            following = phases[k + 1] if k + 1 < len(phases) else None
            if handoff is not None and (following is not None or handoff_after_last):
                next_key = jax.random.fold_in(key, k + 1) if following else None
                hand_key = jax.random.fold_in(key, HANDOFF_KEY_OFFSET + k)
                end = PhaseEnd(k, phase, done.state, hand_key, following, next_key)
                start, done.info = handoff(end)
            results.append(done)
    return results


def best_evaluation(returns: Sequence[float] | np.ndarray, ties: Ties = "first") -> int:
    """Index of the evaluation a phase keeps, of ``returns`` in evaluation order (no NaN).

    ``"first"``: the highest return, the earliest of equal ones (``argmax``). ``"later"``: GoRL's
    official rule (repo bennidict23/GoRL @1461fb0, scripts/components/train_encoder_ppo.py:235):
    walking forward, an evaluation replaces the kept one when its return is
    ``>= kept - LATER_TOLERANCE``, so of equal returns the later wins, and so does a later one
    up to :data:`LATER_TOLERANCE` lower (the kept return then becomes that lower one, as the
    official ``best_reward = current_reward``)."""
    values = np.asarray(returns, np.float64)
    if values.ndim != 1 or not len(values) or np.isnan(values).any():
        raise ValueError(f"best_evaluation needs a non-empty 1-D array without NaN, got {values}")
    if ties == "first":
        return int(np.argmax(values))
    if ties != "later":
        raise ValueError(f"ties must be 'first' or 'later', got {ties!r}")
    best, kept = -math.inf, 0
    for i, value in enumerate(values):
        if value >= best - LATER_TOLERANCE:
            best, kept = float(value), i
    return kept


def _train_phase(
    phase: Phase,
    env: Env,
    key: PRNGKey,
    start: Any,
    directory: str,
    eval_every: int | None,
    **kw: Any,
) -> PhaseResult:
    """Train (or resume) one phase in ``directory`` and restore its best evaluated checkpoint
    (or, when ``Phase.eval_at`` has 0 and the start state evaluated best, that state)."""
    if phase.eval_at is not None:  # checkpoints after each evaluation and the last chunk
        schedule = {"eval_at": phase.eval_at}
        keep = len(phase.eval_at) + 2
    else:  # every evaluated state, and the last one
        schedule = {"eval_every": eval_every, "checkpoint_every": eval_every}
        keep = math.ceil(phase.steps / eval_every) + 2
    result = train(
        phase.agent,
        phase.config,
        env,
        key,
        phase.steps,
        **schedule,
        checkpoint_dir=directory,
        keep_checkpoints=keep,
        resume=True,
        description=f"{agent_name(phase.agent)} {os.path.basename(directory)}",
        init_state=start,
        **kw,
    )
    evals = np.asarray(result.history["eval_return"], np.float64)
    steps = np.asarray(result.history["step"])
    # The row at step 0 (the starting state) has no checkpoint; it is a candidate only when the
    # phase's own schedule lists 0, and then the state is rebuilt as the driver built it.
    with_start = phase.eval_at is not None and 0 in phase.eval_at
    evaluated = np.flatnonzero(~np.isnan(evals) & ((steps > 0) | with_start))
    best = int(evaluated[best_evaluation(evals[evaluated], phase.ties)])
    best_step = int(steps[best])
    if best_step == 0:
        state = start if start is not None else phase.agent.init(phase.config, env, key)
        return PhaseResult(result.history, 0, float(evals[best]), state)
    checkpointer = Checkpointer(directory, keep=keep)
    try:
        state, _ = checkpointer.restore(like=result.state, step=best_step)
    finally:
        checkpointer.close()
    return PhaseResult(result.history, best_step, float(evals[best]), state)
