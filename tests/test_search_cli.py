"""``gnnnas search``, ``leaderboard``, ``export``, ``worker``, ``controllers``: output and one-line errors."""

from __future__ import annotations

import io
import json
import textwrap

import pandas as pd
import pytest

from gnnnas.cli import main

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


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gnnnas: error:") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


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


@pytest.mark.parametrize("args, fragment", [
    (["--space", "no-such-space"], "no-such-space"),
    (["--controller", "nope"], "--controller"),
    (["--pruner", "nope"], "--pruner"),
    (["--metric", "auc@20"], "--metric"),
    (["--data", "no-such-dataset"], "no-such-dataset"),
    (["--storage", "nonsense"], "--storage"),
    (["--storage", "postgresql+psycopg://nobody:secret@127.0.0.1:1/x"], "--storage"),
    (["--trials", "0"], "--trials"),
    (["--timeout", "-5"], "--timeout"),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, tiny_csv, space, args, fragment):
    out = tmp_path / "never"
    argv = ["search", "--space", space, "--data", tiny_csv, "--out", out, *args]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, fragment)
    assert "secret" not in err
    assert not out.exists()


def test_out_folder_of_another_study_is_refused(capsys, searched, tiny_csv, space):
    out, _, _ = searched
    before = (out / "search.json").read_text()
    code, _, err = run(capsys, "search", "--space", space, "--data", tiny_csv, "--out", out, "--metric", "recall@20")
    assert_one_line_error(code, err, "holds another search")
    assert (out / "search.json").read_text() == before


def test_worker_needs_an_existing_study(capsys, searched, tmp_path):
    out, _, _ = searched
    url = f"sqlite:///{out / 'study.db'}"
    code, _, err = run(capsys, "worker", "--storage", url, "--study", "missing")
    assert_one_line_error(code, err, "missing", "clispace")
    # the study's budget is met: a worker joins, runs nothing, and leaves
    code, text, err = run(capsys, "worker", "--storage", url, "--study", "clispace", "--no-export")
    assert code == 0 and "3 of 3 trials finished" in text
    assert json.loads((out / "search.json").read_text())["study"] == "clispace"
