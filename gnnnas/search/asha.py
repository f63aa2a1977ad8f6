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

import copy

import optuna


def top_rung(min_resource: int, max_resource: int, reduction_factor: int, min_early_stopping_rate: int = 0) -> int:
    """The largest rung ``min_resource * reduction_factor**k`` (k >= the stopping rate) within ``max_resource``."""
    rung = min_resource * reduction_factor ** min_early_stopping_rate
    while rung * reduction_factor <= max_resource:
        rung *= reduction_factor
    return rung


class BoundedSuccessiveHalvingPruner(optuna.pruners.SuccessiveHalvingPruner):
    """ASHA that never judges at or past its top rung (see the module docstring).

    Rung values are stored as Optuna's pruner stores them (the trial's
    ``completed_rung_k`` system attrs), so studies and reports read the same.
    """

    def __init__(self, min_resource: int, max_resource: int, reduction_factor: int = 3,
                 min_early_stopping_rate: int = 0) -> None:
        super().__init__(min_resource=min_resource, reduction_factor=reduction_factor,
                         min_early_stopping_rate=min_early_stopping_rate)
        self.max_resource = max_resource
        self.top_rung = top_rung(min_resource, max_resource, reduction_factor, min_early_stopping_rate)

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.top_rung:
            return super().prune(study, trial)
        # A report at or past the top rung may still be a slow candidate's first past lower rungs: judge
        # those, with this value, as if it came just below the top rung.
        view = copy.copy(trial)
        view.intermediate_values = {s: v for s, v in trial.intermediate_values.items() if s < self.top_rung - 1}
        view.intermediate_values[self.top_rung - 1] = trial.intermediate_values[step]
        return super().prune(study, view)


class BoundedHyperbandPruner(optuna.pruners.HyperbandPruner):
    """Optuna's Hyperband (its brackets and trial allocation) with bounded brackets."""

    def __init__(self, min_resource: int, max_resource: int, reduction_factor: int = 3) -> None:
        super().__init__(min_resource=min_resource, max_resource=max_resource, reduction_factor=reduction_factor)

    def _try_initialization(self, study: optuna.Study) -> None:
        super()._try_initialization(study)
        self._pruners = [BoundedSuccessiveHalvingPruner(self._min_resource, self._max_resource, self._reduction_factor,
                                                        min_early_stopping_rate=bracket)
                         for bracket in range(len(self._pruners))]
