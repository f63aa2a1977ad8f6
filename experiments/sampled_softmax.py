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
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, gowalla_subset, machine  # noqa: E402
from scoring_ceiling import TRAINING, at_mark, lightgcn  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.models.spec import ArchSpec  # noqa: E402
from gnnnas.pipeline import train_and_evaluate  # noqa: E402
from gnnnas.training import TrainConfig  # noqa: E402

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
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=2)
    parser.add_argument("--patience", type=int, default=3, help="evaluations without improvement")
    parser.add_argument("--mark", type=float, default=20.0, help="seconds a search candidate gets")
    args = parser.parse_args()
    host, commit = machine(), git_commit()
    metric = "ndcg@20"
    print(f"Machine: {host}; commit {commit}\n")
    for data in args.datasets.split(","):
        lr, l2 = TRAINING[data]
        source = str(gowalla_subset(int(data.split("-")[1]))) if data.startswith("gowalla-") else data
        ds = load_dataset(source, DataOptions(seed=0))
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
            config = TrainConfig(epochs=args.epochs, eval_every=args.eval_every, patience=args.patience, seed=0,
                                 progress=False)
            started = time.perf_counter()
            report = train_and_evaluate(ds, spec, config)
            res = report.result
            early, early_epoch = at_mark(res.history, res.epoch_seconds, res.eval_seconds, args.mark, f"val_{metric}")
            row = {"dataset": data, "loss": loss, "scoring": scoring, "shared_negatives": shared, "dim": args.dim,
                   "lr": run_lr, "l2": run_l2, "mark": args.mark, "val_at_mark": early, "epoch_at_mark": early_epoch,
                   "best_epoch": res.best_epoch, "epochs_run": res.epochs_run, "stopped": res.stopped,
                   "epoch_seconds": res.median_epoch_seconds, "seconds": time.perf_counter() - started,
                   "val": report.val, "test": report.test, "machine": host, "commit": commit}
            with RESULTS.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"| {loss} | {scoring} | {shared} | {run_lr:g} | {run_l2:g} | {early:.4f} ({early_epoch}) | "
                  f"{res.best_epoch} of {res.epochs_run} ({res.stopped}) | {res.median_epoch_seconds:.2f} | "
                  f"{report.val[metric]:.4f} | {report.test[metric]:.4f} |", flush=True)
        print()


if __name__ == "__main__":
    main()
