"""From :class:`RawData` to clean interactions with dense ids.

Steps, in order: drop rows without a user or item; keep ratings >= the
threshold (if set); deduplicate (user, item) pairs; iterative k-core (if set);
renumber users and items densely.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gnnnas.data.options import DataOptions
from gnnnas.data.raw import RawData
from gnnnas.errors import GnnnasError


@dataclass(frozen=True, eq=False)
class Interactions:
    """Clean interactions with dense internal ids.

    Internal ids follow the order of the raw ids: numeric order when every raw
    id is a non-negative integer (so LightGCN ids keep their numbers), string
    order otherwise.
    """

    users: np.ndarray  # int64, internal user of each interaction
    items: np.ndarray  # int64, internal item of each interaction
    timestamps: np.ndarray | None  # float64 unix seconds (NaN = unknown); None: source has none
    from_test: np.ndarray | None  # bool, pair is in the source's own test split; None: no such split
    user_ids: np.ndarray  # str, raw id per internal user
    item_ids: np.ndarray  # str, raw id per internal item
    item_text: np.ndarray | None  # object array of str per internal item ("" = unknown)
    stats: dict = field(default_factory=dict)  # rows removed by each step

    @property
    def n_users(self) -> int:
        return int(self.user_ids.size)

    @property
    def n_items(self) -> int:
        return int(self.item_ids.size)

    def __len__(self) -> int:
        return int(self.users.size)


def preprocess(raw: RawData, options: DataOptions, source: str) -> Interactions:
    """Clean ``raw`` as ``options`` say; ``source`` names the data in error messages."""
    frames = [raw.interactions.assign(_test=False)]
    if raw.provided_test is not None:
        frames.append(raw.provided_test.assign(_test=True))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    stats: dict[str, int] = {"rows": int(len(frame))}

    keep = _present(frame["user"]) & _present(frame["item"])
    stats["dropped_missing_id"] = int((~keep).sum())
    if not keep.any():
        raise GnnnasError(f"{source}: no rows with both a user and an item id")

    timestamps = _float_column(frame, "timestamp")
    if options.rating_threshold is not None:
        ratings = _float_column(frame, "rating")
        if ratings is None or np.isnan(ratings).all():
            raise GnnnasError(f"{source}: --rating-threshold {options.rating_threshold:g} given "
                              "but the data has no ratings")
        passed = keep & (ratings >= options.rating_threshold)  # NaN ratings fail the test
        stats["dropped_below_threshold"] = int(keep.sum() - passed.sum())
        keep = passed
        if not keep.any():
            raise GnnnasError(f"{source}: no interaction has rating >= {options.rating_threshold:g}")

    frame = frame[keep]
    if timestamps is not None:
        timestamps = timestamps[keep]
    users, user_ids = _dense_codes(frame["user"])
    items, item_ids = _dense_codes(frame["item"])
    from_test = frame["_test"].to_numpy(dtype=bool)

    users, items, timestamps, from_test, n_dup = _deduplicate(users, items, timestamps, from_test)
    stats["dropped_duplicates"] = n_dup

    mask = _filter(users, items, from_test, options.kcore, stats)
    if not mask.any():
        raise GnnnasError(f"{source}: no interactions left after {options.kcore}-core filtering")
    users, items, from_test = users[mask], items[mask], from_test[mask]
    if timestamps is not None:
        timestamps = timestamps[mask]

    # Renumber what survived; np.unique keeps the raw-id order of the codes.
    kept_users, users = np.unique(users, return_inverse=True)
    kept_items, items = np.unique(items, return_inverse=True)
    user_ids, item_ids = user_ids[kept_users], item_ids[kept_items]
    if timestamps is not None and np.isnan(timestamps).all():
        timestamps = None
    stats["interactions"] = int(users.size)
    return Interactions(
        users=users.astype(np.int64), items=items.astype(np.int64), timestamps=timestamps,
        from_test=from_test if raw.provided_test is not None else None,
        user_ids=user_ids, item_ids=item_ids, item_text=_align_text(raw.items, item_ids), stats=stats,
    )


def _present(column: pd.Series) -> np.ndarray:
    present = column.notna().to_numpy(dtype=bool)
    if not pd.api.types.is_numeric_dtype(column):
        present = present & (column.astype("string").str.strip() != "").to_numpy(dtype=bool, na_value=False)
    return present


def _float_column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in frame.columns:
        return None
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _dense_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, raw id per code) with codes numbered in raw-id order."""
    codes, uniques = pd.factorize(column, sort=False)
    uniques = np.asarray(uniques)
    if np.issubdtype(uniques.dtype, np.integer):
        order = np.argsort(uniques, kind="stable")
        ids = uniques[order].astype(str)
        ids = ids.astype(f"<U{max(1, int(np.char.str_len(ids).max(initial=1)))}")  # int -> str pads to 21
    else:
        ids = np.asarray([str(u).strip() for u in uniques], dtype=str)
        order = _string_id_order(ids)
        ids = ids[order]
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return rank[codes], ids


def _string_id_order(ids: np.ndarray) -> np.ndarray:
    if ids.size and np.char.isdigit(ids).all() and all(i.isascii() for i in ids.tolist()):
        stripped = np.char.lstrip(ids, "0")
        # Numeric order without int conversion (ids may be longer than int64);
        # '007' and '7' are different raw ids and stay apart, ordered as strings.
        return np.lexsort((ids, stripped, np.char.str_len(stripped)))
    return np.argsort(ids, kind="stable")


def _deduplicate(users, items, timestamps, from_test):
    """One row per (user, item): the provided test copy if any, else the earliest."""
    n_items = int(items.max()) + 1
    pair = users * n_items + items  # ids are dense codes, so this fits int64 for any real data
    if timestamps is None:
        order = np.argsort(pair * 2 + (~from_test), kind="stable")
    else:
        time_key = np.where(np.isnan(timestamps), np.inf, timestamps)
        order = np.lexsort((time_key, ~from_test, pair))
    pair = pair[order]
    first = np.ones(pair.size, dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    keep = order[first]
    if timestamps is not None:
        timestamps = timestamps[keep]
    return users[keep], items[keep], timestamps, from_test[keep], int((~first).sum())


def _filter(users, items, from_test, kcore: int, stats: dict) -> np.ndarray:
    """Mask of rows kept by the k-core and by dropping test rows of users left without training rows."""
    mask = np.ones(users.size, dtype=bool)
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    dropped_core = dropped_cold = 0
    while True:
        before = int(mask.sum())
        if kcore > 0:
            user_deg = np.bincount(users[mask], minlength=n_users)
            item_deg = np.bincount(items[mask], minlength=n_items)
            core = mask & (user_deg[users] >= kcore) & (item_deg[items] >= kcore)
            dropped_core += before - int(core.sum())
            mask = core
        # A user whose training rows were all filtered away cannot be served; their
        # provided-test rows go too (only reachable with a threshold or k-core).
        has_train = np.bincount(users[mask & ~from_test], minlength=n_users) > 0
        warm = mask & (has_train[users] | ~from_test)
        dropped_cold += int(mask.sum()) - int(warm.sum())
        mask = warm
        if kcore == 0 or int(mask.sum()) == before:
            break
    stats["dropped_kcore"] = dropped_core
    stats["dropped_cold_test"] = dropped_cold
    return mask


def _align_text(items: pd.DataFrame | None, item_ids: np.ndarray) -> np.ndarray | None:
    if items is None:
        return None
    keys = items["item"]
    present = _present(keys)
    keys = keys[present].astype(str).str.strip().to_numpy(dtype=object)
    text = items["text"][present].fillna("").astype(str).to_numpy(dtype=object)
    lookup = pd.Series(text, index=keys)
    lookup = lookup[~lookup.index.duplicated(keep="first")]
    aligned = lookup.reindex(item_ids.tolist()).fillna("")
    return aligned.to_numpy(dtype=object)
