"""MovieLens CSV folders (ml-latest, ml-latest-small, ml-25m, ...).

``ratings.csv`` (userId,movieId,rating,timestamp) is required; ``movies.csv``
(movieId,title,genres) and ``tags.csv`` (userId,movieId,tag,timestamp) add item
text "title; genre, genre; tag, tag". All ratings are kept unless the user sets
a threshold (``--rating-threshold 4`` gives the usual implicit "liked" view).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gnnnas.data.formats.base import Format
from gnnnas.data.options import DataOptions
from gnnnas.data.raw import RawData, id_column, numeric_column, require_file, timestamp_column
from gnnnas.errors import GnnnasError

_RATINGS = ("userId", "movieId", "rating", "timestamp")


def detect(path: Path) -> bool:
    return path.is_dir() and (path / "ratings.csv").is_file()


def files(path: Path, options: DataOptions) -> list[Path]:
    optional = [path / "movies.csv", path / "tags.csv"]
    return [path / "ratings.csv"] + [p for p in optional if p.is_file()]


def _read(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    require_file(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8",
                            encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise GnnnasError(f"{path}: file is empty") from None
    except pd.errors.ParserError as exc:
        raise GnnnasError(f"{path}: not a valid CSV file ({' '.join(str(exc).split())})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise GnnnasError(f"{path}: missing column '{missing[0]}'; columns present: {', '.join(frame.columns)}; "
                          f"expected {','.join(required)}")
    return frame


def _item_text(movies: pd.DataFrame | None, tags: pd.DataFrame | None) -> pd.DataFrame | None:
    if movies is None and tags is None:
        return None
    parts = []
    if movies is not None:
        genres = movies["genres"].str.strip()
        genres = genres.where(genres != "(no genres listed)", "").str.replace("|", ", ", regex=False)
        parts.append(pd.DataFrame({"item": movies["movieId"].str.strip(),
                                   "title": movies["title"].str.strip(), "genres": genres}))
    if tags is not None:
        tag = tags["tag"].str.strip()
        tagged = pd.DataFrame({"item": tags["movieId"].str.strip(), "tag": tag})
        tagged = tagged[tagged["tag"] != ""]
        # Distinct tags per movie, case-insensitively, in order of first appearance.
        tagged = tagged[~tagged.assign(key=tagged["tag"].str.lower()).duplicated(["item", "key"])]
        joined = tagged.groupby("item", sort=False)["tag"].agg(", ".join).reset_index()
        parts.append(joined.rename(columns={"tag": "tags"}))
    merged = parts[0]
    for other in parts[1:]:
        merged = merged.merge(other, on="item", how="outer")
    fields = [c for c in ("title", "genres", "tags") if c in merged.columns]
    values = merged[fields].fillna("").astype(str).to_numpy()
    text = ["; ".join(v for v in row if v) for row in values]
    return pd.DataFrame({"item": merged["item"].astype(str), "text": text})


def load(path: Path, options: DataOptions) -> RawData:
    ratings_path = path / "ratings.csv"
    ratings = _read(ratings_path, _RATINGS)
    if ratings.empty:
        raise GnnnasError(f"{ratings_path}: header but no rating rows")
    interactions = pd.DataFrame({
        "user": id_column(ratings["userId"]),
        "item": id_column(ratings["movieId"]),
        "rating": numeric_column(ratings_path, ratings["rating"], "rating", 2),
        "timestamp": timestamp_column(ratings_path, ratings["timestamp"], "timestamp", 2),
    })
    movies = _read(path / "movies.csv", ("movieId", "title", "genres")) if (path / "movies.csv").is_file() else None
    tags = _read(path / "tags.csv", ("movieId", "tag")) if (path / "tags.csv").is_file() else None
    return RawData(interactions=interactions, items=_item_text(movies, tags), source_files=files(path, options))


FORMAT = Format(
    name="movielens",
    description="MovieLens folder: ratings.csv (userId,movieId,rating,timestamp), optional movies.csv and "
                "tags.csv for item text; keeps all ratings unless --rating-threshold is set",
    detect=detect,
    load=load,
    files=files,
)
