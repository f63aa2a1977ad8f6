"""What every figure shares: status colours, the base layout, and the "nothing to show" placeholder."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import plotly.graph_objects as go

# One colour per trial status, the same in every figure (colour-blind safe: Okabe-Ito).
STATUS_COLORS = {
    "complete": "#0072B2",
    "pruned": "#E69F00",
    "fail": "#D55E00",
    "running": "#009E73",
    "waiting": "#999999",
}
WINNER_COLOR = "#CC0066"
BEST_SO_FAR_COLOR = "#222222"
FONT = dict(family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif", size=13, color="#222")


@dataclass(frozen=True)
class Empty:
    """Shown instead of a figure that would be empty: one sentence saying why."""

    message: str


Figure = go.Figure | Empty


def base_layout(fig: go.Figure, title: str, height: int = 420, subtitle: str = "", **layout) -> go.Figure:
    """Title (and a smaller subtitle under it), font, margins and white background: every figure alike."""
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=16),
                   subtitle=dict(text=subtitle, font=dict(size=12, color="#555"))),
        font=FONT, height=height, template="plotly_white",
        margin=dict(l=70, r=30, t=60, b=60),
        legend=dict(bgcolor="rgba(255,255,255,0.8)"),
        hoverlabel=dict(font_size=12),
    )
    if layout:  # after the defaults, so that a figure's own margin or legend wins
        fig.update_layout(**layout)
    return fig


def wrap(text: str, width: int = 150) -> str:
    """``text`` broken into lines of at most ``width`` characters (``<br>``): Plotly titles never wrap by themselves."""
    return "<br>".join(textwrap.wrap(text, width)) or text

