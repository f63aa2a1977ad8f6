"""The trial budget shared by every worker of a study.

``--trials N`` counts finished trials (COMPLETE + PRUNED + FAIL) of the whole
study. Before each new trial a worker counts finished trials plus those
other workers are running, and stops at ``N``. The count and the
``study.ask()`` that follows happen under a file lock for local storages
(SQLite file, journal file), so workers on one machine never overshoot. For
remote storages (PostgreSQL) a trial that turns out to be over budget once
created (two workers asked at the same moment) is closed at once as FAIL with
user attr ``surplus`` and is ignored by the budget and the leaderboard.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Callable, Iterator

import optuna
from optuna.trial import TrialState

from gnnnas.search.controllers.base import Suggestion

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def is_surplus(trial: optuna.trial.FrozenTrial) -> bool:
    return bool(trial.user_attrs.get("surplus"))


def recorded(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's trials as leaderboards and reports show them: surplus trials and queued
    (WAITING, not yet started: an initial design the budget never reached) left out."""
    return [t for t in study.get_trials(deepcopy=False) if not is_surplus(t) and t.state != TrialState.WAITING]


def counts(study: optuna.Study) -> tuple[int, int]:
    """(finished, running) trials of the study, surplus trials left out."""
    finished = running = 0
    for t in study.get_trials(deepcopy=False):
        if is_surplus(t):
            continue
        if t.state in FINISHED:
            finished += 1
        elif t.state == TrialState.RUNNING:
            running += 1
    return finished, running


@contextlib.contextmanager
def file_lock(path: Path | None) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (yields True), or do nothing (yields False)."""
    if path is None:
        yield False
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield False
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Budget:
    """Hands out trials of ``study`` until ``total`` are finished or running."""

    def __init__(self, study: optuna.Study, total: int, lock_path: Path | None = None):
        self.study = study
        self.total = total
        self.lock_path = lock_path

    def done(self) -> int:
        return counts(self.study)[0]

    def claim(self, ask: Callable[[optuna.Study], Suggestion | None],
              before: Callable[[], None] | None = None) -> Suggestion | None:
        """A new trial from ``ask`` while the budget allows one, else None.

        ``before`` runs inside the lock first (failing the trials of dead workers).
        """
        while True:
            with file_lock(self.lock_path) as locked:
                if before is not None:
                    before()
                finished, running = counts(self.study)
                if finished + running >= self.total:
                    return None
                with warnings.catch_warnings():
                    # We send heartbeats ourselves (liveness.Heartbeat); optuna only knows optimize() does.
                    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
                    suggestion = ask(self.study)
            if suggestion is None or locked or not self._over_budget(suggestion.trial.number):
                return suggestion
            self._close_surplus(suggestion)

    def _over_budget(self, number: int) -> bool:
        ahead = sum(1 for t in self.study.get_trials(deepcopy=False)
                    if t.number < number and not is_surplus(t) and (t.state in FINISHED or t.state == TrialState.RUNNING))
        return ahead >= self.total

    def _close_surplus(self, suggestion: Suggestion) -> None:
        trial = suggestion.trial
        trial.set_user_attr("surplus", True)
        trial.set_user_attr("error", "over budget: another worker claimed the last trial at the same time")
        self.study.tell(trial, state=TrialState.FAIL)
