"""Top-K ranking metrics: one vectorised core shared by :func:`topk_metrics` and the evaluator.

Conventions (those of LightGCN's evaluation code), per user with held-out set
``T`` and ranked list ``L`` (its top ``K`` items, best first, positions
``i = 0 .. K-1``):

* ``recall@K = hits / |T|``, ``precision@K = hits / K`` (always divided by
  ``K``, even when fewer than ``K`` items could be ranked);
* ``ndcg@K = DCG / IDCG`` with ``DCG = sum_i rel_i / log2(i + 2)`` and IDCG the
  DCG of ``min(K, |T|)`` hits at the top;
* ``hitrate@K = 1`` if any hit; ``mrr@K = 1 / (1-based rank of the first
  hit)``, or 0 without a hit in the top ``K``;
* ``coverage@K``: fraction of all items that appear in the top ``K`` of at
  least one evaluated user.

Every metric but coverage is averaged over users with non-empty ``T``; users
without held-out items are skipped entirely (also for coverage).

Ranking is deterministic: items are ordered by score descending and, among
equal scores, by item id ascending. Items scored ``-inf`` (excluded items, or
a model's own ``-inf``) and ``NaN`` are never ranked: they are never hits, do
not count for coverage, and the positions they would take contribute nothing.
An item that is both excluded and held out is dropped from ``T``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import chain
from typing import Callable, Sequence

import numpy as np
import torch

METRICS = ("recall", "ndcg", "precision", "hitrate", "mrr", "coverage")

# Transient memory of the tie fallback stays around this many elements per chunk.
_TIE_CHUNK_ELEMS = 1 << 24
# On CPU a score block of about this many elements (8 MB of float32) stays in
# cache while it is masked and ranked: 64 x 39k-item blocks evaluate ~35% faster
# than 1024 x 39k ones on a 2-core EPYC (experiments/RESULTS.md, "Ranking in cache-sized blocks").
CPU_BLOCK_ELEMS = 1 << 21
_MIN_BLOCK_ROWS = 16
# CPU top-K prefilter (_topk_by_groups): items per group, and how many times more items than the
# candidates (k + 1 groups) a row needs before the prefilter pays off.
_GROUP_SIZE = 128
_GROUP_MIN_FACTOR = 8


def score_block_rows(n_items: int, device: torch.device | str, max_rows: int = 1024) -> int:
    """Users scored and ranked together: at most ``max_rows``; on CPU also at most
    about :data:`CPU_BLOCK_ELEMS` scores (but never under 16 rows), so a block is
    ranked while it is still in cache. Accelerators take ``max_rows`` as is."""
    max_rows = max(1, int(max_rows))
    if torch.device(device).type != "cpu":
        return max_rows
    return min(max_rows, max(_MIN_BLOCK_ROWS, CPU_BLOCK_ELEMS // max(1, int(n_items))))


def metric_names(ks: Sequence[int]) -> list[str]:
    """Result keys in the order every function here returns them (``recall@10``, ...)."""
    return [f"{m}@{k}" for k in _check_ks(ks) for m in METRICS]


def _check_ks(ks: Sequence[int]) -> list[int]:
    if isinstance(ks, int):
        ks = (ks,)
    out = sorted({int(k) for k in ks})
    if not out or out[0] < 1:
        raise ValueError(f"ks must be positive integers, got {list(ks)!r}")
    return out


def _acc_dtype(device: torch.device) -> torch.dtype:
    # MPS has no float64; everywhere else accumulate in float64 so means over
    # hundreds of thousands of users do not drift.
    return torch.float32 if device.type == "mps" else torch.float64


def topk_ranking(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-``k`` of each row: ``(items, values)``, both ``rows x min(k, n_items)``.

    Rows are ordered by score descending, ties by item id ascending, so the
    result equals a full stable descending sort truncated to ``k``. ``NaN``
    counts as ``-inf``. ``scores`` is not modified.

    Cost: one ``torch.topk(k + 1)``; only rows whose ``k``-th and
    ``(k+1)``-th values tie (at a finite value) pay an extra linear pass.
    On CPU, wide rows first shrink to a few candidate groups of items
    (:func:`_topk_by_groups`), so that ``topk`` runs on a small fraction of them.
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must be 2-D (rows x items), got shape {tuple(scores.shape)}")
    rows, n = scores.shape
    c = min(int(k), n)
    if rows == 0 or c == 0:
        return (torch.empty(rows, c, dtype=torch.long, device=scores.device),
                scores.new_empty(rows, c))
    if scores.device.type == "cpu" and n >= _GROUP_MIN_FACTOR * (c + 1) * _GROUP_SIZE:
        return _topk_by_groups(scores, c)
    return _topk_exact(scores, c)


def _topk_by_groups(scores: torch.Tensor, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`topk_ranking` via the ``c`` groups of ``_GROUP_SIZE`` consecutive items with the largest maxima.

    Why: CPU ``torch.topk`` over a long row costs about 13x a max-reduction of
    it; one reduction per group plus a ``topk`` over ``c`` groups' items is ~1.5x
    faster on 39k items (experiments/RESULTS.md, "Ranking in cache-sized blocks").
    Exact: if the ``c``-th largest group maximum ``m_c`` is strictly above the
    ``(c+1)``-th ``m_(c+1)``, the ``c`` chosen groups hold at least ``c`` items
    ``>= m_c``, and every other full group only items ``<= m_(c+1)``; the short
    tail group is always a candidate. Candidates keep ascending item order, so
    ties break by id as in the full ranking. Rows where the maxima tie at the
    boundary (``-inf`` included) or that hold a ``NaN`` take the full path.
    """
    rows, n = scores.shape
    size = _GROUP_SIZE
    groups = n // size
    head = groups * size
    grouped = scores[:, :head].view(rows, groups, size)
    gv, gi = torch.topk(grouped.amax(dim=2), c + 1, dim=1)
    chosen = gi[:, :c].sort(dim=1).values
    # Candidate values in ascending item order (chosen groups, then the tail), gathered group-wise:
    # no per-item index tensor is built, positions map back to items arithmetically.
    width = c * size
    cand = scores.new_empty(rows, width + n - head)
    torch.gather(grouped, 1, chosen[:, :, None].expand(rows, c, size), out=cand[:, :width].view(rows, c, size))
    cand[:, width:] = scores[:, head:]
    pos, values = _topk_exact(cand, c)
    items = torch.where(pos < width, chosen.gather(1, (pos // size).clamp_(max=c - 1)) * size + pos % size,
                        pos + (head - width))
    full = ((gv[:, c - 1] <= gv[:, c]) | torch.isnan(gv[:, 0])).nonzero().flatten()
    if full.numel():
        fi, fv = _topk_exact(scores.index_select(0, full), c)
        items.index_copy_(0, full, fi)
        values.index_copy_(0, full, fv)
    return items, values


def _topk_exact(scores: torch.Tensor, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`topk_ranking` of a non-empty ``scores`` with ``1 <= c <= n_items``, by one full ``topk``."""
    n = scores.shape[1]
    probe = min(c + 1, n)
    vals, idx = torch.topk(scores, probe, dim=1)

    # topk ranks NaN above everything, so a row with any NaN has one first.
    nan_rows = torch.isnan(vals[:, 0]).nonzero().flatten()
    if nan_rows.numel():
        fixed = scores.index_select(0, nan_rows)
        fixed.masked_fill_(torch.isnan(fixed), -math.inf)
        fv, fi = torch.topk(fixed, probe, dim=1)
        vals, idx = vals.index_copy(0, nan_rows, fv), idx.index_copy(0, nan_rows, fi)

    items = idx[:, :c]
    if probe > c:
        # More than c items reach the c-th value iff the (c+1)-th equals it;
        # only then may topk have kept the wrong (higher-id) tied items. Ties at
        # -inf are harmless: those positions never count.
        t = vals[:, c - 1]
        tied = ((vals[:, c] == t) & (t > -math.inf)).nonzero().flatten()
        if tied.numel():
            items = items.clone()
            _resolve_boundary_ties(scores, vals, idx, t, tied, items)

    # Within the exact candidate set: ids ascending, then a stable sort by score.
    items, _ = items.sort(dim=1)
    values = scores.gather(1, items)
    values.masked_fill_(torch.isnan(values), -math.inf)
    values, order = values.sort(dim=1, descending=True, stable=True)
    return items.gather(1, order), values


def _resolve_boundary_ties(scores: torch.Tensor, vals: torch.Tensor, idx: torch.Tensor,
                           t: torch.Tensor, tied: torch.Tensor, items: torch.Tensor) -> None:
    """For rows ``tied``, keep all items above the boundary value ``t`` plus the
    lowest-id items equal to it; writes into ``items``."""
    n = scores.shape[1]
    c = items.shape[1]
    # Key n - id on items equal to t, 0 elsewhere: topk of it yields the lowest
    # tied ids. Float keys are exact below 2**24 (and float where/topk are the
    # fastest kernels); float64 covers any realistic catalogue beyond that.
    key_dtype = torch.float32 if n < 2**24 else torch.float64
    rev_ids = torch.arange(n, 0, -1, dtype=key_dtype, device=scores.device)
    j = torch.arange(c, device=scores.device)
    chunk_rows = max(1, _TIE_CHUNK_ELEMS // n)
    # Degenerate models (constant or popularity scores) tie on every row: then
    # slice rows directly instead of gathering copies.
    every_row = tied.numel() == scores.shape[0]
    for start in range(0, tied.numel(), chunk_rows):
        chunk = tied[start:start + chunk_rows]
        rows = scores[start:start + chunk_rows] if every_row else scores.index_select(0, chunk)
        tc = t[chunk, None]
        eq_items = torch.topk(torch.where(rows == tc, rev_ids, 0.0), c, dim=1).indices
        above = (vals.index_select(0, chunk) > tc).sum(1, keepdim=True)  # all are in topk
        from_top = idx.index_select(0, chunk)[:, :c]
        from_eq = eq_items.gather(1, (j - above).clamp_(min=0))
        items[chunk] = torch.where(j < above, from_top, from_eq)


def user_metrics(items: torch.Tensor, values: torch.Tensor, truth_keys: torch.Tensor,
                 truth_counts: torch.Tensor, ks: Sequence[int], n_items: int) -> dict[str, torch.Tensor]:
    """Per-user metrics for every ``K`` from one ranked top-``K_max`` (no coverage).

    ``items``/``values`` come from :func:`topk_ranking` (``b x min(K_max, n_items)``).
    ``truth_keys`` is the batch's truth as sorted flat keys ``row * n_items + item``
    (``row`` local to the batch; excluded items already removed); ``truth_counts``
    holds ``|T|`` per row (all >= 1).
    """
    ks = _check_ks(ks)
    b, c = items.shape
    dtype = _acc_dtype(items.device)
    device = items.device
    keys = torch.arange(b, device=device)[:, None] * n_items + items
    if truth_keys.numel():
        at = torch.searchsorted(truth_keys, keys).clamp_(max=truth_keys.numel() - 1)
        hit = (truth_keys[at] == keys) & (values > -math.inf)
    else:
        hit = torch.zeros_like(keys, dtype=torch.bool)
    hitf = hit.to(dtype)
    pos = torch.arange(max(c, ks[-1]), device=device, dtype=dtype)
    disc = 1.0 / torch.log2(pos + 2.0)
    ideal = disc.cumsum(0)
    cum_hits = hitf.cumsum(1)
    cum_dcg = (hitf * disc[:c]).cumsum(1)
    # 1/rank is decreasing in position, so its running max is 1/rank of the first hit.
    cum_rr = (hitf / (pos[:c] + 1.0)).cummax(1).values
    counts = truth_counts.to(dtype)
    out: dict[str, torch.Tensor] = {}
    for k in ks:
        col = min(k, c) - 1
        hits = cum_hits[:, col]
        idcg = ideal[torch.clamp(truth_counts, max=k).long() - 1]
        out[f"recall@{k}"] = hits / counts
        out[f"ndcg@{k}"] = cum_dcg[:, col] / idcg
        out[f"precision@{k}"] = hits / k
        out[f"hitrate@{k}"] = (hits > 0).to(dtype)
        out[f"mrr@{k}"] = cum_rr[:, col]
    return out


class MetricAccumulator:
    """Sums per-user metrics and item coverage over batches of masked scores.

    Everything stays on the scores' device until :meth:`result`, so a GPU
    evaluation synchronises once at the end (plus the rare tie/NaN checks).
    """

    def __init__(self, n_items: int, ks: Sequence[int], n_candidates: int | None = None):
        self.n_items = int(n_items)
        self.n_candidates = int(n_candidates) if n_candidates is not None else self.n_items
        self.ks = _check_ks(ks)
        self.n_users = 0
        self._sums: torch.Tensor | None = None
        self._best_pos: torch.Tensor | None = None  # best rank each item reached

    def add(self, scores: torch.Tensor, truth_keys: torch.Tensor, truth_counts: torch.Tensor) -> None:
        """Rank one batch (``b x n_items``, excluded items already ``-inf``) and accumulate."""
        if scores.shape[0] == 0:
            return
        items, values = topk_ranking(scores, self.ks[-1])
        self.add_ranked(items, values, truth_keys, truth_counts)

    def add_ranked(self, items: torch.Tensor, values: torch.Tensor, truth_keys: torch.Tensor,
                   truth_counts: torch.Tensor) -> None:
        """Accumulate one batch already ranked as :func:`topk_ranking` ranks it (``b x min(K_max, n_items)``)."""
        b = items.shape[0]
        if b == 0:
            return
        per_user = user_metrics(items, values, truth_keys, truth_counts, self.ks, self.n_items)
        stacked = torch.stack([v.sum() for v in per_user.values()])
        if self._sums is None:
            self._sums = torch.zeros_like(stacked)
            self._best_pos = torch.full((self.n_items,), self.ks[-1], dtype=torch.long, device=items.device)
        self._sums += stacked.to(self._sums.device)
        # Unranked (-inf) slots report position K_max, i.e. "not in any top-K".
        pos = torch.arange(items.shape[1], device=items.device).expand_as(items)
        pos = torch.where(values > -math.inf, pos, self.ks[-1])
        self._best_pos.scatter_reduce_(0, items.reshape(-1).to(self._best_pos.device),
                                       pos.reshape(-1).to(self._best_pos.device), "amin")
        self.n_users += b

    def result(self) -> dict[str, float]:
        """Means over users (coverage over items), keyed as :func:`metric_names`."""
        if self._sums is None:
            raise ValueError("no user with held-out items was evaluated; metrics are undefined")
        covered = torch.stack([(self._best_pos < k).sum() for k in self.ks]).tolist()
        means = (self._sums / self.n_users).tolist()
        names = [f"{m}@{k}" for k in self.ks for m in METRICS if m != "coverage"]
        per = dict(zip(names, means))
        for k, cov in zip(self.ks, covered):
            per[f"coverage@{k}"] = cov / self.n_candidates
        return {name: float(per[name]) for name in metric_names(self.ks)}


def csr_keys(indptr: np.ndarray, indices: np.ndarray, n_items: int) -> np.ndarray:
    """Flat keys ``row * n_items + item`` of a CSR (``indptr``, ``indices``)."""
    indptr = np.asarray(indptr, dtype=np.int64)
    rows = np.repeat(np.arange(indptr.size - 1, dtype=np.int64), np.diff(indptr))
    return rows * n_items + np.asarray(indices, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class RankingTask:
    """Host-side plan of a full-ranking evaluation: which rows, their truth and exclusions.

    Only rows with a non-empty truth (after dropping excluded items) are kept;
    ``rows[p]`` is the id handed to the score function for position ``p``.
    """

    n_items: int
    rows: np.ndarray  # int64 (m,), ascending
    truth_keys: np.ndarray  # int64, position * n_items + item, ascending
    truth_indptr: np.ndarray  # int64 (m + 1,)
    excl_pos: np.ndarray  # int64, position of each excluded entry (grouped by position)
    excl_items: np.ndarray  # int64
    excl_indptr: np.ndarray  # int64 (m + 1,)
    blocked: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # items ranked for nobody

    @property
    def n_candidates(self) -> int:
        """Items that can be ranked (what coverage is a fraction of)."""
        return self.n_items - int(self.blocked.size)

    @classmethod
    def from_keys(cls, n_items: int, truth_keys: np.ndarray, excl_keys: np.ndarray | None = None,
                  blocked: np.ndarray | None = None) -> "RankingTask":
        """Build from flat keys ``row * n_items + item`` (any order, duplicates allowed).

        ``blocked`` items are never ranked for anyone (the candidate set is
        every other item); truth entries on them are dropped.
        """
        if n_items < 1:
            raise ValueError("n_items must be >= 1")
        truth = np.unique(np.asarray(truth_keys, dtype=np.int64))
        excl = np.unique(np.asarray(excl_keys if excl_keys is not None else [], dtype=np.int64))
        blocked = np.unique(np.asarray(blocked if blocked is not None else [], dtype=np.int64))
        if excl.size and truth.size:
            at = np.minimum(np.searchsorted(excl, truth), excl.size - 1)
            truth = truth[excl[at] != truth]
        if blocked.size and truth.size:
            truth = truth[~np.isin(truth % n_items, blocked)]
        truth_rows = truth // n_items
        rows = np.unique(truth_rows)
        m = rows.size
        pos = np.searchsorted(rows, truth_rows)
        excl_rows = excl // n_items
        excl_pos = np.searchsorted(rows, excl_rows)
        keep = excl_pos < m
        keep[keep] = rows[excl_pos[keep]] == excl_rows[keep]
        excl_pos = excl_pos[keep]
        return cls(
            n_items=int(n_items),
            rows=rows,
            truth_keys=pos * n_items + (truth - truth_rows * n_items),
            truth_indptr=_indptr(pos, m),
            excl_pos=excl_pos,
            excl_items=excl[keep] - excl_rows[keep] * n_items,
            excl_indptr=_indptr(excl_pos, m),
            blocked=blocked,
        )

    @property
    def n_users(self) -> int:
        return int(self.rows.size)

    def tensors(self, device: torch.device | str) -> "TaskTensors":
        """This plan's index tensors on ``device`` (build once, reuse every evaluation)."""
        device = torch.device(device)

        def as_t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)

        return TaskTensors(device=device, rows=as_t(self.rows), truth_keys=as_t(self.truth_keys),
                           truth_counts=as_t(np.diff(self.truth_indptr)), excl_pos=as_t(self.excl_pos),
                           excl_items=as_t(self.excl_items), blocked=as_t(self.blocked))


def _indptr(sorted_pos: np.ndarray, m: int) -> np.ndarray:
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(sorted_pos, minlength=m), out=indptr[1:])
    return indptr


@dataclass(frozen=True, eq=False)
class TaskTensors:
    """A :class:`RankingTask`'s arrays as tensors on one device."""

    device: torch.device
    rows: torch.Tensor
    truth_keys: torch.Tensor
    truth_counts: torch.Tensor
    excl_pos: torch.Tensor
    excl_items: torch.Tensor
    blocked: torch.Tensor


def run_ranking(task: RankingTask, score_fn: Callable[[torch.Tensor], torch.Tensor],
                tensors_on: Callable[[torch.device], TaskTensors], ks: Sequence[int],
                batch_size: int = 1024, feed_device: torch.device | str = "cpu") -> MetricAccumulator:
    """Score ``task.rows`` in batches, mask exclusions, rank and accumulate.

    A batch holds at most ``batch_size`` users, scored in fewer at a time on
    CPU for large catalogues (:func:`score_block_rows`) unless the score function
    ranks fused (:func:`rank_top`); results do not depend on it.

    ``score_fn(rows)`` gets a LongTensor on ``feed_device`` and returns
    ``len(rows) x n_items`` scores on any device; index tensors for that device
    come from ``tensors_on`` (callers cache them). Excluded items are set to
    ``-inf`` in place in the returned tensor (no copy on the hot path) unless
    it is a view or part of a larger storage; so a score function must not
    return, unsliced, a tensor it keeps and reuses.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    acc = MetricAccumulator(task.n_items, ks, n_candidates=task.n_candidates)
    n = task.n_items
    fed = tensors_on(torch.device(feed_device))
    blocked = fed.blocked if fed.blocked.numel() else None
    tp, ep = task.truth_indptr, task.excl_indptr
    for s in range(0, task.n_users, batch_size):
        e = min(s + batch_size, task.n_users)
        lo, hi = int(ep[s]), int(ep[e])
        exclude = (fed.excl_pos[lo:hi] - s, fed.excl_items[lo:hi]) if hi > lo else None
        items, values = rank_top(score_fn, fed.rows[s:e], acc.ks[-1], n, exclude, blocked, max_rows=batch_size)
        tt = tensors_on(items.device)
        truth = tt.truth_keys[int(tp[s]):int(tp[e])] - s * n
        acc.add_ranked(items, values, truth, tt.truth_counts[s:e])
    return acc


def rank_top(score_fn: Callable[[torch.Tensor], torch.Tensor], users: torch.Tensor, k: int, n_items: int,
             exclude: tuple[torch.Tensor, torch.Tensor] | None = None, blocked: torch.Tensor | None = None,
             max_rows: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Each user's top-``k`` items, ranked exactly as :func:`topk_ranking` ranks masked scores.

    ``exclude`` = (``rows``, ``items``), int64, sorted by row then item: ``items[j]`` is never
    ranked for ``users[rows[j]]``; ``blocked`` items are ranked for nobody. Returns
    ``(items, values)``, ``len(users) x min(k, n_items)``, excluded slots ``-inf``.

    A score function that offers ``topk`` (:class:`~gnnnas.models.base.DotScorer` on CPU with the
    native kernels) ranks without writing the score matrix; rows it cannot fill (fewer than ``k``
    rankable items) and every other score function take the scored path: blocks of at most
    ``max_rows`` users (fewer on CPU for large catalogues, :func:`score_block_rows`), masked in place
    and ranked with :func:`topk_ranking`.
    """
    c = min(int(k), int(n_items))
    fused = getattr(score_fn, "topk", None)
    with torch.no_grad():
        result = fused(users, c, exclude, blocked) if fused is not None and users.numel() and c else None
    if result is None:
        return _rank_scored(score_fn, users, c, n_items, exclude, blocked, max_rows)
    items, values, found = result
    short = (found < c).nonzero().flatten()
    if short.numel():
        sub = None
        if exclude is not None:
            pos = torch.full((users.numel(),), -1, dtype=torch.long)
            pos[short] = torch.arange(short.numel())
            keep = pos[exclude[0]] >= 0
            sub = (pos[exclude[0][keep]], exclude[1][keep])
        si, sv = _rank_scored(score_fn, users[short], c, n_items, sub, blocked, max_rows)
        items.index_copy_(0, short, si)
        values.index_copy_(0, short, sv)
    return items, values


def _rank_scored(score_fn: Callable[[torch.Tensor], torch.Tensor], users: torch.Tensor, c: int, n_items: int,
                 exclude: tuple[torch.Tensor, torch.Tensor] | None, blocked: torch.Tensor | None,
                 max_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`rank_top` by scoring blocks of users, masking and :func:`topk_ranking`."""
    b = users.numel()
    rows = score_block_rows(n_items, users.device, max_rows)
    starts = list(range(0, b, rows))
    cuts = (torch.searchsorted(exclude[0], torch.tensor(starts + [b], device=exclude[0].device)).tolist()
            if exclude is not None else None)
    ranked: list[tuple[torch.Tensor, torch.Tensor]] = []
    for j, s in enumerate(starts):
        e = min(s + rows, b)
        with torch.no_grad():
            scores = score_fn(users[s:e])
        if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (e - s, n_items):
            shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
            raise ValueError(f"score_fn returned {shape} for {e - s} users; expected ({e - s}, {n_items})")
        if not scores.is_floating_point():
            scores = scores.float()
        elif _aliases_other_data(scores):
            scores = scores.clone()
        scores = scores.detach()
        if cuts is not None and cuts[j + 1] > cuts[j]:
            er = exclude[0][cuts[j]:cuts[j + 1]].to(scores.device) - s
            ei = exclude[1][cuts[j]:cuts[j + 1]].to(scores.device)
            scores.index_put_((er, ei), scores.new_full((), -math.inf))
        if blocked is not None:
            scores.index_fill_(1, blocked.to(scores.device), -math.inf)
        ranked.append(topk_ranking(scores, c))
    if not ranked:
        return (torch.empty(0, c, dtype=torch.long, device=users.device),
                torch.empty(0, c, device=users.device))
    if len(ranked) == 1:
        return ranked[0]
    return torch.cat([r[0] for r in ranked]), torch.cat([r[1] for r in ranked])


def _aliases_other_data(t: torch.Tensor) -> bool:
    """Whether ``t`` is a view or lives in a larger storage (e.g. rows of a score
    cache the caller keeps), so masking it in place would corrupt the caller's data."""
    return t._is_view() or t.untyped_storage().nbytes() != t.numel() * t.element_size()


def _lists_to_keys(lists: Sequence[Sequence[int]], n_items: int, what: str) -> np.ndarray:
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    items = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum()))
    if items.size and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"{what} contains item ids outside [0, {n_items})")
    return np.repeat(np.arange(len(lists), dtype=np.int64), lengths) * n_items + items


def topk_metrics(scores: torch.Tensor, truth: Sequence[Sequence[int]], ks: Sequence[int] = (10, 20),
                 exclude: Sequence[Sequence[int]] | None = None, batch_size: int = 1024) -> dict[str, float]:
    """Full-ranking top-K metrics of a ``users x items`` score matrix.

    ``truth[u]`` are user ``u``'s held-out item ids, ``exclude[u]`` items never
    ranked for ``u`` (scored ``-inf``; an item both excluded and in truth is
    dropped from truth). Returns ``recall@K``, ``ndcg@K``, ``precision@K``,
    ``hitrate@K``, ``mrr@K`` and ``coverage@K`` for each ``K``, averaged over
    users with non-empty truth (see the module docstring for the exact
    conventions and the id-ascending tie-break). ``scores`` is not modified;
    rows are processed ``batch_size`` at a time on the scores' device.
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must be 2-D (users x items), got shape {tuple(scores.shape)}")
    n_users, n_items = scores.shape
    if len(truth) != n_users:
        raise ValueError(f"truth has {len(truth)} users, scores has {n_users} rows")
    if exclude is not None and len(exclude) != n_users:
        raise ValueError(f"exclude has {len(exclude)} users, scores has {n_users} rows")
    excl = _lists_to_keys(exclude, n_items, "exclude") if exclude is not None else None
    task = RankingTask.from_keys(n_items, _lists_to_keys(truth, n_items, "truth"), excl)
    cache: dict[torch.device, TaskTensors] = {}

    def tensors_on(device: torch.device) -> TaskTensors:
        if device not in cache:
            cache[device] = task.tensors(device)
        return cache[device]

    # Advanced indexing copies, so masking in place never touches the caller's tensor.
    acc = run_ranking(task, lambda rows: scores[rows], tensors_on, ks, batch_size, scores.device)
    return acc.result()
