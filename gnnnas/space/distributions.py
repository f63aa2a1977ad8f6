"""The value sets a dimension draws from: fixed, categorical, integer range, float range.

Each distribution knows how to ask a trial for a value (Optuna's
``suggest_*`` API), which values it can produce, and how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable


@runtime_checkable
class TrialLike(Protocol):
    """What :meth:`SearchSpace.sample` needs from a trial: the three ``suggest_*`` methods of Optuna's API."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int: ...

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float: ...


@dataclass(frozen=True)
class Fixed:
    """A single value; never suggested, so it never appears in a trial's parameters."""

    value: Any
    kind = "fixed"

    def suggest(self, trial: TrialLike, name: str) -> Any:
        return self.value

    def values(self) -> Sequence[Any]:
        return (self.value,)

    def size(self) -> int:
        return 1

    def describe(self) -> str:
        return f"{self.value!r}" if isinstance(self.value, str) else f"{self.value:g}"


@dataclass(frozen=True)
class Categorical:
    """One of ``choices``."""

    choices: tuple[Any, ...]
    kind = "categorical"

    def suggest(self, trial: TrialLike, name: str) -> Any:
        return trial.suggest_categorical(name, self.choices)

    def values(self) -> Sequence[Any]:
        return self.choices

    def size(self) -> int:
        return len(self.choices)

    def describe(self) -> str:
        return "{" + ", ".join(c if isinstance(c, str) else f"{c:g}" for c in self.choices) + "}"


@dataclass(frozen=True)
class IntRange:
    """An integer in ``[low, high]`` on a grid of ``step`` (``log``: log-uniform, step 1)."""

    low: int
    high: int
    step: int = 1
    log: bool = False
    kind = "int"

    def suggest(self, trial: TrialLike, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def values(self) -> range:
        return range(self.low, self.high + 1, self.step)

    def size(self) -> int:
        return len(self.values())

    def describe(self) -> str:
        extra = (f" step {self.step}" if self.step != 1 else "") + (" log" if self.log else "")
        return f"{self.low}..{self.high}{extra}"


@dataclass(frozen=True)
class FloatRange:
    """A float in ``[low, high]`` (``log``: log-uniform). Continuous: counted as one value."""

    low: float
    high: float
    log: bool = False
    kind = "float"

    def suggest(self, trial: TrialLike, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def values(self) -> None:
        return None  # continuous

    def size(self) -> int:
        return 1  # see SearchSpace.count: continuous dimensions count once

    def describe(self) -> str:
        return f"{self.low:g}..{self.high:g}{' log' if self.log else ''}"


Distribution = Fixed | Categorical | IntRange | FloatRange
