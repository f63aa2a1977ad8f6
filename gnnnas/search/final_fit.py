"""Final fit: retrain the search's finalists to convergence before one of them is exported.

A search ranks candidates by what they reach within its budgets
(``--max-epochs``, ``--trial-timeout``, pruning): under a per-candidate time
limit the winner is often stopped while still improving, and a slower
candidate that converges higher never shows it. The final fit takes the
``top`` best completed trials by validation (for a multi-objective study, the
best-quality members of the Pareto front; with ``distinct``, the best trial of
each of the ``top`` best architectures, so that near-copies differing only in
training knobs do not take every place), retrains each from scratch with
its own seed and training settings, without the per-candidate time limit,
for up to ``max_epochs`` with the study's early stopping on validation, all
within ``timeout`` seconds together: each finalist may use an equal share of
the time left (what one leaves unused goes to the next), so the first cannot
starve the others. ``best/`` is then the best validation
result among the final fits and the search's own best trial (so a final fit
cut short by the timeout can never make the export worse). Test metrics are
ranked once per final fit, for reporting.

What it leaves: each finalist's weights at ``<out>/trials/<n>/final.pt``
(written atomically) and a record per finalist in the study's user attr
``final_fit``, written as each one finishes (an interrupted final fit loses
no finished finalist; re-running continues with the rest):

``{"<trial>": {"val": {...}, "test": {...}, "best_epoch", "epochs", "max_epochs", "stopped", "seconds"}}``

A re-run retrains a finalist whose final fit a budget cut short when it
raises that budget: ``--final-epochs`` above the record's ``max_epochs``
(stopped ``max_epochs``), or a ``--final-timeout`` whose equal share per
finalist is at least 1.5 times the seconds it had (stopped ``timeout``). The
new fit replaces the record and weights only when it is better on
validation; the same flags again retrain nothing.

``stopped`` is ``max_epochs``, ``early_stopping`` or ``timeout`` (its share
of the final fit's ``timeout`` ran out; its best evaluated weights are kept). A finalist
that the timeout stopped before any evaluation gets no record.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from gnnnas.data.dataset import Dataset
from gnnnas.errors import GnnnasError
from gnnnas.evaluation import COLD_PREFIX
from gnnnas.graph import build_graph
from gnnnas.models.registry import build_model
from gnnnas.models.spec import ArchSpec
from gnnnas.pipeline import evaluate_splits, train_config
from gnnnas.search.objectives import is_feasible
from gnnnas.search.weights import weights_path
from gnnnas.training import TrainConfig, Trainer

#: Study user attr holding the final fit's records, by trial number (a string: JSON keys).
FINAL_ATTR = "final_fit"
FINAL_WEIGHTS = "final.pt"


@dataclass(frozen=True)
class FinalFit:
    """How many finalists to retrain, for how many epochs, within how many seconds (None: no limit).

    ``distinct``: at most one finalist per architecture (the spec apart from
    its training knobs: learning rate, L2, batch size, negatives, loss); ``None``,
    the default, means yes whenever there is a final fit. Near-copies that
    differ only in learning rate or L2 otherwise take every place: on the first
    6,000 Gowalla users two of three finalists were one MF design and the
    architecture left out gave the best model of the search (experiments/RESULTS.md,
    "Gowalla-6000 seed 0 under the current code").
    """

    top: int
    max_epochs: int | None = None  # None: the study's --max-epochs
    timeout: float | None = None
    distinct: bool | None = None

    def check(self) -> "FinalFit":
        if isinstance(self.top, bool) or not isinstance(self.top, int) or self.top < 0:
            raise GnnnasError(f"--final-fit {self.top!r}: expected an integer >= 0 (0: no final fit)")
        if self.max_epochs is not None and (isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, int)
                                            or self.max_epochs < 1):
            raise GnnnasError(f"--final-epochs {self.max_epochs!r}: expected an integer >= 1")
        if self.timeout is not None and not (isinstance(self.timeout, (int, float)) and math.isfinite(self.timeout)
                                             and self.timeout > 0):
            raise GnnnasError(f"--final-timeout {self.timeout!r}: expected a number of seconds > 0")
        if self.distinct is not None and not isinstance(self.distinct, bool):
            raise GnnnasError(f"final_distinct {self.distinct!r}: expected True, False or None (the default)")
        if self.top == 0 and (self.max_epochs is not None or self.timeout is not None or self.distinct is not None):
            raise GnnnasError("--final-epochs/--final-timeout/--final-distinct: expected --final-fit N (N >= 1) "
                              "with them")
        return self if self.top == 0 or self.distinct is not None else replace(self, distinct=True)


def final_weights_path(out: Path, number: int) -> Path:
    return weights_path(out, number).with_name(FINAL_WEIGHTS)


def records(study: optuna.Study) -> dict[int, dict]:
    """The final fit's record of each finalist that finished one, by trial number."""
    return {int(n): r for n, r in (study.user_attrs.get(FINAL_ATTR) or {}).items()}


def quality(trial: FrozenTrial) -> float:
    return float(trial.values[0])


def architecture_key(trial: FrozenTrial) -> str:
    """What two trials share when they differ only in training knobs (their spec without ``training``)."""
    spec = dict(trial.user_attrs["spec"])
    spec.pop("training", None)
    return ArchSpec.from_dict(spec).key()


def finalists(study: optuna.Study, top: int, distinct: bool = False) -> list[FrozenTrial]:
    """The ``top`` best feasible completed trials by validation quality (ties: the earlier trial).

    A multi-objective study takes them from its Pareto front (Optuna's
    ``best_trials``), as ``best/`` does; a trial that copied an identical
    architecture's results (``reused_from``) is left to that original. With
    ``distinct`` a trial whose architecture a better finalist has already
    (:func:`architecture_key`) is passed over for the next architecture.
    """
    if study._is_multi_objective():
        pool = study.best_trials
    else:
        pool = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.values and is_feasible(t)]
    pool = [t for t in pool if "reused_from" not in t.user_attrs and int(t.user_attrs.get("best_epoch") or 0) > 0]
    ranked = sorted(pool, key=lambda t: (-quality(t), t.number))
    if not distinct:
        return ranked[:top]
    chosen: dict[str, FrozenTrial] = {}
    for trial in ranked:
        chosen.setdefault(architecture_key(trial), trial)
        if len(chosen) == top:
            break
    return list(chosen.values())


def run_final_fit(study: optuna.Study, dataset: Dataset, out: Path, device: torch.device, base: TrainConfig,
                  plan: FinalFit, say: Callable[[str], None] = print) -> dict[int, dict]:
    """Retrain the finalists without a record, or cut short by a budget this run raises.

    Returns every finalist's record.

    ``base`` carries the study's training protocol (epochs = its max_epochs,
    patience, eval_every, metric, ks); each finalist trains with its own
    spec's training knobs and its trial's seed.
    """
    if plan.top < 1:
        return {}
    chosen = finalists(study, plan.top, plan.distinct)
    done = records(study)
    deadline = time.monotonic() + plan.timeout if plan.timeout is not None else None
    epochs = plan.max_epochs or base.epochs
    metric = base.metric
    # Finalists with a finished final fit (record and weights), which a re-run keeps unless cut_short says otherwise.
    kept = {t.number: done[t.number] for t in chosen
            if t.number in done and final_weights_path(out, t.number).is_file()}
    todo = [t for t in chosen if t.number not in kept or cut_short(kept[t.number], epochs, plan.timeout, len(chosen))]
    for i, trial in enumerate(chosen, 1):
        n = trial.number
        if trial not in todo:
            continue
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            say(f"final fit: timeout; {len(todo)} finalist(s) not retrained")
            break
        share = None if deadline is None else now + (deadline - now) / len(todo)
        todo.remove(trial)
        earlier = kept.get(n)
        fitted = _fit_one(study, trial, dataset, device, replace(base, epochs=epochs, progress=False), share)
        if fitted is None:
            say(f"final fit {i}/{len(chosen)}: trial {n} stopped by the timeout before its first evaluation")
            continue
        record, weights = fitted
        again = "" if earlier is None else " (again)"
        if earlier is not None and record["val"][metric] <= earlier["val"][metric]:
            say(f"final fit {i}/{len(chosen)}: trial {n}{again}: val {metric} {record['val'][metric]:.4f}, not above "
                f"its earlier final fit's {earlier['val'][metric]:.4f}: kept that one")
            continue
        _save_weights(final_weights_path(out, n), weights)
        done = records(study)  # another process may have written meanwhile: merge, never overwrite
        done[n] = record
        study.set_user_attr(FINAL_ATTR, {str(k): v for k, v in sorted(done.items())})
        say(f"final fit {i}/{len(chosen)}: trial {n}{again}: val {metric} {record['val'][metric]:.4f} "
            f"(search {quality(trial):.4f}), best epoch {record['best_epoch']} of {record['epochs']}, "
            f"{record['stopped']}, {record['seconds']:.0f} s")
    chosen_numbers = {t.number for t in chosen}
    return {n: r for n, r in records(study).items() if n in chosen_numbers}


#: A timed-out final fit is retrained when a re-run's share per finalist is at least this many times its seconds.
MORE_TIME = 1.5


def cut_short(record: dict, epochs: int, timeout: float | None, finalists: int) -> bool:
    """Whether a recorded final fit stopped on a budget that this run (``epochs``, ``timeout``) raises."""
    if record.get("stopped") == "max_epochs":
        return epochs > int(record.get("max_epochs") or 0)
    if record.get("stopped") == "timeout":
        return timeout is None or timeout / max(finalists, 1) >= MORE_TIME * float(record.get("seconds") or 0.0)
    return False


def _save_weights(path: Path, weights: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{FINAL_WEIGHTS}.{os.getpid()}.tmp")
    torch.save(weights, tmp)
    os.replace(tmp, path)


def _fit_one(study: optuna.Study, trial: FrozenTrial, dataset: Dataset, device: torch.device,
             base: TrainConfig, deadline: float | None) -> tuple[dict, dict[str, torch.Tensor]] | None:
    started = time.perf_counter()
    spec = ArchSpec.from_dict(trial.user_attrs["spec"])
    seed = int(trial.user_attrs.get("seed", study.user_attrs.get("seed", base.seed)))
    config = train_config(spec, replace(base, seed=seed))
    graph = build_graph(dataset, spec, device)
    model = build_model(spec, graph, seed, device)
    result = Trainer(model, dataset, config, graph=graph, deadline=deadline).fit()
    if result.best_epoch == 0:
        return None
    test, test_cold = evaluate_splits(model, dataset, ("test", "test_cold"), config, device)
    record = {"val": {k: float(v) for k, v in result.best_val.items()},
              "test": {k: float(v) for k, v in {**test, **{COLD_PREFIX + k: v for k, v in test_cold.items()}}.items()},
              "best_epoch": result.best_epoch, "epochs": result.epochs_run, "max_epochs": config.epochs,
              "stopped": "timeout" if result.stopped == "deadline" else result.stopped,
              "seconds": round(time.perf_counter() - started, 3)}
    return record, {k: v.detach().cpu() for k, v in model.state_dict().items()}


def final_choice(study: optuna.Study, best: FrozenTrial | None, metric: str) -> tuple[FrozenTrial, dict] | None:
    """(trial, final-fit record) to export instead of ``best``'s search weights, or None to keep ``best``.

    A final fit wins when its validation value beats every other final fit
    and the search's best trial (ties: the search's result, then the
    earlier trial); selection never reads test metrics.
    """
    done = records(study)
    if not done:
        return None
    by_number = {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
    scored = [(float(r["val"][metric]), -n, n) for n, r in done.items() if n in by_number and metric in r["val"]]
    if not scored:
        return None
    value, _, n = max(scored)
    if best is not None and best.values and value <= quality(best):
        return None
    return by_number[n], done[n]
