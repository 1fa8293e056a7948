"""Offline data: validation messages, file round trips, and exact sampler boundary conventions."""

from __future__ import annotations

import json
import warnings

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data as D
from jaxrl.data import Dataset, DatasetError, DatasetWarning

# Hand-built episodes: lengths 5, 7, 8 -> rows 0-4, 5-11, 12-19. Episode 0 ends with a timeout,
# episode 1 with a terminal, episode 2 with a timeout.
LENGTHS = (5, 7, 8)
ENDS = np.repeat(np.cumsum(LENGTHS) - 1, LENGTHS)  # last row of each row's episode
STARTS = np.repeat(np.cumsum((0,) + LENGTHS[:-1]), LENGTHS)
N = sum(LENGTHS)


def hand_dataset(**kwargs) -> Dataset:
    """Row i has observation [i, 0.5 * i] and action [i, -i]; next obs of an episode's last row is
    [1000 + i, 0]; reward = i / 10."""
    obs = np.stack([np.arange(N), 0.5 * np.arange(N)], axis=1).astype(np.float32)
    act = np.stack([np.arange(N), -np.arange(N)], axis=1).astype(np.float32)
    terminals = np.zeros(N, bool)
    timeouts = np.zeros(N, bool)
    timeouts[[4, 19]] = True
    terminals[11] = True
    last = np.cumsum(LENGTHS) - 1
    final = np.stack([1000.0 + last, np.zeros(3)], axis=1)
    return Dataset.create(
        obs,
        act,
        np.arange(N) / 10.0,
        terminals,
        timeouts,
        final_observations=final,
        **kwargs,
    )


def random_dataset(seed: int = 0, n_eps: int = 6, goals: bool = True) -> Dataset:
    """Episodes of random length built by a plain loop (consistent next observations)."""
    rng = np.random.default_rng(seed)
    obs, act, rew, term, tout, nobs, qpos, qvel, buttons, goal = ([] for _ in range(10))
    for e in range(n_eps):
        length = int(rng.integers(3, 12))
        s = rng.normal(size=4).astype(np.float32)
        for t in range(length):
            a = rng.uniform(-1, 1, size=2).astype(np.float32)
            s2 = (s + 0.1 * np.concatenate([a, a])).astype(np.float32)
            obs.append(s)
            act.append(a)
            nobs.append(s2)
            rew.append(np.float32(rng.normal()))
            last = t == length - 1
            term.append(last and e % 3 == 1)
            tout.append(last and e % 3 != 1)
            qpos.append(rng.normal(size=3).astype(np.float32))
            qvel.append(rng.normal(size=3).astype(np.float32))
            buttons.append(rng.integers(0, 2, size=2).astype(np.int32))
            goal.append(s[:2].copy())
            s = s2
    return Dataset.create(
        np.array(obs),
        np.array(act),
        np.array(rew, np.float32),
        np.array(term),
        np.array(tout),
        np.array(nobs),
        goals=np.array(goal) if goals else None,
        physics={
            "qpos": np.array(qpos),
            "qvel": np.array(qvel),
            "button_states": np.array(buttons),
        },
    )


def draw(sampler, ds: Dataset, seed: int, *args, **kwargs) -> dict[str, np.ndarray]:
    """One jitted sampler call (static arguments closed over), returned as host arrays."""
    f = jax.jit(lambda d, k: sampler(d, k, *args, **kwargs))
    return {k: np.asarray(v) for k, v in f(ds, jax.random.key(seed)).items()}


def assert_same(a: Dataset, b: Dataset) -> None:
    """Every stored array equal bit for bit, with the same dtype and shape."""
    da, db = a.to_numpy(), b.to_numpy()
    assert set(da) == set(db)
    for k in da:
        if isinstance(da[k], dict):  # physics, task_rewards
            assert set(da[k]) == set(db[k]), k
            pairs = [(f"{k}/{n}", da[k][n], db[k][n]) for n in da[k]]
        else:
            pairs = [(k, da[k], db[k])]
        for name, x, y in pairs:
            assert x.dtype == y.dtype, name
            assert x.shape == y.shape, name
            assert np.array_equal(x, y), name
            assert x.tobytes() == y.tobytes(), name
    for k in ("episode_start", "episode_end", "rows_by_remaining", "remaining_sorted"):
        assert np.array_equal(np.asarray(getattr(a, k)), np.asarray(getattr(b, k))), k


# ------------------------------------------------------------------------------- construction


def test_create_derives_episode_indices_and_next_obs():
    ds = hand_dataset()
    assert ds.size == N and ds.num_episodes == 3 and ds.max_episode_length == 8
    assert ds.obs_shape == (2,) and ds.action_shape == (2,)
    np.testing.assert_array_equal(np.asarray(ds.episode_end), ENDS)
    np.testing.assert_array_equal(np.asarray(ds.episode_start), STARTS)
    nobs = np.asarray(ds.next_observations)
    for i in range(N):
        want = [1000.0 + i, 0.0] if ENDS[i] == i else [i + 1, 0.5 * (i + 1)]
        np.testing.assert_array_equal(nobs[i], want)
    np.testing.assert_allclose(
        ds.episode_returns, [sum(range(0, 5)) / 10, sum(range(5, 12)) / 10, sum(range(12, 20)) / 10]
    )
    np.testing.assert_array_equal(ds.episode_lengths, LENGTHS)
    assert ds.num_rows_with_remaining(7) == 1  # only row 12
    assert ds.rewards.dtype == jnp.float32 and ds.terminals.dtype == jnp.bool_


def test_split_by_whole_episodes():
    ds = random_dataset(1, n_eps=10)
    train, val = ds.split(0.7, seed=3)
    assert train.num_episodes == 7 and val.num_episodes == 3
    assert train.size + val.size == ds.size
    # Each part is made of whole episodes of the original, in order.
    key = lambda d: {tuple(r) for r in np.asarray(d.observations)}
    assert key(train) | key(val) == key(ds) and not key(train) & key(val)
    t2, _ = ds.split(0.7, seed=3)
    assert_same(train, t2)


# ------------------------------------------------------------------------------- validation


def base_arrays(n: int = 50):
    rng = np.random.default_rng(0)
    timeouts = np.zeros(n, bool)
    timeouts[[9, 29, n - 1]] = True
    return dict(
        observations=rng.normal(size=(n, 3)).astype(np.float32),
        actions=rng.uniform(-1, 1, size=(n, 2)).astype(np.float32),
        rewards=rng.normal(size=n).astype(np.float32),
        terminals=np.zeros(n, bool),
        timeouts=timeouts,
        next_observations=rng.normal(size=(n, 3)).astype(np.float32),
    )


def test_nan_reward_names_field_and_rows():
    a = base_arrays()
    a["rewards"][[17, 18, 40]] = np.nan
    with pytest.raises(
        DatasetError, match=r"rewards: non-finite values at rows \[17, 18, 40\] \(3"
    ):
        Dataset.create(**a)


def test_nonfinite_observation_and_physics():
    a = base_arrays()
    a["observations"][5, 1] = np.inf
    with pytest.raises(
        DatasetError, match=r"observations: non-finite values at rows \[5\] \(1 row"
    ):
        Dataset.create(**a)
    a = base_arrays()
    qpos = np.zeros((50, 2))
    qpos[[3, 4]] = np.nan
    with pytest.raises(DatasetError, match=r"physics/qpos: non-finite values at rows \[3, 4\]"):
        Dataset.create(**a, physics={"qpos": qpos})


def test_mismatched_lengths_and_shapes():
    a = base_arrays(1000)
    a["actions"] = a["actions"][:999]
    with pytest.raises(DatasetError, match="actions has 999 rows, observations has 1000"):
        Dataset.create(**a)
    a = base_arrays()
    a["rewards"] = a["rewards"][:, None]
    with pytest.raises(DatasetError, match=r"rewards: expected shape \(50,\), got \(50, 1\)"):
        Dataset.create(**a)
    a = base_arrays()
    a["next_observations"] = a["next_observations"][:, :2]
    with pytest.raises(DatasetError, match="next_observations: per-row shape"):
        Dataset.create(**a)


def test_bad_dtypes():
    a = base_arrays()
    a["observations"] = a["observations"].astype(str)
    with pytest.raises(DatasetError, match="observations: dtype <U.* is not numeric"):
        Dataset.create(**a)
    a = base_arrays()
    a["actions"] = np.array([None] * 50, dtype=object)
    with pytest.raises(DatasetError, match="actions: dtype object is not numeric"):
        Dataset.create(**a)


def test_flags_must_be_boolean_like():
    a = base_arrays()
    a["terminals"] = np.zeros(50, np.float32)
    a["terminals"][[3, 8]] = 0.5
    with pytest.raises(DatasetError, match=r"terminals: not boolean-like.*rows \[3, 8\]"):
        Dataset.create(**a)
    a = base_arrays()
    a["terminals"] = a["terminals"].astype(np.float32)  # float 0/1 is fine
    a["timeouts"] = a["timeouts"].astype(np.int64)
    ds = Dataset.create(**a)
    assert ds.terminals.dtype == jnp.bool_ and int(ds.timeouts.sum()) == 3


def test_actions_out_of_bounds_error_and_clip_warning():
    a = base_arrays()
    a["actions"][3, 0] = 1.5
    a["actions"][7, 1] = -2.0
    with pytest.raises(
        DatasetError, match=r"actions: values outside action_bounds at rows \[3, 7\]"
    ):
        Dataset.create(**a, action_bounds=(-1.0, 1.0))
    with pytest.warns(DatasetWarning, match=r"clipped 2 values in 2 rows"):
        ds = Dataset.create(**a, action_bounds=(-1.0, 1.0), clip_actions=True)
    acts = np.asarray(ds.actions)
    assert acts[3, 0] == 1.0 and acts[7, 1] == -1.0 and np.abs(acts).max() <= 1.0
    # Untouched actions are unchanged.
    mask = np.ones_like(acts, bool)
    mask[3, 0] = mask[7, 1] = False
    np.testing.assert_array_equal(acts[mask], a["actions"][mask])


def test_episode_that_never_ends():
    a = base_arrays()
    a["timeouts"][-1] = False
    with pytest.raises(DatasetError, match=r"episode that never ends: rows 30\.\.49"):
        Dataset.create(**a)
    with pytest.warns(DatasetWarning, match=r"rows 30\.\.49 never ends"):
        ds = Dataset.create(**a, allow_open_end=True)
    assert bool(ds.timeouts[-1]) and ds.num_episodes == 3


def test_missing_next_observation_of_episode_end():
    a = base_arrays()
    del a["next_observations"]
    with pytest.raises(DatasetError, match=r"next_observations: not given.*rows \[9, 29, 49\]"):
        Dataset.create(**a)


# ------------------------------------------------------------------------------- file formats


def test_npz_round_trip_with_card(tmp_path):
    ds = random_dataset(2)
    path = tmp_path / "data.npz"
    card = {"generator": "noisy-expert", "noise": 0.5, "seed": 2}
    D.save_npz(ds, path, card=card)
    assert_same(ds, D.load_npz(path))
    assert_same(ds, D.load(path))
    assert D.load_card(path) == card
    with np.load(path) as f:
        assert {"physics/qpos", "physics/qvel", "physics/button_states", "goals"} <= set(f.files)


def test_d4rl_round_trip(tmp_path):
    ds = random_dataset(3)
    path = tmp_path / "data.hdf5"
    D.save_d4rl_hdf5(ds, path, card={"source": "test"})
    with h5py.File(path) as f:
        assert {"observations", "actions", "rewards", "terminals", "timeouts"} <= set(f)
        assert {"qpos", "qvel"} <= set(f["infos"])
    assert_same(ds, D.load_d4rl_hdf5(path))
    assert_same(ds, D.load(path))
    assert D.load_card(path) == {"source": "test"}


def qlearning_dataset_loop(obs, act, rew, term, tout):
    """The d4rl.qlearning_dataset loop (terminate_on_end=False), written out for comparison."""
    out = {"observations": [], "actions": [], "rewards": [], "terminals": [], "next": []}
    for i in range(len(rew) - 1):
        if tout[i]:
            continue
        out["observations"].append(obs[i])
        out["next"].append(obs[i + 1])
        out["actions"].append(act[i])
        out["rewards"].append(rew[i])
        out["terminals"].append(bool(term[i]))
    return {k: np.array(v) for k, v in out.items()}


def test_d4rl_without_next_observations(tmp_path):
    # Episodes: rows 0-3 (timeout at 3), 4-6 (terminal at 6), 7-9 (timeout at 9).
    n = 10
    obs = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    act = np.linspace(-1, 1, n * 3, dtype=np.float32).reshape(n, 3)
    rew = np.arange(n, dtype=np.float64)  # float64 on disk
    term = np.zeros(n, np.float32)  # float 0/1 terminals, as in old D4RL files
    term[6] = 1.0
    tout = np.zeros(n, bool)
    tout[[3, 9]] = True
    path = tmp_path / "d4rl.h5"
    with h5py.File(path, "w") as f:
        for k, v in dict(observations=obs, actions=act, rewards=rew, terminals=term).items():
            f[k] = v
        f["timeouts"] = tout
        f["infos/qpos"] = obs * 2
        f["metadata/algorithm"] = "SAC"
    with pytest.warns(DatasetWarning, match="dropped the last row of 2 timeout-ended episodes"):
        ds = D.load_d4rl_hdf5(path)
    kept = [0, 1, 2, 4, 5, 6, 7, 8]
    np.testing.assert_array_equal(np.asarray(ds.observations), obs[kept])
    np.testing.assert_array_equal(np.asarray(ds.physics["qpos"]), obs[kept] * 2)
    np.testing.assert_array_equal(np.asarray(ds.terminals), [0, 0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(np.asarray(ds.timeouts), [0, 0, 1, 0, 0, 0, 0, 1])
    nobs = np.asarray(ds.next_observations)
    np.testing.assert_array_equal(nobs[[0, 1, 2, 3, 4, 6, 7]], obs[[1, 2, 3, 5, 6, 8, 9]])
    np.testing.assert_array_equal(nobs[5], obs[6])  # terminal row: its own obs as placeholder
    assert ds.rewards.dtype == jnp.float32
    # Same rows, actions and rewards as d4rl.qlearning_dataset; next obs agree off terminals.
    ref = qlearning_dataset_loop(obs, act, rew, term, tout)
    np.testing.assert_array_equal(np.asarray(ds.observations), ref["observations"])
    np.testing.assert_array_equal(np.asarray(ds.actions), ref["actions"])
    np.testing.assert_array_equal(np.asarray(ds.rewards), ref["rewards"].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(ds.terminals), ref["terminals"])
    off_term = ~ref["terminals"]
    np.testing.assert_array_equal(nobs[off_term], ref["next"][off_term])

    # Old files without timeouts: rebuilt from max_episode_steps.
    with h5py.File(path, "a") as f:
        del f["timeouts"]
        f["terminals"][...] = np.zeros(n, np.float32)
        f["next_observations"] = obs + 0.5
    ds = D.load_d4rl_hdf5(path, max_episode_steps=5)
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(ds.timeouts)), [4, 9])


def ogbench_regular_reference(raw):
    """ogbench.utils.load_dataset(compact_dataset=False), written out for comparison."""
    ob_mask = (1.0 - raw["terminals"]).astype(bool)
    next_ob_mask = np.concatenate([[False], ob_mask[:-1]])
    new_terminals = np.concatenate([raw["terminals"][1:], [1.0]])
    return {
        "observations": raw["observations"][ob_mask],
        "actions": raw["actions"][ob_mask],
        "next_observations": raw["observations"][next_ob_mask],
        "terminals": new_terminals[ob_mask],
        "qpos": raw["qpos"][ob_mask],
    }


def test_ogbench_raw_and_compact_layouts(tmp_path):
    # Two trajectories of 4 transitions: rows s0..s4 each, terminals = 1 on the s4 rows.
    m = 10
    raw = {
        "observations": np.arange(m * 3, dtype=np.float32).reshape(m, 3),
        "actions": np.linspace(-1, 1, m * 2, dtype=np.float32).reshape(m, 2),
        "terminals": np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 1], np.float32),
        "qpos": np.arange(m * 2, dtype=np.float32).reshape(m, 2),
        "qvel": np.ones((m, 2), np.float32),
    }
    np.savez(tmp_path / "raw.npz", **raw)
    ds = D.load(tmp_path / "raw.npz")
    ref = ogbench_regular_reference(raw)
    for k in ("observations", "actions", "next_observations"):
        np.testing.assert_array_equal(np.asarray(getattr(ds, k)), ref[k])
    np.testing.assert_array_equal(np.asarray(ds.physics["qpos"]), ref["qpos"])
    np.testing.assert_array_equal(np.asarray(ds.timeouts), ref["terminals"].astype(bool))
    assert not np.asarray(ds.terminals).any() and not np.asarray(ds.rewards).any()
    # Compact layout (valids present, terminals on s3 and s4) -> the same dataset.
    compact = dict(raw)
    compact["valids"] = 1.0 - raw["terminals"]
    compact["terminals"] = np.minimum(
        raw["terminals"] + np.concatenate([raw["terminals"][1:], [1.0]]), 1.0
    ).astype(np.float32)
    np.savez(tmp_path / "compact.npz", **compact)
    assert_same(ds, D.load_ogbench_npz(tmp_path / "compact.npz"))
    # A trajectory without its final observation row never ends.
    bad = {k: v[:-1] for k, v in raw.items()}
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(DatasetError, match=r"episode that never ends: rows 5\.\.8"):
        D.load_ogbench_npz(tmp_path / "bad.npz")


def test_ogbench_round_trip(tmp_path):
    ds = random_dataset(4)
    path = tmp_path / "og.npz"
    D.save_ogbench_npz(ds, path, card={"env": "pointmaze"})
    assert D.load_card(path) == {"env": "pointmaze"}
    with np.load(path) as f:
        assert f["observations"].shape[0] == ds.size + ds.num_episodes
        assert f["terminals"].dtype == np.float32 and f["terminals"].sum() == ds.num_episodes
        assert {"qpos", "qvel", "button_states"} <= set(f.files)
    assert_same(ds, D.load_ogbench_npz(path))
    assert_same(ds, D.load(path))
    # A reward-free, timeout-only dataset writes only OGBench's own keys.
    plain = Dataset.create(
        np.asarray(ds.observations),
        np.asarray(ds.actions),
        np.zeros(ds.size, np.float32),
        np.zeros(ds.size, bool),
        np.asarray(ds.terminals | ds.timeouts),
        np.asarray(ds.next_observations),
    )
    D.save_ogbench_npz(plain, tmp_path / "plain.npz")
    with np.load(tmp_path / "plain.npz") as f:
        assert set(f.files) == {"observations", "actions", "terminals"}
    assert_same(plain, D.load(tmp_path / "plain.npz"))
    # Inconsistent next observations cannot be stored in this layout.
    with pytest.raises(DatasetError, match=r"next_observations: differs .* rows \[0,"):
        D.save_ogbench_npz(hand_dataset_inconsistent(), tmp_path / "x.npz")


def hand_dataset_inconsistent() -> Dataset:
    a = base_arrays()
    return Dataset.create(**a)


# ------------------------------------------------------------------------------- samplers


def test_transitions_next_action_matches_numpy_loop():
    ds = random_dataset(5, n_eps=8)
    acts = np.asarray(ds.actions)
    ends = np.asarray(ds.terminals | ds.timeouts)
    want_next, want_valid = np.zeros_like(acts), np.zeros(ds.size)
    for i in range(ds.size):  # reference: the action of the next row of the same episode
        if not ends[i]:
            want_next[i], want_valid[i] = acts[i + 1], 1.0
    b = draw(D.sample_transitions, ds, 0, 512)
    idx = np.asarray(b["index"])
    assert len(set(idx.tolist())) == ds.size  # every row drawn
    np.testing.assert_array_equal(np.asarray(b["next_action"]), want_next[idx])
    np.testing.assert_array_equal(np.asarray(b["next_action_valid"]), want_valid[idx])
    np.testing.assert_array_equal(np.asarray(b["obs"]), np.asarray(ds.observations)[idx])
    np.testing.assert_array_equal(np.asarray(b["next_obs"]), np.asarray(ds.next_observations)[idx])
    np.testing.assert_array_equal(np.asarray(b["mask"]), 1.0 - np.asarray(ds.terminals)[idx])


def test_chunks_exact_values_and_masks():
    ds = hand_dataset()
    h = 4
    b = draw(D.sample_chunks, ds, 1, 400, h)
    idx = np.asarray(b["index"])
    assert set(idx.tolist()) == set(range(N))
    done = np.asarray(ds.terminals | ds.timeouts)
    for j, s in enumerate(idx):
        end = ENDS[s]
        valid = np.array([s + i <= end for i in range(h)], np.float32)
        # Q-chunking convention: valid[i] = 1 - any(done[s : s + i]).
        qc = np.array([1.0 - done[s : s + i].any() for i in range(h)], np.float32)
        np.testing.assert_array_equal(valid, qc)
        np.testing.assert_array_equal(np.asarray(b["valid"][j]), valid)
        rows = np.minimum(s + np.arange(h), end)
        np.testing.assert_array_equal(np.asarray(b["actions"][j]), np.stack([rows, -rows], 1))
        np.testing.assert_array_equal(
            np.asarray(b["actions_flat"][j]), np.stack([rows, -rows], 1).ravel()
        )
        np.testing.assert_allclose(np.asarray(b["rewards"][j]), np.float32(rows / 10.0) * valid)
        nv = int(valid.sum())
        assert int(b["num_valid"][j]) == nv == min(h, end - s + 1)
        last = s + nv - 1
        want_next = [1000.0 + last, 0.0] if last == end else [last + 1, 0.5 * (last + 1)]
        np.testing.assert_array_equal(np.asarray(b["next_obs"][j]), want_next)
        term_last = last == 11
        assert float(b["mask"][j]) == (0.0 if term_last else 1.0)
        np.testing.assert_array_equal(
            np.asarray(b["terminals"][j]), [float(s + i == 11 and s + i <= end) for i in range(h)]
        )
    ret = np.asarray(D.discounted_chunk_return(jnp.asarray(b["rewards"]), 0.9))
    np.testing.assert_allclose(ret, (b["rewards"] * 0.9 ** np.arange(h)).sum(1), rtol=1e-6)
    # Explicit case: a chunk starting at row 3 covers rows 3, 4 and stops at the timeout.
    j = int(np.flatnonzero(idx == 3)[0])
    np.testing.assert_array_equal(np.asarray(b["valid"][j]), [1, 1, 0, 0])
    np.testing.assert_array_equal(np.asarray(b["actions"][j, :, 0]), [3, 4, 4, 4])
    np.testing.assert_array_equal(np.asarray(b["timeouts"][j]), [0, 1, 0, 0])
    # full_only: only starts whose whole chunk fits.
    f = draw(D.sample_chunks, ds, 2, 400, h, full_only=True)
    fidx = np.asarray(f["index"])
    assert set(fidx.tolist()) == {s for s in range(N) if s + h - 1 <= ENDS[s]}
    assert np.asarray(f["valid"]).all()
    with pytest.raises(DatasetError, match="longest episode has 8 rows"):
        draw(D.sample_chunks, ds, 2, 4, 9, full_only=True)


def test_goal_chunks_truncation_reward_and_mask():
    ds = hand_dataset()
    h, gamma = 3, 0.9
    valid_starts = {s for s in range(N) if s + h <= ENDS[s]}
    # p_future = 1: goals strictly after the start, inside the episode.
    b = draw(D.sample_goal_chunks, ds, 3, 600, h, gamma, 0.0, 1.0, 0.0)
    idx, goal, k = (np.asarray(b[n]) for n in ("index", "goal_index", "k"))
    assert set(idx.tolist()) == valid_starts
    assert ((goal > idx) & (goal <= ENDS[idx])).all()
    inside = goal - idx < h
    assert inside.any() and (~inside).any()
    np.testing.assert_array_equal(k, np.where(inside, goal - idx, h))
    np.testing.assert_allclose(np.asarray(b["reward"]), np.where(inside, gamma**k, 0.0), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(b["mask"]), np.where(inside, 0.0, 1.0))
    np.testing.assert_array_equal(np.asarray(b["next_obs"][:, 0]), idx + k)
    np.testing.assert_array_equal(np.asarray(b["goal"][:, 0]), goal)
    np.testing.assert_array_equal(np.asarray(b["actions"][:, :, 0]), idx[:, None] + np.arange(h))
    # p_current = 1: the goal is the start row: k = 0, reward 1, mask 0.
    c = draw(D.sample_goal_chunks, ds, 4, 64, h, gamma, 1.0, 0.0, 0.0)
    np.testing.assert_array_equal(np.asarray(c["goal_index"]), np.asarray(c["index"]))
    assert (np.asarray(c["k"]) == 0).all() and (np.asarray(c["reward"]) == 1.0).all()
    assert (np.asarray(c["mask"]) == 0.0).all()
    # Random goals come from the valid chunk starts (reference) or from all rows.
    r = draw(D.sample_goal_chunks, ds, 5, 600, h, gamma, 0.0, 0.0, 1.0)
    assert set(np.asarray(r["goal_index"]).tolist()) == valid_starts
    r = draw(
        D.sample_goal_chunks,
        ds,
        5,
        600,
        h,
        gamma,
        0.0,
        0.0,
        1.0,
        random_goals_from_chunk_starts=False,
    )
    assert set(np.asarray(r["goal_index"]).tolist()) == set(range(N))
    # Geometric future goals: min(idx + offset, end).
    g = draw(D.sample_goal_chunks, ds, 6, 600, h, 0.5, 0.0, 1.0, 0.0, future="geometric")
    gi, gs = np.asarray(g["goal_index"]), np.asarray(g["index"])
    assert ((gi > gs) & (gi <= ENDS[gs])).all() and (gi == ENDS[gs]).any()
    with pytest.raises(DatasetError, match="longest episode has 8 rows"):
        draw(D.sample_goal_chunks, ds, 0, 4, 8, gamma)


def test_goal_chunks_uniform_future_matches_reference_formula():
    # One episode of 6 rows, h = 1, start row 0: the reference's round(lo*d + end*(1-d)) puts
    # weights 1/8, 1/4, 1/4, 1/4, 1/8 on offsets 1..5.
    obs = np.arange(6, dtype=np.float32)[:, None]
    ds = Dataset.create(obs, np.zeros((6, 1)), np.zeros(6), np.zeros(6), np.eye(6)[5], obs + 1)
    b = draw(D.sample_goal_chunks, ds, 7, 40000, 1, 0.99, 0.0, 1.0, 0.0)
    idx, goal = np.asarray(b["index"]), np.asarray(b["goal_index"])
    off = goal[idx == 0]
    freq = np.bincount(off, minlength=6)[1:] / off.size
    np.testing.assert_allclose(freq, [1 / 8, 1 / 4, 1 / 4, 1 / 4, 1 / 8], atol=0.02)


def test_goal_chunks_default_mixture_and_goal_sources():
    ds = random_dataset(6, n_eps=30)
    b = draw(D.sample_goal_chunks, ds, 8, 8000, 2, 0.99, goal_key="goals")
    idx, goal = np.asarray(b["index"]), np.asarray(b["goal_index"])
    ends = np.asarray(ds.episode_end)
    cur = goal == idx
    fut = (goal > idx) & (goal <= ends[idx])
    assert abs(cur.mean() - 0.2) < 0.03
    assert 0.5 - 0.03 < fut.mean() < 0.5 + 0.06  # random goals may land in the same episode
    np.testing.assert_array_equal(np.asarray(b["goal"]), np.asarray(ds.goals)[goal])
    np.testing.assert_array_equal(np.asarray(b["obs_goal_rep"]), np.asarray(ds.goals)[idx])
    q = draw(D.sample_goal_chunks, ds, 8, 16, 2, 0.99, goal_key="physics/qpos")
    np.testing.assert_array_equal(
        np.asarray(q["goal"]), np.asarray(ds.physics["qpos"])[np.asarray(q["goal_index"])]
    )


def test_future_states_stay_in_episode_and_geometric_mean():
    ds = hand_dataset()
    for gamma in (0.7, None):
        b = draw(D.sample_future_states, ds, 9, 500, gamma)
        idx, off, fut = (np.asarray(b[n]) for n in ("index", "offset", "future_index"))
        assert (off >= 1).all() and (idx + off - 1 <= ENDS[idx]).all()
        np.testing.assert_array_equal(fut, idx + off - 1)
        np.testing.assert_array_equal(
            np.asarray(b["future_obs"]), np.asarray(ds.next_observations)[fut]
        )
        # Offsets reach the episode's final observation (truncation / uniform upper end).
        assert (idx + off - 1 == ENDS[idx]).any()
    # A long episode: the geometric offsets have mean 1 / (1 - gamma).
    n, gamma = 20000, 0.9
    obs = np.arange(n, dtype=np.float32)[:, None]
    ends = np.zeros(n, bool)
    ends[-1] = True
    long = Dataset.create(obs, np.zeros((n, 1)), np.zeros(n), np.zeros(n), ends, obs + 1)
    off = np.asarray(draw(D.sample_future_states, long, 10, 20000, gamma)["offset"])
    assert abs(off.mean() - 1 / (1 - gamma)) < 0.3
    assert off.min() == 1
    u = np.asarray(draw(D.sample_future_states, long, 11, 2000, None)["offset"])
    assert u.max() > 1000  # uniform over the rest of the episode


def test_samplers_under_jit_and_vmap():
    ds = random_dataset(7, n_eps=10)
    keys = jax.random.split(jax.random.key(12), 3)
    samplers = {
        "transitions": lambda d, k: D.sample_transitions(d, k, 8),
        "chunks": lambda d, k: D.sample_chunks(d, k, 8, 3),
        "goal_chunks": lambda d, k: D.sample_goal_chunks(d, k, 8, 2, 0.99, future="geometric"),
        "future": lambda d, k: D.sample_future_states(d, k, 8, 0.9),
    }

    @jax.jit
    def both(d, ks):
        # One compilation for everything: each sampler vmapped over keys, and called on one key.
        return {
            n: (jax.vmap(f, in_axes=(None, 0))(d, ks), f(d, ks[1])) for n, f in samplers.items()
        }

    for name, (out, single) in both(ds, keys).items():
        for k, v in out.items():
            assert v.shape[:2] == (3, 8), (name, k)
            np.testing.assert_array_equal(np.asarray(v[1]), np.asarray(single[k]), err_msg=name)


def test_card_sidecar_and_unknown_file(tmp_path):
    ds = hand_dataset()
    path = tmp_path / "d.npz"
    D.save_npz(ds, path)
    assert D.load_card(path) is None
    (tmp_path / "d.npz.json").write_text(json.dumps({"a": 1}))
    assert D.load_card(path) == {"a": 1}
    (tmp_path / "x.bin").write_bytes(b"nothing")
    with pytest.raises(DatasetError, match="not an .npz archive or an HDF5 file"):
        D.load(tmp_path / "x.bin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(ds, D.load(path))


def test_concatenate_keeps_episodes_and_fields():
    from jaxrl.data import concatenate

    def make(n, offset):
        obs = np.arange(n, dtype=np.float32)[:, None] + offset
        ends = np.zeros(n, bool)
        ends[-1] = True
        return Dataset.create(
            obs,
            np.zeros((n, 1), np.float32),
            np.ones(n, np.float32),
            np.zeros(n, bool),
            ends,
            obs + 1,
            physics={"qpos": obs},
        )

    a, b = make(3, 0.0), make(4, 10.0)
    c = concatenate([a, b])
    assert c.size == 7 and c.num_episodes == 2
    np.testing.assert_array_equal(c.episode_returns, [3.0, 4.0])
    np.testing.assert_array_equal(np.asarray(c.physics["qpos"])[:, 0], [0, 1, 2, 10, 11, 12, 13])
    with pytest.raises(DatasetError, match="concatenate: dataset 1 has fields"):
        concatenate(
            [
                a,
                Dataset.create(
                    *[
                        np.asarray(x)
                        for x in (
                            a.observations,
                            a.actions,
                            a.rewards,
                            a.terminals,
                            a.timeouts,
                            a.next_observations,
                        )
                    ]
                ),
            ]
        )


# --------------------------------------------------------------------------------- transforms


def test_transforms_under_jit_match_numpy_and_keep_the_episodes():
    ds = random_dataset(3, n_eps=8)
    obs = np.asarray(ds.observations, np.float64)
    low, high = jnp.array([-2.0, 0.0]), jnp.array([2.0, 4.0])

    @jax.jit
    def both(d):
        scaled = D.transforms.scale_actions(d, low, high)
        return D.transforms.normalize_observations(scaled, 1e-3)

    out = both(ds)
    # statistics: float64 numpy, rounded once (the same bits on every backend), also under jit
    np.testing.assert_array_equal(np.asarray(out.obs_mean), obs.mean(0).astype(np.float32))
    np.testing.assert_array_equal(np.asarray(out.obs_std), (obs.std(0) + 1e-3).astype(np.float32))
    mean, std = np.asarray(out.obs_mean), np.asarray(out.obs_std)
    np.testing.assert_allclose(out.observations, (obs - mean) / std, rtol=1e-5, atol=1e-6)
    nobs = np.asarray(ds.next_observations, np.float64)
    np.testing.assert_allclose(out.next_observations, (nobs - mean) / std, rtol=1e-5, atol=1e-6)
    act = np.asarray(ds.actions, np.float64)  # in [-1, 1]: dimension 1 falls below its bounds
    unit = np.clip(2 * (act - [-2.0, 0.0]) / [4.0, 4.0] - 1, -1, 1)
    np.testing.assert_allclose(out.actions, unit, rtol=1e-6, atol=1e-7)
    back = D.transforms.from_unit_interval(out.actions[:, 0], low[0], high[0])
    np.testing.assert_allclose(back, act[:, 0], rtol=1e-6, atol=1e-6)
    for k in ("rewards", "terminals", "timeouts", "episode_start", "episode_end", "physics"):
        jax.tree.map(np.testing.assert_array_equal, getattr(out, k), getattr(ds, k))
    assert out.num_episodes == ds.num_episodes
    # given statistics (a validation split normalised like its training set); samplers take it
    ident = D.transforms.normalize_observations(ds, statistics=(np.zeros(4), np.ones(4)))
    np.testing.assert_array_equal(ident.observations, ds.observations)
    batch = D.sample_transitions(out, jax.random.key(0), 5)
    np.testing.assert_array_equal(batch["obs"], np.asarray(out.observations)[batch["index"]])
    # rewards shaped (scale * r + shift) under jit and vmap, the type and the rest unchanged
    shaped = jax.jit(D.transforms.shape_rewards)(out, 10.0, -1.0)
    assert type(shaped) is type(out)
    np.testing.assert_allclose(shaped.rewards, 10.0 * np.asarray(ds.rewards) - 1.0, rtol=1e-6)
    np.testing.assert_array_equal(shaped.observations, out.observations)
    many = jax.vmap(D.transforms.shape_rewards, (None, 0, 0))(ds, jnp.ones(2), jnp.arange(2.0))
    np.testing.assert_array_equal(many.rewards[1], np.asarray(ds.rewards, np.float32) + 1.0)


# ------------------------------------------------------------------------------- task rewards


def task_rewards_for(ds: Dataset) -> dict[str, np.ndarray]:
    """Two tasks' float64 rewards of every row (distinct values, so row mix-ups show)."""
    rows = np.arange(ds.size, dtype=np.float64)
    return {"run": rows / 7.0, "walk": -rows - 0.25}


def with_task_rewards(ds: Dataset, task_rewards=None) -> Dataset:
    """``ds`` rebuilt through :meth:`Dataset.create` with ``task_rewards`` (default: two tasks)."""
    data = ds.to_numpy()
    data["task_rewards"] = task_rewards_for(ds) if task_rewards is None else task_rewards
    return Dataset.create(**data)


def test_task_rewards_create_and_read_back():
    plain = random_dataset(4)
    assert plain.task_rewards is None and plain.task_names == ()
    assert "task_rewards" not in plain.to_numpy()
    ds = with_task_rewards(plain)
    assert ds.task_names == ("run", "walk")
    want = task_rewards_for(ds)
    for name in ds.task_names:
        got = ds.task_rewards[name]
        assert got.dtype == jnp.float32 and got.shape == (ds.size,)
        np.testing.assert_array_equal(got, want[name].astype(np.float32))
        np.testing.assert_array_equal(ds.to_numpy()["task_rewards"][name], got)
    ints = with_task_rewards(plain, {"jump": np.zeros(ds.size, np.int32)})
    assert ints.task_rewards["jump"].dtype == jnp.float32
    # a pytree leaf like any other field: jit carries it
    out = jax.jit(lambda d: d.replace(rewards=d.task_rewards["walk"]))(ds)
    np.testing.assert_array_equal(out.rewards, ds.task_rewards["walk"])
    assert out.task_names == ds.task_names


def test_task_rewards_validation_names_the_field():
    a = base_arrays()
    ok = np.zeros(50, np.float32)
    with pytest.raises(
        DatasetError,
        match=r"task_rewards/run: expected shape \(50,\) \(one reward per row\), got \(50, 1\)",
    ):
        Dataset.create(**a, task_rewards={"walk": ok, "run": ok[:, None]})
    with pytest.raises(DatasetError, match="task_rewards/run has 49 rows, observations has 50"):
        Dataset.create(**a, task_rewards={"run": ok[:49]})
    with pytest.raises(DatasetError, match="task_rewards/run: dtype <U.* is not numeric"):
        Dataset.create(**a, task_rewards={"run": ok.astype(str)})
    for bad in ("", "a/b", 3):
        with pytest.raises(
            DatasetError, match=r"task_rewards: key .* must be a non-empty string without '/'"
        ):
            Dataset.create(**a, task_rewards={bad: ok})
    nan = ok.copy()
    nan[[3, 7]] = np.nan
    with pytest.raises(
        DatasetError, match=r"task_rewards/walk: non-finite values at rows \[3, 7\]"
    ):
        Dataset.create(**a, task_rewards={"run": ok, "walk": nan})


def test_task_rewards_survive_rows_splits_concatenate_and_transforms():
    from jaxrl.data import concatenate

    ds = with_task_rewards(random_dataset(5, n_eps=8))
    rows = np.flatnonzero(np.asarray(ds.episode_start) > 0)  # drop the first episode
    sub = ds.select_rows(rows)
    for name in ds.task_names:
        np.testing.assert_array_equal(
            sub.task_rewards[name], np.asarray(ds.task_rewards[name])[rows]
        )
    train, val = ds.split(0.5, seed=1)
    assert train.task_names == val.task_names == ds.task_names
    both = concatenate([train, val])
    for name in ds.task_names:
        got = np.sort(np.asarray(both.task_rewards[name]))
        np.testing.assert_array_equal(got, np.sort(np.asarray(ds.task_rewards[name])))
    assert_same(concatenate([ds, ds]).select_rows(np.arange(ds.size)), ds)
    with pytest.raises(DatasetError, match=r"dataset 1 has .*task_rewards \['run'\]\).*'walk'"):
        concatenate([ds, with_task_rewards(ds, {"run": np.zeros(ds.size)})])
    with pytest.raises(DatasetError, match="concatenate: dataset 1 has fields"):
        concatenate([ds, random_dataset(5, n_eps=8)])
    # transforms change observations, actions and rewards, never the raw task rewards
    prepared = jax.jit(
        lambda d: D.transforms.shape_rewards(D.transforms.normalize_observations(d), 10.0, -1.0)
    )(ds)
    jax.tree.map(np.testing.assert_array_equal, prepared.task_rewards, ds.task_rewards)
    assert prepared.task_names == ds.task_names


def test_task_rewards_from_transitions():
    from types import SimpleNamespace

    t_len, n_env = 4, 3
    step = np.arange(t_len * n_env, dtype=np.float32).reshape(t_len, n_env)  # [T, N]
    terminated = np.zeros((t_len, n_env), bool)
    terminated[1, 2] = True
    traj = SimpleNamespace(
        obs=step[..., None],
        action=np.zeros((t_len, n_env, 1), np.float32),
        reward=np.zeros((t_len, n_env), np.float32),
        terminated=terminated,
        truncated=np.zeros((t_len, n_env), bool),
        next_obs=step[..., None] + 0.5,
    )
    ds = D.from_transitions(traj, task_rewards={"run": 2 * step, "walk": -step})
    # env-major rows: env 0's four steps, then env 1's, then env 2's
    np.testing.assert_array_equal(ds.task_rewards["run"], 2 * step.T.ravel())
    np.testing.assert_array_equal(ds.task_rewards["walk"], -step.T.ravel())
    np.testing.assert_array_equal(ds.observations[:, 0], step.T.ravel())
    with pytest.raises(DatasetError, match=r"task_rewards/run: expected shape \(12,\)"):
        D.from_transitions(traj, task_rewards={"run": step[..., None]})


def test_task_rewards_file_round_trips(tmp_path):
    ds = with_task_rewards(random_dataset(6))
    path = tmp_path / "data.npz"
    D.save_npz(ds, path)
    with np.load(path) as f:
        assert {"task_rewards/run", "task_rewards/walk", "physics/qpos"} <= set(f.files)
    assert_same(ds, D.load_npz(path))
    assert_same(ds, D.load(path))
    h5 = tmp_path / "data.hdf5"
    D.save_d4rl_hdf5(ds, h5)
    with h5py.File(h5) as f:
        assert set(f["task_rewards"]) == {"run", "walk"} and {"qpos", "qvel"} <= set(f["infos"])
    assert_same(ds, D.load_d4rl_hdf5(h5))
    assert_same(ds, D.load(h5))
    # without next_observations the dropped rows leave the task rewards too
    with h5py.File(h5, "a") as f:
        del f["next_observations"]
    with pytest.warns(DatasetWarning, match="dropped the last row of"):
        short = D.load_d4rl_hdf5(h5)
    keep = ~np.asarray(ds.timeouts)
    for name in ds.task_names:
        np.testing.assert_array_equal(
            short.task_rewards[name], np.asarray(ds.task_rewards[name])[keep]
        )
    # a task reward of the wrong length in a file is named
    with h5py.File(h5, "a") as f:
        del f["task_rewards/run"]
        f.create_dataset("task_rewards/run", data=np.zeros(3, np.float32))
    with pytest.raises(DatasetError, match="task_rewards/run has 3 rows"):
        D.load_d4rl_hdf5(h5)
    # Minari has no field for them: refused before anything is written
    with pytest.raises(
        DatasetError, match=r"save_minari: task_rewards \['run', 'walk'\].*save_npz"
    ):
        D.save_minari(ds, "test/task-rewards-v0", root=tmp_path / "minari")
    assert not (tmp_path / "minari").exists()
    # nor has OGBench's layout
    with pytest.raises(DatasetError, match=r"save_ogbench_npz: task_rewards \['run', 'walk'\]"):
        D.save_ogbench_npz(ds, tmp_path / "og.npz")
    assert not (tmp_path / "og.npz").exists()
