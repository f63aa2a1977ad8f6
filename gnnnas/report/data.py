"""A study as tidy tables: one row per trial, its design dimensions, its learning curve.

Everything the report draws comes from :func:`collect`; the figure modules
never read the study themselves. Works for any Optuna study (a gnnnas
search, or a plain study with several objectives and none of gnnnas's attrs):
what is missing becomes ``None`` and the figures say so.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd
from optuna.study import StudyDirection
from optuna.trial import TrialState

from gnnnas.search.budget import recorded
from gnnnas.search.final_fit import final_choice, records
from gnnnas.search.leaderboard import pareto_ranks

STATUSES = ("complete", "pruned", "fail", "running", "waiting")
MF = "none (MF)"  # the aggregator "choice" of a stack without layers


@dataclass(frozen=True)
class Dimension:
    """An architecture or training choice read from a trial's spec."""

    key: str
    label: str
    kind: str = "cat"  # "cat": a few choices (box per choice); "log": a continuous range shown on a log axis
    per_layer: bool = False  # a set of values per trial (one per layer), e.g. the aggregators of a mixed stack


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("layers", "layers"),
    Dimension("aggregator", "aggregator", per_layer=True),
    Dimension("embedding_dim", "embedding dim"),
    Dimension("hidden", "hidden width", per_layer=True),
    Dimension("heads", "attention heads", per_layer=True),
    Dimension("head_combine", "head combine", per_layer=True),
    Dimension("activation", "activation", per_layer=True),
    Dimension("dropout", "dropout", per_layer=True),
    Dimension("norm", "norm", per_layer=True),
    Dimension("skip", "skip"),
    Dimension("combination", "layer combination"),
    Dimension("edge_dropout", "edge dropout"),
    Dimension("scoring", "scoring"),
    Dimension("features", "input features"),
    Dimension("text_projector", "text projector"),
    Dimension("text_combine", "id+text combine"),
    Dimension("graph", "graph"),
    Dimension("item_k", "item neighbours k"),
    Dimension("lr", "learning rate", kind="log"),
    Dimension("l2", "L2", kind="log"),
    Dimension("batch_size", "batch size"),
    Dimension("num_negatives", "negatives per positive"),
    Dimension("loss", "loss"),
    Dimension("shared_negatives", "shared negatives per batch"),
)
DIMENSION_BY_KEY = {d.key: d for d in DIMENSIONS}


def _cold_metric(trials, metric: str | None) -> str | None:
    """The cold-item metric shown beside ``metric`` when the study used the cold-start protocol."""
    from gnnnas.search.leaderboard import cold_metrics
    names = cold_metrics(trials, metric or "ndcg@20")
    return names[0] if names and names[0] != metric else (names[1] if len(names) > 1 else None)


def design_values(spec: dict | None) -> dict[str, Any]:
    """The dimensions of one spec; per-layer ones as a sorted tuple of the distinct values in the stack.

    Per-layer values describe the layers that exist: a stack without layers
    has aggregator :data:`MF` and no hidden/activation/...; heads and head
    combine only count attention layers (other layers have none).
    """
    if not spec:
        return {}
    layers = spec.get("layers") or []
    training = spec.get("training") or {}
    attention = [l for l in layers if l.get("aggregator") in ("gat", "gatv2")]

    def distinct(rows: list[dict], key: str) -> tuple | None:
        values = {r.get(key) for r in rows if r.get(key) is not None}
        return tuple(sorted(values, key=_sort_key)) if values else None

    return {
        "layers": len(layers),
        "aggregator": distinct(layers, "aggregator") or (MF,),
        "embedding_dim": spec.get("embedding_dim"),
        "hidden": distinct(layers, "hidden"),
        "heads": distinct(attention, "heads"),
        "head_combine": distinct(attention, "head_combine"),
        "activation": distinct(layers, "activation"),
        "dropout": distinct(layers, "dropout"),
        "norm": distinct(layers, "norm"),
        "skip": spec.get("skip") if layers else None,  # skips and combinations need layers to mean anything
        "combination": spec.get("combination") if layers else None,
        "edge_dropout": spec.get("edge_dropout") if layers else None,
        "scoring": spec.get("scoring"),
        "features": spec.get("features", "id"),
        "text_projector": spec.get("text_projector") if spec.get("features", "id") != "id" else None,
        "text_combine": spec.get("text_combine") if spec.get("features") == "id+text" else None,
        "graph": spec.get("graph", "user-item"),
        "item_k": spec.get("item_k") if spec.get("graph", "user-item") != "user-item" else None,
        "lr": training.get("lr"),
        "l2": training.get("l2"),
        "batch_size": training.get("batch_size"),
        "num_negatives": training.get("num_negatives"),
        "loss": training.get("loss", "bpr"),
        "shared_negatives": training.get("shared_negatives", 0),
    }


def _sort_key(value: Any) -> tuple:
    """Numbers in numeric order before strings in text order (choices of mixed type never compare)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


@dataclass
class ReportData:
    """What the report shows, computed once from the study."""

    study_name: str
    attrs: dict  # the study's user attrs (settings, data record, space); {} for a plain Optuna study
    objectives: list[str]  # objective names; the first is the one history, curves and analysis use
    directions: list[str]  # "maximize" | "minimize" per objective
    trials: pd.DataFrame  # one row per trial, see :func:`collect`
    curves: dict[int, list[tuple[float, float]]]  # trial -> [(epoch, validation value)]
    #: the trial best/ holds: the best COMPLETE trial (multi-objective: best first objective on the Pareto
    #: front), or the finalist whose final fit beat it on validation
    winner: int | None
    pareto: list[int] = field(default_factory=list)  # multi-objective: the trials on the Pareto front
    generated: _dt.datetime = field(default_factory=lambda: _dt.datetime.now())
    study: optuna.Study | None = None
    #: trial -> [(seconds of training, validation value)], for trials that recorded ``curve_seconds``
    timed_curves: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    #: the final fit's record of each finalist (:mod:`gnnnas.search.final_fit`), by trial
    finals: dict[int, dict] = field(default_factory=dict)
    #: the record of the final fit best/ holds; None when best/ holds the winner's search weights
    final: dict | None = None

    @property
    def metric(self) -> str:
        return self.objectives[0]

    @property
    def maximize(self) -> bool:
        return self.directions[0] == "maximize"

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def complete(self) -> pd.DataFrame:
        """Completed trials with a value: the ones whose results are final and comparable."""
        return self.trials[(self.trials.status == "complete") & self.trials.value.notna()]

    def counts(self) -> dict[str, int]:
        by = self.trials.status.value_counts().to_dict() if not self.trials.empty else {}
        return {s: int(by.get(s, 0)) for s in STATUSES if by.get(s)}

    def row(self, number: int) -> pd.Series:
        return self.trials[self.trials.trial == number].iloc[0]


def _objectives(study: optuna.Study, attrs: dict) -> list[str]:
    n = len(study.directions)
    names = list(study.metric_names or []) if getattr(study, "metric_names", None) else []
    if len(names) == n and all(names):
        return [str(x) for x in names]
    if n == 1:
        return [f"validation {attrs['metric']}" if attrs.get("metric") else "objective value"]
    return [f"objective {i + 1}" for i in range(n)]


def _best_reported(t: optuna.trial.FrozenTrial, metric: str | None, maximize: bool) -> float | None:
    """A trial's value: the told one when finished, else the best it reported (pruned, running)."""
    if t.state == TrialState.COMPLETE and t.values:
        v = t.values[0]
        return float(v) if v is not None and math.isfinite(v) else None
    values = [float(v) for _, v in t.user_attrs.get("curve") or []] or [
        float(v) for v in t.intermediate_values.values()]
    val = (t.user_attrs.get("val") or {}).get(metric) if metric else None
    if val is not None:
        values.append(float(val))
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    return max(finite) if maximize else min(finite)


def _timed_curve(t: optuna.trial.FrozenTrial) -> list[tuple[float, float]]:
    """``[(seconds of training, value)]`` from the ``curve`` and ``curve_seconds`` attrs; [] when not recorded."""
    curve, seconds = t.user_attrs.get("curve") or [], t.user_attrs.get("curve_seconds") or []
    if len(curve) != len(seconds):
        return []
    return [(float(s), float(v)) for s, (_, v) in zip(seconds, curve) if v is not None and math.isfinite(float(v))]


def _curve(t: optuna.trial.FrozenTrial) -> list[tuple[float, float]]:
    # The ``curve`` attr is written as it grows; older studies wrote it at the end, so their running
    # trials have only reported values (epochs, without a time limit).
    points = t.user_attrs.get("curve") or sorted(t.intermediate_values.items())
    return [(float(e), float(v)) for e, v in points if v is not None and math.isfinite(float(v))]


def stale_running(study: optuna.Study, now: _dt.datetime) -> dict[int, _dt.datetime | None]:
    """RUNNING trials whose worker seems gone -> when it was last seen (None: unknown).

    The same tests as :func:`gnnnas.search.liveness.fail_stale_trials`, read
    only: the report never changes the study. Such a trial stays RUNNING until
    a search or worker resumes the study and fails it.
    """
    from gnnnas.search.liveness import HEARTBEAT_ATTR, _process_gone
    from gnnnas.search.storage import GRACE_PERIOD, heartbeat_enabled
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return {}
    out: dict[int, _dt.datetime | None] = {}
    storage = study._storage
    if heartbeat_enabled(storage):
        try:
            ids = set(storage._get_stale_trial_ids(study._study_id))
        except Exception:  # noqa: BLE001 - a storage without the (private) query: judge by process only
            ids = set()
        out.update({t.number: None for t in running if t._trial_id in ids})
    for t in running:
        worker = str(t.user_attrs.get("worker", ""))
        if worker and _process_gone(worker):
            out.setdefault(t.number, None)
        elif not heartbeat_enabled(storage):
            last = t.system_attrs.get(HEARTBEAT_ATTR)
            seen = _dt.datetime.fromtimestamp(float(last)) if last is not None else t.datetime_start
            if seen is not None and (now - seen).total_seconds() > GRACE_PERIOD:
                out[t.number] = seen
    return out


def _better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def pareto_front(points: list[tuple[int, list[float]]], maximize: list[bool]) -> list[int]:
    """Ids of the points no other point dominates (at least as good everywhere, better somewhere)."""
    front = []
    for i, p in points:
        dominated = False
        for j, q in points:
            if j == i:
                continue
            as_good = all((qv >= pv) if mx else (qv <= pv) for qv, pv, mx in zip(q, p, maximize))
            better = any((qv > pv) if mx else (qv < pv) for qv, pv, mx in zip(q, p, maximize))
            if as_good and better:
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


def collect(study: optuna.Study, now: _dt.datetime | None = None) -> ReportData:
    """The tidy tables of ``study`` (surplus trials of the shared budget left out, as in the leaderboard).

    ``trials`` columns: trial, status, value (primary objective: told value,
    else the best reported), final (the value was told), values (all
    objectives when told), test, controller, worker, start_s / end_s (seconds
    since the first trial started; running trials end now), duration_s,
    seconds (training time the trial recorded), params, size_bytes, latency_ms
    (cost measures), feasible (within the study's cost limits), pareto_rank
    (completed trials of a multi-objective study, as in the leaderboard), epochs, best_epoch,
    max_epochs, stopped, reused_from, error, spec, stale (a running trial whose
    worker seems gone: no heartbeat), and one column per
    :data:`DIMENSIONS` key.
    """
    now = now or _dt.datetime.now()
    attrs = dict(study.user_attrs)
    directions = ["maximize" if d == StudyDirection.MAXIMIZE else "minimize" for d in study.directions]
    objectives = _objectives(study, attrs)
    metric = attrs.get("metric")
    maximize = directions[0] == "maximize"
    frozen = recorded(study)
    starts = [t.datetime_start for t in frozen if t.datetime_start is not None]
    origin = min(starts) if starts else now
    stale = stale_running(study, now)
    cold_metric = _cold_metric(frozen, metric)
    if cold_metric:
        attrs["cold_metric"] = cold_metric
    rows, curves, timed_curves = [], {}, {}
    for t in frozen:
        a = t.user_attrs
        status = t.state.name.lower()
        end = t.datetime_complete
        if t.state == TrialState.RUNNING:  # until now; a stale one until it was last seen (or a sliver)
            end = (stale[t.number] or t.datetime_start) if t.number in stale else now
        start_s = (t.datetime_start - origin).total_seconds() if t.datetime_start else None
        end_s = (end - origin).total_seconds() if end is not None and t.datetime_start else None
        test = (a.get("test") or {}).get(metric) if metric else None
        cold = (a.get("test") or {}).get(cold_metric) if cold_metric else None
        row = {
            "trial": t.number, "status": status,
            "value": _best_reported(t, metric, maximize),
            "final": t.state == TrialState.COMPLETE and bool(t.values),
            "values": list(t.values) if t.state == TrialState.COMPLETE and t.values else None,
            "test": float(test) if test is not None else None,
            "test_cold": float(cold) if cold is not None else None,
            "controller": a.get("controller") or "optuna", "worker": a.get("worker") or "-",
            "start_s": start_s, "end_s": end_s,
            "duration_s": end_s - start_s if end_s is not None and start_s is not None else None,
            "seconds": a.get("seconds"), "params": a.get("params"), "size_bytes": a.get("size_bytes"),
            "latency_ms": a.get("latency_ms"), "feasible": all(v <= 0 for v in t.constraints.values()),
            "epochs": a.get("epochs"),
            "best_epoch": a.get("best_epoch"), "max_epochs": a.get("max_epochs"),
            "stopped": a.get("stopped"), "reused_from": a.get("reused_from"),
            "error": a.get("error") or ("worker stopped (no result recorded)" if status == "fail" else None),
            "spec": a.get("spec"),
            "stale": t.number in stale,
        }
        dims = design_values(a.get("spec"))
        row.update({d.key: dims.get(d.key) for d in DIMENSIONS})
        rows.append(row)
        curves[t.number] = _curve(t)
        if timed := _timed_curve(t):
            timed_curves[t.number] = timed
    columns = ["trial", "status", "value", "final", "values", "test", "test_cold", "controller", "worker", "start_s",
               "end_s", "duration_s", "seconds", "params", "size_bytes", "latency_ms", "feasible", "epochs",
               "best_epoch", "max_epochs", "stopped", "reused_from", "error", "spec", "stale", *DIMENSION_BY_KEY]
    # object columns keep None as None (pandas 3 would turn text columns into str with NaN for missing)
    trials = pd.DataFrame(rows, columns=columns, dtype=object).astype(
        {c: "float64" for c in ("value", "test", "test_cold", "start_s", "end_s", "duration_s", "seconds",
                                "latency_ms")})
    trials = trials.sort_values("trial").reset_index(drop=True)
    ranks = pareto_ranks(study, frozen) if len(directions) > 1 else {}
    trials["pareto_rank"] = [ranks.get(int(n)) for n in trials.trial]
    winner, best, pareto = None, 0.0, []
    # trials over a cost limit (infeasible) are neither on the front nor the winner, as in the leaderboard
    done = [(int(r.trial), list(r["values"])) for _, r in trials.iterrows()
            if r.status == "complete" and r.feasible and r["values"]
            and all(v is not None and math.isfinite(v) for v in r["values"])]
    if len(directions) > 1:
        pareto = sorted(pareto_front(done, [d == "maximize" for d in directions]))
        candidates = [(n, v) for n, v in done if n in pareto]
    else:
        candidates = done
    for n, v in candidates:  # ties go to the earlier trial, as the exported winner
        if winner is None or _better(v[0], best, maximize):
            winner, best = n, v[0]
    shown = set(trials.trial)
    finals = {n: r for n, r in records(study).items() if n in shown}
    final = None
    if winner is not None and metric and finals:  # as the search's finish chose what best/ holds
        chosen = final_choice(study, next(t for t in frozen if t.number == winner), metric)
        if chosen is not None and chosen[0].number in finals:
            winner, final = chosen[0].number, chosen[1]
    return ReportData(study_name=study.study_name, attrs=attrs, objectives=objectives, directions=directions,
                      trials=trials, curves=curves, winner=winner, pareto=pareto,
                      generated=now, study=study, timed_curves=timed_curves, finals=finals, final=final)
