"""Spreading a run over devices with ``jax.sharding`` (data parallelism, and parallel runs), on
one host or on several through JAX's multi-controller runtime (``jax.distributed``).

Two layouts, chosen by :func:`jaxrl.train` from the run's shape:

- **independent runs** (seeds / sweep settings): the leading run axis of every state leaf is split
  across devices; each device trains its own runs and no communication happens.
- **data parallelism** (a single run): every array whose leading axis is the environment batch
  (the env states and their observations) is split across devices, parameters and optimiser
  state are replicated. XLA's SPMD partitioner then runs each device's environments locally,
  splits the minibatches, and all-reduces the gradients (the loss is a mean over a sharded batch),
  so the result equals the single-device run up to float summation order.

**Several processes** (one per host, or several on one machine): every process calls
:func:`initialize` (``jax.distributed.initialize`` with XLA's CPU collectives set to gloo, so
that CPU-only processes can communicate too) before anything else touches JAX, then runs the same
script; ``python -m jaxrl.launch`` does both (:mod:`jaxrl.launch`). ``jax.devices()`` then lists
the devices of all processes and the mesh of :func:`make_mesh` spans them, so the same two layouts
apply, with these host-side rules (:func:`jaxrl.train` and :mod:`jaxrl.runs` follow them):

- every process builds the same initial state, config and keys; :func:`to_global` turns such
  host-identical values into global arrays (each process fills only its own devices' shards);
- whatever the host reads (metrics, the NaN/Inf flag, evaluations) is computed *replicated* on
  device (every process holds the whole value), so every process takes the same decisions;
  :func:`gather` fetches a sharded result (e.g. the final state of independent runs) to every
  host (``multihost_utils.process_allgather``);
- orbax saves and restores with every process taking part (each writes its own shards, process
  0 the metadata); only process 0 (:func:`is_primary`) writes logs and run files and shows the
  progress bar;
- ``devices=None`` means every device of every process, and a device selection must include
  devices of every process (a process without devices in the mesh could not take part).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"

CPU_COLLECTIVES = "gloo"
"""XLA's CPU collectives used by :func:`initialize` (what JAX documents for multi-process CPU)."""


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``"data"`` over ``devices`` (default: all devices, every host)."""
    return Mesh(np.asarray(list(devices or jax.devices())), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def _split_leading(mesh: Mesh, size: int):
    def sharding(x: Any) -> NamedSharding:
        if np.ndim(x) >= 1 and np.shape(x)[0] == size:
            return NamedSharding(mesh, PartitionSpec(AXIS))
        return replicated(mesh)

    return sharding


def run_axis_shardings(state: Any, mesh: Mesh, num_runs: int) -> Any:
    """Shardings that split the leading run axis (seeds or settings) of every leaf."""
    n = mesh.devices.size
    if num_runs % n:
        raise ValueError(
            f"{num_runs} parallel runs cannot be split evenly over {n} devices; use a multiple "
            f"of {n} seeds x settings, or devices=1"
        )
    return jax.tree.map(_split_leading(mesh, num_runs), state)


def env_axis_shardings(state: Any, mesh: Mesh, num_envs: int) -> Any:
    """Shardings for data parallelism: leaves of ``state.env_state`` with a leading
    ``num_envs`` axis are split, everything else is replicated."""
    n = mesh.devices.size
    if num_envs % n:
        raise ValueError(
            f"num_envs={num_envs} cannot be split evenly over {n} devices; use a multiple of {n}"
        )
    shardings = jax.tree.map(lambda _: replicated(mesh), state)
    if hasattr(state, "env_state"):
        env_shardings = jax.tree.map(_split_leading(mesh, num_envs), state.env_state)
        shardings = shardings.replace(env_state=env_shardings)
    return shardings


# --- several processes (jax.distributed) -----------------------------------------------------


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    cpu_collectives: str | None = CPU_COLLECTIVES,
    **kwargs: Any,
) -> None:
    """Join a multi-process run: ``jax.distributed.initialize`` (same arguments; without them
    JAX reads its cluster's environment: Slurm, Open MPI, Kubernetes ..., or
    ``JAX_COORDINATOR_ADDRESS`` / ``JAX_NUM_PROCESSES`` / ``JAX_PROCESS_ID``), after setting
    ``jax_cpu_collectives_implementation`` to ``cpu_collectives`` (gloo: XLA:CPU's collectives
    between processes; it changes nothing on GPU/TPU; ``None`` leaves the setting alone, as does
    a ``JAX_CPU_COLLECTIVES_IMPLEMENTATION`` environment variable). Call it in every process
    before any other JAX call.

    Raises:
        ValueError: ``num_processes`` < 1 or ``process_id`` outside ``[0, num_processes)``.
        RuntimeError: JAX's backend already started in this process (JAX's own error).
    """
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"num_processes={num_processes}: expected an int >= 1")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(
            f"process_id={process_id}: expected 0 <= process_id < num_processes={num_processes}"
        )
    if cpu_collectives and not os.environ.get("JAX_CPU_COLLECTIVES_IMPLEMENTATION"):
        jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        **kwargs,
    )


def collectives_on_loopback() -> None:
    """Make XLA:CPU's gloo collectives listen on ``127.0.0.1`` (their default is the address
    the host name resolves to): for runs whose processes all live on this machine (what
    ``python -m jaxrl.launch --num-processes N`` starts). Call it before :func:`initialize`.
    It wraps jaxlib's gloo factory (``jax._src.lib._jax.make_gloo_tcp_collectives``, a private
    name); where that name is missing it changes nothing."""
    try:
        from jax._src.lib import _jax
    except ImportError:  # pragma: no cover - another jaxlib layout
        return
    make = getattr(_jax, "make_gloo_tcp_collectives", None)
    if make is None or getattr(make, "_jaxrl_loopback", False):
        return

    def loopback(distributed_client: Any, hostname: str | None = None, interface: Any = None):
        return make(
            distributed_client=distributed_client,
            hostname=hostname or "127.0.0.1",
            interface=interface,
        )

    loopback._jaxrl_loopback = True  # type: ignore[attr-defined]
    _jax.make_gloo_tcp_collectives = loopback


def multi_process() -> bool:
    """Whether this is one process of several (``jax.distributed`` initialised with N > 1).
    Outside ``jax.distributed`` it answers without starting JAX's backend."""
    return jax.distributed.is_initialized() and jax.process_count() > 1


def is_primary() -> bool:
    """Whether this process writes logs and run files and shows progress (process 0; always true
    in a single-process run, answered without starting JAX's backend)."""
    return not jax.distributed.is_initialized() or jax.process_index() == 0


def check_spans_processes(devices: Sequence[jax.Device]) -> None:
    """In a multi-process run, refuse a device selection that leaves a process out: every
    process runs the same compiled program and must own part of its mesh.

    Raises:
        ValueError: naming the processes without a device in ``devices``.
    """
    if not multi_process():
        return
    count = jax.process_count()
    missing = sorted(set(range(count)) - {d.process_index for d in devices})
    if missing:
        raise ValueError(
            f"devices={len(devices)} leaves out process(es) {missing} of this {count}-process run "
            f"(jax.distributed): every process must take part; pass devices=None (all "
            f"{jax.device_count()} devices of every process) or a selection that includes "
            "devices of every process"
        )


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _global_leaf(x: Any, sharding: jax.sharding.Sharding) -> Any:
    if x is None:
        return None
    if _is_key(x):
        data = _global_leaf(jax.random.key_data(x), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return x if x.sharding == sharding else jax.device_put(x, sharding)
    value = np.asarray(x)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


def to_global(tree: Any, shardings: Any) -> Any:
    """Host-identical values (the same on every process: numpy arrays, fully addressable
    ``jax.Array`` s, typed PRNG keys) as global arrays with ``shardings`` (one sharding, or a
    tree of them matching ``tree``); each process fills only the shards of its own devices.
    Leaves that already are global arrays are resharded only when their sharding differs. In a
    single-process run this is ``jax.device_put``."""
    if not multi_process():
        return jax.device_put(tree, shardings)
    if isinstance(shardings, jax.sharding.Sharding):
        return jax.tree.map(lambda x: _global_leaf(x, shardings), tree)
    return jax.tree.map(_global_leaf, tree, shardings)


def gather(tree: Any) -> Any:
    """Every leaf of ``tree`` as a whole host value on every process: a sharded global array is
    all-gathered across processes (``multihost_utils.process_allgather``; every process must
    call this together), a fully addressable or replicated one fetched, a typed PRNG key
    returned as a key of the gathered key data. E.g. ``gather(result.state.params)`` for the
    parameters of every seed of a multi-process run."""
    from jax.experimental import multihost_utils

    def one(x: Any) -> Any:
        if _is_key(x):
            return jax.random.wrap_key_data(
                one(jax.random.key_data(x)), impl=jax.random.key_impl(x)
            )
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return jax.device_get(x)

    return jax.tree.map(one, tree)


def broadcast_text(text: str | None, limit: int = 4096) -> str:
    """Process 0's ``text`` on every process (the others pass anything, e.g. ``None``); every
    process must call it together. In a single-process run, ``text`` itself.

    Raises:
        ValueError: process 0's text is longer than ``limit`` bytes in UTF-8.
    """
    if not multi_process():
        return text or ""
    from jax.experimental import multihost_utils

    buffer = np.zeros(limit + 1, np.uint8)  # the last byte flags text longer than the limit
    if is_primary():
        raw = (text or "").encode("utf-8")
        if len(raw) > limit:
            buffer[limit] = 1
        else:
            buffer[: len(raw)] = np.frombuffer(raw, np.uint8)
    out = np.asarray(multihost_utils.broadcast_one_to_all(buffer))
    if out[limit]:
        raise ValueError(f"text to broadcast is longer than {limit} bytes")
    return bytes(out[:limit]).rstrip(b"\0").decode("utf-8")
