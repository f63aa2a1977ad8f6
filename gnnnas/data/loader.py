"""``load_dataset``: source -> format -> preprocess -> split -> :class:`Dataset`, cached."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gnnnas.data import cache
from gnnnas.data.cold import draw_cold_items, warm_subset
from gnnnas.data.dataset import Dataset, SplitData
from gnnnas.data.formats import resolve_source
from gnnnas.data.options import DataOptions
from gnnnas.data.preprocess import preprocess
from gnnnas.data.raw import require_file
from gnnnas.data.split import TEST, TRAIN, VAL, split_labels


def _dataset_name(fmt_name: str, path: Path) -> str:
    if fmt_name == "bundled" or path.is_dir():
        return path.name or str(path)
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".parquet", ".inter"):
        name = name.removesuffix(suffix)
    return name or path.name


def load_dataset(source: str | Path, options: DataOptions | None = None,
                 cache_dir: str | Path | None = None, *, use_cache: bool = True) -> Dataset:
    """Load, clean and split ``source`` (a bundled dataset name or a file/folder path).

    The result is cached under ``cache_dir`` (else ``$GNNNAS_CACHE_DIR``, else
    ``~/.cache/gnnnas/datasets``) keyed by the source files' contents and the
    options; a later call with the same inputs reads the cache instead of parsing.
    Bad input raises :class:`~gnnnas.errors.GnnnasError` and writes nothing.
    """
    options = options or DataOptions()
    fmt, path = resolve_source(source, options)
    files = [require_file(f) for f in fmt.files(path, options)]
    # The resolved format stands in for options.format, so '--format tabular' and
    # auto-detection of the same file share one cache entry.
    keyed = {k: v for k, v in options.to_dict().items() if k != "format"}
    fp = cache.fingerprint(fmt.name, files, keyed)
    name = _dataset_name(fmt.name, path)
    entry = cache.entry_path(cache.cache_root(cache_dir), name, fp)
    if use_cache:
        cached = cache.load(entry)
        if cached is not None and cached.fingerprint == fp:
            # The same bytes may sit at another path; report where they came from now.
            info = dict(cached.info, source=str(source), cached=True)
            return replace(cached, info=info)

    started = time.perf_counter()
    raw = fmt.load(path, options)
    inter = preprocess(raw, options, str(source))
    cold, cold_info, cold_fields = None, None, {}
    full = inter
    if options.cold_items > 0:
        cold = draw_cold_items(inter.n_items, options.cold_items, options.seed)
        inter, is_cold = warm_subset(inter, cold)
    kind, labels = split_labels(inter, options)
    splits = {
        split: SplitData.from_pairs(inter.users[labels == label], inter.items[labels == label], inter.n_users)
        for split, label in (("train", TRAIN), ("val", VAL), ("test", TEST))
    }
    if cold is not None:
        cold_fields, cold_info = _cold_splits(full, is_cold, cold, splits["train"])
    info = {
        "name": name,
        "source": str(source),
        "format": fmt.name,
        "files": [str(f) for f in (raw.source_files or files)],
        "options": options.to_dict(),
        "split": kind,
        "preprocess": inter.stats,
        "has_timestamps": inter.timestamps is not None,
        **({"cold": cold_info} if cold_info else {}),
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    dataset = Dataset(
        name=name, n_users=inter.n_users, n_items=inter.n_items, **splits,
        user_ids=np.asarray(inter.user_ids, dtype=str), item_ids=np.asarray(inter.item_ids, dtype=str),
        item_text=inter.item_text, fingerprint=fp, info=info, **cold_fields,
    )
    if use_cache:
        cache.save(dataset, entry)
    return dataset


def _cold_splits(inter, is_cold: np.ndarray, cold, train: SplitData) -> tuple[dict, dict]:
    """The ``val_cold`` / ``test_cold`` splits (users with training interactions only) and their summary."""
    users, items = inter.users[is_cold], inter.items[is_cold]
    known = train.counts()[users] > 0
    out, info = {"cold_val_items": cold.val, "cold_test_items": cold.test}, {}
    for name, group in (("val_cold", cold.val), ("test_cold", cold.test)):
        mask = np.isin(items, group) & known
        out[name] = SplitData.from_pairs(users[mask], items[mask], inter.n_users)
        info[f"{name}_items"] = int(group.size)
    info["dropped_interactions"] = int((~known).sum())  # their user has no training interaction
    return out, info


def dataset_info(source: str | Path, options: DataOptions | None = None,
                 cache_dir: str | Path | None = None) -> dict:
    """Summary for ``gnnnas data info``: counts, density, split sizes, format and options."""
    dataset = load_dataset(source, options, cache_dir)
    stats = dataset.stats()
    stats.update({
        "source": dataset.info.get("source", str(source)),
        "format": dataset.info.get("format"),
        "split": dataset.info.get("split"),
        "options": dataset.info.get("options"),
        "preprocess": dataset.info.get("preprocess"),
        "fingerprint": dataset.fingerprint,
        "cache": str(cache.entry_path(cache.cache_root(cache_dir), dataset.name, dataset.fingerprint)),
    })
    return stats
