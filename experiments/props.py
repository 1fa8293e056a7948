"""PROPS against PPO and PPO-with-buffer on the same env, seeds and step budget.

    python experiments/props.py --env cartpole --total-steps 60000 --seeds 4
    python experiments/props.py --env brax/hopper --seeds 2          # the authors' tuned Hopper
    python experiments/props.py --env pendulum --config.props-num-steps 32 --total-steps 200000
    python experiments/props.py --fixed-target   # sampling error only: frozen targets, no learning

Three methods, one :mod:`jaxrl.agents.props` config, only the sampling and the buffer differ:

- ``PROPS``: the behaviour policy collects, buffer of ``buffer_batches`` (b, default 2) batches;
- ``PPO-buffer``: pi_theta collects (on-policy sampling), the same b-batch buffer;
- ``PPO``: on-policy sampling, b = 1 (plain PPO with the authors' per-minibatch KL stop).

Every method reports the sampling error of the buffer it trains on (the fitted empirical policy's
KL, and for discrete actions the exact counts KL) next to its returns. Writes
``runs/props-<env>-<time>/`` with ``config.json``, ``metrics-<method>.jsonl``, ``results.json``
and ``curves.png`` (return and sampling error against env steps, mean and min-max band over
seeds), and prints a final table and, with 2+ seeds, PROPS's per-seed difference to each other
method (curve-mean and final return, sampling error) with a 95% confidence interval.

Whether PROPS learns *faster* than PPO-with-buffer is a question for this script with many
seeds, not for the test suite: on one-env CartPole (24k steps) the two are within seed noise of
each other (see the closing figures in ``tests/test_props.py``).

Defaults: ``jaxrl.agents.presets.PROPS_PRESETS[env]`` (the authors' tuned MuJoCo settings for
``brax/{swimmer,hopper,halfcheetah,walker2d,ant,humanoid}``, with their budgets), else
``props.Config()``; any ``--config.*`` flag overrides.

``--fixed-target`` instead measures the sampling error of PROPS and of on-policy sampling for a
*frozen* target (the tests' settings, :func:`fixed_target_table`): a 10-armed bandit (exact counts
KL, on-policy expectation (K - 1) / (2N)) and a 2-D Gaussian (fitted-policy KL, about 2/N), at
budgets of 64 to 512 samples, 16 seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import tyro

import jaxrl
from jaxrl import envs
from jaxrl.agents import ppo, props
from jaxrl.agents.presets import PROPS_PAPER, PROPS_PRESETS
from jaxrl.loggers import JsonlLogger
from jaxrl.networks import output_layer_path
from jaxrl.stats import paired_difference
from jaxrl.types import Discrete, EnvSpec, TimeStep

METHODS = ("PROPS", "PPO-buffer", "PPO")


@dataclasses.dataclass
class Args:
    """PROPS vs PPO-with-buffer vs PPO."""

    env: str = "cartpole"
    """Environment name, e.g. cartpole, pendulum, brax/hopper."""
    total_steps: int = 0
    """Env steps per seed; 0: the paper's budget for its tasks, else 60,000."""
    seeds: int = 4
    """Seeds (vmapped; the same keys for every method)."""
    seed: int = 0
    """Base random seed."""
    eval_every: int = 0
    """Evaluate the deterministic target policy every this many steps; 0: total_steps / 10."""
    num_eval_episodes: int = 16
    """Episodes per evaluation."""
    methods: tuple[str, ...] = METHODS
    """Which of PROPS, PPO-buffer, PPO to run."""
    run_dir: str = "runs"
    """Parent folder of the run folder."""
    progress: bool = True
    """Show a progress bar per method."""
    fixed_target: bool = False
    """Only measure fixed-target sampling error (bandits, no learning) and print the table."""
    fixed_target_seeds: int = 16
    """Seeds of the fixed-target measurement."""
    config: props.Config = dataclasses.field(default_factory=props.Config)
    """PROPS hyperparameters (defaults: the env's preset if there is one)."""


@dataclasses.dataclass(frozen=True)
class DiscreteBandit:
    """``arms``-armed bandit with one constant observation and no reward: only the sampling of
    actions matters (the fixed-target sampling-error check)."""

    arms: int = 10

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec("discrete_bandit", (1,), Discrete(self.arms), max_episode_steps=1)

    def _timestep(self) -> TimeStep:
        return TimeStep(
            obs=jnp.ones((1,)),
            reward=jnp.zeros(()),
            terminated=jnp.ones((), bool),
            truncated=jnp.zeros((), bool),
        )

    def reset(self, key: jax.Array) -> tuple[jax.Array, TimeStep]:
        return jnp.zeros(()), self._timestep()

    def step(self, state: jax.Array, action: jax.Array) -> tuple[jax.Array, TimeStep]:
        return state, self._timestep()


TARGET_PROBS = (0.25, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.04, 0.03, 0.03)
"""pi_theta of the discrete fixed-target check."""

FIXED = dict(
    num_envs=1,
    num_steps=64,
    learning_rate=0.0,  # theta never moves: a fixed target
    num_epochs=1,
    num_minibatches=1,
    normalize_obs=False,
    hidden_sizes=(16,),
    props_num_minibatches=1,
)
"""Shared settings of the fixed-target checks: one env, batches of 64, a frozen target."""

DISCRETE_FIXED = dict(
    props_num_steps=1,
    se_epochs=0,
    props_learning_rate=0.03,
    props_lambda=0.0,
    props_num_epochs=8,
    props_target_kl=0.1,
)
"""PROPS settings of the discrete check (m = 1; lambda = 0 as the authors' 2025 discrete code)."""

CONTINUOUS_FIXED = dict(
    props_num_steps=4,
    se_epochs=100,
    se_num_minibatches=1,
    se_learning_rate=1e-2,
    props_learning_rate=1e-2,
    props_lambda=0.1,
    props_num_epochs=8,
)
"""PROPS and sampling-error-fit settings of the continuous check (m = 4)."""


def with_target_logits(
    config: props.Config, env, state: props.State, logits: jax.Array
) -> props.State:
    """Set pi_theta(.|s) = softmax(logits) for every s (zero output kernel, bias = logits)."""
    path = output_layer_path(ppo.make_networks(config, env)[0])

    def set_output(p: tuple, x: jax.Array) -> jax.Array:
        keys = tuple(getattr(k, "key", k) for k in p)
        if keys[:-1] != path:
            return x
        return jnp.zeros_like(x) if keys[-1] == "kernel" else jnp.broadcast_to(logits, x.shape)

    policy = jax.tree_util.tree_map_with_path(set_output, state.params["policy"])
    return state.replace(params={**state.params, "policy": policy}, behaviour_params=policy)


def fixed_target_runs(config: props.Config, env, seeds: int, prepare=lambda s: s):
    """Metrics ``[iterations, seeds]`` of ``buffer_batches`` iterations with a frozen target
    (``learning_rate`` 0): the buffer's fill phase, so row i is measured on (i + 1) n samples."""
    init = jax.jit(jax.vmap(lambda k: prepare(props.init(config, env, k))))
    step = jax.jit(jax.vmap(lambda s: props.train_step(config, env, s)))
    state = init(jax.random.split(jax.random.key(0), seeds))
    rows = []
    for _ in range(config.buffer_batches):
        state, metrics = step(state)
        rows.append(jax.tree.map(np.asarray, metrics))
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}, state


def fixed_target_table(batches: int = 8, seeds: int = 16) -> dict[str, dict[str, list[float]]]:
    """Mean sampling error of on-policy sampling and PROPS at budgets 64, 128, ..., 64 batches,
    for the discrete and the continuous fixed target; printed and returned."""
    logits = jnp.log(jnp.asarray(TARGET_PROBS, jnp.float32))
    bandit = DiscreteBandit(len(TARGET_PROBS))
    discrete = props.Config(**FIXED, buffer_batches=batches, **DISCRETE_FIXED)
    cases = {
        "discrete (counts KL)": (
            bandit,
            discrete,
            "sampling_error_counts",
            lambda s: with_target_logits(discrete, bandit, s, logits),
            lambda n: (len(TARGET_PROBS) - 1) / (2 * n),
        ),
        "continuous (fitted KL)": (
            envs.make("bandit"),
            props.Config(**FIXED, buffer_batches=batches, **CONTINUOUS_FIXED),
            "sampling_error",
            lambda s: s,
            lambda n: 2.0 / n,
        ),
    }
    n = 64 * np.arange(1, batches + 1)
    out = {}
    for name, (env, config, metric, prepare, theory) in cases.items():
        on, _ = fixed_target_runs(
            dataclasses.replace(config, sampling="on_policy"), env, seeds, prepare
        )
        pr, _ = fixed_target_runs(config, env, seeds, prepare)
        on_se, pr_se = on[metric].mean(axis=1), pr[metric].mean(axis=1)
        out[name] = {
            "samples": n.tolist(),
            "expected_on_policy": theory(n).tolist(),
            "on_policy": on_se.tolist(),
            "props": pr_se.tolist(),
        }
        print(f"{name}, {seeds} seeds")
        print(f"  {'samples':<18}" + "".join(f"{x:>8d}" for x in n))
        for label, row in (
            ("expected on-pol.", theory(n)),
            ("on-policy", on_se),
            ("PROPS", pr_se),
            ("PROPS / on-pol.", pr_se / on_se),
        ):
            print(f"  {label:<18}" + "".join(f"{x:>8.4f}" for x in row))
    return out


def parse_args(argv: list[str]) -> Args:
    """Read --env first so that its preset becomes the default config, then parse everything."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--env", default=Args.env)
    known, _ = pre.parse_known_args(argv)
    default = Args(env=known.env, config=PROPS_PRESETS.get(known.env, props.Config()))
    return tyro.cli(Args, default=default, args=argv, description=__doc__)


def method_config(config: props.Config, method: str) -> props.Config:
    """The shared config with the method's sampling and buffer."""
    if method == "PROPS":
        return dataclasses.replace(config, sampling="props")
    if method == "PPO-buffer":
        return dataclasses.replace(config, sampling="on_policy")
    if method == "PPO":
        return dataclasses.replace(config, sampling="on_policy", buffer_batches=1)
    raise ValueError(f"unknown method {method!r}; valid: {METHODS}")


def _curve(history: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Steps and values ``[points, seeds]`` of the rows where ``name`` has a value."""
    if name not in history:
        return None
    values = np.asarray(history[name], np.float64).reshape(len(history["step"]), -1)
    keep = ~np.isnan(values).all(axis=1)
    return np.asarray(history["step"])[keep], values[keep]


def summarise(history: dict[str, np.ndarray], se_name: str) -> dict[str, float | list[float]]:
    """Final and curve-mean return, and the mean sampling error over the run."""
    out: dict[str, float | list[float]] = {}
    for name in ("eval_return", "episode_return"):
        curve = _curve(history, name)
        if curve is not None:
            _, ys = curve
            out[f"final_{name}"] = float(np.nanmean(ys[-1]))
            out[f"final_{name}_per_seed"] = [float(v) for v in ys[-1]]
            out[f"mean_{name}_over_curve"] = float(np.nanmean(ys))
            out[f"mean_{name}_over_curve_per_seed"] = [float(v) for v in np.nanmean(ys, axis=0)]
    for name in ("sampling_error", "sampling_error_counts"):
        curve = _curve(history, name)
        if curve is not None:
            out[f"mean_{name}"] = float(np.nanmean(curve[1]))
            out[f"mean_{name}_per_seed"] = [float(v) for v in np.nanmean(curve[1], axis=0)]
    return out


def compare_to_props(summary: dict[str, dict], se_name: str) -> dict[str, dict[str, str]]:
    """PROPS minus each other method, per seed (the methods share their keys): curve-mean eval
    return, final eval return and mean sampling error, each with a 95% confidence interval
    (:func:`jaxrl.stats.paired_difference`). Printed and returned; needs 2+ seeds."""
    out: dict[str, dict[str, str]] = {}
    figures = (
        "mean_eval_return_over_curve_per_seed",
        "final_eval_return_per_seed",
        f"mean_{se_name}_per_seed",
    )
    for method in summary:
        if method == "PROPS" or "PROPS" not in summary:
            continue
        out[method] = {}
        for name in figures:
            a, b = summary["PROPS"].get(name), summary[method].get(name)
            if a is None or b is None or len(a) < 2:
                continue
            diff = paired_difference(a, b)
            out[method][name.removesuffix("_per_seed")] = str(diff)
            print(f"PROPS - {method}, {name.removesuffix('_per_seed')}: {diff}")
    return out


def plot(results: dict[str, dict[str, np.ndarray]], se_name: str, path: str, title: str) -> str:
    """Return and sampling-error curves side by side, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ["eval_return", "episode_return", se_name]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8))
    for ax, name in zip(axes, panels, strict=True):
        for method, history in results.items():
            curve = _curve(history, name)
            if curve is None:
                continue
            xs, ys = curve
            with np.errstate(all="ignore"):
                mean = np.nanmean(ys, axis=1)
            (line,) = ax.plot(xs, mean, lw=2, label=method)
            if ys.shape[1] > 1:
                ax.fill_between(
                    xs, np.nanmin(ys, 1), np.nanmax(ys, 1), alpha=0.2, color=line.get_color()
                )
        ax.set_xlabel("environment steps")
        ax.set_ylabel(name)
        if name.startswith("sampling_error"):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title + "  (band: min-max over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.fixed_target:
        return fixed_target_table(seeds=args.fixed_target_seeds)
    env = envs.make(args.env)
    total = args.total_steps or (PROPS_PAPER[args.env][1] if args.env in PROPS_PAPER else 60_000)
    eval_every = args.eval_every or max(total // 10, 1)
    run = os.path.join(
        args.run_dir, f"props-{args.env.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    os.makedirs(run, exist_ok=True)
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump({**dataclasses.asdict(args), "total_steps": total}, f, indent=2)
    se_name = "sampling_error_counts" if env.spec.discrete else "sampling_error"
    key = jax.random.key(args.seed)
    histories: dict[str, dict[str, np.ndarray]] = {}
    summary: dict[str, dict] = {}
    for method in args.methods:
        config = method_config(args.config, method)
        print(f"{method} on {args.env}: {total:,} steps x {args.seeds} seed(s)")
        result = jaxrl.train(
            props,
            config,
            env,
            key,
            total,
            seeds=args.seeds if args.seeds > 1 else None,
            eval_every=eval_every,
            num_eval_episodes=args.num_eval_episodes,
            loggers=[JsonlLogger(os.path.join(run, f"metrics-{method}.jsonl"))],
            progress=args.progress,
            description=f"{method} {args.env}",
        )
        histories[method] = result.history
        summary[method] = {
            **summarise(result.history, se_name),
            "train_seconds": result.train_seconds,
            "compile_seconds": result.compile_seconds,
        }
    curves = plot(
        histories,
        se_name,
        os.path.join(run, "curves.png"),
        f"PROPS vs PPO on {args.env} ({args.seeds} seeds)",
    )
    header = f"{'method':<11} {'final eval':>11} {'curve-mean eval':>16} {'mean ' + se_name:>28}"
    print(header)
    print("-" * len(header))
    for method, s in summary.items():
        print(
            f"{method:<11} {s.get('final_eval_return', float('nan')):>11.1f} "
            f"{s.get('mean_eval_return_over_curve', float('nan')):>16.1f} "
            f"{s.get('mean_' + se_name, float('nan')):>28.5f}"
        )
    if args.seeds > 1:
        summary["PROPS minus"] = compare_to_props(summary, se_name)
    with open(os.path.join(run, "results.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"curves: {curves}\nresults: {os.path.join(run, 'results.json')}")
    return summary


if __name__ == "__main__":
    main()
