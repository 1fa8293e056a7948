"""Zero-shot RL core: multi-task domains, reward relabelling, and the Forward-Backward machinery
that FB, BREEZE and TD-JEPA share.

**Domains.** A *task domain* is an environment (reward-free: its own reward is 0) together with
named task rewards that are pure functions of the same physics. Every step's ``info`` holds

* ``info["physics"]``: the simulator state *after* the step (a dict of arrays, e.g. ``qpos``,
  ``qvel``), and
* ``info["task_rewards"]``: ``[T]``, the reward each task gives this transition,
  ``domain.task_rewards(info["physics"], action)``.

Our row convention (``jaxrl.data``): row ``i`` holds ``observations[i]``, the action taken there
``actions[i]``, ``next_observations[i]``, the physics after the step as ``physics["next_<name>"]``
and ``task_rewards[name][i] = r_name(next_physics[i], actions[i])``, all aligned on ``i``.
(ExORL's files store the action and reward arrays shifted by one step against the observations:
``action[t]`` there led *to* ``observation[t]``; a loader of real ExORL files must shift them.)

:func:`relabel` recomputes any task's reward from the stored physics, so rewards added to a domain
after collection can be evaluated on old data, and :func:`task_env` turns a domain into the
ordinary single-task env that rewards one task (evaluation, the supervised TD3 reference).

**FB** (Touati and Ollivier 2021; Touati, Rapin, Ollivier 2023): ``F(s, a, z)`` and ``B(s')`` in
``R^d`` with ``M^{pi_z}(s, a, ds') ~ F(s, a, z)^T B(s') rho(ds')``; see the loss functions below.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from jaxrl.data.transforms import NormalizedDataset
from jaxrl.types import Env, EnvSpec, PRNGKey, TimeStep

PHYSICS_INFO = "physics"
"""The ``info`` entry holding a domain's physics after each step."""
TASK_REWARDS_INFO = "task_rewards"
"""The ``info`` entry holding every task's reward of each step, ``[T]``."""
NEXT = "next_"
"""Prefix of the dataset physics entries that hold the state after the row's action."""


@runtime_checkable
class TaskDomain(Protocol):
    """An env with named task rewards computed from its physics (see the module docstring)."""

    @property
    def spec(self) -> EnvSpec: ...

    @property
    def task_names(self) -> tuple[str, ...]:
        """The domain's task names, in the order of ``info["task_rewards"]``."""
        ...

    def task_rewards(self, physics: dict[str, jax.Array], action: jax.Array) -> jax.Array:
        """``[T]``: each task's reward for a step that took ``action`` and ended in ``physics``
        (one transition; a pure function, vmapped by :func:`relabel`)."""
        ...

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]: ...

    def step(self, state: Any, action: jax.Array) -> tuple[Any, TimeStep]: ...


def is_domain(env: Any) -> bool:
    """Whether ``env`` is a :class:`TaskDomain` (has task names and a task-reward function)."""
    return hasattr(env, "task_names") and hasattr(env, "task_rewards")


def check_task(domain: Any, task: str, field: str = "task") -> int:
    """The index of ``task`` in ``domain.task_names``; a ValueError naming ``field``, the value
    and the domain's tasks otherwise (also when ``domain`` has no tasks at all)."""
    if not is_domain(domain):
        raise ValueError(
            f"{field}={task!r}: env {domain.spec.name!r} is not a multi-task domain (it has no "
            "task_names / task_rewards); use a zero-shot domain, e.g. 'reach/fourrooms'"
        )
    names = tuple(domain.task_names)
    if task not in names:
        raise ValueError(
            f"{field}={task!r} is not a task of domain {domain.spec.name!r}; its tasks are "
            f"{', '.join(names)}"
        )
    return names.index(task)


@dataclasses.dataclass(frozen=True)
class TaskEnv:
    """``domain`` with the reward of one task: ``reward = info["task_rewards"][index]``.

    Everything else (observations, physics, termination) is the domain's, so a policy trained
    zero-shot and one trained on this task's reward are evaluated on the same env."""

    domain: Any
    task: str

    def __post_init__(self) -> None:
        check_task(self.domain, self.task)

    @property
    def index(self) -> int:
        return tuple(self.domain.task_names).index(self.task)

    @property
    def spec(self) -> EnvSpec:
        """The domain's spec named ``<domain>:<task>`` (a name ``envs.make`` rebuilds)."""
        return dataclasses.replace(self.domain.spec, name=f"{self.domain.spec.name}:{self.task}")

    def _rewarded(self, ts: TimeStep) -> TimeStep:
        return ts.replace(reward=ts.info[TASK_REWARDS_INFO][self.index])

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]:
        state, ts = self.domain.reset(key)
        return state, self._rewarded(ts)

    def step(self, state: Any, action: jax.Array) -> tuple[Any, TimeStep]:
        state, ts = self.domain.step(state, action)
        return state, self._rewarded(ts)


def task_env(domain: Any, task: str) -> Env:
    """The single-task env of ``domain`` whose reward is ``task``'s (a ValueError naming the
    task and listing the domain's tasks if it has no such task)."""
    return TaskEnv(domain, task)


def next_physics(physics: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """The ``next_<name>`` entries of a dataset's physics, without the prefix."""
    return {k.removeprefix(NEXT): v for k, v in physics.items() if k.startswith(NEXT)}


def relabel(domain: Any, dataset: Any, task: str | None = None) -> jax.Array:
    """Recompute task rewards from the dataset's stored physics (``next_<name>`` entries) and
    actions: ``[N]`` for ``task``, or ``[N, T]`` for every task of ``domain`` when ``task`` is
    None.

    Raises:
        ValueError: ``task`` is not one of the domain's, or the dataset has no physics (or not
            the ``next_`` entries the domain's reward reads), named with what is expected.
    """
    index = None if task is None else check_task(domain, task)
    if dataset.physics is None or not next_physics(dataset.physics):
        have = sorted(dataset.physics or {})
        raise ValueError(
            f"relabel: the dataset has no stored physics after each step (physics entries "
            f"'next_<name>'; it has {have}); collect it with "
            "experiments/make_dataset.py exorl, which stores them"
        )
    phys = next_physics(dataset.physics)
    rewards = jax.vmap(domain.task_rewards)(phys, dataset.actions)
    return rewards if index is None else rewards[:, index]


# --- Forward-Backward machinery ----------------------------------------------------------------

OrthoForm = Literal["metamotivo", "controllable_agent"]
"""The two published forms of the orthonormality loss (:func:`orthonormality_loss`)."""


def project_sphere(x: jax.Array, eps: float = 1e-6) -> jax.Array:
    """``sqrt(d) x / |x|`` on the last axis: the radius every FB code gives ``z`` and ``B``."""
    d = x.shape[-1]
    return math.sqrt(d) * x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)


def sample_z(key: PRNGKey, num: int, z_dim: int) -> jax.Array:
    """``[num, z_dim]`` task vectors uniform on the ``sqrt(z_dim)`` sphere (normalised
    Gaussians), FB's prior over tasks during training."""
    return project_sphere(jax.random.normal(key, (num, z_dim)))


def mix_z(key: PRNGKey, z: jax.Array, embeddings: jax.Array, mix_prob: jax.Array) -> jax.Array:
    """Replace each row of ``z`` with probability ``mix_prob`` by a row of ``embeddings``
    (``B`` of batch states, already on the sphere) drawn at random: the training mix of
    random and state-embedding tasks (metamotivo ``sample_mixed_z``, 50%)."""
    k_perm, k_mix = jax.random.split(key)
    perm = jax.random.permutation(k_perm, embeddings.shape[0])[: z.shape[0]]
    use = jax.random.uniform(k_mix, (z.shape[0], 1)) < mix_prob
    return jnp.where(use, embeddings[perm], z)


def _off_diagonal(n: int) -> jax.Array:
    return ~jnp.eye(n, dtype=bool)


def fb_measure_loss(
    m: jax.Array, target_m: jax.Array, discount: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The FB measure loss for one ``F`` (Touati and Ollivier 2021, eq. 9 sampled as in
    metamotivo's ``update_fb``):

    ``0.5 mean_{i != j} (M_ij - discount_i Mbar_ij)^2 - mean_i M_ii``

    with ``M_ij = F(s_i, a_i, z_i)^T B(s'_j)`` (``m [N, N]``), ``Mbar_ij = Fbar(s'_i, a'_i,
    z_i)^T Bbar(s'_j)`` (``target_m``, not differentiated) and ``discount_i = gamma (1 -
    terminal_i)``. The off-diagonal term, the sampled ``||F^T B - gamma P Fbar^T Bbar||^2_rho``,
    is averaged over the ``N(N-1)`` off-diagonal entries only; the diagonal pairs ``(s_i, s'_i)``
    are the positive term ``-2 E[F^T B(s')]`` (halved with the square)."""
    n = m.shape[-1]
    off = _off_diagonal(n)
    diff = m - discount[:, None] * jax.lax.stop_gradient(target_m)
    offdiag = 0.5 * jnp.sum(jnp.where(off, diff**2, 0.0)) / (n * (n - 1))
    diag = -jnp.mean(jnp.diagonal(m))
    return offdiag + diag, {"fb_offdiag": offdiag, "fb_diag": diag}


def orthonormality_loss(b: jax.Array, form: OrthoForm = "metamotivo") -> jax.Array:
    """The sampled ``||E_rho[B B^T] - I||^2`` up to a constant, with ``C = B B^T`` over the batch
    (``b [N, d]``):

    * ``"metamotivo"``: ``-mean_i C_ii + 0.5 mean_{i != j} C_ij^2`` (metamotivo ``update_fb``);
    * ``"controllable_agent"``: ``-2 mean_i C_ii + mean_{i != j} C_ij^2`` (controllable_agent
      ``fb_ddpg``, BREEZE), twice the first.

    With ``B`` on the sphere the diagonal is constant and only the decorrelation acts."""
    n = b.shape[0]
    c = b @ b.T
    diag = jnp.mean(jnp.diagonal(c))
    offdiag = jnp.sum(jnp.where(_off_diagonal(n), c**2, 0.0)) / (n * (n - 1))
    if form == "metamotivo":
        return -diag + 0.5 * offdiag
    return -2.0 * diag + offdiag


def twin_measure_loss(
    f: jax.Array,
    b: jax.Array,
    target_f: jax.Array,
    target_b: jax.Array,
    discount: jax.Array,
    ortho_coef: jax.Array,
    form: OrthoForm,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """FB's loss with twin forward maps, as FB and BREEZE train it: :func:`fb_measure_loss`
    of each twin ``M_k = F_k B^T`` against ``min_k F_k_targ B_targ^T`` (the elementwise min of the
    two target matrices), summed over the twins, plus ``ortho_coef`` times
    :func:`orthonormality_loss` of ``B``. ``f``, ``target_f``: ``[2, n, d]`` at ``(s, a)`` and
    ``(s', a')``; ``b``, ``target_b``: ``[n, d]`` at ``s'``; ``discount [n]``."""
    target_m = jnp.min(jnp.einsum("eid,jd->eij", target_f, target_b), axis=0)
    m = jnp.einsum("eid,jd->eij", f, b)
    losses, parts = jax.vmap(fb_measure_loss, (0, None, None))(m, target_m, discount)
    ortho = orthonormality_loss(b, form)
    info = {
        "fb_loss": jnp.sum(losses),
        "fb_offdiag": jnp.sum(parts["fb_offdiag"]),
        "fb_diag": jnp.sum(parts["fb_diag"]),
        "ortho_loss": ortho,
        "m_diag_mean": jnp.mean(jnp.diagonal(m, axis1=1, axis2=2)),
    }
    return jnp.sum(losses) + ortho_coef * ortho, info


def infer_z_from_rewards(b: jax.Array, rewards: jax.Array) -> jax.Array:
    """FB task inference (Touati et al. 2023, eq. 7): ``z_r = sqrt(d) normalise(mean_i r_i
    B(s_i))`` from reward-labelled states ``b [N, d]``, ``rewards [N]`` (``B`` of the state the
    reward is paid in: the next state for ``r(s, a, s')``)."""
    return project_sphere(jnp.mean(rewards[:, None] * b, axis=0))


def inference_rows(
    data: Any, rewards: jax.Array, count: int, key: PRNGKey
) -> tuple[jax.Array, jax.Array]:
    """``count`` random rows of ``data`` (without replacement when it has enough) for reward
    task inference: their raw next observations (a ``NormalizedDataset``'s are un-normalised)
    and their entries of ``rewards [N]``, the task's reward of every row
    (:func:`task_rewards_of`)."""
    n = data.observations.shape[0]
    rows = jax.random.choice(key, n, (min(count, n),), replace=False)
    next_obs = data.next_observations[rows]
    if isinstance(data, NormalizedDataset):  # stored normalised
        next_obs = next_obs * data.obs_std + data.obs_mean
    return next_obs, rewards[rows]


def infer_z_least_squares(
    features: jax.Array, rewards: jax.Array, normalize: bool = True
) -> jax.Array:
    """TD-JEPA's task inference: ``z = argmin_z ||features z - r||^2`` (``features [N, d]``,
    ``jnp.linalg.lstsq``), on the sphere when ``normalize`` (as FB's ``z``)."""
    z = jnp.linalg.lstsq(features, rewards)[0]
    return project_sphere(z) if normalize else z


def infer_z_from_goal(b_goal: jax.Array) -> jax.Array:
    """Goal reaching: ``z = B(g)`` (already on the sphere)."""
    return b_goal


def successor_measure(transitions: jax.Array, policy: jax.Array, discount: float) -> jax.Array:
    """The exact successor measure of a finite MDP, ``M(s, a, s') = sum_{t >= 0} gamma^t
    Pr(s_{t+1} = s' | s_0 = s, a_0 = a, pi)`` as ``[S, A, S]``, from ``transitions [S, A, S]``
    and ``policy [S, A]``: ``M = P (I - gamma P_pi)^{-1}`` with ``P_pi(s, s') = sum_a pi(a|s)
    P(s'|s, a)`` (the reference FB's ``F^T B rho`` is checked against)."""
    s = transitions.shape[0]
    p_pi = jnp.einsum("sa,sat->st", policy, transitions)
    resolvent = jnp.linalg.inv(jnp.eye(s) - discount * p_pi)
    return jnp.einsum("sat,tu->sau", transitions, resolvent)


# --- the zero-shot agent API (FB, BREEZE, TD-JEPA) ----------------------------------------------
#
# Every zero-shot agent module has ``check_env``, ``prepare_data``, ``policy(config, env, state,
# obs, z, key)``, ``act``, ``backward`` (task features), ``infer_task``, ``infer_task_from_data``
# and ``with_task``, and a ``State`` with ``z``; these helpers are the parts they share.


def check_agent_env(name: str, env: Env) -> None:
    """Raise a ValueError naming the env unless the zero-shot agent ``name`` can train on it:
    continuous (``Box``) actions and vector observations. Cheap: reads ``env.spec`` only."""
    from jaxrl.config import require_box, require_vector_obs

    require_box(name, env)
    require_vector_obs(name, env)


def prepare_agent_data(name: str, env: Env, dataset: Any, normalize_obs: bool) -> Any:
    """Check ``dataset`` against ``env`` (:func:`check_agent_env`), map its actions to ``[-1, 1]``
    and (with ``normalize_obs``) normalise its observations
    (:func:`jaxrl.data.transforms.prepare`). The dataset's rewards are never read: the agents
    are reward-free."""
    from jaxrl.data import transforms

    check_agent_env(name, env)
    return transforms.prepare(dataset, env.spec, normalize_obs)


def act_on_state_task(
    policy: Callable[..., jax.Array], config: Any, env: Env, state: Any, obs: jax.Array, key: Any
) -> jax.Array:
    """An agent's ``act``: its ``policy`` with the state's task ``state.z`` for every row of
    ``obs [N, ...]``."""
    z = jnp.broadcast_to(state.z, (obs.shape[0], state.z.shape[-1]))
    return policy(config, env, state, obs, z, key)


def infer_task_from_rows(
    infer_task: Callable[..., jax.Array],
    config: Any,
    env: Env,
    state: Any,
    data: Any,
    rewards: jax.Array,
    key: PRNGKey,
) -> jax.Array:
    """An agent's ``infer_task_from_data``: its ``infer_task(config, env, state, next_obs,
    rewards)`` on ``config.inference_samples`` random rows of ``data`` (:func:`inference_rows`),
    ``rewards [N]`` the task's reward of every row (:func:`task_rewards_of`)."""
    next_obs, rewards = inference_rows(data, rewards, config.inference_samples, key)
    return infer_task(config, env, state, next_obs, rewards)


def with_task(state: Any, z: jax.Array) -> Any:
    """An agent's ``state`` whose ``act`` follows task ``z``."""
    return state.replace(z=jnp.asarray(z, jnp.float32))


# --- zero-shot evaluation ----------------------------------------------------------------------

ZPolicyFn = Callable[[jax.Array, jax.Array, PRNGKey], jax.Array]
"""``policy(obs [N, ...], z [N, d], key) -> actions [N, ...]``: a task-conditioned policy."""


@dataclasses.dataclass(frozen=True)
class _AnyTask:
    """``domain`` whose state carries a task index and whose reward is that task's (the index
    is data, so episodes of every task run in one program)."""

    domain: Any

    @property
    def spec(self) -> EnvSpec:
        return self.domain.spec

    def step(self, state: tuple[Any, jax.Array], action: jax.Array) -> tuple[Any, TimeStep]:
        inner, index = state
        inner, ts = self.domain.step(inner, action)
        return (inner, index), ts.replace(reward=ts.info[TASK_REWARDS_INFO][index])


def evaluate_zero_shot(
    domain: Any,
    policy: ZPolicyFn,
    task_z: jax.Array,
    key: PRNGKey,
    num_episodes: int,
    max_steps: int | None = None,
) -> dict[str, jax.Array]:
    """Return of ``policy`` on every task of ``domain``: ``num_episodes`` episodes per task (each
    from a fresh reset, no autoreset), task ``k``'s rewarded by ``info["task_rewards"][k]`` (as
    :func:`task_env` ``(domain, k)``) and acted on with ``z = task_z[k]`` held fixed; the
    episodes of all tasks run side by side in one rollout.

    Returns ``{"return": [T], "return_std": [T]}`` in ``domain.task_names`` order (``task_z`` is
    ``[T, d]``); vmap it over seeds (over ``task_z`` and the policy's parameters) as any pure
    function."""
    from jaxrl import rollout

    names = tuple(domain.task_names)
    num_tasks = len(names)
    if task_z.shape[0] != num_tasks:
        raise ValueError(
            f"task_z has {task_z.shape[0]} rows; domain {domain.spec.name!r} has {num_tasks} "
            f"tasks ({', '.join(names)})"
        )
    index = jnp.repeat(jnp.arange(num_tasks), num_episodes)
    z = task_z[index]
    reset_key, key = jax.random.split(key)
    inner, ts = jax.vmap(domain.reset)(jax.random.split(reset_key, index.shape[0]))
    returns, _, _ = rollout.run_episodes(
        _AnyTask(domain),
        (inner, index),
        ts,
        lambda obs, k: policy(obs, z, k),
        key,
        max_steps or domain.spec.max_episode_steps,
    )
    returns = returns.reshape(num_tasks, num_episodes)
    return {"return": jnp.mean(returns, axis=1), "return_std": jnp.std(returns, axis=1)}


def task_rewards_of(dataset: Any, domain: Any, task: str) -> jax.Array:
    """``[N]`` the stored reward of ``task`` (``dataset.task_rewards[task]``), else recomputed
    from the stored physics by :func:`relabel` (a ValueError naming what is missing when the
    dataset has neither)."""
    check_task(domain, task)
    stored = getattr(dataset, "task_rewards", None)
    if stored is not None and task in stored:
        return stored[task]
    return relabel(domain, dataset, task)


@functools.partial(jax.jit, static_argnums=(0, 1, 4, 5))
def _collect_trajectory(
    domain: Any,
    policy: Callable[..., jax.Array],
    params: Any,
    key: PRNGKey,
    num_envs: int,
    num_steps: int,
) -> Any:
    """The time-major transitions of :func:`collect` (one compiled program per domain, policy
    function and sizes; ``params`` are traced)."""
    from jaxrl import rollout

    vec = rollout.VecEnv(domain, num_envs)

    def policy_fn(obs: jax.Array, k: PRNGKey) -> tuple[jax.Array, jax.Array, dict]:
        action = policy(obs, k) if params is None else policy(obs, k, params)
        return action, action, {}

    k_reset, k_roll = jax.random.split(key)
    state = vec.reset(k_reset)
    keys = (PHYSICS_INFO, TASK_REWARDS_INFO)
    return rollout.collect(vec, state, policy_fn, k_roll, num_steps, info_keys=keys)[1]


def collect(
    domain: Any,
    policy: Callable[..., jax.Array],
    key: PRNGKey,
    num_envs: int,
    num_steps: int,
    params: Any = None,
) -> Any:
    """Reward-free data from ``policy(obs [num_envs, ...], key) -> actions`` (or
    ``policy(obs, key, params)`` when ``params`` is given): ``num_steps`` steps in each of
    ``num_envs`` copies of ``domain`` (autoreset), as a :class:`jaxrl.data.Dataset` whose physics
    entries are ``next_<name>`` (the state after each row's action) and whose ``task_rewards``
    hold every task's reward of each row (the dataset's ``rewards`` are the domain's own, 0).

    The rollout is compiled once per domain, ``policy`` function and sizes: pass what changes
    between calls (a later snapshot's parameters) as ``params`` and the same ``policy`` to
    reuse it; a new closure compiles again."""
    from jaxrl.data import from_transitions

    traj = _collect_trajectory(domain, policy, params, key, num_envs, num_steps)
    rewards = traj.extras[TASK_REWARDS_INFO]
    names = tuple(domain.task_names)
    return from_transitions(
        traj,
        physics={NEXT + k: v for k, v in traj.extras[PHYSICS_INFO].items()},
        task_rewards={name: rewards[..., i] for i, name in enumerate(names)},
    )
