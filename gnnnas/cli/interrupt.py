"""Ctrl-C in a ``gnnnas`` process: a KeyboardInterrupt at once, and a bounded exit if cleanup hangs.

After Ctrl-C a search still writes to its storage (the interrupted trial is
failed, the leaderboard rewritten). Should that ever block (a lock held by
the code the interrupt landed in), the process must not hang: every trial
that finished is already stored, and a resumed study fails a trial left
RUNNING once its heartbeat stops. So the first Ctrl-C arms a timer that,
``GRACE_SECONDS`` later, prints every thread's stack (for the bug report)
and exits with status 130; a C-level watchdog (:mod:`faulthandler`) backs it
up in case the interpreter itself is stuck.

Only the console entry point installs this (:func:`install`); the Python API
and in-process ``gnnnas.cli.main`` calls keep Python's own Ctrl-C handling.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading

GRACE_SECONDS = 30.0

_armed = threading.Event()


def install(grace: float = GRACE_SECONDS) -> bool:
    """Route SIGINT through :func:`_on_sigint`; False (nothing changed) where Python's default handler is
    not in place (Ctrl-C ignored, as for background jobs, or handled by an embedding application)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return False

    def on_sigint(signum, frame):
        arm(grace)
        raise KeyboardInterrupt

    # A storage call defers Ctrl-C to its end (gnnnas.search.storage.shielded) but starts the timers at the
    # press, so a call that never returns cannot keep the process alive.
    on_sigint.on_deferred = lambda: arm(grace)
    signal.signal(signal.SIGINT, on_sigint)
    return True


def arm(grace: float = GRACE_SECONDS) -> None:
    """Start the exit timers (once)."""
    if _armed.is_set():
        return
    _armed.set()
    faulthandler.dump_traceback_later(2 * grace, exit=True)
    timer = threading.Timer(grace, _give_up, args=(grace,))
    timer.daemon = True
    timer.start()


def _give_up(grace: float) -> None:
    print(f"gnnnas: interrupted, but still cleaning up {grace:g} s later; exiting now (finished trials are "
          "stored; a trial left running is failed when its study resumes). Stacks for a bug report:",
          file=sys.stderr, flush=True)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    os._exit(130)
