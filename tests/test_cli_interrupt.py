"""Ctrl-C in a gnnnas process never hangs: cleanup that blocks is cut short with exit 130 and stacks."""

from __future__ import annotations

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


def test_ctrl_c_with_blocked_cleanup_exits_130_with_every_stack():
    proc = subprocess.Popen([sys.executable, "-c", STUCK, "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)
    assert proc.stdout.readline().strip() == "True"
    time.sleep(0.2)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert 0.9 < time.monotonic() - started < 10
    assert "still cleaning up 1 s later" in err
    assert "Stacks for a bug report" in err and "lock.acquire()" not in err  # faulthandler: file/line, no source
    assert 'File "<string>", line 10' in err  # the stuck line, in the main thread's stack


def test_not_installed_where_ctrl_c_is_ignored():
    out = subprocess.run([sys.executable, "-c", "from gnnnas.cli import interrupt; print(interrupt.install())"],
                         capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert out.stdout.strip() == "False", out.stderr
