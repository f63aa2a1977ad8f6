"""Generic tables: ``.csv``, ``.tsv`` (optionally ``.gz``) and ``.parquet``.

Columns are found by name (``--user-col`` etc.) or by the usual defaults; an
optional items table (``--items``) gives item text. Timestamps may be unix
seconds or date strings (dates without a zone are taken as UTC).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gnnnas.data.formats.base import Format
from gnnnas.data.options import DataOptions
from gnnnas.data.raw import (RawData, id_column, numeric_column, pick_column, require_file,
                             timestamp_column)
from gnnnas.errors import GnnnasError

#: Recognised file endings -> default separator (None: not a delimited text file).
SUFFIXES: dict[str, str | None] = {
    ".csv": ",", ".csv.gz": ",", ".tsv": "\t", ".tsv.gz": "\t", ".parquet": None,
}
USER_COLS = ("user", "user_id", "userId")
ITEM_COLS = ("item", "item_id", "itemId")
RATING_COLS = ("rating",)
TIME_COLS = ("timestamp", "time")


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((s for s in sorted(SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)


def detect(path: Path) -> bool:
    return path.is_file() and _suffix(path) is not None


def files(path: Path, options: DataOptions) -> list[Path]:
    extra = [Path(options.items_path).expanduser()] if options.items_path else []
    return [path] + extra


def read_table(path: Path, sep: str | None) -> tuple[pd.DataFrame, int, str]:
    """(frame, number of the first data row, 'line' or 'row') of a table file."""
    require_file(path)
    suffix = _suffix(path)
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise GnnnasError(f"{path}: reading parquet needs pyarrow (pip install pyarrow)") from None
        except Exception as exc:  # pyarrow raises its own error types for bad files
            raise GnnnasError(f"{path}: not a readable parquet file ({' '.join(str(exc).split())})") from None
        frame.columns = [str(c) for c in frame.columns]
        return frame, 1, "row"
    sep = sep or SUFFIXES.get(suffix or "") or ","
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8",
                            encoding_errors="replace", engine="c" if len(sep) == 1 else "python")
    except pd.errors.EmptyDataError:
        raise GnnnasError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, EOFError, OSError) as exc:
        raise GnnnasError(f"{path}: cannot read as a table with separator {sep!r} "
                          f"({' '.join(str(exc).split())}); set --sep") from None
    return frame, 2, "line"


def load(path: Path, options: DataOptions) -> RawData:
    frame, first, word = read_table(path, options.sep)
    cols = list(frame.columns)
    if frame.empty:
        raise GnnnasError(f"{path}: header but no rows")
    if len(cols) == 1 and word == "line":
        raise GnnnasError(f"{path}: only one column found ({cols[0]!r}); expected user and item columns "
                          "separated by the field separator; set --sep")
    user = pick_column(path, cols, options.user_col, USER_COLS, "--user-col")
    item = pick_column(path, cols, options.item_col, ITEM_COLS, "--item-col")
    rating = pick_column(path, cols, options.rating_col, RATING_COLS, "--rating-col", required=False)
    time = pick_column(path, cols, options.time_col, TIME_COLS, "--time-col", required=False)
    interactions = pd.DataFrame({"user": id_column(frame[user]), "item": id_column(frame[item])})
    if rating is not None:
        interactions["rating"] = numeric_column(path, frame[rating], rating, first, word)
    if time is not None:
        interactions["timestamp"] = timestamp_column(path, frame[time], time, first, word)
    items = _items(Path(options.items_path).expanduser(), options) if options.items_path else None
    return RawData(interactions=interactions, items=items, source_files=files(path, options))


def _items(path: Path, options: DataOptions) -> pd.DataFrame:
    if _suffix(path) is None:
        raise GnnnasError(f"{path}: items table must be one of {', '.join(SUFFIXES)}")
    frame, _, _ = read_table(path, options.sep)
    cols = list(frame.columns)
    item = pick_column(path, cols, options.item_id_col or options.item_col, ITEM_COLS, "--item-id-col")
    if options.text_cols:
        text = [pick_column(path, cols, c, (), "--text-cols") for c in options.text_cols]
    else:
        text = [c for c in cols if c != item]
    if not text:
        raise GnnnasError(f"{path}: no text column besides '{item}'; set --text-cols")
    values = frame[text].astype("string").fillna("").to_numpy(dtype=object)
    joined = ["; ".join(str(v).strip() for v in row if str(v).strip()) for row in values]
    return pd.DataFrame({"item": id_column(frame[item]).astype("string"), "text": joined})


FORMAT = Format(
    name="tabular",
    description="table file (.csv, .tsv, .csv.gz, .tsv.gz, .parquet) with user/item and optional "
                "rating/timestamp columns; --items adds item text",
    detect=detect,
    load=load,
    files=files,
)
