"""The grid tasks of ``envs/minigrid.py``: the shortest-path search against a plain queue BFS,
the expert, the tied routes of MultiRoute, fixed configurations, perturbation, the reward, and
exact snapshots."""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("xminigrid")

from jaxrl import envs, rollout  # noqa: E402
from jaxrl.envs import minigrid as mg  # noqa: E402

MOVES = [(-1, 0), (0, 1), (1, 0), (0, -1)]  # up, right, down, left (xminigrid's headings)


def queue_bfs(walkable: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
    """Reference: forward BFS from every (cell, heading) with a queue, actions forward / turn
    right / turn left; -1 where the goal is unreachable."""
    h, w = walkable.shape
    out = np.full((h, w, 4), -1)

    def successors(r, c, k):
        dr, dc = MOVES[k]
        nr, nc = r + dr, c + dc
        yield (nr, nc, k) if walkable[nr, nc] else (r, c, k)
        yield (r, c, (k + 1) % 4)
        yield (r, c, (k - 1) % 4)

    for r in range(h):
        for c in range(w):
            if not walkable[r, c]:
                continue
            for k in range(4):
                seen, queue = {(r, c, k): 0}, collections.deque([(r, c, k)])
                while queue:
                    s = queue.popleft()
                    if s[:2] == goal:
                        out[r, c, k] = seen[s]
                        break
                    for nxt in successors(*s):
                        if nxt not in seen:
                            seen[nxt] = seen[s] + 1
                            queue.append(nxt)
    return out


def test_shortest_distances_match_a_queue_bfs_on_a_four_rooms_configuration():
    env = envs.make("minigrid/FourRooms", max_steps=100)
    state, _ = env.reset_to_task(jax.random.PRNGKey(0), 7)
    walkable = np.asarray(env.walkable(state))
    goal = tuple(int(x) for x in env.goal_position(state))
    got = np.asarray(env.distances(state))
    want = queue_bfs(walkable, goal)
    reachable = want >= 0
    np.testing.assert_array_equal(got[reachable], want[reachable])
    assert (got[walkable[..., None].repeat(4, -1) & ~reachable] >= mg._UNREACHABLE).all()


def test_multiroute_routes_tie_from_every_configuration():
    """From each of the 18 start poses the route through the top-right room and the one through
    the bottom-left room take the same number of actions (queue BFS with one door closed)."""
    env = envs.make("minigrid/MultiRoute")
    state, _ = env.reset_to_task(jax.random.PRNGKey(0), 0)
    walkable = np.asarray(env.walkable(state))
    goal = tuple(int(x) for x in env.goal_position(state))
    only = {}
    for route, door in (("top-right", (4, 3)), ("bottom-left", (3, 4))):
        w = walkable.copy()
        w[door] = False  # close the other route's first door
        only[route] = queue_bfs(w, goal)
    both = queue_bfs(walkable, goal)
    assert env.num_tasks == 18
    for r, c, k in env.start_poses:
        assert only["top-right"][r, c, k] == only["bottom-left"][r, c, k] == both[r, c, k] > 0


def _expert_routes(env, n: int = 64):
    rows = mg.expert_episodes(env, jax.random.PRNGKey(1), n)
    valid = np.asarray(rows["valid"])
    success = (np.asarray(rows["terminated"]) & valid).any(axis=1)
    rooms = np.asarray(rows["room"])
    visited = [frozenset(int(x) for x in rooms[i][valid[i]] if x >= 0) for i in range(n)]
    return rows, success, visited


def test_the_expert_takes_a_shortest_path_and_both_routes_of_multiroute():
    env = envs.make("minigrid/MultiRoute")
    rows, success, visited = _expert_routes(env, 256)
    assert success.all()
    lengths = np.asarray(rows["valid"]).sum(axis=1)
    # the reset key of episode i (as expert_episodes splits it) picks its configuration
    k_reset = jax.vmap(lambda k: jax.random.split(k)[0])(
        jax.random.split(jax.random.PRNGKey(1), 256)
    )
    configs = jax.vmap(lambda k: env.reset(k)[1].info["config"])(k_reset)
    poses = env.start_poses[np.asarray(configs)]
    state, _ = env.reset_to_task(jax.random.PRNGKey(0), 0)
    dist = queue_bfs(np.asarray(env.walkable(state)), (7, 7))
    np.testing.assert_array_equal(lengths, dist[poses[:, 0], poses[:, 1], poses[:, 2]])
    routes = {frozenset(v) for v in env.ROUTE_ROOMS.values()}
    # every demonstration is one of the two routes, and both occur (rooms after each step,
    # plus the start's)
    assert {v | {0} for v in visited} == routes


def test_four_rooms_rewards_fixed_configurations_and_perturbation():
    env = envs.make("minigrid/FourRooms", num_configs=5)
    assert env.spec.obs_shape == (1225,) and env.spec.action_space.n == 6
    # a configuration is fixed: the key of reset_to_task does not matter
    a, ta = env.reset_to_task(jax.random.PRNGKey(0), 3)
    b, tb = env.reset_to_task(jax.random.PRNGKey(9), 3)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # resets draw among the 5 configurations
    configs = jax.vmap(lambda k: env.reset(k)[1].info["config"])(
        jax.random.split(jax.random.PRNGKey(2), 200)
    )
    assert set(np.asarray(configs).tolist()) == set(range(5))
    # the expert's return is 1 - 0.5 t / 100 for its episode length t
    rows, success, _ = _expert_routes(env, 16)
    assert success.all()
    valid = np.asarray(rows["valid"])
    t = valid.sum(axis=1)
    ret = (np.asarray(rows["reward"]) * valid).sum(axis=1)
    np.testing.assert_allclose(ret, 1 - 0.5 * t / 100, 1e-6)
    minigrid_reward = envs.make("minigrid/FourRooms", num_configs=5, time_penalty=0.9)
    rows, _, _ = _expert_routes(minigrid_reward, 16)
    valid = np.asarray(rows["valid"])
    t = valid.sum(axis=1)
    ret = (np.asarray(rows["reward"]) * valid).sum(axis=1)
    np.testing.assert_allclose(ret, 1 - 0.9 * t / 100, 1e-6)
    # perturbation: another room, same grid, and fixed per configuration
    pert = envs.make("minigrid/FourRooms", num_configs=5, perturb=True)
    for i in range(5):
        s, ts = env.reset_to_task(jax.random.PRNGKey(0), i)
        p1, tp = pert.reset_to_task(jax.random.PRNGKey(0), i)
        p2, _ = pert.reset_to_task(jax.random.PRNGKey(5), i)
        assert int(env.room(s)) != int(pert.room(p1)) and int(pert.room(p1)) >= 0
        np.testing.assert_array_equal(
            np.asarray(s.timestep.state.grid), np.asarray(p1.timestep.state.grid)
        )
        np.testing.assert_array_equal(
            np.asarray(p1.timestep.state.agent.position),
            np.asarray(p2.timestep.state.agent.position),
        )


def test_a_restored_snapshot_replays_the_episode_bit_for_bit():
    """Saving the env state mid-episode and stepping the copy gives the same bits as stepping
    the original."""
    env = envs.make("minigrid/FourRooms")
    state, _ = env.reset_to_task(jax.random.PRNGKey(0), 4)
    actions = jax.random.randint(jax.random.PRNGKey(3), (30,), 0, 3)
    step = jax.jit(env.step)
    for a in actions[:10]:
        state, _ = step(state, a)
    snapshot = jax.tree.map(jnp.copy, state)

    def play(s):
        out = []
        for a in actions[10:]:
            s, ts = step(s, a)
            out.append((s, ts))
        return out

    for x, y in zip(jax.tree.leaves(play(state)), jax.tree.leaves(play(snapshot)), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_task_episodes_score_every_configuration_and_blocked_routes_block():
    """With the top-right route's door closed the expert (searching the blocked grid) still
    succeeds from every start, never through the top-right room; ``rollout.task_episodes``
    scores each of the 18 configurations."""
    env = envs.make("minigrid/MultiRoute", blocked="top-right")
    rows = mg.expert_episodes(env, jax.random.PRNGKey(0), 64)
    valid, term = np.asarray(rows["valid"]), np.asarray(rows["terminated"])
    assert (term & valid).any(axis=1).all()
    rooms = np.asarray(rows["room"])
    assert not (rooms == 1).any()  # the top-right room is unreachable

    def random_policy(obs, key):
        return jax.random.randint(key, obs.shape[:1], 0, 6)

    out = rollout.task_episodes(env, random_policy, jax.random.PRNGKey(1), 4)
    assert out["success"].shape == (18, 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_configs": -1}, "num_configs"),
        ({"time_penalty": 1.5}, "time_penalty"),
        ({"max_steps": 0}, "max_steps"),
    ],
)
def test_bad_four_rooms_arguments_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        envs.make("minigrid/FourRooms", **kwargs)


def test_bad_names_and_blocks():
    with pytest.raises(ValueError, match="minigrid/FourRooms"):
        envs.make("minigrid/Nope")
    with pytest.raises(ValueError, match="blocked"):
        envs.make("minigrid/MultiRoute", blocked="left")
    assert "minigrid/MultiRoute" in envs.list_envs()
