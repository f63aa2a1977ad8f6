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
        [--time-budget SECONDS] [--no-refit] [--out DIR]

With ``--time-budget`` (a GPU session's device time is short) selection stops
at the first evaluation past its share of the budget and the refit is skipped
when its epochs would not fit; the summary says which happened. The
validation curve is appended after every evaluation, so a run killed at a
time limit keeps it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
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
    parser.add_argument("--time-budget", type=float, default=0.0,
                        help="seconds for the whole run (0: none); selection stops at the first evaluation past "
                             "its share, and the refit runs only if its epochs fit in what is left")
    parser.add_argument("--out", default=str(OUT), help="folder for the summary and the validation curve")
    args = parser.parse_args()
    started = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    ds = load_dataset(args.data, DataOptions(val_ratio=0.1, seed=0))
    config = TrainConfig(epochs=args.epochs, batch_size=2048, lr=1e-3, l2=1e-4, eval_every=args.eval_every,
                         patience=args.patience, metric="ndcg@20", ks=(20,), eval_batch_size=4096, progress=True)
    # The paper's settings: 3 layers, dim 64, Adam lr 1e-3, L2 1e-4, batch 2048.
    arch = override(PRESETS["lightgcn"].spec, layers=3, dim=64, lr=1e-3, l2=1e-4, batch_size=2048)
    # A refit trains as many epochs again, so selection gets half the budget when one follows.
    share = args.time_budget * (1.0 if args.no_refit else 0.5)
    curve = out / "reproduce_lightgcn_curve.csv"
    curve.write_text("epoch,seconds,val_recall@20,val_ndcg@20\n")

    def log_and_watch(event) -> bool:
        # one line per evaluation, flushed: a run killed at its time limit keeps its curve
        with open(curve, "a") as f:
            f.write(f"{event.epoch},{time.monotonic() - started:.1f},{event.metrics['recall@20']:.6f},"
                    f"{event.metrics['ndcg@20']:.6f}\n")
        return bool(share) and time.monotonic() - started > share

    report = train_and_evaluate(ds, arch, config, device, refit=False, callbacks=[log_and_watch])
    summary = dict(report.to_dict(), paper=PAPER, machine=machine(), commit=git_commit(), data=args.data,
                   device=str(device), time_budget=args.time_budget)
    if not args.no_refit:
        epochs = max(1, report.result.best_epoch or report.result.epochs_run)
        needed = epochs * report.result.median_epoch_seconds
        left = args.time_budget - (time.monotonic() - started) if args.time_budget else float("inf")
        if needed < left:
            refit = train_and_evaluate(ds.refit(), arch, replace(config, epochs=epochs), device)
            summary.update(test=refit.test, refit=True, refit_epochs=epochs,
                           test_before_refit=report.test)
        else:
            summary.update(refit=False, refit_skipped=f"{epochs} epochs need ~{needed:.0f} s, {left:.0f} s left")
    summary["relative_gap"] = {k: summary["test"][k] / v - 1 for k, v in PAPER.items()}
    summary["seconds"] = time.monotonic() - started
    (out / "reproduce_lightgcn.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
