"""Multi-objective search (``--objectives``): cost measures, Pareto front, constraints, the cost_aware pruner."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

import gnnnas
from cli_helpers import assert_one_line_error, run
from gnnnas.search.cost_pruner import CostAwarePruner
from gnnnas.search.objectives import Objectives

SPACE = """
name: mo
description: a multi-objective test space
search: {max_epochs: 3, patience: 3}
architecture:
  embedding_dim: [8, 16, 32]
  combination: [mean, sum]
layers:
  num_layers: {low: 0, high: 1}
  aggregator: [lightgcn, gcn]
  hidden: 16
training:
  lr: {low: 1.0e-3, high: 5.0e-2, log: true}
  batch_size: 256
"""
COST_ATTRS = ("params", "size_bytes", "latency_ms")


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "mo.yaml"
    path.write_text(textwrap.dedent(SPACE))
    return str(path)


def dominates(a: list[float], b: list[float]) -> bool:
    """``a`` dominates ``b``: quality (first) as high or higher, every cost as low or lower, one strictly."""
    as_good = a[0] >= b[0] and all(x <= y for x, y in zip(a[1:], b[1:]))
    return as_good and (a[0] > b[0] or any(x < y for x, y in zip(a[1:], b[1:])))


@pytest.fixture(scope="module")
def mo_search(tmp_path_factory):
    """One NSGA-II search on (ndcg@20, params), shared by the tests that only read it."""
    from conftest import clustered_interactions
    root = tmp_path_factory.mktemp("mo")
    data = root / "tiny.csv"
    clustered_interactions().to_csv(data, index=False)
    space = root / "mo.yaml"
    space.write_text(textwrap.dedent(SPACE))
    result = gnnnas.search(space=str(space), data=str(data), out=str(root / "run"), trials=7,
                           controller="optuna-nsga2", objectives="ndcg@20,params", pruner="none")
    return result


def test_every_trial_records_its_costs_and_tells_them(mo_search):
    study = mo_search.study
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    assert study.user_attrs["objectives"] == ["ndcg@20", "params"]
    assert study.metric_names == ["validation ndcg@20", "parameters"]
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        a = t.user_attrs
        assert set(COST_ATTRS) <= set(a) and a["params"] > 0 and a["size_bytes"] > 0 and a["latency_ms"] > 0
        assert t.values == [pytest.approx(a["val"]["ndcg@20"]), a["params"]]
    record = json.loads((mo_search.out / "search.json").read_text())
    assert record["objectives"] == ["ndcg@20", "params"]


def test_front_is_non_dominated_and_leaderboard_sorted_by_pareto_rank(mo_search):
    study, df = mo_search.study, mo_search.leaderboard
    complete = {t.number: t.values for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert len(complete) >= 3
    # independently of Optuna and gnnnas: the front is exactly the non-dominated completed trials
    expected = {n for n, v in complete.items() if not any(dominates(w, v) for m, w in complete.items() if m != n)}
    front = set(df.loc[df.pareto_rank == 1, "trial"])
    assert front == expected and front == {t.number for t in study.best_trials}
    rows = df[df.status == "complete"]
    assert list(rows["rank"]) == list(range(1, len(rows) + 1))  # completed trials first
    keys = list(zip(rows.pareto_rank, -rows["val_ndcg@20"]))
    assert keys == sorted(keys)  # Pareto rank, then quality
    csv = pd.read_csv(mo_search.out / "leaderboard.csv")
    assert {"pareto_rank", "feasible", *COST_ATTRS} <= set(csv.columns)
    # best/ is the best-quality trial on the front
    best = max(expected, key=lambda n: (complete[n][0], -n))
    assert mo_search.exported is not None and mo_search.exported.trial == best


def test_report_draws_the_pareto_front(mo_search):
    from gnnnas.report.build import render
    text, figs = render(mo_search.study)
    fig = figs["pareto_front"]
    front = next(t for t in fig.data if t.name.startswith("Pareto front"))
    assert sorted(int(s.split("<br>")[0].split()[1]) for s in front.text) == sorted(
        mo_search.leaderboard.loc[mo_search.leaderboard.pareto_rank == 1, "trial"])
    assert "lower is better" in fig.layout.xaxis.title.text and 'id="pareto"' in text


def test_constraints_mark_infeasible_trials_never_first_never_exported(tmp_path, tiny_csv, space):
    # 1200 parameters: the 8-dimensional models without a GNN layer (1120) fit, nothing else does
    result = gnnnas.search(space=space, data=str(tiny_csv), out=str(tmp_path / "run"), trials=6,
                           controller="optuna-random", objectives="ndcg@20,latency", max_params=1200, seed=3)
    study, df = result.study, result.leaderboard
    assert study.user_attrs["constraints"] == {"max_params": 1200}
    done = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    for t in done:
        assert t.constraints == {"max_params": t.user_attrs["params"] - 1200}
    feasible = {t.number for t in done if t.user_attrs["params"] <= 1200}
    infeasible = {t.number for t in done} - feasible
    assert infeasible, "the test needs an infeasible trial"
    assert set(df.loc[df.feasible == False, "trial"]) == infeasible  # noqa: E712
    complete = df[df.status == "complete"]
    flags = list(complete.feasible)
    assert flags == sorted(flags, reverse=True)  # every feasible completed trial before every infeasible one
    if result.exported is not None:
        assert result.exported.trial in feasible
        assert result.exported.trial in {t.number for t in study.best_trials}
    else:
        assert not (complete.feasible == True).any()  # noqa: E712
    assert not ({t.number for t in study.best_trials} & infeasible)


def test_single_objective_search_with_a_limit(tmp_path, tiny_csv, space):
    result = gnnnas.search(space=space, data=str(tiny_csv), out=str(tmp_path / "run"), trials=4,
                           controller="optuna-random", max_params=1200, pruner="none", seed=3)
    df = result.leaderboard
    assert "pareto_rank" not in df.columns
    assert result.exported is None or df.loc[df.trial == result.exported.trial, "feasible"].item()
    complete = df[df.status == "complete"]
    assert list(complete.feasible) == sorted(complete.feasible, reverse=True)


# --- the cost_aware rule -----------------------------------------------------------------------------------------
def _trial(number_hint: str, curve, latency, state=TrialState.COMPLETE):
    attrs = {"curve": [[e, v] for e, v in curve], "latency_ms": latency, "params": 1000, "size_bytes": 5000}
    values = [max(v for _, v in curve), latency] if state == TrialState.COMPLETE else None
    return create_trial(state=state, values=values, params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)},
                        user_attrs={**attrs, "name": number_hint})


def _study(*trials):
    study = optuna.create_study(directions=["maximize", "minimize"])
    for t in trials:
        study.add_trial(t)
    return study


def _candidate(study, curve, latency):
    study.add_trial(_trial("candidate", curve, latency, state=TrialState.RUNNING))
    return study.get_trials()[-1]


PRUNER = CostAwarePruner(warmup_epochs=2, margin=0.05, cost_tolerance=0.1,
                         objectives=Objectives("ndcg@20", ("latency",)))


def test_cost_aware_prunes_a_candidate_a_cheaper_trial_beat_clearly():
    study = _study(_trial("cheap and good", [(1, 0.10), (2, 0.20), (3, 0.30)], latency=5.0))
    candidate = _candidate(study, [(1, 0.08), (2, 0.12)], latency=8.0)
    assert PRUNER.dominating_peer(study, candidate) == 0 and PRUNER.prune(study, candidate)


def test_cost_aware_keeps_a_cheaper_candidate_and_a_close_one():
    study = _study(_trial("expensive and good", [(1, 0.10), (2, 0.20), (3, 0.30)], latency=10.0))
    cheaper = _candidate(study, [(1, 0.05), (2, 0.10)], latency=5.0)
    assert not PRUNER.prune(study, cheaper)  # it may still land on the cheap end of the front
    close = _candidate(study, [(1, 0.15), (2, 0.195)], latency=10.5)  # within 5 % of the peer
    assert not PRUNER.prune(study, close)


def test_cost_aware_judges_at_the_same_epoch_and_waits_for_warm_up():
    # the peer reached 0.30 only at epoch 3: at epoch 2 it had 0.11, no better than the candidate
    study = _study(_trial("slow starter", [(1, 0.05), (2, 0.11), (3, 0.30)], latency=5.0))
    assert not PRUNER.prune(study, _candidate(study, [(1, 0.10), (2, 0.11)], latency=8.0))
    assert not PRUNER.prune(study, _candidate(study, [(1, 0.01)], latency=8.0))  # epoch 1 < warm-up 2
    # a peer pruned at epoch 2 with 0.25 counts with what it had (a lower bound on what it would have had)
    study.add_trial(_trial("pruned", [(1, 0.2), (2, 0.25)], latency=6.0, state=TrialState.PRUNED))
    assert PRUNER.prune(study, _candidate(study, [(1, 0.1), (2, 0.12), (3, 0.2)], latency=8.0))


def test_cost_aware_is_the_multi_objective_default_and_prunes_only_dominated_candidates(tmp_path, tiny_csv, space):
    result = gnnnas.search(space=space, data=str(tiny_csv), out=str(tmp_path / "run"), trials=8,
                           controller="optuna-random", objectives="ndcg@20,params", max_epochs=6, seed=1)
    study = result.study
    assert study.user_attrs["pruner"] == "cost_aware" and isinstance(study.pruner, CostAwarePruner)
    assert any(t.state == TrialState.COMPLETE for t in study.trials)
    for t in study.get_trials(states=(TrialState.PRUNED,)):  # a peer as cheap was clearly better by then
        assert t.user_attrs["stopped"] == "pruned"
        peer = study.pruner.dominating_peer(study, create_trial(state=TrialState.RUNNING, user_attrs=t.user_attrs))
        assert peer is not None and study.trials[peer].user_attrs["params"] <= t.user_attrs["params"] * 1.1


# --- CLI: bad input, resume, worker ------------------------------------------------------------------------------
@pytest.mark.parametrize("args, fragments", [
    (["--objectives", "ndcg@20,speed"], ["--objectives", "'speed'", "unknown objective"]),
    (["--objectives", "ndcg@20,latency,latency"], ["--objectives", "'latency' is repeated"]),
    (["--objectives", "latency,params"], ["--objectives", "no quality metric"]),
    (["--objectives", "ndcg@20"], ["--objectives", "no cost objective"]),
    (["--objectives", "ndcg@20,recall@20,latency"], ["--objectives", "'recall@20'", "one quality metric"]),
    (["--objectives", "ndcg@20,latency", "--metric", "recall@10"], ["--metric recall@10", "different"]),
    (["--objectives", "ndcg@20,latency", "--controller", "optuna-cmaes"],
     ["--controller optuna-cmaes", "single objective", "optuna-nsga2", "optuna-tpe"]),
    (["--objectives", "ndcg@20,latency", "--controller", "optuna-gp"], ["--controller optuna-gp", "optuna-nsga2"]),
    (["--objectives", "ndcg@20,latency", "--pruner", "asha"], ["--pruner asha", "cost_aware", "none"]),
    (["--pruner", "cost_aware"], ["--pruner cost_aware", "--objectives"]),
    (["--max-latency-ms", "-1"], ["--max-latency-ms -1"]),
    (["--max-params", "0"], ["--max-params 0"]),
])
def test_bad_multi_objective_input_is_one_line_exit_2(capsys, tmp_path, monkeypatch, tiny_csv, space, args,
                                                      fragments):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "search", "--space", space, "--data", tiny_csv, "--out", tmp_path / "never", *args)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "never").exists() and not (tmp_path / "runs").exists()


def test_nni_controllers_refuse_multiple_objectives(capsys, tmp_path, tiny_csv, space):
    from gnnnas.search.controllers import CONTROLLERS
    nni = sorted(n for n in CONTROLLERS if n.startswith("nni-"))
    if not nni:
        pytest.skip("nni is not installed")
    for name in nni:
        code, _, err = run(capsys, "search", "--space", space, "--data", tiny_csv, "--out", tmp_path / "never",
                           "--objectives", "ndcg@20,latency", "--controller", name)
        assert_one_line_error(code, err, f"--controller {name}", "single objective", "optuna-nsga2")


def test_resume_and_worker_keep_the_objectives(capsys, tmp_path, tiny_csv, space):
    out = tmp_path / "run"
    base = ["search", "--space", space, "--data", tiny_csv, "--out", out, "--controller", "optuna-tpe",
            "--objectives", "ndcg@20,latency", "--pruner", "none"]
    code, stdout, err = run(capsys, *base, "--trials", 2)
    assert code == 0, err
    assert "pareto_rank" in stdout and "latency_ms" in stdout and "Pareto front: trials" in stdout
    db = (out / "study.db").read_bytes()
    for other in (["--objectives", "ndcg@20,params"], ["--objectives", "ndcg@20,latency", "--max-params", "5000"]):
        code, _, err = run(capsys, *base[:-4], *other, "--trials", 3)
        assert_one_line_error(code, err, "another")
    code, _, err = run(capsys, *base[:-4], "--trials", 3)  # no --objectives: a single-objective search
    assert_one_line_error(code, err, "--objectives ndcg@20,latency")
    assert (out / "study.db").read_bytes() == db
    code, _, err = run(capsys, *base, "--trials", 3)  # the same objectives: resumes
    assert code == 0, err
    code, stdout, err = run(capsys, "worker", "--storage", f"sqlite:///{out / 'study.db'}", "--study", "mo",
                            "--trials", 4, "--no-export")
    assert code == 0, err
    study = optuna.load_study(study_name="mo", storage=f"sqlite:///{out / 'study.db'}")
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 4 and all(len(t.values) == 2 and t.values[1] == t.user_attrs["latency_ms"] for t in trials)
    code, stdout, _ = run(capsys, "leaderboard", out)
    assert code == 0 and "pareto_rank" in stdout.splitlines()[0]


# --- report and leaderboard on a synthetic constrained study (no training) ----------------------------------------
def test_pareto_figure_and_leaderboard_with_an_infeasible_trial():
    from report_studies import STUDY_ATTRS, spec, study_with, trial

    from gnnnas.report.build import render
    from gnnnas.search.best import best_complete
    from gnnnas.search.leaderboard import format_table, leaderboard
    c = TrialState.COMPLETE
    # (ndcg, latency): 0 and 2 form the feasible front, 1 is dominated by 0, 3 is best and fastest but over the limit
    rows = [(0.30, 10.0), (0.25, 12.0), (0.20, 5.0), (0.40, 4.0)]
    trials = [trial(n, c, [q, lat], [(1, q)], arch=spec(n % 3)) for n, (q, lat) in enumerate(rows)]
    for t, (_, lat) in zip(trials, rows):
        t.user_attrs.update({"latency_ms": lat, "size_bytes": 4000})
    trials[3].user_attrs["params"] = 99_999
    trials[3].system_attrs["constraints:max_params"] = 99_999 - 5000
    for t in trials[:3]:
        t.system_attrs["constraints:max_params"] = t.user_attrs["params"] - 5000
    study = study_with(trials, directions=["maximize", "minimize"],
                       attrs={**STUDY_ATTRS, "objectives": ["ndcg@20", "latency"],
                              "directions": ["maximize", "minimize"], "constraints": {"max_params": 5000}},
                       metric_names=["validation ndcg@20", "top-K latency (ms)"])
    df = leaderboard(study)
    assert list(df.trial) == [0, 2, 1, 3]  # front by quality, then the dominated one, the infeasible one last
    assert list(df.pareto_rank) == [1, 1, 2, 3] and list(df.feasible) == [True, True, True, False]
    assert "NO" in format_table(df, "ndcg@20").splitlines()[-1]
    assert best_complete(study).number == 0  # not the infeasible trial 3
    _, figs = render(study)
    traces = {t.name.split(" (")[0]: t for t in figs["pareto_front"].data}
    assert sorted(traces["Pareto front"].x) == [5.0, 10.0] and list(traces["infeasible"].x) == [4.0]
    assert list(traces["dominated trial"].x) == [12.0] and "exported best/" in traces
    assert "trial 3" in traces["infeasible"].text[0] and "infeasible" in traces["infeasible"].text[0]
    # the report's table ranks and marks them as the leaderboard does
    from gnnnas.report.data import collect
    from gnnnas.report.table import leaderboard_table, ranked
    data = collect(study)
    assert list(ranked(data).trial) == [0, 2, 1, 3]
    html_table = leaderboard_table(data)
    assert "Pareto rank" in html_table and "within limits" in html_table
    rows_html = html_table.split("<tbody>")[1].split("</tr>")
    assert "no (over a cost limit)" in rows_html[3] and "no (over a cost limit)" not in "".join(rows_html[:3])


def test_non_dominated_ranks_against_brute_force():
    import itertools

    from gnnnas.search.leaderboard import non_dominated_ranks

    rng = np.random.default_rng(0)
    loss = rng.integers(0, 5, size=(40, 2)).astype(float)  # many ties and duplicates
    penalty = np.where(rng.random(40) < 0.25, rng.integers(1, 3, 40), 0.0)
    penalty[3] = np.nan
    ranks = non_dominated_ranks(loss, penalty)

    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    feasible = [i for i in range(40) if penalty[i] == 0]
    left, expected, level = set(feasible), {}, 0
    while left:
        front = {i for i in left if not any(dominates(loss[j], loss[i]) for j in left if j != i)}
        expected.update({i: level for i in front})
        left -= front
        level += 1
    for i in feasible:
        assert ranks[i] == expected[i]
    bad = [i for i in range(40) if penalty[i] > 0]
    assert min(ranks[bad]) == level and ranks[3] == ranks.max() > max(ranks[bad])
    for i, j in itertools.combinations(bad, 2):  # infeasible: ordered by violation, ties share a rank
        assert (ranks[i] < ranks[j]) == (penalty[i] < penalty[j]) or penalty[i] >= penalty[j]
        assert (ranks[i] == ranks[j]) == (penalty[i] == penalty[j])
