"""CIFAR-10 from its official binary release (``cifar-10-binary.tar.gz``), never the pickles.

Each batch file holds records of 3,073 bytes: one label byte (0-9), then 3,072 pixel bytes, the
red plane, the green plane and the blue plane, each 32x32 row-major. ``data_batch_1.bin`` ..
``data_batch_5.bin`` are the 50,000 training images, ``test_batch.bin`` the 10,000 test images,
``batches.meta.txt`` the class names, one a line.

The files are read straight from the archive (streamed, never extracted: nothing is written
anywhere) or from an extracted ``cifar-10-batches-bin/`` folder. An archive holding a member that
could not be extracted safely (an absolute path, ``..``, a link, a device...) is refused as a
whole: it is not the official release. The Python release (``cifar-10-python.tar.gz``) holds
pickles, which can run any code when loaded: it is never read.
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from .datasets import Dataset
from .download import ProgressCallback, default_cache_dir, download_file, is_verified
from .errors import CifarError, DownloadError

__all__ = [
    "CIFAR10_ARCHIVE",
    "CIFAR10_CLASSES",
    "CIFAR10_FOLDER",
    "CIFAR10_MIRRORS",
    "cifar10_cache_dir",
    "cifar10_offline_advice",
    "download_cifar10",
    "find_cifar10_binary",
    "is_cifar10_binary",
    "load_cifar10",
    "read_cifar_records",
]

#: The official binary release: (file name, size in bytes, MD5 hex digest).
CIFAR10_ARCHIVE: tuple[str, int, str] = (
    "cifar-10-binary.tar.gz", 170_052_171, "c32a1d4ab5d03f1284b67883e8d87530")

#: Base URLs of the release.
CIFAR10_MIRRORS: tuple[str, ...] = ("https://www.cs.toronto.edu/~kriz/",)

#: The folder the archive holds (and that an extracted copy is).
CIFAR10_FOLDER = "cifar-10-batches-bin"

#: The ten classes in label order 0-9.
CIFAR10_CLASSES: tuple[str, ...] = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                    "frog", "horse", "ship", "truck")

TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
META_FILE = "batches.meta.txt"
#: Bytes per record: one label, 3 x 32 x 32 pixels.
RECORD_BYTES = 1 + 3 * 32 * 32
#: Records per batch file in the release; a larger file is refused.
MAX_RECORDS = 10_000
#: The class-name file is a few dozen bytes; anything larger is refused.
MAX_META_BYTES = 64 * 1024
#: An archive with more members than this is not the release (which has 8).
MAX_MEMBERS = 1000
#: Bytes the members of an archive may hold in all (the release: 184 MB); more is refused before
#: it is decompressed, so that a small archive cannot keep cnnviz busy for ever.
MAX_ARCHIVE_BYTES = 256 * 2**20

_OFFLINE_ADVICE = (
    f"To work offline, copy {CIFAR10_ARCHIVE[0]} (or its extracted {CIFAR10_FOLDER} folder) from "
    "a computer that has it and choose it with --data PATH, or set CNNVIZ_CIFAR_DIR to it; a "
    "folder of images laid out CLASS/*.png (or train/CLASS and test/CLASS) works too.")


def read_cifar_records(data: bytes | bytearray | memoryview, name: str = "CIFAR-10 batch",
                       n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Decode CIFAR-10 binary records.

    Parameters
    ----------
    data : bytes-like
        Whole records of 3,073 bytes: a label byte then the red, green and blue 32x32 planes.
    name : str
        The file, for messages.
    n_classes : int
        Labels must be below this.

    Returns
    -------
    images : np.ndarray
        uint8 (N, 3, 32, 32), channels red, green, blue.
    labels : np.ndarray
        uint8 (N,).

    Raises
    ------
    CifarError
        The length is not a whole number of records, or a label is out of range.
    """
    size = len(data)
    if size == 0 or size % RECORD_BYTES:
        raise CifarError(
            f"{name}: {size} bytes is not a whole number of CIFAR-10 records of {RECORD_BYTES} "
            "bytes (a label byte and 3,072 pixel bytes); the file is truncated or not CIFAR-10")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].copy()
    if labels.max() >= n_classes:
        bad = int(np.argmax(labels >= n_classes))
        raise CifarError(f"{name}: record {bad} has label {int(labels[bad])}; CIFAR-10 labels are "
                         f"0 to {n_classes - 1}; the file is corrupt or not CIFAR-10")
    images = records[:, 1:].reshape(-1, 3, 32, 32).copy()
    return images, labels


def _parse_meta(data: bytes, name: str) -> tuple[str, ...]:
    """Class names from ``batches.meta.txt``: one a line, blank lines ignored."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise CifarError(f"{name}: the class names are not plain text") from None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != len(CIFAR10_CLASSES) or len(set(names)) != len(names):
        raise CifarError(f"{name}: expected {len(CIFAR10_CLASSES)} different class names, "
                         f"found {len(names)}")
    return names


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Refuse a member that extracting could place outside its folder or that is not a plain
    file or folder."""
    name = member.name
    parts = name.replace("\\", "/").split("/")
    problem = None
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        problem = "an absolute path"
    elif ".." in parts:
        problem = "a path leading out of its folder (..)"
    elif member.issym() or member.islnk():
        problem = f"a link (to {member.linkname!r})"
    elif member.ischr() or member.isblk() or member.isfifo():
        problem = "a device or pipe"
    elif not (member.isreg() or member.isdir()):
        problem = "not a plain file or folder"
    if problem:
        raise CifarError(f"{archive}: refused: member {name!r} is {problem}; the official "
                         f"{CIFAR10_ARCHIVE[0]} holds only the plain files of {CIFAR10_FOLDER}")


def _wanted(member_name: str) -> str | None:
    """The batch or meta file a member is (top level or in ``cifar-10-batches-bin/``), or None."""
    folder, base = posixpath.split(member_name.strip("/"))
    if folder.strip("./") not in ("", CIFAR10_FOLDER):
        return None
    return base if base in (*TRAIN_FILES, TEST_FILE, META_FILE) else None


def _check_size(file: str, size: int, where: str) -> None:
    limit = MAX_META_BYTES if file == META_FILE else MAX_RECORDS * RECORD_BYTES
    if size > limit:
        raise CifarError(f"{where}: {file} is {size} bytes, more than the {limit} bytes a "
                         "CIFAR-10 file has; the archive is not CIFAR-10")


def _read_archive(archive: Path) -> dict[str, bytes]:
    """The wanted files of a tar archive (gzip or not), streamed in order, never extracted."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            total = 0
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise CifarError(f"{archive}: more than {MAX_MEMBERS} members; not CIFAR-10")
                _check_member(member, archive)
                total += member.size
                if total > MAX_ARCHIVE_BYTES:
                    raise CifarError(f"{archive}: its files hold more than {MAX_ARCHIVE_BYTES} "
                                     "bytes, far more than CIFAR-10; not the release")
                file = _wanted(member.name) if member.isreg() else None
                if file is None:
                    continue
                if file in found:
                    raise CifarError(f"{archive}: {file} appears twice; not the official release")
                _check_size(file, member.size, str(archive))
                stream = tar.extractfile(member)
                data = stream.read() if stream is not None else b""
                if len(data) != member.size:
                    raise CifarError(f"{archive}: {member.name} is truncated")
                found[file] = data
    except CifarError:
        raise
    except FileNotFoundError:
        raise CifarError(f"{archive}: file not found") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise CifarError(f"{archive}: cannot read the archive (truncated or not a tar "
                         f"archive?): {exc}") from None
    return found


def _read_folder(folder: Path) -> dict[str, bytes]:
    """The batch and meta files of an extracted ``cifar-10-batches-bin`` folder."""
    found: dict[str, bytes] = {}
    for file in (*TRAIN_FILES, TEST_FILE, META_FILE):
        path = folder / file
        try:
            if not path.is_file():
                continue
            _check_size(file, path.stat().st_size, str(folder))
            found[file] = path.read_bytes()
        except OSError as exc:
            raise CifarError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return found


def _binary_source(path: Path) -> Path | None:
    """The archive or batches folder ``path`` names or holds, or None."""
    candidates = [path] if path.is_file() else [
        path / CIFAR10_ARCHIVE[0], path / CIFAR10_FOLDER, path]
    for candidate in candidates:
        if candidate.is_file() and candidate.name.endswith((".tar.gz", ".tgz", ".tar")):
            return candidate
        if candidate.is_dir() and all((candidate / f).is_file() for f in (*TRAIN_FILES, TEST_FILE)):
            return candidate
    return None


def is_cifar10_binary(path: str | Path) -> bool:
    """True when ``path`` is (or holds) a CIFAR-10 binary archive or extracted batches folder
    (judged by names; :func:`load_cifar10` checks the content)."""
    try:
        return _binary_source(Path(path)) is not None
    except OSError:
        return False


def load_cifar10(path: str | Path) -> Dataset:
    """Load CIFAR-10 from its binary release.

    Parameters
    ----------
    path : str or Path
        ``cifar-10-binary.tar.gz`` (or another tar archive of the same files), an extracted
        ``cifar-10-batches-bin`` folder, or a folder holding either.

    Returns
    -------
    Dataset
        ``train_x`` uint8 (50000, 3, 32, 32) (red, green, blue planes), ``train_y`` uint8,
        ``test_x`` uint8 (10000, 3, 32, 32), ``test_y``; ``class_names`` from
        ``batches.meta.txt`` (CIFAR-10's own when the file is absent); name "CIFAR-10".

    Raises
    ------
    CifarError
        Nothing CIFAR-10 there, a file missing, truncated or corrupt, an unsafe archive.
    """
    path = Path(path)
    try:
        source = _binary_source(path)
    except OSError as exc:
        raise CifarError(f"{path}: cannot be opened ({exc.strerror or exc})") from None
    if source is None:
        raise CifarError(f"{path}: neither {CIFAR10_ARCHIVE[0]} nor a {CIFAR10_FOLDER} folder "
                         f"holding {', '.join(TRAIN_FILES)} and {TEST_FILE}")
    files = _read_archive(source) if source.is_file() else _read_folder(source)
    missing = [f for f in (*TRAIN_FILES, TEST_FILE) if f not in files]
    if missing:
        raise CifarError(f"{source}: {', '.join(missing)} missing; not the CIFAR-10 release")
    names = (_parse_meta(files[META_FILE], f"{source}: {META_FILE}") if META_FILE in files
             else CIFAR10_CLASSES)
    parts = [read_cifar_records(files.pop(f), f"{source}: {f}", len(names)) for f in TRAIN_FILES]
    train_x = np.concatenate([x for x, _ in parts])
    train_y = np.concatenate([y for _, y in parts])
    del parts
    test_x, test_y = read_cifar_records(files.pop(TEST_FILE), f"{source}: {TEST_FILE}",
                                        len(names))
    return Dataset(train_x, train_y, test_x, test_y, name="CIFAR-10", class_names=names)


def cifar10_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The ``cifar10`` subfolder of ``cache_dir`` (default :func:`default_cache_dir`)."""
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "cifar10"


def download_cifar10(
    cache_dir: str | Path | None = None,
    mirrors: Sequence[str] = CIFAR10_MIRRORS,
    progress: ProgressCallback | None = None,
    timeout: float = 30,
    archive: tuple[str, int, str] = CIFAR10_ARCHIVE,
) -> Path:
    """Download the binary release into ``<cache_dir>/cifar10`` (unless it is there, verified).

    Parameters
    ----------
    cache_dir, mirrors, progress, timeout
        As for :func:`~cnnviz.data.download.download_mnist` (``progress`` may cancel).
    archive : (name, size, md5)
        The file to fetch; the official release by default.

    Returns
    -------
    Path
        The verified archive (loadable with :func:`load_cifar10`).

    Raises
    ------
    DownloadError
        No mirror delivered the right file (the message lists each with its reason and says
        how to work offline), or the cache folder cannot be created.
    DownloadCancelled
        ``progress`` asked to stop; nothing is left behind.
    """
    name, size, md5 = archive
    folder = cifar10_cache_dir(cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the cache folder {folder}: {exc}") from exc
    if is_verified(folder / name, size, md5):
        if progress is not None:
            progress(name, size, size)  # already there: nothing left to cancel
        return folder / name
    return download_file(name, folder, size, md5, mirrors, progress, timeout, _OFFLINE_ADVICE)


def find_cifar10_binary(cache_dir: str | Path | None = None,
                        archive: tuple[str, int, str] = CIFAR10_ARCHIVE) -> Path | None:
    """The verified archive in the cache folder, or None (never downloads)."""
    name, size, md5 = archive
    path = cifar10_cache_dir(cache_dir) / name
    return path if is_verified(path, size, md5) else None


def cifar10_offline_advice() -> str:
    """What to do when CIFAR-10 can be neither found nor downloaded."""
    return _OFFLINE_ADVICE

