"""The value sets a dimension draws from: fixed, categorical, ordered sizes, integer range, float range.

Each distribution knows how to ask a trial for a value (Optuna's
``suggest_*`` API), which values it can produce, and how many.
"""

from __future__ import annotations

import math
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
class OrderedChoices(Categorical):
    """One of a geometric ladder of sizes (``{choices: [32, 64, 128], ordered: true}``), asked on a log scale.

    A categorical choice tells the sampler nothing about order: TPE's kernel
    for an unordered choice puts no weight on the neighbouring sizes, so a
    short search tends to keep the size of its first good trial. Asked as an
    integer on a log scale, one bin per choice (from half a step below the
    smallest to half a step above the largest) and snapped to the nearest
    choice, the sizes are the ordered quantity they are to the sampler, and a
    uniform draw still picks each choice about equally often. The trial
    records the integer drawn (48 stands for the size 64; the architecture
    holds 64), and each size lies in its own bin, so presets and fixed values
    are enqueued as themselves. Opt-in: on the bundled spaces it measured
    worse than plain choices (experiments/RESULTS.md, "Ordered sizes").
    """

    kind = "ordered"

    @staticmethod
    def applies(choices: tuple[Any, ...]) -> bool:
        """Three or more positive integers, each the same multiple (> 1) of the one before."""
        if len(choices) < 3 or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in choices):
            return False
        ratios = [b / a for a, b in zip(choices, choices[1:])]
        return ratios[0] > 1 and all(math.isclose(r, ratios[0], rel_tol=1e-9) for r in ratios)

    @property
    def bounds(self) -> tuple[int, int]:
        """The integer range asked for: half a ladder step below the smallest size to half above the largest."""
        half = math.sqrt(self.choices[1] / self.choices[0])
        return max(1, round(self.choices[0] / half)), round(self.choices[-1] * half)

    def snap(self, value: int) -> int:
        """The choice nearest ``value`` on a log scale."""
        return min(self.choices, key=lambda c: abs(math.log(c) - math.log(max(value, 1))))

    def suggest(self, trial: TrialLike, name: str) -> Any:
        low, high = self.bounds
        try:
            value = trial.suggest_int(name, low, high, log=True)
        except ValueError:
            if not hasattr(trial, "study"):
                raise
            # The study recorded this field as a plain choice (its space said so then), and Optuna
            # keeps a parameter's kind for the whole study.
            return trial.suggest_categorical(name, self.choices)
        return self.snap(value)


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


Distribution = Fixed | Categorical | OrderedChoices | IntRange | FloatRange
