"""Shared fixtures: a small clustered interaction table that a GNN can learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnnnas.data import DataOptions, load_dataset


def pytest_configure(config):
    # The native kernels are built once per process; build them in a temporary folder, not ~/.cache.
    import os
    import tempfile
    os.environ.setdefault("GNNNAS_NATIVE_CACHE", tempfile.mkdtemp(prefix="gnnnas-native-"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    # Tests must never read or write the user's ~/.cache.
    monkeypatch.setenv("GNNNAS_CACHE_DIR", str(tmp_path / "gnnnas-cache"))


def clustered_interactions(n_users: int = 80, n_items: int = 60, n_clusters: int = 4, per_user: int = 12,
                           seed: int = 0) -> pd.DataFrame:
    """Users of cluster c buy mostly items of cluster c: structure a recommender should find."""
    rng = np.random.default_rng(seed)
    rows = []
    items_per_cluster = n_items // n_clusters
    for u in range(n_users):
        c = u % n_clusters
        own = np.arange(c * items_per_cluster, (c + 1) * items_per_cluster)
        chosen = set(rng.choice(own, size=per_user - 2, replace=False).tolist())
        chosen |= set(rng.choice(n_items, size=2, replace=False).tolist())
        rows += [(f"u{u}", f"i{i}", 1.0, 1_600_000_000 + 60 * k) for k, i in enumerate(sorted(chosen))]
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


@pytest.fixture
def tiny_csv(tmp_path):
    path = tmp_path / "tiny.csv"
    clustered_interactions().to_csv(path, index=False)
    return path


@pytest.fixture
def tiny_dataset(tiny_csv):
    return load_dataset(tiny_csv, DataOptions(seed=0))
