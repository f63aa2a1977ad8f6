"""User-item bipartite graph with its symmetric-normalised adjacency.

The graph has ``n_users + n_items`` nodes (users first, then items) and one
undirected edge per training interaction. The LightGCN/NGCF propagation matrix

.. math::
    \\hat A = D^{-1/2} A D^{-1/2}, \\qquad
    A = \\begin{pmatrix} 0 & R \\\\ R^\\top & 0 \\end{pmatrix}

is stored as its two off-diagonal blocks: ``R_hat`` (users x items) and its
transpose (items x users), both CSR. Multiplying by the blocks separately does
the same work as one product with the full matrix but gathers from a much
smaller dense operand each time, which measured 2-3x faster on CPU.

A graph may also carry undirected **item-item edges** ``S`` (text-similarity
kNN or co-occurrence, see :mod:`gnnnas.graph.item_graphs`): then

.. math::
    A = \\begin{pmatrix} 0 & R \\\\ R^\\top & S \\end{pmatrix}

degrees count both kinds of edges, and ``S_hat`` is a third cached block.
It may also carry **item features** (``n_items x d``, e.g. text embeddings)
that the model's input stage reads; they travel with the graph like PyG's
``Data.x`` travels with ``edge_index``.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch


def _sort_order(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> np.ndarray:
    # One int64 key (row in the high part) sorts ~5x faster than lexsort (6 vs 33 ms for 440k
    # entries). Keys tie only for duplicate (row, col) entries, whose order does not change a matrix.
    return np.argsort(rows.astype(np.int64) * n_cols + cols)


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int],
         device: torch.device) -> torch.Tensor:
    """CSR matrix of the entries ``(rows, cols, vals)`` in any order."""
    order = _sort_order(rows, cols, shape[1])
    return _csr_sorted(rows[order], cols[order], vals[order], shape, device)


def _csr_sorted(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int],
                device: torch.device) -> torch.Tensor:
    """CSR matrix of entries already sorted by (row, column) (:meth:`BipartiteGraph.sorted_entries`)."""
    crow = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=crow[1:])
    # int32 indices when they fit: the CPU sparse kernels convert int64 indices to int32 on
    # every product otherwise (about 4% of a LightGCN training step).
    index = np.int32 if max(rows.size, *shape) < 2**31 - 1 else np.int64
    with warnings.catch_warnings():  # "CSR support is in beta": we rely only on CSR @ dense
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(crow.astype(index)), torch.from_numpy(cols.astype(index)),
            torch.from_numpy(vals.astype(np.float32)), size=shape, device=device,
            check_invariants=False,
        )


@dataclass(frozen=True, eq=False)
class BipartiteGraph:
    """Undirected user-item graph built from training interactions (internal ids)."""

    n_users: int
    n_items: int
    users: np.ndarray  # int64, one entry per edge
    items: np.ndarray  # int64, one entry per edge
    device: torch.device = torch.device("cpu")
    item_src: np.ndarray | None = None  # int64, undirected item-item edges (each pair once), or None
    item_dst: np.ndarray | None = None
    item_features: torch.Tensor | None = None  # float32 n_items x d on ``device``, or None
    # Set by edge dropout: the graph this one was drawn from and which of its user-item edges it kept.
    # Lets this graph's sparse matrices filter the parent's sorted entry lists instead of sorting again.
    parent: "BipartiteGraph | None" = field(default=None, repr=False)
    kept: np.ndarray | None = field(default=None, repr=False)
    _sorted: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if (self.item_src is None) != (self.item_dst is None):
            raise ValueError("item_src and item_dst go together")
        if self.item_features is not None:
            if self.item_features.dim() != 2 or self.item_features.shape[0] != self.n_items:
                raise ValueError(f"item_features must be n_items x d ({self.n_items} rows), "
                                 f"got {tuple(self.item_features.shape)}")
            if self.item_features.device != self.device:
                object.__setattr__(self, "item_features", self.item_features.to(self.device))

    @classmethod
    def from_split(cls, split, n_items: int, device: torch.device | str = "cpu", item_edges=None,
                   item_features: torch.Tensor | None = None) -> "BipartiteGraph":
        """Graph of a :class:`~gnnnas.data.SplitData` (normally the training split).

        ``item_edges`` is ``(src, dst)`` of undirected item-item edges (or None).
        """
        users, items = split.pairs()
        src, dst = item_edges if item_edges is not None else (None, None)
        return cls(split.n_users, n_items, users, items, torch.device(device), src, dst, item_features)

    @classmethod
    def of(cls, split, n_items: int, device: torch.device | str = "cpu", item_edges=None,
           item_features: torch.Tensor | None = None, key: str = "") -> "BipartiteGraph":
        """The graph of ``split`` on ``device``, built once and reused while the split lives.

        A search trains hundreds of candidates on one dataset; they all share
        one normalised adjacency per device instead of rebuilding it per trial.
        ``key`` names the item edges and features (different ones, different graphs).
        """
        device = torch.device(device)
        per_device = _GRAPHS.setdefault(split, {})
        cache_key = (n_items, str(device), key)
        if cache_key not in per_device:
            per_device[cache_key] = cls.from_split(split, n_items, device, item_edges, item_features)
        return per_device[cache_key]

    @property
    def num_nodes(self) -> int:
        return self.n_users + self.n_items

    @property
    def num_edges(self) -> int:
        """Undirected user-item edges (= training interactions)."""
        return int(self.users.size)

    @property
    def has_item_edges(self) -> bool:
        return self.item_src is not None and self.item_src.size > 0

    @property
    def num_item_edges(self) -> int:
        """Undirected item-item edges."""
        return int(self.item_src.size) if self.item_src is not None else 0

    @cached_property
    def user_degree(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users).astype(np.float64)

    @cached_property
    def interaction_degree(self) -> np.ndarray:
        """Training interactions per item (0 for cold items)."""
        return np.bincount(self.items, minlength=self.n_items).astype(np.float64)

    @cached_property
    def item_degree(self) -> np.ndarray:
        """Graph degree of each item: its interactions plus its item-item edges."""
        degree = self.interaction_degree
        if self.has_item_edges:
            degree = degree + np.bincount(np.concatenate([self.item_src, self.item_dst]), minlength=self.n_items)
        return degree

    @cached_property
    def edge_weight(self) -> np.ndarray:
        """Symmetric normalisation 1 / sqrt(deg(u) deg(i)) of each edge."""
        return 1.0 / np.sqrt(self.user_degree[self.users] * self.item_degree[self.items])

    @cached_property
    def norm_blocks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(R_hat, R_hat^T) as CSR tensors on ``device``."""
        du, di = self.user_degree, self.item_degree  # the values of edge_weight, in each block's order
        users, items = self.sorted_entries("r")
        r = _csr_sorted(users, items, 1.0 / np.sqrt(du[users] * di[items]), (self.n_users, self.n_items),
                        self.device)
        items, users = self.sorted_entries("rt")
        rt = _csr_sorted(items, users, 1.0 / np.sqrt(du[users] * di[items]), (self.n_items, self.n_users),
                         self.device)
        return r, rt

    @cached_property
    def norm_item_block(self) -> torch.Tensor | None:
        """``S_hat`` (items x items, symmetric CSR, 1 / sqrt(deg(i) deg(j)) per edge), or None without item edges."""
        if not self.has_item_edges:
            return None
        deg = self.item_degree
        w = 1.0 / np.sqrt(deg[self.item_src] * deg[self.item_dst])
        src = np.concatenate([self.item_src, self.item_dst])
        dst = np.concatenate([self.item_dst, self.item_src])
        return _csr(src, dst, np.concatenate([w, w]), (self.n_items, self.n_items), self.device)

    def directed_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(src, dst) of every edge in both directions over all nodes (items offset by ``n_users``)."""
        items = self.items + self.n_users
        src, dst = [self.users, items], [items, self.users]
        if self.has_item_edges:
            a, b = self.item_src + self.n_users, self.item_dst + self.n_users
            src += [a, b]
            dst += [b, a]
        return np.concatenate(src), np.concatenate(dst)

    @cached_property
    def edge_index(self) -> torch.Tensor:
        """``2 x 2E`` COO edge index over all nodes (items offset by ``n_users``), both directions, for PyG layers."""
        src, dst = self.directed_edges()
        return torch.from_numpy(np.stack([src, dst])).to(self.device)

    @cached_property
    def norm_adjacency(self) -> torch.Tensor:
        """Full ``N x N`` symmetric-normalised adjacency (CSR), for code that wants one matrix."""
        deg = np.concatenate([self.user_degree, self.item_degree])
        src, dst = self.sorted_entries("directed")
        return _csr_sorted(src, dst, 1.0 / np.sqrt(deg[src] * deg[dst]), (self.num_nodes, self.num_nodes),
                           self.device)

    def entries(self, kind: str) -> tuple[np.ndarray, np.ndarray, int, int]:
        """The entry list ``kind`` of this graph's sparse matrices: ``(rows, cols, n_cols, reps)``.

        ``r`` / ``rt``: the user-item edges as (user, item) / (item, user); ``directed``: every edge
        in both directions over all nodes (:meth:`directed_edges`); ``directed+loops``: the same plus
        one self-loop per node; a ``^T`` suffix swaps rows and columns. Each list is ``reps`` copies of
        per-user-item-edge entries followed by entries that do not depend on them.
        """
        base, transposed = kind.removesuffix("^T"), kind.endswith("^T")
        if base == "r":
            rows, cols, reps = self.users, self.items, 1
        elif base == "rt":
            rows, cols, reps = self.items, self.users, 1
        elif base in ("directed", "directed+loops"):
            rows, cols = self.directed_edges()
            reps = 2
            if base == "directed+loops":
                loops = np.arange(self.num_nodes)
                rows, cols = np.concatenate([rows, loops]), np.concatenate([cols, loops])
        else:
            raise ValueError(f"unknown entry list {kind!r}")
        if transposed:
            rows, cols = cols, rows
        n_cols = {"r": self.n_items, "rt": self.n_users}.get(base, self.num_nodes)
        return rows, cols, n_cols, reps

    def sorted_entries(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of :meth:`entries` ``kind`` sorted by (row, column), computed once per graph.

        A graph made by :func:`dropout_edges` filters its parent's sorted list (kept entries stay
        sorted) in one linear pass instead of sorting again: sorting every entry was most of a
        mini-batch's time for small GNNs trained with edge dropout.
        """
        cached = self._sorted.get(kind)
        if cached is None:
            if self.parent is not None:
                rows, cols, _ = self.parent._sorted_with_edges(kind)
                keep = self.sorted_mask(kind)
                cached = (rows[keep], cols[keep])
            else:
                cached = self._sorted_with_edges(kind)[:2]
            self._sorted[kind] = cached
        return cached

    def sorted_mask(self, kind: str) -> np.ndarray:
        """For a graph made by edge dropout: which entries of the parent's sorted list ``kind`` it keeps."""
        if self.parent is None or self.kept is None:
            raise ValueError("sorted_mask: this graph was not made by edge dropout")
        key = ("mask", kind)
        if key not in self._sorted:
            edge = self.parent._sorted_with_edges(kind)[2]
            self._sorted[key] = np.append(self.kept, True)[edge]  # edge -1 (fixed entries): kept
        return self._sorted[key]

    def _sorted_with_edges(self, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Also the user-item edge of each sorted entry (-1 for entries that are not one), so graphs
        # made by edge dropout can filter this list.
        key = ("edges", kind)
        if key not in self._sorted:
            rows, cols, n_cols, reps = self.entries(kind)
            order = _sort_order(rows, cols, n_cols)
            edge = np.full(rows.size, -1, dtype=np.int64)
            edge[: reps * self.num_edges] = np.tile(np.arange(self.num_edges), reps)
            self._sorted[key] = (rows[order], cols[order], edge[order])
        return self._sorted[key]

    def with_edges(self, users: np.ndarray, items: np.ndarray) -> "BipartiteGraph":
        """The same nodes, item edges and features with other user-item edges."""
        return BipartiteGraph(self.n_users, self.n_items, users, items, self.device, self.item_src, self.item_dst,
                              self.item_features)

    def to(self, device: torch.device | str) -> "BipartiteGraph":
        device = torch.device(device)
        if device == self.device:
            return self
        features = self.item_features.to(device) if self.item_features is not None else None
        return BipartiteGraph(self.n_users, self.n_items, self.users, self.items, device, self.item_src,
                              self.item_dst, features)


# SplitData -> {(n_items, device): graph}; entries go when the split is garbage-collected.
_GRAPHS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def dropout_edges(graph: BipartiteGraph, p: float, generator: np.random.Generator) -> BipartiteGraph:
    """Drop each undirected user-item edge with probability ``p`` and renormalise.

    Dropping whole undirected edges keeps the adjacency symmetric, which the
    fast propagation relies on; degrees are recomputed from the kept edges.
    Item-item edges (fixed side information, not interactions) are kept.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"edge dropout must be in [0, 1), got {p}")
    if p == 0.0:
        return graph
    keep = generator.random(graph.num_edges) >= p
    root = graph.parent if graph.parent is not None else graph  # never chain: sorted lists come from the root
    if root is not graph:
        keep_root = np.zeros(root.num_edges, dtype=bool)
        keep_root[np.flatnonzero(graph.kept)[keep]] = True
        keep = keep_root
    return BipartiteGraph(root.n_users, root.n_items, root.users[keep], root.items[keep], root.device,
                          root.item_src, root.item_dst, root.item_features, parent=root, kept=keep)
