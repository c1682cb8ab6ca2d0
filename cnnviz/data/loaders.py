"""Choosing a dataset: CIFAR-10 found or downloaded, and any folder recognised by its content
(MNIST files, the CIFAR-10 binary release, or a folder of images)."""

from __future__ import annotations

import os
from pathlib import Path

from .cifar import (CIFAR10_ARCHIVE, CIFAR10_FOLDER, cifar10_cache_dir, cifar10_offline_advice,
                    download_cifar10, find_cifar10_binary, is_cifar10_binary, load_cifar10)
from .datasets import Dataset
from .download import ProgressCallback
from .errors import DataError
from .folders import FolderProgress, is_image_folder, load_image_folder
from .mnist import has_mnist_files, load_mnist

__all__ = ["CIFAR10_SHAPE", "describe_data_folder", "find_cifar10", "load_data_folder",
           "load_default_cifar10"]

#: What CIFAR-10 images are: colour, 32x32.
CIFAR10_SHAPE = (3, 32, 32)


def describe_data_folder(path: str | Path) -> str | None:
    """``"mnist"``, ``"cifar10"`` (binary release), ``"images"`` or None: what ``path`` holds."""
    path = Path(path)
    try:
        if path.is_dir() and has_mnist_files(path):
            return "mnist"
        if is_cifar10_binary(path):
            return "cifar10"
        if is_image_folder(path):
            return "images"
    except OSError:
        return None
    return None


def load_data_folder(path: str | Path, shape: tuple[int, int, int] | None = None,
                     progress: FolderProgress | None = None) -> Dataset:
    """Load the dataset ``path`` holds, recognised by its content.

    Parameters
    ----------
    path : str or Path
        A folder of the four MNIST files, CIFAR-10's binary archive or its extracted
        ``cifar-10-batches-bin`` folder, or a folder of images (``CLASS/*.png`` or
        ``train/CLASS`` and ``test/CLASS``).
    shape : (C, H, W) or None
        For a folder of images, what its images become (the network's input); None guesses
        from the images. MNIST and CIFAR-10 keep their own shapes.
    progress : callable or None
        ``progress(done, total)`` while decoding a folder of images.

    Raises
    ------
    DataError
        Nothing recognised there (the message says what is accepted), or the data is bad.
    """
    path = Path(path)
    kind = describe_data_folder(path)
    if kind == "mnist":
        return load_mnist(path)
    if kind == "cifar10":
        return load_cifar10(path)
    if kind == "images":
        return load_image_folder(path, shape, progress=progress)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    raise DataError(
        f"{path}: not a dataset cnnviz recognises: choose a folder holding the four MNIST files, "
        f"CIFAR-10's {CIFAR10_ARCHIVE[0]} (or its {CIFAR10_FOLDER} folder), or a folder of "
        "images laid out CLASS/*.png (one folder per class), optionally inside train/ and test/")


def find_cifar10() -> Path | None:
    """Locate CIFAR-10 without downloading: ``$CNNVIZ_CIFAR_DIR`` if it holds the binary release
    or the images in class folders (``train/CLASS``, ``test/CLASS``); else the verified archive in
    the cache folder; else None."""
    env = os.environ.get("CNNVIZ_CIFAR_DIR")
    if env and describe_data_folder(env) in ("cifar10", "images"):
        return Path(env)
    return find_cifar10_binary()


def load_default_cifar10(*, download: bool = False, progress: ProgressCallback | None = None,
                         folder_progress: FolderProgress | None = None) -> Dataset:
    """CIFAR-10 from :func:`find_cifar10`, optionally downloaded into the cache first.

    Raises
    ------
    DataError
        Not found and ``download`` is False; the data is bad.
    DownloadError, DownloadCancelled
        From the download (the message says how to work offline).
    """
    source = find_cifar10()
    if source is None and download:
        source = download_cifar10(progress=progress)
    if source is None:
        raise DataError(
            f"CIFAR-10 not found: let cnnviz download it into {cifar10_cache_dir()} "
            f"(--data cifar10, about 170 MB), or set CNNVIZ_CIFAR_DIR to a folder holding it. "
            + cifar10_offline_advice())
    if describe_data_folder(source) == "images":
        return load_image_folder(source, CIFAR10_SHAPE, progress=folder_progress,
                                 name="CIFAR-10")
    return load_cifar10(source)
