"""envs/pointmaze.py: walls, resets, the BFS oracle, task evaluation and the registry."""

from __future__ import annotations

import dataclasses
import functools
from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.envs import pointmaze as pm
from jaxrl.envs.wrappers import TimeLimit
from jaxrl.rollout import VecEnv

LAYOUTS = ("medium", "large")


def oracle_policy(maze, noise: float = 0.0):
    def act(obs, goal, key):
        a = maze.oracle_action(obs, goal)
        return jnp.clip(a + noise * jax.random.normal(key, (2,)), -1.0, 1.0)

    return act


def random_policy(obs, goal, key):
    return jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)


@functools.cache
def run_eval(layout: str, policy: str, episodes: int, seed: int = 0) -> dict[str, np.ndarray]:
    env = pm.make(layout)
    fn = {
        "oracle": oracle_policy(env.maze),
        "noisy": oracle_policy(env.maze, 0.5),
        "random": random_policy,
    }[policy]
    out = jax.jit(functools.partial(pm.evaluate_tasks, env, fn, episodes_per_task=episodes))(
        jax.random.key(seed)
    )
    return jax.tree.map(np.asarray, out)


def footprint_free(maze: pm.PointMaze, pos: np.ndarray) -> np.ndarray:
    """True where the point's square footprint (half-width radius) overlaps no wall cell.

    The square is smaller than a cell, so it overlaps a wall cell iff one of its corners lies
    inside it; corners are pulled in by 1e-5 so that touching a wall counts as free.
    """
    r = maze.radius - 1e-5
    free = np.ones(pos.shape[:-1], bool)
    for sx in (-r, r):
        for sy in (-r, r):
            i = np.clip(np.floor(pos[..., 1] + sy + 0.5).astype(int), 0, maze.shape[0] - 1)
            j = np.clip(np.floor(pos[..., 0] + sx + 0.5).astype(int), 0, maze.shape[1] - 1)
            free &= ~maze.walls[i, j]
    return free


@pytest.mark.parametrize("layout", ("medium", "large", "giant"))
def test_noiseless_oracle_solves_every_task(layout):
    r = run_eval(layout, "oracle", 10)
    np.testing.assert_array_equal(r["task_success"], 1.0)
    maze = pm.make(layout).maze
    bfs = np.array([int(maze.bfs_distance(jnp.array(s), jnp.array(g))) for s, g in maze.tasks])
    # 10 steps per cell; shortcuts across cells make it shorter, never longer than ~1 cell extra.
    lengths = r["episode_lengths"]
    assert np.all(lengths <= 10 * (bfs[:, None] + 1)), (lengths.max(1), bfs)
    assert np.all(lengths >= 10 * (bfs[:, None] - 2) * 0.7), (lengths.min(1), bfs)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_noisy_oracle_success_stays_high(layout):
    # N(0, 0.5^2) action noise, clipped: OGBench's navigate data collector. Measured 1.0 on every
    # task (100 episodes/task) with mean lengths 60-100 (medium) and 140-210 (large) of 1000.
    r = run_eval(layout, "noisy", 40)
    assert np.all(r["task_success"] >= 0.9), r["task_success"]
    assert r["success"] >= 0.95


@pytest.mark.parametrize("layout", LAYOUTS)
def test_random_policy_rarely_succeeds(layout):
    # Measured 0.004 (medium) and 0.0 (large) over 100 episodes/task.
    r = run_eval(layout, "random", 20)
    assert r["success"] <= 0.1, r["task_success"]


def test_random_actions_never_enter_walls():
    maze = pm.make("medium").maze
    stress = pm.PointMaze(step_size=0.5)  # half a cell per step: the largest allowed
    num_envs, steps = 64, 1500
    for m, sign_actions in ((maze, False), (stress, True)):

        def rollout(key, m=m, sign_actions=sign_actions):
            k_reset, k_act = jax.random.split(key)
            state, _ = jax.vmap(m.reset)(jax.random.split(k_reset, num_envs))

            def body(state, k):
                a = jax.random.uniform(k, (num_envs, 2), minval=-1.0, maxval=1.0)
                if sign_actions:  # push hard, diagonally, into walls and corners
                    a = jnp.sign(a)
                state, _ = jax.vmap(m.step)(state, a)
                return state, state.pos

            return jax.lax.scan(body, state, jax.random.split(k_act, steps))[1]

        pos = np.asarray(jax.jit(rollout)(jax.random.key(1)))
        assert np.isfinite(pos).all()
        cells = np.clip(np.floor(pos + 0.5).astype(int), 0, np.array(m.shape[::-1]) - 1)
        assert not m.walls[cells[..., 1], cells[..., 0]].any()
        assert footprint_free(m, pos).all()
        # It does explore: many distinct free cells are visited.
        visited = {tuple(c) for c in cells.reshape(-1, 2)}
        assert len(visited) >= 0.8 * len(m.free_cells)


def test_slides_along_walls_and_cannot_cut_corners():
    maze = pm.make("medium").maze
    state = pm.PointMazeState(pos=jnp.array([1.0, 1.0]), goal=jnp.array([6.0, 6.0]))
    for _ in range(20):  # press left (wall at column 0) while moving down
        state, _ = maze.step(state, jnp.array([-1.0, 0.3]))
    assert float(state.pos[0]) == pytest.approx(0.5 + maze.radius, abs=1e-3)
    assert float(state.pos[1]) == pytest.approx(1.0 + 20 * 0.03, abs=1e-4)
    # Two free cells touching only at a corner: pushing diagonally stays in the first cell.
    corner = pm.PointMaze(
        name="corner", maze_map=("####", "#.##", "##.#", "####"), tasks=(((1, 1), (2, 2)),)
    )
    state = pm.PointMazeState(pos=jnp.array([1.0, 1.0]), goal=jnp.array([2.0, 2.0]))
    for _ in range(50):
        state, ts = corner.step(state, jnp.array([1.0, 1.0]))
    lim = 1.5 - corner.radius
    assert float(state.pos[0]) <= lim and float(state.pos[1]) <= lim
    assert float(state.pos[0]) > lim - 1e-3 and float(state.pos[1]) > lim - 1e-3
    assert float(ts.reward) == 0.0
    assert int(corner.bfs_distance(jnp.array([1, 1]), jnp.array([2, 2]))) == -1


def test_resets_are_free_distinct_and_noisy():
    for layout in LAYOUTS:
        env = pm.make(layout)
        maze = env.maze
        state, ts = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(2), 2000))
        pos, goal = np.asarray(state.inner.pos), np.asarray(state.inner.goal)
        start_c, goal_c = np.floor(pos + 0.5).astype(int), np.floor(goal + 0.5).astype(int)
        assert not maze.walls[start_c[:, 1], start_c[:, 0]].any()
        assert not maze.walls[goal_c[:, 1], goal_c[:, 0]].any()
        assert np.any(start_c != goal_c, axis=1).all()
        assert footprint_free(maze, pos).all()
        assert np.abs(pos - start_c).max() <= maze.reset_noise + 1e-6
        assert np.abs(pos - start_c).max() > 0.9 * maze.reset_noise
        assert len({tuple(c) for c in start_c}) == len(maze.free_cells)  # every free cell
        np.testing.assert_array_equal(np.asarray(ts.obs), pos)
        np.testing.assert_array_equal(np.asarray(ts.info["goal"]), goal)
        assert not np.asarray(ts.terminated).any() and not np.asarray(ts.truncated).any()
        # Evaluation tasks start and end in OGBench's cells.
        for task_id, (s, g) in enumerate(maze.tasks):
            st, _ = env.reset_to_task(jax.random.key(task_id), task_id)
            assert tuple(np.asarray(maze.cell_of(st.inner.pos))) == s
            assert tuple(np.asarray(maze.cell_of(st.inner.goal))) == g


def test_bfs_tables_match_a_reference_bfs():
    maze = pm.make("large").maze
    walls = maze.walls

    def bfs(src):
        dist = {src: 0}
        queue = deque([src])
        while queue:
            i, j = queue.popleft()
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                n = (i + di, j + dj)
                if not walls[n] and n not in dist:
                    dist[n] = dist[(i, j)] + 1
                    queue.append(n)
        return dist

    cells = [tuple(c) for c in maze.free_cells]
    for src in cells[::5]:
        ref = bfs(src)
        got = maze.bfs_distance(jnp.array([src] * len(cells)), jnp.array(cells))
        np.testing.assert_array_equal(np.asarray(got), [ref[c] for c in cells])
        # The oracle subgoal from a cell centre is a neighbour one step closer to the goal.
        for goal in cells[::7]:
            if goal == src:
                continue
            sub = maze.oracle_subgoal(maze.cell_center(jnp.array(src)), maze.cell_center(goal))
            nxt = tuple(np.asarray(maze.cell_of(sub)))
            assert abs(nxt[0] - src[0]) + abs(nxt[1] - src[1]) == 1
            assert bfs(goal)[nxt] == bfs(goal)[src] - 1
    # Stitch-style goals: exactly 4 moves away.
    start = jnp.array([1, 1])
    goals = jax.vmap(lambda k: maze.cell_at_distance(k, start, 4))(
        jax.random.split(jax.random.key(0), 50)
    )
    np.testing.assert_array_equal(jax.vmap(maze.bfs_distance, (None, 0))(start, goals), 4)


def test_goal_reward_termination_and_time_limit():
    env = pm.make("medium")
    state, _ = env.reset_to_cells(jax.random.key(0), jnp.array([1, 1]), jnp.array([1, 2]))
    oracle = jax.jit(lambda s: env.step(s, env.oracle_action(s.inner.pos, s.inner.goal)))
    steps = 0
    while steps < 40:
        state, ts = oracle(state)
        steps += 1
        if bool(ts.terminated):
            break
    assert bool(ts.terminated) and not bool(ts.truncated)
    assert float(ts.reward) == 1.0 and float(ts.info["success"]) == 1.0
    dist = np.linalg.norm(np.asarray(state.inner.pos - state.inner.goal))
    assert dist <= env.maze.goal_tol and steps < 20

    # Standing still: no reward, truncated exactly at the 1000-step limit.
    state, _ = env.reset(jax.random.key(3))
    _, ts = jax.lax.scan(lambda s, _: env.step(s, jnp.zeros(2)), state, None, length=1000)
    trunc = np.asarray(ts.truncated)
    assert not trunc[:-1].any() and trunc[-1]
    assert not np.asarray(ts.terminated).any() and float(np.asarray(ts.reward).sum()) == 0.0


def test_vmap_hash_registry_and_goal_in_obs():
    env = envs.make("pointmaze-medium")
    assert isinstance(env, TimeLimit) and isinstance(env, pm.PointMazeEnv)
    assert hash(env) == hash(envs.make("pointmaze-medium")) and env == pm.make("medium")
    assert env.spec.obs_shape == (2,) and env.spec.max_episode_steps == 1000
    assert env.spec.action_space.shape == (2,)
    assert {"pointmaze-medium", "pointmaze-large"} <= set(envs.list_envs())
    with pytest.raises(ValueError, match="valid layouts are: medium, large"):
        envs.make("pointmaze-huge")

    large = envs.make("pointmaze-large", goal_in_obs=True)
    assert large.spec.obs_shape == (4,) and large.maze.shape == (9, 12)
    # vmap of reset/step equals the unbatched calls; the obs carries the goal.
    keys = jax.random.split(jax.random.key(4), 3)
    actions = jax.random.uniform(jax.random.key(5), (3, 2), minval=-1, maxval=1)
    states, ts = jax.vmap(large.reset)(keys)
    states2, ts2 = jax.vmap(large.step)(states, actions)
    for k in range(3):
        s, t = large.reset(keys[k])
        np.testing.assert_allclose(t.obs, ts.obs[k])
        np.testing.assert_allclose(t.obs[2:], t.info["goal"])
        _, t2 = large.step(s, actions[k])
        np.testing.assert_allclose(t2.obs, ts2.obs[k], atol=1e-6)
    # It runs under the library's VecEnv with autoreset.
    vec = VecEnv(large, num_envs=4)
    vstate = vec.reset(jax.random.key(6))
    vstate, vts = jax.jit(vec.step)(vstate, jnp.zeros((4, 2)))
    assert vts.obs.shape == (4, 4)
    np.testing.assert_allclose(pm.to_ogbench_xy(jnp.array([1.0, 1.0])), [0.0, 0.0])


# --- goal-conditioned evaluation through jaxrl.rollout (the agent acts on [pos, goal]) ----------


def obs_oracle(env, h_a: int = 1):
    """An agent-style policy on ``[pos, goal]`` observations; ``h_a > 1``: the first oracle
    action repeated ``h_a`` times (a chunk executed open loop)."""

    def act(obs, key):
        a = env.oracle_action(obs[:, :2], obs[:, 2:])
        return a if h_a == 1 else jnp.repeat(a[:, None], h_a, axis=1)

    return act


TASK_METRICS = {
    "eval_success",
    *(f"eval_success_task{i}" for i in range(5)),
    "eval_return",
    "eval_return_std",
    "eval_length",
}


def test_goal_conditioned_evaluation_per_task():
    from jaxrl import rollout

    env = envs.make("pointmaze-medium", goal_in_obs=True)
    assert rollout.has_tasks(env) and env.num_tasks == 5
    evaluate = jax.jit(
        lambda k, h: rollout.evaluate_tasks(env, obs_oracle(env, h), k, 8, chunk=h),
        static_argnums=1,
    )
    oracle = jax.device_get(evaluate(jax.random.key(0), 1))
    assert set(oracle) == TASK_METRICS and all(np.ndim(v) == 0 for v in oracle.values())
    assert all(oracle[f"eval_success_task{i}"] == 1.0 for i in range(5)), oracle
    assert oracle["eval_success"] == 1.0 == oracle["eval_return"]  # reward 1 at the goal only
    assert oracle["eval_length"] < 200
    # the same oracle through the thin pointmaze wrapper: the same episodes
    wrapped = pm.evaluate_tasks(
        env, lambda o, g, k: env.oracle_action(o, g), jax.random.key(0), 8, batched=True
    )
    assert float(wrapped["success"]) == 1.0
    np.testing.assert_allclose(float(wrapped["episode_length"]), oracle["eval_length"])
    # a chunked oracle (first action repeated h_a = 5 times, open loop) still solves the maze
    chunked = jax.device_get(evaluate(jax.random.key(0), 5))
    assert set(chunked) == TASK_METRICS
    assert all(chunked[f"eval_success_task{i}"] >= 0.75 for i in range(5)), chunked
    # zero actions never reach a goal in another cell: the whole time limit, no success
    zero = jax.jit(
        lambda k: rollout.evaluate_tasks(env, lambda o, kk: jnp.zeros((o.shape[0], 2)), k, 2)
    )(jax.random.key(1))
    assert float(zero["eval_success"]) == 0.0 and float(zero["eval_length"]) == 1000.0


def test_random_agent_policy_rarely_succeeds_per_task():
    from jaxrl import rollout

    env = envs.make("pointmaze-medium", goal_in_obs=True)

    def act(obs, key):
        return jax.random.uniform(key, (obs.shape[0], 2), minval=-1.0, maxval=1.0)

    out = jax.jit(lambda k: rollout.evaluate_tasks(env, act, k, 8))(jax.random.key(2))
    assert float(out["eval_success"]) <= 0.3, out


@dataclasses.dataclass(frozen=True)
class ChunkedOracleAgent:
    """A tiny Agent with ``action_chunk``: no learning, the oracle's first action repeated."""

    h_a: int = 3
    NAME = "chunked_oracle"

    def init(self, config, env, key):
        return {"step": jnp.zeros((), jnp.int32)}

    def train_step(self, config, env, state):
        return {"step": state["step"] + 1}, {"loss": jnp.zeros(())}

    def act(self, config, env, state, obs, key, deterministic=False):
        a = env.oracle_action(obs[:, :2], obs[:, 2:])
        return jnp.repeat(a[:, None], self.action_chunk(config), axis=1)

    def steps_per_iteration(self, config):
        return 1

    def action_chunk(self, config):
        return self.h_a


def test_train_evaluates_chunked_agents_per_task():
    import jaxrl

    env = envs.make("pointmaze-medium", goal_in_obs=True)
    result = jaxrl.train(
        ChunkedOracleAgent(),
        {},
        env,
        jax.random.key(0),
        2,
        chunk_steps=1,
        num_eval_episodes=12,  # ceil(12 / 5) = 3 episodes per task
        progress=False,
    )
    h = result.history
    assert set(h) >= TASK_METRICS and "eval_success_task5" not in h
    np.testing.assert_array_equal(h["step"], [0, 1, 2])
    for i in range(5):
        assert np.all(np.asarray(h[f"eval_success_task{i}"]) >= 2 / 3), h


def test_loaded_policy_evaluates_chunks_and_tasks_as_the_driver_does():
    """``Policy.evaluate`` is the driver's evaluation: the same open-loop chunks and per-task
    success, so it reproduces the training run's last evaluation for the same key."""
    import jaxrl
    from jaxrl.driver import evaluation_keys
    from jaxrl.policy import make_policy

    env = envs.make("pointmaze-medium", goal_in_obs=True)
    key = jax.random.key(3)
    agent = ChunkedOracleAgent()
    result = jaxrl.train(
        agent, {}, env, key, 2, chunk_steps=1, num_eval_episodes=12, progress=False
    )
    policy = make_policy(agent, {}, env, result.state)
    again = policy.evaluate(evaluation_keys(key, 1), num_episodes=12)
    for name in ("eval_success", "eval_return", *(f"eval_success_task{i}" for i in range(5))):
        assert again[name] == result.history[name][-1], name


def test_registry_names_rebuild_the_same_maze():
    """A checkpoint records only ``spec.name``: ``envs.make(spec.name)`` must rebuild the same
    env, for the position-only maze and for the goal-in-observation one."""
    plain, goal = envs.make("pointmaze-medium"), envs.make("pointmaze-medium-goal")
    assert plain.spec.name == "pointmaze-medium" and goal.spec.name == "pointmaze-medium-goal"
    assert goal.spec.obs_shape == (4,) and goal == envs.make("pointmaze-medium", goal_in_obs=True)
    for env in (plain, goal, envs.make("pointmaze-giant", goal_in_obs=True)):
        again = envs.make(env.spec.name)
        assert again.spec == env.spec and again == env
    assert {"pointmaze-medium-goal", "pointmaze-large-goal"} <= set(envs.list_envs())
    with pytest.raises(ValueError, match="goal_in_obs=False conflicts"):
        envs.make("pointmaze-medium-goal", goal_in_obs=False)
    with pytest.raises(ValueError, match="valid layouts"):
        envs.make("pointmaze-huge-goal")
