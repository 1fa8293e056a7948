"""Grid-navigation tasks on XLand-MiniGrid (Nikulin et al. 2024, the ``xminigrid`` package),
behind jaxrl's env protocol, for polychromic PPO (Hamid et al. 2025, arXiv 2509.25424).

- ``minigrid/FourRooms``: MiniGrid's Four Rooms (19 x 19, four rooms joined by one door in each
  inner wall, goal and agent placed at random), exactly xminigrid's ``MiniGrid-FourRooms``
  generator. ``num_configs`` fixed configurations (the paper's "50 configs"): the reset draws
  one of ``num_configs`` fixed generator keys, ``reset_to_task(key, i)`` builds configuration
  ``i`` (``num_tasks`` of them), so :func:`jaxrl.rollout.task_episodes` scores every
  configuration and :mod:`jaxrl.passk` turns that into pass@k. ``num_configs=0`` draws a new
  random configuration every reset.
- ``minigrid/MultiRoute``: our small task with **two equally short routes**. A 9 x 9 four-room
  grid with the goal in the bottom-right room; the agent starts in the top-left room. The
  configurations are every start pose (cell and heading) in the top-left room from which the
  route through the top-right room and the route through the bottom-left room take the same
  number of actions (:func:`shortest_distances`; 18 poses), so a policy that reaches the goal by
  one route only has given up an equally good other. ``blocked`` closes one route's first door
  (a perturbation for testing: a policy that kept only the other route fails).

Shared by both:

- **Reward**: on reaching the goal at step ``t`` (counted from 1), ``1 - time_penalty * t / H``
  with ``H = max_steps``; 0 otherwise. The paper lowers MiniGrid's 0.9 to 0.5 ("a lowered time
  penalty improves diversity", polychromic.md §3); ``time_penalty=0.9`` is MiniGrid's.
  ``terminated`` on the goal, ``truncated`` at ``H`` steps.
- **Observation**: xminigrid's egocentric 7 x 7 view of (tile, colour) ids, one-hot encoded
  (13 tiles + 12 colours per cell) and flattened to 1225 floats; with ``observe_pose`` the
  agent's row, column and heading follow, one-hot (the paper's FourRooms policy reads the view
  only, so that is the default there; MultiRoute observes the pose by default, which makes its
  fixed layout fully observed).
- **Actions**: xminigrid's six (forward, turn right, turn left, pick up, put down, toggle); the
  last three do nothing in these tasks.
- ``info``: ``success`` (1.0 on the step that reaches the goal), ``room`` (the agent's room
  after the step: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right, -1 in a doorway, which
  belongs to no room) and ``config`` (the configuration index; -1 for a random one). The set
  of rooms a trajectory visits is what polychromic PPO's diversity compares ("trajectories that
  visit different sets of rooms", polychromic.md §2.3; ``signature_key="room"``).
- **Snapshots**: the env state is a pytree (:class:`GridState`, xminigrid's own ``TimeStep``
  plus the configuration index) and ``step`` is a pure function of it, so a saved state
  restores the episode exactly (``restorable = True``); branching N rollouts from a state is
  broadcasting it.
- **Perturbation** (FourRooms, ``perturb=True``): each configuration's agent starts in a
  different room from the one the generator chose, at a free cell drawn from the configuration's
  own key (so the perturbed configurations are fixed too); the paper's "initial state in a
  different room" (its protocol details are unknown, polychromic.md §3).

:func:`shortest_distances` (breadth-first search over cells and headings) gives the expert:
:func:`expert_action` takes one of the actions that start a shortest path, **at random among
ties**, so demonstrations cover every equally short route; :func:`expert_dataset` collects them
as a :class:`jaxrl.data.Dataset` (``experiments/make_dataset.py minigrid``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.types import Discrete, EnvSpec, PRNGKey, TimeStep

try:  # the optional extra: pip install "jaxrl[minigrid]"
    import xminigrid
    from xminigrid.core.constants import (
        NUM_ACTIONS,
        NUM_COLORS,
        NUM_TILES,
        TILES_REGISTRY,
        Colors,
        Tiles,
    )
    from xminigrid.core.goals import AgentOnTileGoal
    from xminigrid.core.observation import transparent_field_of_view
    from xminigrid.core.rules import EmptyRule
    from xminigrid.types import AgentState, EnvCarry, State, StepType
    from xminigrid.types import TimeStep as GridTimeStep
except ImportError:  # pragma: no cover - exercised only without the extra
    xminigrid = None

ENV_NAMES = ("FourRooms", "MultiRoute")
"""The tasks ``envs.make("minigrid/<name>")`` builds."""

ROOM_NAMES = ("top-left", "top-right", "bottom-left", "bottom-right")
"""Room ids 0..3 (-1 is a doorway)."""
DOORWAY = -1
FORWARD, TURN_RIGHT, TURN_LEFT = 0, 1, 2
"""xminigrid's movement actions (turn right = clockwise); 3..5 act on objects."""
_MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])  # xminigrid headings: up, right, down, left
_UNREACHABLE = np.int32(1 << 20)

Block = Literal["none", "top-right", "bottom-left"]


def _require_xminigrid() -> None:
    if xminigrid is None:
        raise ImportError(
            'the minigrid/ envs need xminigrid: pip install "jaxrl[minigrid]" (xminigrid 0.9.3)'
        )


class GridState(struct.PyTreeNode):
    """The env state (a snapshot): xminigrid's ``TimeStep`` (grid, agent, step count) and the
    configuration index (-1 for a random configuration)."""

    timestep: Any
    config: jax.Array


def room_of(position: jax.Array, height: int, width: int) -> jax.Array:
    """The room of a cell ``(row, col)`` of a four-room grid whose inner walls are row
    ``height // 2`` and column ``width // 2``: 0 top-left, 1 top-right, 2 bottom-left,
    3 bottom-right, :data:`DOORWAY` (-1) on the inner walls (their door cells)."""
    row, col = position[..., 0], position[..., 1]
    mid_r, mid_c = height // 2, width // 2
    room = 2 * (row > mid_r).astype(jnp.int32) + (col > mid_c).astype(jnp.int32)
    return jnp.where((row == mid_r) | (col == mid_c), DOORWAY, room)


def shortest_distances(walkable: jax.Array, goal: jax.Array, iterations: int) -> jax.Array:
    """Breadth-first search backwards from ``goal`` over (row, col, heading) states with the
    actions forward / turn right / turn left: ``d[r, c, h]`` is the fewest actions that reach
    ``goal`` from cell ``(r, c)`` facing ``h``, or ``_UNREACHABLE`` beyond ``iterations`` actions.

    ``walkable`` is ``[H, W]`` bool (the goal cell is walkable; the border is not), ``goal`` a
    ``(row, col)`` pair. ``iterations`` static Bellman sweeps ``d <- min(d, 1 + d(next))``; each
    sweep extends the frontier by one action, so ``iterations`` >= the longest path needed
    (the episode limit) gives exact distances. Jittable and vmappable over grids.
    """
    walkable = jnp.asarray(walkable, bool)
    h, w = walkable.shape
    goal_mask = jnp.zeros((h, w), bool).at[goal[0], goal[1]].set(True)
    d0 = jnp.where(goal_mask[..., None], 0, _UNREACHABLE) * jnp.ones((1, 1, 4), jnp.int32)

    def forward(d: jax.Array) -> jax.Array:
        # the distance after moving forward: the next cell's (same heading) if it is walkable,
        # else the same state (a bump costs an action and changes nothing)
        cols = []
        for k, (dr, dc) in enumerate(_MOVES):
            shifted = jnp.roll(d[..., k], (-dr, -dc), axis=(0, 1))
            ok = jnp.roll(walkable, (-dr, -dc), axis=(0, 1))
            cols.append(jnp.where(ok, shifted, d[..., k]))
        return jnp.stack(cols, axis=-1)

    def sweep(_: int, d: jax.Array) -> jax.Array:
        best = jnp.minimum(forward(d), jnp.roll(d, -1, axis=-1))  # turn right: heading + 1
        best = jnp.minimum(best, jnp.roll(d, 1, axis=-1))  # turn left: heading - 1
        new = jnp.minimum(d, jnp.minimum(best + 1, _UNREACHABLE))
        return jnp.where(goal_mask[..., None], 0, jnp.where(walkable[..., None], new, d))

    return jax.lax.fori_loop(0, iterations, sweep, d0)


def action_distances(
    distances: jax.Array, walkable: jax.Array, position: jax.Array, heading: jax.Array
) -> jax.Array:
    """``[3]``: the distance to the goal after each movement action (forward, turn right, turn
    left) from ``position`` facing ``heading``."""
    row, col = position[0], position[1]
    move = jnp.asarray(_MOVES)[heading]
    h, w = walkable.shape
    nr, nc = jnp.clip(row + move[0], 0, h - 1), jnp.clip(col + move[1], 0, w - 1)
    fwd = jnp.where(walkable[nr, nc], distances[nr, nc, heading], distances[row, col, heading])
    right = distances[row, col, (heading + 1) % 4]
    left = distances[row, col, (heading - 1) % 4]
    return jnp.stack([fwd, right, left])


def expert_action(
    distances: jax.Array, walkable: jax.Array, position: jax.Array, heading: jax.Array, key: PRNGKey
) -> jax.Array:
    """A shortest-path action, uniformly at random among the movement actions that tie for the
    shortest remaining distance (so every equally short route is demonstrated)."""
    after = action_distances(distances, walkable, position, heading)
    best = after == jnp.min(after)
    return jax.random.categorical(key, jnp.where(best, 0.0, -jnp.inf)).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class _GridWorld:
    """What both tasks share: stepping, the reward, the observation, rooms and ``info``."""

    time_penalty: float = 0.5
    """Success reward 1 - time_penalty * t / max_steps (the paper's 0.5; MiniGrid's 0.9)."""
    observe_pose: bool = False
    """Append the agent's one-hot row, column and heading to the view."""
    max_steps: int = 100
    """Episode time limit H."""

    height = 19
    width = 19
    name = ""

    def __post_init__(self) -> None:
        _require_xminigrid()
        if not 0.0 <= self.time_penalty <= 1.0:
            raise ValueError(f"time_penalty must be in [0, 1], got {self.time_penalty!r}")
        if (
            isinstance(self.max_steps, bool)
            or not isinstance(self.max_steps, int)
            or self.max_steps < 1
        ):
            raise ValueError(f"max_steps must be an int >= 1, got {self.max_steps!r}")

    # the protocol -----------------------------------------------------------------------------

    restorable = True
    """Env states are exact snapshots: ``step`` from a saved state repeats the episode."""

    @property
    def spec(self) -> EnvSpec:
        view = 7 * 7 * (NUM_TILES + NUM_COLORS)
        pose = self.height + self.width + 4 if self.observe_pose else 0
        return EnvSpec(
            name=self.name,
            obs_shape=(view + pose,),
            action_space=Discrete(int(NUM_ACTIONS)),
            max_episode_steps=self.max_steps,
        )

    @property
    def params(self) -> Any:
        return xminigrid.environment.EnvParams(
            height=self.height, width=self.width, max_steps=self.max_steps
        )

    def _observe(self, ts: Any) -> jax.Array:
        view = ts.observation.astype(jnp.int32)
        parts = [
            jax.nn.one_hot(view[..., 0], NUM_TILES).reshape(-1),
            jax.nn.one_hot(view[..., 1], NUM_COLORS).reshape(-1),
        ]
        if self.observe_pose:
            agent = ts.state.agent
            parts += [
                jax.nn.one_hot(agent.position[0], self.height),
                jax.nn.one_hot(agent.position[1], self.width),
                jax.nn.one_hot(agent.direction, 4),
            ]
        return jnp.concatenate(parts).astype(jnp.float32)

    def _timestep(self, state: GridState, reward, terminated, truncated) -> TimeStep:
        ts = state.timestep
        return TimeStep(
            obs=self._observe(ts),
            reward=jnp.asarray(reward, jnp.float32),
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.asarray(truncated, bool),
            info={
                "success": jnp.asarray(terminated, jnp.float32),
                "room": room_of(ts.state.agent.position, self.height, self.width),
                "config": state.config,
            },
        )

    def _start(self, grid_state: Any, config: jax.Array) -> tuple[GridState, TimeStep]:
        params = self.params
        ts = GridTimeStep(
            state=grid_state,
            step_type=StepType.FIRST,
            reward=jnp.asarray(0.0),
            discount=jnp.asarray(1.0),
            observation=transparent_field_of_view(
                grid_state.grid, grid_state.agent, params.view_size, params.view_size
            ),
        )
        state = GridState(timestep=ts, config=jnp.asarray(config, jnp.int32))
        return state, self._timestep(state, 0.0, False, False)

    def step(self, state: GridState, action: jax.Array) -> tuple[GridState, TimeStep]:
        ts = _XMINIGRID_ENV.step(self.params, state.timestep, jnp.asarray(action, jnp.int32))
        terminated = ts.discount == 0.0
        t = ts.state.step_num.astype(jnp.float32)
        reward = jnp.where(terminated, 1.0 - self.time_penalty * t / self.max_steps, 0.0)
        truncated = (ts.state.step_num >= self.max_steps) & ~terminated
        new = GridState(timestep=ts, config=state.config)
        return new, self._timestep(new, reward, terminated, truncated)

    # helpers for experts and diversity --------------------------------------------------------

    def walkable(self, state: GridState) -> jax.Array:
        """``[H, W]``: cells the agent can enter (floor and goal)."""
        tiles = state.timestep.state.grid[..., 0]
        return (tiles == Tiles.FLOOR) | (tiles == Tiles.GOAL)

    def goal_position(self, state: GridState) -> jax.Array:
        """``(row, col)`` of the goal tile."""
        tiles = state.timestep.state.grid[..., 0]
        flat = jnp.argmax((tiles == Tiles.GOAL).reshape(-1))
        return jnp.stack([flat // self.width, flat % self.width])

    def distances(self, state: GridState) -> jax.Array:
        """:func:`shortest_distances` to the goal of the episode of ``state``."""
        return shortest_distances(self.walkable(state), self.goal_position(state), self.max_steps)

    def room(self, state: GridState) -> jax.Array:
        """The agent's room (:func:`room_of`)."""
        return room_of(state.timestep.state.agent.position, self.height, self.width)


# The xminigrid Environment whose step the tasks use (every MiniGrid task steps alike: move,
# check the goal tile); its problem generator is replaced by the tasks' own.
_XMINIGRID_ENV = None if xminigrid is None else xminigrid.make("MiniGrid-FourRooms")[0]
_GOAL = (
    None if xminigrid is None else AgentOnTileGoal(tile=TILES_REGISTRY[Tiles.GOAL, Colors.GREEN])
)


def _problem(grid: jax.Array, agent: Any, key: PRNGKey) -> Any:
    return State(
        key=key,
        step_num=jnp.asarray(0),
        grid=grid,
        agent=agent,
        goal_encoding=_GOAL.encode(),
        rule_encoding=EmptyRule().encode()[None, ...],
        carry=EnvCarry(),
    )


@dataclasses.dataclass(frozen=True)
class FourRooms(_GridWorld):
    """MiniGrid Four Rooms with fixed configurations (see the module docstring)."""

    num_configs: int = 50
    """Fixed configurations (generator keys) the resets draw from; 0: a new random one each
    reset."""
    config_seed: int = 0
    """Seed of the fixed configurations' keys."""
    perturb: bool = False
    """Start the agent in a different room from its configuration's (fixed per configuration)."""

    name = "minigrid/FourRooms"

    def __post_init__(self) -> None:
        super().__post_init__()
        for field in ("num_configs", "config_seed"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{field} must be an int >= 0, got {value!r}")

    @property
    def num_tasks(self) -> int:
        """Evaluation tasks = fixed configurations (needs ``num_configs >= 1``)."""
        return self.num_configs

    def config_key(self, config: jax.Array) -> PRNGKey:
        """The generator key of fixed configuration ``config``."""
        return jax.random.fold_in(jax.random.PRNGKey(self.config_seed), config)

    def _generate(self, key: PRNGKey) -> Any:
        problem = _XMINIGRID_ENV._generate_problem(self.params, key)
        if not self.perturb:
            return problem
        agent = problem.agent
        rows, cols = jnp.meshgrid(jnp.arange(self.height), jnp.arange(self.width), indexing="ij")
        rooms = room_of(jnp.stack([rows, cols], -1), self.height, self.width)
        home = room_of(agent.position, self.height, self.width)
        free = (problem.grid[..., 0] == Tiles.FLOOR) & (rooms != DOORWAY) & (rooms != home)
        cell = jax.random.categorical(
            jax.random.fold_in(key, 1), jnp.where(free.reshape(-1), 0.0, -jnp.inf)
        )
        position = jnp.stack([cell // self.width, cell % self.width]).astype(agent.position.dtype)
        return problem.replace(agent=agent.replace(position=position))

    def reset_to_task(self, key: PRNGKey, task_id: jax.Array) -> tuple[GridState, TimeStep]:
        """Fixed configuration ``task_id`` (``key`` is unused: a configuration is fixed)."""
        del key
        return self._start(self._generate(self.config_key(task_id)), task_id)

    def reset(self, key: PRNGKey) -> tuple[GridState, TimeStep]:
        if self.num_configs == 0:
            return self._start(self._generate(key), -1)
        return self.reset_to_task(key, jax.random.randint(key, (), 0, self.num_configs))


@functools.cache
def _multiroute_layout(block: str) -> tuple[np.ndarray, tuple[int, int], np.ndarray]:
    """MultiRoute's walls, goal and tied start poses ``[K, 3]`` (row, col, heading)."""
    n, mid = 9, 4
    doors = {"top-right": (3, mid), "bottom-left": (mid, 3), "tr-br": (mid, 7), "bl-br": (5, mid)}
    goal = (7, 7)

    def walkable(closed: tuple[str, ...]) -> np.ndarray:
        w = np.ones((n, n), bool)
        w[[0, -1], :] = w[:, [0, -1]] = False
        w[mid, :] = w[:, mid] = False
        for name, (r, c) in doors.items():
            w[r, c] = name not in closed
        return w

    def dist(w: np.ndarray) -> np.ndarray:
        with jax.ensure_compile_time_eval():  # concrete even when first called under jit
            return np.asarray(shortest_distances(w, np.array(goal), 4 * n * n))

    via_top_right = dist(walkable(("bottom-left",)))
    via_bottom_left = dist(walkable(("top-right",)))
    poses = [
        (r, c, h)
        for r in range(1, mid)
        for c in range(1, mid)
        for h in range(4)
        if via_top_right[r, c, h] == via_bottom_left[r, c, h] < _UNREACHABLE
    ]
    closed = () if block == "none" else (block,)
    return walkable(closed), goal, np.array(poses, np.int32)


@dataclasses.dataclass(frozen=True)
class MultiRoute(_GridWorld):
    """Two equally short routes to the goal (see the module docstring)."""

    observe_pose: bool = True
    max_steps: int = 50
    blocked: Block = "none"
    """Close the first door of one route ("top-right": top-left -> top-right room;
    "bottom-left": top-left -> bottom-left room); the configurations stay those of the open
    grid."""

    height = 9
    width = 9
    name = "minigrid/MultiRoute"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.blocked not in ("none", "top-right", "bottom-left"):
            raise ValueError(
                f"blocked must be 'none', 'top-right' or 'bottom-left', got {self.blocked!r}"
            )
        _multiroute_layout(self.blocked)  # the layout's search runs once, here

    @property
    def start_poses(self) -> np.ndarray:
        """``[K, 3]``: the configurations, start (row, col, heading) with tied routes."""
        return _multiroute_layout("none")[2]

    @property
    def num_tasks(self) -> int:
        return int(self.start_poses.shape[0])

    ROUTE_ROOMS = {"top-right": (0, 1, 3), "bottom-left": (0, 2, 3)}
    """The rooms each route visits (top-left, top-right, bottom-right; top-left, bottom-left,
    bottom-right)."""

    def reset_to_task(self, key: PRNGKey, task_id: jax.Array) -> tuple[GridState, TimeStep]:
        """Start pose ``task_id`` (``key`` is unused: a configuration is fixed)."""
        walkable, goal, _ = _multiroute_layout(self.blocked)
        wall = TILES_REGISTRY[Tiles.WALL, Colors.GREY]
        floor = TILES_REGISTRY[Tiles.FLOOR, Colors.BLACK]
        grid = jnp.where(jnp.asarray(walkable)[..., None], floor, wall)
        grid = grid.at[goal[0], goal[1]].set(TILES_REGISTRY[Tiles.GOAL, Colors.GREEN])
        pose = jnp.asarray(self.start_poses)[task_id]
        agent = AgentState(position=pose[:2], direction=pose[2])
        return self._start(_problem(grid, agent, jax.random.PRNGKey(0)), task_id)

    def reset(self, key: PRNGKey) -> tuple[GridState, TimeStep]:
        return self.reset_to_task(key, jax.random.randint(key, (), 0, self.num_tasks))


def make(name: str, **kwargs: Any) -> _GridWorld:
    """``FourRooms`` or ``MultiRoute`` with keyword arguments (their fields)."""
    _require_xminigrid()
    tasks = {"FourRooms": FourRooms, "MultiRoute": MultiRoute}
    if name not in tasks:
        raise ValueError(
            f"unknown minigrid env {name!r}; valid names are: "
            + ", ".join(f"minigrid/{n}" for n in ENV_NAMES)
        )
    return tasks[name](**kwargs)


def expert_episodes(
    env: _GridWorld, key: PRNGKey, num_episodes: int, epsilon: float = 0.0
) -> dict[str, jax.Array]:
    """``num_episodes`` episodes of the shortest-path expert (:func:`expert_action`, random among
    ties), each from ``env.reset``; with ``epsilon`` a uniformly random action (of all six)
    replaces the expert's with that probability.

    Returns episode-major arrays ``[num_episodes, max_steps, ...]``: ``obs``, ``action``,
    ``reward``, ``terminated``, ``truncated``, ``next_obs``, ``room`` and ``valid`` (True up to
    and including each episode's last step).
    """

    def episode(k: PRNGKey) -> dict[str, jax.Array]:
        k_reset, k_run = jax.random.split(k)
        state, ts = env.reset(k_reset)
        dist, walkable = env.distances(state), env.walkable(state)

        def body(carry, step_key):
            state, obs, alive = carry
            k_expert, k_noise, k_random = jax.random.split(step_key, 3)
            agent = state.timestep.state.agent
            action = expert_action(dist, walkable, agent.position, agent.direction, k_expert)
            noisy = jax.random.uniform(k_noise) < epsilon
            action = jnp.where(noisy, jax.random.randint(k_random, (), 0, NUM_ACTIONS), action)
            new_state, ts = env.step(state, action)
            row = dict(
                obs=obs,
                action=action,
                reward=ts.reward,
                terminated=ts.terminated,
                truncated=ts.truncated,
                next_obs=ts.obs,
                room=ts.info["room"],
                valid=alive,
            )
            return (new_state, ts.obs, alive & ~ts.done), row

        keys = jax.random.split(k_run, env.max_steps)
        _, rows = jax.lax.scan(body, (state, ts.obs, jnp.asarray(True)), keys)
        return rows

    return jax.jit(jax.vmap(episode))(jax.random.split(key, num_episodes))


def expert_dataset(env: _GridWorld, key: PRNGKey, num_episodes: int, epsilon: float = 0.0) -> Any:
    """The expert's episodes (:func:`expert_episodes`) as a :class:`jaxrl.data.Dataset`
    (valid steps only, one episode after another)."""
    from jaxrl import data

    rows = jax.tree.map(np.asarray, expert_episodes(env, key, num_episodes, epsilon))
    keep = rows["valid"].reshape(-1)
    flat = {k: v.reshape(-1, *v.shape[2:])[keep] for k, v in rows.items()}
    return data.Dataset.create(
        observations=flat["obs"],
        actions=flat["action"],
        rewards=flat["reward"],
        terminals=flat["terminated"],
        timeouts=flat["truncated"],
        next_observations=flat["next_obs"],
    )
