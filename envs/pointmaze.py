"""Goal-conditioned point-mass mazes in pure JAX, modelled on OGBench's ``pointmaze-*-v0``.

Layouts and evaluation tasks are transcribed from OGBench (seohongpark/ogbench,
``ogbench/locomaze/maze.py``: the ``maze_map`` arrays and ``set_tasks``): ``medium`` (8 x 8 cells
including the outer walls), ``large`` (9 x 12) and ``giant`` (12 x 16), five (start cell, goal
cell) evaluation tasks each. Cells are indexed ``(i, j)`` = (row, column), as in OGBench.

Units and geometry
    One maze cell is 1.0 x 1.0 (OGBench uses ``maze_unit = 4`` MuJoCo units; ``to_ogbench_xy``
    converts). Cell ``(i, j)`` is centred at ``(x, y) = (j, i)`` and covers ``[j - 0.5, j + 0.5) x
    [i - 0.5, i + 0.5)``, which is OGBench's ``ij_to_xy`` divided by the maze unit up to an offset.
    The point is an axis-aligned square of half-width ``radius`` (default 0.175 cells, OGBench's
    sphere radius 0.7 / 4); it never overlaps a wall cell.

Dynamics (as OGBench's point env, ``qpos += 0.2 * action`` with no momentum, rescaled to cells)
    ``pos += step_size * clip(action, -1, 1)`` with ``step_size = 0.1`` cells per step, so a unit
    action crosses a cell in 10 steps (OGBench's 0.2 / 4 = 0.05 would be 20; pass
    ``step_size=0.05`` for its timing). Walls are resolved one axis at a time (x then y): a move
    that would overlap a wall cell stops flush against it, so the point slides along walls. A move
    is shorter than one cell, so it cannot tunnel through a wall, and the axis-separated resolution
    cannot cut a corner between two diagonal wall cells.

Task
    The state holds a goal position. Success is ``||pos - goal|| <= goal_tol`` after the step
    (OGBench's ``success_timing="post"``), with ``goal_tol = 0.25`` cells (OGBench's point
    ``goal_tol = 1.0`` MuJoCo unit). Reward is 1.0 on a success step, else 0.0, and the episode is
    ``terminated`` at success (OGBench's ``terminate_at_goal=True``; pass
    ``terminate_at_goal=False`` for data collection). ``make`` adds a 1000-step ``TimeLimit``
    (OGBench's limit for pointmaze medium, large and giant).
    Observation: the position ``(2,)``; the goal is in ``info["goal"]``. With ``goal_in_obs=True``
    the observation is ``[pos, goal]`` ``(4,)``, for agents that are not goal-aware.

Registry names
    ``pointmaze-<layout>`` (``envs.make("pointmaze-medium")``) is the position-only maze and
    ``pointmaze-<layout>-goal`` the same maze with ``goal_in_obs=True``. ``spec.name`` is the
    registry name of the env it belongs to (``make("medium", goal_in_obs=True).spec.name ==
    "pointmaze-medium-goal"``), so a checkpoint, which records only ``spec.name``, rebuilds the
    right observation with ``envs.make(spec.name)``. (Other keyword arguments, e.g.
    ``step_size``, are not part of the name.)
    ``reset`` draws distinct uniformly random free start and goal cells; ``reset_to_task`` uses
    OGBench's evaluation task. Both add uniform noise of +-0.25 cells per axis to the start and the
    goal (OGBench's ``add_noise``: +-maze_unit / 4, applied to both by default).

Oracle
    ``oracle_action(pos, goal)`` is OGBench's data-collection expert: the unit vector towards the
    centre of the next cell on a BFS shortest path to the goal cell (``get_oracle_subgoal``, same
    neighbour order and tie-breaking), or straight to the goal inside the goal cell (OGBench aims
    at the goal cell's centre there). BFS next-cell and distance tables are computed once per
    layout in numpy and embedded as constants, so the oracle is a gather: jittable and cheap
    under vmap. OGBench's "navigate" data adds N(0, 0.5^2) to this action and clips to [-1, 1].

Plotting
    :func:`plot_episode` draws the maze, an episode's path, its start and the goal (matplotlib).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl import rollout
from jaxrl.data import Dataset
from jaxrl.envs.wrappers import TimeLimit, TimeLimitState
from jaxrl.types import Box, EnvSpec, PRNGKey, TimeStep

# '#' = wall, '.' = free. Transcribed from OGBench's maze_map (1 = wall, 0 = free); row i, column j.
LAYOUTS: dict[str, tuple[str, ...]] = {
    "medium": (
        "########",
        "#..##..#",
        "#..#...#",
        "##...###",
        "#..#...#",
        "#.#..#.#",
        "#...#..#",
        "########",
    ),
    "large": (
        "############",
        "#....#.....#",
        "#.##.#.#.#.#",
        "#......#...#",
        "#.####.###.#",
        "#..#.#.....#",
        "##.#.#.#.###",
        "#..#...#...#",
        "############",
    ),
    "giant": (
        "################",
        "#.#......##....#",
        "#.#.##.#.#..##.#",
        "#...#..#...#...#",
        "#.###.######.#.#",
        "#...#...#....#.#",
        "###.#.#..#.#.###",
        "#...#..#...#...#",
        "#.#.#.######.#.#",
        "#.###...#...##.#",
        "#.....#...#....#",
        "################",
    ),
}

# OGBench's five evaluation tasks per maze: ((start_i, start_j), (goal_i, goal_j)).
# OGBench numbers them 1..5; here task_id k is OGBench's task k + 1.
TASKS: dict[str, tuple[tuple[tuple[int, int], tuple[int, int]], ...]] = {
    "medium": (
        ((1, 1), (6, 6)),
        ((6, 1), (1, 6)),
        ((5, 3), (4, 2)),
        ((6, 5), (6, 1)),
        ((2, 6), (1, 1)),
    ),
    "large": (
        ((1, 1), (7, 10)),
        ((5, 4), (7, 1)),
        ((7, 4), (1, 10)),
        ((3, 8), (5, 4)),
        ((1, 1), (5, 4)),
    ),
    "giant": (
        ((1, 1), (10, 14)),
        ((1, 14), (10, 1)),
        ((8, 14), (1, 1)),
        ((8, 3), (5, 12)),
        ((5, 9), (3, 8)),
    ),
}

GOAL_SUFFIX = "-goal"
"""Registry-name suffix of the goal-in-observation maze: ``pointmaze-<layout>-goal``."""


def registry_names() -> list[str]:
    """Every maze name ``envs.make`` accepts: ``pointmaze-<layout>`` then
    ``pointmaze-<layout>-goal`` (observation ``[pos, goal]``) for each layout."""
    return [f"pointmaze-{n}{s}" for n in LAYOUTS for s in ("", GOAL_SUFFIX)]


def goal_env_name(name: str) -> str:
    """The goal-in-observation version of a maze's registry name (``pointmaze-medium`` ->
    ``pointmaze-medium-goal``): the env goal-conditioned agents that act on observations alone
    (DQC) are evaluated on. Other names are returned unchanged."""
    if name.startswith("pointmaze-") and not name.endswith(GOAL_SUFFIX):
        return name + GOAL_SUFFIX
    return name


def make_by_name(name: str, **kwargs: Any) -> PointMazeEnv:
    """:func:`make` from a registry name (``"medium"`` or ``"medium-goal"``, without the
    ``pointmaze-`` prefix); the ``-goal`` suffix sets ``goal_in_obs=True``.

    Raises:
        ValueError: unknown layout, or ``goal_in_obs=False`` passed with a ``-goal`` name.
    """
    if name.endswith(GOAL_SUFFIX):
        if kwargs.get("goal_in_obs", True) is not True:
            raise ValueError(
                f"pointmaze-{name} has the goal in its observation; goal_in_obs=False conflicts "
                f"(use pointmaze-{name.removesuffix(GOAL_SUFFIX)})"
            )
        kwargs["goal_in_obs"] = True
        name = name.removesuffix(GOAL_SUFFIX)
    return make(name, **kwargs)


# OGBench's BFS neighbour order (di, dj); the first strictly better neighbour wins ties.
_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1))
_EPS = 1e-4  # gap left between the point and a wall it stopped against


def to_ogbench_xy(xy: jax.Array) -> jax.Array:
    """Convert positions in cells (this module) to OGBench's MuJoCo coordinates (4 units/cell)."""
    return 4.0 * xy - 4.0


@dataclasses.dataclass(frozen=True)
class _Tables:
    walls: np.ndarray  # [H, W] bool
    free_cells: np.ndarray  # [N, 2] int32 (i, j), row-major order
    vertex_cells: np.ndarray  # [M, 2] int32: free cells that are not straight corridor cells
    dist: np.ndarray  # [H*W, H*W] int32 BFS distance dist[goal, cell]; -1 unreachable or wall
    next_cell: np.ndarray  # [H*W, H*W] int32 next flat cell from `cell` towards `goal`


@functools.cache
def _tables(maze_map: tuple[str, ...]) -> _Tables:
    """BFS distance and next-cell tables for every (goal cell, cell) pair (numpy, cached)."""
    walls = np.array([[c == "#" for c in row] for row in maze_map], dtype=bool)
    h, w = walls.shape
    n = h * w
    dist = np.full((n, n), -1, np.int32)
    for g in range(n):
        if walls[g // w, g % w]:
            continue
        dist[g, g] = 0
        queue = [g]
        while queue:
            c = queue.pop(0)
            i, j = divmod(c, w)
            for di, dj in _NEIGHBOURS:
                ni, nj = i + di, j + dj
                if 0 <= ni < h and 0 <= nj < w and not walls[ni, nj]:
                    nc = ni * w + nj
                    if dist[g, nc] < 0:
                        dist[g, nc] = dist[g, c] + 1
                        queue.append(nc)
    next_cell = np.tile(np.arange(n, dtype=np.int32), (n, 1))  # default: stay (as OGBench)
    for g in range(n):
        for c in range(n):
            if dist[g, c] <= 0:
                continue
            i, j = divmod(c, w)
            best, best_d = c, dist[g, c]
            for di, dj in _NEIGHBOURS:
                ni, nj = i + di, j + dj
                if 0 <= ni < h and 0 <= nj < w and 0 <= dist[g, ni * w + nj] < best_d:
                    best, best_d = ni * w + nj, dist[g, ni * w + nj]
            next_cell[g, c] = best
    free = [(i, j) for i in range(h) for j in range(w) if not walls[i, j]]
    vertex = []
    for i, j in free:  # OGBench (data_gen_scripts/generate_locomaze.py) drops hallway cells
        vertical = (
            not walls[i - 1, j] and not walls[i + 1, j] and walls[i, j - 1] and walls[i, j + 1]
        )
        horizontal = (
            not walls[i, j - 1] and not walls[i, j + 1] and walls[i - 1, j] and walls[i + 1, j]
        )
        if not (vertical or horizontal):
            vertex.append((i, j))
    return _Tables(
        walls=walls,
        free_cells=np.array(free, np.int32),
        vertex_cells=np.array(vertex, np.int32),
        dist=dist,
        next_cell=next_cell,
    )


class PointMazeState(struct.PyTreeNode):
    """Position and goal of the point, both ``(2,)`` float32 ``(x, y)`` in cells."""

    pos: jax.Array
    goal: jax.Array


def _span(lo: jax.Array, hi: jax.Array) -> tuple[jax.Array, jax.Array]:
    """First and last cell overlapped by the interval ``[lo, hi]`` (touching is no overlap)."""
    first = jnp.floor(lo + 0.5).astype(jnp.int32)
    last = jnp.maximum(jnp.ceil(hi + 0.5).astype(jnp.int32) - 1, first)
    return first, last


def _move_axis(c: jax.Array, o: jax.Array, d: jax.Array, grid: jax.Array, r: float) -> jax.Array:
    """Move coordinate ``c`` by ``d`` (|d| < 1) with the other coordinate ``o`` fixed.

    ``grid[o_cell, c_cell]`` is True on walls. The square of half-width ``r`` at the old position
    overlaps no wall; since |d| < 1 the moved square can only reach one new column, the one holding
    its leading edge, and on a hit the point stops flush (minus ``_EPS``) against that column.
    """
    nc = c + d
    o_lo, o_hi = _span(o - r, o + r)
    c_lo, c_hi = _span(nc - r, nc + r)
    o_lo = jnp.clip(o_lo, 0, grid.shape[0] - 1)
    o_hi = jnp.clip(o_hi, 0, grid.shape[0] - 1)
    c_lo = jnp.clip(c_lo, 0, grid.shape[1] - 1)
    c_hi = jnp.clip(c_hi, 0, grid.shape[1] - 1)
    hit = grid[o_lo, c_lo] | grid[o_lo, c_hi] | grid[o_hi, c_lo] | grid[o_hi, c_hi]
    forward = jnp.maximum(c_hi.astype(c.dtype) - 0.5 - r - _EPS, c)
    backward = jnp.minimum(c_lo.astype(c.dtype) + 0.5 + r + _EPS, c)
    return jnp.where(hit, jnp.where(d > 0, forward, backward), nc)


@dataclasses.dataclass(frozen=True)
class PointMaze:
    """A goal-conditioned point mass in a grid maze (one env; no time limit, see :func:`make`).

    Attributes:
        name: layout name (used in ``spec.name``).
        maze_map: rows of ``'#'`` (wall) and ``'.'`` (free); the border must be walls.
        tasks: evaluation tasks ``((start_i, start_j), (goal_i, goal_j))``.
        goal_in_obs: observation ``[pos, goal]`` (4,) instead of ``pos`` (2,).
        step_size: displacement per step for a unit action, in cells (0.1: ten steps per cell).
        goal_tol: success radius in cells (OGBench: 0.25).
        radius: half-width of the point's square footprint in cells.
        reset_noise: uniform noise (+-, cells, per axis) added to start and goal cell centres.
        terminate_at_goal: set ``terminated`` on success.
    """

    name: str = "medium"
    maze_map: tuple[str, ...] = LAYOUTS["medium"]
    tasks: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = TASKS["medium"]
    goal_in_obs: bool = False
    step_size: float = 0.1
    goal_tol: float = 0.25
    radius: float = 0.175
    reset_noise: float = 0.25
    terminate_at_goal: bool = True

    def __post_init__(self) -> None:
        widths = {len(row) for row in self.maze_map}
        if len(widths) != 1 or any(set(row) - {"#", "."} for row in self.maze_map):
            raise ValueError("maze_map must be equal-length rows of '#' (wall) and '.' (free)")
        walls = _tables(self.maze_map).walls
        if not (walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()):
            raise ValueError("maze_map must be surrounded by walls")
        if not 0.0 < self.step_size <= 0.5:
            raise ValueError(f"step_size must be in (0, 0.5] cells, got {self.step_size}")
        if not 0.0 < self.radius < 0.5 or self.radius + self.reset_noise >= 0.5:
            raise ValueError("need 0 < radius < 0.5 and radius + reset_noise < 0.5 (cells)")
        for start, goal in self.tasks:
            for i, j in (start, goal):
                if walls[i, j]:
                    raise ValueError(f"task cell {(i, j)} is a wall")

    # ----- static maze information (numpy) -------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the maze, walls included."""
        return len(self.maze_map), len(self.maze_map[0])

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    @property
    def free_cells(self) -> np.ndarray:
        """``[N, 2]`` int32 ``(i, j)`` of every free cell."""
        return _tables(self.maze_map).free_cells

    @property
    def vertex_cells(self) -> np.ndarray:
        """``[M, 2]`` free cells that are not straight corridors (OGBench's navigate goals)."""
        return _tables(self.maze_map).vertex_cells

    @property
    def walls(self) -> np.ndarray:
        """``[rows, columns]`` bool, True on wall cells."""
        return _tables(self.maze_map).walls

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            name=f"pointmaze-{self.name}" + (GOAL_SUFFIX if self.goal_in_obs else ""),
            obs_shape=(4,) if self.goal_in_obs else (2,),
            action_space=Box.uniform((2,), -1.0, 1.0),
            max_episode_steps=1000,
        )

    # ----- geometry (jittable; work on any leading batch shape) ----------------------------
    def cell_of(self, xy: jax.Array) -> jax.Array:
        """The ``(i, j)`` int32 cell containing position(s) ``xy[..., :2]``."""
        xy = jnp.asarray(xy)[..., :2]
        h, w = self.shape
        i = jnp.clip(jnp.floor(xy[..., 1] + 0.5).astype(jnp.int32), 0, h - 1)
        j = jnp.clip(jnp.floor(xy[..., 0] + 0.5).astype(jnp.int32), 0, w - 1)
        return jnp.stack([i, j], axis=-1)

    def cell_center(self, ij: jax.Array) -> jax.Array:
        """The ``(x, y)`` float32 centre of cell(s) ``ij[..., 2]``."""
        ij = jnp.asarray(ij)
        return jnp.stack([ij[..., 1], ij[..., 0]], axis=-1).astype(jnp.float32)

    def _flat(self, ij: jax.Array) -> jax.Array:
        return ij[..., 0] * self.shape[1] + ij[..., 1]

    def _unflat(self, c: jax.Array) -> jax.Array:
        return jnp.stack([c // self.shape[1], c % self.shape[1]], axis=-1)

    def bfs_distance(self, from_ij: jax.Array, to_ij: jax.Array) -> jax.Array:
        """Shortest-path length in cell moves between two cells (int32; -1 if a wall)."""
        dist = jnp.asarray(_tables(self.maze_map).dist)
        return dist[self._flat(jnp.asarray(to_ij)), self._flat(jnp.asarray(from_ij))]

    # ----- oracle --------------------------------------------------------------------------
    def oracle_subgoal(self, pos: jax.Array, goal: jax.Array) -> jax.Array:
        """OGBench's BFS subgoal: centre of the next cell on a shortest path; the goal itself
        once ``pos`` is in the goal cell. ``pos[..., :2]`` and ``goal[..., 2]``, any batch shape."""
        pos = jnp.asarray(pos, jnp.float32)[..., :2]
        goal = jnp.asarray(goal, jnp.float32)
        cell, goal_cell = self._flat(self.cell_of(pos)), self._flat(self.cell_of(goal))
        nxt = jnp.asarray(_tables(self.maze_map).next_cell)[goal_cell, cell]
        same = (cell == goal_cell)[..., None]
        return jnp.where(same, goal, self.cell_center(self._unflat(nxt)))

    def oracle_action(self, pos: jax.Array, goal: jax.Array) -> jax.Array:
        """Unit vector (in [-1, 1]^2) from ``pos`` towards :meth:`oracle_subgoal` (jittable).

        ``pos`` may be an observation: only ``pos[..., :2]`` is read.
        """
        pos = jnp.asarray(pos, jnp.float32)[..., :2]
        d = self.oracle_subgoal(pos, goal) - pos
        a = d / (jnp.linalg.norm(d, axis=-1, keepdims=True) + 1e-6)
        return jnp.clip(a, -1.0, 1.0)

    # ----- env protocol --------------------------------------------------------------------
    def observe(self, state: PointMazeState) -> jax.Array:
        """The observation of ``state``: ``pos`` or ``[pos, goal]``."""
        if self.goal_in_obs:
            return jnp.concatenate([state.pos, state.goal])
        return state.pos

    def _timestep(self, state: PointMazeState, reward: jax.Array, success: jax.Array) -> TimeStep:
        return TimeStep(
            obs=self.observe(state),
            reward=jnp.asarray(reward, jnp.float32),
            terminated=jnp.logical_and(success, self.terminate_at_goal),
            truncated=jnp.zeros((), bool),
            info={"goal": state.goal, "success": success.astype(jnp.float32)},
        )

    def _noisy_center(self, key: PRNGKey, ij: jax.Array) -> jax.Array:
        noise = jax.random.uniform(key, (2,), minval=-self.reset_noise, maxval=self.reset_noise)
        return self.cell_center(ij) + noise

    def reset_to_cells(
        self, key: PRNGKey, start_ij: jax.Array, goal_ij: jax.Array
    ) -> tuple[PointMazeState, TimeStep]:
        """Start in cell ``start_ij`` with the goal in ``goal_ij`` (both with reset noise)."""
        k1, k2 = jax.random.split(key)
        state = PointMazeState(
            pos=self._noisy_center(k1, jnp.asarray(start_ij)),
            goal=self._noisy_center(k2, jnp.asarray(goal_ij)),
        )
        return state, self._timestep(state, 0.0, jnp.zeros((), bool))

    def reset(self, key: PRNGKey) -> tuple[PointMazeState, TimeStep]:
        """Uniformly random distinct free start and goal cells, with reset noise."""
        k1, k2, k3 = jax.random.split(key, 3)
        free = jnp.asarray(self.free_cells)
        n = free.shape[0]
        s = jax.random.randint(k1, (), 0, n)
        g = jax.random.randint(k2, (), 0, n - 1)
        g = g + (g >= s)
        return self.reset_to_cells(k3, free[s], free[g])

    def reset_to_task(self, key: PRNGKey, task_id: jax.Array) -> tuple[PointMazeState, TimeStep]:
        """Reset to evaluation task ``task_id`` in ``[0, num_tasks)`` (OGBench's task + 1)."""
        tasks = jnp.asarray(self.tasks, jnp.int32)  # [T, 2, 2]
        task = tasks[task_id]
        return self.reset_to_cells(key, task[0], task[1])

    def set_goal_cell(
        self, state: PointMazeState, key: PRNGKey, goal_ij: jax.Array
    ) -> PointMazeState:
        """Move the goal to cell ``goal_ij`` (with reset noise), as OGBench's navigate data does."""
        return state.replace(goal=self._noisy_center(key, jnp.asarray(goal_ij)))

    def random_cell(self, key: PRNGKey, vertex_only: bool = False) -> jax.Array:
        """A uniformly random free cell ``(i, j)``; ``vertex_only``: from :attr:`vertex_cells`."""
        cells = jnp.asarray(self.vertex_cells if vertex_only else self.free_cells)
        return cells[jax.random.randint(key, (), 0, cells.shape[0])]

    def cell_at_distance(self, key: PRNGKey, start_ij: jax.Array, distance: int) -> jax.Array:
        """A uniformly random cell exactly ``distance`` BFS moves from ``start_ij`` (OGBench's
        "stitch" goals use 4), or ``start_ij`` itself when there is none."""
        start_ij = jnp.asarray(start_ij)
        row = jnp.asarray(_tables(self.maze_map).dist)[:, self._flat(start_ij)]
        mask = row == distance
        c = jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf))
        return jnp.where(jnp.any(mask), self._unflat(c), start_ij)

    def step(self, state: PointMazeState, action: jax.Array) -> tuple[PointMazeState, TimeStep]:
        """``pos += step_size * clip(action)``, walls resolved x then y; reward 1 at the goal."""
        delta = self.step_size * jnp.clip(jnp.reshape(action, (2,)), -1.0, 1.0)
        walls = jnp.asarray(self.walls)
        x, y = state.pos[0], state.pos[1]
        x = _move_axis(x, y, delta[0], walls, self.radius)
        y = _move_axis(y, x, delta[1], walls.T, self.radius)
        new = state.replace(pos=jnp.stack([x, y]).astype(jnp.float32))
        success = jnp.linalg.norm(new.pos - new.goal) <= self.goal_tol
        return new, self._timestep(new, success.astype(jnp.float32), success)


@dataclasses.dataclass(frozen=True)
class PointMazeEnv(TimeLimit):
    """:class:`PointMaze` with a :class:`~jaxrl.envs.wrappers.TimeLimit`, plus the maze helpers that
    need the wrapped state (what :func:`make` returns). ``env.maze`` is the inner
    :class:`PointMaze` (oracle, cells, BFS distances)."""

    env: PointMaze

    @property
    def maze(self) -> PointMaze:
        return self.env

    @property
    def num_tasks(self) -> int:
        return self.env.num_tasks

    def _wrap(self, out: tuple[PointMazeState, TimeStep]) -> tuple[TimeLimitState, TimeStep]:
        return TimeLimitState(inner=out[0], t=jnp.zeros((), jnp.int32)), out[1]

    def reset_to_task(self, key: PRNGKey, task_id: jax.Array) -> tuple[TimeLimitState, TimeStep]:
        """Reset to evaluation task ``task_id`` in ``[0, num_tasks)``."""
        return self._wrap(self.env.reset_to_task(key, task_id))

    def reset_to_cells(
        self, key: PRNGKey, start_ij: jax.Array, goal_ij: jax.Array
    ) -> tuple[TimeLimitState, TimeStep]:
        """Start in cell ``start_ij`` with the goal in ``goal_ij`` (both with reset noise)."""
        return self._wrap(self.env.reset_to_cells(key, start_ij, goal_ij))

    def set_goal_cell(
        self, state: TimeLimitState, key: PRNGKey, goal_ij: jax.Array
    ) -> TimeLimitState:
        """Move the goal to cell ``goal_ij`` (the step counter is kept)."""
        return state.replace(inner=self.env.set_goal_cell(state.inner, key, goal_ij))

    def observe(self, state: TimeLimitState) -> jax.Array:
        """The observation of ``state``."""
        return self.env.observe(state.inner)

    def oracle_action(self, pos: jax.Array, goal: jax.Array) -> jax.Array:
        """See :meth:`PointMaze.oracle_action`."""
        return self.env.oracle_action(pos, goal)


def make(
    layout: str = "medium",
    goal_in_obs: bool = False,
    max_episode_steps: int = 1000,
    **kwargs: Any,
) -> PointMazeEnv:
    """A pointmaze with OGBench's layout and tasks and a time limit (1000 steps, as OGBench).

    ``kwargs`` go to :class:`PointMaze` (``step_size``, ``goal_tol``, ``radius``,
    ``reset_noise``, ``terminate_at_goal``).

    Raises:
        ValueError: unknown layout; the message lists the valid ones.
    """
    if layout not in LAYOUTS:
        raise ValueError(
            f"unknown pointmaze layout {layout!r}; valid layouts are: {', '.join(LAYOUTS)}"
        )
    maze = PointMaze(
        name=layout,
        maze_map=LAYOUTS[layout],
        tasks=TASKS[layout],
        goal_in_obs=goal_in_obs,
        **kwargs,
    )
    return PointMazeEnv(maze, max_episode_steps)


def unwrap(env: PointMaze | PointMazeEnv) -> PointMaze:
    """The :class:`PointMaze` inside ``env`` (or ``env`` itself)."""
    return env.env if isinstance(env, PointMazeEnv) else env


# policy_fn(obs, goal, key) -> action, for ONE env unless evaluate_tasks(batched=True).
GoalPolicyFn = Callable[[jax.Array, jax.Array, PRNGKey], jax.Array]


def evaluate_tasks(
    env: PointMaze | PointMazeEnv,
    policy_fn: GoalPolicyFn,
    key: PRNGKey,
    episodes_per_task: int,
    max_steps: int | None = None,
    batched: bool = False,
    chunk: int = 1,
) -> dict[str, jax.Array]:
    """Success rate on each evaluation task (``reset_to_task``), all episodes in parallel: a thin
    wrapper of :func:`jaxrl.rollout.task_episodes` (the one implementation, also behind the
    driver's goal-conditioned evaluation) for policies that take the goal separately.

    ``policy_fn(obs, goal, key) -> action`` acts for one env and is vmapped (``batched=True``: it
    takes ``[B, ...]`` arrays and one key). ``goal`` is ``info["goal"]`` (2,). With ``chunk > 1``
    it returns ``chunk`` actions (``[chunk, 2]``, batched ``[B, chunk, 2]``), executed open loop.
    An episode runs to its first success, termination or truncation, or ``max_steps`` (default
    the spec's time limit); the loop stops early once every episode has ended. Traceable: to
    evaluate a learned policy repeatedly without recompiling, ``jax.jit`` a function that takes
    its parameters.

    Returns:
        ``success`` (overall rate), ``task_success`` [num_tasks], ``episode_success``
        [num_tasks, episodes_per_task] (0/1), ``episode_length`` (mean steps),
        ``task_episode_length`` [num_tasks] and ``episode_lengths`` [num_tasks, episodes].
    """
    n = unwrap(env).num_tasks * episodes_per_task

    def policy(inputs: tuple[jax.Array, jax.Array], key: PRNGKey) -> jax.Array:
        obs, goal = inputs
        if batched:
            return policy_fn(obs, goal, key)
        return jax.vmap(policy_fn)(obs, goal, jax.random.split(key, n))

    out = rollout.task_episodes(
        env,
        policy,
        key,
        episodes_per_task,
        max_steps,
        chunk,
        observe=lambda ts: (ts.obs, ts.info["goal"]),
    )
    success, length = out["success"], out["length"]
    return {
        "success": jnp.mean(success),
        "task_success": jnp.mean(success, axis=1),
        "episode_success": success,
        "episode_length": jnp.mean(length.astype(jnp.float32)),
        "task_episode_length": jnp.mean(length.astype(jnp.float32), axis=1),
        "episode_lengths": length,
    }


DatasetKind = Literal["navigate", "stitch"]
"""OGBench's point-maze data kinds: ``navigate`` (1000-step episodes, a new random maze vertex
as goal whenever one is reached) and ``stitch`` (200-step episodes, goals 4 BFS moves away)."""

DEFAULT_EPISODE_LENGTH: dict[str, int] = {"navigate": 1000, "stitch": 200}
"""OGBench's episode length per data kind."""


def collect_episodes(
    maze: PointMaze, key: PRNGKey, num: int, length: int, noise: float, kind: DatasetKind
) -> dict[str, jax.Array]:
    """``num`` episodes of ``length`` steps of the noisy oracle (OGBench's data collection:
    ``clip(oracle_action + N(0, noise^2), -1, 1)``), goals resampled on success as ``kind`` says.
    Arrays ``[num, length, ...]``: ``obs``, ``action``, ``reward`` (1 on reaching the collection
    goal), ``next_obs`` and ``goal``. Pure and vmapped over episodes (jit it with ``num`` and
    ``length`` static). ``maze`` should have ``terminate_at_goal=False``."""
    stitch = kind == "stitch"

    def new_goal(k: PRNGKey, pos: jax.Array) -> jax.Array:
        if stitch:
            return maze.cell_at_distance(k, maze.cell_of(pos), 4)
        return maze.random_cell(k, vertex_only=True)

    def episode(k: PRNGKey) -> dict[str, jax.Array]:
        k_reset, k_goal, k_goal_noise, k_steps = jax.random.split(k, 4)
        state, _ = maze.reset(k_reset)
        state = maze.set_goal_cell(state, k_goal_noise, new_goal(k_goal, state.pos))

        def step(s: PointMazeState, k: PRNGKey) -> tuple[PointMazeState, dict[str, jax.Array]]:
            k_noise, k_cell, k_cell_noise = jax.random.split(k, 3)
            action = maze.oracle_action(s.pos, s.goal) + noise * jax.random.normal(k_noise, (2,))
            action = jnp.clip(action, -1.0, 1.0)
            nxt, ts = maze.step(s, action)
            success = ts.info["success"]
            moved = maze.set_goal_cell(nxt, k_cell_noise, new_goal(k_cell, nxt.pos))
            nxt = jax.tree.map(lambda a, b: jnp.where(success, a, b), moved, nxt)
            out = {
                "obs": s.pos,
                "action": action,
                "reward": success.astype(jnp.float32),
                "next_obs": ts.obs,
                "goal": s.goal,
            }
            return nxt, out

        _, traj = jax.lax.scan(step, state, jax.random.split(k_steps, length))
        return traj

    return jax.vmap(episode)(jax.random.split(key, num))


def generate_dataset(
    layout: str,
    key: PRNGKey,
    episodes: int,
    kind: DatasetKind = "navigate",
    length: int | None = None,
    noise: float = 0.5,
    batch: int = 64,
    progress: Callable[[int], Any] | None = None,
) -> Dataset:
    """An OGBench-style offline dataset of ``layout`` (states only; what DQC and GCFBC train on,
    and what ``experiments/make_dataset.py pointmaze`` writes).

    Episodes are collected ``batch`` at a time (one compile) with keys ``fold_in(key, first
    episode index)``; every episode ends in a timeout (no terminals). ``rewards`` are 1 on the
    step that reaches the collection goal, kept in ``goals`` (with ``physics["qpos"]`` = the
    position, as OGBench stores it). ``progress(n)`` is called after each batch.

    Raises:
        ValueError: unknown ``layout`` or ``kind``, or a count below 1, naming the argument.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
    if kind not in DEFAULT_EPISODE_LENGTH:
        raise ValueError(f"kind must be 'navigate' or 'stitch', got {kind!r}")
    length = DEFAULT_EPISODE_LENGTH[kind] if length is None else length
    for name, value in (("episodes", episodes), ("length", length), ("batch", batch)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    maze = dataclasses.replace(unwrap(make(layout)), terminate_at_goal=False)
    collect = jax.jit(
        lambda k: collect_episodes(maze, k, batch, length, noise, kind)  # one compile
    )
    parts = []
    for done in range(0, episodes, batch):
        parts.append(jax.device_get(collect(jax.random.fold_in(key, done))))
        if progress is not None:
            progress(min(batch, episodes - done))
    flat = {
        k: np.concatenate([p[k] for p in parts])[:episodes].reshape(episodes * length, -1)
        for k in parts[0]
    }
    timeouts = np.zeros((episodes, length), bool)
    timeouts[:, -1] = True
    return Dataset.create(
        observations=flat["obs"],
        actions=flat["action"],
        rewards=flat["reward"][:, 0],
        terminals=np.zeros(episodes * length, bool),
        timeouts=timeouts.reshape(-1),
        next_observations=flat["next_obs"],
        goals=flat["goal"],
        physics={"qpos": flat["obs"]},
    )


def plot_episode(env: PointMaze | PointMazeEnv, states: Any, ax: Any = None) -> Any:
    """Draw one episode of ``env`` with matplotlib: wall cells, the path of the point, its start
    and the goal (with its tolerance circle). ``states`` are the env's states in order, stacked
    on a leading time axis (or a list of them). Returns the matplotlib ``Axes``."""
    import matplotlib.pyplot as plt

    maze = unwrap(env)
    if isinstance(states, list | tuple):
        states = jax.tree.map(lambda *xs: np.stack(xs), *states)
    while isinstance(states, TimeLimitState):
        states = states.inner
    pos, goal = np.asarray(states.pos), np.asarray(states.goal)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5 * maze.shape[0] / maze.shape[1]))
    rows, cols = maze.shape
    ax.imshow(maze.walls, cmap="Greys", origin="lower", extent=(-0.5, cols - 0.5, -0.5, rows - 0.5))
    ax.plot(pos[:, 0], pos[:, 1], "-", color="tab:blue", lw=1.5, label="path")
    ax.plot(*pos[0], "o", color="tab:blue", label="start")
    ax.add_patch(plt.Circle(tuple(goal[-1]), maze.goal_tol, color="tab:green", alpha=0.4))
    ax.plot(*goal[-1], "*", color="tab:green", markersize=12, label="goal")
    ax.set_xlabel("x (cells)")
    ax.set_ylabel("y (cells)")
    ax.legend(loc="upper right", fontsize="small")
    return ax


__all__ = [
    "LAYOUTS",
    "TASKS",
    "DEFAULT_EPISODE_LENGTH",
    "DatasetKind",
    "collect_episodes",
    "generate_dataset",
    "PointMaze",
    "PointMazeEnv",
    "PointMazeState",
    "evaluate_tasks",
    "GOAL_SUFFIX",
    "make",
    "make_by_name",
    "plot_episode",
    "registry_names",
    "to_ogbench_xy",
    "unwrap",
]
