"""The graph isomorphism network layer."""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import GINConv

from gnnnas.models.layers.base import SparseAggregation
from gnnnas.models.spec import LayerSpec


class GINLayer(SparseAggregation, GINConv):
    r"""Graph isomorphism layer from Xu et al., "How Powerful are Graph
    Neural Networks?" (ICLR 2019).

    .. math::
        \mathbf{x}^{\prime}_i = \mathrm{MLP}\Big((1 + \epsilon)\,\mathbf{x}_i
        + \sum_{j \in \mathcal{N}(i)} \mathbf{x}_j\Big)

    :math:`\epsilon` is learned (GIN-:math:`\epsilon`, starting at 0 = GIN-0);
    the MLP is ``Linear(in, hidden) -> ReLU -> Linear(hidden, hidden)``. The
    paper's batch norm inside the MLP is left to the layer's ``norm`` choice.
    PyG's :class:`~torch_geometric.nn.conv.GINConv` on the 0/1 ``binary`` form.
    """

    ADJACENCY = "binary"

    def __init__(self, in_dim: int, out_dim: int) -> None:
        mlp = nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim))
        super().__init__(mlp, train_eps=True)

    @classmethod
    def from_spec(cls, spec: LayerSpec, in_dim: int) -> "GINLayer":
        return cls(in_dim, spec.hidden)
