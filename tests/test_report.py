"""The HTML report: tidy data and figures for every edge case, the search hook, ``gnnnas report``."""

from __future__ import annotations

import re
import warnings

import plotly.graph_objects as go
import pytest
from optuna.trial import TrialState
from conftest import clustered_interactions
from report_studies import reset_clock, rich_study, spec, study_with, trial

import gnnnas
from gnnnas.cli import main
from gnnnas.report import REPORT_HTML, render
from gnnnas.report.arch_diagram import architecture_figure
from gnnnas.report.build import figures
from gnnnas.report.cost import cost_front
from gnnnas.report.data import MF, collect, design_values, pareto_front
from gnnnas.report.design import importances, varying
from gnnnas.report.header import header_html
from gnnnas.report.style import Empty
from gnnnas.report.table import ranked

C = TrialState.COMPLETE


def drawn(figs: dict) -> set[str]:
    return {name for name, fig in figs.items() if isinstance(fig, go.Figure)}


def plotly_divs(text: str) -> int:
    return len(re.findall(r'class="plotly-graph-div"', text))


# --- tidy data ------------------------------------------------------------------------------
def test_tidy_table_of_every_status():
    data = collect(rich_study())
    t = data.trials.set_index("trial")
    assert list(t.status) == ["complete", "complete", "pruned", "fail", "complete", "complete", "running"]
    assert data.winner == 1 and not data.multi_objective and data.metric == "validation ndcg@20"
    assert t.loc[2, "value"] == pytest.approx(0.05)  # pruned: its best reported value
    assert t.loc[6, "value"] == pytest.approx(0.24) and t.loc[6, "end_s"] > t.loc[6, "start_s"]  # running: so far
    assert t.loc[3, "value"] != t.loc[3, "value"] and "out of memory" in t.loc[3, "error"]  # failed: NaN value
    assert t.loc[1, "start_s"] == 1 and t.loc[1, "duration_s"] == 40
    assert t.loc[4, "controller"] == "nni-tpe" and t.loc[4, "aggregator"] == (MF,)
    assert t.loc[1, "heads"] == (2,) and t.loc[0, "heads"] is None  # heads only of attention layers
    assert data.counts() == {"complete": 4, "pruned": 1, "fail": 1, "running": 1}
    assert data.curves[6] == [(1.0, 0.24)]  # a running trial's reported values


def test_design_values_of_mixed_stacks():
    s = spec(2, "gcn")
    s["layers"][1]["aggregator"] = "lightgcn"
    v = design_values(s)
    assert v["aggregator"] == ("gcn", "lightgcn") and v["layers"] == 2 and v["hidden"] == (16,)
    assert design_values(spec(0))["skip"] is None  # no layers: skip means nothing
    assert design_values(None) == {}


def test_pareto_fronts():
    assert sorted(pareto_front([(0, [1, 1]), (1, [2, 0]), (2, [0, 0]), (3, [1, 1])], [True, True])) == [0, 1, 3]
    data = collect(rich_study())
    complete = data.complete.astype({"seconds": "float64"})
    front = cost_front(complete, "seconds", maximize=True)
    # cheapest (trial 4, 20 s) and best (trial 1) are on it; trial 0 (30 s, 0.30) is beaten by trial 5 (25 s, 0.33)
    assert {4, 1, 5} <= set(front.trial) and 0 not in set(front.trial)


def test_ranking_matches_the_leaderboard_rule():
    order = list(ranked(collect(rich_study())).trial)
    assert order == [1, 5, 0, 4, 2, 6, 3]


# --- figures per edge case -------------------------------------------------------------------
def test_a_search_pruning_by_seconds_draws_its_curves_by_training_seconds_first():
    from report_studies import STUDY_ATTRS
    reset_clock()
    fast = trial(0, C, [0.30], [(1, 0.10), (2, 0.20), (3, 0.30)], "max_epochs", 0, 2)
    slow = trial(1, TrialState.PRUNED, None, [(1, 0.12)], "pruned", 2, 9)
    old = trial(2, C, [0.25], [(1, 0.25)], "max_epochs", 11, 3)  # recorded before curve_seconds existed
    fast.user_attrs["curve_seconds"] = [0.4, 0.8, 1.2]
    slow.user_attrs["curve_seconds"] = [8.5]
    data = collect(study_with([fast, slow, old], attrs={**STUDY_ATTRS, "trial_timeout": 10.0, "prune_by": "seconds"}))
    assert data.timed_curves == {0: [(0.4, 0.10), (0.8, 0.20), (1.2, 0.30)], 1: [(8.5, 0.12)]}
    fig = figures(data)["learning_curves"]
    assert fig.layout.xaxis.title.text == "seconds of training"
    lines = {int(tr.hovertemplate.split()[1]): tr for tr in fig.data if tr.hovertemplate}
    assert list(lines[0].x) == [0.4, 0.8, 1.2] and list(lines[1].x) == [8.5]
    assert all(x is None for x in lines[2].x)  # no times: nothing on this axis
    (menu,) = fig.layout.updatemenus
    assert [b.label for b in menu.buttons] == ["by training seconds", "by epoch"]
    epochs = menu.buttons[1].args[0]["x"]
    assert [1, 2, 3] in [list(x) for x in epochs] and menu.buttons[1].args[1]["xaxis.title.text"] == "epoch"
    assert "asha (compares candidates at equal seconds of training)" in header_html(data)
    # pruned by epochs: epochs come first; the seconds stay one click away
    fig = figures(collect(study_with([fast, slow, old])))["learning_curves"]
    assert fig.layout.xaxis.title.text == "epoch"
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["by epoch", "by training seconds"]
    assert "equal seconds" not in header_html(collect(study_with([fast, slow, old])))


def test_rich_study_draws_every_figure():
    data = collect(rich_study())
    figs = figures(data)
    assert drawn(figs) == {"history", "learning_curves", "design_space", "importances", "parallel_coordinates",
                           "cost_quality", "timeline", "architecture"}
    curves = figs["learning_curves"]
    names = {tr.name for tr in curves.data if tr.showlegend is not False}
    assert {"completed (max epochs)", "completed (early-stopped)", "pruned", "running", "winner (trial 1)"} <= names
    winner = next(tr for tr in curves.data if tr.name == "winner (trial 1)")
    pruned = next(tr for tr in curves.data if tr.name == "pruned")
    assert winner.line.width > pruned.line.width and pruned.line.dash == "dot"
    timeline = figs["timeline"]
    assert {tr.name for tr in timeline.data} >= {"complete", "pruned", "fail", "running"}
    assert len({y for tr in timeline.data if tr.type == "bar" for y in tr.y}) == 2  # one row per worker
    for fig in (figs["history"], figs["cost_quality"], figs["timeline"]):
        for axis in (fig.layout.xaxis, fig.layout.yaxis):
            assert axis.title.text, fig.layout.title.text  # every axis is named
    assert "(seconds)" in figs["cost_quality"].layout.xaxis2.title.text
    assert "parameter count" in figs["cost_quality"].layout.xaxis.title.text
    assert "seconds" in figs["timeline"].layout.xaxis.title.text
    assert figs["learning_curves"].layout.xaxis.title.text == "epoch"
    values, note = importances(data)
    assert values and abs(sum(values.values()) - 1) < 1e-6 and "fANOVA" in note


def test_one_trial():
    study = study_with([trial(0, C, [0.3], [(1, 0.2), (2, 0.3)], "max_epochs")])
    figs = figures(collect(study))
    assert drawn(figs) == {"history", "learning_curves", "cost_quality", "timeline", "architecture"}
    assert "at least two completed trials" in figs["design_space"].message
    assert "at least two completed trials" in figs["importances"].message
    text, _ = render(study)
    assert "Winning spec" in text and "trial 0" in text


def test_only_failed_trials():
    study = study_with([trial(i, TrialState.FAIL, error="ValueError: boom", start=3 * i, seconds=2) for i in range(3)])
    figs = figures(collect(study))
    assert drawn(figs) == {"timeline"}
    for name in ("history", "learning_curves", "design_space", "cost_quality", "architecture"):
        assert isinstance(figs[name], Empty) and figs[name].message, name
    text, _ = render(study)
    assert "no completed trial yet" in text and "ValueError: boom" in text and plotly_divs(text) == 1


def test_pruned_trials_only():
    study = study_with([trial(i, TrialState.PRUNED, None, [(1, 0.1 * (i + 1))], "pruned", start=5 * i, seconds=4)
                        for i in range(3)])
    data = collect(study)
    figs = figures(data)
    assert data.winner is None and drawn(figs) == {"history", "learning_curves", "timeline"}
    history = figs["history"]
    assert any(tr.marker.symbol == "circle-open" for tr in history.data)  # hollow: not a final result
    assert not any(tr.name == "best so far (completed trials)" for tr in history.data)


def test_multi_objective_study():
    # better ndcg costs latency: trials 0-3 trade off; trial 4 (0.15, 9.5) is dominated by trial 1 (0.2, 5)
    mo = [trial(i, C, [0.1 * (i + 1), 1.0 + (i + 1) ** 2], [(1, 0.1 * (i + 1))], "max_epochs", start=i * 10,
                arch=spec(lr=0.001 * (i + 1))) for i in range(4)]
    mo.append(trial(4, C, [0.15, 9.5], [(1, 0.15)], "max_epochs", start=50, arch=spec(lr=0.02)))
    study = study_with(mo, directions=["maximize", "minimize"], metric_names=["ndcg", "latency ms"])
    data = collect(study)
    assert data.multi_objective and data.objectives == ["ndcg", "latency ms"]
    assert data.pareto == sorted(t.number for t in study.best_trials) == [0, 1, 2, 3]
    assert data.winner == 3  # best first objective on the front
    figs = figures(data)
    assert "objectives" in drawn(figs) and "importances" in drawn(figs)
    assert "lower is better" in figs["objectives"].layout.yaxis.title.text
    text, _ = render(study)
    assert "multi-objective study" in text and ">latency ms<" in text  # one table column per objective


def test_plain_optuna_study_without_gnnnas_attrs():
    study = study_with([trial(0, C, [1.0], params={}), trial(1, C, [2.0], params={})], attrs={})
    data = collect(study)
    assert data.metric == "objective value" and data.winner == 1
    text, _ = render(study)
    assert "not recorded" in text


def test_running_trials_are_shown_as_running():
    text, figs = render(rich_study())
    assert "still running" in text and 'data-status="running"' in text
    bars = [tr for tr in figs["timeline"].data if tr.name == "running"]
    assert bars and bars[0].marker.pattern.shape == "/"


def test_architecture_drawing_names_every_part():
    s = spec(3, "gat", "dense", "concat", heads=2)
    fig = architecture_figure(s, "t")
    texts = " ".join(a.text for a in fig.layout.annotations)
    for part in ("input embedding", "layer 1: gat", "layer 3: gat", "2 heads, concat", "layer combination",
                 "concat of all states", "dense skip connections", "dot(user, item)"):
        assert part in texts, part
    assert sum(1 for s_ in fig.layout.shapes if s_.type == "path") == 3 + 3  # dense: 1+2 skips; 3 combination arcs
    residual = architecture_figure(spec(2, "gcn", "residual", "last"), "t")
    assert sum(1 for s_ in residual.layout.shapes if s_.type == "path") == 2  # one skip per layer, last reads x_L
    mf = architecture_figure(spec(0), "t")
    assert "matrix factorisation" in " ".join(a.text for a in mf.layout.annotations)


def test_design_space_skips_constant_dimensions():
    data = collect(rich_study())
    dims, constant = varying(data)
    keys = {d.key for d, _ in dims}
    assert {"layers", "aggregator", "skip", "combination", "lr"} <= keys
    assert "embedding_dim" not in keys and any(c.startswith("embedding dim = 16") for c in constant)


# --- the file, the search hook, the command --------------------------------------------------
def test_report_file_is_self_contained_with_plotly_once():
    text, figs = render(rich_study())
    assert text.count("Plotly.newPlot") == len(drawn(figs)) == plotly_divs(text)
    assert len(re.findall(r"\* plotly\.js v\d", text)) == 1  # the library banner: inlined exactly once
    from gnnnas.report.html import plotly_js
    rest = text.replace(plotly_js(), "")  # (plotly.js's own code names a CDN for geo maps it never draws here)
    assert len(rest) < len(text) - 1_000_000 and "http" not in rest.replace("http://www.w3.org", "")
    assert "<script src=" not in text  # nothing to fetch: opens offline


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One small real search, shared by the tests below (each leaves the study usable for the next)."""
    root = tmp_path_factory.mktemp("report-search")
    csv = root / "tiny.csv"
    clustered_interactions().to_csv(csv, index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GNNNAS_CACHE_DIR", str(root / "cache"))  # never the user's cache
        out = root / "run"
        result = gnnnas.search(space="tiny", data=str(csv), trials=3, max_epochs=2, pruner="none", out=str(out),
                               keep_weights=0)
        yield result, out, csv


def test_every_search_writes_its_report(searched, capsys):
    result, out, csv = searched
    assert result.files["report"] == out / REPORT_HTML and (out / REPORT_HTML).is_file()
    text = (out / REPORT_HTML).read_text()
    assert "Search report: tiny" in text and "Winning spec" in text
    from gnnnas.cli.search_cmd import print_summary
    print_summary(result)
    assert re.search(r"report\.html\s+HTML report", capsys.readouterr().out)
    # NNI-driven trials join the same study (a resumed search with another controller)
    result = gnnnas.search(space="tiny", data=str(csv), trials=5, max_epochs=2, pruner="none",
                           out=str(out), controller="nni-random", keep_weights=0)
    data = collect(result.study)
    assert set(data.trials.controller) == {"optuna-tpe", "nni-random"}
    text = (out / REPORT_HTML).read_text()
    assert "nni-random" in text and "trials by nni-random, optuna-tpe" in text


def test_report_command_rebuilds_and_refuses_bad_folders(searched, tmp_path, capsys):
    _, out, _ = searched
    (out / REPORT_HTML).unlink(missing_ok=True)
    assert main(["report", str(out)]) == 0
    assert (out / REPORT_HTML).is_file()
    other = tmp_path / "elsewhere" / "r.html"
    assert main(["report", str(out), "--out", str(other)]) == 0 and other.is_file()
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(empty) in err and "search.json" in err
    assert list(empty.iterdir()) == []
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    lost = tmp_path / "lost"  # search.json without its study.db: refused, and no empty study.db created
    lost.mkdir()
    (lost / "search.json").write_text((out / "search.json").read_text())
    assert main(["report", str(lost)]) == 2
    assert "does not exist" in capsys.readouterr().err and [p.name for p in lost.iterdir()] == ["search.json"]


def test_png_without_chromium_is_one_line(searched, monkeypatch, capsys, tmp_path):
    _, out, _ = searched
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-browser"))
    (out / REPORT_HTML).unlink(missing_ok=True)
    assert main(["report", str(out), "--png"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "chromium" in err.lower()
    assert not (out / REPORT_HTML).exists()  # nothing written


def test_a_running_trial_without_heartbeat_is_flagged_not_stretched():
    import datetime as dt

    from report_studies import T0
    old = trial(0, TrialState.RUNNING, None, [(1, 0.2)], None, 0, 5, worker="elsewhere:1")
    study = study_with([old])
    later = T0 + dt.timedelta(hours=5)  # no heartbeat for hours: its worker is gone
    data = collect(study, now=later)
    row = data.row(0)
    assert row.stale and row.status == "running" and row.end_s < 60  # not a five-hour bar
    text, _ = render(study, now=later)
    assert "probably stopped" in text and "still running when" not in text


def test_report_of_a_study_whose_search_is_still_running(searched):
    """A trial RUNNING in the study storage (a search in progress) is shown as running, its results so far."""
    from gnnnas.search.api import open_folder
    from gnnnas.search.liveness import worker_id
    _, out, _ = searched
    study, _, _ = open_folder(out)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage")  # as the engine does (budget.py)
        running = study.ask()
    running.set_user_attr("worker", worker_id())  # this process: alive
    running.set_user_attr("controller", "optuna-tpe")
    running.report(0.123, 1)
    try:
        assert main(["report", str(out)]) == 0
        text = (out / REPORT_HTML).read_text()
        assert "still running when the report was made" in text and 'data-status="running"' in text
        assert "running trial (best so far)" in text  # drawn in the history at its reported value
    finally:
        study.tell(running, state=TrialState.FAIL)


def test_a_study_without_trials_is_all_messages():
    study = study_with([])
    figs = figures(collect(study))
    assert drawn(figs) == set() and all(f.message for f in figs.values())
    text, _ = render(study)
    assert "No trials yet" in text and plotly_divs(text) == 0


def final_record(val: float, test: float, best_epoch: int = 30, epochs: int = 35) -> dict:
    """A finalist's record as :func:`gnnnas.search.final_fit.run_final_fit` writes it."""
    return {"val": {"ndcg@20": val}, "test": {"ndcg@20": test}, "best_epoch": best_epoch, "epochs": epochs,
            "max_epochs": 100, "stopped": "early_stopping", "seconds": 12.0}


def test_a_final_fit_that_beats_the_search_is_the_winner_and_gets_its_own_section():
    from gnnnas.report.final_fit import final_fit_html
    from gnnnas.search.final_fit import FINAL_ATTR

    study = rich_study()  # the search's best: trial 1 (0.36), then trial 5 (0.33)
    assert collect(study).winner == 1 and 'id="final-fit"' not in render(study)[0]
    study.set_user_attr(FINAL_ATTR, {"1": final_record(0.35, 0.31), "5": final_record(0.40, 0.37, 41, 46)})
    data = collect(study)
    assert data.winner == 5 and data.final == final_record(0.40, 0.37, 41, 46) and set(data.finals) == {1, 5}
    head = header_html(data)
    assert "trial 5, retrained in the final fit" in head
    assert "<b>0.4000</b> (in the search: 0.3300)" in head and "0.3700 (in the search: 0.3135)" in head
    assert "best/ holds trial 5&#x27;s final fit" in head or "best/ holds trial 5's final fit" in head
    table = final_fit_html(data)
    rows = re.findall(r"<tr( class=\"winner\")?><td>(\d+)</td>", table)
    assert rows == [(' class="winner"', "5"), ("", "1")]  # best final validation first, the exported one marked
    assert "41 of 46 (max 100)" in table and "early stopping" in table
    text, figs = render(study)
    assert '<section id="final-fit"><h2>Final fit</h2>' in text
    assert text.index('id="leaderboard"') < text.index('id="final-fit"') < text.index('id="curves"')
    assert "trial 5" in figs["architecture"].layout.title.text

    # final fits that do not beat the search's best on validation leave best/ with its search weights
    study.set_user_attr(FINAL_ATTR, {"1": final_record(0.35, 0.50), "5": final_record(0.34, 0.60)})
    data = collect(study)
    assert data.winner == 1 and data.final is None
    assert "search weights (no final fit beat them on validation)" in header_html(data)
    assert "so best/ holds its search weights" in final_fit_html(data)
    assert 'class="winner"' not in final_fit_html(data)
