"""Cost against quality: the metric against parameter count and training seconds, Pareto fronts marked;
and for a multi-objective study, its objectives against each other."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gnnnas.report.data import ReportData, pareto_front
from gnnnas.report.style import STATUS_COLORS, WINNER_COLOR, Empty, Figure, base_layout

PARETO_COLOR = "#CC79A7"


def cost_front(points: pd.DataFrame, cost: str, maximize: bool) -> pd.DataFrame:
    """The trials no other trial beats on both: cheaper (or as cheap) and better (or as good)."""
    ids = pareto_front([(int(r.trial), [float(r[cost]), float(r.value)]) for _, r in points.iterrows()],
                       [False, maximize])
    return points[points.trial.isin(ids)].sort_values(cost)


def cost_figure(data: ReportData) -> Figure:
    complete = data.complete
    costs = [c for c in ("params", "seconds") if c in complete and complete[c].notna().any()]
    if complete.empty or not costs:
        return Empty("Cost against quality needs completed trials that recorded their parameter count and "
                     f"training seconds; this study has {len(complete)} completed trials"
                     + (" and no costs recorded." if not complete.empty else "."))
    titles = {"params": "parameter count (log scale)", "seconds": "trial wall time (seconds)"}
    fig = make_subplots(rows=1, cols=len(costs), shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=[f"against {titles[c].split(' (')[0]}" for c in costs])
    for col, cost in enumerate(costs, start=1):
        rows = complete[complete[cost].notna()].astype({cost: "float64"})
        front = cost_front(rows, cost, data.maximize)
        text = [f"trial {r.trial}<br>{int(r.params) if pd.notna(r.params) else '-'} parameters<br>"
                f"{r.seconds:.1f} s" if pd.notna(r.seconds) else f"trial {r.trial}" for _, r in rows.iterrows()]
        fig.add_trace(go.Scatter(
            x=rows[cost], y=rows.value, mode="markers", name="completed trial", legendgroup="trial",
            showlegend=col == 1, text=text, marker=dict(color=STATUS_COLORS["complete"], size=9, opacity=0.75),
            hovertemplate="%{text}<br>value %{y:.4f}<extra></extra>"), row=1, col=col)
        fig.add_trace(go.Scatter(
            x=front[cost], y=front.value, mode="lines+markers", name="Pareto front (cheaper and better)",
            legendgroup="front", showlegend=col == 1, line=dict(shape="hv", color=PARETO_COLOR, width=2),
            marker=dict(size=13, symbol="circle-open", color=PARETO_COLOR, line=dict(width=2.5)),
            hoverinfo="skip"), row=1, col=col)
        w = rows[rows.trial == data.winner]
        if not w.empty:
            fig.add_trace(go.Scatter(
                x=w[cost], y=w.value, mode="markers", name=f"winner (trial {data.winner})", legendgroup="winner",
                showlegend=col == 1, marker=dict(symbol="star", size=16, color=WINNER_COLOR,
                                                 line=dict(width=1, color="white")),
                hovertemplate=f"winner: trial {data.winner}<br>value %{{y:.4f}}<extra></extra>"), row=1, col=col)
        # a log axis only where sizes span more than a decade; within one it just crowds its tick labels
        spread = rows[cost].max() / max(rows[cost].min(), 1e-9)
        log = cost == "params" and spread > 10
        title = titles[cost] if log or cost != "params" else "parameter count"
        fig.update_xaxes(title_text=title, type="log" if log else "linear", nticks=8, tickangle=0, row=1, col=col)
    fig.update_yaxes(title_text=data.metric, row=1, col=1)
    base_layout(fig, f"Cost against quality: {data.metric} per completed trial", height=460,
                legend=dict(orientation="h", yanchor="top", y=-0.24, x=0), margin=dict(b=120))
    return fig


def objectives_figure(data: ReportData) -> Figure:
    """Multi-objective studies: the first two objectives of every completed trial, the Pareto front marked."""
    rows = data.complete[data.complete["values"].notna()]
    if rows.empty:
        return Empty("No trial of this multi-objective study has completed, so there is no front to draw.")
    names = data.objectives
    x = [v[0] for v in rows["values"]]
    y = [v[1] for v in rows["values"]]
    on_front = rows.trial.isin(data.pareto)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name="completed trial", text=rows.trial,
                             marker=dict(color=STATUS_COLORS["complete"], size=9, opacity=0.7),
                             hovertemplate="trial %{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>"))
    front = sorted((v[0], v[1], n) for v, n, f in zip(rows["values"], rows.trial, on_front) if f)
    fig.add_trace(go.Scatter(x=[p[0] for p in front], y=[p[1] for p in front], mode="lines+markers",
                             name=f"Pareto front ({len(front)} trials)", text=[p[2] for p in front],
                             line=dict(color=PARETO_COLOR, width=2),
                             marker=dict(size=13, symbol="circle-open", color=PARETO_COLOR, line=dict(width=2.5)),
                             hovertemplate="trial %{text} (Pareto-optimal)<extra></extra>"))
    arrows = {"maximize": "higher is better", "minimize": "lower is better"}
    fig.update_xaxes(title_text=f"{names[0]} ({arrows[data.directions[0]]})")
    fig.update_yaxes(title_text=f"{names[1]} ({arrows[data.directions[1]]})")
    extra = f"; objectives 3-{len(names)} are not drawn" if len(names) > 2 else ""
    base_layout(fig, f"Objectives of the multi-objective study{extra}", height=440)
    return fig
