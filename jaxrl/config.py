"""Validation and JSON round trip shared by every agent's ``Config``.

Every agent's ``Config.validate()`` is built from the checks here, so every message has one
shape: ``Config.<field> must be <what is allowed>, got <value>``.

* :func:`check_ranges`: numeric fields against a :class:`Range` (an interval, optionally of
  integers). NaN and infinities are refused for every float field unless the range says an
  infinite end is a documented setting (PROPS's ``target_kl = inf``: no early stop).
* :func:`check_sizes`: layer-width tuples (``hidden_sizes``, ...) are non-empty tuples of
  positive integers; an empty one would silently build a linear network.
* :func:`check_choices`: every field annotated with a ``typing.Literal`` holds one of its
  values (tyro lists the same values in ``--help`` and refuses others on the command line);
  a field whose valid names live in a registry (``torso``: :data:`jaxrl.networks.TORSOS`) is
  checked against the registry instead.
* :func:`require_box` and :func:`check_env`: an agent that only handles continuous actions
  says so, naming the env and its action space, before anything is traced.

Traced values (inside ``jit``) and stacked ones (a sweep's ``[settings]`` axis) are skipped by
the value checks: sweeps validate each setting on the host before stacking.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import sys
import typing
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal, get_args, get_origin

import jax
import numpy as np

from jaxrl.types import Box, Discrete, Env, Space


@dataclasses.dataclass(frozen=True)
class Range:
    """The allowed values of one numeric ``Config`` field: an interval, written in messages in
    interval notation (``[0, 1]``, ``(0, inf)``, ``[1, inf)``).

    A value is allowed when it is a number (not a bool) inside the interval and finite; with
    ``integer`` it must also be an ``int``; with ``allow_inf`` an infinite value at an unbounded
    end is allowed too (a documented "off" setting), NaN never is.
    """

    low: float = -math.inf
    """Lower bound (``-inf``: none)."""
    high: float = math.inf
    """Upper bound (``inf``: none)."""
    low_open: bool = False
    """Exclude ``low`` itself."""
    high_open: bool = False
    """Exclude ``high`` itself."""
    integer: bool = False
    """Only integers (``int`` or a numpy integer) are allowed."""
    allow_inf: bool = False
    """``inf`` (when ``high`` is ``inf``) or ``-inf`` (when ``low`` is ``-inf``) is allowed."""

    def __str__(self) -> str:
        def end(x: float) -> str:
            return f"{int(x)}" if self.integer and math.isfinite(x) else f"{x:g}"

        closed_low = not self.low_open and (math.isfinite(self.low) or self.allow_inf)
        closed_high = not self.high_open and (math.isfinite(self.high) or self.allow_inf)
        left = "[" if closed_low else "("
        right = "]" if closed_high else ")"
        return f"{left}{end(self.low)}, {end(self.high)}{right}"

    def describe(self) -> str:
        """``"a finite number in [0, 1]"``, ``"an integer in [1, inf)"``, ``"a number in (0,
        inf]"``: what the messages say a field must be."""
        if self.integer:
            return f"an integer in {self}"
        return f"{'a number' if self.allow_inf else 'a finite number'} in {self}"

    def contains(self, value: Any) -> bool:
        """Whether ``value`` (a concrete scalar) is allowed."""
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            return False
        if self.integer and not isinstance(value, numbers.Integral):
            return False
        x = float(value)
        if math.isnan(x):
            return False
        if math.isinf(x):
            return self.allow_inf and (x == self.high == math.inf or x == self.low == -math.inf)
        above = x > self.low if self.low_open else x >= self.low
        below = x < self.high if self.high_open else x <= self.high
        return above and below


UNIT = Range(0.0, 1.0)
"""``[0, 1]``: discounts, GAE lambda, EMA rates."""
NONNEGATIVE = Range(0.0)
"""``[0, inf)``: learning rates (0 freezes), loss coefficients, noise scales."""
POSITIVE = Range(0.0, low_open=True)
"""``(0, inf)``: gradient-norm limits, scales and epsilons that divide or multiply."""
COUNT = Range(1, integer=True)
"""Integers ``>= 1``: batch sizes, env counts, epochs, steps."""
COUNT_OR_ZERO = Range(0, integer=True)
"""Integers ``>= 0`` (0 switches a stage off)."""

RangeSpec = tuple[str, Range] | tuple[str, float, float | None]
"""A :func:`check_ranges` entry: ``(field, Range)``, or the older ``(field, low, high)`` (a
closed float interval; ``high=None``: no upper bound)."""


def _skipped(value: Any) -> bool:
    """Traced or stacked values are left to the host-side checks of each setting."""
    if isinstance(value, jax.core.Tracer):
        return True
    return isinstance(value, np.ndarray | jax.Array | np.generic) and np.ndim(value) != 0


def _scalar(value: Any) -> Any:
    """A 0-d array or numpy scalar as the Python number it holds; anything else unchanged."""
    if isinstance(value, np.ndarray | jax.Array | np.generic) and np.ndim(value) == 0:
        return np.asarray(value).item()
    return value


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def check_ranges(config: Any, ranges: Iterable[RangeSpec]) -> None:
    """Raise a ``ValueError`` naming the field, its value and the allowed range when a field's
    concrete value is not allowed, e.g. ``Config.learning_rate must be a finite number in
    [0, inf), got nan``.

    ``ranges`` holds ``(field, Range)`` pairs (or ``(field, low, high)`` triples, a closed float
    interval with ``high=None`` for no upper bound). Traced values (inside ``jit``) and stacked
    ones (a sweep's ``[settings]`` axis) are skipped: sweeps validate each setting on the host
    before stacking.
    """
    for spec in ranges:
        if len(spec) == 2:
            name, allowed = spec  # type: ignore[misc]
        else:
            name, low, high = spec  # type: ignore[misc]
            allowed = Range(float(low), math.inf if high is None else float(high))
        value = getattr(config, name)
        if _skipped(value):
            continue
        value = _scalar(value)
        if not allowed.contains(value):
            raise ValueError(f"Config.{name} must be {allowed.describe()}, got {_shown(value)}")


def check_sizes(
    config: Any, names: Iterable[str], *, optional: bool = False, allow_empty: bool = False
) -> None:
    """Raise a ``ValueError`` naming the field unless each named field is a tuple (or list) of
    positive integers, non-empty unless ``allow_empty``; ``optional`` also allows ``None``.

    For layer widths: ``hidden_sizes=()`` (``--config.hidden-sizes`` given no values) would
    silently build a linear network, so it is refused.
    """
    for name in names:
        value = getattr(config, name)
        if optional and value is None:
            continue
        ok = isinstance(value, tuple | list) and (allow_empty or len(value) > 0)
        ok = ok and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_) and v >= 1
            for v in value
        )
        if not ok:
            what = "a tuple of positive integers"
            if not allow_empty:
                what = "a non-empty tuple of positive integers (one entry per layer)"
            if optional:
                what += " or None"
            raise ValueError(f"Config.{name} must be {what}, got {_shown(value)}")


def _field_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``; where some annotation cannot be resolved (a class defined
    inside a function, say), each field's own, skipping the ones that fail."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - fall back to what can be resolved
        pass
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        namespace = vars(sys.modules.get(klass.__module__, typing))
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            try:
                hints[name] = (
                    eval(annotation, namespace, dict(vars(klass)))  # noqa: S307 - annotations
                    if isinstance(annotation, str)
                    else annotation
                )
            except Exception:  # noqa: BLE001 - an unresolvable annotation is not checked
                hints.pop(name, None)
    return hints


@functools.cache
def literal_fields(cls: type) -> dict[str, tuple[Any, ...]]:
    """The fields of the dataclass ``cls`` annotated with a ``typing.Literal`` (directly or in
    a union such as ``Literal[...] | None``) and their allowed values (``None`` included for an
    optional one)."""
    out: dict[str, tuple[Any, ...]] = {}
    hints = _field_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints.get(field.name)
        parts = get_args(hint) if get_origin(hint) not in (Literal, None) else (hint,)
        values: list[Any] = []
        literal = False
        for part in parts:
            if get_origin(part) is Literal:
                values.extend(get_args(part))
                literal = True
            elif part is type(None):
                values.append(None)
        if literal:
            out[field.name] = tuple(values)
    return out


def check_choices(config: Any, choices: Mapping[str, Collection[Any]] | None = None) -> None:
    """Raise a ``ValueError`` naming the field and the allowed values when a field annotated
    with a ``typing.Literal`` holds another value, e.g. ``Config.activation must be one of
    ('tanh', 'relu', ...), got 'relu2'``.

    ``choices`` replaces the allowed values of some fields, for names that live in a registry
    rather than in the annotation: an agent's ``torso`` is annotated with the built-in torsos
    (what tyro offers on the command line) but checked against :data:`jaxrl.networks.TORSOS`, so
    a torso registered from Python is accepted.
    """
    allowed = dict(literal_fields(type(config)))
    allowed.update({k: tuple(v) for k, v in (choices or {}).items()})
    for name, values in allowed.items():
        value = getattr(config, name)
        if value not in values:
            raise ValueError(f"Config.{name} must be one of {tuple(values)}, got {_shown(value)}")


# --- environments --------------------------------------------------------------------------


def describe_space(space: Space) -> str:
    """``"Discrete(2)"`` or ``"Box(shape=(3,))"``: an action space as messages name it."""
    if isinstance(space, Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, Box):
        return f"Box(shape={space.shape})"
    return repr(space)


def require_box(agent: str, env: Env) -> Box:
    """``env``'s action space when it is continuous; otherwise a ``ValueError`` naming the agent,
    the env and its action space, e.g. ``GoRL needs a continuous (Box) action space; env
    'cartpole' has Discrete(2) actions``. Cheap: reads ``env.spec`` only."""
    space = env.spec.action_space
    if not isinstance(space, Box):
        raise ValueError(
            f"{agent} needs a continuous (Box) action space; env {env.spec.name!r} has "
            f"{describe_space(space)} actions"
        )
    return space


def require_vector_obs(agent: str, env: Env) -> None:
    """A ``ValueError`` naming the agent, the env and its observation shape unless observations
    are vectors (``obs_shape`` of length 1): what MLPs without an image torso read."""
    shape = tuple(env.spec.obs_shape)
    if len(shape) != 1:
        raise ValueError(
            f"{agent} needs vector observations (shape (n,)); env {env.spec.name!r} has "
            f"observations of shape {shape}"
        )


def check_env(agent: Any, config: Any, env: Env) -> None:
    """Whether ``agent`` can train with ``config`` on ``env``, before any folder is made or
    anything traced: calls ``agent.check_env(config, env)`` when the agent has one (each agent
    in ``jaxrl.agents`` does), which raises a ``ValueError`` naming the mismatch (the action
    space kind, the observation shape a torso needs). Agents without one pass."""
    check = getattr(agent, "check_env", None)
    if check is not None:
        check(config, env)


def to_json(config: Any) -> dict[str, Any]:
    """A dataclass ``Config`` (static and dynamic fields) as JSON-ready values: arrays and numpy
    scalars become Python numbers or lists, tuples become lists. :func:`from_json` inverts it."""

    def plain(x: Any) -> Any:
        if isinstance(x, tuple | list):
            return [plain(v) for v in x]
        if isinstance(x, np.ndarray | np.generic | jax.Array):
            return np.asarray(x).tolist()
        return x

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def from_json(cls: type, data: Mapping[str, Any], what: str = "config") -> Any:
    """Rebuild ``cls`` (a dataclass ``Config``) from :func:`to_json`'s output: lists become
    tuples, missing fields keep their defaults.

    Raises:
        ValueError: ``data`` names a field ``cls`` does not have (``what`` names the source).
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"{what}: {cls.__module__}.{cls.__qualname__} has no field(s) {', '.join(unknown)}"
        )

    def back(x: Any) -> Any:
        return tuple(back(v) for v in x) if isinstance(x, list) else x

    return cls(**{k: back(v) for k, v in data.items()})
