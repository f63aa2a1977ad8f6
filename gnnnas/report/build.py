"""The report of a study: its sections in order, written atomically to one HTML file."""

from __future__ import annotations

import datetime as _dt
import html
import os
import sys
from pathlib import Path

import optuna
import plotly.graph_objects as go

from gnnnas.report.arch_diagram import winner_figure
from gnnnas.report.cost import cost_figure, objectives_figure
from gnnnas.report.curves import curves_figure
from gnnnas.report.data import ReportData, collect
from gnnnas.report.final_fit import final_fit_html
from gnnnas.report.design import design_space_figure, importance_figure, parallel_figure
from gnnnas.report.header import header_html
from gnnnas.report.history import history_figure
from gnnnas.report.html import Section, page
from gnnnas.report.pareto import is_gnnnas_multi_objective, pareto_figure
from gnnnas.report.style import Empty
from gnnnas.report.table import SCRIPT, leaderboard_table
from gnnnas.report.timeline import timeline_figure

REPORT_HTML = "report.html"


def figures(data: ReportData) -> dict[str, go.Figure | Empty]:
    """The report's figures by name (the names of the ``--png`` files)."""
    out = {
        "history": history_figure(data),
        "learning_curves": curves_figure(data),
        "design_space": design_space_figure(data),
        "importances": importance_figure(data),
        "parallel_coordinates": parallel_figure(data),
        "cost_quality": cost_figure(data),
    }
    if is_gnnnas_multi_objective(data):
        out["pareto_front"] = pareto_figure(data)
    elif data.multi_objective:
        out["objectives"] = objectives_figure(data)
    out["timeline"] = timeline_figure(data)
    out["architecture"] = winner_figure(data)
    return out


def sections(data: ReportData, figs: dict[str, go.Figure | Empty]) -> list[Section]:
    metric = html.escape(data.metric)
    mo = (" This is a multi-objective study: history, curves and analysis use its first objective, "
          f"{html.escape(data.objectives[0])}." if data.multi_objective else "")
    out = [
        Section("overview", "Overview", parts=[header_html(data)]),
        Section("history", "Optimisation history",
                f"Each trial's {metric} and the best so far (completed trials only), over trial number and over "
                f"wall-clock time. Hollow markers: pruned or running trials at the best value they reported.{mo}",
                [figs["history"]]),
        Section("leaderboard", "Leaderboard", "", [leaderboard_table(data)]),
        *([Section("final-fit", "Final fit", "", [final_fit_html(data)])] if data.finals else []),
        Section("curves", "Learning curves",
                f"{metric.capitalize()} at each evaluation of every trial. Line style shows how a trial ended; "
                "an x marks where a pruned trial was cut off; the winner is the thick line.",
                [figs["learning_curves"]]),
        Section("design", "Design space",
                "In the spirit of GraphGym's design-space evaluation: for each dimension that varied, the "
                f"{metric} of the completed trials per choice; then how much each parameter explains.",
                [figs["design_space"], figs["importances"]]),
        Section("parallel", "Parallel coordinates", "", [figs["parallel_coordinates"]]),
    ]
    if "pareto_front" in figs:
        out.append(Section(
            "pareto", "Pareto front",
            "The trade-off the multi-objective search explored: validation quality against each cost objective. "
            "The exported best/ is the best-quality feasible trial on the front; any other front member can be "
            "exported with <code>gnnnas export DIR --trial N</code>.", [figs["pareto_front"]]))
    out += [
        Section("cost", "Cost and quality",
                "Is the quality worth its size and training time? The Pareto front joins the trials that no "
                "other trial beats on both axes.", [figs["cost_quality"]] + (
                    [figs["objectives"]] if "objectives" in figs else [])),
        Section("timeline", "Trial timeline",
                "When each trial ran and for how long, one row per worker process (parallel workers show as "
                "parallel rows).", [figs["timeline"]]),
        Section("architecture", "Winning architecture", "", [figs["architecture"]]),
    ]
    return out


def render(study: optuna.Study, now: _dt.datetime | None = None) -> tuple[str, dict[str, go.Figure | Empty]]:
    """(the report as HTML, its figures) for ``study``."""
    data = collect(study, now=now)
    figs = figures(data)
    from gnnnas import __version__
    stamp = data.generated.strftime("%Y-%m-%d %H:%M:%S")
    subtitle = (f"{len(data.trials)} trials · {html.escape(data.metric)} · report made {stamp} from the study "
                "storage (rebuild any time: <code>gnnnas report DIR</code>)")
    text = page(f"Search report: {data.study_name}", subtitle, "", sections(data, figs),
                f"gnnnas {__version__} · Optuna {optuna.__version__} · every number above is read from the study",
                scripts=SCRIPT)
    return text, figs


def write_report(study: optuna.Study, path: str | Path) -> Path:
    """Write the report of ``study`` to ``path`` (atomically: a browser never reads half a file)."""
    text, _ = render(study)
    return write_text(text, path)


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def on_finish(result) -> Path | None:
    """The search's finish hook: ``<out>/report.html``, listed in ``result.files`` as ``report``.

    A report that cannot be written is reported on stderr and never fails the
    search whose results are already recorded.
    """
    try:
        path = write_report(result.study, Path(result.out) / REPORT_HTML)
    except Exception as err:  # noqa: BLE001 - the search itself succeeded
        print(f"gnnnas: {REPORT_HTML} not written: {type(err).__name__}: {err}", file=sys.stderr)
        return None
    result.files["report"] = path
    return path
