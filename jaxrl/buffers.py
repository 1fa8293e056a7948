"""A fixed-capacity FIFO ring buffer as a pytree (jittable, vmappable, checkpointable).

The buffer holds up to ``capacity`` *rows* of an arbitrary pytree ``item`` (a ``Transition`` of
``num_envs`` environments, a dict of arrays, ...), stored as one array ``[capacity, *leaf.shape]``
per leaf. Adding a ``[T, ...]`` batch writes its rows after the newest ones and, once the buffer
is full, overwrites the oldest. Everything is fixed-shape, so the buffer lives inside
``jax.jit``/``lax.scan`` and ``jax.vmap`` (one buffer per seed) like any other state; a partly
filled buffer is read with a validity mask instead of a shorter array::

    buffer = RingBuffer.create(example_item, capacity=256)
    buffer = buffer.add(batch)                  # leaves [T, *item shape]
    data, valid = buffer.chronological()        # oldest row first; valid: [capacity] bool
    evicted = buffer.oldest(buffer.count + T - buffer.capacity)  # what the next add of T drops

Row order is *chronological* in every reader: the unfilled slots come first (``valid`` False),
then the rows from oldest to newest, so backward recursions over time (GAE) never carry from
an empty slot into a valid row.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


class RingBuffer(struct.PyTreeNode):
    """FIFO ring buffer of the last ``capacity`` rows of a pytree (see the module docstring)."""

    data: Any
    """The storage: the item pytree with a leading ``[capacity]`` axis on every leaf, in slot
    order (not chronological: read it with :meth:`chronological`)."""
    pos: jax.Array
    """Slot the next row is written to (int32 scalar)."""
    count: jax.Array
    """Rows filled so far, at most ``capacity`` (int32 scalar)."""

    @classmethod
    def create(cls, example: Any, capacity: int) -> RingBuffer:
        """An empty buffer for ``capacity`` rows shaped like ``example`` (a pytree of arrays or
        ``jax.ShapeDtypeStruct``s: one row, without the leading axis; only shapes and dtypes are
        used). ``capacity`` is static."""
        if capacity < 1:
            raise ValueError(f"RingBuffer capacity must be >= 1, got {capacity}")
        if not jax.tree.leaves(example):
            raise ValueError("RingBuffer needs an example item with at least one array leaf")
        data = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape), x.dtype), example)
        return cls(data=data, pos=jnp.zeros((), jnp.int32), count=jnp.zeros((), jnp.int32))

    @property
    def capacity(self) -> int:
        """Rows the buffer holds when full (static: the storage's leading axis)."""
        return jax.tree.leaves(self.data)[0].shape[0]

    def add(self, batch: Any) -> RingBuffer:
        """Append the rows of ``batch`` (the item pytree with a leading ``[T]`` axis, ``T``
        static), oldest first; once full, each new row overwrites the oldest one. Values are
        cast to the storage dtypes. With ``T > capacity`` only the last ``capacity`` rows stay.
        """
        size = self.capacity
        steps = jax.tree.leaves(batch)[0].shape[0]
        keep = min(steps, size)
        # slots of the kept rows; unique, and contiguous unless the write wraps around the end
        slots = (self.pos + (steps - keep) + jnp.arange(keep)) % size

        def write(old: jax.Array, new: jax.Array) -> jax.Array:
            new = new[steps - keep :].astype(old.dtype)
            return old.at[slots].set(new, unique_indices=True)

        return self.replace(
            data=jax.tree.map(write, self.data, batch),
            pos=(self.pos + steps) % size,
            count=jnp.minimum(self.count + steps, size),
        )

    def chronological(self) -> tuple[Any, jax.Array]:
        """The storage reordered oldest to newest along the leading axis, and the validity mask
        ``[capacity]`` of that order: the ``capacity - count`` unfilled slots come first."""
        size = self.capacity
        order = (self.pos + jnp.arange(size)) % size
        data = jax.tree.map(lambda x: x[order], self.data)
        return data, self.valid()

    def valid(self) -> jax.Array:
        """Validity mask ``[capacity]`` in chronological order (False for unfilled slots)."""
        return jnp.arange(self.capacity) >= self.capacity - self.count

    def oldest(self, k: int | jax.Array) -> jax.Array:
        """Mask ``[capacity]``, in chronological order, of the oldest ``k`` filled rows (all
        filled rows if ``k >= count``, none if ``k <= 0``; ``k`` may be traced). The rows the
        next :meth:`add` of ``T`` rows overwrites are ``oldest(count + T - capacity)``."""
        t = jnp.arange(self.capacity)
        first = self.capacity - self.count
        return (t >= first) & (t < first + jnp.minimum(k, self.count))
