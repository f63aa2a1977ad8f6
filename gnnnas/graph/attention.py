r"""Attention over the graph's edges with sparse kernels: edge softmax and edge-weighted aggregation.

PyG's attention layers materialise one message per edge and head
(``E x H x C`` floats, gathered, scaled and scattered, forward and backward):
0.3 s (GAT) to 1 s (GATv2) per layer and batch on the first 6,000 Gowalla
users on CPU.
Here the per-edge work is scalars only (``E x H``); the aggregation
:math:`\mathrm{out}_i = \sum_j \alpha_{ij} x_j` is one CSR product per head,
its backward another CSR product (the transpose, read off the symmetric
structure) and one sampled dense-dense product (SDDMM) for the weights'
gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnnas.graph import native
from gnnnas.graph.adjacency import EdgeStructure


def edge_softmax(logits: Tensor, edges: EdgeStructure) -> Tensor:
    """Softmax of ``E x H`` edge logits over each node's incoming edges (self-loops make none empty)."""
    # Shift by each row's max for stability; softmax is shift-invariant, so no gradient through it.
    top = torch.segment_reduce(logits.detach(), "max", offsets=edges.crow)
    weights = (logits - top.index_select(0, edges.row)).exp()
    total = torch.segment_reduce(weights, "sum", offsets=edges.crow)
    return weights / total.index_select(0, edges.row)


def _per_head(edges: EdgeStructure, weights: Tensor, x: Tensor) -> Tensor:
    # weights H x E, x H x N x C (both contiguous) -> H x N x C
    return torch.stack([edges.matrix(weights[h]) @ x[h] for h in range(x.size(0))])


class _EdgeWeightedSpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, edges: EdgeStructure, weights: Tensor, x: Tensor) -> Tensor:
        ctx.edges = edges
        ctx.save_for_backward(weights, x)
        return _per_head(edges, weights, x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        edges = ctx.edges
        weights, x = ctx.saved_tensors
        grad = grad.contiguous()
        grad_weights = grad_x = None
        if ctx.needs_input_grad[2]:
            # S^T on a symmetric structure: same pattern, each edge takes its opposite's weight
            grad_x = _per_head(edges, weights.index_select(1, edges.reverse).contiguous(), grad)
        if ctx.needs_input_grad[1]:
            # d out_i / d w_ij = x_j: the gradient of edge (i <- j) is <grad_i, x_j> (SDDMM)
            pattern = edges.matrix(torch.ones(edges.num_edges, dtype=x.dtype, device=x.device))
            grad_weights = torch.stack([
                torch.sparse.sampled_addmm(pattern, grad[h], x[h].t(), beta=0.0).values()
                for h in range(x.size(0))])
        return None, grad_weights, grad_x


def edge_weighted_spmm(edges: EdgeStructure, weights: Tensor, x: Tensor) -> Tensor:
    r""":math:`\mathrm{out}_{i,h} = \sum_{j \to i} w_{(i \leftarrow j), h}\, x_{j,h}` for every head ``h``.

    ``weights``: ``E x H`` per-edge weights (e.g. attention), ``x``: ``N x H x C``;
    returns ``N x H x C``. Differentiable in both.
    """
    heads_first = _EdgeWeightedSpMM.apply(edges, weights.t().contiguous(), x.permute(1, 0, 2).contiguous())
    return heads_first.permute(1, 0, 2)


class _GATv2Logits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, edges: EdgeStructure, source: Tensor, target: Tensor, att: Tensor, slope: float) -> Tensor:
        ctx.edges, ctx.slope = edges, slope
        ctx.save_for_backward(source, target, att)
        return native.gatv2_logits(edges._crow32, edges._col32, source, target, att, slope)

    @staticmethod
    def backward(ctx, grad: Tensor):
        source, target, att = ctx.saved_tensors
        edges = ctx.edges
        d_source, d_target, d_att = native.gatv2_logits_backward(
            edges._crow32, edges._col32, edges.reverse, source, target, att, ctx.slope, grad)
        return None, d_source, d_target, d_att, None


def gatv2_logits(edges: EdgeStructure, source: Tensor, target: Tensor, att: Tensor, slope: float) -> Tensor:
    r"""GATv2's ``E x H`` logits :math:`a_h^\top \mathrm{LeakyReLU}(s_{j,h} + t_{i,h})` for each edge ``j -> i``.

    ``source``, ``target``: ``N x H x C``; ``att``: ``H x C``. On CPU the native
    kernel computes them, and their gradients, without the ``E x H x C`` pair
    tensor autograd would otherwise build and keep (most of a GATv2 layer's
    time and memory); elsewhere the plain expression runs.
    """
    if (source.device.type == "cpu" and edges._crow32.dtype == torch.int32 and source.dtype == torch.float32
            and native.active()):
        return _GATv2Logits.apply(edges, source.contiguous(), target.contiguous(), att.contiguous(), float(slope))
    pair = F.leaky_relu(source.index_select(0, edges.col) + target.index_select(0, edges.row), slope)
    return (pair * att).sum(-1)
