"""Recommender models trained by the engine, and the model space of the architecture search.

The model space (:class:`GNNRecommender`, the profiling helpers) imports
PyTorch Geometric, about 1.5 s; it is loaded on first use so that importing
``gnnnas`` (every CLI command, the spec module) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from gnnnas.models.base import Recommender
from gnnnas.models.lightgcn import LightGCN
from gnnnas.models.popularity import Popularity
from gnnnas.models.presets import PRESETS, Preset

if TYPE_CHECKING:
    from gnnnas.models.gnn import GNNRecommender
    from gnnnas.models.profile import forward_latency, parameter_count, profile_spec

_LAZY = {"GNNRecommender": "gnnnas.models.gnn", "parameter_count": "gnnnas.models.profile",
         "forward_latency": "gnnnas.models.profile", "profile_spec": "gnnnas.models.profile"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Recommender", "LightGCN", "Popularity", "GNNRecommender", "PRESETS", "Preset",
           "parameter_count", "forward_latency", "profile_spec"]
