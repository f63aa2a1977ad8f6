r"""The input stage: each node's layer-0 representation (``ArchSpec.features``).

* ``id``: free user and item ID embeddings (LightGCN).
* ``text``: users keep ID embeddings; an item is its text embedding projected
  to the model's width, :math:`x_i = P(t_i)`, so an item nobody has
  interacted with still has a representation.
* ``id+text``: items join both, :math:`x_i = m_i e_i + P(t_i)` (``sum``) or
  :math:`x_i = W [m_i e_i \Vert P(t_i)]` (``concat``), where
  :math:`m_i = 0` for items without training interactions: their ID rows
  never received a gradient, so they would add only their random
  initialisation to the text signal.

:math:`P` is ``linear`` (one affine map) or ``mlp`` (affine, ReLU, affine
with a 256-wide hidden layer). The text matrix lives on the graph
(:attr:`BipartiteGraph.item_features`); it is not a trained weight.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

#: width of the hidden layer of the ``mlp`` text projector
MLP_HIDDEN = 256


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

    def tables(self) -> tuple[nn.Parameter, nn.Parameter | None]:
        """(users x d, items x d) ID tables the trainer L2-regularises (None: no item table)."""
        return self.user.weight, self.item.weight

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer-0 (users x d, items x d)."""
        return self.user.weight, self.item.weight

    def forward(self) -> torch.Tensor:
        """``N x d`` node features, users first."""
        return torch.cat(self.embeddings())


def _projector(kind: str, in_dim: int, dim: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(in_dim, dim)
    return nn.Sequential(nn.Linear(in_dim, MLP_HIDDEN), nn.ReLU(), nn.Linear(MLP_HIDDEN, dim))


def _item_features(graph) -> torch.Tensor:
    features = getattr(graph, "item_features", None)
    if features is None:
        raise ValueError("text features need the items' text embeddings on the graph; "
                         "build it with gnnnas.graph.build_graph(dataset, spec)")
    return features


class TextItems(nn.Module):
    """Users: ID table. Items: projected text embeddings (``features: text``)."""

    def __init__(self, spec, graph, init_std: float = 0.1) -> None:
        super().__init__()
        dim = spec.embedding_dim
        self.n_users, self.n_items, self.dim = graph.n_users, graph.n_items, dim
        self.user = nn.Embedding(graph.n_users, dim)
        nn.init.normal_(self.user.weight, std=init_std)
        text = _item_features(graph).float()
        self.register_buffer("text", text, persistent=False)  # from the graph, never trained or saved
        self.project = _projector(spec.text_projector, text.shape[1], dim)

    @property
    def out_dim(self) -> int:
        return self.dim

    def tables(self) -> tuple[nn.Parameter, nn.Parameter | None]:
        return self.user.weight, None

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user.weight, self.project(self.text)

    def forward(self) -> torch.Tensor:
        return torch.cat(self.embeddings())


class IdTextItems(TextItems):
    """Users: ID table. Items: ID embedding (zero for items without training interactions) joined with projected text."""

    def __init__(self, spec, graph, init_std: float = 0.1) -> None:
        super().__init__(spec, graph, init_std)
        self.item = nn.Embedding(graph.n_items, self.dim)
        nn.init.normal_(self.item.weight, std=init_std)
        warm = torch.from_numpy(graph.interaction_degree > 0).float().unsqueeze(1)
        self.register_buffer("warm", warm.to(self.text.device), persistent=False)
        self.combine = spec.text_combine
        self.join = nn.Linear(2 * self.dim, self.dim, bias=False) if spec.text_combine == "concat" else None

    def tables(self) -> tuple[nn.Parameter, nn.Parameter | None]:
        return self.user.weight, self.item.weight

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self.item.weight * self.warm
        text = self.project(self.text)
        items = ids + text if self.join is None else self.join(torch.cat([ids, text], dim=1))
        return self.user.weight, items


def _id(spec, graph, init_std: float) -> nn.Module:
    return IdEmbeddings(graph.n_users, graph.n_items, spec.embedding_dim, init_std)


#: ``ArchSpec.features`` -> input stage ``(spec, graph, init_std)`` with ``tables()``, ``embeddings()`` and ``forward() -> N x dim``
INPUT_STAGES: dict[str, Callable[..., nn.Module]] = {"id": _id, "text": TextItems, "id+text": IdTextItems}
