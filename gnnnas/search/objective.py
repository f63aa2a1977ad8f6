"""Running one suggested candidate: reuse an identical finished one, or train, report, prune, record.

Everything a trial leaves is JSON in its user attrs:

==============  ===============================================================
``spec``        the architecture (``ArchSpec.to_dict()``); ``spec_key`` its key
``controller``  who proposed it; ``worker`` ``hostname:pid``; ``seed``
``curve``       ``[epoch, value]`` of the selection metric per evaluation (written as it grows)
``curve_seconds`` seconds of training (evaluations included) at each point of ``curve``; with a
                ``--prune-by seconds`` these are the pruner's steps (:class:`~gnnnas.search.pruners.Resource`)
``loss``        mean training loss per epoch
``val``         every validation metric at the best epoch (``cold_recall@20`` ...: cold-start items, when
                the dataset holds some out; :mod:`gnnnas.data.cold`)
``test``        every test metric, ranked once after training (reporting only), cold ones as in ``val``
``epochs``      epochs run; ``best_epoch``; ``max_epochs`` its budget
``stopped``     max_epochs | early_stopping | pruned | timeout | time_limit
``seconds``     wall time of the trial; ``threads`` CPU threads
``params``      parameter count; ``size_bytes`` bytes of the exported weights; ``latency_ms``
                full-ranking top-K latency (:mod:`gnnnas.evaluation.cost`; on CPU with one
                thread, see :func:`trial_cost`), all three measured right after the model is
                built, before training (they do not depend on the weights, and the
                multi-objective pruner needs them at the first rung)
``reused_from`` the trial whose results an identical architecture copied
``error``       why a FAIL trial failed (exception type and message)
==============  ===============================================================

Selection reads only ``val`` (the told value is the best validation value;
multi-objective studies tell it with the cost objectives, see
:mod:`gnnnas.search.objectives`).
"""

from __future__ import annotations

import gc
import math
import time
import traceback
from dataclasses import dataclass, replace

import optuna
import torch
from optuna.trial import TrialState

from gnnnas.data.dataset import Dataset
from gnnnas.evaluation import COLD_PREFIX
from gnnnas.evaluation.cost import Cost, measure_cost
from gnnnas.graph import build_graph
from gnnnas.models.registry import build_model
from gnnnas.pipeline import evaluate_splits, train_config
from gnnnas.search.controllers.base import Suggestion
from gnnnas.search.liveness import Heartbeat, worker_id
from gnnnas.search.objectives import COST_ATTRS, Constraints, Objectives
from gnnnas.search.progress import Progress
from gnnnas.search.pruners import Resource
from gnnnas.search.weights import WeightKeeper
from gnnnas.training import EvalEvent, TrainConfig, Trainer, TrainingDiverged

#: Attrs copied from an identical finished trial instead of retraining.
RESULT_ATTRS = ("val", "test", "curve", "curve_seconds", "loss", "epochs", "best_epoch", "max_epochs", "stopped",
                *COST_ATTRS)


#: Seconds between writes of a running trial's curve to storage (single-objective searches).
CURVE_WRITE_SECONDS = 1.0


@dataclass
class TrialContext:
    """What every trial of one worker shares."""

    study: optuna.Study
    dataset: Dataset
    device: torch.device
    config: TrainConfig  # epochs = the search's max_epochs; patience, eval_every, metric, ks, seed
    controller: str
    keeper: WeightKeeper
    progress: Progress
    deadline: float | None = None  # time.monotonic() after which running trials stop
    trial_timeout: float | None = None  # training seconds each candidate may use (``time_limit``)
    objectives: Objectives | None = None  # None: the single metric of ``config``
    constraints: Constraints = Constraints()  # cost limits (feasibility of the kept weights)
    resource: Resource | None = None  # what the pruner's steps count (None: epochs)

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def _floats(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items()}


def describe_error(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, RuntimeError) and ("out of memory" in str(err).lower()
                                          or type(err).__name__ == "OutOfMemoryError"):
        return f"{type(err).__name__}: out of memory ({text[:200]})"
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__


def find_original(study: optuna.Study, key: str, number: int, max_epochs: int) -> optuna.trial.FrozenTrial | None:
    """The earliest COMPLETE trial (other than ``number``) that trained architecture ``key`` with the same budget.

    The budget matters for multi-fidelity controllers, which propose one
    architecture at growing ``max_epochs``.
    """
    for t in sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number):
        a = t.user_attrs
        if (t.number != number and a.get("spec_key") == key and t.values
                and a.get("max_epochs", max_epochs) == max_epochs):
            return t
    return None


class TrialRunner:
    """Runs suggestions of one worker; :meth:`run` returns the finished trial."""

    def __init__(self, ctx: TrialContext):
        self.ctx = ctx

    def run(self, suggestion: Suggestion) -> optuna.trial.FrozenTrial:
        ctx, trial, spec = self.ctx, suggestion.trial, suggestion.spec
        started = time.perf_counter()
        key = spec.key()
        for name, value in (("worker", worker_id()), ("controller", ctx.controller), ("spec", spec.to_dict()),
                            ("spec_key", key), ("seed", ctx.config.seed)):
            trial.set_user_attr(name, value)
        original = find_original(ctx.study, key, trial.number, suggestion.max_epochs or ctx.config.epochs)
        if original is not None:
            return self._reuse(trial, original, started)
        ctx.progress.trial_started(trial.number)
        with Heartbeat(ctx.study, trial._trial_id):
            try:
                return self._train(suggestion, started)
            except KeyboardInterrupt:
                try:
                    trial.set_user_attr("error", "interrupted")
                    trial.set_user_attr("seconds", time.perf_counter() - started)
                    _tell(ctx.study, trial, state=TrialState.FAIL)
                except optuna.exceptions.UpdateFinishedTrialError:
                    pass  # interrupted after it was recorded: keep what was recorded
                raise
            except Exception as err:  # noqa: BLE001 - a failed candidate must not stop the search
                return self._fail(trial, err, started)

    # --- the three endings ------------------------------------------------
    def _reuse(self, trial: optuna.Trial, original: optuna.trial.FrozenTrial, started: float) -> optuna.trial.FrozenTrial:
        origin = original.user_attrs.get("reused_from", original.number)
        for name in RESULT_ATTRS:
            if name in original.user_attrs:
                trial.set_user_attr(name, original.user_attrs[name])
        trial.set_user_attr("reused_from", origin)
        self.ctx.constraints.record(trial, original.user_attrs)
        trial.set_user_attr("seconds", time.perf_counter() - started)
        return _tell(self.ctx.study, trial, values=original.values)

    def _fail(self, trial: optuna.Trial, err: BaseException, started: float) -> optuna.trial.FrozenTrial:
        gc.collect()
        if self.ctx.device.type == "cuda":
            torch.cuda.empty_cache()
        try:
            trial.set_user_attr("error", describe_error(err))
            if not isinstance(err, TrainingDiverged) and "out of memory" not in str(err).lower():
                trial.set_user_attr("traceback", "".join(traceback.format_exception(err))[-4000:])
            trial.set_user_attr("seconds", time.perf_counter() - started)
            return _tell(self.ctx.study, trial, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:  # it was recorded before the error: keep that
            return self.ctx.study._storage.get_trial(trial._trial_id)

    def _train(self, suggestion: Suggestion, started: float) -> optuna.trial.FrozenTrial:
        ctx, trial, spec = self.ctx, suggestion.trial, suggestion.spec
        max_epochs = suggestion.max_epochs or ctx.config.epochs
        config = train_config(spec, replace(ctx.config, epochs=max_epochs, progress=False))
        graph = build_graph(ctx.dataset, spec, ctx.device)
        model = build_model(spec, graph, config.seed, ctx.device)
        # The same protocol for every trial, before training: the costs do not depend on the weights,
        # and the multi-objective pruner compares candidates by cost from their first rung on.
        cost = trial_cost(model, k=max(config.ks))
        for name, value in cost.to_dict().items():
            trial.set_user_attr(name, value)
        ctx.constraints.record(trial, cost.to_dict())
        multi = ctx.objectives is not None and ctx.objectives.multi
        curve: list[list[float]] = []
        seconds: list[float] = []
        stop: list[str] = []
        resource = ctx.resource or Resource(config.epochs, config.eval_every)

        written = [-math.inf]

        def monitor(event: EvalEvent) -> bool:
            now = time.monotonic()
            elapsed = now - began
            curve.append([event.epoch, float(event.value)])
            seconds.append(round(elapsed, 3))
            # The curve so far, for the report of a running trial and for cost_aware pruning (which reads it
            # from storage at every evaluation); otherwise at most once a second: each write is a transaction.
            if multi or now - written[0] >= CURVE_WRITE_SECONDS:
                trial.set_user_attr("curve", curve)
                trial.set_user_attr("curve_seconds", seconds)
                written[0] = now
            ctx.progress.evaluated(trial.number, event.epoch, max_epochs, event.value)
            if multi:
                prune = suggestion.prunable and _should_prune_multi(ctx.study, trial)
            else:
                if math.isfinite(event.value):
                    trial.report(float(event.value), resource.step(event.epoch, elapsed))
                # asked even at the time limit: the pruner records the value at its rungs for later candidates
                prune = suggestion.prunable and trial.should_prune()
            prune = prune and event.kind != "time_limit"  # its budget is spent: the result is complete
            if ctx.past_deadline():
                stop.append("timeout")
            elif prune:
                stop.append("pruned")
            return bool(stop)

        began = time.monotonic()  # the time limit's start: timed pruner steps count from here too
        own = began + ctx.trial_timeout if ctx.trial_timeout is not None else None
        # Candidates whose epochs outlast the rungs are evaluated at them too: a time axis is no use to the
        # pruner if a slow candidate's first evaluation comes when its budget is spent.
        checkpoints = ([step / 1000 for step in resource.rungs()]
                       if resource.timed and suggestion.prunable and not multi
                       and not isinstance(ctx.study.pruner, optuna.pruners.NopPruner) else [])
        result = Trainer(model, ctx.dataset, config, graph=graph, callbacks=[monitor], deadline=ctx.deadline,
                         time_limit=own, eval_at=checkpoints).fit()
        if result.stopped in ("deadline", "time_limit"):
            # The search's --timeout cuts a candidate short (PRUNED: not a finished result); the
            # per-candidate limit is a training budget like max_epochs (the trainer evaluates what was
            # trained when it runs out), so a candidate evaluated within it is a COMPLETE result with
            # its best evaluated weights.
            if ctx.past_deadline() or result.best_epoch == 0:
                stop.append("timeout" if ctx.past_deadline() else "time_limit")
            else:
                result.stopped = "time_limit"
        attrs = {
            "curve": curve,
            "curve_seconds": seconds,
            "loss": [round(float(row["loss"]), 6) for row in result.history],
            "val": _floats(result.best_val),
            "epochs": result.epochs_run,
            "best_epoch": result.best_epoch,
            "max_epochs": max_epochs,
            "threads": torch.get_num_threads() if ctx.device.type == "cpu" else None,
            "stopped": stop[0] if stop else result.stopped,
        }
        if result.best_epoch > 0:  # test is ranked once, for reporting; selection never reads it
            test, test_cold = evaluate_splits(model, ctx.dataset, ("test", "test_cold"), config, ctx.device)
            attrs["test"] = _floats({**test, **{COLD_PREFIX + k: v for k, v in test_cold.items()}})
        attrs["seconds"] = time.perf_counter() - started
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        if stop:
            return _tell(ctx.study, trial, state=TrialState.PRUNED)
        if result.best_epoch == 0:
            raise RuntimeError(f"no validation evaluation gave a finite {config.metric}")
        value = float(result.best_val[config.metric])
        ctx.keeper.offer(ctx.study, trial.number, value, model, feasible=ctx.constraints.feasible_attrs(cost.to_dict()))
        return _tell(ctx.study, trial, values=ctx.objectives.values(value, cost.to_dict()) if multi else value)


#: CPU threads of the latency measure: with more, the timing depends on how many workers (and other jobs)
#: share the cores, since idle intra-op threads spin and wait; one thread times the model, not the machine.
LATENCY_THREADS = 1


def trial_cost(model: torch.nn.Module, k: int) -> Cost:
    """:func:`~gnnnas.evaluation.cost.measure_cost`, on CPU with :data:`LATENCY_THREADS` threads."""
    if model.device.type != "cpu":
        return measure_cost(model, k=k)
    threads = torch.get_num_threads()
    torch.set_num_threads(LATENCY_THREADS)
    try:
        return measure_cost(model, k=k)
    finally:
        torch.set_num_threads(threads)


def _should_prune_multi(study: optuna.Study, trial: optuna.Trial) -> bool:
    """Optuna's ``report``/``should_prune`` refuse multi-objective studies: ask the study's pruner directly
    (it reads the ``curve`` attr recorded so far)."""
    if isinstance(study.pruner, optuna.pruners.NopPruner):
        return False
    return study.pruner.prune(study, study._storage.get_trial(trial._trial_id))


def _tell(study: optuna.Study, trial: optuna.Trial, values: float | list[float] | None = None,
          state: TrialState | None = None) -> optuna.trial.FrozenTrial:
    """``study.tell``; a trial already finished by someone else (its heartbeat judged stale) stays as is."""
    try:
        return study.tell(trial, values=values, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:
        return study._storage.get_trial(trial._trial_id)
    except ValueError as err:
        if "already finished" in str(err) or "finished" in str(err):
            return study._storage.get_trial(trial._trial_id)
        raise
