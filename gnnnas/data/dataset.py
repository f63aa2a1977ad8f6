"""The processed, split dataset every trainer and evaluator consumes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np


@dataclass(frozen=True, eq=False)
class SplitData:
    """One split's user -> items lists in CSR form (internal, dense ids).

    ``indices[indptr[u]:indptr[u + 1]]`` are user ``u``'s items, sorted ascending.
    """

    indptr: np.ndarray  # int64, shape (n_users + 1,)
    indices: np.ndarray  # int64, shape (nnz,)

    @classmethod
    def from_pairs(cls, users: np.ndarray, items: np.ndarray, n_users: int) -> "SplitData":
        """Build from (user, item) pairs; duplicates are removed."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if users.size:
            order = np.lexsort((items, users))
            users, items = users[order], items[order]
            keep = np.ones(users.size, dtype=bool)
            keep[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
            users, items = users[keep], items[keep]
        counts = np.bincount(users, minlength=n_users)
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr=indptr, indices=items)

    @property
    def n_users(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    def __len__(self) -> int:
        return self.nnz

    def counts(self) -> np.ndarray:
        """Number of items per user."""
        return np.diff(self.indptr)

    def items_of(self, user: int) -> np.ndarray:
        return self.indices[self.indptr[user] : self.indptr[user + 1]]

    def users(self) -> np.ndarray:
        """Users that have at least one item in this split."""
        return np.flatnonzero(self.counts() > 0)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) arrays of every interaction, grouped by user."""
        users = np.repeat(np.arange(self.n_users, dtype=np.int64), self.counts())
        return users, self.indices

    def to_lists(self) -> list[list[int]]:
        return [self.items_of(u).tolist() for u in range(self.n_users)]

    def __iter__(self) -> Iterator[np.ndarray]:
        for u in range(self.n_users):
            yield self.items_of(u)

    def union(self, other: "SplitData") -> "SplitData":
        a_u, a_i = self.pairs()
        b_u, b_i = other.pairs()
        return SplitData.from_pairs(
            np.concatenate([a_u, b_u]), np.concatenate([a_i, b_i]), self.n_users
        )


@dataclass(frozen=True, eq=False)
class Dataset:
    """Interactions with dense internal ids, split into train / validation / test.

    Validation is always carved from the training interactions per user and is
    what early stopping and model selection read; ``test`` is for reporting only.
    With the cold-start protocol, ``val_cold`` / ``test_cold`` hold the
    interactions of items held out entirely (see :mod:`gnnnas.data.cold`).
    ``user_ids[u]`` / ``item_ids[i]`` give the raw ids users see.
    """

    name: str
    n_users: int
    n_items: int
    train: SplitData
    val: SplitData
    test: SplitData
    user_ids: np.ndarray  # str, raw id of each internal user
    item_ids: np.ndarray  # str, raw id of each internal item
    item_text: np.ndarray | None = None  # object array of str per internal item ("" when unknown)
    fingerprint: str = ""
    info: dict = field(default_factory=dict)  # source, format, options, split kind
    # Cold-start protocol (gnnnas.data.cold): held-out items and their interactions, or None.
    val_cold: SplitData | None = None
    test_cold: SplitData | None = None
    cold_val_items: np.ndarray | None = None  # int64, sorted
    cold_test_items: np.ndarray | None = None

    @property
    def has_cold(self) -> bool:
        return self.val_cold is not None

    @property
    def cold_items(self) -> np.ndarray:
        """Every held-out item (empty without the cold-start protocol)."""
        if self.cold_val_items is None:
            return np.empty(0, dtype=np.int64)
        return np.union1d(self.cold_val_items, self.cold_test_items)

    @property
    def refitted(self) -> bool:
        return bool(self.info.get("refit", False))

    def refit(self) -> "Dataset":
        """Train on train + validation (for final reporting); validation is emptied."""
        empty = SplitData.from_pairs(np.empty(0), np.empty(0), self.n_users)
        info = dict(self.info, refit=True)
        return replace(self, train=self.train.union(self.val), val=empty, info=info,
                       fingerprint=self.fingerprint + "+refit")

    def stats(self) -> dict:
        total = self.train.nnz + self.val.nnz + self.test.nnz
        if self.has_cold:
            total += self.val_cold.nnz + self.test_cold.nnz
        return {
            "name": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": total,
            "density": total / max(1, self.n_users * self.n_items),
            "train": self.train.nnz,
            "val": self.val.nnz,
            "test": self.test.nnz,
            "has_item_text": self.item_text is not None,
            **({"val_cold": self.val_cold.nnz, "test_cold": self.test_cold.nnz,
                "cold_items": int(self.cold_items.size)} if self.has_cold else {}),
        }
