"""Final fit (``--final-fit N``): the finalists retrained without the per-candidate limit, best/ the best on validation."""

from __future__ import annotations

import io

import optuna
import pandas as pd
import pytest
import torch
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

import gnnnas
from gnnnas.errors import GnnnasError
from gnnnas.export.bundle import read_bundle, read_metadata
from gnnnas.search.final_fit import FINAL_ATTR, cut_short, final_choice, final_weights_path, finalists, records

from cli_helpers import assert_one_line_error, run
from test_search import SMALL, write_space

# Candidates stopped by a 0.3 s limit after a few epochs; the final fit trains them for up to 40.
FINAL_SPACE = SMALL.replace("search: {max_epochs: 3, patience: 3}", "search: {max_epochs: 40, patience: 3}")


@pytest.fixture
def space(tmp_path):
    return write_space(tmp_path, FINAL_SPACE, name="finalspace")


def search(tiny_csv, space, out, **kw):
    kw.setdefault("trials", 4)
    kw.setdefault("pruner", "none")
    kw.setdefault("controller", "optuna-random")
    kw.setdefault("trial_timeout", 0.3)
    return gnnnas.search(space=space, data=str(tiny_csv), out=str(out), **kw)


def test_finalists_are_retrained_past_the_time_limit_and_the_best_on_validation_is_exported(tiny_csv, space,
                                                                                               tmp_path):
    from gnnnas.graph import native

    native.kernels()  # built once per test process: not inside the candidates' 0.3 s
    out = tmp_path / "run"
    result = search(tiny_csv, space, out, final_fit=2)
    study = result.study
    done = records(study)
    complete = sorted((t for t in study.get_trials() if t.state == TrialState.COMPLETE and "reused_from" not in
                       t.user_attrs), key=lambda t: (-t.value, t.number))
    assert sorted(done) == sorted(t.number for t in complete[:2])
    for t in complete[:2]:
        r = done[t.number]
        assert r["stopped"] in ("max_epochs", "early_stopping")  # no time limit in the final fit
        assert r["max_epochs"] == 40 and 1 <= r["best_epoch"] <= r["epochs"] <= 40
        assert {"ndcg@20", "recall@20"} <= set(r["val"]) and {"ndcg@20", "recall@20"} <= set(r["test"])
        assert final_weights_path(out, t.number).is_file()
    # best/: the best validation value among the final fits and the search's best trial; test is never read
    search_best = complete[0]
    candidates = [(search_best.value, 1, search_best.number, False)] + [
        (r["val"]["ndcg@20"], 0, n, True) for n, r in done.items()]
    value, _, number, final = max(candidates, key=lambda c: (c[0], c[1], -c[2]))
    exported = result.exported
    assert (exported.trial, exported.final_fit) == (number, final)
    meta = read_metadata(exported.path)
    assert meta["metrics"]["val"]["ndcg@20"] == pytest.approx(value)
    assert meta["extra"]["final_fit"] is final
    if final:
        assert exported.source == "final-fit"
        saved = torch.load(final_weights_path(out, number), weights_only=True)
        bundle = read_bundle(exported.path)
        assert all(torch.equal(saved[k], bundle.weights[k]) for k in saved)
    # the leaderboard keeps the search's ranking and shows the final fits next to it
    df = pd.read_csv(out / "leaderboard.csv")
    assert list(df["trial"][:1]) == [search_best.number]
    by_trial = df.set_index("trial")
    for n, r in done.items():
        assert by_trial.loc[n, "final_val_ndcg@20"] == pytest.approx(r["val"]["ndcg@20"])
        assert by_trial.loc[n, "final_test_ndcg@20"] == pytest.approx(r["test"]["ndcg@20"])
        assert by_trial.loc[n, "final_best_epoch"] == r["best_epoch"]
    assert by_trial["final_val_ndcg@20"].notna().sum() == 2
    # the report names the same winner as best/ and shows the final fit
    from gnnnas.report.data import collect
    data = collect(study)
    assert (data.winner, data.final is not None) == (exported.trial, final)
    assert '<section id="final-fit"><h2>Final fit</h2>' in result.files["report"].read_text()


def test_a_rerun_keeps_finished_finalists_and_retrains_only_new_ones(tiny_csv, space, tmp_path):
    out = tmp_path / "run"
    first = records(search(tiny_csv, space, out, final_fit=1).study)
    assert len(first) == 1
    second = records(search(tiny_csv, space, out, final_fit=2).study)
    (n,) = first
    assert len(second) == 2 and second[n] == first[n]  # same record: not retrained
    # a later run without --final-fit exports what the recorded final fits decide, as gnnnas export does
    third = search(tiny_csv, space, out)
    choice = final_choice(third.study, max((t for t in third.study.get_trials() if t.state == TrialState.COMPLETE),
                                           key=lambda t: (t.value, -t.number)), "ndcg@20")
    expected = (choice[0].number, True) if choice else (third.exported.trial, False)
    assert (third.exported.trial, third.exported.final_fit) == expected and records(third.study) == second


def test_a_rerun_retrains_a_final_fit_cut_short_only_when_it_raises_that_budget(tiny_csv, space, tmp_path):
    out = tmp_path / "run"
    first = records(search(tiny_csv, space, out, final_fit=1, final_epochs=2).study)
    ((n, short),) = first.items()
    assert short["stopped"] == "max_epochs" and short["max_epochs"] == 2
    saved = torch.load(final_weights_path(out, n), weights_only=True)
    assert records(search(tiny_csv, space, out, final_fit=1, final_epochs=2).study) == first  # same flags: kept
    longer = records(search(tiny_csv, space, out, final_fit=1, final_epochs=12).study)[n]
    again = torch.load(final_weights_path(out, n), weights_only=True)
    if longer == short:  # retrained, but no better on validation: the earlier fit and its weights stay
        assert all(torch.equal(saved[k], again[k]) for k in saved)
    else:
        assert longer["max_epochs"] == 12 and longer["val"]["ndcg@20"] > short["val"]["ndcg@20"]
    assert cut_short(short, 12, None, 1) and not cut_short(short, 2, None, 1)
    timed = {"stopped": "timeout", "seconds": 2.0}
    assert not cut_short(timed, 50, 5.0, 2)  # a share of 2.5 s is not 1.5 x the 2 s it had
    assert cut_short(timed, 50, 6.0, 2) and cut_short(timed, 50, None, 2)  # 3 s each; no limit at all
    assert not cut_short({"stopped": "early_stopping", "seconds": 1.0}, 50, None, 1)  # it converged


def test_the_final_timeout_stops_the_final_fit_and_best_keeps_the_search_result(tiny_csv, space, tmp_path):
    result = search(tiny_csv, space, tmp_path / "run", final_fit=2, final_timeout=1e-9)
    assert records(result.study) == {} and FINAL_ATTR not in result.study.user_attrs
    assert result.exported is not None and not result.exported.final_fit and result.exported.source == "weights"
    assert "final_val_ndcg@20" not in result.leaderboard.columns


def _study_with(values, finals):
    study = optuna.create_study(direction="maximize")
    for v in values:
        study.add_trial(optuna.trial.create_trial(
            params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)}, value=v,
            user_attrs={"best_epoch": 3, "spec": {}}))
    study.set_user_attr(FINAL_ATTR, {str(n): {"val": {"ndcg@20": val}, "test": {"ndcg@20": test}, "best_epoch": 9}
                                     for n, (val, test) in finals.items()})
    return study


def test_the_choice_reads_validation_only_and_ties_go_to_the_search_then_the_earlier_trial():
    study = _study_with([0.30, 0.20, 0.25], {1: (0.35, 0.10), 2: (0.34, 0.90)})
    best = study.best_trial
    trial, record = final_choice(study, best, "ndcg@20")
    assert trial.number == 1 and record["val"]["ndcg@20"] == 0.35  # trial 2's higher test never counts
    study = _study_with([0.30, 0.20, 0.25], {1: (0.30, 0.50)})
    assert final_choice(study, study.best_trial, "ndcg@20") is None  # a tie keeps the search's result
    study = _study_with([0.30, 0.20, 0.25], {2: (0.40, 0.0), 1: (0.40, 0.0)})
    assert final_choice(study, study.best_trial, "ndcg@20")[0].number == 1
    assert [t.number for t in finalists(_study_with([0.1, 0.3, 0.3, 0.2], {}), 3)] == [1, 2, 3]


def _layer(aggregator="lightgcn", hidden=16):
    return {"aggregator": aggregator, "hidden": hidden}


def test_distinct_finalists_are_the_best_trial_of_each_of_the_best_architectures():
    one = {"embedding_dim": 16, "layers": [_layer()]}
    specs = [  # (search value, spec): training knobs do not make another architecture, unused widths neither
        (0.40, {**one, "training": {"lr": 1e-3}}),
        (0.39, {**one, "training": {"lr": 2e-3, "l2": 1e-3, "num_negatives": 4}}),
        (0.38, {"embedding_dim": 16, "layers": [_layer(hidden=64)], "training": {"batch_size": 512}}),
        (0.30, {"embedding_dim": 16, "layers": [_layer("gcn")]}),
        (0.20, {**one, "combination": "sum"}),
        (0.10, {"embedding_dim": 32, "layers": [_layer()]}),
    ]
    study = optuna.create_study(direction="maximize")
    for value, spec in specs:
        study.add_trial(optuna.trial.create_trial(
            params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)}, value=value,
            user_attrs={"best_epoch": 3, "spec": spec}))
    assert [t.number for t in finalists(study, 3)] == [0, 1, 2]
    assert [t.number for t in finalists(study, 3, distinct=True)] == [0, 3, 4]
    assert [t.number for t in finalists(study, 10, distinct=True)] == [0, 3, 4, 5]


def test_the_final_fit_retrains_one_finalist_per_architecture_by_default(tiny_csv, tmp_path):
    # Only the learning rate varies: every trial is the same architecture, so one finalist of the 2 asked for.
    one_arch = SMALL.replace("search: {max_epochs: 3, patience: 3}", "search: {max_epochs: 6, patience: 3}") \
        .replace("embedding_dim: [8, 16]", "embedding_dim: 8").replace("combination: [mean, sum]", "combination: mean") \
        .replace("num_layers: {low: 0, high: 1}", "num_layers: 1").replace("aggregator: [lightgcn, gcn]",
                                                                            "aggregator: gcn")
    space = write_space(tmp_path, one_arch, name="onearch")
    result = search(tiny_csv, space, tmp_path / "run", trials=3, final_fit=2)  # default: one per architecture
    complete = [t for t in result.study.get_trials() if t.state == TrialState.COMPLETE]
    assert len({t.params["training.lr"] for t in complete}) == 3  # three trials, one architecture
    best = max(complete, key=lambda t: (t.value, -t.number))
    assert list(records(result.study)) == [best.number]
    plain = search(tiny_csv, space, tmp_path / "plain", trials=3, final_fit=2, final_distinct=False)
    assert len(records(plain.study)) == 2


@pytest.mark.parametrize("kw, fragment", [
    ({"final_fit": -1}, "--final-fit -1"),
    ({"final_distinct": True}, "--final-distinct"),
    ({"final_distinct": False}, "--final-distinct"),
    ({"final_fit": 1, "final_epochs": 0}, "--final-epochs 0"),
    ({"final_fit": 1, "final_timeout": 0}, "--final-timeout 0"),
    ({"final_timeout": 30.0}, "--final-fit N"),
])
def test_bad_final_fit_settings_are_refused_before_anything_is_written(tiny_csv, space, tmp_path, kw, fragment):
    with pytest.raises(GnnnasError, match=fragment.replace("-", r"\-")):
        search(tiny_csv, space, tmp_path / "never", **kw)
    assert not (tmp_path / "never").exists()


def test_command_line_final_fit_export_and_leaderboard(capsys, tiny_csv, space, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "search", "--space", space, "--data", tiny_csv, "--trials", 3, "--out", out,
                            "--pruner", "none", "--controller", "optuna-random", "--trial-timeout", 0.3,
                            "--final-fit", 1, "--final-epochs", 5)
    assert code == 0, err
    assert "final fit 1/1: trial" in err and "final_val_ndcg@20" in stdout.splitlines()[0]
    study = optuna.load_study(study_name="finalspace", storage=f"sqlite:///{out / 'study.db'}")
    ((n, record),) = records(study).items()
    assert record["max_epochs"] == 5
    code, text, _ = run(capsys, "export", out, "--trial", n, "--to", tmp_path / "final")
    assert code == 0 and "final fit, weights from" in text
    assert read_metadata(tmp_path / "final")["metrics"]["val"] == record["val"]
    code, text, _ = run(capsys, "export", out, "--trial", n, "--no-final", "--to", tmp_path / "search")
    assert code == 0 and "final fit" not in text
    assert read_metadata(tmp_path / "search")["extra"]["final_fit"] is False
    code, text, _ = run(capsys, "leaderboard", out, "--csv")
    assert code == 0 and "final_val_ndcg@20" in pd.read_csv(io.StringIO(text)).columns
    code, _, err = run(capsys, "search", "--space", space, "--data", tiny_csv, "--out", tmp_path / "never",
                       "--final-epochs", 3)
    assert_one_line_error(code, err, "--final-epochs", "--final-fit N")
    for flag in ("--final-distinct", "--no-final-distinct"):
        code, _, err = run(capsys, "search", "--space", space, "--data", tiny_csv, "--out", tmp_path / "never",
                           flag)
        assert_one_line_error(code, err, "--final-distinct", "--final-fit N")
    assert not (tmp_path / "never").exists()


def test_the_final_timeout_is_shared_so_the_first_finalist_cannot_starve_the_others(tiny_csv, tmp_path):
    space = write_space(tmp_path, SMALL.replace("search: {max_epochs: 3, patience: 3}",
                                                "search: {max_epochs: 100000, patience: 100000}"), name="endless")
    result = search(tiny_csv, space, tmp_path / "run", trials=3, final_fit=2, final_timeout=2.0)
    done = records(result.study)
    assert len(done) == 2  # without shares the first finalist would take the whole 2 s
    for r in done.values():
        assert r["stopped"] == "timeout" and 1 <= r["best_epoch"] <= r["epochs"] < 100000
