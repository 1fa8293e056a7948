"""Jittable samplers: pure functions ``f(dataset, key, batch_size, ...) -> dict[str, jax.Array]``.

``batch_size`` and ``horizon`` are static. No sampler uses a host callback, so each runs inside a
jitted, vmapped training step; pass the dataset as an argument rather than closing over it, so a
large dataset is not baked into the compiled program as a constant. Row and episode conventions are
those of :class:`~jaxrl.data.Dataset`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.data.dataset import Dataset
from jaxrl.data.validation import DatasetError


def _sample_rows_with_remaining(
    dataset: Dataset, key: jax.Array, batch_size: int, steps: int
) -> jax.Array:
    """Rows drawn uniformly among those with ``episode_end - row >= steps`` (``steps`` static)."""
    if steps <= 0:
        return jax.random.randint(key, (batch_size,), 0, dataset.observations.shape[0])
    if steps > dataset.max_episode_length - 1:
        raise DatasetError(
            f"no row has {steps} more rows after it in its episode: the longest episode has "
            f"{dataset.max_episode_length} rows"
        )
    n = dataset.remaining_sorted.shape[0]
    count = n - jnp.searchsorted(dataset.remaining_sorted, steps, side="left")
    j = jax.random.randint(key, (batch_size,), 0, count)
    return dataset.rows_by_remaining[n - count + j]


def flatten_chunk(actions: jax.Array) -> jax.Array:
    """``[B, h, *act] -> [B, h * prod(act)]``, time-major (``a_t, a_{t+1}, ...``)."""
    return actions.reshape(actions.shape[0], -1)


def discounted_chunk_return(rewards: jax.Array, gamma: float) -> jax.Array:
    """``sum_i gamma^i rewards[:, i]`` over a ``[B, h]`` chunk (rewards past the end are 0)."""
    h = rewards.shape[-1]
    return jnp.sum(rewards * gamma ** jnp.arange(h, dtype=jnp.float32), axis=-1)


def sample_transitions(dataset: Dataset, key: jax.Array, batch_size: int) -> dict[str, jax.Array]:
    """Uniformly sampled rows (single transitions).

    Returns a dict with (leading axis ``batch_size``):
        ``index`` int32 row; ``obs``; ``action``; ``reward`` f32; ``terminal`` f32 (1 = true end);
        ``timeout`` f32; ``mask`` f32 ``= 1 - terminal`` (bootstrap weight); ``next_obs``;
        ``next_action`` (the action at row ``index + 1`` when that row is in the same episode,
        zeros at an episode's last row); ``next_action_valid`` f32 (0 at an episode's last row).
    """
    idx = jax.random.randint(key, (batch_size,), 0, dataset.observations.shape[0])
    n = dataset.observations.shape[0]
    has_next = idx < dataset.episode_end[idx]
    next_action = dataset.actions[jnp.minimum(idx + 1, n - 1)]
    valid_b = has_next.reshape(has_next.shape + (1,) * (next_action.ndim - 1))
    terminal = dataset.terminals[idx].astype(jnp.float32)
    return {
        "index": idx,
        "obs": dataset.observations[idx],
        "action": dataset.actions[idx],
        "reward": dataset.rewards[idx],
        "terminal": terminal,
        "timeout": dataset.timeouts[idx].astype(jnp.float32),
        "mask": 1.0 - terminal,
        "next_obs": dataset.next_observations[idx],
        "next_action": jnp.where(valid_b, next_action, jnp.zeros_like(next_action)),
        "next_action_valid": has_next.astype(jnp.float32),
    }


def sample_chunks(
    dataset: Dataset,
    key: jax.Array,
    batch_size: int,
    horizon: int,
    full_only: bool = False,
) -> dict[str, jax.Array]:
    """Action chunks of ``horizon`` steps from uniformly sampled start rows.

    Start rows are uniform over all rows, or, with ``full_only=True``, uniform over the rows whose
    whole chunk fits in their episode (``start + horizon - 1 <= episode_end``).

    Step ``i`` of a chunk is row ``start + i``. ``valid[:, i] = 1`` while that row is still in the
    start row's episode (``start + i <= episode_end[start]``). This equals Q-chunking's convention
    ``valid[i] = 1 - any(done[start : start + i])`` with ``done = terminals | timeouts``
    (ColinQiyangLi/qc utils/datasets.py ``sample_sequence``: ``valid[..., i] = 1 -
    terminals[..., i - 1]`` with ``terminals`` accumulated by max), so a chunk never silently
    crosses an episode end.

    Steps past the end (``valid == 0``): ``actions`` repeat the episode's last action (the index is
    clamped to the episode end, as DQC's CGCDataset does); ``rewards``, ``terminals`` and
    ``timeouts`` are 0, so ``discounted_chunk_return(rewards, gamma)`` needs no extra masking.

    Returns a dict with:
        ``index`` [B] start row; ``obs`` [B, *obs]; ``actions`` [B, h, *act] (time-major);
        ``actions_flat`` [B, h * prod(act)]; ``rewards`` [B, h]; ``terminals`` [B, h];
        ``timeouts`` [B, h]; ``valid`` [B, h]; ``num_valid`` [B] int32
        ``= min(h, end - start + 1)``;
        ``next_obs`` [B, *obs], the observation after the last valid step
        (``next_observations[start + num_valid - 1]``); ``mask`` [B] ``= 1 - terminals`` at the
        last valid step. An n-step target is then
        ``discounted_chunk_return(rewards, gamma) + gamma**num_valid * mask * V(next_obs)``.
    """
    if horizon < 1:
        raise ValueError(f"sample_chunks: horizon must be >= 1, got {horizon}")
    idx = _sample_rows_with_remaining(dataset, key, batch_size, horizon - 1 if full_only else 0)
    end = dataset.episode_end[idx]
    rows = idx[:, None] + jnp.arange(horizon, dtype=idx.dtype)[None, :]
    valid = rows <= end[:, None]
    rows_c = jnp.minimum(rows, end[:, None])
    validf = valid.astype(jnp.float32)
    actions = dataset.actions[rows_c]
    num_valid = jnp.minimum(horizon, end - idx + 1).astype(jnp.int32)
    last = idx + num_valid - 1
    terminals = dataset.terminals[rows_c].astype(jnp.float32) * validf
    return {
        "index": idx,
        "obs": dataset.observations[idx],
        "actions": actions,
        "actions_flat": flatten_chunk(actions),
        "rewards": dataset.rewards[rows_c] * validf,
        "terminals": terminals,
        "timeouts": dataset.timeouts[rows_c].astype(jnp.float32) * validf,
        "valid": validf,
        "num_valid": num_valid,
        "next_obs": dataset.next_observations[last],
        "mask": 1.0 - dataset.terminals[last].astype(jnp.float32),
    }


def _goal_source(dataset: Dataset, goal_key: str) -> jax.Array:
    if goal_key == "observations":
        return dataset.observations
    if goal_key == "goals":
        if dataset.goals is None:
            raise DatasetError("goals: goal_key='goals' but the dataset has no goals field")
        return dataset.goals
    if goal_key.startswith("physics/"):
        name = goal_key.split("/", 1)[1]
        if dataset.physics is None or name not in dataset.physics:
            raise DatasetError(f"{goal_key}: not in the dataset's physics entries")
        return dataset.physics[name]
    raise ValueError(
        f"goal_key must be 'observations', 'goals' or 'physics/<name>', got {goal_key!r}"
    )


def _geometric(key: jax.Array, gamma: float, shape: tuple[int, ...]) -> jax.Array:
    """Offsets ``>= 1`` with ``P(k) = gamma^(k-1) (1 - gamma)`` (int32, capped at 2**30)."""
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1) for geometric offsets, got {gamma}")
    if gamma == 0.0:
        return jnp.ones(shape, jnp.int32)
    u = 1.0 - jax.random.uniform(key, shape)  # (0, 1]
    k = jnp.floor(jnp.log(u) / math.log(gamma))
    return (jnp.minimum(k, 2.0**30) + 1).astype(jnp.int32)


def sample_goal_chunks(
    dataset: Dataset,
    key: jax.Array,
    batch_size: int,
    horizon: int,
    gamma: float,
    p_current: float = 0.2,
    p_future: float = 0.5,
    p_random: float = 0.3,
    future: str = "uniform",
    goal_key: str = "observations",
    random_goals_from_chunk_starts: bool = True,
) -> dict[str, jax.Array]:
    """DQC's goal-conditioned chunk sampler (ColinQiyangLi/dqc utils/datasets.py ``CGCDataset``).

    With ``end = episode_end[idx]`` (the episode's last row) and ``h = horizon``:

    * Start rows ``idx`` are uniform over rows with ``idx + h <= end`` (the reference builds
      ``np.arange(cur_idx, terminal_idx + 1 - backup_horizon)``). The chunk is
      ``actions[idx : idx + h]``, always inside the episode, and its successor
      ``observations[idx + h]`` is a row of the same episode; the episode's last transition is
      therefore never inside a full chunk, as in the reference.
    * Goal row: with probability ``p_current`` the start row itself; else with probability
      ``p_future / (1 - p_current)`` a future row of the same episode, otherwise a random row.
      ``future="uniform"`` reproduces the reference's
      ``round(min(idx+1, end) * d + end * (1 - d))``, ``d ~ U[0, 1)``: a row in ``[idx+1, end]``
      (the two extremes get half the weight of the others); ``future="geometric"`` uses
      ``min(idx + Geometric(1 - gamma), end)``. Random goals are drawn, as in the reference with
      OGBench's compact datasets (``get_random_idxs`` reads ``valid_idxs``, which CGCDataset sets
      to the chunk starts), from the valid start rows; set ``random_goals_from_chunk_starts=False``
      to draw them from all rows.
    * Backup horizon ``k = min(h, end - idx)`` (``compute_high_next_idxs``; ``= h`` for valid
      starts). If the goal row lies in ``[idx, idx + k)`` then ``k = goal - idx`` and
      ``success = 1`` (success is index equality, never a distance).
      ``reward = gamma**k * success``, ``mask = 1 - success``, ``next_obs = observations[idx + k]``.
      (The reference computes success as ``k < h``, identical for valid starts.)

    Args:
        dataset: the dataset; ``goal_key`` picks where goals are read from: ``"observations"``,
            ``"goals"`` (``dataset.goals``, e.g. an oracle representation) or ``"physics/<name>"``.
        key: PRNG key.
        batch_size: static batch size.
        horizon: static chunk length ``h`` (>= 1); some episode must have more than ``h`` rows.
        gamma: discount for the reward (and the geometric goal offsets).
        p_current, p_future, p_random: goal probabilities (must sum to 1).
        future: ``"uniform"`` or ``"geometric"``.
        goal_key: see ``dataset``.
        random_goals_from_chunk_starts: see above.

    Returns a dict with:
        ``index`` [B]; ``obs`` [B, *obs]; ``obs_goal_rep`` [B, *goal] (the start row read from the
        goal source, the reference's ``high_value_reps``); ``goal`` [B, *goal]; ``goal_index`` [B];
        ``goal_offset`` [B] ``= goal_index - index``; ``actions`` [B, h, *act]; ``actions_flat``
        [B, h * prod(act)]; ``k`` [B] int32; ``reward`` [B] f32; ``mask`` [B] f32; ``success`` [B]
        f32; ``next_obs`` [B, *obs].
    """
    if horizon < 1:
        raise ValueError(f"sample_goal_chunks: horizon must be >= 1, got {horizon}")
    if not np.isclose(p_current + p_future + p_random, 1.0):
        raise ValueError(
            f"goal probabilities must sum to 1, got {p_current} + {p_future} + {p_random}"
        )
    if future not in ("uniform", "geometric"):
        raise ValueError(f"future must be 'uniform' or 'geometric', got {future!r}")
    source = _goal_source(dataset, goal_key)
    k_idx, k_fut, k_geo, k_rand, k_sel, k_cur = jax.random.split(key, 6)
    idx = _sample_rows_with_remaining(dataset, k_idx, batch_size, horizon)
    end = dataset.episode_end[idx]

    if future == "uniform":
        d = jax.random.uniform(k_fut, (batch_size,))
        lo = jnp.minimum(idx + 1, end)
        # lo * d + end * (1 - d), computed relative to lo so float32 stays exact for large N.
        traj = lo + jnp.round((end - lo).astype(jnp.float32) * (1.0 - d)).astype(idx.dtype)
    else:
        offsets = _geometric(k_geo, gamma, (batch_size,))
        traj = idx + jnp.minimum(offsets, end - idx)
    if random_goals_from_chunk_starts:
        rand = _sample_rows_with_remaining(dataset, k_rand, batch_size, horizon)
    else:
        rand = jax.random.randint(k_rand, (batch_size,), 0, dataset.observations.shape[0])
    if p_current == 1.0:
        goal = idx
    else:
        u_sel = jax.random.uniform(k_sel, (batch_size,))
        goal = jnp.where(u_sel < p_future / (1.0 - p_current), traj, rand)
        goal = jnp.where(jax.random.uniform(k_cur, (batch_size,)) < p_current, idx, goal)

    k0 = jnp.minimum(horizon, end - idx)
    diff = goal - idx
    success = (diff >= 0) & (diff < k0)
    k = jnp.where(success, diff, k0).astype(jnp.int32)
    successf = success.astype(jnp.float32)
    rows = jnp.minimum(idx[:, None] + jnp.arange(horizon, dtype=idx.dtype)[None, :], end[:, None])
    actions = dataset.actions[rows]
    return {
        "index": idx,
        "obs": dataset.observations[idx],
        "obs_goal_rep": source[idx],
        "goal": source[goal],
        "goal_index": goal,
        "goal_offset": diff,
        "actions": actions,
        "actions_flat": flatten_chunk(actions),
        "k": k,
        "reward": jnp.asarray(gamma, jnp.float32) ** k.astype(jnp.float32) * successf,
        "mask": 1.0 - successf,
        "success": successf,
        "next_obs": dataset.observations[idx + k],
    }


def sample_future_states(
    dataset: Dataset, key: jax.Array, batch_size: int, gamma: float | None = None
) -> dict[str, jax.Array]:
    """A start row and a future state of the same episode (representation learning).

    The start row is uniform over all rows. ``offset >= 1`` counts steps ahead of the start row:
    ``future_obs`` is the state reached after ``offset`` actions, i.e.
    ``next_observations[index + offset - 1]`` (``offset = 1`` gives ``next_obs``). With ``gamma``
    the offset is ``Geometric(1 - gamma)`` (``P(offset = j) = gamma^(j-1) (1 - gamma)``), truncated
    at the episode end: offsets past the end become ``end - index + 1``, i.e. the episode's final
    observation (``next_observations[end]``) gets the leftover mass, as HIQL/OGBench's
    ``np.minimum(idxs + offsets, final_state_idxs)`` does. With ``gamma=None`` the offset is uniform
    in ``[1, end - index + 1]``.

    Returns a dict with: ``index`` [B]; ``obs``; ``action``; ``reward``; ``mask``
    (``1 - terminal``); ``next_obs``; ``future_obs``; ``future_index`` [B] (the row whose
    ``next_observations`` is ``future_obs``); ``offset`` [B] int32.
    """
    k_idx, k_off = jax.random.split(key)
    idx = jax.random.randint(k_idx, (batch_size,), 0, dataset.observations.shape[0])
    end = dataset.episode_end[idx]
    max_off = end - idx + 1
    if gamma is None:
        offset = jax.random.randint(k_off, (batch_size,), 1, max_off + 1)
    else:
        offset = jnp.minimum(_geometric(k_off, gamma, (batch_size,)), max_off)
    offset = offset.astype(jnp.int32)
    fut = idx + offset - 1
    return {
        "index": idx,
        "obs": dataset.observations[idx],
        "action": dataset.actions[idx],
        "reward": dataset.rewards[idx],
        "mask": 1.0 - dataset.terminals[idx].astype(jnp.float32),
        "next_obs": dataset.next_observations[idx],
        "future_obs": dataset.next_observations[fut],
        "future_index": fut,
        "offset": offset,
    }
