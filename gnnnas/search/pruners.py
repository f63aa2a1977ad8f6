"""Pruners by name: what stops an unpromising candidate early.

The search reports the validation metric after every evaluation and asks the
pruner whether to stop; candidates of multi-fidelity controllers
(``Suggestion.prunable`` False) are never pruned. What a pruner's steps count
is the :class:`Resource`: epochs, or, with ``--prune-by seconds`` (which needs
a training time budget per candidate, ``--trial-timeout``), milliseconds of
its training. Optuna's pruners
judge one objective; multi-objective searches use ``cost_aware``
(:mod:`gnnnas.search.cost_pruner`, their default) or ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import optuna

from gnnnas.search.asha import BoundedHyperbandPruner, BoundedSuccessiveHalvingPruner, top_rung


#: What the rungs count: ``--prune-by``.
PRUNE_BY = ("epochs", "seconds")

#: Successive halving's (ASHA, Hyperband) reduction factor: a third of the candidates go on at each rung.
REDUCTION = 3

#: ASHA's grace: no candidate is stopped at a rung that fewer than this many earlier candidates reached.
#: It is TPE's number of random start-up draws (Optuna's default, which gnnnas keeps): its model is built
#: from them, and a start-up draw cut at epoch 2 by whichever fast starter came first teaches it that a
#: slow-starting region is bad (experiments/RESULTS.md, "ASHA's grace").
ASHA_GRACE = 10


@dataclass(frozen=True)
class Resource:
    """What a candidate spends, as the pruners count it.

    By default the steps are epochs. Pruning by seconds (``trial_timeout``
    set: each candidate's time budget) they are milliseconds of its training
    (evaluations included, as the limit counts them): a search space mixes
    candidates whose epochs cost 0.1 s (matrix factorisation) with attention
    stacks whose epochs cost 20 s, and compared at the same epoch the cheap
    ones are judged after a sliver of the time the slow ones used, so the
    pruner stops exactly the candidates that fit many epochs into the budget.
    Compared at the same training time, each is judged at equal cost.

    The catch, measured (experiments/RESULTS.md): a tenth of a time budget is
    early in a candidate's learning, when graph stacks already rank about as
    well as popularity and matrix factorisation has barely moved, so early
    time rungs can favour the plateau; hence epochs stay the default.
    """

    max_epochs: int
    eval_every: int = 1
    trial_timeout: float | None = None  # seconds of training per candidate when pruning by seconds, else None

    @property
    def timed(self) -> bool:
        return self.trial_timeout is not None

    @property
    def unit(self) -> str:
        return "ms" if self.timed else "epoch"

    def step(self, epoch: int, seconds: float) -> int:
        """The pruner step of an evaluation after ``epoch`` epochs and ``seconds`` of training."""
        return max(1, round(seconds * 1000)) if self.timed else epoch

    @property
    def max_resource(self) -> int:
        return max(1, round(self.trial_timeout * 1000)) if self.timed else max(self.max_epochs, self.eval_every)

    @property
    def first_rung(self) -> int:
        """The earliest step a pruner judges a candidate: a tenth of the budget (on an evaluation epoch).

        Curves of GNN recommenders cross a lot in the first epochs; judging at
        epoch 1 of 50 would prune slow starters that end up best.
        """
        if self.timed:
            return max(1, self.max_resource // 10)
        return first_rung(self.max_epochs, self.eval_every)

    def rungs(self) -> list[int]:
        """The steps successive halving judges at: first_rung * REDUCTION**k while the next rung is within
        the budget (the top rung judges nobody: :mod:`gnnnas.search.asha`)."""
        top, steps, step = top_rung(self.first_rung, self.max_resource, REDUCTION), [], self.first_rung
        while step < top:
            steps.append(step)
            step *= REDUCTION
        return steps

    def describe(self, step: int) -> str:
        return f"{step / 1000:g} s of training" if self.timed else f"epoch {step}"


def first_rung(max_epochs: int, eval_every: int) -> int:
    """The first epoch rung: a tenth of ``max_epochs``, on an evaluation epoch."""
    max_epochs, eval_every = max(1, max_epochs), max(1, eval_every)
    rung = max(eval_every, max_epochs // 10)
    return min(max_epochs, -(-rung // eval_every) * eval_every)


@dataclass(frozen=True)
class PrunerInfo:
    name: str
    description: str
    factory: Callable[[Resource], optuna.pruners.BasePruner]
    single: bool = True  # works for single-objective searches
    multi: bool = False  # works for multi-objective searches
    by_time: bool = True  # compares candidates at equal training time when they have a time limit

    def make(self, resource: Resource) -> optuna.pruners.BasePruner:
        return self.factory(resource)


def _median(r: Resource) -> optuna.pruners.BasePruner:
    if r.timed:  # Optuna's median compares values at the very same step, which timed steps never share
        from gnnnas.search.time_median import ElapsedMedianPruner
        return ElapsedMedianPruner(n_startup_trials=3, n_warmup_steps=r.first_rung)
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=r.first_rung)


def _asha(r: Resource) -> optuna.pruners.BasePruner:
    # Rung values are recorded at the first report at or past each rung, so steps need not line up.
    return BoundedSuccessiveHalvingPruner(min_resource=r.first_rung, max_resource=r.max_resource,
                                          reduction_factor=REDUCTION, grace=ASHA_GRACE)


#: ``asha_matched``: a candidate meets, at a rung, the candidates that got there within this many times its seconds.
COST_SLACK = 1.5


def _asha_matched(r: Resource) -> optuna.pruners.BasePruner:
    return BoundedSuccessiveHalvingPruner(min_resource=r.first_rung, max_resource=r.max_resource,
                                          reduction_factor=REDUCTION, cost_slack=COST_SLACK, grace=ASHA_GRACE)


def _hyperband(r: Resource) -> optuna.pruners.BasePruner:
    return BoundedHyperbandPruner(min_resource=r.first_rung, max_resource=r.max_resource, reduction_factor=REDUCTION)


def _cost_aware(r: Resource) -> optuna.pruners.BasePruner:
    # It compares curves by epoch (the ``curve`` attr), with or without a time limit.
    from gnnnas.search.cost_pruner import CostAwarePruner
    return CostAwarePruner(warmup_epochs=first_rung(r.max_epochs, r.eval_every))


PRUNERS: dict[str, PrunerInfo] = {p.name: p for p in (
    PrunerInfo("asha", "asynchronous successive halving: at r, 3r, 9r ... while 3x the rung fits in max_epochs "
                       "(r = a tenth of it, or of --trial-timeout's training seconds with --prune-by seconds) keep "
                       f"the top third of candidates, once {ASHA_GRACE} have reached the rung",
               _asha),
    PrunerInfo("asha_matched", "asha with comparisons matched by cost: at a rung a candidate meets only those that "
                               f"got there within {COST_SLACK:g}x its training seconds, so candidates whose epochs "
                               "cost 0.1 s are judged among themselves, not against 20 s epochs of slow stacks",
               _asha_matched),
    PrunerInfo("median", "stop a candidate below the median of earlier candidates at the same epoch (or training "
                         "time, with --trial-timeout), after 3 candidates and a warm-up", _median),
    PrunerInfo("hyperband", "Hyperband: several successive-halving brackets up to max_epochs (or --trial-timeout)",
               _hyperband),
    PrunerInfo("cost_aware", "multi-objective searches (the default there): stop a candidate when a trial that "
                             "costs no more was clearly better at the same epoch",
               _cost_aware, single=False, multi=True, by_time=False),
    PrunerInfo("none", "never prune: every candidate trains until early stopping or max_epochs",
               lambda r: optuna.pruners.NopPruner(), multi=True, by_time=False),
)}

DEFAULT_PRUNER = "asha_matched"
DEFAULT_MULTI_PRUNER = "cost_aware"


def default_pruner(multi_objective: bool) -> str:
    return DEFAULT_MULTI_PRUNER if multi_objective else DEFAULT_PRUNER


def make_pruner(name: str, resource: Resource) -> optuna.pruners.BasePruner:
    """The pruner registered as ``name``, counting steps in ``resource``'s unit."""
    return PRUNERS[name].make(resource)
