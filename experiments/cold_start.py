"""Item-text features on cold-start items: text vs. ID-only vs. popularity (issue 6's benchmark).

For each dataset and seed, 20% of the items are held out entirely
(``--cold-items 0.2``: half validation-cold, half test-cold items, drawn by the
seed) and these models are trained on the warm training split, each exactly
as ``gnnnas train`` would train it:

    gnnnas train --data DATA --cold-items 0.2 --seed SEED --arch lightgcn --layers 2
                 --features F [--graph text-knn --item-k 10] --lr 0.005 --epochs E
                 --eval-every 2 --patience 3 --device cpu

* ``popularity`` (train counts; cold items have none, so it can only tie them),
* ``id``: LightGCN with ID embeddings,
* ``text``, ``id+text`` (sum, linear projector), each on the user-item graph and
  on the user-item + text-kNN item graph (k = 10).

Early stopping and the best epoch read warm validation NDCG@20 only. The
"best text model" of a seed is the text model with the best **validation**
cold Recall@20 (the test split is never used to choose). Reported: test
cold Recall@20 / NDCG@20 (ranking among the test-cold items) and warm test
NDCG@20 (all warm items), mean and sample std over the seeds.

Goals: the best text model's cold Recall@20 far above ID-only's and above
popularity's; warm NDCG@20 of ``id+text`` not worse than ``id`` by more than
the seed-to-seed spread.

    python experiments/cold_start.py                       # online-retail and ml-latest-small, seeds 0-2
    python experiments/cold_start.py --datasets online-retail --seeds 0

Writes one JSON line per (dataset, seed, model) to experiments/out/cold_start.jsonl
and prints Markdown tables. ml-latest-small is read from ../shared/datasets
with ``--rating-threshold 4`` (ratings >= 4 as implicit "liked"); its item text
is "title; genres; tags".
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, SHARED, git_commit, machine  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.models.presets import PRESETS  # noqa: E402
from gnnnas.models.registry import override  # noqa: E402
from gnnnas.pipeline import train_and_evaluate  # noqa: E402
from gnnnas.training import TrainConfig  # noqa: E402

#: model name -> (features, graph); None: the popularity baseline
MODELS: dict[str, tuple[str, str] | None] = {
    "popularity": None,
    "id": ("id", "user-item"),
    "text": ("text", "user-item"),
    "id+text": ("id+text", "user-item"),
    "text / text-knn": ("text", "text-knn"),
    "id+text / text-knn": ("id+text", "text-knn"),
}
TEXT_MODELS = [m for m, v in MODELS.items() if v is not None and v[0] != "id"]


def dataset_options(name: str, seed: int, cold: float) -> tuple[str, DataOptions]:
    if name == "ml-latest-small":
        return str(SHARED / "datasets" / "ml-latest-small"), DataOptions(rating_threshold=4.0, cold_items=cold,
                                                                         seed=seed)
    return name, DataOptions(cold_items=cold, seed=seed)


def run_one(dataset, model: str, seed: int, epochs: int) -> dict:
    config = TrainConfig(epochs=epochs, eval_every=2, patience=3, metric="ndcg@20", seed=seed, progress=False)
    if MODELS[model] is None:
        arch = "popularity"
    else:
        features, graph = MODELS[model]
        spec = override(PRESETS["lightgcn"].spec, layers=2, lr=0.005, features=features, graph=graph,
                        item_k=10 if graph != "user-item" else None)
        arch = spec
    started = time.perf_counter()
    report = train_and_evaluate(dataset, arch, config, "cpu")
    return {"model": model, "seed": seed, "val_cold": report.val_cold, "test_cold": report.test_cold,
            "val": report.val, "test": report.test, "best_epoch": report.result.best_epoch,
            "epochs": report.result.epochs_run, "seconds": round(time.perf_counter() - started, 1)}


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


def table(rows: list[dict], name: str) -> str:
    seeds = sorted({r["seed"] for r in rows})
    out = [f"### {name} (seeds {', '.join(map(str, seeds))}; mean ± sample std)", "",
           "| model | test cold Recall@20 | test cold NDCG@20 | warm test NDCG@20 | warm test Recall@20 | epochs (best) |",
           "|---|---|---|---|---|---|"]
    by_model = {m: [r for r in rows if r["model"] == m] for m in MODELS}
    best_rows = []
    for seed in seeds:  # the best text model of each seed, chosen on validation cold Recall@20
        text = [r for r in rows if r["seed"] == seed and r["model"] in TEXT_MODELS]
        if text:
            best_rows.append(max(text, key=lambda r: r["val_cold"]["recall@20"]))
    for label, group in [*by_model.items(), ("best text model (chosen on val cold Recall@20)", best_rows)]:
        if not group:
            continue
        col = lambda split, m: mean_std([r[split][m] for r in group])  # noqa: E731
        epochs = ", ".join(f"{r['best_epoch']}" for r in group)
        picked = f" [{', '.join(r['model'] for r in group)}]" if label.startswith("best") else ""
        out.append(f"| {label}{picked} | {col('test_cold', 'recall@20')} | {col('test_cold', 'ndcg@20')} | "
                   f"{col('test', 'ndcg@20')} | {col('test', 'recall@20')} | {epochs} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="online-retail,ml-latest-small")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--cold", type=float, default=0.2, help="fraction of items held out (--cold-items)")
    parser.add_argument("--epochs", type=int, default=40, help="maximum epochs per model")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--report-only", action="store_true", help="tables from experiments/out/cold_start.jsonl")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    log = OUT / "cold_start.jsonl"
    datasets = args.datasets.split(",")
    if not args.report_only:
        OUT.mkdir(parents=True, exist_ok=True)
        header = {"machine": machine(), "commit": git_commit(), "args": vars(args)}
        with open(log, "a") as f:
            f.write(json.dumps({"run": header}) + "\n")
        for name in datasets:
            for seed in (int(s) for s in args.seeds.split(",")):
                source, options = dataset_options(name, seed, args.cold)
                data = load_dataset(source, options)
                for model in args.models.split(","):
                    row = {"dataset": name, **run_one(data, model, seed, args.epochs), "commit": header["commit"]}
                    with open(log, "a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"{name} seed {seed} {model}: cold R@20 {row['test_cold']['recall@20']:.4f}, "
                          f"warm NDCG@20 {row['test']['ndcg@20']:.4f} ({row['seconds']} s)", flush=True)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    print(f"\nmachine: {machine()}")
    for name in datasets:
        latest: dict[tuple, dict] = {}
        for r in rows:  # the latest result of each (seed, model)
            if r.get("dataset") == name:
                latest[(r["seed"], r["model"])] = r
        print("\n" + table(list(latest.values()), name))


if __name__ == "__main__":
    main()
