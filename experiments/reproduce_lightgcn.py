"""Reproduce the LightGCN paper on the full Gowalla split (needs a GPU for a sane run time).

Paper (He et al. 2020, Table 3, 3 layers): Recall@20 0.1830, NDCG@20 0.1554.
Settings: dim 64, lr 1e-3, L2 1e-4, batch 2048, 3 layers, one negative.

Protocol: 10% of each user's training items are held out as validation;
training stops early on validation NDCG@20 (evaluated every 20 epochs,
patience 5 evaluations, at most 1000 epochs); then the model is retrained on
train + validation for the selected number of epochs (``--refit``) and the
test split (the paper's test.txt) is ranked once. The validation curve is
written next to the summary.

    python experiments/reproduce_lightgcn.py --device cuda [--data ../shared/datasets/gowalla]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, SHARED, git_commit, machine  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.device import resolve_device  # noqa: E402
from gnnnas.models.registry import override  # noqa: E402
from gnnnas.models.presets import PRESETS  # noqa: E402
from gnnnas.pipeline import train_and_evaluate  # noqa: E402
from gnnnas.training import TrainConfig  # noqa: E402

PAPER = {"recall@20": 0.1830, "ndcg@20": 0.1554}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED / "datasets" / "gowalla"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--no-refit", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    ds = load_dataset(args.data, DataOptions(val_ratio=0.1, seed=0))
    config = TrainConfig(epochs=args.epochs, batch_size=2048, lr=1e-3, l2=1e-4, eval_every=args.eval_every,
                         patience=args.patience, metric="ndcg@20", ks=(20,), eval_batch_size=4096, progress=True)
    # The paper's settings: 3 layers, dim 64, Adam lr 1e-3, L2 1e-4, batch 2048.
    arch = override(PRESETS["lightgcn"].spec, layers=3, dim=64, lr=1e-3, l2=1e-4, batch_size=2048)
    report = train_and_evaluate(ds, arch, config, device, refit=not args.no_refit)
    summary = dict(report.to_dict(), paper=PAPER, machine=machine(), commit=git_commit(), data=args.data,
                   relative_gap={k: report.test[k] / v - 1 for k, v in PAPER.items()})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reproduce_lightgcn.json").write_text(json.dumps(summary, indent=2))
    with open(OUT / "reproduce_lightgcn_curve.csv", "w") as f:
        f.write("epoch,loss,val_recall@20,val_ndcg@20\n")
        for row in report.result.history:
            if "val_ndcg@20" in row:
                f.write(f"{row['epoch']},{row['loss']:.6f},{row['val_recall@20']:.6f},{row['val_ndcg@20']:.6f}\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
