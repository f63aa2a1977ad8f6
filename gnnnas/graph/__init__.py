"""The user-item bipartite graph and fast propagation over it."""

from gnnnas.graph.bipartite import BipartiteGraph, dropout_edges
from gnnnas.graph.adjacency import ADJACENCY_FORMS, EdgeStructure, adjacency_form
from gnnnas.graph.propagation import (bipartite_spmm, linear_propagation, linear_propagation_rows,
                                       symmetric_spmm)
from gnnnas.graph.build import build_graph
from gnnnas.graph.item_graphs import ITEM_GRAPHS, item_edges

__all__ = ["BipartiteGraph", "dropout_edges", "bipartite_spmm", "linear_propagation", "linear_propagation_rows",
           "symmetric_spmm", "ADJACENCY_FORMS", "EdgeStructure", "adjacency_form", "build_graph", "ITEM_GRAPHS",
           "item_edges"]
