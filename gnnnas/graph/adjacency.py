r"""Adjacency forms of the bipartite graph seen as one homogeneous graph of users + items.

Each message-passing layer wants its own view of the same graph (its
``ADJACENCY``), looked up by name in :data:`ADJACENCY_FORMS`:

- ``bipartite``: the graph itself, i.e. :math:`D^{-1/2} A D^{-1/2}` as its
  two cached blocks for :func:`gnnnas.graph.bipartite_spmm` (LightGCN, NGCF);
- ``gcn``: :math:`\tilde D^{-1/2} (A + I) \tilde D^{-1/2}` (GCN);
- ``binary``: the 0/1 adjacency :math:`A` (GraphSAGE, GIN);
- ``edges``: the edge structure with self-loops that attention layers put
  per-edge weights on (:mod:`gnnnas.graph.attention`).

``gcn`` and ``binary`` are ``N x N`` CSR matrices (users first, items offset
by ``n_users``) and symmetric, so a product's backward is the same product
(:func:`gnnnas.graph.symmetric_spmm`). Each form is built once per graph, on
first use, and dropped with the graph: a graph made by edge dropout lives
for one mini-batch, so only the forms its model uses are built for it.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from gnnnas.graph.bipartite import BipartiteGraph, _csr_sorted, _sort_order


def _node_degree(graph: BipartiteGraph) -> np.ndarray:
    return np.concatenate([graph.user_degree, graph.item_degree])


def _bipartite(graph: BipartiteGraph) -> BipartiteGraph:
    r"""The graph itself: ``D^{-1/2} A D^{-1/2}`` as its two cached blocks, for
    :func:`gnnnas.graph.bipartite_spmm` (LightGCN, NGCF; measured 3-10% faster
    than one ``N x N`` product, slices and concatenation included)."""
    return graph


def _binary(graph: BipartiteGraph) -> torch.Tensor:
    """``A``: 1 per edge (sum and mean aggregation: GraphSAGE, GIN)."""
    src, dst = graph.sorted_entries("directed")
    return _csr_sorted(src, dst, np.ones(src.size), (graph.num_nodes,) * 2, graph.device)


def _gcn(graph: BipartiteGraph) -> torch.Tensor:
    r"""``\tilde D^{-1/2} (A + I) \tilde D^{-1/2}`` with ``\tilde D = D + I`` (Kipf & Welling's renormalisation)."""
    src, dst = graph.sorted_entries("directed+loops")
    dinv = 1.0 / np.sqrt(_node_degree(graph) + 1.0)
    return _csr_sorted(src, dst, dinv[src] * dinv[dst], (graph.num_nodes,) * 2, graph.device)


@dataclass(frozen=True, eq=False)
class EdgeStructure:
    """The edges of the graph with one self-loop per node, in CSR order, for per-edge weights (attention).

    Edge ``e`` goes from node ``col[e]`` to node ``row[e]``; edges are sorted
    by ``(row, col)`` so ``crow`` delimits each node's incoming edges. The
    edge set is symmetric: ``reverse[e]`` is the position of the opposite
    edge, which gives the transpose of any edge-weighted matrix on this
    structure without re-sorting.
    """

    crow: torch.Tensor  # N + 1, int64
    col: torch.Tensor  # E, int64 (source)
    row: torch.Tensor  # E, int64 (destination)
    reverse: torch.Tensor  # E, int64
    num_nodes: int
    _crow32: torch.Tensor  # int32 copies: the CPU sparse kernels convert int64 indices on every call
    _col32: torch.Tensor

    @property
    def num_edges(self) -> int:
        return int(self.col.numel())

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        """``N x N`` CSR matrix with ``values`` (``E``, contiguous) on this structure."""
        with warnings.catch_warnings():  # "CSR support is in beta", as in bipartite._csr
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self._crow32, self._col32, values, (self.num_nodes,) * 2,
                                           check_invariants=False)


def _edge_structure(graph: BipartiteGraph) -> EdgeStructure:
    dst, src = graph.sorted_entries("directed+loops^T")  # sorted by (dst, src)
    if graph.parent is not None:
        # The opposite of a kept edge is kept: renumber the parent's pairing instead of sorting again.
        keep = graph.sorted_mask("directed+loops^T")
        position = np.cumsum(keep) - 1
        reverse = position[adjacency_form(graph.parent, "edges").reverse.cpu().numpy()[keep]]
    else:
        # Sorted by (dst, src), the k-th edge's opposite is the k-th edge in (src, dst) order.
        reverse = _sort_order(src, dst, graph.num_nodes)
    crow = np.zeros(graph.num_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=graph.num_nodes), out=crow[1:])
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(graph.device)  # noqa: E731
    fits32 = src.size < 2**31 - 1
    return EdgeStructure(as_tensor(crow), as_tensor(src), as_tensor(dst), as_tensor(reverse), graph.num_nodes,
                         as_tensor(crow.astype(np.int32) if fits32 else crow),
                         as_tensor(src.astype(np.int32) if fits32 else src))


#: form name -> builder. Layers name the form they consume (their ``ADJACENCY``).
ADJACENCY_FORMS: dict[str, Callable[[BipartiteGraph], Any]] = {
    "bipartite": _bipartite,
    "binary": _binary,
    "gcn": _gcn,
    "edges": _edge_structure,
}

# graph -> {form: tensor}; an entry goes when its graph is garbage-collected.
_CACHE: "weakref.WeakKeyDictionary[BipartiteGraph, dict[str, Any]]" = weakref.WeakKeyDictionary()


def adjacency_form(graph: BipartiteGraph, form: str) -> Any:
    """The ``form`` view of ``graph`` on the graph's device, built once per graph."""
    forms = _CACHE.setdefault(graph, {})
    if form not in forms:
        try:
            builder = ADJACENCY_FORMS[form]
        except KeyError:
            raise ValueError(f"unknown adjacency form {form!r}; expected one of {', '.join(ADJACENCY_FORMS)}") from None
        built = builder(graph)
        if built is graph:
            # Never cache the graph under itself: a value referencing its weak key keeps the entry alive
            # forever, and edge dropout makes a new graph every mini-batch (a search ran out of 24 GB).
            return graph
        forms[form] = built
    return forms[form]
