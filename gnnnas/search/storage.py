"""Where a study lives: SQLite (default), any SQLAlchemy URL, or an Optuna journal file.

* ``sqlite:///PATH`` (the default, ``<out>/study.db``): an RDB storage with a
  60 s busy timeout, every storage call retried with backoff while SQLite says
  "database is locked", and heartbeats so the trials of a killed worker become
  FAIL instead of RUNNING forever. Good for a few local workers. Ctrl-C during
  a storage call takes effect when the call returns (:func:`shielded`).
* ``postgresql+psycopg://...`` (or any SQLAlchemy URL): the same, for workers
  on several machines.
* ``journal:PATH``: Optuna's append-only journal file
  (``JournalStorage(JournalFileBackend(PATH))``); recommended for many local
  workers, since appends do not take SQLite's database-wide write lock.

Opening a storage that cannot be reached or parsed raises
:class:`~gnnnas.errors.GnnnasError` with one line naming it (passwords masked).
"""

from __future__ import annotations

import functools
import logging
import random
import signal
import threading
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage

from gnnnas.errors import GnnnasError

HEARTBEAT_INTERVAL = 30  # seconds between heartbeats of a running trial
GRACE_PERIOD = 90  # a RUNNING trial whose heartbeat is older than this is failed
LOCK_RETRIES = 12
JOURNAL_PREFIX = "journal:"

_log = logging.getLogger(__name__)


def default_url(out: Path) -> str:
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


def mask(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and ``search.json``)."""
    if url.startswith(JOURNAL_PREFIX) or "://" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - an unparsable URL has nothing to mask reliably
        return url
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def normalize(url: str) -> str:
    """Local file storages with absolute paths, so the URL means the same from any folder."""
    journal = journal_path(url)
    if journal is not None:
        return JOURNAL_PREFIX + str(journal.expanduser().resolve())
    path = sqlite_path(url)
    if path is not None and not path.is_absolute():
        query = url.split("?", 1)[1] if "?" in url else ""
        return f"sqlite:///{path.resolve()}" + (f"?{query}" if query else "")
    return url


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL (None for other storages and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def journal_path(url: str) -> Path | None:
    """The file of a ``journal:PATH`` URL (None for other storages and for ``journal:`` without a path)."""
    if not url.startswith(JOURNAL_PREFIX) or not url[len(JOURNAL_PREFIX):].strip():
        return None
    return Path(url[len(JOURNAL_PREFIX):])


def local_file(url: str) -> Path | None:
    """The file a local storage keeps everything in (SQLite or journal), else None."""
    return sqlite_path(url) or journal_path(url)


def _is_locked(err: BaseException) -> bool:
    seen = 0
    while err is not None and seen < 5:
        if "database is locked" in str(err) or "database table is locked" in str(err):
            return True
        err = err.__cause__ or err.__context__
        seen += 1
    return False


def retry_locked(fn, *args, **kwargs):
    """Call ``fn``; while SQLite answers "database is locked", wait (exponential backoff, jitter) and retry."""
    delay = 0.05
    for attempt in range(LOCK_RETRIES):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - filtered just below
            if attempt == LOCK_RETRIES - 1 or not _is_locked(err):
                raise
            _log.debug("database is locked; retry %d in %.2f s", attempt + 1, delay)
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


class _Deferral:
    """SIGINT handler while a storage call runs: remember the first Ctrl-C, act on a second at once."""

    def __init__(self, previous) -> None:
        self.previous = previous
        self.pending: tuple | None = None

    def __call__(self, signum, frame) -> None:
        if self.pending is not None:  # pressed again: the user will not wait for the call
            self.previous(signum, frame)
        self.pending = (signum, frame)
        on_deferred = getattr(self.previous, "on_deferred", None)
        if on_deferred is not None:
            on_deferred()


def shielded(fn, *args, **kwargs):
    """Call ``fn`` with Ctrl-C deferred until it returns (main thread, Python-level SIGINT handler only).

    A KeyboardInterrupt raised in the middle of a storage call can land between
    a lock's acquire and release or inside a half-committed SQLAlchemy session,
    and the cleanup that follows (failing the interrupted trial, rewriting the
    leaderboard) then waits on that lock. Deferring it to the call's end makes
    the interrupt land in training code, where nothing is held. A second
    Ctrl-C during the call interrupts it at once. A handler with an
    ``on_deferred`` attribute has it called at the first press: the CLI
    starts its exit timers there (:mod:`gnnnas.cli.interrupt`), so a call
    that hangs still ends the process (where it hangs in C, as SQLite's busy
    wait does, no handler runs before the C call returns).
    """
    if threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    previous = signal.getsignal(signal.SIGINT)
    if isinstance(previous, _Deferral) or not callable(previous):
        return fn(*args, **kwargs)
    deferral = _Deferral(previous)
    signal.signal(signal.SIGINT, deferral)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)
        if deferral.pending is not None:
            previous(*deferral.pending)


class RetryingRDBStorage(RDBStorage):
    """:class:`RDBStorage` whose public calls are retried while SQLite reports a lock, with Ctrl-C
    deferred to the end of each attempt (:func:`shielded`), never to the end of all the retries.

    A failed transaction is rolled back by the storage before the error
    reaches us, so repeating the call is safe.
    """


class ShieldedJournalStorage(JournalStorage):
    """:class:`JournalStorage` with Ctrl-C deferred to each call's end (:func:`shielded`): an interrupt
    between taking and releasing the journal's lock file would leave it for 30 s (its grace period)."""


def _wrap(cls: type, name: str, retry: bool) -> None:
    method = getattr(cls.__mro__[1], name)

    @functools.wraps(method)
    def attempt(self, *args, **kwargs):
        return shielded(method, self, *args, **kwargs)

    @functools.wraps(method)
    def retried(self, *args, **kwargs):
        # Each attempt is shielded, not the retry loop: a Ctrl-C takes effect when the attempt it lands in
        # returns, and at once during the backoff sleeps, not after every retry (half a minute or more).
        return retry_locked(attempt, self, *args, **kwargs)

    setattr(cls, name, retried if retry else attempt)


STORAGE_CALLS = ("create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
                 "get_study_id_from_name", "get_study_name_from_id", "get_study_directions", "get_study_user_attrs",
                 "get_study_system_attrs", "get_all_studies", "create_new_trial", "set_trial_param",
                 "get_trial_id_from_study_id_trial_number", "set_trial_state_values",
                 "set_trial_intermediate_value", "set_trial_user_attr", "set_trial_system_attr", "get_trial",
                 "get_all_trials", "get_n_trials", "get_best_trial")
for _name in STORAGE_CALLS + ("record_heartbeat", "_get_stale_trial_ids"):
    _wrap(RetryingRDBStorage, _name, retry=True)
for _name in STORAGE_CALLS:
    _wrap(ShieldedJournalStorage, _name, retry=False)


def _stale_trial_logger(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    _log.warning("trial %d of study %s failed: its worker stopped sending heartbeats", trial.number, study.study_name)


def open_storage(url: str) -> BaseStorage:
    """Open (creating tables or files as needed) the storage named by ``url``."""
    shown = mask(url)
    journal = journal_path(url)
    try:
        if url.startswith(JOURNAL_PREFIX):
            if journal is None:
                raise GnnnasError(f"--storage {url!r}: expected journal:PATH (a file for Optuna's journal storage)")
            journal.parent.mkdir(parents=True, exist_ok=True)
            return ShieldedJournalStorage(JournalFileBackend(str(journal)))
        if "://" not in url:
            raise GnnnasError(f"--storage {url!r}: expected a SQLAlchemy URL (sqlite:///study.db, "
                              "postgresql+psycopg://user@host/db) or journal:PATH")
        engine_kwargs: dict = {}
        if url.startswith("sqlite"):
            engine_kwargs["connect_args"] = {"timeout": 60}
            path = sqlite_path(url)
            if path is None:  # sqlite:// or :memory: - the study would vanish when the process ends
                raise GnnnasError(f"--storage {shown}: an in-memory SQLite study is lost at exit; expected "
                                  "sqlite:///FILE (or leave --storage out for OUT/study.db)")
            if path is not None and not path.parent.is_dir():
                raise GnnnasError(f"--storage {shown}: folder {path.parent} does not exist")
        elif url.startswith("postgresql"):
            engine_kwargs["connect_args"] = {"connect_timeout": 10}
        with warnings.catch_warnings():  # heartbeat_interval is "experimental" in optuna 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return retry_locked(RetryingRDBStorage, url, engine_kwargs=engine_kwargs,
                                heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD,
                                heartbeat_stale_trial_callback=_stale_trial_logger)
    except GnnnasError:
        raise
    except Exception as err:  # noqa: BLE001 - any driver / URL problem is the user's storage argument
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        cause = err.__cause__
        if cause is not None and str(cause).strip():
            detail = str(cause).strip().splitlines()[0]
        raise GnnnasError(f"--storage {shown}: cannot open storage ({type(err).__name__}: {detail[:200]})") from None


def heartbeat_enabled(storage: BaseStorage) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled
    return is_heartbeat_enabled(storage)
