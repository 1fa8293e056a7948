"""Throughput of jaxrl PPO against the raw environment and against Brax's own PPO trainer.

For every (env, num_envs) pair, in one process, this measures:

1. raw env steps/s: a jitted ``lax.scan`` of :meth:`jaxrl.rollout.VecEnv.step` with uniform random
   actions (autoreset included, as in training), once for each reset mode of ``--reset-modes``
   (``real``, ``optimistic``, ``cached``: :mod:`jaxrl.rollout`); compilation is timed apart and
   the second call of the compiled function is the one reported;
2. jaxrl PPO env steps/s through :func:`jaxrl.train` (compilation excluded; reported apart), once
   for each reset mode (``Config.reset_mode``);
3. Brax PPO (``brax.training.agents.ppo.train``) on the same env with the same number of envs,
   batch, unroll length, minibatches, epochs, networks (both policy and value use
   ``--hidden-sizes``) and activation. Its steady-state steps/s comes from the timestamps of its
   ``progress_fn`` calls, dropping the first interval (which holds the compilation); evaluation is
   switched off (``run_evals=False``) on both sides so that only training is timed.

The table printed at the end shows, for each reset mode, raw env and PPO steps/s and ours/Brax, all
measured in the same process on the same hardware, and the compile times apart. Brax resets every
finished episode to a cached first state (its ``AutoResetWrapper``, Playground's
``wrap_for_brax_training``): ``ours/Brax`` with ``cached`` compares equal work, with
``optimistic`` (our default, fresh start states) our training as users run it.

    python benchmarks/throughput.py --env brax/inverted_pendulum playground/CartpoleSwingup \
        playground/HopperStand --num-envs 256 --steps 204800 --out cpu.json
    python benchmarks/throughput.py --env playground/HopperStand --num-envs 2048 256
        --steps-per-env 1000 --out gpu.json

Timings are never asserted anywhere; see ``benchmarks/README.md`` for recorded results.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import math
import os
import platform
import subprocess
import sys
import time
import typing
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

# Run from a checkout without installation too.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxrl  # noqa: E402
from jaxrl import envs  # noqa: E402
from jaxrl.agents import ppo  # noqa: E402
from jaxrl.rollout import ResetMode, VecEnv  # noqa: E402
from jaxrl.types import Discrete  # noqa: E402

# --- hardware --------------------------------------------------------------------------------


def save_json(obj: Any, path: str) -> None:
    """Write a benchmark's results (non-JSON values as ``str``) and say where."""
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, default=str)
    print(f"wrote {path}")


def hardware() -> dict[str, Any]:
    """What the numbers were measured on: JAX devices, CPU model and cores, GPU name, versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.strip()
        gpu = out or None
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for dist in ("jax", "jaxlib", "flax", "optax", "brax", "mujoco", "mujoco-mjx", "playground"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "cpu_model": cpu,
        "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "gpu": gpu,
        "python": platform.python_version(),
        "versions": versions,
    }


# --- 1. raw environment ----------------------------------------------------------------------


def random_actions(space: Any, key: jax.Array, num_envs: int) -> jax.Array:
    """``num_envs`` uniform actions from ``space`` (a Box or Discrete) in one random call."""
    if isinstance(space, Discrete):
        return jax.random.randint(key, (num_envs,), 0, space.n)
    return jax.random.uniform(
        key, (num_envs, *space.shape), minval=space.low_array, maxval=space.high_array
    )


def measure_raw(
    env: Any,
    num_envs: int,
    num_steps: int,
    key: jax.Array,
    reset_mode: str = "real",
    repeats: int = 3,
) -> dict[str, Any]:
    """Env steps/s of ``num_steps`` scanned :class:`VecEnv` steps with uniform random actions.

    The compiled scan is called once to warm up, then ``repeats`` more times; the second call
    (the first timed one) gives ``sps`` and the median of the timed calls ``sps_median``.
    Returns those, the compile seconds and every timed call's seconds.
    """
    vec_env = VecEnv(env, num_envs, reset_mode=reset_mode)
    space = env.spec.action_space

    def run(state: Any, key: jax.Array) -> tuple[Any, jax.Array]:
        def body(carry: tuple[Any, jax.Array], k: jax.Array) -> tuple[Any, None]:
            st, total = carry
            st, ts = vec_env.step(st, random_actions(space, k, num_envs))
            return (st, total + jnp.sum(ts.reward)), None

        (state, total), _ = jax.lax.scan(
            body, (state, jnp.zeros((), jnp.float32)), jax.random.split(key, num_steps)
        )
        return state, total

    reset_key, key = jax.random.split(key)
    state = jax.block_until_ready(jax.jit(vec_env.reset)(reset_key))
    t0 = time.perf_counter()
    compiled = jax.jit(run, donate_argnums=0).lower(state, key).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for i in range(repeats + 1):  # call 0 warms up
        t0 = time.perf_counter()
        state, _ = jax.block_until_ready(compiled(state, jax.random.fold_in(key, i)))
        times.append(time.perf_counter() - t0)
    steps = num_envs * num_steps
    timed = sorted(times[1:])
    return {
        "steps": steps,
        "compile_s": compile_s,
        "run_s": times[1:],
        "sps": steps / times[1],
        "sps_median": steps / timed[len(timed) // 2],
    }


# --- 2. jaxrl PPO ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PPOShape:
    """The settings that fix the amount of work per PPO iteration, shared by both trainers."""

    num_envs: int
    unroll: int
    num_minibatches: int
    num_epochs: int
    hidden_sizes: tuple[int, ...]
    activation: str

    @property
    def batch(self) -> int:
        """Env steps per iteration (both trainers take exactly this many)."""
        return self.num_envs * self.unroll


def our_config(shape: PPOShape, reset_mode: ResetMode = "optimistic") -> ppo.Config:
    """Our PPO config for ``shape`` (tanh-Gaussian head and obs normalisation as in Brax)."""
    return ppo.Config(
        reset_mode=reset_mode,
        num_envs=shape.num_envs,
        num_steps=shape.unroll,
        num_epochs=shape.num_epochs,
        num_minibatches=shape.num_minibatches,
        hidden_sizes=shape.hidden_sizes,
        activation=shape.activation,
        policy_head="tanh_gaussian",
        normalize_obs=True,
    )


def measure_ours(
    env: Any,
    shape: PPOShape,
    total_steps: int,
    num_chunks: int,
    key: jax.Array,
    reset_mode: ResetMode = "optimistic",
) -> dict[str, float]:
    """Train our PPO for ``total_steps`` env steps; returns compile s, train s and steps/s."""
    config = our_config(shape, reset_mode)
    result = jaxrl.train(
        ppo,
        config,
        env,
        key,
        total_steps=total_steps,
        chunk_steps=max(shape.batch, total_steps // num_chunks),
        eval_every=0,
        progress=False,
    )
    return {
        "steps": result.total_steps,
        "compile_s": result.compile_seconds,
        "train_s": result.train_seconds,
        "sps": result.steps_per_second,
    }


def measure_ours_rollout(
    env: Any, shape: PPOShape, iterations: int, key: jax.Array
) -> dict[str, float]:
    """Steps/s of our PPO's data collection alone (policy forward + sampling + VecEnv.step),
    ``iterations`` rollouts of ``unroll`` steps scanned, parameters held fixed. Training steps/s
    relative to this shows what the update costs."""
    from jaxrl import rollout

    config = our_config(shape)
    state = jax.block_until_ready(jax.jit(lambda k: ppo.init(config, env, k))(key))

    def run(state: ppo.State, key: jax.Array) -> tuple[Any, jax.Array]:
        vec_env = ppo.vec_env(config, env)
        policy_fn = ppo.make_policy_fn(config, env, state.params, state.normalizer)

        def body(env_state: Any, k: jax.Array) -> tuple[Any, jax.Array]:
            env_state, traj, _ = rollout.collect(vec_env, env_state, policy_fn, k, config.num_steps)
            return env_state, jnp.sum(traj.reward)

        env_state, rewards = jax.lax.scan(body, state.env_state, jax.random.split(key, iterations))
        return env_state, jnp.sum(rewards)

    t0 = time.perf_counter()
    compiled = jax.jit(run).lower(state, key).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(state, key))
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(state, jax.random.fold_in(key, 1)))
    run_s = time.perf_counter() - t0
    steps = iterations * shape.batch
    return {"steps": steps, "compile_s": compile_s, "run_s": run_s, "sps": steps / run_s}


# --- 3. Brax PPO -----------------------------------------------------------------------------


def _restore_device_put_replicated() -> None:
    """Brax 0.14.2's trainers call ``jax.device_put_replicated``, which jax 0.10 removed from its
    public API; put a replacement back, for this benchmark only.

    jax's private ``jax._src.api.device_put_replicated`` still exists in 0.10 but places arrays
    on a mesh axis named ``_device_put_replicated`` while Brax's ``pmap(axis_name="i")`` returns
    them on axis ``"i"``: the second training epoch then misses the compilation cache and compiles
    the whole training epoch again (13 s for inverted_pendulum on 2 CPU cores). Placing the copies
    on the axis Brax's pmap uses gives the behaviour Brax was written for: one compilation.
    """
    import numpy as np
    from brax.training.agents.ppo.train import _PMAP_AXIS_NAME

    def device_put_replicated(x: Any, devices: Sequence[Any]) -> Any:
        """``len(devices)`` stacked copies of every leaf, one per device (as pmap expects)."""
        mesh = jax.sharding.Mesh(np.asarray(devices), (_PMAP_AXIS_NAME,))
        sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(_PMAP_AXIS_NAME))
        return jax.tree.map(
            lambda a: jax.device_put(jnp.stack([jnp.asarray(a)] * len(devices)), sharding), x
        )

    jax.device_put_replicated = device_put_replicated


def _brax_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    from jaxrl.networks import activation_fn

    return activation_fn(name)


def brax_environment(name: str, impl: str | None) -> tuple[Any, dict[str, Any]]:
    """Brax's view of our env ``name``: the env object and the ``ppo.train`` keyword arguments
    that wrap it (episode length, action repeat, Playground's training wrapper)."""
    if name.startswith("brax/"):
        import brax.envs

        return brax.envs.get_environment(name.removeprefix("brax/")), {"episode_length": 1000}
    if name.startswith("playground/"):
        from mujoco_playground import registry, wrapper

        task = name.removeprefix("playground/")
        cfg = registry.get_default_config(task)
        cfg.impl = impl or ("jax" if jax.default_backend() == "cpu" else str(cfg.impl))
        env = registry.load(task, config=cfg)
        return env, {
            "episode_length": int(cfg.episode_length),
            "action_repeat": int(cfg.action_repeat),
            "wrap_env_fn": wrapper.wrap_for_brax_training,
        }
    raise ValueError(f"no Brax counterpart for env {name!r} (only brax/... and playground/...)")


def measure_brax(
    name: str, impl: str | None, shape: PPOShape, total_steps: int, num_epochs: int, seed: int
) -> dict[str, Any]:
    """Train Brax's PPO with the same work per iteration as ours and time its epochs.

    ``num_epochs`` Brax training epochs (calls of its compiled ``training_epoch``) split
    ``total_steps``; ``progress_fn`` fires after each. Steady steps/s is measured from the first
    to the last call; the first interval (setup, compile, first epoch) is reported as
    ``time_to_first_progress_s`` and, minus the first epoch's steady-state duration, as
    ``compile_s``.
    """
    _restore_device_put_replicated()
    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as brax_ppo

    if shape.num_envs % shape.num_minibatches:
        raise ValueError("Brax PPO needs num_minibatches to divide num_envs for an equal batch")
    environment, wrap_kwargs = brax_environment(name, impl)
    network_factory = functools.partial(
        ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=shape.hidden_sizes,
        value_hidden_layer_sizes=shape.hidden_sizes,
        activation=_brax_activation(shape.activation),
    )
    calls: list[tuple[float, int, dict[str, float]]] = []

    def progress(step: int, metrics: dict[str, Any]) -> None:
        now = time.perf_counter()
        keep = ("training/sps", "training/walltime")
        calls.append((now, int(step), {k: float(metrics[k]) for k in keep if k in metrics}))

    t0 = time.perf_counter()
    brax_ppo.train(
        environment=environment,
        num_timesteps=total_steps,
        num_evals=num_epochs + 1,  # one "eval" point per training epoch after init
        run_evals=False,
        num_envs=shape.num_envs,
        # batch_size * num_minibatches = num_envs: one unroll of every env per iteration,
        # exactly our num_envs * unroll env steps per iteration.
        batch_size=shape.num_envs // shape.num_minibatches,
        num_minibatches=shape.num_minibatches,
        unroll_length=shape.unroll,
        num_updates_per_batch=shape.num_epochs,
        normalize_observations=True,
        learning_rate=3e-4,
        entropy_cost=0.0,
        discounting=0.99,
        gae_lambda=0.95,
        clipping_epsilon=0.2,
        max_grad_norm=0.5,
        network_factory=network_factory,
        seed=seed,
        progress_fn=progress,
        **wrap_kwargs,
    )
    total_s = time.perf_counter() - t0
    if len(calls) < 2:
        raise RuntimeError(f"Brax PPO reported progress {len(calls)} times; need >= 2 epochs")
    (t_first, s_first, _), (t_last, s_last, last_metrics) = calls[0], calls[-1]
    steady = (s_last - s_first) / (t_last - t_first)
    first_epoch_steps = s_first
    return {
        "steps": s_last,
        "epochs": len(calls),
        "time_to_first_progress_s": t_first - t0,
        "compile_s": (t_first - t0) - first_epoch_steps / steady,
        "sps": steady,
        "brax_reported_sps_last_epoch": last_metrics.get("training/sps"),
        "total_s": total_s,
        "progress": [(round(t - t0, 3), s) for t, s, _ in calls],
    }


# --- driver ----------------------------------------------------------------------------------


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1000:
        return f"{x / 1000:.3g}k" if abs(x) < 1e6 else f"{x / 1e6:.3g}M"
    return f"{x:.{digits}g}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


MODES: tuple[str, ...] = typing.get_args(ResetMode)


def columns(modes: Sequence[str]) -> list[str]:
    """Table header: per reset mode raw sps, our PPO sps and ours/Brax, then Brax's figures."""
    head = ["env", "num_envs"]
    head += [f"raw sps {m}" for m in modes] + [f"our PPO sps {m}" for m in modes]
    head += ["Brax PPO sps"] + [f"ours/Brax {m}" for m in modes]
    return head + ["our compile s", "Brax compile s"]


def table_row(r: dict[str, Any], modes: Sequence[str]) -> list[str]:
    """One table row of formatted figures for a result record."""
    brax = r.get("brax") or {}
    ours = [r.get(f"ours_{m}") or {} for m in modes]
    row = [r["env"], str(r["num_envs"])]
    row += [_fmt((r.get(f"raw_{m}") or {}).get("sps")) for m in modes]
    row += [_fmt(o.get("sps")) for o in ours]
    row += [_fmt(brax.get("sps"))] + [_ratio(o.get("sps"), brax.get("sps")) for o in ours]
    compiles = [o.get("compile_s") for o in ours if o.get("compile_s") is not None]
    return row + [_fmt(max(compiles) if compiles else None), _fmt(brax.get("compile_s"))]


def markdown_table(results: Sequence[dict[str, Any]], modes: Sequence[str] = MODES) -> str:
    """The results as a Markdown table (the same columns as the console table)."""
    head = columns(modes)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(table_row(r, modes)) + " |" for r in results]
    return "\n".join(lines)


def run_one(args: argparse.Namespace, name: str, num_envs: int, key: jax.Array) -> dict[str, Any]:
    """All measurements for one (env, num_envs); failures of one part are recorded, not raised."""
    shape = PPOShape(
        num_envs=num_envs,
        unroll=args.unroll,
        num_minibatches=args.num_minibatches,
        num_epochs=args.num_epochs,
        hidden_sizes=tuple(args.hidden_sizes),
        activation=args.activation,
    )
    steps = args.steps if args.steps_per_env is None else args.steps_per_env * num_envs
    kwargs = {"impl": args.impl} if name.startswith("playground/") and args.impl else {}
    env = envs.make(name, **kwargs)
    record: dict[str, Any] = {
        "env": name,
        "num_envs": num_envs,
        "unroll": shape.unroll,
        "num_minibatches": shape.num_minibatches,
        "num_epochs": shape.num_epochs,
        "batch": shape.batch,
        "hidden_sizes_policy_and_value": list(shape.hidden_sizes),
        "activation": shape.activation,
        "impl": args.impl if name.startswith("playground/") else None,
    }
    k_raw, k_ours, k_roll = jax.random.split(key, 3)

    def raw(mode: str) -> dict[str, Any]:
        return measure_raw(env, num_envs, args.raw_steps, k_raw, mode, args.repeats)

    def ours(mode: str) -> dict[str, Any]:
        return measure_ours(env, shape, steps, args.chunks, k_ours, mode)

    # the same keys for every mode: real and optimistic then run the very same episodes
    parts: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    for mode in args.reset_modes:
        parts.append((f"raw_{mode}", functools.partial(raw, mode)))
    for mode in args.reset_modes:
        parts.append((f"ours_{mode}", functools.partial(ours, mode)))
    if not args.skip_brax:
        parts.append(("brax", lambda: measure_brax(name, args.impl, shape, steps, args.chunks, 0)))
    if args.rollout_only:
        iters = max(1, steps // (args.chunks * shape.batch))
        parts.append(("ours_rollout", lambda: measure_ours_rollout(env, shape, iters, k_roll)))
    for part, fn in parts:
        print(f"[{name} x{num_envs}] {part} ...", flush=True)
        t0 = time.perf_counter()
        try:
            record[part] = fn()
        except Exception as e:  # noqa: BLE001 - one failing part must not lose the others
            record[part] = None
            record[f"{part}_error"] = f"{type(e).__name__}: {e}"
            print(f"  failed: {record[f'{part}_error']}", flush=True)
        else:
            shown = {k: v for k, v in record[part].items() if k != "progress"}
            print(f"  {shown} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return record


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line flags (see ``--help``)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", nargs="+", default=["brax/inverted_pendulum"], help="env name(s)")
    p.add_argument("--num-envs", nargs="+", type=int, default=[256], help="parallel envs")
    p.add_argument(
        "--steps", type=int, default=102_400, help="env steps of each PPO run (ours and Brax)"
    )
    p.add_argument(
        "--steps-per-env",
        type=int,
        default=None,
        help="if given, each PPO run takes this many steps per env (overrides --steps)",
    )
    p.add_argument(
        "--chunks",
        type=int,
        default=5,
        help="our compiled chunks = Brax training epochs (progress points) per PPO run",
    )
    p.add_argument(
        "--raw-steps", type=int, default=200, help="scanned VecEnv steps per raw-env call"
    )
    p.add_argument(
        "--repeats", type=int, default=1, help="timed calls of the raw scan after the warm-up"
    )
    p.add_argument("--unroll", type=int, default=10, help="rollout length per iteration")
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--num-epochs", type=int, default=4, help="passes over each batch")
    p.add_argument(
        "--hidden-sizes",
        nargs="+",
        type=int,
        default=[64, 64],
        help="hidden widths of BOTH policy and value MLPs, on both sides",
    )
    p.add_argument("--activation", default="tanh", help="MLP activation on both sides")
    p.add_argument(
        "--impl",
        default="jax",
        choices=("jax", "warp"),
        help="Playground simulation backend, on both sides",
    )
    p.add_argument("--skip-brax", action="store_true", help="do not run Brax's PPO")
    p.add_argument(
        "--reset-modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="VecEnv reset modes to time, raw and in PPO (jaxrl.rollout)",
    )
    p.add_argument(
        "--rollout-only",
        action="store_true",
        help="also time our PPO's data collection alone (no update)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the results as JSON to this path")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run every (env, num_envs) pair, print the table and write the JSON."""
    args = parse_args(argv)
    # Compile times must be real compilations, not persistent-cache hits.
    with contextlib.suppress(AttributeError):  # a jax without the option has no cache on
        jax.config.update("jax_enable_compilation_cache", False)
    hw = hardware()
    print(json.dumps(hw, indent=1), flush=True)
    results: list[dict[str, Any]] = []

    def save() -> None:
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            payload = {"hardware": hw, "command": sys.argv, "results": results}
            with open(args.out, "w") as f:
                json.dump(payload, f, indent=1)

    key = jax.random.PRNGKey(args.seed)
    for name in args.env:
        for num_envs in args.num_envs:
            key, sub = jax.random.split(key)
            results.append(run_one(args, name, num_envs, sub))
            save()  # after every pair, so an interrupted run keeps what it measured
    print()
    print(f"hardware: {hw['device_kind']} ({hw['jax_backend']}); CPU {hw['cpu_model']}", end="")
    print(f" x{hw['cpu_count']}; GPU {hw['gpu']}")
    ppo_steps = args.steps if args.steps_per_env is None else f"{args.steps_per_env} per env"
    print(
        f"unroll {args.unroll}, {args.num_minibatches} minibatches, {args.num_epochs} epochs, "
        f"hidden sizes {tuple(args.hidden_sizes)} (policy and value, both sides), "
        f"{args.activation}; PPO steps {ppo_steps}, "
        f"{args.raw_steps} raw steps per env"
    )
    modes = args.reset_modes
    rows = [columns(modes)] + [table_row(r, modes) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    for r in results:
        notes = []
        if r.get("ours_rollout"):
            notes.append(f"our PPO rollout alone {_fmt(r['ours_rollout']['sps'])} sps")
        if notes:
            print(f"{r['env']} x{r['num_envs']}: " + "; ".join(notes))
    print()
    print(markdown_table(results, modes))
    for r in results:
        for k, v in r.items():
            if k.endswith("_error"):
                print(f"ERROR {r['env']} x{r['num_envs']} {k}: {v}")
    return results


if __name__ == "__main__":
    main()
