"""Cost measures: parameters, exported weight bytes and full-ranking top-K latency."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import gnnnas
from gnnnas.evaluation.cost import (Cost, compare_latency_ms, exported_size_bytes, latency_users, measure_cost,
                                    parameter_count, topk_latency_ms)
from gnnnas.export import save_bundle
from gnnnas.graph import BipartiteGraph
from gnnnas.models.registry import build_model, override


def model_of(dataset, arch="lightgcn", dim=8, layers=None):
    spec = override(gnnnas.PRESETS[arch].spec, dim=dim, layers=layers)
    graph = BipartiteGraph.of(dataset.train, dataset.n_items)
    return spec, build_model(spec, graph, seed=0)


def test_parameter_count_and_size_are_deterministic_and_grow_with_the_model(tiny_dataset):
    _, small = model_of(tiny_dataset, dim=8)
    _, small_again = model_of(tiny_dataset, dim=8)
    _, big = model_of(tiny_dataset, dim=32)
    n = tiny_dataset.n_users + tiny_dataset.n_items
    assert parameter_count(small) == n * 8 == parameter_count(small_again)
    assert parameter_count(big) == n * 32
    assert exported_size_bytes(small) == exported_size_bytes(small_again)
    # the float32 tables dominate: 24 more values per row cost at least 96 more bytes per row
    assert exported_size_bytes(big) - exported_size_bytes(small) >= n * 24 * 4
    _, gat = model_of(tiny_dataset, "gat", dim=8)
    assert parameter_count(gat) > parameter_count(small)  # attention layers add weights
    assert parameter_count(torch.nn.Linear(3, 2)) == 8  # plain modules: their parameters


@pytest.mark.parametrize("arch", ["lightgcn", "gat"])
def test_size_is_exactly_the_bundle_weights_file(tmp_path, tiny_dataset, arch):
    spec, model = model_of(tiny_dataset, arch)
    path = save_bundle(tmp_path / "b", spec, model, tiny_dataset, {})
    assert exported_size_bytes(model) == (path / "weights.pt").stat().st_size


def test_latency_is_positive_finite_and_leaves_the_model_as_it_was(tiny_dataset):
    _, model = model_of(tiny_dataset)
    model.train()
    ms = topk_latency_ms(model, k=5, n_users=16, repeats=3, warmup=1)
    assert 0 < ms < 60_000 and math.isfinite(ms)
    assert model.training  # mode restored
    with pytest.raises(ValueError):
        topk_latency_ms(model, repeats=0)


def test_latency_users_are_a_fixed_deterministic_batch():
    a = latency_users(1000, 256, seed=0)
    assert torch.equal(a, latency_users(1000, 256, seed=0))
    assert a.numel() == 256 and a.unique().numel() == 256 and int(a.max()) < 1000
    assert not torch.equal(a, latency_users(1000, 256, seed=1))
    assert latency_users(10, 256).tolist() == list(range(10))  # small datasets: every user


def test_measure_cost_combines_the_three(tiny_dataset):
    _, model = model_of(tiny_dataset)
    cost = measure_cost(model, k=10, n_users=8, repeats=2)
    assert isinstance(cost, Cost)
    assert cost.params == parameter_count(model) and cost.size_bytes == exported_size_bytes(model)
    assert cost.latency_ms > 0
    assert cost.to_dict() == {"params": cost.params, "size_bytes": cost.size_bytes, "latency_ms": cost.latency_ms}
    with pytest.raises(dataclasses.FrozenInstanceError):
        cost.params = 1  # frozen


def test_compare_latency_times_every_model_and_refuses_mismatched_users(tiny_dataset):
    _, small = model_of(tiny_dataset, dim=8)
    _, big = model_of(tiny_dataset, "gat", dim=8)
    times = compare_latency_ms([small, big], k=5, n_users=16, repeats=2)
    assert len(times) == 2 and all(t > 0 and math.isfinite(t) for t in times)
    other = torch.nn.Module()
    other.n_users = tiny_dataset.n_users + 1
    with pytest.raises(ValueError, match="different numbers of users"):
        compare_latency_ms([small, other])
