"""Agents: one module per algorithm, each with ``Config``, ``State``, ``init``, ``train_step``,
``act`` and ``steps_per_iteration`` so that :func:`jaxrl.train` can run any of them. Offline
agents (BC, TD3+BC, PRDC) also take the dataset: ``init(config, env, key, data)``,
``train_step(config, env, state, data)`` and ``prepare_data(config, env, dataset)``."""

from jaxrl.agents import bc, gorl, ppo, prdc, props, td3_bc

REGISTRY = {"ppo": ppo, "gorl": gorl, "props": props, "bc": bc, "td3_bc": td3_bc, "prdc": prdc}

__all__ = ["bc", "gorl", "ppo", "prdc", "props", "td3_bc", "REGISTRY"]
