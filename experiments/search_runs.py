"""Shared by the search benchmarks: run ``gnnnas search`` as a user would, then read its study back.

:func:`run_search` starts the CLI in a fresh ``--out`` folder (its own SQLite
study) and waits for it; :func:`read_run` opens the study the folder names and
builds the anytime curve: for every COMPLETE trial, the seconds from the
search's start to the trial's end and the best completed trial so far.

Selection follows ``best/`` (:func:`gnnnas.search.best.best_complete`): only
COMPLETE trials are candidates, ranked by their told value (best validation
metric), ties to the lower trial number. PRUNED trials (stopped by the pruner,
or cut by ``--timeout``) and FAILED ones are never the best, whatever
validation value they showed before being stopped. Test metrics are carried
along for reporting only; nothing is ever picked by them.

After a final fit (``--final-fit``) the exported winner is the final fit's
choice (:func:`gnnnas.search.final_fit.final_choice`, validation only):
:attr:`Run.winner`.

The clock starts when the first trial starts (``datetime_start`` of trial 0):
``--timeout`` counts from just before that (the dataset is loaded first and is
not part of the budget).
"""

from __future__ import annotations

import argparse
import math
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from optuna.trial import TrialState

from gnnnas.search.api import open_folder
from gnnnas.search.best import best_complete
from gnnnas.search.final_fit import final_choice, records as final_records
from gnnnas.search.pruners import PRUNE_BY


@dataclass
class Event:
    """The best completed trial changed at ``t`` seconds."""

    t: float
    val: float
    test: float | None
    test_recall: float | None
    trial: int

    def to_dict(self) -> dict:
        return {"t": round(self.t, 2), "val": self.val, "test": self.test, "test_recall": self.test_recall,
                "trial": self.trial}


@dataclass
class Run:
    out: Path
    metric: str
    counts: dict[str, int]  # complete, pruned (by the pruner), timeout (cut by --timeout), fail
    curve: list[Event]  # best-so-far, one event per improvement
    best_spec: dict | None = None
    best_spec_text: str | None = None
    best_val_all: dict = field(default_factory=dict)  # every validation metric of the final best
    best_test_all: dict = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the CLI process (data loading and best/ export included)
    budget: float | None = None  # seconds; completions after it do not count for :attr:`final`
    final_fit: dict | None = None  # the final fit's choice, when it beat the search's best: trial, val, test, ...
    final_fits: dict = field(default_factory=dict)  # every finalist's final fit, by trial number

    @property
    def winner(self) -> Event | None:
        """What ``best/`` exports: the final fit's choice when there is one, else :attr:`final`."""
        if self.final_fit is not None:
            f = self.final_fit
            return Event(self.seconds, f["val"], f["test"], f["test_recall"], f["trial"])
        return self.final

    @property
    def final(self) -> Event | None:
        """The best completed trial at the end of the budget (of the whole study when no budget)."""
        if self.budget is not None:
            return self.best_at(self.budget)
        return self.curve[-1] if self.curve else None

    def best_at(self, t: float) -> Event | None:
        """The best completed trial at ``t`` seconds after the start (None: none completed yet)."""
        best = None
        for e in self.curve:
            if e.t <= t + 1e-9:
                best = e
        return best

    def time_to_reach(self, target: float) -> float | None:
        """First time the best-so-far validation value is >= ``target``; None if never."""
        for e in self.curve:
            if e.val >= target:
                return e.t
        return None


def add_search_options(parser: argparse.ArgumentParser) -> None:
    """Options every benchmark passes through to its searches (``run_search``'s ``prune_by`` and ``device``)."""
    parser.add_argument("--prune-by", choices=PRUNE_BY, default="epochs",
                        help="the searches' --prune-by: the pruner's rungs in epochs (default) or training seconds")
    parser.add_argument("--device", default="cpu", help="the searches' --device (default cpu: the numbers in "
                        "RESULTS.md are CPU runs; cuda on a GPU machine)")


def run_search(out: Path, *, space: str, data: str, controller: str, pruner: str, seed: int, timeout: float,
               trials: int, max_epochs: int | None = None, threads: int | None = None,
               trial_timeout: float | None = None, initial: str | None = None, prune_by: str | None = None,
               extra: tuple[str, ...] = (), hard_stop: float | None = 30.0, device: str = "cpu",
               final_fit: int = 0, final_timeout: float | None = None, final_epochs: int | None = None,
               final_distinct: bool | None = None, resume: bool = False) -> float:
    """``gnnnas search`` into a fresh ``out`` (removed first, unless ``resume``); returns its wall seconds.

    Log: ``<out>.log``.

    ``resume``: keep ``out`` and continue its study (the log is appended to): with ``trials`` at or below
    its finished trials no trial starts and only the final fit runs, retraining the finalists a larger
    ``final_timeout`` or ``final_epochs`` now allows.

    ``hard_stop``: if the process still runs ``timeout + hard_stop`` seconds after it started (start-up and
    data loading included), it gets SIGINT (Ctrl-C), a safety net only: ``--timeout`` stops the running
    trial at its next mini-batch (PRUNED, "timeout"). None: wait for the process however long it takes.
    """
    out = Path(out)
    if out.exists() and not resume:
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "gnnnas", "search", "--space", space, "--data", data, "--controller", controller,
           "--pruner", pruner, "--trials", str(trials), "--timeout", f"{timeout:g}", "--seed", str(seed),
           "--out", str(out), "--device", device]  # not --quiet: the log keeps each trial's and finalist's line
    if max_epochs is not None:
        cmd += ["--max-epochs", str(max_epochs)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    if trial_timeout is not None:
        cmd += ["--trial-timeout", f"{trial_timeout:g}"]
    if initial is not None:
        cmd += ["--initial", initial]
    if prune_by is not None:
        cmd += ["--prune-by", prune_by]
    if final_fit:
        cmd += ["--final-fit", str(final_fit)]
        if final_timeout is not None:
            cmd += ["--final-timeout", f"{final_timeout:g}"]
        if final_epochs is not None:
            cmd += ["--final-epochs", str(final_epochs)]
        if final_distinct is not None:  # None: gnnnas's default rule (one finalist per architecture)
            cmd += ["--final-distinct" if final_distinct else "--no-final-distinct"]
    cmd += list(extra)
    wait = None if hard_stop is None else timeout + (final_timeout or 0) + hard_stop
    log = out.with_name(out.name + ".log")
    started = time.perf_counter()
    interrupted = False
    with open(log, "a" if resume else "w") as f:
        f.write(" ".join(cmd) + "\n\n")
        f.flush()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            # Safety net (--timeout already stops training at the next mini-batch).
            # Ctrl-C: the running trial is recorded FAIL ("interrupted") and the process exits 130.
            interrupted = True
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        f.write(f"\n[{'interrupted' if interrupted else 'ended'} after {time.perf_counter() - started:.1f} s, "
                f"exit {proc.returncode}]\n")
    seconds = time.perf_counter() - started
    if proc.returncode != 0 and not (interrupted and (out / "search.json").exists()):
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise SystemExit(f"gnnnas search failed (exit {proc.returncode}); {log}:\n{tail}")
    return seconds


def read_run(out: Path, seconds: float = 0.0, budget: float | None = None) -> Run:
    """The anytime curve and trial counts of the search in ``out``.

    With ``budget``, the reported best (:attr:`Run.final`) is the best trial completed within ``budget``
    seconds of the start: a trial whose last validation came before the deadline can still finish (test
    ranking) just after it.
    """
    study, _, _ = open_folder(out)
    metric = str(study.user_attrs.get("metric", "ndcg@20"))
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    counts = {"complete": 0, "pruned": 0, "timeout": 0, "fail": 0}
    if not starts:
        return Run(Path(out), metric, counts, [], seconds=seconds, budget=budget)
    t0 = min(starts)
    complete = []
    for t in trials:
        if t.state == TrialState.COMPLETE and t.value is not None:
            counts["complete"] += 1
            complete.append(t)
        elif t.state == TrialState.PRUNED:
            counts["timeout" if t.user_attrs.get("stopped") == "timeout" else "pruned"] += 1
        elif t.state == TrialState.FAIL and t.user_attrs.get("error") != "interrupted":
            counts["fail"] += 1
        else:  # FAIL "interrupted" (stopped by run_search's hard stop) or left RUNNING: cut at the deadline
            counts["timeout"] += 1
    complete.sort(key=lambda t: (t.datetime_complete, t.number))
    curve: list[Event] = []
    best = None
    for t in complete:
        if best is None or (t.value, -t.number) > (best.value, -best.number):
            best = t
            test = t.user_attrs.get("test") or {}
            curve.append(Event((t.datetime_complete - t0).total_seconds(), float(t.value), test.get(metric),
                               test.get("recall@20"), t.number))
    final = best_complete(study)
    assert (final is None and best is None) or final.number == best.number, "curve disagrees with best_complete"
    run = Run(Path(out), metric, counts, curve, seconds=seconds, budget=budget)
    best = None if run.final is None else next(t for t in complete if t.number == run.final.trial)
    if best is not None:
        from gnnnas.models.spec import ArchSpec
        run.best_spec = best.user_attrs.get("spec")
        run.best_spec_text = str(ArchSpec.from_dict(run.best_spec)) if run.best_spec else None
        run.best_val_all = dict(best.user_attrs.get("val") or {})
        run.best_test_all = dict(best.user_attrs.get("test") or {})
        choice = final_choice(study, best, metric)
        if choice is not None:
            trial, record = choice
            run.final_fit = {"trial": trial.number, "val": record["val"][metric], "test": record["test"].get(metric),
                             "test_recall": record["test"].get("recall@20"), "best_epoch": record["best_epoch"],
                             "epochs": record["epochs"], "stopped": record["stopped"],
                             "spec": trial.user_attrs.get("spec"),
                             "spec_text": str(ArchSpec.from_dict(trial.user_attrs["spec"]))}
    search_val = {t.number: float(t.value) for t in complete}
    run.final_fits = {n: {"val": r["val"].get(metric), "test": r["test"].get(metric), "best_epoch": r["best_epoch"],
                          "epochs": r["epochs"], "stopped": r["stopped"], "seconds": r["seconds"],
                          "search_val": search_val.get(n)}
                      for n, r in final_records(study).items()}
    return run


def mean_std(values: list[float], digits: int = 4) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
