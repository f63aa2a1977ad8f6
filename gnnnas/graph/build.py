"""The graph one candidate propagates over: user-item edges of the training
split, plus the item-item edges and item features its spec asks for."""

from __future__ import annotations

import weakref

import torch

from gnnnas.graph.bipartite import BipartiteGraph
from gnnnas.graph.item_graphs import item_edges


def build_graph(dataset, arch, device: torch.device | str = "cpu") -> BipartiteGraph:
    """The graph of ``arch`` (an ArchSpec, or a baseline name) on ``dataset.train``, shared while the data lives.

    Text features put the items' text embeddings on the graph (``item_features``);
    ``graph = text-knn | co-occurrence`` adds item-item edges.
    """
    from gnnnas.models.spec import ITEM_GRAPHS, TEXT_FEATURES, ArchSpec
    if not isinstance(arch, ArchSpec) or (arch.features not in TEXT_FEATURES and arch.graph not in ITEM_GRAPHS):
        return BipartiteGraph.of(dataset.train, dataset.n_items, device)
    edges, features, key = None, None, []
    if arch.graph in ITEM_GRAPHS:
        edges = item_edges(dataset, arch.graph, arch.item_k)
        key.append(f"{arch.graph}:{arch.item_k}")
    if arch.features in TEXT_FEATURES:
        features = item_feature_tensor(dataset)
        key.append("text")
    return BipartiteGraph.of(dataset.train, dataset.n_items, device, edges, features, key="|".join(key))


def item_feature_tensor(dataset) -> torch.Tensor:
    """The items' text embeddings as a float32 tensor (CPU), read once per dataset object.

    They are cached on disk by :mod:`gnnnas.features.text`; this keeps them in
    memory too, so trials of a search neither re-hash the texts nor re-read the file.
    """
    if dataset not in _FEATURES:
        from gnnnas.features.text import item_text_embeddings
        _FEATURES[dataset] = torch.from_numpy(item_text_embeddings(dataset).vectors)
    return _FEATURES[dataset]


# Dataset -> its item text embeddings; dropped with the dataset.
_FEATURES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
