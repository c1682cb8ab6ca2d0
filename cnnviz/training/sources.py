"""Where the window's training images come from, loaded with progress and cancel. No Qt here.

Five kinds of :class:`DataSource`: MNIST found on this computer (or downloaded into the cache
first), MNIST from a folder the user chose, digits cnnviz draws itself (offline, no download),
CIFAR-10 (found through ``CNNVIZ_CIFAR_DIR`` or the cache, or downloaded) and any folder of
images (``ROOT/CLASS/*.png|jpg``, optionally inside ``train/`` and ``test/``).
:func:`load_training_data` loads one, keeps the first images asked for, holds some out for
validation, works out the network's input contract from the training images
(:func:`cnnviz.training.contracts.training_contract`, as ``cnnviz train`` does) and converts the
images as that contract says. Long steps report ``progress(done, total)``; a False return
cancels them (:class:`~cnnviz.data.DownloadCancelled`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnviz.data import (CIFAR10_CLASSES, CIFAR10_SHAPE, DIGIT_CLASSES, MNIST_FILES, Dataset,
                         DownloadCancelled, batch_to_input, download_mnist, find_cifar10,
                         find_mnist, guess_input_shape, load_default_cifar10, load_image_folder,
                         load_mnist, make_synthetic_digits, to_float_batch)
from cnnviz.nn import InputContract

from .contracts import training_contract

__all__ = ["OFFLINE_DEFAULT_SIZE", "DataSource", "TrainingData", "limited", "load_dataset",
           "load_training_data", "offline_digits", "split_training_data"]

#: Digits drawn when the offline source is asked for all its images.
OFFLINE_DEFAULT_SIZE = 20000
#: Offline digits are drawn in chunks of this many (each with its own seed), with progress.
OFFLINE_CHUNK = 250
#: The validation set never takes more than this fraction of the images.
MAX_VALIDATION_FRACTION = 0.2

#: ``progress(done, total) -> bool``; False: stop.
Progress = Callable[[int, int], bool]


#: The digits' shape.
DIGIT_SHAPE = (1, 28, 28)
#: The kinds of source that are digits (white ink on black, 1x28x28, unnamed classes 0-9).
DIGIT_KINDS = ("mnist", "folder", "offline")


@dataclass(frozen=True)
class DataSource:
    """A source of training images: ``kind`` is ``"mnist"`` (found or downloaded), ``"folder"``
    (the MNIST files in ``folder``), ``"offline"`` (digits drawn by cnnviz), ``"cifar10"``
    (found or downloaded) or ``"images"`` (a folder of images in class folders, ``folder``).

    ``shape`` and ``classes`` of an ``"images"`` source are what :meth:`probe` found in the
    folder (its images' most common size and colour, its class folders' names); the other
    kinds know theirs.
    """

    kind: str
    folder: Path | None = None
    shape: tuple[int, int, int] | None = field(default=None, compare=False)
    classes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def probe(cls, folder: str | Path) -> DataSource:
        """The ``"images"`` source of ``folder``, with the shape its images suggest and its
        class names (reads the listing and the headers of a few images).

        Raises
        ------
        cnnviz.data.ImageFolderError
            Not a folder of images (the message says what is expected).
        """
        from cnnviz.data.folders import _scan  # the listing the loader itself reads

        folder = Path(folder)
        classes = _scan(folder).classes
        return cls("images", folder, shape=guess_input_shape(folder), classes=classes)

    @property
    def digits(self) -> bool:
        """The source gives MNIST-like digits."""
        return self.kind in DIGIT_KINDS

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of its images as a network takes them (C, H, W)."""
        if self.digits:
            return DIGIT_SHAPE
        if self.kind == "cifar10":
            return CIFAR10_SHAPE
        return tuple(self.shape or (3, 32, 32))

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of its classes (the ten digits for digit sources)."""
        if self.digits:
            return DIGIT_CLASSES
        if self.kind == "cifar10":
            return CIFAR10_CLASSES
        return tuple(self.classes)

    @property
    def resizes(self) -> bool:
        """Its images are resized to whatever the network takes (a folder of images)."""
        return self.kind == "images"

    @property
    def title(self) -> str:
        if self.kind == "folder":
            return f"MNIST from {self.folder}"
        if self.kind == "offline":
            return "Offline digits (drawn by cnnviz)"
        if self.kind == "images":
            return f"Images from {self.folder} ({len(self.classes)} classes)"
        if self.kind == "cifar10":
            found = find_cifar10()
            return f"CIFAR-10 ({found})" if found else "CIFAR-10 (download 170 MB)"
        found = find_mnist()
        return f"MNIST ({found})" if found else "MNIST (download 11 MB)"


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Images ready for a :class:`~cnnviz.training.Trainer`.

    Attributes
    ----------
    name : str
    train_x, val_x : np.ndarray
        float32 (N, C, H, W): the images in [0, 1], normalised as ``contract`` says (digits:
        white ink on black, not normalised).
    train_y, val_y : np.ndarray
        int64 (N,) class labels.
    contract : InputContract or None
        How the images were made into inputs: the contract of the network they are for (for a
        new network, with the data's class names and the training images' per-channel mean and
        standard deviation). None: plain [0, 1] values (no contract was given).
    class_names : tuple of str
        The data's class names (empty for digits).
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    contract: InputContract | None = None
    class_names: tuple[str, ...] = ()


def offline_digits(n: int, seed: int = 0, progress: Progress | None = None) -> Dataset:
    """``n`` training digits drawn by cnnviz, in chunks of :data:`OFFLINE_CHUNK` (the first ``k``
    digits are the same for every ``n >= k``); no test set.

    Raises
    ------
    DownloadCancelled
        When ``progress`` returns False.
    """
    parts_x, parts_y = [], []
    for chunk, start in enumerate(range(0, n, OFFLINE_CHUNK)):
        count = min(OFFLINE_CHUNK, n - start)
        # Whole chunks, cut after: a chunk's digits do not depend on how many are kept.
        x, y = make_synthetic_digits(OFFLINE_CHUNK, seed=np.random.SeedSequence([seed, 0, chunk]))
        parts_x.append(x[:count])
        parts_y.append(y[:count])
        if progress is not None and progress(start + count, n) is False:
            raise DownloadCancelled("drawing the offline digits was cancelled")
    images = np.concatenate(parts_x) if parts_x else np.zeros((0, 28, 28), np.uint8)
    labels = np.concatenate(parts_y) if parts_y else np.zeros(0, np.uint8)
    return Dataset(images, labels, images[:0], labels[:0], name="offline digits")


def load_dataset(source: DataSource, count: int = 0, seed: int = 0,
                 progress: Progress | None = None,
                 shape: tuple[int, int, int] | None = None) -> Dataset:
    """Load (or download, or draw) the images of ``source``.

    Parameters
    ----------
    source : DataSource
    count : int
        Training images wanted; 0: all (:data:`OFFLINE_DEFAULT_SIZE` for the offline source).
        Only the offline source uses it here (it draws no more than asked for).
    seed : int
        Seed of the offline digits.
    progress : callable, optional
        ``progress(done, total) -> bool`` (bytes of a download, digits drawn, images decoded).
    shape : (C, H, W), optional
        What the images of a folder of images become (the network's input; default: the
        source's :attr:`~DataSource.input_shape`). The other sources keep their own shapes.

    Raises
    ------
    cnnviz.data.DataError
        Missing or malformed files, a failed download, or cancelled (``DownloadCancelled``).
    """
    if source.kind == "offline":
        return offline_digits(count or OFFLINE_DEFAULT_SIZE, seed, progress)
    if source.kind == "folder":
        return load_mnist(source.folder)
    if source.kind == "images":
        return load_image_folder(source.folder, shape or source.input_shape, progress=progress)
    if source.kind == "cifar10":
        def bytes_done(_name: str, done: int, total: int | None) -> bool:
            return progress is None or progress(done, total or max(done, 1)) is not False

        return load_default_cifar10(download=True, progress=bytes_done, folder_progress=progress)
    if source.kind != "mnist":
        raise ValueError(f"unknown kind of training data {source.kind!r}")
    folder = find_mnist()
    if folder is None:
        total = sum(size for size, _ in MNIST_FILES.values())
        offsets, start = {}, 0
        for name, (size, _) in MNIST_FILES.items():
            offsets[name], start = start, start + size

        def bytes_done(name: str, done: int, _total: int | None) -> bool:
            return progress is None or progress(offsets.get(name, 0) + done, total) is not False

        folder = download_mnist(progress=bytes_done)
    return load_mnist(folder)


def limited(labels, limit: int, seed: int = 0):
    """Which of a split's images a limit of ``limit`` keeps: the first ``limit`` (a slice) when
    the images come in no particular order (MNIST), but a random choice of ``limit`` of them, in
    their order (an index array), when they are grouped by class (an image folder is read class
    after class: its first images would all be of the first classes). Used by ``cnnviz train
    --limit`` and by the window's "Training images"."""
    labels = np.asarray(labels)
    if len(labels) <= limit or not (np.diff(labels.astype(np.int64)) >= 0).all() \
            or labels[0] == labels[-1]:
        return slice(0, limit)
    return np.sort(np.random.default_rng(seed).choice(len(labels), limit, replace=False))


def split_training_data(dataset: Dataset, count: int = 0, validation: int = 5000,
                        seed: int = 0, contract: InputContract | None = None,
                        fresh: bool = False) -> TrainingData:
    """The first ``count`` training images (0: all; a seeded choice spread over the classes when
    the images come class by class, see :func:`limited`), ``validation`` of them held out at random
    (at most :data:`MAX_VALIDATION_FRACTION`; 0: none), as the network's input.

    With a ``contract`` (the network's), the images are converted as the contract that
    training gives the network says (:func:`~cnnviz.training.contracts.training_contract`: for a
    ``fresh`` network of named data, the data's class names and the mean and standard deviation
    of each channel of the training images kept, computed in float64); that contract is the
    result's :attr:`~TrainingData.contract`. Without one, plain [0, 1] values.

    Raises
    ------
    ValueError
        Fewer than 2 training images.
    cnnviz.nn.ContractError
        The data's class names cannot name the network's outputs.
    """
    x, y = dataset.train_x, dataset.train_y
    spread = ""
    if count:
        keep = limited(y, count, seed)  # images read class by class: a choice over them all
        x, y = x[keep], y[keep]
        spread = "" if isinstance(keep, slice) else ", spread over the classes"
    if len(x) < 2:
        raise ValueError(f"{dataset.name} has {len(x)} training images; at least 2 are needed")
    n_val = min(validation, int(len(x) * MAX_VALIDATION_FRACTION))
    name = (f"{dataset.name} ({len(x) - n_val:,} training, {n_val:,} validation images"
            f"{spread})")
    if n_val > 0:
        split = Dataset(x, y, x[:0], y[:0], name=dataset.name).split_validation(n_val, seed=seed)
        train_x, train_y, val_x, val_y = split
    else:
        train_x, train_y = x, y
        val_x, val_y = x[:0], y[:0]
    if contract is not None:
        contract = training_contract(contract, dataset, train_x, fresh)

    def convert(images):
        return to_float_batch(images) if contract is None else batch_to_input(images, contract)

    return TrainingData(name, convert(train_x), train_y.astype(np.int64), convert(val_x),
                        val_y.astype(np.int64), contract, dataset.class_names)


def load_training_data(source: DataSource, count: int = 0, validation: int = 5000,
                       seed: int = 0, progress: Progress | None = None,
                       contract: InputContract | None = None,
                       fresh: bool = False) -> TrainingData:
    """:func:`load_dataset` (a folder of images at the contract's shape) then
    :func:`split_training_data`."""
    shape = contract.shape if contract is not None and len(contract.shape) == 3 else None
    dataset = load_dataset(source, count, seed, progress, shape=shape)
    return split_training_data(dataset, count, validation, seed, contract, fresh)
