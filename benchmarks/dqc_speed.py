"""DQC gradient steps/s: ours (sampling on device, scanned train steps) against the official
code's (host-side numpy sampling, one jitted update per step), on the same data and machine.

    # the OGBench-layout dataset both sides read (once):
    python experiments/make_dataset.py pointmaze --maze medium --kind navigate --episodes 1000 \\
        --out /work/ext/data/pointmaze-medium-navigate-jaxrl.npz
    python benchmarks/dqc_speed.py --make-data /work/ext/data/pointmaze-medium-navigate-jaxrl.npz \\
        --data /work/ext/data/pointmaze-medium-navigate-v0.npz
    # ours only:
    python benchmarks/dqc_speed.py --data /work/ext/data/pointmaze-medium-navigate-v0.npz
    # ours against the official code, interleaved:
    python benchmarks/dqc_speed.py --data /work/ext/data/pointmaze-medium-navigate-v0.npz \\
        --official-repo /work/ext/dqc --official-python /work/ext/venv-dqc/bin/python \\
        --out benchmarks/results/dqc_speed_cpu.json

Sizes (``--sizes``): ``paper``, :class:`jaxrl.agents.dqc.Config` defaults (the official ones:
4 x 1024 GELU + LayerNorm, batch 4096, h = 25, h_a = 5, 2 critics); ``small``, the same with
2 x 256 networks and batch 256 (where host sampling is a larger share of a step); ``cpu``,
:data:`jaxrl.agents.presets.DQC_CPU`'s networks and batch (2 x 64, batch 128) at h = 8, h_a = 2
(the preset's horizons when the results were measured; the preset now uses 16 / 4). The
official side gets the same sizes, horizons and hyperparameters through its ``get_config()`` keys.

Ours: ``dqc.train_step`` scanned ``--steps`` times in one compiled call, as ``jaxrl.train``'s
driver runs it (``jaxrl.driver.make_chunk_fn``, state donated), the batch sampled on device
inside the step. Compilation and a first call are excluded. The official side runs in a
subprocess (``dqc_official.py``, with the official checkout's Python): its ``main.py`` setup and
loop body ``dataset.sample(batch_size)`` + ``agent.update(batch)``, compilation and warm-up
excluded. The two are timed in alternating windows of ``--steps`` gradient steps (ours, official,
ours, official, ...), ``--repeats`` each, so that load on this shared machine hits both alike;
medians are reported and the ratio is ours / official (above 1: ours is faster). Both processes
run under the same ``XLA_FLAGS`` (jaxrl's, see ``jaxrl/_xla_cpu.py``, unless
``JAXRL_KEEP_XLA_FLAGS=1``), recorded in the results. Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pipe_worker import PipeWorker  # noqa: E402
from throughput import hardware, save_json  # noqa: E402

from jaxrl import data as jdata  # noqa: E402
from jaxrl import envs  # noqa: E402
from jaxrl.agents import dqc  # noqa: E402
from jaxrl.agents.presets import DQC_CPU  # noqa: E402
from jaxrl.driver import make_chunk_fn  # noqa: E402
from jaxrl.envs import pointmaze  # noqa: E402

PREFIX = "DQCBENCH "
SIZES: dict[str, dqc.Config] = {
    "paper": dqc.Config(),
    "small": dataclasses.replace(
        dqc.Config(), hidden_sizes=(256, 256), actor_hidden_sizes=(256, 256), batch_size=256
    ),
    "cpu": dataclasses.replace(DQC_CPU, horizon=8, action_horizon=2),
}
DEFAULT_STEPS = {"paper": 4, "small": 50, "cpu": 500}


def make_ogbench_data(src: str, dst: str, val_episodes: int = 10) -> dict[str, Any]:
    """Write ``src`` (a point-maze dataset, positions in cells) in OGBench's raw layout at
    ``dst`` with positions in OGBench's MuJoCo coordinates (``pointmaze.to_ogbench_xy``), and
    its first ``val_episodes`` episodes at ``dst``'s ``-val.npz`` (the official loader reads
    both). Only OGBench's keys are written: observations, actions, terminals and ``qpos`` (the
    position, which the official ``oraclerep`` envs use as goal representation)."""
    ds = jdata.load(src)
    raw = ds.to_numpy()
    to_og = lambda x: np.asarray(pointmaze.to_ogbench_xy(x), np.float32)  # noqa: E731
    qpos = raw.get("physics", {}).get("qpos", raw["observations"])
    og = jdata.Dataset.create(
        to_og(raw["observations"]),
        raw["actions"],
        np.zeros_like(raw["rewards"]),
        raw["terminals"],
        raw["timeouts"],
        to_og(raw["next_observations"]),
        physics={"qpos": to_og(qpos)},
    )
    jdata.save_ogbench_npz(og, dst)
    rows = np.arange(int(og.episode_lengths[:val_episodes].sum()))
    jdata.save_ogbench_npz(og.select_rows(rows), dst.replace(".npz", "-val.npz"))
    return {"source": src, "rows": int(og.size), "episodes": int(og.num_episodes)}


def official_config(config: dqc.Config) -> dict[str, Any]:
    """The official ``get_config()`` entries that reproduce ``config``."""
    return {
        "lr": config.learning_rate,
        "discount": config.discount,
        "tau": config.tau,
        "kappa_b": config.kappa_b,
        "kappa_d": config.kappa_d,
        "value_p_curgoal": config.p_current,
        "value_p_trajgoal": config.p_future,
        "value_p_randomgoal": config.p_random,
        "value_geom_sample": False,
        "use_chunk_critic": config.use_chunk_critic,
        "backup_horizon": config.horizon,
        "policy_chunk_size": config.action_horizon,
        "distill_method": config.distill_method,
        "implicit_backup_type": config.value_method,
        "q_agg": config.q_agg,
        "num_qs": config.num_qs,
        "best_of_n": config.best_of_n,
        "flow_steps": config.flow_steps,
        "batch_size": config.batch_size,
        "value_hidden_dims": list(config.hidden_sizes),
        "actor_hidden_dims": list(config.actor_hidden_sizes),
        "layer_norm": config.layer_norm,
        "actor_layer_norm": config.actor_layer_norm,
    }


class Ours:
    """Our DQC, compiled for ``steps`` train steps per call."""

    def __init__(self, config: dqc.Config, env_name: str, data_path: str, steps: int):
        env = envs.make(env_name)
        t0 = time.perf_counter()
        self.data = dqc.prepare_data(config, env, jdata.load(data_path))
        state = dqc.init(config, env, jax.random.key(0), self.data)
        # A fresh copy: the Q_a target starts as the same arrays as Q_a, and the call donates.
        self.state = jax.tree.map(jnp.copy, state)
        self.config = config
        fn = jax.jit(make_chunk_fn(dqc, env, steps, offline=True), donate_argnums=1)
        self.compiled = fn.lower(config, self.state, self.data).compile()
        self.setup_s = time.perf_counter() - t0  # data load, init, compile
        # XLA's operation count of one train step (the scanned chunk counts its body once).
        one = jax.jit(lambda c, s, d: dqc.train_step(c, env, s, d))
        cost = one.lower(config, self.state, self.data).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        self.flops_per_step = float(cost.get("flops", float("nan")))
        self.steps = steps
        self.window()  # first call (allocation) excluded

    def window(self) -> float:
        """Seconds for ``steps`` gradient steps."""
        t0 = time.perf_counter()
        self.state, metrics, _ = self.compiled(self.config, self.state, self.data)
        jax.block_until_ready((self.state, metrics))
        return time.perf_counter() - t0


class Official(PipeWorker):
    """The official code's loop in a ``dqc_official.py`` subprocess."""

    def __init__(self, args: argparse.Namespace, config: dqc.Config):
        worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dqc_official.py")
        command = [
            args.official_python,
            worker,
            "--repo",
            args.official_repo,
            "--data",
            os.path.abspath(args.data),
            "--env-name",
            args.official_env_name,
            "--config",
            json.dumps(official_config(config)),
        ]
        super().__init__(command, PREFIX)


def lscpu() -> dict[str, str]:
    """``lscpu``'s model, core and family lines (empty if ``lscpu`` is missing)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    keep = ("Model name", "CPU(s)", "Core(s) per socket", "Thread(s) per core", "CPU family")
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() in keep}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(args: argparse.Namespace, size: str) -> dict[str, Any]:
    config = SIZES[size]
    steps = args.steps or DEFAULT_STEPS[size]
    row: dict[str, Any] = {
        "size": size,
        "hidden_sizes": list(config.hidden_sizes),
        "batch_size": config.batch_size,
        "horizon": config.horizon,
        "action_horizon": config.action_horizon,
        "steps_per_window": steps,
        "load_before": load_average(),
    }
    official = Official(args, config) if args.official_repo else None
    ours_s, official_s = [], []
    try:
        ours = Ours(config, args.env, args.data, steps)
        row["ours_setup_s"] = ours.setup_s
        row["ours_flops_per_step"] = ours.flops_per_step
        if official is not None:
            row["official_setup_s"] = official.info["setup_s"]
            row["official_first_update_s"] = official.info["first_update_s"]
            row["official_sample_ms"] = 1e3 * official.info["sample_s"]
            row["official_flops_per_step"] = official.info["flops_per_step"]
            row["official_worker"] = {
                k: official.info[k]
                for k in (
                    "versions",
                    "commit",
                    "python",
                    "jax_devices",
                    "xla_flags",
                    "dataset_rows",
                )
            }
            row["official_config"] = official.info["config"]
            row["official_command"] = official.command
        for _ in range(args.repeats):
            ours_s.append(ours.window())
            if official is not None:
                official_s.append(official.window(steps))
    finally:
        if official is not None:
            official.close()
    row["ours_window_s"] = ours_s
    row["ours_steps_per_s"] = steps / statistics.median(ours_s)
    print(f"  {size}: ours {row['ours_steps_per_s']:,.2f} steps/s", end="", flush=True)
    if official_s:
        row["official_window_s"] = official_s
        row["official_steps_per_s"] = steps / statistics.median(official_s)
        row["ratio_ours_over_official"] = row["ours_steps_per_s"] / row["official_steps_per_s"]
        row["ratio_per_pair_median"] = statistics.median(
            b / a for a, b in zip(ours_s, official_s, strict=True)
        )
        print(
            f", official {row['official_steps_per_s']:,.2f} steps/s, ratio "
            f"{row['ratio_ours_over_official']:.2f}",
            end="",
        )
    print()
    row["load_after"] = load_average()
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="OGBench-layout .npz both sides read")
    parser.add_argument("--make-data", default=None, help="write --data from this jaxrl dataset")
    parser.add_argument("--env", default="pointmaze-medium-goal", help="our env (spec only)")
    parser.add_argument("--sizes", nargs="*", default=["paper", "small", "cpu"], choices=SIZES)
    parser.add_argument("--steps", type=int, default=None, help="gradient steps per window")
    parser.add_argument("--repeats", type=int, default=5, help="windows per side")
    parser.add_argument("--official-repo", default=None, help="official checkout (optional)")
    parser.add_argument("--official-python", default=sys.executable)
    parser.add_argument("--official-env-name", default="pointmaze-medium-navigate-oraclerep-v0")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    out: dict[str, Any] = {"argv": sys.argv, "args": vars(args)}
    if args.make_data:
        out["data"] = make_ogbench_data(args.make_data, args.data)
        print(f"wrote {args.data}: {out['data']}")
    out["hardware"] = hardware()
    out["lscpu"] = lscpu()
    out["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    print(f"hardware: {out['hardware']}")
    out["rows"] = [measure(args, size) for size in args.sizes]
    if args.out:
        save_json(out, args.out)
    return out


if __name__ == "__main__":
    main()
