"""The settings called "official" are the official code's values: TD3+BC's defaults
(``td3_bc.Config()``), PRDC's defaults (``prdc.Config()``) and PRDC's per-task paper preset
(``prdc.paper_config``), each compared with a table of the official values. Every row cites the
file and line of the official code it was read from (TD3+BC: sfujim/TD3_BC @8791ad7; PRDC:
LAMDA-RL/PRDC @9f38464), so an edit that drifts from them fails here and says where to look.

A field the official code does not have is listed in ``OURS_ONLY`` with the reason; a new
Config field must join a table or that list (the last tests check that every field is covered).
"""

from __future__ import annotations

import dataclasses

import pytest

from jaxrl.agents import prdc, td3_bc

TD3_BC_OFFICIAL: list[tuple[str, object, str]] = [
    # (Config field, official value, where in sfujim/TD3_BC @8791ad7)
    ("alpha", 2.5, "main.py:56 (--alpha; TD3_BC.py:76; run_experiments.sh:27-29 passes none)"),
    ("actor_learning_rate", 3e-4, "TD3_BC.py:81 (Adam lr of the actor, not an argument)"),
    ("critic_learning_rate", 3e-4, "TD3_BC.py:85 (Adam lr of the critic, not an argument)"),
    ("discount", 0.99, "main.py:50 (--discount)"),
    ("tau", 0.005, "main.py:51 (--tau)"),
    ("policy_noise", 0.2, "main.py:52 (--policy_noise, times max_action at main.py:90)"),
    ("noise_clip", 0.5, "main.py:53 (--noise_clip, times max_action at main.py:91)"),
    ("policy_delay", 2, "main.py:54 (--policy_freq)"),
    ("batch_size", 256, "main.py:49 (--batch_size)"),
    ("normalize_obs", True, "main.py:57 (--normalize; applied at main.py:106-107)"),
    ("obs_std_eps", 1e-3, "utils.py:52 (normalize_states eps)"),
    ("hidden_sizes", (256, 256), "TD3_BC.py:15-17 (actor), 33-39 (each critic)"),
    ("reward_scale", 1.0, "utils.py:31-40 (sample returns the rewards unchanged, every task)"),
    ("reward_shift", 0.0, "utils.py:31-40 (no shaping in the official code)"),
]
"""TD3+BC's official settings: what ``td3_bc.Config()`` must hold."""

PRDC_DEFAULTS: list[tuple[str, object, str]] = [
    # (Config field, official value, where in LAMDA-RL/PRDC @9f38464)
    ("actor_learning_rate", 3e-4, "utils/config.py:36 (--actor_lr)"),
    ("critic_learning_rate", 3e-4, "utils/config.py:37 (--critic_lr)"),
    ("batch_size", 256, "utils/config.py:41-43 (--batch_size)"),
    ("discount", 0.99, "utils/config.py:44 (--discount)"),
    ("tau", 0.005, "utils/config.py:45 (--tau)"),
    ("policy_noise", 0.2, "utils/config.py:46-48 (--policy_noise, times max_action at :94)"),
    ("noise_clip", 0.5, "utils/config.py:49-51 (--noise_clip, times max_action at :95)"),
    ("policy_delay", 2, "utils/config.py:52-54 (--policy_freq)"),
    ("normalize_obs", True, "utils/config.py:55-57 (--normalize; applied at main.py:52-53)"),
    ("obs_std_eps", 1e-3, "utils/buffer.py:57 (normalize_states eps)"),
    ("reward_scale", 1.0, "utils/config.py:58-60 (--scale; applied at utils/buffer.py:45)"),
    ("reward_shift", 0.0, "utils/config.py:61-63 (--shift; applied at utils/buffer.py:45)"),
    ("alpha", 2.5, "utils/config.py:67 (--alpha)"),
    ("k", 1, "utils/config.py:69 (--k; the k-th neighbour, k=[self.k] at prdc.py:114)"),
    ("hidden_sizes", (256, 256), "net/actor.py:9-11, net/critic.py:9-15"),
    # beta: the default of the PRDC class and the README's locomotion value; main.py never uses
    # the class default, it passes --beta, whose argparse default is 1.0 (utils/config.py:68)
    ("beta", 2.0, "prdc.py:25 (PRDC(beta=2)); README.md:40,46 (--beta 2.0)"),
]
"""PRDC's official defaults: what ``prdc.Config()`` must hold (for every dataset)."""

PRDC_PAPER: dict[str, list[tuple[str, object, str]]] = {
    # task: rows (Config field, official value, where in LAMDA-RL/PRDC @9f38464)
    "halfcheetah-medium-v2": [
        ("alpha", 40.0, "README.md:40 (--alpha 40.0)"),
        ("beta", 2.0, "README.md:40 (--beta 2.0)"),
        ("k", 1, "README.md:40 (--k 1)"),
        ("reward_scale", 1.0, "README.md:40 (no --scale: utils/config.py:59)"),
        ("reward_shift", 0.0, "README.md:40 (no --shift: utils/config.py:62)"),
    ],
    "hopper-medium-v2": [
        ("alpha", 2.5, "README.md:46 (--alpha 2.5)"),
        ("beta", 2.0, "README.md:46 (--beta 2.0)"),
        ("k", 1, "README.md:46 (--k 1)"),
        ("reward_scale", 1.0, "README.md:46 (no --scale: utils/config.py:59)"),
        ("reward_shift", 0.0, "README.md:46 (no --shift: utils/config.py:62)"),
    ],
    "walker2d-medium-replay-v2": [
        ("alpha", 2.5, "README.md:43,46 (the hopper command, 'for hopper & walker2d')"),
        ("beta", 2.0, "README.md:43,46"),
        ("k", 1, "README.md:43,46"),
        ("reward_scale", 1.0, "README.md:46 (no --scale: utils/config.py:59)"),
        ("reward_shift", 0.0, "README.md:46 (no --shift: utils/config.py:62)"),
    ],
    "antmaze-medium-play-v2": [
        ("alpha", 7.5, "README.md:52 (--alpha 7.5)"),
        ("beta", 7.5, "README.md:52 (--beta 7.5)"),
        ("k", 1, "README.md:52 (--k 1)"),
        ("reward_scale", 10000.0, "README.md:49-52 (--scale=10000; utils/buffer.py:43-45)"),
        ("reward_shift", -1.0, "README.md:49-52 (--shift=-1; utils/buffer.py:43-45)"),
    ],
}
"""PRDC's per-task official settings (the README's commands): what ``prdc.paper_config(task)``
must hold on top of :data:`PRDC_DEFAULTS`."""

OURS_ONLY: dict[str, str] = {
    "backend": "the neighbour-search backend: the official code always queries scipy's KDTree "
    "(prdc.py:49, 114); every backend of ours is exact, and 'auto' is the KD-tree on CPU",
}
"""Config fields with no official counterpart, and why."""


def rows(table: list[tuple[str, object, str]]) -> list:
    return [pytest.param(field, value, where, id=field) for field, value, where in table]


@pytest.mark.parametrize("field, value, where", rows(TD3_BC_OFFICIAL))
def test_td3_bc_defaults_are_the_official_values(field, value, where):
    ours = getattr(td3_bc.Config(), field)
    assert ours == value, f"td3_bc.Config().{field} = {ours}; sfujim/TD3_BC {where}: {value}"


@pytest.mark.parametrize("field, value, where", rows(PRDC_DEFAULTS))
def test_prdc_defaults_are_the_official_values(field, value, where):
    ours = getattr(prdc.Config(), field)
    assert ours == value, f"prdc.Config().{field} = {ours}; LAMDA-RL/PRDC {where}: {value}"


@pytest.mark.parametrize(
    "task, field, value, where",
    [
        pytest.param(task, field, value, where, id=f"{task}-{field}")
        for task, table in PRDC_PAPER.items()
        for field, value, where in table
    ],
)
def test_prdc_paper_preset_is_the_official_per_task_setting(task, field, value, where):
    ours = getattr(prdc.paper_config(task), field)
    assert ours == value, f"paper_config({task!r}).{field} = {ours}; LAMDA-RL/PRDC {where}: {value}"


@pytest.mark.parametrize("task", sorted(PRDC_PAPER))
def test_prdc_paper_preset_keeps_the_official_defaults_elsewhere(task):
    config = prdc.paper_config(task)
    set_here = {field for field, _, _ in PRDC_PAPER[task]}
    for field, value, where in PRDC_DEFAULTS:
        if field not in set_here:
            ours = getattr(config, field)
            assert ours == value, f"paper_config({task!r}).{field} = {ours}; {where}: {value}"


def test_every_config_field_is_in_a_table():
    fields = {f.name for f in dataclasses.fields(td3_bc.Config)}
    assert fields == {field for field, _, _ in TD3_BC_OFFICIAL}
    fields = {f.name for f in dataclasses.fields(prdc.Config)}
    assert fields == {field for field, _, _ in PRDC_DEFAULTS} | set(OURS_ONLY)
    assert set(prdc.PAPER_SETTINGS) == {prdc.paper_task(task) for task in PRDC_PAPER}
    for task, table in PRDC_PAPER.items():  # the table covers every field the preset sets
        assert set(prdc.PAPER_SETTINGS[prdc.paper_task(task)]) <= {f for f, _, _ in table}
