"""A drawing of an architecture: input embedding, the layer stack, skip connections, layer combination, scoring.

Drawn with Plotly shapes and annotations (no extra library, and the PNG
export sees the same drawing). Left to right: every state ``x_l`` leaves the
box that made it; skip connections arc above the stack, the states the layer
combination reads arc below it to the combination box.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from gnnnas.report.data import ReportData
from gnnnas.report.style import Empty, Figure, base_layout

BOX_W, GAP, BOX_H = 1.7, 0.7, 1.0  # data units; the box spans y in [-BOX_H, BOX_H]
WIDTH = 1250  # pixels: fixed, so that box text always fits its box
SKIP_COLOR = "#009E73"
COMBINE_COLOR = "#CC79A7"
FILL = {"input": "#EAF2FA", "layer": "#FFF4E0", "combine": "#F7E8F1", "score": "#EEEEEE"}

_COMBINE_TEXT = {
    "last": "last layer's output",
    "mean": "mean of all states",
    "sum": "sum of all states",
    "concat": "concat of all states",
    "weighted": "learned weighted sum",
    "attention": "attention over states",
}


def _layer_lines(i: int, layer: dict) -> list[str]:
    lines = [f"<b>layer {i + 1}: {layer.get('aggregator')}</b>", f"width {layer.get('hidden')}"]
    if layer.get("aggregator") in ("gat", "gatv2"):
        lines.append(f"{layer.get('heads')} heads, {layer.get('head_combine')}")
    extras = [x for x in (layer.get("activation") if layer.get("activation") not in (None, "identity") else "",
                          f"{layer.get('norm')} norm" if layer.get("norm") not in (None, "none") else "",
                          f"dropout {layer.get('dropout'):g}" if layer.get("dropout") else "") if x]
    lines.append(", ".join(extras) if extras else "linear (no activation)")
    return lines


def _arc(fig: go.Figure, x0: float, x1: float, y0: float, height: float, color: str, dash: str = "solid") -> None:
    """A cubic curve from (x0, y0) to (x1, y0) bulging to about ``y0 + 0.75 * height``."""
    path = f"M {x0},{y0} C {x0},{y0 + height} {x1},{y0 + height} {x1},{y0}"
    fig.add_shape(type="path", path=path, line=dict(color=color, width=2, dash=dash), layer="below")


def _arrow(fig: go.Figure, x0: float, x1: float, y: float = 0.0, color: str = "#444") -> None:
    fig.add_annotation(x=x1, y=y, ax=x0, ay=y, xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True,
                       arrowhead=2, arrowsize=1.2, arrowwidth=2, arrowcolor=color)


def architecture_figure(spec: dict, title: str) -> go.Figure:
    """The drawing of one spec (an ``ArchSpec.to_dict()``)."""
    layers = spec.get("layers") or []
    dim = spec.get("embedding_dim")
    skip = spec.get("skip", "none") if layers else "none"
    combination = spec.get("combination", "mean")
    training = spec.get("training") or {}
    boxes: list[tuple[str, list[str]]] = [("input", ["<b>input embedding</b>", f"users + items, dim {dim}",
                                                     f"edge dropout {spec.get('edge_dropout', 0):g}"
                                                     if layers and spec.get("edge_dropout") else "id features"])]
    boxes += [("layer", _layer_lines(i, layer)) for i, layer in enumerate(layers)]
    if layers:
        width = sum([dim, *[l.get("hidden") or 0 for l in layers]]) if combination == "concat" else (
            layers[-1].get("hidden"))
        boxes.append(("combine", ["<b>layer combination</b>", _COMBINE_TEXT.get(combination, combination),
                                  f"output width {width}"]))
    boxes.append(("score", ["<b>score</b>", f"{spec.get('scoring', 'dot')}(user, item)",
                            f"{training.get('loss', 'bpr')} loss"]))
    fig = go.Figure()
    centers = [i * (BOX_W + GAP) + BOX_W / 2 for i in range(len(boxes))]
    for (kind, lines), cx in zip(boxes, centers):
        fig.add_shape(type="rect", x0=cx - BOX_W / 2, x1=cx + BOX_W / 2, y0=-BOX_H, y1=BOX_H,
                      line=dict(color="#555", width=1.5), fillcolor=FILL[kind], layer="above")
        fig.add_annotation(x=cx, y=0, text="<br>".join(lines), showarrow=False, font=dict(size=12),
                           xref="x", yref="y", align="center")
    for a, b in zip(centers, centers[1:]):
        _arrow(fig, a + BOX_W / 2, b - BOX_W / 2)
    n = len(layers)
    # state x_l leaves box l (x_0 the input box) at the gap after it
    out_x = [centers[l] + BOX_W / 2 + GAP / 2 for l in range(n + 1)]
    if skip == "residual":
        for l in range(n):  # x_{l+1} = layer(x_l) + x_l: around layer l+1
            _arc(fig, out_x[l], out_x[l + 1], BOX_H * 0.2, 2.4, SKIP_COLOR)
            fig.add_annotation(x=out_x[l + 1], y=BOX_H * 0.2, text="<b>+</b>", showarrow=False,
                               font=dict(size=16, color=SKIP_COLOR), yshift=10)
    elif skip == "dense":
        for l in range(1, n):  # layer l+1 reads [x_0 .. x_l]: every earlier state arcs to its input
            for j in range(l):
                _arc(fig, out_x[j], out_x[l], BOX_H * 0.2, 1.8 + 0.9 * (l - j), SKIP_COLOR)
            fig.add_annotation(x=out_x[l], y=BOX_H * 0.2, text="<b>‖</b>", showarrow=False,
                               font=dict(size=16, color=SKIP_COLOR), yshift=10)
    if n:
        cx = centers[n + 1]
        read = [n] if combination == "last" else list(range(n))  # x_n already flows in along the main line
        for j in read:
            if j == n:
                continue
            _arc(fig, out_x[j], cx - 0.25 * (n - j) / max(n, 1), -BOX_H * 0.2, -(1.8 + 0.5 * (n - j)), COMBINE_COLOR,
                 dash="dot")
    top = 1.0 + (0.75 * (1.8 + 0.9 * max(n - 1, 1)) if skip == "dense" else 2.4 * 0.75 if skip == "residual" else 0.3)
    bottom = -(BOX_H * 0.2 + 0.75 * (1.8 + 0.5 * n)) if n and combination != "last" else -1.3
    legend = []
    if skip != "none":
        legend.append(f"<span style='color:{SKIP_COLOR}'>━</span> {skip} skip connections")
    if n and combination != "last":
        legend.append(f"<span style='color:{COMBINE_COLOR}'>┅</span> states read by the layer combination")
    if not n:
        legend.append("no message passing: matrix factorisation")
    knobs = (f"training: lr {training.get('lr', 0):.2g}, L2 {training.get('l2', 0):.2g}, batch "
             f"{training.get('batch_size')}, {training.get('loss', 'bpr')} loss, {training.get('num_negatives')} "
             "negative(s) per positive" + (f" + {training['shared_negatives']} shared per batch"
                                           if training.get("shared_negatives") else ""))
    fig.add_annotation(text="   ".join([*legend, knobs]), xref="paper", yref="paper", x=0, y=0, yshift=-28,
                       showarrow=False, xanchor="left", font=dict(size=12, color="#444"))
    right = centers[-1] + BOX_W / 2
    fig.update_xaxes(visible=False, range=[-0.2, max(right + 0.2, 6 * (BOX_W + GAP))])
    fig.update_yaxes(visible=False, range=[min(bottom, -1.3) - 0.2, top + 0.2])
    base_layout(fig, title, height=420, width=WIDTH, showlegend=False, margin=dict(l=20, r=20, t=60, b=50))
    return fig


def winner_figure(data: ReportData) -> Figure:
    if data.winner is None:
        return Empty("No trial has completed yet, so there is no winning architecture to draw.")
    row = data.row(data.winner)
    if not row.spec:
        return Empty(f"The winning trial {data.winner} recorded no gnnnas architecture (user attr 'spec').")
    test = f", test {row.test:.4f}" if pd.notna(row.test) else ""
    return architecture_figure(row.spec, f"Winning architecture: trial {data.winner} "
                                         f"({data.metric} {row.value:.4f}{test})")

