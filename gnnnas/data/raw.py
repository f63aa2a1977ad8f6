"""What every format loader returns: interactions as parsed, before any filtering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gnnnas.errors import GnnnasError


@dataclass(frozen=True, eq=False)
class RawData:
    """Interactions as the source has them.

    ``interactions`` has columns ``user`` and ``item`` (str; integer columns are
    accepted too and become str ids), and optionally ``rating`` (float, NaN when
    unknown) and ``timestamp`` (unix seconds, int64 or float with NaN).
    ``provided_test`` (columns ``user``, ``item``, optionally ``rating``/``timestamp``)
    is the source's own test split, or ``None``. ``items`` (columns ``item``,
    ``text``) gives item text, or ``None``.
    """

    interactions: pd.DataFrame
    provided_test: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    source_files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        for label, frame in (("interactions", self.interactions), ("provided_test", self.provided_test)):
            if frame is not None and not {"user", "item"} <= set(frame.columns):
                raise ValueError(f"RawData.{label} needs 'user' and 'item' columns, got {list(frame.columns)}")
        if self.items is not None and not {"item", "text"} <= set(self.items.columns):
            raise ValueError(f"RawData.items needs 'item' and 'text' columns, got {list(self.items.columns)}")


def require_file(path: Path, what: str = "file") -> Path:
    """Fail with one line if ``path`` is missing or empty."""
    if not path.exists():
        raise GnnnasError(f"{path}: no such {what}")
    if not path.is_file():
        raise GnnnasError(f"{path}: expected a {what}, found a folder")
    if path.stat().st_size == 0:
        raise GnnnasError(f"{path}: file is empty")
    return path


def pick_column(path: Path, columns: list[str], explicit: str | None, candidates: tuple[str, ...],
                flag: str, required: bool = True) -> str | None:
    """Choose the column for one field: the user's choice, else the first default present.

    Raises a one-line error naming the file, the column(s) looked for, the columns
    present and the flag that sets it.
    """
    present = ", ".join(columns)
    if explicit is not None:
        if explicit not in columns:
            raise GnnnasError(f"{path}: column '{explicit}' (from {flag}) not found; columns present: {present}")
        return explicit
    for name in candidates:
        if name in columns:
            return name
    if required:
        tried = ", ".join(f"'{c}'" for c in candidates)
        raise GnnnasError(f"{path}: missing column {tried}; columns present: {present}; set {flag} to choose one")
    return None


def numeric_column(path: Path, series: pd.Series, column: str, row_offset: int, row_word: str = "line") -> np.ndarray:
    """Parse a column of numbers (empty = NaN); a bad value names the file, line and value."""
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna().to_numpy() & _non_empty(series)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise GnnnasError(f"{path} {row_word} {pos + row_offset}: {column}={series.iloc[pos]!r} is not a number")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def timestamp_column(path: Path, series: pd.Series, column: str, row_offset: int, row_word: str = "line") -> np.ndarray:
    """Unix seconds (float, NaN = unknown) from numbers or date strings (naive dates are UTC)."""
    if pd.api.types.is_numeric_dtype(series):
        return np.floor(series.to_numpy(dtype=np.float64, na_value=np.nan))
    if pd.api.types.is_datetime64_any_dtype(series):
        return _datetime_to_seconds(pd.to_datetime(series, utc=True))
    numbers = pd.to_numeric(series, errors="coerce")
    filled = _non_empty(series)
    if not (numbers.isna().to_numpy() & filled).any():
        return np.floor(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    dates = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    bad = dates.isna().to_numpy() & filled
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise GnnnasError(f"{path} {row_word} {pos + row_offset}: {column}={series.iloc[pos]!r} "
                          "is neither unix seconds nor a date")
    return _datetime_to_seconds(dates)


def _datetime_to_seconds(dates: pd.Series) -> np.ndarray:
    # Subtracting the epoch is independent of the datetime unit pandas picked.
    seconds = (dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.float64, na_value=np.nan)


def _non_empty(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series):
        return series.notna().to_numpy()
    text = series.astype("string").str.strip()
    return (text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)


def id_column(series: pd.Series) -> pd.Series:
    """Raw ids as str; whole-number floats (ints with gaps read as float) lose the '.0'."""
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size == np.count_nonzero(~np.isnan(values)) and np.all(finite == np.round(finite)):
            series = series.astype("Int64")
    if pd.api.types.is_integer_dtype(series) and not series.isna().any():
        return series.astype(np.int64)  # kept as ints: the preprocessor makes str ids per unique value
    out = series.astype("string").str.strip()
    return out.where(out != "", pd.NA)
