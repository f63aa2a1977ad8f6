"""Item-item edges added to the user-item graph (the ``graph`` dimension of a spec).

* ``text-knn``: each item with text links to its ``k`` most similar items by
  cosine similarity of their text embeddings (:mod:`gnnnas.features.text`).
  Items without any training interaction (cold items) get neighbours too:
  this is how propagation reaches them.
* ``co-occurrence``: each item links to the ``k`` items most often
  interacted with by the same users in the **training** split (counts of
  ``R^T R``, ties broken by item id); only training interactions are read,
  so neither validation nor test leaks into the graph.

Both are made undirected (an edge exists if either end chose the other) and
binary; :class:`~gnnnas.graph.BipartiteGraph` normalises them together with
the user-item edges. Edges are built once per dataset object and kept while
it lives.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

ItemEdges = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ItemGraph:
    """One way to build item-item edges: ``build(dataset, k) -> (src, dst)`` (undirected, each pair once)."""

    name: str
    description: str
    build: Callable[..., ItemEdges]
    needs_text: bool = False


def undirected(src: np.ndarray, dst: np.ndarray, n_items: int) -> ItemEdges:
    """Each unordered pair once as ``(min, max)``, self-loops dropped, sorted."""
    lo, hi = np.minimum(src, dst).astype(np.int64), np.maximum(src, dst).astype(np.int64)
    keep = lo != hi
    keys = np.unique(lo[keep] * n_items + hi[keep])
    return keys // n_items, keys % n_items


def knn_edges(vectors: np.ndarray, k: int, valid: np.ndarray | None = None, chunk: int = 2048) -> ItemEdges:
    """Each valid row's ``k`` nearest other valid rows by dot product (cosine for unit vectors)."""
    n = vectors.shape[0]
    valid = np.ones(n, dtype=bool) if valid is None else valid
    rows = np.flatnonzero(valid)
    if rows.size < 2:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    k = min(k, rows.size - 1)
    x = torch.from_numpy(np.ascontiguousarray(vectors[rows], dtype=np.float32))
    src, dst = [], []
    for start in range(0, rows.size, chunk):
        sims = x[start:start + chunk] @ x.T
        sims[torch.arange(sims.shape[0]), torch.arange(start, start + sims.shape[0])] = -torch.inf
        top = torch.topk(sims, k, dim=1).indices.numpy()
        src.append(np.repeat(rows[start:start + sims.shape[0]], k))
        dst.append(rows[top.reshape(-1)])
    return undirected(np.concatenate(src), np.concatenate(dst), n)


def _text_knn(dataset, k: int) -> ItemEdges:
    from gnnnas.features.text import item_text_embeddings
    vectors = item_text_embeddings(dataset).vectors
    return knn_edges(vectors, k, valid=np.abs(vectors).sum(1) > 0)


def _co_occurrence(dataset, k: int) -> ItemEdges:
    import scipy.sparse as sp
    users, items = dataset.train.pairs()
    r = sp.csr_matrix((np.ones(users.size, dtype=np.float32), (users, items)),
                      shape=(dataset.n_users, dataset.n_items))
    counts = (r.T @ r).tocsr()
    counts.setdiag(0)
    counts.eliminate_zeros()
    src, dst = [], []
    for i in range(dataset.n_items):
        lo, hi = counts.indptr[i], counts.indptr[i + 1]
        if hi == lo:
            continue
        cols, vals = counts.indices[lo:hi], counts.data[lo:hi]
        # largest count first, then smallest item id
        order = np.lexsort((cols, -vals))[:k]
        src.append(np.full(order.size, i, dtype=np.int64))
        dst.append(cols[order].astype(np.int64))
    if not src:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return undirected(np.concatenate(src), np.concatenate(dst), dataset.n_items)


#: ``ArchSpec.graph`` values that add item-item edges -> how to build them
ITEM_GRAPHS: dict[str, ItemGraph] = {g.name: g for g in (
    ItemGraph("text-knn", "user-item + item-item kNN by text-embedding cosine similarity", _text_knn, True),
    ItemGraph("co-occurrence", "user-item + item-item edges to the top-k items co-interacted in training",
              _co_occurrence),
)}

# Dataset -> {(kind, k): edges}; dropped with the dataset.
_EDGES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def item_edges(dataset, kind: str, k: int) -> ItemEdges:
    """The ``kind`` item-item edges of ``dataset`` with ``k`` neighbours, built once per dataset."""
    per = _EDGES.setdefault(dataset, {})
    if (kind, k) not in per:
        per[(kind, k)] = ITEM_GRAPHS[kind].build(dataset, k)
    return per[(kind, k)]
