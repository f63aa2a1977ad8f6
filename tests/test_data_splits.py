"""Preprocessing and per-user splits: determinism, no leakage, the documented sizes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnnnas.data import (SPLIT_KINDS, SPLITTERS, DataOptions, Dataset, RawData, add_data_arguments,
                         load_dataset, options_from_args)
from gnnnas.data.preprocess import preprocess
from gnnnas.data.split import TEST, TRAIN, VAL, split_labels
from gnnnas.errors import GnnnasError


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GNNNAS_CACHE_DIR", str(tmp_path / "env-cache"))


def _raw(n_users: int = 40, n_items: int = 30, seed: int = 7, timestamps: bool = True) -> RawData:
    """Random interactions with varied per-user counts (1 .. 25), some duplicates."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        k = int(rng.integers(1, 26))
        users += [f"u{u:02d}"] * k
        items += [f"i{i:02d}" for i in rng.integers(0, n_items, size=k)]
    frame = pd.DataFrame({"user": users, "item": items})
    if timestamps:
        frame["timestamp"] = rng.integers(0, 50, size=len(frame)).astype(np.int64)  # ties on purpose
    return RawData(interactions=frame)


@pytest.fixture
def csv_source(tmp_path) -> Path:
    path = tmp_path / "log.csv"
    _raw().interactions.to_csv(path, index=False)
    return path


def _load(path: Path, tmp_path: Path, **kw) -> Dataset:
    return load_dataset(path, DataOptions(**kw), cache_dir=tmp_path / "cache")


def _pair_set(split) -> set[tuple[int, int]]:
    users, items = split.pairs()
    return set(zip(users.tolist(), items.tolist()))


@pytest.mark.parametrize("kind", ["ratio", "temporal", "loo"])
def test_no_leakage_union_and_train_for_everyone(csv_source, tmp_path, kind):
    ds = _load(csv_source, tmp_path, split=kind)
    train, val, test = _pair_set(ds.train), _pair_set(ds.val), _pair_set(ds.test)
    assert not (train & val) and not (train & test) and not (val & test)
    inter = preprocess(_raw(), DataOptions(), "raw")
    assert train | val | test == set(zip(inter.users.tolist(), inter.items.tolist()))
    assert ds.user_ids.tolist() == inter.user_ids.tolist() and ds.item_ids.tolist() == inter.item_ids.tolist()
    assert (ds.train.counts() >= 1).all()
    assert ds.info["split"] == kind


@pytest.mark.parametrize("kind", ["ratio", "loo", "provided"])
def test_same_seed_same_split_other_seed_differs(kind):
    raw = _raw(timestamps=False)
    if kind == "provided":
        frame = raw.interactions.drop_duplicates()
        raw = RawData(interactions=frame.iloc[::2], provided_test=frame.iloc[1::2])
    inter = preprocess(raw, DataOptions(), "raw")
    a = split_labels(inter, DataOptions(split=kind, seed=3))[1]
    b = split_labels(inter, DataOptions(split=kind, seed=3))[1]
    c = split_labels(inter, DataOptions(split=kind, seed=4))[1]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_same_seed_same_dataset_arrays(csv_source, tmp_path):
    one = load_dataset(csv_source, DataOptions(seed=5), cache_dir=tmp_path / "c1")
    two = load_dataset(csv_source, DataOptions(seed=5), cache_dir=tmp_path / "c2")
    other = load_dataset(csv_source, DataOptions(seed=6), cache_dir=tmp_path / "c1")
    for split in ("train", "val", "test"):
        assert np.array_equal(getattr(one, split).indptr, getattr(two, split).indptr)
        assert np.array_equal(getattr(one, split).indices, getattr(two, split).indices)
    assert not np.array_equal(one.test.indices, other.test.indices)
    assert one.fingerprint == two.fingerprint != other.fingerprint


def _single_user_labels(n: int, **kw) -> np.ndarray:
    raw = RawData(interactions=pd.DataFrame({"user": ["u"] * n, "item": [f"i{k:02d}" for k in range(n)],
                                             "timestamp": np.arange(n)}))
    inter = preprocess(raw, DataOptions(), "raw")
    return split_labels(inter, DataOptions(**kw))[1]


@pytest.mark.parametrize("n,expected", [(1, (1, 0, 0)), (2, (2, 0, 0)), (3, (2, 1, 0)), (5, (4, 1, 0)),
                                        (10, (8, 1, 1)), (20, (16, 2, 2))])
def test_ratio_sizes_follow_cumulative_rounding(n, expected):
    labels = _single_user_labels(n, split="ratio")
    assert tuple(int((labels == k).sum()) for k in (TRAIN, VAL, TEST)) == expected


@pytest.mark.parametrize("n,expected", [(1, (1, 0, 0)), (2, (1, 0, 1)), (3, (1, 1, 1)), (7, (5, 1, 1))])
def test_loo_sizes(n, expected):
    labels = _single_user_labels(n, split="loo")
    assert tuple(int((labels == k).sum()) for k in (TRAIN, VAL, TEST)) == expected
    if n >= 3:  # by time: the last item is test, the one before validation
        assert labels[-1] == TEST and labels[-2] == VAL


def test_temporal_order_respected(csv_source, tmp_path):
    ds = _load(csv_source, tmp_path, split="temporal")
    frame = pd.read_csv(csv_source, dtype={"user": str, "item": str})
    first_time = frame.groupby(["user", "item"])["timestamp"].min().to_dict()  # dedup keeps the earliest
    item_rank = {raw: i for i, raw in enumerate(ds.item_ids.tolist())}
    for u in range(ds.n_users):
        user = ds.user_ids[u]

        def keys(split):
            return [(first_time[(user, ds.item_ids[i])], item_rank[ds.item_ids[i]])
                    for i in getattr(ds, split).items_of(u).tolist()]

        train, val, test = keys("train"), keys("val"), keys("test")
        if val:
            assert max(train) < min(val)
        if test:
            assert max(train + val) < min(test)


def test_temporal_needs_timestamps(tmp_path):
    path = tmp_path / "t.csv"
    _raw(timestamps=False).interactions.to_csv(path, index=False)
    with pytest.raises(GnnnasError, match="split 'temporal' needs timestamps"):
        _load(path, tmp_path, split="temporal")
    assert not (tmp_path / "cache").exists()
    assert _load(path, tmp_path, split="loo").test.nnz > 0  # loo falls back to random order


def test_provided_split_needs_a_provided_test(csv_source, tmp_path):
    with pytest.raises(GnnnasError, match="split 'provided' needs a source that ships a test split"):
        _load(csv_source, tmp_path, split="provided")


def test_provided_split_carves_validation_from_train():
    train = pd.DataFrame({"user": ["a"] * 20 + ["b"] * 2 + ["c"], "item": list(range(20)) + [0, 1] + [5]})
    test = pd.DataFrame({"user": ["a", "b", "c"], "item": [30, 31, 32]})
    inter = preprocess(RawData(interactions=train, provided_test=test), DataOptions(), "raw")
    kind, labels = split_labels(inter, DataOptions(val_ratio=0.25))
    assert kind == "provided"
    per_user = pd.DataFrame({"u": inter.user_ids[inter.users], "l": labels}).value_counts().to_dict()
    assert per_user[("a", VAL)] == 5 and per_user[("a", TRAIN)] == 15
    assert per_user[("b", VAL)] == 1 and per_user[("b", TRAIN)] == 1  # round(0.5) = 1, half up
    assert ("c", VAL) not in per_user and per_user[("c", TRAIN)] == 1  # always >= 1 train item
    assert all(per_user[(u, TEST)] == 1 for u in "abc")


def test_refit_merges_train_and_val(csv_source, tmp_path):
    ds = _load(csv_source, tmp_path)
    refit = ds.refit()
    assert refit.val.nnz == 0 and refit.refitted
    assert _pair_set(refit.train) == _pair_set(ds.train) | _pair_set(ds.val)
    assert np.array_equal(refit.test.indices, ds.test.indices)


def test_preprocess_threshold_dedup_and_kcore():
    frame = pd.DataFrame({
        "user": ["a", "a", "a", "b", "b", "c", "c", "a"],
        "item": ["x", "y", "z", "x", "y", "x", "z", "x"],
        "rating": [5, 4, 5, 5, 1, 4, 5, 2],
        "timestamp": [9, 2, 3, 4, 5, 6, 7, 1],
    })
    inter = preprocess(RawData(interactions=frame), DataOptions(rating_threshold=4), "raw")
    assert inter.stats["dropped_below_threshold"] == 2 and inter.stats["dropped_duplicates"] == 0
    kept = set(zip(inter.user_ids[inter.users].tolist(), inter.item_ids[inter.items].tolist()))
    assert kept == {("a", "x"), ("a", "y"), ("a", "z"), ("b", "x"), ("c", "x"), ("c", "z")}
    all_ratings = preprocess(RawData(interactions=frame), DataOptions(), "raw")
    assert all_ratings.stats["dropped_duplicates"] == 1
    row = np.flatnonzero((all_ratings.user_ids[all_ratings.users] == "a") & (all_ratings.item_ids[all_ratings.items] == "x"))
    assert all_ratings.timestamps[row].tolist() == [1.0]  # the earliest copy is kept
    core = preprocess(RawData(interactions=frame), DataOptions(rating_threshold=4, kcore=2), "raw")
    # b has one item left (x) -> removed; then every remaining user and item has >= 2.
    assert core.user_ids.tolist() == ["a", "c"] and core.item_ids.tolist() == ["x", "z"]
    with pytest.raises(GnnnasError, match="no interactions left after 3-core"):
        preprocess(RawData(interactions=frame), DataOptions(kcore=3), "raw")
    with pytest.raises(GnnnasError, match="has no ratings"):
        preprocess(RawData(interactions=frame[["user", "item"]]), DataOptions(rating_threshold=1), "raw")


def test_string_and_numeric_id_order():
    frame = pd.DataFrame({"user": ["10", "9", "100", "09"], "item": ["b", "a", "B", "c"]})
    inter = preprocess(RawData(interactions=frame), DataOptions(), "raw")
    assert inter.user_ids.tolist() == ["09", "9", "10", "100"]  # numeric order; equal numbers as strings
    assert inter.item_ids.tolist() == ["B", "a", "b", "c"]


def test_options_validation():
    for bad in (dict(ratios=(0.8, 0.1, 0.2)), dict(ratios=(0.5, 0.5)), dict(ratios=(0.0, 0.5, 0.5)),
                dict(ratios=(1.0, 0.0, 0.0)), dict(val_ratio=1.0), dict(kcore=-1), dict(split="random"),
                dict(seed=-1), dict(rating_threshold=float("nan")), dict(sep="")):
        with pytest.raises(GnnnasError):
            DataOptions(**bad)
    assert DataOptions(ratios=[0.7, 0.2, 0.1], text_cols=["a"]).ratios == (0.7, 0.2, 0.1)
    assert set(SPLITTERS) == set(SPLIT_KINDS) - {"auto"}


def test_cli_arguments_round_trip():
    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    args = parser.parse_args(["--data", "x.csv", "--ratios", "0.7,0.15,0.15", "--text-cols", "a, b",
                              "--kcore", "5", "--split", "temporal", "--seed", "3", "--rating-threshold", "4"])
    options = options_from_args(args)
    assert args.data == "x.csv"
    assert options == DataOptions(ratios=(0.7, 0.15, 0.15), text_cols=("a", "b"), kcore=5, split="temporal",
                                  seed=3, rating_threshold=4.0)
    assert parser.parse_args([]).data == "online-retail"
    with pytest.raises(GnnnasError, match="ratios"):
        options_from_args(parser.parse_args(["--ratios", "0.5,0.5"]))
    trainer = argparse.ArgumentParser()
    trainer.add_argument("--seed", type=int, default=11)
    add_data_arguments(trainer)  # must not clash with the trainer's own --seed
    assert options_from_args(trainer.parse_args([])).seed == 11
