"""Aggregator layers, one per file, each a PyG ``MessagePassing`` with ``forward(x, adj)``.

:data:`AGGREGATOR_LAYERS` maps every aggregator name of
:data:`gnnnas.models.spec.AGGREGATORS` to a builder ``(LayerSpec, in_dim) ->
layer``; each layer class names the graph form it consumes in ``ADJACENCY``.
"""

from __future__ import annotations

from typing import Callable

from torch_geometric.nn import MessagePassing

from gnnnas.models.layers.base import SparseAggregation, normalized_propagate, sparse_aggregate
from gnnnas.models.layers.gat import GATLayer
from gnnnas.models.layers.gatv2 import GATv2Layer
from gnnnas.models.layers.gcn import GCNLayer
from gnnnas.models.layers.gin import GINLayer
from gnnnas.models.layers.lightgcn import LightGCNConv
from gnnnas.models.layers.ngcf import NGCFConv
from gnnnas.models.layers.sage import SAGELayer
from gnnnas.models.spec import LayerSpec

LayerBuilder = Callable[[LayerSpec, int], MessagePassing]

AGGREGATOR_LAYERS: dict[str, LayerBuilder] = {
    "lightgcn": LightGCNConv.from_spec,
    "gcn": GCNLayer.from_spec,
    "sage_mean": SAGELayer.builder("mean"),
    "sage_max": SAGELayer.builder("max"),
    "sage_sum": SAGELayer.builder("sum"),
    "gin": GINLayer.from_spec,
    "gat": GATLayer.from_spec,
    "gatv2": GATv2Layer.from_spec,
    "ngcf": NGCFConv.from_spec,
}


def build_aggregator(spec: LayerSpec, in_dim: int) -> MessagePassing:
    """The aggregator layer of ``spec`` reading ``in_dim``-wide node features."""
    return AGGREGATOR_LAYERS[spec.aggregator](spec, in_dim)


__all__ = ["AGGREGATOR_LAYERS", "LayerBuilder", "build_aggregator", "SparseAggregation", "sparse_aggregate",
           "normalized_propagate",
           "LightGCNConv", "GCNLayer", "SAGELayer", "GINLayer", "GATLayer", "GATv2Layer", "NGCFConv"]
