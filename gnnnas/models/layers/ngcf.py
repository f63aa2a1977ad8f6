"""NGCF's graph convolution with the bi-interaction term."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from gnnnas.graph import BipartiteGraph
from gnnnas.models.layers.base import normalized_propagate
from gnnnas.models.spec import LayerSpec


class NGCFConv(MessagePassing):
    r"""Embedding propagation layer from Wang et al., "Neural Graph
    Collaborative Filtering" (SIGIR 2019), eq. (7) without its activation:

    .. math::
        \mathbf{E}^{\prime} = (\mathcal{L} + \mathbf{I})\,\mathbf{E}\,\mathbf{W}_1
        + (\mathcal{L}\mathbf{E}) \odot \mathbf{E}\,\mathbf{W}_2,
        \qquad \mathcal{L} = \mathbf{D}^{-1/2} \mathbf{A} \mathbf{D}^{-1/2}

    i.e. per node :math:`\mathbf{W}_1(\mathbf{e}_i + \sum_j \mathcal{L}_{ij}
    \mathbf{e}_j) + \mathbf{W}_2 \sum_j \mathcal{L}_{ij} (\mathbf{e}_j \odot
    \mathbf{e}_i)`: the bi-interaction sum factors as
    :math:`(\mathcal{L}\mathbf{E}) \odot \mathbf{E}`, so one sparse product
    serves both terms. Both maps have biases, as in the authors' code. The
    LeakyReLU and message dropout of the paper are the layer's
    ``activation`` and ``dropout``. PyG has no NGCF layer; this one is a
    ``MessagePassing`` for the uniform interface, its one hop
    :func:`gnnnas.graph.bipartite_spmm` over the normalised blocks.
    """

    ADJACENCY = "bipartite"

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels = in_dim, out_dim  # for PyG's repr
        self.lin_sum = nn.Linear(in_dim, out_dim)
        self.lin_bi = nn.Linear(in_dim, out_dim)

    def forward(self, x: Tensor, graph: BipartiteGraph) -> Tensor:
        side = normalized_propagate(graph, x)
        return self.lin_sum(side + x) + self.lin_bi(side * x)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin_sum.reset_parameters()
        self.lin_bi.reset_parameters()

    @classmethod
    def from_spec(cls, spec: LayerSpec, in_dim: int) -> "NGCFConv":
        return cls(in_dim, spec.hidden)
