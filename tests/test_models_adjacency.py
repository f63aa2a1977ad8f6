"""The graph forms the layers consume and the sparse kernels over them, against dense definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.utils import softmax

from gnnnas.data.dataset import SplitData
from gnnnas.graph import ADJACENCY_FORMS, BipartiteGraph, adjacency_form, dropout_edges, symmetric_spmm
from gnnnas.graph.attention import edge_softmax, edge_weighted_spmm
from gnnnas.models.layers import sparse_aggregate
from gnnnas.models.layers.base import scatter_max

N_USERS, N_ITEMS = 6, 8


@pytest.fixture
def graph() -> BipartiteGraph:
    rng = np.random.default_rng(11)
    users = rng.integers(0, N_USERS, 25)
    items = rng.integers(0, N_ITEMS - 1, 25)  # the last item is isolated
    return BipartiteGraph.from_split(SplitData.from_pairs(users, items, N_USERS), N_ITEMS)


def dense_a(g: BipartiteGraph) -> torch.Tensor:
    a = torch.zeros(g.num_nodes, g.num_nodes, dtype=torch.float64)
    a[g.users, g.items + g.n_users] = 1
    a[g.items + g.n_users, g.users] = 1
    return a


def test_sparse_forms_match_their_definitions(graph):
    a = dense_a(graph)
    torch.testing.assert_close(adjacency_form(graph, "binary").to_dense().double(), a)
    loops = a + torch.eye(graph.num_nodes, dtype=torch.float64)
    dinv = loops.sum(1).pow(-0.5)
    torch.testing.assert_close(adjacency_form(graph, "gcn").to_dense().double(),
                               dinv[:, None] * loops * dinv[None, :], rtol=1e-6, atol=1e-7)
    assert adjacency_form(graph, "bipartite") is graph


def test_forms_are_built_once_per_graph_and_follow_edge_dropout(graph):
    for form in ADJACENCY_FORMS:
        assert adjacency_form(graph, form) is adjacency_form(graph, form)
    dropped = dropout_edges(graph, 0.5, np.random.default_rng(0))
    assert adjacency_form(dropped, "binary")._nnz() == 2 * dropped.num_edges
    with pytest.raises(ValueError, match="unknown adjacency form"):
        adjacency_form(graph, "nope")


def test_edge_structure(graph):
    edges = adjacency_form(graph, "edges")
    assert edges.num_edges == 2 * graph.num_edges + graph.num_nodes
    assert torch.equal(edges.row[edges.reverse], edges.col) and torch.equal(edges.col[edges.reverse], edges.row)
    assert torch.equal(torch.bincount(edges.row, minlength=graph.num_nodes), edges.crow.diff())
    key = edges.row * graph.num_nodes + edges.col
    assert torch.all(key[1:] > key[:-1])  # sorted by (destination, source), no duplicates
    want = dense_a(graph) + torch.eye(graph.num_nodes, dtype=torch.float64)
    assert torch.equal(edges.matrix(torch.ones(edges.num_edges)).to_dense().double(), want)


def test_symmetric_spmm_gradient(graph):
    a = graph.norm_adjacency
    x = torch.randn(graph.num_nodes, 3, requires_grad=True)
    g = torch.randn(graph.num_nodes, 3)
    symmetric_spmm(a, x).backward(g)
    torch.testing.assert_close(x.grad, a.to_dense().t() @ g)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "scatter_max"])
def test_sparse_aggregate_matches_dense(graph, reduce):
    a = dense_a(graph).float()
    x = torch.randn(graph.num_nodes, 4, requires_grad=True)
    if reduce == "scatter_max":  # the CUDA path of max, run on CPU tensors
        got = scatter_max(adjacency_form(graph, "binary"), x)
    else:
        got = sparse_aggregate(adjacency_form(graph, "binary"), x, reduce)
    if reduce == "sum":
        want = a @ x
    elif reduce == "mean":
        want = (a @ x) / a.sum(1, keepdim=True).clamp(min=1)
    else:
        masked = torch.where(a[:, :, None] > 0, x[None, :, :], torch.tensor(float("-inf")))
        want = torch.where(a.sum(1, keepdim=True) > 0, masked.max(1).values, torch.zeros(()))
    torch.testing.assert_close(got, want)
    g = torch.randn_like(want)
    (grad_got,) = torch.autograd.grad(got, x, g)
    (grad_want,) = torch.autograd.grad(want, x, g)
    torch.testing.assert_close(grad_got, grad_want)


def test_edge_softmax_and_weighted_spmm_match_gather_scatter(graph):
    edges = adjacency_form(graph, "edges")
    heads, channels = 3, 4
    logits = torch.randn(edges.num_edges, heads, dtype=torch.float64, requires_grad=True)
    x = torch.randn(graph.num_nodes, heads, channels, dtype=torch.float64, requires_grad=True)
    g = torch.randn(graph.num_nodes, heads, channels, dtype=torch.float64)

    def ours():
        return edge_weighted_spmm(edges, edge_softmax(logits, edges), x)

    def reference():  # PyG-style: one message per edge, scattered to its destination
        alpha = softmax(logits, edges.row, num_nodes=graph.num_nodes)
        messages = alpha.unsqueeze(-1) * x[edges.col]
        return torch.zeros_like(x).index_add(0, edges.row, messages)

    results = []
    for f in (ours, reference):
        out = f()
        results.append((out, *torch.autograd.grad(out, (logits, x), g)))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want)
