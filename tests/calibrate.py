"""Calibrate the learning tests: per-seed figures of each test's own setup over many seeds.

    python tests/calibrate.py offline --keys 0 1     # TD3+BC / PRDC vs BC (+ broken variants)
    python tests/calibrate.py dqc --keys 0 1         # DQC vs OS vs GCFBC (+ broken variants)
    python tests/calibrate.py props --keys 0 1       # PROPS vs PPO-with-buffer on CartPole
    python tests/calibrate.py ppo --keys 0 1         # PPO's learning tests
    python tests/calibrate.py gorl --keys 0 1        # GoRL vs Gaussian PPO on the two-bump bandit
    python tests/calibrate.py gorl_broken --keys 0   # the same with decoders left untrained
    python tests/calibrate.py polychromic --keys 42 0  # Polychromic PPO vs PPO on MultiRoute
                                                     # (+ the broken variant, d = 1)
    python tests/calibrate.py polychromic_four_rooms --keys 42 0  # both vs BC on Four Rooms
    python tests/calibrate.py rnd --keys 0 1 2 3     # RND vs random coverage of the four rooms
    python tests/calibrate.py fb --keys 0 1          # FB zero-shot per task vs random (+ broken)
    python tests/calibrate.py breeze --keys 0 1      # the same for BREEZE
    python tests/calibrate.py in_sample --keys 0 1   # FB's and BREEZE's action gaps, narrow data
    python tests/calibrate.py td_jepa --keys 0 1     # TD-JEPA, TD-JEPA-sym and broken, zero-shot
    python tests/calibrate.py td_jepa_collapse --keys 0  # ranks of Cov(psi), with / without ortho
    python tests/calibrate.py td_jepa_sf --keys 0    # successor-feature errors, 8 random MDPs

Each key runs the test's own function (the same settings, imported from the test module) for a
disjoint set of seeds and prints the per-seed figures with their mean, min and max: the numbers
the tests' docstrings quote and their thresholds are set against. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _show(label: str, values, seconds: float) -> None:
    v = np.asarray(values, np.float64)
    per = ", ".join(f"{x:.4g}" for x in v)
    print(
        f"  {label:<24} mean {v.mean():9.4g}  min {v.min():9.4g}  max {v.max():9.4g}  "
        f"[{per}]  ({seconds:.0f} s)",
        flush=True,
    )


def offline(key: int) -> None:
    import test_offline_learning as t

    for method in t.METHODS:
        start = time.time()
        _show(method, t.final_returns(method, key), time.time() - start)


def dqc(key: int, methods: list[str] | None = None) -> None:
    import test_dqc_learning as t

    for method in methods or t.METHODS:
        start = time.time()
        success, tasks = t.late_success(method, key)
        _show(method, success, time.time() - start)
        print(f"  {'':<24} per task {np.round(tasks.mean(axis=1), 3).tolist()}", flush=True)


def props(key: int) -> None:
    import test_props as t

    for variant in t.CARTPOLE_VARIANTS:
        start = time.time()
        runs = t.cartpole_runs(variant, key)
        seconds = time.time() - start
        for name, values in runs.items():
            _show(f"{variant}: {name}", values, seconds)


def ppo(key: int) -> None:
    import test_ppo as t

    for name in t.LEARNING:
        start = time.time()
        _show(name, t.learning_run(name, key, seeds=8), time.time() - start)


def gorl(key: int, broken: bool = False) -> None:
    import test_gorl as t

    for seed in range(8 * key, 8 * key + 8):
        start = time.time()
        r_g, r_p = t.two_bump_returns(seed, decoder_lr=0.0 if broken else None)
        label = "GoRL, untrained decoders" if broken else "GoRL"
        print(f"  seed {seed}: {label} {r_g:.3f}  PPO {r_p:.3f}  ({time.time() - start:.0f} s)")


def gorl_broken(key: int) -> None:
    gorl(key, broken=True)


def polychromic(key: int) -> None:
    import dataclasses

    import jax.numpy as jnp
    import test_polychromic_ppo as t

    from jaxrl import passk
    from jaxrl.agents import polychromic_ppo

    polychromic_ppo.DIVERSITY["constant"] = lambda s: jnp.float32(1.0)
    start = time.time()
    runs = t._signature_runs(t.POLY, key)
    runs.append(
        t._signature_runs(dataclasses.replace(t.POLY, diversity="constant"), key, with_ppo=False)[0]
    )
    seconds = time.time() - start
    for name, (success, signature, blocked) in zip(["poly", "ppo", "poly d=1"], runs, strict=True):
        routes, share = t._route_stats(success, signature)
        _show(f"{name} success", success.mean(axis=(1, 2)), seconds)
        _show(f"{name} routes", routes, seconds)
        _show(f"{name} top share", share, seconds)
        for k in (1, 4, 8, 16):
            _show(f"{name} blocked pass@{k}", [passk.pass_at_k(b, k) for b in blocked], seconds)


def polychromic_four_rooms(key: int) -> None:
    import test_polychromic_ppo as t

    start = time.time()
    runs = t._four_rooms_runs(key)
    seconds = time.time() - start
    for name, (success, perturbed) in runs.items():
        _show(f"{name} success", success.mean(axis=(1, 2)), seconds)
        _show(f"{name} perturbed", perturbed.mean(axis=(1, 2)), seconds)
    for other in ("ppo", "pretrained"):
        diff = runs["poly"][1].mean(axis=(1, 2)) - runs[other][1].mean(axis=(1, 2))
        _show(f"perturbed poly - {other}", diff, seconds)
    for name in ("poly", "ppo"):
        diff = runs[name][0].mean(axis=(1, 2)) - runs["pretrained"][0].mean(axis=(1, 2))
        _show(f"success {name} - pretrained", diff, seconds)


def rnd(key: int) -> None:
    import test_rnd as t

    start = time.time()
    for name, values in t.exploration_coverages(key).items():
        _show(f"{name} coverage", values, time.time() - start)


def _zero_shot(key: int, runs) -> None:
    import test_zero_shot_learning as t

    for label, agent, config in runs(t):
        start = time.time()
        out = t.zero_shot_returns(key, agent, config)
        seconds = time.time() - start
        for i, task in enumerate(t.TASKS):
            _show(f"{label} {task}", out["agent"][:, i], seconds)
        _show(f"{label} action gap", out["gap"], seconds)
        print(f"  {'':<24} random {np.round(out['random'], 1).tolist()}", flush=True)
        print(f"  {'':<24} passes: {t.passes(out['agent'], out['random'])}", flush=True)


def fb(key: int) -> None:
    _zero_shot(key, lambda t: (("fb", t.fb, t.FB_CPU), ("broken", t.fb, t.BROKEN)))


def in_sample(key: int) -> None:
    import test_zero_shot_learning as t

    for label, agent, config in (("fb", t.fb, t.FB_CPU), ("breeze", t.breeze, t.BREEZE_CPU)):
        start = time.time()
        out = t.zero_shot_returns(
            key, agent, config, data_name="narrow", steps=t.IN_SAMPLE_STEPS, evaluate=False
        )
        _show(f"{label} action gap", out["gap"], time.time() - start)


def breeze(key: int) -> None:
    _zero_shot(
        key, lambda t: (("breeze", t.breeze, t.BREEZE_CPU), ("broken", t.breeze, t.BREEZE_BROKEN))
    )


def td_jepa(key: int) -> None:
    _zero_shot(
        key,
        lambda t: (
            ("td_jepa", t.td_jepa, t.TD_JEPA_CPU),
            ("td_jepa_sym", t.td_jepa, t.TD_JEPA_SYM),
            ("broken", t.td_jepa, t.TD_JEPA_BROKEN),
        ),
    )


def td_jepa_collapse(key: int) -> None:
    import test_td_jepa as t

    del key  # the module's seeds are fixed; 8 of them, for 300 steps
    t.COLLAPSE_STEPS = 300
    for label, ortho, symmetric in (
        ("asym, preset ortho", t.TD_JEPA_CPU.psi_ortho_coef, False),
        ("asym, no ortho", 0.0, False),
        ("sym, preset ortho", t.TD_JEPA_CPU.psi_ortho_coef, True),
        ("sym, no ortho", 0.0, True),
    ):
        start = time.time()
        ranks = t.psi_ranks(ortho, symmetric, seeds=8)
        for i, row in enumerate(ranks):
            _show(f"{label} rank@{(i + 1) * t.COLLAPSE_EVERY}", row, time.time() - start)


def td_jepa_sf(key: int) -> None:
    import test_td_jepa as t

    for immediate in ("next", "current"):
        start = time.time()
        errors = []
        for mdp in range(8 * key, 8 * key + 8):
            learned, exact = t.train_successor_features(immediate, mdp)
            errors.append(np.abs(learned - exact).max() / np.abs(exact).max())
        _show(f"successor features, psi({immediate})", np.asarray(errors), time.time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "suite",
        choices=[
            "offline",
            "dqc",
            "props",
            "ppo",
            "gorl",
            "gorl_broken",
            "polychromic",
            "polychromic_four_rooms",
            "rnd",
            "fb",
            "breeze",
            "in_sample",
            "td_jepa",
            "td_jepa_collapse",
            "td_jepa_sf",
        ],
    )
    parser.add_argument("--keys", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--methods", nargs="+", help="dqc only: a subset of its METHODS")
    args = parser.parse_args()
    for key in args.keys:
        print(f"{args.suite}, key {key}:", flush=True)
        if args.methods:
            globals()[args.suite](key, args.methods)
        else:
            globals()[args.suite](key)


if __name__ == "__main__":
    main()
