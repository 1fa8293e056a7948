"""Evaluate a trained run's policy from its checkpoints, and optionally record an episode.

    python experiments/evaluate.py runs/ppo-pendulum-20260101-120000
    python experiments/evaluate.py runs/ppo-pendulum-20260101-120000 --all-seeds --episodes 64
    python experiments/evaluate.py runs/gorl_vs_ppo-... --member PPO --stochastic
    python experiments/evaluate.py runs/ppo-brax_ant-... --video ant.html

``RUN_DIR`` is anything :func:`jaxrl.load_policy` accepts: a run folder, a comparison's member
folder, a checkpoint folder, or a comparison run with ``--member``. Each seed's policy (the
newest checkpoint, or ``--step``) is evaluated as the training run evaluated it
(``Policy.evaluate``: open-loop action chunks, per-task success where the env has tasks) on the
env the run trained on; the mean and standard deviation of the return over all episodes and
seeds are printed and written to ``evaluation.json`` in the run folder (the member's folder
with ``--member``). Policies act with their mode (``--deterministic``, the default, as the training
evaluations do) or sample (``--stochastic``).

``--video PATH`` records one episode of the first evaluated seed:

- Brax envs: Brax's HTML viewer (``.html``; needs no display or OpenGL).
- Playground (MuJoCo) envs: a ``.gif`` (or ``.mp4`` when ``ffmpeg`` is installed) drawn by
  MuJoCo's offscreen renderer, when an offscreen OpenGL backend works (``MUJOCO_GL=egl`` or
  ``osmesa``; probed when ``MUJOCO_GL`` is unset); otherwise one line says why not.
- pointmaze: a ``.png`` of the maze with the path, start and goal.
- other (pure-JAX) envs: a ``.png`` of the observations, actions and return over the episode.

A ``PATH`` with another suffix gets the env's default suffix.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from typing import Annotated, Any

import jax
import jax.numpy as jnp
import numpy as np
import tyro

import jaxrl
from jaxrl import policy as policies


@dataclasses.dataclass
class Args:
    """Evaluate a trained run's policy (see the module docstring)."""

    run_dir: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
    """Run folder (or member / checkpoint folder) to evaluate."""
    seed: int | None = None
    """Evaluate this seed (default 0)."""
    all_seeds: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False
    """Evaluate every seed of the run."""
    episodes: int = 16
    """Episodes per seed."""
    deterministic: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False
    """Act with the policy's mode, as training evaluations do (also without this flag, unless
    --stochastic)."""
    stochastic: Annotated[bool, tyro.conf.FlagCreatePairsOff] = False
    """Sample actions from the policy instead of its mode."""
    member: str | None = None
    """Member of a comparison run (e.g. PPO); the error lists them when one is needed."""
    setting: int | None = None
    """Sweep setting (needed for a sweep of several settings)."""
    step: int | None = None
    """Checkpoint step (default: the newest)."""
    video: str | None = None
    """Record one episode of the first evaluated seed to this file (suffix set per env)."""
    key: int = 0
    """Random seed of the evaluation episodes."""


# --- one recorded episode -------------------------------------------------------------------------


def record_episode(policy: policies.Policy, key: jax.Array, deterministic: bool) -> dict[str, Any]:
    """One episode of ``policy`` on its env from a fresh reset, acting on single observations.
    Returns the env states (reset state first, stacked on a time axis), observations, actions,
    rewards and the episode's length and return, all on the host."""
    env = policy.env

    def run(state: Any, config: Any, key: jax.Array):
        act = dataclasses.replace(policy, state=state, config=config)
        k_reset, k_act = jax.random.split(key)
        env_state, ts = env.reset(k_reset)

        def body(carry, k):
            env_state, obs, alive = carry
            action = act(obs, k, deterministic=deterministic)
            env_state, ts = env.step(env_state, action)
            return (env_state, ts.obs, alive & ~ts.done), (
                env_state,
                ts.obs,
                action,
                ts.reward,
                alive,
            )

        keys = jax.random.split(k_act, env.spec.max_episode_steps)
        _, (states, obs, actions, rewards, alive) = jax.lax.scan(
            body, (env_state, ts.obs, jnp.ones((), bool)), keys
        )
        first = jax.tree.map(lambda x: x[None], (env_state, ts.obs))
        states, obs = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first, (states, obs))
        return states, obs, actions, rewards, alive

    states, obs, actions, rewards, alive = jax.device_get(
        jax.jit(run)(policy.state, policy.config, key)
    )
    length = int(np.sum(alive))
    return {
        "states": jax.tree.map(lambda x: x[: length + 1], states),
        "obs": obs[: length + 1],
        "actions": actions[:length],
        "rewards": rewards[:length],
        "length": length,
        "return": float(np.sum(rewards[:length])),
    }


def _with_suffix(path: str, allowed: tuple[str, ...]) -> str:
    root, suffix = os.path.splitext(path)
    if suffix.lower() in allowed:
        return path
    print(f"--video: {path!r} gets the suffix {allowed[0]} for this env")
    return root + allowed[0]


def _write_frames(frames: list[np.ndarray], path: str, fps: float) -> str:
    """A GIF (Pillow), or an MP4 through the ``ffmpeg`` program when it is installed."""
    if path.lower().endswith(".mp4"):
        if shutil.which("ffmpeg") is None:
            print("--video: ffmpeg is not installed, writing a GIF instead of an MP4")
            path = os.path.splitext(path)[0] + ".gif"
        else:
            height, width = frames[0].shape[:2]
            command = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo"]
            command += ["-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}"]
            command += ["-i", "-", "-pix_fmt", "yuv420p", path]
            subprocess.run(command, input=np.stack(frames).tobytes(), check=True)
            return path
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    duration = max(20, round(1000 / fps))
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration, loop=0)
    return path


def _plot_curves(episode: dict[str, Any], title: str, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    obs = np.asarray(episode["obs"]).reshape(len(episode["obs"]), -1)
    actions = np.asarray(episode["actions"]).reshape(len(episode["actions"]), -1)
    fig, axes = plt.subplots(3, 1, figsize=(7, 6), sharex=True)
    axes[0].plot(obs)
    axes[0].set_ylabel("observation")
    axes[1].step(np.arange(len(actions)), actions, where="post")
    axes[1].set_ylabel("action")
    axes[2].plot(np.arange(1, len(actions) + 1), np.cumsum(episode["rewards"]))
    axes[2].set_ylabel("return so far")
    axes[2].set_xlabel("step")
    axes[0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_video(policy: policies.Policy, episode: dict[str, Any], path: str) -> str | None:
    """Render ``episode`` of ``policy``'s env to ``path`` (see the module docstring); returns the
    file written, or ``None`` (with a printed reason) where this machine cannot render it."""
    name = policy.env_name
    title = f"{policy.agent_name} on {name}: return {episode['return']:.1f}"
    if name.startswith("brax/"):
        from jaxrl.envs import brax

        path = _with_suffix(path, (".html",))
        page = brax.render_html(policy.env, episode["states"])
        with open(path, "w") as f:
            f.write(page)
        return path
    if name.startswith("playground/"):
        from jaxrl.envs import playground

        path = _with_suffix(path, (".gif", ".mp4"))
        from jaxrl.envs.brax import unwrap

        fps = 1.0 / float(unwrap(policy.env, playground.PlaygroundEnv).env.dt)
        stride = max(1, round(fps / 50))  # at most about 50 frames per second of env time
        states = jax.tree.map(lambda x: x[::stride], episode["states"])
        return _write_frames(playground.render_frames(policy.env, states), path, fps / stride)
    if name.startswith("pointmaze-"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from jaxrl.envs import pointmaze

        path = _with_suffix(path, (".png", ".pdf", ".svg"))
        ax = pointmaze.plot_episode(policy.env, episode["states"])
        ax.set_title(title)
        ax.figure.savefig(path, dpi=100)
        plt.close(ax.figure)
        return path
    return _plot_curves(episode, title, _with_suffix(path, (".png", ".pdf", ".svg")))


def _prepare_gl(record: dict[str, Any]) -> str | None:
    """For a Playground env: pick a working offscreen OpenGL backend before mujoco is imported.
    Returns why this machine cannot render (or None when it can)."""
    if not str(record.get("env", "")).startswith("playground/"):
        return None
    from jaxrl.envs import playground

    backend, why = playground.offscreen_gl()
    if backend is None:
        return f"no MuJoCo offscreen OpenGL backend works ({why})"
    os.environ["MUJOCO_GL"] = backend
    return None


# --- the script -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = tyro.cli(Args, args=argv, description=__doc__)
    if args.deterministic and args.stochastic:
        raise SystemExit("--deterministic and --stochastic exclude each other")
    if args.all_seeds and args.seed is not None:
        raise SystemExit("--seed and --all-seeds exclude each other")
    deterministic = not args.stochastic
    location = policies.find_checkpoints(args.run_dir, member=args.member)
    count = policies.num_seeds(args.run_dir, member=location.member or None)
    seeds = list(range(count)) if args.all_seeds else [args.seed or 0]
    member = location.member or None
    cannot_render = None
    if args.video:
        record = policies.read_record(args.run_dir, seed=seeds[0], member=member, step=args.step)
        cannot_render = _prepare_gl(record)

    key = jax.random.key(args.key)
    per_seed, first = [], None
    for seed in seeds:
        policy = jaxrl.load_policy(
            args.run_dir, seed=seed, setting=args.setting, member=member, step=args.step
        )
        first = policy if first is None else first
        m = policy.evaluate(jax.random.fold_in(key, seed), args.episodes, deterministic)
        per_seed.append(
            {
                "seed": seed,
                "step": policy.step,
                "return_mean": m["eval_return"],
                "return_std": m["eval_return_std"],
                "length_mean": m["eval_length"],
            }
        )
    means = np.array([r["return_mean"] for r in per_seed])
    stds = np.array([r["return_std"] for r in per_seed])
    # every seed has the same number of episodes: pool their first and second moments
    pooled_std = float(np.sqrt(max(np.mean(stds**2 + means**2) - np.mean(means) ** 2, 0.0)))
    folder = os.path.join(args.run_dir, member) if member else args.run_dir
    result: dict[str, Any] = {
        "run_dir": os.path.abspath(args.run_dir),
        "member": member,
        "agent": first.agent_name,
        "env": first.env_name,
        "setting": first.setting,
        "episodes_per_seed": args.episodes,
        "deterministic": deterministic,
        "key": args.key,
        "seeds": per_seed,
        "return_mean": float(np.mean(means)),
        "return_std": pooled_std,
        "return_std_over_seeds": float(np.std(means)),
        "video": None,
    }
    mode = "deterministic" if deterministic else "stochastic"
    print(f"{first.agent_name} on {first.env_name} ({folder}), {args.episodes} {mode} episodes")
    for r in per_seed:
        print(
            f"  seed {r['seed']} (step {r['step']}): return {r['return_mean']:.2f} "
            f"+- {r['return_std']:.2f}, length {r['length_mean']:.1f}"
        )
    print(
        f"return {result['return_mean']:.2f} +- {pooled_std:.2f} over "
        f"{args.episodes * len(seeds)} episodes of {len(seeds)} seed(s)"
    )
    if args.video:
        if cannot_render:
            print(f"--video: this machine cannot render {first.env_name}: {cannot_render}")
        else:
            episode = record_episode(first, jax.random.fold_in(key, 1 << 20), deterministic)
            result["video"] = write_video(first, episode, args.video)
            print(f"--video: one episode (return {episode['return']:.2f}) -> {result['video']}")
    out = os.path.join(folder, "evaluation.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as e:  # a wrong path, seed, member ...: no traceback
        raise SystemExit(f"error: {e}") from None
