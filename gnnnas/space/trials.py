"""Trials without Optuna: uniform random sampling, replay of recorded parameters, and an architecture's own values.

All implement the three ``suggest_*`` methods of Optuna's trial API with the
same semantics (repeating a name returns the recorded value; ``log`` ranges
are log-uniform; integer ``log`` ranges are rounded from a log-uniform draw
over ``[low - 0.5, high + 0.5]``) and record ``params`` like ``trial.params``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

import numpy as np

from gnnnas.space.source import SpaceError


class RandomTrial:
    """Draws every parameter uniformly (log-uniformly for ``log`` ranges) with numpy.

    ``seed`` is an int (a fresh generator) or a shared ``numpy.random.Generator``
    (so successive trials draw different architectures from one stream).
    """

    def __init__(self, seed: int | np.random.Generator | None = None) -> None:
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.params: dict[str, Any] = {}

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name not in self.params:
            self.params[name] = choices[int(self.rng.integers(len(choices)))]
        return self.params[name]

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        if name not in self.params:
            if log:
                draw = math.exp(self.rng.uniform(math.log(low - 0.5), math.log(high + 0.5)))
                value = min(max(int(round(draw)), low), high)
            else:
                value = low + step * int(self.rng.integers((high - low) // step + 1))
            self.params[name] = value
        return self.params[name]

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        if name not in self.params:
            if low == high:
                value = float(low)
            elif log:
                value = float(math.exp(self.rng.uniform(math.log(low), math.log(high))))
            else:
                value = float(self.rng.uniform(low, high))
            self.params[name] = min(max(value, low), high)  # exp(log(x)) may land a hair outside
        return self.params[name]


_MISSING = object()


def _same(choice: Any, value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(choice, str) == isinstance(value, str)
            and choice == value)


class ReplayTrial:
    """Answers every suggestion from recorded ``params``, checking each value against its range."""

    def __init__(self, params: Mapping[str, Any], label: str) -> None:
        if not isinstance(params, Mapping):
            raise SpaceError(f"parameters must be a mapping of name -> value, got {type(params).__name__}",
                             file=label)
        self.recorded = dict(params)
        self.label = label
        self.params: dict[str, Any] = {}

    def _get(self, name: str, ok: bool, value: Any, expected: str) -> Any:
        if not ok:
            raise SpaceError(f"{value!r} is out of range; expected {expected}", file=self.label,
                             key=f"params[{name!r}]")
        self.params[name] = value
        return value

    def _lookup(self, name: str) -> Any:
        if name not in self.recorded:
            raise SpaceError(f"parameter {name!r} is missing (the architecture needs it)", file=self.label)
        value = self.recorded[name]
        # numpy scalars (e.g. from study.trials_dataframe()) compare like Python values once unwrapped.
        return value.item() if isinstance(value, np.generic) else value

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = self._lookup(name)
        # Answer with the choice itself, so its type (0.0, not 0) is the one the space samples.
        match = next((c for c in choices if _same(c, value)), _MISSING)
        return self._get(name, match is not _MISSING, value if match is _MISSING else match,
                         f"one of {', '.join(map(str, choices))}")

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        value = self._lookup(name)
        ok = (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
              and (value - low) % step == 0)
        return self._get(name, ok, value, f"an integer in {low}..{high}" + (f" step {step}" if step != 1 else ""))

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        value = self._lookup(name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
        return self._get(name, ok, float(value) if ok else value, f"a number in {low:g}..{high:g}")

    def check_all_used(self) -> None:
        """Parameters the architecture never asked for mean the record belongs to another space."""
        extra = sorted(set(self.recorded) - set(self.params))
        if extra:
            raise SpaceError(f"parameter {extra[0]!r} is not used by this architecture "
                             f"(unexpected: {', '.join(extra)})", file=self.label)


_LAYER_PARAM = re.compile(r"^layer(\d+)\.(\w+)$")


class SpecTrial(ReplayTrial):
    """Answers every suggestion with the value a known architecture has: sampling run backwards.

    ``space.sample(SpecTrial(spec))`` records in ``params`` the parameters
    under which the space draws ``spec`` (to enqueue a preset as a search's
    first trial, say). A value the suggestion's range does not hold raises
    :class:`SpaceError` naming the parameter. ``fixed`` pre-answers names that
    are not fields of the architecture (a space's ``preset`` choice). The
    range checks are :class:`ReplayTrial`'s; only where values come from differs.
    """

    def __init__(self, spec: Any, label: str, fixed: Mapping[str, Any] | None = None) -> None:
        super().__init__(dict(fixed or {}), label)
        self.spec = spec

    def _lookup(self, name: str) -> Any:
        from gnnnas.models.spec import LayerSpec

        spec = self.spec
        if name in self.recorded:
            return self.recorded[name]
        if name == "num_layers":
            return len(spec.layers)
        if name.startswith("training."):
            return getattr(spec.training, name.partition(".")[2])
        per_layer = _LAYER_PARAM.match(name)
        if per_layer:
            index, field = int(per_layer.group(1)), per_layer.group(2)
            return getattr(spec.layers[index], field)
        if name in LayerSpec.__dataclass_fields__:
            # One value shared by the layers where the dimension is active; the other layers keep
            # the field default, so the first value that differs from it is the shared one.
            default = LayerSpec.__dataclass_fields__[name].default
            return next((v for v in (getattr(layer, name) for layer in spec.layers) if v != default), default)
        return getattr(spec, name)

    def _get(self, name: str, ok: bool, value: Any, expected: str) -> Any:
        if not ok:
            raise SpaceError(f"{name} {value!r} is outside this space; expected {expected}", file=self.label)
        self.params[name] = value
        return value
