"""What a search optimises: one quality metric, optionally cost objectives, optionally cost limits.

``--objectives ndcg@20,latency`` makes a multi-objective study: the first
objective is a validation metric (maximised), the others are cost measures
(minimised) that every trial records in its user attrs (see
:mod:`gnnnas.search.objective`). ``--max-latency-ms`` and ``--max-params``
are constraints: each trial records ``cost - limit`` with Optuna's
``Trial.set_constraint`` (``<= 0``: feasible; Optuna 5 deprecates the
samplers' ``constraints_func`` for it), which the samplers, the leaderboard
and the choice of ``best/`` read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import optuna

from gnnnas.errors import GnnnasError


@dataclass(frozen=True)
class CostMeasure:
    """A cost objective: its ``--objectives`` name, the trial user attr holding it, its axis label."""

    name: str
    attr: str
    label: str


#: Cost objectives by ``--objectives`` name (all minimised).
COSTS: dict[str, CostMeasure] = {c.name: c for c in (
    CostMeasure("params", "params", "parameters"),
    CostMeasure("size", "size_bytes", "exported size (bytes)"),
    CostMeasure("latency", "latency_ms", "top-K latency (ms)"),
)}
#: Every cost measure a trial records, whatever the study optimises.
COST_ATTRS = tuple(c.attr for c in COSTS.values())


@dataclass(frozen=True)
class Objectives:
    """A quality metric (maximised) and zero or more cost objectives (minimised)."""

    metric: str
    costs: tuple[str, ...] = ()

    @property
    def multi(self) -> bool:
        return bool(self.costs)

    @property
    def names(self) -> list[str]:
        """The ``--objectives`` spelling, e.g. ``["ndcg@20", "latency"]``."""
        return [self.metric, *self.costs]

    @property
    def directions(self) -> list[str]:
        return ["maximize"] + ["minimize"] * len(self.costs)

    @property
    def cost_attrs(self) -> list[str]:
        return [COSTS[c].attr for c in self.costs]

    @property
    def labels(self) -> list[str]:
        """Metric names stored in the study (shown by the report and Optuna's tools)."""
        return [f"validation {self.metric}", *(COSTS[c].label for c in self.costs)]

    def values(self, quality: float, attrs: dict) -> list[float]:
        """The values told to Optuna: ``quality`` and the trial's recorded costs."""
        return [float(quality), *(float(attrs[a]) for a in self.cost_attrs)]

    def cost_vector(self, attrs: dict) -> list[float] | None:
        """The trial's cost objectives from its user attrs; None when one is missing."""
        out = [attrs.get(a) for a in self.cost_attrs]
        return None if any(v is None for v in out) else [float(v) for v in out]


def parse_objectives(text: str | Sequence[str], check_metric) -> Objectives:
    """``"ndcg@20,latency"`` -> :class:`Objectives`; ``check_metric`` validates the quality metric."""
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else list(text))]
    shown = ",".join(parts)
    if not parts or any(not p for p in parts):
        raise GnnnasError(f"--objectives {shown!r}: expected METRIC,COST[,COST], e.g. ndcg@20,latency")
    seen = set()
    for p in parts:
        if p in seen:
            raise GnnnasError(f"--objectives {shown!r}: {p!r} is repeated; name each objective once")
        seen.add(p)
    quality = [p for p in parts if p not in COSTS]
    costs = tuple(p for p in parts if p in COSTS)
    if not quality:
        raise GnnnasError(f"--objectives {shown!r}: no quality metric; expected a validation metric first, "
                          f"e.g. ndcg@20,{parts[0]}")
    if len(quality) > 1 or parts[0] != quality[0]:
        bad = quality[1] if len(quality) > 1 and parts[0] == quality[0] else quality[0]
        try:
            check_metric(bad)
            why = "one quality metric, first"
        except GnnnasError:
            why = f"unknown objective; costs are {', '.join(COSTS)}"
        raise GnnnasError(f"--objectives {shown!r}: {bad!r}: {why} (expected METRIC,COST[,COST], "
                          "e.g. ndcg@20,latency)")
    try:
        metric = check_metric(quality[0])
    except GnnnasError:
        raise GnnnasError(f"--objectives {shown!r}: {quality[0]!r} is not a metric NAME@K (e.g. ndcg@20) "
                          f"nor a cost ({', '.join(COSTS)})") from None
    if not costs:
        raise GnnnasError(f"--objectives {shown!r}: no cost objective; add one of {', '.join(COSTS)} "
                          "(or use --metric for a single-objective search)")
    return Objectives(metric, costs)


@dataclass(frozen=True)
class Constraints:
    """Upper limits on a trial's costs; a trial over a limit is infeasible (never ranked first, never exported)."""

    max_latency_ms: float | None = None
    max_params: int | None = None

    #: limit field -> the trial user attr it bounds
    ATTRS = {"max_latency_ms": "latency_ms", "max_params": "params"}

    def __bool__(self) -> bool:
        return any(getattr(self, f) is not None for f in self.ATTRS)

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.ATTRS if getattr(self, f) is not None}

    @classmethod
    def from_dict(cls, record: dict | None) -> "Constraints":
        return cls(**{k: v for k, v in (record or {}).items() if k in cls.ATTRS})

    def check(self) -> "Constraints":
        for f in self.ATTRS:
            v = getattr(self, f)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                                  or v <= 0):
                raise GnnnasError(f"--{f.replace('_', '-')} {v!r}: expected a number > 0")
        return self

    def values(self, attrs: dict) -> dict[str, float]:
        """Constraint values from a trial's user attrs: ``cost - limit`` per limit (``<= 0`` is feasible).

        A trial without the measure (it failed before measuring) counts as violating it.
        """
        out = {}
        for f, attr in self.ATTRS.items():
            limit = getattr(self, f)
            if limit is not None:
                v = attrs.get(attr)
                out[f] = float(v) - float(limit) if v is not None else math.inf
        return out

    def record(self, trial: optuna.Trial, attrs: dict) -> None:
        """Store the constraint values on the running trial (Optuna's ``Trial.set_constraint``): the samplers
        (constrained TPE and NSGA-II), ``study.best_trials``, the leaderboard and the report read them."""
        for key, value in self.values(attrs).items():
            trial.set_constraint(key, value)

    def feasible_attrs(self, attrs: dict) -> bool:
        """Feasibility of a trial from its user attrs."""
        return all(v <= 0 for v in self.values(attrs).values())


def is_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    """Optuna's verdict from the constraint values it stored (a trial without any is feasible)."""
    return all(v <= 0 for v in trial.constraints.values())


def penalty(trial: optuna.trial.FrozenTrial) -> float:
    """Total constraint violation, as constrained NSGA-II counts it (0: feasible)."""
    return float(sum(max(0.0, v) for v in trial.constraints.values()))


def study_objectives(study: optuna.Study) -> Objectives:
    """The objectives recorded in a study's user attrs (a study before multi-objective search: its metric)."""
    attrs = study.user_attrs
    names = attrs.get("objectives")
    metric = str(attrs.get("metric", "ndcg@20"))
    if names and len(names) > 1:
        return Objectives(str(names[0]), tuple(str(n) for n in names[1:]))
    return Objectives(metric)


def quality(trial: optuna.trial.FrozenTrial) -> float | None:
    """The told quality value (first objective) of a COMPLETE trial, single- or multi-objective."""
    values = trial.values
    return float(values[0]) if values else None
