"""The training loop every candidate architecture goes through.

Per epoch: every training pair once with uniformly sampled negatives (its
own, plus any the mini-batch shares among its users); every mini-batch
propagates through the model (full graph), scores the batch and steps Adam
on the loss plus LightGCN's L2 term on the batch's layer-0 embeddings.
Every ``eval_every`` epochs the validation split is ranked in full; the best
epoch's weights are kept and restored at the end (early stopping with
``patience`` evaluations). The test split is never read here.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from gnnnas.data.dataset import Dataset
from gnnnas.device import synchronize
from gnnnas.evaluation import COLD_PREFIX, Evaluator
from gnnnas.graph import BipartiteGraph, dropout_edges
from gnnnas.models.base import Recommender
from gnnnas.training.config import TrainConfig
from gnnnas.training.losses import LOSSES
from gnnnas.training.sampler import NegativeSampler


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class EvalEvent:
    """What a callback sees after each validation evaluation."""

    epoch: int
    metrics: dict[str, float]
    value: float  # the monitored metric this evaluation
    best_value: float
    best_epoch: int
    #: "epoch" (a scheduled evaluation), "checkpoint" (one of ``eval_at``, mid-epoch if need be) or
    #: "time_limit" (the budget's last evaluation: training is over whatever the callbacks say)
    kind: str = "epoch"


Callback = Callable[[EvalEvent], "bool | None"]  # returning True stops training


@dataclass
class TrainResult:
    best_epoch: int  # 0 when no evaluation ran (no validation split)
    best_val: dict[str, float]
    epochs_run: int
    epoch_seconds: list[float]  # training time per epoch, evaluation excluded
    eval_seconds: list[float]
    history: list[dict] = field(default_factory=list)  # one row per epoch: epoch, loss, val metrics when evaluated
    stopped: str = "max_epochs"  # max_epochs | early_stopping | callback | deadline | time_limit

    @property
    def median_epoch_seconds(self) -> float:
        return float(np.median(self.epoch_seconds)) if self.epoch_seconds else 0.0


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


class _CallbackStop(Exception):
    """A callback stopped training at a checkpoint evaluation."""


class _DeadlineReached(Exception):
    def __init__(self, reason: str, loss: float):
        super().__init__(reason)
        self.reason = reason  # "deadline" | "time_limit"
        self.loss = loss  # mean loss of the epoch's batches before the stop (NaN: none)


@dataclass
class _Best:
    value: float = -math.inf
    state: dict | None = None
    evals_since: int = 0


class Trainer:
    """Trains one :class:`Recommender` on a :class:`Dataset` with a :class:`TrainConfig`.

    ``deadline`` (a :func:`time.monotonic` time) stops training at the first
    mini-batch past it, mid-epoch if need be: a search's time limits must hold
    even for candidates whose epochs take minutes. The unfinished epoch is
    dropped and the best evaluated weights are restored, as after early stopping.

    ``time_limit`` (also a :func:`time.monotonic` time) is a training budget,
    like ``epochs``: it stops training the same way, but what was trained
    since the last evaluation is evaluated once more first (labelled with the
    epoch it interrupted), so a candidate whose epochs are slow is judged on
    what it learned within its budget instead of leaving no result. When both
    have passed, ``deadline`` wins: no evaluation.

    ``eval_at`` (seconds since :meth:`fit` started) asks for extra evaluations
    once each of those times has passed, in the middle of an epoch if need be,
    unless a scheduled one came after it (labelled like the time limit's, with
    the epoch they interrupt). A search that prunes by training time uses them
    to judge candidates whose epochs are longer than its first rungs.
    """

    def __init__(self, model: Recommender, dataset: Dataset, config: TrainConfig,
                 graph: BipartiteGraph | None = None, callbacks: list[Callback] | None = None,
                 deadline: float | None = None, time_limit: float | None = None, eval_at: Sequence[float] = ()):
        if config.loss not in LOSSES:
            raise ValueError(f"unknown loss {config.loss!r}; expected one of {sorted(LOSSES)}")
        self.model, self.dataset, self.config = model, dataset, config
        self.device = model.device
        self.graph = graph if graph is not None else getattr(model, "graph", None)
        self.callbacks = list(callbacks or [])
        self.deadline = deadline
        self.time_limit = time_limit
        self.eval_at = sorted(float(t) for t in eval_at)
        self._checkpoints: list[float] = []  # monotonic times of eval_at not yet served, set by fit()
        self._checkpoint: Callable[[], bool] | None = None  # evaluates now; True: a callback stops training
        self.loss_fn = LOSSES[config.loss]
        self.sampler = NegativeSampler(dataset.train, dataset.n_items, seed=config.seed,
                                       excluded_items=dataset.cold_items)
        self._has_val = dataset.val.nnz > 0
        self.evaluator = (Evaluator(dataset, "val", ks=config.ks, batch_size=config.eval_batch_size,
                                    device=self.device) if self._has_val else None)
        # Cold validation metrics join the warm ones as cold_<name>, so either can drive early stopping.
        self.cold_evaluator = None
        if self.evaluator is not None and dataset.has_cold:
            cold = Evaluator(dataset, "val_cold", ks=config.ks, batch_size=config.eval_batch_size, device=self.device)
            self.cold_evaluator = cold if cold.n_users else None
        self._dropout_rng = np.random.default_rng(config.seed + 1)
        self._optimizer: torch.optim.Optimizer | None = None
        self._epoch_steps = 0  # optimizer steps of the current epoch
        self._unevaluated_steps = 0  # optimizer steps since the last evaluation

    def _stop_reason(self) -> str | None:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            return "deadline"
        if self.time_limit is not None and now >= self.time_limit:
            return "time_limit"
        return None

    def train_epoch(self) -> tuple[float, float]:
        """One pass over the training pairs: (mean loss, seconds). Evaluation is not included."""
        if self._optimizer is None:
            self._optimizer = self._make_optimizer()
        self.model.train()
        synchronize(self.device)
        started = time.perf_counter()
        loss = self._epoch(self._optimizer)
        synchronize(self.device)
        return loss, time.perf_counter() - started

    def _epoch(self, optimizer: torch.optim.Optimizer) -> float:
        cfg, model = self.config, self.model
        users, pos, neg = self.sampler.epoch(cfg.num_negatives)
        users_t = torch.from_numpy(users).to(self.device)
        pos_t = torch.from_numpy(pos).to(self.device)
        neg_t = torch.from_numpy(neg).to(self.device)
        shared_t = None
        if cfg.shared_negatives:
            batches = -(-users.size // cfg.batch_size)
            shared_t = torch.from_numpy(self.sampler.shared(batches, cfg.shared_negatives)).to(self.device)
        tables = model.embedding_tables()
        total, n = torch.zeros((), device=self.device), 0
        self._epoch_steps = 0
        timed = self.deadline is not None or self.time_limit is not None
        for start in range(0, users.size, cfg.batch_size):
            reason = self._stop_reason() if timed else None
            if reason is not None:
                if cfg.edge_dropout > 0 and self.graph is not None:
                    model.set_graph(self.graph)
                raise _DeadlineReached(reason, float(total) / n if n else math.nan)
            if self._checkpoints and time.monotonic() >= self._checkpoints[0] and self._unevaluated_steps:
                if cfg.edge_dropout > 0 and self.graph is not None:
                    model.set_graph(self.graph)
                if self._checkpoint is not None and self._checkpoint():
                    raise _CallbackStop()
                model.train()
            u = users_t[start:start + cfg.batch_size]
            p = pos_t[start:start + cfg.batch_size]
            q = neg_t[start:start + cfg.batch_size]
            s = shared_t[start // cfg.batch_size] if shared_t is not None else None
            if cfg.edge_dropout > 0 and self.graph is not None:
                model.set_graph(dropout_edges(self.graph, cfg.edge_dropout, self._dropout_rng))
            # The model computes each distinct user and item once (models with a fused propagation
            # then skip the rows outside the batch); index_select, not indexing, spreads them back:
            # its backward is index_add_, about 3x faster on CPU than advanced indexing's index_put_.
            items = torch.cat([p, q.reshape(-1)] + ([s] if s is not None else []))
            batch_users, user_slot = torch.unique(u, return_inverse=True)
            batch_items, item_slot = torch.unique(items, return_inverse=True)
            bu, bi = model.batch_embeddings(batch_users, batch_items)
            eu = bu.index_select(0, user_slot)
            ei = bi.index_select(0, item_slot)
            pos_scores = model.score_embeddings(eu, ei[: u.numel()])
            n_pair = u.numel() * (1 + q.size(1))
            neg_scores = model.score_embeddings(eu.unsqueeze(1), ei[u.numel():n_pair].view(u.numel(), q.size(1), -1))
            if s is not None:
                # scores are dot products of scoring-ready rows (see models.scoring), so a batch's
                # shared negatives are one matrix product; a shared item equal to the pair's own
                # positive is no negative (an accidental hit) and drops out at -inf
                shared_scores = (eu @ ei[n_pair:].T).masked_fill(s.unsqueeze(0) == p.unsqueeze(1), -math.inf)
                neg_scores = torch.cat([neg_scores, shared_scores], dim=1)
            loss = self.loss_fn(pos_scores, neg_scores)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tables is not None and cfg.l2 > 0:
                loss = loss.detach() + self._l2_step(tables, u, items)
            optimizer.step()
            self._epoch_steps += 1
            self._unevaluated_steps += 1
            total += loss.detach() * u.numel()
            n += u.numel()
        if cfg.edge_dropout > 0 and self.graph is not None:
            model.set_graph(self.graph)
        mean_loss = float(total) / max(n, 1)
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(f"loss became {mean_loss}")
        return mean_loss

    @torch.no_grad()
    def _l2_step(self, tables, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """LightGCN's ``l2 * 0.5 * ||E0[batch]||^2 / B``: adds its gradient straight into ``.grad``.

        Its gradient touches only the batch's rows, so it is scattered with
        ``index_add_`` instead of going through autograd, which would allocate
        and add a dense zero-filled gradient of every table on every batch.
        Returns the term's value (for the reported loss).
        """
        scale = self.config.l2 / users.numel()
        value = torch.zeros((), device=users.device)
        for table, rows in zip(tables, (users, items)):
            if table is None:  # items without an ID table (text features)
                continue
            ego = table.index_select(0, rows)
            if table.grad is None:
                table.grad = torch.zeros_like(table)
            table.grad.index_add_(0, rows, ego, alpha=scale)
            value += 0.5 * scale * ego.pow(2).sum()
        return value

    def _make_optimizer(self) -> torch.optim.Optimizer:
        params = list(self.model.parameters())
        # The fused kernel does one pass over each tensor instead of several (about 10% of a
        # LightGCN step on CPU); it needs floating-point tensors on CPU or CUDA.
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
        return torch.optim.Adam(params, lr=self.config.lr, fused=fused or None)

    def fit(self) -> TrainResult:
        cfg, model = self.config, self.model
        _seed_everything(cfg.seed)
        result = TrainResult(best_epoch=0, best_val={}, epochs_run=0, epoch_seconds=[], eval_seconds=[])
        if not model.trainable:
            return result
        best = _Best()
        began = time.monotonic()
        self._checkpoints = [began + t for t in self.eval_at]
        epoch = 0

        def checkpoint() -> bool:
            return self._evaluate(epoch, {"epoch": epoch, "loss": math.nan}, result, best, bar, kind="checkpoint")

        self._checkpoint = checkpoint
        bar = tqdm(range(1, cfg.epochs + 1), desc="train", unit="epoch", disable=None if cfg.progress is None else not cfg.progress, leave=False)
        for epoch in bar:
            try:
                loss, seconds = self.train_epoch()
            except _CallbackStop:
                result.epochs_run = epoch
                break
            except _DeadlineReached as stop:
                result.stopped = stop.reason
                if stop.reason == "time_limit" and self.evaluator is not None and self._unevaluated_steps:
                    # the budget's last word: judge the weights trained since the last evaluation, in the
                    # epoch the limit cut short or, when it fell between epochs, the last (unevaluated) one
                    if self._epoch_steps:
                        last, row = epoch, {"epoch": epoch, "loss": stop.loss}
                    else:
                        last, row = epoch - 1, result.history.pop()
                    result.epochs_run = last
                    self._evaluate(last, row, result, best, bar, kind="time_limit")
                    if result.stopped != "callback":  # a callback's stop (pruned) speaks for itself
                        result.stopped = "time_limit"
                break
            result.epoch_seconds.append(seconds)
            result.epochs_run = epoch
            row = {"epoch": epoch, "loss": loss}
            if self.evaluator is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
                if self._evaluate(epoch, row, result, best, bar):
                    break
            else:
                result.history.append(row)
                bar.set_postfix(loss=f"{loss:.4f}")
        bar.close()
        if best.state is not None:
            model.load_state_dict(best.state)
        return result

    def _evaluate(self, epoch: int, row: dict, result: TrainResult, best: _Best, bar, kind: str = "epoch") -> bool:
        """Rank the validation split now, keep the weights if best, run the callbacks; True: stop training.

        A checkpoint's row stays out of ``history`` (one row per epoch); its epoch's row comes when it ends.
        """
        cfg, model = self.config, self.model
        t1 = time.perf_counter()
        scorer = model.scorer()
        metrics = self.evaluator(scorer)
        if self.cold_evaluator is not None:
            metrics.update({COLD_PREFIX + k: v for k, v in self.cold_evaluator(scorer).items()})
        result.eval_seconds.append(time.perf_counter() - t1)
        self._unevaluated_steps = 0
        if self._checkpoints:  # this evaluation serves the checkpoints already passed
            now = time.monotonic()
            while self._checkpoints and self._checkpoints[0] <= now:
                self._checkpoints.pop(0)
        value = metrics[cfg.metric]
        row.update({f"val_{k}": v for k, v in metrics.items()})
        if value > best.value:
            best.value, best.evals_since = value, 0
            best.state = copy.deepcopy(model.state_dict())
            result.best_epoch, result.best_val = epoch, metrics
        else:
            best.evals_since += 1
        bar.set_postfix(loss=f"{row['loss']:.4f}", **{cfg.metric: f"{value:.4f}", "best": f"{best.value:.4f}"})
        event = EvalEvent(epoch, metrics, value, best.value, result.best_epoch, kind)
        if kind != "checkpoint":
            result.history.append(row)
        if any(cb(event) for cb in self.callbacks):
            result.stopped = "callback"
            return True
        if best.evals_since >= cfg.patience:
            result.stopped = "early_stopping"
            return True
        return False


def train(model: Recommender, dataset: Dataset, config: TrainConfig, callbacks: list[Callback] | None = None) -> TrainResult:
    """Train ``model`` in place (best validation weights restored) and return what happened."""
    return Trainer(model, dataset, config, callbacks=callbacks).fit()
