"""The model space: every architecture builds, trains, ranks; layers match PyG; presets learn."""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, GINConv, LGConv, SAGEConv

from gnnnas.data.dataset import SplitData
from gnnnas.evaluation import Evaluator
from gnnnas.graph import BipartiteGraph, adjacency_form, dropout_edges
from gnnnas.models import PRESETS, GNNRecommender, LightGCN, Popularity
from gnnnas.models.layers import AGGREGATOR_LAYERS, build_aggregator
from gnnnas.models.profile import forward_latency, parameter_count, profile_spec
from gnnnas.models.scoring import COSINE_SCALE
from gnnnas.models.spec import ACTIVATIONS, AGGREGATORS, COMBINATIONS, NORMS, SKIPS, ArchSpec, LayerSpec
from gnnnas.training import TrainConfig, Trainer

N_USERS, N_ITEMS = 9, 11


@pytest.fixture
def graph() -> BipartiteGraph:
    rng = np.random.default_rng(5)
    users = rng.integers(0, N_USERS, 40)
    items = rng.integers(0, N_ITEMS - 1, 40)  # the last item has no edge: empty rows must work
    users[:N_USERS] = np.arange(N_USERS)
    return BipartiteGraph.from_split(SplitData.from_pairs(users, items, N_USERS), N_ITEMS)


def two_layers(aggregator: str, **kw) -> tuple[LayerSpec, LayerSpec]:
    heads = {"heads": 2} if aggregator in ("gat", "gatv2") else {}
    # different widths so that every projection (residual, dense, combination) is exercised
    return (LayerSpec(aggregator, hidden=8, activation="relu", **heads, **kw), LayerSpec(aggregator, hidden=12, **heads))


def forward_backward(model: GNNRecommender) -> tuple[torch.Tensor, torch.Tensor]:
    zu, zi = model()
    loss = (zu[:3] @ zi[:4].t()).sigmoid().sum() + zu.pow(2).mean()
    loss.backward()
    return zu, zi


def assert_trainable(model: GNNRecommender) -> None:
    zu, zi = forward_backward(model)
    assert zu.shape == (N_USERS, model.out_dim) and zi.shape == (N_ITEMS, model.out_dim)
    assert torch.isfinite(zu).all() and torch.isfinite(zi).all()
    user_table, item_table = model.embedding_tables()
    assert user_table.grad is not None and user_table.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
    scores = model.score(torch.tensor([0, 2, 5]))
    assert scores.shape == (3, N_ITEMS) and torch.isfinite(scores).all()


# --- every aggregator x skip x combination -----------------------------------------------------------

@pytest.mark.parametrize("aggregator,skip,combination", list(itertools.product(AGGREGATORS, SKIPS, COMBINATIONS)))
def test_every_architecture_builds_and_trains(graph, aggregator, skip, combination):
    torch.manual_seed(0)
    spec = ArchSpec(embedding_dim=6, layers=two_layers(aggregator), skip=skip, combination=combination)
    model = GNNRecommender(spec, graph)
    assert_trainable(model)
    widths = [6] + [layer.hidden for layer in spec.layers]
    assert model.out_dim == (sum(widths) if combination == "concat" else widths[-1])


def test_registry_covers_every_aggregator_of_the_spec():
    assert set(AGGREGATOR_LAYERS) == set(AGGREGATORS)


@pytest.mark.parametrize("norm,activation", list(itertools.product(NORMS, ACTIVATIONS)))
def test_norms_and_activations(graph, norm, activation):
    torch.manual_seed(0)
    layers = (LayerSpec("gcn", hidden=8, norm=norm, activation=activation, dropout=0.2),) * 2
    assert_trainable(GNNRecommender(ArchSpec(embedding_dim=8, layers=layers), graph))


@pytest.mark.parametrize("aggregator", ["gat", "gatv2"])
@pytest.mark.parametrize("heads,head_combine", [(1, "concat"), (4, "concat"), (3, "mean")])
def test_attention_heads_concat_or_mean_give_the_layer_width(graph, aggregator, heads, head_combine):
    layer = LayerSpec(aggregator, hidden=12, heads=heads, head_combine=head_combine)
    conv = build_aggregator(layer, 5)
    out = conv(torch.randn(graph.num_nodes, 5), adjacency_form(graph, conv.ADJACENCY))
    assert out.shape == (graph.num_nodes, 12)
    torch.manual_seed(0)
    assert_trainable(GNNRecommender(ArchSpec(embedding_dim=5, layers=(layer,), combination="mean"), graph))


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_zero_layers_is_matrix_factorisation(graph, combination):
    torch.manual_seed(0)
    model = GNNRecommender(ArchSpec(embedding_dim=7, layers=(), combination=combination), graph)
    zu, zi = model()
    user_table, item_table = model.embedding_tables()
    assert torch.equal(zu, user_table) and torch.equal(zi, item_table)
    torch.testing.assert_close(model.score(torch.arange(N_USERS)), user_table @ item_table.t())


@pytest.mark.parametrize("aggregator", ["lightgcn", "sage_mean"])
def test_cosine_scoring_scores_are_scaled_cosines(graph, aggregator):
    torch.manual_seed(0)
    model = GNNRecommender(ArchSpec(embedding_dim=8, layers=two_layers(aggregator), scoring="cosine"), graph)
    assert_trainable(model)
    zu, zi = model.get_embeddings()
    torch.testing.assert_close(zu.norm(dim=1), torch.full((N_USERS,), COSINE_SCALE ** 0.5))
    scores = model.score(torch.arange(N_USERS))
    assert scores.abs().max() <= COSINE_SCALE + 1e-4
    torch.manual_seed(0)
    dot = GNNRecommender(ArchSpec(embedding_dim=8, layers=two_layers(aggregator), scoring="dot"), graph)
    du, di = dot.get_embeddings()
    cos = torch.nn.functional.normalize(du, dim=1) @ torch.nn.functional.normalize(di, dim=1).t()
    torch.testing.assert_close(scores, COSINE_SCALE * cos)


# --- layers match PyG's reference implementations on an edge list ------------------------------------

def _pair(conv_ours, conv_ref, graph, in_dim, ref_edge_index):
    """Output and input gradient of our layer (on its adjacency form) and of PyG's (on ``ref_edge_index``)."""
    conv_ref.load_state_dict(conv_ours.state_dict())
    x = torch.randn(graph.num_nodes, in_dim, dtype=torch.float64)
    g = torch.randn(graph.num_nodes, conv_ours(x.float(), adjacency_form(graph, conv_ours.ADJACENCY)).size(1),
                    dtype=torch.float64)
    results = []
    for conv, adj in ((conv_ours, adjacency_form(graph, conv_ours.ADJACENCY)), (conv_ref, ref_edge_index)):
        xi = x.float().requires_grad_()
        out = conv(xi, adj)
        out.backward(g.float())
        results.append((out.detach(), xi.grad, {n: p.grad.clone() for n, p in conv.named_parameters()}))
    return results


@pytest.mark.parametrize("aggregator,reference", [
    ("lightgcn", lambda i, o: LGConv(normalize=True)),
    ("gcn", lambda i, o: GCNConv(i, o)),  # PyG's default: self-loops and symmetric normalisation on the fly
    ("sage_mean", lambda i, o: SAGEConv(i, o, aggr="mean")),
    ("sage_max", lambda i, o: SAGEConv(i, o, aggr="max")),
    ("sage_sum", lambda i, o: SAGEConv(i, o, aggr="sum")),
    ("gin", None),
    ("gat", lambda i, o: GATConv(i, o // 2, heads=2)),
    ("gatv2", lambda i, o: GATv2Conv(i, o // 2, heads=2)),
])
def test_layers_match_pyg_on_edge_index(graph, aggregator, reference):
    torch.manual_seed(0)
    layer = LayerSpec(aggregator, hidden=6, heads=2 if aggregator in ("gat", "gatv2") else 1)
    ours = build_aggregator(layer, 6)
    ref = GINConv(copy.deepcopy(ours.nn), train_eps=True) if aggregator == "gin" else reference(6, 6)
    (out, grad, param_grads), (want, want_grad, want_param_grads) = _pair(ours, ref, graph, 6, graph.edge_index)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, want_grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(param_grads, want_param_grads, rtol=1e-5, atol=1e-6)


def test_ngcf_layer_is_eq7_of_the_paper(graph):
    torch.manual_seed(0)
    conv = build_aggregator(LayerSpec("ngcf", hidden=5), 4)
    x = torch.randn(graph.num_nodes, 4)
    lap = graph.norm_adjacency.to_dense()
    eye = torch.eye(graph.num_nodes)
    w1, b1, w2, b2 = conv.lin_sum.weight, conv.lin_sum.bias, conv.lin_bi.weight, conv.lin_bi.bias
    want = (lap + eye) @ x @ w1.t() + b1 + ((lap @ x) * x) @ w2.t() + b2
    torch.testing.assert_close(conv(x, adjacency_form(graph, conv.ADJACENCY)), want, rtol=1e-5, atol=1e-6)


# --- skip connections -------------------------------------------------------------------------------

def test_residual_skip_adds_the_layer_input(graph):
    torch.manual_seed(0)
    spec = ArchSpec(embedding_dim=4, layers=(LayerSpec("lightgcn", activation="tanh"),) * 2, skip="residual",
                    combination="last")
    model = GNNRecommender(spec, graph)
    a = graph.norm_adjacency.to_dense()
    x = torch.cat(model.embedding_tables())
    x1 = torch.tanh(a @ x) + x
    x2 = torch.tanh(a @ x1) + x1
    zu, zi = model()
    torch.testing.assert_close(torch.cat([zu, zi]), x2)


def test_dense_skip_feeds_every_earlier_state(graph):
    torch.manual_seed(0)
    layers = (LayerSpec("gcn", hidden=5), LayerSpec("gcn", hidden=3), LayerSpec("lightgcn", activation="relu"))
    model = GNNRecommender(ArchSpec(embedding_dim=4, layers=layers, skip="dense", combination="concat"), graph)
    convs = [b.conv for b in model.stack.blocks]
    assert [c.in_channels for c in convs[:2]] == [4, 4 + 5]
    project = model.stack.inputs[2]  # lightgcn keeps its width: the 12-wide concatenation is projected to 3
    assert (project.in_features, project.out_features) == (4 + 5 + 3, 3)
    a_gcn = adjacency_form(graph, "gcn").to_dense()
    a = graph.norm_adjacency.to_dense()
    x0 = torch.cat(model.embedding_tables())
    x1 = a_gcn @ convs[0].lin(x0) + convs[0].bias
    x2 = a_gcn @ convs[1].lin(torch.cat([x0, x1], 1)) + convs[1].bias
    x3 = torch.relu(a @ project(torch.cat([x0, x1, x2], 1)))
    zu, zi = model()
    torch.testing.assert_close(torch.cat([zu, zi]), torch.cat([x0, x1, x2, x3], 1), rtol=1e-5, atol=1e-6)


# --- the LightGCN fast path ---------------------------------------------------------------------------

@pytest.mark.parametrize("combination", ["mean", "sum", "last"])
def test_linear_specs_take_the_fused_path_and_equal_the_generic_stack(graph, combination):
    layers = (LayerSpec("lightgcn"),) * 3
    torch.manual_seed(0)
    fast = GNNRecommender(ArchSpec(embedding_dim=8, layers=layers, combination=combination), graph)
    assert fast.linear and not hasattr(fast, "stack")
    torch.manual_seed(0)
    # the same spec forced through the generic layer stack (per-layer LightGCNConv, combination module)
    slow = GNNRecommender(ArchSpec(embedding_dim=8, layers=layers, combination=combination), graph)
    slow.linear = False
    from gnnnas.models.combination import build_combination
    from gnnnas.models.stack import build_stack
    slow.stack, slow.combine = build_stack(8, layers, "none"), build_combination(combination, [8] * 4)
    for a, b in zip(fast(), slow()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_lightgcn_preset_is_the_engine_lightgcn(tiny_dataset):
    ds = tiny_dataset
    graph = BipartiteGraph.from_split(ds.train, ds.n_items)
    spec = replace(PRESETS["lightgcn"].spec, embedding_dim=16)
    torch.manual_seed(3)
    ours = GNNRecommender(spec, graph)
    torch.manual_seed(3)
    engine = LightGCN(graph, dim=16, num_layers=3)
    for a, b in zip(ours(), engine()):
        assert torch.equal(a, b)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=0.01, eval_every=1, edge_dropout=0.1, progress=False)
    Trainer(ours, ds, cfg).fit()
    Trainer(engine, ds, cfg).fit()
    for a, b in zip(ours.embedding_tables(), engine.embedding_tables()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


# --- presets ------------------------------------------------------------------------------------------

def test_presets_are_valid_and_described():
    assert {"mf", "mf-ssm", "lightgcn", "ngcf", "gcn", "sage", "gin", "gat"} <= set(PRESETS)
    for name, preset in PRESETS.items():
        assert preset.name == name and preset.description
        assert ArchSpec.from_json(preset.spec.to_json()) == preset.spec
        assert preset.spec.embedding_dim == 64
    assert PRESETS["mf"].spec.num_layers == 0
    ssm = PRESETS["mf-ssm"].spec
    assert ssm.num_layers == 0 and ssm.scoring == "cosine"
    assert (ssm.training.loss, ssm.training.shared_negatives) == ("softmax", 256)
    assert PRESETS["lightgcn"].spec.is_linear
    assert [l.aggregator for l in PRESETS["ngcf"].spec.layers] == ["ngcf"] * 3
    assert PRESETS["ngcf"].spec.combination == "concat"


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_beats_popularity(tiny_dataset, name):
    ds = tiny_dataset
    graph = BipartiteGraph.from_split(ds.train, ds.n_items)
    evaluate = Evaluator(ds, "val", ks=(20,))
    popularity = evaluate(Popularity(graph).scorer())["recall@20"]
    spec = PRESETS[name].spec
    small = replace(spec, embedding_dim=16, layers=tuple(replace(l, hidden=16) for l in spec.layers))
    torch.manual_seed(0)
    model = GNNRecommender(small, graph)
    cfg = TrainConfig(epochs=6, batch_size=64, lr=0.01, l2=spec.training.l2, eval_every=1000, progress=False)
    Trainer(model, replace(ds, val=SplitData.from_pairs([], [], ds.n_users)), cfg).fit()
    learned = evaluate(model.scorer())["recall@20"]
    # the clustered table makes popularity weak (0.34); presets reach 0.86-0.95 here
    assert learned > popularity + 0.4, (learned, popularity)


# --- graph changes, modes, profiling ------------------------------------------------------------------

@pytest.mark.parametrize("aggregator", ["lightgcn", "gcn", "gat"])
def test_set_graph_swaps_the_propagation_graph(graph, aggregator):
    torch.manual_seed(0)
    layers = (LayerSpec(aggregator, hidden=8),) * 2
    model = GNNRecommender(ArchSpec(embedding_dim=8, layers=layers), graph).eval()
    full = torch.cat(model())
    dropped = dropout_edges(graph, 0.5, np.random.default_rng(0))
    model.set_graph(dropped)
    assert model.graph is dropped
    on_dropped = torch.cat(model())
    assert not torch.allclose(full, on_dropped)
    model.set_graph(graph)
    assert torch.equal(torch.cat(model()), full)


def test_training_with_edge_dropout_restores_the_graph(tiny_dataset):
    ds = tiny_dataset
    graph = BipartiteGraph.from_split(ds.train, ds.n_items)
    torch.manual_seed(0)
    model = GNNRecommender(ArchSpec(embedding_dim=8, layers=(LayerSpec("sage_mean", hidden=8),) * 2), graph)
    seen = []
    original_set_graph = model.set_graph
    model.set_graph = lambda g: (seen.append(g), original_set_graph(g))
    Trainer(model, ds, TrainConfig(epochs=1, batch_size=128, edge_dropout=0.3, progress=False)).fit()
    assert len(seen) > 2 and all(g.num_edges < graph.num_edges for g in seen[:-1])
    assert model.graph is graph


def test_eval_mode_is_deterministic(graph):
    torch.manual_seed(0)
    layers = (LayerSpec("gcn", hidden=8, norm="batch", dropout=0.5, activation="prelu"),) * 2
    model = GNNRecommender(ArchSpec(embedding_dim=8, layers=layers, combination="attention"), graph)
    model.train()
    a, b = torch.cat(model()), torch.cat(model())
    assert not torch.equal(a, b)  # dropout is active while training
    users = torch.arange(N_USERS)
    assert torch.equal(model.score(users), model.score(users))
    assert model.training  # get_embeddings restores the mode


def test_profile(graph):
    torch.manual_seed(0)
    spec = ArchSpec(embedding_dim=8, layers=(LayerSpec("gcn", hidden=4),), combination="last")
    model = GNNRecommender(spec, graph)
    assert parameter_count(model) == (N_USERS + N_ITEMS) * 8 + 8 * 4 + 4  # tables, weight, bias
    assert forward_latency(model, repeats=3, warmup=1) > 0 and model.training
    prof = profile_spec(spec, graph, repeats=2)
    assert prof["params"] == parameter_count(model) and prof["forward_seconds"] > 0


@pytest.mark.parametrize("n_items,dim,as_view", [(20_000, 16, True), (20_000, 32, True), (20_000, 64, False),
                                                 (500, 16, False)])
def test_full_ranking_scores_in_either_item_layout(n_items, dim, as_view):
    # Narrow tables over large catalogues are scored against the transposed view of the item table
    # (faster CPU kernels, no copy), everything else against a contiguous copy: same scores.
    from gnnnas.compress.models import EmbeddingTable
    from gnnnas.models.base import item_operand

    gen = torch.Generator().manual_seed(dim)
    items = torch.randn(n_items, dim, generator=gen)
    operand = item_operand(items)
    assert operand.shape == (dim, n_items)
    assert (operand.data_ptr() == items.data_ptr()) is as_view
    assert operand.is_contiguous() is not as_view

    model = EmbeddingTable(40, n_items, dim)
    with torch.no_grad():
        model.item_embedding.copy_(items)
        model.user_embedding.copy_(torch.randn(40, dim, generator=gen))
    users = torch.tensor([0, 7, 39])
    expected = model.user_embedding.double()[users] @ items.double().t()
    torch.testing.assert_close(model.score(users).double(), expected, rtol=1e-5, atol=1e-5)
