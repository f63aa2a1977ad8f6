"""The report's header: dataset and its statistics, space, controller, pruner, budget, counts, best, winner."""

from __future__ import annotations

import html
import json

import pandas as pd

from gnnnas.report.data import ReportData
from gnnnas.report.style import STATUS_COLORS


def _kv(rows: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _e(value) -> str:
    return html.escape("–" if value is None else str(value))


def _duration(seconds: float | None) -> str:
    if seconds is None or pd.isna(seconds):
        return "–"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _dataset(data: ReportData) -> list[tuple[str, str]]:
    d = data.attrs.get("data") or {}
    if not d:
        return [("dataset", "not recorded (not a gnnnas search)")]
    users, items, inter = d.get("n_users"), d.get("n_items"), d.get("interactions")
    density = f"{inter / (users * items):.3%}" if users and items and inter else "–"
    options = d.get("options") or {}
    split = options.get("split")
    ratios = options.get("ratios")
    split_text = f"{split}" + (f" {'/'.join(f'{r:g}' for r in ratios)}" if ratios else "")
    rows = [("dataset", f"<b>{_e(d.get('name'))}</b>" + (f" ({_e(d.get('source'))})"
                                                          if d.get("source") != d.get("name") else "")),
            ("users", f"{users:,}" if users else "–"), ("items", f"{items:,}" if items else "–"),
            ("interactions", f"{inter:,}" if inter else "–"), ("density", density),
            ("split", _e(split_text))]
    if options.get("kcore"):
        rows.append(("k-core", _e(options["kcore"])))
    if options.get("rating_threshold") is not None:
        rows.append(("rating threshold", _e(options["rating_threshold"])))
    return rows


def _by_time(pruner: str | None) -> bool:
    from gnnnas.search.pruners import PRUNERS
    return pruner in PRUNERS and PRUNERS[pruner].by_time


def _search(data: ReportData) -> list[tuple[str, str]]:
    a, t = data.attrs, data.trials
    space = a.get("space") or {}
    finished = int(t.status.isin(["complete", "pruned", "fail"]).sum())
    budget = a.get("trials")
    controllers = sorted(set(t.controller)) if not t.empty else []
    rows = [("study", f"<b>{_e(data.study_name)}</b>"),
            ("space", _e(space.get("name")) if space else "not recorded"),
            ("controller", _e(a.get("controller")) + (
                f" (trials by {', '.join(map(html.escape, controllers))})"
                if controllers and controllers != [a.get("controller")] else "")),
            ("pruner", _e(a.get("pruner")) + (" (compares candidates at equal seconds of training)"
                                               if a.get("prune_by") == "seconds" and _by_time(a.get("pruner")) else "")),
            ("objective", ", ".join(f"{html.escape(o)} ({d})" for o, d in zip(data.objectives, data.directions))),
            ("budget used", f"{finished} of {budget} trials finished" if budget else f"{finished} trials finished"),
            ("per trial", f"at most {_e(a.get('max_epochs'))} epochs"
                          + (f", {a['trial_timeout']:g} s of training" if a.get("trial_timeout") else "")
                          if a.get("max_epochs") else "–"),
            ("trial time", f"{_duration(t.seconds.astype('float64').sum() if not t.empty else None)} of training "
                           f"in {_duration(t.end_s.max() if not t.empty else None)} of wall-clock time"),
            ("workers", _e(t.worker[t.worker != "-"].nunique() or "–"))]
    return rows


def _counts(data: ReportData) -> str:
    counts = data.counts()
    if not counts:
        return "no trials yet"
    return " ".join(f'<span class="badge" style="background:{STATUS_COLORS[s]}">{n} {s}</span>'
                    for s, n in counts.items())


def _best(data: ReportData) -> list[tuple[str, str]]:
    if data.winner is None:
        return [("best", "no completed trial yet")]
    w = data.row(data.winner)
    metric, cold, f = data.attrs.get("metric"), data.attrs.get("cold_metric"), data.final
    rows = [("winner", f"trial {w.trial}" + (" (best first objective on the Pareto front)"
                                               if data.multi_objective else "")
             + (", retrained in the final fit" if f else ""))]
    if f and metric:  # best/ holds the final fit's weights: its numbers first, the search's for comparison
        test = f["test"].get(metric)
        rows.append((f"val {metric}", f"<b>{f['val'][metric]:.4f}</b> (in the search: {w['values'][0]:.4f})"))
        rows.append((f"test {metric}", ("–" if test is None else f"{test:.4f}")
                     + (f" (in the search: {w.test:.4f})" if pd.notna(w.test) else "")))
        if cold and f["test"].get(cold) is not None:
            rows.append((f"test {cold}", f"{f['test'][cold]:.4f}"))
        rows += [(name, f"{v:.4f}") for name, v in zip(data.objectives[1:], w["values"][1:])]
    elif data.multi_objective:
        rows += [(name, f"<b>{v:.4f}</b>") for name, v in zip(data.objectives, w["values"])]
    else:
        rows.append((data.metric, f"<b>{w.value:.4f}</b>"))
        rows.append((f"test {metric}" if metric else "test", f"{w.test:.4f}" if pd.notna(w.test) else "–"))
        if cold and pd.notna(w.test_cold):
            rows.append((f"test {cold}", f"{w.test_cold:.4f}"))
    if data.multi_objective:
        rows.append(("Pareto front", f"{len(data.pareto)} trials: {', '.join(map(str, data.pareto))}"))
    if data.finals:
        rows.append(("final fit", f"{len(data.finals)} finalist(s) retrained; best/ holds trial {w.trial}'s "
                     + ("final fit" if f else "search weights (no final fit beat them on validation)")))
    return rows


def _spec_text(spec: dict | None) -> str:
    if not spec:
        return "not recorded"
    try:
        from gnnnas.models.spec import ArchSpec
        return str(ArchSpec.from_dict(spec))
    except Exception:  # noqa: BLE001 - a spec of another gnnnas version is still worth showing as JSON
        return json.dumps(spec, sort_keys=True)


def header_html(data: ReportData) -> str:
    """The cards at the top of the report."""
    winner_spec = ""
    if data.winner is not None:
        spec = data.row(data.winner).spec
        winner_spec = (f'<div class="card wide"><h3>Winning spec</h3><code class="spec">{_e(_spec_text(spec))}'
                       f"</code></div>")
    t = data.trials
    stale = sorted(int(n) for n in t.trial[t.stale.astype(bool)]) if not t.empty else []
    alive = int((t.status == "running").sum()) - len(stale) if not t.empty else 0
    live = ('<p class="live">This study was still running when the report was made: running trials are shown '
            'with their results so far; rebuild with <code>gnnnas report DIR</code>.</p>' if alive else "")
    from gnnnas.search.leaderboard import fidelity_note
    note = fidelity_note(t, data.attrs.get("trial_timeout"), bool(data.finals))
    if note:
        live += f'<p class="fidelity">{_e(note[0].upper() + note[1:])}.</p>'
    if stale:
        live += ('<p class="live stale">Trials ' + ", ".join(map(str, stale)) + " are recorded as running but their "
                 "worker sent no heartbeat for over 90 s or is gone: it probably stopped. The next search or worker "
                 "on this study marks them failed.</p>")
    return (f'<div class="cards">'
            f'<div class="card"><h3>Data</h3>{_kv(_dataset(data))}</div>'
            f'<div class="card"><h3>Search</h3>{_kv(_search(data))}</div>'
            f'<div class="card"><h3>Result</h3><p>{_counts(data)}</p>{_kv(_best(data))}</div>'
            f'{winner_spec}</div>{live}')
