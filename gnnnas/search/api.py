"""``gnnnas.search(...)`` and ``gnnnas worker``: set a search up, run trials until the budget is met, finish.

A search is one Optuna study. :func:`search` creates it (or continues it when
the same command runs again), :func:`join` adds a worker to an existing one
from nothing but its storage and name, and both end with :func:`finish`:
``leaderboard.csv`` and the best completed trial exported to ``best/``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

import optuna
import pandas as pd
import torch

from gnnnas.data import DEFAULT_DATA, DataOptions, load_dataset
from gnnnas.data.dataset import Dataset
from gnnnas.device import resolve_device
from gnnnas.errors import GnnnasError
from gnnnas.evaluation import COLD_PREFIX
from gnnnas.evaluation.metrics import METRICS
from gnnnas.search.best import Exported, best_complete, export_trial, ks_for
from gnnnas.search.budget import Budget
from gnnnas.search.controllers import CONTROLLERS, Controller
from gnnnas.search.final_fit import FinalFit, final_choice, run_final_fit
from gnnnas.search.initial import enqueue_initial, resolve_initial
from gnnnas.search.leaderboard import leaderboard, write_csv
from gnnnas.search.liveness import auto_threads, fail_stale_trials
from gnnnas.search.objective import TrialContext, TrialRunner
from gnnnas.search.progress import Progress
from gnnnas.search.objectives import Constraints, Objectives, parse_objectives, quality
from gnnnas.search.pruners import DEFAULT_MULTI_PRUNER, PRUNE_BY, PRUNERS, default_pruner, make_pruner
from gnnnas.search.storage import default_url, local_file, mask, normalize, open_storage
from gnnnas.search.study import (RunSettings, check_out_folder, data_record, find_study, open_study, read_search_json,
                                 study_attrs, study_objectives_of, write_search_json)
from gnnnas.search.warm_up import WarmUpPhase, WarmUpPlan, resolve_warm_up
from gnnnas.search.weights import WeightKeeper
from gnnnas.space import SearchSpace, load_space, parse_space
from gnnnas.training import TrainConfig

DEFAULT_CONTROLLER = "optuna-tpe"
DEFAULT_TRIALS = 20
LEADERBOARD_CSV = "leaderboard.csv"
BEST_DIR = "best"

#: Called with the :class:`SearchResult` at the end of every search (the HTML report hooks in here).
FINISH_HOOKS: list[Callable[["SearchResult"], None]] = []


def _write_report(result: "SearchResult") -> None:
    # Imported here: plotly is loaded only when a search ends, not by ``import gnnnas.search``.
    from gnnnas.report import on_finish
    on_finish(result)


FINISH_HOOKS.append(_write_report)


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search, after every finished trial was recorded; ``out`` holds the results so far."""

    def __init__(self, out: Path):
        super().__init__(str(out))
        self.out = out


@dataclass
class SearchResult:
    """What a search left: the study, the leaderboard, and the folder with ``best/`` in it."""

    study: optuna.Study
    out: Path
    leaderboard: pd.DataFrame
    exported: Exported | None = None
    storage: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    budget: int | None = None  # the trial budget this process ran to (a worker's --trials may differ from the study's)

    @property
    def best_path(self) -> Path | None:
        return self.exported.path if self.exported is not None else None

    @cached_property
    def best(self) -> Any:
        """The best completed trial as a loaded bundle (:func:`gnnnas.load`); None when no trial completed."""
        if self.exported is None:
            return None
        import gnnnas
        load = getattr(gnnnas, "load", None)
        if load is None:
            from gnnnas.export import load
        return load(self.exported.path)


@dataclass
class Session:
    """Everything one worker process needs to run trials of one study."""

    study: optuna.Study
    space: SearchSpace
    dataset: Dataset
    controller: Controller
    settings: RunSettings
    metric: str
    out: Path
    storage_url: str
    device: torch.device
    keep_weights: int
    timeout: float | None
    progress: Progress
    export: bool = True
    threads: int | None = None  # CPU threads per trial; None: the cores shared by this machine's workers
    objectives: Objectives | None = None  # None: the single ``metric``
    constraints: Constraints = Constraints()
    final_fit: FinalFit = FinalFit(0)  # finalists retrained before the export (none by default)


# --- validation -------------------------------------------------------------
def _check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GnnnasError(f"{name} {value!r}: expected an integer >= {minimum}")
    return value


def _check_timeout(timeout: Any, flag: str = "--timeout") -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise GnnnasError(f"{flag} {timeout!r}: expected a number of seconds > 0")
    return float(timeout)


def check_metric(metric: Any) -> str:
    name, _, k = str(metric).partition("@")
    prefix = COLD_PREFIX if name.startswith(COLD_PREFIX) else ""
    if name[len(prefix):] not in METRICS or not k.isdigit() or int(k) < 1:
        raise GnnnasError(f"--metric {metric!r}: expected NAME@K with NAME one of {', '.join(METRICS)} "
                          f"(or {COLD_PREFIX}NAME for cold-start items) and K >= 1, e.g. ndcg@20")
    return f"{name}@{int(k)}"


def check_data_fits(space: SearchSpace, dataset: Dataset, metric: str, space_label: str) -> None:
    """Refuse a space that needs item text on data without it, and cold metrics without cold items."""
    from gnnnas.features.text import has_item_text
    field = space.needs_item_text()
    if field is not None and not has_item_text(dataset):
        raise GnnnasError(f"{space_label}: {field} asks for item text ({', '.join(map(str, space.possible(field)))}) "
                          f"but dataset {dataset.name} has no item text; remove those choices or give the data "
                          "an items table with text (--items FILE --text-cols COL)")
    if metric.startswith(COLD_PREFIX) and not dataset.has_cold:
        raise GnnnasError(f"--metric {metric}: cold metrics need the cold-start protocol (--cold-items FRACTION)")
    if field is not None:
        # Encode the item text now (or read it from the disk cache), not inside the first text trial's time budget.
        from gnnnas.features.text import item_text_embeddings
        item_text_embeddings(dataset)


def check_controller(name: str) -> str:
    if name not in CONTROLLERS:
        raise GnnnasError(f"--controller {name!r}: unknown controller; expected one of {', '.join(sorted(CONTROLLERS))}")
    return name


def check_prune_by(prune_by: str, trial_timeout: float | None) -> str:
    if prune_by not in PRUNE_BY:
        raise GnnnasError(f"--prune-by {prune_by!r}: expected one of {', '.join(PRUNE_BY)}")
    if prune_by == "seconds" and trial_timeout is None:
        raise GnnnasError("--prune-by seconds: rungs are fractions of each candidate's time budget; "
                          "set one with --trial-timeout SECONDS")
    return prune_by


def check_pruner(name: str, multi_objective: bool = False) -> str:
    if name not in PRUNERS:
        raise GnnnasError(f"--pruner {name!r}: unknown pruner; expected one of {', '.join(PRUNERS)}")
    info = PRUNERS[name]
    if multi_objective and not info.multi:
        usable = ", ".join(n for n, p in PRUNERS.items() if p.multi)
        raise GnnnasError(f"--pruner {name}: judges a single objective; a multi-objective search (--objectives) "
                          f"takes one of {usable} (default {DEFAULT_MULTI_PRUNER})")
    if not multi_objective and not info.single:
        raise GnnnasError(f"--pruner {name}: compares quality at equal cost, so it needs a multi-objective search "
                          "(--objectives METRIC,COST); expected one of "
                          + ", ".join(n for n, p in PRUNERS.items() if p.single))
    return name


def check_objectives(objectives: str | Sequence[str] | None, metric: str | None) -> Objectives | None:
    """``--objectives`` as :class:`Objectives` (None when not given); ``--metric`` given too must agree."""
    if objectives is None:
        return None
    parsed = parse_objectives(objectives, check_metric)
    if metric is not None and check_metric(metric) != parsed.metric:
        raise GnnnasError(f"--metric {metric} and --objectives {','.join(parsed.names)} name different quality "
                          "metrics; give only --objectives")
    return parsed


def check_controller_for(name: str, objectives: Objectives) -> None:
    """Refuse a controller that cannot search several objectives."""
    if objectives.multi and not CONTROLLERS[name].multi_objective:
        able = ", ".join(sorted(n for n, c in CONTROLLERS.items() if c.multi_objective))
        raise GnnnasError(f"--controller {name}: optimises a single objective; multi-objective searches "
                          f"(--objectives) need one of {able}")


def _check_study_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name or ""):
        raise GnnnasError(f"--study {name!r}: expected letters, digits, '_', '-' or '.'")
    return name


def _data_options(seed: int, data_options: dict) -> DataOptions:
    known = set(DataOptions.__dataclass_fields__) - {"seed"}
    unknown = sorted(set(data_options) - known)
    if unknown:
        raise GnnnasError(f"unknown data option {unknown[0]!r}; expected one of {', '.join(sorted(known))}")
    return DataOptions(**{**data_options, "seed": seed})


def _load_data(source: str, options: DataOptions) -> Dataset:
    dataset = load_dataset(source, options)
    if dataset.val.nnz == 0:
        raise GnnnasError(f"--data {source}: the validation split is empty; a search selects on validation "
                          "(raise --val-ratio or use a ratio split)")
    return dataset


def _sampler_seed(seed: int, existing: int, worker: bool) -> int:
    """The controller's seed: a resumed study or a second worker must not replay the same proposals."""
    salt = os.getpid() if worker else 0
    return (seed * 1_000_003 + existing * 7919 + salt) % (2**31 - 1)


# --- the two entry points -----------------------------------------------------
def search(space: str | Path = "default", data: str | Path | None = None, controller: str = DEFAULT_CONTROLLER,
           pruner: str | None = None, trials: int = DEFAULT_TRIALS, timeout: float | None = None,
           max_epochs: int | None = None, metric: str | None = None, storage: str | None = None,
           study: str | None = None, out: str | Path | None = None, device: str = "auto", seed: int = 0,
           quiet: bool = True, *, patience: int | None = None, eval_every: int | None = None, keep_weights: int = 3,
           threads: int | None = None, trial_timeout: float | None = None, prune_by: str = "epochs",
           objectives: str | Sequence[str] | None = None, max_latency_ms: float | None = None,
           max_params: int | None = None, initial: str | Sequence[str] | None = None,
           final_fit: int = 0, final_epochs: int | None = None, final_timeout: float | None = None,
           final_distinct: bool | None = None, warm_up: str | None = None,
           **data_options: Any) -> SearchResult:
    """Search ``space`` on ``data`` with ``controller``; continue the study if it exists already.

    ``trials`` is the study's total budget of finished trials (shared with
    every ``gnnnas worker`` of the study); ``timeout`` stops this process
    after that many seconds (its running trial is recorded PRUNED);
    ``trial_timeout`` caps each candidate's training seconds, like
    ``max_epochs`` caps its epochs (a study setting, shared by its workers).
    ``prune_by="seconds"`` makes the pruner's rungs fractions of that time
    budget instead of ``max_epochs`` (:class:`~gnnnas.search.pruners.Resource`).
    ``max_epochs``, ``patience``, ``eval_every`` and ``metric`` default to the
    space's ``search:`` settings. ``storage`` is a SQLAlchemy URL or
    ``journal:PATH`` (default ``sqlite:///<out>/study.db``); ``study``
    defaults to the space name and ``out`` to ``runs/<study>``. Other keyword
    arguments are :class:`~gnnnas.data.DataOptions` fields (the split uses ``seed``).
    ``threads`` sets torch's CPU threads; by default each trial takes the
    machine's cores divided by the workers running trials on it.

    ``objectives`` (``"ndcg@20,latency"``: a metric, then costs among
    params, size, latency) makes a multi-objective study: the metric is
    maximised, the costs minimised, the leaderboard ranks by Pareto rank and
    ``best/`` is the best-quality trial of the (feasible) Pareto front.
    ``max_latency_ms`` and ``max_params`` are cost limits (constraints): a
    trial over one is infeasible, shown but never ranked before a feasible
    trial nor exported. ``pruner`` defaults to ``asha_matched``, or ``cost_aware``
    for a multi-objective study.

    ``initial`` names presets a new study trains first (the initial design,
    :mod:`gnnnas.search.initial`): ``None`` takes the space's
    ``search.initial``, ``"none"`` or ``[]`` none. ``warm_up``
    (``"lightgcn:0.4"``, :mod:`gnnnas.search.warm_up`) keeps the first
    share of the budget in a sub-space; ``None`` takes the space's
    ``search.warm_up``, ``"none"`` turns it off.

    ``final_fit`` N retrains the N best completed trials after the search,
    without ``trial_timeout``, for up to ``final_epochs`` (default
    ``max_epochs``) with early stopping, within ``final_timeout`` seconds in
    all (after ``timeout``); ``best/`` is the best of them and the search's
    best trial on validation (:mod:`gnnnas.search.final_fit`). The finalists
    are the best trials of the N best architectures (no two differing only in
    training knobs); ``final_distinct=False`` takes the N best trials instead.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _check_positive_int("--trials", trials)
    timeout = _check_timeout(timeout)
    trial_timeout = _check_timeout(trial_timeout, "--trial-timeout")
    check_prune_by(prune_by, trial_timeout)
    _check_positive_int("--keep-weights", keep_weights, minimum=0)
    _check_positive_int("--seed", seed, minimum=0)
    plan = FinalFit(final_fit, final_epochs, final_timeout, final_distinct).check()
    if threads is not None:
        _check_positive_int("--threads", threads)
    check_controller(controller)
    parsed = check_objectives(objectives, metric)
    constraints = Constraints(max_latency_ms, max_params).check()
    if max_params is not None and (isinstance(max_params, bool) or not isinstance(max_params, int)):
        raise GnnnasError(f"--max-params {max_params!r}: expected an integer > 0")
    pruner = check_pruner(pruner if pruner is not None else default_pruner(parsed is not None), parsed is not None)
    space_obj = load_space(space)
    if space_obj.path is None:
        raise GnnnasError(f"space {space_obj.name}: expected a bundled name or a .yaml file")
    space_text = space_obj.path.read_text(encoding="utf-8")
    s = space_obj.search
    max_epochs = _check_positive_int("--max-epochs", max_epochs if max_epochs is not None else s.max_epochs)
    patience = _check_positive_int("--patience", patience if patience is not None else s.patience)
    eval_every = _check_positive_int("--eval-every", eval_every if eval_every is not None else s.eval_every)
    metric = parsed.metric if parsed is not None else check_metric(metric if metric is not None else s.metric)
    goals = parsed or Objectives(metric)
    check_controller_for(controller, goals)
    # A controller that cannot search this space (nni-grid and float ranges, nni-bohb and a space with
    # nothing to vary, a missing optional package) says so now, before any folder or study exists.
    ctrl = _make_controller(controller, space_obj, _sampler_seed(seed, 0, worker=False), max_epochs)
    initial_points = resolve_initial(initial, space_obj, ctrl)
    warm_plan = resolve_warm_up(warm_up, space_obj, ctrl)
    device_obj = resolve_device(device)
    study_name = _check_study_name(study or space_obj.name)
    out = Path(out) if out is not None else Path("runs") / study_name
    if out.exists() and not out.is_dir():
        raise GnnnasError(f"--out {out}: exists and is not a folder")
    storage_default = storage is None
    url = default_url(out) if storage_default else normalize(str(storage))
    source = str(data) if data is not None else DEFAULT_DATA
    options = _data_options(seed, data_options)
    dataset = _load_data(source, options)
    check_data_fits(space_obj, dataset, metric, f"space {space_obj.path}")
    settings = RunSettings(controller=controller, pruner=pruner, trials=trials, max_epochs=max_epochs,
                           patience=patience, eval_every=eval_every, seed=seed, trial_timeout=trial_timeout,
                           prune_by=prune_by, warm_up=warm_plan.to_dict() if warm_plan is not None else None)
    attrs = study_attrs(space_obj, space_text, data_record(source, options, dataset), metric, settings, goals,
                        constraints)
    check_out_folder(out, study_name, url, storage_default, attrs)

    created_out = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        storage_obj = open_storage(url)
        shown = mask(url)
        if storage_default:
            others = [n for n in optuna.get_all_study_names(storage_obj) if n != study_name]
            if others and find_study(storage_obj, study_name) is None:
                raise GnnnasError(f"--out {out} holds study {others[0]!r}; choose another --out or --study {others[0]}")
        study_obj, resumed = open_study(storage_obj, study_name, attrs, shown)
    except GnnnasError:
        if created_out:  # leave no trace of a search that never started
            shutil.rmtree(out, ignore_errors=True)
        raise
    write_search_json(out, study_name, url, storage_default, attrs)
    existing = len(study_obj.get_trials(deepcopy=False))
    if existing:  # a resumed study: seed the controller so that it does not replay the first run's proposals
        ctrl = _make_controller(controller, space_obj, _sampler_seed(seed, existing, worker=False), max_epochs)
    if not resumed and initial_points:  # after counting: the controller's seed stays that of a new study
        enqueue_initial(study_obj, space_obj, initial_points)
    progress = Progress(trials, metric, quiet=quiet)
    session = Session(study=_with_sampler(storage_obj, study_name, ctrl, settings),
                      space=space_obj, dataset=dataset, controller=ctrl, settings=settings, metric=metric, out=out,
                      storage_url=url, device=device_obj, keep_weights=keep_weights, timeout=timeout, progress=progress,
                      threads=threads, objectives=goals, constraints=constraints, final_fit=plan)
    if resumed:
        from gnnnas.search.budget import counts
        progress.line(f"resuming study {study_name}: {counts(study_obj)[0]} of {trials} trials done")
    else:
        warm = f"; warm-up in {warm_plan.space} for {warm_plan.share:.0%} of the budget" if warm_plan else ""
        progress.line(f"study {study_name}: {trials} trials of space {space_obj.name} on {dataset.name} "
                      f"({controller}, pruner {pruner}, {','.join(goals.names)}"
                      f"{'; first ' + ', '.join(p.label for p in initial_points) if initial_points else ''}{warm}); "
                      f"results in {out}")
    return run(session)


def join(storage: str, study: str, trials: int | None = None, device: str = "auto", out: str | Path | None = None,
         quiet: bool = True, data: str | Path | None = None, timeout: float | None = None,
         keep_weights: int = 3, export: bool = True, threads: int | None = None, final_fit: int = 0,
         final_epochs: int | None = None, final_timeout: float | None = None,
         final_distinct: bool | None = None) -> SearchResult:
    """Add this process as a worker to the existing study ``study`` in ``storage``.

    Space, data, metric, controller, pruner, budget and training settings come
    from the study (``trials`` overrides the budget for this worker; ``data``
    points at the same dataset when it lives elsewhere on this machine).
    ``final_fit``, ``final_epochs``, ``final_timeout`` and ``final_distinct`` as for :func:`search`
    (this worker's export, when ``export``).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if trials is not None:
        _check_positive_int("--trials", trials)
    timeout = _check_timeout(timeout)
    _check_positive_int("--keep-weights", keep_weights, minimum=0)
    if threads is not None:
        _check_positive_int("--threads", threads)
    plan = FinalFit(final_fit, final_epochs, final_timeout, final_distinct).check()
    device_obj = resolve_device(device)
    storage = normalize(str(storage))
    local = local_file(storage)
    if local is not None and not local.is_file():  # opening it would create an empty storage there
        raise GnnnasError(f"--storage {storage}: no such file; expected the storage of an existing study "
                          "(start one with gnnnas search)")
    storage_obj = open_storage(storage)
    shown = mask(storage)
    found = find_study(storage_obj, study)
    if found is None:
        names = sorted(optuna.get_all_study_names(storage_obj))
        raise GnnnasError(f"--study {study!r}: no such study in {shown}"
                          + (f"; it holds {', '.join(names)}" if names else "; it holds none (start one with gnnnas search)"))
    attrs = found.user_attrs
    if "space_text" not in attrs:
        raise GnnnasError(f"study {study!r} in {shown} was not created by gnnnas search")
    space_obj = parse_space(attrs["space_text"], file=f"<study {study}: space {attrs['space'].get('name')}>")
    dataset = load_study_dataset(found, None if data is None else str(data))
    goals = study_objectives_of(attrs)
    constraints = Constraints.from_dict(attrs.get("constraints"))
    settings = RunSettings(controller=check_controller(attrs["controller"]),
                           pruner=check_pruner(attrs["pruner"], goals.multi),
                           trials=trials if trials is not None else int(attrs["trials"]),
                           max_epochs=int(attrs["max_epochs"]), patience=int(attrs["patience"]),
                           eval_every=int(attrs["eval_every"]), seed=int(attrs["seed"]),
                           trial_timeout=_check_timeout(attrs.get("trial_timeout"), "trial_timeout"),
                           prune_by=attrs.get("prune_by", "epochs"), warm_up=attrs.get("warm_up"))
    metric = check_metric(attrs["metric"])
    check_data_fits(space_obj, dataset, metric, f"study {study}: space {attrs['space'].get('name')}")
    existing = len(found.get_trials(deepcopy=False))
    ctrl = _make_controller(settings.controller, space_obj, _sampler_seed(settings.seed, existing, worker=True),
                            settings.max_epochs)  # before --out is touched: a controller may refuse
    if out is None:
        out = local.parent if local is not None else Path("runs") / study
    out = Path(out)
    storage_default = local is not None and local.resolve() == (out / "study.db").resolve()
    check_out_folder(out, study, storage, storage_default, attrs)
    out.mkdir(parents=True, exist_ok=True)
    if read_search_json(out) is None:
        write_search_json(out, study, storage, storage_default, attrs)
    progress = Progress(settings.trials, metric, quiet=quiet)
    progress.line(f"worker joins study {study} in {shown}: {settings.trials} trials ({settings.controller}, "
                  f"pruner {settings.pruner}, {metric}); weights in {out}")
    session = Session(study=_with_sampler(storage_obj, study, ctrl, settings),
                      space=space_obj, dataset=dataset, controller=ctrl, settings=settings, metric=metric, out=out,
                      storage_url=storage, device=device_obj, keep_weights=keep_weights, timeout=timeout,
                      progress=progress, export=export, threads=threads, objectives=goals, constraints=constraints,
                      final_fit=plan)
    return run(session)


def _make_controller(name: str, space: SearchSpace, seed: int, max_epochs: int) -> Controller:
    return CONTROLLERS[name](space, seed=seed, max_epochs=max_epochs)


def _with_sampler(storage, name: str, ctrl: Controller, settings: RunSettings) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage, sampler=ctrl.sampler(),
                             pruner=make_pruner(settings.pruner, settings.resource))


# --- running and finishing ------------------------------------------------------
def run(session: Session) -> SearchResult:
    """Run trials until the budget is met, the controller stops or the timeout passes; then :func:`finish`."""
    st = session.settings
    deadline = time.monotonic() + session.timeout if session.timeout is not None else None
    config = TrainConfig(epochs=st.max_epochs, patience=st.patience, eval_every=st.eval_every, metric=session.metric,
                         ks=ks_for(session.metric), seed=st.seed, progress=False)
    ctx = TrialContext(study=session.study, dataset=session.dataset, device=session.device, config=config,
                       controller=st.controller, keeper=WeightKeeper(session.out, session.keep_weights),
                       progress=session.progress, deadline=deadline, trial_timeout=st.trial_timeout,
                       resource=st.resource,
                       objectives=session.objectives, constraints=session.constraints)
    local = local_file(session.storage_url)
    budget = Budget(session.study, st.trials,
                    lock_path=local.with_name(local.name + ".budget.lock") if local is not None else None)
    runner = TrialRunner(ctx)
    ask = session.controller.ask
    plan = WarmUpPlan.from_dict(st.warm_up)
    if plan is not None and session.controller.initial_design:
        phase = WarmUpPhase(plan, st.trials, session.timeout)

        def ask(study: optuna.Study, _ask=session.controller.ask):
            phase.before_ask(study)
            return _ask(study)
    best = best_complete(session.study)
    session.progress.start(budget.done(), (quality(best), best.number) if best is not None else None)
    threads = torch.get_num_threads()
    try:
        while not ctx.past_deadline():
            suggestion = budget.claim(ask, before=lambda: fail_stale_trials(session.study))
            if suggestion is None:
                break
            if session.device.type == "cpu":
                torch.set_num_threads(session.threads or auto_threads(session.study, threads, suggestion.trial.number))
            finished = runner.run(suggestion)
            session.controller.tell(suggestion, finished)
            session.progress.trial_finished(finished, budget.done())
            write_csv(leaderboard(session.study), session.out / LEADERBOARD_CSV)
    except KeyboardInterrupt:
        session.progress.close()
        try:
            write_csv(leaderboard(session.study), session.out / LEADERBOARD_CSV)
        finally:
            raise SearchInterrupted(session.out) from None
    finally:
        torch.set_num_threads(threads)
    session.progress.close()
    if ctx.past_deadline():
        session.progress.line(f"timeout: stopped after {session.timeout:g} s")
    return finish(session)


def finish(session: Session) -> SearchResult:
    """Run the final fit (if asked), write ``leaderboard.csv``, export the best completed trial (or final fit)
    to ``best/`` and run :data:`FINISH_HOOKS`."""
    study = session.study
    if session.export and session.final_fit.top:
        _final_fit(session)
    df = leaderboard(study)
    files = {"leaderboard": write_csv(df, session.out / LEADERBOARD_CSV)}
    local = local_file(session.storage_url)
    if local is not None:
        files["storage"] = local
    exported = None
    best = best_complete(study)
    # Also without --final-fit this time: a final fit recorded earlier in the study still wins if it is better.
    final = final_choice(study, best, session.metric)
    if final is not None:
        best = final[0]
    if best is not None and session.export:
        session.progress.line(f"exporting trial {best.number}{' (final fit)' if final else ''} to "
                              f"{session.out / BEST_DIR} ...")
        try:
            exported = export_trial(study, best, session.dataset, session.out, session.out / BEST_DIR, session.device,
                                    final[1] if final else None)
            files["best"] = exported.path
        except GnnnasError as err:
            session.progress.line(f"best/ not written: {err}")
    result = SearchResult(study=study, out=session.out, leaderboard=df, exported=exported,
                          storage=mask(session.storage_url), files=files, budget=session.settings.trials)
    for hook in FINISH_HOOKS:
        hook(result)
    return result


def _final_fit(session: Session) -> None:
    """Retrain the finalists; Ctrl-C keeps every finished one (recorded) and stops like a search."""
    st = session.settings
    base = TrainConfig(epochs=st.max_epochs, patience=st.patience, eval_every=st.eval_every, metric=session.metric,
                       ks=ks_for(session.metric), seed=st.seed, progress=False)
    plan = session.final_fit
    session.progress.line(f"final fit: retraining the {plan.top} best trial(s) for up to "
                          f"{plan.max_epochs or st.max_epochs} epochs"
                          + (f" within {plan.timeout:g} s" if plan.timeout is not None else "") + " ...")
    threads = torch.get_num_threads()
    if session.device.type == "cpu" and session.threads:
        torch.set_num_threads(session.threads)
    try:
        run_final_fit(session.study, session.dataset, session.out, session.device, base, plan,
                      say=session.progress.line)
    except KeyboardInterrupt:
        write_csv(leaderboard(session.study), session.out / LEADERBOARD_CSV)
        raise SearchInterrupted(session.out) from None
    finally:
        torch.set_num_threads(threads)


def open_folder(folder: str | Path, storage: str | None = None) -> tuple[optuna.Study, dict, str]:
    """(study, search.json record, storage URL) of the search that wrote ``folder``."""
    from gnnnas.search.study import storage_of
    folder = Path(folder)
    record = read_search_json(folder)
    if record is None:
        raise GnnnasError(f"{folder}: no search.json; expected the --out folder of a gnnnas search")
    url = storage_of(folder, record, normalize(storage) if storage else None)
    local = local_file(url)
    if local is not None and not local.is_file():  # opening it would create an empty storage there
        raise GnnnasError(f"{folder}: the study storage {local} does not exist (moved or deleted?); "
                          "pass --storage URL if it lives elsewhere")
    storage_obj = open_storage(url)
    study = find_study(storage_obj, record["study"])
    if study is None:
        raise GnnnasError(f"{folder}: study {record['study']!r} not found in {mask(url)}")
    return study, record, url


def load_study_dataset(study: optuna.Study, data: str | None = None) -> Dataset:
    """The dataset a study searched on (same fingerprint), from its recorded source or ``data``."""
    record = study.user_attrs["data"]
    source = data or record["source"]
    if data is None and not Path(source).exists() and record.get("path") and Path(record["path"]).exists():
        source = record["path"]
    dataset = _load_data(source, DataOptions(**record["options"]))
    if dataset.fingerprint != record.get("fingerprint"):
        raise GnnnasError(f"--data {source}: not the study's dataset (fingerprint {dataset.fingerprint[:12]}, "
                          f"the study's is {str(record.get('fingerprint'))[:12]}); pass --data with the same data")
    return dataset
