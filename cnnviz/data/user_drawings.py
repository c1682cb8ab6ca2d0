"""The user's own labelled drawings and pictures, as a folder of images; no Qt.

When the network reads a drawing wrongly, the window keeps it, labelled, in a folder of the
user's data folder laid out as every other image folder (``CLASS/NNNN.png``,
:func:`cnnviz.data.load_image_folder`), so that it is portable and ``cnnviz train --data FOLDER``
trains on it.

What is kept is the picture *as the network reads it*: the network's input before its
normalisation (:func:`network_picture`). For a digit network that is the MNIST-style digit
(28x28 grey, white ink on black, fitted in 20x20 and centred by mass), exactly what MNIST holds,
so that the folder trains a digit network without further steps (an image folder's pictures are
only resized to the network's input, which would leave a whole 280x280 canvas drawing neither
cropped nor centred); for a colour network the picture cropped or padded to its input, RGB.

Every class of the network gets a folder, even an empty one, so that the folder's sorted class
names are the network's (its labels index the same classes).  Files are written atomically
(:func:`cnnviz.fileio.atomic_write`); a deleted file's bytes are handed back so that undo can
put it back.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from cnnviz.fileio import atomic_write
from cnnviz.nn.contract import InputContract

from .datasets import Dataset
from .errors import DataError, ImageLoadError
from .folders import _decode, _hold_out, _is_image_name
from .pipeline import image_to_input

__all__ = ["UserDrawings", "UserDrawingsError", "dataset_folder", "network_picture",
           "picture_from_input", "read_drawings"]

#: Sub-folder of the user data folder holding the user's datasets.
DATASETS_FOLDER = "my-drawings"


class UserDrawingsError(DataError):
    """A label or file the user's dataset cannot take; the message says why."""


def dataset_folder(data_folder: str | Path, contract: InputContract) -> Path:
    """The user's dataset for networks with ``contract``'s classes and pipeline, inside
    ``data_folder``: ``my-drawings/digits`` for digit networks (classes 0-9), else
    ``my-drawings/pictures-<channels>x<height>x<width>-<hash of the class names>``."""
    root = Path(data_folder) / DATASETS_FOLDER
    classes = tuple(contract.classes) or tuple(str(i) for i in range(contract.shape[0]))
    if contract.pipeline == "digits" and classes == tuple(str(d) for d in range(10)):
        return root / "digits"
    key = hashlib.sha256("\n".join(classes).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    kind = "digits" if contract.pipeline == "digits" else "pictures"
    return root / f"{kind}-{contract.shape_text}-{key}"


def network_picture(pixels: np.ndarray, contract: InputContract) -> np.ndarray:
    """The picture the network reads, before its normalisation, as uint8: (H, W) grey or
    (H, W, 3) RGB of the network's input size.

    ``pixels``: a canvas raster (uint8 (H, W) white ink on black, or (H, W, 3)) or a loaded
    image's float pixels in [0, 1]."""
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        pixels = pixels.astype(np.float32) / 255.0
    return picture_from_input(image_to_input(pixels, contract).x, contract)


def picture_from_input(x: np.ndarray, contract: InputContract) -> np.ndarray:
    """A network input ``x`` (float32 (C, H, W), normalised as ``contract`` says) as the uint8
    picture it was made from: (H, W) grey or (H, W, 3) RGB."""
    x = np.asarray(x, np.float32)
    mean = np.asarray(contract.mean, np.float32)[:, None, None]
    std = np.asarray(contract.std, np.float32)[:, None, None]
    plain = np.clip(x * std + mean, 0.0, 1.0)
    out = np.rint(plain * 255.0).astype(np.uint8)
    return out[0] if out.shape[0] == 1 else out.transpose(1, 2, 0)


def _check_label(label: str) -> str:
    label = str(label)
    if (not label or label != label.strip() or label.startswith(".") or "/" in label
            or "\\" in label or "\0" in label or label in (".", "..")):
        raise UserDrawingsError(f"a class called {label!r} cannot be a folder name")
    return label


def _png_bytes(image: np.ndarray) -> bytes:
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (image.ndim == 2 or image.ndim == 3
                                       and image.shape[2] == 3) or image.size == 0:
        raise UserDrawingsError(f"a drawing is a uint8 (H, W) or (H, W, 3) picture, not "
                                f"{image.dtype} {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(image, "L" if image.ndim == 2 else "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


class UserDrawings:
    """A folder ``ROOT/CLASS/NNNN.png`` of labelled pictures.

    Parameters
    ----------
    root : str or Path
        The folder (created on the first write).
    classes : sequence of str, optional
        Class folders to create (empty) on the first write, so that the folder has every class.
    """

    def __init__(self, root: str | Path, classes=()):
        self.root = Path(root)
        self.classes = tuple(_check_label(c) for c in classes)

    # ----------------------------------------------------------------- reading
    def labels(self) -> list[str]:
        """The class folders there are, sorted (as the image-folder reader sorts them)."""
        try:
            with os.scandir(self.root) as entries:
                return sorted(e.name for e in entries
                              if e.is_dir() and not e.name.startswith("."))
        except OSError:
            return []

    def list(self) -> list[tuple[str, Path]]:
        """Every picture as (class, path), by class then file name."""
        found = []
        for label in self.labels():
            try:
                with os.scandir(self.root / label) as entries:
                    names = sorted(e.name for e in entries if e.is_file()
                                   and not e.name.startswith(".") and _is_image_name(e.name))
            except OSError:
                continue
            found.extend((label, self.root / label / name) for name in names)
        return found

    def label_of(self, path: str | Path) -> str:
        """The class of a picture of this folder (the name of the folder holding it)."""
        path = Path(path)
        if path.parent.parent != self.root:
            raise UserDrawingsError(f"{path} is not a picture of {self.root}")
        return path.parent.name

    # ----------------------------------------------------------------- writing
    def _prepare(self, label: str) -> Path:
        folder = self.root / _check_label(label)
        try:
            for name in self.classes:
                (self.root / name).mkdir(parents=True, exist_ok=True)
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserDrawingsError(f"cannot make the folder {folder} "
                                    f"({exc.strerror or exc})") from None
        return folder

    def _next_path(self, folder: Path, suffix: str = ".png") -> Path:
        numbers = [int(p.stem) for p in folder.iterdir() if p.stem.isdigit()]
        number = max(numbers, default=0) + 1
        while True:  # another writer may have taken it; never overwrite
            path = folder / f"{number:04d}{suffix}"
            if not path.exists():
                return path
            number += 1

    def _write(self, path: Path, data: bytes) -> Path:
        try:
            with atomic_write(path) as handle:
                handle.write(data)
        except OSError as exc:
            raise UserDrawingsError(f"cannot write {path} ({exc.strerror or exc})") from None
        return path

    def add(self, label: str, image: np.ndarray) -> Path:
        """Keep ``image`` (uint8 (H, W) or (H, W, 3)) as a new picture of class ``label``;
        returns its path."""
        data = _png_bytes(image)
        folder = self._prepare(label)
        return self._write(self._next_path(folder), data)

    def add_bytes(self, label: str, data: bytes, suffix: str = ".png") -> Path:
        """Keep an encoded picture (``data``) as a new file of class ``label``."""
        folder = self._prepare(label)
        return self._write(self._next_path(folder, suffix), data)

    def restore(self, path: str | Path, data: bytes) -> Path:
        """Put back a file that :meth:`delete` removed (``data``: the bytes it returned)."""
        path = Path(path)
        self._prepare(self.label_of(path))
        return self._write(path, data)

    def delete(self, path: str | Path) -> bytes:
        """Remove a picture; returns its bytes (for :meth:`restore`)."""
        path = Path(path)
        self.label_of(path)
        try:
            data = path.read_bytes()
            path.unlink()
        except OSError as exc:
            raise UserDrawingsError(f"cannot delete {path} ({exc.strerror or exc})") from None
        return data

    def relabel(self, path: str | Path, label: str) -> Path:
        """Move a picture to class ``label``; returns its new path (a new number there)."""
        path = Path(path)
        if self.label_of(path) == label:
            return path
        folder = self._prepare(label)
        target = self._next_path(folder, path.suffix or ".png")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserDrawingsError(f"cannot read {path} ({exc.strerror or exc})") from None
        self._write(target, data)
        try:
            path.unlink()
        except OSError as exc:
            target.unlink(missing_ok=True)
            raise UserDrawingsError(f"cannot move {path} ({exc.strerror or exc})") from None
        return target

    def move(self, source: str | Path, target: str | Path) -> Path:
        """Move a picture back to a given path (undo of :meth:`relabel`)."""
        source, target = Path(source), Path(target)
        self._prepare(self.label_of(target))
        data = source.read_bytes()
        self._write(target, data)
        source.unlink(missing_ok=True)
        return target

    def counts(self) -> dict[str, int]:
        """Pictures per class."""
        out = {label: 0 for label in self.labels()}
        for label, _ in self.list():
            out[label] += 1
        return out


def read_drawings(root: str | Path, shape: tuple[int, int, int]) -> Dataset:
    """The drawings of ``root`` as a dataset of ``shape`` (C, H, W) images, decoded as the
    image-folder reader decodes them, with the same fifth of each class held out as test images
    (:func:`cnnviz.data.load_image_folder`) -- but, unlike that reader, a few drawings with no
    test image (one of a class) are a dataset too. Unreadable files are skipped and noted.

    Raises
    ------
    UserDrawingsError
        No drawing can be read.
    """
    store = UserDrawings(root)
    classes = tuple(store.labels())
    images, labels, failed = [], [], []
    for label, path in store.list():
        try:
            images.append(_decode(path, tuple(shape)))
            labels.append(classes.index(label))
        except ImageLoadError as exc:
            failed.append(f"{label}/{path.name} ({exc})")
    if not images:
        raise UserDrawingsError(f"{root}: there are no drawings"
                                + (f" that can be read ({'; '.join(failed[:3])})" if failed
                                   else ""))
    train_x, train_y, test_x, test_y = _hold_out(np.stack(images), np.array(labels, np.uint8),
                                                 len(classes))
    notes = ((f"{len(failed)} drawings could not be read: {'; '.join(failed[:3])}",)
             if failed else ())
    return Dataset(train_x, train_y, test_x, test_y, name=Path(root).name,
                   class_names=classes, notes=notes)
