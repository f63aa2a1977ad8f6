"""The propagation's sparse products, torch vs. the native CPU kernels, on one LightGCN training batch.

For the bipartite blocks R (users x items) and R^T of a dataset's training
graph, times (median of repeats, one process) every product a 3-layer
LightGCN training step runs: a full Horner step with torch's ``addmm`` and
with the fused native kernel, the last hop restricted to the batch's rows,
and the first backward hop from the batch's rows (masked product). The
batch is the first 2048 training pairs of an epoch plus one negative each.

    python experiments/bench_spmm.py [--dataset gowalla-6000] [--dim 64] [--repeats 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_commit, gowalla_subset, machine, median_ms  # noqa: E402

from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.graph import BipartiteGraph, native  # noqa: E402
from gnnnas.training.sampler import NegativeSampler  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="gowalla-6000")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    if native.kernels() is None:
        sys.exit("bench_spmm: the native kernels are not available on this machine")
    name = args.dataset
    source = str(gowalla_subset(int(name.split("-")[1]))) if name.startswith("gowalla-") else name
    ds = load_dataset(source, DataOptions(seed=0))
    graph = BipartiteGraph.from_split(ds.train, ds.n_items)
    r, rt = graph.norm_blocks
    torch.manual_seed(0)
    xu, xi = torch.randn(graph.n_users, args.dim), torch.randn(graph.n_items, args.dim)
    users, pos, neg = NegativeSampler(ds.train, ds.n_items, seed=0).epoch(1)
    b = args.batch_size
    batch_users = torch.unique(torch.from_numpy(users[:b]))
    batch_items = torch.unique(torch.cat([torch.from_numpy(pos[:b]), torch.from_numpy(neg[:b]).reshape(-1)]))
    gu, gi = torch.randn(batch_users.numel(), args.dim), torch.randn(batch_items.numel(), args.dim)
    crow_u, crow_i = r.crow_indices().long(), rt.crow_indices().long()
    share_u = float((crow_u[batch_users + 1] - crow_u[batch_users]).sum()) / r._nnz()
    share_i = float((crow_i[batch_items + 1] - crow_i[batch_items]).sum()) / rt._nnz()

    rows = [
        ("Horner step, user rows (R x_i)", "torch addmm", lambda: torch.addmm(xu, r, xi, beta=0.25, alpha=0.25)),
        ("Horner step, user rows (R x_i)", "native fused", lambda: native.spmm(r, xi, y=xu, beta=0.25, alpha=0.25)),
        ("Horner step, item rows (R^T x_u)", "torch addmm", lambda: torch.addmm(xi, rt, xu, beta=0.25, alpha=0.25)),
        ("Horner step, item rows (R^T x_u)", "native fused", lambda: native.spmm(rt, xu, y=xi, beta=0.25, alpha=0.25)),
        ("last hop, batch users only", "native rows", lambda: native.spmm(r, xi, rows=batch_users, y=xu, beta=0.25)),
        ("last hop, batch items only", "native rows", lambda: native.spmm(rt, xu, rows=batch_items, y=xi, beta=0.25)),
        ("first backward hop into users", "native masked", lambda: native.spmm_masked(r, batch_items, gi)),
        ("first backward hop into items", "native masked", lambda: native.spmm_masked(rt, batch_users, gu)),
    ]
    print(f"Machine: {machine()}; commit {git_commit()}; {name}: {graph.n_users} users x {graph.n_items} items, "
          f"{r._nnz()} edges, dim {args.dim}; batch: {batch_users.numel()} distinct users "
          f"({share_u:.0%} of R's entries), {batch_items.numel()} distinct items ({share_i:.0%} of R^T's)\n")
    print("| product | kernel | ms (median) |")
    print("|---|---|---|")
    for what, kernel, fn in rows:
        print(f"| {what} | {kernel} | {median_ms(fn, args.repeats):.2f} |")


if __name__ == "__main__":
    main()
