"""Generate offline datasets with our own JAX code (nothing is downloaded).

    # OGBench-style point-maze navigation data: a BFS-oracle driven to random goals, noise 0.5
    python experiments/make_dataset.py pointmaze --maze medium --kind navigate --episodes 200
    # short "stitch" episodes towards cells 4 BFS steps away
    python experiments/make_dataset.py pointmaze --maze large --kind stitch --episodes 1000
    # D4RL-style random / medium / medium-replay / expert / medium-expert sets from our own PPO
    python experiments/make_dataset.py locomotion --env brax/inverted_pendulum --train-steps 300000
    # grid-navigation demonstrations: the shortest-path expert, random among tied routes
    python experiments/make_dataset.py minigrid --env minigrid/FourRooms --episodes 600
    # ExORL-style reward-free data with every task's reward (zero-shot RL: FB, BREEZE, TD-JEPA)
    python experiments/make_dataset.py exorl --domain reach/fourrooms --agent rnd --steps 100000
    # an OGBench file made by OGBench's own MuJoCo env and oracle (pip install 'jaxrl[ogbench]')
    python experiments/make_dataset.py ogbench --dataset pointmaze-medium-navigate-v0 --episodes 100

Every dataset is written as our ``.npz`` (``jaxrl.data.load_npz``) with a JSON card inside and
next to it (``<file>.json``): how it was generated, env, policy, noise, size and returns (over
complete episodes; the fragments cut off by the end of collection are counted separately).
Collection is jitted and vmapped over environments.

``locomotion`` trains its PPO expert in a run folder, ``runs/make_dataset-<env>-<time>/`` (see
jaxrl/runs.py: checkpoints, metrics, curves, results.json); every checkpoint is a snapshot the
medium policy may come from. A stopped run continues with
``python experiments/make_dataset.py locomotion --resume <run folder>``: the expert's training
resumes from its checkpoints, and the collection, which takes no training state of its own and
is deterministic given the snapshots, runs again from the start (it is short next to the
training). The settings cannot change on resume (``--train-steps`` and ``--snapshots`` fix the
snapshot schedule). ``pointmaze`` trains nothing and writes no run folder.

``ogbench`` is the exception to "our own JAX code": it steps OGBench's MuJoCo point maze on the
host with OGBench's oracle, as OGBench's ``data_gen_scripts/generate_locomaze.py`` does
(:func:`jaxrl.ogbench.generate_dataset`), and writes OGBench's raw layout (``ogbench.utils.
load_dataset`` and ``jaxrl.data.load`` read it; a ``-val.npz`` of a tenth as many episodes, as
OGBench) with our card. Its card's env, ``ogbench/pointmaze-<maze>-v0``, is the spec-only env that
``experiments/dqc.py`` trains with before evaluating in OGBench's env.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from typing import Any, Literal, get_args

import jax
import numpy as np
import tyro
from tqdm.auto import tqdm

import jaxrl
from jaxrl import data, envs, ogbench, rollout, runs
from jaxrl.agents import ppo
from jaxrl.agents.presets import PPO_PRESETS
from jaxrl.checkpoint import Checkpointer
from jaxrl.envs import pointmaze


def _return_stats(returns: np.ndarray) -> dict[str, float] | None:
    """Mean, std, min and max of ``returns`` (``None`` when there are none)."""
    if returns.size == 0:
        return None
    return {
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "min": float(returns.min()),
        "max": float(returns.max()),
    }


def _card(kind: str, ds: data.Dataset, time_limit: int, **fields: Any) -> dict[str, Any]:
    """The dataset card. Returns are over complete episodes only (ended by a termination or by
    the time limit, see :meth:`jaxrl.data.Dataset.episode_complete`); the fragments cut off by
    the end of collection (the last episode of each env stream) are counted separately."""
    complete = ds.episode_complete(time_limit)
    lengths = ds.episode_lengths
    return {
        "generator": "experiments/make_dataset.py",
        "command": " ".join(sys.argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "jaxrl_version": jaxrl.__version__,
        "kind": kind,
        "size": int(ds.size),
        "episodes": int(ds.num_episodes),
        "time_limit": int(time_limit),
        "complete_episodes": int(complete.sum()),
        # over complete episodes only; null when there is none
        "episode_return": _return_stats(ds.episode_returns[complete]),
        # episodes cut off by the end of collection, not in episode_return
        "fragments": {"count": int((~complete).sum()), "steps": int(lengths[~complete].sum())},
        **fields,
    }


def write(ds: data.Dataset, path: str, card: dict[str, Any]) -> str:
    """Save ``ds`` with its card (inside the file and as ``<path>.json``)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data.save_npz(ds, path, card=card)
    with open(path + ".json", "w") as f:
        json.dump(card, f, indent=2)
    r = card["episode_return"]
    ret = "no complete episode" if r is None else f"return {r['mean']:.1f} +- {r['std']:.1f}"
    print(
        f"wrote {path}: {ds.size:,} steps, {card['complete_episodes']} complete episodes "
        f"({ret}), {card['fragments']['count']} fragments"
    )
    return path


# --- point maze --------------------------------------------------------------------------------


@dataclasses.dataclass
class PointMazeArgs:
    """OGBench-style point-maze datasets from the BFS waypoint oracle plus Gaussian noise."""

    maze: str = "medium"
    """Layout: medium, large or giant."""
    kind: str = "navigate"
    """navigate: 1000-step episodes, a new random goal (a maze vertex) whenever one is reached;
    stitch: short episodes towards cells 4 BFS moves away."""
    episodes: int = 200
    """Number of episodes."""
    episode_length: int | None = None
    """Steps per episode (default: 1000 for navigate, 200 for stitch, as OGBench)."""
    noise: float = 0.5
    """Standard deviation of the Gaussian action noise (actions clipped to [-1, 1])."""
    batch: int = 64
    """Episodes collected in parallel."""
    seed: int = 0
    """Random seed."""
    out: str | None = None
    """Output .npz path (default: datasets/pointmaze-<maze>-<kind>.npz)."""


def make_pointmaze(args: PointMazeArgs) -> str:
    if args.kind not in ("navigate", "stitch"):
        raise ValueError(f"--kind must be navigate or stitch, got {args.kind!r}")
    length = args.episode_length or pointmaze.DEFAULT_EPISODE_LENGTH[args.kind]
    with tqdm(total=args.episodes, desc=f"pointmaze-{args.maze}-{args.kind}", unit="ep") as bar:
        ds = pointmaze.generate_dataset(
            args.maze,
            jax.random.key(args.seed),
            args.episodes,
            args.kind,
            length,
            args.noise,
            args.batch,
            progress=bar.update,
        )
    path = args.out or os.path.join("datasets", f"pointmaze-{args.maze}-{args.kind}.npz")
    card = _card(
        args.kind,
        ds,
        length,
        env=f"pointmaze-{args.maze}",
        policy="BFS waypoint oracle (jaxrl.envs.pointmaze.PointMaze.oracle_action)",
        noise=args.noise,
        episode_length=length,
        goals="navigate: random maze vertices, resampled on success"
        if args.kind == "navigate"
        else "stitch: cells 4 BFS moves away, resampled on success",
        rewards="1 on the step that reaches the collection goal (goals field), else 0",
        seed=args.seed,
    )
    return write(ds, path, card)


# --- grid navigation ---------------------------------------------------------------------------


@dataclasses.dataclass
class MinigridArgs:
    """Expert demonstrations on the grid tasks (polychromic PPO's pretraining data)."""

    env: Literal["minigrid/FourRooms", "minigrid/MultiRoute"] = "minigrid/FourRooms"
    """The grid task (Four Rooms with its 50 fixed configurations)."""
    episodes: int = 600
    """Number of episodes (the paper's Four Rooms set has about 590)."""
    epsilon: float = 0.0
    """Probability of a uniformly random action instead of the expert's."""
    seed: int = 0
    """Random seed."""
    out: str | None = None
    """Output .npz path (default: datasets/<task>-expert-<episodes>.npz)."""


def make_minigrid(args: MinigridArgs) -> str:
    from jaxrl.envs import minigrid

    if args.episodes < 1 or not 0.0 <= args.epsilon <= 1.0:
        raise ValueError(
            f"--episodes must be >= 1 and --epsilon in [0, 1], got {args.episodes}, {args.epsilon}"
        )
    env = envs.make(args.env)
    ds = minigrid.expert_dataset(env, jax.random.PRNGKey(args.seed), args.episodes, args.epsilon)
    stem = args.env.replace("/", "-")
    path = args.out or os.path.join("datasets", f"{stem}-expert-{args.episodes}.npz")
    card = _card(
        "expert",
        ds,
        env.spec.max_episode_steps,
        env=args.env,
        policy="BFS shortest-path expert, uniformly random among tied actions "
        "(jaxrl.envs.minigrid.expert_action)",
        epsilon=args.epsilon,
        rewards="1 - 0.5 t / H on reaching the goal at step t (H = the time limit), else 0",
        seed=args.seed,
    )
    return write(ds, path, card)


# --- ExORL-style reward-free data --------------------------------------------------------------

ZERO_SHOT_DOMAINS = Literal[
    "reach/fourrooms", "reach/fourrooms-anywhere", "dmc/walker", "dmc/cheetah"
]
"""The multi-task domains (:class:`jaxrl.zero_shot.TaskDomain`) data can be collected in."""


@dataclasses.dataclass
class ExorlArgs:
    """Reward-free exploration data in a multi-task domain, ExORL's recipe on our envs: every
    row stores the physics after its step and the reward of every task of the domain."""

    domain: ZERO_SHOT_DOMAINS = "reach/fourrooms"
    """The multi-task domain."""
    agent: Literal["rnd", "random"] = "rnd"
    """The explorer: RND (PPO on the RND bonus, agents/rnd.py) or uniformly random actions."""
    steps: int = 100_000
    """Transitions in the dataset."""
    explore_steps: int = 40_960
    """rnd: environment steps of exploration training; the data come from the policy at
    ``snapshots`` evenly spaced points of it (as ExORL's data span its explorer's training)."""
    explore_envs: int = 16
    """rnd: parallel environments of the exploration training (PPO's num_envs) in a domain
    without an entry in ``jaxrl.agents.presets.RND_PRESETS`` (which sets everything)."""
    snapshots: int = 4
    """rnd: number of policy snapshots the data are split over (>= 1)."""
    num_envs: int | None = None
    """Parallel environments while collecting; default: as many as make each share of the data
    whole episodes (steps / snapshots / episode length, at least 1). Every collection starts from
    fresh resets and runs whole episodes, so the dataset may hold up to one episode per env more
    than ``steps``."""
    max_episode_steps: int | None = None
    """Episode length (default: the domain's, 200 for reach, 1000 for dmc)."""
    seed: int = 0
    """Random seed."""
    out: str | None = None
    """Output .npz path (default: datasets/<domain>-<agent>-<steps>.npz)."""


def exploration_policies(args: ExorlArgs, env: Any) -> Any:
    """Yield ``(policy, params, label)`` for each share of the data (``policy(obs, key)``, or
    ``policy(obs, key, params)`` with params, as :func:`jaxrl.zero_shot.collect` takes them): one
    random policy, or the RND policy with its state after each of ``snapshots`` equal parts of
    its training (one policy function, so the collection compiles once)."""
    box = env.spec.action_space
    if args.agent == "random":

        def uniform(obs: jax.Array, k: jax.Array) -> jax.Array:
            return jax.vmap(box.sample)(jax.random.split(k, obs.shape[0]))

        yield uniform, None, "random"
        return
    from jaxrl.agents import rnd

    config, per_snapshot = rnd_schedule(args)
    state = rnd.init(config, env, jax.random.PRNGKey(args.seed))
    train = jax.jit(
        lambda s: jax.lax.scan(lambda c, _: rnd.train_step(config, env, c), s, None, per_snapshot)
    )

    def policy(obs: jax.Array, k: jax.Array, s: Any) -> jax.Array:
        return rnd.act(config, env, s, obs, k, deterministic=False)

    for i in tqdm(range(args.snapshots), desc="RND exploration"):
        state, metrics = train(state)
        bonus = float(np.mean(np.asarray(metrics["rnd_prediction_error"])))
        steps = (i + 1) * per_snapshot * rnd.steps_per_iteration(config)
        yield policy, state, f"rnd after {steps} env steps (prediction error {bonus:.3f})"


def rnd_schedule(args: ExorlArgs) -> tuple[Any, int]:
    """The RND config (the domain's preset, else ``rnd.Config(num_envs=explore_envs)``) and the
    iterations it trains between snapshots: ``explore_steps`` split over ``snapshots``, at least
    one iteration each (so the steps trained may exceed ``explore_steps``; the card records the
    steps trained)."""
    from jaxrl.agents import rnd
    from jaxrl.agents.presets import RND_PRESETS

    config = RND_PRESETS.get(args.domain, rnd.Config(num_envs=args.explore_envs))
    per_snapshot = max(1, args.explore_steps // (args.snapshots * rnd.steps_per_iteration(config)))
    return config, per_snapshot


def make_exorl(args: ExorlArgs) -> str:
    from jaxrl import zero_shot

    if args.max_episode_steps is not None and args.max_episode_steps < 1:
        raise ValueError(f"--max-episode-steps must be >= 1, got {args.max_episode_steps}")
    counts = [args.steps, args.snapshots, args.explore_envs]
    counts += [] if args.num_envs is None else [args.num_envs]
    if min(counts) < 1 or args.explore_steps < 0:
        raise ValueError(
            "--steps, --num-envs, --explore-envs and --snapshots must be >= 1 and "
            f"--explore-steps >= 0, got {args.steps}, {args.num_envs}, {args.explore_envs}, "
            f"{args.snapshots}, {args.explore_steps}"
        )
    kwargs = {} if args.max_episode_steps is None else {"max_episode_steps": args.max_episode_steps}
    env = envs.make(args.domain, **kwargs)
    shares = 1 if args.agent == "random" else args.snapshots
    length = env.spec.max_episode_steps
    num_envs = args.num_envs or max(1, args.steps // (shares * length))
    per_env = length * max(1, math.ceil(args.steps / (num_envs * shares * length)))
    key = jax.random.PRNGKey(args.seed + 1)
    parts, labels = [], []
    for policy, params, label in exploration_policies(args, env):
        key, k = jax.random.split(key)
        parts.append(zero_shot.collect(env, policy, k, num_envs, per_env, params))
        labels.append(label)
    ds = data.concatenate(parts) if len(parts) > 1 else parts[0]
    stem = args.domain.replace("/", "-")
    path = args.out or os.path.join("datasets", f"{stem}-{args.agent}-{ds.size}.npz")
    card = _card(
        "exorl",
        ds,
        env.spec.max_episode_steps,
        env=args.domain,
        agent=args.agent,
        policies=labels,
        explore_steps=explored_steps(args),
        tasks=list(env.task_names),
        task_returns={
            t: float(np.asarray(ds.task_rewards[t]).sum() / max(ds.num_episodes, 1))
            for t in env.task_names
        },
        coverage=zero_shot_coverage(env, ds),
        rewards="0 (reward-free); task_rewards/<task> hold each task's reward of the row, "
        "physics/next_<name> the state after the row's action (jaxrl.zero_shot.relabel)",
        seed=args.seed,
    )
    return write(ds, path, card)


def explored_steps(args: ExorlArgs) -> int:
    """The env steps RND trained for (0 for the random agent)."""
    if args.agent == "random":
        return 0
    from jaxrl.agents import rnd

    config, per_snapshot = rnd_schedule(args)
    return per_snapshot * args.snapshots * rnd.steps_per_iteration(config)


def zero_shot_coverage(env: Any, ds: data.Dataset) -> dict[str, Any]:
    """State coverage for the card: the visited share of the reach maze's free area, or for
    MuJoCo domains the spread (std) of each ``qpos`` coordinate after the step."""
    from jaxrl.envs import reach

    if isinstance(env, reach.ReachEnv):
        return {"visited_area": reach.coverage(env, np.asarray(ds.next_observations))}
    qpos = np.asarray(ds.physics["next_qpos"])
    return {"qpos_std": [round(float(x), 4) for x in qpos.std(axis=0)]}


# --- OGBench's own env -------------------------------------------------------------------------


@dataclasses.dataclass
class OGBenchArgs:
    """OGBench point-maze datasets made by OGBench's own env and oracle, in OGBench's layout."""

    dataset: str = "pointmaze-medium-navigate-v0"
    """OGBench dataset name: pointmaze-<medium|large|giant>-<navigate|stitch>-v0."""
    episodes: int | None = None
    """Training episodes (default: OGBench's, 1000 navigate (giant 500), 5000 stitch)."""
    episode_steps: int | None = None
    """Transitions per episode (default: OGBench's, 1000 navigate (giant 2000), 200 stitch)."""
    val_episodes: int | None = None
    """Episodes of the <out>-val.npz file (default: a tenth of --episodes, as OGBench; 0: none)."""
    noise: float = 0.5
    """Standard deviation of the Gaussian action noise (OGBench: 0.5)."""
    seed: int = 0
    """Random seed."""
    out: str | None = None
    """Output .npz path (default: datasets/<dataset>.npz)."""


def make_ogbench(args: OGBenchArgs) -> str:
    path = args.out or os.path.join("datasets", f"{args.dataset}.npz")
    try:
        card = ogbench.generate_dataset(
            args.dataset,
            path,
            episodes=args.episodes,
            episode_steps=args.episode_steps,
            val_episodes=args.val_episodes,
            noise=args.noise,
            seed=args.seed,
            progress=True,
        )
    except (ValueError, ImportError) as e:  # a refused argument or no ogbench: say so, no trace
        raise runs.RunError(str(e)) from e
    val = f" and {card['val_episodes']} in {card['val_file']}" if card["val_file"] else ""
    print(
        f"wrote {path}: {card['size']:,} transitions in {card['episodes']} episodes{val}; "
        f"goals reached: {card['goals_reached']}"
    )
    return path


# --- locomotion (D4RL-style) -------------------------------------------------------------------

Kind = Literal["random", "medium", "medium-replay", "expert", "medium-expert"]
KINDS: tuple[str, ...] = get_args(Kind)


@dataclasses.dataclass
class LocomotionArgs:
    """D4RL-style datasets from our own PPO policies on any jaxrl env."""

    env: str = "brax/inverted_pendulum"
    """Environment name."""
    kinds: tuple[Kind, ...] = KINDS
    """Which datasets to write."""
    train_steps: int = 300_000
    """PPO training budget for the expert (its final policy)."""
    snapshots: int = 15
    """Policy snapshots kept during training (candidates for the medium policy)."""
    steps: int = 100_000
    """Env steps per dataset (medium-expert has twice as many; medium-replay has what the
    training run collected up to the medium snapshot)."""
    num_envs: int = 16
    """Parallel environments during collection."""
    seed: int = 0
    """Random seed."""
    out_dir: str = "datasets"
    """Folder for the .npz files (<env>-<kind>.npz)."""
    run_dir: str = "runs"
    """Parent folder of the expert's run folder."""
    resume: str | None = None
    """Continue the expert's training in this run folder, then collect (same settings only)."""
    progress: bool = True
    """Show progress bars."""
    config: ppo.Config = dataclasses.field(default_factory=ppo.Config)
    """The expert's PPO hyperparameters (default: the env's preset if there is one)."""


def _collect(env, act_fn, key: jax.Array, num_envs: int, steps: int) -> data.Dataset:
    vec = rollout.VecEnv(env, num_envs)
    num_steps = max(1, steps // num_envs)

    @jax.jit
    def run(k):
        k_reset, k_roll = jax.random.split(k)

        def policy(obs, kk):
            a = act_fn(obs, kk)
            return a, a, {}

        return rollout.collect(vec, vec.reset(k_reset), policy, k_roll, num_steps)[1]

    return data.from_transitions(jax.device_get(run(key)))


def expert(args: LocomotionArgs) -> list[runs.Member]:
    """The PPO expert's training job: a checkpoint (a snapshot) and an evaluation every chunk."""
    if args.snapshots < 1:
        raise ValueError(f"snapshots must be >= 1, got {args.snapshots}")
    args.config.validate()  # before the snapshot schedule divides by its batch size
    per_iter = ppo.steps_per_iteration(args.config)
    chunk = max(per_iter, args.train_steps // args.snapshots)
    options = {
        "seeds": None,
        "chunk_steps": chunk,
        "eval_every": chunk,
        "keep_checkpoints": math.ceil(args.train_steps / per_iter) + 1,  # every chunk's
    }
    env = envs.make(args.env)
    return [
        runs.Member(ppo, args.config, env, args.train_steps, label="PPO expert", options=options)
    ]


def make_locomotion(argv: list[str]) -> list[str]:
    args = runs.parse(
        LocomotionArgs,
        argv,
        LocomotionArgs.__doc__,
        preset=lambda env: PPO_PRESETS.get(env, ppo.Config()),
    )
    run = runs.start(args, expert)
    (member,) = run.members
    env, config = member.env, member.config
    key = jax.random.key(args.seed)
    print(f"training the PPO expert on {args.env} ({args.train_steps:,} steps)")
    result = run.train(member)
    trained = np.asarray(result.history["step"]) > 0  # step 0 (the initial policy): no checkpoint
    steps = np.asarray(result.history["step"], int)[trained]
    evals = np.asarray(result.history["eval_return"], float)[trained]
    ckpt = Checkpointer(os.path.join(run.path, "checkpoints"), keep=len(steps) + 1)

    def snapshot(i: int):
        return ckpt.restore(like=result.state, step=int(steps[i]))[0]

    def policy_of(state):
        return lambda obs, k: ppo.act(config, env, state, obs, k, deterministic=False)

    space = env.spec.action_space
    random_act = lambda obs, k: jax.vmap(space.sample)(jax.random.split(k, obs.shape[0]))  # noqa: E731

    random_ds = _collect(env, random_act, jax.random.fold_in(key, 1), args.num_envs, args.steps)
    # Whole episodes from fresh resets (the datasets' last episode per env stream is cut off).
    random_return = float(
        jax.jit(lambda k: rollout.evaluate(env, random_act, k, 64))(jax.random.fold_in(key, 4))[
            "eval_return"
        ]
    )
    expert_return = float(evals[-1])
    target = random_return + (expert_return - random_return) / 3
    medium = int(np.nanargmin(np.abs(evals - target)))
    info = {
        "env": args.env,
        "random_return": random_return,
        "expert_return": expert_return,
        "expert_policy": f"PPO (jaxrl.agents.ppo, config in {run.path}/config.json) after "
        f"{steps[-1]:,} steps",
        "medium_policy": f"PPO snapshot after {steps[medium]:,} steps, eval return "
        f"{evals[medium]:.1f} (target: a third of the way from random to expert, {target:.1f})",
        "normalised_score": "100 * (return - random_return) / (expert_return - random_return)",
        "seed": args.seed,
        "expert_run": run.path,
    }
    sets: dict[str, data.Dataset] = {"random": random_ds}
    sets["medium"] = _collect(
        env, policy_of(snapshot(medium)), jax.random.fold_in(key, 2), args.num_envs, args.steps
    )
    sets["expert"] = _collect(
        env, policy_of(result.state), jax.random.fold_in(key, 3), args.num_envs, args.steps
    )
    if "medium-replay" in args.kinds:
        # PPO keeps no replay buffer: each snapshot up to the medium one (taken at the end of
        # each training chunk) re-collects as many steps as the training run took in a chunk,
        # with its stochastic policy. The initial, untrained policy (which collected the first
        # chunk during training) is not among them: snapshot 0 is the policy after one chunk.
        parts = [
            _collect(
                env,
                policy_of(snapshot(i)),
                jax.random.fold_in(key, 10 + i),
                args.num_envs,
                int(steps[0]),
            )
            for i in range(medium + 1)
        ]
        sets["medium-replay"] = data.concatenate(parts)
    if "medium-expert" in args.kinds:
        sets["medium-expert"] = data.concatenate([sets["medium"], sets["expert"]])
    paths = []
    for kind in args.kinds:
        name = f"{args.env.replace('/', '_')}-{kind}.npz"
        card = _card(
            kind,
            sets[kind],
            env.spec.max_episode_steps,
            **info,
            policy={
                "random": "uniform random actions",
                "medium": info["medium_policy"],
                "expert": info["expert_policy"],
                "medium-replay": "each snapshot up to the medium one, re-collected (see source)",
                "medium-expert": "medium and expert datasets concatenated",
            }[kind],
            noise="the policies' own Gaussian sampling (stochastic actions)",
        )
        paths.append(write(sets[kind], os.path.join(args.out_dir, name), card))
    ckpt.close()
    run.report({"PPO expert": result}, extra={"written": paths}, title=f"PPO expert on {args.env}")
    return paths


def main(argv: list[str] | None = None) -> Any:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["locomotion"]:  # through the run layer (presets, --resume)
        return make_locomotion(argv[1:])
    args = tyro.extras.subcommand_cli_from_dict(
        {
            "pointmaze": PointMazeArgs,
            "locomotion": LocomotionArgs,
            "ogbench": OGBenchArgs,
            "minigrid": MinigridArgs,
            "exorl": ExorlArgs,
        },
        args=argv,
        description=__doc__,
    )
    if isinstance(args, OGBenchArgs):
        return make_ogbench(args)
    if isinstance(args, MinigridArgs):
        return make_minigrid(args)
    if isinstance(args, ExorlArgs):
        return make_exorl(args)
    return make_pointmaze(args)


if __name__ == "__main__":
    runs.cli(main)
