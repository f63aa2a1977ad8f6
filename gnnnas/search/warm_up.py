"""Warm-up: the first share of a search's budget stays in a sub-space of the space.

A broad space holds the field's strong simple baselines (LightGCN is a point
of the default space), but a sampler spread over two dozen dimensions may
never draw their good region: TPE's first good trials decide where it looks,
and on some data those are designs that start fast and end low
(experiments/RESULTS.md, "Default space vs. LightGCN space"). A space's
``search.warm_up: {space: lightgcn, share: 0.4}`` therefore spends the first
40% of the budget (trials, and seconds when the search has a timeout) on the
points of this space that the sub-space holds: every parameter the sub-space
fixes (aggregators, scoring, norms, dropout ...) is fixed at its value, and
the parameters it varies (depth, width, learning rate, L2) are left to the
controller, over this space's ranges. Each warm-up trial is queued
(``study.enqueue_trial`` with those fixed parameters) just before it is
asked for, so the controller proposes the rest as for any trial, and warm-up
trials are ordinary trials of the study: pruned, ranked and learnt from like
the others once the whole space opens.

The plan (sub-space label, share, fixed parameters) is resolved when a study
is created and stored with it, so workers that join need not find the
sub-space's file. Only controllers that take fixed first trials (the Optuna
ones) warm up, as for the initial design.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import optuna
from optuna.trial import TrialState

from gnnnas.errors import GnnnasError
from gnnnas.models.spec import ArchSpec
from gnnnas.search.budget import recorded
from gnnnas.search.controllers.base import Controller
from gnnnas.search.initial import INITIAL_ATTR, WARM_UP_ATTR
from gnnnas.space import SearchSpace
from gnnnas.space.settings import WarmUp
from gnnnas.space.source import SpaceError


@dataclass(frozen=True)
class WarmUpPlan:
    """A resolved :class:`~gnnnas.space.settings.WarmUp`: what a warm-up trial fixes, for how long."""

    space: str  # how leaderboards name the sub-space
    share: float
    params: Mapping[str, Any] = field(default_factory=dict)  # trial parameter -> fixed value

    def to_dict(self) -> dict:
        return {"space": self.space, "share": self.share, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> WarmUpPlan | None:
        return None if not d else cls(d["space"], float(d["share"]), dict(d["params"]))


#: The share of ``--warm-up SPACE`` without one, when the space sets no warm-up of its own.
DEFAULT_SHARE = 0.4


class _Corner:
    """A trial-like that draws the first choice and the low end of every range, but the deepest stack."""

    def suggest_categorical(self, name: str, choices):
        return choices[0]

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        return high if name == "num_layers" else low

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        return low


def _varies(space: SearchSpace, name: str) -> bool:
    values = space.dimension(name).distribution.values()
    return values is None or len(set(values)) > 1


def _field_of(param: str) -> str:
    """``layer2.aggregator`` -> ``aggregator``, ``training.lr`` -> ``lr``."""
    return param.rsplit(".", 1)[-1]


def fixed_params(space: SearchSpace, sub: SearchSpace) -> dict[str, Any]:
    """The parameters of ``space`` that every point of ``sub`` shares, with their values.

    Raises :class:`SpaceError` when ``sub`` fixes a field at a value ``space``
    cannot take (it is then no sub-space). Per-layer values are fixed for
    every depth ``space`` allows, the deepest layer's repeated.
    """
    if sub.presets or not sub.searched:
        raise SpaceError("a warm-up space lists no presets; expected a space of dimensions only", file=sub.label)
    free = {d.name for d in sub.dimensions if _varies(sub, d.name)}
    spec: ArchSpec = sub.sample(_Corner())
    deepest = max(space.dimension("num_layers").distribution.values())
    if spec.layers and len(spec.layers) < deepest:
        spec = replace(spec, layers=spec.layers + (spec.layers[-1],) * (deepest - len(spec.layers)))
    params = space.params_of(spec)
    return {k: v for k, v in params.items() if _field_of(k) not in free}


def resolve_warm_up(requested: str | None, space: SearchSpace, controller: Controller) -> WarmUpPlan | None:
    """What to warm up in: ``requested`` (``"SPACE[:SHARE]"`` or ``"none"``) or else the space's ``search.warm_up``.

    An explicit request the controller cannot honour is an error; the
    space's own warm-up is skipped for controllers that propose every trial.
    """
    from gnnnas.space import load_space

    if requested is None:
        warm = space.search.warm_up
        if warm is None or not controller.initial_design:
            return None
        where = f"space {space.label}: search.warm_up"
    else:
        text = str(requested).strip()
        if text == "none":
            return None
        name, _, share_text = text.partition(":")
        try:
            share = float(share_text) if share_text else (space.search.warm_up.share if space.search.warm_up
                                                          else DEFAULT_SHARE)
        except ValueError:
            share = math.nan
        if not name or not 0 < share < 1:
            raise GnnnasError(f"--warm-up {text!r}: expected SPACE[:SHARE] with 0 < SHARE < 1, or none")
        if not controller.initial_design:
            raise GnnnasError(f"--warm-up {text}: controller {controller.name} proposes every trial itself; "
                              "use an optuna-* controller or --warm-up none")
        warm, where = WarmUp(name, share), f"--warm-up {text}"
    target = warm.space
    if space.path is not None and not Path(target).is_absolute() and ("/" in target or target.endswith(".yaml")):
        beside = space.path.parent / target  # a file next to the space's own file
        if beside.is_file():
            target = str(beside)
    try:
        sub = load_space(target)
    except GnnnasError as err:  # no such space, or a file that does not parse
        raise GnnnasError(f"{where}: {err}") from None
    try:
        params = fixed_params(space, sub)
    except SpaceError as err:
        raise GnnnasError(f"{where}: {warm.space!r} is not a sub-space of {space.name}: {err.problem}") from None
    return WarmUpPlan(sub.name, warm.share, params)


class WarmUpPhase:
    """Queues a warm-up trial before each ask while the warm-up lasts.

    It lasts while fewer than ``share`` of ``total`` trials are finished or
    running, with a ``timeout`` for the first ``share`` of its seconds, and
    only while every trial of the study is an initial-design or warm-up
    trial: once the controller has proposed from the whole space, a resumed
    search or a joining worker does not go back. Call :meth:`before_ask`
    where the budget is claimed (under its lock).
    """

    def __init__(self, plan: WarmUpPlan, total: int, timeout: float | None) -> None:
        self.plan = plan
        self.trials = math.ceil(plan.share * total)
        self.until = time.monotonic() + plan.share * timeout if timeout is not None else None

    def active(self, study: optuna.Study) -> bool:
        if self.until is not None and time.monotonic() >= self.until:
            return False
        started = recorded(study)
        return len(started) < self.trials and all(
            t.user_attrs.get(WARM_UP_ATTR) or t.user_attrs.get(INITIAL_ATTR) for t in started)

    def before_ask(self, study: optuna.Study) -> None:
        """Queue one warm-up trial, unless one is queued already (the initial design's go first)."""
        if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)) or not self.active(study):
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.enqueue_trial(dict(self.plan.params), user_attrs={WARM_UP_ATTR: self.plan.space})
