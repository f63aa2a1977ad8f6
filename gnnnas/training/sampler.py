"""Uniform negative sampling for pairwise ranking losses."""

from __future__ import annotations

import numpy as np

from gnnnas.data.dataset import SplitData


class NegativeSampler:
    """Each epoch: every training pair once, in random order, with ``k`` negatives.

    Negatives are drawn uniformly from the items the user has *not* interacted
    with in training (rejection sampling, vectorised over the whole epoch).
    ``excluded_items`` (the cold-start protocol's held-out items) are never
    drawn: at training time they do not exist yet, and pushing their scores
    down would teach a text model to recognise them.
    """

    def __init__(self, train: SplitData, n_items: int, seed: int = 0, max_rounds: int = 100,
                 excluded_items: np.ndarray | None = None):
        self.n_items = n_items
        self._pool = None  # the items negatives come from; None: all of them
        if excluded_items is not None and len(excluded_items):
            self._pool = np.setdiff1d(np.arange(n_items, dtype=np.int64), excluded_items)
        self.users, self.items = train.pairs()
        # A user's positives as sorted int64 keys u * n_items + i, for one vectorised membership test.
        self._keys = self.users * n_items + self.items
        self._rng = np.random.default_rng(seed)
        self._max_rounds = max_rounds
        full = train.counts() >= (n_items if self._pool is None else self._pool.size)
        if full.any():
            raise ValueError(f"user {int(np.flatnonzero(full)[0])} interacted with every item: no negatives exist")

    def __len__(self) -> int:
        return int(self.users.size)

    def _is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, self._keys.size - 1)
        return self._keys[pos] == keys

    def _draw(self, size: int) -> np.ndarray:
        if self._pool is None:
            return self._rng.integers(0, self.n_items, size=size)
        return self._pool[self._rng.integers(0, self._pool.size, size=size)]

    def sample_negatives(self, users: np.ndarray, k: int = 1) -> np.ndarray:
        """``len(users) x k`` item ids that are not training positives of their user."""
        users_k = np.repeat(users, k)
        neg = self._draw(users_k.size)
        bad = np.flatnonzero(self._is_positive(users_k, neg))
        for _ in range(self._max_rounds):
            if bad.size == 0:
                break
            neg[bad] = self._draw(bad.size)
            bad = bad[self._is_positive(users_k[bad], neg[bad])]
        else:  # users with almost every item: fall back to an exact draw from their complement
            pool = np.arange(self.n_items) if self._pool is None else self._pool
            for j in bad:
                taken = self._keys[(self._keys >= users_k[j] * self.n_items) & (self._keys < (users_k[j] + 1) * self.n_items)]
                free = np.setdiff1d(pool, taken - users_k[j] * self.n_items)
                neg[j] = self._rng.choice(free)
        return neg.reshape(-1, k)

    def shared(self, batches: int, size: int) -> np.ndarray:
        """``batches x size`` items drawn uniformly (with replacement) for batch-shared negatives.

        Not checked against any user's positives: one draw serves a whole batch.
        The trainer masks the one collision that matters, a negative equal to
        the pair's own positive (an "accidental hit").
        """
        return self._draw(batches * size).reshape(batches, size)

    def epoch(self, k: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, positive items, negatives ``n x k``) for one epoch, shuffled."""
        order = self._rng.permutation(self.users.size)
        users, pos = self.users[order], self.items[order]
        return users, pos, self.sample_negatives(users, k)
