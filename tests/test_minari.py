"""Minari datasets: what Minari's own ``DataCollector`` writes reads back through ``jaxrl.data``
row for row, and what ``save_minari`` writes reads back through ``minari`` episode for episode."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
import pytest
from minari.data_collector import EpisodeBuffer

from jaxrl import data as D
from jaxrl.data import Dataset, DatasetError, DatasetWarning

FORMATS = [
    "hdf5",
    pytest.param(
        "arrow",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("pyarrow") is None, reason="pyarrow not installed"
        ),
    ),
]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Minari datasets root, set as ``MINARI_DATASETS_PATH``."""
    path = tmp_path / "datasets"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(path))
    return path


def collect(
    env: gym.Env, root: Path, dataset_id: str, steps: int, data_format: str = "hdf5", seed: int = 0
) -> Path:
    """Step ``env`` with uniform random actions inside Minari's ``DataCollector`` and write the
    dataset under ``root``; collection stops after ``steps`` steps, wherever the episode is."""
    collector = minari.DataCollector(env, data_format=data_format)
    collector.action_space.seed(seed)
    collector.reset(seed=seed)
    for _ in range(steps):
        _, _, terminated, truncated, _ = collector.step(collector.action_space.sample())
        if terminated or truncated:
            collector.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Minari's reminders about missing metadata
        collector.create_dataset(dataset_id, algorithm_name="random")
    collector.close()
    return root / dataset_id


def minari_rows(dataset_id: str) -> tuple[dict[str, np.ndarray], list[int]]:
    """Our row fields built from ``minari.load_dataset(...).iterate_episodes()``, and the episode
    lengths."""
    episodes = list(minari.load_dataset(dataset_id).iterate_episodes())
    cat = np.concatenate
    rows = {
        "observations": cat([ep.observations[:-1] for ep in episodes]),
        "next_observations": cat([ep.observations[1:] for ep in episodes]),
        "actions": cat([ep.actions for ep in episodes]),
        "rewards": cat([ep.rewards for ep in episodes]),
        "terminals": cat([ep.terminations for ep in episodes]),
        "timeouts": cat([ep.truncations for ep in episodes]),
    }
    return rows, [len(ep) for ep in episodes]


def assert_rows(ds: Dataset, rows: dict[str, np.ndarray]) -> None:
    """``ds`` holds exactly ``rows`` (rewards compared at float32, as stored)."""
    ours = ds.to_numpy()
    for key, want in rows.items():
        want = want.astype(np.float32) if key == "rewards" else want
        np.testing.assert_array_equal(ours[key], want, err_msg=key)


def assert_same(a: Dataset, b: Dataset) -> None:
    for key, value in a.to_numpy().items():
        np.testing.assert_array_equal(value, b.to_numpy()[key], err_msg=key)
        assert value.dtype == b.to_numpy()[key].dtype, key


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("data_format", FORMATS)
def test_pendulum_truncations_read_row_for_row(root: Path, data_format: str) -> None:
    env = gym.make("Pendulum-v1", max_episode_steps=50)
    folder = collect(env, root, "test/pendulum-random-v0", 175, data_format)
    rows, lengths = minari_rows("test/pendulum-random-v0")
    # three time-limited episodes, and the fourth cut by the end of collection (Minari marks it
    # truncated when it writes the dataset)
    assert lengths == [50, 50, 50, 25]
    for source in (folder, folder / "data", str(folder), "test/pendulum-random-v0"):
        ds = D.load(source)
        assert_rows(ds, rows)
        assert ds.num_episodes == 4 and ds.action_shape == (1,) and ds.obs_shape == (3,)
        assert not ds.terminals.any() and int(ds.timeouts.sum()) == 4
    # next observation at an episode end is the true final observation, not the next reset
    first_next = D.load(folder).to_numpy()["next_observations"][49]
    assert not np.array_equal(first_next, D.load(folder).to_numpy()["observations"][50])
    assert_same(D.load(folder), D.load_minari("test/pendulum-random-v0"))


@pytest.mark.parametrize("data_format", FORMATS)
def test_cartpole_terminations_and_integer_actions(root: Path, data_format: str) -> None:
    folder = collect(gym.make("CartPole-v1"), root, "cartpole-test-v0", 150, data_format)
    rows, lengths = minari_rows("cartpole-test-v0")
    ds = D.load(folder)
    assert_rows(ds, rows)
    assert_same(ds, D.load("cartpole-test-v0"))
    assert ds.actions.dtype == np.int32 and ds.action_shape == ()
    assert set(np.unique(ds.actions).tolist()) == {0, 1}
    assert int(ds.terminals.sum()) >= 3  # random CartPole falls within ~20 steps
    assert ds.num_episodes == len(lengths) and ds.size == 150
    card = D.load_card(folder)
    assert card is not None
    assert card["minari_env_id"] == "CartPole-v1" and card["dataset_id"] == "cartpole-test-v0"
    assert card["total_steps"] == 150 and card["data_format"] == data_format


def test_episode_without_end_flag_becomes_a_timeout(root: Path) -> None:
    """Minari's DataCollector always flags the last step it writes, so Minari's own
    create_dataset_from_buffers writes an episode that ends with neither flag."""
    rng = np.random.default_rng(0)
    flags = ([False, False, True], [False] * 4)  # a terminal episode, then an open one
    buffers = [
        EpisodeBuffer(
            id=i,
            observations=rng.normal(size=(len(f) + 1, 2)).astype(np.float32),
            actions=rng.normal(size=(len(f), 1)).astype(np.float32),
            rewards=rng.normal(size=len(f)),
            terminations=f,
            truncations=[False] * len(f),
        )
        for i, f in enumerate(flags)
    ]
    space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers(
            "open-end-v0", buffers, observation_space=space, action_space=space
        )
    rows, _ = minari_rows("open-end-v0")
    with pytest.warns(DatasetWarning, match=r"1 episode\(s\) end with neither"):
        ds = D.load("open-end-v0")
    rows["timeouts"][-1] = True
    assert_rows(ds, rows)
    assert ds.num_episodes == 2 and not ds.terminals[-1]


def test_structured_observation_space_is_refused(root: Path) -> None:
    obs = {"a": np.zeros((3, 2), np.float32), "b": np.ones((3, 1), np.float32)}
    buffer = EpisodeBuffer(
        id=0,
        observations=obs,
        actions=np.zeros((2, 1), np.float32),
        rewards=[0.0, 1.0],
        terminations=[False, True],
        truncations=[False, False],
    )
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    space = gym.spaces.Dict({"a": box, "b": gym.spaces.Box(-1.0, 1.0, (1,), np.float32)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        minari.create_dataset_from_buffers(
            "dict-obs-v0", [buffer], observation_space=space, action_space=box
        )
    with pytest.raises(DatasetError, match="observation_space is Dict"):
        D.load("dict-obs-v0")


# --------------------------------------------------------------------------- writing


def continuous_dataset(goals: bool = False) -> Dataset:
    """Four episodes (lengths 5, 7, 3, 6) of consistent random transitions ending with a
    terminal, a timeout, both flags, and a timeout."""
    rng = np.random.default_rng(1)
    lengths, ends = (5, 7, 3, 6), ((1, 0), (0, 1), (1, 1), (0, 1))
    obs, nobs, term, tout = [], [], [], []
    for n, (t, o) in zip(lengths, ends, strict=True):
        states = rng.normal(size=(n + 1, 3)).astype(np.float32)
        obs.append(states[:-1])
        nobs.append(states[1:])
        term.append(np.arange(n) == n - 1 if t else np.zeros(n, bool))
        tout.append(np.arange(n) == n - 1 if o else np.zeros(n, bool))
    size = sum(lengths)
    return Dataset.create(
        np.concatenate(obs),
        rng.uniform(-1, 1, size=(size, 2)).astype(np.float32),
        rng.normal(size=size).astype(np.float32),
        np.concatenate(term),
        np.concatenate(tout),
        np.concatenate(nobs),
        goals=rng.normal(size=(size, 2)).astype(np.float32) if goals else None,
    )


def discrete_dataset() -> Dataset:
    base = continuous_dataset().to_numpy()
    actions = np.random.default_rng(2).integers(0, 3, size=base["rewards"].shape[0])
    return Dataset.create(**{**base, "actions": actions.astype(np.int32)})


def assert_minari_episodes(ds: Dataset, dataset_id: str) -> None:
    """``minari.load_dataset(dataset_id)`` holds ``ds``'s episodes: N + 1 observations (the last
    row's next observation last), actions, rewards and both flags."""
    data = ds.to_numpy()
    episodes = list(minari.load_dataset(dataset_id).iterate_episodes())
    assert [len(ep) for ep in episodes] == ds.episode_lengths.tolist()
    start = 0
    for ep in episodes:
        end = start + len(ep)
        want_obs = np.concatenate(
            [data["observations"][start:end], data["next_observations"][end - 1 : end]]
        )
        np.testing.assert_array_equal(ep.observations, want_obs)
        np.testing.assert_array_equal(ep.actions, data["actions"][start:end])
        np.testing.assert_array_equal(ep.rewards, data["rewards"][start:end])
        np.testing.assert_array_equal(ep.terminations, data["terminals"][start:end])
        np.testing.assert_array_equal(ep.truncations, data["timeouts"][start:end])
        start = end


@pytest.mark.parametrize("data_format", FORMATS)
def test_save_continuous_reads_back_through_minari(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_format: str
) -> None:
    ds = continuous_dataset(goals=True)
    out = tmp_path / "out"
    with pytest.warns(DatasetWarning, match="goals not written"):
        folder = D.save_minari(ds, "jaxrl/hand-v0", root=out, data_format=data_format)
    assert folder == out / "jaxrl" / "hand-v0"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(out))
    assert_minari_episodes(ds, "jaxrl/hand-v0")
    source = minari.load_dataset("jaxrl/hand-v0")
    assert source.action_space == gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    back = D.load(folder)
    assert back.goals is None
    assert_same(continuous_dataset(), back)
    assert_same(back, D.load("jaxrl/hand-v0"))


def test_save_discrete_reads_back_through_minari(tmp_path: Path, monkeypatch) -> None:
    ds = discrete_dataset()
    folder = D.save_minari(ds, "disc-v1", root=tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    assert_minari_episodes(ds, "disc-v1")
    assert minari.load_dataset("disc-v1").action_space == gym.spaces.Discrete(3)
    back = D.load(folder)
    assert back.actions.dtype == np.int32
    assert_same(ds, back)


def test_collected_data_round_trips_with_env_and_reference_scores(root: Path, tmp_path) -> None:
    folder = collect(gym.make("Pendulum-v1", max_episode_steps=50), root, "pendulum/random-v0", 120)
    ds = D.load(folder)
    out = tmp_path / "copy"
    copy = D.save_minari(
        ds,
        "pendulum/copy-v0",
        root=out,
        env_id="Pendulum-v1",
        algorithm_name="random",
        ref_min_score=-1200.0,
        ref_max_score=-150.0,
    )
    assert_same(ds, D.load(copy))
    card = D.load_card(copy)
    assert card is not None
    assert card["minari_env_id"] == "Pendulum-v1" and card["algorithm_name"] == "random"
    assert (card["random_return"], card["expert_return"]) == (-1200.0, -150.0)
    assert card["total_steps"] == 120 and card["total_episodes"] == 3
    # the datasets root is restored after writing elsewhere
    assert_same(ds, D.load("pendulum/random-v0"))


def test_save_refuses_bad_or_existing_ids(tmp_path: Path) -> None:
    ds = continuous_dataset()
    with pytest.raises(ValueError, match="not a Minari id"):
        D.save_minari(ds, "no-version", root=tmp_path)
    D.save_minari(ds, "once-v0", root=tmp_path)
    with pytest.raises(FileExistsError, match="once-v0 already exists"):
        D.save_minari(ds, "once-v0", root=tmp_path)


# --------------------------------------------------------------------------- errors


def test_missing_minari_names_the_extra(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = D.save_minari(continuous_dataset(), "there-v0")
    monkeypatch.setitem(sys.modules, "minari", None)  # `import minari` now fails
    with pytest.raises(ImportError, match=r"pip install \"jaxrl\[minari\]\""):
        D.load(folder)
    with pytest.raises(ImportError, match=r"jaxrl\[minari\]"):
        D.save_minari(continuous_dataset(), "other-v0")


def test_missing_folder_or_unknown_id_never_downloads(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to download")

    monkeypatch.setattr(minari.storage.hosting, "download_dataset", no_download)
    monkeypatch.setattr(minari, "download_dataset", no_download)
    missing = tmp_path / "nothing-here"
    with pytest.raises(FileNotFoundError, match=f"no Minari dataset at {missing}"):
        D.load_minari(missing)
    with pytest.raises(FileNotFoundError, match=r"nobody/unknown-v0.*MINARI_DATASETS_PATH="):
        D.load_minari("nobody/unknown-v0")
    with pytest.raises(FileNotFoundError, match="nobody/unknown-v0: no such file or folder"):
        D.load("nobody/unknown-v0")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DatasetError, match="no Minari dataset at .*plain"):
        D.load(tmp_path / "plain")
