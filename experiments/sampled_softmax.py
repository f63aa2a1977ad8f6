"""Sampled softmax with batch-shared negatives vs. BPR, on the LightGCN-space winner's design.

The default space searches the loss (``training.loss``: ``bpr`` or ``softmax``)
and the negatives a mini-batch shares (``training.shared_negatives``). This
trains the dataset's LightGCN-space winner (one LightGCN layer, 128 wide) once
with its own training (BPR, one negative per pair, its lr and L2; with
``--bpr-shared`` also with N shared negatives more) and then with sampled
softmax over one negative per pair plus N shared ones, for each N of
``--shared`` and each scoring of ``--scorings`` (lr ``--lr``, L2 ``--l2``:
cosine scores ignore the embeddings' norm, so L2 barely matters there). Early stopping on validation NDCG@20; it reports the value at the
``--mark`` seconds a search candidate gets (training plus evaluation time),
the converged validation and test NDCG@20 and seconds per epoch. Same data,
split and training seed as the searches (``DataOptions(seed=0)``, seed 0).

    python experiments/sampled_softmax.py [--datasets online-retail,gowalla-6000]

Prints a Markdown table per dataset and appends one JSON line per model to
experiments/out/sampled_softmax.jsonl.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT  # noqa: E402
from scoring_ceiling import (  # noqa: E402
    TRAINING, add_run_options, cells, facts, lightgcn, load, measure, run_config,
)

from gnnnas.models.spec import ArchSpec  # noqa: E402

RESULTS = OUT / "sampled_softmax.jsonl"


def variant(base: ArchSpec, loss: str, scoring: str, shared: int, lr: float, l2: float) -> ArchSpec:
    data = base.to_dict()
    data["scoring"] = scoring
    data["training"].update(loss=loss, shared_negatives=shared, lr=lr, l2=l2)
    return ArchSpec.from_dict(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="online-retail,gowalla-6000")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--shared", default="256,1024", help="shared negatives per batch for sampled softmax")
    parser.add_argument("--scorings", default="cosine,dot")
    parser.add_argument("--bpr-shared", action="store_true",
                        help="also train BPR (the winner's lr and L2) with each count of shared negatives")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--l2", type=float, default=1e-5)
    add_run_options(parser, epochs=100)
    args = parser.parse_args()
    metric = "ndcg@20"
    print(f"Machine: {facts()[0]}; commit {facts()[1]}\n")
    for data in args.datasets.split(","):
        lr, l2 = TRAINING[data]
        ds = load(data)
        base = lightgcn(1, args.dim, "dot", lr, l2)
        shared = [int(n) for n in args.shared.split(",")]
        runs = [("bpr", "dot", n, lr, l2) for n in [0] + (shared if args.bpr_shared else [])]
        runs += [("softmax", scoring, n, args.lr, args.l2) for scoring in args.scorings.split(",") for n in shared]
        print(f"### {data} (1-layer LightGCN, dim {args.dim}, batch 2048, 1 negative per pair)\n")
        print(f"| loss | scoring | shared negatives | lr | L2 | val at {args.mark:g} s (epoch) | best epoch of run | "
              "s/epoch | val NDCG@20 | test NDCG@20 |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for loss, scoring, shared, run_lr, run_l2 in runs:
            spec = variant(base, loss, scoring, shared, run_lr, run_l2)
            row = measure(ds, spec, run_config(args), args.mark, metric, RESULTS, dataset=data, loss=loss, scoring=scoring,
                          shared_negatives=shared, dim=args.dim, lr=run_lr, l2=run_l2)
            print(f"| {loss} | {scoring} | {shared} | {run_lr:g} | {run_l2:g} | {cells(row, metric)} |", flush=True)
        print()


if __name__ == "__main__":
    main()
