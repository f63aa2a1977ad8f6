"""The median stopping rule on a time axis (``--pruner median`` with ``--trial-timeout``).

Optuna's :class:`~optuna.pruners.MedianPruner` compares a trial's best value
with other trials' values *at the same step*. Its steps are epochs there, which
every trial shares; steps in milliseconds of training (see
:class:`gnnnas.search.pruners.Resource`) are never the same for two trials, so
here the others' value at step ``s`` is the last one they reported at or
before ``s``: what they had after the same training time.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import TrialState


def value_by(intermediate: dict[int, float], step: int) -> float | None:
    """The last finite value reported at or before ``step``; None when there is none."""
    steps = [s for s, v in intermediate.items() if s <= step and v is not None and math.isfinite(v)]
    return float(intermediate[max(steps)]) if steps else None


class ElapsedMedianPruner(optuna.pruners.BasePruner):
    """Stop a trial whose best value so far is worse than the median of completed trials' values by the same step.

    Like Optuna's median rule: nothing is pruned before ``n_startup_trials``
    trials completed or before ``n_warmup_steps``; a NaN value is pruned.
    """

    def __init__(self, n_startup_trials: int = 3, n_warmup_steps: int = 0) -> None:
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        values = [v for v in trial.intermediate_values.values() if v is not None]
        if any(math.isnan(v) for v in values):
            return True
        maximize = study.direction == StudyDirection.MAXIMIZE
        mine = max(values) if maximize else min(values)
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(completed) < self.n_startup_trials:
            return False
        others = [v for t in completed if (v := value_by(t.intermediate_values, step)) is not None]
        if not others:
            return False
        median = float(np.median(others))
        return mine < median if maximize else mine > median
