"""The winner of ``--space default`` vs. the winner of ``--space lightgcn``, same budget, on test NDCG@20.

Goal: the default space's winner beats the LightGCN space's winner on test
NDCG@20, on the bundled dataset and on the first 6,000 Gowalla users.

For each dataset and space, the exact command a user types,

    gnnnas search --space SPACE --data DATA --controller optuna-tpe --pruner asha_matched --seed SEED
                  --timeout BUDGET --trials CAP --max-epochs E --trial-timeout T --device cpu
                  --out experiments/out/space_vs_lightgcn/<dataset>-<space>-s<seed>

in a fresh folder with its own SQLite study. Both spaces get the same wall
clock (``--timeout``), the same trial cap, the same seed (so the same data
split and training seed), the same controller and pruner, and the same
``--max-epochs`` (the spaces' own defaults differ, 100 vs. 200, which no
short budget could finish); patience and evaluation interval stay the
spaces' own (default: every 2 epochs, lightgcn: every 5, patience 5
evaluations each). Each space starts from its own initial design, as
``gnnnas search`` does (``search.initial``: the default space trains the
LightGCN and MF presets first, the LightGCN space the paper's LightGCN
configuration) and its warm-up (``search.warm_up``: the default space spends
the first 40% of its budget in the ``lightgcn-loss`` sub-space, LightGCN's
knobs plus scoring, loss and shared negatives, commit b74e994);
``--initial none`` starts both from nothing. The winner is the best COMPLETE trial on validation
NDCG@20, as ``best/`` exports it (``best_complete``: pruned, timed-out and
failed trials never win); its test metrics were ranked once after its
training and are reported, never selected on. gowalla-6000 is the first
6,000 users of the LightGCN Gowalla split with items renumbered
(``common.gowalla_subset``, written to experiments/out/gowalla-6000/), its
own test split, 10% of each user's training items held out for validation.
``--split ratio`` re-splits it instead (train and test pooled, each user's
interactions drawn 0.8 / 0.1 / 0.1 at random), so that validation and test
are drawn alike; its folders get a ``-ratio`` tag.

Cost: candidates of the default space cost from ~1 s (MF) to over 80 s per
epoch on online-retail on 2 cores, and a study's first trial is never
pruned, so every search also gets the same ``--trial-timeout`` (default 30 s
of training per candidate, a budget like ``--max-epochs``: a candidate keeps
the best result it reached within it). ``--timeout`` stops the running
trial at its next mini-batch; ``--hard-stop`` (default 30 s) is a safety net.

``--final-fit N --final-timeout S`` passes the final fit on to every search
(:mod:`gnnnas.search.final_fit`): after its ``--timeout`` each search
retrains its N best candidates without the per-candidate limit for up to S
seconds, and its winner is what ``best/`` exports (the best on validation of
the final fits and the search's best). Each search then takes ``--budget`` +
S seconds in all: compare ``--budget 600 --final-timeout 300`` with
``--budget 900``. On gowalla-6000 on 2 CPU cores, 300 s of final fit cut
the finalists after 13-48 epochs and left the pairs about tied; with
``--final-timeout 900 --final-epochs 200`` the finalists stopped early in
15 of 16 searches (experiments/RESULTS.md, "Gowalla-6000 with the finals
trained to convergence"). ``--resume --trials 1`` re-runs only the final fit of
existing run folders, e.g. with a larger ``--final-timeout``.

Full run for a 2-core machine: 4 searches of 240 s plus building
gowalla-6000 once (seconds): about 18 minutes.

    python experiments/space_vs_lightgcn.py --budget 240 --max-epochs 20

Prints Markdown tables; appends one JSON line per search and one summary line
to experiments/out/space_vs_lightgcn.jsonl. ``--report-only`` rebuilds the
tables from the run folders without searching; ``--search-only SPACE``
searches one space and reads the other's existing folder (for a change that
touches only one of them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, data_source, git_commit, machine  # noqa: E402
from search_runs import Run, add_search_options, fmt, read_run, run_search  # noqa: E402

from gnnnas.search.pruners import DEFAULT_PRUNER  # noqa: E402

DATASETS = ["online-retail", "gowalla-6000"]
SPACES = ["default", "lightgcn"]


def run_dir(dataset: str, space: str, seed: int, split: str | None = None) -> Path:
    """A search's folder; a non-default ``--split`` gets its own, so it never overwrites the source's split."""
    tag = f"-{split}" if split else ""
    return OUT / "space_vs_lightgcn" / f"{Path(dataset).name}{tag}-{Path(space).stem}-s{seed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=240, help="wall-clock seconds per search (its --timeout)")
    parser.add_argument("--trials", type=int, default=500, help="trial cap, the same for both spaces")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="bundled names, paths or gowalla-N")
    parser.add_argument("--spaces", default=",".join(SPACES), help="the first is the challenger, the second "
                                                                    "the reference of the verdict")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=20, help="epochs per candidate, both spaces "
                                                                   "(0: each space's own)")
    parser.add_argument("--controller", default="optuna-tpe")
    parser.add_argument("--pruner", default=DEFAULT_PRUNER, help=f"both searches' --pruner (default {DEFAULT_PRUNER})")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per trial (default: gnnnas's)")
    parser.add_argument("--trial-timeout", type=float, default=30,
                        help="training seconds per candidate, the same for every search (0: no limit); "
                             "without it one slow first candidate can eat a short budget")
    parser.add_argument("--hard-stop", type=float, default=30,
                        help="Ctrl-C a search still running this many seconds after its budget (start-up "
                             "included; 0: never); changes no result, only bounds the wall time")
    parser.add_argument("--initial", default="space",
                        help="the searches' --initial (default 'space': each space's own initial design, "
                             "default: lightgcn,mf; lightgcn: lightgcn; 'none': both start from nothing)")
    parser.add_argument("--final-fit", type=int, default=0, metavar="N",
                        help="the searches' --final-fit: retrain the N best candidates after the search")
    parser.add_argument("--final-timeout", type=float, default=None, metavar="SECONDS",
                        help="the searches' --final-timeout (seconds after --budget)")
    parser.add_argument("--final-epochs", type=int, default=None, metavar="E",
                        help="the searches' --final-epochs (default: --max-epochs)")
    parser.add_argument("--final-distinct", action=argparse.BooleanOptionalAction, default=None,
                        help="the searches' --final-distinct (one finalist per architecture, gnnnas's default) or "
                             "--no-final-distinct (the N best trials)")
    add_search_options(parser)
    parser.add_argument("--split", default=None, help="both searches' --split (default: the dataset's own; ratio "
                        "re-splits a LightGCN folder's train and test alike, validation and test drawn the same way)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run folders' studies instead of starting afresh; with --trials 1 only "
                             "the final fit runs again, e.g. with a larger --final-timeout")
    parser.add_argument("--report-only", action="store_true", help="read the existing run folders, run nothing")
    parser.add_argument("--search-only", metavar="SPACE", default=None,
                        help="search only this space; read the other's existing run folder (a change that only "
                             "touches one space need not re-run the other)")
    args = parser.parse_args()
    datasets, spaces = args.datasets.split(","), args.spaces.split(",")
    if len(spaces) != 2:
        raise SystemExit("--spaces: expected two spaces, CHALLENGER,REFERENCE")
    if args.search_only not in (None, *spaces):
        raise SystemExit(f"--search-only: expected one of {', '.join(spaces)}, got {args.search_only!r}")
    max_epochs = args.max_epochs or None
    OUT.mkdir(parents=True, exist_ok=True)

    runs: dict[tuple[str, str], Run] = {}
    for dataset in datasets:
        source = data_source(dataset)
        for space in sorted(spaces, key=lambda s: s != args.search_only):  # the searched one first
            out = run_dir(dataset, space, args.seed, args.split)
            seconds = 0.0
            if not args.report_only and args.search_only in (None, space):
                print(f"{dataset} / {space}: searching {args.budget:g} s ...", file=sys.stderr, flush=True)
                seconds = run_search(out, space=space, data=source, controller=args.controller, pruner=args.pruner,
                                     seed=args.seed, timeout=args.budget, trials=args.trials, max_epochs=max_epochs,
                                     threads=args.threads, hard_stop=args.hard_stop or None,
                                     trial_timeout=args.trial_timeout or None,
                                     initial=None if args.initial == "space" else args.initial,
                                     prune_by=args.prune_by, device=args.device, final_fit=args.final_fit,
                                     final_timeout=args.final_timeout, final_epochs=args.final_epochs,
                                     final_distinct=args.final_distinct,
                                     extra=("--split", args.split) if args.split else (), resume=args.resume)
            run = runs[(dataset, space)] = read_run(out, seconds, args.budget)
            c, f = run.counts, run.winner
            print(f"{dataset} / {space}: {c['complete']} complete, {c['pruned']} pruned, {c['timeout']} cut, "
                  f"{c['fail']} failed; winner val {fmt(f.val if f else None)} test {fmt(f.test if f else None)} "
                  f"({seconds:.0f} s)", file=sys.stderr, flush=True)

    challenger, reference = spaces
    verdicts = {}
    for dataset in datasets:
        a, b = runs[(dataset, challenger)].winner, runs[(dataset, reference)].winner
        verdicts[dataset] = None if a is None or b is None or a.test is None or b.test is None else a.test > b.test

    commit, mach = git_commit(), machine()
    if not args.report_only:  # --report-only reads the runs again: no duplicate records
        with open(OUT / "space_vs_lightgcn.jsonl", "a") as fh:
            for (dataset, space), run in runs.items():
                if args.search_only not in (None, space):  # read, not searched: recorded by its own run
                    continue
                f = run.final
                fh.write(json.dumps({
                    "kind": "run", "dataset": dataset, "space": space, "seed": args.seed, "budget": args.budget,
                    "trials_cap": args.trials, "max_epochs": max_epochs, "controller": args.controller,
                    "pruner": args.pruner, "split": args.split, "threads": args.threads, "counts": run.counts,
                    "wall_seconds": run.seconds,
                    "winner_trial": f.trial if f else None, "found_at": f.t if f else None,
                    "val": run.best_val_all, "test": run.best_test_all, "spec": run.best_spec,
                    "spec_text": run.best_spec_text, "curve": [e.to_dict() for e in run.curve],
                    "final_fit_top": args.final_fit, "final_timeout": args.final_timeout,
                    "final_epochs": args.final_epochs, "final_distinct": args.final_distinct,
                    "final_fit": run.final_fit, "final_fits": {str(n): r for n, r in run.final_fits.items()},
                    "machine": mach, "commit": commit}) + "\n")
            fh.write(json.dumps({"kind": "summary", "challenger": challenger, "reference": reference,
                                 "datasets": datasets, "budget": args.budget, "seed": args.seed,
                                 "beats": verdicts, "machine": mach, "commit": commit}) + "\n")

    print(f"\nMachine: {mach}; commit {commit}; {args.controller} + {args.pruner}, seed {args.seed}, "
          f"budget {args.budget:g} s per search (--timeout), trial cap {args.trials}, "
          f"max_epochs {max_epochs or 'each space its own'}, threads {args.threads or 'gnnnas default'}, "
          f"initial design {args.initial}, prune by {args.prune_by}, device {args.device}, "
          f"split {args.split or 'each dataset its own'}"
          + (f", final fit of the {args.final_fit} best "
             f"{'trials' if args.final_distinct is False else 'architectures'} "
             f"for up to {args.final_epochs or max_epochs or 'the space'} "
             f"epochs within {args.final_timeout or 'unlimited'} s" if args.final_fit
             else "") + "\n")
    print("| dataset | space | trials complete / pruned / timeout-cut / failed | winner | found at (s) | "
          "val NDCG@20 | test NDCG@20 | test Recall@20 |")
    print("|---|---|---|---|---|---|---|---|")
    for dataset in datasets:
        for space in spaces:
            run = runs[(dataset, space)]
            c, f = run.counts, run.winner
            found = "final fit" if run.final_fit else f"{f.t:.0f}" if f else "-"
            print(f"| {dataset} | {space} | {c['complete']} / {c['pruned']} / {c['timeout']} / {c['fail']} | "
                  f"{f'trial {f.trial}' if f else 'none completed'} | {found} | "
                  f"{fmt(f.val if f else None)} | {fmt(f.test if f else None)} | "
                  f"{fmt(f.test_recall if f else None)} |")
    print("\nWinning specs:\n")
    for dataset in datasets:
        for space in spaces:
            run = runs[(dataset, space)]
            text = run.final_fit["spec_text"] if run.final_fit else run.best_spec_text
            print(f"- {dataset} / {space}: {text or 'no completed trial'}")
    if args.final_fit:
        print("\nFinal fits (validation / test NDCG@20, best epoch of epochs run, why it stopped; "
              "search value in brackets):\n")
        for dataset in datasets:
            for space in spaces:
                run = runs[(dataset, space)]
                parts = [f"trial {n}: {fmt(r['val'])} / {fmt(r['test'])}, {r['best_epoch']} of {r['epochs']}, "
                         f"{r['stopped']}" + (f" [{fmt(r['search_val'])}]" if r.get("search_val") is not None else "")
                         for n, r in sorted(run.final_fits.items())]
                print(f"- {dataset} / {space}: {'; '.join(parts) or 'none'}")
    print()
    for dataset in datasets:
        v = verdicts[dataset]
        a, b = runs[(dataset, challenger)].winner, runs[(dataset, reference)].winner
        detail = (f"{fmt(a.test)} vs {fmt(b.test)}" if v is not None
                  else "no completed trial in " + " and ".join(s for s, e in ((challenger, a), (reference, b))
                                                               if e is None or e.test is None))
        print(f"{challenger} beats {reference} on test NDCG@20 on {dataset}: "
              f"{'-' if v is None else ('yes' if v else 'no')} ({detail})")
    if any(v is False for v in verdicts.values()):
        goal = "no"
    elif any(v is None for v in verdicts.values()):
        goal = "undecided (a search completed no trial within its budget)"
    else:
        goal = "yes"
    print(f"Goal ({challenger} beats {reference} on every dataset): {goal}")


if __name__ == "__main__":
    main()
