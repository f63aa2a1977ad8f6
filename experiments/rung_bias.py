"""How well the first pruning rung predicts a candidate's end: read unpruned searches, no training.

ASHA judges a candidate at its first rung (epoch 2 of 10 in ``search_efficiency.py``) and lets
the top third of the candidates seen there go on. This reads searches that pruned nothing
(``optuna-random+none`` run folders of ``search_efficiency.py``), where every candidate's whole
validation curve is stored, and asks of each search:

* the Spearman rank correlation between the value at the rung and the final value;
* for the 5 best candidates at the end, their place at the rung (rank among all candidates
  with a value there) and whether they were in its top third (the ones ASHA would promote,
  judged over the whole search at once; the real ASHA compares with the candidates seen so
  far, so this is an approximation of its rule);
* the same top-third share per family: cosine scoring with sampled softmax, and the rest.

    python experiments/rung_bias.py experiments/out/search_efficiency/optuna-random+none-s{0,1,2} --rung 2

``--replay 0,3,6,10`` adds a second table: the search's own draws replayed in trial order under
ASHA's rule at the rung (``gnnnas.search.asha.promotable``, each candidate against the rung values
of the candidates before it) with a grace of G: no candidate is stopped at the rung before G earlier
ones reached it. A stopped candidate costs its seconds up to its rung evaluation (plus its
set-up, the seconds it spent outside training), a promoted one its whole run. Only completed
candidates with an evaluation at or past the rung take part (the timeout-cut last trial and candidates
cut by ``--trial-timeout`` before the rung are never judged there), so "seconds" are theirs. Reported per G: candidates stopped, seconds spent (share of the unpruned
search's), the best final value kept, and when the replayed search first holds the unpruned
search's final best (seconds, and share of the unpruned search's seconds): what pruning alone, with
the same proposals, does to the race.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import optuna
import pandas as pd

from gnnnas.search.api import open_folder
from gnnnas.search.asha import promotable
from gnnnas.search.pruners import REDUCTION


def curves(folder: Path, rung: int) -> pd.DataFrame:
    """One row per completed trial: its value at ``rung`` (first evaluation at or past it), final value, family."""
    study, _, _ = open_folder(folder)
    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        at = [v for step, v in sorted(t.intermediate_values.items()) if step >= rung]
        if not at:
            continue
        spec = t.user_attrs["spec"]
        training = spec.get("training") or {}
        softmax = str(training.get("loss", "bpr")).startswith("softmax")
        family = "cosine + softmax" if spec.get("scoring") == "cosine" and softmax else "other"
        curve = t.user_attrs.get("curve") or []
        stamps = t.user_attrs.get("curve_seconds") or []
        at_seconds = next((s for (epoch, _), s in zip(curve, stamps) if epoch >= rung), None)
        seconds = float(t.user_attrs.get("seconds", stamps[-1] if stamps else 0.0))
        setup = max(0.0, seconds - (stamps[-1] if stamps else 0.0))
        rows.append({"trial": t.number, "at_rung": at[0], "final": float(t.values[0]), "family": family,
                     "seconds": seconds, "rung_cost": None if at_seconds is None else at_seconds + setup})
    return pd.DataFrame(rows)


def replay(d: pd.DataFrame, grace: int) -> dict:
    """ASHA's rung decision with a grace of ``grace`` candidates, replayed over ``d`` in trial order."""
    target = d["final"].max()
    seen: list[float] = []
    clock, stopped, best, reached = 0.0, 0, float("-inf"), None
    for r in d.sort_values("trial").itertuples():
        stop = (len(seen) >= grace and r.rung_cost is not None
                and not promotable(r.at_rung, [*seen, r.at_rung], REDUCTION, maximize=True))
        seen.append(r.at_rung)
        clock += r.rung_cost if stop else r.seconds
        if stop:
            stopped += 1
            continue
        best = max(best, r.final)
        if reached is None and best >= target:
            reached = clock
    return {"stopped": stopped, "clock": clock, "best": best, "reached": reached}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="run folders of searches without pruning")
    parser.add_argument("--rung", type=int, default=2, help="the first rung's epoch")
    parser.add_argument("--top", type=int, default=5, help="how many of the final best to follow")
    parser.add_argument("--replay", default="", help="comma-separated graces G to replay ASHA's rung with (see above)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(logging.WARNING)
    print(f"| search | trials | Spearman (epoch {args.rung} vs. end) | {args.top} best at the end: place at epoch "
          f"{args.rung} (of N) | of them in the top third at epoch {args.rung} | family: in the top third / trials |")
    print("|---|---|---|---|---|---|")
    searches = {folder: curves(folder, args.rung) for folder in args.folders}  # each study read once
    for folder, d in searches.items():
        d = d.copy()
        d["rung_rank"] = d["at_rung"].rank(ascending=False, method="min").astype(int)
        third = max(1, len(d) // 3)
        d["promoted"] = d["rung_rank"] <= third
        best = d.sort_values("final", ascending=False).head(args.top)
        places = ", ".join(f"{r.rung_rank} ({r.final:.4f})" for r in best.itertuples())
        families = "; ".join(f"{f}: {int(g.promoted.sum())} / {len(g)}" for f, g in d.groupby("family"))
        rho = d["at_rung"].corr(d["final"], method="spearman")
        print(f"| {folder.name} | {len(d)} | {rho:.2f} | {places} | {int(best.promoted.sum())} of {len(best)} "
              f"| {families} |")
    if not args.replay:
        return
    graces = [int(g) for g in args.replay.split(",")]
    print(f"\n| search | unpruned: seconds, best | grace G | stopped at epoch {args.rung} | seconds spent (share) "
          f"| best kept | holds the unpruned best at: seconds (share) |")
    print("|---|---|---|---|---|---|---|")
    for folder, d in searches.items():
        total = d["seconds"].sum()
        for g in graces:
            r = replay(d, g)
            at = "never" if r["reached"] is None else f"{r['reached']:.0f} ({r['reached'] / total:.2f})"
            print(f"| {folder.name} | {total:.0f}, {d['final'].max():.4f} | {g} | {r['stopped']} of {len(d)} "
                  f"| {r['clock']:.0f} ({r['clock'] / total:.2f}) | {r['best']:.4f} | {at} |")


if __name__ == "__main__":
    main()
