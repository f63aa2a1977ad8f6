"""Training settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run. Defaults follow the LightGCN paper.

    ``l2`` is LightGCN's ``weight_decay``: ``l2 * 0.5 * ||E0_batch||^2 / batch``
    added to the loss, on the layer-0 embeddings of the batch only.
    ``patience`` counts evaluations (not epochs) without improvement of
    ``metric`` on the validation split.
    """

    epochs: int = 1000
    batch_size: int = 2048
    lr: float = 1e-3
    l2: float = 1e-4
    num_negatives: int = 1
    shared_negatives: int = 0  # drawn once per mini-batch, scored against all its users
    loss: str = "bpr"
    eval_every: int = 1
    patience: int = 10
    metric: str = "ndcg@20"
    ks: tuple[int, ...] = (10, 20)
    eval_batch_size: int = 1024
    edge_dropout: float = 0.0
    seed: int = 0
    progress: bool | None = None  # None: a progress bar only on an interactive terminal

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1, "lr": self.lr > 0,
            "l2": self.l2 >= 0, "num_negatives": self.num_negatives >= 1,
            "shared_negatives": self.shared_negatives >= 0, "eval_every": self.eval_every >= 1,
            "patience": self.patience >= 1, "eval_batch_size": self.eval_batch_size >= 1,
            "edge_dropout": 0 <= self.edge_dropout < 1, "ks": len(self.ks) > 0 and min(self.ks) >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid training setting {bad[0]}={getattr(self, bad[0])!r}")
        name, _, k = self.metric.partition("@")
        if not k.isdigit() or int(k) not in self.ks:
            raise ValueError(f"metric {self.metric!r} must be NAME@K with K in ks={self.ks}")

    def to_dict(self) -> dict:
        return asdict(self)
