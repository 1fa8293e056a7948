"""Agents: one module per algorithm, each with ``Config``, ``State``, ``init``, ``train_step``,
``act`` and ``steps_per_iteration`` so that :func:`jaxrl.train` can run any of them. Offline
agents (BC, TD3+BC, PRDC, DQC, GCFBC, FB, BREEZE, TD-JEPA) also take the dataset: ``init(config,
env, key, data)``, ``train_step(config, env, state, data)`` and ``prepare_data(config, env,
dataset)``.

Each module also has ``check_env(config, env)``: a cheap check (it reads ``env.spec`` only) that
raises a ``ValueError`` naming the env when the agent cannot train on it (GoRL, TD3+BC and PRDC
need ``Box`` actions; the MLPs need vector observations). ``init`` and ``prepare_data`` call it;
a run script can call it first, through :func:`jaxrl.config.check_env`, before making folders."""

from jaxrl.agents import (
    bc,
    breeze,
    dqc,
    fb,
    gcfbc,
    gorl,
    polychromic_ppo,
    ppo,
    prdc,
    props,
    rnd,
    td3_bc,
    td_jepa,
)

REGISTRY = {
    "ppo": ppo,
    "gorl": gorl,
    "props": props,
    "polychromic_ppo": polychromic_ppo,
    "bc": bc,
    "td3_bc": td3_bc,
    "prdc": prdc,
    "dqc": dqc,
    "gcfbc": gcfbc,
    "rnd": rnd,
    "fb": fb,
    "breeze": breeze,
    "td_jepa": td_jepa,
}

__all__ = [
    "bc",
    "breeze",
    "dqc",
    "fb",
    "gcfbc",
    "gorl",
    "polychromic_ppo",
    "ppo",
    "prdc",
    "props",
    "rnd",
    "td3_bc",
    "td_jepa",
    "REGISTRY",
]
