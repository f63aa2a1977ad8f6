"""Learning curves: the validation metric per epoch of every trial; how each ended is visible at a glance."""

from __future__ import annotations

import plotly.graph_objects as go

from gnnnas.report.data import ReportData
from gnnnas.report.style import STATUS_COLORS, WINNER_COLOR, Empty, Figure, base_layout

# (legend name, colour, dash, width) per way a trial ended; the winner is drawn last, on top.
_KINDS = {
    "complete": ("completed (max epochs)", STATUS_COLORS["complete"], "solid", 1.5),
    "early_stopping": ("completed (early-stopped)", "#56B4E9", "dash", 1.5),
    "time_limit": ("completed (time limit)", "#56B4E9", "dashdot", 1.5),
    "pruned": ("pruned", STATUS_COLORS["pruned"], "dot", 1.5),
    "timeout": ("stopped by the search timeout", STATUS_COLORS["pruned"], "longdash", 1.5),
    "running": ("running", STATUS_COLORS["running"], "solid", 2.0),
    "fail": ("failed", STATUS_COLORS["fail"], "dot", 1.0),
}


def _kind(status: str, stopped: str | None) -> str:
    if status == "complete":
        return stopped if stopped in ("early_stopping", "time_limit") else "complete"
    if status == "pruned":
        return "timeout" if stopped == "timeout" else "pruned"  # time_limit without an evaluation: pruned too
    return status if status in _KINDS else "running"


def curves_figure(data: ReportData) -> Figure:
    drawn = {n: c for n, c in data.curves.items() if c}
    if not drawn:
        return Empty("No trial has recorded a validation evaluation yet, so there are no learning curves to draw.")
    fig = go.Figure()
    seen: set[str] = set()
    rows = data.trials.set_index("trial")
    for number in sorted(drawn, key=lambda n: n == data.winner):  # the winner last: on top
        r = rows.loc[number]
        kind = _kind(r.status, r.stopped)
        name, color, dash, width = _KINDS[kind]
        points = drawn[number]
        winner = number == data.winner
        fig.add_trace(go.Scatter(
            x=[e for e, _ in points], y=[v for _, v in points], mode="lines+markers" if len(points) == 1 else "lines",
            name=f"winner (trial {number})" if winner else name, legendgroup="winner" if winner else kind,
            showlegend=winner or kind not in seen,
            line=dict(color=WINNER_COLOR if winner else color, dash="solid" if winner else dash,
                      width=4 if winner else width),
            marker=dict(size=6), opacity=1.0 if winner else 0.8,
            hovertemplate=f"trial {number} ({name})<br>epoch %{{x}}<br>value %{{y:.4f}}<extra></extra>"))
        if not winner:
            seen.add(kind)
        if r.status == "pruned":  # an x where a pruned trial was cut off
            fig.add_trace(go.Scatter(x=[points[-1][0]], y=[points[-1][1]], mode="markers", showlegend=False,
                                     legendgroup=kind, marker=dict(symbol="x", size=8, color=color),
                                     hoverinfo="skip"))
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_yaxes(title_text=data.metric)
    base_layout(fig, f"Learning curves: {data.metric} per epoch ({len(drawn)} trials)", height=460)
    return fig
