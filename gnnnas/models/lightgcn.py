"""LightGCN, the engine's reference graph recommender."""

from __future__ import annotations

import torch
from torch import nn

from gnnnas.graph import BipartiteGraph, linear_propagation, linear_propagation_rows
from gnnnas.models.base import Recommender


class LightGCN(Recommender):
    r"""LightGCN (He et al., SIGIR 2020, "LightGCN: Simplifying and Powering
    Graph Convolution Network for Recommendation").

    .. math::
        e^{(k+1)}_u = \sum_{i \in N_u} \frac{1}{\sqrt{|N_u||N_i|}} e^{(k)}_i, \qquad
        e^{(k+1)}_i = \sum_{u \in N_i} \frac{1}{\sqrt{|N_i||N_u|}} e^{(k)}_u, \qquad
        e_u = \frac{1}{K+1} \sum_{k=0}^{K} e^{(k)}_u

    Parameters are only the layer-0 embeddings, initialised N(0, 0.1^2) as in
    the authors' code. Propagation uses the fused symmetric sparse operator
    of :func:`gnnnas.graph.linear_propagation`.
    """

    def __init__(self, graph: BipartiteGraph, dim: int = 64, num_layers: int = 3, init_std: float = 0.1):
        super().__init__()
        if num_layers < 0:
            raise ValueError("num_layers must be >= 0")
        self.n_users, self.n_items = graph.n_users, graph.n_items
        self.graph = graph
        self.dim, self.num_layers = dim, num_layers
        self.user_embedding = nn.Embedding(self.n_users, dim)
        self.item_embedding = nn.Embedding(self.n_items, dim)
        nn.init.normal_(self.user_embedding.weight, std=init_std)
        nn.init.normal_(self.item_embedding.weight, std=init_std)
        self.layer_weights = [1.0 / (num_layers + 1)] * (num_layers + 1)

    def set_graph(self, graph: BipartiteGraph) -> None:
        """Propagate over another graph (e.g. after edge dropout)."""
        self.graph = graph

    def _apply(self, fn, recurse=True):
        out = super()._apply(fn, recurse)
        self.graph = self.graph.to(self.user_embedding.weight.device)
        return out

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return linear_propagation(self.graph, self.user_embedding.weight, self.item_embedding.weight,
                                  self.layer_weights)

    def batch_embeddings(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return linear_propagation_rows(self.graph, self.user_embedding.weight, self.item_embedding.weight,
                                       self.layer_weights, users, items)

    def embedding_tables(self) -> tuple[nn.Parameter, nn.Parameter]:
        return self.user_embedding.weight, self.item_embedding.weight
