"""The trial timeline: one bar per trial from its start to its end, one row per worker process."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from gnnnas.report.data import ReportData
from gnnnas.report.style import STATUS_COLORS, WINNER_COLOR, Empty, Figure, base_layout


def _worker_labels(workers: list[str]) -> dict[str, str]:
    """'host:pid' -> 'worker N (host:pid)', numbered in order of first trial."""
    return {w: f"worker {i + 1} ({w})" if w != "-" else "unknown worker" for i, w in enumerate(workers)}


def timeline_figure(data: ReportData) -> Figure:
    t = data.trials[data.trials.start_s.notna()]
    if t.empty:
        return Empty("No trial has started yet, so there is no timeline to draw.")
    order = list(dict.fromkeys(t.sort_values("start_s").worker))
    labels = _worker_labels(order)
    fig = go.Figure()
    for status in ("complete", "pruned", "fail", "running", "waiting"):
        rows = t[t.status == status]
        if rows.empty:
            continue
        # A trial that has not ended (waiting, or a running one of another clock) still gets a visible sliver.
        durations = rows.duration_s.fillna(0).clip(lower=0.2)
        text = [f"{r.trial}" for _, r in rows.iterrows()]
        hover = [f"trial {r.trial} ({status}{', ' + r.stopped.replace('_', ' ') if r.stopped else ''}"
                 f"{', no heartbeat: worker stopped?' if r.stale else ''})<br>"
                 f"start {r.start_s:.0f} s, duration {d:.1f} s<br>{r.worker}"
                 + (f"<br>{r.error}" if status == "fail" and r.error else "")
                 for (_, r), d in zip(rows.iterrows(), durations)]
        fig.add_trace(go.Bar(
            base=rows.start_s, x=durations, y=[labels[w] for w in rows.worker], orientation="h",
            name=status, marker=dict(color=STATUS_COLORS[status], line=dict(color="white", width=1),
                                     pattern=dict(shape="/" if status == "running" else "")),
            text=text, textposition="inside", insidetextanchor="middle", textfont=dict(color="white", size=11),
            hovertext=hover, hovertemplate="%{hovertext}<extra></extra>"))
    if data.winner is not None:
        w = data.row(data.winner)
        if pd.notna(w.start_s):
            fig.add_trace(go.Scatter(x=[w.start_s + (w.duration_s or 0) / 2], y=[labels[w.worker]], mode="markers",
                                     name=f"winner (trial {w.trial})", hoverinfo="skip",
                                     marker=dict(symbol="star", size=16, color=WINNER_COLOR,
                                                 line=dict(width=1, color="white"))))
    n = len(order)
    fig.update_layout(barmode="overlay", bargap=0.35)
    fig.update_xaxes(title_text="seconds since the search started", rangemode="tozero")
    fig.update_yaxes(title_text="worker process", autorange="reversed", automargin=True)
    workers = "one worker" if n == 1 else f"{n} workers in parallel"
    base_layout(fig, f"Trial timeline ({workers}; bar labels are trial numbers)", height=230 + 70 * n,
                legend=dict(orientation="h", yanchor="bottom", y=1.02, x=1, xanchor="right"),
                margin=dict(t=90))
    return fig
