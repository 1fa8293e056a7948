"""``jaxrl.buffers.RingBuffer`` against a pure-Python ``collections.deque(maxlen=capacity)``."""

from __future__ import annotations

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.buffers import RingBuffer


def _item(rows: np.ndarray) -> dict:
    """A two-leaf pytree of rows numbered ``rows``: a float vector and an int flag per row."""
    rows = np.asarray(rows)
    return {
        "x": jnp.asarray(np.stack([rows, -rows], -1), jnp.float32),
        "flag": jnp.asarray(rows % 3, jnp.int32),
    }


_chronological = jax.jit(RingBuffer.chronological)
_oldest = jax.jit(jax.vmap(RingBuffer.oldest, in_axes=(None, 0)))


def _check_against(buffer: RingBuffer, reference: deque) -> None:
    data, valid = _chronological(buffer)
    valid = np.asarray(valid)
    n = len(reference)
    assert int(buffer.count) == n
    np.testing.assert_array_equal(valid, np.arange(buffer.capacity) >= buffer.capacity - n)
    expected = _item(np.array(list(reference), dtype=np.int64).reshape(n))
    for name in ("x", "flag"):
        np.testing.assert_array_equal(np.asarray(data[name])[valid], expected[name])
        assert data[name].dtype == expected[name].dtype
    np.testing.assert_array_equal(np.asarray(buffer.valid()), valid)


@pytest.mark.parametrize("capacity", [1, 5, 8])
def test_random_adds_match_a_deque(capacity):
    """Batches of random sizes (1 .. capacity + 3: wrap-around writes, exactly-full and
    larger-than-capacity batches) leave the same rows, in the same order, as a deque."""
    rng = np.random.default_rng(capacity)
    buffer = RingBuffer.create(jax.tree.map(lambda x: x[0], _item(np.zeros(1))), capacity)
    add = jax.jit(RingBuffer.add)
    reference: deque = deque(maxlen=capacity)
    _check_against(buffer, reference)
    next_row = 1
    for _ in range(10):
        t = int(rng.choice([1, capacity - 1, capacity, capacity + 3]))
        rows = np.arange(next_row, next_row + t)
        next_row += t
        buffer = add(buffer, _item(rows))
        reference.extend(rows.tolist())
        _check_against(buffer, reference)
        ks = (-1, 0, 1, capacity // 2, capacity, capacity + 2)
        masks = np.asarray(_oldest(buffer, jnp.asarray(ks)))
        data, _ = _chronological(buffer)
        for k, mask in zip(ks, masks, strict=True):
            oldest = list(reference)[: max(0, min(k, len(reference)))]
            np.testing.assert_array_equal(np.asarray(data["x"][:, 0])[mask], oldest)


def test_oldest_rows_are_those_the_next_add_overwrites():
    capacity, t = 6, 2
    buffer = RingBuffer.create({"x": jnp.zeros(())}, capacity)
    reference: deque = deque(maxlen=capacity)
    for step in range(5):
        rows = np.arange(step * t, (step + 1) * t, dtype=np.float32)
        evicted = np.asarray(buffer.oldest(buffer.count + t - buffer.capacity))
        data, _ = buffer.chronological()
        before = list(reference)
        reference.extend(rows.tolist())
        survivors = set(reference)
        np.testing.assert_array_equal(
            np.asarray(data["x"])[evicted], [r for r in before if r not in survivors]
        )
        buffer = buffer.add({"x": jnp.asarray(rows)})
    assert int(buffer.pos) == (5 * t) % capacity


def test_create_from_shapes_casts_on_add_and_rejects_bad_capacity():
    example = {
        "obs": jax.ShapeDtypeStruct((2, 3), jnp.float32),
        "a": jax.ShapeDtypeStruct((2,), jnp.int32),
    }
    buffer = RingBuffer.create(example, 4)
    assert buffer.data["obs"].shape == (4, 2, 3) and buffer.capacity == 4
    buffer = buffer.add({"obs": jnp.ones((3, 2, 3), jnp.float16), "a": jnp.ones((3, 2), bool)})
    assert buffer.data["obs"].dtype == jnp.float32 and buffer.data["a"].dtype == example["a"].dtype
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer.create(example, 0)
    with pytest.raises(ValueError, match="leaf"):
        RingBuffer.create({}, 3)


def test_vmap_over_buffers_equals_separate_buffers():
    """One buffer per seed under ``jax.vmap`` (different fill levels) matches each one alone."""
    example = {"x": jnp.zeros((2,))}
    empty = RingBuffer.create(example, 5)
    singles = [empty.add({"x": jnp.full((t, 2), float(t))}) for t in (1, 3, 4)]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *singles)
    batch = {"x": jnp.arange(3 * 3 * 2, dtype=jnp.float32).reshape(3, 3, 2)}
    out = jax.jit(jax.vmap(RingBuffer.add))(stacked, batch)
    data, valid = jax.vmap(RingBuffer.chronological)(out)
    for i, single in enumerate(singles):
        single = single.add({"x": batch["x"][i]})
        d, v = single.chronological()
        np.testing.assert_array_equal(data["x"][i], d["x"])
        np.testing.assert_array_equal(valid[i], v)
        np.testing.assert_array_equal(out.pos[i], single.pos)
