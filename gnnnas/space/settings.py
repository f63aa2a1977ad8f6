"""The ``search:`` section: how each candidate is trained during the search."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from gnnnas.models.presets import PRESETS
from gnnnas.models.spec import ArchSpec


@dataclass(frozen=True)
class InitialPoint:
    """A preset a new study trains first, its training knobs optionally set for the search.

    ``training`` overrides fields of the preset's :class:`~gnnnas.models.spec.TrainingSpec`
    (``lr``, ``l2``, ``batch_size``, ``num_negatives``): a paper's learning rate is
    tuned for hundreds of epochs, a search gives each candidate far fewer.
    """

    preset: str
    training: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """``lightgcn`` or ``lightgcn lr=0.005``: how leaderboards and messages name it."""
        return " ".join([self.preset, *(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in self.training)])

    def spec(self) -> ArchSpec:
        base = PRESETS[self.preset].spec
        return replace(base, training=replace(base.training, **dict(self.training))) if self.training else base

    def to_dict(self) -> str | dict:
        return {"preset": self.preset, **dict(self.training)} if self.training else self.preset


@dataclass(frozen=True)
class WarmUp:
    """The first ``share`` of a search's budget stays in the sub-space ``space`` (a bundled name or a file).

    Warm-up trials fix every parameter that ``space`` fixes (aggregators,
    scoring, norms ...) at its value and leave the parameters it varies
    (depth, width, learning rate ...) to the controller, over this space's
    ranges. They are ordinary trials of the study, so the controller's
    model learns from them when the whole space opens (:mod:`gnnnas.search.warm_up`).
    """

    space: str
    share: float

    def to_dict(self) -> dict:
        return {"space": self.space, "share": self.share}


@dataclass(frozen=True)
class SearchSettings:
    """Training budget and selection metric for every candidate of a search.

    ``patience`` counts evaluations (every ``eval_every`` epochs) without
    improvement of ``metric`` on the validation split, as in
    :class:`~gnnnas.training.config.TrainConfig`. ``initial`` lists presets
    (:data:`~gnnnas.models.presets.PRESETS`, points of the space) that a new
    study trains first, before the controller proposes anything: the
    initial design, so that a search starts from the field's known-good
    architectures instead of only from random draws. ``warm_up`` keeps the
    first share of the budget in a sub-space (:class:`WarmUp`).
    """

    max_epochs: int = 50
    patience: int = 5
    eval_every: int = 1
    metric: str = "ndcg@20"
    initial: tuple[InitialPoint, ...] = ()
    warm_up: WarmUp | None = None

    @property
    def metric_name(self) -> str:
        return self.metric.partition("@")[0]

    @property
    def metric_k(self) -> int:
        return int(self.metric.partition("@")[2])

    def to_dict(self) -> dict:
        out = asdict(self)
        out["initial"] = [p.to_dict() for p in self.initial]
        out["warm_up"] = self.warm_up.to_dict() if self.warm_up is not None else None
        return out
