"""Acceptance: 300 specs sampled from default.yaml all build, run forward and backward, and score."""

from __future__ import annotations

import numpy as np
import torch

from gnnnas.data.dataset import SplitData
from gnnnas.graph import BipartiteGraph
from gnnnas.models.gnn import GNNRecommender
from gnnnas.models.spec import AGGREGATORS, COMBINATIONS, SKIPS, ArchSpec
from gnnnas.space import load_space

N_USERS, N_ITEMS = 23, 31


def small_graph() -> BipartiteGraph:
    rng = np.random.default_rng(0)
    users = np.concatenate([np.arange(N_USERS), rng.integers(0, N_USERS, 120)])
    items = np.concatenate([rng.integers(0, N_ITEMS, N_USERS), rng.integers(0, N_ITEMS, 120)])
    return BipartiteGraph.from_split(SplitData.from_pairs(users, items, N_USERS), N_ITEMS)


def test_300_default_specs_build_train_step_and_score():
    specs = load_space("default").sample_random(300, seed=0)
    graph = small_graph()
    seen = {"aggregator": set(), "skip": set(), "combination": set()}
    users = torch.arange(N_USERS)
    for spec in specs:
        assert ArchSpec.from_json(spec.to_json()) == spec
        seen["aggregator"].update(l.aggregator for l in spec.layers)
        seen["skip"].add(spec.skip)
        seen["combination"].add(spec.combination)
        torch.manual_seed(0)
        model = GNNRecommender(spec, graph)
        model.train()
        user_emb, item_emb = model()
        assert user_emb.shape[0] == N_USERS and item_emb.shape[0] == N_ITEMS
        assert user_emb.shape[1] == item_emb.shape[1]
        scores = model.score_embeddings(user_emb[:, None, :], item_emb[None, :5, :])
        loss = torch.nn.functional.softplus(scores[:, 1:] - scores[:, :1]).mean()
        loss.backward()
        assert torch.isfinite(loss), str(spec)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), str(spec)
        full = model.score(users)
        assert full.shape == (N_USERS, N_ITEMS) and torch.isfinite(full).all(), str(spec)
    assert seen["aggregator"] == set(AGGREGATORS)
    assert seen["skip"] == set(SKIPS)
    assert seen["combination"] == set(COMBINATIONS)
