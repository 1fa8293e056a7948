"""The run layer: what every script in ``experiments/`` does around :func:`jaxrl.train`.

A script parses its arguments, says which jobs it trains (a :class:`Member`: agent, config, env,
budget, optional dataset) and leaves the rest to this module: it validates every job *before*
anything is written, creates or resumes one run folder, trains each job there with checkpoints
and loggers, and writes the same metrics, curves and final table for every agent::

    args = runs.parse(Args, argv, __doc__, preset=lambda env: PPO_PRESETS.get(env, ppo.Config()))
    run = runs.start(args, lambda a: [runs.Member(ppo, a.config, envs.make(a.env), a.total_steps)])
    report = run.report({"PPO": run.train(run.members[0])})

Run folder: ``<run_dir>/<script>-<env or dataset>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3`` ... when
that name is taken)::

    config.json       how the run was started; written once, when the folder is created
    amendments.jsonl  one line per resume that changed a value (see below)
    checkpoints/      the driver's checkpoints and its history.jsonl
    metrics.jsonl     one row per chunk: floats, [seed] lists, or [setting][seed] for sweeps
    metrics.csv       the same, one column per series (jaxrl.loggers.series)
    tensorboard/      with --tensorboard  (W&B, with --wandb, writes under wandb/)
    curves.png        evaluation return (and more) against env steps or gradient steps
    results.json      the final table: one row per method (or sweep setting)

A run with several jobs (``experiments/props.py``'s methods, the comparison scripts) gives each
job a sub-folder ``<member>/`` with its own ``checkpoints/``, ``metrics.jsonl`` and
``metrics.csv``; ``curves.png`` and ``results.json`` stay at the top, one line / row per job.

``config.json`` (other code reads it, e.g. to load a trained policy)::

    {"script": "ppo",                   # experiments/<script>.py
     "agent": "ppo",                    # the agent's NAME (null: jobs with different agents)
     "env": "pendulum",                 # env name (a list when the jobs use several)
     "dataset": null,                   # dataset path of offline runs (a list for several)
     "seed": 0, "seeds": 1,
     "config": {...},                   # jaxrl.config.to_json of the agent config (args.config)
     "args": {...},                     # every script argument as JSON (resume: null)
     "members": [{"label": "PPO", "path": ".", "agent": "ppo", "env": "pendulum",
                  "dataset": null, "config": {...}}],   # each job; sweeps add "sweep": settings
     "created": "2026-01-31T12:00:00", "jaxrl_version": "0.1.0"}

Rebuild a config with ``jaxrl.config.from_json(Config, saved["config"])``.

Resume (``--resume RUN``): RUN's arguments (``config.json``'s ``args`` with every amendment
applied) become the defaults, and the command line may change only

* ``total_steps`` (it may grow), ``random_return`` / ``expert_return`` (reporting only),
* dynamic config values (``--config.<field>`` of a pytree-leaf field: learning rates,
  coefficients ...), and
* ``progress``, ``tensorboard``, ``wandb``, ``run_dir``, ``watchdog``, ``watchdog_exit`` (they
  change no result).

Anything else (env, seeds, seed, dataset, any static config field, the evaluation schedule,
script options) is refused before anything is written, naming the field, the run's value and the
new one. ``config.json`` is never rewritten: a resume that changes values appends
``{"time": ..., "changes": {"config.learning_rate": [0.0003, 0.001], ...}}`` to
``amendments.jsonl`` (and says so on screen) when the resumed run logs its first new row, so a
resume that cannot start (every checkpoint damaged) records nothing. A plain ``--resume RUN``
continues bit for bit like an uninterrupted run (the driver keeps its checkpoint's chunk layout).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import os
import sys
import tempfile
import time
import typing
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import jax
import numpy as np
import tyro

from jaxrl import data as jdata
from jaxrl import distributed
from jaxrl.checkpoint import CheckpointError
from jaxrl.config import from_json, to_json
from jaxrl.driver import TrainResult, check_arguments, train
from jaxrl.loggers import CsvLogger, JsonlLogger, Logger, TensorBoardLogger, WandbLogger
from jaxrl.plot import plot_curves
from jaxrl.stats import paired_difference
from jaxrl.sweep import Sweep
from jaxrl.types import Agent, Env, agent_name

A = TypeVar("A")

CONFIG_FILE = "config.json"
AMENDMENTS_FILE = "amendments.jsonl"
REPORTING = ("random_return", "expert_return")
"""Script arguments that only change the report: a resume may change them (recorded in
``amendments.jsonl``, like a grown ``total_steps`` and new dynamic config values)."""
FREE = (
    "progress",
    "tensorboard",
    "wandb",
    "run_dir",
    "resume",
    "watchdog",
    "watchdog_exit",
    "devices",
)
"""Script arguments a resume may change without a record: they change no result."""


class RunError(ValueError):
    """A refused command line: bad value, unknown env, missing dataset, or a resume that would
    change what the run is. Raised before anything is written."""


def cli(main: Callable[[], Any]) -> None:
    """Run a script's ``main()``. A :class:`RunError` becomes ``error: <message>`` (exit 2); a
    resume whose checkpoints are all damaged or belong to another run becomes ``error:
    <the CheckpointError>`` (exit 1), so the cause is the last thing on the screen."""
    try:
        main()
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


# --- arguments ---------------------------------------------------------------------------------


@dataclasses.dataclass
class RunArgs:
    """Arguments every training script takes."""

    seeds: int = 1
    """Independent seeds (>= 1), trained in parallel with jax.vmap."""
    seed: int = 0
    """Base random seed."""
    eval_every: int | None = None
    """Evaluate the deterministic policy every this many steps; None: about 10 evaluations plus
    one at step 0; 0: never."""
    num_eval_episodes: int = 16
    """Episodes per evaluation."""
    run_dir: str = "runs"
    """Parent folder of the run folder."""
    resume: str | None = None
    """Continue the run in this run folder: its arguments are the defaults; only --total-steps
    (may grow), dynamic --config.* values and display flags may change."""
    progress: bool = True
    """Show a progress bar."""
    tensorboard: bool = False
    """Also write TensorBoard event files to the run folder (needs tensorboardX)."""
    wandb: bool = False
    """Also log to Weights & Biases (offline mode unless WANDB_MODE says otherwise)."""
    watchdog: float | None = None
    """Seconds a phase (compilation, a chunk, an evaluation, a checkpoint) may make no progress
    before its name and every thread's stack are printed (jaxrl.watchdog); None: the
    JAXRL_WATCHDOG_SECONDS environment variable, else 1800; 0: off."""
    watchdog_exit: bool = False
    """After such a report, exit with status 75 so that a scheduler can restart the run with
    --resume (also JAXRL_WATCHDOG_EXIT=1)."""
    devices: int | None = None
    """Spread the run over this many devices (seeds split across them, or one run's
    environments: data parallelism); None: one device, or in a multi-process run (python -m
    jaxrl.launch) every device of every process. A resume may change it (results then differ
    by float summation order only)."""


@dataclasses.dataclass
class OnlineArgs(RunArgs):
    """Arguments of a script that trains on an environment."""

    env: str = "pendulum"
    """Environment name, e.g. pendulum, cartpole, brax/ant, playground/CartpoleSwingup."""
    total_steps: int = 1_000_000
    """Environment steps to train for (per seed)."""


@dataclasses.dataclass
class OfflineArgs(RunArgs):
    """Arguments of a script that trains on a dataset file."""

    dataset: str = "datasets/pendulum-medium-replay.npz"
    """Dataset file: our .npz (experiments/make_dataset.py), a D4RL-style HDF5 or an
    OGBench-style .npz."""
    env: str | None = None
    """Environment to evaluate on (default: the dataset card's env)."""
    total_steps: int = 100_000
    """Gradient steps per seed."""
    random_return: float | None = None
    """Random-policy return for normalised scores (default: the dataset card's)."""
    expert_return: float | None = None
    """Expert return for normalised scores (default: the dataset card's)."""


def script_name(cls: type) -> str:
    """The script an ``Args`` class belongs to: its module's file name (``ppo`` for
    ``experiments/ppo.py``, however it was imported)."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None) or cls.__module__
    return os.path.splitext(os.path.basename(path))[0]


def parse(
    cls: type[A],
    argv: Sequence[str] | None = None,
    description: str | None = None,
    *,
    preset: Callable[..., Any] | None = None,
) -> A:
    """Parse ``argv`` (default ``sys.argv[1:]``) into ``cls`` with tyro.

    Defaults: with ``--resume RUN``, RUN's arguments (amendments applied); otherwise ``cls``'s,
    with ``config`` from ``preset`` when given. ``preset`` is a function of some ``cls`` fields,
    named by its parameters (``lambda env: PRESETS.get(env, Config())``): those flags are read
    from ``argv`` first, so ``--env cartpole`` makes cartpole's preset the default config.

    Raises:
        RunError: ``--resume`` does not name a run folder of this script.
        SystemExit: tyro refused the command line (or printed ``--help``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    resume = _peek(argv, cls, ["resume"])["resume"] if "resume" in fields else None
    if resume:
        saved = read_run(resume)
        script = script_name(cls)
        if saved["script"] != script:
            raise RunError(
                f"--resume {resume}: a run of experiments/{saved['script']}.py, not of "
                f"experiments/{script}.py"
            )
        try:
            default = args_from_json(cls, {**saved["args"], "resume": resume})
        except (TypeError, ValueError) as e:
            raise RunError(f"--resume {resume}: {CONFIG_FILE} does not fit {script}: {e}") from e
    elif preset is not None:
        names = list(inspect.signature(preset).parameters)
        try:
            default = cls(config=preset(**_peek(argv, cls, names)))
        except (KeyError, ValueError):  # a bad value: let tyro (or validation) name it
            default = cls()
    else:
        default = cls()
    return tyro.cli(cls, default=default, args=argv, description=description)


def _peek(argv: Sequence[str], cls: type, names: Sequence[str]) -> dict[str, Any]:
    """The values of some top-level flags (as strings; defaults from ``cls``), ignoring the rest."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name in names:
        flags = sorted({f"--{name.replace('_', '-')}", f"--{name}"})
        default = defaults.get(name)
        parser.add_argument(
            *flags, dest=name, default=None if default is dataclasses.MISSING else default
        )
    known, _ = parser.parse_known_args(list(argv))
    return vars(known)


def args_json(args: Any) -> dict[str, Any]:
    """Every field of a script's ``Args`` as JSON values (configs through
    :func:`jaxrl.config.to_json`, tuples as lists)."""
    return {f.name: _plain(getattr(args, f.name)) for f in dataclasses.fields(args)}


def args_from_json(cls: type[A], values: Mapping[str, Any]) -> A:
    """Inverse of :func:`args_json` (missing fields keep their defaults).

    Raises:
        ValueError: a field ``cls`` does not have.
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"no argument(s) {', '.join(unknown)}")
    out = {}
    for name, value in values.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            out[name] = from_json(kind, value, what=f"args.{name}")
        else:
            out[name] = _tuples(value)
    return cls(**out)


def _plain(x: Any) -> Any:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return to_json(x)
    if isinstance(x, tuple | list):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray | np.generic | jax.Array):
        return np.asarray(x).tolist()
    return x


def _tuples(x: Any) -> Any:
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


# --- jobs and validation -----------------------------------------------------------------------


@dataclasses.dataclass
class Member:
    """One training job of a run."""

    agent: Agent
    """The agent module (``jaxrl.agents.ppo`` ...)."""
    config: Any
    """Its ``Config``, or a :class:`jaxrl.sweep.Sweep` of them."""
    env: Env
    """The environment it trains (online) or is evaluated (offline) on."""
    total_steps: int
    """Env steps per seed (offline: gradient steps)."""
    name: str = ""
    """Sub-folder of the run folder ("" = the run folder itself)."""
    label: str | None = None
    """Its row in the final table and line in the curves (default: the agent's NAME)."""
    offline: OfflineData | None = None
    """Offline: the dataset (from :func:`load_offline`), passed as ``jaxrl.train(..., data=)``."""
    key: jax.Array | None = None
    """Training key (default: ``jax.random.key(args.seed)``)."""
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Driver arguments that differ from the script's (eval_every, seeds, chunk_steps ...)."""

    def __post_init__(self) -> None:
        if self.label is None:
            self.label = self.name or agent_name(self.agent)

    @property
    def data(self) -> Any:
        """The dataset given to the driver (None online)."""
        return None if self.offline is None else self.offline.dataset

    @property
    def dataset(self) -> str | None:
        """The dataset file (None online)."""
        return None if self.offline is None else self.offline.path

    @property
    def labels(self) -> list[str] | None:
        """Sweep setting labels (None for a single config)."""
        return self.config.labels if isinstance(self.config, Sweep) else None

    @property
    def first(self) -> Any:
        """The config of the only (or the first) setting."""
        return self.config.setting(0) if isinstance(self.config, Sweep) else self.config


def driver_options(args: Any, member: Member) -> dict[str, Any]:
    """The driver arguments of ``member``: the script's seeds and evaluation schedule, then the
    member's own ``options``. One seed trains without a seed axis."""
    seeds = getattr(args, "seeds", 1)
    return {
        "seeds": seeds if seeds > 1 else None,
        "eval_every": getattr(args, "eval_every", None),
        "num_eval_episodes": getattr(args, "num_eval_episodes", 16),
        **({"devices": args.devices} if getattr(args, "devices", None) is not None else {}),
        **watchdog_options(args),
        **member.options,
    }


def watchdog_options(args: Any) -> dict[str, Any]:
    """The driver's ``watchdog`` / ``watchdog_exit`` from a script's ``--watchdog`` /
    ``--watchdog-exit`` (unset: the environment's defaults)."""
    seconds = getattr(args, "watchdog", None)
    return {
        "watchdog": True if seconds is None else (seconds or False),
        "watchdog_exit": True if getattr(args, "watchdog_exit", False) else None,
    }


def validate(member: Member, options: Mapping[str, Any]) -> None:
    """Everything that can be checked before training: the config (each sweep setting), the
    agent's fit to the env (``agent.check_env`` where the agent has one) and the driver
    arguments.

    Raises:
        RunError: naming the job, the field and the value.
    """
    try:
        if isinstance(member.config, Sweep) or hasattr(member.config, "validate"):
            member.config.validate()
        check_env = getattr(member.agent, "check_env", None)
        if check_env is not None:
            check_env(member.first, member.env)
        check_arguments(
            member.agent,
            member.config,
            member.env,
            member.total_steps,
            data=member.data,
            **options,
        )
    except RunError:
        raise
    except (TypeError, ValueError) as e:
        raise RunError(f"{member.label}: {e}") from e


# --- the run folder ----------------------------------------------------------------------------


def read_run(path: str) -> dict[str, Any]:
    """A run folder's ``config.json`` with its ``args`` updated by every amendment.

    Raises:
        RunError: ``path`` is not a run folder.
    """
    file = os.path.join(path, CONFIG_FILE)
    if not os.path.isfile(file):
        raise RunError(f"--resume {path}: no {CONFIG_FILE} there (not a run folder)")
    with open(file, encoding="utf-8") as f:
        saved = json.load(f)
    args = json.loads(json.dumps(saved["args"]))
    for amendment in read_amendments(path):
        for field, (_, new) in amendment["changes"].items():
            _set(args, field, new)
    return {**saved, "args": args}


def read_amendments(path: str) -> list[dict[str, Any]]:
    """The amendments of a run folder, oldest first (``[]`` when none)."""
    file = os.path.join(path, AMENDMENTS_FILE)
    if not os.path.exists(file):
        return []
    with open(file, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _set(tree: dict[str, Any], field: str, value: Any) -> None:
    *parents, leaf = field.split(".")
    for p in parents:
        tree = tree[p]
    tree[leaf] = value


def _flatten(values: Mapping[str, Any], dynamic: Mapping[str, set[str]]) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        if name in dynamic and isinstance(value, Mapping):
            out.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def _dynamic_fields(cls: type) -> dict[str, set[str]]:
    """``{args field: its dynamic (pytree-leaf) sub-fields}`` for the config fields of ``cls``."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            out[f.name] = {
                g.name for g in dataclasses.fields(kind) if g.metadata.get("pytree_node", True)
            }
    return out


def changes(args: Any, saved_args: Mapping[str, Any]) -> dict[str, list[Any]]:
    """What a resume changes: ``{"field" or "config.field": [run's value, new value]}`` for the
    amendable fields; free fields are left out.

    Raises:
        RunError: a change a resume may not make (names the field and both values).
    """
    dynamic = _dynamic_fields(type(args))
    old = _flatten(json.loads(json.dumps(saved_args)), dynamic)
    new = _flatten(json.loads(json.dumps(args_json(args))), dynamic)
    out: dict[str, list[Any]] = {}
    for field, a in old.items():  # a field the run did not know keeps its default
        b = new.get(field)
        if a == b or field in FREE:
            continue
        head, _, leaf = field.partition(".")
        grows = field == "total_steps" and (a is None or b is None or b >= a)
        if grows or (leaf and leaf in dynamic.get(head, ())) or field in REPORTING:
            out[field] = [a, b]
            continue
        if field == "total_steps":
            why = "total_steps may only grow"
        elif leaf:
            why = f"{field} is static (it fixes shapes or code paths)"
        else:
            why = f"{field} defines the run"
        raise RunError(
            f"--resume {args.resume}: refusing to change {field} from {a!r} (the run's value) to "
            f"{b!r}: {why}. A resume may change total_steps (to grow it), dynamic config values "
            f"and display flags; start a new run for anything else."
        )
    return out


@dataclasses.dataclass
class Report:
    """What a script's ``main`` returns: the run folder, the ``results.json`` content and the
    training results per row."""

    path: str
    results: dict[str, Any]
    outcomes: dict[str, TrainResult]


class Run:
    """A validated run with its folder: train its members, then report. Made by :func:`start`."""

    def __init__(
        self,
        script: str,
        path: str,
        args: Any,
        members: list[Member],
        resumed: bool,
        amendment: Mapping[str, list[Any]] | None = None,
    ) -> None:
        self.script = script
        self.path = path
        self.args = args
        self.members = members
        self.resumed = resumed
        self.amendment = dict(amendment or {})
        """What this resume changes, written to amendments.jsonl when its first new metric row
        is logged: a resume that never trains (every checkpoint damaged, nothing left to do)
        records nothing."""

    def record_amendment(self) -> None:
        """Append the pending amendment (once)."""
        if self.amendment:
            amend(self.path, self.amendment)
            self.amendment = {}

    @property
    def offline(self) -> bool:
        return any(m.data is not None for m in self.members)

    def folder(self, member: Member | str) -> str:
        """The folder of a member (or of a sub-path of the run)."""
        name = member.name if isinstance(member, Member) else member
        return os.path.join(self.path, name) if name else self.path

    def loggers(self, folder: str, labels: Sequence[str] | None = None) -> list[Logger]:
        """``metrics.jsonl`` and ``metrics.csv`` in ``folder``, plus TensorBoard / W&B when the
        script's flags ask for them; none on a process other than 0 of a multi-process run
        (only process 0 writes run files)."""
        if not distributed.is_primary():
            return []
        out: list[Logger] = [
            _AmendOnFirstRow(self),
            JsonlLogger(os.path.join(folder, "metrics.jsonl")),
            CsvLogger(os.path.join(folder, "metrics.csv"), labels=labels),
        ]
        if getattr(self.args, "tensorboard", False):
            out.append(TensorBoardLogger(os.path.join(folder, "tensorboard"), labels=labels))
        if getattr(self.args, "wandb", False):
            name = os.path.relpath(folder, os.path.dirname(self.path))
            out.append(
                WandbLogger(labels=labels, dir=self.path, config=args_json(self.args), name=name)
            )
        return out

    def train(self, member: Member, **kwargs: Any) -> TrainResult:
        """:func:`jaxrl.train` of one member in its folder: checkpoints in ``checkpoints/``,
        resumed when the run is; ``kwargs`` go to the driver."""
        folder = self.folder(member)
        options = {**driver_options(self.args, member), **kwargs}
        key = member.key if member.key is not None else jax.random.key(self.args.seed)
        return train(
            member.agent,
            member.config,
            member.env,
            key,
            member.total_steps,
            data=member.data,
            loggers=self.loggers(folder, member.labels),
            progress=getattr(self.args, "progress", True),
            description=member.label,
            checkpoint_dir=os.path.abspath(os.path.join(folder, "checkpoints")),
            resume=self.resumed,
            **options,
        )

    def report(
        self,
        results: Mapping[str, TrainResult],
        *,
        compare: Sequence[tuple[str, str]] = (),
        metrics: Sequence[str] | None = None,
        mean_metrics: Sequence[str] = (),
        logy: Sequence[str] = (),
        sort: bool = False,
        title: str | None = None,
        extra: Mapping[str, Any] | None = None,
        histories: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Report:
        """The end of every script: ``results.json``, ``curves.png`` and the printed table.

        Args:
            results: ``{row label: TrainResult}`` (one per method or sweep setting); a row
                labelled like an offline member gets normalised scores from its dataset's
                reference returns.
            compare: ``(a, b)`` pairs: per-seed differences ``a - b`` with a 95% confidence
                interval (:func:`jaxrl.stats.paired_difference`; needs 2+ seeds).
            metrics: curve panels (default: eval and episode return online; eval return and
                the losses offline).
            mean_metrics: metrics also averaged over the whole run per row (and compared).
            logy: panels drawn on a log scale.
            sort: order rows by final eval return, best first (sweeps).
            extra: more top-level entries of ``results.json``.
            histories: draw ``curves.png`` from these ``{line label: history}`` instead of the
                rows' own (:func:`plot_comparison`, a panel per entry of ``metrics`` that some
                history has), e.g. one panel per task with a line per method
                (``experiments/fb.py``).

        Goal-conditioned runs (histories with ``eval_success_task<i>``, envs with evaluation
        tasks) also get the mean success in the table and a per-task final-success table, in
        ``results.json`` as ``task_success``.
        """
        unit = next(iter(results.values())).step_unit
        tasks = task_success(results)
        if tasks and "eval_success" not in mean_metrics:
            mean_metrics = ("eval_success", *mean_metrics)
        refs = {m.label: m.offline.reference for m in self.members if m.offline}
        datasets = {
            m.offline.name: m.offline.info(m.env.spec.max_episode_steps)
            for m in self.members
            if m.offline
        }
        rows = {
            label: summarise(r, reference=refs.get(label), mean_metrics=mean_metrics, unit=unit)
            for label, r in results.items()
        }
        if sort:
            rows = dict(sorted(rows.items(), key=lambda kv: _sort_key(kv[1])))
        figures = ["final_eval_return", "mean_eval_return_over_curve"]
        figures += [f"mean_{m}" for m in mean_metrics]
        differences = {
            f"{a} - {b}": differ(rows[a], rows[b], figures)
            for a, b in compare
            if a in rows and b in rows
        }
        if metrics is None:
            metrics = ("eval_return", "critic_loss", "bc_loss", "loss")
            if not self.offline:
                metrics = ("eval_return", "episode_return")
        title = title or f"{self.script} ({os.path.basename(self.path)})"
        curves = os.path.join(self.path, "curves.png")
        primary = distributed.is_primary()  # only process 0 draws the curves and writes files
        if primary and histories is not None:
            plot_comparison(histories, curves, metrics, title, unit, logy)
        elif primary and len(results) == 1:
            (result,) = results.values()
            plot_single(result.history, curves, metrics, title, unit)
        elif primary:
            histories = {k: r.history for k, r in results.items()}
            plot_comparison(histories, curves, metrics, title, unit, logy)
        out = {
            "script": self.script,
            "run": self.path,
            "step_unit": unit,
            "rows": rows,
            **({"differences": differences} if differences else {}),
            **({"datasets": datasets} if datasets else {}),
            **({"task_success": tasks} if tasks else {}),
            **(extra or {}),
        }
        if primary:
            self._write_report(out, datasets, rows, unit, mean_metrics, tasks, differences)
        return Report(self.path, out, dict(results))

    def _write_report(
        self,
        out: dict[str, Any],
        datasets: Mapping[str, Any],
        rows: Mapping[str, Any],
        unit: str,
        mean_metrics: Sequence[str],
        tasks: Mapping[str, Any],
        differences: Mapping[str, Mapping[str, str]],
    ) -> None:
        """``results.json`` and the printed summary of :meth:`report`."""
        _write_json(os.path.join(self.path, "results.json"), out)
        for name, info in datasets.items():
            mean, ref = info["dataset_return_mean"], info["reference_returns"]
            shown = "unknown" if mean is None else f"{mean:.1f}"
            refs_shown = "unknown" if ref is None else f"{ref[0]:.1f} / {ref[1]:.1f}"
            print(
                f"dataset {name}: {info['size']:,} transitions, {info['complete_episodes']} "
                f"complete episodes, mean return {shown}; random / expert return {refs_shown}"
            )
        print(format_table(rows, unit, mean_metrics))
        if tasks:
            print(format_task_table(tasks))
        for name, figs in differences.items():
            for figure, text in figs.items():
                print(f"{name}, {figure}: {text}")
        print(f"run folder: {self.path} (curves.png, results.json, metrics.jsonl)")


class _AmendOnFirstRow:
    """A logger that writes its run's pending amendment when the first new row arrives."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def log(self, step: int, row: dict[str, Any]) -> None:
        self.run.record_amendment()

    def rewind(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


def start(args: A, setup: Callable[[A], Sequence[Member]]) -> Run:
    """Validate everything, then create the run folder (or prepare to amend the resumed one).

    ``setup(args)`` builds the jobs (making envs, loading datasets); a ValueError it raises
    (unknown env, bad dataset) is a refused command line. Nothing is written unless every job
    passes :func:`validate`.

    Raises:
        RunError: naming what is wrong; no folder was created and no file written.
    """
    script = script_name(type(args))
    resume = getattr(args, "resume", None)
    amended: dict[str, list[Any]] = {}
    if resume:
        amended = changes(args, read_run(resume)["args"])
    seeds = getattr(args, "seeds", 1)
    if seeds < 1:
        raise RunError(f"seeds must be >= 1 (--seeds N), got {seeds}")
    try:
        members = list(setup(args))
    except (ValueError, FileNotFoundError) as e:
        raise RunError(str(e)) from e
    if not members:
        raise RunError("nothing to train")
    for member in members:
        validate(member, driver_options(args, member))
    if resume:
        said = "".join(f"; {k}: {a!r} -> {b!r}" for k, (a, b) in amended.items())
        _say(f"resuming {resume}{said}")
        return Run(script, resume, args, members, resumed=True, amendment=amended)
    path = _create_once(args, script, members)
    _say(f"new run: {path}")
    return Run(script, path, args, members, resumed=False)


def _say(text: str) -> None:
    """Print ``text`` (on process 0 only, in a multi-process run)."""
    if distributed.is_primary():
        print(text)


def _create_once(args: Any, script: str, members: Sequence[Member]) -> str:
    """:func:`create` on process 0; in a multi-process run every other process gets the folder
    process 0 made (its name holds process 0's clock), or a :class:`RunError` when it failed."""
    if not distributed.multi_process():
        return create(args, script, members)
    path, error = "", None
    if distributed.is_primary():
        try:
            path = create(args, script, members)
        except Exception as e:  # the others learn of it through the empty path, then raise
            error = e
    path = distributed.broadcast_text(path)
    if error is not None:
        raise error
    if not path:
        raise RunError("process 0 could not create the run folder (see its error)")
    return path


def amend(path: str, changed: Mapping[str, list[Any]]) -> None:
    """Append a dated amendment to ``path/amendments.jsonl`` and say so (process 0 only, in a
    multi-process run)."""
    if not distributed.is_primary():
        return
    line = {"time": _now(), "changes": dict(changed)}
    with open(os.path.join(path, AMENDMENTS_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    said = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
    print(f"amended {path} ({AMENDMENTS_FILE}): {said}")


def create(args: Any, script: str, members: Sequence[Member]) -> str:
    """Make ``<run_dir>/<script>-<env or dataset>-<time>[-n]`` and write its ``config.json``."""
    datasets = _unique(m.dataset for m in members)
    names = [_stem(d) for d in datasets] or [m.env.spec.name for m in members]
    tag = _unique(names)
    tag_text = tag[0].replace("/", "_") + (f"+{len(tag) - 1}" if len(tag) > 1 else "")
    base = os.path.join(getattr(args, "run_dir", "runs"), f"{script}-{tag_text}-")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(os.path.dirname(base) or ".", exist_ok=True)
    for n in range(1, 1000):
        path = base + stamp + (f"-{n}" if n > 1 else "")
        try:
            os.mkdir(path)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - a thousand runs in one second
        raise RunError(f"could not create a fresh run folder {base}{stamp}")
    agents = _unique(agent_name(m.agent) for m in members)
    envs_ = _unique(m.env.spec.name for m in members)
    config = getattr(args, "config", None)
    record = {
        "script": script,
        "agent": agents[0] if len(agents) == 1 else None,
        "env": envs_[0] if len(envs_) == 1 else envs_,
        "dataset": (datasets[0] if len(datasets) == 1 else datasets) if datasets else None,
        "seed": getattr(args, "seed", 0),
        "seeds": getattr(args, "seeds", 1),
        "config": to_json(config) if dataclasses.is_dataclass(config) else _config(members[0]),
        "args": {**args_json(args), "resume": None},
        "members": [_member_record(m) for m in members],
        "created": _now(),
        "jaxrl_version": _version(),
    }
    _write_json(os.path.join(path, CONFIG_FILE), record)
    return path


def _member_record(m: Member) -> dict[str, Any]:
    out = {
        "label": m.label,
        "path": m.name or ".",
        "agent": agent_name(m.agent),
        "env": m.env.spec.name,
        "dataset": m.dataset,
        "config": _config(m),
    }
    if isinstance(m.config, Sweep):
        out["sweep"] = [dict(s) for s in m.config.settings]
    return out


def _config(m: Member) -> Any:
    return to_json(m.first) if dataclasses.is_dataclass(m.first) else None


def _unique(items: Any) -> list[Any]:
    return list(dict.fromkeys(x for x in items if x is not None))


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def _version() -> str:
    import jaxrl

    return jaxrl.__version__


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray | np.generic | jax.Array):
        return _jsonable(np.asarray(x).tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _write_json(path: str, value: Any) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(_jsonable(value), f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# --- offline data ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OfflineData:
    """A dataset file with its card, the env to evaluate on and the reference returns."""

    path: str
    dataset: Any
    """The validated :class:`jaxrl.data.Dataset`."""
    card: dict[str, Any]
    """The dataset card (``{}`` when the file has none)."""
    env: str
    """Env name to evaluate on."""
    reference: tuple[float, float] | None
    """``(random_return, expert_return)`` for normalised scores, when known."""

    @property
    def name(self) -> str:
        return _stem(self.path)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the dataset is known by (:func:`dataset_names`)."""
        return dataset_names(self.path, self.card)

    def info(self, time_limit: int | None) -> dict[str, Any]:
        """Size, env, reference returns and the mean return over *complete* episodes (those
        ended by a termination or the time limit; see
        :meth:`jaxrl.data.Dataset.episode_complete`), for ``results.json``."""
        limit = self.card.get("time_limit") or time_limit
        mean, complete = dataset_return(self.dataset, limit)
        return {
            "path": self.path,
            "env": self.env,
            "size": int(self.dataset.size),
            "episodes": int(self.dataset.num_episodes),
            "complete_episodes": complete,
            "dataset_return_mean": mean,
            "reference_returns": self.reference,
        }


def load_offline(
    path: str,
    env: str | None = None,
    random_return: float | None = None,
    expert_return: float | None = None,
) -> OfflineData:
    """Load and validate a dataset file and its card; the env is ``env`` or the card's.

    Raises:
        RunError: the file is missing (the message says how to make one), malformed, or has no
            card naming its env while ``env`` is None.
    """
    if not os.path.isfile(path):
        raise RunError(
            f"dataset file {path!r} does not exist; generate one, e.g.\n"
            "  python experiments/make_dataset.py locomotion --env pendulum "
            "--train-steps 400000 --steps 20000"
        )
    try:
        dataset = jdata.load(path)
        card = jdata.load_card(path) or {}
    except (jdata.DatasetError, OSError) as e:
        raise RunError(f"dataset file {path!r}: {e}") from e
    env_name = env or card.get("env")
    if env_name is None:
        raise RunError(f"dataset file {path!r} has no card naming its env: pass --env")
    return OfflineData(
        path, dataset, card, env_name, reference_returns(card, random_return, expert_return)
    )


def dataset_names(path: str, card: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The names a dataset is known by, the card's first: its ``dataset_id`` (a Minari card)
    and ``dataset`` (an OGBench file's card), then the file or folder name without its
    extension. ``card`` None: read it from ``path`` (none when unreadable). What a per-dataset
    preset looks its settings up by (``experiments/prdc.py --preset paper``)."""
    if card is None:
        try:
            card = jdata.load_card(path) or {}
        except (OSError, ValueError):  # no file, or an unreadable one: load_offline says so
            card = {}
    found = [card.get(key) for key in ("dataset_id", "dataset")]
    names = [str(n) for n in found if isinstance(n, str) and n] + [_stem(path.rstrip("/"))]
    return tuple(dict.fromkeys(names))


def load_offline_args(args: OfflineArgs) -> OfflineData:
    """:func:`load_offline` with an offline script's arguments."""
    return load_offline(args.dataset, args.env, args.random_return, args.expert_return)


def reference_returns(
    card: Mapping[str, Any], random_return: float | None = None, expert_return: float | None = None
) -> tuple[float, float] | None:
    """``(random_return, expert_return)``: the given values, else the card's; None if unknown."""
    low = random_return if random_return is not None else card.get("random_return")
    high = expert_return if expert_return is not None else card.get("expert_return")
    return None if low is None or high is None else (float(low), float(high))


def normalised(returns: Any, reference: tuple[float, float] | None) -> np.ndarray | None:
    """D4RL-style score, ``100 * (return - random) / (expert - random)`` (None without a
    reference)."""
    if reference is None:
        return None
    low, high = reference
    return 100.0 * (np.asarray(returns, np.float64) - low) / (high - low)


def dataset_return(dataset: Any, time_limit: int | None) -> tuple[float | None, int | None]:
    """Mean return over the dataset's complete episodes and their count; ``(None, None)`` when
    the time limit is unknown or wrong (an episode longer than it), ``(None, 0)`` when no
    episode is complete."""
    if not time_limit:
        return None, None
    try:
        complete = dataset.episode_complete(int(time_limit))
    except (ValueError, jdata.DatasetError):
        return None, None
    returns = dataset.episode_returns[complete]
    return (float(returns.mean()) if returns.size else None), int(complete.sum())


# --- summaries, tables and curves --------------------------------------------------------------


def _per_run(history: Mapping[str, Any], name: str) -> np.ndarray | None:
    """``[rows, runs]`` of a metric (runs: seeds, flattened)."""
    if name not in history:
        return None
    values = np.asarray(history[name], np.float64)
    return values.reshape(values.shape[0], -1)


def summarise(
    result: TrainResult,
    *,
    reference: tuple[float, float] | None = None,
    mean_metrics: Sequence[str] = (),
    unit: str = "env steps",
) -> dict[str, Any]:
    """One row of the final table: final and curve-mean eval return per seed, their mean and
    standard deviation, the normalised score (with ``reference``), the run means of
    ``mean_metrics``, steps and timings. NaN: no value (e.g. no evaluation)."""
    row: dict[str, Any] = {}

    def stats(name: str, per_seed: np.ndarray) -> None:
        row[name] = float(np.nanmean(per_seed))
        row[f"{name}_std"] = float(np.nanstd(per_seed))
        row[f"{name}_per_seed"] = per_seed.tolist()

    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # all-NaN columns
        for name in ("eval_return", "episode_return"):
            if name in result.history:
                stats(f"final_{name}", np.asarray(result.final(name), np.float64).reshape(-1))
        if "eval_return" in result.history:
            row["seeds"] = len(row["final_eval_return_per_seed"])
            curve = np.nanmean(_per_run(result.history, "eval_return"), axis=0)
            stats("mean_eval_return_over_curve", curve)
            score = normalised(row["final_eval_return_per_seed"], reference)
            if score is not None:
                stats("normalised_score", score)
        for name in mean_metrics:
            if name in result.history:
                stats(f"mean_{name}", np.nanmean(_per_run(result.history, name), axis=0))
    row.update(
        steps=int(result.total_steps),
        step_unit=unit,
        steps_per_second=float(result.steps_per_second),
        train_seconds=float(result.train_seconds),
        compile_seconds=float(result.compile_seconds),
    )
    return row


def _sort_key(row: Mapping[str, Any]) -> float:
    value = row.get("final_eval_return", float("nan"))
    return -value if value is not None and math.isfinite(value) else math.inf


def differ(a: Mapping[str, Any], b: Mapping[str, Any], figures: Sequence[str]) -> dict[str, str]:
    """``a - b`` per seed with a 95% confidence interval, for each figure both rows have."""
    out = {}
    for figure in figures:
        x, y = a.get(f"{figure}_per_seed"), b.get(f"{figure}_per_seed")
        if x is None or y is None or len(x) < 2 or len(x) != len(y):
            continue
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            continue
        out[figure] = str(paired_difference(x, y))
    return out


def format_table(
    rows: Mapping[str, Mapping[str, Any]], unit: str, mean_metrics: Sequence[str] = ()
) -> str:
    """The final table: one line per row label."""

    def num(v: Any, fmt: str) -> str:
        return "-" if v is None or not math.isfinite(v) else format(v, fmt)

    width = max(len("method"), *(len(k) for k in rows))
    scored = any("normalised_score" in r for r in rows.values())
    head = f"{'method':<{width}}  {'final eval return':>24}"
    head += f"  {'normalised':>16}" * scored
    head += "".join(f"  {'mean ' + m:>18}" for m in mean_metrics)
    head += f"  {unit:>14}  {unit.split()[0] + ' steps/s':>18}  {'compile s':>9}"
    lines = [head, "-" * len(head)]
    for label, r in rows.items():
        ret = num(r.get("final_eval_return"), ".1f")
        if r.get("seeds", 1) > 1:
            ret += f" ± {num(r.get('final_eval_return_std'), '.1f')} ({r['seeds']} seeds)"
        line = f"{label:<{width}}  {ret:>24}"
        if scored:
            score = num(r.get("normalised_score"), ".1f")
            if r.get("seeds", 1) > 1 and "normalised_score" in r:
                score += f" ± {num(r.get('normalised_score_std'), '.1f')}"
            line += f"  {score:>16}"
        line += "".join(f"  {num(r.get('mean_' + m), '.4g'):>18}" for m in mean_metrics)
        line += f"  {r['steps']:>14,}  {num(r['steps_per_second'], ',.0f'):>18}"
        line += f"  {num(r['compile_seconds'], '.1f'):>9}"
        lines.append(line)
    return "\n".join(lines)


def task_success(results: Mapping[str, TrainResult]) -> dict[str, dict[str, Any]]:
    """Final success per evaluation task for each row: ``{label: {"task<i>": mean over seeds,
    "task<i>_per_seed": [...]}}``; ``{}`` when no history has ``eval_success_task0``."""
    out = {}
    for label, result in results.items():
        row: dict[str, Any] = {}
        i = 0
        while f"eval_success_task{i}" in result.history:
            per_seed = np.asarray(result.final(f"eval_success_task{i}"), np.float64).reshape(-1)
            row[f"task{i}"] = float(np.nanmean(per_seed)) if per_seed.size else float("nan")
            row[f"task{i}_per_seed"] = per_seed.tolist()
            i += 1
        if row:
            out[label] = row
    return out


def format_task_table(table: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per row: final success on each task (mean over seeds)."""
    tasks = sorted(
        {k for row in table.values() for k in row if not k.endswith("_per_seed")},
        key=lambda k: int(k.removeprefix("task")),
    )
    width = max(len("final success"), *(len(k) for k in table))
    head = f"{'final success':<{width}}" + "".join(f"  {t:>6}" for t in tasks)
    lines = [head, "-" * len(head)]
    for label, row in table.items():
        cells = "".join(f"  {row.get(t, float('nan')):>6.2f}" for t in tasks)
        lines.append(f"{label:<{width}}{cells}")
    return "\n".join(lines)


def plot_single(
    history: Mapping[str, Any], path: str, metrics: Sequence[str], title: str, unit: str
) -> str:
    """``jaxrl.plot.plot_curves`` with the step unit as x label."""
    return plot_curves(dict(history), path, metrics=tuple(metrics), title=title, xlabel=unit)


def plot_comparison(
    histories: Mapping[str, Mapping[str, Any]],
    path: str,
    metrics: Sequence[str],
    title: str,
    unit: str,
    logy: Sequence[str] = (),
) -> str:
    """One panel per metric, one line per history (its own steps): the mean over seeds with a
    min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(history: Mapping[str, Any], name: str):
        values = _per_run(history, name)
        if values is None:
            return None
        keep = np.isfinite(values).any(axis=1)
        return np.asarray(history["step"], np.float64)[keep], values[keep]

    present = [m for m in metrics if any(series(h, m) for h in histories.values())]
    panels = max(1, len(present))
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.8), squeeze=False)
    for ax, name in zip(axes[0], present, strict=False):
        for label, history in histories.items():
            s = series(history, name)
            if s is None:
                continue
            steps, values = s
            with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
                mean = np.nanmean(values, axis=1)
                low, high = np.nanmin(values, axis=1), np.nanmax(values, axis=1)
            (line,) = ax.plot(steps, mean, lw=2, label=label)
            if values.shape[1] > 1:
                ax.fill_between(steps, low, high, alpha=0.2, color=line.get_color())
        ax.set_xlabel(unit)
        ax.set_ylabel(name)
        if name in logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title + "  (band: min-max over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def split_sweep(result: TrainResult, sweep: Sweep) -> dict[str, TrainResult]:
    """One :class:`~jaxrl.TrainResult` per sweep setting (its history without the settings
    axis), keyed by the setting's label."""
    out = {}
    for i, label in enumerate(sweep.labels):
        history = {
            k: (np.asarray(v)[:, i] if np.ndim(v) >= 2 else np.asarray(v))
            for k, v in result.history.items()
        }
        out[label] = dataclasses.replace(
            result,
            state=jax.tree.map(lambda x, i=i: x[i], result.state),
            history=history,
            num_runs=max(1, result.num_runs // sweep.size),
        )
    return out


def phase_configs(preset: Sequence[Any], config: Any) -> list[Any]:
    """One config per phase: ``config``, except that a phase keeps the preset's own value of
    every field where that preset phase differs from the preset's last phase (e.g. GoRL's
    stage-0 clip range)."""
    last = preset[-1]
    out = []
    for phase in preset:
        own = {
            f.name: getattr(phase, f.name)
            for f in dataclasses.fields(phase)
            if getattr(phase, f.name) != getattr(last, f.name)
        }
        out.append(dataclasses.replace(config, **own))
    return out


def phase_schedule(
    preset: tuple[Sequence[Any], Sequence[int], int],
    config: Any,
    phase_steps: Sequence[int] | None = None,
    eval_every: int | None = None,
) -> tuple[list[Any], tuple[int, ...], int]:
    """A phased script's schedule from its preset ``(configs, steps, eval_every)`` (e.g.
    :func:`jaxrl.agents.presets.gorl_preset`): per-phase configs (:func:`phase_configs`; the
    first phase keeps the preset's own values, later ones the last phase's), per-phase steps
    (``phase_steps`` or the preset's) and the evaluation interval (``eval_every`` or the
    preset's)."""
    configs, steps, every = preset
    steps = tuple(phase_steps or steps)
    shape = [configs[0]] + [configs[-1]] * (len(steps) - 1)
    return phase_configs(shape, config), steps, every if eval_every is None else eval_every


def phase_evaluation(
    eval_every: int,
    eval_at: Sequence[Sequence[int]] | None,
    phase: int,
    num_eval_episodes: int,
    seeds: int | None = None,
) -> dict[str, Any]:
    """A phased script member's driver options: phase ``phase``'s own ``eval_at`` (when the
    script runs an explicit schedule and trains that phase) or the interval ``eval_every``."""
    options: dict[str, Any] = {"seeds": seeds, "num_eval_episodes": num_eval_episodes}
    if eval_at is not None and phase < len(eval_at):
        return {**options, "eval_every": None, "eval_at": tuple(eval_at[phase])}
    return {**options, "eval_every": eval_every}


def check_phases(steps: Sequence[int], total: int | None, eval_every: int) -> None:
    """A phased run's schedule (GoRL's stages) before anything starts: every phase evaluates
    (each hands its best evaluated state on) and ``total`` lies within the phases.

    Raises:
        ValueError: naming ``eval_every`` or ``total_steps``, the value and the range.
    """
    if eval_every < 1:
        raise ValueError(
            f"eval_every must be >= 1 (stages keep their best evaluation), got {eval_every}"
        )
    if total is not None and not 0 < total <= sum(steps):
        raise ValueError(f"total_steps must be in [1, {sum(steps)}] (all stages), got {total}")


def cap_phases(steps: Sequence[int], total: int | None) -> tuple[int, ...]:
    """The phase lengths trained within ``total`` steps in all (None: every phase whole): the
    phases that fit, the last one maybe cut short. A resume with a larger ``total`` continues
    the cut phase with its checkpoints' chunk layout, as an uninterrupted run would have."""
    out, left = [], sum(steps) if total is None else total
    for n in steps:
        if left <= 0:
            break
        out.append(min(n, left))
        left -= n
    return tuple(out)


def train_phased(
    folder: str,
    keys: Sequence[jax.Array],
    train_seed: Callable[[jax.Array, str], Sequence[Any]],
    column: str = "phase",
) -> TrainResult:
    """Phased runs (:func:`jaxrl.staged.run`), one seed after the other: ``train_seed(key,
    seed_dir)`` trains (or resumes) seed ``i`` in ``folder/seed_<i>`` and returns its phase
    results (each with ``history`` and ``state``). Returns :func:`join_phases` of them (state:
    each seed's last phase state; ``column``: the phase column's name) after writing its
    ``metrics.jsonl`` / ``metrics.csv`` to ``folder``."""
    t0 = time.perf_counter()
    histories, states = [], []
    for i, key in enumerate(keys):
        phases = train_seed(key, os.path.join(folder, f"seed_{i}"))
        histories.append([p.history for p in phases])
        states.append(phases[-1].state)
    result = join_phases(histories, state=states, seconds=time.perf_counter() - t0, column=column)
    write_history(folder, result.history)
    return result


def join_phases(
    phases_per_seed: Sequence[Sequence[Mapping[str, Any]]],
    *,
    state: Any = None,
    seconds: float = float("nan"),
    column: str = "phase",
) -> TrainResult:
    """One result from phased runs (:func:`jaxrl.staged.run`, one seed per call): each seed's
    phase histories one after the other, steps made cumulative, a ``column`` with the phase
    index (unless the histories have one), and the seeds stacked on a last axis (none for a
    single seed), as the driver stacks them. ``seconds`` is the wall time (compilation
    included: ``compile_seconds`` is NaN)."""
    per_seed = []
    names = sorted({n for phases in phases_per_seed for h in phases for n in h} - {"step"})
    shared = ["step"] if column in names else ["step", column]  # the same for every seed
    for phases in phases_per_seed:
        columns: dict[str, list[np.ndarray]] = {}
        offset = 0.0
        for k, h in enumerate(phases):
            steps = np.asarray(h["step"], np.float64)
            columns.setdefault("step", []).append(offset + steps)
            if column not in names:  # the phase index, unless the agent reports it
                columns.setdefault(column, []).append(np.full(len(steps), float(k)))
            for name in names:
                value = h.get(name, np.full(len(steps), np.nan))
                columns.setdefault(name, []).append(np.asarray(value, np.float64))
            offset += float(steps[-1]) if len(steps) else 0.0
        per_seed.append({n: np.concatenate(v) for n, v in columns.items()})
    history = per_seed[0]
    if len(per_seed) > 1:
        history = {n: np.stack([h[n] for h in per_seed], axis=-1) for n in history}
        history.update({n: per_seed[0][n] for n in shared})
    total = int(history["step"][-1]) if len(history["step"]) else 0
    return TrainResult(
        state=state,
        history=history,
        total_steps=total,
        train_seconds=seconds,
        compile_seconds=float("nan"),
        num_runs=len(per_seed),
        steps_this_call=total,
    )


def write_history(
    folder: str, history: Mapping[str, Any], labels: Sequence[str] | None = None
) -> None:
    """(Re)write ``metrics.jsonl`` and ``metrics.csv`` in ``folder`` from a whole history (for
    runs whose rows are assembled after training, e.g. GoRL's phases); process 0 only, in a
    multi-process run."""
    if not distributed.is_primary():
        return
    for name in ("metrics.jsonl", "metrics.csv"):
        if os.path.exists(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))
    loggers = [
        JsonlLogger(os.path.join(folder, "metrics.jsonl")),
        CsvLogger(os.path.join(folder, "metrics.csv"), labels=labels),
    ]
    steps = np.asarray(history["step"])
    for i, step in enumerate(steps):
        row = {k: np.asarray(v)[i].tolist() for k, v in history.items() if k != "step"}
        for logger in loggers:
            logger.log(int(step), row)
    for logger in loggers:
        logger.close()
