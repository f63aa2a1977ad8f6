"""Searches as real processes: Ctrl-C, SIGKILL and resume; two workers sharing one SQLite study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import optuna
import pytest
from optuna.trial import TrialState

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# ~100 epochs per second on the tiny data: a trial lasts long enough to be interrupted.
SPACE = """
name: slow
description: a space whose trials take a second or so
search: {max_epochs: 300, patience: 300}
architecture: {embedding_dim: 8}
layers: {num_layers: 1, aggregator: lightgcn}
training:
  lr: {low: 1.0e-3, high: 1.0e-2, log: true}
  batch_size: 256
"""


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "slow.yaml"
    path.write_text(textwrap.dedent(SPACE))
    return path


def gnnnas(*args) -> list[str]:
    return [sys.executable, "-m", "gnnnas", *map(str, args)]


def _default_sigint() -> None:
    # A shell without job control starts background commands with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: give the child Ctrl-C's default disposition back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args) -> subprocess.Popen:
    return subprocess.Popen(gnnnas(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def wait_for_line(proc: subprocess.Popen, fragment: str, limit: float = 60) -> list[str]:
    seen, stop = [], time.monotonic() + limit
    while time.monotonic() < stop:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if fragment in line:
            return seen
    proc.kill()
    raise AssertionError(f"{fragment!r} never appeared: {''.join(seen)}")


def study_of(out) -> optuna.Study:
    return optuna.load_study(study_name="slow", storage=f"sqlite:///{out / 'study.db'}")


def test_ctrl_c_and_sigkill_then_resume_keeps_every_finished_trial(tmp_path, tiny_csv, space):
    out = tmp_path / "run"
    cmd = ["search", "--space", space, "--data", tiny_csv, "--out", out, "--trials", 4, "--pruner", "none",
           "--controller", "optuna-random"]
    # Ctrl-C while trial 1 trains: trial 0 kept, trial 1 FAIL "interrupted", exit 130
    proc = start(*cmd)
    wait_for_line(proc, "[1/4] trial 0")
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    # the whole stderr on failure: a cleanup that hangs prints every thread's stack (gnnnas.cli.interrupt)
    assert "interrupted" in err and str(out) in err, err
    states = {t.number: t.state for t in study_of(out).get_trials()}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.FAIL}
    assert study_of(out).trials[1].user_attrs["error"] == "interrupted"
    assert (out / "leaderboard.csv").is_file()

    # SIGKILL while trial 2 trains: no chance to record anything
    proc = start(*cmd)
    lines = wait_for_line(proc, "resuming study slow: 2 of 4")
    time.sleep(0.5)
    proc.kill()
    proc.communicate(timeout=60)
    before = {t.number: (t.state, t.value) for t in study_of(out).get_trials()}
    running = [n for n, (state, _) in before.items() if state == TrialState.RUNNING]
    assert len(running) == 1, (before, lines)

    # the same command again: the dead worker's trial is failed, the budget completed
    done = subprocess.run(gnnnas(*cmd), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "resuming study slow: 2 of 4 trials done" in done.stderr
    trials = study_of(out).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    for number, (state, value) in before.items():  # nothing finished was lost or changed
        if state != TrialState.RUNNING:
            assert (trials[number].state, trials[number].value) == (state, value)
    killed = trials[running[0]]
    assert killed.state == TrialState.FAIL and "gone" in killed.user_attrs["error"]
    assert [t.state for t in trials].count(TrialState.FAIL) == 2


def test_two_workers_share_one_budget_exactly(tmp_path, tiny_csv, space):
    import gnnnas as api
    out = tmp_path / "run"
    # max_epochs is a study setting the workers inherit. At 5 epochs (~0.05 s a trial) one worker could
    # finish all six trials before the other had imported torch; at 100 (~1 s) both get to train.
    api.search(space=str(space), data=str(tiny_csv), out=str(out), trials=1, pruner="none", max_epochs=100)
    url = f"sqlite:///{out / 'study.db'}"
    workers = [start("worker", "--storage", url, "--study", "slow", "--trials", 7, "--no-export") for _ in range(2)]
    for proc in workers:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    trials = study_of(out).get_trials()
    assert [t.number for t in trials] == list(range(7))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    ran = {t.user_attrs["worker"] for t in trials[1:]}
    assert len(ran) == 2, ran  # both workers trained candidates
    assert len({t.user_attrs["spec_key"] for t in trials}) == 7  # different seeds: different proposals
