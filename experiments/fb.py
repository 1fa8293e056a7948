"""Zero-shot FB next to a random policy and a supervised reference, per task of a domain.

    python experiments/make_dataset.py exorl --domain reach/fourrooms --agent rnd --steps 40000 \
        --out datasets/reach.npz
    python experiments/fb.py --dataset datasets/reach.npz --seeds 2 --total-steps 3000
    python experiments/fb.py --dataset datasets/reach.npz --tasks reach_bottom_right \
        --td3-steps 10000 --td3-alpha 2.5          # one reference, TD3+BC's own alpha
    python experiments/make_dataset.py exorl --domain dmc/walker --agent rnd --steps 1000000 \
        --out datasets/walker.npz                   # GPU: MuJoCo Playground physics
    python experiments/fb.py --dataset datasets/walker.npz --preset paper \
        --total-steps 1000000                       # the paper's FB (GPU)
    python experiments/fb.py --help                 # every field of both configs, documented

One FB member trains offline on the whole reward-free dataset (``--config.*``, starting from
``--preset``: ``cpu`` is ``presets.FB_CPU``, ``paper`` ``fb.Config()``, the spec's). Then, for
each seed and each saved checkpoint, it infers one ``z`` per task from the dataset's stored task
rewards (``fb.infer_task_from_data`` over ``inference_samples`` rows) and runs ``pi_z`` on that
task (``jaxrl.zero_shot.evaluate_zero_shot``): FB never sees a reward while it trains.

Next to it, per task:

* **random**: uniform actions, evaluated by the same function with the same keys (the same
  starts and episodes as FB's final evaluation), ``--num-eval-episodes`` episodes per seed;
* **TD3+BC (true reward)**: one TD3+BC member per task (``--tasks``, default all of the
  domain's), trained on the same dataset with its rewards replaced by that task's stored ones
  (``jaxrl.zero_shot.task_rewards_of``), ``--td3-steps`` gradient steps (default:
  ``--total-steps``), the same seeds (seed ``i`` uses the same key as FB's), and evaluated by the
  driver on ``envs.make("<eval env>:<task>")``, so its curve is that task's return. TD3+BC's
  actor maximises ``lambda Q - (pi - a)^2`` with ``lambda = alpha / mean|Q|``: relative to the
  normalised Q term the behaviour-cloning term weighs ``1 / alpha``. ``--td3-alpha`` defaults
  to 100 (BC weight 0.01, nearly plain TD3: a supervised reference, not a behaviour-cloning
  one); 2.5 is TD3+BC's own. ``--td3.*`` sets TD3+BC's other fields.

The domain is the dataset card's ``env`` (``make_dataset.py exorl`` writes it). Everything is
evaluated on ``--eval-env``, default the domain's evaluation twin: ``reach/fourrooms-anywhere``
for ``reach/fourrooms`` (exploration starts in the top-left room, evaluation anywhere, as ExORL's
point-mass maze), the domain itself otherwise (``dmc/walker``, ``dmc/cheetah``).

FB's curve: the driver's own evaluation is off for FB (the domain's reward is 0 and FB's ``act``
follows ``state.z``); FB keeps a checkpoint every evaluation interval (``--eval-every``, default
about a tenth of the run, as the driver's evaluations; ``keep_checkpoints`` large), and after
training every kept checkpoint is evaluated zero-shot as above, with the same keys each time.
So ``--resume`` needs nothing more: the checkpoints from before the stop are still there.
(Disk: FB's whole state per seed and checkpoint is small at ``--preset cpu`` and about 80 MB
at ``--preset paper``, the 1024-wide networks, their targets and Adam moments; about 10
checkpoints by default, fewer with a larger ``--eval-every``.)

Writes ``runs/fb-<dataset>-<time>/``: ``fb/`` (FB's checkpoints, training metrics and
``zero_shot/metrics.jsonl`` + ``.csv``: the zero-shot return per task and seed at each
checkpoint), ``td3_bc-<task>/`` per reference, ``curves.png`` (a panel per task: FB zero-shot,
random and TD3+BC return against gradient steps, mean and min-max band over seeds; and FB's
``fb_loss``) and ``results.json``: ``rows`` (``FB <task>`` and ``TD3+BC <task>``, the run
layer's rows: final return per seed, mean and std), with 2+ seeds ``differences`` (FB minus
TD3+BC per task, paired over seeds, 95% confidence interval), and ``zero_shot``: per domain the
table printed at the end (rows: tasks and their mean; columns: FB, random, TD3+BC; each mean,
std and per-seed values) and FB's zero-shot curves. ``--resume <run folder>`` continues a
stopped run (``--total-steps`` may grow; ``--td3-steps`` follows it unless it was set).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs, runs, zero_shot
from jaxrl.agents import fb, presets, td3_bc
from jaxrl.checkpoint import Checkpointer

EVAL_TWINS: dict[str, str] = {"reach/fourrooms": "reach/fourrooms-anywhere"}
"""The evaluation env of a domain whose exploration starts differ from its evaluation's (other
domains are evaluated on themselves)."""

ZERO_SHOT_STREAM = 0x2E50
"""``fold_in`` constant of the zero-shot evaluation keys (never a training key)."""

KEEP_CHECKPOINTS = 1_000_000
"""FB keeps every checkpoint: each is a point of its zero-shot curve."""


@dataclasses.dataclass
class Args(runs.RunArgs):
    """Zero-shot FB vs a random policy vs TD3+BC on each task's true reward."""

    dataset: str = "datasets/reach.npz"
    """Reward-free dataset with stored task rewards (experiments/make_dataset.py exorl); its
    card's env is the domain."""
    eval_env: str | None = None
    """Domain to evaluate on (default: the domain's evaluation twin, reach/fourrooms-anywhere
    for reach/fourrooms, else the domain itself)."""
    preset: Literal["cpu", "paper"] = "cpu"
    """FB's default config: cpu (presets.FB_CPU) or paper (fb.Config(), the spec's)."""
    config: fb.Config = dataclasses.field(default_factory=lambda: presets.FB_CPU)
    """FB hyperparameters (default: the --preset's)."""
    total_steps: int = 10_000
    """FB gradient steps per seed."""
    td3_steps: int | None = None
    """Gradient steps of each TD3+BC reference per seed (default: --total-steps)."""
    td3_alpha: float = 100.0
    """TD3+BC's alpha: lambda = alpha / mean|Q|, so behaviour cloning weighs 1/alpha next to
    the normalised Q term (100: nearly plain TD3; 2.5: TD3+BC's own)."""
    td3: td3_bc.Config = dataclasses.field(default_factory=td3_bc.Config)
    """TD3+BC's other hyperparameters (its alpha is --td3-alpha)."""
    tasks: tuple[str, ...] = ()
    """Tasks to report, each with a TD3+BC reference (default: all of the domain's)."""
    seeds: int = 2
    """Seeds (>= 1; the same keys for FB and every TD3+BC)."""


def preset(preset: str = "cpu") -> fb.Config:
    """The default config of ``--preset`` (``presets.FB_PRESETS``)."""
    return presets.FB_PRESETS[preset]


@dataclasses.dataclass(frozen=True)
class Domains:
    """The dataset's domain, the evaluation domain and the reported tasks."""

    name: str
    domain: Any
    eval_name: str
    eval_domain: Any
    tasks: tuple[str, ...]


def domains(args: Args, data: runs.OfflineData) -> Domains:
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


def td3_config(args: Args) -> td3_bc.Config:
    """``--td3`` with ``--td3-alpha``."""
    if args.td3.alpha != td3_bc.Config().alpha and args.td3.alpha != args.td3_alpha:
        raise ValueError(f"--td3.alpha {args.td3.alpha}: set --td3-alpha instead")
    return dataclasses.replace(args.td3, alpha=args.td3_alpha)


def fb_options(args: Args) -> dict[str, Any]:
    """FB's driver options: no driver evaluation, a checkpoint every evaluation interval (the
    driver's default chunks and about ten of them, as the TD3+BC members evaluate), all kept."""
    every = args.eval_every or max(1, args.total_steps // 10)
    return {
        "eval_every": 0,
        "chunk_steps": args.eval_every,
        "checkpoint_every": every,
        "keep_checkpoints": KEEP_CHECKPOINTS,
    }


def setup(args: Args) -> list[runs.Member]:
    if args.eval_every == 0:
        raise ValueError("--eval-every 0: the comparison needs evaluations (FB's checkpoints)")
    data = runs.load_offline(args.dataset)
    d = domains(args, data)
    config = td3_config(args)
    members = []
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
    # FB last: the report describes each dataset by its last member's copy (the reward-free one)
    fb_member = runs.Member(
        fb,
        args.config,
        d.domain,
        args.total_steps,
        "fb",
        "FB",
        offline=data,
        options=fb_options(args),
    )
    return [*members, fb_member]


# --- zero-shot evaluation ----------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def zero_shot_fn(config: fb.Config, env: Any, eval_domain: Any, episodes: int):
    """``f(states [S], data, rewards [T, N], keys [S]) -> {"return", "return_std": [S, T],
    "z": [S, T, d]}``: per seed, z per task inferred from the rewarded rows, then
    :func:`jaxrl.zero_shot.evaluate_zero_shot` on every task of ``eval_domain`` (jitted; cached
    so that runs in one process compile it once)."""

    def one(state: fb.State, data: Any, rewards: jax.Array, key: jax.Array) -> dict[str, Any]:
        k_infer, k_eval = jax.random.split(key)
        task_z = jnp.stack(
            [
                fb.infer_task_from_data(
                    config, env, state, data, rewards[t], jax.random.fold_in(k_infer, t)
                )
                for t in range(rewards.shape[0])
            ]
        )

        def policy(obs: jax.Array, z: jax.Array, k: jax.Array) -> jax.Array:
            del k
            return fb.policy(config, env, state, obs, z)

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


def eval_keys(args: Args) -> jax.Array:
    """``[seeds]`` zero-shot evaluation keys (seed ``i``: the same at every checkpoint, and
    for the random policy)."""
    return jax.random.split(
        jax.random.fold_in(jax.random.key(args.seed), ZERO_SHOT_STREAM), args.seeds
    )


def with_seed_axis(state: Any, seeds: int) -> Any:
    """The state with a leading seed axis (the driver drops it for one seed)."""
    return state if seeds > 1 else jax.tree.map(lambda x: x[None], state)


def zero_shot_curve(
    args: Args, run: runs.Run, member: runs.Member, result: Any, d: Domains
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """FB's zero-shot return at every kept checkpoint: ``({"step": [R], task: [R, S]}, z of the
    last checkpoint [S, T, d])`` for every task of the evaluation domain."""
    evaluate = zero_shot_fn(args.config, member.env, d.eval_domain, args.num_eval_episodes)
    rewards = jnp.stack(
        [zero_shot.task_rewards_of(member.data, d.domain, t) for t in d.eval_domain.task_names]
    )
    keys = eval_keys(args)
    checkpointer = Checkpointer(os.path.join(run.folder(member), "checkpoints"), KEEP_CHECKPOINTS)
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


def stats(per_seed: Any) -> dict[str, Any]:
    x = np.asarray(per_seed, np.float64).reshape(-1)
    return {"mean": float(np.mean(x)), "std": float(np.std(x)), "per_seed": x.tolist()}


def table(
    d: Domains, fb_final: dict[str, np.ndarray], random: dict[str, np.ndarray], td3: dict
) -> dict[str, dict[str, Any]]:
    """``{task or "mean": {"FB": stats, "random": stats, "TD3+BC": stats}}``; the mean row
    averages each seed's returns over the tasks first."""
    out = {
        t: {"FB": stats(fb_final[t]), "random": stats(random[t]), "TD3+BC": stats(td3[t])}
        for t in d.tasks
    }
    out["mean"] = {
        "FB": stats(np.mean([fb_final[t] for t in d.tasks], axis=0)),
        "random": stats(np.mean([random[t] for t in d.tasks], axis=0)),
        "TD3+BC": stats(np.mean([td3[t] for t in d.tasks], axis=0)),
    }
    return out


def format_zero_shot(rows: dict[str, dict[str, Any]], title: str) -> str:
    columns = ("FB", "random", "TD3+BC")
    heads = ("FB (zero-shot)", "random", "TD3+BC (true reward)")
    width = max(len("task"), *(len(t) for t in rows))

    def cell(s: dict[str, Any]) -> str:
        if not all(math.isfinite(v) for v in (s["mean"], s["std"])):
            return "-"
        return f"{s['mean']:.1f} ± {s['std']:.1f}"

    head = f"{'task':<{width}}" + "".join(f"  {h:>20}" for h in heads)
    lines = [title, head, "-" * len(head)]
    for task, row in rows.items():
        lines.append(f"{task:<{width}}" + "".join(f"  {cell(row[c]):>20}" for c in columns))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=preset)
    run = runs.start(args, setup)
    *td3_members, fb_member = run.members
    d = domains(args, fb_member.offline)
    fb_result = run.train(fb_member)
    td3_results = {t: run.train(m) for t, m in zip(d.tasks, td3_members, strict=True)}

    curve, z = zero_shot_curve(args, run, fb_member, fb_result, d)
    runs.write_history(os.path.join(run.folder(fb_member), "zero_shot"), curve)
    random_out = jax.device_get(random_fn(d.eval_domain, args.num_eval_episodes)(eval_keys(args)))
    names = tuple(d.eval_domain.task_names)
    random = {t: np.asarray(random_out["return"])[:, names.index(t)] for t in names}
    fb_final = {t: curve[t][-1] for t in names}
    td3_final = {t: r.final("eval_return").reshape(-1) for t, r in td3_results.items()}

    results: dict[str, Any] = {}
    for task in d.tasks:
        i = names.index(task)
        task_z = z[:, i] if args.seeds > 1 else z[0, i]
        fb_task = dataclasses.replace(
            fb_result,
            state=fb.with_task(fb_result.state, task_z),  # acts on this task
            history={
                "step": curve["step"],
                "eval_return": curve[task].reshape(len(curve["step"]), -1),
            },
        )
        results[f"FB {task}"] = fb_task
        results[f"TD3+BC {task}"] = td3_results[task]
    rows = table(d, fb_final, random, td3_final)
    last = float(curve["step"][-1])
    histories = {
        "FB zero-shot": {k: curve[k] for k in ("step", *d.tasks)},
        "random": {
            "step": np.asarray([0.0, last]),
            **{t: np.stack([random[t]] * 2) for t in d.tasks},
        },
        **{
            f"TD3+BC {t}": {"step": r.history["step"], t: r.history["eval_return"]}
            for t, r in td3_results.items()
        },
        "FB training": fb_result.history,
    }
    steps = f"FB {fb_result.total_steps:,}, TD3+BC {next(iter(td3_results.values())).total_steps:,}"
    title = (
        f"zero-shot return on {d.eval_name} (dataset {fb_member.offline.name}, {args.seeds} "
        f"seed(s), {args.num_eval_episodes} episodes per task and seed; gradient steps: {steps}; "
        f"TD3+BC alpha {args.td3_alpha:g})"
    )
    extra = {
        "zero_shot": {
            d.name: {
                "eval_env": d.eval_name,
                "tasks": list(d.tasks),
                "seeds": args.seeds,
                "episodes": args.num_eval_episodes,
                "fb_steps": fb_result.total_steps,
                "td3_steps": next(iter(td3_results.values())).total_steps,
                "td3_alpha": args.td3_alpha,
                "table": rows,
                "fb_curve": {k: np.asarray(v).tolist() for k, v in curve.items()},
            }
        }
    }
    report = run.report(
        results,
        compare=[(f"FB {t}", f"TD3+BC {t}") for t in d.tasks],
        metrics=(*d.tasks, "fb_loss"),
        histories=histories,
        title=f"FB zero-shot vs random vs TD3+BC on {d.eval_name} ({args.seeds} seeds)",
        extra=extra,
    )
    print(format_zero_shot(rows, title))
    return report


if __name__ == "__main__":
    runs.cli(main)
