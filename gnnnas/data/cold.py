"""The cold-start protocol: items held out entirely from training.

With ``cold_items = f``, ``round(f * n_items)`` items are drawn at random
(seeded by the data seed) and **every** interaction with them leaves the
warm splits. The drawn items are halved: the first ``n // 2`` are
*validation-cold* items, the rest *test-cold* items, so choosing a model on
cold validation metrics never looks at the test-cold items. Their
interactions form the ``val_cold`` and ``test_cold`` splits; the remaining
(warm) interactions are split as usual (ratio, temporal, leave-one-out or
the source's own split).

Cold metrics rank, for each user with held-out cold interactions, only the
cold items of that split (the candidates a cold-start system would have to
order) and average Recall@K, NDCG@K, ... over those users. Users without any
training interaction are left out of the cold splits: no model can know
anything about them. Warm metrics never rank cold items.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gnnnas.data.preprocess import Interactions
from gnnnas.errors import GnnnasError


@dataclass(frozen=True, eq=False)
class ColdItems:
    """The held-out items, internal ids, sorted."""

    val: np.ndarray
    test: np.ndarray

    @property
    def all(self) -> np.ndarray:
        return np.union1d(self.val, self.test)


def draw_cold_items(n_items: int, fraction: float, seed: int) -> ColdItems:
    """``round(fraction * n_items)`` items, halved into validation-cold and test-cold (at least one each)."""
    n = int(np.floor(fraction * n_items + 0.5))
    if n < 2:
        raise GnnnasError(f"--cold-items {fraction:g}: holds out {n} of {n_items} items; "
                          "expected a fraction that holds out at least 2 (one validation-cold, one test-cold)")
    if n >= n_items:
        raise GnnnasError(f"--cold-items {fraction:g}: would hold out all {n_items} items; expected a smaller fraction")
    # A stream of its own: the warm split's draws stay those of the same seed without cold items.
    rng = np.random.Generator(np.random.PCG64([seed, 0xC01D]))
    drawn = rng.permutation(n_items)[:n]
    return ColdItems(val=np.sort(drawn[: n // 2]).astype(np.int64), test=np.sort(drawn[n // 2:]).astype(np.int64))


def warm_subset(inter: Interactions, cold: ColdItems) -> tuple[Interactions, np.ndarray]:
    """(the interactions with warm items, the boolean mask of cold-item interactions)."""
    is_cold = np.isin(inter.items, cold.all)
    keep = ~is_cold
    warm = replace(
        inter, users=inter.users[keep], items=inter.items[keep],
        timestamps=None if inter.timestamps is None else inter.timestamps[keep],
        from_test=None if inter.from_test is None else inter.from_test[keep],
    )
    return warm, is_cold
