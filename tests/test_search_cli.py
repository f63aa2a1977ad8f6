"""``gnnnas search``, ``leaderboard``, ``export``, ``worker``, ``controllers``: output and one-line errors."""

from __future__ import annotations

import io
import json
import textwrap

import pandas as pd
import pytest

from cli_helpers import assert_one_line_error, run

try:  # the model bundle (gnnnas.export) lands separately
    import gnnnas.export  # noqa: F401
    HAS_EXPORT = True
except ImportError:  # pragma: no cover
    HAS_EXPORT = False

SPACE = """
name: clispace
description: a test space
search: {max_epochs: 2, patience: 2}
architecture:
  embedding_dim: [8, 16]
layers:
  num_layers: {low: 0, high: 1}
  aggregator: [lightgcn, gcn]
  hidden: 8
training:
  lr: [1.0e-2, 5.0e-2]
  batch_size: 256
"""


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "clispace.yaml"
    path.write_text(textwrap.dedent(SPACE))
    return path


@pytest.fixture
def searched(capsys, tmp_path, tiny_csv, space):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "search", "--space", space, "--data", tiny_csv, "--trials", 3, "--out", out,
                            "--pruner", "none", "--keep-weights", 1)
    assert code == 0, err
    return out, stdout, err


def test_search_prints_progress_leaderboard_and_files(searched):
    out, stdout, err = searched
    assert "[3/3] trial 2" in err and "best" in err  # plain progress lines (not a TTY)
    assert "rank" in stdout and "val_ndcg@20" in stdout and "test_ndcg@20" in stdout
    assert "study clispace: 3 of 3 trials finished" in stdout
    for name in ("leaderboard.csv", "study.db", "search.json", "trials/"):
        assert name in stdout
    if HAS_EXPORT:
        assert "best/" in stdout and "best: trial" in stdout
    assert "per-candidate limit" not in stdout  # no --trial-timeout: nothing to warn about


def _board(stopped, epochs):
    return pd.DataFrame({"status": ["complete"] * len(stopped) + ["pruned"], "stopped": list(stopped) + ["pruned"],
                         "epochs": list(epochs) + [1]})


def test_the_summary_warns_when_the_time_limit_stopped_most_completed_trials():
    from gnnnas.search.leaderboard import fidelity_note
    cut = _board(["time_limit", "time_limit", "early_stopping"], [2, 4, 9])
    assert fidelity_note(cut, 20.0, final_fit=False) == (
        "note: the 20 s per-candidate limit (--trial-timeout) stopped 2 of 3 completed trials, after a median of "
        "3 epochs: they are ranked by what they reach in 20 s, not at convergence; --final-fit N retrains the N "
        "best without it")
    assert fidelity_note(cut, None, final_fit=False) is None  # no limit, no note
    assert fidelity_note(_board(["time_limit", "max_epochs", "early_stopping"], [2, 9, 9]), 20.0, False) is None
    assert fidelity_note(_board(["time_limit"], [1]), 20.0, False) is None  # one completed trial ranks nothing
    one = fidelity_note(_board(["time_limit", "time_limit"], [1, 1]), 0.5, final_fit=True)
    assert "after a median of 1 epoch:" in one and one.endswith("the final fit retrained the best without it")
    unknown = _board(["time_limit", "time_limit"], [None, None])  # epochs not recorded: no median, still the note
    assert "stopped 2 of 2 completed trials: they are ranked" in fidelity_note(unknown, 5.0, final_fit=False)


def test_search_with_a_binding_time_limit_prints_the_note(capsys, tmp_path, tiny_csv):
    endless = tmp_path / "endless.yaml"
    endless.write_text(textwrap.dedent(SPACE).replace("name: clispace", "name: endless")
                       .replace("search: {max_epochs: 2, patience: 2}", "search: {max_epochs: 100000, patience: 100000}"))
    code, stdout, err = run(capsys, "search", "--space", endless, "--data", tiny_csv, "--trials", 2, "--out",
                            tmp_path / "run", "--pruner", "none", "--trial-timeout", 0.2)
    assert code == 0, err
    assert "note: the 0.2 s per-candidate limit (--trial-timeout) stopped 2 of 2 completed trials" in stdout
    code, text, _ = run(capsys, "leaderboard", tmp_path / "run")
    assert code == 0 and text.rstrip().splitlines()[-1].startswith("note: the 0.2 s per-candidate limit")
    code, text, _ = run(capsys, "leaderboard", tmp_path / "run", "--csv")  # the CSV stays a CSV
    assert code == 0 and "note:" not in text
    assert "Note: the 0.2 s per-candidate limit (--trial-timeout) stopped 2 of 2" in (tmp_path / "run" /
                                                                                     "report.html").read_text()


def test_leaderboard_command(capsys, searched):
    out, _, _ = searched
    code, text, _ = run(capsys, "leaderboard", out, "--top", 2)
    lines = text.strip().splitlines()
    assert code == 0 and lines[0].split()[:3] == ["rank", "trial", "status"]
    assert len(lines) == 1 + 2 + 1 and "1 more" in lines[-1]
    code, text, _ = run(capsys, "leaderboard", out, "--csv")
    df = pd.read_csv(io.StringIO(text))
    assert code == 0 and len(df) == 3 and df.equals(pd.read_csv(out / "leaderboard.csv"))


@pytest.mark.skipif(not HAS_EXPORT, reason="gnnnas.export not installed")
def test_export_command_from_weights_and_by_retraining(capsys, searched, tmp_path):
    out, _, _ = searched
    df = pd.read_csv(out / "leaderboard.csv")
    best = int(df.iloc[0]["reused_from"]) if not pd.isna(df.iloc[0]["reused_from"]) else int(df.iloc[0]["trial"])
    code, text, _ = run(capsys, "export", out, "--trial", best, "--to", tmp_path / "b1")
    assert code == 0 and "weights from" in text and (tmp_path / "b1").is_dir()
    other = next(int(t) for t in df["trial"] if int(t) != best and pd.isna(df.set_index("trial").loc[t, "reused_from"]))
    code, text, _ = run(capsys, "export", out, "--trial", other, "--to", tmp_path / "b2")
    assert code == 0 and "retrained for" in text and (tmp_path / "b2").is_dir()
    code, _, err = run(capsys, "export", out, "--trial", 99)
    assert_one_line_error(code, err, "--trial 99")


def test_controllers_command(capsys):
    code, text, _ = run(capsys, "controllers")
    assert code == 0
    for name in ("optuna-tpe", "optuna-random", "optuna-cmaes", "optuna-gp", "asha", "median", "hyperband", "none"):
        assert name in text


# --- bad input: one line on stderr, exit 2, nothing written, nothing of an existing study changed ----------
# A space with a float range (nni-grid cannot enumerate it) and one with nothing to vary (nni-bohb refuses it).
FLOAT_SPACE = """
name: floatspace
description: a space with a float range
search: {max_epochs: 2, patience: 2}
architecture:
  embedding_dim: [8, 16]
layers:
  num_layers: {low: 0, high: 1}
  aggregator: lightgcn
training:
  lr: {low: 1.0e-3, high: 1.0e-2, log: true}
  batch_size: 256
"""
FIXED_SPACE = """
name: fixedspace
description: a space with one architecture
search: {max_epochs: 2, patience: 2}
architecture:
  embedding_dim: 8
layers:
  num_layers: 1
  aggregator: lightgcn
training:
  lr: 1.0e-2
  batch_size: 256
"""
UNREACHABLE = "postgresql+psycopg://nobody:secret@127.0.0.1:1/x"  # nothing listens on port 1: refused at once


def snapshot(root) -> dict:
    """sha256 of every file under ``root`` (the test's data cache left out): what exists, byte for byte."""
    import hashlib
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "gnnnas-cache" not in p.relative_to(root).parts}


def refused(capsys, tmp_path, *argv, fragments=(), limit: float = 20.0):
    """Run a command that must be refused: exit 2, one line naming ``fragments``, no file created or changed."""
    import time
    before = snapshot(tmp_path)
    started = time.monotonic()
    code, _, err = run(capsys, *argv)
    assert time.monotonic() - started < limit, f"took {time.monotonic() - started:.1f} s"
    assert_one_line_error(code, err, *fragments)
    assert "secret" not in err  # passwords are masked
    assert snapshot(tmp_path) == before
    return err


def needs_controller(name):
    from gnnnas.search.controllers import CONTROLLERS
    if name not in CONTROLLERS:
        pytest.skip(f"{name} is not available (nni not installed)")


@pytest.mark.parametrize("args, fragments", [
    (["--space", "no-such-space"], ["no-such-space"]),
    (["--controller", "nope"], ["--controller", "'nope'"]),
    (["--pruner", "nope"], ["--pruner", "'nope'"]),
    (["--metric", "auc@20"], ["--metric", "auc@20"]),
    (["--metric", "ndcg"], ["--metric", "'ndcg'"]),
    (["--metric", "ndcg@0"], ["--metric", "ndcg@0"]),
    (["--data", "no-such-dataset"], ["no-such-dataset"]),
    (["--storage", "nonsense"], ["--storage", "nonsense"]),
    (["--storage", "mysql://"], ["--storage", "mysql://"]),
    (["--storage", "mysql://u@h/db"], ["--storage", "mysql://u@h/db"]),
    (["--storage", "http://example.org/x"], ["--storage", "http://example.org/x"]),
    (["--storage", "journal:"], ["--storage", "journal:", "journal:PATH"]),
    (["--storage", "sqlite:///{tmp}/no/such/folder/x.db"], ["--storage", "no/such/folder"]),
    (["--storage", "sqlite://"], ["--storage", "sqlite://", "in-memory"]),
    (["--storage", "sqlite:///:memory:"], ["--storage", ":memory:", "in-memory"]),
    (["--storage", UNREACHABLE], ["--storage", "127.0.0.1:1", "***"]),
    (["--trials", "0"], ["--trials 0"]),
    (["--trials", "-3"], ["--trials -3"]),
    (["--timeout", "-5"], ["--timeout -5"]),
    (["--study", "bad name"], ["--study", "bad name"]),
    (["--initial", "gcn"], ["--initial", "'gcn'", "not in space"]),
    (["--initial", "nope"], ["--initial", "'nope'", "unknown preset"]),
    (["--prune-by", "seconds"], ["--prune-by seconds", "--trial-timeout"]),
])
def test_bad_search_input_is_one_line_exit_2(capsys, tmp_path, monkeypatch, tiny_csv, space, args, fragments):
    monkeypatch.chdir(tmp_path)  # a default runs/ folder would show up too
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    refused(capsys, tmp_path, "search", "--space", space, "--data", tiny_csv, "--out", tmp_path / "never", *args,
            fragments=fragments)


@pytest.mark.parametrize("controller, body, fragments", [
    ("nni-grid", FLOAT_SPACE, ["nni-grid", "float", "lr"]),
    ("nni-bohb", FIXED_SPACE, ["nni-bohb", "nothing to search"]),
])
def test_controller_refusing_the_space_leaves_nothing(capsys, tmp_path, monkeypatch, tiny_csv, controller, body,
                                                      fragments):
    needs_controller(controller)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "refused.yaml"
    path.write_text(textwrap.dedent(body))
    for out in (["--out", tmp_path / "never"], []):  # an explicit --out and the default runs/STUDY
        refused(capsys, tmp_path, "search", "--space", path, "--data", tiny_csv, "--controller", controller, *out,
                fragments=fragments)
    # the same with a storage outside the folder: no study is created in it either
    refused(capsys, tmp_path, "search", "--space", path, "--data", tiny_csv, "--controller", controller,
            "--out", tmp_path / "never", "--storage", f"journal:{tmp_path / 'studies.log'}", fragments=fragments)
    assert not (tmp_path / "studies.log").exists()


def test_resuming_with_a_controller_that_refuses_the_space_changes_nothing(capsys, tmp_path, tiny_csv):
    needs_controller("nni-grid")
    path = tmp_path / "floatspace.yaml"
    path.write_text(textwrap.dedent(FLOAT_SPACE))
    out = tmp_path / "run"
    cmd = ["search", "--space", path, "--data", tiny_csv, "--out", out, "--trials", 1, "--pruner", "none"]
    code, _, err = run(capsys, *cmd)
    assert code == 0, err
    refused(capsys, tmp_path, *cmd, "--trials", 2, "--controller", "nni-grid", fragments=["nni-grid", "lr"])
    record = json.loads((out / "search.json").read_text())
    assert record["controller"] == "optuna-tpe" and record["trials"] == 1


def another_space(tmp_path):
    path = tmp_path / "other" / "clispace.yaml"  # same name, another text
    path.parent.mkdir()
    path.write_text(textwrap.dedent(SPACE).replace("[8, 16]", "[8, 32]"))
    return path


def another_data(tmp_path):
    from conftest import clustered_interactions
    path = tmp_path / "other.csv"
    clustered_interactions(seed=1).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("change, fragments", [
    ("space", ["holds another search", "space 'clispace'"]),
    ("data", ["holds another search", "data '"]),
    ("metric", ["holds another search", "ndcg@20"]),
    ("study", ["holds another search", "study 'clispace'"]),
    ("storage", ["holds another search", "storage"]),
])
def test_out_folder_of_another_study_is_refused_byte_for_byte(capsys, tmp_path, searched, tiny_csv, space, change,
                                                              fragments):
    out, _, _ = searched
    args = {"space": ["--space", space], "data": ["--data", tiny_csv]}
    if change == "space":
        args["space"] = ["--space", another_space(tmp_path)]
    elif change == "data":
        args["data"] = ["--data", another_data(tmp_path)]
    extra = {"metric": ["--metric", "recall@20"], "study": ["--study", "another"],
             "storage": ["--storage", f"journal:{tmp_path / 'elsewhere.log'}"]}.get(change, [])
    refused(capsys, tmp_path, "search", *args["space"], *args["data"], "--out", out, "--trials", 5, *extra,
            fragments=[str(out), *fragments])


@pytest.mark.parametrize("storage, fragments", [
    ("nonsense", ["--storage", "nonsense"]),
    ("mysql://", ["--storage", "mysql://"]),
    ("journal:", ["--storage", "journal:"]),
    (UNREACHABLE, ["--storage", "127.0.0.1:1", "***"]),
    ("sqlite:///{tmp}/absent.db", ["--storage", "absent.db", "no such file"]),
    ("journal:{tmp}/absent.log", ["--storage", "absent.log", "no such file"]),
])
def test_worker_with_a_bad_storage_is_one_line_exit_2(capsys, tmp_path, monkeypatch, storage, fragments):
    monkeypatch.chdir(tmp_path)
    refused(capsys, tmp_path, "worker", "--storage", storage.replace("{tmp}", str(tmp_path)), "--study", "clispace",
            fragments=fragments)


@pytest.mark.parametrize("args, fragments", [
    (["--storage", "{url}", "--study", "missing"], ["'missing'", "clispace"]),
    (["--storage", "{url}", "--study", "clispace", "--trials", "0"], ["--trials 0"]),
    (["--storage", "{url}", "--study", "clispace", "--trials", "-1"], ["--trials -1"]),
    (["--storage", "{url}", "--study", "clispace", "--timeout", "0"], ["--timeout 0"]),
    (["--storage", "{url}", "--study", "clispace", "--data", "no-such-dataset"], ["no-such-dataset"]),
    (["--storage", "{url}", "--study", "clispace", "--out", "{tmp}/run2"], ["--out", "run2", "another search"]),
])
def test_bad_worker_input_is_one_line_exit_2(capsys, tmp_path, monkeypatch, searched, space, tiny_csv, args,
                                             fragments):
    out, _, _ = searched
    if "{tmp}/run2" in args:  # a folder holding another study: a worker must not write into it
        code, _, err = run(capsys, "search", "--space", space, "--data", tiny_csv, "--out", tmp_path / "run2",
                           "--study", "other", "--trials", 1)
        assert code == 0, err
    monkeypatch.chdir(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)).replace("{url}", f"sqlite:///{out / 'study.db'}") for a in args]
    refused(capsys, tmp_path, "worker", *args, fragments=fragments)


def test_worker_needs_an_existing_study(capsys, searched, tmp_path):
    out, _, _ = searched
    url = f"sqlite:///{out / 'study.db'}"
    code, _, err = run(capsys, "worker", "--storage", url, "--study", "missing")
    assert_one_line_error(code, err, "missing", "clispace")
    # the study's budget is met: a worker joins, runs nothing, and leaves
    code, text, err = run(capsys, "worker", "--storage", url, "--study", "clispace", "--no-export")
    assert code == 0 and "3 of 3 trials finished" in text
    assert json.loads((out / "search.json").read_text())["study"] == "clispace"


def test_a_searched_loss_and_shared_negatives_reach_training_leaderboard_and_export(capsys, tmp_path, tiny_csv):
    path = tmp_path / "losses.yaml"
    path.write_text(textwrap.dedent(SPACE).replace("name: clispace", "name: losses")
                    + "  loss: [bpr, softmax]\n  shared_negatives: [0, 32]\n")
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "search", "--space", path, "--data", tiny_csv, "--trials", 8, "--out", out,
                            "--pruner", "none", "--controller", "optuna-random", "--seed", 3)
    assert code == 0, err
    board = pd.read_csv(out / "leaderboard.csv")
    assert set(board["loss"]) <= {"bpr", "softmax", "bpr +32 shared", "softmax +32 shared"}
    assert len(set(board["loss"])) >= 2 and " loss " in stdout.splitlines()[0] + " ".join(stdout.splitlines())
    if HAS_EXPORT:
        spec = json.loads((out / "best" / "spec.json").read_text())
        best = board.iloc[0]["loss"].split(" +")
        assert spec["training"]["loss"] == best[0]
        assert spec["training"]["shared_negatives"] == (int(best[1].split()[0]) if len(best) > 1 else 0)
