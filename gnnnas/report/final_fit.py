"""The final fit in the report: each finalist's search result next to its retraining from scratch."""

from __future__ import annotations

import html

from gnnnas.report.data import ReportData
from gnnnas.report.table import _shown

_STOPPED = {"early_stopping": "early stopping", "max_epochs": "max epochs", "timeout": "final fit's timeout"}


def final_fit_html(data: ReportData) -> str:
    """A table of the finalists (best on validation first); empty when the study had no final fit."""
    metric = data.attrs.get("metric")
    if not data.finals or not metric:
        return ""
    rows = []
    ordered = sorted(data.finals.items(), key=lambda kv: -kv[1]["val"].get(metric, float("-inf")))
    for n, r in ordered:
        t = data.row(n)
        held = n == data.winner and data.final is not None
        cells = [f"{n}", *(_shown(v, "metric") for v in (t.value, r["val"].get(metric), t.test, r["test"].get(metric))),
                 f"{r['best_epoch']} of {r['epochs']} (max {r['max_epochs']})",
                 html.escape(_STOPPED.get(r["stopped"], str(r["stopped"]))), _shown(r["seconds"], "int"),
                 "best/" if held else ""]
        row_class = ' class="winner"' if held else ""
        rows.append(f"<tr{row_class}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    m = html.escape(metric)
    head = ["trial", f"search val {m}", f"final val {m}", f"search test {m}", f"final test {m}",
            "best epoch", "stopped by", "seconds", ""]
    kept = ("" if data.final is not None else
            f" No final fit beat the search's trial {data.winner} on validation, so best/ holds its search weights.")
    return (f'<p class="muted">After the search, these trials were retrained from scratch with their own seed and '
            f"training settings, without the per-trial time limit, with early stopping on validation. best/ holds "
            f"the best on validation of the final fits and the search's winner; test is reported, never selected "
            f"on.{kept}</p>"
            f'<table class="final-fit"><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')
