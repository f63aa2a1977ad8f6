"""Multi-objective search: the cost_aware pruner vs. no pruning, equal wall clock, Pareto-front hypervolume.

Goal: pruning across trials saves time without losing Pareto-front quality:
at the same budget the ``cost_aware`` run finishes more trials and its front's
hypervolume is at least the unpruned run's.

Each (pruner, seed) runs the command a user types,

    gnnnas search --space default --data online-retail --controller optuna-nsga2
                  --objectives ndcg@20,latency --pruner P --seed S --timeout BUDGET --trials 100000
                  --max-epochs E --trial-timeout T --threads 1 --device cpu --quiet
                  --out experiments/out/multiobjective/<pruner>-s<seed>

in a fresh folder with its own SQLite study (``--timeout`` stops it; the
trial running at the deadline is recorded PRUNED, "timeout-cut" below). The
two pruners of one seed run back to back and share the split, the training
seed and the sampler seed (NSGA-II's first generation is the same random
draws in both).

Front and hypervolume: the Pareto front of the COMPLETE trials (validation
NDCG@20 maximised, latency minimised: ``study.best_trials``). Hypervolume in
the plane (quality, latency / REF): quality from 0 up, latency normalised by
the fixed reference ``--ref-latency-ms`` (default 200 ms, above every
candidate of the default space on the bundled data measured while writing
this script: 5-85 ms), reference point (0, 1); a trial slower than the
reference adds nothing. So the hypervolume is in NDCG units, at most the best
quality. Computed with Optuna's own ``compute_hypervolume``.

"Saves time" is read two ways: trials finished in the budget, and when the
pruned run's anytime hypervolume (front of the trials completed so far)
first reached the unpruned run's final hypervolume.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

import numpy as np
from optuna._hypervolume import compute_hypervolume
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_runs import run_search  # noqa: E402

from gnnnas.search.api import open_folder  # noqa: E402

PRUNERS = ("cost_aware", "none")


def hypervolume(points: list[tuple[float, float]], ref_latency: float) -> float:
    """Area dominated by ``(quality, latency_ms)`` points, quality in [0, max], latency in [0, ref]."""
    loss = np.array([[-q, lat / ref_latency] for q, lat in points if q > 0 and lat < ref_latency], dtype=float)
    if len(loss) == 0:
        return 0.0
    return float(compute_hypervolume(loss, np.array([0.0, 1.0])))


def front(points: dict[int, tuple[float, float]]) -> list[int]:
    """Trials no other trial beats on both (quality up, latency down)."""
    out = []
    for n, (q, lat) in points.items():
        if not any((q2 >= q and l2 <= lat) and (q2 > q or l2 < lat) for m, (q2, l2) in points.items() if m != n):
            out.append(n)
    return sorted(out, key=lambda n: points[n][1])


def read(out: Path, ref_latency: float) -> dict:
    study, _, _ = open_folder(out)
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    t0 = min(t.datetime_start for t in trials if t.datetime_start is not None)
    counts = {"complete": 0, "pruned": 0, "timeout": 0, "fail": 0}
    done = []
    for t in trials:
        if t.state == TrialState.COMPLETE and t.values:
            counts["complete"] += 1
            done.append(t)
        elif t.state == TrialState.PRUNED:
            counts["timeout" if t.user_attrs.get("stopped") == "timeout" else "pruned"] += 1
        elif t.state == TrialState.FAIL and t.user_attrs.get("error") != "interrupted":
            counts["fail"] += 1
        else:
            counts["timeout"] += 1
    points = {t.number: (float(t.values[0]), float(t.values[1])) for t in done}
    on_front = front(points)
    assert set(on_front) == {t.number for t in study.best_trials}, "front disagrees with Optuna's best_trials"
    # anytime hypervolume: the front of the trials completed so far, after each completion
    anytime, seen = [], {}
    for t in sorted(done, key=lambda t: (t.datetime_complete, t.number)):
        seen[t.number] = points[t.number]
        anytime.append(((t.datetime_complete - t0).total_seconds(), hypervolume(list(seen.values()), ref_latency)))
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    return {"counts": counts, "points": points, "front": on_front,
            "hv": hypervolume([points[n] for n in on_front], ref_latency), "anytime": anytime,
            "span": (max(ends) - t0).total_seconds() if ends else 0.0}


def reached(anytime: list[tuple[float, float]], target: float) -> float | None:
    return next((t for t, hv in anytime if hv >= target - 1e-12), None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--space", default="default")
    p.add_argument("--data", default="online-retail")
    p.add_argument("--controller", default="optuna-nsga2")
    p.add_argument("--objectives", default="ndcg@20,latency")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--budget", type=float, default=300.0, help="seconds per search (--timeout)")
    p.add_argument("--max-epochs", type=int, default=20)
    p.add_argument("--trial-timeout", type=float, default=30.0)
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per trial (default 1: on a machine shared with other jobs, two threads per "
                        "trial on two cores spin-wait and ran epochs 10x slower)")
    p.add_argument("--ref-latency-ms", type=float, default=200.0)
    p.add_argument("--out", default="experiments/out/multiobjective")
    p.add_argument("--reuse", action="store_true", help="read existing runs instead of running them again")
    args = p.parse_args(argv)
    if args.objectives.split(",")[1:] != ["latency"]:
        raise SystemExit("this benchmark computes 2-D hypervolumes of (metric, latency)")
    root = Path(args.out)
    print(f"multi-objective benchmark: {args.controller}, --objectives {args.objectives}, space {args.space}, "
          f"data {args.data}, budget {args.budget:g} s per search, max_epochs {args.max_epochs}, trial_timeout "
          f"{args.trial_timeout:g} s, threads {args.threads}, seeds {args.seeds}, reference latency "
          f"{args.ref_latency_ms:g} ms; "
          f"started {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC", flush=True)
    results: dict[tuple[str, int], dict] = {}
    for seed in args.seeds:
        for pruner in PRUNERS:
            out = root / f"{pruner}-s{seed}"
            seconds = None
            if not (args.reuse and (out / "search.json").exists()):
                seconds = run_search(out, space=args.space, data=args.data, controller=args.controller, pruner=pruner,
                                     seed=seed, timeout=args.budget, trials=100000, max_epochs=args.max_epochs,
                                     trial_timeout=args.trial_timeout, threads=args.threads,
                                     extra=("--objectives", args.objectives))
            r = read(out, args.ref_latency_ms)
            r["seconds"] = seconds
            results[(pruner, seed)] = r
            c = r["counts"]
            print(f"\n{pruner} seed {seed}: {c['complete']} complete, {c['pruned']} pruned, "
                  f"{c['timeout']} timeout-cut, {c['fail']} failed; first trial start to last trial end {r['span']:.0f} s"
                  + (f", process {seconds:.0f} s" if seconds is not None else ""), flush=True)
            print(f"  front ({len(r['front'])} trials): "
                  + "; ".join(f"trial {n}: ndcg@20 {r['points'][n][0]:.4f}, {r['points'][n][1]:.2f} ms"
                              for n in r["front"]))
            print(f"  hypervolume {r['hv']:.4f}")
    print("\n| seed | pruner | trials complete / pruned / timeout-cut / failed | finished | front size | "
          "hypervolume |")
    print("|---|---|---|---|---|---|")
    for (pruner, seed), r in results.items():
        c = r["counts"]
        print(f"| {seed} | {pruner} | {c['complete']} / {c['pruned']} / {c['timeout']} / {c['fail']} | "
              f"{c['complete'] + c['pruned']} | {len(r['front'])} | {r['hv']:.4f} |")
    verdicts = []
    for seed in args.seeds:
        a, b = results[("cost_aware", seed)], results[("none", seed)]
        finished = [r["counts"]["complete"] + r["counts"]["pruned"] for r in (a, b)]
        more = finished[0] > finished[1]
        kept = a["hv"] >= b["hv"]
        when = reached(a["anytime"], b["hv"])
        verdicts.append(more and kept)
        print(f"\nseed {seed}: cost_aware finished {'more' if more else 'not more'} trials "
              f"({finished[0]} vs {finished[1]}); "
              f"hypervolume {a['hv']:.4f} vs {b['hv']:.4f} ({'not lower' if kept else 'lower'}, ratio "
              f"{a['hv'] / b['hv'] if b['hv'] else float('nan'):.3f}); cost_aware reached the unpruned final "
              f"hypervolume {f'at {when:.0f} s' if when is not None else 'never'} of {args.budget:g} s")
    print(f"\nGoal (more trials finished and hypervolume not lower, every seed): "
          f"{'met' if all(verdicts) else 'not met'} ({sum(verdicts)}/{len(verdicts)} seeds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
