"""Training and evaluation of networks (no Qt here)."""

from .augment import Augmentation, augment_batch, augmentation_for, distort, random_flip_crop
from .metrics import Evaluation, evaluate, predict_proba_batched
from .trainer import Progress, TrainConfig, Trainer

__all__ = ["Augmentation", "augment_batch", "augmentation_for", "distort", "random_flip_crop",
           "Evaluation", "evaluate", "predict_proba_batched", "Progress", "TrainConfig", "Trainer"]
