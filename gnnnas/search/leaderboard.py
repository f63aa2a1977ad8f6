"""The leaderboard: every trial of a study ranked by its validation metric.

Completed trials first (by their told value, the best validation value),
then pruned ones (by the best value they reported), then running and failed
ones. Test metrics are shown for reporting; ranking never reads them.
With the cold-start protocol the cold-item metrics get columns of their own
(``val_cold_ndcg@20``, ``test_cold_ndcg@20``, ...). After a final fit
(:mod:`gnnnas.search.final_fit`) its finalists' results get columns too
(``final_val_ndcg@20``, ``final_test_ndcg@20``, ``final_best_epoch``,
``final_stopped``); the ranking stays that of the search.
Within each group, trials over a cost limit (``feasible`` False) come after
the feasible ones. A multi-objective study ranks its completed trials by
``pareto_rank`` first (1: on the Pareto front of the feasible trials;
constrained non-dominated sorting, infeasible trials after every feasible
one), then by the quality metric.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from gnnnas.evaluation.ranking import COLD_PREFIX
from gnnnas.search.budget import recorded
from gnnnas.search.final_fit import records as final_records
from gnnnas.search.initial import proposed_by
from gnnnas.search.objectives import COST_ATTRS, Constraints, is_feasible, penalty

DIM_COLUMNS = ("layers", "aggregators", "dim", "hidden", "heads", "skip", "combination", "scoring", "features",
               "graph", "loss", "lr", "l2")
_ORDER = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.RUNNING: 2, TrialState.WAITING: 2,
          TrialState.FAIL: 3}
#: Columns of the printed table (the CSV has them all).
SHOWN = ("rank", "trial", "status", "val", "test", "layers", "aggregators", "dim", "hidden", "skip", "combination",
         "features", "graph", "loss", "lr", "l2", "params", "epochs", "seconds", "note")
#: Shown columns left out of the printed table when every trial has this value (a study without text features).
_QUIET_DEFAULTS = {"features": "id", "graph": "user-item", "loss": "bpr"}


def study_metric(study: optuna.Study) -> str:
    return str(study.user_attrs.get("metric", "ndcg@20"))


def _dims(spec: dict | None) -> dict:
    if not spec:
        return {c: None for c in DIM_COLUMNS}
    layers = spec.get("layers") or []
    training = spec.get("training") or {}
    join = lambda key: ">".join(str(l.get(key)) for l in layers) if layers else "-"  # noqa: E731
    return {
        "layers": len(layers),
        "aggregators": join("aggregator"),
        "dim": spec.get("embedding_dim"),
        "hidden": join("hidden"),
        "heads": join("heads"),
        "skip": spec.get("skip") if layers else "-",  # skips and combinations need layers to mean anything
        "combination": spec.get("combination") if layers else "-",
        "scoring": spec.get("scoring"),
        "features": spec.get("features", "id"),
        "graph": spec.get("graph", "user-item") + (f" k={spec.get('item_k')}" if spec.get("graph", "user-item")
                                                   != "user-item" else ""),
        "loss": training.get("loss", "bpr") + (f" +{training['shared_negatives']} shared"
                                               if training.get("shared_negatives") else ""),
        "lr": training.get("lr"),
        "l2": training.get("l2"),
    }


def cold_metrics(trials, metric: str) -> list[str]:
    """The cold-item metrics worth a column: none unless some trial recorded cold metrics."""
    if not any(any(k.startswith(COLD_PREFIX) for k in (t.user_attrs.get("val") or {})) for t in trials):
        return []
    base = metric[len(COLD_PREFIX):] if metric.startswith(COLD_PREFIX) else metric
    return list(dict.fromkeys([COLD_PREFIX + base, COLD_PREFIX + "recall@20"]))


def best_reported(trial: optuna.trial.FrozenTrial, metric: str) -> float:
    """The value a trial is ranked by: told value, else its best evaluation (validation only)."""
    if trial.state == TrialState.COMPLETE and trial.values:
        return float(trial.values[0])
    values = [float(v) for _, v in trial.user_attrs.get("curve") or []] or list(trial.intermediate_values.values())
    val = (trial.user_attrs.get("val") or {}).get(metric)
    if val is not None:
        values.append(float(val))
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return max(finite) if finite else -math.inf


def _feasible(t: optuna.trial.FrozenTrial, limits: Constraints) -> bool | None:
    """Optuna's recorded verdict; for a trial it has not judged yet (running), the limits against its attrs."""
    if not limits or t.constraints:
        return is_feasible(t)
    if any(t.user_attrs.get(Constraints.ATTRS[f]) is None for f in limits.to_dict()):
        return None  # not measured (failed before it was built)
    return limits.feasible_attrs(t.user_attrs)


def non_dominated_ranks(loss, penalty=None):
    """0-based ranks of the rows of ``loss`` (every column minimised) by constrained non-dominated sorting.

    Rows with ``penalty`` 0 (feasible) are peeled into fronts: rank 0 is no
    row dominates them (``a`` dominates ``b`` when ``a <= b`` everywhere and
    ``a < b`` somewhere), rank 1 is dominated only by rank 0, and so on. The
    infeasible rows come after every feasible one, by ascending total
    violation (equal violations share a rank), unmeasured (NaN) violations
    last: the order of constrained NSGA-II (Deb et al. 2002).
    """
    import numpy as np
    loss = np.asarray(loss, dtype=float).reshape(len(loss), -1)
    penalty = np.zeros(len(loss)) if penalty is None else np.asarray(penalty, dtype=float)
    ranks = np.full(len(loss), -1, dtype=int)
    feasible = np.flatnonzero(penalty == 0)
    rank = 0
    remaining = feasible
    while remaining.size:
        sub = loss[remaining]
        # dominated[i]: some other remaining row is <= everywhere and < somewhere
        le = (sub[:, None, :] <= sub[None, :, :]).all(-1)
        lt = (sub[:, None, :] < sub[None, :, :]).any(-1)
        dominated = (le & lt).any(0)
        ranks[remaining[~dominated]] = rank
        remaining = remaining[dominated]
        rank += 1
    infeasible = np.flatnonzero(penalty > 0)
    if infeasible.size:
        levels = np.unique(penalty[infeasible])
        ranks[infeasible] = rank + np.searchsorted(levels, penalty[infeasible])
        rank += levels.size
    ranks[ranks < 0] = rank  # NaN violation: not measured
    return ranks


def pareto_ranks(study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> dict[int, int]:
    """Trial number -> Pareto rank (1: the front) of the COMPLETE ``trials`` of a multi-objective study.

    :func:`non_dominated_ranks` over the objectives (maximised ones negated),
    with each trial's total constraint violation.
    """
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    if not done:
        return {}
    sign = [-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in study.directions]
    loss = [[s * float(v) for s, v in zip(sign, t.values)] for t in done]
    ranks = non_dominated_ranks(loss, [penalty(t) for t in done])
    return {t.number: int(r) + 1 for t, r in zip(done, ranks)}


def leaderboard(study: optuna.Study) -> pd.DataFrame:
    """One row per trial (over-budget surplus trials left out), best first; ``rank`` starts at 1."""
    metric = study_metric(study)
    multi = study._is_multi_objective()
    limits = Constraints.from_dict(study.user_attrs.get("constraints"))
    trials = recorded(study)
    warm = metric[len(COLD_PREFIX):] if metric.startswith(COLD_PREFIX) else metric
    extra = list(dict.fromkeys(m for m in (warm, "recall@20", *cold_metrics(trials, metric)) if m != metric))
    ranks = pareto_ranks(study, trials) if multi else {}
    finals = final_records(study)
    final_columns = [f"final_val_{metric}", f"final_test_{metric}", "final_best_epoch", "final_stopped"] \
        if finals else []
    rows = []
    for t in trials:
        a = t.user_attrs
        val, test = a.get("val") or {}, a.get("test") or {}
        row = {"trial": t.number, "controller": proposed_by(a), "status": t.state.name.lower(),
               **_dims(a.get("spec"))}
        for m in [metric, *extra]:
            row[f"val_{m}"] = val.get(m)
            row[f"test_{m}"] = test.get(m)
        feasible = _feasible(t, limits)
        row.update({"pareto_rank": ranks.get(t.number), "feasible": feasible,
                    **{c: a.get(c) for c in COST_ATTRS},
                    "_infeasible": feasible is False, "_prank": ranks.get(t.number, 0)})
        row.update({"seconds": a.get("seconds"), "epochs": a.get("epochs"),
                    "best_epoch": a.get("best_epoch"), "stopped": a.get("stopped"),
                    "reused_from": a.get("reused_from"), "error": a.get("error"),
                    "_order": _ORDER.get(t.state, 3), "_score": best_reported(t, metric)})
        if finals:
            f = finals.get(t.number) or {}
            row.update(dict(zip(final_columns, ((f.get("val") or {}).get(metric), (f.get("test") or {}).get(metric),
                                                f.get("best_epoch"), f.get("stopped")))))
        if row["status"] == "fail" and not row["error"]:
            row["error"] = "worker stopped (no result recorded)"
        rows.append(row)
    columns = ["rank", "trial", "controller", "status", *DIM_COLUMNS]
    for m in [metric, *extra]:
        columns += [f"val_{m}", f"test_{m}"]
    columns += [*final_columns, "pareto_rank", "feasible", *COST_ATTRS, "seconds", "epochs", "best_epoch", "stopped", "reused_from",
                "error"]
    if not multi:
        columns.remove("pareto_rank")
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    df = df.sort_values(["_order", "_infeasible", "_prank", "_score", "trial"],
                        ascending=[True, True, True, False, True], kind="stable")
    df.insert(0, "rank", range(1, len(df) + 1))
    df = df[columns].reset_index(drop=True)
    for col in ("reused_from", "params", "size_bytes", "epochs", "best_epoch", "layers", "dim",
                *(["pareto_rank"] if multi else []), *(["final_best_epoch"] if finals else [])):
        df[col] = df[col].astype("Int64")
    return df


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def _cell(value, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if column in ("lr", "l2"):
        return f"{float(value):.1e}"
    if column == "seconds":
        return f"{float(value):.1f}"
    if column == "latency_ms":
        return f"{float(value):.2f}"
    if column == "feasible":
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def shown_columns(df: pd.DataFrame) -> list[str]:
    """:data:`SHOWN`, plus Pareto rank and every cost of a multi-objective leaderboard, and feasibility
    when some trial is over a cost limit; features, graph and loss only when some trial is not at their default."""
    shown = [c for c in SHOWN if not (c in _QUIET_DEFAULTS and set(df[c].dropna()) <= {_QUIET_DEFAULTS[c]})]
    multi = "pareto_rank" in df.columns
    if multi:
        shown.insert(shown.index("status") + 1, "pareto_rank")
        at = shown.index("params") + 1
        shown[at:at] = [c for c in COST_ATTRS if c != "params"]
    if multi or (df["feasible"] == False).any():  # noqa: E712 - a column of True/False/None
        shown.insert(shown.index("status") + 1, "feasible")
    if "final_best_epoch" in df.columns:
        shown[shown.index("test") + 1:shown.index("test") + 1] = ["final_val", "final_test"]
    return shown


def format_table(df: pd.DataFrame, metric: str, top: int | None = 10) -> str:
    """The leaderboard as aligned text: ``top`` rows (all when None), the columns of :func:`shown_columns`."""
    if df.empty:
        return "no trials yet"
    shown = shown_columns(df)
    rows = df if top is None else df.head(top)
    cold = next((c[len("test_"):] for c in df.columns if c.startswith("test_" + COLD_PREFIX)), None)
    if cold is not None and cold != metric:
        shown.insert(shown.index("test") + 1, "cold")
    header = [c if c not in ("val", "test", "cold", "final_val", "final_test") else f"{c}_{metric}" if c != "cold"
              else f"test_{cold}" for c in shown]
    final = "final_best_epoch" in df.columns
    lines = [header]
    for _, r in rows.iterrows():
        note = ""
        if not pd.isna(r["reused_from"]):
            note = f"same as trial {r['reused_from']}"
        elif r["status"] == "fail":
            note = str(r["error"] or "")
        elif r["stopped"] in ("pruned", "timeout", "time_limit"):
            note = f"stopped: {r['stopped'].replace('_', ' ')}"
        values = {**r.to_dict(), "val": r[f"val_{metric}"], "test": r[f"test_{metric}"], "note": note,
                  "cold": r[f"test_{cold}"] if cold is not None else None,
                  "final_val": r[f"final_val_{metric}"] if final else None,
                  "final_test": r[f"final_test_{metric}"] if final else None}
        lines.append([_cell(values[c], c) for c in shown])
    widths = [max(len(line[i]) for line in lines) for i in range(len(shown))]
    left = {"status", "aggregators", "hidden", "skip", "combination", "features", "graph", "note"}
    out = []
    for line in lines:
        cells = [cell.ljust(w) if shown[i] in left else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
    if top is not None and len(df) > top:
        out.append(f"... {len(df) - top} more (leaderboard.csv has them all)")
    return "\n".join(out)


def fidelity_note(df: pd.DataFrame, trial_timeout: float | None, final_fit: bool) -> str | None:
    """A warning when ``--trial-timeout`` stopped most completed trials: their ranking is one of early training.

    Under a per-candidate time limit a slow design that would converge higher
    is ranked by its first few epochs; the user should know before trusting the
    order (and that ``--final-fit`` retrains the best without the limit).
    ``df``: one row per trial with ``status``, ``stopped`` and ``epochs`` (the
    leaderboard, or the report's trials); ``final_fit``: whether finalists were
    retrained.
    """
    if trial_timeout is None or df.empty or "stopped" not in df.columns:
        return None
    complete = df[df["status"] == "complete"]
    cut = complete[complete["stopped"] == "time_limit"]
    if len(complete) < 2 or 2 * len(cut) < len(complete):
        return None
    median = pd.to_numeric(cut["epochs"], errors="coerce").median()  # a report row may lack its epochs
    epochs = None if pd.isna(median) else int(round(median))
    after = ("the final fit retrained the best without it" if final_fit
             else "--final-fit N retrains the N best without it")
    return (f"note: the {trial_timeout:g} s per-candidate limit (--trial-timeout) stopped {len(cut)} of "
            f"{len(complete)} completed trials"
            + ("" if epochs is None else f", after a median of {epochs} epoch{'s' * (epochs != 1)}")
            + f": they are ranked by what they reach in {trial_timeout:g} s, not at convergence; {after}")
