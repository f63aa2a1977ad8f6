"""Fused score-and-select top-K (native kernel) against scoring, masking and ``topk_ranking``.

Embeddings are small integers, so every dot product is exact in float32 whatever the
summation order: the fused ranking must then equal the scored one bit for bit, ties included.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gnnnas.evaluation import Evaluator
from gnnnas.evaluation.metrics import rank_top, topk_ranking
from gnnnas.graph import native
from gnnnas.models.base import DotScorer

pytestmark = pytest.mark.skipif(native.kernels() is None, reason="native kernels unavailable (no C compiler)")


def integer_tables(n_users, n_items, d, low=-3, high=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(low, high, (n_users, d), generator=gen).float(),
            torch.randint(low, high, (n_items, d), generator=gen).float())


def random_exclusions(n_rows, n_items, most, seed=0):
    """(rows, items) sorted by row then item, as rank_top wants them."""
    rng = np.random.default_rng(seed)
    pairs = sorted({(r, int(i)) for r in range(n_rows) for i in rng.choice(n_items, rng.integers(0, most + 1),
                                                                           replace=False)})
    if not pairs:
        return None
    rows, items = zip(*pairs)
    return torch.tensor(rows), torch.tensor(items)


def reference(U, I, users, k, exclude=None, blocked=None):
    scores = U[users] @ I.T
    if exclude is not None:
        scores[exclude[0], exclude[1]] = -math.inf
    if blocked is not None:
        scores[:, blocked] = -math.inf
    return topk_ranking(scores, k)


@pytest.mark.parametrize("n_items,d,n_users,k", [
    (1000, 7, 13, 20),     # odd width, users not a multiple of the register tile
    (37, 5, 7, 10),        # catalogue shorter than a few panels, last panel partial
    (5000, 33, 40, 50),
    (300, 2, 25, 30),      # values in {0, 1}: ties everywhere, broken by item id across panels
])
def test_fused_ranking_equals_scored_ranking_bit_for_bit(n_items, d, n_users, k):
    low, high = (0, 2) if d == 2 else (-3, 4)
    U, I = integer_tables(n_users, n_items, d, low, high, seed=n_items)
    users = torch.arange(n_users).flip(0)  # any order of user ids
    exclude = random_exclusions(n_users, n_items, most=min(30, n_items // 3), seed=d)
    blocked = torch.tensor([0, 3, n_items - 1])
    scorer = DotScorer(U, I)
    assert scorer.fused
    got = rank_top(scorer, users, k, n_items, exclude, blocked)
    want = reference(U, I, users, k, exclude, blocked)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    fused = scorer.topk(users, min(k, n_items), exclude, blocked)
    assert fused is not None and bool((fused[2] == min(k, n_items)).all())  # really ranked by the kernel


def test_rows_with_fewer_rankable_items_than_k_take_the_scored_path():
    U, I = integer_tables(6, 30, 4, seed=1)
    U[2] = float("nan")  # every score NaN: nothing rankable
    rows = [0] * 12 + [4] * 29
    items = list(range(12)) + list(range(1, 30))
    exclude = (torch.tensor(rows), torch.tensor(items))
    scorer = DotScorer(U, I)
    found = scorer.topk(torch.arange(6), 25, exclude, None)[2]
    assert found.tolist() == [18, 25, 0, 25, 1, 25]
    got = rank_top(scorer, torch.arange(6), 25, 30, exclude)
    want = reference(U, I, torch.arange(6), 25, exclude)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert got[1][2].eq(-math.inf).all() and got[1][4][1:].eq(-math.inf).all()


def test_minus_infinity_scores_are_never_ranked_and_k_is_capped_by_the_catalogue():
    U, I = integer_tables(4, 9, 3, seed=2)
    I[5] = -math.inf * torch.ones(3)
    U[:, :] = torch.tensor([1.0, 1.0, 1.0])  # so item 5 scores -inf for everyone
    items, values = rank_top(DotScorer(U, I), torch.arange(4), 50, 9)
    want = reference(U, I, torch.arange(4), 50)
    assert items.shape == (4, 9)
    assert torch.equal(items, want[0]) and torch.equal(values, want[1])
    assert (items[:, -1] == 5).all() and values[:, -1].eq(-math.inf).all()


def test_same_result_with_one_or_many_threads_and_with_the_kernels_disabled():
    U, I = integer_tables(50, 2000, 16, low=-1, high=2, seed=3)  # heavy ties
    users = torch.arange(50)
    exclude = random_exclusions(50, 2000, most=40, seed=3)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = rank_top(DotScorer(U, I), users, 20, 2000, exclude)
        torch.set_num_threads(max(2, before))
        many = rank_top(DotScorer(U, I), users, 20, 2000, exclude)
    finally:
        torch.set_num_threads(before)
    with native.disabled():
        assert not DotScorer(U, I).fused
        plain = rank_top(DotScorer(U, I), users, 20, 2000, exclude)
    for got in (many, plain):
        assert torch.equal(one[0], got[0]) and torch.equal(one[1], got[1])


def test_evaluator_metrics_are_the_same_fused_or_scored(tiny_dataset):
    U, I = integer_tables(tiny_dataset.n_users, tiny_dataset.n_items, 6, seed=4)
    for split in ("val", "test"):
        evaluator = Evaluator(tiny_dataset, split, ks=(5, 20))
        fused = evaluator(DotScorer(U, I))
        with native.disabled():
            scored = evaluator(DotScorer(U, I))
        assert fused == scored
        assert fused["recall@20"] > 0  # non-trivial: some held-out items are ranked


def test_a_trained_models_metrics_and_recommendations_agree_fused_or_scored(tmp_path, tiny_dataset):
    import gnnnas
    from gnnnas.export import save_bundle
    from gnnnas.models.registry import override
    from gnnnas.pipeline import train_and_evaluate
    from gnnnas.training import TrainConfig

    arch = override(gnnnas.PRESETS["lightgcn"].spec, dim=24)
    report = train_and_evaluate(tiny_dataset, arch, TrainConfig(epochs=3, batch_size=256, progress=False))
    path = save_bundle(tmp_path / "b", report.arch, report.model, tiny_dataset, {"test": report.test}, {})
    rec = gnnnas.load(path)
    users = [str(u) for u in tiny_dataset.user_ids[:40]]
    fused_recs, fused_metrics = rec.recommend(users, k=10), rec.evaluate().metrics
    with native.disabled():
        scored_recs, scored_metrics = rec.recommend(users, k=10), rec.evaluate().metrics
    # float sums in another order: scores agree to rounding, rankings wherever scores do not tie to it
    assert fused_metrics == pytest.approx(scored_metrics, abs=0.02)
    for u in users:
        assert [i for i, _ in fused_recs[u]][:5] == [i for i, _ in scored_recs[u]][:5]
        assert [s for _, s in fused_recs[u]] == pytest.approx([s for _, s in scored_recs[u]], rel=1e-5, abs=1e-6)


def test_int8_artifacts_rank_fused_like_their_integer_scores():
    from gnnnas.compress.models import Int8Rows
    gen = torch.Generator().manual_seed(5)
    model = Int8Rows.from_embeddings(torch.randn(30, 40, generator=gen), torch.randn(500, 40, generator=gen))
    scorer = model.scorer()
    assert getattr(scorer, "fused", False)  # dequantised float tables, ranked by the kernel
    users = torch.arange(30)
    fused_items, fused_values = rank_top(scorer, users, 10, 500)
    scored_items, scored_values = topk_ranking(scorer(users), 10)  # the integer product's scores
    assert torch.equal(fused_items, scored_items)
    torch.testing.assert_close(fused_values, scored_values, rtol=1e-5, atol=1e-5)
