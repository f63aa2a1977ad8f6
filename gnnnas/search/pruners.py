"""Pruners by name: what stops an unpromising candidate early.

The search reports the validation metric after every evaluation (step =
epoch) and asks the pruner whether to stop; candidates of multi-fidelity
controllers (``Suggestion.prunable`` False) are never pruned. Optuna's
pruners judge one objective; multi-objective searches use ``cost_aware``
(:mod:`gnnnas.search.cost_pruner`, their default) or ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import optuna


@dataclass(frozen=True)
class PrunerInfo:
    name: str
    description: str
    factory: Callable[[int, int], optuna.pruners.BasePruner]  # (max_epochs, eval_every) -> pruner
    single: bool = True  # works for single-objective searches
    multi: bool = False  # works for multi-objective searches

    def make(self, max_epochs: int, eval_every: int = 1) -> optuna.pruners.BasePruner:
        return self.factory(max(1, max_epochs), max(1, eval_every))


def first_rung(max_epochs: int, eval_every: int) -> int:
    """The earliest epoch a pruner judges a candidate: a tenth of the budget, on an evaluation epoch.

    Curves of GNN recommenders cross a lot in the first epochs; judging at
    epoch 1 of 50 would prune slow starters that end up best.
    """
    rung = max(eval_every, max_epochs // 10)
    return min(max_epochs, -(-rung // eval_every) * eval_every)


def _median(max_epochs: int, eval_every: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=first_rung(max_epochs, eval_every))


def _asha(max_epochs: int, eval_every: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=first_rung(max_epochs, eval_every), reduction_factor=3)


def _hyperband(max_epochs: int, eval_every: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.HyperbandPruner(min_resource=first_rung(max_epochs, eval_every),
                                          max_resource=max(max_epochs, eval_every), reduction_factor=3)


def _cost_aware(max_epochs: int, eval_every: int) -> optuna.pruners.BasePruner:
    from gnnnas.search.cost_pruner import CostAwarePruner
    return CostAwarePruner(warmup_epochs=first_rung(max_epochs, eval_every))


PRUNERS: dict[str, PrunerInfo] = {p.name: p for p in (
    PrunerInfo("asha", "asynchronous successive halving: at epochs r, 3r, 9r ... (r = max_epochs / 10) keep "
                       "the top third of candidates (the default)", _asha),
    PrunerInfo("median", "stop a candidate below the median of earlier candidates at the same epoch "
                         "(after 3 candidates and a warm-up)", _median),
    PrunerInfo("hyperband", "Hyperband: several successive-halving brackets up to max_epochs", _hyperband),
    PrunerInfo("cost_aware", "multi-objective searches (the default there): stop a candidate when a trial that "
                             "costs no more was clearly better at the same epoch",
               _cost_aware, single=False, multi=True),
    PrunerInfo("none", "never prune: every candidate trains until early stopping or max_epochs",
               lambda max_epochs, eval_every: optuna.pruners.NopPruner(), multi=True),
)}

DEFAULT_PRUNER = "asha"
DEFAULT_MULTI_PRUNER = "cost_aware"


def default_pruner(multi_objective: bool) -> str:
    return DEFAULT_MULTI_PRUNER if multi_objective else DEFAULT_PRUNER


def make_pruner(name: str, max_epochs: int, eval_every: int = 1) -> optuna.pruners.BasePruner:
    """The pruner registered as ``name`` for candidates trained up to ``max_epochs``."""
    return PRUNERS[name].make(max_epochs, eval_every)
