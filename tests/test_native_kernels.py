"""The native CPU propagation kernels and the batch-rows propagation built on them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from gnnnas.data.dataset import SplitData
from gnnnas.graph import BipartiteGraph, linear_propagation, linear_propagation_rows, native
from gnnnas.graph.bipartite import _csr


@pytest.fixture(scope="module")
def blocks():
    rng = np.random.default_rng(0)
    n_rows, n_cols, nnz = 120, 200, 1500
    rows, cols = rng.integers(0, n_rows, nnz), rng.integers(0, n_cols, nnz)
    vals = rng.random(nnz).astype(np.float32)
    return _csr(rows, cols, vals, (n_rows, n_cols), torch.device("cpu"))


def test_kernels_build_where_a_compiler_exists():
    # A silent fallback would make every search slower without anyone noticing.
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine")
    assert native.kernels() is not None


@pytest.mark.parametrize("width", [64, 8, 13])  # specialised widths and the generic loop
def test_fused_product_matches_torch(blocks, width):
    torch.manual_seed(width)
    x, y = torch.randn(blocks.shape[1], width), torch.randn(blocks.shape[0], width)
    want = 0.25 * y + 1.5 * (blocks @ x)
    torch.testing.assert_close(native.spmm(blocks, x, y=y, beta=0.25, alpha=1.5), want)
    torch.testing.assert_close(native.spmm(blocks, x, alpha=1.5), 1.5 * (blocks @ x))
    rows = torch.tensor([7, 0, 119, 7, 55])  # any order, repeats allowed
    torch.testing.assert_close(native.spmm(blocks, x, rows=rows, y=y, beta=0.25, alpha=1.5), want[rows])


@pytest.mark.parametrize("width", [64, 13])
def test_masked_product_equals_product_with_the_zero_filled_operand(blocks, width):
    torch.manual_seed(width)
    rows = torch.tensor([150, 3, 77, 199])
    g = torch.randn(rows.numel(), width)
    dense = torch.zeros(blocks.shape[1], width)
    dense[rows] = g
    torch.testing.assert_close(native.spmm_masked(blocks, rows, g, alpha=0.5), 0.5 * (blocks @ dense))


def test_products_are_deterministic_across_thread_counts(blocks):
    x = torch.randn(blocks.shape[1], 64)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = native.spmm(blocks, x)
        torch.set_num_threads(max(2, before))
        many = native.spmm(blocks, x)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, many)


def _graph(seed: int = 1, n_users: int = 40, n_items: int = 60, nnz: int = 400) -> BipartiteGraph:
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, n_users, nnz), rng.integers(0, n_items, nnz)
    users[:n_users] = np.arange(n_users)
    return BipartiteGraph.from_split(SplitData.from_pairs(users, items, n_users), n_items)


@pytest.mark.parametrize("weights", [[0.25] * 4, [0.5, 0.5], [0.1, 0.2, 0.3, 0.4], [1.0]])
def test_batch_rows_propagation_matches_indexing_the_full_one(weights):
    graph = _graph()
    torch.manual_seed(0)
    xu0, xi0 = torch.randn(graph.n_users, 16), torch.randn(graph.n_items, 16)
    users = torch.tensor([3, 0, 39, 17])
    items = torch.tensor([59, 2, 30, 31, 8])
    gu, gi = torch.randn(users.numel(), 16), torch.randn(items.numel(), 16)

    def run(fn):
        xu, xi = xu0.clone().requires_grad_(), xi0.clone().requires_grad_()
        fu, fi = fn(xu, xi)
        ((fu * gu).sum() + (fi * gi).sum()).backward()
        return fu.detach(), fi.detach(), xu.grad, xi.grad

    def full(xu, xi):
        fu, fi = linear_propagation(graph, xu, xi, weights)
        return fu[users], fi[items]

    got = run(lambda xu, xi: linear_propagation_rows(graph, xu, xi, weights, users, items))
    want = run(full)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_disabled_takes_the_torch_path_with_the_same_result():
    graph = _graph(seed=2)
    torch.manual_seed(1)
    xu, xi = torch.randn(graph.n_users, 8), torch.randn(graph.n_items, 8)
    r, _ = graph.norm_blocks
    assert native.supports(r, xi)
    fast = linear_propagation(graph, xu, xi, [0.25] * 4)
    with native.disabled():
        assert not native.supports(r, xi)
        slow = linear_propagation(graph, xu, xi, [0.25] * 4)
    assert native.supports(r, xi)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("heads,channels", [(1, 32), (4, 8), (3, 5)])  # specialised shapes and the generic loop
def test_gatv2_logits_and_gradients_match_the_plain_expression(heads, channels):
    from gnnnas.graph import adjacency_form
    from gnnnas.graph.attention import gatv2_logits

    edges = adjacency_form(_graph(seed=3), "edges")
    torch.manual_seed(heads)
    n = edges.num_nodes
    source0, target0 = torch.randn(n, heads, channels), torch.randn(n, heads, channels)
    att0, grad = torch.randn(heads, channels), torch.randn(edges.num_edges, heads)

    def run():
        source, target, att = (t.clone().requires_grad_() for t in (source0, target0, att0))
        logits = gatv2_logits(edges, source, target, att, 0.2)
        (logits * grad).sum().backward()
        return logits.detach(), source.grad, target.grad, att.grad

    fast = run()
    with native.disabled():
        plain = run()
    for a, b in zip(fast, plain):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
