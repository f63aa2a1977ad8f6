"""The search engine through its Python API: trials, attrs, selection, pruning, reuse, failures, resume."""

from __future__ import annotations

import json
import math
import textwrap

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

import gnnnas
from gnnnas.errors import GnnnasError
from gnnnas.search.controllers import CONTROLLERS

try:  # the model bundle (gnnnas.export) lands separately; best/ is checked once it is there
    import gnnnas.export  # noqa: F401
    HAS_EXPORT = True
except ImportError:  # pragma: no cover
    HAS_EXPORT = False

RESULT_ATTRS = {"spec", "spec_key", "controller", "curve", "loss", "val", "test", "epochs", "best_epoch", "seconds",
                "params", "worker"}


def write_space(tmp_path, body: str, name: str = "small") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\ndescription: a test space\n" + textwrap.dedent(body))
    return str(path)


SMALL = """
search: {max_epochs: 3, patience: 3}
architecture:
  embedding_dim: [8, 16]
  combination: [mean, sum]
layers:
  num_layers: {low: 0, high: 1}
  aggregator: [lightgcn, gcn]
  hidden: 16
training:
  lr: {low: 1.0e-3, high: 5.0e-2, log: true}
  batch_size: 256
"""


@pytest.fixture
def small_space(tmp_path):
    return write_space(tmp_path, SMALL)


def run_search(tiny_csv, space, out, **kw):
    kw.setdefault("trials", 3)
    kw.setdefault("pruner", "none")
    return gnnnas.search(space=space, data=str(tiny_csv), out=str(out), **kw)


def test_search_writes_everything_and_records_attrs(tiny_csv, small_space, tmp_path):
    out = tmp_path / "run"
    result = run_search(tiny_csv, small_space, out, trials=4)
    assert {"leaderboard.csv", "search.json", "study.db"} <= {p.name for p in out.iterdir()}
    trials = result.study.get_trials()
    assert len(trials) == 4 and {t.state for t in trials} <= {TrialState.COMPLETE}
    for t in trials:
        a = t.user_attrs
        assert RESULT_ATTRS <= set(a), set(a)
        json.dumps(a)  # JSON-able
        assert a["controller"] == "optuna-tpe"
        assert gnnnas.ArchSpec.from_dict(a["spec"]).key() == a["spec_key"]
        if a.get("reused_from") is None:
            assert [e for e, _ in a["curve"]] == [1, 2, 3] and len(a["loss"]) == a["epochs"] == 3
            assert math.isclose(t.value, a["val"]["ndcg@20"]) and max(v for _, v in a["curve"]) == t.value
            assert {"ndcg@20", "recall@20", "recall@10"} <= set(a["test"]) and a["params"] > 0
    record = json.loads((out / "search.json").read_text())
    assert record["study"] == "small" and record["metric"] == "ndcg@20" and record["storage_default"]
    assert record["data"]["n_users"] == 80 and record["data"]["fingerprint"]
    attrs = result.study.user_attrs
    assert attrs["space"]["name"] == "small" and "embedding_dim" in attrs["space_text"]
    assert (attrs["controller"], attrs["pruner"], attrs["trials"], attrs["max_epochs"]) == ("optuna-tpe", "none", 4, 3)
    assert attrs["direction"] == "maximize" and attrs["gnnnas_version"] == gnnnas.__version__
    csv = pd.read_csv(out / "leaderboard.csv")
    assert len(csv) == 4 and {"rank", "trial", "val_ndcg@20", "test_ndcg@20", "val_recall@20", "test_recall@20",
                               "aggregators", "layers", "dim", "lr", "params", "reused_from"} <= set(csv.columns)
    # the result: leaderboard, study, best bundle of the top trial
    assert isinstance(result.leaderboard, pd.DataFrame) and isinstance(result.study, optuna.Study)
    if HAS_EXPORT:
        assert (out / "best").is_dir() and result.exported.trial == int(csv.iloc[0]["trial"])
        assert result.best.n_users == 80 and result.best.n_items == 60  # gnnnas.load of best/


def test_selection_reads_validation_only(tiny_csv, small_space, tmp_path):
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=5, controller="optuna-random")
    df = result.leaderboard
    complete = df[df.status == "complete"]
    assert list(complete["val_ndcg@20"]) == sorted(complete["val_ndcg@20"], reverse=True)
    best = max(result.study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.user_attrs["val"]["ndcg@20"])
    assert df.iloc[0]["trial"] == best.number
    if HAS_EXPORT:
        assert result.exported.trial == best.number
    assert list(df["rank"]) == list(range(1, len(df) + 1))


def test_median_pruner_prunes_and_pruned_trials_keep_val_and_test(tiny_csv, tmp_path):
    # learning rates from hopeless to good: the weak candidates fall under the median early
    space = write_space(tmp_path, """
        search: {max_epochs: 4, patience: 4}
        architecture: {embedding_dim: 8}
        training:
          lr: {low: 1.0e-6, high: 5.0e-2, log: true}
          batch_size: 256
        """)
    result = run_search(tiny_csv, space, tmp_path / "run", trials=10, pruner="median", controller="optuna-random")
    pruned = result.study.get_trials(states=(TrialState.PRUNED,))
    assert pruned, [t.state for t in result.study.get_trials()]
    for t in pruned:
        assert t.user_attrs["stopped"] == "pruned" and t.user_attrs["epochs"] < 4
        assert t.user_attrs["best_epoch"] >= 1 and "ndcg@20" in t.user_attrs["test"]
    statuses = list(result.leaderboard.status)
    assert statuses == sorted(statuses, key=["complete", "pruned", "fail"].index)


def test_identical_architecture_is_reused_not_retrained(tiny_csv, tmp_path, monkeypatch):
    import gnnnas.search.objective as objective

    fits = []
    real_fit = objective.Trainer.fit
    monkeypatch.setattr(objective.Trainer, "fit", lambda self: fits.append(1) or real_fit(self))
    space = write_space(tmp_path, """
        search: {max_epochs: 2}
        architecture: {embedding_dim: 8}
        training: {batch_size: 256}
        """)
    result = run_search(tiny_csv, space, tmp_path / "run", trials=3)
    assert len(fits) == 1  # one training run for three trials
    t0, t1, t2 = result.study.get_trials()
    assert "reused_from" not in t0.user_attrs
    assert t1.user_attrs["reused_from"] == t2.user_attrs["reused_from"] == 0
    assert t0.value == t1.value == t2.value
    assert t1.user_attrs["val"] == t0.user_attrs["val"] and t1.user_attrs["test"] == t0.user_attrs["test"]


def test_matrix_factorisation_draws_no_stack_knobs_and_trains_without_edge_dropout(tiny_csv, tmp_path, monkeypatch):
    import gnnnas.search.objective as objective

    edge_dropouts = []
    real_fit = objective.Trainer.fit
    monkeypatch.setattr(objective.Trainer, "fit",
                        lambda self: edge_dropouts.append(self.config.edge_dropout) or real_fit(self))
    # Without layers the skip, the combination (of the input alone) and edge dropout change nothing,
    # so the space does not draw them and the trainer builds no dropped graph.
    space = write_space(tmp_path, """
        search: {max_epochs: 2}
        architecture: {embedding_dim: 8, skip: [none, dense], combination: [last, attention],
                       edge_dropout: [0.1, 0.2]}
        layers: {num_layers: {low: 0, high: 1}, aggregator: lightgcn}
        training: {batch_size: 256}
        """)
    result = run_search(tiny_csv, space, tmp_path / "run", trials=6, controller="optuna-random", seed=3)
    trials = [t for t in result.study.trials if t.state.is_finished()]
    stack = {"skip", "combination", "edge_dropout"}
    mf = [t for t in trials if t.params["num_layers"] == 0]
    layered = [t for t in trials if t.params["num_layers"] == 1]
    assert mf and layered
    assert all(not stack & t.params.keys() for t in mf) and all(stack <= t.params.keys() for t in layered)
    assert 0.0 in edge_dropouts and set(edge_dropouts) - {0.0}
    board = result.leaderboard
    assert set(board[board["layers"] == 0]["skip"]) == set(board[board["layers"] == 0]["combination"]) == {"-"}


def test_a_study_whose_matrix_factorisation_trials_drew_stack_knobs_resumes(tiny_csv, tmp_path):
    # Studies recorded before skip, combination and edge dropout took their implicit num_layers >= 1
    # hold MF trials with those parameters; TPE's model must still take them in and the search go on.
    from optuna.distributions import CategoricalDistribution

    space = write_space(tmp_path, """
        search: {max_epochs: 2}
        architecture: {embedding_dim: [8, 16], skip: [none, dense], combination: [last, mean],
                       edge_dropout: [0.0, 0.2]}
        layers: {num_layers: {low: 0, high: 1}, aggregator: lightgcn}
        training: {batch_size: 256}
        """)
    out = tmp_path / "run"
    first = run_search(tiny_csv, space, out, trials=4, controller="optuna-random", seed=5)
    old = {"skip": ("dense", ["none", "dense"]), "combination": ("last", ["last", "mean"]),
           "edge_dropout": (0.2, [0.0, 0.2])}
    drawn = {k: v for k, (v, _) in old.items()}
    for t in [t for t in first.study.get_trials() if t.state == TrialState.COMPLETE][:2]:
        spec = {**t.user_attrs["spec"], "layers": [], **drawn}
        first.study.add_trial(optuna.trial.create_trial(
            state=TrialState.COMPLETE, value=t.value, intermediate_values=t.intermediate_values,
            params={"embedding_dim": t.params["embedding_dim"], "num_layers": 0, **drawn},
            distributions={**{k: t.distributions[k] for k in ("embedding_dim", "num_layers")},
                           **{k: CategoricalDistribution(c) for k, (_, c) in old.items()}},
            user_attrs={**t.user_attrs, "spec": spec, "spec_key": gnnnas.ArchSpec.from_dict(spec).key()}))
    result = run_search(tiny_csv, space, out, trials=14, controller="optuna-tpe", seed=5)
    trials = result.study.get_trials()
    assert len(trials) == 14 and all(t.state.is_finished() for t in trials)
    assert sum(t.state == TrialState.COMPLETE for t in trials) >= 12
    board = result.leaderboard
    assert len(board) == 14 and set(board[board["layers"] == 0]["skip"]) == {"-"}
    new_mf = [t for t in trials[6:] if t.params["num_layers"] == 0 and "reused_from" not in t.user_attrs]
    assert all(not {"skip", "combination", "edge_dropout"} & t.params.keys() for t in new_mf)


def test_a_diverging_trial_fails_and_the_search_goes_on(tiny_csv, tmp_path):
    space = write_space(tmp_path, """
        search: {max_epochs: 2}
        architecture: {embedding_dim: 8}
        layers: {num_layers: 1, aggregator: gcn, hidden: 8}
        training:
          lr: [1.0e+30, 1.0e-2]
          batch_size: 256
        """)
    result = run_search(tiny_csv, space, tmp_path / "run", trials=4, controller="optuna-random")
    states = [t.state for t in result.study.get_trials()]
    assert TrialState.FAIL in states and TrialState.COMPLETE in states and len(states) == 4
    failed = result.study.get_trials(states=(TrialState.FAIL,))[0]
    assert failed.user_attrs["error"].startswith("TrainingDiverged")
    assert result.leaderboard.iloc[-1]["status"] == "fail"


def test_resume_continues_the_same_study(tiny_csv, small_space, tmp_path, capsys):
    out = tmp_path / "run"
    run_search(tiny_csv, small_space, out, trials=2, quiet=False)
    result = run_search(tiny_csv, small_space, out, trials=4, quiet=False)
    assert "resuming study small: 2 of 4 trials done" in capsys.readouterr().err
    numbers = [t.number for t in result.study.get_trials()]
    assert numbers == [0, 1, 2, 3]
    assert len(pd.read_csv(out / "leaderboard.csv")) == 4
    again = run_search(tiny_csv, small_space, out, trials=4)  # budget met: nothing new
    assert len(again.study.get_trials()) == 4


def test_an_out_folder_with_another_study_is_refused_untouched(tiny_csv, small_space, tmp_path):
    out = tmp_path / "run"
    run_search(tiny_csv, small_space, out, trials=1)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    db = (out / "study.db").read_bytes()
    for kw in ({"metric": "recall@20"}, {"study": "other"}, {"space": "tiny"}, {"kcore": 2}):
        args = dict(trials=2, **kw)
        space = args.pop("space", small_space)
        with pytest.raises(GnnnasError, match="holds another search"):
            run_search(tiny_csv, space, out, **args)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert (out / "study.db").read_bytes() == db


def test_timeout_stops_the_running_trial_as_pruned(tiny_csv, small_space, tmp_path):
    from gnnnas.graph import native

    native.kernels()  # built once per test process (seconds): not inside the 2 s budget

    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=5, timeout=2.0, max_epochs=100000, patience=100000)
    (trial,) = result.study.get_trials()
    assert trial.state == TrialState.PRUNED and trial.user_attrs["stopped"] == "timeout"
    assert 1 <= trial.user_attrs["epochs"] < 100000 and trial.user_attrs["test"]


def test_trial_timeout_caps_each_candidate_and_keeps_its_result(tiny_csv, small_space, tmp_path):
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=2, trial_timeout=0.5, max_epochs=100000,
                        patience=100000, controller="optuna-random")
    trials = result.study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    for t in trials:
        a = t.user_attrs
        assert a["stopped"] == "time_limit" and 1 <= a["epochs"] < 100000
        assert t.value == a["val"]["ndcg@20"] and a["test"]
        assert a["seconds"] < 0.5 + 5  # training stops at the limit; evaluation and recording come on top
    assert result.study.user_attrs["trial_timeout"] == 0.5
    assert result.best is not None


def test_a_candidate_whose_budget_ends_before_its_first_scheduled_evaluation_is_judged_at_the_limit(tiny_csv, tmp_path):
    # evaluations every 50,000 epochs: within 0.5 s only the time limit's own evaluation can judge the candidates
    space = write_space(tmp_path, SMALL.replace("search: {max_epochs: 3, patience: 3}",
                                                "search: {max_epochs: 100000, eval_every: 50000, patience: 3}"))
    result = run_search(tiny_csv, space, tmp_path / "run", trials=2, trial_timeout=0.5, controller="optuna-random")
    for t in result.study.get_trials():
        a = t.user_attrs
        assert t.state == TrialState.COMPLETE and a["stopped"] == "time_limit", a
        assert len(a["curve"]) == 1 and a["curve"][0][0] == a["best_epoch"] == a["epochs"] >= 1
        assert t.value == a["val"]["ndcg@20"] == a["curve"][0][1] and a["test"]
    assert result.best is not None


def test_a_candidate_cut_before_its_first_evaluation_is_pruned(tiny_csv, small_space, tmp_path):
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=1, trial_timeout=1e-9, max_epochs=5)
    (trial,) = result.study.get_trials()
    assert trial.state == TrialState.PRUNED and trial.user_attrs["stopped"] == "time_limit"
    assert trial.user_attrs["epochs"] == 0 and "test" not in trial.user_attrs


def test_a_single_worker_trains_on_every_core(tiny_csv, small_space, tmp_path):
    import torch

    from gnnnas.search.liveness import cpu_count

    torch.set_num_threads(min(2, cpu_count()))
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=2)
    assert [t.user_attrs["threads"] for t in result.study.get_trials()] == [min(2, cpu_count())] * 2


def test_only_the_best_k_weights_are_kept(tiny_csv, small_space, tmp_path):
    out = tmp_path / "run"
    result = run_search(tiny_csv, small_space, out, trials=4, keep_weights=1, controller="optuna-random")
    kept = [p.parent.name for p in (out / "trials").glob("*/model.pt")]
    best = result.leaderboard.iloc[0]
    origin = best["reused_from"] if not pd.isna(best["reused_from"]) else best["trial"]
    assert kept == [str(origin)]
    if HAS_EXPORT:
        assert result.exported.source == "weights"


def test_journal_storage(tiny_csv, small_space, tmp_path):
    journal = tmp_path / "j" / "study.log"
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=2, storage=f"journal:{journal}")
    assert journal.is_file() and len(result.study.get_trials()) == 2
    record = json.loads((tmp_path / "run" / "search.json").read_text())
    assert record["storage"] == f"journal:{journal}" and not record["storage_default"]


@pytest.mark.parametrize("controller", sorted(name for name in CONTROLLERS if name.startswith("optuna-")))
def test_every_optuna_controller_runs(tiny_csv, small_space, tmp_path, controller, recwarn):
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=2, controller=controller)
    assert [t.state for t in result.study.get_trials()] == [TrialState.COMPLETE] * 2
    assert {t.user_attrs["controller"] for t in result.study.get_trials()} == {controller}
    assert not [w for w in recwarn if "optuna" in str(w.filename)], [str(w.message) for w in recwarn]


def test_bad_arguments_raise_before_anything_is_written(tiny_csv, small_space, tmp_path):
    out = tmp_path / "never"
    cases = [dict(trials=0), dict(timeout=-1), dict(controller="nope"), dict(pruner="nope"), dict(metric="auc@20"),
             dict(metric="ndcg"), dict(storage="nonsense"), dict(study="bad name!")]
    for kw in cases:
        with pytest.raises(GnnnasError):
            run_search(tiny_csv, small_space, out, **kw)
        assert not out.exists(), kw


def test_budget_closes_a_trial_claimed_over_budget_without_a_lock():
    from gnnnas.search.budget import Budget, counts
    from gnnnas.search.controllers import Suggestion

    study = optuna.create_study(direction="maximize")
    spec = gnnnas.ArchSpec()

    def racing_ask(s):  # another worker's ask lands between our count and our ask
        s.ask()
        return Suggestion(trial=s.ask(), spec=spec)

    assert Budget(study, total=1, lock_path=None).claim(racing_ask) is None
    first, second = study.get_trials()
    assert first.state == TrialState.RUNNING
    assert second.state == TrialState.FAIL and second.user_attrs["surplus"]
    assert counts(study) == (0, 1)  # the surplus trial counts for nothing


def test_out_of_memory_fails_the_trial_and_the_search_goes_on(tiny_csv, small_space, tmp_path, monkeypatch):
    import torch

    from gnnnas.search import objective
    real, calls = objective.build_model, []

    def build_model(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(objective, "build_model", build_model)
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=2, controller="optuna-random")
    first, second = result.study.get_trials()
    assert first.state == TrialState.FAIL and "out of memory" in first.user_attrs["error"]
    assert first.user_attrs["error"].startswith("OutOfMemoryError")
    assert second.state == TrialState.COMPLETE


def test_importing_gnnnas_does_not_load_the_search_machinery():
    import subprocess
    import sys
    code = "import gnnnas, sys; assert 'optuna' not in sys.modules; assert callable(gnnnas.search)"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("pruner", ["asha", "median", "hyperband", "none"])
def test_every_pruner_runs(tiny_csv, small_space, tmp_path, pruner):
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=3, pruner=pruner, controller="optuna-random")
    assert len(result.study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 3
    assert result.study.user_attrs["pruner"] == pruner
