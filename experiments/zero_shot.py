"""Zero-shot agents side by side (FB, BREEZE, TD-JEPA) next to a random policy and a supervised
reference, per task of a domain, with an IQM over tasks and seeds.

    python experiments/make_dataset.py exorl --domain reach/fourrooms --agent rnd --steps 40000 \
        --out datasets/reach.npz
    python experiments/zero_shot.py --dataset datasets/reach.npz --seeds 4 --total-steps 3000
    python experiments/zero_shot.py --dataset datasets/reach.npz --agents breeze \
        --breeze.batch-size 512 --no-td3-reference          # one agent, no TD3+BC
    python experiments/zero_shot.py --dataset datasets/walker.npz --preset paper \
        --total-steps 1000000                               # the papers' configs (GPU)
    python experiments/zero_shot.py --help                  # every field of every config

``experiments/fb.py``, ``experiments/breeze.py`` and ``experiments/td_jepa.py`` are this script
with one agent (its config as ``--config.*``); everything below holds for them too.

Each agent of ``--agents`` (default all: ``fb``, ``breeze``, ``td_jepa``) trains one member
offline on the whole reward-free dataset, with the same seeds and keys as the others
(``--fb.*``, ``--breeze.*``, ``--td-jepa.*``, starting from ``--preset``, applied to every agent:
``cpu`` is each agent's CPU preset, ``presets.FB_CPU``, ``BREEZE_CPU``, ``TD_JEPA_CPU``,
``paper`` the papers' configs).
Then, for each seed and each saved checkpoint, it infers one ``z`` per task from the dataset's
stored task rewards (``<agent>.infer_task_from_data``) and runs ``pi_z`` on that task
(``jaxrl.zero_shot.evaluate_zero_shot``): no agent sees a reward while it trains.

Next to them, per task:

* **random**: uniform actions, evaluated by the same function with the same keys (the same
  starts and episodes as every agent's final evaluation), ``--num-eval-episodes`` episodes per
  seed;
* **TD3+BC (true reward)** (unless ``--no-td3-reference``): one TD3+BC member per task
  (``--tasks``, default all of the domain's), trained on the same dataset with its rewards
  replaced by that task's stored ones (``jaxrl.zero_shot.task_rewards_of``), ``--td3-steps``
  gradient steps (default: ``--total-steps``), the same seeds (seed ``i`` uses the same key as
  the agents'), and evaluated by the driver on ``envs.make("<eval env>:<task>")``, so its curve
  is that task's return. TD3+BC's actor maximises ``lambda Q - (pi - a)^2`` with
  ``lambda = alpha / mean|Q|``: relative to the normalised Q term the behaviour-cloning term
  weighs ``1 / alpha``. ``--td3-alpha`` defaults to 100 (BC weight 0.01, nearly plain TD3: a
  supervised reference, not a behaviour-cloning one); 2.5 is TD3+BC's own. ``--td3.*`` sets
  TD3+BC's other fields.

The domain is the dataset card's ``env`` (``make_dataset.py exorl`` writes it). Everything is
evaluated on ``--eval-env``, default the domain's evaluation twin: ``reach/fourrooms-anywhere``
for ``reach/fourrooms`` (exploration starts in the top-left room, evaluation anywhere, as ExORL's
point-mass maze), the domain itself otherwise (``dmc/walker``, ``dmc/cheetah``).

A zero-shot agent's curve: the driver's own evaluation is off (the domain's reward is 0 and
``act`` follows ``state.z``); each agent keeps a checkpoint every evaluation interval
(``--eval-every``, default about a tenth of the run, as the driver's evaluations;
``keep_checkpoints`` large), and after training every kept checkpoint is evaluated zero-shot as
above, with the same keys each time. So ``--resume`` needs nothing more: the checkpoints from
before the stop are still there. (Disk: an agent's whole state per seed and checkpoint is small at
``--preset cpu``; at ``--preset paper`` FB's is about 80 MB and BREEZE's about 660 MB, its
42 M parameters with their targets, EMA actor and AdamW moments; about 10 checkpoints by
default, fewer with a larger ``--eval-every``.)

The IQM: per column, the interquartile mean of the final returns over every (task, seed) pair of
``--tasks`` (raw returns: the tasks of one domain share a scale), with a 95% percentile
interval from a bootstrap that resamples the seeds within each task (``jaxrl.stats.iqm``,
``jaxrl.stats.bootstrap_ci``, rliable's; 10,000 resamples, seeded by ``--seed``).

Writes ``runs/zero_shot-<dataset>-<time>/`` (``fb-...``, ``breeze-...``, ``td_jepa-...`` for the
one-agent scripts): ``<agent>/`` per agent (its checkpoints, training metrics and
``zero_shot/metrics.jsonl`` + ``.csv``: the zero-shot return per task and seed at each checkpoint),
``td3_bc-<task>/`` per reference, ``curves.png`` (a panel per task: each agent's zero-shot return,
random's and TD3+BC's against gradient steps, mean and min-max band over seeds; and the agents'
``fb_loss`` / TD-JEPA's ``representation_loss``) and ``results.json``: ``rows`` (``FB <task>``,
``BREEZE <task>``, ``TD-JEPA <task>`` and ``TD3+BC <task>``, the run layer's rows: final return per
seed, mean and std), with 2+ seeds ``differences`` (each agent minus TD3+BC, and each pair of
agents, per task, paired over seeds, 95% confidence interval), and ``zero_shot``: per domain the
table printed at the end (rows: tasks and their mean; columns: each agent, random, TD3+BC; each
mean, std and per-seed values), ``iqm`` (per column: ``iqm``, ``low``, ``high``, ``confidence``,
``reps``, ``tasks``, ``seeds``), ``<agent>_steps`` and each agent's zero-shot curves
``<agent>_curve``. ``--resume <run folder>`` continues a stopped run (``--total-steps`` may grow;
``--td3-steps`` follows it unless it was set).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from jaxrl import envs, runs, stats, zero_shot
from jaxrl.agents import breeze as breeze_agent
from jaxrl.agents import fb as fb_agent
from jaxrl.agents import presets, td3_bc
from jaxrl.agents import td_jepa as td_jepa_agent
from jaxrl.checkpoint import Checkpointer

AgentName = Literal["fb", "breeze", "td_jepa"]
"""The zero-shot agents this script trains (``--agents``)."""

AGENTS: dict[str, Any] = {"fb": fb_agent, "breeze": breeze_agent, "td_jepa": td_jepa_agent}
"""Agent module of each name: the zero-shot API (``infer_task_from_data``, ``with_task``,
``policy(config, env, state, obs, z, key)``) next to the driver's."""

LABELS: dict[str, str] = {"fb": "FB", "breeze": "BREEZE", "td_jepa": "TD-JEPA"}
"""Row, column and curve label of each agent."""

PRESETS: dict[str, dict[str, Any]] = {
    "fb": presets.FB_PRESETS,
    "breeze": presets.BREEZE_PRESETS,
    "td_jepa": presets.TD_JEPA_PRESETS,
}
"""``--preset`` choices of each agent."""

EVAL_TWINS: dict[str, str] = {"reach/fourrooms": "reach/fourrooms-anywhere"}
"""The evaluation env of a domain whose exploration starts differ from its evaluation's (other
domains are evaluated on themselves)."""

ZERO_SHOT_STREAM = 0x2E50
"""``fold_in`` constant of the zero-shot evaluation keys (never a training key)."""

KEEP_CHECKPOINTS = 1_000_000
"""Zero-shot agents keep every checkpoint: each is a point of their zero-shot curve."""

CONFIDENCE = 0.95
BOOTSTRAP_REPS = 10_000
"""The IQM's interval: level and bootstrap resamples (seeded by ``--seed``)."""


@dataclasses.dataclass
class CommonArgs(runs.RunArgs):
    """What every zero-shot script takes (``zero_shot.py``, ``fb.py``, ``breeze.py``,
    ``td_jepa.py``); each adds
    its agents' configs and :meth:`agent_configs`."""

    dataset: str = "datasets/reach.npz"
    """Reward-free dataset with stored task rewards (experiments/make_dataset.py exorl); its
    card's env is the domain."""
    eval_env: str | None = None
    """Domain to evaluate on (default: the domain's evaluation twin, reach/fourrooms-anywhere
    for reach/fourrooms, else the domain itself)."""
    total_steps: int = 10_000
    """Gradient steps of each zero-shot agent per seed."""
    td3_reference: bool = True
    """Train a TD3+BC reference per task on its true reward (--no-td3-reference: none)."""
    td3_steps: int | None = None
    """Gradient steps of each TD3+BC reference per seed (default: --total-steps)."""
    td3_alpha: float = 100.0
    """TD3+BC's alpha: lambda = alpha / mean|Q|, so behaviour cloning weighs 1/alpha next to
    the normalised Q term (100: nearly plain TD3; 2.5: TD3+BC's own)."""
    td3: td3_bc.Config = dataclasses.field(default_factory=td3_bc.Config)
    """TD3+BC's other hyperparameters (its alpha is --td3-alpha)."""
    tasks: tuple[str, ...] = ()
    """Tasks to report (each with a TD3+BC reference; default: all of the domain's)."""
    seeds: int = 2
    """Seeds (>= 1; the same keys for every agent and every TD3+BC)."""

    def agent_configs(self) -> dict[str, Any]:
        """``{agent name: config}`` of the zero-shot agents to train, in table order."""
        raise NotImplementedError


@dataclasses.dataclass
class Args(CommonArgs):
    """Zero-shot FB, BREEZE and TD-JEPA vs a random policy vs TD3+BC on each task's true
    reward."""

    agents: tuple[AgentName, ...] = ("fb", "breeze", "td_jepa")
    """Zero-shot agents to train, each on the same data with the same seeds."""
    preset: Literal["cpu", "paper"] = "cpu"
    """Every agent's default config: cpu (presets.FB_CPU, BREEZE_CPU, TD_JEPA_CPU) or paper (the
    papers')."""
    fb: fb_agent.Config = dataclasses.field(default_factory=lambda: PRESETS["fb"]["cpu"])
    """FB's hyperparameters (default: the --preset's)."""
    breeze: breeze_agent.Config = dataclasses.field(
        default_factory=lambda: PRESETS["breeze"]["cpu"]
    )
    """BREEZE's hyperparameters (default: the --preset's)."""
    td_jepa: td_jepa_agent.Config = dataclasses.field(
        default_factory=lambda: PRESETS["td_jepa"]["cpu"]
    )
    """TD-JEPA's hyperparameters (default: the --preset's)."""

    def agent_configs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.agents}


def parse(argv: Sequence[str] | None = None, description: str | None = None) -> Args:
    """:func:`jaxrl.runs.parse` of :class:`Args`, with ``--preset`` setting every agent's
    default config (``runs.parse``'s ``preset`` sets a single ``config`` field)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    peek.add_argument("--resume", default=None)
    peek.add_argument("--preset", default="cpu")
    known, _ = peek.parse_known_args(argv)
    if known.resume:  # the run's own values are the defaults
        return runs.parse(Args, argv, description)
    try:
        default = Args(**{name: PRESETS[name][known.preset] for name in AGENTS})
    except KeyError:  # an unknown preset: tyro names it
        default = Args()
    return tyro.cli(Args, default=default, args=argv, description=description)


@dataclasses.dataclass(frozen=True)
class Domains:
    """The dataset's domain, the evaluation domain and the reported tasks."""

    name: str
    domain: Any
    eval_name: str
    eval_domain: Any
    tasks: tuple[str, ...]


def domains(args: CommonArgs, data: runs.OfflineData) -> Domains:
    """The domains of a run, checked (a ValueError names the flag and the value)."""
    domain = envs.make(data.env)
    if not zero_shot.is_domain(domain):
        raise ValueError(
            f"--dataset {args.dataset}: its env {data.env!r} is not a zero-shot domain (no "
            "task rewards); make one with experiments/make_dataset.py exorl"
        )
    eval_name = args.eval_env or EVAL_TWINS.get(data.env, data.env)
    eval_domain = envs.make(eval_name)
    if not zero_shot.is_domain(eval_domain) or tuple(eval_domain.task_names) != tuple(
        domain.task_names
    ):
        raise ValueError(
            f"--eval-env {eval_name}: not a domain with the tasks of {data.env} "
            f"({', '.join(domain.task_names)})"
        )
    for what in ("obs_shape", "action_space"):
        if getattr(eval_domain.spec, what) != getattr(domain.spec, what):
            raise ValueError(f"--eval-env {eval_name}: its {what} differs from {data.env}'s")
    tasks = tuple(args.tasks) or tuple(domain.task_names)
    for task in tasks:
        zero_shot.check_task(domain, task, "--tasks")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"--tasks names a task twice: {', '.join(tasks)}")
    return Domains(data.env, domain, eval_name, eval_domain, tasks)


def td3_config(args: CommonArgs) -> td3_bc.Config:
    """``--td3`` with ``--td3-alpha``."""
    if args.td3.alpha != td3_bc.Config().alpha and args.td3.alpha != args.td3_alpha:
        raise ValueError(f"--td3.alpha {args.td3.alpha}: set --td3-alpha instead")
    return dataclasses.replace(args.td3, alpha=args.td3_alpha)


def agent_options(args: CommonArgs) -> dict[str, Any]:
    """A zero-shot agent's driver options: no driver evaluation, a checkpoint every evaluation
    interval (the driver's default chunks and about ten of them, as the TD3+BC members
    evaluate), all kept."""
    every = args.eval_every or max(1, args.total_steps // 10)
    return {
        "eval_every": 0,
        "chunk_steps": args.eval_every,
        "checkpoint_every": every,
        "keep_checkpoints": KEEP_CHECKPOINTS,
    }


def agent_configs(args: CommonArgs) -> dict[str, Any]:
    """:meth:`CommonArgs.agent_configs`, checked (at least one agent, none twice)."""
    names = list(getattr(args, "agents", ()))
    if "agents" in {f.name for f in dataclasses.fields(args)}:
        if not names:
            raise ValueError(f"--agents: name at least one of {', '.join(AGENTS)}")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"--agents names {', '.join(twice)} twice")
    return args.agent_configs()


def setup(args: CommonArgs) -> list[runs.Member]:
    if args.eval_every == 0:
        raise ValueError(
            "--eval-every 0: the comparison needs evaluations (the zero-shot agents' checkpoints)"
        )
    configs = agent_configs(args)
    data = runs.load_offline(args.dataset)
    d = domains(args, data)
    members = []
    if args.td3_reference:
        config = td3_config(args)
        for task in d.tasks:
            rewards = zero_shot.task_rewards_of(data.dataset, d.domain, task)
            env_name = f"{d.eval_name}:{task}"
            # only values change (no rows or episodes), as jaxrl.data.transforms.shape_rewards
            relabelled = dataclasses.replace(
                data,
                dataset=data.dataset.replace(rewards=jnp.asarray(rewards, jnp.float32)),
                env=env_name,
                reference=None,
            )
            members.append(
                runs.Member(
                    td3_bc,
                    config,
                    envs.make(env_name),
                    args.total_steps if args.td3_steps is None else args.td3_steps,
                    name=f"td3_bc-{task}",
                    label=f"TD3+BC {task}",
                    offline=relabelled,
                )
            )
    # the agents last: the report describes each dataset by its last member's copy (the
    # reward-free one)
    for name, config in configs.items():
        members.append(
            runs.Member(
                AGENTS[name],
                config,
                d.domain,
                args.total_steps,
                name,
                LABELS[name],
                offline=data,
                options=agent_options(args),
            )
        )
    return members


# --- zero-shot evaluation ----------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def zero_shot_fn(agent: Any, config: Any, env: Any, eval_domain: Any, episodes: int):
    """``f(states [S], data, rewards [T, N], keys [S]) -> {"return", "return_std": [S, T],
    "z": [S, T, d]}``: per seed, z per task inferred from the rewarded rows, then
    :func:`jaxrl.zero_shot.evaluate_zero_shot` on every task of ``eval_domain`` (jitted; cached
    so that runs in one process compile it once)."""

    def one(state: Any, data: Any, rewards: jax.Array, key: jax.Array) -> dict[str, Any]:
        k_infer, k_eval = jax.random.split(key)
        task_z = jnp.stack(
            [
                agent.infer_task_from_data(
                    config, env, state, data, rewards[t], jax.random.fold_in(k_infer, t)
                )
                for t in range(rewards.shape[0])
            ]
        )

        def policy(obs: jax.Array, z: jax.Array, k: jax.Array) -> jax.Array:
            return agent.policy(config, env, state, obs, z, k)

        out = zero_shot.evaluate_zero_shot(eval_domain, policy, task_z, k_eval, episodes)
        return {**out, "z": task_z}

    return jax.jit(jax.vmap(one, in_axes=(0, None, None, 0)))


@functools.lru_cache(maxsize=8)
def random_fn(eval_domain: Any, episodes: int):
    """``f(keys [S]) -> {"return", "return_std": [S, T]}``: uniform actions, with the keys and
    episodes of :func:`zero_shot_fn`."""
    box = eval_domain.spec.action_space
    num_tasks = len(eval_domain.task_names)

    def one(key: jax.Array) -> dict[str, Any]:
        _, k_eval = jax.random.split(key)

        def policy(obs: jax.Array, z: jax.Array, k: jax.Array) -> jax.Array:
            del z
            return jax.vmap(box.sample)(jax.random.split(k, obs.shape[0]))

        return zero_shot.evaluate_zero_shot(
            eval_domain, policy, jnp.zeros((num_tasks, 1)), k_eval, episodes
        )

    return jax.jit(jax.vmap(one))


def eval_keys(args: CommonArgs) -> jax.Array:
    """``[seeds]`` zero-shot evaluation keys (seed ``i``: the same at every checkpoint, for
    every agent and for the random policy)."""
    return jax.random.split(
        jax.random.fold_in(jax.random.key(args.seed), ZERO_SHOT_STREAM), args.seeds
    )


def with_seed_axis(state: Any, seeds: int) -> Any:
    """The state with a leading seed axis (the driver drops it for one seed)."""
    return state if seeds > 1 else jax.tree.map(lambda x: x[None], state)


def zero_shot_curve(
    args: CommonArgs, job: runs.Run, member: runs.Member, result: Any, d: Domains
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """An agent's zero-shot return at every kept checkpoint: ``({"step": [R], task: [R, S]}, z
    of the last checkpoint [S, T, d])`` for every task of the evaluation domain."""
    evaluate = zero_shot_fn(
        member.agent, member.config, member.env, d.eval_domain, args.num_eval_episodes
    )
    rewards = jnp.stack(
        [zero_shot.task_rewards_of(member.data, d.domain, t) for t in d.eval_domain.task_names]
    )
    keys = eval_keys(args)
    checkpointer = Checkpointer(os.path.join(job.folder(member), "checkpoints"), KEEP_CHECKPOINTS)
    steps, returns, z = checkpointer.steps(), [], None
    try:
        for step in steps:
            state, _ = checkpointer.restore(result.state, step=step)
            out = jax.device_get(
                evaluate(with_seed_axis(state, args.seeds), member.data, rewards, keys)
            )
            returns.append(np.asarray(out["return"], np.float64))
            z = np.asarray(out["z"])
    finally:
        checkpointer.close()
    per_task = np.stack(returns)  # [R, S, T]
    history = {"step": np.asarray(steps, np.float64)}
    for i, task in enumerate(d.eval_domain.task_names):
        history[task] = per_task[:, :, i]
    return history, z


# --- the report --------------------------------------------------------------------------------


def cell(per_seed: Any) -> dict[str, Any]:
    x = np.asarray(per_seed, np.float64).reshape(-1)
    return {"mean": float(np.mean(x)), "std": float(np.std(x)), "per_seed": x.tolist()}


def table(
    tasks: Sequence[str], columns: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, Any]]:
    """``{task or "mean": {column: cell}}`` from ``{column: {task: [seeds]}}``; the mean row
    averages each seed's returns over the tasks first."""
    out = {t: {c: cell(v[t]) for c, v in columns.items()} for t in tasks}
    out["mean"] = {c: cell(np.mean([v[t] for t in tasks], axis=0)) for c, v in columns.items()}
    return out


def iqms(
    tasks: Sequence[str], columns: dict[str, dict[str, np.ndarray]], seed: int
) -> dict[str, dict[str, Any]]:
    """Per column, the IQM over (task, seed) of the final returns with its stratified bootstrap
    interval (:func:`jaxrl.stats.bootstrap_ci`, the same resamples for every column)."""
    out = {}
    for c, v in columns.items():
        scores = np.stack([np.asarray(v[t], np.float64).reshape(-1) for t in tasks])
        ci = stats.bootstrap_ci(scores, confidence=CONFIDENCE, reps=BOOTSTRAP_REPS, seed=seed)
        out[c] = {
            "iqm": ci.value,
            "low": ci.low,
            "high": ci.high,
            "confidence": ci.confidence,
            "reps": ci.reps,
            "tasks": ci.tasks,
            "seeds": ci.seeds,
        }
    return out


def format_zero_shot(
    rows: dict[str, dict[str, Any]],
    heads: dict[str, str],
    title: str,
    iqm: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The printed table: a line per task and the mean, a column per entry of ``heads``
    (``{column: heading}``), then the IQM line of each column."""
    width = max(len("task"), len("IQM"), *(len(t) for t in rows))
    size = max(20, *(len(h) for h in heads.values()))

    def text(s: dict[str, Any]) -> str:
        if not all(math.isfinite(v) for v in (s["mean"], s["std"])):
            return "-"
        return f"{s['mean']:.1f} ± {s['std']:.1f}"

    head = f"{'task':<{width}}" + "".join(f"  {h:>{size}}" for h in heads.values())
    lines = [title, head, "-" * len(head)]
    for task, row in rows.items():
        lines.append(f"{task:<{width}}" + "".join(f"  {text(row[c]):>{size}}" for c in heads))
    if iqm:
        some = next(iter(iqm.values()))
        lines.append("-" * len(head))
        line = f"{'IQM':<{width}}"
        for c in heads:
            s = iqm[c]
            line += f"  {s['iqm']:.1f} [{s['low']:.1f}, {s['high']:.1f}]".rjust(size + 2)
        lines.append(line)
        lines.append(
            f"IQM: interquartile mean over {some['tasks']} task(s) x {some['seeds']} seed(s) "
            f"[{round(100 * some['confidence'])}% percentile interval, {some['reps']:,} "
            "bootstrap resamples of the seeds within each task]"
        )
    return "\n".join(lines)


def run(args: CommonArgs) -> runs.Report:
    """Train every member of ``args``, evaluate the zero-shot agents from their checkpoints,
    report (``results.json``, ``curves.png``) and print the table."""
    job = runs.start(args, setup)
    configs = args.agent_configs()
    agent_members = job.members[-len(configs) :]
    td3_members = job.members[: -len(configs)]
    d = domains(args, agent_members[0].offline)
    agent_results = {m.name: job.train(m) for m in agent_members}
    td3_tasks = d.tasks if args.td3_reference else ()
    td3_results = {t: job.train(m) for t, m in zip(td3_tasks, td3_members, strict=True)}

    names = tuple(d.eval_domain.task_names)
    curves, task_zs = {}, {}
    for m in agent_members:
        curves[m.name], task_zs[m.name] = zero_shot_curve(args, job, m, agent_results[m.name], d)
        runs.write_history(os.path.join(job.folder(m), "zero_shot"), curves[m.name])
    random_out = jax.device_get(random_fn(d.eval_domain, args.num_eval_episodes)(eval_keys(args)))
    random = {t: np.asarray(random_out["return"])[:, names.index(t)] for t in names}
    td3_final = {t: r.final("eval_return").reshape(-1) for t, r in td3_results.items()}

    labels = {m.name: m.label for m in agent_members}
    columns = {labels[n]: {t: c[t][-1] for t in names} for n, c in curves.items()}
    columns["random"] = random
    heads = {labels[n]: f"{labels[n]} (zero-shot)" for n in curves}
    heads["random"] = "random"
    if td3_results:
        columns["TD3+BC"] = td3_final
        heads["TD3+BC"] = "TD3+BC (true reward)"

    results: dict[str, Any] = {}
    for task in d.tasks:
        i = names.index(task)
        for m in agent_members:
            curve, z = curves[m.name], task_zs[m.name]
            results[f"{m.label} {task}"] = dataclasses.replace(
                agent_results[m.name],
                state=m.agent.with_task(  # acts on this task
                    agent_results[m.name].state, z[:, i] if args.seeds > 1 else z[0, i]
                ),
                history={
                    "step": curve["step"],
                    "eval_return": curve[task].reshape(len(curve["step"]), -1),
                },
            )
        if td3_results:
            results[f"TD3+BC {task}"] = td3_results[task]
    compare = [(f"{a} {t}", f"TD3+BC {t}") for t in td3_results for a in labels.values()]
    compare += [
        (f"{a} {t}", f"{b} {t}")
        for t in d.tasks
        for a, b in itertools.combinations(labels.values(), 2)
    ]
    rows = table(d.tasks, columns)
    iqm = iqms(d.tasks, columns, args.seed)
    last = max(float(c["step"][-1]) for c in curves.values())
    histories: dict[str, Any] = {
        f"{labels[n]} zero-shot": {k: c[k] for k in ("step", *d.tasks)} for n, c in curves.items()
    }
    histories["random"] = {
        "step": np.asarray([0.0, last]),
        **{t: np.stack([random[t]] * 2) for t in d.tasks},
    }
    for t, r in td3_results.items():
        histories[f"TD3+BC {t}"] = {"step": r.history["step"], t: r.history["eval_return"]}
    for n, r in agent_results.items():
        histories[f"{labels[n]} training"] = r.history
    steps = [f"{labels[n]} {r.total_steps:,}" for n, r in agent_results.items()]
    td3_steps = next(iter(td3_results.values())).total_steps if td3_results else None
    if td3_results:
        steps.append(f"TD3+BC {td3_steps:,}")
    title = (
        f"zero-shot return on {d.eval_name} (dataset {agent_members[0].offline.name}, "
        f"{args.seeds} seed(s), {args.num_eval_episodes} episodes per task and seed; gradient "
        f"steps: {', '.join(steps)}"
        + (f"; TD3+BC alpha {args.td3_alpha:g})" if td3_results else ")")
    )
    out: dict[str, Any] = {
        "eval_env": d.eval_name,
        "tasks": list(d.tasks),
        "agents": list(agent_results),
        "seeds": args.seeds,
        "episodes": args.num_eval_episodes,
        **{f"{n}_steps": r.total_steps for n, r in agent_results.items()},
    }
    if td3_results:
        out.update(td3_steps=td3_steps, td3_alpha=args.td3_alpha)
    out.update(table=rows, iqm=iqm)
    for n, c in curves.items():
        out[f"{n}_curve"] = {k: np.asarray(v).tolist() for k, v in c.items()}
    methods = [f"{label} zero-shot" for label in labels.values()]
    methods += ["random", *(["TD3+BC"] if td3_results else [])]
    report = job.report(
        results,
        compare=compare,
        metrics=(*d.tasks, "fb_loss", "representation_loss"),
        histories=histories,
        title=f"{' vs '.join(methods)} on {d.eval_name} ({args.seeds} seeds)",
        extra={"zero_shot": {d.name: out}},
    )
    print(format_zero_shot(rows, heads, title, iqm))
    return report


def main(argv: list[str] | None = None) -> runs.Report:
    return run(parse(argv, __doc__))


if __name__ == "__main__":
    runs.cli(main)
