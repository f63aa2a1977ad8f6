"""The small interface between recommender models and the trainer/evaluator."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gnnnas.graph import native

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


class DotScorer:
    """Full ranking by dot products of final embeddings: ``scorer(users)`` is ``U[users] @ I^T``.

    On CPU with the native kernels it also ranks without writing the score
    matrix (:meth:`topk`, used by :func:`gnnnas.evaluation.metrics.rank_top`):
    a tile of scores is compared with each user's current ``k``-th best while
    still in registers, so only the product's arithmetic remains (4-5x faster
    than scoring then ranking 256 users x 39k items on a 2-core EPYC,
    experiments/RESULTS.md, "Fused score-and-select"). ``users`` is the user
    table or a function from user ids to their rows (compressed tables expand
    rows on the fly); ``scores`` optionally replaces the float product for
    :meth:`__call__` (int8 tables score with an integer product).
    """

    def __init__(self, users: torch.Tensor | Callable[[torch.Tensor], torch.Tensor], items: torch.Tensor,
                 scores: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self._users = users
        self.items = items
        self.n_items = int(items.shape[0])
        self._scores = scores
        self._item_t: torch.Tensor | None = None
        self._packed: torch.Tensor | None = None

    def user_rows(self, users: torch.Tensor) -> torch.Tensor:
        """Final embeddings of ``users``."""
        return self._users[users] if isinstance(self._users, torch.Tensor) else self._users(users)

    def __call__(self, users: torch.Tensor) -> torch.Tensor:
        if self._scores is not None:
            return self._scores(users)
        if self._item_t is None:
            self._item_t = item_operand(self.items)
        return self.user_rows(users) @ self._item_t

    @property
    def fused(self) -> bool:
        """Whether :meth:`topk` ranks with the native kernel (CPU float32 tables, kernels active)."""
        return self.items.device.type == "cpu" and self.items.dtype == torch.float32 and native.active()

    def topk(self, users: torch.Tensor, k: int, exclude: tuple[torch.Tensor, torch.Tensor] | None = None,
             blocked: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """``(items, values, found)`` of each user's top ``k`` (``1 <= k <= n_items``) by the fused kernel,
        or None where it does not apply. ``exclude``/``blocked`` as in :func:`~gnnnas.evaluation.metrics.rank_top`;
        rows with ``found < k`` have fewer rankable items and must be ranked another way."""
        if not self.fused:
            return None
        if self._packed is None:
            self._packed = native.pack_items(self.items)
        rows = self.user_rows(users.cpu())
        if rows.dtype != torch.float32 or rows.device.type != "cpu":
            return None
        indptr_items = None
        if exclude is not None:
            counts = torch.bincount(exclude[0].cpu(), minlength=users.numel())
            indptr = torch.zeros(users.numel() + 1, dtype=torch.int64)
            torch.cumsum(counts, 0, out=indptr[1:])
            indptr_items = (indptr, exclude[1].cpu().to(torch.int64))
        allowed = None
        if blocked is not None and blocked.numel():
            allowed = torch.ones(self.n_items, dtype=torch.uint8)
            allowed[blocked.cpu()] = 0
        return native.topk_dot(rows, self._packed, self.n_items, int(k), indptr_items, allowed)


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

    def scorer(self) -> DotScorer:
        """A function ``users -> scores over all items``, embeddings computed once (a :class:`DotScorer`)."""
        user_emb, item_emb = self.get_embeddings()
        return DotScorer(user_emb, item_emb.contiguous())

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
