"""Ctrl-C in a gnnnas process never hangs: cleanup that blocks is cut short with exit 130 and stacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

STUCK = textwrap.dedent("""
    import sys, threading, time
    from gnnnas.cli import interrupt
    print(interrupt.install(grace=float(sys.argv[1])), flush=True)
    lock = threading.Lock()
    lock.acquire()
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        lock.acquire()  # cleanup that never finishes
""")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as a terminal gives it, even from a background shell


def ctrl_c_once(script: str, *args: str, ready: tuple[str, ...] = ("True",)) -> tuple[int, str, float]:
    """Run ``script``, wait for its ``ready`` lines on stdout, press Ctrl-C once: (exit code, stderr, seconds
    from the press to the exit)."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)
    try:
        for line in ready:
            assert proc.stdout.readline().strip() == line
        time.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        return proc.returncode, err, time.monotonic() - started
    finally:
        proc.kill()


def test_ctrl_c_with_blocked_cleanup_exits_130_with_every_stack():
    code, err, seconds = ctrl_c_once(STUCK, "1")
    assert code == 130, err
    assert 0.9 < seconds < 10
    assert "still cleaning up 1 s later" in err
    assert "Stacks for a bug report" in err and "lock.acquire()" not in err  # faulthandler: file/line, no source
    assert 'File "<string>", line 10' in err  # the stuck line, in the main thread's stack


def test_not_installed_where_ctrl_c_is_ignored():
    out = subprocess.run([sys.executable, "-c", "from gnnnas.cli import interrupt; print(interrupt.install())"],
                         capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert out.stdout.strip() == "False", out.stderr


# --- Ctrl-C during a storage call ----------------------------------------------------------------
def press_ctrl_c(presses: list[int]) -> None:
    """SIGINT to this process once per entry of ``presses`` (emptied), each given time to be handled."""
    while presses:
        presses.pop()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # Python runs the SIGINT handler here


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler for the test, as in a terminal; a test run started in the background
    inherits SIGINT ignored (SIG_IGN), where no Ctrl-C would ever arrive. What was there is put back."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture
def storage(tmp_path, python_sigint):
    import optuna
    from sqlalchemy import event

    from gnnnas.search.storage import open_storage
    store = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    study = optuna.create_study(storage=store, study_name="s")
    trial_id = study.ask()._trial_id
    presses: list[int] = []

    def ctrl_c_mid_statement(*_):  # the user presses Ctrl-C while SQLite writes
        press_ctrl_c(presses)

    event.listen(store.engine, "before_cursor_execute", ctrl_c_mid_statement)
    yield store, trial_id, presses


def test_ctrl_c_during_a_storage_call_takes_effect_when_the_call_returns(storage):
    store, trial_id, presses = storage
    presses.append(1)
    with pytest.raises(KeyboardInterrupt):
        store.set_trial_user_attr(trial_id, "error", "interrupted")
    assert store.get_trial(trial_id).user_attrs == {"error": "interrupted"}  # written, committed, lock released
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    store.set_trial_user_attr(trial_id, "after", 1)  # the next call does not wait on anything
    assert store.get_trial(trial_id).user_attrs["after"] == 1


def test_a_second_ctrl_c_interrupts_the_storage_call_at_once(storage):
    store, trial_id, presses = storage
    presses.extend([1, 2])
    with pytest.raises(KeyboardInterrupt):
        store.set_trial_user_attr(trial_id, "error", "interrupted")
    assert "error" not in store.get_trial(trial_id).user_attrs
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_while_the_journal_appends_takes_effect_after_the_append(tmp_path, python_sigint):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    from gnnnas.search.storage import ShieldedJournalStorage, open_storage
    presses: list[int] = []

    class PressedDuringAppend(JournalFileBackend):  # Ctrl-C while the journal's lock file is held
        def append_logs(self, logs):
            press_ctrl_c(presses)
            return super().append_logs(logs)

    path = tmp_path / "journal.log"
    assert isinstance(open_storage(f"journal:{path}"), ShieldedJournalStorage)
    store = ShieldedJournalStorage(PressedDuringAppend(str(path)))
    trial_id = optuna.create_study(storage=store, study_name="s").ask()._trial_id
    presses.append(1)
    with pytest.raises(KeyboardInterrupt):
        store.set_trial_user_attr(trial_id, "error", "interrupted")
    again = ShieldedJournalStorage(JournalFileBackend(str(path)))  # what a resumed search reads
    assert again.get_trial(trial_id).user_attrs == {"error": "interrupted"}
    started = time.monotonic()
    again.set_trial_user_attr(trial_id, "after", 1)  # the lock file was released
    assert time.monotonic() - started < 5


def test_ctrl_c_while_sqlite_stays_locked_stops_the_retries_at_once(tmp_path, python_sigint):
    import sqlite3
    import threading

    import optuna

    from gnnnas.search.storage import RetryingRDBStorage
    path = tmp_path / "study.db"
    # A short busy timeout, so that each attempt fails fast and the retry loop's backoff does the waiting.
    store = RetryingRDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 0.05}})
    trial_id = optuna.create_study(storage=store, study_name="s").ask()._trial_id
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another worker holds the write lock and does not let go
    press = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    press.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            store.set_trial_user_attr(trial_id, "error", "interrupted")
        waited = time.monotonic() - started
    finally:
        press.cancel()
        other.execute("ROLLBACK")
        other.close()
    assert waited < 3, f"Ctrl-C took effect after {waited:.1f} s, not at the next retry"
    assert "error" not in store.get_trial(trial_id).user_attrs
    store.set_trial_user_attr(trial_id, "after", 1)  # the storage works once the lock is gone
    assert store.get_trial(trial_id).user_attrs == {"after": 1}


HUNG_STORAGE = textwrap.dedent("""
    import sys, time
    import optuna
    from sqlalchemy import event
    from gnnnas.cli import interrupt
    from gnnnas.search.storage import open_storage
    print(interrupt.install(grace=1.0), flush=True)
    store = open_storage("sqlite:///" + sys.argv[1])
    trial_id = optuna.create_study(storage=store, study_name="s").ask()._trial_id

    def hang(*_):  # a storage call that does not return
        print("writing", flush=True)
        time.sleep(120)

    event.listen(store.engine, "before_cursor_execute", hang)
    store.set_trial_user_attr(trial_id, "error", "interrupted")
""")


def test_one_ctrl_c_during_a_storage_call_that_hangs_still_exits(tmp_path):
    code, err, seconds = ctrl_c_once(HUNG_STORAGE, str(tmp_path / "study.db"), ready=("True", "writing"))
    assert code == 130, err
    assert seconds < 10
    assert "still cleaning up 1 s later" in err
