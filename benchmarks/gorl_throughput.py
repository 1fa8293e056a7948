"""GoRL's training throughput relative to tanh-Gaussian PPO, in one process.

    python benchmarks/gorl_throughput.py                                # pendulum, paper preset
    python benchmarks/gorl_throughput.py --env pendulum --num-envs 64 --iterations 20   # CPU

With the networks and batch of a GoRL preset (``jaxrl.agents.presets.gorl_preset``; ``--num-envs``
overrides the env count), this measures env steps/s through :func:`jaxrl.train` (compilation
excluded, no evaluation) of:

* ``ppo``: tanh-Gaussian PPO with the preset's stage-0 settings (GoRL's baseline);
* ``gorl stage 0``: GoRL with the identity decoder. It is a zero network run through the same
  sampler (so that stage 0 equals PPO bit for bit), so it costs what a trained decoder costs;
* ``gorl stage >= 1``: GoRL through a flow (or diffusion) decoder: every action is
  ``decoder_steps`` decoder evaluations (Euler/DDIM) at rollout time. The decoder's weights do
  not change the cost, so it is fitted briefly on random data;

and the time of one decoder fit (``fit_decoder`` on ``collect_steps x num_envs`` pairs, the
preset's epochs) and of one stage's data collection. Ratios are to PPO in the same process.
Results go to ``--out`` as JSON. Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from throughput import hardware, save_json  # noqa: E402

import jaxrl  # noqa: E402
from jaxrl import envs  # noqa: E402
from jaxrl.agents import gorl, ppo  # noqa: E402
from jaxrl.agents.presets import gorl_preset  # noqa: E402


def steps_per_second(agent, config, env, iterations: int, **kw) -> tuple[float, float]:
    """(env steps/s, compile seconds) of ``iterations`` train steps in two chunks; ``kw`` goes
    to :func:`jaxrl.train` (e.g. ``init_state``)."""
    steps = iterations * agent.steps_per_iteration(config)
    result = jaxrl.train(
        agent,
        config,
        env,
        jax.random.key(0),
        steps,
        chunk_steps=steps // 2,
        eval_every=0,
        progress=False,
        **kw,
    )
    return result.steps_per_second, result.compile_seconds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="pendulum")
    parser.add_argument("--preset", default="paper", choices=["paper", "paper-flat", "cpu"])
    parser.add_argument("--decoder", default="flow", choices=["flow", "diffusion"])
    parser.add_argument("--num-envs", type=int, default=None, help="override the preset's")
    parser.add_argument("--iterations", type=int, default=40, help="train steps timed per agent")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    env = envs.make(args.env)
    configs, _, _ = gorl_preset(args.preset, args.decoder)
    stage0, later = configs[0], configs[-1]
    if args.num_envs:
        stage0 = dataclasses.replace(stage0, num_envs=args.num_envs)
        later = dataclasses.replace(later, num_envs=args.num_envs)
    pcfg = ppo.Config(**{f.name: getattr(stage0, f.name) for f in dataclasses.fields(ppo.Config)})
    pcfg = dataclasses.replace(pcfg, policy_head="tanh_gaussian")

    out = {"hardware": hardware(), "args": vars(args), "num_envs": stage0.num_envs}
    out["ppo_sps"], out["ppo_compile_s"] = steps_per_second(ppo, pcfg, env, args.iterations)
    out["gorl_stage0_sps"], out["gorl_stage0_compile_s"] = steps_per_second(
        gorl, stage0, env, args.iterations
    )

    # A decoder fitted on random (obs, action) pairs of the size one stage collects.
    n = later.collect_steps * later.num_envs
    k_obs, k_act, k_fit = jax.random.split(jax.random.key(1), 3)
    obs = jax.random.normal(k_obs, (n, *env.spec.obs_shape))
    actions = jax.random.normal(k_act, (n, *env.spec.action_space.shape))
    fit = jax.jit(gorl.fit_decoder, static_argnums=(0, 1))
    jax.block_until_ready(fit(later, env, obs, actions, k_fit))  # compile
    t0 = time.perf_counter()
    params, stats, _ = jax.block_until_ready(fit(later, env, obs, actions, k_fit))
    out["decoder_fit_s"] = time.perf_counter() - t0
    out["decoder_fit_pairs"] = n

    k_stage = jax.random.key(0)
    stage1 = gorl.start_stage(later, env, gorl.init(later, env, k_stage), params, stats, k_stage)
    out["gorl_stage1_sps"], out["gorl_stage1_compile_s"] = steps_per_second(
        gorl, later, env, args.iterations, init_state=stage1
    )
    for name in ("gorl_stage0", "gorl_stage1"):
        out[f"{name}_over_ppo"] = out[f"{name}_sps"] / out["ppo_sps"]

    print(f"hardware: {out['hardware']}")
    print(f"{args.env}, {args.preset} preset, {stage0.num_envs} envs, {args.decoder} decoder")
    print(f"  ppo            {out['ppo_sps']:>12,.0f} env steps/s")
    for name in ("gorl_stage0", "gorl_stage1"):
        sps, ratio = out[name + "_sps"], out[name + "_over_ppo"]
        print(f"  {name:<14} {sps:>12,.0f} env steps/s  ({ratio:.2f}x ppo)")
    print(f"  decoder fit    {out['decoder_fit_s']:.1f} s on {n:,} pairs")
    if args.out:
        save_json(out, args.out)
    return out


if __name__ == "__main__":
    main()
