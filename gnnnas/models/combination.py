r"""Layer combination: the final node embedding from the states ``[x_0, x_1, ..., x_L]``.

``x_0`` is the input embedding and ``x_l`` layer ``l``'s output. Except for
``concat``, states are first brought to a common width, the last layer's
(the width ``last`` would give): a state of another width goes through its
own bias-free linear map, states already that wide are used as they are.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Last(nn.Module):
    r""":math:`z = x_L` (a plain GNN read-out)."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.out_dim = widths[-1]

    def forward(self, states: list[Tensor]) -> Tensor:
        return states[-1]


class Concat(nn.Module):
    r""":math:`z = x_0 \Vert x_1 \Vert \dots \Vert x_L` (NGCF; jumping knowledge, Xu et al. 2018)."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.out_dim = sum(widths)

    def forward(self, states: list[Tensor]) -> Tensor:
        return torch.cat(states, dim=1)


class _CommonWidth(nn.Module):
    """Base of the combinations that add states: projects every state to the last state's width."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.out_dim = widths[-1]
        self.project = nn.ModuleList(
            nn.Identity() if w == self.out_dim else nn.Linear(w, self.out_dim, bias=False) for w in widths)

    def aligned(self, states: list[Tensor]) -> list[Tensor]:
        return [p(s) for p, s in zip(self.project, states)]


class Sum(_CommonWidth):
    r""":math:`z = \sum_{l=0}^{L} x_l`."""

    def forward(self, states: list[Tensor]) -> Tensor:
        return torch.stack(self.aligned(states)).sum(0)


class Mean(_CommonWidth):
    r""":math:`z = \frac{1}{L+1} \sum_{l=0}^{L} x_l` (LightGCN)."""

    def forward(self, states: list[Tensor]) -> Tensor:
        return torch.stack(self.aligned(states)).mean(0)


class Weighted(_CommonWidth):
    r""":math:`z = \sum_l \mathrm{softmax}(w)_l\, x_l` with one learned logit per layer, starting at the mean."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__(widths)
        self.logits = nn.Parameter(torch.zeros(len(widths)))

    def forward(self, states: list[Tensor]) -> Tensor:
        weights = torch.softmax(self.logits, dim=0)
        return torch.einsum("l,lnd->nd", weights, torch.stack(self.aligned(states)))


class Attention(_CommonWidth):
    r"""Per-node attention over layers:

    .. math::
        s_{i,l} = \mathbf{q}^\top \tanh(\mathbf{W} x_{i,l} + \mathbf{b}), \qquad
        z_i = \sum_l \mathrm{softmax}_l(s_{i,l})\, x_{i,l}

    Each node picks its own mix of depths, like the attention read-out of
    jumping knowledge networks (Xu et al., ICML 2018) with a small scoring
    MLP, shared by all layers and nodes, in place of their LSTM.
    """

    def __init__(self, widths: list[int]) -> None:
        super().__init__(widths)
        self.key = nn.Linear(self.out_dim, self.out_dim)
        self.query = nn.Linear(self.out_dim, 1, bias=False)

    def forward(self, states: list[Tensor]) -> Tensor:
        stacked = torch.stack(self.aligned(states), dim=1)  # N x (L+1) x d
        scores = self.query(torch.tanh(self.key(stacked)))  # N x (L+1) x 1
        return (torch.softmax(scores, dim=1) * stacked).sum(1)


#: combination name -> module class built from the state widths
COMBINATIONS: dict[str, type[nn.Module]] = {
    "last": Last, "mean": Mean, "sum": Sum, "concat": Concat, "weighted": Weighted, "attention": Attention,
}

#: the fixed combinations as layer weights for :func:`gnnnas.graph.linear_propagation`
LINEAR_LAYER_WEIGHTS = {
    "mean": lambda L: [1.0 / (L + 1)] * (L + 1),
    "sum": lambda L: [1.0] * (L + 1),
    "last": lambda L: [0.0] * L + [1.0],
}


def build_combination(name: str, widths: list[int]) -> nn.Module:
    """The ``name`` combination of states with these widths; its ``out_dim`` is the final width."""
    return COMBINATIONS[name](widths)
