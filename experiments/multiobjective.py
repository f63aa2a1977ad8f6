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

Latency is noisy on a shared machine: a search records each trial's latency
while it runs, under whatever load the machine has then (two runs an hour
apart can differ by 2x for one architecture). So after the runs every
completed trial is re-timed, all runs interleaved in one process (median of
3), and fronts and hypervolumes are given with both latencies; the verdict
uses the re-timed ones.

"Saves time" is read two ways: trials finished in the budget (complete,
pruned, or cut by --trial-timeout), and when the pruned run's anytime
hypervolume (front of the trials completed so far) first reached the
unpruned run's final hypervolume.
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


def read(out: Path) -> dict:
    """Counts, completed trials (quality, recorded latency, spec, completion time) and time span of one run."""
    study, _, _ = open_folder(out)
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    t0 = min(t.datetime_start for t in trials if t.datetime_start is not None)
    counts = {"complete": 0, "pruned": 0, "time_limit": 0, "timeout": 0, "fail": 0}
    done = []
    for t in trials:
        stopped = t.user_attrs.get("stopped")
        if t.state == TrialState.COMPLETE and t.values:
            counts["complete"] += 1
            done.append(t)
        elif t.state == TrialState.PRUNED:  # by the pruner, by --trial-timeout before a first evaluation, by --timeout
            counts[stopped if stopped in ("pruned", "time_limit") else "timeout"] += 1
        elif t.state == TrialState.FAIL and t.user_attrs.get("error") != "interrupted":
            counts["fail"] += 1
        else:
            counts["timeout"] += 1
    recorded = {t.number: (float(t.values[0]), float(t.values[1])) for t in done}
    assert set(front(recorded)) == {t.number for t in study.best_trials}, "front disagrees with Optuna's best_trials"
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    return {"study": study, "counts": counts, "recorded": recorded,
            "specs": {t.number: t.user_attrs["spec"] for t in done},
            "ended": {t.number: (t.datetime_complete - t0).total_seconds() for t in done},
            "span": (max(ends) - t0).total_seconds() if ends else 0.0}


def retime(runs: list[dict], rounds: int = 3) -> None:
    """Time every completed trial of ``runs`` again, interleaved, in this one process: ``run["retimed"]``.

    The latency a search records is measured while the trial runs, under whatever else the machine does at
    that moment; re-timing all of them round-robin (same process, same load, median of ``rounds``) makes
    the two runs' latencies comparable. Latency does not depend on the weights, so the architecture is
    built untrained (the trial's seed), exactly as the search measured it.
    """
    import statistics

    import torch

    from gnnnas.graph import BipartiteGraph
    from gnnnas.models.registry import build_model
    from gnnnas.models.spec import ArchSpec
    from gnnnas.search.api import load_study_dataset
    from gnnnas.search.objective import trial_cost
    models = []
    for r in runs:
        dataset = load_study_dataset(r["study"])
        graph = BipartiteGraph.of(dataset.train, dataset.n_items, torch.device("cpu"))
        seed = int(r["study"].user_attrs.get("seed", 0))
        for n, spec in r["specs"].items():
            models.append((r, n, build_model(ArchSpec.from_dict(spec), graph, seed, torch.device("cpu"))))
    times: dict[tuple[int, int], list[float]] = {}
    for _ in range(rounds):
        for r, n, model in models:
            times.setdefault((id(r), n), []).append(trial_cost(model, k=20).latency_ms)
    for r in runs:
        r["retimed"] = {n: (q, statistics.median(times[(id(r), n)])) for n, (q, _) in r["recorded"].items()}


def evaluate(r: dict, key: str, ref_latency: float) -> dict:
    """Front, hypervolume and anytime hypervolume of run ``r`` with latencies ``r[key]``."""
    points = r[key]
    on_front = front(points)
    anytime, seen = [], {}
    for n in sorted(points, key=lambda n: (r["ended"][n], n)):
        seen[n] = points[n]
        anytime.append((r["ended"][n], hypervolume(list(seen.values()), ref_latency)))
    return {"front": on_front, "hv": hypervolume([points[n] for n in on_front], ref_latency), "anytime": anytime}


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
            r = read(out)
            r["seconds"] = seconds
            results[(pruner, seed)] = r
    retime(list(results.values()))
    for (pruner, seed), r in results.items():
        c = r["counts"]
        r["finished"] = c["complete"] + c["pruned"] + c["time_limit"]
        print(f"\n{pruner} seed {seed}: {c['complete']} complete, {c['pruned']} pruned, {c['time_limit']} cut by "
              f"--trial-timeout before a first evaluation, {c['timeout']} timeout-cut, {c['fail']} failed; "
              f"first trial start to last trial end {r['span']:.0f} s"
              + (f", process {r['seconds']:.0f} s" if r["seconds"] is not None else ""))
        for key, label in (("recorded", "latency as recorded by the search"), ("retimed", "latency re-timed")):
            e = r[key + "_eval"] = evaluate(r, key, args.ref_latency_ms)
            print(f"  {label}: hypervolume {e['hv']:.4f}, front ({len(e['front'])} trials): "
                  + "; ".join(f"trial {n}: ndcg@20 {r[key][n][0]:.4f}, {r[key][n][1]:.2f} ms" for n in e["front"]))
    print("\n| seed | pruner | complete / pruned / cut by trial timeout / timeout-cut / failed | finished | "
          "front size (re-timed) | hypervolume, recorded latency | hypervolume, re-timed latency |")
    print("|---|---|---|---|---|---|---|")
    for (pruner, seed), r in results.items():
        c = r["counts"]
        print(f"| {seed} | {pruner} | {c['complete']} / {c['pruned']} / {c['time_limit']} / {c['timeout']} / "
              f"{c['fail']} | {r['finished']} | {len(r['retimed_eval']['front'])} | {r['recorded_eval']['hv']:.4f} | "
              f"{r['retimed_eval']['hv']:.4f} |")
    verdicts = []
    for seed in args.seeds:
        a, b = results[("cost_aware", seed)], results[("none", seed)]
        more = a["finished"] > b["finished"]
        hv_a, hv_b = a["retimed_eval"]["hv"], b["retimed_eval"]["hv"]
        kept = hv_a >= hv_b
        when = reached(a["retimed_eval"]["anytime"], hv_b)
        verdicts.append(more and kept)
        print(f"\nseed {seed}: cost_aware finished {'more' if more else 'not more'} trials ({a['finished']} vs "
              f"{b['finished']}); re-timed hypervolume {hv_a:.4f} vs {hv_b:.4f} ({'not lower' if kept else 'lower'}, "
              f"ratio {hv_a / hv_b if hv_b else float('nan'):.3f}); cost_aware reached the unpruned final "
              f"hypervolume {f'at {when:.0f} s' if when is not None else 'never'} of {args.budget:g} s")
    print(f"\nGoal (more trials finished and re-timed hypervolume not lower, every seed): "
          f"{'met' if all(verdicts) else 'not met'} ({sum(verdicts)}/{len(verdicts)} seeds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
