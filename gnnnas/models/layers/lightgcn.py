"""LightGCN's parameter-free propagation as a layer."""

from __future__ import annotations

from torch import Tensor
from torch_geometric.nn import LGConv

from gnnnas.graph import BipartiteGraph
from gnnnas.models.layers.base import normalized_propagate
from gnnnas.models.spec import LayerSpec


class LightGCNConv(LGConv):
    r"""Light graph convolution from He et al., "LightGCN: Simplifying and
    Powering Graph Convolution Network for Recommendation" (SIGIR 2020).

    .. math::
        \mathbf{x}^{\prime}_i = \sum_{j \in \mathcal{N}(i)}
        \frac{1}{\sqrt{|\mathcal{N}(i)||\mathcal{N}(j)|}} \mathbf{x}_j

    No weights, no self-loop; the output keeps the input width. PyG's
    :class:`~torch_geometric.nn.conv.LGConv` equation, computed as one hop of
    :func:`gnnnas.graph.bipartite_spmm` over the graph's cached normalised
    blocks (hand-written backward). A stack of these with identity
    activations and a fixed layer combination never reaches this layer: the
    model takes the fused :func:`gnnnas.graph.linear_propagation` path.
    """

    ADJACENCY = "bipartite"

    def __init__(self) -> None:
        super().__init__(normalize=False)

    @classmethod
    def from_spec(cls, spec: LayerSpec, in_dim: int) -> "LightGCNConv":
        return cls()

    def forward(self, x: Tensor, graph: BipartiteGraph) -> Tensor:
        return normalized_propagate(graph, x)
