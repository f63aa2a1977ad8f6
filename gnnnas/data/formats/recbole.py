"""RecBole atomic files: ``NAME.inter`` (tab-separated, header ``field:type``)
and an optional ``NAME.item`` with item text.

A folder may hold one ``NAME.inter``, or RecBole's benchmark files
``NAME.train.inter`` / ``NAME.valid.inter`` / ``NAME.test.inter``; then the test
file is kept as the provided split and the valid file joins the training data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from gnnnas.data.formats.base import Format
from gnnnas.data.options import DataOptions
from gnnnas.data.raw import (RawData, id_column, numeric_column, pick_column, require_file,
                             timestamp_column)
from gnnnas.errors import GnnnasError

_BENCH = (".train.inter", ".valid.inter", ".test.inter")
_TEXT_TYPES = ("token_seq", "token")


def _plain_inters(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.inter") if not p.name.endswith(_BENCH))


def _bench(folder: Path) -> dict[str, Path]:
    found = {}
    for suffix in _BENCH:
        hits = sorted(folder.glob("*" + suffix))
        if hits:
            found[suffix.split(".")[1]] = hits[0]
    return found


def detect(path: Path) -> bool:
    if path.is_file():
        return path.suffix == ".inter"
    return path.is_dir() and bool(_plain_inters(path) or {"train", "test"} <= set(_bench(path)))


def _inter_files(path: Path) -> dict[str, Path]:
    """'all' -> the .inter file, or 'train'/'valid'/'test' -> benchmark files."""
    if path.is_file():
        return {"all": path}
    plain = _plain_inters(path)
    if len(plain) == 1:
        return {"all": plain[0]}
    if len(plain) > 1:
        names = ", ".join(p.name for p in plain)
        raise GnnnasError(f"{path}: several .inter files ({names}); pass the one to use as --data")
    bench = _bench(path)
    if {"train", "test"} <= set(bench):
        return bench
    raise GnnnasError(f"{path}: no NAME.inter file (or NAME.train.inter + NAME.test.inter) found")


def _stem(inter: Path) -> str:
    name = inter.name
    for suffix in _BENCH + (".inter",):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return inter.stem


def _item_file(inters: dict[str, Path]) -> Path | None:
    first = next(iter(inters.values()))
    candidate = first.with_name(_stem(first) + ".item")
    return candidate if candidate.is_file() else None


def files(path: Path, options: DataOptions) -> list[Path]:
    inters = _inter_files(path)
    item_file = _item_file(inters)
    return list(inters.values()) + ([item_file] if item_file else [])


def _read_atomic(path: Path) -> pd.DataFrame:
    require_file(path)
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False,
                            quoting=csv.QUOTE_NONE, encoding="utf-8", encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise GnnnasError(f"{path}: file is empty") from None
    except pd.errors.ParserError as exc:
        raise GnnnasError(f"{path}: not a tab-separated RecBole atomic file ({_one_line(exc)})") from None
    bad = [c for c in frame.columns if ":" not in c]
    if bad:
        raise GnnnasError(f"{path}: header field {bad[0]!r} has no ':type'; expected RecBole headers "
                          "like 'user_id:token<TAB>item_id:token<TAB>rating:float'")
    return frame


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _field_names(frame: pd.DataFrame) -> dict[str, str]:
    """Field name (before ':') -> full header."""
    return {c.split(":", 1)[0]: c for c in frame.columns}


def _interactions(path: Path, options: DataOptions) -> pd.DataFrame:
    frame = _read_atomic(path)
    if frame.empty:
        raise GnnnasError(f"{path}: header but no interaction rows")
    names = _field_names(frame)
    cols = list(names)
    user = pick_column(path, cols, options.user_col, ("user_id",), "--user-col")
    item = pick_column(path, cols, options.item_col, ("item_id",), "--item-col")
    rating = pick_column(path, cols, options.rating_col, ("rating",), "--rating-col", required=False)
    time = pick_column(path, cols, options.time_col, ("timestamp",), "--time-col", required=False)
    out = pd.DataFrame({"user": id_column(frame[names[user]]), "item": id_column(frame[names[item]])})
    if rating is not None:
        out["rating"] = numeric_column(path, frame[names[rating]], names[rating], 2)
    if time is not None:
        out["timestamp"] = timestamp_column(path, frame[names[time]], names[time], 2)
    return out


def _items(path: Path, options: DataOptions) -> pd.DataFrame:
    frame = _read_atomic(path)
    names = _field_names(frame)
    cols = list(names)
    item = pick_column(path, cols, options.item_id_col or options.item_col, ("item_id",), "--item-id-col")
    if options.text_cols:
        text = [pick_column(path, cols, c, (), "--text-cols") for c in options.text_cols]
    else:
        text = [n for n, full in names.items() if n != item and full.split(":", 1)[1] in _TEXT_TYPES]
    parts = [frame[names[c]].str.strip() for c in text]
    joined = [
        "; ".join(p for p in row if p)
        for row in zip(*parts)
    ] if parts else [""] * len(frame)
    return pd.DataFrame({"item": id_column(frame[names[item]]), "text": joined})


def load(path: Path, options: DataOptions) -> RawData:
    inters = _inter_files(path)
    if "all" in inters:
        interactions, test = _interactions(inters["all"], options), None
    else:
        parts = [_interactions(inters[k], options) for k in ("train", "valid") if k in inters]
        interactions = pd.concat(parts, ignore_index=True)
        test = _interactions(inters["test"], options)
    item_file = _item_file(inters)
    items = _items(item_file, options) if item_file else None
    return RawData(interactions=interactions, provided_test=test, items=items,
                   source_files=files(path, options))


FORMAT = Format(
    name="recbole",
    description="RecBole atomic files: NAME.inter (tab-separated, 'field:type' headers), optional NAME.item "
                "for item text; NAME.train/.valid/.test.inter keep their split",
    detect=detect,
    load=load,
    files=files,
)
