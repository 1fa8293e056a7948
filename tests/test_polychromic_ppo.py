"""Polychromic PPO (``agents/polychromic_ppo.py``): the set objective against hand computation,
vines, the step count, the run invariants, bad input, and the signature on the multi-route task
(calibrated on 8 seeds, with a broken variant that loses it)."""

from __future__ import annotations

import dataclasses
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("xminigrid")

from trees import assert_same, differ

import jaxrl  # noqa: E402
from jaxrl import envs, passk  # noqa: E402
from jaxrl.agents import bc, ppo  # noqa: E402
from jaxrl.agents import polychromic_ppo as poly  # noqa: E402
from jaxrl.envs import minigrid  # noqa: E402

X, Y = 0b1011, 0b1101  # two room sets (the two routes of MultiRoute)


def test_set_advantage_matches_the_hand_computation():
    """Vine returns (1, 1, 1, 0), room sets (X, X, X, Y), n = 2 over all 6 pairs, d in {0, 1}:
    the three success pairs score 0 (same rooms), the three pairs with the failed vine 0.5, so
    V = 0.25; the failed but diverse vine gets 0.5 - 0.25 = +0.25, each success
    (0 + 0 + 0.5) / 3 - 0.25 = -1/12; they sum to 0, the opposite sign of return minus mean."""
    returns = jnp.array([1.0, 1.0, 1.0, 0.0])
    signatures = jnp.array([X, X, X, Y], jnp.int32)
    sets = jnp.asarray(poly.all_sets(4, 2))
    assert sets.shape == (6, 2)
    adv, scores, signal = poly.set_advantage(returns, signatures, sets, poly.distinct)
    np.testing.assert_allclose(np.asarray(scores), [0, 0, 0.5, 0, 0.5, 0.5], atol=1e-7)
    np.testing.assert_allclose(np.asarray(adv), [-1 / 12, -1 / 12, -1 / 12, 0.25], atol=1e-7)
    assert abs(float(adv.sum())) < 1e-7 and bool(signal)
    plain = np.asarray(returns - returns.mean())
    assert (np.sign(plain) == -np.sign(np.asarray(adv))).all()


def test_identical_sets_score_zero_and_carry_no_signal():
    """All vines in the same rooms: d = 0, f = 0 for every set, no signal, advantage 0; the
    window then keeps GAE (no_signal='gae', the default) or gets the zero ('zero')."""
    returns = jnp.array([1.0, 0.5, 1.0, 0.0])
    same = jnp.full((4,), X, jnp.int32)
    adv, scores, signal = poly.set_advantage(
        returns, same, jnp.asarray(poly.all_sets(4, 2)), poly.distinct
    )
    assert not bool(signal) and np.all(np.asarray(scores) == 0) and np.all(np.asarray(adv) == 0)
    config = poly.Config(num_vines=4, set_size=2, num_sets=2, window=1)
    gae = jnp.arange(3 * 8, dtype=jnp.float32).reshape(3, 8) + 1.0  # [steps, 2 states x 4 vines]
    valid = jnp.ones((3, 8), bool).at[1:, 0].set(False)  # vine 0 ends after its first step
    set_adv = jnp.array([[0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.0, 0.0]])
    signal = jnp.array([True, False])
    out = np.asarray(poly.window_advantages(config, set_adv, signal, gae, valid))
    want = np.asarray(gae).copy()
    for v in range(4):  # state 0 has signal: window steps 0..1 of its vines, where valid
        for t in range(2):
            if bool(valid[t, v]):
                want[t, v] = set_adv[0, v]
    np.testing.assert_array_equal(out, want)  # state 1 (no signal) keeps GAE
    zero = dataclasses.replace(config, no_signal="zero")
    out = np.asarray(poly.window_advantages(zero, set_adv, signal, gae, valid))
    want[:2, 4:] = 0.0
    np.testing.assert_array_equal(out, want)


def test_diversity_functions_by_hand():
    s = jnp.array([1, 1, 2, 3], jnp.int32)
    assert float(poly.distinct(s)) == pytest.approx(2 / 3)  # u = 3: (3 - 1) / (4 - 1)
    assert float(poly.distinct_fraction(s)) == pytest.approx(3 / 4)
    same = jnp.array([5, 5, 5, 5], jnp.int32)
    assert float(poly.distinct(same)) == 0 and float(poly.distinct_fraction(same)) == 0
    two = jnp.array([1, 2], jnp.int32)
    assert float(poly.distinct(two)) == 1 and float(poly.distinct_fraction(two)) == 1
    # the rooms of a trajectory as a bit set; a doorway (-1) and invalid steps add nothing
    rooms = jnp.array([[0], [-1], [1], [3], [2]])
    valid = jnp.array([[True], [True], [True], [True], [False]])
    assert int(poly.visited_set(rooms, valid)[0]) == 0b1011


@pytest.mark.parametrize("num_vines, set_size, num_sets", [(8, 4, 4), (8, 2, 12), (6, 3, 4)])
def test_balanced_sets_use_every_vine_equally_and_never_twice(num_vines, set_size, num_sets):
    sets = np.asarray(poly.balanced_sets(jax.random.PRNGKey(3), num_vines, set_size, num_sets))
    assert sets.shape == (num_sets, set_size)
    assert all(len(set(row)) == set_size for row in sets)
    counts = np.bincount(sets.reshape(-1), minlength=num_vines)
    assert (counts == num_sets * set_size // num_vines).all()
    assert math.comb(8, 4) == len(poly.all_sets(8, 4))
    assert {tuple(r) for r in poly.all_sets(5, 2)} == set(itertools.combinations(range(5), 2))


@jax.jit
def _snapshot_vines(keys):
    """Vines from one snapshot, one per key (jitted: init, reset and vines run eagerly op by op
    otherwise; both calls below pass 8 keys, so it compiles once)."""
    env = envs.make("minigrid/MultiRoute")
    config = poly.Config(num_envs=2, num_steps=8, vine_steps=20)
    state = poly.init(config, env, jax.random.PRNGKey(0))
    policy_fn = ppo.make_policy_fn(config, env, state.params, state.normalizer)
    snap_state, snap_ts = env.reset_to_task(jax.random.PRNGKey(0), 4)
    n = keys.shape[0]
    branch = lambda x: jnp.broadcast_to(x, (n, *x.shape))  # noqa: E731
    return poly.vines(
        env,
        policy_fn,
        jax.tree.map(branch, snap_state),
        branch(snap_ts.obs),
        keys,
        20,
        ("room",),
    )


def test_vines_from_one_snapshot_same_key_identical_distinct_keys_differ():
    same = jnp.stack([jax.random.PRNGKey(5)] * 8)
    traj, valid = _snapshot_vines(same)
    for leaf in jax.tree.leaves((traj, valid)):
        leaf = np.asarray(leaf)
        assert all(np.array_equal(leaf[:, 0], leaf[:, i]) for i in range(1, 8))
    traj, valid = _snapshot_vines(jax.random.split(jax.random.PRNGKey(5), 8))
    actions = np.asarray(traj.action)
    assert len({actions[:, i].tobytes() for i in range(8)}) == 8
    # a vine is valid up to and including its end, and stands still after it
    valid, done = np.asarray(valid), np.asarray(traj.terminated | traj.truncated)
    for i in range(8):
        ends = np.flatnonzero(done[:, i] & valid[:, i])
        if ends.size:
            assert valid[: ends[0] + 1, i].all() and not valid[ends[0] + 1 :, i].any()
            assert np.all(np.asarray(traj.reward)[ends[0] + 1 :, i] == 0)


TINY = poly.Config(
    num_envs=2,
    num_steps=8,
    num_vines=4,
    set_size=2,
    num_sets=2,
    rollout_states=2,
    window=2,
    vine_steps=10,
    num_minibatches=2,
    hidden_sizes=(16,),
    learning_rate=3e-4,
)


def _train(steps_iters: int, key, **kw):
    return jaxrl.train(
        poly,
        TINY,
        envs.make("minigrid/MultiRoute"),
        key if not isinstance(key, int) else jax.random.key(key),
        steps_iters * poly.steps_per_iteration(TINY),
        chunk_steps=poly.steps_per_iteration(TINY),
        eval_every=0,
        progress=False,
        **kw,
    )


def test_vine_steps_are_counted_and_training_is_deterministic():
    """One iteration simulates 2 x (8 trunk + 2 states x 4 vines x 10 vine steps) = 176 env
    steps, all counted; the same key gives the same bits, another key other parameters."""
    assert poly.steps_per_iteration(TINY) == 2 * (8 + 2 * 4 * 10)
    a, b, c = _train(3, 3), _train(3, 3), _train(3, 4)
    assert list(a.history["step"]) == [176, 352, 528]
    assert (a.history["vine_steps_used"] <= 2 * 2 * 4 * 10).all()
    assert_same(a.state, b.state)
    assert differ(a.state.params, c.state.params)


def test_vmap_over_seeds_equals_single_runs():
    key = jax.random.key(7)
    vmapped = _train(2, key, seeds=2)
    for i, k in enumerate(jax.random.split(key, 2)):
        single = _train(2, k)
        one = jax.tree.map(lambda x, i=i: x[i], vmapped.state)
        assert_same(one.params, single.state.params, rtol=2e-5, atol=2e-6)


def test_resume_is_bit_identical(tmp_path):
    whole = _train(4, 1)
    _train(2, 1, checkpoint_dir=str(tmp_path))
    resumed = _train(4, 1, checkpoint_dir=str(tmp_path), resume=True)
    assert resumed.steps_this_call == 2 * poly.steps_per_iteration(TINY)
    assert_same(whole.state, resumed.state)


def bad_diversity(a, b):  # two arguments: the wrong signature
    return a


def vector_diversity(signatures):  # not a scalar
    return signatures.astype(jnp.float32)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"set_size": 9}, "set_size=9"),
        ({"set_size": 1}, "set_size=1"),
        ({"num_sets": 3}, "num_sets=3"),  # 3 x 4 = 12 is not a multiple of N = 8
        ({"set_size": 3}, "set_size=3"),  # 3 does not divide 8
        ({"num_vines": 1, "set_size": 1}, "num_vines=1"),
        ({"diversity": "nope"}, "diversity"),
        ({"diversity": "bad"}, "diversity='bad'.*failed"),
        ({"diversity": "vector"}, "diversity='vector'.*scalar"),
        ({"num_minibatches": 7}, "num_minibatches=7"),
        ({"rollout_states": 60}, "rollout_states=60"),
        ({"kl_coef": -1.0}, "kl_coef"),
        ({"sequence_length": 10}, "sequence_length"),
        ({"set_construction": "all", "num_vines": 20, "set_size": 10}, "4096"),
    ],
)
def test_bad_config_names_the_field(changes, message, monkeypatch):
    monkeypatch.setitem(poly.DIVERSITY, "bad", bad_diversity)
    monkeypatch.setitem(poly.DIVERSITY, "vector", vector_diversity)
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(poly.Config(), **changes).validate()


def test_envs_without_snapshots_or_too_long_vines_are_refused():
    spec_only = envs.make("ogbench/pointmaze-medium-v0")
    with pytest.raises(ValueError, match="no snapshots"):
        poly.check_env(poly.Config(vine_steps=10), spec_only)
    with pytest.raises(ValueError, match="vine_steps=60"):
        poly.init(poly.Config(vine_steps=60), envs.make("minigrid/MultiRoute"), jax.random.key(0))
    with pytest.raises(ValueError, match="signature_key='room'"):
        jaxrl.train(poly, TINY, envs.make("cartpole"), jax.random.key(0), 176, progress=False)


# --- the signature -----------------------------------------------------------------------------

SEEDS = 8
HIDDEN = (64, 64)
BC_STEPS = 100
POLY = poly.Config(learning_rate=3e-4, hidden_sizes=HIDDEN, activation="tanh", num_minibatches=16)
"""16 trunks of 50 steps, N = 8, n = 4, M = 4, p = 2, W = 5, KL 0.05, 16 minibatches."""
PPO = ppo.Config(
    learning_rate=3e-4,
    gamma=1.0,
    num_envs=16,
    num_steps=50,
    num_epochs=2,
    num_minibatches=4,
    normalize_obs=False,
    hidden_sizes=HIDDEN,
    activation="tanh",
)
POLY_ITERATIONS = 10


def _fine_tune_runs(
    env,
    demos: int,
    bc_steps: int,
    config: poly.Config,
    baseline: ppo.Config,
    iterations: int,
    score_envs: list,
    attempts: int,
    key: int,
    with_ppo: bool = True,
    pretrained_envs: int | None = None,
):
    """For each of 8 seeds (from ``key``): BC on ``demos`` expert episodes (random among tied
    routes) for ``bc_steps`` steps, then Polychromic PPO (``config``) for ``iterations``
    iterations and PPO (``baseline``) for the same env steps, both from that policy. Each is
    scored by :func:`polychromic_ppo.task_signatures` on every env of ``score_envs``
    (``attempts`` episodes per configuration; the pretrained policy on the first
    ``pretrained_envs`` of them, all with None). Returns, per agent (Polychromic PPO, then PPO
    and the pretrained policy with ``with_ppo``), one dict per score env of ``[seeds,
    configurations, attempts]`` arrays. (Scoring runs every episode to the time limit, as costly
    as the fine-tuning: the tests score only what they assert on. Each score env has its own
    key, so leaving one out changes no other score.)"""
    dataset = minigrid.expert_dataset(env, jax.random.PRNGKey(0), demos)
    bc_config = bc.Config(
        hidden_sizes=config.hidden_sizes,
        activation=config.activation,
        normalize_obs=False,
        learning_rate=1e-3,
    )
    data = bc.prepare_data(bc_config, env, dataset)
    ratio = poly.steps_per_iteration(config) // ppo.steps_per_iteration(baseline)

    def pretrain(key):
        state = bc.init(bc_config, env, key, data)
        body = lambda i, s: bc.train_step(bc_config, env, s, data)[0]  # noqa: E731
        return jax.lax.fori_loop(0, bc_steps, body, state).params["policy"]

    def start(agent, cfg, key, policy):
        state = agent.init(cfg, env, key)
        return state.replace(params={**state.params, "policy": policy})

    def finetune(agent, cfg, iterations, key, policy):
        body = lambda i, s: agent.train_step(cfg, env, s)[0]  # noqa: E731
        return jax.lax.fori_loop(0, iterations, body, start(agent, cfg, key, policy))

    def score(state, key, count=None):
        # every state holds a policy of config's network, so Polychromic PPO's act scores it
        return [
            poly.task_signatures(config, e, state, jax.random.fold_in(key, i), attempts)
            for i, e in enumerate(score_envs[:count])
        ]

    def run(key):
        k_bc, k_poly, k_ppo, k_eval = jax.random.split(key, 4)
        policy = pretrain(k_bc)
        out = [score(finetune(poly, config, iterations, k_poly, policy), k_eval)]
        if with_ppo:
            out.append(score(finetune(ppo, baseline, iterations * ratio, k_ppo, policy), k_eval))
            if pretrained_envs != 0:
                pretrained = start(poly, config, k_poly, policy)
                out.append(score(pretrained, k_eval, pretrained_envs))
        return out

    keys = jax.random.split(jax.random.PRNGKey(key), SEEDS)
    # one seed after another (lax.map, not vmap): a batched orthogonal initialisation (QR)
    # can deadlock XLA:CPU (tests/test_no_hang.py)
    return jax.tree.map(np.asarray, jax.jit(lambda ks: jax.lax.map(run, ks))(keys))


def _signature_runs(
    config: poly.Config, key: int = 42, with_ppo: bool = True, with_blocked: bool = True
):
    """The multi-route comparison: 200 demonstrations, 100 BC steps, 10 Polychromic PPO
    iterations (PPO: 17 iterations for each), scored on the open grid and (``with_blocked``) on
    each blocked grid, 32 attempts per configuration. Returns ``[(success, signature, blocked
    success)]`` per agent (Polychromic PPO, then PPO), each ``[seeds, configurations,
    attempts]`` (blocked success None without ``with_blocked``; the open grid's scores are the
    same either way: each score env has its own key)."""
    env = envs.make("minigrid/MultiRoute")
    blocked = [envs.make("minigrid/MultiRoute", blocked=b) for b in ("top-right", "bottom-left")]
    score_envs = [env, *blocked] if with_blocked else [env]
    runs = _fine_tune_runs(
        env, 200, BC_STEPS, config, PPO, POLY_ITERATIONS, score_envs, 32, key, with_ppo, 0
    )
    return [
        (
            o["success"],
            o["signature"],
            np.concatenate([b["success"] for b in blocked_out], 1) if with_blocked else None,
        )
        for o, *blocked_out in runs
    ]


def _route_stats(success, signature):
    """Per seed: the mean number of the two routes used by at least one success per
    configuration, and the mean share of its most used room set among successes."""
    routes = set(minigrid.MultiRoute.ROUTE_ROOMS.values())
    bits = [sum(1 << r for r in rooms) for rooms in routes]
    used = np.stack([((signature == b) & success).any(axis=-1) for b in bits]).sum(0)
    share = []
    for seed in range(success.shape[0]):
        per_config = []
        for c in range(success.shape[1]):
            _, counts = np.unique(signature[seed, c][success[seed, c]], return_counts=True)
            per_config.append(counts.max() / counts.sum() if counts.size else 1.0)
        share.append(np.mean(per_config))
    return used.mean(axis=1), np.array(share)


@pytest.fixture(scope="module")
def signature_runs():
    return _signature_runs(POLY)


def test_signature_ppo_keeps_one_route_polychromic_ppo_keeps_both(signature_runs):
    """MultiRoute, 8 seeds, the same pretrained start and env-step budget (136,000 steps).

    Calibration (``python tests/calibrate.py polychromic --keys 42 0``: the test's seeds, key
    42, and 8 others): Polychromic PPO uses 2.00 of the two routes per configuration on every
    seed (successes by both routes from all 18 starts), its most used room set holding
    0.57-0.76 of its successes (means 0.62, 0.62); PPO uses 1.00-1.22 routes (means 1.09,
    1.04), its most used set holding 0.993-1.000 (means 0.997, 0.999). Success on the open grid
    is 0.990-1.000 for both. Thresholds, on the 8-seed means, sit between the two groups:
    Polychromic PPO >= 1.8 routes and share <= 0.8; PPO <= 1.4 routes and share >= 0.9.
    """
    (p_success, p_signature, _), (q_success, q_signature, _) = signature_runs
    p_routes, p_share = _route_stats(p_success, p_signature)
    q_routes, q_share = _route_stats(q_success, q_signature)
    figures = (
        f"poly routes {p_routes.round(2)} share {p_share.round(2)}; "
        f"ppo routes {q_routes.round(2)} share {q_share.round(2)}"
    )
    assert p_success.mean() > 0.9 and q_success.mean() > 0.9, figures
    assert p_routes.mean() >= 1.8 and p_share.mean() <= 0.8, figures
    assert q_routes.mean() <= 1.4 and q_share.mean() >= 0.9, figures


def test_signature_pass_at_k_with_a_route_blocked(signature_runs):
    """With one route's door closed (36 configurations: 18 starts x 2 blocked doors, 32
    attempts each), Polychromic PPO's pass@k is far above PPO's for k >= 4: PPO kept one route
    and fails wherever it is blocked.

    Calibration (keys 42 and 0, 8 seeds each): pass@4 Polychromic PPO 0.996-1.000 (means 0.999,
    0.999), PPO 0.50-0.89 (means 0.58, 0.52); pass@16 1.000 against means 0.65, 0.57. Asserted:
    Polychromic PPO's mean pass@k >= 0.95 and at least 0.2 above PPO's for k = 4, 8, 16, and
    no seed's pass@4 below PPO's same seed.
    """
    (_, _, p_blocked), (_, _, q_blocked) = signature_runs
    for k in (4, 8, 16):
        p = np.array([passk.pass_at_k(s, k) for s in p_blocked])
        q = np.array([passk.pass_at_k(s, k) for s in q_blocked])
        figures = f"k={k}: poly {p.round(3)} ppo {q.round(3)}"
        assert p.mean() >= 0.95 and p.mean() - q.mean() >= 0.2, figures
        if k == 4:
            assert (p >= q).all(), figures


def test_signature_needs_the_diversity_term(monkeypatch):
    """The deliberately broken variant: d = 1 for every set (f is the set's mean return, no
    diversity), everything else equal. It drifts towards one route as PPO does.

    Calibration (keys 42 and 0): its most used room set holds 0.76-0.96 of its successes
    (means 0.89, 0.92) against 0.57-0.76 (means 0.62, 0.62) with the diversity term; its routes
    per configuration 1.61-2.00. Asserted: its mean share >= 0.8 (the working agent's mean
    share is asserted <= 0.8 above).
    """
    monkeypatch.setitem(poly.DIVERSITY, "constant", lambda s: jnp.float32(1.0))
    broken = dataclasses.replace(POLY, diversity="constant")
    # scored on the open grid only: the blocked grids' success is not asserted here
    ((success, signature, _),) = _signature_runs(broken, with_ppo=False, with_blocked=False)
    _, share = _route_stats(success, signature)
    assert share.mean() >= 0.8, f"share {share.round(2)}"


# --- Four Rooms at CPU scale -------------------------------------------------------------------

FOUR_ROOMS_POLY = poly.Config(
    learning_rate=3e-4,
    hidden_sizes=HIDDEN,
    activation="tanh",
    num_envs=8,
    num_steps=100,
    vine_steps=100,
    num_vines=4,
    set_size=2,
    num_sets=4,
    num_minibatches=8,
)
"""8 trunks of 100 steps, N = 4 vines, 4 sets of 2, p = 2, W = 5: 7,200 env steps per
iteration."""
FOUR_ROOMS_PPO = dataclasses.replace(PPO, num_envs=8, num_steps=100)
FOUR_ROOMS_ITERATIONS = 8


def _four_rooms_runs(key: int = 42, pretrained_perturbed: bool = True):
    """Four Rooms, 50 fixed configurations: 600 demonstrations, 600 BC steps, 8 Polychromic
    PPO iterations (57,600 env steps; PPO: 72 iterations), scored with 8 attempts per
    configuration from the configurations' starts and from the perturbed starts (another
    room; the pretrained policy only with ``pretrained_perturbed``). Returns ``{agent:
    (success, perturbed success)}``, each ``[seeds, 50, 8]`` (the pretrained policy's perturbed
    success None without ``pretrained_perturbed``)."""
    env = envs.make("minigrid/FourRooms")
    perturbed = envs.make("minigrid/FourRooms", perturb=True)
    runs = _fine_tune_runs(
        env,
        600,
        600,
        FOUR_ROOMS_POLY,
        FOUR_ROOMS_PPO,
        FOUR_ROOMS_ITERATIONS,
        [env, perturbed],
        8,
        key,
        pretrained_envs=None if pretrained_perturbed else 1,
    )
    names = ("poly", "ppo", "pretrained")
    return {
        n: (o["success"], p[0]["success"] if p else None)
        for n, (o, *p) in zip(names, runs, strict=True)
    }


@pytest.fixture(scope="module")
def four_rooms_runs():
    # the tests assert on the pretrained policy's success from the configurations' starts only
    return _four_rooms_runs(pretrained_perturbed=False)


def test_four_rooms_polychromic_ppo_keeps_the_pretrained_success(four_rooms_runs):
    """Four Rooms at CPU scale (module docstring of ``_four_rooms_runs``; 8 seeds, the same
    pretrained policy per seed for both methods).

    Calibration (``python tests/calibrate.py polychromic_four_rooms --keys 42 0``, 16 seeds):
    success on the 50 configurations, pretrained 0.638-0.733 (means 0.673, 0.678);
    Polychromic PPO 0.650-0.738 (means 0.690, 0.694; per-seed change -0.045 to +0.068, means
    +0.018, +0.016); PPO 0.348-0.665 (means 0.489, 0.532; change -0.305 to +0.013, means -0.18,
    -0.15). At this budget (57,600 env steps, 8
    iterations) Polychromic PPO holds the pretrained success, with a small gain on most seeds,
    and PPO loses a quarter of it: the paper's "both beat the pretrained policy" (Table 1:
    70.4 -> 89.2 and 92.4 %) does not hold for PPO here (also not with 16 trunks and 217,600
    env steps: Polychromic PPO +0.035, PPO -0.16; nor at learning rate 1e-4 for 115,200 steps:
    +0.022, -0.23). Asserted what holds on every calibration: Polychromic
    PPO's mean success within 0.03 of the pretrained policy's or above it, and above PPO's.
    """
    poly_success = four_rooms_runs["poly"][0].mean(axis=(1, 2))
    ppo_success = four_rooms_runs["ppo"][0].mean(axis=(1, 2))
    pretrained = four_rooms_runs["pretrained"][0].mean(axis=(1, 2))
    figures = f"poly {poly_success.round(3)} ppo {ppo_success.round(3)} pre {pretrained.round(3)}"
    assert poly_success.mean() >= pretrained.mean() - 0.03, figures
    assert poly_success.mean() > ppo_success.mean(), figures


def test_four_rooms_perturbed_start_polychromic_ppo_above_ppo(four_rooms_runs):
    """With the agent started in another room (the paper's perturbation; there 88.7 % against
    PPO's 15.3 %), Polychromic PPO's success is above PPO's.

    Calibration (keys 42 and 0, 16 seeds): perturbed success Polychromic PPO 0.568-0.658
    (means 0.618, 0.613), PPO 0.388-0.673 (means 0.484, 0.472), pretrained 0.555-0.638 (means
    0.598, 0.590); Polychromic minus PPO per seed -0.025 to +0.233 (14 of 16 positive), means
    +0.133, +0.142. Asserted: the mean difference >= 0.05.
    """
    poly_perturbed = four_rooms_runs["poly"][1].mean(axis=(1, 2))
    ppo_perturbed = four_rooms_runs["ppo"][1].mean(axis=(1, 2))
    gap = poly_perturbed - ppo_perturbed
    assert gap.mean() >= 0.05, f"poly {poly_perturbed.round(3)} ppo {ppo_perturbed.round(3)}"


def test_a_registered_signature_key_is_accepted_and_checked_against_the_env(monkeypatch):
    monkeypatch.setattr(poly, "SIGNATURE_KEYS", [*poly.SIGNATURE_KEYS, "config", "nowhere"])
    env = envs.make("minigrid/MultiRoute")
    poly.check_env(dataclasses.replace(TINY, signature_key="config"), env)  # info has it
    with pytest.raises(ValueError, match="signature_key='nowhere'"):
        poly.check_env(dataclasses.replace(TINY, signature_key="nowhere"), env)
    with pytest.raises(ValueError, match="Config.signature_key must be one of"):
        dataclasses.replace(TINY, signature_key="unregistered").validate()
