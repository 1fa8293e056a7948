"""Every agent in ``agents.REGISTRY`` fits :class:`jaxrl.types.Agent`, and an agent that misses a
piece is rejected with a message that names the piece (by ``agent_modes`` and by ``jaxrl.train``,
before anything compiles)."""

import inspect
import types

import jax
import pytest

import jaxrl
from jaxrl import agents, envs
from jaxrl.types import Agent, agent_modes

FIRST_PARAMETERS = {
    "init": ["config", "env", "key"],
    "train_step": ["config", "env", "state"],
    "act": ["config", "env", "state", "obs", "key"],
    "steps_per_iteration": ["config"],
    "prepare_data": ["config", "env", "dataset"],
}


def parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


@pytest.mark.parametrize("name", sorted(agents.REGISTRY))
def test_registered_agent_fits_the_protocol(name):
    agent = agents.REGISTRY[name]
    assert isinstance(agent, Agent), (
        f"agents.{name} lacks one of init, train_step, act, steps_per_iteration"
    )
    modes = agent_modes(agent)  # a TypeError here names the piece that does not fit
    for fn, first in FIRST_PARAMETERS.items():
        if fn == "prepare_data" and not hasattr(agent, fn):
            continue
        got = parameters(getattr(agent, fn))
        assert got[: len(first)] == first, f"agents.{name}.{fn}{got}: must start with {first}"
    assert "deterministic" in parameters(agent.act), f"agents.{name}.act lacks deterministic"
    if "offline" in modes:
        for fn in ("init", "train_step"):
            assert parameters(getattr(agent, fn))[3] == "data", f"agents.{name}.{fn}: 4th is data"
    else:
        assert not hasattr(agent, "prepare_data"), f"agents.{name}: prepare_data but no data"
    assert isinstance(getattr(agent, "NAME", ""), str)
    assert hasattr(agent, "Config"), f"agents.{name} has no Config"
    n = agent.steps_per_iteration(agent.Config())
    assert isinstance(n, int) and not isinstance(n, bool) and n > 0, (
        f"agents.{name}.steps_per_iteration(Config()) = {n!r}, not a positive int"
    )


def fake_agent(**changes):
    """An agent object with well-formed online pieces, changed by ``changes`` (None removes)."""
    pieces = {
        "NAME": "fake",
        "init": lambda config, env, key: {},
        "train_step": lambda config, env, state: (state, {}),
        "act": lambda config, env, state, obs, key, deterministic=False: obs,
        "steps_per_iteration": lambda config: 1,
    }
    pieces.update(changes)
    return types.SimpleNamespace(**{k: v for k, v in pieces.items() if v is not None})


def test_modes_follow_the_data_parameter():
    assert agent_modes(fake_agent()) == {"online"}
    offline = fake_agent(
        init=lambda config, env, key, data: {},
        train_step=lambda config, env, state, data: (state, {}),
    )
    assert agent_modes(offline) == {"offline"}
    both = fake_agent(
        init=lambda config, env, key, data=None: {},
        train_step=lambda config, env, state, data=None: (state, {}),
    )
    assert agent_modes(both) == {"online", "offline"}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"act": None}, r"'fake' lacks act"),
        ({"init": None, "steps_per_iteration": None}, r"lacks init, steps_per_iteration"),
        ({"act": lambda config, state, obs: obs}, r"act must take \(config, env, state, obs"),
        ({"train_step": lambda config, state: (state, {})}, r"train_step must take"),
        ({"steps_per_iteration": lambda: 1}, r"steps_per_iteration must take \(config\)"),
        ({"prepare_data": lambda dataset: dataset}, r"prepare_data must take"),
        (
            {"init": lambda config, env, key, data: {}},
            r"init and train_step disagree about data \(init trains offline, train_step online",
        ),
    ],
)
def test_a_missing_or_misshapen_piece_is_named(changes, message):
    with pytest.raises(TypeError, match=message):
        agent_modes(fake_agent(**changes))


def test_train_rejects_data_for_online_agents_and_needs_it_for_offline_ones():
    env, key = envs.make("pendulum"), jax.random.key(0)
    with pytest.raises(TypeError, match="'ppo' trains online"):
        jaxrl.train(
            jaxrl.agents.ppo, jaxrl.agents.ppo.Config(), env, key, 10, data={"x": 1}, progress=False
        )
    with pytest.raises(TypeError, match="'td3_bc' trains from data: pass data="):
        jaxrl.train(jaxrl.agents.td3_bc, jaxrl.agents.td3_bc.Config(), env, key, 10, progress=False)
    with pytest.raises(TypeError, match="lacks act"):
        jaxrl.train(fake_agent(act=None), None, env, key, 10, progress=False)
