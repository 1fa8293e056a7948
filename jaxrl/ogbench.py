"""OGBench's own environments, driven from the host: datasets generated with OGBench's env and
its own oracle, and evaluation of any jaxrl policy in OGBench's env (where the DQC paper
evaluates). Training stays on device (``jaxrl.train``); only these two ends run OGBench's MuJoCo
envs, step by step in Python. This is the client module; :mod:`jaxrl.data.ogbench` is the file
format (``.npz`` layouts) it writes.

Needs the optional ``ogbench`` package (PyPI; ``pip install 'jaxrl[ogbench]'``) at call time
only: importing this module does not import it. Sources followed (seohongpark/ogbench 1.2):
``ogbench/locomaze/maze.py`` (the maze env: ``reset(options=dict(task_id=k))`` with OGBench's
task ids 1..5, ``info["goal"]`` at reset, ``info["success"]`` every step,
``get_oracle_subgoal``, ``set_goal``), ``data_gen_scripts/generate_locomaze.py`` and
``commands.sh`` (how the point-maze datasets were made), ``ogbench/utils.py::load_dataset``
(the file layout) and ``impls/utils/evaluation.py`` (their evaluation loop).

**Datasets** (:func:`generate_dataset`): point-maze ``navigate`` and ``stitch`` sets as
OGBench's script makes them. Each episode starts in a uniformly random free cell with a goal
cell (navigate: a random maze vertex, i.e. a free cell that is not a straight corridor; stitch:
a random cell exactly 4 BFS moves away, or the start cell if there is none) and is reset through
``options=dict(task_info=...)``, which adds OGBench's uniform +-1 unit noise to both. Every step
the action is the unit vector from the point to OGBench's oracle subgoal
(``env.unwrapped.get_oracle_subgoal``: the centre of the next cell on a BFS shortest path, the
goal cell's centre once inside it) plus N(0, noise^2) per coordinate, clipped to [-1, 1]
(OGBench: noise 0.5). Navigate draws a new vertex goal (``set_goal``) on every success; stitch
keeps its goal. The env runs with ``terminate_at_goal=False`` and a time limit of ``T + 1``
steps, so an episode is ``T + 1`` rows (observations ``s_0..s_T``; the last row's action has no
next state) with ``terminals = 1`` on the last row only; ``qpos``/``qvel`` are each row's
pre-step physics (``info["prev_qpos"]``). OGBench's sizes: medium/large navigate 1000 episodes
of T = 1000, giant navigate 500 of T = 2000, stitch 5000 of T = 200, and a validation file
(``<name>-val.npz``) of a tenth as many episodes. Files are written as OGBench writes them
(``np.savez_compressed``; observations, actions, qpos, qvel float32, terminals bool) plus our
JSON card (``__card__`` inside, ``<file>.json`` beside), so ``ogbench.utils.load_dataset``,
``ogbench.make_env_and_datasets(name, dataset_path=...)`` and ``jaxrl.data.load`` all read them.
Randomness: OGBench draws everything from NumPy's global generator; here it is seeded with
``seed`` for the call and restored afterwards, the env's own generators are seeded too, so a
``seed`` gives the same file (OGBench's script seeds nothing, so its files cannot be
reproduced bit for bit).

**Evaluation** (:func:`evaluate`): ``episodes_per_task`` episodes of each OGBench task
(``reset(options=dict(task_id=k))``, ``k`` in OGBench's numbering 1..num_tasks; jaxrl's point
maze numbers the same tasks 0..4), run in lockstep: the policy is called once per chunk on the
batch of observations ``concat[ob, info["goal"]]`` (float32), its ``h_a``-chunks are executed
open loop, actions clipped to the action box (as OGBench's ``evaluation.py`` clips). An episode
ends when OGBench's env ends it (``terminated`` at the goal, ``truncated`` at its time limit);
its success is ``info["success"]`` of its last step, as in OGBench's evaluation.

**Training on OGBench data** (:func:`spec_env`): OGBench's observations are MuJoCo coordinates
(4 units per maze cell; jaxrl's pure-JAX maze uses 1), so jaxrl's on-device maze cannot
evaluate a policy trained on them. ``envs.make("ogbench/<env>")`` is a spec-only env: the
shapes DQC needs (observation ``[state, goal]``, OGBench's action box, its time limit) under a
name that checkpoints record, so ``jaxrl.load_policy(run)`` rebuilds the policy and
:func:`evaluate` finds its OGBench env from it; ``reset``/``step`` refuse (train with
``eval_every=0`` and evaluate here). This was chosen over borrowing ``pointmaze-<layout>-goal``
for its shapes, whose on-device evaluation would silently score the policy in the wrong
coordinates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:
    from jaxrl.policy import Policy

INSTALL_HINT = "pip install 'jaxrl[ogbench]'"
"""How to get the optional ``ogbench`` package."""

ENV_PREFIX = "ogbench/"
"""Registry prefix of the spec-only envs (``envs.make("ogbench/pointmaze-medium-v0")``)."""

GOAL_ENVS: tuple[str, ...] = (
    "pointmaze-medium-v0",
    "pointmaze-large-v0",
    "pointmaze-giant-v0",
    "pointmaze-teleport-v0",
    "antmaze-medium-v0",
    "antmaze-large-v0",
    "antmaze-giant-v0",
    "antmaze-teleport-v0",
    "humanoidmaze-medium-v0",
    "humanoidmaze-large-v0",
    "humanoidmaze-giant-v0",
    "humanoidmaze-teleport-v0",
    "antsoccer-arena-v0",
    "antsoccer-medium-v0",
    "cube-single-v0",
    "cube-double-v0",
    "cube-triple-v0",
    "cube-quadruple-v0",
    "cube-octuple-v0",
    "scene-v0",
    "puzzle-3x3-v0",
    "puzzle-4x4-v0",
    "puzzle-4x5-v0",
    "puzzle-4x6-v0",
)
"""OGBench's goal-conditioned envs with state observations (ogbench 1.2's registrations without
the visual, single-task and powderworld ones): what :func:`evaluate` and :func:`spec_env` accept.
Tested here: the point mazes."""

MAZES: tuple[str, ...] = ("medium", "large", "giant")
"""Point-maze layouts :func:`generate_dataset` makes data for."""

KINDS: tuple[str, ...] = ("navigate", "stitch")
"""Dataset types :func:`generate_dataset` makes (OGBench's ``dataset_type``)."""

DATASET_SIZES: dict[tuple[str, str], tuple[int, int]] = {
    ("medium", "navigate"): (1000, 1000),
    ("large", "navigate"): (1000, 1000),
    ("giant", "navigate"): (500, 2000),
    ("medium", "stitch"): (5000, 200),
    ("large", "stitch"): (5000, 200),
    ("giant", "stitch"): (5000, 200),
}
"""OGBench's ``(episodes, transitions per episode)`` per ``(maze, kind)``
(``data_gen_scripts/commands.sh``: ``--num_episodes``, ``--max_episode_steps`` minus one)."""

STITCH_DISTANCE = 4
"""BFS moves from the start cell to a stitch episode's goal cell (OGBench's ``adj_steps``)."""

_DATASET_NAME = re.compile(r"^pointmaze-(?P<maze>[a-z]+)-(?P<kind>[a-z]+)-v0$")


# --- names and the optional package ------------------------------------------------------------


def require_ogbench() -> Any:
    """Import ``ogbench`` (registering its envs with gymnasium) and return ``gymnasium``.

    Raises:
        ImportError: ``ogbench`` is not installed; the message says how to install it.
    """
    try:
        import gymnasium
        import ogbench  # noqa: F401  (registers OGBench's envs)
    except ImportError as e:
        raise ImportError(
            f"OGBench's environments need the ogbench package: {INSTALL_HINT} ({e})"
        ) from e
    return gymnasium


def check_env_name(name: Any, field: str = "env_name") -> str:
    """OGBench's env id of ``name`` (``"pointmaze-medium-v0"``, also with the ``ogbench/``
    prefix of the spec-only env), checked against :data:`GOAL_ENVS`.

    Raises:
        ValueError: naming ``field``, the value and the accepted names (a dataset name such as
            ``pointmaze-medium-navigate-v0`` gets the env it belongs to suggested).
    """
    if not isinstance(name, str):
        raise ValueError(f"{field} must be an OGBench env name (str), got {name!r}")
    env = name.removeprefix(ENV_PREFIX)
    if env in GOAL_ENVS:
        return env
    hint = ""
    parts = env.split("-")
    if len(parts) >= 3 and "-".join(parts[:-2] + parts[-1:]) in GOAL_ENVS:
        hint = f" ({name!r} is a dataset name; its env is {'-'.join(parts[:-2] + parts[-1:])!r})"
    raise ValueError(
        f"{field}={name!r} is not one of OGBench's goal-conditioned state-based envs{hint}; "
        f"valid: {', '.join(GOAL_ENVS)}"
    )


@dataclasses.dataclass(frozen=True)
class DatasetName:
    """A point-maze dataset name ``pointmaze-<maze>-<kind>-v0`` taken apart."""

    maze: str
    kind: str

    @property
    def name(self) -> str:
        """``pointmaze-<maze>-<kind>-v0``: OGBench's dataset name."""
        return f"pointmaze-{self.maze}-{self.kind}-v0"

    @property
    def env_name(self) -> str:
        """``pointmaze-<maze>-v0``: the OGBench env the data come from."""
        return f"pointmaze-{self.maze}-v0"


def parse_dataset_name(name: Any, field: str = "dataset") -> DatasetName:
    """``pointmaze-<maze>-<kind>-v0`` with ``maze`` in :data:`MAZES` and ``kind`` in
    :data:`KINDS`: the datasets :func:`generate_dataset` makes.

    Raises:
        ValueError: naming ``field``, the value and what is supported.
    """
    m = _DATASET_NAME.match(name) if isinstance(name, str) else None
    if m is None or m["maze"] not in MAZES or m["kind"] not in KINDS:
        names = ", ".join(f"pointmaze-{z}-{k}-v0" for k in KINDS for z in MAZES)
        raise ValueError(
            f"{field}={name!r}: only OGBench's point-maze datasets can be generated here ({names})"
        )
    return DatasetName(m["maze"], m["kind"])


@dataclasses.dataclass(frozen=True)
class EnvShapes:
    """What an OGBench env looks like to a policy (read from OGBench's env once)."""

    ob_dim: int
    """Size of one observation (the goal, ``info["goal"]``, has the same size)."""
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    max_episode_steps: int
    """OGBench's time limit."""
    num_tasks: int
    """Evaluation tasks, ids ``1..num_tasks``."""


@functools.cache
def env_shapes(env_name: str) -> EnvShapes:
    """:class:`EnvShapes` of an OGBench env (builds it once per process; needs ``ogbench``)."""
    env_name = check_env_name(env_name)
    gym = require_ogbench()
    env = gym.make(env_name)
    try:
        space = env.action_space
        shape = env.observation_space.shape
        if len(shape) != 1:
            raise ValueError(f"env_name={env_name!r}: observations of shape {shape}, not vectors")
        return EnvShapes(
            ob_dim=int(shape[0]),
            action_low=tuple(float(x) for x in np.ravel(space.low)),
            action_high=tuple(float(x) for x in np.ravel(space.high)),
            max_episode_steps=int(env.spec.max_episode_steps),
            num_tasks=int(env.unwrapped.num_tasks),
        )
    finally:
        env.close()


@contextlib.contextmanager
def _global_numpy_seed(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator (OGBench's envs draw reset noise from it) for the block,
    then put the caller's state back."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def _check_count(field: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{field} must be an int >= {minimum}, got {value!r}")
    return int(value)


# --- datasets ----------------------------------------------------------------------------------


def maze_cells(maze_map: np.ndarray) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(free cells, vertex cells)`` of an OGBench ``maze_map`` (1 = wall), row-major: vertex
    cells are the free cells that are not straight corridors (walls on both sides, open at
    both ends), OGBench's navigate goals."""
    free, vertex = [], []
    for i, j in zip(*np.nonzero(np.asarray(maze_map) == 0), strict=True):
        i, j = int(i), int(j)
        free.append((i, j))
        up, down = maze_map[i - 1, j] == 0, maze_map[i + 1, j] == 0
        left, right = maze_map[i, j - 1] == 0, maze_map[i, j + 1] == 0
        corridor = (up and down and not left and not right) or (
            left and right and not up and not down
        )
        if not corridor:
            vertex.append((i, j))
    return free, vertex


def cells_at_distance(
    maze_map: np.ndarray, start: tuple[int, int], distance: int
) -> list[tuple[int, int]]:
    """Free cells exactly ``distance`` BFS moves (4-neighbour) from ``start``, in the order
    OGBench's stitch generator finds them (its goal candidates)."""
    grid = np.asarray(maze_map)
    seen = {start: 0}
    queue, found = [start], []
    while queue:
        i, j = queue.pop(0)
        for di, dj in ((-1, 0), (0, -1), (1, 0), (0, 1)):
            cell = (i + di, j + dj)
            inside = 0 <= cell[0] < grid.shape[0] and 0 <= cell[1] < grid.shape[1]
            if inside and grid[cell] == 0 and cell not in seen:
                seen[cell] = seen[(i, j)] + 1
                queue.append(cell)
                if seen[cell] == distance:
                    found.append(cell)
    return found


def _oracle_direction(maze: Any) -> np.ndarray:
    """The unit vector from the point to OGBench's oracle subgoal (what OGBench's point-maze
    "expert" outputs: ``actor_fn`` returns the subgoal direction)."""
    xy = maze.get_xy()
    subgoal, _ = maze.get_oracle_subgoal(xy, maze.cur_goal_xy)
    offset = np.asarray(subgoal, np.float64) - xy
    return offset / (np.linalg.norm(offset) + 1e-6)


def _collect_episode(
    env: Any,
    kind: str,
    free: list[tuple[int, int]],
    vertex: list[tuple[int, int]],
    noise: float,
    reset_seed: int | None,
) -> tuple[dict[str, np.ndarray], list[int]]:
    """One episode (OGBench's loop body): rows ``observations, actions, terminals, qpos,
    qvel`` and the steps at which the point reached a goal (navigate: every reached goal;
    stitch: every step on its goal). All draws come from NumPy's global generator, in
    OGBench's order."""
    maze = env.unwrapped
    init = free[np.random.randint(len(free))]
    if kind == "navigate":
        goal = vertex[np.random.randint(len(vertex))]
    else:
        near = cells_at_distance(maze.maze_map, init, STITCH_DISTANCE)
        goal = near[np.random.randint(len(near))] if near else init
    ob, _ = env.reset(seed=reset_seed, options=dict(task_info=dict(init_ij=init, goal_ij=goal)))
    rows: dict[str, list[Any]] = {k: [] for k in ("observations", "actions", "terminals")}
    rows.update(qpos=[], qvel=[])
    reached: list[int] = []
    done = False
    while not done:
        action = _oracle_direction(maze) + np.random.normal(0.0, noise, 2)
        action = np.clip(action, -1.0, 1.0)
        next_ob, _, terminated, truncated, info = env.step(action)
        done = bool(terminated or truncated)
        if info["success"]:
            reached.append(len(rows["actions"]))
            if kind == "navigate":
                maze.set_goal(goal_ij=vertex[np.random.randint(len(vertex))])
        rows["observations"].append(ob)
        rows["actions"].append(action)
        rows["terminals"].append(done)
        rows["qpos"].append(info["prev_qpos"])
        rows["qvel"].append(info["prev_qvel"])
        ob = next_ob
    return {k: np.asarray(v) for k, v in rows.items()}, reached


def _write_ogbench_file(path: str, parts: Sequence[dict[str, np.ndarray]], card: dict) -> None:
    """OGBench's raw layout, as its generator saves it (float32 arrays, bool terminals,
    compressed), plus ``__card__``."""
    arrays = {
        k: np.concatenate([p[k] for p in parts]).astype(bool if k == "terminals" else np.float32)
        for k in parts[0]
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays, __card__=np.asarray(json.dumps(card)))
    with open(path + ".json", "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2)


def val_path(path: str) -> str:
    """The validation file OGBench pairs with ``path`` (``ogbench.make_env_and_datasets``
    reads ``path.replace(".npz", "-val.npz")``)."""
    return path.replace(".npz", "-val.npz")


def generate_dataset(
    dataset: str,
    path: str | os.PathLike[str],
    *,
    episodes: int | None = None,
    episode_steps: int | None = None,
    val_episodes: int | None = None,
    noise: float = 0.5,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate an OGBench point-maze dataset with OGBench's own env and oracle (module
    docstring) and write it, in OGBench's layout with our card, to ``path`` (and the validation
    episodes to :func:`val_path`).

    Args:
        dataset: ``pointmaze-<medium|large|giant>-<navigate|stitch>-v0``.
        path: the ``.npz`` file to write (its folder is created).
        episodes: training episodes (default: OGBench's, :data:`DATASET_SIZES`).
        episode_steps: transitions per episode ``T`` (rows ``T + 1``; default: OGBench's).
        val_episodes: episodes of the validation file (default ``episodes // 10``, as OGBench;
            0 writes none).
        noise: standard deviation of the Gaussian action noise (OGBench: 0.5).
        seed: seeds NumPy's global generator for the call (restored after) and the env.
        progress: show a tqdm bar over episodes.

    Returns:
        the card (also in the file and in ``<path>.json``): names, sizes, oracle, noise, seed,
        and ``goals_reached`` statistics of the training episodes.

    Raises:
        ValueError: a bad ``dataset``, ``path``, count or ``noise`` (naming the field), before
            anything is generated.
        ImportError: ``ogbench`` is missing (says how to install it).
    """
    name = parse_dataset_name(dataset)
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"path must end with .npz (OGBench's format), got {path!r}")
    default_episodes, default_steps = DATASET_SIZES[(name.maze, name.kind)]
    episodes = _check_count("episodes", default_episodes if episodes is None else episodes, 1)
    steps = _check_count(
        "episode_steps", default_steps if episode_steps is None else episode_steps, 1
    )
    val_episodes = _check_count(
        "val_episodes", episodes // 10 if val_episodes is None else val_episodes, 0
    )
    if not (isinstance(noise, int | float) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite float >= 0, got {noise!r}")
    _check_count("seed", seed, 0)
    gym = require_ogbench()
    env = gym.make(name.env_name, terminate_at_goal=False, max_episode_steps=steps + 1)
    free, vertex = maze_cells(env.unwrapped.maze_map)
    env.action_space.seed(seed)  # the random steps OGBench's reset takes before placing the point
    parts, reached = [], []
    total = episodes + val_episodes
    start = time.perf_counter()
    with _global_numpy_seed(seed):
        bar = range(total)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(bar, desc=name.name, unit="ep")
        for e in bar:
            rows, hits = _collect_episode(
                env, name.kind, free, vertex, float(noise), seed if e == 0 else None
            )
            parts.append(rows)
            reached.append(hits)
    env.close()
    seconds = time.perf_counter() - start
    train_hits = reached[:episodes]
    if name.kind == "navigate":
        counts = np.array([len(h) for h in train_hits], np.float64)
        goals = {"per_episode_mean": float(counts.mean()), "total": int(counts.sum())}
    else:
        goals = {"episodes_reaching_goal": int(sum(bool(h) for h in train_hits))}
    first = [h[0] for h in train_hits if h]
    goals["first_goal_step_median"] = float(np.median(first)) if first else None
    from importlib.metadata import version

    from jaxrl import __version__

    card = {
        "generator": "jaxrl.ogbench.generate_dataset",
        "command": " ".join(sys.argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "jaxrl_version": __version__,
        "ogbench_version": version("ogbench"),
        "format": "ogbench raw (ogbench.utils.load_dataset)",
        "dataset": name.name,
        "kind": name.kind,
        "env": ENV_PREFIX + name.env_name,
        "ogbench_env": name.env_name,
        "policy": "OGBench's oracle: unit vector to env.unwrapped.get_oracle_subgoal (BFS next "
        "cell centre; the goal cell's centre inside it), plus Gaussian noise, clipped to [-1, 1]",
        "noise": float(noise),
        "goals": "navigate: a random maze vertex, redrawn on every success"
        if name.kind == "navigate"
        else f"stitch: a cell {STITCH_DISTANCE} BFS moves from the start, kept all episode",
        "episodes": episodes,
        "episode_steps": steps,
        "rows_per_episode": steps + 1,
        "size": episodes * steps,
        "val_episodes": val_episodes,
        "val_file": os.path.basename(val_path(path)) if val_episodes else None,
        "seed": seed,
        "goals_reached": goals,
        "generation_seconds": round(seconds, 2),
    }
    _write_ogbench_file(path, parts[:episodes], card)
    if val_episodes:
        _write_ogbench_file(val_path(path), parts[episodes:], {**card, "split": "val"})
    return card


# --- evaluation --------------------------------------------------------------------------------

PolicyFn = Callable[[jax.Array, jax.Array], Any]
"""``policy(obs [B, 2 * ob_dim], key) -> actions [B, *action_shape]`` or chunks
``[B, h_a, *action_shape]`` (e.g. a jitted function)."""


def _is_policy(policy: Any) -> bool:
    from jaxrl.policy import Policy

    return isinstance(policy, Policy)


def _policy_env_name(policy: Any, env_name: str | None) -> str:
    """The OGBench env to evaluate in: ``env_name``, else the spec-only env a
    :class:`jaxrl.policy.Policy` was trained with."""
    trained = policy.env_name if _is_policy(policy) else None
    if trained is not None and trained.startswith(ENV_PREFIX):
        env = check_env_name(trained, "policy.env_name")
        if env_name is not None and check_env_name(env_name) != env:
            raise ValueError(
                f"env_name={env_name!r}, but the policy was trained for {trained!r} "
                "(leave env_name out)"
            )
        return env
    if env_name is None:
        raise ValueError(
            "env_name is required: the policy "
            + (f"acts in {trained!r}, not an ogbench/<env>" if trained else "is a plain function")
            + f" (e.g. env_name='pointmaze-medium-v0'; valid: {', '.join(GOAL_ENVS)})"
        )
    return check_env_name(env_name)


def _as_chunk(actions: Any, batch: int, chunk: int, action_dim: int) -> np.ndarray:
    """``[B, chunk, A]`` float32 from what the policy returned, or a ValueError naming it."""
    arr = np.asarray(jax.device_get(actions), np.float32)
    if chunk == 1 and arr.shape == (batch, action_dim):
        return arr[:, None]
    if arr.shape != (batch, chunk, action_dim):
        want = f"[{batch}, {action_dim}]" if chunk == 1 else f"[{batch}, {chunk}, {action_dim}]"
        raise ValueError(
            f"policy returned actions of shape {arr.shape} for {batch} observations, expected "
            f"{want} (chunk={chunk}: [batch, h_a, action_dim] chunks for h_a > 1)"
        )
    return arr


def evaluate(
    policy: Policy | PolicyFn,
    env_name: str | None = None,
    *,
    task_ids: Sequence[int] | None = None,
    episodes_per_task: int = 1,
    seed: int = 0,
    chunk: int | None = None,
    deterministic: bool = True,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Success of ``policy`` in OGBench's own env, per task (module docstring).

    Args:
        policy: a :class:`jaxrl.policy.Policy` (e.g. ``jaxrl.load_policy(run_folder)``, called
            with ``deterministic``; its ``h_a`` is the agent's ``action_chunk``), or any
            ``policy(obs [B, 2 * ob_dim], key) -> [B, A] | [B, h_a, A]`` (e.g. jitted), called
            once per chunk with the batch of every episode's ``concat[ob, goal]``.
        env_name: OGBench env id (``pointmaze-medium-v0``; the ``ogbench/`` prefix is allowed).
            Default: the ``ogbench/<env>`` a Policy was trained with.
        task_ids: OGBench's task ids (1-based; default all).
        episodes_per_task: episodes of each task.
        seed: seeds the resets (NumPy's global generator is restored afterwards) and the keys
            ``fold_in(key(seed), call)`` given to the policy.
        chunk: actions per policy call, executed open loop (default: the Policy's ``h_a``,
            else 1).
        deterministic: passed to a Policy.
        max_steps: stop episodes after this many steps (default: OGBench's time limit).

    Returns:
        JSON-ready: ``success`` (mean over tasks), ``task_success`` ``{"task<k>": rate}``,
        ``episode_success`` and ``episode_length`` (``[tasks][episodes]``), ``env``,
        ``task_ids``, ``episodes_per_task``, ``chunk``, ``seed``, ``seconds``.

    Raises:
        ValueError: naming the field: an unknown env, a task id out of range, a bad count or
            chunk, a Policy whose observations are not ``2 * ob_dim``, or actions of the wrong
            shape (at the first call).
        ImportError: ``ogbench`` is missing.
    """
    env_name = _policy_env_name(policy, env_name)
    episodes_per_task = _check_count("episodes_per_task", episodes_per_task, 1)
    _check_count("seed", seed, 0)
    if _is_policy(policy):
        from jaxrl.rollout import action_chunk

        own = action_chunk(policy.agent, policy.config)
        if chunk is not None and chunk != own:
            raise ValueError(f"chunk={chunk!r}, but the policy acts in chunks of h_a = {own}")
        chunk = own
    chunk = _check_count("chunk", 1 if chunk is None else chunk, 1)
    shapes = env_shapes(env_name)
    limit = _check_count(
        "max_steps", shapes.max_episode_steps if max_steps is None else max_steps, 1
    )
    tasks = list(range(1, shapes.num_tasks + 1)) if task_ids is None else list(task_ids)
    bad = [k for k in tasks if isinstance(k, bool) or not isinstance(k, int | np.integer)]
    bad += [k for k in tasks if k not in bad and not 1 <= k <= shapes.num_tasks]
    if not tasks or bad:
        raise ValueError(
            f"task_ids must be OGBench task ids in 1..{shapes.num_tasks} for {env_name!r}, got "
            f"{task_ids!r}" + (f" (bad: {bad})" if bad else "")
        )
    obs_dim = 2 * shapes.ob_dim
    if _is_policy(policy) and tuple(policy.env.spec.obs_shape) != (obs_dim,):
        raise ValueError(
            f"policy observes {tuple(policy.env.spec.obs_shape)}, but {env_name!r} gives "
            f"[ob, goal] of shape ({obs_dim},)"
        )
    gym = require_ogbench()
    low = np.asarray(shapes.action_low, np.float32)
    high = np.asarray(shapes.action_high, np.float32)
    per_episode = [k for k in tasks for _ in range(episodes_per_task)]
    n = len(per_episode)
    start = time.perf_counter()
    envs = [gym.make(env_name) for _ in range(n)]
    obs = np.zeros((n, obs_dim), np.float32)
    alive = np.ones(n, bool)
    success = np.zeros(n, bool)
    length = np.zeros(n, np.int64)
    key = jax.random.key(seed)
    try:
        with _global_numpy_seed(seed):
            for i, (env, k) in enumerate(zip(envs, per_episode, strict=True)):
                env.action_space.seed(seed + i)
                ob, info = env.reset(seed=seed + i, options=dict(task_id=int(k)))
                obs[i] = np.concatenate([ob, info["goal"]])  # the goal stays for the episode
            calls = 0
            while alive.any():
                call_key = jax.random.fold_in(key, calls)
                batch = jnp.asarray(obs)
                if _is_policy(policy):
                    out = policy(batch, call_key, deterministic=deterministic)
                else:
                    out = policy(batch, call_key)
                actions = np.clip(_as_chunk(out, n, chunk, low.size), low, high)
                calls += 1
                for i in np.flatnonzero(alive):
                    for j in range(chunk):
                        ob, _, terminated, truncated, info = envs[i].step(actions[i, j])
                        length[i] += 1
                        if terminated or truncated or length[i] >= limit:
                            alive[i] = False
                            success[i] = bool(info["success"])
                            break
                    obs[i, : shapes.ob_dim] = ob
    finally:
        for env in envs:
            env.close()
    rates = success.reshape(len(tasks), episodes_per_task)
    task_success = {f"task{k}": float(r.mean()) for k, r in zip(tasks, rates, strict=True)}
    return {
        "env": env_name,
        "success": float(np.mean(list(task_success.values()))),
        "task_success": task_success,
        "episode_success": rates.astype(float).tolist(),
        "episode_length": length.reshape(len(tasks), episodes_per_task).tolist(),
        "task_ids": [int(k) for k in tasks],
        "episodes_per_task": episodes_per_task,
        "chunk": chunk,
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 2),
    }


def evaluate_seeds(
    agent: Any,
    config: Any,
    env: Any,
    state: Any,
    seeds: int | None,
    num_episodes: int = 16,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`evaluate` of each seed's policy in a trained state (``jaxrl.TrainResult.state``;
    ``seeds`` as given to ``jaxrl.train``, None: no seed axis), ``ceil(num_episodes /
    num_tasks)`` episodes per task as the driver's evaluation splits them; ``kwargs`` go to
    :func:`evaluate`.

    Returns:
        ``{"env", "success": mean over seeds, "success_per_seed", "task_success": {"task<k>":
        mean over seeds, "task<k>_per_seed": [...]}, "per_seed": [evaluate(...) per seed]}``
        (``task_success`` in the shape of :func:`jaxrl.runs.task_success`'s rows).
    """
    from jaxrl.policy import make_policy, select_run

    name = env.spec.name
    per_task = math.ceil(num_episodes / env_shapes(check_env_name(name, "env")).num_tasks)
    runs = []
    for s in range(seeds or 1):
        one = select_run(state, seed=s) if seeds else state
        policy = make_policy(agent, config, env, one, seed=s)
        runs.append(evaluate(policy, episodes_per_task=per_task, **kwargs))
    table: dict[str, Any] = {}
    for task in runs[0]["task_success"]:
        per_seed = [r["task_success"][task] for r in runs]
        table[task] = float(np.mean(per_seed))
        table[f"{task}_per_seed"] = per_seed
    per_seed = [r["success"] for r in runs]
    return {
        "env": runs[0]["env"],
        "success": float(np.mean(per_seed)),
        "success_per_seed": per_seed,
        "task_success": table,
        "per_seed": runs,
    }


__all__ = [
    "DATASET_SIZES",
    "DatasetName",
    "ENV_PREFIX",
    "EnvShapes",
    "GOAL_ENVS",
    "INSTALL_HINT",
    "KINDS",
    "MAZES",
    "cells_at_distance",
    "check_env_name",
    "env_shapes",
    "evaluate",
    "evaluate_seeds",
    "generate_dataset",
    "maze_cells",
    "parse_dataset_name",
    "require_ogbench",
    "val_path",
]
