r"""Scoring: how final embeddings become scores, applied at the end of ``forward``.

The model's ``forward`` returns *scoring-ready* embeddings: the score of a
user-item pair is always the dot product of its two rows, so the trainer's
``score_embeddings`` and :meth:`Recommender.scorer` (full ranking by matrix
product) need nothing model-specific.

``cosine``: :math:`s(u, i) = \gamma \cos(z_u, z_i)`, computed as the dot of
:math:`\sqrt{\gamma}\, z / \lVert z \rVert` on both sides. A bare cosine lies
in [-1, 1]: BPR's :math:`\sigma(s_{ui} - s_{uj})` could never leave
[0.12, 0.88], so positives are never confidently separated, and the gradient
reaching the embeddings, proportional to :math:`\gamma`, is small.
:math:`\gamma = 10` (temperature 0.1, a usual value for cosine scores in
recommendation, e.g. SGL, SimpleX) gives scores in [-10, 10].
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

COSINE_SCALE = 10.0


class DotScoring(nn.Module):
    r""":math:`s(u, i) = z_u^\top z_i`: embeddings pass through."""

    def forward(self, z: Tensor) -> Tensor:
        return z


class CosineScoring(nn.Module):
    r""":math:`s(u, i) = \gamma \cos(z_u, z_i)`, :math:`\gamma` = ``scale`` (fixed)."""

    def __init__(self, scale: float = COSINE_SCALE) -> None:
        super().__init__()
        self.scale = scale
        self._root = math.sqrt(scale)

    def forward(self, z: Tensor) -> Tensor:
        return F.normalize(z, dim=-1) * self._root

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}"


#: scoring name -> module class
SCORINGS: dict[str, type[nn.Module]] = {"dot": DotScoring, "cosine": CosineScoring}
