"""Which RUNNING trials are still alive: heartbeats while a trial trains, and failing the dead ones.

A worker that is killed leaves its trial RUNNING. Such a trial is failed
(state FAIL, user attr ``error``) when

* its worker ran on this machine and that process is gone (checked by pid,
  so a resumed search does not wait for the heartbeat grace period), or
* its last heartbeat is older than :data:`~gnnnas.search.storage.GRACE_PERIOD`
  (Optuna's RDB heartbeats, or for other storages a ``gnnnas:heartbeat``
  system attr written by :class:`Heartbeat`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import warnings

import optuna
from optuna.trial import TrialState

from gnnnas.search.storage import GRACE_PERIOD, HEARTBEAT_INTERVAL, heartbeat_enabled

HEARTBEAT_ATTR = "gnnnas:heartbeat"
_log = logging.getLogger(__name__)


def worker_id() -> str:
    """``hostname:pid`` of this process (the ``worker`` user attr of its trials)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(worker: str) -> bool:
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


class Heartbeat:
    """Context manager: while a trial trains, tell the storage every ``interval`` seconds that it lives."""

    def __init__(self, study: optuna.Study, trial_id: int, interval: float = HEARTBEAT_INTERVAL):
        self.storage = study._storage
        self.trial_id = trial_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        try:
            if heartbeat_enabled(self.storage):
                self.storage.record_heartbeat(self.trial_id)
            else:
                self.storage.set_trial_system_attr(self.trial_id, HEARTBEAT_ATTR, time.time())
        except Exception as err:  # noqa: BLE001 - a missed beat must not kill the training
            _log.debug("heartbeat failed: %s", err)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def __enter__(self) -> "Heartbeat":
        self.beat()
        self._thread = threading.Thread(target=self._run, name=f"gnnnas-heartbeat-{self.trial_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def fail_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial, error: str) -> bool:
    """Mark a RUNNING trial FAIL with user attr ``error``; False if someone finished it first."""
    storage = study._storage
    try:
        storage.set_trial_user_attr(trial._trial_id, "error", error)
        return bool(storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL))
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials whose worker is gone; returns their numbers."""
    failed: list[int] = []
    storage = study._storage
    if heartbeat_enabled(storage):
        try:  # fail them ourselves, so each gets an ``error`` attr saying why
            stale = storage._get_stale_trial_ids(study._study_id)
        except AttributeError:  # pragma: no cover - a storage without the (private) query
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            stale = []
        for trial_id in stale:
            trial = storage.get_trial(trial_id)
            if fail_trial(study, trial, f"interrupted: no heartbeat for over {GRACE_PERIOD} s (worker "
                                        f"{trial.user_attrs.get('worker', '?')} stopped)"):
                failed.append(trial.number)
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        if worker and _process_gone(worker):
            if fail_trial(study, trial, f"interrupted: worker {worker} is gone"):
                failed.append(trial.number)
            continue
        if heartbeat_enabled(study._storage):
            continue
        last = trial.system_attrs.get(HEARTBEAT_ATTR)
        if last is None and trial.datetime_start is not None:
            last = trial.datetime_start.timestamp()
        if last is not None and now - float(last) > GRACE_PERIOD:
            if fail_trial(study, trial, f"interrupted: no heartbeat for {now - float(last):.0f} s"):
                failed.append(trial.number)
    return failed


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def local_workers(study: optuna.Study, mine: int | None = None) -> int:
    """Workers of ``study`` running trials on this machine, this process included.

    ``mine`` is the number of the trial this process just claimed. Another
    RUNNING trial without a ``worker`` attr yet was claimed a moment ago by
    someone else; it counts as local (it usually is, and the count only sets
    CPU threads).
    """
    host, me = socket.gethostname(), worker_id()
    others = set()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.number == mine:
            continue
        worker = str(trial.user_attrs.get("worker", ""))
        if not worker:
            others.add(f"trial-{trial.number}")
        elif worker != me and worker.rpartition(":")[0] == host and not _process_gone(worker):
            others.add(worker)
    return 1 + len(others)


def auto_threads(study: optuna.Study, base: int, mine: int | None = None) -> int:
    """CPU threads for this worker's next trial: ``base`` (torch's own choice) shared by the local workers.

    Several processes each running torch on every core slow each other down
    many times over (measured 10-20x on 2 cores); one share each does not.
    """
    return max(1, min(base, cpu_count()) // local_workers(study, mine))
