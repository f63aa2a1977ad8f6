"""The ``search:`` section: how each candidate is trained during the search."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SearchSettings:
    """Training budget and selection metric for every candidate of a search.

    ``patience`` counts evaluations (every ``eval_every`` epochs) without
    improvement of ``metric`` on the validation split, as in
    :class:`~gnnnas.training.config.TrainConfig`. ``initial`` names presets
    (:data:`~gnnnas.models.presets.PRESETS`, points of the space) that a new
    study trains first, before the controller proposes anything: the
    initial design, so that a search starts from the field's known-good
    architectures instead of only from random draws.
    """

    max_epochs: int = 50
    patience: int = 5
    eval_every: int = 1
    metric: str = "ndcg@20"
    initial: tuple[str, ...] = ()

    @property
    def metric_name(self) -> str:
        return self.metric.partition("@")[0]

    @property
    def metric_k(self) -> int:
        return int(self.metric.partition("@")[2])

    def to_dict(self) -> dict:
        out = asdict(self)
        out["initial"] = list(self.initial)
        return out
