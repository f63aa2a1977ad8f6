"""Evaluator on a tiny synthetic Dataset equals topk_metrics with the right truth/exclusions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnnnas.data.dataset import Dataset, SplitData
from gnnnas.evaluation import Evaluator, evaluate, evaluate_detailed
from gnnnas.metrics import topk_metrics

N_USERS, N_ITEMS = 30, 25


def make_dataset(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    splits = {}
    for name, per_user in (("train", 8), ("val", 3), ("test", 3)):
        users, items = [], []
        for u in range(N_USERS):
            if name != "train" and u % 5 == 0:
                continue  # users without held-out items in this split
            k = int(rng.integers(1, per_user + 1))
            users += [u] * k
            items += rng.choice(N_ITEMS, size=k, replace=False).tolist()
        splits[name] = SplitData.from_pairs(np.array(users), np.array(items), N_USERS)
    # Make a few held-out items collide with train (real logs have repeats):
    # they must be dropped from truth, and user 7's val must vanish entirely.
    val_u, val_i = splits["val"].pairs()
    tr_u, tr_i = splits["train"].pairs()
    extra_u = np.concatenate([tr_u, val_u[val_u == 7], val_u[:2]])
    extra_i = np.concatenate([tr_i, val_i[val_u == 7], val_i[:2]])
    splits["train"] = SplitData.from_pairs(extra_u, extra_i, N_USERS)
    return Dataset(name="tiny", n_users=N_USERS, n_items=N_ITEMS, **splits,
                   user_ids=np.array([f"u{i}" for i in range(N_USERS)]),
                   item_ids=np.array([f"i{i}" for i in range(N_ITEMS)]))


def make_scores(seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(N_USERS, N_ITEMS, generator=gen) * 5).round()  # heavy ties


def lists(split: SplitData) -> list[list[int]]:
    return split.to_lists()


def union(*splits: SplitData) -> list[list[int]]:
    return [sorted(set().union(*(s.items_of(u).tolist() for s in splits))) for u in range(N_USERS)]


def assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-15), key


KS = (1, 5, 10)


def test_val_excludes_train():
    ds, scores = make_dataset(), make_scores()
    got = Evaluator(ds, "val", ks=KS)(lambda u: scores[u])
    assert_same(got, topk_metrics(scores, lists(ds.val), KS, exclude=lists(ds.train)))


def test_test_excludes_train_and_val():
    ds, scores = make_dataset(), make_scores(1)
    got = evaluate(lambda u: scores[u], ds, "test", ks=KS)
    assert_same(got, topk_metrics(scores, lists(ds.test), KS, exclude=union(ds.train, ds.val)))


def test_refitted_test_excludes_refitted_train_and_val_is_empty():
    ds = make_dataset().refit()
    scores = make_scores(2)
    got = evaluate(lambda u: scores[u], ds, "test", ks=KS)
    assert_same(got, topk_metrics(scores, lists(ds.test), KS, exclude=lists(ds.train)))
    ev = Evaluator(ds, "val", ks=KS)
    assert ev.n_users == 0
    with pytest.raises(ValueError, match="no user"):
        ev(lambda u: scores[u])


def test_batch_size_does_not_change_results():
    ds, scores = make_dataset(3), make_scores(3)
    big = evaluate(lambda u: scores[u], ds, "val", ks=KS, batch_size=1000)
    for bs in (1, 3):
        assert_same(evaluate(lambda u: scores[u], ds, "val", ks=KS, batch_size=bs), big)


def test_coverage_is_union_across_batches():
    ds, scores = make_dataset(4), make_scores(4)
    train = lists(ds.train)
    covered = {k: set() for k in KS}
    for u in range(N_USERS):
        truth = set(ds.val.items_of(u).tolist()) - set(train[u])
        if not truth:
            continue
        ranked = sorted((i for i in range(N_ITEMS) if i not in train[u]),
                        key=lambda i: (-scores[u, i].item(), i))
        for k in KS:
            covered[k].update(ranked[:k])
    got = evaluate(lambda u: scores[u], ds, "val", ks=KS, batch_size=2)
    for k in KS:
        assert got[f"coverage@{k}"] == len(covered[k]) / N_ITEMS


def test_detailed_counts_and_users_passed_to_score_fn():
    ds, scores = make_dataset(), make_scores()
    seen: list[int] = []

    def score_fn(users: torch.Tensor) -> torch.Tensor:
        assert users.dtype == torch.long
        seen.extend(users.tolist())
        return scores[users]

    res = evaluate_detailed(score_fn, ds, "val", ks=KS, batch_size=4)
    train = lists(ds.train)
    expected = [u for u in range(N_USERS) if set(ds.val.items_of(u).tolist()) - set(train[u])]
    assert 7 not in expected  # all of user 7's val items are in train
    assert seen == expected and res.n_users == len(expected) and res.split == "val"
    assert all(isinstance(v, float) for v in res.metrics.values())


def test_view_returned_by_score_fn_is_not_modified():
    base = make_dataset()
    every = SplitData.from_pairs(np.arange(N_USERS), np.arange(N_USERS) % N_ITEMS, N_USERS)
    u = np.repeat(np.arange(N_USERS), 4)
    train = SplitData.from_pairs(u, (u + np.tile(np.arange(1, 5), N_USERS)) % N_ITEMS, N_USERS)
    ds = Dataset(name="all", n_users=N_USERS, n_items=N_ITEMS, train=train, val=every, test=every,
                 user_ids=base.user_ids, item_ids=base.item_ids)
    scores = make_scores()
    before = scores.clone()
    ev = Evaluator(ds, "val", ks=KS, batch_size=7)
    assert ev.n_users == N_USERS  # users are contiguous, so slicing the cache works
    got = ev(lambda u: scores[int(u[0]):int(u[-1]) + 1])
    assert torch.equal(scores, before)
    assert_same(got, topk_metrics(scores, lists(every), KS, exclude=lists(train)))


def test_bad_inputs():
    ds, scores = make_dataset(), make_scores()
    with pytest.raises(ValueError):
        Evaluator(ds, "train")
    with pytest.raises(ValueError, match="expected"):
        evaluate(lambda u: scores[u][:, :-1], ds, "val")


def test_cpu_blocks_stay_cache_sized_for_large_catalogues(monkeypatch):
    from gnnnas.evaluation import metrics
    assert metrics.score_block_rows(100, "cpu", 1024) == 1024
    assert metrics.score_block_rows(39_003, "cpu", 1024) == metrics.CPU_BLOCK_ELEMS // 39_003 < 1024
    assert metrics.score_block_rows(10**8, "cpu", 1024) == 16  # never degenerate single-user blocks
    assert metrics.score_block_rows(10**8, "cpu", 4) == 4
    assert metrics.score_block_rows(39_003, "meta", 1024) == 1024  # accelerators keep the requested batch
    # the evaluator scores in those blocks, with unchanged results
    ds, scores = make_dataset(5), make_scores(5)
    sizes: list[int] = []

    def score_fn(users):
        sizes.append(users.numel())
        return scores[users]

    big = evaluate(lambda u: scores[u], ds, "val", ks=KS, batch_size=1000)
    monkeypatch.setattr(metrics, "CPU_BLOCK_ELEMS", 3 * N_ITEMS)
    monkeypatch.setattr(metrics, "_MIN_BLOCK_ROWS", 1)
    assert_same(evaluate(score_fn, ds, "val", ks=KS, batch_size=1000), big)
    assert max(sizes) == 3 and len(sizes) > 1
