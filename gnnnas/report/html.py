"""Assembling the report: one self-contained HTML file with plotly.js inlined once.

Each figure is ``fig.to_html(full_html=False, include_plotlyjs=False)`` (a
div and the script that draws it); plotly.js itself comes from the installed
plotly package, so the file opens offline.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import plotly.graph_objects as go

from gnnnas.report.style import Empty

CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png", "scale": 2}}

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0;
       background: #f5f6f8; }
header.top { background: #1f2d3d; color: #fff; padding: 18px 32px; }
header.top h1 { margin: 0 0 4px; font-size: 24px; }
header.top p { margin: 0; color: #c9d3de; }
nav { background: #fff; border-bottom: 1px solid #dde; padding: 8px 32px; position: sticky; top: 0; z-index: 10; }
nav a { margin-right: 16px; color: #0b5cad; text-decoration: none; font-size: 14px; white-space: nowrap; }
main { max-width: 1320px; margin: 0 auto; padding: 16px 24px 48px; }
section { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 12px 20px 16px;
          margin: 18px 0; }
section h2 { font-size: 19px; margin: 6px 0 4px; }
section > p.intro { color: #555; margin: 0 0 10px; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 14px; }
.card { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 10px 16px; }
.card.wide { grid-column: 1 / -1; }
.card h3 { margin: 4px 0 8px; font-size: 15px; color: #1f2d3d; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0; font-size: 14px; }
dt { color: #666; } dd { margin: 0; }
.badge { display: inline-block; color: #fff; border-radius: 10px; padding: 2px 9px; font-size: 13px;
         margin: 0 4px 4px 0; }
code.spec { display: block; white-space: pre-wrap; font-size: 13px; background: #f6f8fa; padding: 8px;
            border-radius: 4px; }
.empty { background: #fafafa; border: 1px dashed #bbb; border-radius: 6px; padding: 18px; color: #555;
         text-align: center; }
.live { background: #e9f7ef; border: 1px solid #009E73; border-radius: 6px; padding: 8px 12px; }
.live.stale { background: #fdf0e6; border-color: #D55E00; }
.fidelity { background: #fdf0e6; border: 1px solid #D55E00; border-radius: 6px; padding: 8px 12px; }
.muted { color: #666; font-size: 13px; }
.figure { margin: 8px 0 14px; overflow-x: auto; }
.table-tools { margin: 6px 0 8px; }
.table-tools input { width: 320px; padding: 4px 8px; font-size: 14px; }
.table-tools select { padding: 4px; font-size: 14px; }
.table-wrap { max-height: 560px; overflow: auto; border: 1px solid #e1e4e8; }
table.sortable { border-collapse: collapse; font-size: 13px; width: 100%; }
table.sortable th { position: sticky; top: 0; background: #eef1f5; cursor: pointer; padding: 6px 8px;
                    text-align: left; white-space: nowrap; border-bottom: 1px solid #ccd; }
table.sortable th[data-order="asc"]::after { content: " ▲"; }
table.sortable th[data-order="desc"]::after { content: " ▼"; }
table.sortable td { padding: 4px 8px; border-bottom: 1px solid #eee; white-space: nowrap; }
table.sortable td:last-child { white-space: normal; min-width: 180px; }
table.sortable td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable tr.winner td { background: #fde8f2; font-weight: 600; }
table.sortable tr[data-status="fail"] td { color: #a33; }
table.final-fit { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
table.final-fit th { background: #eef1f5; padding: 6px 8px; text-align: left; }
table.final-fit td { padding: 4px 8px; border-bottom: 1px solid #eee; text-align: right;
  font-variant-numeric: tabular-nums; }
table.final-fit tr.winner td { background: #fde8f2; font-weight: 600; }
footer { color: #777; font-size: 12px; text-align: center; padding: 12px; }
"""


@dataclass
class Section:
    """A titled part of the report: an intro sentence, then figures, placeholders or raw HTML, in order."""

    anchor: str
    title: str
    intro: str = ""
    parts: list[go.Figure | Empty | str] = field(default_factory=list)


def part_html(part: go.Figure | Empty | str, div_id: str) -> str:
    if isinstance(part, Empty):
        return f'<p class="empty">{html.escape(part.message)}</p>'
    if isinstance(part, go.Figure):
        return '<div class="figure">' + part.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                                                      config=CONFIG) + "</div>"
    return part


def plotly_js() -> str:
    """plotly.min.js of the installed plotly package (no CDN: the report must open offline)."""
    from plotly.offline import get_plotlyjs
    # "</script" inside the inlined code would end the script element early; plotly.min.js has none, but be sure.
    return get_plotlyjs().replace("</script", "<\\/script")


def page(title: str, subtitle: str, head_html: str, sections: list[Section], footer: str, scripts: str = "") -> str:
    """The whole report as one HTML document."""
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    body = []
    for s in sections:
        parts = "".join(part_html(p, f"fig-{s.anchor}-{i}") for i, p in enumerate(s.parts))
        intro = f'<p class="intro">{s.intro}</p>' if s.intro else ""
        body.append(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{intro}{parts}</section>')
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style>\n<script>{plotly_js()}</script>\n</head><body>"
        f'<header class="top"><h1>{html.escape(title)}</h1><p>{subtitle}</p></header>'
        f"<nav>{nav}</nav><main>{head_html}{''.join(body)}</main>"
        f"<footer>{footer}</footer><script>{scripts}</script></body></html>\n"
    )
