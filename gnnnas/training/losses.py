"""Ranking losses, by name. A loss maps (positive scores ``B``, negative scores ``B x n``) to a scalar."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSSES: dict[str, Loss] = {}


def register_loss(name: str) -> Callable[[Loss], Loss]:
    def add(fn: Loss) -> Loss:
        LOSSES[name] = fn
        return fn
    return add


@register_loss("bpr")
def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    r"""Bayesian Personalised Ranking (Rendle et al., UAI 2009):
    :math:`-\log \sigma(s_{ui} - s_{uj})`, averaged over all (positive, negative) pairs."""
    return F.softplus(neg - pos.unsqueeze(-1)).mean()
