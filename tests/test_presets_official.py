"""The settings called "official" are the official code's values: TD3+BC's defaults
(``td3_bc.Config()``), PRDC's defaults (``prdc.Config()``) and PRDC's per-task paper preset
(``prdc.paper_config``), PROPS's paper presets (``presets.PROPS_PAPER_OFFICIAL``) and GoRL's
(``presets.gorl_preset("paper", env=...)``), each compared with a table of the official values.
Every row cites the file and line of the official code it was read from (TD3+BC: sfujim/TD3_BC
@8791ad7; PRDC: LAMDA-RL/PRDC @9f38464; PROPS: NicholasCorrado/PPOROS @a0c8708, its script and
its archived run configs; GoRL: bennidict23/GoRL @1461fb0 with google-deepmind/mujoco_playground
@d5e6b47 for ``brax_ppo_config``; BREEZE: Whiterrrrr/BREEZE @9d83548; TD-JEPA:
marbaga/td_jepa_public @9152a32), so an edit that drifts from them fails here and says where to
look.

A field the official code does not have is listed in ``OURS_ONLY`` with the reason; a new
Config field must join a table or that list (the last tests check that every field is covered).
"""

from __future__ import annotations

import dataclasses

import pytest

from jaxrl.agents import gorl, prdc, props, td3_bc
from jaxrl.agents.presets import PROPS_PAPER_OFFICIAL, gorl_preset

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


PROPS_RUN_CONFIGS: dict[str, str] = {
    # our task: the archived run config of the matching Gymnasium task (every run_<i> of a task
    # has the same settings; the configs were written by the earlier ppo_ros_continuous.py, so
    # the PROPS fields are named ros_*)
    "brax/swimmer": "Swimmer-v4/ppo_ros/b_2/s_2048/s_1024/lr_0.001/lr_1e-05/kl_0.03/kl_0.03/l_0.1",
    "brax/hopper": "Hopper-v4/ppo_ros/b_2/s_2048/s_256/lr_0.001/lr_0.001/kl_0.03/kl_0.05/l_0.3",
    "brax/halfcheetah": "HalfCheetah-v4/ppo_ros/b_2/s_1024/s_512/lr_0.0001/lr_0.001/kl_0.03/kl_0.05"
    "/l_0.3",
    "brax/walker2d": "Walker2d-v4/ppo_ros/b_2/s_2048/s_256/lr_0.001/lr_0.001/kl_0.03/kl_0.1/l_0.3",
    "brax/ant": "Ant-v4/ppo_ros/b_2/s_2048/s_256/lr_0.0001/lr_0.001/kl_0.03/kl_0.03/l_0.1",
    "brax/humanoid": "Humanoid-v4/ppo_ros/b_2/s_8192/s_256/lr_0.0001/lr_0.0001/kl_0.03/kl_0.1"
    "/l_0.1",
}
"""Where each task's settings are: ``PROPS/plotting/neurips/data/rl/props/results/<this>/e_16/
mb_*/c_*/a_0/run_0/config.yml`` in NicholasCorrado/PPOROS @a0c8708."""

PROPS_PAPER_RUNS: dict[str, list[tuple[str, object, str]]] = {
    # task: rows (Config field, official value, ":line (key)" in its PROPS_RUN_CONFIGS file)
    "brax/swimmer": [
        ("num_envs", 1, ":29 (num_envs)"),
        ("num_steps", 2048, ":31 (num_steps)"),
        ("buffer_batches", 2, ":5 (buffer_batches)"),
        ("learning_rate", 0.001, ":23 (learning_rate)"),
        ("gamma", 0.99, ":20 (gamma)"),
        ("gae_lambda", 0.95, ":19 (gae_lambda)"),
        ("num_minibatches", 32, ":30 (num_minibatches)"),
        ("num_epochs", 10, ":69 (update_epochs)"),
        ("clip_eps", 0.2, ":8 (clip_coef)"),
        ("clip_value_loss", True, ":9 (clip_vloss)"),
        ("ent_coef", 0.01, ":14 (ent_coef)"),
        ("vf_coef", 0.5, ":70 (vf_coef)"),
        ("max_grad_norm", 0.5, ":25 (max_grad_norm)"),
        ("target_kl", 0.03, ":65 (target_kl)"),
        ("normalize_advantages", True, ":27 (norm_adv)"),
        ("props_num_steps", 1024, ":50 (ros_num_steps)"),
        ("props_learning_rate", 1e-05, ":43 (ros_learning_rate)"),
        ("props_clip_eps", 0.3, ":39 (ros_clip_coef)"),
        ("props_lambda", 0.1, ":42 (ros_lambda)"),
        ("props_max_grad_norm", 0.5, ":44 (ros_max_grad_norm)"),
        ("props_num_minibatches", 16, ":49 (ros_num_minibatches)"),
        ("props_num_epochs", 16, ":53 (ros_update_epochs)"),
        ("props_target_kl", 0.03, ":51 (ros_target_kl)"),
        (
            "lr_decay_steps",
            999424.0,
            ":2,67 (anneal_lr: true over total_timesteps 1000000 // batch 2048 updates)",
        ),
    ],
    "brax/hopper": [
        ("num_envs", 1, ":27 (num_envs)"),
        ("num_steps", 2048, ":29 (num_steps)"),
        ("buffer_batches", 2, ":5 (buffer_batches)"),
        ("learning_rate", 0.001, ":21 (learning_rate)"),
        ("gamma", 0.99, ":20 (gamma)"),
        ("gae_lambda", 0.95, ":19 (gae_lambda)"),
        ("num_minibatches", 32, ":28 (num_minibatches)"),
        ("num_epochs", 10, ":66 (update_epochs)"),
        ("clip_eps", 0.2, ":8 (clip_coef)"),
        ("clip_value_loss", True, ":9 (clip_vloss)"),
        ("ent_coef", 0.01, ":14 (ent_coef)"),
        ("vf_coef", 0.5, ":67 (vf_coef)"),
        ("max_grad_norm", 0.5, ":23 (max_grad_norm)"),
        ("target_kl", 0.03, ":62 (target_kl)"),
        ("normalize_advantages", True, ":25 (norm_adv)"),
        ("props_num_steps", 256, ":48 (ros_num_steps)"),
        ("props_learning_rate", 0.001, ":41 (ros_learning_rate)"),
        ("props_clip_eps", 0.3, ":37 (ros_clip_coef)"),
        ("props_lambda", 0.3, ":40 (ros_lambda)"),
        ("props_max_grad_norm", 0.5, ":42 (ros_max_grad_norm)"),
        ("props_num_minibatches", 16, ":47 (ros_num_minibatches)"),
        ("props_num_epochs", 16, ":51 (ros_update_epochs)"),
        ("props_target_kl", 0.05, ":49 (ros_target_kl)"),
        (
            "lr_decay_steps",
            999424.0,
            ":2,64 (anneal_lr: true over total_timesteps 1000000 // batch 2048 updates)",
        ),
    ],
    "brax/halfcheetah": [
        ("num_envs", 1, ":27 (num_envs)"),
        ("num_steps", 1024, ":29 (num_steps)"),
        ("buffer_batches", 2, ":5 (buffer_batches)"),
        ("learning_rate", 0.0001, ":21 (learning_rate)"),
        ("gamma", 0.99, ":20 (gamma)"),
        ("gae_lambda", 0.95, ":19 (gae_lambda)"),
        ("num_minibatches", 32, ":28 (num_minibatches)"),
        ("num_epochs", 10, ":66 (update_epochs)"),
        ("clip_eps", 0.2, ":8 (clip_coef)"),
        ("clip_value_loss", True, ":9 (clip_vloss)"),
        ("ent_coef", 0.01, ":14 (ent_coef)"),
        ("vf_coef", 0.5, ":67 (vf_coef)"),
        ("max_grad_norm", 0.5, ":23 (max_grad_norm)"),
        ("target_kl", 0.03, ":62 (target_kl)"),
        ("normalize_advantages", True, ":25 (norm_adv)"),
        ("props_num_steps", 512, ":48 (ros_num_steps)"),
        ("props_learning_rate", 0.001, ":41 (ros_learning_rate)"),
        ("props_clip_eps", 0.3, ":37 (ros_clip_coef)"),
        ("props_lambda", 0.3, ":40 (ros_lambda)"),
        ("props_max_grad_norm", 0.5, ":42 (ros_max_grad_norm)"),
        ("props_num_minibatches", 16, ":47 (ros_num_minibatches)"),
        ("props_num_epochs", 16, ":51 (ros_update_epochs)"),
        ("props_target_kl", 0.05, ":49 (ros_target_kl)"),
        (
            "lr_decay_steps",
            1999872.0,
            ":2,64 (anneal_lr: true over total_timesteps 2000000 // batch 1024 updates)",
        ),
    ],
    "brax/walker2d": [
        ("num_envs", 1, ":27 (num_envs)"),
        ("num_steps", 2048, ":29 (num_steps)"),
        ("buffer_batches", 2, ":5 (buffer_batches)"),
        ("learning_rate", 0.001, ":21 (learning_rate)"),
        ("gamma", 0.99, ":20 (gamma)"),
        ("gae_lambda", 0.95, ":19 (gae_lambda)"),
        ("num_minibatches", 32, ":28 (num_minibatches)"),
        ("num_epochs", 10, ":66 (update_epochs)"),
        ("clip_eps", 0.2, ":8 (clip_coef)"),
        ("clip_value_loss", True, ":9 (clip_vloss)"),
        ("ent_coef", 0.01, ":14 (ent_coef)"),
        ("vf_coef", 0.5, ":67 (vf_coef)"),
        ("max_grad_norm", 0.5, ":23 (max_grad_norm)"),
        ("target_kl", 0.03, ":62 (target_kl)"),
        ("normalize_advantages", True, ":25 (norm_adv)"),
        ("props_num_steps", 256, ":48 (ros_num_steps)"),
        ("props_learning_rate", 0.001, ":41 (ros_learning_rate)"),
        ("props_clip_eps", 0.3, ":37 (ros_clip_coef)"),
        ("props_lambda", 0.3, ":40 (ros_lambda)"),
        ("props_max_grad_norm", 0.5, ":42 (ros_max_grad_norm)"),
        ("props_num_minibatches", 32, ":47 (ros_num_minibatches)"),
        ("props_num_epochs", 16, ":51 (ros_update_epochs)"),
        ("props_target_kl", 0.1, ":49 (ros_target_kl)"),
        (
            "lr_decay_steps",
            1998848.0,
            ":2,64 (anneal_lr: true over total_timesteps 2000000 // batch 2048 updates)",
        ),
    ],
    "brax/ant": [
        ("num_envs", 1, ":27 (num_envs)"),
        ("num_steps", 2048, ":29 (num_steps)"),
        ("buffer_batches", 2, ":5 (buffer_batches)"),
        ("learning_rate", 0.0001, ":21 (learning_rate)"),
        ("gamma", 0.99, ":20 (gamma)"),
        ("gae_lambda", 0.95, ":19 (gae_lambda)"),
        ("num_minibatches", 32, ":28 (num_minibatches)"),
        ("num_epochs", 10, ":67 (update_epochs)"),
        ("clip_eps", 0.2, ":8 (clip_coef)"),
        ("clip_value_loss", True, ":9 (clip_vloss)"),
        ("ent_coef", 0.01, ":14 (ent_coef)"),
        ("vf_coef", 0.5, ":68 (vf_coef)"),
        ("max_grad_norm", 0.5, ":23 (max_grad_norm)"),
        ("target_kl", 0.03, ":63 (target_kl)"),
        ("normalize_advantages", True, ":25 (norm_adv)"),
        ("props_num_steps", 256, ":48 (ros_num_steps)"),
        ("props_learning_rate", 0.001, ":41 (ros_learning_rate)"),
        ("props_clip_eps", 0.05, ":37 (ros_clip_coef)"),
        ("props_lambda", 0.1, ":40 (ros_lambda)"),
        ("props_max_grad_norm", 0.5, ":42 (ros_max_grad_norm)"),
        ("props_num_minibatches", 16, ":47 (ros_num_minibatches)"),
        ("props_num_epochs", 16, ":51 (ros_update_epochs)"),
        ("props_target_kl", 0.03, ":49 (ros_target_kl)"),
        (
            "lr_decay_steps",
            3999744.0,
            ":2,65 (anneal_lr: true over total_timesteps 4000000 // batch 2048 updates)",
        ),
    ],
    "brax/humanoid": [
        ("num_envs", 1, ":27 (num_envs)"),
        ("num_steps", 8192, ":29 (num_steps)"),
        ("buffer_batches", 2, ":5 (buffer_batches)"),
        ("learning_rate", 0.0001, ":21 (learning_rate)"),
        ("gamma", 0.99, ":20 (gamma)"),
        ("gae_lambda", 0.95, ":19 (gae_lambda)"),
        ("num_minibatches", 32, ":28 (num_minibatches)"),
        ("num_epochs", 10, ":65 (update_epochs)"),
        ("clip_eps", 0.2, ":8 (clip_coef)"),
        ("clip_value_loss", True, ":9 (clip_vloss)"),
        ("ent_coef", 0.01, ":14 (ent_coef)"),
        ("vf_coef", 0.5, ":66 (vf_coef)"),
        ("max_grad_norm", 0.5, ":23 (max_grad_norm)"),
        ("target_kl", 0.03, ":61 (target_kl)"),
        ("normalize_advantages", True, ":25 (norm_adv)"),
        ("props_num_steps", 256, ":48 (ros_num_steps)"),
        ("props_learning_rate", 0.0001, ":41 (ros_learning_rate)"),
        ("props_clip_eps", 0.3, ":37 (ros_clip_coef)"),
        ("props_lambda", 0.1, ":40 (ros_lambda)"),
        ("props_max_grad_norm", 0.5, ":42 (ros_max_grad_norm)"),
        ("props_num_minibatches", 32, ":47 (ros_num_minibatches)"),
        ("props_num_epochs", 16, ":51 (ros_update_epochs)"),
        ("props_target_kl", 0.1, ":49 (ros_target_kl)"),
        (
            "lr_decay_steps",
            5996544.0,
            ":2,63 (anneal_lr: true over total_timesteps 6000000 // batch 8192 updates)",
        ),
    ],
}
"""PROPS's per-task official settings: what ``PROPS_PAPER_OFFICIAL[task][0]`` must hold."""

PROPS_CODE: list[tuple[str, object, str]] = [
    # (Config field, official value, where in NicholasCorrado/PPOROS @a0c8708)
    ("mean_activation", "tanh", "PROPS/utils.py:190-195 (the actor mean ends in nn.Tanh)"),
    ("normalize_reward", True, "PROPS/utils.py:160 (NormalizeReward(env, gamma=gamma))"),
    ("reward_clip", 10.0, "PROPS/utils.py:161 (TransformReward clip to [-10, 10])"),
    ("normalize_obs", True, "PROPS/utils.py:158-159 (NormalizeObservation, clip 10)"),
    ("hidden_sizes", (64, 64), "PROPS/utils.py:182-195 (critic and actor 64 x 64)"),
    (
        "activation",
        "tanh",
        "PROPS/utils.py:174-179 (relu=False: Agent(envs), ppo_props_continuous.py:557)",
    ),
    ("policy_head", "gaussian", "PROPS/utils.py:197 (state-independent log-std), ClipAction :157"),
    ("sampling", "props", "every archived config: ros: 1 (the behaviour policy collects)"),
    ("adam_eps", 1e-5, "PROPS/ppo_props_continuous.py:558 (optimizer: Adam(..., eps=1e-5))"),
    (
        "props_adam_eps",
        1e-5,
        "PROPS/ppo_props_continuous.py:572 (props_optimizer: Adam(..., eps=1e-5))",
    ),
]
"""PROPS's settings fixed in the authors' code (every task)."""

PROPS_OURS_ONLY: dict[str, str] = {
    "se_epochs": "0: the sampling-error fit only measures, it never changes training (the "
    "archived Hopper, Swimmer and Walker2d runs measured it, se: 1, the others did not)",
    "se_learning_rate": "the measurement's step size (unused with se_epochs 0)",
    "se_num_minibatches": "the measurement's minibatches (unused with se_epochs 0)",
    "reward_scale": "1.0: the authors have no reward scale",
}
"""PROPS paper-preset fields set to our own values, and why (the rest keep ppo.Config's
defaults, which have no effect on a PROPS run with these settings)."""


@pytest.mark.parametrize(
    "task, field, value, where",
    [
        pytest.param(task, field, value, where, id=f"{task}-{field}")
        for task, table in PROPS_PAPER_RUNS.items()
        for field, value, where in table
    ],
)
def test_props_paper_preset_is_the_archived_run_config(task, field, value, where):
    ours = getattr(PROPS_PAPER_OFFICIAL[task][0], field)
    assert ours == value, (
        f"PROPS_PAPER_OFFICIAL[{task!r}].{field} = {ours}; NicholasCorrado/PPOROS "
        f"PROPS/plotting/neurips/data/rl/props/results/{PROPS_RUN_CONFIGS[task]}/.../run_0/"
        f"config.yml{where}: {value}"
    )


@pytest.mark.parametrize("task", sorted(PROPS_PAPER_RUNS))
@pytest.mark.parametrize("field, value, where", rows(PROPS_CODE))
def test_props_paper_preset_has_the_authors_code_settings(task, field, value, where):
    ours = getattr(PROPS_PAPER_OFFICIAL[task][0], field)
    assert ours == value, f"PROPS_PAPER_OFFICIAL[{task!r}].{field} = {ours}; {where}: {value}"


def test_props_paper_budgets_are_the_archived_total_timesteps():
    budgets = {"brax/swimmer": 1_000_000, "brax/hopper": 1_000_000}
    budgets |= {"brax/halfcheetah": 2_000_000, "brax/walker2d": 2_000_000}
    budgets |= {"brax/ant": 4_000_000, "brax/humanoid": 6_000_000}  # total_timesteps, each file
    assert {task: budget for task, (_, budget) in PROPS_PAPER_OFFICIAL.items()} == budgets


def test_props_paper_rows_cover_every_config_field():
    covered = {field for field, _, _ in PROPS_CODE} | set(PROPS_OURS_ONLY)
    covered |= {field for field, _, _ in PROPS_PAPER_RUNS["brax/hopper"]}
    set_here = {
        f.name
        for f in dataclasses.fields(props.Config)
        if getattr(PROPS_PAPER_OFFICIAL["brax/hopper"][0], f.name)
        != getattr(props.Config(), f.name)
    }
    assert set_here <= covered, f"paper-preset fields with no official row: {set_here - covered}"


BRAX_PPO_CONFIG = "mujoco_playground/config/dm_control_suite_params.py"
"""``brax_ppo_config``, which GoRL's encoder loads (scripts/components/train_encoder_ppo.py:81)
and passes whole to ``EncoderConfig`` (:120)."""

GORL_PAPER: list[tuple[str, object, str]] = [
    # (Config field, official value, where: GoRL @1461fb0, or Playground @d5e6b47's BRAX_PPO_CONFIG)
    ("num_envs", 2048, f"{BRAX_PPO_CONFIG}:43 (num_envs)"),
    (
        "num_steps",
        480,
        "src/flow_policy/encoder_ppo.py:54-60 (iterations_per_env = 32 x 1024 x 30"
        f" / 2048; {BRAX_PPO_CONFIG}:37-38, 43-44)",
    ),
    ("num_minibatches", 32, f"{BRAX_PPO_CONFIG}:38 (num_minibatches)"),
    ("num_epochs", 16, f"{BRAX_PPO_CONFIG}:39 (num_updates_per_batch)"),
    ("learning_rate", 1e-3, f"{BRAX_PPO_CONFIG}:41; constant (src/flow_policy/encoder_ppo.py:230)"),
    ("lr_decay_steps", 0.0, "src/flow_policy/encoder_ppo.py:108-109, 229-232 (no schedule)"),
    ("adam_eps", 1e-8, "src/flow_policy/encoder_ppo.py:109 (optax.scale_by_adam() default eps)"),
    (
        "eval_ties",
        "later",
        "scripts/components/train_encoder_ppo.py:235 (current_reward >= best_reward - 1e-6)",
    ),
    ("reward_scale", 10.0, f"{BRAX_PPO_CONFIG}:33 (reward_scaling)"),
    ("ent_coef", 1e-2, f"{BRAX_PPO_CONFIG}:42 (entropy_cost)"),
    ("normalize_obs", True, f"{BRAX_PPO_CONFIG}:35 (normalize_observations)"),
    ("gae_lambda", 0.95, "src/flow_policy/encoder_ppo.py:36"),
    ("normalize_advantages", True, "src/flow_policy/encoder_ppo.py:37, 286-289"),
    ("vf_coef", 0.5, "src/flow_policy/encoder_ppo.py:40, 341 (0.25 mean(err^2) = our 0.5 x 0.5)"),
    ("clip_value_loss", False, "src/flow_policy/encoder_ppo.py:330, 341 (plain squared error)"),
    ("advantage_form", "brax", "src/flow_policy/rollouts.py:332-338"),
    (
        "sequence_length",
        30,
        "src/flow_policy/rollouts.py:45-60 (480 x 2048 / (32 x 1024) steps per shuffled "
        "sequence), encoder_ppo.py:255-278 (GAE recomputed in each minibatch's loss)",
    ),
    ("obs_stats_update", "before", "src/flow_policy/encoder_ppo.py:153-157 (before the epochs)"),
    ("hidden_sizes", (32, 32, 32, 32), "src/flow_policy/encoder_ppo.py:101-103 (actor)"),
    ("activation", "silu", "src/flow_policy/networks.py:69 (gaussian_policy_fwd)"),
    ("value_hidden_sizes", (256,) * 5, "src/flow_policy/encoder_ppo.py:104 (critic)"),
    ("value_activation", "silu", "src/flow_policy/networks.py:41 (value_mlp_fwd)"),
    ("value_kernel_init", "lecun_uniform", "src/flow_policy/networks.py:23 (mlp_init default)"),
    ("policy_head", "gaussian", "src/flow_policy/encoder_ppo.py:129 (a Gaussian over z)"),
    (
        "tanh_entropy",
        "base",
        "src/flow_policy/encoder_ppo.py:49, 354-356 "
        "(use_tanh_jacobian_for_z False; scripts/run_gorl_fm.py:163-175 passes none)",
    ),
    ("decoder_batch", 8192, "scripts/run_gorl_fm.py:37 (fm_batch_size)"),
    ("decoder_epochs", 50, "scripts/run_gorl_fm.py:38 (fm_num_epochs)"),
    ("decoder_lr", 3e-4, "scripts/run_gorl_fm.py:39 (fm_learning_rate)"),
    ("decoder_hidden_sizes", (64,) * 4, "scripts/run_gorl_fm.py:41-42 (fm_hidden_size, layers)"),
    ("decoder_patience", 20, "scripts/components/train_decoder_fm.py:185"),
    ("decoder_steps", 10, "src/flow_policy/decoder_fm.py:27 (flow_steps)"),
    ("decoder_val_fraction", 0.1, "scripts/components/train_decoder_fm.py:24"),
    (
        "collect_steps",
        20 * 480,
        "scripts/run_gorl_fm.py:44 (20 iterations of 480 steps, "
        "scripts/components/collect_data_fm.py:149-154)",
    ),
]
"""GoRL's official settings shared by every stage and task."""

GORL_STAGES: list[list[tuple[str, object, str]]] = [
    [
        ("clip_eps", 0.15, "scripts/run_gorl_fm.py:153"),
        ("max_grad_norm", 0.5, "scripts/run_gorl_fm.py:48, 152"),
        ("z_reg_coef", 5e-4, "scripts/run_gorl_fm.py:157 (0.0005 except BallInCup)"),
    ],
    *[
        [
            ("clip_eps", 0.3, "scripts/run_gorl_fm.py:160"),
            ("max_grad_norm", 1.0, "scripts/run_gorl_fm.py:159"),
            ("z_reg_coef", 1e-3, "scripts/run_gorl_fm.py:161"),
        ]
    ]
    * 3,
]
"""GoRL's per-stage settings (4 stages, scripts/run_gorl_fm.py:31)."""

GORL_TASKS: dict[str, list[tuple[int, str, object, str]]] = {
    # env: rows (stage, Config field, official value, where)
    "playground/BallInCup": [
        *[(k, "gamma", 0.95, f"{BRAX_PPO_CONFIG}:50-51") for k in range(4)],
        (0, "z_reg_coef", 0.0, "scripts/run_gorl_fm.py:157 (0.0 for BallInCup)"),
    ],
    "playground/FingerSpin": [(k, "gamma", 0.95, f"{BRAX_PPO_CONFIG}:56-57") for k in range(4)],
    "playground/HopperStand": [(k, "gamma", 0.995, f"{BRAX_PPO_CONFIG}:40") for k in range(4)],
    "playground/CheetahRun": [(k, "gamma", 0.995, f"{BRAX_PPO_CONFIG}:40") for k in range(4)],
}
"""Per-task values of ``brax_ppo_config(env_name)`` and ``run_gorl_fm.py`` that reach GoRL."""


@pytest.mark.parametrize("env", sorted(GORL_TASKS))
@pytest.mark.parametrize("field, value, where", rows(GORL_PAPER))
def test_gorl_paper_preset_is_the_official_setting(env, field, value, where):
    configs, _, _ = gorl_preset("paper", env=env)
    for k, config in enumerate(configs):
        ours = getattr(config, field)
        assert ours == value, f"gorl paper stage {k}.{field} = {ours}; {where}: {value}"


@pytest.mark.parametrize("stage", range(4))
def test_gorl_paper_preset_has_the_official_stage_settings(stage):
    config = gorl_preset("paper", env="playground/HopperStand")[0][stage]
    for field, value, where in GORL_STAGES[stage]:
        ours = getattr(config, field)
        assert ours == value, f"gorl paper stage {stage}.{field} = {ours}; GoRL {where}: {value}"


@pytest.mark.parametrize("env", sorted(GORL_TASKS))
def test_gorl_paper_preset_applies_the_per_task_values(env):
    configs, _, _ = gorl_preset("paper", env=env)
    for stage, field, value, where in GORL_TASKS[env]:
        ours = getattr(configs[stage], field)
        assert ours == value, f"gorl paper {env} stage {stage}.{field} = {ours}; {where}: {value}"


def test_gorl_paper_schedule_is_whole_official_iterations():
    # train_encoder_ppo.py:182: outer_iters = num_timesteps // (480 * 2048) per stage, with
    # run_gorl_fm.py:33's 60M, 60M, 30M, 30M
    _, steps, eval_every = gorl_preset("paper", env="playground/HopperStand")
    per_iter = 480 * 2048
    assert steps == (61 * per_iter, 61 * per_iter, 30 * per_iter, 30 * per_iter)
    assert eval_every == 6 * per_iter  # ours; 10 evaluations per 60M stage (see the docs page)


def test_gorl_paper_evaluations_are_the_official_schedule():
    from jaxrl.agents.presets import gorl_eval_at, gorl_evaluations

    # train_encoder_ppo.py:197 eval_iters = set(linspace(0, outer_iters - 1, num_evals=10,
    # dtype=int)), evaluated before iteration i (:209-215, 128 envs): 60 k / 9 rounded down
    configs, steps, _ = gorl_preset("paper", env="playground/HopperStand")
    per_iter = 480 * 2048
    at = gorl_eval_at(steps, per_iter)
    assert [s // per_iter for s in at[0]] == [0, 6, 13, 20, 26, 33, 40, 46, 53, 60]
    assert at[1] == at[0]
    assert [s // per_iter for s in at[2]] == [0, 3, 6, 9, 12, 16, 19, 22, 25, 29]  # 29 k / 9
    assert all(s % per_iter == 0 for stage in at for s in stage)
    official, episodes = gorl_evaluations("paper", "preset", configs[0], steps, None, None)
    assert official == at and episodes == 128  # train_encoder_ppo.py:215 num_envs=128
    # cut by --total-steps: the official steps it reaches; a cut stage with none, its end
    total = steps[0] + 3 * per_iter
    cut, _ = gorl_evaluations("paper", "preset", configs[0], steps, total, 16)
    assert len(cut) == 2 and cut[0] == at[0] and cut[1] == (0, 3 * per_iter)
    assert gorl_evaluations("cpu", "preset", configs[0], steps, None, None) == (None, 16)
    assert gorl_evaluations("cpu", "official", configs[0], steps, None, 7)[1] == 7


def test_gorl_vs_ppo_baseline_evaluates_as_the_official_baseline():
    from experiments import gorl_vs_ppo as versus

    # scripts/train_ppo.py:85-88: eval_iters = {0} | set(range(6 - 1, outer_iters, 6))
    per_iter = 480 * 2048
    at = versus.ppo_eval_at(182 * per_iter, per_iter)
    assert [s // per_iter for s in at] == [0, *range(5, 182, 6)]


def test_gorl_paper_preset_refuses_pendulum_swingup():
    # dm_control_suite_params.py:58-59 action_repeat 4; GoRL encoder_ppo.py:52 asserts 1
    with pytest.raises(ValueError, match="action_repeat"):
        gorl_preset("paper", env="playground/PendulumSwingUp")


def test_gorl_paper_rows_cover_every_config_field():
    covered = {field for field, _, _ in GORL_PAPER} | {"gamma", "z_reg", "decoder"}
    covered |= {field for field, _, _ in GORL_STAGES[0]}
    config = gorl_preset("paper", env="playground/HopperStand")[0][0]
    set_here = {
        f.name
        for f in dataclasses.fields(gorl.Config)
        if getattr(config, f.name) != getattr(gorl.Config(), f.name)
    }
    assert set_here <= covered, f"paper-preset fields with no official row: {set_here - covered}"


def test_props_script_paper_preset_is_the_official_one():
    from experiments import props as script
    from jaxrl.agents.presets import PROPS_PRESETS

    assert script.default_config("brax/hopper", "paper") is PROPS_PAPER_OFFICIAL["brax/hopper"][0]
    assert script.default_config("brax/hopper") is PROPS_PRESETS["brax/hopper"]  # unchanged
    with pytest.raises(ValueError, match="cartpole"):
        script.default_config("cartpole", "paper")


def test_gorl_scripts_pass_the_env_to_the_paper_preset():
    from experiments import gorl as script
    from experiments import gorl_vs_ppo as versus

    args = script.Args(env="playground/BallInCup", preset="paper")
    args.config = gorl_preset("paper", env=args.env)[0][-1]
    configs, _, _ = script.schedule(args)
    assert [c.gamma for c in configs] == [0.95] * 4 and configs[0].z_reg_coef == 0.0
    vs = versus.Args(env="playground/FingerSpin", preset="paper")
    vs.config = gorl_preset("paper", env=vs.env)[0][-1]
    configs, _, _ = versus.schedule(vs)
    baseline = versus.ppo_config(vs, configs[0])
    assert baseline.gamma == 0.95 and baseline.value_hidden_sizes == (256,) * 5
    assert (baseline.clip_eps, baseline.tanh_entropy) == (0.1, "sampled")  # ppo.py:35, 311-319
    assert baseline.max_grad_norm == float("inf")  # ppo.py:186-199: no clipping
    # src/flow_policy/ppo.py:135, 149, 238: sequences, statistics first, GAE per minibatch
    assert (baseline.sequence_length, baseline.obs_stats_update) == (30, "before")


# --- BREEZE: Whiterrrrr/BREEZE @9d83548 ----------------------------------------------------------

BREEZE_PAPER: list[tuple[str, object, str]] = [
    # (Config field, official value, where in Whiterrrrr/BREEZE @9d83548); the walker row
    ("batch_size", 512, "agents/breeze/config.yaml:8"),
    ("z_mix_prob", 0.5, "agents/breeze/config.yaml:14"),
    ("tau", 0.01, "agents/breeze/config.yaml:15"),
    ("ortho_coef", 10.0, "agents/breeze/config.yaml:18"),
    ("forward_hidden_sizes", (256,), "agents/breeze/config.yaml:21 (F's head hidden width)"),
    ("learning_rate", 1e-4, "agents/breeze/config.yaml:22; utils/BreezeRepresentation.py:178"),
    ("preprocess_hidden", 1024, "agents/breeze/config.yaml:24"),
    ("preprocess_dim", 512, "agents/breeze/config.yaml:26"),
    ("attention_ff", 2048, "agents/breeze/config.yaml:30 (backward_config.hidden_dimension)"),
    ("value_hidden", 512, "agents/breeze/config.yaml:35"),
    ("value_learning_rate", 3e-4, "agents/breeze/config.yaml:38"),
    ("actor_hidden", 1024, "agents/breeze/config.yaml:42"),
    ("actor_learning_rate", 1e-4, "agents/breeze/config.yaml:43"),
    ("actor_tau", 0.001, "agents/breeze/config.yaml:46"),
    ("eval_samples", 64, "docs/domain_specific_hyp.md:18 (Walker-RND K_eval)"),
    ("train_samples", 9, "docs/domain_specific_hyp.md:18 (Walker-RND K_train)"),
    ("dataset_action_prob", 0.1, "docs/domain_specific_hyp.md:18 (Walker-RND rho_a)"),
    ("expectile", 0.99, "docs/domain_specific_hyp.md:18"),
    ("q_reg_coef", 1e-3, "docs/domain_specific_hyp.md:18 (omega_q)"),
    ("diffusion_steps", 5, "docs/domain_specific_hyp.md:18 (Walker-RND T)"),
    ("awr_temperature", 0.05, "docs/domain_specific_hyp.md:18 (alpha)"),
    ("discount", 0.98, "main_offline.py:34"),
    ("z_dim", 50, "main_offline.py:35"),
    ("weight_decay", 0.03, "utils/BreezeRepresentation.py:178-183; utils/model.py:66-70 (V)"),
    ("adam_b2", 0.99, "utils/BreezeRepresentation.py:182; utils/model.py:70 (V)"),
    ("min_learning_rate", 1e-5, "utils/BreezeRepresentation.py:186-188 (eta_min)"),
    ("actor_weight_decay", 0.01, "utils/model.py:38-41 (torch AdamW's default weight decay)"),
    ("actor_blocks", 3, "utils/diffusion_utils/diffusion_model.py:50"),
    ("dropout", 0.1, "utils/diffusion_utils/diffusion_model.py:80; utils/base.py (F, B)"),
    ("grad_clip", 1.0, "agent.py:218-219, 371-372 (grad.clamp_(-1, 1))"),
    ("awr_max_weight", 100.0, "agent.py:358-362 (clamp(max=100))"),
    ("time_features", 64, "utils/diffusion_utils/diffusion_model.py:24-33 (LearnedPosEmb)"),
    ("time_hidden", 128, "utils/diffusion_utils/diffusion_model.py:68-69"),
    ("attention_blocks", 2, "utils/base.py:85-201 (two blocks)"),
    ("backward_dim", 256, "utils/base.py:204-361 (nn.Transformer d_model)"),
    ("backward_layers", 2, "utils/base.py:204-361 (2 encoder, 2 decoder layers)"),
    ("arch", "attention", "utils/base.py (the attention F and transformer B)"),
    ("ortho_form", "controllable_agent", "utils/losses.py (-2 mean diag + mean off-diag C^2)"),
]
BREEZE_OURS_ONLY: dict[str, str] = {
    "cov_ridge": "the official code inverts Cov exactly (torch.inverse); ours adds a ridge",
    "backward_hidden_sizes": "B's widths with arch='mlp', which the official code does not have",
    "inference_samples": "10,000 relabelled rows, as the official FB infer_z (not a config entry)",
    "normalize_obs": "the official code z-scores observations; ours leaves the choice to the user",
}
BREEZE_DOMAINS: dict[str, tuple[int, float, int]] = {
    # preset: (K_train, rho_a, T) from docs/domain_specific_hyp.md:18, 26, 22 (RND rows)
    "walker": (9, 0.1, 5),
    "quadruped": (1, 0.0, 10),
    "jaco": (1, 0.0, 10),
}


@pytest.mark.parametrize("field, value, where", BREEZE_PAPER, ids=[r[0] for r in BREEZE_PAPER])
def test_breeze_paper_preset_is_the_official_walker_setting(field, value, where):
    from jaxrl.agents.presets import BREEZE_PRESETS

    assert getattr(BREEZE_PRESETS["paper"], field) == value, where


@pytest.mark.parametrize("domain", sorted(BREEZE_DOMAINS))
def test_breeze_domain_presets_are_the_official_rows(domain):
    from jaxrl.agents.presets import BREEZE_PRESETS

    config = BREEZE_PRESETS[domain]
    assert (config.train_samples, config.dataset_action_prob, config.diffusion_steps) == (
        BREEZE_DOMAINS[domain]
    )
    for field, value, _ in BREEZE_PAPER:
        if field not in ("train_samples", "dataset_action_prob", "diffusion_steps"):
            assert getattr(config, field) == value, (domain, field)


def test_breeze_rows_cover_every_config_field():
    from jaxrl.agents import breeze

    covered = {r[0] for r in BREEZE_PAPER} | set(BREEZE_OURS_ONLY)
    assert covered == {f.name for f in dataclasses.fields(breeze.Config)}


# --- TD-JEPA: marbaga/td_jepa_public @9152a32 ----------------------------------------------------

TD_JEPA_DMC: list[tuple[str, object, str]] = [
    # (Config field, official value, where in marbaga/td_jepa_public @9152a32); LD is
    # scripts/train/proprio/launch_td_jepa_dmc.py, A metamotivo/agents/td_jepa/agent.py, M
    # metamotivo/agents/td_jepa/model.py
    ("predictor_hidden", 1024, "LD:32-33 (phi_predictor / psi_predictor hidden_dim)"),
    ("predictor_layers", 1, "LD:32-33 (hidden_layers)"),
    ("actor_hidden", 1024, "LD:34"),
    ("actor_layers", 1, "LD:34"),
    ("phi_hidden_sizes", (), "LD:36-37 (phi_mlp_encoder hidden_layers 0: one Linear)"),
    ("psi_hidden_sizes", (256, 256), "LD:41-42 (psi_mlp_encoder 256 wide, 2 layers)"),
    ("phi_dim", 256, "LD:45"),
    ("z_dim", 50, "LD:46 (psi_dim, the dimension of z)"),
    ("batch_size", 1024, "LD:51"),
    ("discount", 0.98, "LD:52"),
    ("phi_ortho_coef", 0.1, "LD:53"),
    ("psi_ortho_coef", 0.1, "LD:54 (swept {0.01, 0.1, 1} at LD:67)"),
    ("tau", 0.001, "LD:55-56 (encoder_target_tau = predictor_target_tau)"),
    ("learning_rate", 1e-4, "A:23-24 (lr_predictor, lr_phi)"),
    ("psi_learning_rate", 1e-4, "A:25 (swept {1e-4, 1e-5} at LD:67)"),
    ("actor_learning_rate", 1e-4, "A:26"),
    ("z_mix_prob", 0.5, "A:32 (train_goal_ratio)"),
    ("noise_clip", 0.3, "A:35 (stddev_clip)"),
    ("bc_coef", 0.0, "A:38"),
    ("scale_train_goals", False, "A:40"),
    ("policy_noise", 0.2, "M:57 (actor_std)"),
    ("actor_input", "phi", "M:60 (actor_use_full_encoder True)"),
    ("symmetric", False, "M:63"),
    ("inference_samples", 10_000, "LD:165 (num_inference_samples)"),
    ("cov_rate", 0.005, "M:118-120 (0.995 cov + 0.005 psi^T psi / B)"),
    ("ortho_form", "metamotivo", "A:265-270 (-mean diag + 0.5 mean off-diag C^2)"),
]
TD_JEPA_OURS_ONLY: dict[str, str] = {
    "normalize_obs": "the launches' IdentityNormalizerConfig (LD:28-30); ours is a switch, off",
}


@pytest.mark.parametrize("field, value, where", TD_JEPA_DMC, ids=[r[0] for r in TD_JEPA_DMC])
def test_td_jepa_paper_preset_is_the_official_dmc_launch(field, value, where):
    from jaxrl.agents.presets import TD_JEPA_PRESETS

    assert getattr(TD_JEPA_PRESETS["paper"], field) == value, where
    assert TD_JEPA_PRESETS["paper"] == TD_JEPA_PRESETS["dmc"]


def test_td_jepa_other_presets_are_the_official_launch_rows():
    """The point-mass row (LD:101: discount 0.99, lr_actor 1e-6), the symmetric DMC launch
    (launch_td_jepa_sym_dmc.py: one 2 x 256 -> 50 encoder) and the OGBench launch
    (launch_td_jepa_ogbench.py, LO: 4 x 512 -> 50 encoders at LO:47-60, predictors 512 x 2 at
    LO:36-37, the actor on the observation at LO:63, batch 256 and gamma 0.99 at LO:66-67, ortho
    1 at LO:68-69, tau 0.005 at LO:70-71, scale_train_goals at LO:72, bc 0.3 navigation / 3
    manipulation)."""
    from jaxrl.agents.presets import TD_JEPA_PRESETS as P

    assert (P["dmc_pointmass"].discount, P["dmc_pointmass"].actor_learning_rate) == (0.99, 1e-6)
    sym = P["dmc_sym"]
    assert (sym.symmetric, sym.z_dim, sym.phi_hidden_sizes) == (True, 50, (256, 256))
    og = P["ogbench"]
    assert (og.phi_dim, og.z_dim) == (50, 50)
    assert og.phi_hidden_sizes == og.psi_hidden_sizes == (512,) * 4
    assert (og.predictor_hidden, og.predictor_layers, og.actor_input) == (512, 2, "obs")
    assert (og.batch_size, og.discount, og.tau, og.scale_train_goals) == (256, 0.99, 0.005, True)
    assert (og.phi_ortho_coef, og.psi_ortho_coef, og.bc_coef) == (1.0, 1.0, 0.3)
    assert P["ogbench_manipulation"].bc_coef == 3.0 and P["ogbench_sym"].symmetric


def test_td_jepa_rows_cover_every_config_field():
    from jaxrl.agents import td_jepa

    covered = {r[0] for r in TD_JEPA_DMC} | set(TD_JEPA_OURS_ONLY)
    assert covered == {f.name for f in dataclasses.fields(td_jepa.Config)}
