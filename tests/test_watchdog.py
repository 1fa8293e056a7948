"""The watchdog (issue 21): a stalled phase is reported by name with every thread's stack, once,
with a limit that grows with the longest finished phase of its kind; in a real run, a wedged
chunk ends the process with status 75 when asked to."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from jaxrl import watchdog
from jaxrl.watchdog import Watchdog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _report(tmp_path, run) -> str:
    path = tmp_path / "stderr.txt"
    with open(path, "w") as stream:  # a real file: faulthandler writes to its descriptor
        run(stream)
    return path.read_text()


def test_a_stalled_phase_is_reported_once_by_name_with_the_stacks(tmp_path):
    def run(stream):
        with Watchdog(0.3, stream=stream, context="ppo on pendulum", poll=0.05) as dog:
            with dog.phase("chunk", "2/20, env steps 128-256"):
                time.sleep(1.0)
            with dog.phase("evaluation", "after chunk 2"):
                time.sleep(0.05)

    text = _report(tmp_path, run)
    assert text.count("jaxrl watchdog:") == 1
    assert "ppo on pendulum: no progress for" in text
    assert "in phase 'chunk (2/20, env steps 128-256)'" in text and "evaluation" not in text
    assert "most recent call first" in text  # faulthandler's stacks
    assert "test_a_stalled_phase_is_reported_once" in text  # the main thread's own frame


def test_the_limit_grows_with_the_longest_finished_phase_of_its_kind(tmp_path):
    def run(stream):
        with Watchdog(0.2, stream=stream, poll=0.05) as dog:
            with dog.phase("chunk"):
                time.sleep(0.25)  # reported: no chunk has finished yet
            assert dog.limit("chunk") == pytest.approx(watchdog.SLACK * 0.25, rel=0.5)
            with dog.phase("chunk", "chunk two"):
                time.sleep(0.6)  # within 10 x the first chunk
            with dog.phase("evaluation"):
                time.sleep(0.5)  # another kind: the plain limit

    text = _report(tmp_path, run)
    assert text.count("jaxrl watchdog:") == 2
    assert "phase 'chunk'" in text and "chunk two" not in text and "phase 'evaluation'" in text


def test_no_timeout_starts_no_thread():
    with Watchdog(None) as dog, dog.phase("chunk"):
        pass
    assert dog._thread is None


@pytest.mark.parametrize(
    "value, expected", [("", watchdog.DEFAULT_TIMEOUT), ("off", None), ("0", None), ("90", 90.0)]
)
def test_environment_variable_sets_the_default(monkeypatch, value, expected):
    monkeypatch.setenv(watchdog.ENV_TIMEOUT, value)
    assert watchdog.default_timeout() == expected


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(watchdog.ENV_TIMEOUT, "soon")
    with pytest.raises(ValueError, match="JAXRL_WATCHDOG_SECONDS='soon'"):
        watchdog.default_timeout()


WEDGED = textwrap.dedent(
    """
    import time
    import jax, jax.numpy as jnp
    from jax.experimental import io_callback
    import jaxrl
    from jaxrl import envs

    class Wedged:
        '''An agent whose first chunk blocks forever in a host callback.'''
        NAME = "wedged"

        @staticmethod
        def steps_per_iteration(config):
            return 1

        @staticmethod
        def init(config, env, key):
            return {"count": jnp.zeros((), jnp.int32)}

        @staticmethod
        def train_step(config, env, state):
            def block(count):
                time.sleep(3600)
                return count
            count = io_callback(block, jax.ShapeDtypeStruct((), jnp.int32), state["count"])
            return {"count": count + 1}, {"loss": jnp.zeros(())}

        @staticmethod
        def act(config, env, state, obs, key, deterministic=False):
            return jnp.zeros((obs.shape[0], 1))

    jaxrl.train(Wedged(), None, envs.make("pendulum"), jax.random.key(0), 4, eval_every=0,
                progress=False, watchdog=WATCHDOG, watchdog_exit=True)
    print("finished")
    """
)


def test_a_wedged_chunk_is_reported_and_the_run_exits_with_75():
    """A real ``jaxrl.train`` whose chunk blocks in a host callback: within the watchdog's
    limit (20 s here, far above the agent's sub-second compilation) the process prints the
    report naming the chunk and exits with :data:`jaxrl.watchdog.EXIT_CODE`."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", WEDGED.replace("WATCHDOG", "20")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == watchdog.EXIT_CODE, out.stderr[-3000:]
    assert "finished" not in out.stdout
    assert "in phase 'chunk (1/" in out.stderr and "exiting with status 75" in out.stderr
    assert "block" in out.stderr  # the callback's frame in the stacks
    assert time.monotonic() - start < 240


def test_script_flags_reach_every_train_call(monkeypatch):
    """``--watchdog`` / ``--watchdog-exit`` become the driver's options, for plain members
    (``runs.driver_options``) and for every staged phase (GoRL's stages)."""
    from types import SimpleNamespace

    import jax

    from jaxrl import envs, runs, staged
    from jaxrl.agents import ppo

    options = runs.watchdog_options
    assert options(SimpleNamespace()) == {"watchdog": True, "watchdog_exit": None}
    assert options(SimpleNamespace(watchdog=0.0, watchdog_exit=False))["watchdog"] is False
    assert options(SimpleNamespace(watchdog=12.0, watchdog_exit=True)) == {
        "watchdog": 12.0,
        "watchdog_exit": True,
    }
    seen = {}

    class Stop(Exception):
        pass

    def fake_train(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(staged, "train", fake_train)
    phase = staged.Phase(ppo, ppo.Config(), 128)
    with pytest.raises(Stop):
        staged.run([phase], envs.make("pendulum"), jax.random.key(0), eval_every=64, watchdog=7.0,
                   watchdog_exit=True)  # fmt: skip
    assert seen["watchdog"] == 7.0 and seen["watchdog_exit"] is True
