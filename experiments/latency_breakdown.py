"""Where the top-K latency of a served model goes: forward, scoring, ranking.

For each exported bundle, the latency protocol of ``gnnnas.evaluation.cost``
(256 fixed users, top-20, cache-sized user blocks) split into its three phases,
each the median of ``--repeats`` runs after one warm-up, all in one process:

* ``forward``: ``model.scorer()`` (a GNN's propagation; a compressed model's
  table expansion);
* ``scores``: the users' scores against every item, block by block;
* ``top-K``: :func:`gnnnas.evaluation.metrics.topk_ranking` of those blocks;
* ``fused``: scores and top-K in one pass, :func:`gnnnas.evaluation.metrics.rank_top`
  with the scorer's native ``topk`` (what replaces the two phases above on CPU;
  ``nan`` where the scorer has none);
* ``total``: :func:`gnnnas.evaluation.cost.topk_latency_ms` itself (forward + fused where available).

It also times the score product in both memory layouts of the item table
(``U @ I^T`` with ``I^T`` made contiguous, as ``Recommender.scorer`` does, and
with the transposed view of the row-major ``I``): BLAS picks different kernels
for the two, and which is faster depends on the width and the CPU.

    python experiments/latency_breakdown.py [BUNDLE ...] [--repeats 21] [--layout-grid]

``--layout-grid`` adds the two layouts on random tables of widths 8 to 256
for 39,003 and 3,665 items (gowalla-6000's and online-retail's catalogues),
256 users in cache-sized blocks.

Defaults: the gowalla-6000 and online-retail teacher and students written by
``experiments/compress_bench.py`` (run it first).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, git_commit, machine, median_ms  # noqa: E402

import gnnnas  # noqa: E402
from gnnnas.evaluation.cost import latency_users, topk_latency_ms  # noqa: E402
from gnnnas.evaluation.metrics import rank_top, score_block_rows, topk_ranking  # noqa: E402

DEFAULTS = [f"{OUT}/compress_bench/{d}/{m}" for d in ("gowalla-6000", "online-retail")
            for m in ("teacher/model", "distill", "distill-16")]


def layout_ms(user_blocks: list[torch.Tensor], items: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Median ms of scoring ``user_blocks`` against row-major ``items`` via a contiguous ``I^T``, then via the view."""
    items_t = items.t().contiguous()
    return (median_ms(lambda: [u @ items_t for u in user_blocks], repeats),
            median_ms(lambda: [u @ items.t() for u in user_blocks], repeats))


@torch.no_grad()
def breakdown(path: str, repeats: int) -> dict:
    model = gnnnas.load(path).model.eval()
    users = latency_users(model.n_users, 256)
    blocks = users.split(score_block_rows(model.n_items, "cpu"))
    scorer = model.scorer()
    scores = [scorer(b) for b in blocks]  # the scored path: materialised blocks, then topk_ranking
    user_emb, item_emb = model.get_embeddings()
    item_emb = item_emb.float().contiguous()
    contiguous, view = layout_ms([user_emb[b].float() for b in blocks], item_emb, repeats)
    return {
        "bundle": path, "model": type(model).__name__, "width": int(item_emb.shape[1]),
        "items": model.n_items, "block_rows": int(blocks[0].numel()),
        "forward": median_ms(model.scorer, repeats),
        "scores": median_ms(lambda: [scorer(b) for b in blocks], repeats),
        "top-K": median_ms(lambda: [topk_ranking(s, 20) for s in scores], repeats),
        "fused": (median_ms(lambda: rank_top(scorer, users, 20, model.n_items), repeats)
                  if getattr(scorer, "fused", False) else float("nan")),
        "total": topk_latency_ms(model, k=20, n_users=256, repeats=repeats),
        "U @ contiguous I^T": contiguous, "U @ I.t() view": view,
    }


@torch.no_grad()
def layout_grid(repeats: int, widths=(8, 16, 24, 32, 48, 64, 96, 128, 192, 256),
                catalogues=(39003, 3665)) -> None:
    gen = torch.Generator().manual_seed(0)
    print("\n| items | width | U @ contiguous I^T (ms) | U @ I.t() view (ms) | view / contiguous |")
    print("|---|---|---|---|---|")
    for n in catalogues:
        rows = score_block_rows(n, "cpu")
        for d in widths:
            items = torch.randn(n, d, generator=gen)
            a, b = layout_ms(list(torch.randn(256, d, generator=gen).split(rows)), items, repeats)
            print(f"| {n:,} | {d} | {a:.2f} | {b:.2f} | {b / a:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="*", default=DEFAULTS)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--layout-grid", action="store_true")
    args = parser.parse_args()
    rows = [breakdown(p, args.repeats) for p in args.bundles]
    print(f"Machine: {machine()}; commit {git_commit()}\n")
    cols = ["forward", "scores", "top-K", "fused", "total", "U @ contiguous I^T", "U @ I.t() view"]
    print("| bundle | model | width | items | block rows | " + " | ".join(f"{c} (ms)" for c in cols) + " |")
    print("|---|---|---|---|---|" + "---|" * len(cols))
    for r in rows:
        name = str(Path(r["bundle"]).relative_to(OUT)) if r["bundle"].startswith(str(OUT)) else r["bundle"]
        print(f"| {name} | {r['model']} | {r['width']} | {r['items']:,} | {r['block_rows']} | "
              + " | ".join(f"{r[c]:.1f}" for c in cols) + " |")
    if args.layout_grid:
        layout_grid(args.repeats)


if __name__ == "__main__":
    main()
