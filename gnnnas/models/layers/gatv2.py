"""Dynamic graph attention (GATv2) over the user-item graph."""

from __future__ import annotations

from torch import Tensor
from torch_geometric.nn import GATv2Conv

from gnnnas.graph.adjacency import EdgeStructure
from gnnnas.graph.attention import edge_softmax, edge_weighted_spmm, gatv2_logits
from gnnnas.models.dropout import dropout
from gnnnas.models.spec import LayerSpec


class GATv2Layer(GATv2Conv):
    r"""Dynamic graph attention from Brody et al., "How Attentive are Graph
    Attention Networks?" (ICLR 2022).

    .. math::
        \mathbf{x}^{\prime}_i = \Big\Vert_{k=1}^{K} \sum_{j \in \mathcal{N}(i)
        \cup \{i\}} \alpha^{k}_{i,j} \mathbf{\Theta}^{k}_{s} \mathbf{x}_j, \qquad
        \alpha^{k}_{i,j} = \mathrm{softmax}_j\Big(\mathbf{a}^{k\top}
        \mathrm{LeakyReLU}\big(\mathbf{\Theta}^{k}_{s} \mathbf{x}_j
        + \mathbf{\Theta}^{k}_{t} \mathbf{x}_i\big)\Big)

    The nonlinearity sits between the two linear maps, so the ranking of
    neighbours can depend on the query node (GAT's is the same for every
    node). Heads and self-loops as in
    :class:`~gnnnas.models.layers.gat.GATLayer`.

    PyG's :class:`~torch_geometric.nn.conv.GATv2Conv` parameters and
    equation with the forward pass over the ``edges`` CSR structure. The
    logits need the per-edge ``E x H x C`` sum (that is what makes the
    attention dynamic), but the weighted sum runs as sparse products per head
    (:mod:`gnnnas.graph.attention`) instead of PyG's message gather/scatter:
    419 against 969 ms per layer forward + backward (first 6,000 Gowalla
    users, CPU, 4 heads of 16). Output and gradients match PyG's.
    """

    ADJACENCY = "edges"

    def __init__(self, in_dim: int, out_dim: int, heads: int, concat: bool) -> None:
        super().__init__(in_dim, out_dim // heads if concat else out_dim, heads=heads, concat=concat)

    @classmethod
    def from_spec(cls, spec: LayerSpec, in_dim: int) -> "GATv2Layer":
        return cls(in_dim, spec.hidden, spec.heads, spec.head_combine == "concat")

    def forward(self, x: Tensor, edges: EdgeStructure) -> Tensor:
        source = self.lin_l(x).view(-1, self.heads, self.out_channels)
        target = source if self.share_weights else self.lin_r(x).view(-1, self.heads, self.out_channels)
        logits = gatv2_logits(edges, source, target, self.att.view(self.heads, self.out_channels),
                              self.negative_slope)  # E x H
        alpha = dropout(edge_softmax(logits, edges), self.dropout, self.training)
        out = edge_weighted_spmm(edges, alpha, source)
        out = out.reshape(-1, self.heads * self.out_channels) if self.concat else out.mean(dim=1)
        return out if self.bias is None else out + self.bias
