"""Polychromic PPO against PPO from the same pretrained policy, on grid navigation (the paper's
Table 1, its perturbation table and pass@k curves, at CPU scale).

    python experiments/polychromic_ppo.py --seeds 2                          # Four Rooms
    python experiments/polychromic_ppo.py --env minigrid/MultiRoute --total-steps 136000 --seeds 2
    python experiments/polychromic_ppo.py --help    # every field, the Polychromic PPO config's too

1. **Demonstrations**: the shortest-path expert, random among tied routes
   (``jaxrl.envs.minigrid.expert_dataset``), ``--demos`` episodes on the fixed configurations,
   saved as ``datasets/<task>-expert-<demos>.npz`` (reused when present; ``--dataset`` names
   another, e.g. from ``experiments/make_dataset.py minigrid``).
2. **Pretraining**: behaviour cloning (``jaxrl.agents.bc``, a categorical policy with the
   fine-tuning network's widths) for ``--bc-steps`` steps, stopped early so that the policy is
   imperfect (the paper's pretrained policies succeed 20-70 % of the time).
3. **Fine-tuning**: PPO and Polychromic PPO, each from the pretrained policy of its seed, for
   ``--total-steps`` env steps each (Polychromic PPO's vine steps count). PPO takes the PPO
   fields of ``--config`` (``--ppo-minibatches`` its minibatches). Seed ``i`` uses the same key
   for all three.
4. **Evaluation** on the fixed configurations, ``--attempts`` sampled episodes each: (mean
   return, success %) per method (Table 1's layout), the same under the perturbation (Four
   Rooms: the agent starts in another room; MultiRoute: one route's door closed), the number of
   distinct room sets among successes per configuration, and pass@k for k = 1..attempts
   (``passk.png``, :mod:`jaxrl.passk`).

Writes ``runs/polychromic_ppo-<task>-<time>/`` with ``pretrained/``, ``ppo/`` and
``polychromic_ppo/`` (checkpoints, metrics), ``curves.png`` (evaluation success against env
steps), ``passk.png`` and ``results.json`` (the tables under ``"table1"``, ``"perturbation"``,
``"routes"`` and ``"pass_at_k"``). ``--resume <run folder>`` continues a stopped run.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Literal

import jax
import numpy as np

from jaxrl import data, envs, passk, runs
from jaxrl.agents import bc, ppo
from jaxrl.agents import polychromic_ppo as poly
from jaxrl.agents.presets import POLYCHROMIC_PRESETS
from jaxrl.driver import sequential_map
from jaxrl.envs import minigrid

Task = Literal["minigrid/FourRooms", "minigrid/MultiRoute"]
BC_STEPS = {"minigrid/FourRooms": 600, "minigrid/MultiRoute": 100}
"""BC steps that leave the policy imperfect: Four Rooms about 65 % success (600 demos), the
multi-route task about 90 % (200 demos, its start poses are observed)."""


@dataclasses.dataclass
class Args(runs.RunArgs):
    """Pretrain by BC, fine-tune with PPO and with Polychromic PPO, compare."""

    env: Task = "minigrid/FourRooms"
    """The grid task."""
    total_steps: int = 272_000
    """Env steps of each fine-tuning run (10 Polychromic PPO iterations of the Four Rooms
    preset)."""
    num_configs: int = 50
    """Four Rooms: fixed configurations (the paper's 50)."""
    demos: int = 600
    """Expert episodes to pretrain on (Four Rooms: the paper's Minari set has about 590)."""
    dataset: str | None = None
    """Demonstrations file; default datasets/<task>-expert-<demos>.npz, generated if missing."""
    bc_steps: int | None = None
    """BC gradient steps (batch 256); None: 600 on Four Rooms, 100 on MultiRoute."""
    bc_learning_rate: float = 1e-3
    """BC's Adam step size."""
    attempts: int = 32
    """Sampled episodes per configuration for the tables and pass@k (k up to this)."""
    ppo_minibatches: int = 4
    """Minibatches per epoch of the PPO baseline."""
    config: poly.Config = dataclasses.field(
        default_factory=lambda: POLYCHROMIC_PRESETS["minigrid/FourRooms"]
    )
    """Polychromic PPO hyperparameters (PPO's fields also configure the baseline)."""


def make_env(args: Args, variant: str = "") -> minigrid._GridWorld:
    """The task; ``variant`` "perturb" (Four Rooms) or a blocked route (MultiRoute)."""
    if args.env == "minigrid/FourRooms":
        return envs.make(args.env, num_configs=args.num_configs, perturb=variant == "perturb")
    return envs.make(args.env, blocked=variant or "none")


def variants(args: Args) -> dict[str, str]:
    """The perturbation table's columns."""
    if args.env == "minigrid/FourRooms":
        return {"perturbed start": "perturb"}
    return {"top-right blocked": "top-right", "bottom-left blocked": "bottom-left"}


def demonstrations(args: Args, env: Any) -> runs.OfflineData:
    """The expert demonstrations, generated (and saved) when the file is missing."""
    stem = args.env.replace("/", "-")
    path = args.dataset or os.path.join("datasets", f"{stem}-expert-{args.demos}.npz")
    if not os.path.isfile(path) and args.dataset is None:
        ds = minigrid.expert_dataset(env, jax.random.PRNGKey(args.seed), args.demos)
        card = {
            "generator": "experiments/polychromic_ppo.py (jaxrl.envs.minigrid.expert_dataset)",
            "env": args.env,
            "episodes": int(ds.num_episodes),
            "size": int(ds.size),
            "policy": "BFS shortest-path expert, uniformly random among tied actions",
            "seed": args.seed,
        }
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        data.save_npz(ds, path, card=card)
        print(f"wrote {path}: {ds.num_episodes} expert episodes, {ds.size} steps")
    return runs.load_offline(path, env=args.env)


def bc_config(args: Args) -> bc.Config:
    """BC with the fine-tuning policy's network (so its parameters are a PPO policy's)."""
    c = args.config
    return bc.Config(
        learning_rate=args.bc_learning_rate,
        hidden_sizes=tuple(c.policy_hidden_sizes or c.hidden_sizes),
        activation=c.activation,
        normalize_obs=False,
    )


def ppo_config(args: Args) -> ppo.Config:
    """The baseline: the PPO fields of the Polychromic PPO config."""
    fields = {f.name: getattr(args.config, f.name) for f in dataclasses.fields(ppo.Config)}
    return ppo.Config(**{**fields, "num_minibatches": args.ppo_minibatches})


def setup(args: Args) -> list[runs.Member]:
    for name in ("attempts", "demos", "ppo_minibatches"):
        if getattr(args, name) < 1:
            raise runs.RunError(
                f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}"
            )
    if args.bc_steps is not None and args.bc_steps < 1:
        raise runs.RunError(f"--bc-steps must be >= 1, got {args.bc_steps}")
    env = make_env(args)
    offline = demonstrations(args, env)
    bc_steps = args.bc_steps or BC_STEPS[args.env]
    return [
        runs.Member(
            bc,
            bc_config(args),
            env,
            bc_steps,
            name="pretrained",
            label="Pretrained",
            offline=offline,
        ),
        runs.Member(ppo, ppo_config(args), env, args.total_steps, name="ppo", label="PPO"),
        runs.Member(
            poly, args.config, env, args.total_steps, name="polychromic_ppo", label="Poly-PPO"
        ),
    ]


@functools.cache
def _init_fn(agent: Any, config: Any, env: Any, seeds: int) -> Any:
    """The jitted ``agent.init`` of one seed or, one after another (``lax.map``: a batched
    orthogonal initialisation can deadlock XLA:CPU), of ``seeds`` keys; cached, so a resumed
    run in the same process compiles it once."""
    init = lambda k: agent.init(config, env, k)  # noqa: E731
    return jax.jit(sequential_map(init, (0,)) if seeds > 1 else init)


def start_states(member: runs.Member, args: Args, policy: Any) -> Any:
    """``member``'s initial state (per seed, as the driver splits the key) with the pretrained
    policy's parameters."""
    key = jax.random.key(args.seed)
    keys = jax.random.split(key, args.seeds) if args.seeds > 1 else key
    states = _init_fn(member.agent, member.config, member.env, args.seeds)(keys)
    return states.replace(params={**states.params, "policy": policy})


@functools.partial(jax.jit, static_argnames=("env", "attempts"))
def _signatures(config: Any, env: Any, states: Any, keys: jax.Array, attempts: int) -> Any:
    """:func:`polychromic_ppo.task_signatures` of every seed (leading axis of ``states`` and
    ``keys``); compiled once per env and config layout."""
    one = lambda s, k: poly.task_signatures(config, env, s, k, attempts)  # noqa: E731
    return jax.vmap(one)(states, keys)


def evaluate(args: Args, config: Any, state: Any, env: Any) -> dict[str, np.ndarray]:
    """:func:`polychromic_ppo.task_signatures` of every seed (``[seeds, configurations,
    attempts]``)."""
    keys = jax.random.split(jax.random.PRNGKey(args.seed + 1), args.seeds)
    if args.seeds == 1:
        state = jax.tree.map(lambda x: x[None], state)
    return jax.tree.map(np.asarray, _signatures(config, env, state, keys, args.attempts))


def summary(out: dict[str, np.ndarray]) -> dict[str, Any]:
    """(mean return, success %) with per-seed values, and distinct successful room sets per
    configuration."""
    success, ret, signature = out["success"], out["return"], out["signature"]
    routes = []
    for seed in range(success.shape[0]):
        per = [
            len(np.unique(signature[seed, c][success[seed, c]])) for c in range(success.shape[1])
        ]
        routes.append(float(np.mean(per)))
    return {
        "mean_return": float(ret.mean()),
        "success_percent": float(100 * success.mean()),
        "success_percent_per_seed": (100 * success.mean(axis=(1, 2))).round(2).tolist(),
        "room_sets_per_configuration": float(np.mean(routes)),
    }


def plot_passk(curves: dict[str, np.ndarray], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, per_seed in curves.items():
        ks = np.arange(1, per_seed.shape[1] + 1)
        ax.plot(ks, per_seed.mean(0), label=label)
        ax.fill_between(ks, per_seed.min(0), per_seed.max(0), alpha=0.2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (attempts per configuration)")
    ax.set_ylabel("pass@k")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=lambda env: POLYCHROMIC_PRESETS[env])
    run = runs.start(args, setup)
    pretrained_member, ppo_member, poly_member = run.members
    pretrained = run.train(pretrained_member)
    policy = pretrained.state.params["policy"]
    results = {"Pretrained": pretrained}
    for member in (ppo_member, poly_member):
        init_state = start_states(member, args, policy)
        results[member.label] = run.train(member, init_state=init_state)

    # the tables: every policy scored the same way (sampled actions, fixed configurations)
    pretrained_state = start_states(poly_member, args, policy)
    states = {
        "Pretrained": pretrained_state,
        "PPO": results["PPO"].state,
        "Poly-PPO": results["Poly-PPO"].state,
    }
    config = poly_member.config  # every state holds a policy of this network (PPO's act)
    table1, perturbation, curves = {}, {}, {}
    for label, state in states.items():
        out = evaluate(args, config, state, pretrained_member.env)
        table1[label] = summary(out)
        curves[label] = np.array([passk.pass_at_k_curve(s) for s in out["success"]])
        perturbation[label] = {
            column: summary(evaluate(args, config, state, make_env(args, variant)))
            for column, variant in variants(args).items()
        }
    plot_passk(curves, os.path.join(run.path, "passk.png"), f"pass@k, {args.env}")
    print(f"\n{args.env}: (mean return, success %) over {args.attempts} attempts per configuration")
    for label, row in table1.items():
        pert = ", ".join(
            f"{col} {p['success_percent']:.1f}" for col, p in perturbation[label].items()
        )
        print(
            f"  {label:<10} ({row['mean_return']:.3f}, {row['success_percent']:.1f})  "
            f"room sets/config {row['room_sets_per_configuration']:.2f}  | {pert}"
        )
    pass_at = {
        label: {
            f"pass@{k}": float(c[:, k - 1].mean())
            for k in (1, 4, 16, args.attempts)
            if k <= args.attempts
        }
        for label, c in curves.items()
    }
    for label, row in pass_at.items():
        print(f"  {label:<10} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    extra = {
        "table1": table1,
        "perturbation": perturbation,
        "pass_at_k": {label: c.mean(0).tolist() for label, c in curves.items()},
        "pass_at_k_summary": pass_at,
        "env_steps_per_second": {
            label: r.steps_per_second for label, r in results.items() if label != "Pretrained"
        },
    }
    return run.report(
        {k: v for k, v in results.items() if k != "Pretrained"},
        metrics=("eval_success", "episode_return"),
        title=f"Polychromic PPO vs PPO ({args.env})",
        extra=extra,
        compare=[("Poly-PPO", "PPO")] if args.seeds > 1 else (),
    )


if __name__ == "__main__":
    runs.cli(main)
