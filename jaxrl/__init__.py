"""jaxrl: JAX-native reinforcement learning agents that train entirely on the accelerator."""

import os

from jaxrl import _xla_cpu


def _source_checkout_subpackages() -> None:
    """``agents/`` and ``envs/`` sit beside ``jaxrl/`` in the repository and are installed as
    ``jaxrl.agents`` / ``jaxrl.envs`` (``package-dir`` in pyproject.toml). In a source checkout
    used without installing it (``PYTHONPATH=<checkout>``), resolve the same names from the
    checkout's own folders, never from another installed copy."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    own = [os.path.join(root, d, "__init__.py") for d in ("agents", "envs")]
    if os.path.isfile(os.path.join(root, "pyproject.toml")) and all(map(os.path.isfile, own)):
        __path__.append(root)


_source_checkout_subpackages()

_xla_cpu.apply()  # before any JAX backend starts; see jaxrl/_xla_cpu.py

from jaxrl.driver import TrainResult, train  # noqa: E402
from jaxrl.policy import load_policy  # noqa: E402
from jaxrl.types import Agent  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Agent", "train", "TrainResult", "load_policy", "__version__"]
