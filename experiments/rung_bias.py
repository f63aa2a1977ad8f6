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
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import optuna
import pandas as pd

from gnnnas.search.api import open_folder


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
        rows.append({"trial": t.number, "at_rung": at[0], "final": float(t.values[0]), "family": family})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="run folders of searches without pruning")
    parser.add_argument("--rung", type=int, default=2, help="the first rung's epoch")
    parser.add_argument("--top", type=int, default=5, help="how many of the final best to follow")
    args = parser.parse_args()
    optuna.logging.set_verbosity(logging.WARNING)
    print(f"| search | trials | Spearman (epoch {args.rung} vs. end) | {args.top} best at the end: place at epoch "
          f"{args.rung} (of N) | of them in the top third at epoch {args.rung} | family: in the top third / trials |")
    print("|---|---|---|---|---|---|")
    for folder in args.folders:
        d = curves(folder, args.rung)
        d["rung_rank"] = d["at_rung"].rank(ascending=False, method="min").astype(int)
        third = max(1, len(d) // 3)
        d["promoted"] = d["rung_rank"] <= third
        best = d.sort_values("final", ascending=False).head(args.top)
        places = ", ".join(f"{r.rung_rank} ({r.final:.4f})" for r in best.itertuples())
        families = "; ".join(f"{f}: {int(g.promoted.sum())} / {len(g)}" for f, g in d.groupby("family"))
        rho = d["at_rung"].corr(d["final"], method="spearman")
        print(f"| {folder.name} | {len(d)} | {rho:.2f} | {places} | {int(best.promoted.sum())} of {len(best)} "
              f"| {families} |")


if __name__ == "__main__":
    main()
