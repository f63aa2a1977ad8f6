"""Learning curves: the validation metric per epoch of every trial; how each ended is visible at a glance.

Trials that recorded when each evaluation happened (``curve_seconds``) can
also be drawn against seconds of training, the axis the pruner compares
candidates on with ``--prune-by seconds``; a button switches between the
two, and that view is the first one for such searches.
"""

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
    by_time: list[list[float]] = []  # x of every trace on the time axis, in trace order
    for number in sorted(drawn, key=lambda n: n == data.winner):  # the winner last: on top
        r = rows.loc[number]
        kind = _kind(r.status, r.stopped)
        name, color, dash, width = _KINDS[kind]
        points = drawn[number]
        timed = data.timed_curves.get(number) or []
        # a trial without times has nothing to draw on the time axis (its x there are empty)
        xs_time = [x for x, _ in timed] if len(timed) == len(points) else [None] * len(points)
        timed = timed if len(timed) == len(points) else []
        winner = number == data.winner
        fig.add_trace(go.Scatter(
            x=[e for e, _ in points], y=[v for _, v in points], mode="lines+markers" if len(points) == 1 else "lines",
            name=f"winner (trial {number})" if winner else name, legendgroup="winner" if winner else kind,
            showlegend=winner or kind not in seen,
            line=dict(color=WINNER_COLOR if winner else color, dash="solid" if winner else dash,
                      width=4 if winner else width),
            marker=dict(size=6), opacity=1.0 if winner else 0.8,
            customdata=[[e, t] for (e, _), t in zip(points, xs_time)],
            hovertemplate=(f"trial {number} ({name})<br>epoch %{{customdata[0]}}"
                           + (", %{customdata[1]:.1f} s of training" if timed else "")
                           + "<br>value %{y:.4f}<extra></extra>")))
        by_time.append(xs_time)
        if not winner:
            seen.add(kind)
        if r.status == "pruned":  # an x where a pruned trial was cut off
            fig.add_trace(go.Scatter(x=[points[-1][0]], y=[points[-1][1]], mode="markers", showlegend=False,
                                     legendgroup=kind, marker=dict(symbol="x", size=8, color=color),
                                     hoverinfo="skip"))
            by_time.append([by_time[-1][-1]])
    fig.update_yaxes(title_text=data.metric)
    title = f"Learning curves: {data.metric} per epoch ({len(drawn)} trials)"
    base_layout(fig, title, height=460)
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    if data.timed_curves:
        by_epoch = [list(tr.x) for tr in fig.data]
        time_title = f"Learning curves: {data.metric} by seconds of training ({len(drawn)} trials)"
        views = {
            "epoch": dict(label="by epoch", method="update",
                          args=[{"x": by_epoch}, {"xaxis.title.text": "epoch", "title.text": title}]),
            "seconds": dict(label="by training seconds", method="update",
                            args=[{"x": by_time}, {"xaxis.title.text": "seconds of training",
                                                   "title.text": time_title}]),
        }
        first = "seconds" if data.attrs.get("prune_by") == "seconds" else "epoch"
        if first == "seconds":  # what the pruner compared: show it first
            for trace, xs in zip(fig.data, by_time):
                trace.x = xs
            fig.update_xaxes(title_text="seconds of training")
            fig.update_layout(title_text=time_title)
        order = [first, "epoch" if first == "seconds" else "seconds"]
        fig.update_layout(updatemenus=[dict(type="buttons", direction="right", x=1.0, xanchor="right", y=1.12,
                                            yanchor="bottom", showactive=True, active=0,
                                            buttons=[views[k] for k in order])])
    return fig
