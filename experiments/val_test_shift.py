"""Do the validation and test splits reward the same rankers?

Model selection reads the validation split only, so it picks the test winner
only if both splits rank candidates alike. This script measures two things
for each dataset:

1. **Popularity** (rank items by training count, the same list for every
   user): NDCG@20 on validation (train items excluded) and on test (train and
   validation items excluded), and on test with each user's test items
   subsampled to as many as the user has in validation, so that the number of
   relevant items per user, which alone moves NDCG, is the same in both.
   A test/validation ratio near 1 on the subsampled test means the two
   splits reward popularity alike; well above 1, that test items sit more in
   the popular head than validation items do. Where they sit is measured
   too: the share of each split's interactions (training's own included, the
   share a random draw from training would have) on the 20, 100 and 1,000
   items most frequent in training, and the median training count of their
   items.
2. **Recorded searches** (``--runs FOLDER ...``, each with a
   ``leaderboard.csv``): test / validation NDCG@20 of every complete trial
   (and of every final fit), grouped by scoring function and loss.

    GNNNAS_SHARED=/work/shared python experiments/val_test_shift.py --datasets gowalla-6000 online-retail \\
        --runs experiments/out/space_vs_lightgcn/gowalla-6000-*-s*

The split is the one a search with ``--seed SEED`` uses (``DataOptions(seed=SEED)``).
``--datasets`` takes bundled names, ``gowalla-6000``, or a dataset folder such as
``/work/shared/datasets/gowalla`` (full Gowalla in LightGCN's split).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_source, machine  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.data.dataset import Dataset, SplitData  # noqa: E402
from gnnnas.evaluation.metrics import topk_metrics  # noqa: E402
from gnnnas.evaluation.ranking import Evaluator  # noqa: E402


def _subsample(test: SplitData, val: SplitData, rng: np.random.Generator) -> list[list[int]]:
    """Each user's test items, cut at random to the user's number of validation items."""
    out = []
    for u in range(test.n_users):
        items, k = test.items_of(u), int(val.indptr[u + 1] - val.indptr[u])
        out.append(rng.choice(items, size=min(k, items.size), replace=False).tolist() if k else [])
    return out


HEAD_SIZES = (20, 100, 1000)


def head_shares(data: Dataset, counts: np.ndarray) -> dict[str, dict[str, float]]:
    """Per split: share of its interactions on the ``HEAD_SIZES`` most frequent training items, median count."""
    rank = np.empty(counts.size, dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(counts.size)
    out = {}
    for split in ("train", "val", "test"):  # train: the share the head would hold in a random draw
        items = getattr(data, split).indices
        out[split] = {f"top{k}": float((rank[items] < k).mean()) for k in HEAD_SIZES}
        out[split]["median_count"] = float(np.median(counts[items]))
    return out


def popularity(name: str, seed: int) -> dict:
    data = load_dataset(data_source(name), DataOptions(seed=seed))
    counts = np.bincount(data.train.indices, minlength=data.n_items).astype(np.float32)
    pop = torch.from_numpy(counts)

    def score_fn(users: torch.Tensor) -> torch.Tensor:
        return pop.repeat(users.numel(), 1)  # fresh rows: the evaluator masks them in place

    val, test = (Evaluator(data, split, ks=(20,))(score_fn)["ndcg@20"] for split in ("val", "test"))
    # The cut test split has no Evaluator of its own; same exclusions as "test" (train and validation).
    # A stride-0 view: every user gets the same scores without an n_users x n_items matrix.
    scores = pop.expand(data.n_users, data.n_items)
    test_sub = topk_metrics(scores, _subsample(data.test, data.val, np.random.default_rng(seed)), ks=(20,),
                            exclude=data.train.union(data.val).to_lists())["ndcg@20"]
    return {"dataset": name, "split": data.info.get("split", "?"), "val_per_user": data.val.nnz / data.n_users,
            "test_per_user": data.test.nnz / data.n_users, "val": val, "test": test, "test_sub": test_sub,
            "head": head_shares(data, counts)}


def search_ratios(folders: list[Path]) -> pd.DataFrame:
    frames = []
    for folder in folders:
        board = pd.read_csv(folder / "leaderboard.csv")
        board = board[board["status"] == "complete"].copy()
        board["search"] = folder.name
        frames.append(board)
    board = pd.concat(frames, ignore_index=True)
    board["kind"] = board["scoring"] + " + " + board["loss"].str.split().str[0]
    board["search_ratio"] = board["test_ndcg@20"] / board["val_ndcg@20"]
    board["final_ratio"] = board["final_test_ndcg@20"] / board["final_val_ndcg@20"]
    return board.groupby("kind").agg(
        trials=("search_ratio", "size"), search_mean=("search_ratio", "mean"), search_min=("search_ratio", "min"),
        search_max=("search_ratio", "max"), final_fits=("final_ratio", "count"), final_mean=("final_ratio", "mean"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="*", default=["gowalla-6000", "online-retail"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", nargs="*", type=Path, default=[], help="search folders with a leaderboard.csv")
    args = ap.parse_args()
    print(f"Machine: {machine()}\n")
    if args.datasets:
        print("| dataset | split | val / test items per user | popularity val NDCG@20 | test | test / val "
              "| test subsampled to val size | subsampled / val |")
        print("|---|---|---|---|---|---|---|---|")
        rows = [popularity(name, args.seed) for name in args.datasets]
        for r in rows:
            print(f"| {r['dataset']} | {r['split']} | {r['val_per_user']:.1f} / {r['test_per_user']:.1f} "
                  f"| {r['val']:.4f} | {r['test']:.4f} | {r['test'] / r['val']:.2f} | {r['test_sub']:.4f} "
                  f"| {r['test_sub'] / r['val']:.2f} |")
        print("\nWhere held-out items sit among training items by frequency:\n")
        print("| dataset | split | " + " | ".join(f"share on top {k}" for k in HEAD_SIZES)
              + " | median training count |")
        print("|---|---|" + "---|" * (len(HEAD_SIZES) + 1))
        for r in rows:
            for split, h in r["head"].items():
                print(f"| {r['dataset']} | {split} | " + " | ".join(f"{h[f'top{k}']:.4f}" for k in HEAD_SIZES)
                      + f" | {h['median_count']:.0f} |")
    if args.runs:
        print(f"\nTest / validation NDCG@20 in {len(args.runs)} searches, complete trials by scoring + loss:\n")
        table = search_ratios(args.runs)
        print("| scoring + loss | complete trials | test / val mean | min | max | final fits | final fits' mean |")
        print("|---|---|---|---|---|---|---|")
        for kind, r in table.iterrows():
            final = f"{r.final_mean:.2f}" if r.final_fits else "-"
            print(f"| {kind} | {int(r.trials)} | {r.search_mean:.2f} | {r.search_min:.2f} | {r.search_max:.2f} "
                  f"| {int(r.final_fits)} | {final} |")


if __name__ == "__main__":
    main()
