"""Tuned configurations per environment, as code (what the experiment scripts use by default).

Each entry says what it reaches and how fast on this project's CPU machine; the tests that
check learning use the same entries, so a preset that stops working fails CI.
"""

from __future__ import annotations

import dataclasses

from jaxrl.agents import dqc, gcfbc, gorl, ppo, props

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


def gorl_preset(
    name: str, decoder: gorl.Decoder = "flow", z_reg: gorl.ZReg = "l2"
) -> tuple[list[gorl.Config], tuple[int, ...], int]:
    """GoRL's per-stage configs, per-stage encoder steps and evaluation interval. ``paper``:
    the official defaults (4 stages, 180M encoder steps); ``cpu``: the whole cycle in minutes."""
    if name == "paper":
        base = gorl.Config(
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
        steps = (60_000_000, 60_000_000, 30_000_000, 30_000_000)
        eval_every = 6_000_000
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
    else:
        raise ValueError(f"--preset must be paper or cpu, got {name!r}")
    first = dataclasses.replace(base, clip_eps=0.15, max_grad_norm=0.5, z_reg_coef=5e-4)
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
    in repo NicholasCorrado/PPOROS). Learning rates are constant: ``update_ppo``'s script default
    is no annealing and the archived configs could not be checked for it."""
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
