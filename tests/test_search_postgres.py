"""Three ``gnnnas worker`` processes sharing one study in a real PostgreSQL server.

PostgreSQL storage has no file lock around the budget check (workers may be
on different machines), so two workers can claim the last trial at the same
moment; the later one is closed at once as a FAIL ``surplus`` trial that the
budget and the leaderboard ignore. Whatever the timing, the study must end
with exactly ``--trials`` counted trials numbered 0..N-1, all recorded in
full, none left RUNNING.

Skipped when PostgreSQL is not installed, except under CI (``CI`` set), where
a missing server is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from pg_server import find_bin, postgres_server
from cli_helpers import run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX server helper")

TRIALS = 9
WORKERS = 3
# Each trial trains 60 epochs (no early stop): ~0.2 s alone on the tiny data, ~1 s with three workers on two
# cores, so a worker that starts a moment late still finds trials left. Most of the test's time is the three
# workers starting up (importing torch).
EPOCHS = 60
SPACE = """
name: pgspace
description: a small space for the PostgreSQL workers test
architecture:
  embedding_dim: [8, 16]
  combination: [mean, sum]
layers:
  num_layers: {low: 0, high: 1}
  aggregator: [lightgcn, gcn]
  hidden: 8
training:
  lr: {low: 1.0e-3, high: 5.0e-2, log: true}
  batch_size: 256
"""


@pytest.fixture(scope="module")
def pg_url():
    missing = None
    if find_bin() is None:
        missing = "PostgreSQL is not installed (apt-get install postgresql)"
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            missing = "psycopg is not installed (pip install 'psycopg[binary]')"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; CI must provide it (.ci/run installs postgresql)")
        pytest.skip(missing)
    with postgres_server() as url:
        yield url


def gnnnas(*args) -> list[str]:
    return [sys.executable, "-m", "gnnnas", *map(str, args)]


def test_three_workers_share_one_postgres_study(capsys, tmp_path, tiny_csv, pg_url):
    import gnnnas as api
    space = tmp_path / "pgspace.yaml"
    space.write_text(textwrap.dedent(SPACE))
    out = tmp_path / "run"
    # The study is created (and its first trial run) by a search; the workers learn everything else from it.
    created = api.search(space=str(space), data=str(tiny_csv), storage=pg_url, study="pg", out=str(out), trials=1,
                         pruner="none", controller="optuna-random", max_epochs=EPOCHS, patience=EPOCHS,
                         eval_every=10)
    assert [t.state for t in created.study.get_trials()] == [TrialState.COMPLETE]
    assert (out / "search.json").is_file() and not (out / "study.db").exists()

    workers = [subprocess.Popen(gnnnas("worker", "--storage", pg_url, "--study", "pg", "--trials", TRIALS,
                                       "--out", tmp_path / f"w{i}", "--no-export"),
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(WORKERS)]
    try:
        results = [proc.communicate(timeout=120) for proc in workers]
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for proc, (stdout, err) in zip(workers, results):
        assert proc.returncode == 0 and "Traceback" not in err, err
        assert "study pg: " in stdout, stdout  # its summary (the others may still be finishing their last trial)

    study = optuna.load_study(study_name="pg", storage=pg_url)
    trials = study.get_trials()
    counted = [t for t in trials if not t.user_attrs.get("surplus")]
    surplus = [t for t in trials if t.user_attrs.get("surplus")]
    # the budget, exactly: trials 0..N-1, no gap, no duplicate; a surplus trial only after them, closed as FAIL
    assert [t.number for t in counted] == list(range(TRIALS))
    assert len({t.number for t in trials}) == len(trials)
    assert all(t.state == TrialState.FAIL and t.number >= TRIALS for t in surplus), \
        [(t.number, t.state, t.user_attrs) for t in surplus]
    assert not [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert all(t.state == TrialState.COMPLETE for t in counted), [(t.number, t.state, t.user_attrs.get("error"))
                                                                  for t in counted]
    for t in counted:
        a = t.user_attrs
        assert {"spec", "spec_key", "worker", "controller", "seed", "val", "test", "curve", "epochs",
                "best_epoch", "seconds", "params"} <= set(a), (t.number, sorted(a))
        assert api.ArchSpec.from_dict(a["spec"]).key() == a["spec_key"]
        assert {"ndcg@20", "recall@20"} <= set(a["val"]) and {"ndcg@20", "recall@20"} <= set(a["test"])
        assert t.value == pytest.approx(a["val"]["ndcg@20"])
    # more than one worker process trained candidates (trial 0 was the creating search's)
    ran = {t.user_attrs["worker"] for t in counted[1:]}
    assert len(ran) >= 2, ran
    assert created.study.user_attrs["trials"] == 1  # --trials of a worker is its own budget, not the study's

    # the leaderboard, re-read from the PostgreSQL storage through the search's folder
    code, text, err = run(capsys, "leaderboard", out, "--csv")
    assert code == 0, err
    board = pd.read_csv(io.StringIO(text))
    assert sorted(board["trial"]) == list(range(TRIALS))
    assert set(board["status"]) == {"complete"} and board["val_ndcg@20"].notna().all()
    assert board["test_ndcg@20"].notna().all()
    # the same from an explicit --storage
    code, text, err = run(capsys, "leaderboard", out, "--top", 0, "--storage", pg_url)
    assert code == 0, err
    lines = text.strip().splitlines()
    assert len(lines) == 1 + TRIALS and sorted(int(line.split()[1]) for line in lines[1:]) == list(range(TRIALS))
