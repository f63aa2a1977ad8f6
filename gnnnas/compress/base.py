"""What every compression method shares: its options, its result and its registry entry."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import torch

from gnnnas.errors import GnnnasError
from gnnnas.models.base import Recommender

if TYPE_CHECKING:  # pragma: no cover
    from gnnnas.export.trained import TrainedRecommender


@dataclass(frozen=True)
class CompressOptions:
    """Knobs of the methods; each method reads only its own.

    ``ratio`` (prune): fraction of each embedding row's values dropped.
    ``dim`` (distill): the student's width (None: half the teacher's).
    ``epochs``, ``lr``, ``temperature``, ``batch_size`` (distill): fine-tuning
    of the student on the teacher's score distributions; ``seed`` fixes it;
    ``quantize`` (distill): ``"int8"`` stores the kept student per-row int8.
    """

    ratio: float = 0.5
    dim: int | None = None
    epochs: int = 10
    lr: float = 1e-3
    temperature: float = 0.3
    batch_size: int = 256
    seed: int = 0
    quantize: str = "none"

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, expected: str) -> None:
            if not ok:
                raise GnnnasError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: expected {expected}")

        def is_int(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        need(isinstance(self.ratio, (int, float)) and 0 < self.ratio < 1, "ratio",
             "a fraction of values to drop, strictly between 0 and 1")
        need(self.dim is None or (is_int(self.dim) and self.dim >= 1), "dim", "an integer >= 1")
        need(is_int(self.epochs) and self.epochs >= 0, "epochs", "an integer >= 0")
        need(isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0, "lr", "a number > 0")
        need(isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
             and self.temperature > 0, "temperature", "a number > 0")
        need(is_int(self.batch_size) and self.batch_size >= 1, "batch_size", "an integer >= 1")
        need(is_int(self.seed), "seed", "an integer")
        need(self.quantize in ("none", "int8"), "quantize", "none or int8")


@dataclass(frozen=True, eq=False)
class Compressed:
    """A method's output: the served model and what the loader and a reader need to know about it.

    ``info`` goes to ``metadata.json`` as the ``compression`` entry; its
    ``model`` names the class in :data:`gnnnas.compress.models.COMPRESSED_MODELS`.
    """

    model: Recommender
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """One compression method: ``function(teacher, options)`` -> :class:`Compressed`."""

    name: str
    description: str
    function: Callable[["TrainedRecommender", CompressOptions], Compressed]


def final_embeddings(teacher: "TrainedRecommender") -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's scoring-ready (users x d, items x d) embeddings: one forward pass, propagation included."""
    users, items = teacher.model.get_embeddings()
    return users.detach().float(), items.detach().float()
