"""Training and evaluation of networks (no Qt here)."""

from .augment import Augmentation, distort
from .metrics import Evaluation, evaluate, predict_proba_batched
from .trainer import Progress, TrainConfig, Trainer

__all__ = ["Augmentation", "distort", "Evaluation", "evaluate", "predict_proba_batched",
           "Progress", "TrainConfig", "Trainer"]
