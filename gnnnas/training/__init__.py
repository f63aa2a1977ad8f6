"""Training: negative sampling, losses, early stopping and the trainer loop."""

from gnnnas.training.config import TrainConfig
from gnnnas.training.losses import LOSSES, register_loss
from gnnnas.training.sampler import NegativeSampler
from gnnnas.training.trainer import EvalEvent, TrainingDiverged, TrainResult, Trainer, train

__all__ = ["TrainConfig", "LOSSES", "register_loss", "NegativeSampler", "EvalEvent", "TrainingDiverged",
           "TrainResult", "Trainer", "train"]
