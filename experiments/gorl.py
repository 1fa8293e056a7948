"""Train GoRL (staged latent-encoder PPO + generative decoder) on a jaxrl environment.

    python experiments/gorl.py --env pendulum --preset cpu             # whole stage cycle, minutes
    python experiments/gorl.py --env playground/HopperStand --preset paper --decoder diffusion
    python experiments/gorl.py --resume runs/gorl-pendulum-20261124-101500   # continue a run

Writes ``runs/gorl-<env>-<time>/`` with ``config.json``, ``seed_<i>/stage_<k>/`` (each stage's
checkpoints, ``history.jsonl`` and live ``metrics.jsonl``), ``seed_<i>/decoder.jsonl`` (decoder
fits), and, from all stages and seeds, ``metrics.jsonl`` / ``metrics.csv`` (one row per chunk,
cumulative encoder ``step``, a ``stage`` column, one value per seed), ``curves.png`` (against
encoder env steps) and ``results.json``. Seeds run one after the other (seed ``i`` uses
``fold_in(key(seed), i)``). ``--resume`` restores finished stages from their checkpoints, redoes
the (deterministic) hand-offs and continues the unfinished stage; ``--total-steps`` stops after
that many encoder steps in all, and a resume with a larger value goes on from there.

Presets. ``paper``: the official run for ``--env`` (repo bennidict23/GoRL @1461fb0,
``scripts/run_gorl_fm.py`` with MuJoCo Playground's ``brax_ppo_config(env_name)``;
:func:`jaxrl.agents.presets.gorl_preset`): 2048 envs x 480 steps per iteration, 16 epochs of 32
minibatches, lr 1e-3, gamma 0.995 (0.95 for BallInCup and FingerSpin), reward scale 10, clip
0.15 / 0.30, max_grad_norm 0.5 / 1.0, z_reg 5e-4 (0 for BallInCup) / 1e-3 for stage 0 / later,
entropy 1e-2, value coefficient 0.25 in the official form = ``vf_coef=0.5`` here because our
value loss carries a 0.5 factor, a 5 x 256 SiLU LeCun-uniform critic, Brax's policy advantages,
Adam eps 1e-8, minibatches of length-30 sequences whose advantages the current critic
recomputes, observation statistics updated before each update, 61 / 61 / 30 / 30 whole
iterations per stage, the official evaluations (``--eval-schedule official``: 128 episodes
before iterations 0, 6, 13, ..., 60 of each 61-iteration stage, the best kept with ties to the
later one); decoder 4 x 64 SiLU, 10 steps, Adam 3e-4, batch 8192, 50 epochs, patience 20; 20 x
480 steps x 2048 envs collected. What still differs from the official run is listed in
``docs/official_settings_online.md``. ``paper-flat``: the earlier paper
preset (30-step iterations, the encoder's 4 x 32 widths for the critic, standard GAE, gamma
0.995 everywhere). ``cpu``: a small setting that runs the whole 4-stage cycle in a few minutes
on 2 CPU cores. ``--config.*`` changes every stage's config, except that stage 0
keeps the preset's own stage-0 values where the preset's stages differ (clip_eps,
max_grad_norm, z_reg_coef).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Literal

import jax
import numpy as np

from jaxrl import envs, runs
from jaxrl.agents import gorl
from jaxrl.agents.presets import EvalSchedule, gorl_evaluations, gorl_preset


@dataclasses.dataclass
class Args(runs.RunArgs):
    """GoRL on a jaxrl environment."""

    env: str = "pendulum"
    """Environment name (continuous actions)."""
    preset: Literal["cpu", "paper", "paper-flat"] = "cpu"
    """paper (the official run for --env), paper-flat (the earlier paper preset) or cpu (a few
    minutes on 2 cores): the default config, stage steps and evaluation interval."""
    decoder: Literal["flow", "diffusion"] = "flow"
    """The preset's decoder (the same as --config.decoder)."""
    z_reg: Literal["l2", "kl"] = "l2"
    """The preset's latent regulariser: l2 (official code) or kl (the paper's KL to N(0, I))."""
    stage_steps: tuple[int, ...] | None = None
    """Encoder env steps of each stage (None: the preset's)."""
    total_steps: int | None = None
    """Stop after this many encoder env steps in all stages together (None: all of them)."""
    eval_every: int | None = None
    """With the interval schedule: evaluate (and keep a checkpoint) every this many env steps
    in each stage (None: the preset's); each stage hands its best evaluated encoder on."""
    eval_schedule: EvalSchedule = "preset"
    """official: 10 evaluations per stage before iterations linspace(0, iterations - 1, 10),
    the stage's start included (the official protocol); interval: every --eval-every steps;
    preset: official with --preset paper, else interval."""
    num_eval_episodes: int | None = None
    """Episodes per evaluation (None: 128 with the official schedule, as the official run's
    128 eval envs, else 16)."""
    config: gorl.Config = dataclasses.field(default_factory=gorl.Config)
    """GoRL hyperparameters (default: the preset's; see the notes on stage 0 above)."""


def schedule(args: Args) -> tuple[list[gorl.Config], tuple[int, ...], int]:
    """Per-stage configs, per-stage encoder steps and the evaluation interval."""
    preset = gorl_preset(args.preset, args.decoder, args.z_reg, args.env)
    return runs.phase_schedule(preset, args.config, args.stage_steps, args.eval_every)


def setup(args: Args) -> list[runs.Member]:
    env = envs.make(args.env)
    configs, steps, eval_every = schedule(args)
    runs.check_phases(steps, args.total_steps, eval_every)
    eval_at, episodes = gorl_evaluations(
        args.preset, args.eval_schedule, configs[0], steps, args.total_steps, args.num_eval_episodes
    )
    return [
        runs.Member(
            gorl,
            config,
            env,
            n,
            name=f"seed_<i>/stage_{k}",
            label=f"stage {k}",
            options=runs.phase_evaluation(eval_every, eval_at, k, episodes),
        )
        for k, (config, n) in enumerate(zip(configs, steps, strict=True))
    ]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(
        Args,
        argv,
        __doc__,
        preset=lambda preset, decoder, z_reg, env: gorl_preset(preset, decoder, z_reg, env)[0][-1],
    )
    run = runs.start(args, setup)
    configs, steps, eval_every = schedule(args)
    eval_at, episodes = gorl_evaluations(
        args.preset, args.eval_schedule, configs[0], steps, args.total_steps, args.num_eval_episodes
    )
    steps = runs.cap_phases(steps, args.total_steps)
    env = run.members[0].env

    def train_seed(key: jax.Array, seed_dir: str) -> list[gorl.StageResult]:
        stages = gorl.run_stages(
            configs[: len(steps)],
            env,
            key,
            steps,
            None if eval_at else eval_every,
            eval_at=eval_at,
            num_eval_episodes=episodes,
            **runs.watchdog_options(args),
            run_dir=seed_dir,
            progress=args.progress,
            loggers_fn=lambda k: run.loggers(os.path.join(seed_dir, f"stage_{k}")),
        )
        with open(os.path.join(seed_dir, "decoder.jsonl"), "w") as f:
            for k, st in enumerate(stages):
                row = {"stage": k, "best_step": st.best_step, "best_eval": st.best_eval_return}
                row.update({n: np.asarray(v).tolist() for n, v in (st.decoder_info or {}).items()})
                f.write(json.dumps(row) + "\n")
        print(f"best eval per stage {[round(s.best_eval_return, 2) for s in stages]}")
        return stages

    keys = [jax.random.fold_in(jax.random.key(args.seed), i) for i in range(args.seeds)]
    result = runs.train_phased(run.path, keys, train_seed, column="stage")
    label = f"GoRL ({args.config.decoder})"
    return run.report({label: result}, title=f"{label} on {args.env}, encoder steps")


if __name__ == "__main__":
    runs.cli(main)
