"""Cosine vs. dot-product scoring: which starts faster, which ends higher?

The default space's low-fidelity searches (20 s per candidate) settle on
cosine scoring, while the LightGCN space's winners, trained longer, all use
dot products. This trains the same LightGCN (``--layers`` layers, lr and L2
of the dataset's LightGCN-space winner) with each scoring and embedding size,
with early stopping on validation NDCG@20, and reports both ends of the
curve: validation NDCG@20 at the ``--mark`` seconds a search candidate gets
(training plus evaluation time, the last evaluation at or before the mark),
and the converged validation and test NDCG@20. Same data, split and
training seed as the searches (``DataOptions(seed=0)``, training seed 0).

    python experiments/scoring_ceiling.py [--datasets online-retail,gowalla-6000] [--epochs 80]

Prints a Markdown table per dataset and appends one JSON line per model to
experiments/out/scoring_ceiling.jsonl.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, gowalla_subset, machine  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.models.spec import ArchSpec  # noqa: E402
from gnnnas.pipeline import train_and_evaluate  # noqa: E402
from gnnnas.training import TrainConfig  # noqa: E402

RESULTS = OUT / "scoring_ceiling.jsonl"

#: dataset -> (lr, L2) of its LightGCN-space winner (experiments/RESULTS.md, space_vs_lightgcn)
TRAINING = {"online-retail": (7.63e-3, 2.99e-3), "gowalla-6000": (4.01e-3, 7.31e-5)}


def lightgcn(layers: int, dim: int, scoring: str, lr: float, l2: float) -> ArchSpec:
    layer = {"aggregator": "lightgcn", "hidden": dim, "activation": "identity", "dropout": 0.0, "norm": "none"}
    return ArchSpec.from_dict({"embedding_dim": dim, "layers": [dict(layer) for _ in range(layers)], "skip": "none",
                               "combination": "mean", "scoring": scoring,
                               "training": {"lr": lr, "l2": l2, "batch_size": 2048, "num_negatives": 1}})


def at_mark(history: list[dict], epoch_seconds: list[float], eval_seconds: list[float], mark: float,
            metric: str) -> tuple[float, int]:
    """Best validation value evaluated within ``mark`` seconds of training plus evaluation, and its epoch."""
    elapsed, evals, best, best_epoch = 0.0, iter(eval_seconds), float("nan"), 0
    for row, seconds in zip(history, epoch_seconds):
        elapsed += seconds
        if metric in row:
            elapsed += next(evals, 0.0)
            if elapsed > mark:
                break
            if not best >= row[metric]:
                best, best_epoch = row[metric], row["epoch"]
    return best, best_epoch


def add_run_options(parser: argparse.ArgumentParser, epochs: int) -> None:
    """How each model is trained and judged: epochs, evaluation interval, patience, the search's mark."""
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--eval-every", type=int, default=2)
    parser.add_argument("--patience", type=int, default=3, help="evaluations without improvement")
    parser.add_argument("--mark", type=float, default=20.0, help="seconds a search candidate gets")


def run_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(epochs=args.epochs, eval_every=args.eval_every, patience=args.patience, seed=0, progress=False)


def load(data: str):
    """A dataset by benchmark name (``online-retail``, ``gowalla-6000``), split as the searches split it."""
    source = str(gowalla_subset(int(data.split("-")[1]))) if data.startswith("gowalla-") else data
    return load_dataset(source, DataOptions(seed=0))


@functools.lru_cache(maxsize=1)
def facts() -> tuple[str, str]:
    return machine(), git_commit()


def measure(ds, spec: ArchSpec, config: TrainConfig, mark: float, metric: str, results: Path,
            **fields) -> dict:
    """Train ``spec`` with early stopping, append its JSON line (``fields`` first) to ``results``, return it.

    The line holds the best validation value within ``mark`` seconds (``val_at_mark``), where training
    stopped, seconds per epoch and the converged validation and test metrics.
    """
    started = time.perf_counter()
    report = train_and_evaluate(ds, spec, config)
    res = report.result
    early, early_epoch = at_mark(res.history, res.epoch_seconds, res.eval_seconds, mark, f"val_{metric}")
    row = {**fields, "mark": mark, "val_at_mark": early, "epoch_at_mark": early_epoch, "best_epoch": res.best_epoch,
           "epochs_run": res.epochs_run, "stopped": res.stopped, "epoch_seconds": res.median_epoch_seconds,
           "seconds": time.perf_counter() - started, "val": report.val, "test": report.test,
           "machine": facts()[0], "commit": facts()[1]}
    with results.open("a") as f:
        f.write(json.dumps(row) + "\n")
    return row


def cells(row: dict, metric: str) -> str:
    """The measured columns of a table row: value at the mark, best epoch, s/epoch, val and test."""
    return (f"{row['val_at_mark']:.4f} ({row['epoch_at_mark']}) | {row['best_epoch']} of {row['epochs_run']} "
            f"({row['stopped']}) | {row['epoch_seconds']:.2f} | {row['val'][metric]:.4f} | {row['test'][metric]:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="online-retail,gowalla-6000")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--dims", default="64,128")
    parser.add_argument("--scorings", default="dot,cosine")
    add_run_options(parser, epochs=80)
    args = parser.parse_args()
    metric = "ndcg@20"
    print(f"Machine: {facts()[0]}; commit {facts()[1]}\n")
    for data in args.datasets.split(","):
        lr, l2 = TRAINING[data]
        ds = load(data)
        print(f"### {data} ({args.layers}-layer LightGCN, lr {lr:g}, L2 {l2:g}, batch 2048, 1 negative)\n")
        print(f"| scoring | dim | val at {args.mark:g} s (epoch) | converged: best epoch of run | s/epoch | "
              "val NDCG@20 | test NDCG@20 |")
        print("|---|---|---|---|---|---|---|")
        for dim in (int(d) for d in args.dims.split(",")):
            for scoring in args.scorings.split(","):
                spec = lightgcn(args.layers, dim, scoring, lr, l2)
                row = measure(ds, spec, run_config(args), args.mark, metric, RESULTS, dataset=data, scoring=scoring, dim=dim,
                              layers=args.layers, lr=lr, l2=l2)
                print(f"| {scoring} | {dim} | {cells(row, metric)} |", flush=True)
        print()


if __name__ == "__main__":
    main()
