"""The user-item bipartite graph and fast propagation over it."""

from gnnnas.graph.bipartite import BipartiteGraph, dropout_edges
from gnnnas.graph.propagation import bipartite_spmm, linear_propagation

__all__ = ["BipartiteGraph", "dropout_edges", "bipartite_spmm", "linear_propagation"]
