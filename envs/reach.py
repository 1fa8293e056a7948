"""``reach/fourrooms``: a pure-JAX point mass in four rooms with four reach tasks, the cheap
zero-shot domain (a :class:`jaxrl.zero_shot.TaskDomain`) that mirrors ExORL's point-mass maze.

    env = envs.make("reach/fourrooms")          # reward-free; info["task_rewards"] [4]
    task = zero_shot.task_env(env, "reach_bottom_right")   # the same env rewarding one task

The point moves like :class:`jaxrl.envs.pointmaze.PointMaze` (``step_size`` cells per unit
action, walls stop it) in a 9 x 9 grid of four 3 x 3 rooms joined by four doors, and starts
anywhere in the top-left room (``reach/fourrooms``, the exploration domain) or anywhere in the
maze (``reach/fourrooms-anywhere``, as ExORL's point-mass maze; zero-shot evaluation). The
observation is its position ``(x, y)`` in cells. The four tasks reward reaching the maze's
outer corner cell of one room (:data:`TARGETS`), with dm_control's gaussian ``tolerance``: 1
within ``target_radius`` of the cell's centre, falling to 0.1 at ``margin`` beyond it (ExORL's
point-mass maze has the same four reach_{top,bottom}_{left,right} tasks with targets in the far
corners of its rooms; its rewards are dm_control's sparse target-size test, the margin here gives
an uninformed explorer's data some signal).

Episodes last 200 steps (no termination): 40 cells of travel at full speed, more than three
times the shortest path from the start room to the opposite room's corner (12 cells), while a
random walk drifts about 1.6 cells, so random data stay in the start room and RND's reach the
others.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.pointmaze import PointMaze, PointMazeState
from jaxrl.envs.wrappers import TimeLimit, TimeLimitState
from jaxrl.types import EnvSpec, PRNGKey, TimeStep
from jaxrl.zero_shot import PHYSICS_INFO, TASK_REWARDS_INFO

FOURROOMS: tuple[str, ...] = (
    "#########",
    "#...#...#",
    "#.......#",
    "#...#...#",
    "##.###.##",
    "#...#...#",
    "#.......#",
    "#...#...#",
    "#########",
)
"""Four 3 x 3 rooms; doors at cells (2, 4), (6, 4), (4, 2) and (4, 6) (row, column)."""

TARGETS: dict[str, tuple[int, int]] = {
    "reach_top_left": (1, 1),
    "reach_top_right": (1, 7),
    "reach_bottom_left": (7, 1),
    "reach_bottom_right": (7, 7),
}
"""Each task's target cell (row, column): the maze's outer corner cell in that room, as ExORL's
point-mass-maze targets sit in the far corners of its four rooms; rows grow downwards."""

START_ROOM: tuple[tuple[int, int], ...] = tuple((i, j) for i in (1, 2, 3) for j in (1, 2, 3))
"""The cells of the top-left room, where every episode of ``start="top_left"`` starts."""

Start = Literal["top_left", "anywhere"]
"""Where episodes start (uniformly over the cells, with reset noise): the top-left room (the
exploration domain, where random data stay near the start and an explorer must travel) or
any free cell (ExORL's point-mass maze, which randomises the start over the arena; the
zero-shot evaluation)."""

NAMES: dict[str, str] = {"top_left": "reach/fourrooms", "anywhere": "reach/fourrooms-anywhere"}
"""The registry name of each start distribution (``envs.make`` rebuilds the env from it)."""


def tolerance(distance: jax.Array, bound: float, margin: float) -> jax.Array:
    """dm_control's ``rewards.tolerance(x, bounds=(0, bound), margin, sigmoid="gaussian",
    value_at_margin=0.1)`` for a distance: 1 inside ``bound``, else
    ``0.1 ** (((distance - bound) / margin) ** 2)``."""
    excess = jnp.maximum(distance - bound, 0.0) / margin
    return jnp.exp(math.log(0.1) * excess**2)


@dataclasses.dataclass(frozen=True)
class _Reach:
    """The reward-free point mass (no time limit; :func:`make` adds it)."""

    maze: PointMaze
    target_radius: float
    margin: float
    start: Start = "top_left"

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            name=NAMES[self.start],
            obs_shape=(2,),
            action_space=self.maze.spec.action_space,
            max_episode_steps=200,
        )

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(TARGETS)

    def targets(self) -> jax.Array:
        """``[T, 2]`` the targets' ``(x, y)`` positions."""
        return self.maze.cell_center(jnp.asarray(list(TARGETS.values())))

    def task_rewards(self, physics: dict[str, jax.Array], action: jax.Array) -> jax.Array:
        """``[T]``: :func:`tolerance` of the distance from ``physics["pos"]`` to each target
        (the action does not enter)."""
        del action
        distance = jnp.linalg.norm(physics["pos"][None] - self.targets(), axis=-1)
        return tolerance(distance, self.target_radius, self.margin).astype(jnp.float32)

    def _timestep(self, state: PointMazeState, action: jax.Array) -> TimeStep:
        physics = {"pos": state.pos}
        return TimeStep(
            obs=state.pos,
            reward=jnp.zeros((), jnp.float32),
            terminated=jnp.zeros((), bool),
            truncated=jnp.zeros((), bool),
            info={PHYSICS_INFO: physics, TASK_REWARDS_INFO: self.task_rewards(physics, action)},
        )

    def reset(self, key: PRNGKey) -> tuple[PointMazeState, TimeStep]:
        k_cell, k_pos = jax.random.split(key)
        cells = jnp.asarray(START_ROOM if self.start == "top_left" else self.maze.free_cells)
        cell = cells[jax.random.randint(k_cell, (), 0, cells.shape[0])]
        state, _ = self.maze.reset_to_cells(k_pos, cell, cell)
        return state, self._timestep(state, jnp.zeros((2,), jnp.float32))

    def step(self, state: PointMazeState, action: jax.Array) -> tuple[PointMazeState, TimeStep]:
        state, _ = self.maze.step(state, action)
        return state, self._timestep(state, jnp.reshape(action, (2,)))


@dataclasses.dataclass(frozen=True)
class ReachEnv(TimeLimit):
    """The four-room reach domain with its time limit (what :func:`make` returns)."""

    env: _Reach

    @property
    def task_names(self) -> tuple[str, ...]:
        """``reach_{top,bottom}_{left,right}``, the order of ``info["task_rewards"]``."""
        return self.env.task_names

    def task_rewards(self, physics: dict[str, jax.Array], action: jax.Array) -> jax.Array:
        """See :meth:`_Reach.task_rewards`."""
        return self.env.task_rewards(physics, action)

    @property
    def maze(self) -> PointMaze:
        """The underlying point maze (cells, walls, :meth:`PointMaze.cell_of`)."""
        return self.env.maze

    def observe(self, state: TimeLimitState) -> jax.Array:
        return state.inner.pos


def make(
    start: Start = "top_left",
    max_episode_steps: int = 200,
    step_size: float = 0.2,
    target_radius: float = 0.5,
    margin: float = 1.0,
) -> ReachEnv:
    """The domain, starting as ``start`` says: ``step_size`` cells per unit action, targets of
    radius ``target_radius`` cells with a ``margin``-cell gaussian shoulder (see the module
    docstring)."""
    for name, value in (("step_size", step_size), ("target_radius", target_radius)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1) cells, got {value}")
    if not isinstance(max_episode_steps, int) or max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be an int >= 1, got {max_episode_steps!r}")
    if start not in NAMES:
        raise ValueError(f"start must be one of {', '.join(NAMES)}, got {start!r}")
    if not margin > 0:
        raise ValueError(f"margin must be > 0 cells, got {margin}")
    maze = PointMaze(
        name="fourrooms",
        maze_map=FOURROOMS,
        tasks=(((2, 2), (6, 6)),),
        step_size=step_size,
        terminate_at_goal=False,
    )
    return ReachEnv(_Reach(maze, target_radius, margin, start), max_episode_steps)


def coverage(env: ReachEnv, positions: np.ndarray, bins_per_cell: int = 4) -> float:
    """The fraction of the maze's free area that ``positions [..., 2]`` visit: each free cell is
    split into ``bins_per_cell^2`` squares and a square counts once any position falls in it."""
    pos = np.asarray(positions, np.float64).reshape(-1, 2)
    k = bins_per_cell
    bins = np.floor((pos + 0.5) * k).astype(np.int64)  # (x, y) bin indices
    visited = {(int(by), int(bx)) for bx, by in bins}
    free = ~env.maze.walls
    total = int(free.sum()) * k * k
    inside = sum(1 for by, bx in visited if free[by // k, bx // k])
    return inside / total
