"""Search efficiency: TPE + ASHA pruning vs. random search without pruning vs. NNI's TPE, equal wall clock.

Goal: TPE + pruning reaches random search's final best (validation NDCG@20)
in a third of the time or less.

Each (method, seed) runs the exact command a user types,

    gnnnas search --space default --data online-retail --controller C --pruner P --seed S
                  --timeout BUDGET --trials 100000 --max-epochs E --trial-timeout T --initial none --warm-up none
                  --device cpu --out experiments/out/search_efficiency/<method>-s<seed>

in a fresh folder with its own SQLite study; the trial cap is out of reach,
so ``--timeout`` is what stops every search (the trial running at the
deadline is recorded PRUNED, "timeout-cut" below, and is not a candidate).
Runs go seed by seed, the methods of one seed back to back, so that the
machine's drift hits every method alike. ``--seed`` also draws the
train/validation/test split of the bundled dataset, so the methods of one
seed search the same split; seeds differ in split, training seed and
proposals.

Methods are CONTROLLER+PRUNER: ``optuna-tpe+asha``, ``optuna-random+none``
(the baseline) and ``nni-tpe+asha``. NNI's TPE runs in-process as a
single-fidelity controller, so the study's pruner applies to its trials like
to Optuna's (NNI is told a pruned trial's best intermediate value); giving it
ASHA too makes the TPE-vs-TPE comparison one of proposers only. Add
``nni-tpe+none`` to ``--methods`` for NNI's TPE without pruning.

Anytime curve: for every COMPLETE trial, its end time relative to the first
trial's start and the best completed trial so far, selected on validation
NDCG@20 exactly like ``best/`` (``best_complete``: PRUNED and FAILED trials
are never the best); the test NDCG@20 reported is that trial's, never
selected on. Reported: (a) mean ± std over seeds of best validation NDCG@20
and its test NDCG@20 at 1/6, 1/3, 1/2, 2/3 and all of the budget, (b)
trials per run, (c) per seed, when each method's best-so-far validation
first reached the baseline's final best of the same seed, as a fraction of
the budget, and (d) the verdict on the goal.

Cost: candidates of the default space cost from ~1 s (MF) to over 80 s per
epoch on online-retail on 2 cores, a trial is only pruned after its first
rung and a study's first trial never is, so every run also gets the same
``--trial-timeout`` (default 30 s of training per candidate, a budget like
``--max-epochs``). ``--timeout`` stops the running trial at its next
mini-batch; ``--hard-stop`` (default 30 s) is a safety net.

Full run for a 2-core machine: 9 searches of 240 s, about 38 minutes:

    python experiments/search_efficiency.py --budget 240 --seeds 0,1,2 --max-epochs 10

``--initial none`` (the default here) drops the space's initial design
(LightGCN and MF trained first): it would hand every Optuna method the same
two first trials, and this benchmark compares what the controllers propose.
``--initial space`` measures the searches as ``gnnnas search`` runs them.
``--warm-up none`` (the default here) likewise drops the space's warm-up
(the first 40% of the budget in the LightGCN sub-space, which only Optuna
controllers take); ``--warm-up space`` keeps it.

Short budgets make the comparison hostage to the first proposals (TPE's
first 10 are seeded random draws, the same as optuna-random's, see the note
under the tables); budgets of 30+ minutes per search would say more.

Prints Markdown tables; appends one JSON line per run and one summary line to
experiments/out/search_efficiency.jsonl; writes the anytime curves to
experiments/out/search_efficiency.html (Plotly, loads plotly.js from its CDN).
``--report-only`` rebuilds the tables from the run folders without searching.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, machine  # noqa: E402
from search_runs import Run, add_search_options, fmt, mean_std, read_run, run_search  # noqa: E402

METHODS = ["optuna-tpe+asha", "optuna-random+none", "nni-tpe+asha"]
BASELINE = "optuna-random+none"
GOAL_METHOD = "optuna-tpe+asha"
CHECKPOINTS = [Fraction(1, 6), Fraction(1, 3), Fraction(1, 2), Fraction(2, 3), Fraction(1)]
GOAL_FRACTION = 1 / 3


def run_dir(method: str, seed: int) -> Path:
    return OUT / "search_efficiency" / f"{method}-s{seed}"


def parse_method(method: str) -> tuple[str, str]:
    controller, sep, pruner = method.partition("+")
    if not sep or not controller or not pruner:
        raise SystemExit(f"--methods: {method!r}: expected CONTROLLER+PRUNER, e.g. optuna-tpe+asha")
    return controller, pruner


def write_html(runs: dict[tuple[str, int], Run], budget: float, path: Path) -> Path | None:
    try:
        import plotly.graph_objects as go
    except ImportError:
        return None
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    dashes = ["solid", "dash", "dot", "dashdot", "longdash"]
    methods = list(dict.fromkeys(m for m, _ in runs))
    seeds = list(dict.fromkeys(s for _, s in runs))
    fig = go.Figure()
    for (method, seed), run in runs.items():
        if not run.curve:
            continue
        xs = [e.t for e in run.curve] + [budget]
        ys = [e.val for e in run.curve] + [run.curve[-1].val]
        text = [f"trial {e.trial}, test NDCG@20 {fmt(e.test)}" for e in run.curve] + ["end of budget"]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", line_shape="hv", name=f"{method} s{seed}",
                                 legendgroup=method, text=text,
                                 line=dict(color=colors[methods.index(method) % len(colors)],
                                           dash=dashes[seeds.index(seed) % len(dashes)])))
    fig.update_layout(title="Best validation NDCG@20 so far (completed trials), by wall clock",
                      xaxis_title="seconds since the search started", yaxis_title="best validation NDCG@20",
                      template="plotly_white")
    fig.write_html(path, include_plotlyjs="cdn")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=240, help="wall-clock seconds per search (its --timeout)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--space", default="default")
    parser.add_argument("--data", default="online-retail")
    parser.add_argument("--max-epochs", type=int, default=10, help="epochs per candidate (0: the space's)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated CONTROLLER+PRUNER")
    parser.add_argument("--baseline", default=BASELINE, help="the method whose final best the others race to")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per trial (default: gnnnas's)")
    parser.add_argument("--trial-timeout", type=float, default=30,
                        help="training seconds per candidate, the same for every search (0: no limit); "
                             "without it one slow first candidate can eat a short budget")
    parser.add_argument("--trials", type=int, default=100000, help="trial cap (out of reach: the budget stops)")
    parser.add_argument("--initial", default="none",
                        help="the searches' --initial (default none: every controller starts from nothing, so "
                             "the race is between proposers; 'space' keeps the space's initial design)")
    parser.add_argument("--warm-up", default="none",
                        help="the searches' --warm-up (default none, for the same reason; 'space' keeps the "
                             "space's search.warm_up)")
    parser.add_argument("--hard-stop", type=float, default=30,
                        help="Ctrl-C a search still running this many seconds after its budget (start-up "
                             "included; 0: never): a safety net, --timeout already stops training at the "
                             "next mini-batch")
    add_search_options(parser)
    parser.add_argument("--report-only", action="store_true", help="read the existing run folders, run nothing")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    for m in methods:
        parse_method(m)
    budget = args.budget
    max_epochs = args.max_epochs or None
    OUT.mkdir(parents=True, exist_ok=True)

    runs: dict[tuple[str, int], Run] = {}
    for seed in seeds:
        for method in methods:
            controller, pruner = parse_method(method)
            out = run_dir(method, seed)
            seconds = 0.0
            if not args.report_only:
                print(f"{method} seed {seed}: searching {budget:g} s ...", file=sys.stderr, flush=True)
                seconds = run_search(out, space=args.space, data=args.data, controller=controller, pruner=pruner,
                                     seed=seed, timeout=budget, trials=args.trials, max_epochs=max_epochs,
                                     threads=args.threads, hard_stop=args.hard_stop or None,
                                     trial_timeout=args.trial_timeout or None,
                                     initial=None if args.initial == "space" else args.initial,
                                     prune_by=args.prune_by, device=args.device,
                                     extra=() if args.warm_up == "space" else ("--warm-up", args.warm_up))
            run = runs[(method, seed)] = read_run(out, seconds, budget)
            c, f = run.counts, run.final
            print(f"{method} seed {seed}: {c['complete']} complete, {c['pruned']} pruned, {c['timeout']} cut, "
                  f"{c['fail']} failed; best val {fmt(f.val if f else None)} test {fmt(f.test if f else None)} "
                  f"({seconds:.0f} s)", file=sys.stderr, flush=True)

    # (c) time for each method to reach the baseline's final best, per seed
    reach: dict[tuple[str, int], dict] = {}
    for seed in seeds:
        base = runs.get((args.baseline, seed))
        target = base.final.val if base is not None and base.final is not None else None
        for method in methods:
            if method == args.baseline:
                continue
            t = runs[(method, seed)].time_to_reach(target) if target is not None else None
            reach[(method, seed)] = {"target": target, "target_t": base.final.t if target is not None else None,
                                     "t": t, "fraction": t / budget if t is not None else None}

    commit, mach = git_commit(), machine()
    if not args.report_only:  # --report-only reads the runs again: no duplicate records
        with open(OUT / "search_efficiency.jsonl", "a") as fh:
            for (method, seed), run in runs.items():
                controller, pruner = parse_method(method)
                f = run.final
                fh.write(json.dumps({
                    "kind": "run", "method": method, "controller": controller, "pruner": pruner, "seed": seed,
                    "space": args.space, "data": args.data, "budget": budget, "max_epochs": max_epochs,
                    "threads": args.threads, "counts": run.counts, "wall_seconds": run.seconds,
                    "best_val": f.val if f else None, "best_test": f.test if f else None,
                    "best_trial": f.trial if f else None, "best_spec": run.best_spec,
                    "checkpoints": {str(cp): e.to_dict() if (e := run.best_at(float(cp) * budget)) else None
                                    for cp in CHECKPOINTS},
                    "curve": [e.to_dict() for e in run.curve], "reach": reach.get((method, seed)),
                    "machine": mach, "commit": commit}) + "\n")
            goal = {seed: reach.get((GOAL_METHOD, seed)) for seed in seeds}
            fh.write(json.dumps({
                "kind": "summary", "methods": methods, "baseline": args.baseline, "seeds": seeds, "budget": budget,
                "space": args.space, "data": args.data, "max_epochs": max_epochs,
                "goal_met": {str(s): (None if r is None or r["target"] is None
                                      else r["fraction"] is not None and r["fraction"] <= GOAL_FRACTION)
                             for s, r in goal.items()},
                "machine": mach, "commit": commit}) + "\n")
    html = write_html(runs, budget, OUT / "search_efficiency.html")

    print(f"\nMachine: {mach}; commit {commit}; space {args.space}, data {args.data}, budget {budget:g} s per "
          f"search (--timeout), max_epochs {max_epochs or 'the space default'}, seeds {args.seeds}, "
          f"threads {args.threads or 'gnnnas default'}, initial design {args.initial}, warm-up {args.warm_up}, "
          f"prune by {args.prune_by}, "
          f"device {args.device}\n")
    print("Best validation NDCG@20 so far (completed trials only, as best/ selects) and that trial's test "
          "NDCG@20; mean ± std over the seeds that had a completed trial by then.\n")
    print("| method | at | seconds | seeds with a result | best val NDCG@20 | its test NDCG@20 |")
    print("|---|---|---|---|---|---|")
    for method in methods:
        for cp in CHECKPOINTS:
            t = float(cp) * budget
            events = [runs[(method, s)].best_at(t) for s in seeds]
            got = [e for e in events if e is not None]
            print(f"| {method} | {'all' if cp == 1 else str(cp)} | {t:.0f} | {len(got)}/{len(seeds)} | "
                  f"{mean_std([e.val for e in got])} | {mean_std([e.test for e in got if e.test is not None])} |")

    print("\nTrials per search (timeout-cut: the trial running at the deadline, recorded PRUNED, not a "
          "candidate).\n")
    print("| method | seed | complete | pruned | timeout-cut | failed | best trial | best val NDCG@20 | "
          "test NDCG@20 | found at (s) | process wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for method in methods:
        for seed in seeds:
            run = runs[(method, seed)]
            c, f = run.counts, run.final
            print(f"| {method} | {seed} | {c['complete']} | {c['pruned']} | {c['timeout']} | {c['fail']} | "
                  f"{f.trial if f else '-'} | {fmt(f.val if f else None)} | {fmt(f.test if f else None)} | "
                  f"{f'{f.t:.0f}' if f else '-'} | {run.seconds:.0f} |")

    print(f"\nTime to reach {args.baseline}'s final best validation NDCG@20 of the same seed "
          f"(first time the best-so-far validation is >= it).\n")
    print(f"| seed | {args.baseline} final best (found at s) | method | reached at (s) | fraction of budget | "
          f"time / {args.baseline}'s time |")
    print("|---|---|---|---|---|---|")
    for seed in seeds:
        for method in methods:
            if method == args.baseline:
                continue
            r = reach[(method, seed)]
            target = f"{fmt(r['target'])} ({r['target_t']:.0f})" if r["target"] is not None else "no completed trial"
            reached = f"{r['t']:.0f}" if r["t"] is not None else "not reached"
            vs_base = r["t"] / r["target_t"] if r["t"] is not None and r["target_t"] else None
            print(f"| {seed} | {target} | {method} | {reached} | {fmt(r['fraction'], 2)} | {fmt(vs_base, 2)} |")

    print()
    for method in methods:
        if method == args.baseline:
            continue
        parts, met, decided = [], 0, 0
        for seed in seeds:
            r = reach[(method, seed)]
            if r["target"] is None:  # nothing to reach: the baseline completed no trial in its budget
                parts.append(f"seed {seed} n/a (baseline has no completed trial)")
                continue
            ok = r["fraction"] is not None and r["fraction"] <= GOAL_FRACTION
            met, decided = met + ok, decided + 1
            how = f"{r['t']:.0f} s = {r['fraction']:.2f} of budget" if r["t"] is not None else "not reached"
            if r["target_t"] <= GOAL_FRACTION * budget:
                how += f"; the baseline itself found it at {r['target_t'] / budget:.2f}"
            parts.append(f"seed {seed} {'yes' if ok else 'no'} ({how})")
        label = "Goal" if method == GOAL_METHOD else "Same test"
        print(f"{label}: {method} reaches {args.baseline}'s final best in <= 1/3 of the budget: "
              f"{'; '.join(parts)} -> {met}/{decided} decided seeds ({len(seeds) - decided} n/a).")
    from gnnnas.search.controllers import CONTROLLERS
    startup = CONTROLLERS["optuna-tpe"].n_startup_trials
    print(f"\nNote: optuna-tpe's first {startup} proposals are random draws from the same seeded stream as "
          f"optuna-random's (TPESampler n_startup_trials={startup}), so both start with the same candidates; "
          f"until then the two differ only in pruning. A seed where the baseline found its final best within "
          f"1/3 of the budget itself says little about the goal.")
    if html is not None:
        print(f"\nAnytime curves: {html}")


if __name__ == "__main__":
    main()
