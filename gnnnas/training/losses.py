"""Ranking losses, by name. A loss maps (positive scores ``B``, negative scores ``B x n``) to a scalar.

A negative score of ``-inf`` is no negative at all (an accidental hit the
trainer masked out): every loss here gives it zero weight and zero gradient.
"""

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


@register_loss("softmax")
def sampled_softmax_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    r"""Sampled softmax (Wu et al., "On the Effectiveness of Sampled Softmax Loss for Item
    Recommendation", TOIS 2024): :math:`-\log \frac{e^{s_{ui}}}{e^{s_{ui}} + \sum_j e^{s_{uj}}}`,
    averaged over the positives.

    Every negative of a positive competes with it at once, so many negatives
    (the trainer's ``shared_negatives``) sharpen it where BPR only averages more
    pairs. With cosine scoring, :math:`\gamma` is its inverse temperature.
    """
    return (torch.logsumexp(torch.cat([pos.unsqueeze(-1), neg], dim=-1), dim=-1) - pos).mean()
