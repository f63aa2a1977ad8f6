"""Format loaders, source resolution, errors and the dataset cache."""

from __future__ import annotations

import gzip
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnnnas.data import (BUNDLED, FORMATS, DataOptions, Dataset, dataset_info, describe_formats,
                         load_dataset)
from gnnnas.errors import GnnnasError

SHARED = Path("/work/shared/datasets")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    # Tests that forget cache_dir must never write to the user's home cache.
    monkeypatch.setenv("GNNNAS_CACHE_DIR", str(tmp_path / "env-cache"))


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _pairs(ds: Dataset, split: str) -> set[tuple[str, str]]:
    users, items = getattr(ds, split).pairs()
    return {(ds.user_ids[u], ds.item_ids[i]) for u, i in zip(users.tolist(), items.tolist())}


def _all_pairs(ds: Dataset) -> set[tuple[str, str]]:
    return _pairs(ds, "train") | _pairs(ds, "val") | _pairs(ds, "test")


def _assert_error(excinfo, *parts: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def _cache_is_empty(cache: Path) -> bool:
    return not cache.exists() or not any(cache.iterdir())


# ---------------------------------------------------------------- lightgcn

@pytest.fixture
def lightgcn_dir(tmp_path) -> Path:
    folder = tmp_path / "lgcn"
    _write(folder / "train.txt", "0 0 1 2 3\n1 2 3 4\n2 0 4 5 6 7 8 9 10 11 12 13\n3 1\n")
    _write(folder / "test.txt", "0 4\n1 5 6\n2 1\n3\n")
    return folder


def test_lightgcn_keeps_provided_split(lightgcn_dir, cache):
    ds = load_dataset(lightgcn_dir, cache_dir=cache)
    assert ds.info["format"] == "lightgcn" and ds.info["split"] == "provided"
    assert (ds.n_users, ds.n_items) == (4, 14)
    # Integer raw ids keep their numeric order, so internal ids equal the file's ids.
    assert ds.user_ids.tolist() == ["0", "1", "2", "3"]
    assert ds.item_ids.tolist() == [str(i) for i in range(14)]
    assert _pairs(ds, "test") == {("0", "4"), ("1", "5"), ("1", "6"), ("2", "1")}
    assert len(_pairs(ds, "train") | _pairs(ds, "val")) == 4 + 3 + 11 + 1
    assert ds.val.nnz == 0 + 0 + 1 + 0  # round(0.1 * n_train) per user, half up: 4, 3, 11, 1 train items
    assert ds.item_text is None


def test_lightgcn_non_integer_id_names_file_and_line(lightgcn_dir, cache):
    _write(lightgcn_dir / "train.txt", "0 0 1\n1 2 abc 4\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(lightgcn_dir, cache_dir=cache)
    _assert_error(excinfo, "train.txt line 2", "'abc'", "integer")
    assert _cache_is_empty(cache)


def test_lightgcn_user_without_training_items(lightgcn_dir, cache):
    _write(lightgcn_dir / "test.txt", "0 4\n7 5 6\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(lightgcn_dir, cache_dir=cache)
    _assert_error(excinfo, "test.txt line 2", "user 7", "train.txt")
    assert _cache_is_empty(cache)


def test_lightgcn_empty_train_file(lightgcn_dir, cache):
    _write(lightgcn_dir / "train.txt", "")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(lightgcn_dir, cache_dir=cache)
    _assert_error(excinfo, "train.txt", "empty")
    assert _cache_is_empty(cache)


@pytest.mark.skipif(not (SHARED / "gowalla" / "train.txt").is_file(), reason="Gowalla not available")
def test_lightgcn_real_gowalla(cache):
    ds = load_dataset(SHARED / "gowalla", cache_dir=cache)
    assert (ds.n_users, ds.n_items) == (29858, 40981)
    assert ds.train.nnz + ds.val.nnz == 810128 and ds.test.nnz == 217242


# ---------------------------------------------------------------- recbole

@pytest.fixture
def recbole_dir(tmp_path) -> Path:
    folder = tmp_path / "ml-mini"
    _write(folder / "ml-mini.inter",
           "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
           "u1\ti1\t5\t100\nu1\ti2\t3\t200\nu2\ti1\t4\t150\nu2\ti3\t1\t50\nu3\ti2\t2\t300\n")
    _write(folder / "ml-mini.item",
           "item_id:token\tmovie_title:token_seq\tclass:token_seq\tyear:float\n"
           "i1\tToy Story\tAnimation Comedy\t1995\ni2\tHeat\tAction\t1995\n")
    return folder


def test_recbole_folder_with_item_text(recbole_dir, cache):
    ds = load_dataset(recbole_dir, DataOptions(split="ratio"), cache_dir=cache)
    assert ds.info["format"] == "recbole"
    assert ds.user_ids.tolist() == ["u1", "u2", "u3"]
    assert ds.item_ids.tolist() == ["i1", "i2", "i3"]
    assert len(_all_pairs(ds)) == 5
    assert ds.item_text.tolist() == ["Toy Story; Animation Comedy", "Heat; Action", ""]


def test_recbole_file_text_cols_and_threshold(recbole_dir, cache):
    options = DataOptions(text_cols=("movie_title",), rating_threshold=3)
    ds = load_dataset(recbole_dir / "ml-mini.inter", options, cache_dir=cache)
    assert _all_pairs(ds) == {("u1", "i1"), ("u1", "i2"), ("u2", "i1")}
    assert ds.item_text.tolist() == ["Toy Story", "Heat"]


def test_recbole_benchmark_files_keep_test(tmp_path, cache):
    header = "user_id:token\titem_id:token\n"
    _write(tmp_path / "b" / "b.train.inter", header + "a\tx\na\ty\nb\tx\n")
    _write(tmp_path / "b" / "b.valid.inter", header + "b\ty\n")
    _write(tmp_path / "b" / "b.test.inter", header + "a\tz\nb\tz\n")
    ds = load_dataset(tmp_path / "b", cache_dir=cache)
    assert ds.info["split"] == "provided"
    assert _pairs(ds, "test") == {("a", "z"), ("b", "z")}


def test_recbole_missing_column_lists_columns(recbole_dir, cache):
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(recbole_dir, DataOptions(user_col="uid"), cache_dir=cache)
    _assert_error(excinfo, "ml-mini.inter", "'uid'", "--user-col", "user_id, item_id, rating, timestamp")
    assert _cache_is_empty(cache)


def test_recbole_header_without_types(tmp_path, cache):
    path = _write(tmp_path / "x.inter", "user_id\titem_id\nu\ti\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, cache_dir=cache)
    _assert_error(excinfo, "x.inter", "'user_id'", ":type")


# ---------------------------------------------------------------- movielens

@pytest.fixture
def movielens_dir(tmp_path) -> Path:
    folder = tmp_path / "ml"
    _write(folder / "ratings.csv", "userId,movieId,rating,timestamp\n"
           "1,10,4.0,964982703\n1,20,2.5,964982224\n2,10,5.0,964983815\n2,30,3.5,964982931\n")
    _write(folder / "movies.csv", 'movieId,title,genres\n10,"Heat, The (1995)",Action|Crime\n'
           "20,Up (2009),(no genres listed)\n")
    _write(folder / "tags.csv", "userId,movieId,tag,timestamp\n1,10,classic,1\n2,10,Classic,2\n2,10,heist,3\n")
    return folder


def test_movielens_synthetic(movielens_dir, cache):
    ds = load_dataset(movielens_dir, cache_dir=cache)
    assert ds.info["format"] == "movielens" and ds.info["split"] == "ratio"
    assert ds.item_ids.tolist() == ["10", "20", "30"]
    assert ds.item_text.tolist() == ["Heat, The (1995); Action, Crime; classic, heist", "Up (2009)", ""]
    assert ds.info["has_timestamps"]
    liked = load_dataset(movielens_dir, DataOptions(rating_threshold=4), cache_dir=cache)
    assert _all_pairs(liked) == {("1", "10"), ("2", "10")}


def test_movielens_missing_column(movielens_dir, cache):
    _write(movielens_dir / "ratings.csv", "userId,itemId,rating,timestamp\n1,10,4,1\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(movielens_dir, cache_dir=cache)
    _assert_error(excinfo, "ratings.csv", "'movieId'", "userId, itemId, rating, timestamp")
    assert _cache_is_empty(cache)


@pytest.mark.skipif(not (SHARED / "ml-latest-small" / "ratings.csv").is_file(), reason="MovieLens not available")
def test_movielens_latest_small(cache):
    ds = load_dataset(SHARED / "ml-latest-small", cache_dir=cache)
    assert (ds.n_users, ds.n_items) == (610, 9724)
    assert ds.stats()["interactions"] == 100836
    toy_story = ds.item_text[ds.item_ids.tolist().index("1")]
    assert toy_story.startswith("Toy Story (1995); Adventure, Animation, Children, Comedy, Fantasy; pixar")


# ---------------------------------------------------------------- tabular

def test_tabular_csv_defaults_and_dates(tmp_path, cache):
    path = _write(tmp_path / "log.csv", "user_id,item_id,rating,time\n"
                  "alice,apple,5,2020-01-01 00:00:10\nbob,apple,1,2020-01-02\nalice,pear,3,2020-01-01T00:00:00Z\n"
                  ",pear,4,2020-01-03\nbob,apple,2,2019-12-31\n")
    ds = load_dataset(path, DataOptions(split="temporal", ratios=(0.5, 0.0, 0.5)), cache_dir=cache)
    assert ds.name == "log" and ds.info["format"] == "tabular"
    assert ds.user_ids.tolist() == ["alice", "bob"]
    assert ds.info["preprocess"]["dropped_missing_id"] == 1
    assert ds.info["preprocess"]["dropped_duplicates"] == 1
    # alice: pear (midnight) before apple (00:00:10) -> pear train, apple test.
    assert _pairs(ds, "train") == {("alice", "pear"), ("bob", "apple")}
    assert _pairs(ds, "test") == {("alice", "apple")}


def test_tabular_tsv_gz_explicit_columns_and_items(tmp_path, cache):
    path = tmp_path / "events.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("who\twhat\tstars\n1\t7\t4\n2\t7\t5\n2\t8\t1\n")
    items = _write(tmp_path / "items.csv", "sku,name,colour\n7,Mug,red\n8,Plate,\n9,Bowl,blue\n")
    options = DataOptions(user_col="who", item_col="what", rating_col="stars",
                          items_path=str(items), item_id_col="sku")
    ds = load_dataset(path, options, cache_dir=cache)
    assert (ds.n_users, ds.n_items) == (2, 2)
    assert ds.item_text.tolist() == ["Mug; red", "Plate"]
    only_names = load_dataset(path, replace(options, text_cols=("name",)), cache_dir=cache)
    assert only_names.item_text.tolist() == ["Mug", "Plate"]


def test_tabular_parquet(tmp_path, cache):
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.parquet"
    pd.DataFrame({"userId": [3, 1, 2, 1], "itemId": [10, 11, 10, 12],
                  "timestamp": [5, 6, 7, 8]}).to_parquet(path)
    ds = load_dataset(path, cache_dir=cache)
    assert ds.user_ids.tolist() == ["1", "2", "3"] and ds.item_ids.tolist() == ["10", "11", "12"]
    assert len(_all_pairs(ds)) == 4


def test_tabular_missing_column_names_flag_and_columns(tmp_path, cache):
    path = _write(tmp_path / "t.csv", "customer,product\na,b\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, cache_dir=cache)
    _assert_error(excinfo, "t.csv", "missing column", "'user'", "customer, product", "--user-col")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, DataOptions(user_col="customer", item_col="sku"), cache_dir=cache)
    _assert_error(excinfo, "t.csv", "'sku'", "--item-col", "customer, product")
    assert _cache_is_empty(cache)


def test_tabular_bad_values_name_the_line(tmp_path, cache):
    path = _write(tmp_path / "t.csv", "user,item,rating\na,b,4\na,c,great\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, cache_dir=cache)
    _assert_error(excinfo, "t.csv line 3", "rating='great'", "not a number")
    path = _write(tmp_path / "u.csv", "user,item,timestamp\na,b,2020-01-01\na,c,someday\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, cache_dir=cache)
    _assert_error(excinfo, "u.csv line 3", "'someday'", "date")
    assert _cache_is_empty(cache)


def test_tabular_wrong_separator(tmp_path, cache):
    path = _write(tmp_path / "t.csv", "user;item\na;b\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, cache_dir=cache)
    _assert_error(excinfo, "t.csv", "only one column", "--sep")
    ds = load_dataset(path, DataOptions(sep=";"), cache_dir=cache)
    assert ds.n_users == 1


# ---------------------------------------------------------------- resolution errors

def test_missing_path(tmp_path, cache):
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(tmp_path / "nope.csv", cache_dir=cache)
    _assert_error(excinfo, "nope.csv", "no such file or folder", "online-retail")
    assert _cache_is_empty(cache)


def test_missing_folder_for_explicit_format(tmp_path, cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(tmp_path / "empty", DataOptions(format="lightgcn"), cache_dir=cache)
    _assert_error(excinfo, "train.txt", "no such file")


def test_empty_file(tmp_path, cache):
    for name in ("e.csv", "e.inter", "e.bin"):
        path = _write(tmp_path / name, "")
        with pytest.raises(GnnnasError) as excinfo:
            load_dataset(path, cache_dir=cache)
        _assert_error(excinfo, name, "empty")
    path = _write(tmp_path / "h.csv", "user,item\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, cache_dir=cache)
    _assert_error(excinfo, "h.csv", "no rows")
    assert _cache_is_empty(cache)


def test_unknown_format(tmp_path, cache):
    path = _write(tmp_path / "data.xyz", "1 2\n")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, cache_dir=cache)
    _assert_error(excinfo, "data.xyz", "unrecognised", *FORMATS)
    _write(tmp_path / "folder" / "notes.md", "hello")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(tmp_path / "folder", cache_dir=cache)
    _assert_error(excinfo, "folder", "recognised formats", "lightgcn")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset(path, DataOptions(format="excel"), cache_dir=cache)
    _assert_error(excinfo, "'excel'", "recognised formats", "tabular")
    assert _cache_is_empty(cache)


def test_unknown_bundled_name(cache):
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset("online-retial", DataOptions(format="bundled"), cache_dir=cache)
    _assert_error(excinfo, "unknown bundled dataset", "'online-retial'", "online-retail")
    with pytest.raises(GnnnasError) as excinfo:
        load_dataset("online-retial", cache_dir=cache)
    _assert_error(excinfo, "online-retial", "not a bundled dataset name", "online-retail")
    assert _cache_is_empty(cache)


# ---------------------------------------------------------------- bundled + cache

def test_bundled_online_retail(cache):
    assert "online-retail" in BUNDLED
    ds = load_dataset("online-retail", cache_dir=cache)
    assert (ds.n_users, ds.n_items) == (4339, 3665)
    assert ds.stats()["interactions"] == 266802
    assert ds.info["format"] == "bundled" and ds.info["split"] == "ratio" and ds.info["has_timestamps"]
    assert ds.item_text[ds.item_ids.tolist().index("85123A")] == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert all(ds.item_text)
    cached = load_dataset("online-retail", cache_dir=cache)
    assert cached.info.get("cached") is True
    assert np.array_equal(cached.train.indices, ds.train.indices)
    assert cached.item_text.tolist() == ds.item_text.tolist()


def _counting(monkeypatch, name: str) -> list[int]:
    calls: list[int] = []
    original = FORMATS[name]

    def load(path, options):
        calls.append(1)
        return original.load(path, options)

    monkeypatch.setitem(FORMATS, name, replace(original, load=load))
    return calls


def test_cache_hit_skips_parsing(tmp_path, cache, monkeypatch):
    calls = _counting(monkeypatch, "tabular")
    path = _write(tmp_path / "t.csv", "user,item\na,x\na,y\nb,x\nb,z\n")
    first = load_dataset(path, cache_dir=cache)
    assert len(calls) == 1 and len(list(cache.glob("*.npz"))) == 1
    second = load_dataset(path, cache_dir=cache)
    assert len(calls) == 1, "second load must read the cache, not parse"
    assert second.fingerprint == first.fingerprint and second.info["cached"]
    for split in ("train", "val", "test"):
        assert np.array_equal(getattr(second, split).indptr, getattr(first, split).indptr)
        assert np.array_equal(getattr(second, split).indices, getattr(first, split).indices)
    assert second.user_ids.tolist() == first.user_ids.tolist()
    load_dataset(path, DataOptions(seed=1), cache_dir=cache)  # other options: other entry
    assert len(calls) == 2
    _write(path, "user,item\na,x\na,y\nb,x\n")  # changed contents: other entry
    assert load_dataset(path, cache_dir=cache).stats()["interactions"] == 3
    assert len(calls) == 3
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp")]


def test_cache_env_var_and_corrupt_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("GNNNAS_CACHE_DIR", str(tmp_path / "envcache"))
    calls = _counting(monkeypatch, "tabular")
    path = _write(tmp_path / "t.csv", "user,item\na,x\nb,y\n")
    load_dataset(path)
    (entry,) = (tmp_path / "envcache").glob("*.npz")
    entry.write_bytes(b"not a zip")
    ds = load_dataset(path)
    assert len(calls) == 2 and ds.n_users == 2
    load_dataset(path)
    assert len(calls) == 2


def test_dataset_info_and_describe(tmp_path, cache):
    path = _write(tmp_path / "t.csv", "user,item\na,x\na,y\nb,x\n")
    info = dataset_info(path, cache_dir=cache)
    for key in ("users", "items", "interactions", "density", "train", "val", "test", "split", "format"):
        assert key in info
    assert (info["users"], info["items"], info["interactions"]) == (2, 2, 3)
    text = describe_formats()
    assert all(name in text for name in FORMATS) and "online-retail" in text


def test_package_data_covers_bundled_files():
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a source checkout")
    assert '"data/bundled/online_retail/*"' in pyproject.read_text()
    for ds in BUNDLED.values():
        for file in ds.files:
            assert file.is_file() and os.path.getsize(file) > 0


def test_failed_cache_write_leaves_nothing(tmp_path, cache, monkeypatch):
    import gnnnas.data.cache as cache_module

    def broken_savez(handle, **arrays):
        handle.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.np, "savez", broken_savez)
    path = _write(tmp_path / "t.csv", "user,item\na,x\nb,y\n")
    ds = load_dataset(path, cache_dir=cache)  # a cache failure is a warning, not an error
    assert ds.n_users == 2
    assert _cache_is_empty(cache)
