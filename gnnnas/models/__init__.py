"""Recommender models trained by the engine."""

from gnnnas.models.base import Recommender
from gnnnas.models.lightgcn import LightGCN
from gnnnas.models.popularity import Popularity

__all__ = ["Recommender", "LightGCN", "Popularity"]
