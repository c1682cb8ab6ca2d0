"""Ready-made networks: for 1x28x28 digit images (lenet5, tiny, mlp) and 3x32x32 colour images
(cifar-tutorial, vgg-small)."""

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


def cifar_tutorial(seed=None, input_shape=(3, 32, 32)) -> Sequential:
    """The CIFAR-10 example of the CNN tutorials (CS231n): [32x32x3] -> 12 3x3 filters ('same')
    -> ReLU -> 2x2 max pooling -> [16x16x12] -> 10 dense units."""
    return Sequential([
        Conv2D(out_channels=12, kernel_size=3, padding="same"), ReLU(), MaxPool2D(2),
        Flatten(), Dense(out_features=10),
    ], input_shape, seed=seed, name="cifar-tutorial")


def vgg_small(seed=None, input_shape=(3, 32, 32)) -> Sequential:
    """A small VGG-style network for colour images: two blocks of two 3x3 convolutions ('same',
    32 then 64 filters) each followed by 2x2 max pooling, then 128 and 10 dense units; ReLU after
    every convolution and the hidden dense layer. 591,274 parameters: a 2.4 MB file (a hidden
    layer of 256 would make it 4.5 MB)."""
    return Sequential([
        Conv2D(out_channels=32, kernel_size=3, padding="same"), ReLU(),
        Conv2D(out_channels=32, kernel_size=3, padding="same"), ReLU(), MaxPool2D(2),
        Conv2D(out_channels=64, kernel_size=3, padding="same"), ReLU(),
        Conv2D(out_channels=64, kernel_size=3, padding="same"), ReLU(), MaxPool2D(2),
        Flatten(), Dense(out_features=128), ReLU(), Dense(out_features=10),
    ], input_shape, seed=seed, name="vgg-small")


#: Every preset by name; the layer editor and the commands list them from here. Each builder
#: takes ``seed`` and ``input_shape`` (its default is the input the preset was designed for).
PRESETS = {"lenet5": lenet5, "tiny": tiny, "mlp": mlp, "cifar-tutorial": cifar_tutorial,
           "vgg-small": vgg_small}


def build_preset(name: str, seed=None, outputs: int | None = None) -> Sequential:
    """Build a preset network by name; ``outputs`` gives its last layer that many units (one per
    class of the data it will learn) instead of the preset's 10."""
    try:
        model = PRESETS[name](seed=seed)
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
    if outputs is None or model.output_shape == (outputs,):
        return model
    if outputs < 1:
        raise ValueError(f"a network needs at least one output, not {outputs}")
    config = model.config()
    config["layers"][-1] = dict(config["layers"][-1], out_features=int(outputs))
    return Sequential.from_config(config, seed=seed)
