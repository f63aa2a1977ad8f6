"""Most-popular ranker: the baseline every learned recommender must beat."""

from __future__ import annotations

import numpy as np
import torch

from gnnnas.graph import BipartiteGraph
from gnnnas.models.base import Recommender


class Popularity(Recommender):
    """Scores every item by its number of training interactions, for every user."""

    trainable = False

    def __init__(self, graph: BipartiteGraph):
        super().__init__()
        self.n_users, self.n_items = graph.n_users, graph.n_items
        counts = np.bincount(graph.items, minlength=graph.n_items).astype(np.float32)
        self.register_buffer("item_popularity", torch.from_numpy(counts))

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        users = torch.ones(self.n_users, 1, device=self.item_popularity.device)
        return users, self.item_popularity[:, None]
