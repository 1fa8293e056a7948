import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.normalize import RewardNormalizer, RunningStats


def test_batched_welford_equals_statistics_of_all_samples():
    rng = np.random.default_rng(1)
    batches = [rng.normal(3.0, 2.0, size=(n, 5)) for n in (1, 17, 256, 3)]
    stats = RunningStats.create((5,))
    for b in batches:
        stats = stats.update(jnp.asarray(b, jnp.float32))
    everything = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, everything.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.var, everything.var(0), rtol=1e-4)
    assert float(stats.count) == len(everything)


def test_normalize_clips_and_standardises():
    stats = RunningStats(mean=jnp.array([1.0]), var=jnp.array([4.0]), count=jnp.array(10.0))
    np.testing.assert_allclose(stats.normalize(jnp.array([3.0])), [1.0], rtol=1e-6)
    np.testing.assert_allclose(stats.normalize(jnp.array([1e6]), clip=5.0), [5.0])


def test_leading_axes_are_samples():
    stats = RunningStats.create((2,)).update(jnp.arange(12.0).reshape(3, 2, 2))
    np.testing.assert_allclose(stats.mean, np.arange(12.0).reshape(6, 2).mean(0))


# --- the reward normaliser (Gymnasium's NormalizeReward per env) ------------------------------


class GymnasiumNormalizeReward:
    """Numpy reference of one env wrapped in Gymnasium's single-env ``NormalizeReward`` (then
    PROPS's clip): per step, the running return takes the reward (the step's own termination
    dropping what came before), ``RunningMeanStd`` (float64, starting at count 1e-4, mean 0,
    var 1) merges that one return, and the reward is divided by sqrt(var + 1e-8), then clipped.
    Written from Gymnasium's ``stateful_reward.py``/``utils.py`` as a plain loop."""

    def __init__(self, gamma: float, clip: float = 10.0):
        self.gamma, self.clip = gamma, clip
        self.ret, self.mean, self.var, self.count = 0.0, 0.0, 1.0, 1e-4

    def step(self, reward: float, terminated: bool) -> float:
        self.ret = self.ret * self.gamma * (1.0 - float(terminated)) + reward
        batch = np.array([self.ret])
        b_mean, b_var, b_count = batch.mean(), batch.var(), 1
        delta, total = b_mean - self.mean, self.count + b_count
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.mean, self.var, self.count = self.mean + delta * b_count / total, m2 / total, total
        return float(np.clip(reward / np.sqrt(self.var + 1e-8), -self.clip, self.clip))


def test_reward_normalizer_matches_gymnasium_with_episode_ends():
    """Two consecutive rollouts (state carried) of 3 envs with terminations: every normalised
    reward, each env's statistics and running return match the numpy reference."""
    rng = np.random.default_rng(0)
    T, E, gamma = 60, 3, 0.95
    rewards = rng.normal(1.0, 3.0, size=(T, E))
    terminated = rng.random((T, E)) < 0.08
    assert terminated.any()
    refs = [GymnasiumNormalizeReward(gamma) for _ in range(E)]
    expected = np.array(
        [[refs[e].step(rewards[t, e], terminated[t, e]) for e in range(E)] for t in range(T)]
    )
    norm = RewardNormalizer.create(E)
    outs = []
    for half in (slice(0, 25), slice(25, T)):  # two rollouts: the state carries over
        norm, out, scale = norm.normalize_rollout(
            jnp.asarray(rewards[half], jnp.float32), jnp.asarray(terminated[half]), gamma, 10.0
        )
        outs.append(out)
    np.testing.assert_allclose(np.concatenate(outs), expected, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(norm.returns, [r.ret for r in refs], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norm.stats.mean, [r.mean for r in refs], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.stats.var, [r.var for r in refs], rtol=1e-4)
    np.testing.assert_allclose(float(norm.stats.count), T + 1e-4, rtol=1e-7)
    # the returned scale is the divisor of each step: unclipped rewards are r / scale
    unclipped = np.abs(np.asarray(outs[1])) < 10
    np.testing.assert_allclose(
        np.asarray(outs[1])[unclipped], (rewards[25:] / np.asarray(scale))[unclipped], rtol=1e-6
    )


def test_reward_normalizer_order_of_reset_and_first_step_by_hand():
    """gamma 0.5, rewards 1, 2, 3 with a termination at the second step: the return at the
    terminal step is its reward alone (2, not 0.5 + 2), and the next episode continues from it
    (0.5 * 2 + 3 = 4). The first step, by hand: count 1.0001, var = (1e-4 + 1e-4 / 1.0001)
    / 1.0001 for R = 1, so the reward is divided by about 0.0141 and clipped to 10."""
    norm = RewardNormalizer.create(1)
    returns = []
    for r, term in ((1.0, False), (2.0, True), (3.0, False)):
        norm, _ = norm.step(jnp.array([r]), jnp.array([term]), 0.5)
        returns.append(float(norm.returns[0]))
    assert returns == [1.0, 2.0, 4.0]
    first, out, scale = RewardNormalizer.create(1).normalize_rollout(
        jnp.array([[1.0]]), jnp.array([[False]]), 0.5, 10.0
    )
    var = (1e-4 + 1e-4 / 1.0001) / 1.0001
    np.testing.assert_allclose(first.stats.var, [var], rtol=1e-5)
    np.testing.assert_allclose(scale, [[np.sqrt(var + 1e-8)]], rtol=1e-5)
    np.testing.assert_allclose(out, [[10.0]])
    _, unclipped, _ = RewardNormalizer.create(1).normalize_rollout(
        jnp.array([[1.0]]), jnp.array([[False]]), 0.5, jnp.inf
    )
    np.testing.assert_allclose(unclipped, [[1.0 / np.sqrt(var + 1e-8)]], rtol=1e-5)


def test_reward_normalizer_is_a_pytree_that_vmaps():
    rng = np.random.default_rng(1)
    rewards = jnp.asarray(rng.normal(size=(2, 10, 4)), jnp.float32)
    terminated = jnp.asarray(rng.random((2, 10, 4)) < 0.2)
    fn = lambda r, d: RewardNormalizer.create(4).normalize_rollout(r, d, 0.99, 10.0)  # noqa: E731
    batched = jax.jit(jax.vmap(fn))(rewards, terminated)
    for i in range(2):
        single = fn(rewards[i], terminated[i])
        for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(batched), strict=True):
            np.testing.assert_allclose(b[i], a, rtol=1e-6)
