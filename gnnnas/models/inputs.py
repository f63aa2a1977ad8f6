"""The input stage: each node's layer-0 representation.

Today every user and item is a free ID embedding; item-text features (the
text-features issue) will add a projected text vector to the item rows here
without touching the layers.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class IdEmbeddings(nn.Module):
    """User and item ID tables, initialised N(0, std^2) as LightGCN's authors do.

    Created and initialised in exactly the order of
    :class:`gnnnas.models.LightGCN` (user table, item table, then both
    ``normal_`` draws), so the same seed gives the same tables.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float = 0.1) -> None:
        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)

    @property
    def out_dim(self) -> int:
        return self.dim

    def tables(self) -> tuple[nn.Parameter, nn.Parameter]:
        """(users x d, items x d) parameters: what the trainer L2-regularises."""
        return self.user.weight, self.item.weight

    def forward(self) -> torch.Tensor:
        """``N x d`` node features, users first."""
        return torch.cat([self.user.weight, self.item.weight])


#: ``ArchSpec.features`` -> input stage ``(n_users, n_items, dim, init_std)``, with ``tables()`` and ``forward() -> N x dim``
INPUT_STAGES: dict[str, Callable[..., nn.Module]] = {"id": IdEmbeddings}
