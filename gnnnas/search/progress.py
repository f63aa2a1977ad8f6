"""Live progress of a search on stderr: one updating line on a terminal, plain lines otherwise."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

import optuna
from optuna.trial import TrialState


class Progress:
    """Shows trials done / total, the running trial and epoch, and the best value so far."""

    def __init__(self, total: int, metric: str, quiet: bool = False, stream: TextIO | None = None):
        self.total = total
        self.metric = metric
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.best: tuple[float, int] | None = None
        self._live = False
        self._last = 0.0

    # --- output ----------------------------------------------------------
    def _status(self, text: str, throttle: bool = False) -> None:
        """A transient status (TTY only: it is overwritten by the next one)."""
        if self.quiet or not self.tty:
            return
        now = time.monotonic()
        if throttle and now - self._last < 0.1:  # fast epochs: at most ten redraws a second
            return
        self._last = now
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        self.stream.write("\r\033[K" + text[:width])
        self.stream.flush()
        self._live = True

    def line(self, text: str) -> None:
        """A lasting line (clears the status line first on a TTY)."""
        if self.quiet:
            return
        if self._live:
            self.stream.write("\r\033[K")
            self._live = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._live and not self.quiet:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._live = False

    # --- events ----------------------------------------------------------
    def _best_text(self) -> str:
        if self.best is None:
            return "best -"
        return f"best {self.best[0]:.4f} (trial {self.best[1]})"

    def start(self, done: int, best: tuple[float, int] | None) -> None:
        self.done, self.best = done, best

    def trial_started(self, number: int) -> None:
        self._status(f"[{self.done}/{self.total}] trial {number} starting | {self._best_text()}")

    def evaluated(self, number: int, epoch: int, max_epochs: int, value: float) -> None:
        self._status(f"[{self.done}/{self.total}] trial {number} epoch {epoch}/{max_epochs} "
                     f"{self.metric} {value:.4f} | {self._best_text()}", throttle=True)

    def trial_finished(self, trial: optuna.trial.FrozenTrial, done: int) -> None:
        self.done = done
        attrs = trial.user_attrs
        value = trial.values[0] if trial.values else None  # a pruned trial's: its last reported value
        if trial.state == TrialState.COMPLETE and value is not None and all(
                c <= 0 for c in trial.constraints.values()):
            if self.best is None or value > self.best[0]:
                self.best = (value, trial.number)
        state = trial.state.name
        if attrs.get("stopped") == "timeout":
            state += " (timeout)"
        if attrs.get("reused_from") is not None:
            state += f" (same as trial {attrs['reused_from']})"
        value = f" {self.metric} {value:.4f}" if value is not None else ""
        detail = (f" after {attrs['epochs']} epochs, {attrs.get('seconds', 0):.1f} s"
                  if attrs.get("epochs") is not None and attrs.get("reused_from") is None else "")
        error = f": {attrs['error']}" if trial.state == TrialState.FAIL and attrs.get("error") else ""
        text = f"trial {trial.number} {state}{value}{detail}{error}"
        if self.tty:
            self._status(f"[{done}/{self.total}] {text} | {self._best_text()}")
        else:
            self.line(f"[{done}/{self.total}] {text} | {self._best_text()}")
