"""Read MNIST from the original IDX files (gzip-compressed or not).

The IDX format: a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order,
big-endian. MNIST uses type code 0x08 (uint8): images have magic 2051 (3 dims),
labels 2049 (1 dim).
"""

from __future__ import annotations

import gzip
import os
import stat
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .datasets import Dataset
from .errors import MnistError

__all__ = [
    "MNIST_FILES",
    "MNIST_PARTS",
    "MAX_IDX_BYTES",
    "read_idx",
    "find_mnist_files",
    "has_mnist_files",
    "load_mnist",
]

#: The four original files: name -> (size in bytes, MD5 hex digest) of the gzip file.
MNIST_FILES: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte.gz": (9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels-idx1-ubyte.gz": (28881, "d53e105ee54ea40749a09fcbcd1e9432"),
    "t10k-images-idx3-ubyte.gz": (1648877, "9fb629c4189551a2d022fa330f9573f3"),
    "t10k-labels-idx1-ubyte.gz": (4542, "ec29112dd5afa0611ce80d1b7f02629c"),
}

#: Logical part -> base file name (without ``.gz``).
MNIST_PARTS: dict[str, str] = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}

#: Largest payload :func:`read_idx` accepts by default (MNIST train images: 47 MB).
MAX_IDX_BYTES = 512 * 2**20

_MAX_NDIM = 8
_GZIP_MAGIC = b"\x1f\x8b"
# IDX type code -> big-endian numpy dtype.
_IDX_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}

#: The last resort of every "MNIST is missing" message, in words of what the user types or clicks
#: (the same errors reach the command line and the window).
USE_OFFLINE = ("or use the offline digits drawn by cnnviz (--data offline on the command line, or "
               "Offline digits in the Training panel)")

_MISSING_ADVICE = (
    "Choose a folder that holds the four MNIST files "
    "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
    "t10k-labels-idx1-ubyte.gz; gzipped or not), let cnnviz download them (--data mnist, or "
    "MNIST in the Training panel), " + USE_OFFLINE + "."
)


def _open_maybe_gzip(path: Path) -> BinaryIO:
    """Open ``path`` for reading, transparently decompressing gzip (magic 1f 8b)."""
    with open(path, "rb") as raw:
        head = raw.read(2)
    if head == _GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads; may return fewer at EOF."""
    chunks = []
    remaining = n
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_header(stream: BinaryIO, name: str) -> tuple[np.dtype, tuple[int, ...]]:
    """Parse the magic number and dimensions; return (dtype, shape)."""
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise MnistError(f"{name}: file is too short to be an IDX file ({len(magic)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", magic)
    if zero != 0 or type_code not in _IDX_TYPES:
        raise MnistError(
            f"{name}: not an IDX file (magic number 0x{magic.hex()}, expected 0x0000 "
            "followed by a type code such as 0x08 for uint8)"
        )
    if not 1 <= ndim <= _MAX_NDIM:
        raise MnistError(f"{name}: IDX header gives {ndim} dimensions (expected 1..{_MAX_NDIM})")
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise MnistError(f"{name}: truncated IDX header (dimensions missing)")
    shape = struct.unpack(f">{ndim}I", raw_dims)
    return np.dtype(_IDX_TYPES[type_code]), shape


def read_idx(path: str | Path, *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file (gzip-compressed or raw).

    Parameters
    ----------
    path : str or Path
        The file. gzip is detected from its first two bytes (1f 8b), not its name.
    max_bytes : int
        Refuse files whose header announces a payload larger than this, before
        allocating anything.

    Returns
    -------
    np.ndarray
        Array of the shape given by the header, native byte order, dtype from the
        type code (uint8 for MNIST: (N, 28, 28) images or (N,) labels). Writable.

    Raises
    ------
    MnistError
        Missing/unreadable file, bad magic number, truncated or corrupt data,
        trailing bytes after the payload, or a payload larger than ``max_bytes``.
    """
    path = Path(path)
    name = str(path)
    try:
        with _open_maybe_gzip(path) as stream:
            dtype, shape = _read_header(stream, name)
            n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if n_bytes > max_bytes:
                raise MnistError(
                    f"{name}: IDX header announces {shape} = {n_bytes} bytes, more than "
                    f"the limit of {max_bytes} bytes; the file is corrupt or not MNIST"
                )
            buffer = bytearray(n_bytes)
            got = stream.readinto(buffer) if n_bytes else 0
            while got < n_bytes:
                more = stream.readinto(memoryview(buffer)[got:])
                if not more:
                    break
                got += more
            if got < n_bytes:
                raise MnistError(
                    f"{name}: truncated IDX file: header announces {shape} "
                    f"({n_bytes} bytes of data) but only {got} bytes follow"
                )
            if stream.read(1):
                raise MnistError(
                    f"{name}: unexpected bytes after the {n_bytes} data bytes announced "
                    f"by the IDX header {shape}"
                )
    except MnistError:
        raise
    except FileNotFoundError as exc:
        raise MnistError(f"{name}: file not found") from exc
    except IsADirectoryError as exc:
        raise MnistError(f"{name}: is a folder, not an IDX file") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise MnistError(f"{name}: cannot read file ({exc})") from exc
    array = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _name_variants(base: str) -> list[str]:
    """``train-images-idx3-ubyte`` -> its accepted spellings, gzip first."""
    dotted = base.replace("-idx", ".idx")
    return [base + ".gz", base, dotted + ".gz", dotted]


def find_mnist_files(folder: str | Path) -> dict[str, Path | None]:
    """Locate the four MNIST files in ``folder``.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    dict
        ``{"train_x": path or None, "train_y": ..., "test_x": ..., "test_y": ...}``.
        Accepted names: ``train-images-idx3-ubyte[.gz]`` and
        ``train-images.idx3-ubyte[.gz]`` (likewise for the other three).
    """
    folder = Path(folder)
    found: dict[str, Path | None] = {}
    for part, base in MNIST_PARTS.items():
        found[part] = next(
            (folder / v for v in _name_variants(base) if (folder / v).is_file()), None
        )
    return found


def has_mnist_files(folder: str | Path) -> bool:
    """True when ``folder`` holds all four MNIST files (not checked for validity)."""
    return all(p is not None for p in find_mnist_files(folder).values())


def _check_pair(images: np.ndarray, labels: np.ndarray, split: str, folder: Path) -> None:
    """Validate one split's images (N, 28, 28) uint8 and labels (N,) uint8 in 0..9."""
    where = f"MNIST folder {folder}, {split} set"
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise MnistError(
            f"{where}: images must be uint8 of shape (N, 28, 28), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise MnistError(
            f"{where}: labels must be uint8 of shape (N,), got {labels.dtype} {labels.shape}"
        )
    if len(images) != len(labels):
        raise MnistError(f"{where}: {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise MnistError(f"{where}: labels must be 0..9, found {int(labels.max())}")


def load_mnist(folder: str | Path) -> Dataset:
    """Load MNIST from a folder holding the four original files.

    Parameters
    ----------
    folder : str or Path
        Folder with ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` (gzipped or
        not; the ``train-images.idx3-ubyte`` spelling is accepted too).

    Returns
    -------
    Dataset
        ``train_x`` uint8 (60000, 28, 28), ``train_y`` uint8 (60000,),
        ``test_x`` uint8 (10000, 28, 28), ``test_y`` uint8 (10000,), name "MNIST".

    Raises
    ------
    MnistError
        Folder or files missing (the message says what to do), or a file that is
        malformed or inconsistent with its partner.
    """
    folder = Path(folder)
    try:
        is_folder = stat.S_ISDIR(os.stat(folder).st_mode)
        problem = "is not a folder"
    except FileNotFoundError:
        is_folder, problem = False, "does not exist"
    except OSError as exc:  # a symlink loop, no permission, a name too long...
        is_folder, problem = False, f"cannot be opened ({exc.strerror or exc})"
    if not is_folder:
        raise MnistError(f"MNIST folder {folder} {problem}. " + _MISSING_ADVICE)
    files = find_mnist_files(folder)
    missing = [MNIST_PARTS[part] + "[.gz]" for part, p in files.items() if p is None]
    if missing:
        raise MnistError(
            f"MNIST folder {folder} lacks {', '.join(missing)}. " + _MISSING_ADVICE
        )
    arrays = {part: read_idx(p) for part, p in files.items() if p is not None}
    _check_pair(arrays["train_x"], arrays["train_y"], "training", folder)
    _check_pair(arrays["test_x"], arrays["test_y"], "test", folder)
    return Dataset(
        train_x=arrays["train_x"],
        train_y=arrays["train_y"],
        test_x=arrays["test_x"],
        test_y=arrays["test_y"],
        name="MNIST",
    )
