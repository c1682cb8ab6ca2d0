"""cnnviz's numpy engine for small convolutional networks (no Qt here)."""

from .budget import BudgetError, check_budget
from .errors import ModelError, ModelFileError
from .contract import ContractError, InputContract, default_contract
from .io import NetworkFile, load_model, load_model_with_metadata, load_network, save_model
from .layers import (LRN, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D,
                     Layer, LeakyReLU, MaxPool2D, ReLU, Sigmoid, Softmax, Softplus, Tanh, softmax)
from .losses import MeanSquaredError, SoftmaxCrossEntropy
from .model import Rect, Sequential, UnitField
from .optim import SGD, Adam, StepLR, make_optimizer
from .presets import PRESETS, build_preset
from .summary import format_summary

__all__ = [
    "ContractError", "InputContract", "default_contract", "NetworkFile", "load_network",
    "BudgetError", "check_budget", "ModelError", "ModelFileError", "load_model", "load_model_with_metadata", "save_model",
    "AvgPool2D", "BatchNorm", "GlobalAvgPool2D", "Conv2D", "Dense", "Dropout", "Flatten", "Layer", "LeakyReLU", "MaxPool2D", "ReLU",
    "Sigmoid", "Softmax", "Softplus", "Tanh", "LRN", "softmax", "MeanSquaredError", "SoftmaxCrossEntropy",
    "Rect", "Sequential", "UnitField", "SGD", "Adam", "StepLR", "make_optimizer", "PRESETS",
    "build_preset", "format_summary",
]
