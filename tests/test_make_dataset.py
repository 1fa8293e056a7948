"""The dataset generators write loadable datasets with truthful cards."""

import json
import os
import sys

import numpy as np
import pytest

from jaxrl import data, envs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "experiments"))
import make_dataset  # noqa: E402


def test_pointmaze_navigate_and_stitch(tmp_path):
    for kind, length in (("navigate", 300), ("stitch", 100)):
        path = make_dataset.main(
            [
                "pointmaze",
                "--kind",
                kind,
                "--episodes",
                "6",
                "--batch",
                "4",
                "--episode-length",
                str(length),
                "--out",
                str(tmp_path / f"{kind}.npz"),
            ]
        )
        ds = data.load(path)
        card = data.load_card(path)
        with open(path + ".json") as f:
            assert card == json.load(f)
        assert ds.size == 6 * length and ds.num_episodes == 6
        assert card["kind"] == kind and card["noise"] == 0.5 and card["size"] == ds.size
        # the noisy oracle reaches goals: rewards mark arrivals at the stored goals
        reached = np.asarray(ds.rewards) > 0
        assert reached.sum() >= 6
        gap = np.linalg.norm(
            np.asarray(ds.next_observations)[reached] - np.asarray(ds.goals)[reached], axis=-1
        )
        assert (gap <= 0.25 + 1e-5).all()
        np.testing.assert_array_equal(ds.physics["qpos"], ds.observations)


def test_episode_complete_tells_fragments_from_finished_episodes():
    """Hand-built dataset with time limit 3: an episode that terminates early, one truncated by
    the time limit, one that both terminates and hits the limit, and fragments (timeouts before
    the limit: cut by the end of collection) of length 2 and 1."""
    term = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    tout = [0, 0, 0, 0, 1, 0, 1, 0, 1, 1]
    # episodes: rows 0-1 terminated, 2-4 time limit, 5-6 fragment, 7-8 both flags, 9 fragment
    n = len(term)
    ds = data.Dataset.create(
        observations=np.zeros((n, 1)),
        actions=np.zeros((n, 1)),
        rewards=np.arange(n, dtype=np.float32),
        terminals=np.array(term, bool),
        timeouts=np.array(tout, bool),
        next_observations=np.zeros((n, 1)),
    )
    complete = ds.episode_complete(3)
    np.testing.assert_array_equal(complete, [True, True, False, True, False])
    np.testing.assert_array_equal(ds.episode_returns[complete], [0 + 1, 2 + 3 + 4, 7 + 8])
    np.testing.assert_array_equal(ds.episode_lengths[~complete], [2, 1])
    # a larger limit turns the time-limit episode into a fragment too; terminations stay complete
    np.testing.assert_array_equal(ds.episode_complete(4), [True, False, False, True, False])
    with pytest.raises(data.DatasetError, match="longer than time_limit 2"):
        ds.episode_complete(2)
    with pytest.raises(ValueError, match="positive int"):
        ds.episode_complete(0)


def test_locomotion_d4rl_style_sets(tmp_path):
    paths = make_dataset.main(
        [
            "locomotion",
            "--env",
            "pendulum",
            "--train-steps",
            "120000",
            "--snapshots",
            "6",
            "--steps",
            "4000",
            "--num-envs",
            "8",
            "--out-dir",
            str(tmp_path),
            "--run-dir",
            str(tmp_path / "runs"),
        ]
    )
    sets = {
        os.path.basename(p).split("-", 1)[1][:-4]: (data.load(p), data.load_card(p)) for p in paths
    }
    assert set(sets) == {"random", "medium", "medium-replay", "expert", "medium-expert"}
    limit = 200  # pendulum's time limit; it never terminates
    # complete episodes only: the fragments cut by the end of collection (the last 4000 / 8 - 2 *
    # 200 = 100 steps of each env stream) would pull every mean towards a 100-step return
    ret = {}
    for k, (ds, card) in sets.items():
        complete = ds.episode_complete(limit)
        ret[k] = ds.episode_returns[complete].mean()
        lengths = ds.episode_lengths
        assert card["time_limit"] == limit
        assert card["complete_episodes"] == complete.sum() > 0
        assert card["fragments"] == {
            "count": int((~complete).sum()),
            "steps": int(lengths[~complete].sum()),
        }
        assert (lengths[complete] == limit).all() and (lengths[~complete] < limit).all()
        np.testing.assert_allclose(card["episode_return"]["mean"], ret[k], rtol=1e-6)
    card = sets["medium"][1]
    assert card["random_return"] < card["expert_return"]
    assert ret["random"] < ret["medium"] < ret["expert"], ret
    # medium-replay re-collects equal shares with every PPO snapshot up to the medium one (the
    # policies after 1, 2, ... training chunks, on the way from near-random to medium; the last
    # share is the medium policy itself): its mean is a mix of theirs, so it lies between
    # random's and medium's. PPO does not improve monotonically (an early snapshot can be a
    # little worse than uniform random, or one before medium a little better than it), hence a
    # margin of a tenth of the random-to-expert gap on both sides.
    # (Seed 0 on CPU: random -1228, medium-replay -1086, medium -950, expert -196.)
    margin = 0.1 * (ret["expert"] - ret["random"])
    assert ret["random"] - margin < ret["medium-replay"] < ret["medium"] + margin, ret
    assert sets["medium-expert"][0].size == sets["medium"][0].size + sets["expert"][0].size
    assert sets["medium-replay"][0].size >= sets["medium"][0].size // 2
    for ds, c in sets.values():
        assert c["env"] == "pendulum" and c["size"] == ds.size
        assert np.isfinite(np.asarray(ds.observations)).all()


# --- exorl: reward-free data with every task's reward ------------------------------------------

EXORL_STEPS = 800  # four 200-step episodes of reach/fourrooms


def _check_exorl_file(path: str, agent: str) -> tuple[data.Dataset, dict]:
    """What every ``exorl`` file on reach/fourrooms holds: the rows, each task's stored reward
    (equal to the relabelled one), the physics after each step, and a card that says so."""
    from jaxrl import envs, zero_shot
    from jaxrl.envs import reach

    env = envs.make("reach/fourrooms")
    tasks = list(env.task_names)
    ds = data.load_npz(path)
    card = data.load_card(path)
    with open(path + ".json") as f:
        assert card == json.load(f)
    assert ds.size == EXORL_STEPS == card["size"]
    assert card["kind"] == "exorl" and card["env"] == "reach/fourrooms" and card["agent"] == agent
    assert card["tasks"] == tasks and len(tasks) == 4
    assert card["time_limit"] == 200 and card["complete_episodes"] == EXORL_STEPS // 200
    assert card["fragments"] == {"count": 0, "steps": 0}
    assert sorted(ds.task_rewards) == sorted(tasks)
    np.testing.assert_array_equal(ds.rewards, 0.0)  # reward-free
    # physics/next_pos is the state after the row's action: the next observation
    assert set(ds.physics) == {"next_pos"}
    np.testing.assert_array_equal(ds.physics["next_pos"], ds.next_observations)
    stored = np.stack([np.asarray(ds.task_rewards[t]) for t in tasks], axis=-1)
    assert stored.shape == (EXORL_STEPS, 4) and ((stored >= 0) & (stored <= 1)).all()
    np.testing.assert_allclose(np.asarray(zero_shot.relabel(env, ds)), stored, rtol=1e-5, atol=1e-7)
    for i, t in enumerate(tasks):
        np.testing.assert_allclose(
            card["task_returns"][t], stored[:, i].sum() / ds.num_episodes, rtol=1e-5
        )
    visited = card["coverage"]["visited_area"]
    assert 0 < visited <= 1
    assert visited == reach.coverage(env, np.asarray(ds.next_observations))
    return ds, card


def test_exorl_random_data_hold_every_task_reward_and_the_physics(tmp_path):
    path = make_dataset.main(
        [
            "exorl",
            "--agent",
            "random",
            "--steps",
            str(EXORL_STEPS),
            "--out",
            str(tmp_path / "r.npz"),
        ]
    )
    _, card = _check_exorl_file(path, "random")
    assert card["policies"] == ["random"] and card["explore_steps"] == 0


def test_exorl_rnd_data_come_from_each_snapshot(tmp_path):
    # Coverage is not compared with random data's: after one RND iteration per snapshot (2048
    # exploration steps) the policy is barely trained. RND's was above random's on each of seeds
    # 0-5 (0.19-0.30 against 0.14-0.21), but by as little as 0.009 (6 bins of 640).
    path = make_dataset.main(
        [
            "exorl",
            "--agent",
            "rnd",
            "--explore-steps",
            "2048",
            "--snapshots",
            "2",
            "--steps",
            str(EXORL_STEPS),
            "--out",
            str(tmp_path / "rnd.npz"),
        ]
    )
    ds, card = _check_exorl_file(path, "rnd")
    assert card["explore_steps"] == 2048
    labels = [p.split(" (")[0] for p in card["policies"]]
    assert labels == ["rnd after 1024 env steps", "rnd after 2048 env steps"]
    # each snapshot collected half of the rows: two whole episodes in each of 2 envs
    assert ds.num_episodes == 4


@pytest.mark.parametrize(
    "argv",
    [
        ["--steps", "0"],
        ["--num-envs", "0"],
        ["--snapshots", "0"],
        ["--explore-envs", "0"],
        ["--explore-steps", "-1"],
    ],
)
def test_exorl_bad_counts_fail_before_anything_is_written(tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)  # the default output folder, datasets/, would be created here
    with pytest.raises(ValueError, match=r"--steps, --num-envs, --explore-envs and --snapshots"):
        make_dataset.main(["exorl", "--agent", "random", *argv])
    assert os.listdir(tmp_path) == []


def test_exorl_bad_episode_length_fails_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"--max-episode-steps must be >= 1, got 0"):
        make_dataset.main(["exorl", "--agent", "random", "--max-episode-steps", "0"])
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match=r"max_episode_steps must be an int >= 1, got -5"):
        envs.make("reach/fourrooms", max_episode_steps=-5)
