"""jaxrl: JAX-native reinforcement learning agents that train entirely on the accelerator."""

from jaxrl import _xla_cpu

_xla_cpu.apply()  # before any JAX backend starts; see jaxrl/_xla_cpu.py

from jaxrl.driver import TrainResult, train  # noqa: E402
from jaxrl.types import Agent  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Agent", "train", "TrainResult", "__version__"]
