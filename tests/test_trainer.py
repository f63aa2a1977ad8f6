"""The training loop: it learns, stops early, restores the best weights, never reads test."""

from __future__ import annotations

from dataclasses import replace

import math

import numpy as np
import pytest
import torch

from gnnnas.data.dataset import SplitData
from gnnnas.evaluation import Evaluator
from gnnnas.graph import BipartiteGraph
from gnnnas.metrics import topk_metrics
from gnnnas.models import LightGCN, Popularity
from gnnnas.models.spec import ArchSpec, SpecError
from gnnnas.pipeline import train_and_evaluate, train_config
from gnnnas.training import NegativeSampler, TrainConfig, Trainer, TrainingDiverged
from gnnnas.training.losses import LOSSES


def make_model(ds, dim=16, layers=2, seed=0):
    torch.manual_seed(seed)
    return LightGCN(BipartiteGraph.from_split(ds.train, ds.n_items), dim, layers)


def test_negative_sampler_never_returns_training_positives(tiny_dataset):
    ds = tiny_dataset
    sampler = NegativeSampler(ds.train, ds.n_items, seed=1)
    users, pos, neg = sampler.epoch(k=4)
    assert neg.shape == (ds.train.nnz, 4)
    assert sorted(zip(users.tolist(), pos.tolist())) == sorted(zip(*[a.tolist() for a in ds.train.pairs()]))
    train_sets = [set(ds.train.items_of(u).tolist()) for u in range(ds.n_users)]
    assert not any(int(n) in train_sets[int(u)] for u, row in zip(users, neg) for n in row)
    assert neg.min() >= 0 and neg.max() < ds.n_items


def test_trainer_overfits_a_tiny_dataset(tiny_dataset):
    ds = tiny_dataset
    model = make_model(ds, dim=32, layers=0)  # plain MF: untrained scores are random
    cfg = TrainConfig(epochs=150, batch_size=128, lr=0.05, l2=0.0, eval_every=1000, progress=False)
    before = topk_metrics(model.score(torch.arange(ds.n_users)), ds.train.to_lists(), ks=(10,))["recall@10"]
    result = Trainer(model, replace(ds, val=ds.val.from_pairs([], [], ds.n_users)), cfg).fit()
    after = topk_metrics(model.score(torch.arange(ds.n_users)), ds.train.to_lists(), ks=(10,))["recall@10"]
    assert result.history[-1]["loss"] < 0.05 * result.history[0]["loss"]
    assert before < 0.3 and after > 0.9  # it has memorised the training interactions


def test_early_stopping_restores_the_best_epoch(tiny_dataset):
    ds = tiny_dataset
    model = make_model(ds)
    snapshots = {}

    def remember(event):
        snapshots[event.epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    # A large learning rate makes validation quality peak early and then fall.
    cfg = TrainConfig(epochs=200, batch_size=64, lr=0.3, l2=0.0, patience=3, metric="ndcg@10", progress=False)
    result = Trainer(model, ds, cfg, callbacks=[remember]).fit()
    assert result.stopped == "early_stopping"
    assert result.best_epoch < result.epochs_run
    values = [row["val_ndcg@10"] for row in result.history]
    assert result.best_epoch == int(np.argmax(values)) + 1
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, snapshots[result.best_epoch][name]), name
    assert not all(torch.equal(t, snapshots[result.epochs_run][n]) for n, t in model.state_dict().items())
    again = Evaluator(ds, "val", ks=cfg.ks)(model.scorer())
    assert again == pytest.approx(result.best_val)


def test_callback_stops_training(tiny_dataset):
    model = make_model(tiny_dataset)
    cfg = TrainConfig(epochs=50, batch_size=64, progress=False)
    result = Trainer(model, tiny_dataset, cfg, callbacks=[lambda e: e.epoch >= 2]).fit()
    assert result.epochs_run == 2 and result.stopped == "callback"


def test_deadline_stops_mid_epoch_and_keeps_the_best_evaluated_weights(tiny_dataset, monkeypatch):
    import gnnnas.training.trainer as trainer_mod

    model = make_model(tiny_dataset)
    cfg = TrainConfig(epochs=50, batch_size=16, eval_every=1, patience=50, progress=False)
    trainer = Trainer(model, tiny_dataset, cfg, deadline=1000.0)
    n_batches = -(-tiny_dataset.train.nnz // cfg.batch_size)
    assert n_batches >= 4
    clock = iter(range(10**6))  # one tick per batch: the deadline falls inside the third epoch
    monkeypatch.setattr(trainer_mod.time, "monotonic", lambda: 1000.0 - 2.5 * n_batches + next(clock))
    snapshots = {}
    trainer.callbacks.append(lambda e: snapshots.__setitem__(e.epoch, {k: v.clone() for k, v in model.state_dict().items()}))
    result = trainer.fit()
    assert result.stopped == "deadline" and result.epochs_run == 2 and len(result.epoch_seconds) == 2
    assert sorted(snapshots) == [1, 2] and result.best_epoch in (1, 2)
    for name, tensor in model.state_dict().items():  # the half-trained third epoch is thrown away
        assert torch.equal(tensor, snapshots[result.best_epoch][name]), name


def _ticking_trainer(tiny_dataset, monkeypatch, batch_size, ticks_before_limit, **cfg_args):
    """A trainer whose clock ticks once per mini-batch check and passes its time limit after ``ticks_before_limit``."""
    import gnnnas.training.trainer as trainer_mod

    model = make_model(tiny_dataset)
    cfg = TrainConfig(epochs=50, batch_size=batch_size, patience=50, progress=False, **cfg_args)
    trainer = Trainer(model, tiny_dataset, cfg, time_limit=1000.0)
    clock = iter(range(10**6))
    monkeypatch.setattr(trainer_mod.time, "monotonic", lambda: 1000.0 - ticks_before_limit + next(clock))
    snapshots = {}
    trainer.callbacks.append(lambda e: snapshots.__setitem__(e.epoch, {k: v.clone() for k, v in model.state_dict().items()}))
    return model, trainer, snapshots


def test_time_limit_evaluates_the_weights_trained_since_the_last_evaluation(tiny_dataset, monkeypatch):
    n_batches = -(-tiny_dataset.train.nnz // 16)
    assert n_batches >= 4
    # evaluations every 2 epochs; the limit falls in the middle of the third epoch
    model, trainer, snapshots = _ticking_trainer(tiny_dataset, monkeypatch, 16, int(2.5 * n_batches), eval_every=2)
    result = trainer.fit()
    assert result.stopped == "time_limit" and result.epochs_run == 3 and len(result.epoch_seconds) == 2
    assert sorted(snapshots) == [2, 3]  # epoch 3, cut short, was judged on what it had learned
    assert [row["epoch"] for row in result.history] == [1, 2, 3] and "val_ndcg@20" in result.history[-1]
    assert any(not torch.equal(snapshots[2][k], snapshots[3][k]) for k in snapshots[2])  # half an epoch trained
    assert result.best_epoch in (2, 3)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, snapshots[result.best_epoch][name]), name


def test_time_limit_between_epochs_evaluates_the_last_finished_one_once(tiny_dataset, monkeypatch):
    n_batches = -(-tiny_dataset.train.nnz // 16)
    # the limit is noticed at the first batch of epoch 2; epoch 1 (eval_every 2) was never evaluated
    _, trainer, snapshots = _ticking_trainer(tiny_dataset, monkeypatch, 16, n_batches, eval_every=2)
    result = trainer.fit()
    assert result.stopped == "time_limit" and result.epochs_run == 1 and result.best_epoch == 1
    assert sorted(snapshots) == [1] and [row["epoch"] for row in result.history] == [1]


def test_time_limit_before_any_step_and_the_hard_deadline_evaluate_nothing(tiny_dataset):
    import time

    model = make_model(tiny_dataset)
    cfg = TrainConfig(epochs=5, batch_size=64, progress=False)
    result = Trainer(model, tiny_dataset, cfg, time_limit=time.monotonic() - 1).fit()
    assert result.stopped == "time_limit" and result.epochs_run == 0 and result.best_epoch == 0
    # both passed: the hard deadline wins, and it never evaluates
    result = Trainer(make_model(tiny_dataset), tiny_dataset, cfg, deadline=time.monotonic() - 1,
                     time_limit=time.monotonic() - 1).fit()
    assert result.stopped == "deadline" and result.best_epoch == 0 and not result.eval_seconds


def test_deadline_in_the_past_trains_nothing(tiny_dataset):
    import time

    model = make_model(tiny_dataset)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(epochs=5, batch_size=64, progress=False)
    result = Trainer(model, tiny_dataset, cfg, deadline=time.monotonic() - 1).fit()
    assert result.stopped == "deadline" and result.epochs_run == 0 and result.best_epoch == 0
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_training_is_deterministic_per_seed(tiny_dataset):
    def run(seed):
        model = make_model(tiny_dataset, seed=seed)
        res = Trainer(model, tiny_dataset, TrainConfig(epochs=3, batch_size=64, seed=seed, progress=False)).fit()
        return [r["loss"] for r in res.history], model.user_embedding.weight.detach().clone()

    (loss_a, w_a), (loss_b, w_b), (loss_c, _) = run(0), run(0), run(1)
    assert loss_a == loss_b and torch.equal(w_a, w_b)
    assert loss_a != loss_c


def test_nan_loss_is_reported_as_divergence(tiny_dataset):
    model = make_model(tiny_dataset)
    with torch.no_grad():
        model.user_embedding.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged):
        Trainer(model, tiny_dataset, TrainConfig(epochs=2, batch_size=64, progress=False)).fit()


class _Untouchable:
    def __getattr__(self, name):
        raise AssertionError(f"the test split was read during training ({name})")


def test_training_and_selection_never_read_the_test_split(tiny_dataset):
    ds = replace(tiny_dataset, test=_Untouchable())
    result = Trainer(make_model(ds), ds, TrainConfig(epochs=3, batch_size=64, progress=False)).fit()
    assert result.best_epoch >= 1 and result.best_val


def test_lightgcn_beats_popularity_and_refit_trains_on_validation(tiny_dataset):
    cfg = TrainConfig(epochs=40, batch_size=64, lr=0.01, patience=5, progress=False)
    pop = train_and_evaluate(tiny_dataset, "popularity", config=cfg)
    assert isinstance(pop.model, Popularity) and pop.result.epochs_run == 0
    lgn = train_and_evaluate(tiny_dataset, "lightgcn", config=cfg)
    assert lgn.test["recall@20"] > pop.test["recall@20"]
    refit = train_and_evaluate(tiny_dataset, "lightgcn", config=cfg, refit=True)
    assert refit.refit and refit.to_dict()["refit"]
    assert refit.model.graph.num_edges == tiny_dataset.train.nnz + tiny_dataset.val.nnz


def test_checkpoints_evaluate_mid_epoch_once_each_and_stay_out_of_the_history(tiny_dataset):
    n_batches = -(-tiny_dataset.train.nnz // 16)
    assert n_batches >= 4
    model = make_model(tiny_dataset)
    cfg = TrainConfig(epochs=2, batch_size=16, eval_every=2, patience=50, progress=False)
    events = []
    # both times have passed at the second batch of epoch 1: one evaluation serves them
    result = Trainer(model, tiny_dataset, cfg, callbacks=[events.append], eval_at=(0.0, 1e-9)).fit()
    assert [(e.epoch, e.kind) for e in events] == [(1, "checkpoint"), (2, "epoch")]
    assert [row["epoch"] for row in result.history] == [1, 2] and "val_ndcg@20" not in result.history[0]
    assert result.epochs_run == 2 and result.stopped == "max_epochs"


def test_a_scheduled_evaluation_serves_a_checkpoint_and_a_callback_may_stop_at_one(tiny_dataset):
    cfg = TrainConfig(epochs=3, batch_size=10**6, eval_every=1, patience=50, progress=False)  # one batch an epoch
    events = []
    Trainer(make_model(tiny_dataset), tiny_dataset, cfg, callbacks=[events.append], eval_at=(0.0,)).fit()
    assert [e.kind for e in events] == ["epoch"] * 3  # epoch 1's evaluation came after the checkpoint's time
    cfg = TrainConfig(epochs=3, batch_size=16, eval_every=1, patience=50, progress=False)
    result = Trainer(make_model(tiny_dataset), tiny_dataset, cfg, callbacks=[lambda e: e.kind == "checkpoint"],
                     eval_at=(0.0,)).fit()
    assert result.stopped == "callback" and result.epochs_run == 1 and result.best_epoch == 1
    assert result.history == []  # stopped inside epoch 1: no finished epoch to record


# --- sampled softmax and batch-shared negatives ---------------------------------
def test_sampled_softmax_is_its_equation_and_ignores_masked_negatives():
    pos = torch.tensor([2.0, -1.0], requires_grad=True)
    neg = torch.tensor([[1.0, 0.5, -math.inf], [0.0, -math.inf, -math.inf]], requires_grad=True)
    loss = LOSSES["softmax"](pos, neg)
    by_hand = (-math.log(math.exp(2) / (math.exp(2) + math.exp(1) + math.exp(0.5)))
               - math.log(math.exp(-1) / (math.exp(-1) + 1))) / 2
    assert loss.item() == pytest.approx(by_hand)
    loss.backward()
    assert torch.all(neg.grad[torch.isinf(neg)] == 0) and torch.all(neg.grad[~torch.isinf(neg)] > 0)
    assert torch.all(pos.grad < 0)  # raising a positive's score lowers the loss
    # a masked negative contributes nothing to BPR either (it is counted in the mean, like a solved pair)
    assert LOSSES["bpr"](pos, neg).item() == pytest.approx(
        (math.log1p(math.exp(-1)) + math.log1p(math.exp(-1.5)) + math.log1p(math.exp(1))) / 6)


def test_shared_negatives_come_from_the_pool_of_items():
    train = SplitData.from_pairs(np.array([0, 0, 1]), np.array([1, 2, 3]), n_users=2)
    sampler = NegativeSampler(train, 50, seed=0, excluded_items=np.arange(40, 50))
    shared = sampler.shared(7, 300)
    assert shared.shape == (7, 300) and shared.min() >= 0 and shared.max() < 40
    assert len(np.unique(shared)) == 40  # uniform over the pool: 2,100 draws leave no item out


def test_trainer_scores_shared_negatives_against_every_user_and_masks_accidental_hits(tiny_dataset, monkeypatch):
    ds, batch, k, shared_k = tiny_dataset, 32, 2, 3 * tiny_dataset.n_items
    drawn, seen, epochs = [], [], []
    original_shared, original_epoch = NegativeSampler.shared, NegativeSampler.epoch
    monkeypatch.setattr(NegativeSampler, "shared", lambda self, b, n: drawn.append(original_shared(self, b, n))
                        or drawn[-1])
    monkeypatch.setattr(NegativeSampler, "epoch", lambda self, n=1: epochs.append(original_epoch(self, n))
                        or epochs[-1])

    def spy(pos, neg):
        seen.append(neg.detach().clone())
        return LOSSES["softmax"](pos, neg)

    monkeypatch.setitem(LOSSES, "spy", spy)
    model = make_model(ds)
    cfg = TrainConfig(epochs=1, batch_size=batch, num_negatives=k, shared_negatives=shared_k, loss="spy",
                      eval_every=10, progress=False)
    Trainer(model, ds, cfg).fit()
    (users, pos, _), = epochs
    assert len(drawn) == 1 and drawn[0].shape == (len(seen), shared_k)
    for b, neg in enumerate(seen):
        p = torch.from_numpy(pos[b * batch:(b + 1) * batch])
        shared = torch.from_numpy(drawn[0][b])
        assert neg.shape == (p.numel(), k + shared_k)
        hits = shared.unsqueeze(0) == p.unsqueeze(1)
        assert hits.any()  # with 3 draws per item, every batch holds some
        assert torch.equal(torch.isinf(neg[:, k:]), hits) and not torch.isinf(neg[:, :k]).any()
    assert len(seen) >= 2


def test_softmax_with_shared_negatives_learns(tiny_dataset):
    ds = tiny_dataset
    model = make_model(ds, dim=32, layers=0)
    cfg = TrainConfig(epochs=60, batch_size=128, lr=0.05, l2=0.0, loss="softmax", shared_negatives=32,
                      eval_every=1000, progress=False)
    before = topk_metrics(model.score(torch.arange(ds.n_users)), ds.train.to_lists(), ks=(10,))["recall@10"]
    result = Trainer(model, replace(ds, val=ds.val.from_pairs([], [], ds.n_users)), cfg).fit()
    after = topk_metrics(model.score(torch.arange(ds.n_users)), ds.train.to_lists(), ks=(10,))["recall@10"]
    # the loss cannot reach 0: a user's other positives among the shared draws count as negatives
    assert result.history[-1]["loss"] < 0.8 * result.history[0]["loss"]
    assert before < 0.3 and after > 0.9, after


def test_edge_dropout_reaches_training_only_where_layers_propagate():
    mf = ArchSpec.from_dict({"embedding_dim": 16, "edge_dropout": 0.2})
    one_layer = ArchSpec.from_dict({"embedding_dim": 16, "edge_dropout": 0.2, "layers": [{"aggregator": "lightgcn"}]})
    assert train_config(mf, TrainConfig()).edge_dropout == 0.0
    assert train_config(one_layer, TrainConfig()).edge_dropout == 0.2


def test_spec_carries_shared_negatives_into_training(tiny_dataset):
    spec = ArchSpec.from_dict({"embedding_dim": 16, "training": {"loss": "softmax", "shared_negatives": 64}})
    assert train_config(spec, TrainConfig()).shared_negatives == 64
    assert train_config(spec, TrainConfig()).loss == "softmax"
    assert str(spec).endswith("neg 1+64 shared")
    assert ArchSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match=r"training\.shared_negatives.*-1.*an integer >= 0"):
        ArchSpec.from_dict({"training": {"shared_negatives": -1}})
