"""Ready-made networks for 1x28x28 digit images."""

from __future__ import annotations

from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from .model import Sequential


def lenet5(seed=None, input_shape=(1, 28, 28)) -> Sequential:
    """LeNet-5 with ReLU and max pooling: 6 and 16 5x5 filters, then 120-84-10 dense units."""
    return Sequential([
        Conv2D(out_channels=6, kernel_size=5, padding="same"), ReLU(), MaxPool2D(2),
        Conv2D(out_channels=16, kernel_size=5), ReLU(), MaxPool2D(2),
        Flatten(), Dense(out_features=120), ReLU(), Dense(out_features=84), ReLU(),
        Dense(out_features=10),
    ], input_shape, seed=seed, name="lenet5")


def tiny(seed=None, input_shape=(1, 28, 28)) -> Sequential:
    """A small, fast two-convolution network for demonstrations (8 and 16 3x3 filters)."""
    return Sequential([
        Conv2D(out_channels=8, kernel_size=3, padding="same"), ReLU(), MaxPool2D(2),
        Conv2D(out_channels=16, kernel_size=3, padding="same"), ReLU(), MaxPool2D(2),
        Flatten(), Dense(out_features=10),
    ], input_shape, seed=seed, name="tiny")


def mlp(seed=None, input_shape=(1, 28, 28)) -> Sequential:
    """The fully connected baseline: 784-128-10."""
    return Sequential([Flatten(), Dense(out_features=128), ReLU(), Dense(out_features=10)],
                      input_shape, seed=seed, name="mlp")


PRESETS = {"lenet5": lenet5, "tiny": tiny, "mlp": mlp}


def build_preset(name: str, seed=None) -> Sequential:
    """Build a preset network by name."""
    try:
        return PRESETS[name](seed=seed)
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
