"""Where the window's training images come from, loaded with progress and cancel. No Qt here.

Three kinds of :class:`DataSource`: MNIST found on this computer (or downloaded into the cache
first), MNIST from a folder the user chose, and digits cnnviz draws itself (offline, no
download). :func:`load_training_data` loads one, keeps the first images asked for, holds some out
for validation and converts them to the network's layout. Long steps report
``progress(done, total)``; a False return cancels them (:class:`~cnnviz.data.DownloadCancelled`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnviz.data import (MNIST_FILES, Dataset, DownloadCancelled, download_mnist, find_mnist,
                         input_shape_of, load_mnist, make_synthetic_digits,
                         to_float_batch)

__all__ = ["OFFLINE_DEFAULT_SIZE", "DataSource", "TrainingData", "load_dataset",
           "load_training_data", "offline_digits", "split_training_data"]

#: Digits drawn when the offline source is asked for all its images.
OFFLINE_DEFAULT_SIZE = 20000
#: Offline digits are drawn in chunks of this many (each with its own seed), with progress.
OFFLINE_CHUNK = 250
#: The validation set never takes more than this fraction of the images.
MAX_VALIDATION_FRACTION = 0.2

#: ``progress(done, total) -> bool``; False: stop.
Progress = Callable[[int, int], bool]


@dataclass(frozen=True)
class DataSource:
    """A source of digits: ``kind`` is ``"mnist"`` (found or downloaded), ``"folder"`` (the
    MNIST files in ``folder``) or ``"offline"`` (drawn by cnnviz)."""

    kind: str
    folder: Path | None = None

    @property
    def title(self) -> str:
        if self.kind == "folder":
            return f"MNIST from {self.folder}"
        if self.kind == "offline":
            return "Offline digits (drawn by cnnviz)"
        found = find_mnist()
        return f"MNIST ({found})" if found else "MNIST (download 11 MB)"


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Images ready for a :class:`~cnnviz.training.Trainer`.

    Attributes
    ----------
    name : str
    train_x, val_x : np.ndarray
        float32 (N, 1, H, W) in [0, 1], white ink on black.
    train_y, val_y : np.ndarray
        int64 (N,) class labels.
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray


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
                 progress: Progress | None = None) -> Dataset:
    """Load (or download, or draw) the digits of ``source``.

    Parameters
    ----------
    source : DataSource
    count : int
        Training images wanted; 0: all (:data:`OFFLINE_DEFAULT_SIZE` for the offline source).
        Only the offline source uses it here (it draws no more than asked for).
    seed : int
        Seed of the offline digits.
    progress : callable, optional
        ``progress(done, total) -> bool`` (bytes of a download, digits drawn).

    Raises
    ------
    cnnviz.data.DataError
        Missing or malformed files, a failed download, or cancelled (``DownloadCancelled``).
    """
    if source.kind == "offline":
        return offline_digits(count or OFFLINE_DEFAULT_SIZE, seed, progress)
    if source.kind == "folder":
        return load_mnist(source.folder)
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


def split_training_data(dataset: Dataset, count: int = 0, validation: int = 5000,
                        seed: int = 0) -> TrainingData:
    """The first ``count`` training images (0: all), ``validation`` of them held out at random
    (at most :data:`MAX_VALIDATION_FRACTION`; 0: none), in the network's layout."""
    x, y = dataset.train_x, dataset.train_y
    if count:
        x, y = x[:count], y[:count]
    if len(x) < 2:
        raise ValueError(f"{dataset.name} has {len(x)} training images; at least 2 are needed")
    n_val = min(validation, int(len(x) * MAX_VALIDATION_FRACTION))
    name = f"{dataset.name} ({len(x) - n_val:,} training, {n_val:,} validation images)"
    if n_val <= 0:
        empty = np.zeros((0,) + input_shape_of(x), np.float32)  # grey or colour
        return TrainingData(name, to_float_batch(x), y.astype(np.int64), empty,
                            np.zeros(0, np.int64))
    split = Dataset(x, y, x[:0], y[:0], name=dataset.name).split_validation(n_val, seed=seed)
    return TrainingData(name, to_float_batch(split.train_x), split.train_y.astype(np.int64),
                        to_float_batch(split.val_x), split.val_y.astype(np.int64))


def load_training_data(source: DataSource, count: int = 0, validation: int = 5000,
                       seed: int = 0, progress: Progress | None = None) -> TrainingData:
    """:func:`load_dataset` then :func:`split_training_data`."""
    return split_training_data(load_dataset(source, count, seed, progress), count, validation,
                               seed)
