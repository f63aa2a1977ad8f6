"""A loaded model bundle: :func:`load` and :class:`TrainedRecommender`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from gnnnas.data.dataset import Dataset, SplitData
from gnnnas.errors import GnnnasError
from gnnnas.export.bundle import BundleContents, read_bundle
from gnnnas.models.base import Recommender
from gnnnas.models.spec import ArchSpec

#: Scores computed per batch stay around this many elements (64 MiB of float32).
_BATCH_ELEMS = 1 << 24


def load(path: str | Path, device: torch.device | str = "cpu") -> "TrainedRecommender":
    """Load the model bundle at ``path`` (a ``gnnnas train --out`` folder works too).

    Checks the manifest (a missing or altered file is an error naming it) and
    the format version, rebuilds the graph from the bundle's training split and
    the model from its spec, and loads the weights (``weights_only=True``) in
    eval mode on ``device`` (``cpu`` by default; ``auto``, ``cuda``, ``cuda:N``).
    """
    from gnnnas.device import resolve_device
    device = resolve_device(device)
    contents = read_bundle(path, device)
    return TrainedRecommender(contents, _build(contents, device), device)


def _build(contents: BundleContents, device: torch.device) -> Recommender:
    if "compression" in contents.metadata:  # a gnnnas compress artifact: its own served model, no graph
        from gnnnas.compress.models import build_compressed
        return build_compressed(contents, device)
    from gnnnas.graph import BipartiteGraph
    from gnnnas.models.registry import build_model
    graph = BipartiteGraph.of(contents.splits["train"], contents.n_items, device, contents.item_edges,
                              contents.item_features, key="bundle")
    with torch.random.fork_rng(devices=[]):  # build_model seeds torch; leave the caller's RNG alone
        model = build_model(contents.spec, graph, 0, device)
    try:
        model.load_state_dict(contents.weights, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise GnnnasError(f"{contents.path / 'weights.pt'}: does not fit the architecture in spec.json ({detail})") from None
    return model.eval()


def _as_list(ids: Any) -> list:
    """One id (str or int) or an iterable of ids, as a list."""
    if isinstance(ids, (str, bytes, int, np.integer)):
        return [ids]
    return list(ids)


def _key(raw: Any) -> str:
    """Raw ids are matched on their string form: ``42`` and ``"42"`` are the same user."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return str(raw).strip()


@dataclass
class Evaluation:
    """Metrics of :meth:`TrainedRecommender.evaluate`; ``evaluation["ndcg@20"]`` reads a metric.

    ``dropped`` (new data only) counts interactions left out because their user
    or item is not in the bundle, and the distinct unknown users and items.
    """

    metrics: dict[str, float]
    n_users: int  # users evaluated (with at least one held-out, unseen item)
    interactions: int  # held-out interactions used as truth (before excluding seen items)
    dropped: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return self.metrics[name]

    def to_dict(self) -> dict:
        return {"metrics": dict(self.metrics), "n_users": self.n_users, "interactions": self.interactions,
                "dropped": dict(self.dropped)}


class TrainedRecommender:
    """A trained recommender with its raw id maps and seen items; made by :func:`load`.

    Attributes: ``spec`` (:class:`ArchSpec` or a baseline name), ``model``
    (the torch module, eval mode), ``metadata`` (``metadata.json``), ``path``,
    ``device``, ``dataset`` (a :class:`~gnnnas.data.Dataset` of the bundle's
    splits: train is the model's graph, train + val the seen items, test the
    recorded test split).
    """

    def __init__(self, contents: BundleContents, model: Recommender, device: torch.device):
        self.path = contents.path
        self.metadata = contents.metadata
        self.spec: ArchSpec | str = contents.spec
        self.model = model
        self.device = device
        meta = contents.metadata.get("dataset", {})
        info = {"source": meta.get("source"), "format": meta.get("format"), "split": meta.get("split"),
                "options": meta.get("options"), "refit": bool(meta.get("refitted", False)), "bundle": str(self.path)}
        self.dataset = Dataset(
            name=str(meta.get("name", self.path.name)), n_users=contents.n_users, n_items=contents.n_items,
            train=contents.splits["train"], val=contents.splits["val"], test=contents.splits["test"],
            user_ids=contents.user_ids, item_ids=contents.item_ids, item_text=contents.item_text,
            fingerprint=str(meta.get("fingerprint", "")), info=info, **(contents.cold or {}),
        )
        self._user_index: dict[str, int] | None = None
        self._item_index: dict[str, int] | None = None
        self._seen: SplitData | None = None

    # --- ids ------------------------------------------------------------

    @property
    def n_users(self) -> int:
        return self.dataset.n_users

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    @property
    def has_item_text(self) -> bool:
        return self.dataset.item_text is not None

    def known_users(self) -> list[str]:
        """Raw ids of the users in the training data, in internal order."""
        return self.dataset.user_ids.tolist()

    def known_items(self) -> list[str]:
        """Raw ids of every item the model ranks, in internal order."""
        return self.dataset.item_ids.tolist()

    def item_text(self, raw_item_id: Any) -> str | None:
        """The item's text (e.g. a product description); None when the dataset has none."""
        if self.dataset.item_text is None:
            return None
        key = _key(raw_item_id)
        if self._item_index is None:
            self._item_index = {i: n for n, i in enumerate(self.dataset.item_ids.tolist())}
        if key not in self._item_index:
            raise GnnnasError(f"item {key!r}: unknown item id; the bundle knows {self.n_items} items")
        return str(self.dataset.item_text[self._item_index[key]])

    def _index(self) -> dict[str, int]:
        if self._user_index is None:
            self._user_index = {u: n for n, u in enumerate(self.dataset.user_ids.tolist())}
        return self._user_index

    def user_index(self, raw_user_id: Any) -> int:
        """Internal id of a raw user id (``42`` and ``"42"`` alike); unknown -> :class:`GnnnasError`."""
        key = _key(raw_user_id)
        internal = self._index().get(key)
        if internal is None:
            sample = ", ".join(repr(u) for u in self.dataset.user_ids[:3].tolist())
            raise GnnnasError(f"user {key!r}: unknown user id; the bundle knows {self.n_users} users "
                              f"(e.g. {sample}; see known_users())")
        return internal

    def _seen_split(self) -> SplitData:
        if self._seen is None:
            ds = self.dataset
            self._seen = ds.train if ds.val.nnz == 0 else ds.train.union(ds.val)
        return self._seen

    def seen_items(self, raw_user_id: Any) -> list[str]:
        """Raw ids of the items the user interacted with in train + validation (what ``exclude_seen`` drops)."""
        items = self._seen_split().items_of(self.user_index(raw_user_id))
        return self.dataset.item_ids[items].tolist()

    # --- recommending ---------------------------------------------------

    @torch.no_grad()
    def recommend(self, raw_user_ids: Any, k: int = 10, exclude_seen: bool = True,
                  batch_size: int | None = None) -> dict[Any, list[tuple[str, float]]]:
        """Top-``k`` items per user: ``{raw_user_id: [(raw_item_id, score), ...]}``, best first.

        ``raw_user_ids`` is one id or a list; the result is keyed by the ids as
        given. Every item is ranked (full ranking), equal scores by lower
        internal item id, as :mod:`gnnnas.evaluation` does. With
        ``exclude_seen`` the user's train + validation items are left out, so
        a user may get fewer than ``k`` items when the catalogue is small.
        """
        from gnnnas.evaluation.metrics import rank_top
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise GnnnasError(f"k={k!r}: expected an integer >= 1")
        wanted = _as_list(raw_user_ids)
        internal = [self.user_index(u) for u in wanted]  # every id checked before any work
        if not wanted:
            return {}
        unique = np.unique(np.asarray(internal, dtype=np.int64))
        exclude = None
        if exclude_seen:
            # by row, then item, as rank_top wants them: users ascending, SplitData rows sorted
            rows, cols = _gather(self._seen_split(), unique)
            exclude = (torch.from_numpy(rows).to(self.device), torch.from_numpy(cols).to(self.device))
        max_rows = batch_size or max(1, min(1024, _BATCH_ELEMS // max(1, self.n_items)))
        items, values = rank_top(self.model.scorer(), torch.from_numpy(unique).to(self.device), int(k),
                                 self.n_items, exclude, max_rows=max_rows)
        items, values = items.cpu().numpy(), values.cpu().numpy()
        item_ids = self.dataset.item_ids
        ranked: dict[int, list[tuple[str, float]]] = {}
        for row, user in enumerate(unique.tolist()):
            keep = np.isfinite(values[row]) | (values[row] == np.inf)  # -inf (excluded) and NaN are never ranked
            ranked[user] = list(zip(item_ids[items[row][keep]].tolist(), values[row][keep].tolist()))
        return {raw: list(ranked[u]) for raw, u in zip(wanted, internal)}

    def score(self, raw_user_id: Any) -> dict[str, float]:
        """Every item's score for one user, ``{raw_item_id: score}`` (seen items included)."""
        with torch.no_grad():
            scores = self.model.score(torch.tensor([self.user_index(raw_user_id)], device=self.device))[0]
        return dict(zip(self.dataset.item_ids.tolist(), scores.float().cpu().tolist()))

    # --- evaluating -----------------------------------------------------

    def evaluate(self, data: Dataset | str | Path | None = None, split: str = "test",
                 ks: Sequence[int] = (10, 20), options: Any = None, batch_size: int = 1024) -> Evaluation:
        """Full-ranking metrics, seen items (train + validation) excluded.

        ``data=None``: the bundle's own ``split`` (``test``, the recorded test
        split, reproduces the exported test metrics; or ``val``; or
        ``test_cold`` / ``val_cold`` for a model trained under the cold-start
        protocol: ranking among the held-out cold items). Otherwise
        ``data`` is a :class:`~gnnnas.data.Dataset` or a source path/name
        (loaded with ``options``, a :class:`~gnnnas.data.DataOptions`) whose
        ``split`` (``test``, ``val``, ``train`` or ``all``) holds the held-out
        interactions; they are mapped to the bundle's ids through the raw ids,
        and those with an unknown user or item are dropped and counted in
        :attr:`Evaluation.dropped`.
        """
        from gnnnas.evaluation import Evaluator
        if data is None:
            if split not in ("val", "test", "val_cold", "test_cold"):
                raise GnnnasError(f"split={split!r}: expected test or val (or test_cold, val_cold) for the "
                                  "bundle's own data")
            if split.endswith("_cold") and not self.dataset.has_cold:
                raise GnnnasError(f"{self.path}: split={split!r}: the model was not trained with --cold-items")
            target, dropped = self.dataset, {}
            if getattr(target, split).nnz == 0:
                why = " (the model was refitted on train + validation)" if self.dataset.refitted else ""
                raise GnnnasError(f"{self.path}: the bundle's {split} split is empty{why}")
        else:
            truth, dropped = self._map_truth(data, split, options)
            target = Dataset(name=self.dataset.name, n_users=self.n_users, n_items=self.n_items,
                             train=self.dataset.train, val=self.dataset.val, test=truth,
                             user_ids=self.dataset.user_ids, item_ids=self.dataset.item_ids,
                             fingerprint=self.dataset.fingerprint, info=self.dataset.info)
            split = "test"
        evaluator = Evaluator(target, split, ks=ks, batch_size=batch_size, device=self.device)
        if evaluator.n_users == 0:
            raise GnnnasError("no user has a held-out item that is not already seen in the bundle's training data")
        result = evaluator.evaluate(self.model.scorer())
        return Evaluation(result.metrics, result.n_users, getattr(target, split).nnz, dropped)

    def _map_truth(self, data: Dataset | str | Path, split: str, options: Any) -> tuple[SplitData, dict]:
        if not isinstance(data, Dataset):
            from gnnnas.data import load_dataset
            data = load_dataset(data, options)
        parts = ("train", "val", "test") if split == "all" else (split,)
        if any(p not in ("train", "val", "test") for p in parts):
            raise GnnnasError(f"split={split!r}: expected test, val, train or all")
        users, items = [], []
        for part in parts:
            u, i = getattr(data, part).pairs()
            users.append(u)
            items.append(i)
        users_new, items_new = np.concatenate(users), np.concatenate(items)
        import pandas as pd
        user_map = pd.Index(self.dataset.user_ids).get_indexer(np.asarray(data.user_ids, dtype=str))
        item_map = pd.Index(self.dataset.item_ids).get_indexer(np.asarray(data.item_ids, dtype=str))
        u, i = user_map[users_new], item_map[items_new]
        unknown_user, unknown_item = u < 0, i < 0
        keep = ~(unknown_user | unknown_item)
        dropped = {
            "interactions": int((~keep).sum()),
            "unknown_users": int(np.unique(users_new[unknown_user]).size),
            "unknown_items": int(np.unique(items_new[unknown_item]).size),
        }
        if not keep.any():
            raise GnnnasError(f"{data.name}: no interaction of split {split} maps to the bundle's users and items "
                              f"({dropped['unknown_users']} unknown users, {dropped['unknown_items']} unknown items)")
        return SplitData.from_pairs(u[keep], i[keep], self.n_users), dropped

    # --- display ----------------------------------------------------------

    def __repr__(self) -> str:
        arch = self.spec if isinstance(self.spec, str) else f"ArchSpec({self.spec})"
        return (f"TrainedRecommender({arch}, dataset={self.dataset.name!r}, users={self.n_users}, "
                f"items={self.n_items}, path={str(self.path)!r})")


def _gather(split: SplitData, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row within ``users``, item) of every interaction of ``users`` in ``split``."""
    starts, ends = split.indptr[users], split.indptr[users + 1]
    counts = ends - starts
    rows = np.repeat(np.arange(users.size, dtype=np.int64), counts)
    if rows.size == 0:
        return rows, rows
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    cols = split.indices[np.arange(rows.size, dtype=np.int64) + offsets]
    return rows, cols

