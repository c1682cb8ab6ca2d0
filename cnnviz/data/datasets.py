"""A small container for an image-classification dataset (MNIST, the synthetic digits, CIFAR-10,
a folder of images), and the checks made where data meets a network.

Images are uint8: grey datasets hold (N, H, W) arrays (the digits), colour ones (N, C, H, W)
arrays, channels first like the network's input (CIFAR-10: (N, 3, 32, 32), red, green, blue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .errors import InputShapeError

__all__ = ["DIGIT_CLASSES", "Dataset", "ValidationSplit", "check_network_classes",
           "check_network_input", "format_input_shape", "input_shape_of", "to_float_batch"]

#: What the shipped lenet5 takes and gives, to name it where it would fit.
_LENET5_INPUT, _LENET5_CLASSES = (1, 28, 28), 10


def to_float_batch(images: np.ndarray) -> np.ndarray:
    """Convert uint8 images to the network's input layout.

    Parameters
    ----------
    images : np.ndarray
        uint8 array of shape (N, H, W) (grey, e.g. white ink on black digits) or (N, C, H, W)
        (channels first, e.g. red, green, blue), values 0..255.

    Returns
    -------
    np.ndarray
        float32 array of shape (N, 1, H, W) or (N, C, H, W) with values in [0, 1] (pixel / 255).
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"expected images of shape (N, H, W) or (N, C, H, W), "
                         f"got shape {images.shape}")
    out = images.astype(np.float32)
    out /= 255.0
    return out[:, None, :, :] if out.ndim == 3 else out


def input_shape_of(images: np.ndarray) -> tuple[int, int, int]:
    """``(channels, height, width)`` of one of ``images`` once :func:`to_float_batch` has put
    it in the network's layout: (N, H, W) grey images give ``(1, H, W)``, (N, C, H, W) images
    ``(C, H, W)``."""
    shape = np.shape(images)
    if len(shape) == 3:
        return (1, int(shape[1]), int(shape[2]))
    if len(shape) == 4:
        return (int(shape[1]), int(shape[2]), int(shape[3]))
    raise ValueError(f"expected images of shape (N, H, W) or (N, C, H, W), got shape {shape}")


def format_input_shape(shape) -> str:
    """``"1x28x28"``: channels x height x width."""
    return "x".join(str(int(n)) for n in shape)


def check_network_input(network_shape, images: np.ndarray, name: str = "the images") -> None:
    """Check that a network taking ``network_shape`` (C, H, W) inputs can read ``images``.

    The one check made wherever data meets a network (evaluating, training, timing), so that a
    mismatch is a message, not an exception deep in the first layer.

    Parameters
    ----------
    network_shape : tuple of int
        The network's ``input_shape``.
    images : np.ndarray
        The data's images, in the layout :func:`to_float_batch` takes.
    name : str
        What the images are, for the message ("the offline digits", "MNIST").

    Raises
    ------
    InputShapeError
        With a message that says what the network takes, what the data gives and what to do.
    """
    network_shape, data_shape = tuple(int(n) for n in network_shape), input_shape_of(images)
    if network_shape == data_shape:
        return
    net, data = format_input_shape(network_shape), format_input_shape(data_shape)
    example = " (such as the shipped lenet5)" if data_shape == _LENET5_INPUT else ""
    raise InputShapeError(
        f"this network takes {net} images ({_describe_shape(network_shape)}) but {name} are "
        f"{data} ({_describe_shape(data_shape)}): choose a network made for {data} "
        f"images{example} or data of {net} images",
        network_shape, data_shape)


def _describe_shape(shape) -> str:
    """``(3, 32, 32)`` -> "colour, 32x32 pixels" ("channels x height x width" for the unusual)."""
    if len(shape) != 3:
        return "channels x height x width"
    kind = {1: "grey", 3: "colour"}.get(shape[0], f"{shape[0]} channels")
    return f"{kind}, {shape[1]}x{shape[2]} pixels"


def check_network_classes(output_shape, labels: np.ndarray, name: str = "the images") -> None:
    """Check that a network whose output has ``output_shape`` gives a score for every class
    in ``labels`` (classes are numbered from 0).

    Raises
    ------
    InputShapeError
        The output is not one score per class, or fewer scores than the labels need.
    """
    output_shape = tuple(int(n) for n in output_shape)
    needed = int(np.max(labels)) + 1 if np.size(labels) else 0
    if len(output_shape) == 1 and output_shape[0] >= needed:
        return
    got = (f"{output_shape[0]} class scores" if len(output_shape) == 1
           else f"a {format_input_shape(output_shape)} output, not one score per class")
    example = " (such as the shipped lenet5)" if needed == _LENET5_CLASSES else ""
    raise InputShapeError(
        f"this network gives {got} but {name} have labels 0 to {needed - 1}: choose a network "
        f"with {needed} outputs{example}", output_shape, (needed,))


class ValidationSplit(NamedTuple):
    """Result of :meth:`Dataset.split_validation` (uint8 images, uint8 labels)."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray


#: Class names of the digit datasets (and of any dataset that names none).
DIGIT_CLASSES = tuple(str(digit) for digit in range(10))


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays of an image-classification dataset.

    Attributes
    ----------
    train_x : np.ndarray
        uint8 images: (N_train, H, W) grey (MNIST: 28x28, white ink on black) or
        (N_train, C, H, W) channels first (CIFAR-10: 3x32x32, red, green, blue).
    train_y : np.ndarray
        uint8 (N_train,) class labels 0, 1, ... (indices into :attr:`classes`).
    test_x : np.ndarray
        uint8 (N_test, ...) images, same layout as ``train_x``.
    test_y : np.ndarray
        uint8 (N_test,) class labels.
    name : str
        Human-readable name, e.g. ``"MNIST"`` or ``"synthetic"``.
    class_names : tuple of str
        Names of classes 0, 1, ...; empty for the digit datasets (see :attr:`classes`).
    notes : tuple of str
        What the user should know about how the data was read (files skipped, empty classes...),
        one sentence each; empty when there is nothing to say.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    name: str = "dataset"
    class_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(n) for n in self.class_names))
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))
        for split in ("train", "test"):
            x = getattr(self, f"{split}_x")
            y = getattr(self, f"{split}_y")
            if x.ndim not in (3, 4) or y.ndim != 1:
                raise ValueError(
                    f"{self.name}: {split} images must be (N, H, W) or (N, C, H, W) and labels "
                    f"(N,), got {x.shape} and {y.shape}"
                )
            if len(x) != len(y):
                raise ValueError(
                    f"{self.name}: {len(x)} {split} images but {len(y)} {split} labels"
                )
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise ValueError(
                f"{self.name}: train images {self.train_x.shape[1:]} and test images "
                f"{self.test_x.shape[1:]} differ in size"
            )

    @property
    def n_train(self) -> int:
        """Number of training images."""
        return len(self.train_x)

    @property
    def n_test(self) -> int:
        """Number of test images."""
        return len(self.test_x)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of one image."""
        return tuple(self.train_x.shape[-2:])  # type: ignore[return-value]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image in the network's layout (``(1, 28, 28)`` for MNIST)."""
        return input_shape_of(self.train_x)

    @property
    def classes(self) -> tuple[str, ...]:
        """Names of classes 0, 1, ...: :attr:`class_names`, or the ten digits when it is empty."""
        return self.class_names or DIGIT_CLASSES

    @property
    def n_classes(self) -> int:
        """Number of classes (:attr:`classes`)."""
        return len(self.classes)

    def class_counts(self, split: str = "train") -> np.ndarray:
        """Number of images per class as an int64 array of shape (n_classes,) (10 for digits)."""
        return np.bincount(self._labels(split), minlength=self.n_classes)

    def as_float(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """Images and labels of one split in the network's layout.

        Parameters
        ----------
        split : {"train", "test"}

        Returns
        -------
        images : np.ndarray
            float32 (N, C, H, W) in [0, 1] (C = 1 for grey datasets).
        labels : np.ndarray
            int64 (N,).
        """
        images = self._images(split)
        return to_float_batch(images), self._labels(split).astype(np.int64)

    def split_validation(self, n_val: int, seed: int = 0) -> ValidationSplit:
        """Randomly split the training set into train and validation parts.

        Parameters
        ----------
        n_val : int
            Number of validation images, 0 < n_val < n_train.
        seed : int
            Seed of the permutation (same seed, same split).

        Returns
        -------
        ValidationSplit
            ``(train_x, train_y, val_x, val_y)``, disjoint, uint8.
        """
        if not 0 < n_val < self.n_train:
            raise ValueError(f"n_val must be in 1..{self.n_train - 1}, got {n_val}")
        order = np.random.default_rng(seed).permutation(self.n_train)
        val, train = order[:n_val], order[n_val:]
        return ValidationSplit(
            self.train_x[train], self.train_y[train], self.train_x[val], self.train_y[val]
        )

    def _images(self, split: str) -> np.ndarray:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.train_x if split == "train" else self.test_x

    def _labels(self, split: str) -> np.ndarray:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.train_y if split == "train" else self.test_y
