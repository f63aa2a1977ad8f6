"""What ``--arch`` can name: a preset, a baseline, or an architecture JSON file."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Union

import torch

from gnnnas.errors import GnnnasError
from gnnnas.graph import BipartiteGraph
from gnnnas.models.base import Recommender
from gnnnas.models.gnn import GNNRecommender
from gnnnas.models.popularity import Popularity
from gnnnas.models.presets import PRESETS
from gnnnas.models.spec import ArchSpec, LayerSpec, SpecError

#: Models with nothing to search: the yardsticks every candidate must beat.
BASELINES: dict[str, Callable[[BipartiteGraph], Recommender]] = {"popularity": Popularity}

#: An architecture is a spec, or the name of a baseline.
Architecture = Union[ArchSpec, str]


def architecture_names() -> list[str]:
    return [*PRESETS, *BASELINES]


def resolve_architecture(text: str) -> Architecture:
    """A preset or baseline name, or a path to an architecture JSON file."""
    if text in BASELINES:
        return text
    if text in PRESETS:
        return PRESETS[text].spec
    path = Path(text)
    if path.suffix.lower() == ".json" or path.exists():
        if not path.is_file():
            raise GnnnasError(f"--arch {text}: no such file; expected a preset ({', '.join(architecture_names())}) "
                              "or an architecture JSON file")
        try:
            return ArchSpec.from_json(path.read_text(encoding="utf-8"))
        except SpecError as err:
            raise GnnnasError(f"{path}: {err}") from None
    raise GnnnasError(f"--arch {text!r}: unknown architecture; expected one of {', '.join(architecture_names())} "
                      "or an architecture JSON file")


def build_model(arch: Architecture, graph: BipartiteGraph, seed: int = 0,
                device: torch.device | str = "cpu") -> Recommender:
    """The recommender for ``arch`` on ``graph``; ``seed`` fixes the initial weights."""
    torch.manual_seed(seed)
    model = BASELINES[arch](graph) if isinstance(arch, str) else GNNRecommender(arch, graph)
    return model.to(device)


def override(spec: ArchSpec, *, layers: int | None = None, dim: int | None = None, lr: float | None = None,
             l2: float | None = None, batch_size: int | None = None, negatives: int | None = None,
             edge_dropout: float | None = None, features: str | None = None, graph: str | None = None,
             item_k: int | None = None, loss: str | None = None, shared_negatives: int | None = None) -> ArchSpec:
    """``spec`` with command-line overrides; ``layers`` repeats the spec's last layer (LightGCN when it has none)."""
    data = spec.to_dict()
    if layers is not None:
        template = data["layers"][-1] if data["layers"] else asdict(LayerSpec())
        data["layers"] = [dict(template) for _ in range(layers)]
    if dim is not None:
        data["embedding_dim"] = dim
        data["layers"] = [dict(l, hidden=dim) for l in data["layers"]]
    for key, value in (("edge_dropout", edge_dropout), ("features", features), ("graph", graph), ("item_k", item_k)):
        if value is not None:
            data[key] = value
    for key, value in (("lr", lr), ("l2", l2), ("batch_size", batch_size), ("num_negatives", negatives),
                       ("loss", loss), ("shared_negatives", shared_negatives)):
        if value is not None:
            data["training"][key] = value
    return ArchSpec.from_dict(data)
