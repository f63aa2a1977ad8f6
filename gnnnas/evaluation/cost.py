"""What a trained recommender costs to ship and to serve: parameters, exported bytes, top-K latency.

The measures are the same for every model (trial or compressed artifact), so
they can be compared across a search or before/after compression:

* :func:`parameter_count`: stored values (``Recommender.num_parameters``;
  plain modules count their parameters);
* :func:`exported_size_bytes`: the size of the bundle's ``weights.pt``
  exactly as :func:`gnnnas.export.save_bundle` writes it, serialised to memory;
* :func:`topk_latency_ms`: full-ranking top-K for a fixed batch of users on
  the model's device, i.e. the whole serving path (forward/propagation, the
  batch's scores against every item, the ranking): warm-up runs, then the
  median wall time of ``repeats`` runs, in eval mode without gradients.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from gnnnas.device import synchronize
from gnnnas.evaluation.metrics import rank_top
from gnnnas.models.base import Recommender


def parameter_count(model: nn.Module) -> int:
    """Number of stored model values: ``num_parameters()`` of a recommender, else its parameters."""
    if isinstance(model, Recommender):
        return int(model.num_parameters())
    return int(sum(p.numel() for p in model.parameters()))


def exported_size_bytes(model: Recommender) -> int:
    """Bytes of the ``weights.pt`` that :func:`~gnnnas.export.save_bundle` would write for ``model``,
    plus its ``item_features.npy`` when the model reads item text embeddings (they are part of what it serves)."""
    from gnnnas.export.bundle import _weights  # the bundle writer's own state-dict preparation
    buffer = io.BytesIO()
    # torch names the zip's root folder after the file stem ("weights") or, for a buffer, "archive":
    # both have 7 characters, so record headers and alignment padding, hence the size, are identical.
    torch.save(_weights(model), buffer)
    size = buffer.getbuffer().nbytes
    features = getattr(getattr(model, "input", None), "text", None)  # text input stages read these
    if features is not None:
        import numpy as np
        out = io.BytesIO()
        np.save(out, features.detach().cpu().numpy().astype(np.float32), allow_pickle=False)
        size += out.getbuffer().nbytes
    return size


def latency_users(n_users_total: int, n_users: int = 256, seed: int = 0) -> torch.Tensor:
    """The fixed user batch of :func:`topk_latency_ms`: ``min(n_users, n_users_total)`` ids, sorted.

    Depends only on the dataset's user count and ``seed``, so every trial of a
    dataset is timed on the same users.
    """
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users}")
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randperm(int(n_users_total), generator=gen)[:n_users].sort().values


def _one_run_ms(model: Recommender, users: torch.Tensor, k: int) -> float:
    device = model.device
    synchronize(device)
    start = time.perf_counter()
    rank_top(model.scorer(), users, k, model.n_items)
    synchronize(device)
    return (time.perf_counter() - start) * 1000.0


@torch.no_grad()
def compare_latency_ms(models: list[Recommender], k: int = 20, n_users: int = 256, repeats: int = 5,
                       warmup: int = 1, seed: int = 0) -> list[float]:
    """:func:`topk_latency_ms` of each model, their timed runs interleaved (one run of each per round).

    On a shared machine, load comes in bursts: interleaving spreads them over
    all models alike, so their ratio is steadier than that of back-to-back
    measurements. The models must rank the same users (same ``n_users``).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    if len({m.n_users for m in models}) > 1:
        raise ValueError("compare_latency_ms: the models have different numbers of users")
    modes = [m.training for m in models]
    batches = [latency_users(m.n_users, n_users, seed).to(m.device) for m in models]
    times: list[list[float]] = [[] for _ in models]
    try:
        for m in models:
            m.eval()
        for run in range(warmup + repeats):
            for i, (m, users) in enumerate(zip(models, batches)):
                ms = _one_run_ms(m, users, k)
                if run >= warmup:
                    times[i].append(ms)
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)
    return [float(statistics.median(t)) for t in times]


def topk_latency_ms(model: Recommender, k: int = 20, n_users: int = 256, repeats: int = 5, warmup: int = 1,
                    seed: int = 0) -> float:
    """Median wall time (ms) of full-ranking top-``k`` for a fixed batch of users, on the model's device.

    One run is ``model.scorer()`` (the forward pass: propagation for a GNN)
    then the batch's top-``k`` over all items by
    :func:`~gnnnas.evaluation.metrics.rank_top`, as
    :meth:`TrainedRecommender.recommend` serves them (fused on CPU where the
    scorer allows, else in blocks of scores; seen-item masking is left out: it
    is the same for every model).
    """
    return compare_latency_ms([model], k=k, n_users=n_users, repeats=repeats, warmup=warmup, seed=seed)[0]


@dataclass(frozen=True)
class Cost:
    """A model's cost: stored values, exported weight bytes, top-K latency in milliseconds."""

    params: int
    size_bytes: int
    latency_ms: float

    def to_dict(self) -> dict:
        return asdict(self)


def measure_cost(model: Recommender, k: int = 20, n_users: int = 256, repeats: int = 5, warmup: int = 1,
                 seed: int = 0) -> Cost:
    """All three measures of ``model`` (latency as :func:`topk_latency_ms` with these arguments)."""
    latency = topk_latency_ms(model, k=k, n_users=n_users, repeats=repeats, warmup=warmup, seed=seed)
    if not math.isfinite(latency):  # pragma: no cover - perf_counter is monotonic
        raise RuntimeError(f"latency {latency} is not finite")
    return Cost(params=parameter_count(model), size_bytes=exported_size_bytes(model), latency_ms=latency)
