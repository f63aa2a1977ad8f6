"""Engine LightGCN vs. PyG's LightGCN: seconds per epoch and quality after equal epochs.

Both train LightGCN (3 layers, dim 64, batch 2048, one negative per positive,
Adam lr 1e-3, L2 1e-4) on the same training pairs with the same seed, for the
same number of epochs, without early stopping. PyG's model is trained the way
its ``examples/lightgcn.py`` trains it: a homogeneous node embedding table,
each mini-batch of training edges propagated through the full graph, uniform
random negative items, ``recommendation_loss`` with the batch's node ids. It
runs once given ``edge_index`` and once given a sparse CSR adjacency; the
faster is the reference. All models are ranked by the same evaluator on the
test split (training and validation items excluded). Epochs of the variants
interleave (engine epoch 1, PyG epoch 1, engine epoch 2, ...) so that noise
from the machine falls on all of them alike.

    python experiments/bench_train.py [--epochs 3] [--datasets gowalla-6000,online-retail] [--device cpu]
                                      [--variants engine,engine-torch,pyg-csr,pyg-edge_index]

``engine-torch`` is the engine with its native CPU kernels switched off
(:func:`gnnnas.graph.native.disabled`), for before/after in one process.

Prints a Markdown table and appends JSON lines to experiments/out/bench_train.jsonl.
"""

from __future__ import annotations

import argparse
import contextlib
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
from gnnnas.models import LightGCN  # noqa: E402
from gnnnas.graph import BipartiteGraph, native  # noqa: E402
from gnnnas.training import TrainConfig, Trainer  # noqa: E402

KS = (20,)


def load(name: str):
    source = str(gowalla_subset(int(name.split("-")[1]))) if name.startswith("gowalla-") else name
    return load_dataset(source, DataOptions(seed=0))


class EngineRunner:
    """The engine's LightGCN, trained by :class:`gnnnas.training.Trainer` without validation.

    ``use_native=False`` (variant ``engine-torch``) trains with the native CPU kernels off: torch's
    own sparse products, every step propagating all rows, as the engine did before the kernels.
    """

    def __init__(self, ds, device: torch.device, use_native: bool = True):
        self.use_native = use_native
        config = TrainConfig(epochs=1, batch_size=2048, lr=1e-3, l2=1e-4, num_negatives=1, seed=0, progress=False)
        graph = BipartiteGraph.from_split(ds.train, ds.n_items, device)
        torch.manual_seed(0)
        self.model = LightGCN(graph, 64, 3).to(device)
        self.trainer = Trainer(self.model, ds, config, graph=graph)

    def epoch(self) -> float:
        with contextlib.nullcontext() if self.use_native else native.disabled():
            return self.trainer.train_epoch()[1]

    def scorer(self):
        return self.model.scorer()


class PyGRunner:
    """PyG's LightGCN trained as in PyG's examples/lightgcn.py (own RNG, so runs can interleave)."""

    def __init__(self, ds, device: torch.device, adjacency: str):
        self.device, self.n_users, self.n_items = device, ds.n_users, ds.n_items
        self.gen = torch.Generator(device="cpu").manual_seed(0)
        users, items = ds.train.pairs()
        u = torch.from_numpy(users)
        i = torch.from_numpy(items) + ds.n_users
        edge_index = torch.stack([torch.cat([u, i]), torch.cat([i, u])]).to(device)
        if adjacency == "csr":
            n = ds.n_users + ds.n_items
            adj = torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.size(1), device=device), (n, n))
            self.graph = adj.coalesce().to_sparse_csr()
        else:
            self.graph = edge_index
        self.train_edge_label_index = torch.stack([u, i]).to(device)
        torch.manual_seed(0)
        self.model = PyGLightGCN(num_nodes=ds.n_users + ds.n_items, embedding_dim=64, num_layers=3).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loader = torch.utils.data.DataLoader(range(self.train_edge_label_index.size(1)), shuffle=True,
                                                  batch_size=2048, generator=self.gen)

    def epoch(self) -> float:
        synchronize(self.device)
        t0 = time.perf_counter()
        for index in self.loader:
            pos = self.train_edge_label_index[:, index]
            neg_items = torch.randint(self.n_users, self.n_users + self.n_items, (index.numel(),), generator=self.gen)
            neg = torch.stack([pos[0], neg_items.to(self.device)])
            edge_label_index = torch.cat([pos, neg], dim=1)
            self.optimizer.zero_grad()
            pos_rank, neg_rank = self.model(self.graph, edge_label_index).chunk(2)
            loss = self.model.recommendation_loss(pos_rank, neg_rank, node_id=edge_label_index.unique())
            loss.backward()
            self.optimizer.step()
        synchronize(self.device)
        return time.perf_counter() - t0

    def scorer(self):
        with torch.no_grad():
            emb = self.model.get_embedding(self.graph)
        user_emb, item_emb = emb[: self.n_users], emb[self.n_users:].t().contiguous()
        return lambda b: user_emb[b] @ item_emb


def make_runner(variant: str, ds, device: torch.device):
    if variant in ("engine", "engine-torch"):
        return EngineRunner(ds, device, use_native=variant == "engine")
    return PyGRunner(ds, device, variant.split("-", 1)[1])


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
        variants = args.variants.split(",")
        runners = {v: make_runner(v, ds, device) for v in variants}
        seconds = {v: [] for v in variants}
        # Epochs interleave across variants so that machine noise hits all of them alike.
        for epoch in range(1, args.epochs + 1):
            for v, runner in runners.items():
                seconds[v].append(runner.epoch())
                print(f"[{name}] epoch {epoch} {v}: {seconds[v][-1]:.2f} s", file=sys.stderr, flush=True)
        for v, runner in runners.items():
            metrics = Evaluator(ds, "test", ks=KS, device=device)(runner.scorer())
            row = {"dataset": name, "variant": v, "epochs": args.epochs, "device": str(device),
                   "median_epoch_seconds": statistics.median(seconds[v]), "epoch_seconds": seconds[v], **metrics,
                   "users": ds.n_users, "items": ds.n_items, "train": ds.train.nnz,
                   "machine": machine(), "commit": git_commit()}
            rows.append(row)
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
