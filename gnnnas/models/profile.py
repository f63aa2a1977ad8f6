"""Cost of a candidate before (or instead of) training it: parameters and forward latency."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from gnnnas.device import synchronize
from gnnnas.graph import BipartiteGraph
from gnnnas.models.base import Recommender
from gnnnas.models.gnn import GNNRecommender
from gnnnas.models.spec import ArchSpec


def parameter_count(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters, ID embedding tables included."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def forward_latency(model: Recommender, repeats: int = 5, warmup: int = 1) -> float:
    """Median seconds of one full forward pass (every user and item) in eval mode, on the model's device.

    ``warmup`` passes run first and are not timed (they build per-graph
    adjacency forms and warm allocators and kernels). The model's train/eval
    mode is restored afterwards.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    device = model.device
    was_training = model.training
    model.eval()
    try:
        for _ in range(warmup):
            model()
        times = []
        for _ in range(repeats):
            synchronize(device)
            started = time.perf_counter()
            model()
            synchronize(device)
            times.append(time.perf_counter() - started)
    finally:
        model.train(was_training)
    return statistics.median(times)


def profile_spec(spec: ArchSpec, graph: BipartiteGraph, repeats: int = 5, warmup: int = 1,
                 seed: int = 0) -> dict:
    """``{"params": int, "forward_seconds": float}`` of ``spec`` built on ``graph`` (on the graph's device)."""
    torch.manual_seed(seed)
    model = GNNRecommender(spec, graph).to(graph.device)
    return {"params": parameter_count(model),
            "forward_seconds": forward_latency(model, repeats=repeats, warmup=warmup)}
