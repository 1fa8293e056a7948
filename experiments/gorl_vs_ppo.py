"""GoRL against Gaussian (tanh-Gaussian) PPO on the same env, seeds and encoder-step budget.

    python experiments/gorl_vs_ppo.py --env pendulum --preset cpu --seeds 2
    python experiments/gorl_vs_ppo.py --env playground/HopperStand --preset paper --seeds 3  # GPU

PPO gets the stage-0 PPO settings of the GoRL config (with the ``paper`` preset: the official
2048 x 480-step iteration, 5 x 256 SiLU critic and Brax advantages, the same as the official
Gaussian-PPO baseline, repo bennidict23/GoRL @1461fb0, ``src/flow_policy/ppo.py:86-89``), a
tanh-Gaussian head, clip 0.1 at the paper scale (``ppo.py:35``) and, with ``paper``, Brax's
sampled tanh entropy (``ppo.py:311-319``); and as many env steps as GoRL's encoders take in all
stages together (the decoder's data collection is not counted, as in the paper's figure). It
evaluates as the official baseline with ``paper`` (before iteration 0 and every 6th iteration,
``scripts/train_ppo.py:85-88``, 128 episodes) and applies no gradient clipping
(``ppo.py:186-199``); with ``cpu`` it is our small setting, not the official one. Seed
``i`` uses the same key for both. ``--config.*`` sets GoRL's config as in
``experiments/gorl.py``. Writes ``runs/gorl_vs_ppo-<env>-<time>/`` with ``gorl/`` (laid out as
an ``experiments/gorl.py`` run) and ``ppo/`` (checkpoints and metrics), ``curves.png``
(deterministic evaluation return against env steps, mean and min-max band over seeds) and
``results.json`` (a row per method: final returns and wall time, compilation and decoder fits
included; with 2+ seeds, GoRL minus PPO with a 95% confidence interval). ``--resume <run
folder>`` continues both; ``--total-steps`` stops both after that many env steps.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

import jax

from jaxrl import envs, runs
from jaxrl.agents import gorl, ppo
from jaxrl.agents.presets import EvalSchedule, gorl_evaluations, gorl_preset


@dataclasses.dataclass
class Args(runs.RunArgs):
    """GoRL vs Gaussian PPO."""

    env: str = "pendulum"
    """Environment name (continuous actions)."""
    preset: Literal["cpu", "paper", "paper-flat"] = "cpu"
    """paper (the official run for --env), paper-flat or cpu (see
    jaxrl.agents.presets.gorl_preset)."""
    decoder: Literal["flow", "diffusion"] = "flow"
    """GoRL's decoder in the preset (the same as --config.decoder)."""
    stage_steps: tuple[int, ...] | None = None
    """GoRL's encoder env steps per stage (None: the preset's); PPO trains their sum."""
    total_steps: int | None = None
    """Stop both after this many env steps (None: the whole schedule)."""
    eval_every: int | None = None
    """With the interval schedule: evaluate both every this many env steps (None: the
    preset's interval)."""
    eval_schedule: EvalSchedule = "preset"
    """official: GoRL's stages evaluate as the official run (10 per stage from its start) and
    PPO as the official baseline (the start, then every 6 iterations); interval: both every
    --eval-every steps; preset: official with --preset paper, else interval."""
    num_eval_episodes: int | None = None
    """Episodes per evaluation (None: 128 with the official schedule, else 16)."""
    seeds: int = 2
    """Seeds (>= 1; the same keys for both methods)."""
    config: gorl.Config = dataclasses.field(default_factory=gorl.Config)
    """GoRL hyperparameters (default: the preset's); PPO takes stage 0's PPO fields."""


def schedule(args: Args) -> tuple[list[gorl.Config], tuple[int, ...], int]:
    """GoRL's per-stage configs and encoder steps, and the evaluation interval."""
    preset = gorl_preset(args.preset, args.decoder, env=args.env)
    return runs.phase_schedule(preset, args.config, args.stage_steps, args.eval_every)


def ppo_config(args: Args, stage0: gorl.Config) -> ppo.Config:
    """Tanh-Gaussian PPO with GoRL's stage-0 PPO settings; at the paper scale clip 0.1
    (repo bennidict23/GoRL, ``src/flow_policy/ppo.py:35``) and, with ``paper``, Brax's sampled
    tanh entropy (``ppo.py:311-319``) and no gradient clipping (``ppo.py:186-199``)."""
    shared = {f.name: getattr(stage0, f.name) for f in dataclasses.fields(ppo.Config)}
    paper = args.preset in ("paper", "paper-flat")
    changes = {"policy_head": "tanh_gaussian", "clip_eps": 0.1 if paper else shared["clip_eps"]}
    if args.preset == "paper":
        changes.update(tanh_entropy="sampled", max_grad_norm=float("inf"))
    return ppo.Config(**{**shared, **changes})


PPO_EVAL_INTERVAL = 6
"""The official Gaussian-PPO baseline evaluates before iteration 0 and before every 6th
iteration after it, ``{0} | range(5, iterations, 6)`` (``6_000_000 // 983_040``; repo
bennidict23/GoRL @1461fb0, scripts/train_ppo.py:85-88)."""


def ppo_eval_at(budget: int, iteration_steps: int, trained: int | None = None) -> tuple[int, ...]:
    """The official baseline's evaluation steps (:data:`PPO_EVAL_INTERVAL`) for a budget of
    ``budget`` env steps in iterations of ``iteration_steps``, cut to the ``trained`` steps of
    this run (``--total-steps``; a run that reaches no evaluation after the start is evaluated
    at its end)."""
    trained = budget if trained is None else trained
    iterations = max(1, budget // iteration_steps)
    at = {0, *range(PPO_EVAL_INTERVAL - 1, iterations, PPO_EVAL_INTERVAL)}
    kept = tuple(sorted(i * iteration_steps for i in at if i * iteration_steps <= trained))
    return kept if any(kept) else (*kept, trained)


def setup(args: Args) -> list[runs.Member]:
    env = envs.make(args.env)
    configs, steps, eval_every = schedule(args)
    runs.check_phases(steps, args.total_steps, eval_every)
    eval_at, episodes = gorl_evaluations(
        args.preset, args.eval_schedule, configs[0], steps, args.total_steps, args.num_eval_episodes
    )
    stages = [
        runs.Member(
            gorl,
            c,
            env,
            n,
            f"gorl/seed_<i>/stage_{k}",
            f"GoRL stage {k}",
            options=runs.phase_evaluation(eval_every, eval_at, k, episodes),
        )
        for k, (c, n) in enumerate(zip(configs, steps, strict=True))
    ]
    total = args.total_steps or sum(steps)
    config = ppo_config(args, configs[0])
    # a seed axis even for one seed
    options = runs.phase_evaluation(eval_every, None, 0, episodes, seeds=args.seeds)
    if eval_at is not None:
        per_iter = ppo.steps_per_iteration(config)
        options.update(eval_every=None, eval_at=ppo_eval_at(sum(steps), per_iter, total))
    baseline = runs.Member(ppo, config, env, total, "ppo", "Gaussian PPO", options=options)
    return [*stages, baseline]


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(
        Args,
        argv,
        __doc__,
        preset=lambda preset, decoder, env: gorl_preset(preset, decoder, env=env)[0][-1],
    )
    run = runs.start(args, setup)
    configs, steps, eval_every = schedule(args)
    eval_at, episodes = gorl_evaluations(
        args.preset, args.eval_schedule, configs[0], steps, args.total_steps, args.num_eval_episodes
    )
    steps = runs.cap_phases(steps, args.total_steps)
    *_, baseline = run.members

    def train_seed(key: jax.Array, seed_dir: str) -> list[gorl.StageResult]:
        return gorl.run_stages(
            configs[: len(steps)],
            baseline.env,
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

    # seed i: the key the vmapped PPO run gives its seed i
    keys = list(jax.random.split(jax.random.key(args.seed), args.seeds))
    label = f"GoRL ({args.config.decoder})"
    results = {
        label: runs.train_phased(run.folder("gorl"), keys, train_seed, column="stage"),
        "Gaussian PPO": run.train(baseline),
    }
    return run.report(
        results,
        compare=[(label, "Gaussian PPO")],
        title=f"GoRL vs Gaussian PPO on {args.env} ({args.seeds} seeds)",
    )


if __name__ == "__main__":
    runs.cli(main)
