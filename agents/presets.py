"""Tuned configurations per environment, as code (what the experiment scripts use by default).

Each entry says what it reaches and how fast on this project's CPU machine; the tests that
check learning use the same entries, so a preset that stops working fails CI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np

from jaxrl.agents import (
    breeze,
    dqc,
    fb,
    gcfbc,
    gorl,
    polychromic_ppo,
    ppo,
    props,
    rnd,
    td_jepa,
)

PPO_PRESETS: dict[str, ppo.Config] = {
    # Swing-up in about 400k steps (eval return about -200; random policy about -1200).
    "pendulum": ppo.Config(
        num_envs=32,
        num_steps=128,
        num_epochs=10,
        num_minibatches=16,
        learning_rate=1e-3,
        policy_head="tanh_gaussian",
        gamma=0.95,
    ),
    # Balances (return 500) by about 400k steps (4 of 4 seeds).
    "cartpole": ppo.Config(
        num_envs=16, num_steps=128, num_minibatches=4, learning_rate=2.5e-4, ent_coef=0.01
    ),
    "bandit": ppo.Config(num_envs=64, num_steps=8, num_minibatches=4, learning_rate=3e-3),
    # Brax's batch shape (256 envs x unroll 10, 4 minibatches x 4 epochs); eval return 1000 (the
    # maximum) by about 100k steps. (reward_scale 10 with gamma 0.99, as in Brax's tuned config,
    # makes the value loss dominate the jointly clipped gradient here and stalls learning.)
    "brax/inverted_pendulum": ppo.Config(
        num_envs=256,
        num_steps=10,
        num_epochs=4,
        num_minibatches=4,
        learning_rate=1e-3,
        policy_head="tanh_gaussian",
        gamma=0.97,
    ),
}


GORL_STAGE_STEPS: tuple[int, ...] = (60_000_000, 60_000_000, 30_000_000, 30_000_000)
"""The official per-stage encoder budgets (repo bennidict23/GoRL @1461fb0,
``scripts/run_gorl_fm.py:33``, ``--encoder_timesteps_per_stage``)."""

GORL_ITERATION_STEPS = 2048 * 480
"""Env steps of one official encoder iteration: 2048 envs x ``iterations_per_env`` = 32
minibatches x batch 1024 x unroll 30 / 2048 envs = 480 steps (``src/flow_policy/encoder_ppo.py``
:54-60 with Playground's ``brax_ppo_config``)."""

GORL_SEQUENCE_LENGTH = 30
"""The official minibatches hold sequences of 30 consecutive steps (Brax's ``unroll_length``:
480 steps x 2048 envs / (32 minibatches x 1024 sequences), ``src/flow_policy/rollouts.py:45-46``;
``dm_control_suite_params.py:38``), each with advantages recomputed by the current critic."""

GORL_GAMMA: dict[str, float] = {"BallInCup": 0.95, "FingerSpin": 0.95}
"""``brax_ppo_config(env_name)``'s per-task discount (repo google-deepmind/mujoco_playground,
``mujoco_playground/config/dm_control_suite_params.py:50-51, 56-57``; every other task 0.995,
line 40). Its other per-task values do not reach GoRL: ``num_timesteps`` (lines 48-55) is
overridden by every stage's ``--num_timesteps`` (``scripts/run_gorl_fm.py:170``) and
PendulumSwingUp's ``action_repeat=4`` (line 59) fails GoRL's ``assert action_repeat == 1``
(``src/flow_policy/encoder_ppo.py:52``), so :func:`gorl_preset` refuses that task."""

GORL_EVALUATIONS = 10
"""Evaluations per stage in the official run (``config.num_evals``, repo bennidict23/GoRL
@1461fb0, scripts/components/train_encoder_ppo.py:197, from ``brax_ppo_config``'s
``num_evals=10``, mujoco_playground dm_control_suite_params.py:41)."""

GORL_EVAL_EPISODES = 128
"""Episodes (parallel envs) per official evaluation (``eval_policy(..., num_envs=128)``,
scripts/components/train_encoder_ppo.py:215)."""


def gorl_eval_at(
    stage_steps: Sequence[int], iteration_steps: int, count: int = GORL_EVALUATIONS
) -> tuple[tuple[int, ...], ...]:
    """The official evaluation schedule of each stage as ``jaxrl.train``'s ``eval_at`` (env
    steps within the stage): before iteration ``i`` for ``i`` in ``linspace(0, iterations - 1,
    count)`` rounded down (scripts/components/train_encoder_ppo.py:197, 209), i.e. after ``i``
    whole iterations of ``iteration_steps``. Iteration 0 is the stage's starting state, which
    the official run may keep; the last iteration's update is never evaluated. 61 iterations
    give 0, 6, 13, 20, 26, 33, 40, 46, 53, 60."""
    out = []
    for steps in stage_steps:
        iterations = max(1, steps // iteration_steps)
        at = np.linspace(0, iterations - 1, count, dtype=int)
        out.append(tuple(sorted({int(i) * iteration_steps for i in at})))
    return tuple(out)


EvalSchedule = Literal["preset", "interval", "official"]
"""How a GoRL script evaluates each stage (:func:`gorl_evaluations`)."""


def gorl_evaluations(
    preset: str,
    schedule: EvalSchedule,
    config: gorl.Config,
    stage_steps: Sequence[int],
    total_steps: int | None,
    num_eval_episodes: int | None,
) -> tuple[tuple[tuple[int, ...], ...] | None, int]:
    """A GoRL script's evaluation: ``(eval_at per trained stage or None, episodes)``.

    ``official`` (the default of ``preset="paper"`` through ``"preset"``): each stage's
    :func:`gorl_eval_at` of its whole length in iterations of ``config``, cut to the steps the
    stage trains in a run of ``total_steps`` in all (``--total-steps``; None: every stage whole;
    a cut stage that keeps no trained evaluation is evaluated at its end), and
    :data:`GORL_EVAL_EPISODES` episodes unless ``num_eval_episodes`` says otherwise.
    ``interval``: ``None`` (the script's ``eval_every``) and ``num_eval_episodes`` or 16."""
    official = schedule == "official" or (schedule == "preset" and preset == "paper")
    if not official:
        return None, num_eval_episodes or 16
    at, left = [], sum(stage_steps) if total_steps is None else total_steps
    full = gorl_eval_at(stage_steps, gorl.steps_per_iteration(config))
    for steps, schedule_k in zip(stage_steps, full, strict=True):
        if left <= 0:
            break
        trained, left = min(steps, left), left - steps
        kept = tuple(s for s in schedule_k if s <= trained)
        at.append(kept if any(kept) else (*kept, trained))
    return tuple(at), num_eval_episodes or GORL_EVAL_EPISODES


GORL_STAGE0_ZERO_Z_REG: tuple[str, ...] = ("BallInCup",)
"""Tasks whose stage 0 runs without the latent regulariser (``scripts/run_gorl_fm.py:157``)."""


def gorl_task(env: str | None) -> str | None:
    """The DM Control task name that ``brax_ppo_config`` would get for our env name
    (``playground/BallInCup`` -> ``BallInCup``); ``None`` for no env or a non-Playground env."""
    if env is None or not env.startswith("playground/"):
        return None
    return env.removeprefix("playground/")


def gorl_preset(
    name: str,
    decoder: gorl.Decoder = "flow",
    z_reg: gorl.ZReg = "l2",
    env: str | None = None,
) -> tuple[list[gorl.Config], tuple[int, ...], int]:
    """GoRL's per-stage configs, per-stage encoder steps and evaluation interval.

    ``paper``: the official run of repo bennidict23/GoRL @1461fb0 (``scripts/run_gorl_fm.py``
    driving ``scripts/components/train_encoder_ppo.py``, which loads MuJoCo Playground's
    ``dm_control_suite_params.brax_ppo_config(env_name)``) for ``env``: its per-task discount
    (:data:`GORL_GAMMA`) and BallInCup's stage-0 ``z_reg`` 0; the official iteration (2048 envs
    x 480 steps, 16 epochs of 32 minibatches of 1024 length-30 sequences whose advantages the
    current critic recomputes, :data:`GORL_ITERATION_STEPS`, :data:`GORL_SEQUENCE_LENGTH`;
    observation statistics updated before the update, ``encoder_ppo.py:153-157``), the
    official critic (5 x 256 SiLU, LeCun-uniform, ``src/flow_policy/encoder_ppo.py:104``,
    ``networks.py`` ``mlp_init``), Brax's policy advantages (``src/flow_policy/rollouts.py``
    :332-338) and whole iterations per stage (61, 61, 30, 30: the official
    ``num_timesteps // (480 * 2048)``, ``train_encoder_ppo.py:182``). The returned interval
    (every 6 iterations) is for runs that do not use the official evaluation schedule,
    :func:`gorl_eval_at` (10 per stage from iteration 0, :data:`GORL_EVAL_EPISODES` episodes,
    what ``experiments/gorl.py --preset paper`` runs). An env that is not a Playground DM
    Control task gets ``brax_ppo_config``'s shared values; Adam's eps 1e-8
    (``optax.scale_by_adam()``'s default,
    ``src/flow_policy/encoder_ppo.py:109``); the best-evaluated encoder of equal returns is the
    later one (``scripts/components/train_encoder_ppo.py:235``). What still differs (the
    encoder's state-independent scale, exact observation statistics, bootstrapping at time
    limits) is listed in ``docs/official_settings_online.md``.
    ``paper-flat``: the earlier ``paper`` preset (30-step iterations, a critic with the
    encoder's 4 x 32 widths, standard GAE, gamma 0.995 for every env). ``cpu``: the whole cycle
    in minutes."""
    flat = gorl.Config(
        num_envs=2048,
        num_steps=30,
        num_minibatches=32,
        num_epochs=16,
        learning_rate=1e-3,
        gamma=0.995,
        gae_lambda=0.95,
        reward_scale=10.0,
        ent_coef=1e-2,
        vf_coef=0.5,
        hidden_sizes=(32, 32, 32, 32),
        activation="silu",
        decoder=decoder,
        z_reg=z_reg,
        decoder_batch=8192,
        decoder_epochs=50,
        decoder_patience=20,
        decoder_lr=3e-4,
        collect_steps=20 * 480,
    )
    if name == "paper":
        task = gorl_task(env)
        if task is not None and task.startswith("PendulumSwingUp"):
            raise ValueError(
                f"GoRL's paper preset cannot run {env!r}: brax_ppo_config sets action_repeat=4 "
                "for it (mujoco_playground dm_control_suite_params.py:58-59) and the official "
                "encoder asserts action_repeat == 1 (GoRL src/flow_policy/encoder_ppo.py:52)"
            )
        base = dataclasses.replace(
            flat,
            num_steps=480,
            gamma=GORL_GAMMA.get(task or "", 0.995),
            value_hidden_sizes=(256,) * 5,
            value_activation="silu",
            value_kernel_init="lecun_uniform",
            advantage_form="brax",
            sequence_length=GORL_SEQUENCE_LENGTH,
            obs_stats_update="before",
            adam_eps=1e-8,
            eval_ties="later",
        )
        steps = tuple(n // GORL_ITERATION_STEPS * GORL_ITERATION_STEPS for n in GORL_STAGE_STEPS)
        eval_every = 6 * GORL_ITERATION_STEPS
        stage0_z_reg = 0.0 if task in GORL_STAGE0_ZERO_Z_REG else 5e-4
    elif name == "paper-flat":
        base, steps, eval_every, stage0_z_reg = flat, GORL_STAGE_STEPS, 6_000_000, 5e-4
    elif name == "cpu":
        base = gorl.Config(
            num_envs=32,
            num_steps=64,
            num_minibatches=8,
            num_epochs=8,
            learning_rate=1e-3,
            gamma=0.97,
            ent_coef=1e-2,
            hidden_sizes=(32, 32, 32, 32),
            activation="silu",
            decoder=decoder,
            z_reg=z_reg,
            decoder_batch=512,
            decoder_epochs=20,
            decoder_patience=8,
            decoder_lr=1e-3,
            collect_steps=256,
        )
        steps = (200_000, 200_000, 100_000, 100_000)
        eval_every = 50_000
        stage0_z_reg = 5e-4
    else:
        raise ValueError(f"--preset must be paper, paper-flat or cpu, got {name!r}")
    first = dataclasses.replace(base, clip_eps=0.15, max_grad_norm=0.5, z_reg_coef=stage0_z_reg)
    later = dataclasses.replace(base, clip_eps=0.30, max_grad_norm=1.0, z_reg_coef=1e-3)
    return [first] + [later] * (len(steps) - 1), steps, eval_every


def _props_paper(
    n: int,
    m: int,
    ppo_lr: float,
    props_lr: float,
    props_kl: float,
    lam: float,
    props_minibatches: int,
    eps_p: float = 0.3,
) -> props.Config:
    """The authors' tuned PROPS settings for one Gymnasium MuJoCo task (one environment, b = 2,
    PROPS epochs 16, PPO epochs 10 and 32 minibatches, clip 0.2, entropy 0.01, clipped value
    loss, PPO target KL 0.03; ``shared/specs/algorithms-online.md``, from the run configs archived
    in repo NicholasCorrado/PPOROS). Not the authors' whole setting: the learning rate is
    constant here, but ``--anneal-lr`` defaults to True (PROPS/ppo_props_continuous.py:67) and
    all six archived run configs say ``anneal_lr: true`` (line 2 of each
    ``PROPS/plotting/neurips/data/rl/props/results/<Task>-v4/.../run_0/config.yml``); the mean is
    linear (theirs ends in tanh, PROPS/utils.py:195) and rewards are raw (theirs are normalised
    and clipped to 10, PROPS/utils.py:160-161). :data:`PROPS_PAPER_OFFICIAL` has all of these;
    these entries stay as they are because the tests use them."""
    return props.Config(
        num_envs=1,
        num_steps=n,
        props_num_steps=m,
        buffer_batches=2,
        learning_rate=ppo_lr,
        num_epochs=10,
        num_minibatches=32,
        clip_eps=0.2,
        ent_coef=0.01,
        clip_value_loss=True,
        gamma=0.99,
        gae_lambda=0.95,
        target_kl=0.03,
        props_learning_rate=props_lr,
        props_target_kl=props_kl,
        props_lambda=lam,
        props_num_epochs=16,
        props_num_minibatches=props_minibatches,
        props_clip_eps=eps_p,
        se_epochs=0,
    )


PROPS_PAPER: dict[str, tuple[props.Config, int]] = {
    # Brax task <- Gymnasium MuJoCo-v4 task whose tuned settings it takes (same robot and reward
    # structure; Brax's dynamics and scales differ, so the returns are not comparable).
    # Values: (config, the paper's budget in env steps).
    "brax/swimmer": (_props_paper(2048, 1024, 1e-3, 1e-5, 0.03, 0.1, 16), 1_000_000),
    "brax/hopper": (_props_paper(2048, 256, 1e-3, 1e-3, 0.05, 0.3, 16), 1_000_000),
    "brax/halfcheetah": (_props_paper(1024, 512, 1e-4, 1e-3, 0.05, 0.3, 16), 2_000_000),
    "brax/walker2d": (_props_paper(2048, 256, 1e-3, 1e-3, 0.1, 0.3, 32), 2_000_000),
    "brax/ant": (_props_paper(2048, 256, 1e-4, 1e-3, 0.03, 0.1, 16, eps_p=0.05), 4_000_000),
    "brax/humanoid": (_props_paper(8192, 256, 1e-4, 1e-4, 0.1, 0.1, 32), 6_000_000),
}
"""PROPS's tuned MuJoCo settings on the matching Brax tasks (Swimmer, Hopper, HalfCheetah,
Walker2d, Ant, Humanoid map to ``brax/<name>``; no Playground DM Control task matches one of the
six). One environment, as in the paper: slow in JAX, and the setting where PROPS helps (see
``agents/props.py``)."""


def _props_official(config: props.Config, budget: int) -> props.Config:
    """``config`` (:func:`_props_paper`'s tuned values) with the rest of the authors' run
    settings (repo NicholasCorrado/PPOROS @a0c8708): the PPO learning rate annealed linearly to
    0 over the whole target updates within ``budget`` env steps (``anneal_lr: true`` in every
    archived config; ``frac = 1 - (update - 1) / num_updates`` at
    PROPS/ppo_props_continuous.py:734-736, ``num_updates = total_timesteps // batch_size`` at
    line 591; the behaviour learning rate stays constant, ``props_anneal_lr: false``), the tanh
    on the actor mean (PROPS/utils.py:195) and reward normalisation by the discounted-return std
    with gamma, then clipping to [-10, 10] (PROPS/utils.py:160-161, re-normalised from the
    buffer before each target update, PROPS/ppo_props_continuous.py:672-675) and Adam's eps 1e-5
    for both the target and the behaviour optimiser (PROPS/ppo_props_continuous.py:558, 572)."""
    batch = config.num_envs * config.num_steps
    return dataclasses.replace(
        config,
        adam_eps=1e-5,
        props_adam_eps=1e-5,
        lr_decay_steps=float(budget // batch * batch),
        mean_activation="tanh",
        normalize_reward=True,
        reward_clip=10.0,
    )


PROPS_PAPER_OFFICIAL: dict[str, tuple[props.Config, int]] = {
    name: (_props_official(config, budget), budget)
    for name, (config, budget) in PROPS_PAPER.items()
}
"""The authors' whole PROPS setting per task (``--preset paper`` of ``experiments/props.py``):
:data:`PROPS_PAPER`'s tuned values plus annealing, the tanh mean, reward normalisation and
the authors' Adam eps (:func:`_props_official`); ``tests/test_presets_official.py`` checks
every value against the archived run configs. Values: (config, the paper's budget in env steps;
``lr_decay_steps`` is that budget's whole target batches, so a shorter ``--total-steps`` run ends
before the rate reaches 0 unless ``--config.lr-decay-steps`` says otherwise)."""


PROPS_PRESETS: dict[str, props.Config] = {
    # Balances by about 10-20k steps with one env; the small-batch regime where sampling error
    # is large. The learning test in tests/test_props.py uses it.
    "cartpole": props.Config(
        num_envs=1,
        num_steps=256,
        props_num_steps=32,
        num_minibatches=8,
        learning_rate=1e-3,
        ent_coef=0.01,
        clip_value_loss=True,
        props_num_epochs=8,
        props_num_minibatches=4,
        props_learning_rate=1e-3,
        se_epochs=20,
        se_num_minibatches=4,
    ),
    **{name: config for name, (config, _) in PROPS_PAPER.items()},
}


DQC_CPU = dqc.Config(
    learning_rate=1e-3,
    discount=0.99,
    horizon=16,
    action_horizon=4,
    best_of_n=8,
    flow_steps=5,
    batch_size=128,
    hidden_sizes=(64, 64),
    actor_hidden_sizes=(64, 64),
)
"""DQC at CPU scale (h = 16, h_a = 4, 2 x 64 nets, batch 128): what the DQC learning test
(tests/test_dqc_learning.py) trains on a generated ``pointmaze-medium`` navigate dataset (figures
there). Not tuned beyond the horizons (probes at 20k steps on that dataset: h = 8, h_a = 2
reached 0.31 mean success over 8 seeds, h = 16, h_a = 4 0.44 over 4 seeds); the paper's setting is
``dqc.Config()``."""

DQC_PRESETS: dict[str, dqc.Config] = {"cpu": DQC_CPU, "paper": dqc.Config()}
"""The DQC scripts' ``--preset`` choices: ``cpu`` (:data:`DQC_CPU`) or ``paper`` (the paper's
defaults, h = 25, h_a = 5, 4 x 1024 networks, batch 4096)."""

GCFBC_CPU = gcfbc.Config(
    learning_rate=1e-3, discount=0.99, batch_size=128, actor_hidden_sizes=(64, 64)
)
"""GCFBC at DQC_CPU's scale (2 x 64 network, batch 128, lr 1e-3) with DQC_CPU's discount 0.99 for
its geometric future goals (mean offset 100 steps) instead of the official 0.999: on the
generated ``pointmaze-medium`` navigate set (1000-step episodes) 0.999 puts most goals at the
episode's end and reached 0.10 mean success (8 seeds, 15k steps), 0.99 reached 0.43; the
comparisons use the stronger baseline (tests/test_dqc_learning.py). The official defaults are
``gcfbc.Config()``."""


POLYCHROMIC_PRESETS: dict[str, polychromic_ppo.Config] = {
    "minigrid/FourRooms": polychromic_ppo.Config(
        learning_rate=3e-4,
        hidden_sizes=(64, 64),
        num_steps=100,
        vine_steps=100,
        num_minibatches=16,
    ),
    "minigrid/MultiRoute": polychromic_ppo.Config(
        learning_rate=3e-4, hidden_sizes=(64, 64), num_steps=50, vine_steps=50, num_minibatches=16
    ),
}
"""Polychromic PPO at CPU scale on the grid tasks (``experiments/polychromic_ppo.py``): the
paper's vine and set settings (N = 8, n = 4, M = 4, p = 2, W = 5, gamma 1, 2 epochs, KL 0.05)
with 16 trunks of one episode length, vines as long as an episode, a 2 x 64 tanh MLP (the
paper's FourRooms net is "a compact MLP", widths unknown) and 16 minibatches. The learning rate
is 3e-4, not the paper's 1e-5: at CPU budgets (10-20 iterations) 1e-5 leaves the pretrained
policy almost unchanged. The multi-route signature test (tests/test_polychromic_ppo.py) trains
the MultiRoute setting."""


RND_PRESETS: dict[str, rnd.Config] = {
    "reach/fourrooms": rnd.Config(
        num_envs=16,
        num_steps=64,
        num_minibatches=4,
        rnd_minibatches=4,
        rnd_hidden_sizes=(64, 64),
        rnd_embedding_dim=64,
        rnd_learning_rate=1e-3,
    ),
}
"""RND at CPU scale per domain (``experiments/make_dataset.py exorl``): on the four rooms, PPO's
defaults with 16 envs x 64 steps and 2 x 64 -> 64 RND networks at rnd_learning_rate 1e-3 cover
0.85 +- 0.04 of the free area in 41k steps (8 seeds, tests/test_rnd.py; uniform random actions
0.49); with these small networks the official 1e-4 gives 0.78 +- 0.11. Other domains use
``rnd.Config()`` (the networks and rates of the references, agents/rnd.py)."""

FB_CPU = fb.Config(
    z_dim=50,
    batch_size=256,
    learning_rate=1e-3,
    actor_learning_rate=1e-3,
    discount=0.95,
    preprocess_hidden=64,
    preprocess_dim=64,
    forward_hidden_sizes=(64,),
    backward_hidden_sizes=(64, 64),
    actor_hidden_sizes=(64,),
    inference_samples=10_000,
    normalize_obs=True,
)
"""FB at CPU scale (the zero-shot tests and ``experiments/fb.py --preset cpu``): the paper's
z_dim 50 with batch 256 and 64-wide networks at lr 1e-3 for about a thousand steps, instead of
batch 1024 and 1024-wide networks at 1e-4 for millions; gamma 0.95 (a 20-step horizon) and
normalised observations. On the four rooms it peaks within 500-1500 steps and then drifts
(tests/test_zero_shot_learning.py); batch 128 left some seeds near 0 on a task, z_dim 16 left the
right-hand rooms unsolved at every budget tried. The paper's setting is ``fb.Config()``."""

FB_PRESETS: dict[str, fb.Config] = {"cpu": FB_CPU, "paper": fb.Config()}
"""The FB scripts' ``--preset`` choices: ``cpu`` (:data:`FB_CPU`) or ``paper`` (the spec's
defaults: z_dim 50, batch 1024, lr 1e-4, 1024-wide F, gamma 0.98)."""

BREEZE_CPU = breeze.Config(
    z_dim=50,
    batch_size=256,
    learning_rate=1e-3,
    value_learning_rate=1e-3,
    actor_learning_rate=1e-3,
    discount=0.95,
    arch="mlp",
    preprocess_hidden=64,
    preprocess_dim=64,
    forward_hidden_sizes=(64,),
    backward_hidden_sizes=(64, 64),
    value_hidden=64,
    actor_hidden=64,
    actor_blocks=2,
    time_features=16,
    time_hidden=32,
    train_samples=4,
    dataset_action_prob=0.2,
    eval_samples=16,
    actor_tau=0.02,
    inference_samples=10_000,
    normalize_obs=True,
)
"""BREEZE at CPU scale (the zero-shot tests, ``experiments/breeze.py --preset cpu``): FB_CPU's
sizes and rates (z_dim 50, batch 256, 64-wide FB towers instead of the attention networks, lr
1e-3, gamma 0.95, normalised observations), a 64-wide diffusion actor with 2 FiLM blocks, T 5;
K_train 4 and rho_a 0.2 (between the paper's small-data walker settings 2 / 0.2 and its
full-data 9 / 0.1), K_eval 16; the actor's EMA rate 0.02 instead of 0.001, whose 1000-step
memory suits a million steps: after 500 steps an EMA at 0.001 still holds 61 % of the random
initial actor, and on narrow data its actions were 1.14 from the data's where FB's TD3 actor's
were 0.52 (tests/test_zero_shot_learning.py's in-sample measure, 8 seeds). The rest (ortho 10,
omega_q 1e-3, expectile 0.99, alpha 0.05, warm restarts) are the paper's."""

BREEZE_PRESETS: dict[str, breeze.Config] = {
    "cpu": BREEZE_CPU,
    "paper": breeze.Config(),
    "walker": breeze.Config(),
    "quadruped": breeze.Config(diffusion_steps=10, train_samples=1, dataset_action_prob=0.0),
    "jaco": breeze.Config(diffusion_steps=10, train_samples=1, dataset_action_prob=0.0),
}
"""The BREEZE scripts' ``--preset`` choices: ``cpu`` (:data:`BREEZE_CPU`), ``paper`` (the
spec's defaults, which are its walker row: T 5, K_train 9, rho_a 0.1) and the per-domain rows of
the paper's table for ExORL RND data (``docs/domain_specific_hyp.md``): ``walker``,
``quadruped`` and ``jaco`` (T 10, K_train 1, rho_a 0: the target uses the one EMA-actor sample).
Every row shares the attention networks, batch 512, z_dim 50, ortho 10, omega_q 1e-3, expectile
0.99, alpha 0.05 and K_eval 64."""

TD_JEPA_CPU = td_jepa.Config(
    z_dim=50,
    phi_dim=50,
    batch_size=256,
    learning_rate=1e-3,
    psi_learning_rate=1e-3,
    actor_learning_rate=1e-3,
    discount=0.95,
    tau=0.01,
    phi_hidden_sizes=(64, 64),
    psi_hidden_sizes=(64, 64),
    predictor_hidden=64,
    actor_hidden=64,
    inference_samples=10_000,
    phi_ortho_coef=3.0,
    psi_ortho_coef=3.0,
    normalize_obs=True,
)
"""TD-JEPA at CPU scale (the zero-shot tests, ``experiments/td_jepa.py --preset cpu``): FB_CPU's
sizes and rates (z_dim 50, batch 256, 64-wide networks, lr 1e-3 for every network, gamma 0.95,
normalised observations, target EMA 0.01: the official 0.001 is sized for 3M steps and would
leave the targets near their initialisation after a thousand), 50-d phi with two hidden layers
(a linear phi of a 2-d position is nearly the position itself), and ortho 3 on both encoders.
The DMC launch's 0.1 (its sweep reaches 1; OGBench's launches 10) left the right-hand rooms
unsolved on some seeds here: on the four rooms, 4 seeds, data key 0, mean over tasks 41.6 at
0.1, 63.5 at 1, 83.1 at 3, 72.5 at 10 (FB_CPU: 82.0); see tests/test_zero_shot_learning.py."""

TD_JEPA_DMC = td_jepa.Config()
"""The official DMC-proprio launch (``scripts/train/proprio/launch_td_jepa_dmc.py``): a linear
256-d phi, psi 2 x 256 -> 50, predictors 1024 wide with one hidden layer, actor 1024 on phi(s),
batch 1024, gamma 0.98, ortho 0.1 / 0.1, tau 0.001, lr 1e-4, 3M steps."""

TD_JEPA_OGBENCH = td_jepa.Config(
    phi_dim=50,
    phi_hidden_sizes=(512, 512, 512, 512),
    psi_hidden_sizes=(512, 512, 512, 512),
    predictor_hidden=512,
    predictor_layers=2,
    actor_hidden=512,
    actor_layers=2,
    actor_input="obs",
    batch_size=256,
    discount=0.99,
    phi_ortho_coef=1.0,
    psi_ortho_coef=1.0,
    tau=0.005,
    scale_train_goals=True,
    bc_coef=0.3,
)
"""The official OGBench-proprio launch (``launch_td_jepa_ogbench.py``), navigation row (antmaze,
bc 0.3): phi and psi 4 x 512 -> 50, predictors 512 wide with two hidden layers, the actor on the
observation, batch 256, gamma 0.99, ortho 1 / 1, tau 0.005, goal tasks scaled by Cov^-1, 1M
steps. The official OGBench actor is a noise-conditioned one-step policy regularised towards a
flow-BC model; ours is the deterministic TD3 actor with the squared-error BC term (the DMC agent's
``bc_coeff`` form)."""

TD_JEPA_PRESETS: dict[str, td_jepa.Config] = {
    "cpu": TD_JEPA_CPU,
    "paper": TD_JEPA_DMC,
    "dmc": TD_JEPA_DMC,
    "dmc_pointmass": dataclasses.replace(TD_JEPA_DMC, discount=0.99, actor_learning_rate=1e-6),
    "dmc_sym": dataclasses.replace(
        TD_JEPA_DMC, symmetric=True, phi_dim=50, phi_hidden_sizes=(256, 256)
    ),
    "ogbench": TD_JEPA_OGBENCH,
    "ogbench_manipulation": dataclasses.replace(TD_JEPA_OGBENCH, bc_coef=3.0),
    "ogbench_sym": dataclasses.replace(TD_JEPA_OGBENCH, symmetric=True),
}
"""The TD-JEPA scripts' ``--preset`` choices: ``cpu`` (:data:`TD_JEPA_CPU`), ``paper`` = ``dmc``
(:data:`TD_JEPA_DMC`), ``dmc_pointmass`` (the launch's point-mass row: gamma 0.99, actor lr
1e-6), ``dmc_sym`` (``launch_td_jepa_sym_dmc.py``: one 2 x 256 -> 50 encoder), ``ogbench``
(:data:`TD_JEPA_OGBENCH`, antmaze), ``ogbench_manipulation`` (cube, scene, puzzle: bc 3) and
``ogbench_sym``. The launches sweep lr_psi {1e-4, 1e-5} and psi's ortho {0.01, 0.1, 1} (DMC)
per domain; the presets hold the launch files' base values (lr 1e-4, ortho 0.1 on DMC)."""
