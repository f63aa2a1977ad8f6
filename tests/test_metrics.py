"""topk_metrics / topk_ranking against a plain-Python reference and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gnnnas.metrics
from gnnnas.evaluation import metrics as core
from gnnnas.metrics import METRICS, metric_names, topk_metrics, topk_ranking


def reference_metrics(scores, truth, ks, exclude=None):
    """Deliberately naive: full sorted() per user with key (-score, item id)."""
    n_users, n_items = len(scores), len(scores[0])
    sums = {f"{m}@{k}": 0.0 for k in ks for m in METRICS}
    covered = {k: set() for k in ks}
    evaluated = 0
    for u in range(n_users):
        excl = set(exclude[u]) if exclude is not None else set()
        t = set(truth[u]) - excl
        if not t:
            continue
        evaluated += 1
        rankable = [(s, i) for i, s in enumerate(scores[u])
                    if i not in excl and not math.isnan(s) and s != -math.inf]
        ranked = [i for s, i in sorted(rankable, key=lambda p: (-p[0], p[1]))]
        for k in ks:
            top = ranked[:k]
            covered[k].update(top)
            rel = [1 if i in t else 0 for i in top]
            hits = sum(rel)
            dcg = sum(r / math.log2(p + 2) for p, r in enumerate(rel))
            idcg = sum(1 / math.log2(p + 2) for p in range(min(k, len(t))))
            first = next((p for p, r in enumerate(rel) if r), None)
            sums[f"recall@{k}"] += hits / len(t)
            sums[f"precision@{k}"] += hits / k
            sums[f"ndcg@{k}"] += dcg / idcg
            sums[f"hitrate@{k}"] += 1.0 if hits else 0.0
            sums[f"mrr@{k}"] += 1.0 / (first + 1) if first is not None else 0.0
    out = {}
    for k in ks:
        for m in METRICS:
            key = f"{m}@{k}"
            out[key] = len(covered[k]) / n_items if m == "coverage" else sums[key] / evaluated
    return out


def assert_close(got, want):
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key


def random_case(seed, n_users=40, n_items=30, kind="float"):
    rng = np.random.default_rng(seed)
    if kind == "float":
        scores = rng.standard_normal((n_users, n_items))
    elif kind == "decimal":  # many ties
        scores = np.round(rng.random((n_users, n_items)), 1)
    else:  # "int": massive ties
        scores = rng.integers(0, 3, (n_users, n_items)).astype(float)
    truth, exclude = [], []
    for u in range(n_users):
        r = u % 8
        if r == 0:
            truth.append([])  # no truth: skipped
        elif r == 1:
            truth.append([int(rng.integers(n_items))])  # fewer than K held out
        else:
            truth.append(rng.choice(n_items, size=int(rng.integers(1, 15)), replace=False).tolist())
        if r == 2:
            # fewer rankable items than K, some of them held out
            exclude.append(rng.choice(n_items, size=n_items - 3, replace=False).tolist())
        elif r == 3:
            exclude.append(list(truth[-1]))  # every truth item excluded: user skipped
        elif r == 4:
            exclude.append(truth[-1][:1] + [int(i) for i in rng.choice(n_items, size=5)])  # overlap + dupes
        else:
            exclude.append(rng.choice(n_items, size=int(rng.integers(0, 10)), replace=False).tolist())
    return scores, truth, exclude


@pytest.mark.parametrize("kind", ["float", "decimal", "int"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference_random(kind, seed):
    scores, truth, exclude = random_case(seed, kind=kind)
    ks = (1, 3, 5, 10, 20)
    want = reference_metrics(scores.tolist(), truth, ks, exclude)
    t = torch.tensor(scores, dtype=torch.float64)
    before = t.clone()
    assert_close(topk_metrics(t, truth, ks, exclude), want)
    assert_close(topk_metrics(t, truth, ks, exclude, batch_size=3), want)
    assert torch.equal(t, before)  # caller's scores untouched


def test_float32_and_no_exclusion():
    scores, truth, _ = random_case(5, kind="decimal")
    want = reference_metrics(np.float32(scores).astype(float).tolist(), truth, (5, 10))
    assert_close(topk_metrics(torch.tensor(scores, dtype=torch.float32), truth, (10, 5)), want)


def test_k_larger_than_catalogue_and_minus_inf_scores():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random((12, 6)), 1)
    scores[scores < 0.2] = -np.inf  # the model's own -inf: never ranked, never a hit
    scores[4, 2] = np.nan  # NaN ranks like -inf
    truth = [[0, 1, 2, 3] if u % 2 else [5] for u in range(12)]
    exclude = [[4] if u % 3 == 0 else [] for u in range(12)]
    want = reference_metrics(scores.tolist(), truth, (3, 6, 10), exclude)
    assert_close(topk_metrics(torch.tensor(scores), truth, (3, 6, 10), exclude), want)


def test_hand_computed_single_user():
    # ranking: 4 (0.9), 1 (0.8), 0 (0.5), 2 (0.5, tie -> after 0), 3 (0.1)
    scores = torch.tensor([[0.5, 0.8, 0.5, 0.1, 0.9]])
    got = topk_metrics(scores, [[2, 1]], ks=(1, 2, 4))
    assert got["recall@1"] == 0 and got["mrr@1"] == 0 and got["ndcg@1"] == 0
    assert got["recall@2"] == pytest.approx(0.5)
    assert got["precision@2"] == pytest.approx(0.5)
    assert got["mrr@2"] == pytest.approx(0.5)
    assert got["ndcg@2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # hits at positions 1 and 3 (0-based): item 2 ranks after tied item 0
    assert got["recall@4"] == pytest.approx(1.0)
    assert got["hitrate@4"] == 1.0
    assert got["ndcg@4"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert got["coverage@2"] == pytest.approx(2 / 5)
    assert list(got) == metric_names((1, 2, 4))


def test_excluded_truth_item_dropped_and_users_without_truth_skipped():
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    # user 0: item 0 excluded and dropped from truth -> truth {1}, ranked first
    # user 1: truth only item 3, but it is excluded -> skipped; user 2: no truth
    got = topk_metrics(scores, [[0, 1], [3], []], ks=(1,), exclude=[[0], [3], []])
    assert got["recall@1"] == 1.0 and got["ndcg@1"] == 1.0 and got["mrr@1"] == 1.0
    assert got["coverage@1"] == 0.25  # only user 0's list counts


def test_boundary_ties_prefer_lower_ids():
    n = 50
    scores = torch.zeros(2, n)
    scores[1, 40:] = 1.0  # ten items above the tie, then 40 tied
    got = topk_metrics(scores, [list(range(5)), list(range(40, 50)) + [0, 1]], ks=(5, 12))
    assert got["recall@5"] == pytest.approx((1.0 + 5 / 12) / 2)
    assert got["precision@12"] == pytest.approx((5 / 12 + 1.0) / 2)
    assert got["coverage@12"] == pytest.approx(22 / 50)  # {0..11} U {40..49, 0, 1}


@pytest.mark.parametrize("k", [1, 4, 7, 9, 12])
def test_topk_ranking_equals_stable_sort(k, monkeypatch):
    monkeypatch.setattr(core, "_TIE_CHUNK_ELEMS", 16)  # exercise the chunked tie fallback
    gen = torch.Generator().manual_seed(k)
    scores = torch.randint(0, 4, (25, 9), generator=gen).float()
    scores[3] = 1.0
    scores[5, :4] = -math.inf
    scores[6, 2] = math.inf
    scores[7, 3] = math.nan
    items, values = topk_ranking(scores, k)
    clean = torch.nan_to_num(scores, nan=-math.inf, posinf=math.inf, neginf=-math.inf)
    for r in range(scores.shape[0]):
        want = sorted(range(9), key=lambda i: (-clean[r, i].item(), i))[: min(k, 9)]
        finite = clean[r, want] > -math.inf
        # -inf slots are unranked, so only the ranked prefix has to agree
        assert items[r][finite].tolist() == [i for i, f in zip(want, finite) if f]
        assert torch.equal(values[r][finite], clean[r, want][finite])


def _reference_topk(scores: torch.Tensor, k: int) -> tuple[list[list[int]], torch.Tensor]:
    clean = torch.nan_to_num(scores, nan=-math.inf, posinf=math.inf, neginf=-math.inf)
    n = scores.shape[1]
    return [sorted(range(n), key=lambda i: (-clean[r, i].item(), i))[: min(k, n)] for r in range(len(scores))], clean


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_grouped_prefilter_equals_stable_sort(k, monkeypatch):
    # Groups of 3 items, so a 50-item row takes the CPU prefilter path; integer scores tie often,
    # including across group boundaries, which must send those rows to the full path.
    monkeypatch.setattr(core, "_GROUP_SIZE", 3)
    monkeypatch.setattr(core, "_GROUP_MIN_FACTOR", 1)
    calls = []
    real = core._topk_by_groups
    monkeypatch.setattr(core, "_topk_by_groups", lambda s, c: calls.append(c) or real(s, c))
    gen = torch.Generator().manual_seed(100 + k)
    scores = torch.cat([torch.randint(0, 6, (20, 50), generator=gen).float(),
                        torch.rand(20, 50, generator=gen)])  # distinct values: the fast path is exact
    scores[3] = 1.0
    scores[5, :45] = -math.inf
    scores[6, 20] = math.inf
    scores[7, 31] = math.nan
    scores[25, 48:] = 5.0  # the best items sit in the short tail group (48, 49)
    items, values = topk_ranking(scores, k)
    assert calls == [k]
    want, clean = _reference_topk(scores, k)
    for r in range(scores.shape[0]):
        finite = clean[r, want[r]] > -math.inf
        assert items[r][finite].tolist() == [i for i, f in zip(want[r], finite) if f]
        assert torch.equal(values[r][finite], clean[r, want[r]][finite])


def test_grouped_prefilter_at_catalogue_size():
    gen = torch.Generator().manual_seed(3)
    scores = torch.randn(40, 39_003, generator=gen)
    scores[1, :39_000] = -math.inf  # most items excluded: the boundary group maxima tie at -inf
    scores[2, 1000:1100] = 9.0      # a 100-way tie at the top, across group boundaries
    items, values = topk_ranking(scores, 20)
    exact_items, exact_values = core._topk_exact(scores, 20)
    assert torch.equal(items, exact_items) and torch.equal(values, exact_values)
    assert items[2].tolist() == list(range(1000, 1020))
    order = scores[0].argsort(descending=True, stable=True)[:20]
    assert items[0].tolist() == order.tolist()


def test_non_float_scores_and_module_alias():
    assert gnnnas.metrics.topk_metrics is topk_metrics
    scores = torch.tensor([[2, 1, 1, 0], [0, 1, 1, 2]])
    got = topk_metrics(scores, [[2], [1]], ks=(2,))
    assert got["recall@2"] == 0.5 and got["mrr@2"] == 0.25


def test_input_errors():
    scores = torch.zeros(2, 3)
    with pytest.raises(ValueError):
        topk_metrics(scores, [[0]], ks=(1,))
    with pytest.raises(ValueError):
        topk_metrics(scores, [[0], [3]], ks=(1,))
    with pytest.raises(ValueError):
        topk_metrics(scores, [[0], [1]], ks=(0,))
    with pytest.raises(ValueError, match="no user"):
        topk_metrics(scores, [[], []], ks=(1,))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    scores, truth, exclude = random_case(7, n_users=300, n_items=500, kind="decimal")
    t = torch.tensor(scores, dtype=torch.float32)
    assert_close(topk_metrics(t.cuda(), truth, (10, 20), exclude, batch_size=64),
                 topk_metrics(t, truth, (10, 20), exclude))
