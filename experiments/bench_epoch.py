"""Seconds per training epoch of one architecture (a preset name or a spec file) on one dataset.

For checking a change to the training engine on the candidates a search
trains: run it at two commits (e.g. in a ``git worktree`` with
``PYTHONPATH=<worktree>``) on the same machine and compare.

    python experiments/bench_epoch.py --arch experiments/specs/gcn_edge_dropout.json [--data online-retail] [--epochs 3]

``experiments/specs/gcn_edge_dropout.json`` is a winner of ``make demo`` (a
1-layer GCN with batch norm, residual skip, cosine scoring and edge dropout
0.1, batch 1024 with 4 negatives): a typical small candidate of the default
space, whose epochs were dominated by rebuilding the dropped graph's sparse
matrices before commit 6009af0. ``experiments/specs/gatv2_edge_dropout.json``
(lightgcn(32) -> gatv2(32)) is the slowest candidate of the same demo, whose
epochs were dominated by GATv2's attention logits before commit ff32542.
``experiments/specs/lightgcn_dropout_batchnorm.json`` (2 lightgcn layers with batch norm and
dropout 0.3, batch 1024 with 4 negatives) won the default space on online-retail in the 900 s run
of ``space_vs_lightgcn.py``: a stack with node dropout, whose masks torch draws on one thread
(the reason for the native dropout kernel, ``gnnnas/graph/native/dropout.c``).
``experiments/specs/mf_edge_dropout.json`` is matrix factorisation (128 wide, cosine, sampled softmax
over 256 shared negatives, batch 1024) with edge dropout 0.2, which the default space can draw: the
spec asks to drop edges of a graph nothing propagates over, which training no longer does
(experiments/RESULTS.md, "Matrix factorisation drops no edges").
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_commit, gowalla_subset, machine  # noqa: E402

import gnnnas  # noqa: E402
from gnnnas.data import DataOptions, load_dataset  # noqa: E402
from gnnnas.graph import BipartiteGraph  # noqa: E402
from gnnnas.models.registry import build_model, resolve_architecture  # noqa: E402
from gnnnas.pipeline import train_config  # noqa: E402
from gnnnas.training import TrainConfig, Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="experiments/specs/gcn_edge_dropout.json")
    parser.add_argument("--data", default="online-retail", help="bundled name, path or gowalla-N")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    source = str(gowalla_subset(int(args.data.split("-")[1]))) if args.data.startswith("gowalla-") else args.data
    ds = load_dataset(source, DataOptions(seed=0))
    arch = resolve_architecture(args.arch)
    graph = BipartiteGraph.of(ds.train, ds.n_items)
    model = build_model(arch, graph)
    trainer = Trainer(model, ds, train_config(arch, TrainConfig(epochs=args.epochs, progress=False)), graph=graph)
    seconds = [trainer.train_epoch()[1] for _ in range(args.epochs)]
    print(f"Machine: {machine()}; commit {git_commit()}; gnnnas from {Path(gnnnas.__file__).parent}")
    print(f"{args.arch} on {args.data}: epochs {', '.join(f'{s:.2f}' for s in seconds)} s; "
          f"median {statistics.median(seconds):.2f} s/epoch")


if __name__ == "__main__":
    main()
