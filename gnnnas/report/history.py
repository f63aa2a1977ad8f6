"""Optimisation history: each trial's value and the best so far, over trial number and over wall-clock time."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gnnnas.report.data import ReportData
from gnnnas.report.style import BEST_SO_FAR_COLOR, STATUS_COLORS, WINNER_COLOR, Empty, Figure, base_layout, wrap

# Pruned and running trials are drawn at the best value they reported, hollow: not final results.
_SYMBOLS = {"complete": "circle", "pruned": "circle-open", "running": "diamond-open", "waiting": "diamond-open"}


def _best_so_far(points: pd.DataFrame, x: str, maximize: bool, until: float | None = None
                 ) -> tuple[list[float], list[float]]:
    """A step line through the running best of completed trials, ordered by ``x``, carried on to ``until``."""
    xs, ys, best = [], [], None
    for _, r in points.sort_values(x).iterrows():
        if best is None or (r.value > best if maximize else r.value < best):
            best = r.value
        xs.append(r[x])
        ys.append(best)
    if until is not None and xs and until > xs[-1]:  # the best stays the best while later trials run
        xs.append(until)
        ys.append(best)
    return xs, ys


def history_figure(data: ReportData) -> Figure:
    t = data.trials
    shown = t[t.value.notna()]
    if shown.empty:
        return Empty("No trial has a validation value yet (every trial failed or none has been evaluated), "
                     "so there is no history to draw.")
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("by trial number", "by wall-clock time (trial end)"))
    for status in ("complete", "pruned", "running", "waiting"):
        rows = shown[shown.status == status]
        if rows.empty:
            continue
        name = {"complete": "completed trial", "pruned": "pruned trial (best reported value)",
                "running": "running trial (best so far)", "waiting": "waiting trial"}[status]
        text = [f"trial {r.trial}<br>{status}" + (f" ({r.stopped.replace('_', ' ')})" if r.stopped else "")
                + (f"<br>test {r.test:.4f}" if pd.notna(r.test) else "") for _, r in rows.iterrows()]
        for col, x in ((1, rows.trial), (2, rows.end_s / 60.0)):
            fig.add_trace(go.Scatter(
                x=x, y=rows.value, mode="markers", name=name, legendgroup=status, showlegend=col == 1,
                marker=dict(color=STATUS_COLORS[status], symbol=_SYMBOLS[status], size=9,
                            line=dict(width=1.5, color=STATUS_COLORS[status])),
                text=text, hovertemplate="%{text}<br>value %{y:.4f}<extra></extra>"), row=1, col=col)
    complete = data.complete
    if not complete.empty:
        for col, x, scale in ((1, "trial", 1.0), (2, "end_s", 60.0)):
            xs, ys = _best_so_far(complete, x, data.maximize, until=t[x].max())
            fig.add_trace(go.Scatter(
                x=[v / scale for v in xs], y=ys, mode="lines", line=dict(shape="hv", color=BEST_SO_FAR_COLOR, width=2),
                name="best so far (completed trials)", legendgroup="best", showlegend=col == 1,
                hovertemplate="best so far %{y:.4f}<extra></extra>"), row=1, col=col)
    if data.winner is not None:
        w = data.row(data.winner)
        for col, x in ((1, w.trial), (2, w.end_s / 60.0)):
            fig.add_trace(go.Scatter(
                x=[x], y=[w.value], mode="markers", name=f"winner (trial {w.trial})", legendgroup="winner",
                showlegend=col == 1, marker=dict(symbol="star", size=17, color=WINNER_COLOR,
                                                 line=dict(width=1, color="white")),
                hovertemplate=f"winner: trial {w.trial}<br>value %{{y:.4f}}<extra></extra>"), row=1, col=col)
    fig.update_xaxes(title_text="trial number", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(title_text="wall-clock time since the search started (minutes)", row=1, col=2,
                     rangemode="tozero")
    fig.update_yaxes(title_text=data.metric, row=1, col=1)
    missing = t[t.value.isna()]
    note = ""
    if not missing.empty:  # failed trials, and ones stopped before their first evaluation, have no value
        note = (f"not drawn, no validation value: trial{'s' if len(missing) > 1 else ''} "
                f"{', '.join(str(n) for n in missing.trial)} ("
                + ", ".join(f"{n} {s}" for s, n in missing.status.value_counts().items()) + ")")
    base_layout(fig, f"Optimisation history: {data.metric} per trial and best so far", height=460,
                subtitle=wrap(note), margin=dict(t=95 if note else 70),
                legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    fig.update_layout(margin=dict(b=110))
    return fig
