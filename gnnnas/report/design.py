"""Design-space analysis in the spirit of GraphGym: the metric per choice of each dimension, their
importances (Optuna's evaluator), and parallel coordinates of the dimensions against the metric.

Only completed trials count: a pruned trial's value comes from fewer epochs
and is not comparable.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gnnnas.report.data import DIMENSION_BY_KEY, DIMENSIONS, Dimension, ReportData, _sort_key
from gnnnas.report.style import STATUS_COLORS, WINNER_COLOR, Empty, Figure, base_layout, wrap

COLUMNS = 3


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _long(complete: pd.DataFrame, dim: Dimension) -> pd.DataFrame:
    """(trial, choice, value) rows; a per-layer dimension gives one row per distinct value a trial's stack uses."""
    rows = []
    for _, r in complete.iterrows():
        v = r[dim.key]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        for choice in (v if dim.per_layer else (v,)):
            rows.append({"trial": int(r.trial), "choice": choice, "value": float(r.value)})
    return pd.DataFrame(rows, columns=["trial", "choice", "value"])


def varying(data: ReportData) -> tuple[list[tuple[Dimension, pd.DataFrame]], list[str]]:
    """(dimensions with at least two observed choices and their rows, 'name = value' of the constant ones)."""
    complete = data.complete
    out, constant = [], []
    for dim in DIMENSIONS:
        rows = _long(complete, dim)
        if rows.empty:
            continue
        choices = rows.choice.unique()
        if len(choices) >= 2:
            out.append((dim, rows))
        else:
            constant.append(f"{dim.label} = {_fmt(choices[0])}")
    return out, constant


def design_space_figure(data: ReportData) -> Figure:
    complete = data.complete
    if len(complete) < 2:
        return Empty(f"Design-space analysis needs at least two completed trials; this study has {len(complete)}.")
    dims, constant = varying(data)
    if not dims:
        return Empty("Every completed trial made the same choice in every dimension: nothing to compare"
                     + (f" ({', '.join(constant)})." if constant else "."))
    n_rows = math.ceil(len(dims) / COLUMNS)
    height = 170 + 300 * n_rows
    fig = make_subplots(rows=n_rows, cols=COLUMNS, vertical_spacing=min(0.3, 120 / height),
                        horizontal_spacing=0.07, subplot_titles=[d.label for d, _ in dims])
    for i, (dim, rows) in enumerate(dims):
        row, col = i // COLUMNS + 1, i % COLUMNS + 1
        hover = "trial %{customdata}<br>" + dim.label + " %{x}<br>" + "value %{y:.4f}<extra></extra>"
        if dim.kind == "log":
            fig.add_trace(go.Scatter(
                x=rows.choice, y=rows.value, mode="markers", customdata=rows.trial, showlegend=False,
                marker=dict(color=STATUS_COLORS["complete"], size=8, opacity=0.8), hovertemplate=hover),
                row=row, col=col)
            fig.update_xaxes(type="log", title_text=f"{dim.label} (log scale)", exponentformat="power", row=row,
                             col=col)
        else:
            order = sorted(rows.choice.unique(), key=_sort_key)
            counts = rows.choice.value_counts()
            labels = {c: f"{_fmt(c)} (n={counts[c]})" for c in order}
            fig.add_trace(go.Box(
                x=[labels[c] for c in rows.choice], y=rows.value, customdata=rows.trial, boxpoints="all",
                jitter=0.4, pointpos=0, showlegend=False, marker=dict(color=STATUS_COLORS["complete"], size=6),
                line=dict(width=1.5), fillcolor="rgba(0,114,178,0.12)", hovertemplate=hover), row=row, col=col)
            fig.update_xaxes(categoryorder="array", categoryarray=[labels[c] for c in order], row=row, col=col,
                             tickangle=-30 if len(order) > 4 else 0)
        if data.winner is not None:  # where the winner sits in each dimension
            w = rows[rows.trial == data.winner]
            if not w.empty:
                x = list(w.choice) if dim.kind == "log" else [labels[c] for c in w.choice]
                fig.add_trace(go.Scatter(x=x, y=w.value, mode="markers", showlegend=False, hoverinfo="skip",
                                         marker=dict(symbol="star", size=13, color=WINNER_COLOR,
                                                     line=dict(width=1, color="white"))), row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text=data.metric, row=row, col=col)
    note = ("per-layer choices count once per trial that uses them in its stack; star: the winner"
            + (f"; constant: {', '.join(constant)}" if constant else ""))
    note = wrap(note)
    lines = note.count("<br>")
    base_layout(fig, f"{data.metric} per choice, completed trials ({len(complete)})", height=height + 20 * lines,
                subtitle=note, margin=dict(l=70, r=30, t=115 + 20 * lines, b=60))
    return fig


def _pretty_param(name: str) -> str:
    """Optuna parameter names as the report's labels ('layer0.aggregator' -> 'aggregator (layer 1)')."""
    m = re.fullmatch(r"layer(\d+)\.(.+)", name)
    if m:
        return f"{_pretty_param(m.group(2))} (layer {int(m.group(1)) + 1})"
    key = name.removeprefix("training.")
    key = {"num_layers": "layers"}.get(key, key)
    dim = DIMENSION_BY_KEY.get(key)
    return dim.label if dim is not None else key.replace("_", " ")


def importances(data: ReportData) -> tuple[dict[str, float] | None, str]:
    """(parameter -> importance, note) from Optuna's default evaluator over the study's completed trials.

    Parameters present in every completed trial count (Optuna's rule:
    conditional ones such as the second layer's aggregator drop out).
    """
    study = data.study
    complete = data.complete
    if study is None or len(complete) < 2:
        return None, f"Importances need at least two completed trials; this study has {len(complete)}."
    if complete.value.nunique() < 2:
        return None, "Every completed trial has the same value: no dimension explains a difference."
    import optuna
    from optuna.trial import TrialState
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.params]
    if len(done) < 2:
        return None, "The completed trials recorded no Optuna parameters, so importances cannot be computed."
    shared = set.intersection(*(set(t.params) for t in done))
    varied = [p for p in sorted(shared) if len({repr(t.params[p]) for t in done}) > 1]
    if not varied:
        return None, "No parameter shared by all completed trials took more than one value."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-API and single-value warnings are not the reader's
            # Optuna's default evaluator (fANOVA), seeded: the same study gives the same report
            result = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0), params=varied,
                target=lambda t: t.values[0], normalize=True)
    except (ValueError, RuntimeError) as err:
        return None, f"Optuna could not compute importances: {err}"
    values = {_pretty_param(k): float(v) for k, v in result.items() if v is not None and np.isfinite(v)}
    if not values:
        return None, "Optuna returned no finite importance."
    return values, (f"Optuna's default importance evaluator (fANOVA) over {len(done)} completed trials and the "
                    f"{len(varied)} parameters every one of them has.")


def importance_figure(data: ReportData) -> Figure:
    values, note = importances(data)
    if values is None:
        return Empty(note)
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
                           marker_color=STATUS_COLORS["complete"], text=[f"{v:.2f}" for _, v in items],
                           textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_xaxes(title_text=f"importance for {data.metric} (share of explained variance, sums to 1)",
                     range=[0, max(v for _, v in items) * 1.15])
    fig.update_yaxes(automargin=True)
    base_layout(fig, "Parameter importances", height=max(280, 150 + 26 * len(items)), subtitle=note,
                margin=dict(t=90))
    return fig


def parallel_figure(data: ReportData) -> Figure:
    complete = data.complete
    if len(complete) < 2:
        return Empty(f"Parallel coordinates need at least two completed trials; this study has {len(complete)}.")
    dims, _ = varying(data)
    if not dims:
        return Empty("Every completed trial made the same choice in every dimension: nothing to draw.")
    axes = []
    for dim, _ in dims:
        raw = []
        for _, r in complete.iterrows():
            v = r[dim.key]
            # One value per trial and axis: a per-layer dimension shows its first layer's choice.
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            raw.append(None if missing else (v[0] if dim.per_layer else v))
        first = "1st attention layer" if dim.key in ("heads", "head_combine") else "1st layer"
        label = f"{dim.label} ({first})" if dim.per_layer else dim.label
        present = [v for v in raw if v is not None]
        if dim.kind == "log":
            logs = [math.log10(v) if v is not None else np.nan for v in raw]
            low = math.floor(min(x for x in logs if not np.isnan(x)))
            high = math.ceil(max(x for x in logs if not np.isnan(x)))
            ticks = list(range(low, high + 1))  # one tick per decade, the axis spanning whole decades
            axes.append(dict(label=label, values=logs, tickvals=ticks, ticktext=[f"1e{t}" for t in ticks],
                             range=[low, high]))
        else:
            choices = sorted(set(present), key=_sort_key)
            code = {c: i for i, c in enumerate(choices)}
            # Trials without the dimension (no attention layer, no layers) sit on an extra "n/a" tick.
            na = len(choices)
            has_na = any(v is None for v in raw)
            axes.append(dict(label=label, values=[code[v] if v is not None else na for v in raw],
                             tickvals=list(range(len(choices) + has_na)),
                             ticktext=[_fmt(c) for c in choices] + (["n/a"] if has_na else []),
                             range=[-0.3, len(choices) - 1 + has_na + 0.3]))
    axes.append(dict(label=data.metric, values=complete.value.tolist(), tickformat=".3f"))
    fig = go.Figure(go.Parcoords(
        line=dict(color=complete.value.tolist(), colorscale="Viridis", showscale=True,
                  colorbar=dict(title=dict(text=data.metric, side="right"))),
        dimensions=axes, labelangle=-20, labelside="top"))
    base_layout(fig, f"Parallel coordinates: dimensions against {data.metric} (completed trials; drag along "
                     "an axis to filter)", height=480, margin=dict(l=80, r=80, t=130, b=40))
    return fig
