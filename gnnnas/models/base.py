"""The small interface between recommender models and the trainer/evaluator."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

# CPU BLAS takes different kernels for ``U @ I^T`` depending on how ``I^T`` is laid out. For narrow
# tables and large catalogues the transposed *view* of the row-major item table scored 53-user
# blocks against 39k items 1.6-2.3x faster than a contiguous ``I^T`` on a 2-core Xeon (widths 8-32),
# and saves the transposed copy; from width 48 on, or with a few thousand items, neither layout
# won consistently, so those keep the contiguous copy
# (experiments/RESULTS.md, "Where the top-K latency goes").
_VIEW_MAX_WIDTH = 32
_VIEW_MIN_ITEMS = 1 << 14


def item_operand(item_emb: torch.Tensor) -> torch.Tensor:
    """The right operand ``I^T`` (``d x n_items``) of the full-ranking product ``U @ I^T``, in the
    layout that product runs fastest with on ``item_emb``'s device (see :data:`_VIEW_MAX_WIDTH`)."""
    n, d = item_emb.shape
    if item_emb.device.type == "cpu" and d <= _VIEW_MAX_WIDTH and n >= _VIEW_MIN_ITEMS \
            and item_emb.is_contiguous():
        return item_emb.t()
    return item_emb.t().contiguous()


class Recommender(nn.Module):
    """A model that maps every user and item to a final embedding.

    Subclasses implement :meth:`forward` (final user and item embeddings, with
    gradients) and :meth:`embedding_tables` (the layer-0 user and item tables,
    whose rows in a batch the trainer regularises as LightGCN does). Scores
    are dot products of final embeddings unless :meth:`score_embeddings` is
    overridden.
    """

    n_users: int
    n_items: int
    trainable: bool = True

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - interface
        raise NotImplementedError

    def embedding_tables(self) -> tuple[nn.Parameter, nn.Parameter] | None:
        """Layer-0 (users x d, items x d) tables for L2 regularisation; None when there are none."""
        return None

    def batch_embeddings(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final embeddings of ``users`` and ``items`` (int64 ids, each without repeats), with gradients.

        What a training step needs. The default indexes :meth:`forward`'s
        full result; models whose propagation can skip the rows outside the
        batch override it (same values and gradients, less work).
        """
        user_emb, item_emb = self()
        return user_emb.index_select(0, users), item_emb.index_select(0, items)

    def score_embeddings(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        """Pairwise scores of aligned rows (``..., d`` -> ``...``)."""
        return (user_emb * item_emb).sum(-1)

    @torch.no_grad()
    def get_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Final (users x d, items x d) embeddings, without gradients."""
        was_training = self.training
        self.eval()
        try:
            return self()
        finally:
            self.train(was_training)

    def scorer(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """A function ``users -> scores over all items``, embeddings computed once."""
        user_emb, item_emb = self.get_embeddings()
        item_t = item_operand(item_emb)
        return lambda users: user_emb[users] @ item_t

    @torch.no_grad()
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of ``users`` over all items (full ranking)."""
        return self.scorer()(users)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")
