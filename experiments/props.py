"""PROPS against PPO and PPO-with-buffer on the same env, seeds and step budget.

    python experiments/props.py --env cartpole --total-steps 60000 --seeds 4
    python experiments/props.py --env brax/hopper --seeds 2          # the authors' tuned Hopper
    python experiments/props.py --env brax/hopper --preset paper      # their whole setting
    python experiments/props.py --env pendulum --config.props-num-steps 32 --total-steps 200000
    python experiments/props.py --fixed-target   # sampling error only: frozen targets, no learning

Three methods, one :mod:`jaxrl.agents.props` config, only the sampling and the buffer differ:

- ``PROPS``: the behaviour policy collects, buffer of ``buffer_batches`` (b, default 2) batches;
- ``PPO-buffer``: pi_theta collects (on-policy sampling), the same b-batch buffer;
- ``PPO``: on-policy sampling, b = 1 (plain PPO with the authors' per-minibatch KL stop).

Every method reports the sampling error of the buffer it trains on (the fitted empirical policy's
KL, and for discrete actions the exact counts KL) next to its returns. Writes
``runs/props-<env>-<time>/`` with one sub-folder per method (``PROPS/``, ``PPO-buffer/``,
``PPO/``: checkpoints, ``metrics.jsonl``, ``metrics.csv``), ``curves.png`` (return and sampling
error against env steps, mean and min-max band over seeds) and ``results.json``, and prints a
final table and, with 2+ seeds, PROPS's per-seed difference to each other method (final and
curve-mean eval return, sampling error) with a 95% confidence interval. ``--resume <run folder>``
continues every method where it stopped.

Whether PROPS learns *faster* than PPO-with-buffer is a question for this script with many
seeds, not for the test suite: on one-env CartPole (24k steps) the two are within seed noise of
each other (see the closing figures in ``tests/test_props.py``).

Defaults: ``jaxrl.agents.presets.PROPS_PRESETS[env]`` (the authors' tuned MuJoCo settings for
``brax/{swimmer,hopper,halfcheetah,walker2d,ant,humanoid}``, with their budgets, but a
constant learning rate, a linear mean and raw rewards), else ``props.Config()``; ``--preset
paper`` on those six tasks: the authors' whole setting (``PROPS_PAPER_OFFICIAL[env]``: the
learning rate annealed to 0 over the paper's budget, tanh mean, rewards normalised and clipped to
10; see ``docs/official_settings_online.md``); any ``--config.*`` flag overrides.

``--fixed-target`` instead measures the sampling error of PROPS and of on-policy sampling for a
*frozen* target (the tests' settings, :func:`fixed_target_table`): a 10-armed bandit (exact counts
KL, on-policy expectation (K - 1) / (2N)) and a 2-D Gaussian (fitted-policy KL, about 2/N), at
budgets of 64 to 512 samples, 16 seeds.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs, runs
from jaxrl.agents import ppo, props
from jaxrl.agents.presets import PROPS_PAPER, PROPS_PAPER_OFFICIAL, PROPS_PRESETS
from jaxrl.networks import output_layer_path
from jaxrl.types import Discrete, EnvSpec, TimeStep

METHODS = ("PROPS", "PPO-buffer", "PPO")


@dataclasses.dataclass
class Args(runs.OnlineArgs):
    """PROPS vs PPO-with-buffer vs PPO."""

    env: str = "cartpole"
    """Environment name, e.g. cartpole, pendulum, brax/hopper."""
    total_steps: int | None = None
    """Env steps per seed; None: the paper's budget for its tasks, else 60,000."""
    preset: Literal["default", "paper"] = "default"
    """default: ``PROPS_PRESETS[env]`` (the authors' tuned values, constant learning rate,
    linear mean, raw rewards; what the tests use) or ``props.Config()``; paper: the authors'
    whole setting (``PROPS_PAPER_OFFICIAL[env]``: plus annealing, tanh mean, reward
    normalisation), only for the six ``brax/`` tasks."""
    seeds: int = 4
    """Seeds (>= 1; vmapped; the same keys for every method)."""
    methods: tuple[Literal["PROPS", "PPO-buffer", "PPO"], ...] = METHODS
    """Which of PROPS, PPO-buffer, PPO to run."""
    fixed_target: bool = False
    """Only measure fixed-target sampling error (bandits, no learning) and print the table; no
    run folder."""
    fixed_target_seeds: int = 16
    """Seeds of the fixed-target measurement."""
    config: props.Config = dataclasses.field(default_factory=props.Config)
    """PROPS hyperparameters (defaults: the env's preset if there is one)."""


@dataclasses.dataclass(frozen=True)
class DiscreteBandit:
    """``arms``-armed bandit with one constant observation and no reward: only the sampling of
    actions matters (the fixed-target sampling-error check)."""

    arms: int = 10

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec("discrete_bandit", (1,), Discrete(self.arms), max_episode_steps=1)

    def _timestep(self) -> TimeStep:
        return TimeStep(
            obs=jnp.ones((1,)),
            reward=jnp.zeros(()),
            terminated=jnp.ones((), bool),
            truncated=jnp.zeros((), bool),
        )

    def reset(self, key: jax.Array) -> tuple[jax.Array, TimeStep]:
        return jnp.zeros(()), self._timestep()

    def step(self, state: jax.Array, action: jax.Array) -> tuple[jax.Array, TimeStep]:
        return state, self._timestep()


TARGET_PROBS = (0.25, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.04, 0.03, 0.03)
"""pi_theta of the discrete fixed-target check."""

FIXED = dict(
    num_envs=1,
    num_steps=64,
    learning_rate=0.0,  # theta never moves: a fixed target
    num_epochs=1,
    num_minibatches=1,
    normalize_obs=False,
    hidden_sizes=(16,),
    props_num_minibatches=1,
)
"""Shared settings of the fixed-target checks: one env, batches of 64, a frozen target."""

DISCRETE_FIXED = dict(
    props_num_steps=1,
    se_epochs=0,
    props_learning_rate=0.03,
    props_lambda=0.0,
    props_num_epochs=8,
    props_target_kl=0.1,
)
"""PROPS settings of the discrete check (m = 1; lambda = 0 as the authors' 2025 discrete code)."""

CONTINUOUS_FIXED = dict(
    props_num_steps=4,
    se_epochs=100,
    se_num_minibatches=1,
    se_learning_rate=1e-2,
    props_learning_rate=1e-2,
    props_lambda=0.1,
    props_num_epochs=8,
)
"""PROPS and sampling-error-fit settings of the continuous check (m = 4)."""


def with_target_logits(
    config: props.Config, env, state: props.State, logits: jax.Array
) -> props.State:
    """Set pi_theta(.|s) = softmax(logits) for every s (zero output kernel, bias = logits)."""
    path = output_layer_path(ppo.make_networks(config, env)[0])

    def set_output(p: tuple, x: jax.Array) -> jax.Array:
        keys = tuple(getattr(k, "key", k) for k in p)
        if keys[:-1] != path:
            return x
        return jnp.zeros_like(x) if keys[-1] == "kernel" else jnp.broadcast_to(logits, x.shape)

    policy = jax.tree_util.tree_map_with_path(set_output, state.params["policy"])
    return state.replace(params={**state.params, "policy": policy}, behaviour_params=policy)


def fixed_target_runs(config: props.Config, env, seeds: int, prepare=lambda s: s):
    """Metrics ``[iterations, seeds]`` of ``buffer_batches`` iterations with a frozen target
    (``learning_rate`` 0): the buffer's fill phase, so row i is measured on (i + 1) n samples."""
    # one seed after another (not vmap): a vmapped orthogonal initialiser is a batched LAPACK QR,
    # which can deadlock XLA:CPU (jaxrl/_xla_cpu.py)
    init = jax.jit(lambda ks: jax.lax.map(lambda k: prepare(props.init(config, env, k)), ks))
    step = jax.jit(jax.vmap(lambda s: props.train_step(config, env, s)))
    state = init(jax.random.split(jax.random.key(0), seeds))
    rows = []
    for _ in range(config.buffer_batches):
        state, metrics = step(state)
        rows.append(jax.tree.map(np.asarray, metrics))
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}, state


def fixed_target_table(batches: int = 8, seeds: int = 16) -> dict[str, dict[str, list[float]]]:
    """Mean sampling error of on-policy sampling and PROPS at budgets 64, 128, ..., 64 batches,
    for the discrete and the continuous fixed target; printed and returned."""
    logits = jnp.log(jnp.asarray(TARGET_PROBS, jnp.float32))
    bandit = DiscreteBandit(len(TARGET_PROBS))
    discrete = props.Config(**FIXED, buffer_batches=batches, **DISCRETE_FIXED)
    cases = {
        "discrete (counts KL)": (
            bandit,
            discrete,
            "sampling_error_counts",
            lambda s: with_target_logits(discrete, bandit, s, logits),
            lambda n: (len(TARGET_PROBS) - 1) / (2 * n),
        ),
        "continuous (fitted KL)": (
            envs.make("bandit"),
            props.Config(**FIXED, buffer_batches=batches, **CONTINUOUS_FIXED),
            "sampling_error",
            lambda s: s,
            lambda n: 2.0 / n,
        ),
    }
    n = 64 * np.arange(1, batches + 1)
    out = {}
    for name, (env, config, metric, prepare, theory) in cases.items():
        on, _ = fixed_target_runs(
            dataclasses.replace(config, sampling="on_policy"), env, seeds, prepare
        )
        pr, _ = fixed_target_runs(config, env, seeds, prepare)
        on_se, pr_se = on[metric].mean(axis=1), pr[metric].mean(axis=1)
        out[name] = {
            "samples": n.tolist(),
            "expected_on_policy": theory(n).tolist(),
            "on_policy": on_se.tolist(),
            "props": pr_se.tolist(),
        }
        print(f"{name}, {seeds} seeds")
        print(f"  {'samples':<18}" + "".join(f"{x:>8d}" for x in n))
        for label, row in (
            ("expected on-pol.", theory(n)),
            ("on-policy", on_se),
            ("PROPS", pr_se),
            ("PROPS / on-pol.", pr_se / on_se),
        ):
            print(f"  {label:<18}" + "".join(f"{x:>8.4f}" for x in row))
    return out


def method_config(config: props.Config, method: str) -> props.Config:
    """The shared config with the method's sampling and buffer."""
    if method == "PROPS":
        return dataclasses.replace(config, sampling="props")
    if method == "PPO-buffer":
        return dataclasses.replace(config, sampling="on_policy")
    if method == "PPO":
        return dataclasses.replace(config, sampling="on_policy", buffer_batches=1)
    raise ValueError(f"unknown method {method!r}; valid: {METHODS}")


def setup(args: Args) -> list[runs.Member]:
    default_config(args.env, args.preset)  # refuses --preset paper for an env it lacks
    env = envs.make(args.env)
    total = args.total_steps or (PROPS_PAPER[args.env][1] if args.env in PROPS_PAPER else 60_000)
    return [
        runs.Member(props, method_config(args.config, m), env, total, name=m, label=m)
        for m in args.methods
    ]


def default_config(env: str, preset: str = "default") -> props.Config:
    """The config ``--preset`` starts from for ``env`` (``--config.*`` flags change it).

    Raises:
        ValueError: ``paper`` for an env with no official setting, naming the ones there are.
    """
    if preset == "paper":
        if env not in PROPS_PAPER_OFFICIAL:
            raise ValueError(
                f"--preset paper has the authors' settings for {sorted(PROPS_PAPER_OFFICIAL)}, "
                f"not for {env!r}"
            )
        return PROPS_PAPER_OFFICIAL[env][0]
    return PROPS_PRESETS.get(env, props.Config())


def main(argv: list[str] | None = None) -> dict | runs.Report:
    args = runs.parse(Args, argv, __doc__, preset=lambda env, preset: default_config(env, preset))
    if args.fixed_target:
        return fixed_target_table(seeds=args.fixed_target_seeds)
    run = runs.start(args, setup)
    results = {member.label: run.train(member) for member in run.members}
    se = "sampling_error_counts" if run.members[0].env.spec.discrete else "sampling_error"
    return run.report(
        results,
        compare=[("PROPS", m) for m in results if m != "PROPS"],
        metrics=("eval_return", "episode_return", se),
        mean_metrics=(se,),
        logy=(se,),
        title=f"PROPS vs PPO on {args.env} ({args.seeds} seeds)",
    )


if __name__ == "__main__":
    runs.cli(main)
