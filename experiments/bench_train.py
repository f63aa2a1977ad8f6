"""Engine LightGCN vs. PyG's LightGCN: seconds per epoch and quality after equal epochs.

Both train LightGCN (3 layers, dim 64, batch 2048, one negative per positive,
Adam lr 1e-3, L2 1e-4) on the same training pairs with the same seed, for the
same number of epochs, without early stopping. PyG's model is trained the way
its ``examples/lightgcn.py`` trains it: a homogeneous node embedding table,
each mini-batch of training edges propagated through the full graph, uniform
random negative items, ``recommendation_loss`` with the batch's node ids. It
runs once given ``edge_index`` and once given a sparse CSR adjacency; the
faster is the reference. All models are ranked by the same evaluator on the
test split (training and validation items excluded).

    python experiments/bench_train.py [--epochs 3] [--datasets gowalla-6000,online-retail] [--device cpu]

Prints a Markdown table and appends JSON lines to experiments/out/bench_train.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch_geometric.nn.models import LightGCN as PyGLightGCN

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, gowalla_subset, machine  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.device import resolve_device, synchronize  # noqa: E402
from gnnnas.evaluation import Evaluator  # noqa: E402
from gnnnas.models.registry import ModelSettings  # noqa: E402
from gnnnas.pipeline import build_model  # noqa: E402
from gnnnas.graph import BipartiteGraph  # noqa: E402
from gnnnas.training import TrainConfig, Trainer  # noqa: E402

KS = (20,)


def load(name: str):
    source = str(gowalla_subset(int(name.split("-")[1]))) if name.startswith("gowalla-") else name
    return load_dataset(source, DataOptions(seed=0))


def engine_run(ds, epochs: int, device: torch.device) -> dict:
    config = TrainConfig(epochs=epochs, batch_size=2048, lr=1e-3, l2=1e-4, num_negatives=1, eval_every=10**9,
                         seed=0, progress=False)
    graph = BipartiteGraph.from_split(ds.train, ds.n_items, device)
    model = build_model("lightgcn", graph, ModelSettings(64, 3), 0, device)
    empty_val = ds.__class__(**{**ds.__dict__, "val": ds.val.__class__.from_pairs(np.empty(0), np.empty(0), ds.n_users)})
    result = Trainer(model, empty_val, config, graph=graph).fit()  # no validation: equal epochs for everyone
    metrics = Evaluator(ds, "test", ks=KS, device=device)(model.scorer())
    return {"epoch_seconds": result.epoch_seconds, **metrics}


def pyg_run(ds, epochs: int, device: torch.device, adjacency: str) -> dict:
    torch.manual_seed(0)
    n_users, n_items = ds.n_users, ds.n_items
    users, items = ds.train.pairs()
    u = torch.from_numpy(users)
    i = torch.from_numpy(items) + n_users
    edge_index = torch.stack([torch.cat([u, i]), torch.cat([i, u])]).to(device)
    if adjacency == "csr":
        n = n_users + n_items
        graph = torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.size(1), device=device), (n, n))
        graph = graph.coalesce().to_sparse_csr()
    else:
        graph = edge_index
    train_edge_label_index = torch.stack([u, i]).to(device)
    model = PyGLightGCN(num_nodes=n_users + n_items, embedding_dim=64, num_layers=3).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(range(train_edge_label_index.size(1)), shuffle=True, batch_size=2048)
    seconds = []
    for _ in range(epochs):
        synchronize(device)
        t0 = time.perf_counter()
        for index in loader:
            pos = train_edge_label_index[:, index]
            neg = torch.stack([pos[0], torch.randint(n_users, n_users + n_items, (index.numel(),), device=device)])
            edge_label_index = torch.cat([pos, neg], dim=1)
            optimizer.zero_grad()
            pos_rank, neg_rank = model(graph, edge_label_index).chunk(2)
            loss = model.recommendation_loss(pos_rank, neg_rank, node_id=edge_label_index.unique())
            loss.backward()
            optimizer.step()
        synchronize(device)
        seconds.append(time.perf_counter() - t0)
    with torch.no_grad():
        emb = model.get_embedding(graph)
    user_emb, item_emb = emb[:n_users], emb[n_users:].t().contiguous()
    metrics = Evaluator(ds, "test", ks=KS, device=device)(lambda b: user_emb[b] @ item_emb)
    return {"epoch_seconds": seconds, **metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--datasets", default="gowalla-6000,online-retail")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default="engine,pyg-csr,pyg-edge_index")
    args = parser.parse_args()
    device = resolve_device(args.device)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.datasets.split(","):
        ds = load(name)
        for variant in args.variants.split(","):
            print(f"[{name}] {variant} ...", file=sys.stderr, flush=True)
            if variant == "engine":
                res = engine_run(ds, args.epochs, device)
            else:
                res = pyg_run(ds, args.epochs, device, variant.split("-", 1)[1])
            row = {"dataset": name, "variant": variant, "epochs": args.epochs, "device": str(device),
                   "median_epoch_seconds": statistics.median(res["epoch_seconds"]), **res,
                   "users": ds.n_users, "items": ds.n_items, "train": ds.train.nnz,
                   "machine": machine(), "commit": git_commit()}
            rows.append(row)
            print(f"  median {row['median_epoch_seconds']:.2f} s/epoch, recall@20 {row['recall@20']:.4f}, "
                  f"ndcg@20 {row['ndcg@20']:.4f}", file=sys.stderr, flush=True)
            with open(OUT / "bench_train.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")
    print(f"\nMachine: {machine()}; commit {git_commit()}; {args.epochs} epochs\n")
    print("| dataset | variant | s/epoch (median) | speed-up vs faster PyG | Recall@20 | NDCG@20 |")
    print("|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        mine = [r for r in rows if r["dataset"] == name]
        pyg = [r["median_epoch_seconds"] for r in mine if r["variant"].startswith("pyg")]
        ref = min(pyg) if pyg else float("nan")
        for r in mine:
            print(f"| {name} | {r['variant']} | {r['median_epoch_seconds']:.2f} | "
                  f"{ref / r['median_epoch_seconds']:.1f}x | {r['recall@20']:.4f} | {r['ndcg@20']:.4f} |")


if __name__ == "__main__":
    main()
