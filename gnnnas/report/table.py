"""The leaderboard as an HTML table that sorts (click a header) and filters (text box, status menu).

Plain HTML and a few lines of inline JavaScript: no library, works offline.
Each cell carries its sort key in ``data-v`` so numbers sort as numbers.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from gnnnas.report.data import ReportData
from gnnnas.search.leaderboard import _dims

_ORDER = {"complete": 0, "pruned": 1, "running": 2, "waiting": 2, "fail": 3}

# (leaderboard column, header, format)
_COLUMNS = (
    ("rank", "rank", "int"), ("trial", "trial", "int"), ("status", "status", "text"),
    ("controller", "controller", "text"), ("val", "val {metric}", "metric"), ("test", "test {metric}", "metric"),
    ("layers", "layers", "int"), ("aggregators", "aggregators", "text"), ("dim", "dim", "int"),
    ("hidden", "hidden", "text"), ("heads", "heads", "text"), ("skip", "skip", "text"),
    ("combination", "combination", "text"), ("scoring", "scoring", "text"), ("features", "features", "text"),
    ("graph", "graph", "text"), ("lr", "lr", "sci"),
    ("l2", "L2", "sci"), ("params", "parameters", "int"), ("seconds", "seconds", "sec"), ("epochs", "epochs", "int"),
    ("note", "note", "text"),
)

SCRIPT = """
(function () {
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var body = table.tBodies[0];
    var filter = document.getElementById(table.dataset.filter);
    var status = document.getElementById(table.dataset.status);
    var count = document.getElementById(table.dataset.count);
    function apply() {
      var q = (filter.value || '').toLowerCase(), s = status.value, shown = 0;
      Array.prototype.forEach.call(body.rows, function (row) {
        var ok = (!q || row.textContent.toLowerCase().indexOf(q) >= 0) && (!s || row.dataset.status === s);
        row.style.display = ok ? '' : 'none';
        if (ok) { shown++; }
      });
      count.textContent = shown + ' of ' + body.rows.length + ' trials shown';
    }
    filter.addEventListener('input', apply);
    status.addEventListener('change', apply);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () {
        var asc = th.dataset.order !== 'asc';
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { delete h.dataset.order; });
        th.dataset.order = asc ? 'asc' : 'desc';
        var num = th.dataset.type !== 'text';
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
          if (x === '' && y === '') { return 0; }
          if (x === '') { return 1; }   /* empty cells last, whatever the order */
          if (y === '') { return -1; }
          var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
    apply();
  });
})();
"""


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _shown(v, fmt: str) -> str:
    if _missing(v):
        return "–"
    if fmt == "metric":
        return f"{float(v):.4f}"
    if fmt == "sci":
        return f"{float(v):.1e}"
    if fmt == "sec":
        return f"{float(v):.1f}"
    if fmt == "int":
        return f"{int(v):,}" if abs(int(v)) >= 10000 else str(int(v))
    return str(v)


def _note(r: pd.Series) -> str:
    if not _missing(r.reused_from):
        return f"same architecture as trial {int(r.reused_from)}"
    if r.status == "fail":
        return str(r.error or "")
    if r.stopped in ("pruned", "timeout", "time_limit", "early_stopping"):  # max_epochs: the normal end
        return f"stopped: {str(r.stopped).replace('_', ' ')}"
    return ""


def ranked(data: ReportData) -> pd.DataFrame:
    """The trials in leaderboard order (as ``gnnnas leaderboard``): completed (a multi-objective study's by
    Pareto rank first), then pruned by their best reported value, then running, then failed; within each,
    trials over a cost limit after the feasible ones, then by value; ties by trial number."""
    t = data.trials.copy()
    t["_order"] = t.status.map(_ORDER).fillna(3)
    t["_infeasible"] = ~t.feasible.astype(bool)
    t["_pareto"] = pd.to_numeric(t.pareto_rank, errors="coerce") if "pareto_rank" in t else math.nan
    t["_score"] = t.value if data.maximize else -t.value
    t = t.sort_values(["_order", "_infeasible", "_pareto", "_score", "trial"],
                      ascending=[True, True, True, False, True], na_position="last", kind="stable")
    return t.drop(columns=["_order", "_infeasible", "_pareto", "_score"]).reset_index(drop=True)


def leaderboard_table(data: ReportData, table_id: str = "leaderboard") -> str:
    """Every trial of ``data`` as a sortable, filterable table (HTML)."""
    if data.trials.empty:
        return '<p class="empty">No trials yet.</p>'
    columns = list(_COLUMNS)
    if data.multi_objective:  # one column per objective instead of val/test of one metric
        at = columns.index(("val", "val {metric}", "metric"))
        columns[at:at + 2] = [("pareto_rank", "Pareto rank", "int"),
                              *((f"obj{i}", name, "metric") for i, name in enumerate(data.objectives))]
    if data.attrs.get("constraints"):  # cost limits: which trials respect them
        columns.insert(columns.index(("note", "note", "text")), ("feasible_text", "within limits", "text"))
    metric = data.attrs.get("metric") or "value"
    cold = data.attrs.get("cold_metric")
    if cold:  # the cold-start protocol: cold items' test metric beside the warm one
        at = columns.index(("test", "test {metric}", "metric"))
        columns.insert(at + 1, ("test_cold", f"test {cold}", "metric"))
    header = "".join(f'<th data-type="{"text" if fmt == "text" else "num"}" title="click to sort">'
                     f'{html.escape(title.format(metric=metric))}</th>' for _, title, fmt in columns)
    body = []
    for rank, (_, r) in enumerate(ranked(data).iterrows(), start=1):
        values = {**r.to_dict(), **_dims(r.spec), "rank": rank, "val": r.value, "note": _note(r),
                  "feasible_text": "yes" if r.feasible else "no (over a cost limit)"}
        for i, v in enumerate(r["values"] or []):
            values[f"obj{i}"] = v
        cells = []
        for key, _, fmt in columns:
            v = values.get(key)
            sort = "" if _missing(v) else (str(v) if fmt == "text" else repr(float(v)))
            cls = ' class="num"' if fmt != "text" else ""
            cells.append(f'<td{cls} data-v="{html.escape(sort)}">{html.escape(_shown(v, fmt))}</td>')
        winner = ' class="winner"' if data.winner is not None and int(r.trial) == data.winner else ""
        body.append(f'<tr data-status="{html.escape(str(r.status))}"{winner}>{"".join(cells)}</tr>')
    statuses = "".join(f'<option value="{s}">{s}</option>' for s in dict.fromkeys(data.trials.status))
    return (f'<div class="table-tools"><input id="{table_id}-filter" type="search" '
            f'placeholder="filter: any text in a row, e.g. gat or residual"> '
            f'<select id="{table_id}-status"><option value="">every status</option>{statuses}</select> '
            f'<span id="{table_id}-count" class="muted"></span></div>'
            f'<div class="table-wrap"><table id="{table_id}" class="sortable" data-filter="{table_id}-filter" '
            f'data-status="{table_id}-status" data-count="{table_id}-count"><thead><tr>{header}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>'
            '<p class="muted">Ranked as <code>gnnnas leaderboard</code> ranks: completed trials by validation value '
            '(in a multi-objective search by Pareto rank first), then pruned ones by the best value they reported, '
            'then running and failed ones; trials over a cost limit after the others of their group. Test values '
            'are for reporting; selection never reads them. The highlighted row is the winner. Click a header to '
            'sort.</p>')
