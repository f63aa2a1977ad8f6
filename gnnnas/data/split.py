"""Per-user train / validation / test splits (:data:`SPLITTERS`).

Every splitter labels each interaction ``TRAIN``, ``VAL`` or ``TEST``, so no
pair can land in two splits, and every user keeps at least one training item.
All randomness comes from one ``numpy.random.Generator(seed)``.

Rules, per user with ``n`` interactions:

* ``ratio``: shuffle, then cut at cumulative rounded boundaries
  ``b1 = max(1, round(n * r_train))``, ``b2 = max(b1, round(n * (r_train + r_val)))``
  (round half up): items ``[0, b1)`` train, ``[b1, b2)`` validation, the rest
  test. With 0.8/0.1/0.1: n=1 -> 1/0/0, n=2 -> 2/0/0, n=3 -> 2/1/0,
  n=5 -> 4/1/0, n=10 -> 8/1/1, n=20 -> 16/2/2.
* ``temporal``: the same cut, ordered by time (ties by item id): earliest train,
  latest test. Needs a timestamp on every interaction.
* ``loo`` (leave one out): the last interaction is test, the one before it
  validation, the rest train; ordered by time (ties by item id) when every
  interaction has a timestamp, else at random. Users with 2 interactions get
  1 train + 1 test; users with 1 keep it in train.
* ``provided``: the source's test split is kept; ``round(val_ratio * n_train)``
  of each user's training items, at random, move to validation, leaving at
  least one in train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gnnnas.data.options import DataOptions
from gnnnas.data.preprocess import Interactions
from gnnnas.errors import GnnnasError

TRAIN, VAL, TEST = 0, 1, 2


@dataclass(frozen=True)
class Splitter:
    """A split rule: ``assign(interactions, options, rng)`` -> label per interaction."""

    name: str
    description: str
    assign: Callable[[Interactions, DataOptions, np.random.Generator], np.ndarray]


def _round_half_up(x: np.ndarray) -> np.ndarray:
    # The small epsilon absorbs float error such as 10 * 0.9 = 9.000000000000002.
    return np.floor(x + 0.5 + 1e-9).astype(np.int64)


def _shuffled_by_user(users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row order grouped by user, random within each user."""
    # One int64 sort key (user in the high bits) sorts ~2x faster than lexsort.
    noise = rng.integers(0, 1 << 31, size=users.size, dtype=np.int64)
    return np.argsort((users.astype(np.int64) << 31) | noise, kind="stable")


def _ranks(users: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows in ``order`` (grouped by user): (rank within the user, user's row count)."""
    sorted_users = users[order]
    counts = np.bincount(sorted_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(order.size) - starts[sorted_users]
    return rank, counts[sorted_users]


def _cut(inter: Interactions, order: np.ndarray, ratios: tuple[float, float, float]) -> np.ndarray:
    rank, n = _ranks(inter.users, order)
    b1 = np.maximum(1, _round_half_up(n * ratios[0]))
    b2 = np.maximum(b1, _round_half_up(n * (ratios[0] + ratios[1])))
    sorted_labels = np.where(rank < b1, TRAIN, np.where(rank < b2, VAL, TEST))
    labels = np.empty(order.size, dtype=np.int8)
    labels[order] = sorted_labels
    return labels


def _ratio(inter: Interactions, options: DataOptions, rng: np.random.Generator) -> np.ndarray:
    order = _shuffled_by_user(inter.users, rng)
    return _cut(inter, order, options.ratios)


def _require_times(inter: Interactions, split: str) -> np.ndarray:
    times = inter.timestamps
    if times is None:
        raise GnnnasError(f"split '{split}' needs timestamps but the data has none; "
                          "set --time-col or use --split ratio")
    missing = int(np.isnan(times).sum())
    if missing:
        raise GnnnasError(f"split '{split}' needs a timestamp on every interaction; "
                          f"{missing} of {times.size} have none")
    return times


def _temporal(inter: Interactions, options: DataOptions, rng: np.random.Generator) -> np.ndarray:
    times = _require_times(inter, "temporal")
    return _cut(inter, np.lexsort((inter.items, times, inter.users)), options.ratios)


def _loo(inter: Interactions, options: DataOptions, rng: np.random.Generator) -> np.ndarray:
    times = inter.timestamps
    if times is not None and not np.isnan(times).any():
        order = np.lexsort((inter.items, times, inter.users))
    else:
        order = _shuffled_by_user(inter.users, rng)
    rank, n = _ranks(inter.users, order)
    from_end = n - 1 - rank
    sorted_labels = np.full(order.size, TRAIN, dtype=np.int8)
    sorted_labels[(from_end == 0) & (n >= 2)] = TEST
    sorted_labels[(from_end == 1) & (n >= 3)] = VAL
    labels = np.empty(order.size, dtype=np.int8)
    labels[order] = sorted_labels
    return labels


def _provided(inter: Interactions, options: DataOptions, rng: np.random.Generator) -> np.ndarray:
    if inter.from_test is None:
        raise GnnnasError("split 'provided' needs a source that ships a test split "
                          "(LightGCN train.txt/test.txt, RecBole .train/.test.inter); use --split ratio")
    labels = np.where(inter.from_test, TEST, TRAIN).astype(np.int8)
    train_rows = np.flatnonzero(~inter.from_test)
    users = inter.users[train_rows]
    order = _shuffled_by_user(users, rng)
    rank, n = _ranks(users, order)
    n_val = np.minimum(_round_half_up(n * options.val_ratio), n - 1)
    to_val = train_rows[order][rank < n_val]
    labels[to_val] = VAL
    return labels


SPLITTERS: dict[str, Splitter] = {
    s.name: s
    for s in (
        Splitter("provided", "keep the source's test split; carve val_ratio of train for validation", _provided),
        Splitter("ratio", "random per-user split by ratios (default 0.8/0.1/0.1)", _ratio),
        Splitter("temporal", "per-user split by ratios in time order: earliest train, latest test", _temporal),
        Splitter("loo", "leave one out: last item test, second-to-last validation", _loo),
    )
}


def resolve_split(kind: str, inter: Interactions) -> str:
    """``auto`` -> ``provided`` when the source ships a test split, else ``ratio``."""
    if kind == "auto":
        return "provided" if inter.from_test is not None else "ratio"
    return kind


def split_labels(inter: Interactions, options: DataOptions) -> tuple[str, np.ndarray]:
    """(split kind used, TRAIN/VAL/TEST label per interaction)."""
    kind = resolve_split(options.split, inter)
    rng = np.random.Generator(np.random.PCG64(options.seed))
    return kind, SPLITTERS[kind].assign(inter, options, rng)
