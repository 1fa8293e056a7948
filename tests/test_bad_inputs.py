"""Bad inputs are refused early, by name: config values (ranges, NaN/inf, layer widths, string
choices, on the command line and from Python), envs an agent cannot handle, unreadable files.

``CASES`` is the table: each entry is ``pytest.param(trigger, error, needles, id=...)``, where
``trigger(tmp_path)`` makes the bad input (no training; at most an ``init`` call), ``error`` is
the exception type it must raise, and every string in ``needles`` must appear in the message
(for ``SystemExit`` from tyro: in what it printed). Name the field or path *and* the expected
range, choices or cause. Append new cases to the table; :data:`FIELD_CASES` adds one generated
case per numeric, choice and width field of every registered agent's ``Config``.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import jax
import numpy as np
import pytest
import tyro

import jaxrl.config
import jaxrl.sweep
from jaxrl import agents, data, envs, neighbors, networks
from jaxrl.agents import bc, gorl, ppo, prdc, props, td3_bc
from jaxrl.runs import RunError
from jaxrl.types import Box, Discrete, EnvSpec

Trigger = Callable[[Path], Any]

NAN, INF = float("nan"), float("inf")
CARTPOLE = envs.make("cartpole")
KEY = jax.random.key(0)
ACTIVATIONS = list(get_args(networks.Activation))


def validate(config: Any) -> Trigger:
    """A trigger that validates ``config``."""
    return lambda tmp_path: config.validate()


def cli(config_cls: type, *args: str) -> Trigger:
    """A trigger that parses ``args`` for ``config_cls`` with tyro, as the experiment scripts do
    (their ``--config.<field>`` flags are these flags under a prefix), then validates."""
    return lambda tmp_path: tyro.cli(config_cls, args=list(args)).validate()


def script(name: str, *args: str) -> Trigger:
    """A trigger that runs ``experiments/<name>.py`` with ``args`` (in-process, as
    ``main(argv)``) under ``tmp_path/runs`` and then checks that no run folder was created: every
    refusal comes before anything is written."""

    def trigger(tmp_path: Path) -> Any:
        import importlib
        import os
        import sys

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if root not in sys.path:
            sys.path.insert(0, root)  # experiments/ is a folder of the checkout, not installed
        main = importlib.import_module(f"experiments.{name}").main
        run_dir = tmp_path / "runs"
        try:
            return main([*args, "--run-dir", str(run_dir), "--no-progress"])
        finally:
            assert not run_dir.exists(), f"a refused run left {list(run_dir.iterdir())}"

    return trigger


def damaged_npz(name: str) -> Callable[[Path], Path]:
    """A file called ``name`` with a zip signature and nothing usable after it."""

    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(b"PK\x03\x04" + bytes(60))
        return path

    return make


def tiny_dataset() -> data.Dataset:
    """Two episodes of 6 steps, 3-d observations (consistent successors) and 1-d actions
    (pendulum's shapes)."""
    rng = np.random.default_rng(0)
    states = [rng.normal(size=(7, 3)).astype(np.float32) for _ in range(2)]
    obs = np.concatenate([s[:-1] for s in states])
    ends = np.zeros(12, bool)
    ends[[5, 11]] = True
    return data.Dataset.create(
        obs,
        rng.uniform(-1, 1, size=(12, 1)).astype(np.float32),
        rng.normal(size=12).astype(np.float32),
        np.zeros(12, bool),
        ends,
        np.concatenate([s[1:] for s in states]),
    )


def carded(name: str) -> Callable[[Path], Path]:
    """A function of ``tmp_path`` that writes :func:`tiny_dataset` to ``name`` with a card
    naming pendulum as its env; returns the path."""

    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        data.save_npz(tiny_dataset(), path, card={"env": "pendulum"})
        return path

    return make


def truncated(save: Callable[[data.Dataset, Path], None], name: str) -> Callable[[Path], Path]:
    """A function of ``tmp_path`` that writes a real dataset with ``save`` and cuts the file to
    half its bytes; returns the path."""

    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        save(tiny_dataset(), path)
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
        return path

    return make


def garbage(name: str) -> Callable[[Path], Path]:
    """A function of ``tmp_path`` that writes bytes of no known format to ``name``."""

    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(b"this is not a dataset\n" * 40)
        return path

    return make


def load_with(loader: Callable[[Path], Any], make: Callable[[Path], Path]) -> Trigger:
    """A trigger that makes a file and loads it; needles may use ``{path}``."""
    return lambda tmp_path: loader(make(tmp_path))


def image_env() -> Any:
    """An object with only a ``spec``: 4 x 4 x 1 grid observations (what ``check_env`` reads)."""
    return types.SimpleNamespace(spec=EnvSpec("grid", (4, 4, 1), Discrete(4), 10))


CASES: list[Any] = [
    # --- NaN / inf / negative coefficients --------------------------------------------------
    pytest.param(
        validate(ppo.Config(learning_rate=NAN)),
        ValueError,
        ["Config.learning_rate", "finite number in [0, inf)", "got nan"],
        id="ppo-learning_rate-nan",
    ),
    pytest.param(
        validate(ppo.Config(learning_rate=INF)),
        ValueError,
        ["Config.learning_rate", "finite number in [0, inf)", "got inf"],
        id="ppo-learning_rate-inf",
    ),
    pytest.param(
        lambda tmp_path: ppo.init(ppo.Config(learning_rate=-INF), envs.make("pendulum"), KEY),
        ValueError,
        ["Config.learning_rate", "[0, inf)", "got -inf"],
        id="ppo-init-learning_rate-minus-inf",
    ),
    pytest.param(
        cli(ppo.Config, "--learning-rate", "nan"),
        ValueError,
        ["Config.learning_rate", "[0, inf)", "got nan"],
        id="ppo-cli-learning_rate-nan",
    ),
    pytest.param(
        validate(td3_bc.Config(actor_learning_rate=NAN)),
        ValueError,
        ["Config.actor_learning_rate", "finite number in [0, inf)", "got nan"],
        id="td3_bc-actor_learning_rate-nan",
    ),
    pytest.param(
        validate(bc.Config(learning_rate=INF)),
        ValueError,
        ["Config.learning_rate", "finite number in [0, inf)", "got inf"],
        id="bc-learning_rate-inf",
    ),
    pytest.param(
        validate(ppo.Config(ent_coef=-0.01)),
        ValueError,
        ["Config.ent_coef", "[0, inf)", "got -0.01"],
        id="ppo-ent_coef-negative",
    ),
    pytest.param(
        validate(ppo.Config(vf_coef=-0.5)),
        ValueError,
        ["Config.vf_coef", "[0, inf)", "got -0.5"],
        id="ppo-vf_coef-negative",
    ),
    pytest.param(
        validate(props.Config(target_kl=NAN)),
        ValueError,
        ["Config.target_kl", "number in (0, inf]", "got nan"],
        id="props-target_kl-nan-refused-inf-allowed",
    ),
    # --- one out-of-range field per agent ---------------------------------------------------
    pytest.param(
        validate(ppo.Config(gamma=1.5)),
        ValueError,
        ["Config.gamma", "[0, 1]", "got 1.5"],
        id="ppo-gamma",
    ),
    pytest.param(
        validate(ppo.Config(max_grad_norm=0.0)),
        ValueError,
        ["Config.max_grad_norm", "(0, inf]", "got 0.0"],
        id="ppo-max_grad_norm-zero",
    ),
    pytest.param(
        validate(ppo.Config(num_minibatches=0)),
        ValueError,
        ["Config.num_minibatches", "integer in [1, inf)", "got 0"],
        id="ppo-num_minibatches-zero",
    ),
    pytest.param(
        validate(gorl.Config(decoder_val_fraction=1.0)),
        ValueError,
        ["Config.decoder_val_fraction", "(0, 1)", "got 1.0"],
        id="gorl-decoder_val_fraction",
    ),
    pytest.param(
        validate(gorl.Config(z_reg_coef=-1e-3)),
        ValueError,
        ["Config.z_reg_coef", "[0, inf)", "got -0.001"],
        id="gorl-z_reg_coef",
    ),
    pytest.param(
        validate(props.Config(props_max_grad_norm=0.0)),
        ValueError,
        ["Config.props_max_grad_norm", "(0, inf)", "got 0.0"],
        id="props-props_max_grad_norm",
    ),
    pytest.param(
        validate(props.Config(se_epochs=-1)),
        ValueError,
        ["Config.se_epochs", "integer in [0, inf)", "got -1"],
        id="props-se_epochs",
    ),
    pytest.param(
        validate(bc.Config(batch_size=0)),
        ValueError,
        ["Config.batch_size", "integer in [1, inf)", "got 0"],
        id="bc-batch_size",
    ),
    pytest.param(
        validate(bc.Config(obs_std_eps=0.0)),
        ValueError,
        ["Config.obs_std_eps", "(0, inf)", "got 0.0"],
        id="bc-obs_std_eps",
    ),
    pytest.param(
        validate(td3_bc.Config(tau=1.5)),
        ValueError,
        ["Config.tau", "[0, 1]", "got 1.5"],
        id="td3_bc-tau",
    ),
    pytest.param(
        validate(td3_bc.Config(policy_delay=2.5)),
        ValueError,
        ["Config.policy_delay", "integer in [1, inf)", "got 2.5"],
        id="td3_bc-policy_delay-not-an-int",
    ),
    pytest.param(
        validate(prdc.Config(beta=-1.0)),
        ValueError,
        ["Config.beta", "[0, inf)", "got -1.0"],
        id="prdc-beta",
    ),
    pytest.param(
        validate(prdc.Config(k=0)),
        ValueError,
        ["Config.k", "integer in [1, inf)", "got 0"],
        id="prdc-k",
    ),
    pytest.param(
        lambda tmp_path: prdc.prepare_data(
            prdc.Config(k=13), envs.make("pendulum"), tiny_dataset()
        ),
        ValueError,
        ["Config.k", "<= the dataset's 12 rows", "got 13"],
        id="prdc-k-above-dataset-size",
    ),
    # --- string choices: tyro refuses them before anything runs; validate() from Python -------
    pytest.param(
        cli(ppo.Config, "--activation", "relu2"),
        SystemExit,
        ["relu2", "--activation", *ACTIVATIONS],
        id="ppo-cli-activation",
    ),
    pytest.param(
        validate(ppo.Config(activation="relu2")),
        ValueError,
        ["Config.activation", "got 'relu2'", *ACTIVATIONS],
        id="ppo-activation",
    ),
    pytest.param(
        validate(bc.Config(activation="relu2")),
        ValueError,
        ["Config.activation", "got 'relu2'", *ACTIVATIONS],
        id="bc-activation",
    ),
    pytest.param(
        cli(ppo.Config, "--torso", "resnet"),
        SystemExit,
        ["resnet", "--torso", "mlp", "cnn"],
        id="ppo-cli-torso",
    ),
    pytest.param(
        validate(ppo.Config(torso="resnet")),
        ValueError,
        ["Config.torso", "got 'resnet'", "'mlp'", "'cnn'"],
        id="ppo-torso-not-registered",
    ),
    pytest.param(
        validate(ppo.Config(policy_head="beta")),
        ValueError,
        ["Config.policy_head", "got 'beta'", "'gaussian'", "'tanh_gaussian'"],
        id="ppo-policy_head",
    ),
    pytest.param(
        cli(gorl.Config, "--z-reg", "kl2"),
        SystemExit,
        ["kl2", "--z-reg", "l2", "kl"],
        id="gorl-cli-z_reg",
    ),
    pytest.param(
        validate(gorl.Config(z_reg="kl2")),
        ValueError,
        ["Config.z_reg", "got 'kl2'", "('l2', 'kl')"],
        id="gorl-z_reg",
    ),
    pytest.param(
        validate(gorl.Config(decoder="vae")),
        ValueError,
        ["Config.decoder", "got 'vae'", "('flow', 'diffusion')"],
        id="gorl-decoder",
    ),
    pytest.param(
        cli(prdc.Config, "--backend", "faiss"),
        SystemExit,
        ["faiss", "--backend", "auto", "brute", "kdtree"],
        id="prdc-cli-backend",
    ),
    pytest.param(
        validate(prdc.Config(backend="faiss")),
        ValueError,
        ["Config.backend", "got 'faiss'", "('auto', 'brute', 'kdtree')"],
        id="prdc-backend",
    ),
    pytest.param(
        cli(props.Config, "--sampling", "ros"),
        SystemExit,
        ["ros", "--sampling", "props", "on_policy"],
        id="props-cli-sampling",
    ),
    pytest.param(
        validate(props.Config(sampling="ros")),
        ValueError,
        ["Config.sampling", "got 'ros'", "('props', 'on_policy')"],
        id="props-sampling",
    ),
    # --- layer widths -------------------------------------------------------------------------
    pytest.param(
        validate(ppo.Config(hidden_sizes=())),
        ValueError,
        ["Config.hidden_sizes", "non-empty tuple of positive integers", "got ()"],
        id="ppo-hidden_sizes-empty",
    ),
    pytest.param(
        cli(ppo.Config, "--hidden-sizes"),
        ValueError,
        ["Config.hidden_sizes", "non-empty", "got ()"],
        id="ppo-cli-hidden_sizes-no-values",
    ),
    pytest.param(
        validate(ppo.Config(value_hidden_sizes=(64, 0))),
        ValueError,
        ["Config.value_hidden_sizes", "positive integers", "or None", "got (64, 0)"],
        id="ppo-value_hidden_sizes-zero-width",
    ),
    pytest.param(
        validate(ppo.Config(torso="cnn", cnn_channels=())),
        ValueError,
        ["Config.cnn_channels", "non-empty", "got ()"],
        id="ppo-cnn_channels-empty-with-cnn-torso",
    ),
    pytest.param(
        validate(gorl.Config(decoder_hidden_sizes=())),
        ValueError,
        ["Config.decoder_hidden_sizes", "non-empty", "got ()"],
        id="gorl-decoder_hidden_sizes-empty",
    ),
    pytest.param(
        validate(bc.Config(hidden_sizes=())),
        ValueError,
        ["Config.hidden_sizes", "non-empty", "got ()"],
        id="bc-hidden_sizes-empty",
    ),
    pytest.param(
        validate(td3_bc.Config(hidden_sizes=(-1,))),
        ValueError,
        ["Config.hidden_sizes", "positive integers", "got (-1,)"],
        id="td3_bc-hidden_sizes-negative",
    ),
    # --- envs an agent cannot handle, refused before tracing ----------------------------------
    pytest.param(
        lambda tmp_path: gorl.init(gorl.Config(), CARTPOLE, KEY),
        ValueError,
        ["GoRL needs a continuous (Box) action space", "env 'cartpole'", "Discrete(2)"],
        id="gorl-init-discrete-env",
    ),
    pytest.param(
        lambda tmp_path: td3_bc.init(td3_bc.Config(), CARTPOLE, KEY, None),
        ValueError,
        ["TD3+BC needs a continuous (Box) action space", "env 'cartpole'", "Discrete(2)"],
        id="td3_bc-init-discrete-env",
    ),
    pytest.param(
        lambda tmp_path: td3_bc.prepare_data(td3_bc.Config(), CARTPOLE, None),
        ValueError,
        ["TD3+BC needs a continuous (Box) action space", "env 'cartpole'", "Discrete(2)"],
        id="td3_bc-prepare_data-discrete-env",
    ),
    pytest.param(
        lambda tmp_path: prdc.init(prdc.Config(), CARTPOLE, KEY, None),
        ValueError,
        ["PRDC needs a continuous (Box) action space", "env 'cartpole'", "Discrete(2)"],
        id="prdc-init-discrete-env",
    ),
    pytest.param(
        lambda tmp_path: prdc.prepare_data(prdc.Config(), CARTPOLE, None),
        ValueError,
        ["PRDC needs a continuous (Box) action space", "env 'cartpole'", "Discrete(2)"],
        id="prdc-prepare_data-discrete-env",
    ),
    pytest.param(
        lambda tmp_path: jaxrl.config.check_env(gorl, gorl.Config(), CARTPOLE),
        ValueError,
        ["GoRL needs a continuous (Box) action space", "Discrete(2)"],
        id="config-check_env-calls-the-agent",
    ),
    pytest.param(
        lambda tmp_path: ppo.check_env(ppo.Config(), image_env()),
        ValueError,
        ["Config.torso='mlp'", "vector observations", "env 'grid'", "(4, 4, 1)"],
        id="ppo-mlp-torso-on-image-observations",
    ),
    pytest.param(
        lambda tmp_path: ppo.check_env(ppo.Config(torso="cnn"), CARTPOLE),
        ValueError,
        ["Config.torso='cnn'", "[H, W, C]", "env 'cartpole'", "(4,)"],
        id="ppo-cnn-torso-on-vector-observations",
    ),
    pytest.param(
        lambda tmp_path: bc.check_env(bc.Config(), image_env()),
        ValueError,
        ["BC needs vector observations", "env 'grid'", "(4, 4, 1)"],
        id="bc-image-observations",
    ),
    # --- unreadable files name the path and the cause -----------------------------------------
    pytest.param(
        load_with(data.load_npz, truncated(data.save_npz, "cut.npz")),
        data.DatasetError,
        ["cut.npz", "not a readable .npz archive", "truncated or damaged", "BadZipFile"],
        id="npz-truncated",
    ),
    pytest.param(
        load_with(data.load_npz, garbage("junk.npz")),
        data.DatasetError,
        ["junk.npz", "not a readable .npz archive", "no zip signature", "b'this is '"],
        id="npz-garbage",
    ),
    pytest.param(
        load_with(data.load_ogbench_npz, truncated(data.save_ogbench_npz, "og.npz")),
        data.DatasetError,
        ["og.npz", "not a readable .npz archive", "BadZipFile"],
        id="ogbench-npz-truncated",
    ),
    pytest.param(
        load_with(data.load_d4rl_hdf5, garbage("junk.hdf5")),
        data.DatasetError,
        ["junk.hdf5", "not a readable HDF5 file", "OSError"],
        id="hdf5-garbage",
    ),
    pytest.param(
        load_with(data.load_d4rl_hdf5, truncated(data.save_d4rl_hdf5, "cut.hdf5")),
        data.DatasetError,
        ["cut.hdf5", "not a readable HDF5 file", "truncated or damaged"],
        id="hdf5-truncated",
    ),
    pytest.param(
        load_with(data.load, truncated(data.save_npz, "any.npz")),
        data.DatasetError,
        ["any.npz", "not a readable .npz archive", "BadZipFile"],
        id="load-dispatch-npz-truncated",
    ),
    pytest.param(
        load_with(data.load_card, truncated(data.save_npz, "card.npz")),
        data.DatasetError,
        ["card.npz", "not a readable .npz archive", "BadZipFile"],
        id="load-card-npz-truncated",
    ),
    pytest.param(
        load_with(data.load_card, truncated(data.save_d4rl_hdf5, "card.hdf5")),
        data.DatasetError,
        ["card.hdf5", "not a readable HDF5 file", "truncated or damaged"],
        id="load-card-hdf5-truncated",
    ),
    # --- the command lines, through the real scripts (no run folder may appear) --------
    pytest.param(
        script("ppo", "--seeds", "0"), RunError, ["seeds", ">= 1", "got 0"], id="cli-seeds-0"
    ),
    pytest.param(
        script("ppo", "--seeds", "-3"), RunError, ["seeds", ">= 1", "got -3"], id="cli-seeds-neg"
    ),
    pytest.param(
        script("ppo", "--total-steps", "10"),
        RunError,
        ["total_steps=10", "less than one iteration", "at least 4096"],
        id="cli-total-steps-below-one-iteration",
    ),
    pytest.param(
        script("ppo", "--config.learning-rate", "nan"),
        RunError,
        ["Config.learning_rate", "finite", "[0, inf)", "nan"],
        id="cli-learning-rate-nan",
    ),
    pytest.param(
        script("ppo", "--config.ent-coef", "-0.1"),
        RunError,
        ["Config.ent_coef", "[0, inf)", "-0.1"],
        id="cli-negative-ent-coef",
    ),
    pytest.param(
        script("ppo", "--config.vf-coef", "-1"),
        RunError,
        ["Config.vf_coef", "[0, inf)", "-1.0"],
        id="cli-negative-vf-coef",
    ),
    pytest.param(
        script("ppo", "--eval-every", "-1"),
        RunError,
        ["eval_every=-1", "int >= 0"],
        id="cli-negative-eval-every",
    ),
    pytest.param(
        script("ppo", "--num-eval-episodes", "0"),
        RunError,
        ["num_eval_episodes=0", "int >= 1"],
        id="cli-zero-eval-episodes",
    ),
    pytest.param(
        script("ppo", "--config.activation", "relu2"),
        SystemExit,
        ["relu2", "--config.activation", *ACTIVATIONS],
        id="cli-unknown-activation",
    ),
    pytest.param(
        script("ppo", "--config.hidden-sizes"),
        RunError,
        ["Config.hidden_sizes", "non-empty", "got ()"],
        id="cli-empty-hidden-sizes",
    ),
    pytest.param(
        script("gorl", "--env", "cartpole"),
        RunError,
        ["GoRL needs a continuous (Box) action space", "cartpole", "Discrete(2)"],
        id="cli-gorl-on-discrete-cartpole",
    ),
    pytest.param(
        lambda tmp_path: script("td3_bc", "--dataset", str(damaged_npz("cut.npz")(tmp_path)))(
            tmp_path
        ),
        RunError,
        ["cut.npz", "not a readable .npz archive"],
        id="cli-damaged-dataset-file",
    ),
    pytest.param(
        lambda tmp_path: script(
            "prdc", "--dataset", str(carded("pendulum-mixed.npz")(tmp_path)), "--preset", "paper"
        )(tmp_path),
        RunError,
        ["--preset paper", "no official PRDC setting", "'pendulum-mixed'", "--paper-task"],
        id="cli-prdc-paper-preset-unknown-dataset",
    ),
    pytest.param(
        lambda tmp_path: jaxrl.train(
            ppo, ppo.Config(), CARTPOLE, KEY, 10_000, chunk_steps=0, progress=False
        ),
        ValueError,
        ["chunk_steps=0", "int >= 1"],
        id="train-chunk-steps-0",
    ),
    pytest.param(
        lambda tmp_path: jaxrl.train(
            ppo, ppo.Config(), CARTPOLE, KEY, 10_000, devices=len(jax.devices()) + 7
        ),
        ValueError,
        ["devices=", "expected at most", "devices JAX sees"],
        id="train-more-devices-than-exist",
    ),
]
"""The hand-written cases (append here)."""


# --- generated: one bad value per field of every registered agent's Config ------------------


def _field_cases() -> list[Any]:
    """For every field of every ``agents.REGISTRY`` Config: floats set to NaN, ints to -1,
    ``Literal`` choices to an unknown name, width tuples to ``(0,)``; each must be refused by
    ``validate`` naming the field (and the value, or the first allowed choice)."""
    cases = []
    for name, agent in sorted(agents.REGISTRY.items()):
        hints = typing.get_type_hints(agent.Config)
        literals = jaxrl.config.literal_fields(agent.Config)
        for field in dataclasses.fields(agent.Config):
            hint, fid = hints[field.name], f"{name}-{field.name}"
            if field.name in literals:
                bad, needles = (
                    "no-such-choice",
                    ["got 'no-such-choice'", repr(literals[field.name][0])],
                )
            elif hint is float:
                bad, needles = NAN, ["got nan"]
            elif hint is int:
                bad, needles = -1, ["got -1"]
            elif "tuple[int, ...]" in str(hint):
                bad, needles = (0,), ["got (0,)"]
            else:
                continue
            config = dataclasses.replace(agent.Config(), **{field.name: bad})
            needles = [f"Config.{field.name} must be", *needles]
            cases.append(pytest.param(validate(config), ValueError, needles, id=f"field:{fid}"))
    return cases


FIELD_CASES = _field_cases()


def _plain(text: str) -> str:
    """``text`` without rich's box drawing and line wrapping (tyro's error panels)."""
    return re.sub(r"[\s\u2500-\u257f]+", " ", text)


@pytest.mark.parametrize("trigger, error, needles", CASES + FIELD_CASES)
def test_bad_input_is_refused_by_name(trigger, error, needles, tmp_path, capsys):
    with pytest.raises(error) as caught:
        trigger(tmp_path)
    printed = capsys.readouterr()
    text = _plain(f"{caught.value} {printed.out} {printed.err}")
    missing = [n for n in needles if _plain(n) not in text]
    assert not missing, f"message lacks {missing}: {text[:2000]}"


# --- what the table relies on ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(agents.REGISTRY))
def test_defaults_are_valid_and_every_string_field_is_a_literal(name):
    config_cls = agents.REGISTRY[name].Config
    config_cls().validate()
    hints = typing.get_type_hints(config_cls)
    literals = jaxrl.config.literal_fields(config_cls)
    plain_str = [f.name for f in dataclasses.fields(config_cls) if hints[f.name] is str]
    assert not plain_str, f"{name}.Config: str fields without a Literal: {plain_str}"
    assert "activation" not in hints or "activation" in literals


def test_literals_match_the_registries_they_name():
    assert get_args(prdc.Backend) == neighbors.BACKENDS
    assert set(get_args(networks.Activation)) == set(networks.ACTIVATIONS)
    assert set(get_args(networks.Torso)) <= set(networks.TORSOS)


def test_registered_torso_passes_validate_though_the_cli_offers_only_the_built_ins():
    networks.TORSOS["flat"] = lambda net: None
    try:
        ppo.Config(torso="flat").validate()
    finally:
        del networks.TORSOS["flat"]


def test_check_env_accepts_what_the_agents_handle():
    pendulum = envs.make("pendulum")
    for agent in (ppo, gorl, props, bc, td3_bc, prdc):
        jaxrl.config.check_env(agent, agent.Config(), pendulum)
    for agent in (ppo, props, bc):
        jaxrl.config.check_env(agent, agent.Config(), CARTPOLE)
    jaxrl.config.check_env(object(), None, CARTPOLE)  # no check_env: nothing to check
    box = EnvSpec("grid", (4, 4, 1), Box.uniform((2,)), 10)
    ppo.check_env(ppo.Config(torso="cnn"), types.SimpleNamespace(spec=box))


def test_sweeps_validate_each_setting():
    with pytest.raises(ValueError, match=r"Config.learning_rate must be .*got nan"):
        jaxrl.sweep.grid(ppo.Config(), learning_rate=[1e-3, NAN])
    with pytest.raises(ValueError, match=r"Config.ent_coef must be .*got -1.0"):
        jaxrl.sweep.grid(ppo.Config(), ent_coef=[0.0, -1.0])
