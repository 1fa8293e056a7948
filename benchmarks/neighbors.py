"""Exact nearest-neighbour search for PRDC: our search against scipy's cKDTree, and PRDC's
update rate against TD3+BC's.

    python benchmarks/neighbors.py                        # N = 1e5 and 1e6, batch 256
    python benchmarks/neighbors.py --sizes 100000 --update-steps 500

Keys are shaped like PRDC's on D4RL locomotion: ``[beta * z-scored state, action]`` with
``beta = 2``, states of dimension 17 (halfcheetah/walker2d) and 11 (hopper), actions of dimension
6 and 3 (so keys of dimension 23 and 14). Queries are ``[beta * s, pi(s)]`` for dataset states
and two kinds of actions: ``far`` (uniform in [-1, 1], like an untrained or exploring policy:
hard for a KD-tree in 23 dimensions) and ``near`` (the dataset action plus N(0, 0.05^2), like a
trained policy that stays close to the data). Every method is exact; the script checks that all
return the same indices. Reported per query batch (median of repeats, after a warm-up call):

* ``scipy``: ``cKDTree.query(q, k=1, workers=-1)`` on host arrays (the official PRDC code's call);
* ``ours kdtree``: ``jaxrl.neighbors.nearest`` jitted, scipy's tree through ``pure_callback``
  (includes the device-host transfers);
* ``ours brute``: ``jaxrl.neighbors.nearest`` jitted, the chunked matmul shortlist with exact
  re-ranking (the accelerator path);
* ratios: ours / scipy (lower is better for us).

Then gradient steps/s of ``jaxrl.train`` for TD3+BC and PRDC (official sizes: 256-256 MLPs,
batch 256) on a synthetic dataset of the first size, no evaluation. Results go to
``benchmarks/results/neighbors_<backend>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxrl  # noqa: E402
from jaxrl import data, neighbors  # noqa: E402
from jaxrl.agents import prdc, td3_bc  # noqa: E402
from jaxrl.types import Box, EnvSpec, TimeStep  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throughput import hardware  # noqa: E402

BETA = 2.0
DIMS = ((17, 6), (11, 3))  # (state, action): halfcheetah/walker2d-like, hopper-like


def locomotion_states(rng: np.random.Generator, n: int, ds: int) -> np.ndarray:
    """Correlated, z-scored states: a random linear map of a few latent factors plus noise
    (locomotion states lie near a low-dimensional set)."""
    latent = rng.normal(size=(n, 4)).astype(np.float32)
    mix = rng.normal(size=(4, ds)).astype(np.float32)
    s = latent @ mix + 0.3 * rng.normal(size=(n, ds)).astype(np.float32)
    return ((s - s.mean(0)) / (s.std(0) + 1e-3)).astype(np.float32)


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (compilation, caches)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bench_search(
    n: int, ds: int, da: int, batch: int, repeats: int, brute_repeats: int, near: bool
) -> dict:
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(n + ds)
    states = locomotion_states(rng, n, ds)
    actions = rng.uniform(-1, 1, size=(n, da)).astype(np.float32)
    keys = np.concatenate([BETA * states, actions], axis=1)
    rows = rng.integers(0, n, batch)
    if near:
        acts = np.clip(actions[rows] + 0.05 * rng.normal(size=(batch, da)), -1, 1)
    else:
        acts = rng.uniform(-1, 1, size=(batch, da))
    queries = np.concatenate([BETA * states[rows], acts.astype(np.float32)], axis=1)
    t = time.perf_counter()
    tree = cKDTree(keys.astype(np.float64))
    scipy_build = time.perf_counter() - t
    q64 = queries.astype(np.float64)
    scipy_s = median_time(lambda: tree.query(q64, k=1, workers=-1), repeats)
    _, scipy_idx = tree.query(q64, k=1, workers=-1)

    out: dict[str, Any] = {
        "n": n,
        "dim": ds + da,
        "queries": "near" if near else "far",
        "batch": batch,
        "scipy_build_s": scipy_build,
        "scipy_query_s": scipy_s,
    }
    q_dev = jnp.asarray(queries)
    for backend, reps in (("kdtree", repeats), ("brute", brute_repeats)):
        t = time.perf_counter()
        index = neighbors.build_index(keys, backend)
        jax.block_until_ready(index.keys)
        build = time.perf_counter() - t
        fn = jax.jit(lambda q, index=index: neighbors.nearest(index, q))
        secs = median_time(lambda fn=fn: jax.block_until_ready(fn(q_dev)), reps)
        _, idx = fn(q_dev)
        same = bool(np.array_equal(np.asarray(idx), scipy_idx))
        out[f"ours_{backend}_build_s"] = build
        out[f"ours_{backend}_query_s"] = secs
        out[f"ours_{backend}_over_scipy"] = secs / scipy_s
        out[f"ours_{backend}_same_indices_as_scipy"] = same
    return out


@dataclasses.dataclass(frozen=True)
class ShapeEnv:
    """A do-nothing env with the given observation/action sizes (only its spec is used)."""

    obs_dim: int
    act_dim: int

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec("shape", (self.obs_dim,), Box.uniform((self.act_dim,)), 1000)

    def reset(self, key):
        obs = jnp.zeros((self.obs_dim,))
        return obs, TimeStep(obs, jnp.zeros(()), jnp.zeros((), bool), jnp.zeros((), bool))

    def step(self, state, action):
        return self.reset(None)


def bench_updates(n: int, ds: int, da: int, steps: int) -> dict:
    rng = np.random.default_rng(0)
    obs = locomotion_states(rng, n, ds)
    ends = np.zeros(n, bool)
    ends[999::1000] = True
    ends[-1] = True
    dataset = data.Dataset.create(
        obs,
        rng.uniform(-1, 1, size=(n, da)).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        np.zeros(n, bool),
        ends,
        obs,
    )
    env = ShapeEnv(ds, da)
    out: dict[str, Any] = {"n": n, "obs_dim": ds, "act_dim": da, "gradient_steps": steps}
    for name, agent, config in (
        ("td3_bc", td3_bc, td3_bc.Config()),
        ("prdc", prdc, prdc.Config()),
    ):
        kw = dict(data=dataset, eval_every=0, progress=False, chunk_steps=steps // 2)
        result = jaxrl.train(agent, config, env, jax.random.key(0), steps, **kw)
        out[f"{name}_steps_per_s"] = result.steps_per_second
        out[f"{name}_compile_s"] = result.compile_seconds
    out["prdc_over_td3_bc"] = out["prdc_steps_per_s"] / out["td3_bc_steps_per_s"]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--brute-repeats", type=int, default=3, help="fewer on CPU: slow")
    parser.add_argument("--update-steps", type=int, default=1000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    hw = hardware()
    print(f"hardware: {hw['cpu_model']} x{hw['cpu_count']}, backend {hw['jax_backend']}")
    search = []
    header = (
        f"{'N':>9} {'dim':>4} {'query':>5} | {'scipy ms':>9} | {'kdtree ms':>9} {'/scipy':>7} | "
        f"{'brute ms':>9} {'/scipy':>7} | same"
    )
    print(header)
    for n in args.sizes:
        for (ds, da), near in itertools.product(DIMS, (True, False)):
            r = bench_search(n, ds, da, args.batch, args.repeats, args.brute_repeats, near)
            search.append(r)
            same = r["ours_kdtree_same_indices_as_scipy"] and r["ours_brute_same_indices_as_scipy"]
            print(
                f"{n:>9,} {r['dim']:>4} {r['queries']:>5} | {1e3 * r['scipy_query_s']:>9.2f} | "
                f"{1e3 * r['ours_kdtree_query_s']:>9.2f} {r['ours_kdtree_over_scipy']:>7.2f} | "
                f"{1e3 * r['ours_brute_query_s']:>9.1f} "
                f"{r['ours_brute_over_scipy']:>7.1f} | {same}",
                flush=True,
            )
    ds, da = DIMS[0]
    updates = bench_updates(args.sizes[0], ds, da, args.update_steps)
    print(
        f"gradient steps/s (N={args.sizes[0]:,}, 256-256, batch 256): "
        f"TD3+BC {updates['td3_bc_steps_per_s']:.0f}, PRDC {updates['prdc_steps_per_s']:.0f} "
        f"(PRDC/TD3+BC {updates['prdc_over_td3_bc']:.2f}, neighbour backend "
        f"{neighbors.default_backend()})"
    )
    result = {"hardware": hw, "beta": BETA, "search": search, "updates": updates}
    default = "cpu" if hw["jax_backend"] == "cpu" else hw["jax_backend"]
    path = args.out or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results", f"neighbors_{default}.json"
    )
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
