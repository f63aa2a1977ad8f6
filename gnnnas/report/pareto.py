"""The Pareto front of a multi-objective search (``gnnnas search --objectives``): quality against each cost.

One panel per cost objective, the quality metric on the y axis. Completed
trials on the front (Pareto rank 1 over all objectives, feasible trials only)
are highlighted and joined in cost order; dominated trials are plain dots;
trials over a cost limit are crosses. Hovering shows the trial number, its
architecture and every objective.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gnnnas.report.cost import PARETO_COLOR
from gnnnas.report.data import ReportData
from gnnnas.report.style import STATUS_COLORS, WINNER_COLOR, Empty, Figure, base_layout, wrap
from gnnnas.search.objectives import COSTS

INFEASIBLE_COLOR = "#D55E00"
DOMINATED_COLOR = "#9AA5B1"


def _arch(r: pd.Series) -> str:
    if not r.layers:
        return html.escape(f"no GNN layer (MF), dim {r.embedding_dim}")
    aggregators = "/".join(map(str, r.aggregator)) if isinstance(r.aggregator, tuple) else str(r.aggregator)
    return html.escape(f"{r.layers} layers ({aggregators}), dim {r.embedding_dim}, combination {r.combination}")


def _hover(r: pd.Series, names: list[str]) -> str:
    values = "<br>".join(f"{html.escape(n)}: {v:.4g}" for n, v in zip(names, r["values"]))
    flag = "" if r.feasible else "<br><b>infeasible</b> (over a cost limit)"
    return f"trial {r.trial}<br>{_arch(r)}<br>{values}{flag}"


def is_gnnnas_multi_objective(data: ReportData) -> bool:
    """A study made by ``gnnnas search --objectives`` (costs known by name), not a plain Optuna one."""
    return data.multi_objective and len(data.attrs.get("objectives") or []) == len(data.objectives)


def pareto_figure(data: ReportData) -> Figure:
    names = data.attrs["objectives"]
    costs = names[1:]
    rows = data.trials[(data.trials.status == "complete") & data.trials["values"].notna()]
    if rows.empty:
        return Empty("No trial of this multi-objective search has completed, so there is no Pareto front to draw.")
    rows = rows.assign(on_front=rows.trial.isin(data.pareto))
    rows = rows.assign(text=[_hover(r, data.objectives) for _, r in rows.iterrows()])
    groups = {
        "front": rows[rows.on_front],
        "dominated": rows[~rows.on_front & rows.feasible.astype(bool)],
        "infeasible": rows[~rows.feasible.astype(bool)],
    }
    fig = make_subplots(rows=1, cols=len(costs), shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=[f"against {COSTS[c].label}" for c in costs])
    for col, cost in enumerate(costs, start=1):
        x_of = lambda df: [v[col] for v in df["values"]]  # noqa: E731 - objective ``col`` is this cost
        y_of = lambda df: [v[0] for v in df["values"]]  # noqa: E731
        legend = col == 1
        dominated, infeasible = groups["dominated"], groups["infeasible"]
        fig.add_trace(go.Scatter(
            x=x_of(dominated), y=y_of(dominated), mode="markers", name="dominated trial", legendgroup="dominated",
            showlegend=legend, text=dominated.text, marker=dict(color=DOMINATED_COLOR, size=8, opacity=0.8),
            hovertemplate="%{text}<extra>dominated</extra>"), row=1, col=col)
        if not infeasible.empty:
            fig.add_trace(go.Scatter(
                x=x_of(infeasible), y=y_of(infeasible), mode="markers", name="infeasible (over a cost limit)",
                legendgroup="infeasible", showlegend=legend, text=infeasible.text,
                marker=dict(color=INFEASIBLE_COLOR, size=9, symbol="x"),
                hovertemplate="%{text}<extra>infeasible</extra>"), row=1, col=col)
        front = groups["front"].assign(_x=x_of(groups["front"])).sort_values(["_x", "trial"])
        fig.add_trace(go.Scatter(
            x=front._x, y=y_of(front), mode="lines+markers", name=f"Pareto front ({len(front)} trials)",
            legendgroup="front", showlegend=legend, text=front.text,
            line=dict(shape="hv", color=PARETO_COLOR, width=2),
            marker=dict(size=12, color=STATUS_COLORS["complete"], line=dict(width=2.5, color=PARETO_COLOR)),
            hovertemplate="%{text}<extra>Pareto front</extra>"), row=1, col=col)
        w = front[front.trial == data.winner]
        if not w.empty:
            fig.add_trace(go.Scatter(
                x=w._x, y=y_of(w), mode="markers", name=f"exported best/ (trial {data.winner})",
                legendgroup="winner", showlegend=legend, hoverinfo="skip",
                marker=dict(symbol="star", size=17, color=WINNER_COLOR, line=dict(width=1, color="white"))),
                row=1, col=col)
        spread = max(x_of(rows)) / max(min(x_of(rows)), 1e-12)
        log = cost in ("params", "size") and spread > 10
        fig.update_xaxes(title_text=f"{COSTS[cost].label}, lower is better" + (", log scale" if log else ""),
                         type="log" if log else "linear", row=1, col=col)
    fig.update_yaxes(title_text=f"{data.objectives[0]} (higher is better)", row=1, col=1)
    note = (" The front is computed over all objectives, so in one panel it need not look monotone."
            if len(costs) > 1 else "")
    base_layout(fig, "Pareto front: quality against cost", height=480,
                subtitle=wrap("Each completed trial; the front joins the feasible trials that no other trial "
                              f"beats on every objective.{note}", 130),
                legend=dict(orientation="h", yanchor="top", y=-0.2, x=0), margin=dict(b=110, t=90))
    return fig
