"""Every named preset trained with ``gnnnas train --arch NAME`` on the bundled dataset, against popularity.

Each preset runs the exact command a user would type, with the same training
budget (the demo's: Adam lr 0.005, at most 60 epochs, validation every 3,
patience 4; everything else from the preset's spec), early stopping and model
selection on the validation split, test Recall@20/NDCG@20 reported once.

    python experiments/presets_bundled.py [--presets mf,lightgcn,...] [--epochs 60]

Prints a Markdown table; appends JSON lines to experiments/out/presets_bundled.jsonl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, machine  # noqa: E402

PRESETS = ["mf", "lightgcn", "ngcf", "gcn", "sage", "gin", "gat"]


def train(arch: str, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "gnnnas", "train", "--arch", arch, "--data", "online-retail", "--json", "--quiet",
           "--device", "cpu", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    budget = ["--lr", "0.005", "--epochs", str(args.epochs), "--eval-every", "3", "--patience", "4"]
    OUT.mkdir(parents=True, exist_ok=True)
    rows = [dict(train("popularity", []), preset="popularity")]
    print(f"popularity: test recall@20 {rows[0]['test']['recall@20']:.4f}", file=sys.stderr, flush=True)
    for name in args.presets.split(","):
        row = dict(train(name, budget), preset=name)
        rows.append(row)
        print(f"{name}: test recall@20 {row['test']['recall@20']:.4f} ({row['seconds']:.0f} s)",
              file=sys.stderr, flush=True)
    base = rows[0]["test"]["recall@20"]
    with open(OUT / "presets_bundled.jsonl", "a") as f:
        for row in rows:
            f.write(json.dumps(dict(row, machine=machine(), commit=git_commit())) + "\n")
    print(f"\nMachine: {machine()}; commit {git_commit()}; online-retail (bundled), "
          f"budget {' '.join(budget)}\n")
    print("| arch | params | best epoch / run | s/epoch | val NDCG@20 | test Recall@20 | test NDCG@20 | beats popularity |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        val = r["val"].get("ndcg@20")
        print(f"| {r['preset']} | {r['params']:,} | {r['best_epoch']} / {r['epochs_run']} | "
              f"{r['epoch_seconds']:.2f} | {val:.4f} | {r['test']['recall@20']:.4f} | {r['test']['ndcg@20']:.4f} | "
              f"{'-' if r['preset'] == 'popularity' else ('yes' if r['test']['recall@20'] > base else 'NO')} |")


if __name__ == "__main__":
    main()
