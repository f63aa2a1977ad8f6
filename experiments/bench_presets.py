"""Every named preset on the same data: seconds per epoch and quality after equal epochs.

Each preset trains with its own training knobs (learning rate, L2, batch
size from its spec) for the same number of epochs, no early stopping, seed 0;
the same evaluator ranks all items for each test user. The popularity
baseline is listed for reference. Also reports parameter count and the
median latency of one full forward pass (eval mode).

    python experiments/bench_presets.py [--epochs 2] [--dataset gowalla-6000] [--device cpu]

Prints a Markdown table and appends JSON lines to experiments/out/bench_presets.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, gowalla_subset, machine  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.device import resolve_device  # noqa: E402
from gnnnas.evaluation import Evaluator  # noqa: E402
from gnnnas.graph import BipartiteGraph  # noqa: E402
from gnnnas.models.presets import PRESETS  # noqa: E402
from gnnnas.models.profile import forward_latency  # noqa: E402
from gnnnas.pipeline import build_model, train_config  # noqa: E402
from gnnnas.training import TrainConfig, Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dataset", default="gowalla-6000")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", default=",".join(["popularity", *PRESETS]))
    args = parser.parse_args()
    device = resolve_device(args.device)
    source = str(gowalla_subset(int(args.dataset.split("-")[1]))) if args.dataset.startswith("gowalla-") else args.dataset
    ds = load_dataset(source, DataOptions(seed=0))
    no_val = replace(ds, val=ds.val.from_pairs(np.empty(0), np.empty(0), ds.n_users))
    graph = BipartiteGraph.of(ds.train, ds.n_items, device)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.presets.split(","):
        arch = name if name == "popularity" else PRESETS[name].spec
        model = build_model(arch, graph, seed=0, device=device)
        config = replace(train_config(arch, TrainConfig(epochs=args.epochs, progress=False)), eval_every=10**9)
        result = Trainer(model, no_val, config, graph=graph).fit()
        metrics = Evaluator(ds, "test", ks=(20,), device=device)(model.scorer())
        row = {"dataset": args.dataset, "preset": name, "epochs": args.epochs, "device": str(device),
               "epoch_seconds": result.epoch_seconds,
               "median_epoch_seconds": statistics.median(result.epoch_seconds) if result.epoch_seconds else 0.0,
               "params": model.num_parameters(), "forward_ms": 1000 * forward_latency(model),
               **metrics, "machine": machine(), "commit": git_commit()}
        rows.append(row)
        print(f"{name}: {row['median_epoch_seconds']:.2f} s/epoch, recall@20 {row['recall@20']:.4f}",
              file=sys.stderr, flush=True)
        with open(OUT / "bench_presets.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
    print(f"\nMachine: {machine()}; commit {git_commit()}; {args.dataset}, {args.epochs} epochs\n")
    print("| preset | params | s/epoch (median) | forward ms | Recall@20 | NDCG@20 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['params']:,} | {r['median_epoch_seconds']:.2f} | {r['forward_ms']:.1f} | "
              f"{r['recall@20']:.4f} | {r['ndcg@20']:.4f} |")


if __name__ == "__main__":
    main()
