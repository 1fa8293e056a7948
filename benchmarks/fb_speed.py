"""FB (or BREEZE) gradient steps/s: ours (sampling on device, scanned train steps) against the
official PyTorch code's (its own update call on its own replay buffer), same sizes, same machine.

    # ours only (paper sizes on walker-shaped synthetic data, the CPU preset on reach data):
    python benchmarks/fb_speed.py
    # ours against a figure measured elsewhere (prints the ratio):
    python benchmarks/fb_speed.py --sizes paper --official-steps-per-second 0.25
    # ours against the official code, interleaved (driver and checkouts outside this repository,
    # see benchmarks/README.md):
    python benchmarks/fb_speed.py --official-python /work/official-fb-venv/bin/python \\
        --official-driver /work/official-fb/bench.py \\
        --official controllable_agent=/work/official-fb/controllable_agent \\
        --official metamotivo=/work/official-fb/metamotivo \\
        --out benchmarks/results/fb_speed_cpu/fb_speed.json

Sizes (``--sizes``): ``paper``, :class:`jaxrl.agents.fb.Config` defaults (the spec's: z_dim 50,
batch 1024, F towers 1024 -> 512 and heads 1024, B 256-256, actor head 1024), on a synthetic
dataset of walker shapes (observation 24, action 6; ``--rows`` random rows in 1000-step
episodes) and a spec-only env of those shapes; ``cpu``, :data:`jaxrl.agents.presets.FB_CPU`
(batch 256, 64-wide) on ``reach/fourrooms`` data (``zero_shot.collect`` with uniform random
actions, 200 envs x 200 steps).

Ours: ``fb.train_step`` scanned ``--steps`` times in one compiled call, as ``jaxrl.train``'s
driver runs it (``jaxrl.driver.make_chunk_fn``, state donated), the batch sampled on device
inside the step. Compilation (reported as ``ours_compile_s``) and a first call are excluded.
The official side runs in subprocesses started with ``--official-python`` and the driver
``--official-driver`` (one per ``--official NAME=REPO``), which build the official agent with
the same sizes (:func:`official_args`) and time its ``update`` on its own replay buffer of
random rows of the same shapes; protocol as ``dqc_official.py``'s: ``FBBENCH {json}`` lines, a
window of N updates per stdin line. Windows alternate (ours, each official, ours, ...),
``--repeats`` each, so that load on this shared machine hits all sides alike; medians are
reported, the ratio is ours / official (above 1: ours is faster), and the load average is
recorded with every window. ``flops/step`` is XLA's ``cost_analysis()`` of one compiled
``train_step`` for ours and torch's ``FlopCounterMode`` of one update for the official code
(the driver's), a load-independent check of how much work each does. Timings are never
asserted anywhere.

BREEZE (``--agent breeze``): the same measurement of ``breeze.train_step`` (sizes ``paper``,
``breeze.Config()``, the paper's walker row, on the same walker-shaped data; ``cpu``,
:data:`jaxrl.agents.presets.BREEZE_CPU` on reach data) against the official BREEZE driver
(``--official breeze=REPO``: ``bench.py --impl breeze --stdin`` of a checkout of
Whiterrrrr/BREEZE, which takes the walker row's T, K_train and rho_a and reads every network size
from the checkout's ``config.yaml``; :func:`breeze_driver_args`). ``--fb-batches B ...`` adds rows
of our FB at the same size (``fb.Config()`` at ``paper``) with each batch size, and
``--official fb=REPO`` times the same driver's ``--impl fb`` (the FB agent of BREEZE's codebase, at
its own ``config.yaml`` sizes) on those rows, so that the output's ``breeze_over_fb`` states what
one BREEZE step costs in FB steps, ours and the official code's::

    python benchmarks/fb_speed.py --agent breeze --sizes paper --repeats 3 --fb-batches 1024 512 \
        --official-python /work/official-fb-venv/bin/python \
        --official-driver /work/official-breeze/bench.py \
        --official breeze=/work/official-breeze/BREEZE --official fb=/work/official-breeze/BREEZE \
        --out benchmarks/results/breeze_speed_cpu/breeze_speed.json

TD-JEPA (``--agent td_jepa``): the same measurement of ``td_jepa.train_step`` (sizes ``paper``,
``td_jepa.Config()`` = ``TD_JEPA_PRESETS["paper"]``, the official DMC-proprio launch, on the same
walker-shaped data; ``cpu``, :data:`jaxrl.agents.presets.TD_JEPA_CPU` on reach data) against the
official TD-JEPA driver (``--official td_jepa=REPO``: ``bench.py --impl tdjepa`` of a checkout of
marbaga/td_jepa_public, ``--impl tdjepa_sym`` for a symmetric config, every size given on its
command line: :func:`td_jepa_driver_args`). That driver has no FB, so ``--fb-batches`` adds rows
of our FB only, and ``td_jepa_over_fb`` states what one TD-JEPA step costs in our FB steps::

    python benchmarks/fb_speed.py --agent td_jepa --sizes paper --repeats 3 --fb-batches 1024 \
        --official-warmup 0 --official-python /work/official-fb-venv/bin/python \
        --official-driver /work/official-tdjepa/bench.py \
        --official td_jepa=/work/official-tdjepa/td_jepa_public \
        --out benchmarks/results/td_jepa_speed_cpu/td_jepa_speed.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import statistics
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dqc_speed import load_average, lscpu  # noqa: E402
from pipe_worker import PipeWorker  # noqa: E402
from throughput import hardware, save_json  # noqa: E402

from jaxrl import data as jdata  # noqa: E402
from jaxrl import envs, zero_shot  # noqa: E402
from jaxrl.agents import breeze, fb, td_jepa  # noqa: E402
from jaxrl.agents.presets import BREEZE_CPU, FB_CPU, TD_JEPA_CPU, TD_JEPA_PRESETS  # noqa: E402
from jaxrl.driver import make_chunk_fn  # noqa: E402
from jaxrl.types import Box, EnvSpec  # noqa: E402

PREFIX = "FBBENCH "
AGENTS: dict[str, Any] = {"fb": fb, "breeze": breeze, "td_jepa": td_jepa}
CONFIGS: dict[str, dict[str, Any]] = {
    "fb": {"paper": fb.Config(), "cpu": FB_CPU},
    "breeze": {"paper": breeze.Config(), "cpu": BREEZE_CPU},
    "td_jepa": {"paper": TD_JEPA_PRESETS["paper"], "cpu": TD_JEPA_CPU},
}
LABELS = {"fb": "FB", "breeze": "BREEZE", "td_jepa": "TD-JEPA"}
SIZES = CONFIGS["fb"]
DEFAULT_STEPS = {
    ("fb", "paper"): 5,
    ("fb", "cpu"): 200,
    ("breeze", "paper"): 1,
    ("breeze", "cpu"): 20,
    ("td_jepa", "paper"): 2,
    ("td_jepa", "cpu"): 50,
}
"""Gradient steps per timed window (a few seconds per window on 2 CPU cores; one paper-size
BREEZE step takes tens of seconds there)."""
BREEZE_DRIVER = frozenset({"breeze", "fb"})
"""Official names run by the BREEZE driver (its ``--impl``)."""
TD_JEPA_DRIVER = frozenset({"td_jepa"})
"""Official names run by the TD-JEPA driver (``--impl`` from :func:`td_jepa_impl`); the names
in neither set by the FB driver."""
OFFICIAL_AGENT = {"breeze": "breeze", "td_jepa": "td_jepa"}
"""The agent whose rows an official name times (the others: FB's)."""


@dataclasses.dataclass(frozen=True)
class ShapeEnv:
    """A spec-only env: observation and action shapes for offline training, no dynamics."""

    name: str
    obs_dim: int
    action_dim: int
    max_episode_steps: int = 1000

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            name=self.name,
            obs_shape=(self.obs_dim,),
            action_space=Box.uniform((self.action_dim,)),
            max_episode_steps=self.max_episode_steps,
        )

    def reset(self, key: Any) -> Any:
        raise RuntimeError(f"{self.name!r} is spec-only: it cannot be reset")

    def step(self, state: Any, action: Any) -> Any:
        raise RuntimeError(f"{self.name!r} is spec-only: it cannot be stepped")


def walker_shaped(rows: int, episode_length: int = 1000, seed: int = 0) -> tuple[Any, Any]:
    """A spec-only env with dmc/walker's shapes (observation 24, action 6) and ``rows`` random
    rows in ``episode_length``-step episodes (each row's next observation is the next row's)."""
    env = ShapeEnv("synthetic/walker-shapes", 24, 6, episode_length)
    episodes = max(rows // episode_length, 1)
    rng = np.random.default_rng(seed)
    obs = rng.standard_normal((episodes, episode_length + 1, 24), dtype=np.float32)
    act = rng.uniform(-1, 1, (episodes * episode_length, 6)).astype(np.float32)
    n = episodes * episode_length
    timeouts = np.zeros((episodes, episode_length), bool)
    timeouts[:, -1] = True
    data = jdata.Dataset.create(
        obs[:, :-1].reshape(n, 24),
        act,
        np.zeros(n, np.float32),
        np.zeros(n, bool),
        timeouts.reshape(n),
        obs[:, 1:].reshape(n, 24),
    )
    return env, data


def reach_data(num_envs: int = 200, num_steps: int = 200, seed: int = 0) -> tuple[Any, Any]:
    """``reach/fourrooms`` and reward-free data of uniform random actions there."""
    env = envs.make("reach/fourrooms")
    low, high = env.spec.action_space.low_array, env.spec.action_space.high_array

    def policy(obs: jax.Array, key: jax.Array) -> jax.Array:
        return jax.random.uniform(key, (obs.shape[0], *low.shape), minval=low, maxval=high)

    return env, zero_shot.collect(env, policy, jax.random.key(seed), num_envs, num_steps)


def official_args(config: fb.Config, obs_dim: int, action_dim: int) -> list[str]:
    """The official driver's size arguments that reproduce ``config``'s networks and batch
    (both official codes have one width for the towers' first layer and the F/actor heads, one
    hidden F/actor head layer and two equal B layers); a ValueError when it cannot."""
    widths = {config.preprocess_hidden, *config.forward_hidden_sizes, *config.actor_hidden_sizes}
    if (
        len(widths) != 1
        or len(config.forward_hidden_sizes) != 1
        or len(config.actor_hidden_sizes) != 1
        or len(config.backward_hidden_sizes) != 2
        or len(set(config.backward_hidden_sizes)) != 1
    ):
        raise ValueError(f"the official code cannot express these sizes: {config}")
    return [
        f"--obs-dim={obs_dim}",
        f"--action-dim={action_dim}",
        f"--z-dim={config.z_dim}",
        f"--batch={config.batch_size}",
        f"--hidden={config.preprocess_hidden}",
        f"--feature={config.preprocess_dim}",
        f"--backward-hidden={config.backward_hidden_sizes[0]}",
        f"--lr={config.learning_rate}",
        f"--discount={config.discount}",
    ]


BREEZE_FIXED = (
    "arch",
    "preprocess_hidden",
    "preprocess_dim",
    "forward_hidden_sizes",
    "attention_blocks",
    "attention_ff",
    "backward_dim",
    "backward_layers",
    "value_hidden",
    "actor_hidden",
    "actor_blocks",
    "time_features",
    "time_hidden",
    "eval_samples",
)
"""BREEZE sizes the official driver takes from its checkout's ``config.yaml``: they must be
``breeze.Config()``'s."""


def breeze_driver_args(
    name: str, config: Any, size: str, obs_dim: int, action_dim: int
) -> list[str]:
    """The BREEZE driver's arguments for ``config`` (``name``: its ``--impl``, breeze or fb); a
    ValueError when it cannot build those sizes. Its BREEZE reads every network size from the
    checkout's ``config.yaml`` (the paper's, ``breeze.Config()``'s) and takes the walker row's T,
    K_train and rho_a; its FB is BREEZE's codebase's own baseline at that ``config.yaml``'s sizes
    (not ``fb.Config()``'s), so it is only run at ``paper`` and only the batch is ours."""
    common = [
        f"--obs-dim={obs_dim}",
        f"--action-dim={action_dim}",
        f"--z-dim={config.z_dim}",
        f"--batch={config.batch_size}",
        f"--discount={config.discount}",
        "--stdin",
        "--flops",
    ]
    if name == "fb":
        if size != "paper":
            raise ValueError("the BREEZE codebase's FB has its config.yaml's (paper) sizes only")
        return common
    paper = breeze.Config()
    differ = [f for f in BREEZE_FIXED if getattr(config, f) != getattr(paper, f)]
    if differ:
        raise ValueError(f"the official BREEZE reads these from config.yaml: {differ}")
    return [
        *common,
        f"--diffusion-steps={config.diffusion_steps}",
        f"--ktrain={config.train_samples}",
        f"--rho-a={config.dataset_action_prob}",
    ]


TD_JEPA_FIXED = (
    "actor_input",
    "scale_train_goals",
    "bc_coef",
    "z_mix_prob",
    "policy_noise",
    "noise_clip",
    "cov_rate",
    "ortho_form",
)
"""TD-JEPA settings the official driver leaves at the official agent's defaults (the DMC
launch's, ``td_jepa.Config()``'s): a config must have those."""


def td_jepa_impl(config: Any) -> str:
    """The TD-JEPA driver's ``--impl`` for ``config``: ``tdjepa_sym`` when symmetric."""
    return "tdjepa_sym" if config.symmetric else "tdjepa"


def td_jepa_driver_args(config: Any, obs_dim: int, action_dim: int) -> list[str]:
    """The TD-JEPA driver's arguments that build ``config``'s networks and batch; a ValueError
    naming what it cannot express. The driver takes one hidden width for every encoder layer
    (``--encoder-hidden``; an encoder with no hidden layer is one Linear, the DMC phi), each
    encoder's number of hidden layers, ``phi_dim`` and ``z_dim`` (= psi_dim), the predictors'
    width and ReLU layers, the actor's, the batch, discount, tau, and one learning rate and one
    orthonormality coefficient for all networks; the rest (:data:`TD_JEPA_FIXED`) is the official
    default. Its observation normaliser is the identity (``normalize_obs`` is ours only)."""
    default = td_jepa.Config()
    problems = [
        f"{f}={getattr(config, f)!r} (the driver's: {getattr(default, f)!r})"
        for f in TD_JEPA_FIXED
        if getattr(config, f) != getattr(default, f)
    ]
    rates = {config.learning_rate, config.actor_learning_rate}
    encoders = [tuple(config.phi_hidden_sizes)]
    if not config.symmetric:
        rates.add(config.psi_learning_rate)
        encoders.append(tuple(config.psi_hidden_sizes))
        if config.phi_ortho_coef != config.psi_ortho_coef:
            problems.append(
                f"phi_ortho_coef={config.phi_ortho_coef} != psi_ortho_coef="
                f"{config.psi_ortho_coef} (one --ortho)"
            )
    if len(rates) != 1:
        problems.append(f"learning rates {sorted(rates)} (one --lr for every network)")
    widths = {w for sizes in encoders for w in sizes}
    if len(widths) > 1:
        problems.append(f"encoder widths {sorted(widths)} (one --encoder-hidden)")
    if problems:
        raise ValueError("the official TD-JEPA driver cannot express " + "; ".join(problems))
    args = [
        f"--obs-dim={obs_dim}",
        f"--action-dim={action_dim}",
        f"--z-dim={config.z_dim}",
        f"--batch={config.batch_size}",
        f"--encoder-hidden={widths.pop() if widths else 256}",  # unused without hidden layers
        f"--predictor-hidden={config.predictor_hidden}",
        f"--predictor-layers={config.predictor_layers}",
        f"--actor-hidden={config.actor_hidden}",
        f"--actor-layers={config.actor_layers}",
        f"--discount={config.discount}",
        f"--ortho={config.phi_ortho_coef}",
        f"--tau={config.tau}",
        f"--lr={config.learning_rate}",
        "--stdin",
        "--flops",
    ]
    if config.symmetric:  # one encoder (the driver's psi-like one), phi_dim = z_dim
        return [*args, f"--psi-layers={len(config.phi_hidden_sizes)}"]
    return [
        *args,
        f"--phi-dim={config.phi_dim}",
        f"--phi-layers={len(config.phi_hidden_sizes)}",
        f"--psi-layers={len(config.psi_hidden_sizes)}",
    ]


class Ours:
    """Our FB (or ``agent``), compiled for ``steps`` train steps per call."""

    def __init__(self, config: Any, env: Any, dataset: Any, steps: int, agent: Any = fb):
        self.data = agent.prepare_data(config, env, dataset)
        state = agent.init(config, env, jax.random.key(0), self.data)
        # A fresh copy: the targets start as the same arrays as F and B, and the call donates.
        self.state = jax.tree.map(jnp.copy, state)
        self.config = config
        t0 = time.perf_counter()
        fn = jax.jit(make_chunk_fn(agent, env, steps, offline=True), donate_argnums=1)
        self.compiled = fn.lower(config, self.state, self.data).compile()
        self.compile_s = time.perf_counter() - t0
        if steps == 1:  # a scan of length 1 compiles to the step itself (+ the metric means)
            cost = self.compiled.cost_analysis()
        else:
            one = jax.jit(lambda c, s, d: agent.train_step(c, env, s, d))
            cost = one.lower(config, self.state, self.data).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        self.flops_per_step = float(cost.get("flops", float("nan")))
        self.params = {
            k: int(sum(x.size for x in jax.tree.leaves(v))) for k, v in self.state.params.items()
        }
        self.steps = steps
        self.window()  # first call (allocation) excluded

    def window(self) -> float:
        """Seconds for ``steps`` gradient steps."""
        t0 = time.perf_counter()
        self.state, metrics, _ = self.compiled(self.config, self.state, self.data)
        jax.block_until_ready((self.state, metrics))
        return time.perf_counter() - t0


class Official(PipeWorker):
    """One official implementation's update loop in a driver subprocess."""

    def __init__(
        self,
        args: argparse.Namespace,
        name: str,
        repo: str,
        sizes: list[str],
        rows: int,
        episode_length: int,
        impl: str | None = None,
    ):
        self.name = name
        if name in BREEZE_DRIVER:
            extra = [f"--rows={rows}"]
            extra += [f"--threads={args.official_threads}"] if args.official_threads else []
        else:
            extra = [
                f"--rows={rows}",
                f"--episode-length={episode_length}",
                f"--threads={args.official_threads}",
            ]
        if args.official_warmup is not None:
            extra.append(f"--warmup={args.official_warmup}")
        command = [
            args.official_python,
            "-W",
            "ignore",
            args.official_driver,
            "--impl",
            impl or name,
            "--repo",
            repo,
            *sizes,
            *extra,
        ]
        super().__init__(command, PREFIX)


def parse_officials(specs: list[str]) -> list[tuple[str, str]]:
    out = []
    for spec in specs:
        name, sep, repo = spec.partition("=")
        if not sep:
            raise SystemExit(f"--official wants NAME=REPO, got {spec!r}")
        out.append((name, os.path.abspath(repo)))
    return out


def measure(
    args: argparse.Namespace, size: str, agent: str = "fb", batch: int | None = None
) -> dict[str, Any]:
    config = CONFIGS[agent][size]
    if batch is not None:
        config = dataclasses.replace(config, batch_size=batch)
    label = size if args.agent == "fb" else f"{agent} {size} batch {config.batch_size}"
    steps = args.steps or DEFAULT_STEPS[agent, size]
    if size == "paper":
        env, dataset = walker_shaped(args.rows)
        rows, episode_length = int(dataset.size), 1000
    else:
        env, dataset = reach_data()
        rows, episode_length = int(dataset.size), 200
    obs_dim = int(env.spec.obs_shape[0])
    action_dim = int(env.spec.action_space.shape[0])
    row: dict[str, Any] = {
        "agent": agent,
        "size": size,
        "config": {f.name: getattr(config, f.name) for f in dataclasses.fields(config)},
        "env": env.spec.name,
        "obs_dim": obs_dim,
        "action_dim": action_dim,
        "rows": rows,
        "steps_per_window": steps,
        "load_before": load_average(),
    }
    officials: list[Official] = []
    times: dict[str, list[float]] = {"ours": []}
    loads: list[list[float]] = []
    try:
        for name, repo in parse_officials(args.official):
            if OFFICIAL_AGENT.get(name, "fb") != agent:
                continue  # an official of the other agent's rows
            if name == "metamotivo" and 2 * config.preprocess_dim != config.preprocess_hidden:
                print(f"  {label}: skipping metamotivo (its towers end at hidden / 2)")
                row.setdefault("skipped", []).append(
                    {"official": name, "why": "metamotivo's towers end at hidden_dim // 2"}
                )
                continue
            impl = name
            try:
                if name in BREEZE_DRIVER:
                    sizes = breeze_driver_args(name, config, size, obs_dim, action_dim)
                elif name in TD_JEPA_DRIVER:
                    sizes = td_jepa_driver_args(config, obs_dim, action_dim)
                    impl = td_jepa_impl(config)
                else:
                    sizes = official_args(config, obs_dim, action_dim)
            except ValueError as e:
                if name not in BREEZE_DRIVER | TD_JEPA_DRIVER:
                    raise
                print(f"  {label}: skipping {name} ({e})")
                row.setdefault("skipped", []).append({"official": name, "why": str(e)})
                continue
            officials.append(Official(args, name, repo, sizes, rows, episode_length, impl))
            times[name] = []
        ours = Ours(config, env, dataset, steps, AGENTS[agent])
        row["ours_compile_s"] = ours.compile_s
        row["ours_flops_per_step"] = ours.flops_per_step
        row["ours_params"] = ours.params
        for o in officials:
            row[f"{o.name}_info"] = o.info
            row[f"{o.name}_command"] = o.command
        for _ in range(args.repeats):
            times["ours"].append(ours.window())
            loads.append(load_average())
            for o in officials:
                times[o.name].append(o.window(steps))
                loads.append(load_average())
    finally:
        for o in officials:
            o.close()
    row["load_per_window"] = loads
    row["ours_window_s"] = times["ours"]
    row["ours_steps_per_s"] = steps / statistics.median(times["ours"])
    line = (
        f"  {label}: ours {row['ours_steps_per_s']:,.3f} steps/s (compile {ours.compile_s:.1f} s)"
    )
    for o in officials:
        s = times[o.name]
        row[f"{o.name}_window_s"] = s
        row[f"{o.name}_steps_per_s"] = steps / statistics.median(s)
        row[f"ratio_ours_over_{o.name}"] = row["ours_steps_per_s"] / row[f"{o.name}_steps_per_s"]
        pairs = [b / a for a, b in zip(times["ours"], s, strict=True)]
        row[f"ratio_per_pair_median_{o.name}"] = statistics.median(pairs)
        row[f"ratio_per_pair_range_{o.name}"] = [min(pairs), max(pairs)]
        line += (
            f", {o.name} {row[f'{o.name}_steps_per_s']:,.3f} steps/s, ratio "
            f"{row[f'ratio_ours_over_{o.name}']:.2f}"
        )
    if args.official_steps_per_second:
        row["given_official_steps_per_s"] = args.official_steps_per_second
        row["ratio_ours_over_given"] = row["ours_steps_per_s"] / args.official_steps_per_second
        line += f", given official {args.official_steps_per_second:,.3f}: ratio "
        line += f"{row['ratio_ours_over_given']:.2f}"
    print(line, flush=True)
    row["load_after"] = load_average()
    return row


def agent_over_fb(rows: list[dict[str, Any]], agent: str) -> list[dict[str, Any]]:
    """Per pair of an ``agent`` row and an FB row of the same size, what one ``agent`` step costs
    in FB steps: ours (steps/s and XLA's flops) and, where both were timed, the official code's
    (the ``agent`` official against the official ``fb``, the BREEZE driver's FB: steps/s and
    torch's flops). Entries: ``size``, ``{agent}_batch``, ``fb_batch``, ``ours_time_ratio``,
    ``ours_flops_ratio`` [, ``official_time_ratio``, ``official_flops_ratio``]. It reads only
    the rows, so it recomputes the section of a saved results file from its ``rows``."""
    official = OFFICIAL_AGENT[agent]
    out = []
    for a in (r for r in rows if r["agent"] == agent):
        for f in (r for r in rows if r["agent"] == "fb" and r["size"] == a["size"]):
            entry: dict[str, Any] = {
                "size": a["size"],
                f"{agent}_batch": a["config"]["batch_size"],
                "fb_batch": f["config"]["batch_size"],
                "ours_time_ratio": f["ours_steps_per_s"] / a["ours_steps_per_s"],
                "ours_flops_ratio": a["ours_flops_per_step"] / f["ours_flops_per_step"],
            }
            if f"{official}_steps_per_s" in a and "fb_steps_per_s" in f:
                entry["official_time_ratio"] = f["fb_steps_per_s"] / a[f"{official}_steps_per_s"]
                af = a[f"{official}_info"].get("flops_per_step")
                ff = f["fb_info"].get("flops_per_step")
                if af and ff:
                    entry["official_flops_ratio"] = af / ff
            print(
                f"  {LABELS[agent]} / FB per step, "
                + ", ".join(f"{k} {v:.3g}" for k, v in entry.items() if "ratio" in k)
                + f" (FB batch {entry['fb_batch']})"
            )
            out.append(entry)
    return out


def breeze_over_fb(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`agent_over_fb` for BREEZE (the ``breeze_over_fb`` section)."""
    return agent_over_fb(rows, "breeze")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agent", choices=AGENTS, default="fb", help="the agent timed")
    parser.add_argument("--sizes", nargs="*", default=["paper", "cpu"], choices=SIZES)
    parser.add_argument(
        "--fb-batches",
        type=int,
        nargs="*",
        default=[],
        help="--agent breeze or td_jepa: also time our FB at each size with these batch sizes",
    )
    parser.add_argument("--steps", type=int, default=None, help="gradient steps per window")
    parser.add_argument("--repeats", type=int, default=5, help="windows per side")
    parser.add_argument("--rows", type=int, default=100_000, help="paper size: synthetic rows")
    parser.add_argument(
        "--official",
        action="append",
        default=[],
        metavar="NAME=REPO",
        help="an official implementation and its checkout: controllable_agent or metamotivo "
        "(FB driver), breeze or fb (BREEZE driver), td_jepa (TD-JEPA driver)",
    )
    parser.add_argument("--official-python", default=sys.executable)
    parser.add_argument("--official-driver", default=None, help="the driver script")
    parser.add_argument(
        "--official-threads", type=int, default=0, help="torch threads (0: default)"
    )
    parser.add_argument(
        "--official-warmup", type=int, default=None, help="driver updates before timing"
    )
    parser.add_argument(
        "--official-steps-per-second",
        type=float,
        default=None,
        help="an official figure measured elsewhere: print ours / it",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.official and not args.official_driver:
        parser.error("--official needs --official-driver")
    names = {name for name, _ in parse_officials(args.official)}
    fits = names <= TD_JEPA_DRIVER if args.agent == "td_jepa" else not names & TD_JEPA_DRIVER
    if not fits:
        parser.error(
            "the TD-JEPA driver times --agent td_jepa only, and has no FB: with --agent "
            "td_jepa, --official td_jepa=REPO only"
        )

    out: dict[str, Any] = {"argv": sys.argv, "args": vars(args)}
    out["hardware"] = hardware()
    out["lscpu"] = lscpu()
    out["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    out["command_line"] = shlex.join([sys.executable, *sys.argv])
    print(f"hardware: {out['hardware']}")
    rows = []
    for size in args.sizes:
        rows.append(measure(args, size, args.agent))
        if args.agent != "fb":
            rows += [measure(args, size, "fb", batch) for batch in args.fb_batches]
    out["rows"] = rows
    if args.agent != "fb":
        out[f"{args.agent}_over_fb"] = agent_over_fb(rows, args.agent)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        save_json(out, args.out)
    return out


if __name__ == "__main__":
    main()
