"""LightGCN's parameter-free propagation as a layer."""

from __future__ import annotations

from torch_geometric.nn import LGConv

from gnnnas.models.layers.base import SparseAggregation
from gnnnas.models.spec import LayerSpec


class LightGCNConv(SparseAggregation, LGConv):
    r"""Light graph convolution from He et al., "LightGCN: Simplifying and
    Powering Graph Convolution Network for Recommendation" (SIGIR 2020).

    .. math::
        \mathbf{x}^{\prime}_i = \sum_{j \in \mathcal{N}(i)}
        \frac{1}{\sqrt{|\mathcal{N}(i)||\mathcal{N}(j)|}} \mathbf{x}_j

    No weights, no self-loop; the output keeps the input width. PyG's
    :class:`~torch_geometric.nn.conv.LGConv` on the precomputed
    ``D^{-1/2} A D^{-1/2}`` (the ``normalized`` form), aggregated with our
    symmetric sparse product. A stack of these with identity activations
    and a fixed layer combination never reaches this layer: the model takes
    the fused :func:`gnnnas.graph.linear_propagation` path instead.
    """

    ADJACENCY = "normalized"

    def __init__(self) -> None:
        super().__init__(normalize=False)  # the adjacency form is already normalised

    @classmethod
    def from_spec(cls, spec: LayerSpec, in_dim: int) -> "LightGCNConv":
        return cls()
