"""Full-ranking evaluation of a recommender on a :class:`~gnnnas.data.dataset.Dataset` split.

Every item is ranked for every evaluated user; the items the model has already
seen are excluded (``val``: train; ``test``: train and val, or just train for
a refitted dataset, whose train already holds val). Only users with held-out
items in the split are evaluated. Metric conventions are those of
:mod:`gnnnas.evaluation.metrics`.

With the cold-start protocol (:mod:`gnnnas.data.cold`) the warm splits never
rank held-out cold items, and ``val_cold`` / ``test_cold`` rank only the
cold items of that split, each user's held-out interactions with them being
the truth.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from gnnnas.data.dataset import Dataset
from gnnnas.evaluation.metrics import RankingTask, TaskTensors, _check_ks, csr_keys, run_ranking

SPLITS = ("val", "test", "val_cold", "test_cold")
#: prefix of cold metrics when they sit in one dict with the warm ones (``cold_recall@20``)
COLD_PREFIX = "cold_"

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one evaluation plus how many users they average over."""

    split: str
    metrics: dict[str, float]
    n_users: int


class _Prepared:
    """A split's ranking plan and its per-device index tensors."""

    def __init__(self, task: RankingTask):
        self.task = task
        self._tensors: dict[torch.device, TaskTensors] = {}

    def tensors_on(self, device: torch.device) -> TaskTensors:
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device not in self._tensors:
            self._tensors[device] = self.task.tensors(device)
        return self._tensors[device]


# Plans are cached per dataset object (dropped with it), so periodic calls to
# evaluate() or fresh Evaluators on the same dataset rebuild nothing.
_PREPARED: "weakref.WeakKeyDictionary[Dataset, dict[str, _Prepared]]" = weakref.WeakKeyDictionary()


def _prepared(dataset: Dataset, split: str) -> _Prepared:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split.endswith("_cold") and not dataset.has_cold:
        raise ValueError(f"split {split!r} needs the cold-start protocol (DataOptions.cold_items > 0)")
    per_split = _PREPARED.setdefault(dataset, {})
    if split not in per_split:
        n = dataset.n_items
        truth = getattr(dataset, split)
        excluded = [dataset.train]
        if split.startswith("test") and not dataset.refitted:
            excluded.append(dataset.val)
        excl_keys = np.concatenate([csr_keys(s.indptr, s.indices, n) for s in excluded])
        if split.endswith("_cold"):  # candidates: this split's cold items only
            blocked = np.setdiff1d(np.arange(n), getattr(dataset, f"cold_{split[:-5]}_items"))
        else:
            blocked = dataset.cold_items
        per_split[split] = _Prepared(RankingTask.from_keys(n, csr_keys(truth.indptr, truth.indices, n), excl_keys,
                                                           blocked))
    return per_split[split]


def cold_splits(dataset: Dataset) -> tuple[str, ...]:
    """The cold splits ``dataset`` can evaluate (empty without the cold-start protocol)."""
    return ("val_cold", "test_cold") if dataset.has_cold else ()


def split_cold(metrics: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(warm metrics, cold metrics without their ``cold_`` prefix) of one merged dict."""
    warm = {k: v for k, v in metrics.items() if not k.startswith(COLD_PREFIX)}
    cold = {k[len(COLD_PREFIX):]: v for k, v in metrics.items() if k.startswith(COLD_PREFIX)}
    return warm, cold


class Evaluator:
    """Full-ranking evaluator for one dataset split; build once, call every few epochs.

    ``evaluator(score_fn)`` returns ``{"recall@K", "ndcg@K", "precision@K",
    "hitrate@K", "mrr@K", "coverage@K"}`` for each ``K`` in ``ks``. ``score_fn``
    receives a LongTensor of user ids (on ``device``, default CPU) and returns
    their ``len(users) x n_items`` scores on any device; masks are built on
    that device. Excluded items are overwritten with ``-inf`` in the returned
    tensor itself unless it is a view (e.g. rows sliced from a cache), so
    return fresh scores such as a matmul result, never a kept tensor as is.
    """

    def __init__(self, dataset: Dataset, split: str = "val", ks: Sequence[int] = (10, 20),
                 batch_size: int = 1024, device: torch.device | str | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.split = split
        self.ks = tuple(_check_ks(ks))
        self.batch_size = int(batch_size)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._prepared = _prepared(dataset, split)
        self._prepared.tensors_on(self.device)

    @property
    def n_users(self) -> int:
        """Users evaluated: those with at least one held-out, non-excluded item."""
        return self._prepared.task.n_users

    def evaluate(self, score_fn: ScoreFn) -> EvalResult:
        """Metrics plus the number of evaluated users."""
        if self.n_users == 0:
            raise ValueError(f"split {self.split!r} has no user with held-out items "
                             "(refitted dataset, or an empty split?)")
        acc = run_ranking(self._prepared.task, score_fn, self._prepared.tensors_on, self.ks,
                          self.batch_size, self.device)
        return EvalResult(split=self.split, metrics=acc.result(), n_users=acc.n_users)

    def __call__(self, score_fn: ScoreFn) -> dict[str, float]:
        return self.evaluate(score_fn).metrics


def evaluate_detailed(score_fn: ScoreFn, dataset: Dataset, split: str = "val", ks: Sequence[int] = (10, 20),
                      batch_size: int = 1024, device: torch.device | str | None = None) -> EvalResult:
    """Like :func:`evaluate`, also reporting how many users were evaluated."""
    return Evaluator(dataset, split, ks, batch_size, device).evaluate(score_fn)


def evaluate(score_fn: ScoreFn, dataset: Dataset, split: str = "val", ks: Sequence[int] = (10, 20),
             batch_size: int = 1024, device: torch.device | str | None = None) -> dict[str, float]:
    """Full-ranking metrics of ``score_fn`` on ``dataset``'s ``split`` (``val`` or ``test``).

    Index tensors are cached per dataset object, so calling this every few
    epochs costs the same as reusing an :class:`Evaluator`.
    """
    return evaluate_detailed(score_fn, dataset, split, ks, batch_size, device).metrics
