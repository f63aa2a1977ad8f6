"""Successive halving bounded by the candidates' budget: ASHA and Hyperband as their papers define them.

Asynchronous successive halving (Li et al., "A System for Massively Parallel
Hyperparameter Tuning", MLSys 2020) judges a candidate at rungs
``r, r*eta, r*eta**2, ...`` up to the maximum resource ``R``: at a rung it goes
on only if it is in the top ``1/eta`` of the candidates that reached it. A
rung is judged to decide promotion to the next one, so the top rung, the
largest ``r*eta**k <= R``, judges nobody: a candidate that reaches it has
finished. Optuna's pruners know no ``R`` and keep judging at ``r*eta**k`` past
it; with ``max_epochs`` 20 and ``r`` = 2 they stop two thirds of the
candidates reaching epoch 18, the ones closest to the best, to save their last
two epochs. Here a report at or past the top rung judges only the rungs below
it, and Hyperband's most conservative bracket (first rung = top rung) is plain
random search, as in Li et al., JMLR 2018.
"""

from __future__ import annotations

import datetime
import math
from typing import Callable

import optuna
from optuna.study import StudyDirection


def top_rung(min_resource: int, max_resource: int, reduction_factor: int, min_early_stopping_rate: int = 0) -> int:
    """The largest rung ``min_resource * reduction_factor**k`` (k >= the stopping rate) within ``max_resource``."""
    rung = min_resource * reduction_factor ** min_early_stopping_rate
    while rung * reduction_factor <= max_resource:
        rung *= reduction_factor
    return rung


#: System attrs of a trial judged at rung k: its value there (Optuna's key, so its tools read them) and,
#: for cost-matched comparisons, the seconds it had run when it got there.
RUNG_KEY = "completed_rung_"
RUNG_SECONDS_KEY = "gnnnas_rung_seconds_"


def promotable(value: float, competing: list[float], reduction_factor: int, maximize: bool) -> bool:
    """In the top ``1/reduction_factor`` of ``competing`` (which holds ``value``)? With fewer than
    ``reduction_factor`` values, only the best goes on (Optuna's rule for the first trials of a rung)."""
    k = max(1, len(competing) // reduction_factor)
    ranked = sorted(competing, reverse=maximize)
    return value >= ranked[k - 1] if maximize else value <= ranked[k - 1]


class BoundedSuccessiveHalvingPruner(optuna.pruners.SuccessiveHalvingPruner):
    """ASHA that never judges at or past its top rung (see the module docstring).

    ``cost_slack`` (None: off) matches comparisons by cost: at a rung a
    candidate is compared only with candidates that reached it within
    ``cost_slack`` times its own seconds. Under a per-candidate time limit the
    default space mixes candidates whose epochs cost 0.1 s (matrix
    factorisation) with stacks whose epochs cost 20 s; judged at the same
    epoch against all of them, a cheap candidate that has used a sliver of
    its budget is measured against ones that used all of theirs, and is
    pruned though it ends well (experiments/RESULTS.md). Matched, cheap
    candidates compete among cheap ones; a slow one still meets everyone at
    least as fast as itself.

    ``grace`` (0: off): a candidate is not stopped at a rung that fewer than
    ``grace`` earlier candidates reached. Judged against one to three others,
    "the top third" is "the best so far", and a study's first proposals (a
    sampler's random start-up draws) are cut at their first rung by whichever
    fast starter came first; the sampler then learns from their truncated
    values that slow-starting regions are bad and never returns to them.
    Its value still counts for the candidates after it.

    Rung values are stored as Optuna's pruner stores them (the trial's
    ``completed_rung_k`` system attrs), so studies and reports read the same.
    """

    def __init__(self, min_resource: int, max_resource: int, reduction_factor: int = 3,
                 min_early_stopping_rate: int = 0, cost_slack: float | None = None, grace: int = 0) -> None:
        super().__init__(min_resource=min_resource, reduction_factor=reduction_factor,
                         min_early_stopping_rate=min_early_stopping_rate)
        self.max_resource = max_resource
        self.top_rung = top_rung(min_resource, max_resource, reduction_factor, min_early_stopping_rate)
        self.cost_slack = cost_slack
        self.grace = grace
        self.clock: Callable[[], datetime.datetime] = datetime.datetime.now  # as Optuna stamps datetime_start

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        last = trial.last_step
        if last is None:
            return False
        value = trial.intermediate_values[last]
        # A report at or past the top rung may still be a slow candidate's first past lower rungs: those are
        # judged, with this value; the top rung is not.
        step = min(last, self.top_rung - 1)
        rung = sum(1 for key in trial.system_attrs if key.startswith(RUNG_KEY))
        # only cost-matched comparisons need when the trial got here (one more write per rung)
        seconds = ((self.clock() - trial.datetime_start).total_seconds()
                   if self.cost_slack is not None and trial.datetime_start else None)
        maximize = study.direction == StudyDirection.MAXIMIZE
        trials: list[optuna.trial.FrozenTrial] | None = None
        while step >= self._min_resource * self._reduction_factor ** (self._min_early_stopping_rate + rung):
            if math.isnan(value):
                return True
            if trials is None:
                trials = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
            key = f"{RUNG_KEY}{rung}"
            study._storage.set_trial_system_attr(trial._trial_id, key, value)
            if seconds is not None:
                study._storage.set_trial_system_attr(trial._trial_id, f"{RUNG_SECONDS_KEY}{rung}", seconds)
            competing = [t.system_attrs[key] for t in trials
                         if key in t.system_attrs and self._comparable(t, rung, seconds)]
            if len(competing) >= self.grace and not promotable(value, [*competing, value], self._reduction_factor,
                                                               maximize):
                return True
            rung += 1
        return False

    def _comparable(self, other: optuna.trial.FrozenTrial, rung: int, seconds: float | None) -> bool:
        if seconds is None:  # not matching by cost
            return True
        theirs = other.system_attrs.get(f"{RUNG_SECONDS_KEY}{rung}")
        return theirs is None or theirs <= seconds * self.cost_slack


class BoundedHyperbandPruner(optuna.pruners.HyperbandPruner):
    """Optuna's Hyperband (its brackets and trial allocation) with bounded brackets."""

    def __init__(self, min_resource: int, max_resource: int, reduction_factor: int = 3) -> None:
        super().__init__(min_resource=min_resource, max_resource=max_resource, reduction_factor=reduction_factor)

    def _try_initialization(self, study: optuna.Study) -> None:
        super()._try_initialization(study)
        self._pruners = [BoundedSuccessiveHalvingPruner(self._min_resource, self._max_resource, self._reduction_factor,
                                                        min_early_stopping_rate=bracket)
                         for bracket in range(len(self._pruners))]
