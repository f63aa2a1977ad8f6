"""``cost_aware``: pruning across trials of a multi-objective (quality vs. cost) search.

Optuna's pruners rank a trial's intermediate value against other trials' and
refuse studies with several objectives: a low quality is no reason to stop a
candidate that is much cheaper than the trials beating it, since it can still
land on the Pareto front. This rule compares like with like.

The rule
--------
At every evaluation from the warm-up epoch on (the first rung,
:func:`gnnnas.search.pruners.first_rung`), let ``q`` be the candidate's best
validation value so far and ``c`` its cost vector (the study's cost
objectives, measured when the model was built, before training: they do not
depend on the weights). Its *peers* are the other trials that cost no more
than ``c * (1 + cost_tolerance)`` on every cost objective. The candidate is
pruned when some peer had, by the same epoch, a best value of at least
``q * (1 + margin)``.

Why it is safe enough
---------------------
A candidate reaches the front only if no trial that costs as little or less
ends with as good a quality. A peer that was already clearly better at the
same epoch is such a trial unless the candidate catches up; learning curves
of these models rarely cross by more than a few percent after the warm-up
(the same bet ASHA makes on a single objective), hence the ``margin``. A
peer's value "by epoch e" is the best it had reached at or before ``e``: for
a peer that stopped earlier (early stopping, or pruned) that is a lower bound
on what it would have had, so the test stays conservative. A candidate
cheaper than every trial so far has no peers and is never pruned: the cheap
end of the front is always explored. Peers are read from the study, running
trials of other workers included (their curves so far are in their ``curve``
user attr).

Expensive-but-better candidates are never pruned by cheaper worse ones, and
cheap candidates are never pruned by expensive better ones: only dominance
at equal training time counts.
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from gnnnas.search.objectives import Objectives, study_objectives


def best_by(curve: list, epoch: float) -> float | None:
    """The best value of ``[[epoch, value], ...]`` at or before ``epoch``; None when there is none."""
    values = [float(v) for e, v in curve if float(e) <= epoch and v == v]  # v == v: not NaN
    return max(values) if values else None


class CostAwarePruner(optuna.pruners.BasePruner):
    """Prune a candidate that a cheaper-or-equal trial already beat clearly at the same epoch (see module doc).

    Called by :class:`gnnnas.search.objective.TrialRunner` with the candidate
    as stored (its ``curve`` so far and its cost attrs); Optuna itself never
    calls pruners of multi-objective studies.
    """

    def __init__(self, warmup_epochs: int = 1, margin: float = 0.05, cost_tolerance: float = 0.1,
                 objectives: Objectives | None = None) -> None:
        self.warmup_epochs = warmup_epochs
        self.margin = margin
        self.cost_tolerance = cost_tolerance
        self.objectives = objectives  # None: read from the study's attrs

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return self.dominating_peer(study, trial) is not None

    def dominating_peer(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> int | None:
        """The number of a peer that justifies pruning ``trial`` now, else None."""
        curve = trial.user_attrs.get("curve") or []
        if not curve:
            return None
        epoch = float(curve[-1][0])
        if epoch < self.warmup_epochs:
            return None
        objectives = self.objectives or study_objectives(study)
        cost = objectives.cost_vector(trial.user_attrs)
        mine = best_by(curve, epoch)
        if cost is None or mine is None:
            return None
        bar = mine + abs(mine) * self.margin
        limit = [c * (1 + self.cost_tolerance) for c in cost]
        for peer in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                             TrialState.RUNNING)):
            if peer.number == trial.number or peer.user_attrs.get("reused_from") is not None:
                continue
            peer_cost = objectives.cost_vector(peer.user_attrs)
            if peer_cost is None or any(p > l for p, l in zip(peer_cost, limit)):
                continue
            theirs = best_by(peer.user_attrs.get("curve") or [], epoch)
            if theirs is not None and theirs > mine and theirs >= bar:
                return peer.number
        return None
