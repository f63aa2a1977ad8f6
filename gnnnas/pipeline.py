"""One architecture, end to end: build, train with validation, report test.

Model selection (early stopping, best epoch) reads only the validation split;
the test split is ranked once, after training, for reporting. With
``refit=True`` the model is then retrained from scratch on train + validation
for the selected number of epochs and the refitted model is what test reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch

from gnnnas.data.dataset import Dataset
from gnnnas.evaluation import Evaluator, split_cold
from gnnnas.graph import build_graph
from gnnnas.models.base import Recommender
from gnnnas.models.registry import Architecture, build_model, resolve_architecture

__all__ = ["RunReport", "build_model", "train_config", "train_and_evaluate"]
from gnnnas.training import TrainConfig, TrainResult, Trainer
from gnnnas.training.trainer import Callback


@dataclass
class RunReport:
    arch: Architecture
    model: Recommender
    result: TrainResult
    val: dict[str, float]
    test: dict[str, float]
    seconds: float
    refit: bool
    dataset: Dataset | None = None  # what the model was trained on (train + validation when refitted)
    val_cold: dict[str, float] | None = None  # cold-start protocol only
    test_cold: dict[str, float] | None = None

    def to_dict(self) -> dict:
        r = self.result
        return {
            "arch": self.arch if isinstance(self.arch, str) else self.arch.to_dict(),
            "epoch_seconds": r.median_epoch_seconds,
            "best_epoch": r.best_epoch,
            "epochs_run": r.epochs_run,
            "stopped": r.stopped,
            "val": self.val,
            "test": self.test,
            "params": self.model.num_parameters(),
            "seconds": self.seconds,
            "refit": self.refit,
            **({"val_cold": self.val_cold or {}, "test_cold": self.test_cold} if self.test_cold is not None else {}),
        }

    def metrics(self) -> dict[str, dict[str, float]]:
        """``val`` and ``test`` (and ``val_cold`` / ``test_cold``) as stored with a model bundle."""
        out = {"val": self.val, "test": self.test}
        if self.test_cold is not None:
            out.update(val_cold=self.val_cold or {}, test_cold=self.test_cold)
        return out


def train_config(arch: Architecture, base: TrainConfig) -> TrainConfig:
    """``base`` with the training knobs the architecture carries (lr, L2, batch, negatives, loss, edge dropout)."""
    if isinstance(arch, str):
        return base
    t = arch.training
    # Matrix factorisation propagates over no graph: dropping its edges every mini-batch would only cost time.
    return replace(base, lr=t.lr, l2=t.l2, batch_size=t.batch_size, num_negatives=t.num_negatives,
                   shared_negatives=t.shared_negatives, loss=t.loss,
                   edge_dropout=arch.edge_dropout if arch.layers else 0.0)


def train_and_evaluate(dataset: Dataset, arch: Architecture = "lightgcn", config: TrainConfig = TrainConfig(),
                       device: torch.device | str = "cpu", refit: bool = False,
                       callbacks: list[Callback] | None = None) -> RunReport:
    """Train ``arch`` (a spec, preset or baseline name) with early stopping on validation; rank test once."""
    started = time.perf_counter()
    device = torch.device(device)
    if isinstance(arch, str):
        arch = resolve_architecture(arch)
    config = train_config(arch, config)
    graph = build_graph(dataset, arch, device)
    model = build_model(arch, graph, config.seed, device)
    result = Trainer(model, dataset, config, graph=graph, callbacks=callbacks).fit()
    val, val_cold = split_cold(result.best_val)
    if not val and dataset.val.nnz:  # untrained baselines: still report validation
        val, val_cold = evaluate_splits(model, dataset, ("val", "val_cold"), config, device)
    if refit and model.trainable:
        full = dataset.refit()
        graph = build_graph(full, arch, device)
        model = build_model(arch, graph, config.seed, device)
        epochs = max(1, result.best_epoch or result.epochs_run)
        Trainer(model, full, replace(config, epochs=epochs), graph=graph).fit()
        dataset = full
    test, test_cold = evaluate_splits(model, dataset, ("test", "test_cold"), config, device)
    return RunReport(arch, model, result, val, test, time.perf_counter() - started, refit, dataset,
                     val_cold if dataset.has_cold else None, test_cold if dataset.has_cold else None)


def evaluate_splits(model: Recommender, dataset: Dataset, splits: tuple[str, str], config: TrainConfig,
                    device: torch.device) -> tuple[dict[str, float], dict[str, float]]:
    """Metrics of a warm split and its cold counterpart (``{}`` without the cold-start protocol), scored once."""
    scorer = model.scorer()
    warm_split, cold_split = splits
    out = []
    for split in (warm_split, cold_split):
        if split.endswith("_cold") and not dataset.has_cold:
            out.append({})
            continue
        evaluator = Evaluator(dataset, split, ks=config.ks, batch_size=config.eval_batch_size, device=device)
        out.append(evaluator(scorer) if evaluator.n_users else {})
    return out[0], out[1]
