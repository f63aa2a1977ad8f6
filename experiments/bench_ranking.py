"""Full-ranking evaluation and top-K serving: 1024-user blocks, cache-sized CPU blocks, group prefilter, fused.

Times, on one process and the same trained-like scores (a LightGCN model's
final embeddings after propagation, random initialisation: ranking cost does
not depend on the weights' values), each variant's

* validation evaluation of every user (``Evaluator(dataset, "val")``, as the
  trainer runs it after every epoch), and
* top-20 serving latency of 256 fixed users (``gnnnas.evaluation.cost``'s
  protocol: forward pass, scores, ranking),

with blocks of 1024 users (the first behaviour, forced by raising
``CPU_BLOCK_ELEMS``), with :func:`gnnnas.evaluation.metrics.score_block_rows`
(about 2M scores per block on CPU) and one full ``torch.topk`` per row, and
with cache-sized blocks plus the group-maxima prefilter
(:func:`gnnnas.evaluation.metrics._topk_by_groups`, the scored path), and
fused score-and-select (``DotScorer.topk``, the native kernel: the default
on CPU). The scored variants hide ``topk`` behind a plain function, so every
variant runs the same forward pass (native propagation kernels included).
Variants alternate in rounds; medians. ``--group-sizes 32,64,256`` adds the prefilter
with those items per group (the default is ``metrics._GROUP_SIZE``).

    python experiments/bench_ranking.py [--datasets gowalla-6000,online-retail] [--repeats 7] [--group-sizes G,...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_commit, gowalla_subset, machine  # noqa: E402

import gnnnas  # noqa: E402,F401  (allocator settings, as every gnnnas process)
from gnnnas.data.loader import load_dataset  # noqa: E402
from gnnnas.evaluation import metrics  # noqa: E402
from gnnnas.evaluation.cost import latency_users  # noqa: E402
from gnnnas.evaluation.ranking import Evaluator  # noqa: E402
from gnnnas.graph.build import build_graph  # noqa: E402
from gnnnas.models.registry import build_model, resolve_architecture  # noqa: E402

_NEVER = 1 << 62
# variant -> (CPU_BLOCK_ELEMS, _GROUP_MIN_FACTOR, _GROUP_SIZE, fused); _NEVER switches the group prefilter off.
VARIANTS = {
    "1024-user blocks, full top-K": (_NEVER, _NEVER, metrics._GROUP_SIZE, False),
    "cache-sized blocks, full top-K": (metrics.CPU_BLOCK_ELEMS, _NEVER, metrics._GROUP_SIZE, False),
    "cache-sized blocks, group prefilter": (metrics.CPU_BLOCK_ELEMS, metrics._GROUP_MIN_FACTOR, metrics._GROUP_SIZE,
                                            False),
    "fused score-and-select": (metrics.CPU_BLOCK_ELEMS, metrics._GROUP_MIN_FACTOR, metrics._GROUP_SIZE, True),
}


def _configure(variant: str) -> bool:
    metrics.CPU_BLOCK_ELEMS, metrics._GROUP_MIN_FACTOR, metrics._GROUP_SIZE, fused = VARIANTS[variant]
    return fused


def _scorer(model, fused: bool):
    scorer = model.scorer()
    return scorer if fused else (lambda users: scorer(users))  # a plain function offers no fused topk


def _serve_ms(model, users: torch.Tensor, fused: bool) -> float:
    """``gnnnas.evaluation.cost``'s top-20 protocol (forward pass, then rank_top), one run."""
    start = time.perf_counter()
    metrics.rank_top(_scorer(model, fused), users, 20, model.n_items)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="gowalla-6000,online-retail")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--group-sizes", default="", help="extra prefilter group sizes, comma-separated")
    args = parser.parse_args()
    for size in filter(None, args.group_sizes.split(",")):
        VARIANTS[f"cache-sized blocks, group prefilter ({int(size)} items per group)"] = (
            metrics.CPU_BLOCK_ELEMS, metrics._GROUP_MIN_FACTOR, int(size), False)
    print(f"Machine: {machine()}; commit {git_commit()}\n")
    print("| dataset | users x items | variant | rows per block | val evaluation (ms) | top-20 latency, 256 users (ms) "
          "| largest metric difference vs. fused |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        source = str(gowalla_subset(int(name.split("-")[1]))) if name.startswith("gowalla-") else name
        dataset = load_dataset(source)
        arch = resolve_architecture("lightgcn")
        model = build_model(arch, build_graph(dataset, arch)).eval()
        evaluator = Evaluator(dataset, "val")
        users = latency_users(dataset.n_users)
        times = {v: ([], []) for v in VARIANTS}
        results = {}
        with torch.no_grad():
            for _ in range(args.repeats + 1):  # the first round warms up
                for variant in VARIANTS:
                    fused = _configure(variant)
                    start = time.perf_counter()
                    results[variant] = evaluator(_scorer(model, fused))
                    times[variant][0].append((time.perf_counter() - start) * 1000)
                    times[variant][1].append(_serve_ms(model, users, fused))
        for variant in VARIANTS:
            fused = _configure(variant)
            rows = "1024 per kernel call" if fused else metrics.score_block_rows(dataset.n_items, "cpu")
            ev, lat = (statistics.median(t[1:]) for t in times[variant])
            diff = max(abs(results[variant][k] - results["fused score-and-select"][k]) for k in results[variant])
            print(f"| {name} | {dataset.n_users} x {dataset.n_items} | {variant} | {rows} | {ev:.0f} | {lat:.1f} "
                  f"| {diff:.1e} |")


if __name__ == "__main__":
    main()
