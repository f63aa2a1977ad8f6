"""GraphSAGE with mean, max or sum neighbour aggregation."""

from __future__ import annotations

from torch_geometric.nn import SAGEConv

from gnnnas.models.layers.base import SparseAggregation
from gnnnas.models.spec import LayerSpec


class SAGELayer(SparseAggregation, SAGEConv):
    r"""GraphSAGE from Hamilton et al., "Inductive Representation Learning on
    Large Graphs" (NeurIPS 2017).

    .. math::
        \mathbf{x}^{\prime}_i = \mathbf{W}_1 \mathbf{x}_i + \mathbf{W}_2
        \cdot \mathrm{AGG}_{j \in \mathcal{N}(i)} \mathbf{x}_j,
        \qquad \mathrm{AGG} \in \{\mathrm{mean}, \max, \mathrm{sum}\}

    The paper's "concatenate self and neighbourhood, then one linear map" is
    the sum of two linear maps, as PyG writes it. Aggregation over the full
    neighbourhood (no sampling). PyG's
    :class:`~torch_geometric.nn.conv.SAGEConv` on the 0/1 ``binary`` form;
    max uses the elementwise (per-feature) maximum, without the paper's
    pooling MLP.
    """

    ADJACENCY = "binary"

    def __init__(self, in_dim: int, out_dim: int, aggr: str) -> None:
        super().__init__(in_dim, out_dim, aggr=aggr)

    @classmethod
    def builder(cls, aggr: str):
        """``from_spec`` for one aggregation (the registry has one entry per aggregation)."""
        return lambda spec, in_dim: cls(in_dim, spec.hidden, aggr)
