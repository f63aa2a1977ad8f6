"""Which learning rates can a search candidate use? Searches' winners at a ladder of learning rates.

A search candidate gets a few epochs (``--max-epochs 10`` in the search-efficiency
benchmark, 20 in the space comparison), so a learning rate that needs hundreds
of epochs can only lose, and every start-up draw spent on one is wasted. The
winners of the recorded searches all sit at lr 6e-3 to 1e-2, against the top
of the spaces' range (1e-2). This trains those winners' designs, each with its
own L2, batch and loss, at each learning rate of ``--lrs`` and reports the best
validation NDCG@20 within each epoch count of ``--marks`` (evaluated every 2
epochs, early stopping after 5 evaluations without improvement, as in the
searches), and the test NDCG@20 of the model at its best validation epoch.
Same data, split and training seed as the searches (``DataOptions(seed=0)``,
seed 0).

    python experiments/lr_range.py [--designs mf-cosine-softmax,lightgcn1-dot-bpr] [--datasets online-retail]

Prints a Markdown table per dataset and design and appends one JSON line per
model to experiments/out/lr_range.jsonl.

    python experiments/lr_range.py --runs DIR [DIR ...]

trains nothing: for each recorded search (a ``gnnnas search --out`` folder) it
counts the completed candidates whose learning rate fell in each band of
``--bands`` and prints the best and median validation value of each band.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT  # noqa: E402
from scoring_ceiling import facts, lightgcn, load  # noqa: E402

from optuna.trial import TrialState  # noqa: E402

from gnnnas.models.registry import override  # noqa: E402
from gnnnas.pipeline import train_and_evaluate  # noqa: E402
from gnnnas.search.api import open_folder  # noqa: E402
from gnnnas.training import TrainConfig  # noqa: E402
from gnnnas.training.trainer import TrainingDiverged  # noqa: E402

RESULTS = OUT / "lr_range.jsonl"


#: design name -> (the winner's ArchSpec at the lr it won with, where it won)
DESIGNS = {
    # search_efficiency.py seed 0's winner (package code of cd7acb5): MF, 128, cosine, softmax + 256 shared
    "mf-cosine-softmax": (override(lightgcn(0, 128, "cosine", 6.34e-3, 2.21e-6), batch_size=1024,
                                   loss="softmax", shared_negatives=256),
                          "search-efficiency winner, online-retail"),
    # space_vs_lightgcn.py online-retail seed 0, LightGCN space's winner (cd7acb5): 1 layer, 128, dot, BPR
    "lightgcn1-dot-bpr": (lightgcn(1, 128, "dot", 9.62e-3, 2.77e-3), "LightGCN-space winner, online-retail"),
    # space_vs_lightgcn.py gowalla-6000 seed 0, LightGCN space's winner (ec42a9c): 2 layers, 128, dot, BPR
    "lightgcn2-dot-bpr": (lightgcn(2, 128, "dot", 9.78e-3, 2.84e-4), "LightGCN-space winner, gowalla-6000"),
}


def best_within(history: list[dict], epochs: int, metric: str) -> float:
    values = [row[metric] for row in history if metric in row and row["epoch"] <= epochs]
    return max(values, default=float("nan"))


def bands_of_runs(runs: list[str], edges: list[float]) -> None:
    """Per recorded search: completed trials by learning-rate band, with the band's best and median value."""
    heads = [f"{lo:g} to {hi:g}" for lo, hi in zip(edges, edges[1:])]
    print("| search | " + " | ".join(heads) + " |")
    print("|---" * (len(heads) + 1) + "|")
    for folder in runs:
        study, _, _ = open_folder(folder)
        values: list[list[float]] = [[] for _ in heads]
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            spec = t.user_attrs.get("spec")
            if spec is None or t.value is None:
                continue
            band = bisect.bisect_right(edges, spec["training"]["lr"]) - 1
            if 0 <= band < len(heads):
                values[band].append(t.value)
        cells = [f"{len(v)}: {max(v):.3f} / {statistics.median(v):.3f}" if v else "0" for v in values]
        print(f"| {folder} | " + " | ".join(cells) + " |")
    print("\n(completed trials in the band: best / median validation value)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", metavar="DIR", help="tabulate these recorded searches, train nothing")
    parser.add_argument("--bands", default="1e-4,3e-4,1e-3,2e-3,4e-3,7e-3,1e-2",
                        help="learning-rate band edges for --runs (a trial at the top edge counts in the top band)")
    parser.add_argument("--datasets", default="online-retail")
    parser.add_argument("--designs", default="mf-cosine-softmax,lightgcn1-dot-bpr")
    parser.add_argument("--lrs", default="1e-3,2.5e-3,5e-3,1e-2,2e-2,4e-2,8e-2")
    parser.add_argument("--marks", default="10,20", help="epoch counts at which to read the best validation value")
    args = parser.parse_args()
    if args.runs:
        edges = [float(v) for v in args.bands.split(",")]
        bands_of_runs(args.runs, edges[:-1] + [math.nextafter(edges[-1], math.inf)])
        return
    metric, marks = "ndcg@20", [int(m) for m in args.marks.split(",")]
    lrs = [float(v) for v in args.lrs.split(",")]
    config = TrainConfig(epochs=max(marks), eval_every=2, patience=5, seed=0, progress=False)
    print(f"Machine: {facts()[0]}; commit {facts()[1]}\n")
    for data in args.datasets.split(","):
        ds = load(data)
        for name in args.designs.split(","):
            base, origin = DESIGNS[name]
            print(f"### {data}: {name} ({origin}; {base})\n")
            print("| lr | " + " | ".join(f"best val within {m} epochs" for m in marks) +
                  " | best epoch | test NDCG@20 | s/epoch |")
            print("|---" * (len(marks) + 4) + "|")
            for lr in lrs:
                started = time.perf_counter()
                row = {"dataset": data, "design": name, "lr": lr, "machine": facts()[0], "commit": facts()[1]}
                try:
                    report = train_and_evaluate(ds, override(base, lr=lr), config)
                except TrainingDiverged as e:  # a diverging lr (NaN loss) fails as a search trial would
                    row.update(error=str(e))
                    print(f"| {lr:g} | failed: {e} |", flush=True)
                else:
                    res = report.result
                    row.update({f"val_within_{m}": best_within(res.history, m, f"val_{metric}") for m in marks})
                    row.update(best_epoch=res.best_epoch, test=report.test[metric],
                               epoch_seconds=res.median_epoch_seconds)
                    print(f"| {lr:g} | " + " | ".join(f"{row[f'val_within_{m}']:.4f}" for m in marks) +
                          f" | {res.best_epoch} | {row['test']:.4f} | {res.median_epoch_seconds:.2f} |", flush=True)
                row["seconds"] = time.perf_counter() - started
                with RESULTS.open("a") as f:
                    f.write(json.dumps(row) + "\n")
            print()


if __name__ == "__main__":
    main()
