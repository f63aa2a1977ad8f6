"""Normalised adjacency, fused propagation and its hand-written backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.nn.models import LightGCN as PyGLightGCN

from gnnnas.data.dataset import SplitData
from gnnnas.graph import BipartiteGraph, bipartite_spmm, dropout_edges, linear_propagation

N_USERS, N_ITEMS = 7, 9


@pytest.fixture
def graph() -> BipartiteGraph:
    rng = np.random.default_rng(3)
    users = rng.integers(0, N_USERS, 30)
    items = rng.integers(0, N_ITEMS, 30)
    users[:N_USERS] = np.arange(N_USERS)  # every user has an edge
    return BipartiteGraph.from_split(SplitData.from_pairs(users, items, N_USERS), N_ITEMS)


def dense_norm_adj(g: BipartiteGraph) -> torch.Tensor:
    n = g.num_nodes
    a = torch.zeros(n, n, dtype=torch.float64)
    a[g.users, g.items + g.n_users] = 1
    a[g.items + g.n_users, g.users] = 1
    deg = a.sum(1)
    dinv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    return dinv[:, None] * a * dinv[None, :]


def test_normalised_adjacency_matches_dense_definition(graph):
    want = dense_norm_adj(graph)
    got = graph.norm_adjacency.to_dense().double()
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
    assert torch.equal(got, got.t())  # symmetric
    r, rt = graph.norm_blocks
    torch.testing.assert_close(r.to_dense().double(), want[:N_USERS, N_USERS:], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(rt.to_dense().double(), want[N_USERS:, :N_USERS], rtol=1e-6, atol=1e-7)
    assert graph.edge_index.shape == (2, 2 * graph.num_edges)


def test_graph_is_built_once_and_reused(graph):
    assert graph.norm_blocks[0] is graph.norm_blocks[0]
    assert graph.edge_index is graph.edge_index


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_linear_propagation_forward_and_backward_match_dense_autograd(graph, layers):
    a = dense_norm_adj(graph)
    weights = [1.0 / (layers + 1)] * (layers + 1)
    torch.manual_seed(0)
    xu = torch.randn(N_USERS, 5, requires_grad=True)
    xi = torch.randn(N_ITEMS, 5, requires_grad=True)
    gu, gi = torch.randn(N_USERS, 5), torch.randn(N_ITEMS, 5)

    out_u, out_i = linear_propagation(graph, xu, xi, weights)
    ((out_u * gu).sum() + (out_i * gi).sum()).backward()

    x = torch.cat([xu, xi]).detach().double().requires_grad_()
    h, out = x, weights[0] * x
    for w in weights[1:]:
        h = a @ h
        out = out + w * h
    (out * torch.cat([gu, gi]).double()).sum().backward()

    torch.testing.assert_close(torch.cat([out_u, out_i]).double(), out.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.cat([xu.grad, xi.grad]).double(), x.grad, rtol=1e-5, atol=1e-6)


def test_single_hop_gradient(graph):
    xu = torch.randn(N_USERS, 3, dtype=torch.float32, requires_grad=True)
    xi = torch.randn(N_ITEMS, 3, dtype=torch.float32, requires_grad=True)
    yu, yi = bipartite_spmm(graph, xu, xi)
    (yu.pow(2).sum() + yi.sin().sum()).backward()
    a = dense_norm_adj(graph).float()
    x = torch.cat([xu, xi]).detach().requires_grad_()
    y = a @ x
    (y[:N_USERS].pow(2).sum() + y[N_USERS:].sin().sum()).backward()
    torch.testing.assert_close(torch.cat([xu.grad, xi.grad]), x.grad, rtol=1e-5, atol=1e-6)


def test_propagation_equals_pyg_lightgcn(graph):
    """Our fused operator computes exactly PyG's LightGCN embedding (same weights)."""
    pyg = PyGLightGCN(num_nodes=graph.num_nodes, embedding_dim=8, num_layers=3)
    x = pyg.embedding.weight.detach()
    want = pyg.get_embedding(graph.edge_index).detach()
    out_u, out_i = linear_propagation(graph, x[:N_USERS], x[N_USERS:], [0.25] * 4)
    torch.testing.assert_close(torch.cat([out_u, out_i]), want, rtol=1e-5, atol=1e-6)


def test_edge_dropout_drops_whole_edges_and_renormalises(graph):
    rng = np.random.default_rng(0)
    dropped = dropout_edges(graph, 0.5, rng)
    assert 0 < dropped.num_edges < graph.num_edges
    adj = dropped.norm_adjacency.to_dense()
    assert torch.equal(adj, adj.t())
    torch.testing.assert_close(adj.double(), dense_norm_adj(dropped), rtol=1e-6, atol=1e-7)
    assert dropout_edges(graph, 0.0, rng) is graph
    with pytest.raises(ValueError):
        dropout_edges(graph, 1.0, rng)


@pytest.mark.parametrize("with_item_edges", [False, True])
def test_dropped_graph_matrices_equal_those_built_from_scratch(with_item_edges):
    """A dropped graph derives its entry orders from its parent's; every matrix must equal a fresh build."""
    from gnnnas.graph.adjacency import ADJACENCY_FORMS, adjacency_form

    rng = np.random.default_rng(5)
    n_users, n_items = 30, 25
    # distinct pairs, as datasets have: duplicate entries may pair up in any order in ``reverse``
    keys = np.unique(np.concatenate([np.arange(n_users) * n_items, rng.integers(0, n_users * n_items, 200)]))
    users, items = keys // n_items, keys % n_items
    src = dst = None
    if with_item_edges:
        pairs = np.unique(rng.integers(0, n_items * n_items, 15))
        src, dst = pairs // n_items, pairs % n_items
        src, dst = src[src != dst], dst[src != dst]
    root = BipartiteGraph(n_users, n_items, users, items, torch.device("cpu"), src, dst)
    dropped = dropout_edges(dropout_edges(root, 0.3, rng), 0.3, rng)  # twice: orders still come from the root
    assert dropped.parent is root and dropped.num_edges < root.num_edges
    fresh = root.with_edges(dropped.users, dropped.items)
    assert fresh.parent is None

    def same(a, b):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a.crow_indices(), b.crow_indices())
            assert torch.equal(a.col_indices(), b.col_indices())
            assert torch.equal(a.values(), b.values())
        elif isinstance(a, BipartiteGraph):
            for x, y in zip(a.norm_blocks, b.norm_blocks):
                same(x, y)
        else:  # edge structure
            for name in ("crow", "col", "row", "reverse"):
                assert torch.equal(getattr(a, name), getattr(b, name)), name

    same(dropped.norm_adjacency, fresh.norm_adjacency)
    for form in ADJACENCY_FORMS:
        same(adjacency_form(dropped, form), adjacency_form(fresh, form))
    edges = adjacency_form(dropped, "edges")
    assert torch.equal(edges.col[edges.reverse], edges.row)  # reverse[e] is the opposite edge of e
    assert torch.equal(edges.row[edges.reverse], edges.col)


def test_graph_of_a_split_is_cached_per_device():
    split = SplitData.from_pairs(np.array([0, 1, 1]), np.array([0, 0, 2]), 2)
    g1 = BipartiteGraph.of(split, 3)
    assert BipartiteGraph.of(split, 3) is g1
    other = SplitData.from_pairs(np.array([0, 1, 1]), np.array([0, 0, 2]), 2)
    assert BipartiteGraph.of(other, 3) is not g1


def test_adjacency_forms_of_a_dropped_graph_are_freed_with_it(graph):
    """Edge dropout makes a new graph every mini-batch: none of its cached forms may outlive it."""
    import gc

    from gnnnas.graph.adjacency import _CACHE, ADJACENCY_FORMS, adjacency_form

    adjacency_form(graph, "edges")  # the root's own forms live with it (dropped graphs derive theirs from them)
    gc.collect()
    before = len(_CACHE)
    rng = np.random.default_rng(0)
    for _ in range(5):
        dropped = dropout_edges(graph, 0.2, rng)
        for form in ADJACENCY_FORMS:
            adjacency_form(dropped, form)
        assert adjacency_form(dropped, "bipartite") is dropped
    del dropped
    gc.collect()
    assert len(_CACHE) == before


def test_training_with_edge_dropout_does_not_accumulate_graphs(tiny_dataset):
    import gc

    from gnnnas.graph.adjacency import _CACHE
    from gnnnas.models.registry import build_model
    from gnnnas.models.spec import ArchSpec, LayerSpec, TrainingSpec
    from gnnnas.training import TrainConfig, Trainer

    # A lightgcn layer with a norm is not the linear fast path: it goes through the layer stack and the cache.
    spec = ArchSpec(embedding_dim=8, layers=(LayerSpec("lightgcn", hidden=8, norm="layer"), LayerSpec("gcn", hidden=8)),
                    edge_dropout=0.2, training=TrainingSpec(batch_size=16))
    ds = tiny_dataset
    model = build_model(spec, BipartiteGraph.from_split(ds.train, ds.n_items), 0, torch.device("cpu"))
    gc.collect()
    before = len(_CACHE)
    cfg = TrainConfig(epochs=2, batch_size=16, edge_dropout=0.2, eval_every=100, progress=False)
    assert -(-ds.train.nnz // 16) * 2 >= 10  # many mini-batches, each with its own dropped graph
    Trainer(model, ds, cfg).fit()
    gc.collect()
    assert len(_CACHE) <= before + 2
