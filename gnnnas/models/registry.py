"""Named architectures for ``gnnnas train --arch NAME``.

The search-space issue replaces this with full architecture specs; the engine
needs only the reference model (LightGCN), its zero-layer special case
(matrix factorisation with BPR) and the popularity baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gnnnas.graph import BipartiteGraph
from gnnnas.models.base import Recommender
from gnnnas.models.lightgcn import LightGCN
from gnnnas.models.popularity import Popularity


@dataclass(frozen=True)
class ModelSettings:
    dim: int = 64
    num_layers: int = 3


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    build: Callable[[BipartiteGraph, ModelSettings], Recommender]


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a for a in (
        Architecture("lightgcn", "LightGCN (He et al. 2020): parameter-free normalised propagation, mean over layers",
                     lambda g, s: LightGCN(g, s.dim, s.num_layers)),
        Architecture("mf", "BPR matrix factorisation (Rendle et al. 2009): LightGCN with 0 layers",
                     lambda g, s: LightGCN(g, s.dim, 0)),
        Architecture("popularity", "most-popular items for everyone (baseline, nothing to train)",
                     lambda g, s: Popularity(g)),
    )
}
