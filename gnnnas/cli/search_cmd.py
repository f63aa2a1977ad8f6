"""``gnnnas search``, ``gnnnas worker``, ``gnnnas leaderboard``, ``gnnnas export`` and ``gnnnas controllers``.

A thin layer over :mod:`gnnnas.search.api`: parse, call, print.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gnnnas.data import add_data_arguments, options_from_args
from gnnnas.errors import GnnnasError

SUMMARY_TOP = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search a space for the best architecture on a dataset",
                       description="Search a space of GNN recommenders: propose, train, prune and rank candidates "
                                   "in an Optuna study. Re-running the same command continues the study.")
    p.add_argument("--space", default="default", metavar="NAME|PATH",
                   help="bundled space name or .yaml file (default: default; see gnnnas spaces)")
    add_data_arguments(p)
    s = p.add_argument_group("search")
    s.add_argument("--controller", default="optuna-tpe", help="what proposes candidates (default optuna-tpe; "
                                                               "see gnnnas controllers)")
    s.add_argument("--pruner", default=None, help="what stops weak candidates early: asha_matched, asha, median, "
                                                  "hyperband, cost_aware, none (default asha_matched; with "
                                                  "--objectives: cost_aware)")
    s.add_argument("--trials", type=int, default=20, help="finished trials in the whole study, shared by all "
                                                          "workers (default 20)")
    s.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="stop this process after SECONDS; the running trial is recorded PRUNED")
    s.add_argument("--max-epochs", type=int, default=None, help="epochs per candidate (default: the space's)")
    s.add_argument("--trial-timeout", type=float, default=None, metavar="SECONDS",
                   help="training seconds per candidate, a budget like --max-epochs: at the limit the candidate "
                        "is evaluated once more and keeps its best result (default: no limit)")
    s.add_argument("--prune-by", choices=("epochs", "seconds"), default="epochs",
                   help="what the pruner's rungs count: epochs (a tenth of --max-epochs first; the default) or "
                        "seconds of training (a tenth of --trial-timeout first, evaluating mid-epoch if need be): "
                        "compares cheap and slow candidates at equal cost")
    s.add_argument("--patience", type=int, default=None,
                   help="evaluations without improvement before a candidate stops (default: the space's)")
    s.add_argument("--eval-every", type=int, default=None, help="epochs between validations (default: the space's)")
    s.add_argument("--metric", default=None, help="validation metric to maximise, NAME@K (default: the space's)")
    s.add_argument("--objectives", default=None, metavar="METRIC,COST[,COST]",
                   help="multi-objective search: a validation metric (maximised) and costs to minimise among "
                        "params, size (exported bytes), latency (full-ranking top-K ms), e.g. ndcg@20,latency; "
                        "controllers optuna-nsga2, optuna-tpe, optuna-random")
    s.add_argument("--max-latency-ms", type=float, default=None, metavar="MS",
                   help="constraint: trials slower than MS (top-K latency) are infeasible: never ranked first "
                        "nor exported (optuna-tpe and optuna-nsga2 also steer their proposals by it)")
    s.add_argument("--max-params", type=int, default=None, metavar="N",
                   help="constraint: trials with more than N parameters are infeasible")
    s.add_argument("--initial", default=None, metavar="PRESET[,PRESET]|none",
                   help="presets a new study trains first, before the controller proposes (default: the space's "
                        "search.initial, e.g. lightgcn,mf for the default space; optuna-* controllers)")
    s.add_argument("--warm-up", default=None, metavar="SPACE[:SHARE]|none",
                   help="spend the first SHARE of the budget (trials, and seconds with --timeout) in a sub-space "
                        "of --space, e.g. lightgcn:0.4 (default: the space's search.warm_up; optuna-* controllers)")
    s.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    s.add_argument("--threads", type=int, default=None,
                   help="CPU threads per trial (default: the cores divided by this machine's running workers)")
    _final_fit_arguments(p)
    o = p.add_argument_group("storage and output")
    o.add_argument("--storage", default=None, metavar="URL",
                   help="sqlite:///FILE, postgresql+psycopg://USER@HOST/DB or journal:FILE "
                        "(default: sqlite:///OUT/study.db; journal: is best for many local workers)")
    o.add_argument("--study", default=None, metavar="NAME", help="study name (default: the space name)")
    o.add_argument("--out", default=None, metavar="DIR", help="output folder (default: runs/STUDY)")
    o.add_argument("--keep-weights", type=int, default=3, metavar="K",
                   help="keep the weights of the K best trials under OUT/trials (default 3)")
    o.add_argument("--top", type=int, default=SUMMARY_TOP, help=f"leaderboard rows printed at the end "
                                                                f"(default {SUMMARY_TOP})")
    o.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_search)

    w = sub.add_parser("worker", help="join an existing search as one more worker",
                       description="Run trials of an existing study (created by gnnnas search) until its budget "
                                   "is met. Space, data, metric, controller and pruner come from the study.")
    w.add_argument("--storage", required=True, metavar="URL", help="the study's storage URL")
    w.add_argument("--study", required=True, metavar="NAME", help="the study's name")
    w.add_argument("--trials", type=int, default=None, help="budget of finished trials (default: the study's)")
    w.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="stop this worker after SECONDS")
    w.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    w.add_argument("--threads", type=int, default=None,
                   help="CPU threads per trial (default: the cores divided by this machine's running workers)")
    w.add_argument("--out", default=None, metavar="DIR",
                   help="folder for weights, leaderboard.csv and best/ (default: the SQLite file's folder, "
                        "else runs/STUDY)")
    w.add_argument("--data", default=None, metavar="PATH",
                   help="the study's dataset, when it lives at another path on this machine")
    w.add_argument("--keep-weights", type=int, default=3, metavar="K", help="weights of the K best trials kept")
    w.add_argument("--no-export", action="store_true", help="do not export the best trial to OUT/best at the end")
    w.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _final_fit_arguments(w)
    w.set_defaults(func=_worker)

    lb = sub.add_parser("leaderboard", help="print the leaderboard of a search",
                        description="Rank the trials of the search in DIR (its search.json names the storage) "
                                    "by validation metric.")
    lb.add_argument("dir", metavar="DIR", help="the search's --out folder")
    lb.add_argument("--top", type=int, default=10, help="rows to print (default 10; 0: all)")
    lb.add_argument("--csv", action="store_true", help="print every row as CSV instead")
    lb.add_argument("--storage", default=None, metavar="URL", help="storage URL (default: from DIR/search.json)")
    lb.set_defaults(func=_leaderboard)

    ex = sub.add_parser("export", help="export a trial of a search as a model bundle",
                        description="Write a trial as a model bundle (loadable with gnnnas.load): its kept weights, "
                                    "or the architecture retrained for its best epoch count.")
    ex.add_argument("dir", metavar="DIR", help="the search's --out folder")
    ex.add_argument("--trial", type=int, default=None, help="trial number (default: the best completed trial)")
    ex.add_argument("--to", default=None, metavar="PATH", help="bundle folder (default: DIR/trial-N)")
    ex.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    ex.add_argument("--storage", default=None, metavar="URL", help="storage URL (default: from DIR/search.json)")
    ex.add_argument("--data", default=None, metavar="PATH", help="the study's dataset, when it moved")
    ex.add_argument("--no-final", action="store_true",
                    help="export the trial as the search trained it, not its final fit (when it has one)")
    ex.set_defaults(func=_export)

    c = sub.add_parser("controllers", help="list search controllers and pruners")
    c.set_defaults(func=_controllers)


def _final_fit_arguments(p: argparse.ArgumentParser) -> None:
    f = p.add_argument_group("final fit")
    f.add_argument("--final-fit", type=int, default=0, metavar="N",
                   help="after the search, retrain the best trials of the N best architectures without "
                        "--trial-timeout (early stopping on validation) and export the best of them and the "
                        "search's best (default 0: none)")
    f.add_argument("--final-epochs", type=int, default=None, metavar="E",
                   help="epochs per finalist (default: --max-epochs)")
    f.add_argument("--final-timeout", type=float, default=None, metavar="SECONDS",
                   help="seconds for the whole final fit, after --timeout (default: no limit)")
    f.add_argument("--final-distinct", action=argparse.BooleanOptionalAction, default=None,
                   help="one finalist per architecture: the best trials of the N best architectures, not N "
                        "near-copies that differ only in training knobs (lr, L2, batch size, negatives); the "
                        "default with --final-fit. --no-final-distinct: the N best trials")


# --- commands -------------------------------------------------------------------
def _search(args: argparse.Namespace) -> int:
    from gnnnas.search.api import SearchInterrupted, search
    options = {k: v for k, v in options_from_args(args).to_dict().items() if k != "seed"}
    try:
        result = search(space=args.space, data=args.data, controller=args.controller, pruner=args.pruner,
                        trials=args.trials, timeout=args.timeout, max_epochs=args.max_epochs, metric=args.metric,
                        storage=args.storage, study=args.study, out=args.out, device=args.device, seed=args.seed,
                        quiet=args.quiet, patience=args.patience, eval_every=args.eval_every,
                        keep_weights=args.keep_weights, threads=args.threads, trial_timeout=args.trial_timeout,
                        prune_by=args.prune_by,
                        objectives=args.objectives, max_latency_ms=args.max_latency_ms, max_params=args.max_params,
                        initial=args.initial, warm_up=args.warm_up, final_fit=args.final_fit,
                        final_epochs=args.final_epochs, final_timeout=args.final_timeout,
                        final_distinct=args.final_distinct, **options)
    except SearchInterrupted as stop:
        print(f"gnnnas: interrupted; finished trials are recorded in {stop.out} (leaderboard.csv); "
              "run the same command to resume", file=sys.stderr)
        return 130
    print_summary(result, top=args.top)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from gnnnas.search.api import SearchInterrupted, join
    try:
        result = join(storage=args.storage, study=args.study, trials=args.trials, device=args.device, out=args.out,
                      quiet=args.quiet, data=args.data, timeout=args.timeout, keep_weights=args.keep_weights,
                      export=not args.no_export, threads=args.threads, final_fit=args.final_fit,
                      final_epochs=args.final_epochs, final_timeout=args.final_timeout,
                      final_distinct=args.final_distinct)
    except SearchInterrupted as stop:
        print(f"gnnnas: interrupted; finished trials are recorded in the study (weights in {stop.out})",
              file=sys.stderr)
        return 130
    print_summary(result, top=SUMMARY_TOP)
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from gnnnas.search.api import open_folder
    from gnnnas.search.leaderboard import format_table, leaderboard, study_metric
    if args.top < 0:
        raise GnnnasError(f"--top {args.top}: expected an integer >= 0 (0: all rows)")
    study, _, _ = open_folder(args.dir, args.storage)
    df = leaderboard(study)
    if args.csv:
        df.to_csv(sys.stdout, index=False)
    else:
        print(format_table(df, study_metric(study), top=args.top or None))
        _print_fidelity_note(study, df)
    return 0


def _export(args: argparse.Namespace) -> int:
    from optuna.trial import TrialState

    from gnnnas.device import resolve_device
    from gnnnas.search.api import load_study_dataset, open_folder
    from gnnnas.search.best import best_complete, export_trial
    from gnnnas.search.final_fit import final_choice, records
    from gnnnas.search.leaderboard import study_metric
    device = resolve_device(args.device)
    study, _, _ = open_folder(args.dir, args.storage)
    final = None
    if args.trial is None:
        trial = best_complete(study)
        if trial is None:
            raise GnnnasError(f"{args.dir}: no completed trial to export; pass --trial N")
        choice = None if args.no_final else final_choice(study, trial, study_metric(study))
        if choice is not None:  # as best/: the final fit when it beat the search's best on validation
            trial, final = choice
    else:
        numbers = {t.number: t for t in study.get_trials(deepcopy=False)}
        if args.trial not in numbers:
            raise GnnnasError(f"--trial {args.trial}: no such trial in study {study.study_name!r} "
                              f"(trials 0..{max(numbers) if numbers else -1})")
        trial = numbers[args.trial]
        if trial.state in (TrialState.RUNNING, TrialState.WAITING):
            raise GnnnasError(f"--trial {args.trial}: still running; export it when it has finished")
        final = None if args.no_final else records(study).get(trial.number)
    dataset = load_study_dataset(study, args.data)
    to = Path(args.to) if args.to else Path(args.dir) / f"trial-{trial.number}"
    exported = export_trial(study, trial, dataset, Path(args.dir), to, device, final)
    print(f"exported {exported.describe()} to {exported.path}")
    return 0


def _controllers(args: argparse.Namespace) -> int:
    from gnnnas.search.controllers import CONTROLLERS
    from gnnnas.search.pruners import DEFAULT_PRUNER, PRUNERS
    rows = [(name, ("multi-fidelity; " if cls.multi_fidelity else "") + cls.description)
            for name, cls in sorted(CONTROLLERS.items())]
    _table("CONTROLLER", rows, default="optuna-tpe")
    print()
    _table("PRUNER", [(name, p.description) for name, p in PRUNERS.items()], default=DEFAULT_PRUNER)
    return 0


# --- output ---------------------------------------------------------------------------
def _table(title: str, rows: list[tuple[str, str]], default: str) -> None:
    rows = [(name + (" *" if name == default else ""), text) for name, text in rows]
    width = max(len(title), *(len(name) for name, _ in rows))
    print(f"{title:<{width}}  DESCRIPTION")
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    print("* default")


_FILES = {
    "leaderboard": "every trial ranked by validation {metric}",
    "best": "best completed trial as a model bundle: gnnnas.load('{path}')",
    "report": "HTML report",
    "storage": "the Optuna study: re-run the same command to continue it",
}


def _print_fidelity_note(study, df) -> None:
    """The time-limit note under a printed leaderboard (the leaderboard has final_* columns after a final fit)."""
    from gnnnas.search.leaderboard import fidelity_note
    note = fidelity_note(df, study.user_attrs.get("trial_timeout"), "final_stopped" in df.columns)
    if note:
        print(note)


def print_summary(result, top: int = SUMMARY_TOP) -> None:
    """The top of the leaderboard and where everything was written."""
    from gnnnas.search.budget import counts
    from gnnnas.search.leaderboard import format_table, study_metric
    study, df = result.study, result.leaderboard
    metric = study_metric(study)
    print(format_table(df, metric, top=top if top > 0 else None))
    print()
    by_status = df["status"].value_counts().to_dict() if not df.empty else {}
    states = ", ".join(f"{by_status[s]} {s}" for s in ("complete", "pruned", "fail", "running") if by_status.get(s))
    total = result.budget if result.budget is not None else study.user_attrs.get("trials")
    print(f"study {study.study_name}: {counts(study)[0]} of {total} trials finished ({states or 'none'})")
    _print_fidelity_note(study, df)
    if "pareto_rank" in df.columns:
        front = df[df["pareto_rank"] == 1]
        front = front[front["feasible"] != False]  # noqa: E712 - a column of True/False/None
        print(f"Pareto front: trials {', '.join(str(n) for n in sorted(front['trial']))}" if len(front)
              else "Pareto front: no feasible completed trial")
    if result.exported is not None:
        row = df[df["trial"] == result.exported.trial].iloc[0]
        rule = " (best quality on the Pareto front)" if "pareto_rank" in df.columns else ""
        run = "final_" if result.exported.final_fit else ""
        print(f"best{rule}: {result.exported.describe()}; validation {metric} {row[f'{run}val_{metric}']:.4f}, "
              f"test {row[f'{run}test_{metric}']:.4f}")
    elif not (df["status"] == "complete").any() if not df.empty else True:
        print("best: no trial completed")
    elif not ((df["status"] == "complete") & (df["feasible"] != False)).any():  # noqa: E712
        print("best: no completed trial is within the cost limits (all infeasible); nothing exported")
    print(f"written to {result.out}:")
    names = {"leaderboard": "leaderboard.csv", "best": "best/", "report": "report.html"}
    for key, path in result.files.items():
        label = names.get(key, Path(path).name + ("/" if Path(path).is_dir() else ""))
        text = _FILES.get(key, "").format(metric=metric, path=path)
        print(f"  {label:<16} {text}".rstrip())
    weights = sorted((Path(result.out) / "trials").glob("*/model.pt"))
    if weights:
        print(f"  {'trials/':<16} weights of trials {', '.join(p.parent.name for p in weights)} "
              f"(gnnnas export {result.out} --trial N)")
    print(f"  {'search.json':<16} what was searched, for gnnnas leaderboard/export {result.out}")
    if not result.files.get("storage"):
        print(f"  storage: {result.storage} (study {study.study_name})")
