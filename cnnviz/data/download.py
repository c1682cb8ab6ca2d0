"""Download datasets (MNIST, CIFAR-10) into a per-user cache folder, verifying every file.

:func:`download_file` is the one mechanism: each file has a known size and MD5; it is
written to a temporary file in the destination folder and moved into place with
:func:`os.replace` only once complete and verified, so a half-written file never exists
under its real name. Mirrors are tried in turn; only ``urllib`` is used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Optional, Sequence

from cnnviz.fileio import atomic_write

from .datasets import Dataset
from .errors import DownloadCancelled, DownloadError, MnistError
from .mnist import MNIST_FILES, USE_OFFLINE, has_mnist_files, load_mnist

__all__ = [
    "DEFAULT_MIRRORS",
    "ProgressCallback",
    "default_cache_dir",
    "mnist_cache_dir",
    "file_md5",
    "is_verified",
    "download_file",
    "verify_mnist_folder",
    "download_mnist",
    "find_mnist",
    "load_default_mnist",
]

#: Base URLs tried in turn for each file.
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: ``progress(filename, bytes_done, bytes_total_or_None)``; return False to cancel.
ProgressCallback = Callable[[str, int, Optional[int]], Optional[bool]]

_CHUNK = 64 * 1024
_USER_AGENT = "cnnviz (Python urllib)"
_OFFLINE_ADVICE = (
    "To work offline, copy the four MNIST files ("
    + ", ".join(MNIST_FILES)
    + ") into a folder and choose that folder (--data FOLDER, or MNIST from a folder in the "
    "Training panel; or set CNNVIZ_MNIST_DIR to it), " + USE_OFFLINE + "."
)


class _MirrorFailed(Exception):
    """One mirror did not deliver a correct file (reason in the message)."""


def default_cache_dir() -> Path:
    """The per-user cache folder of cnnviz.

    Returns
    -------
    Path
        ``$CNNVIZ_CACHE_DIR`` if set; otherwise ``~/Library/Caches/cnnviz`` on
        macOS, ``%LOCALAPPDATA%\\cnnviz\\Cache`` on Windows, and
        ``$XDG_CACHE_HOME/cnnviz`` or ``~/.cache/cnnviz`` elsewhere.
    """
    env = os.environ.get("CNNVIZ_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "cnnviz"
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / "cnnviz" / "Cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "cnnviz"
    return Path.home() / ".cache" / "cnnviz"


def mnist_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The ``mnist`` subfolder of ``cache_dir`` (default :func:`default_cache_dir`)."""
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "mnist"


def file_md5(path: str | Path) -> str:
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(path: str | Path, size: int, md5: str) -> bool:
    """True when ``path`` is a file of the right size and MD5."""
    try:
        path = Path(path)
        return path.is_file() and path.stat().st_size == size and file_md5(path) == md5
    except OSError:
        return False


def verify_mnist_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds the four original gzip files with the right MD5s."""
    folder = Path(folder)
    return all(is_verified(folder / name, *info) for name, info in MNIST_FILES.items())


def _report(progress: ProgressCallback | None, name: str, done: int, total: int | None) -> None:
    """Call the progress callback; a False return value cancels the download."""
    if progress is not None and progress(name, done, total) is False:
        raise DownloadCancelled(f"download of {name} cancelled")


def _describe(exc: BaseException) -> str:
    """Short human-readable reason for a failed request."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({exc.reason})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _copy_verified(response, out, name: str, size: int, md5: str,
                   progress: ProgressCallback | None) -> None:
    """Stream ``response`` into ``out``, checking length and MD5 against the expected ones."""
    header = response.headers.get("Content-Length")
    total = int(header) if header and header.isdigit() else None
    if total is not None and total != size:
        raise _MirrorFailed(f"server announces {total} bytes, expected {size}")
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    _report(progress, name, 0, total)
    while chunk := response.read(_CHUNK):
        done += len(chunk)
        if done > size:
            raise _MirrorFailed(f"server sends more than the expected {size} bytes")
        digest.update(chunk)
        out.write(chunk)
        _report(progress, name, done, total)
    if done != size:
        raise _MirrorFailed(f"incomplete download ({done} of {size} bytes)")
    if digest.hexdigest() != md5:
        raise _MirrorFailed(f"wrong MD5 checksum {digest.hexdigest()} (expected {md5})")


def _fetch(url: str, dest: Path, size: int, md5: str,
           progress: ProgressCallback | None, timeout: float) -> None:
    """Download ``url`` to ``dest`` via a temporary file; nothing is left on failure (see
    :func:`cnnviz.fileio.atomic_write`, which also clears the files of killed downloads)."""
    with atomic_write(dest) as out:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            _copy_verified(response, out, dest.name, size, md5, progress)


def download_file(name: str, folder: str | Path, size: int, md5: str, mirrors: Sequence[str],
                  progress: ProgressCallback | None = None, timeout: float = 30,
                  advice: str = "") -> Path:
    """Download ``name`` into ``folder``, trying each mirror in turn, and verify it.

    Parameters
    ----------
    name : str
        The file name, appended to each mirror's base URL and used in ``folder``.
    folder : str or Path
        Destination folder (must exist).
    size, md5 : int, str
        The file's exact size in bytes and MD5 hex digest: anything else is refused.
    mirrors : sequence of str
        Base URLs.
    progress : callable or None
        ``progress(name, bytes_done, bytes_total_or_None)``; False cancels.
    timeout : float
        Socket timeout in seconds for each request.
    advice : str
        Appended to the error message: what to do offline.

    Returns
    -------
    Path
        ``folder / name``, complete and verified.

    Raises
    ------
    DownloadError
        No mirror delivered the file (the message lists every URL with its reason).
    DownloadCancelled
        ``progress`` asked to stop; the partial file is deleted.
    """
    folder = Path(folder)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            _fetch(url, folder / name, size, md5, progress, timeout)
            return folder / name
        except DownloadCancelled:
            raise
        except (_MirrorFailed, OSError, http.client.HTTPException, ValueError) as exc:
            failures.append(f"  - {url}: {_describe(exc)}")
    tried = "\n".join(failures) if failures else "  (no mirrors given)"
    raise DownloadError(
        f"Could not download {name} from any mirror:\n{tried}" + (f"\n{advice}" if advice else "")
    )


def _download_one(name: str, folder: Path, mirrors: Sequence[str],
                  progress: ProgressCallback | None, timeout: float) -> None:
    """Download one MNIST file (see :func:`download_file`)."""
    size, md5 = MNIST_FILES[name]
    download_file(name, folder, size, md5, mirrors, progress, timeout, _OFFLINE_ADVICE)


def download_mnist(
    cache_dir: str | Path | None = None,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    progress: ProgressCallback | None = None,
    timeout: float = 30,
) -> Path:
    """Download the four MNIST files (gzip) into ``<cache_dir>/mnist`` and verify them.

    Parameters
    ----------
    cache_dir : str, Path or None
        Cache folder; default :func:`default_cache_dir`. Files go to its ``mnist/``.
    mirrors : sequence of str
        Base URLs tried in turn for each file.
    progress : callable or None
        ``progress(filename, bytes_done, bytes_total_or_None)``, called as data
        arrives (and once with ``done == total`` for files already present). Return
        False, or raise :class:`DownloadCancelled`, to cancel.
    timeout : float
        Socket timeout in seconds for each request.

    Returns
    -------
    Path
        The folder holding the verified files (loadable with :func:`load_mnist`).

    Raises
    ------
    DownloadError
        A file could not be obtained from any mirror (the message lists each
        mirror with its reason), or the folder cannot be created.
    DownloadCancelled
        ``progress`` asked to stop; the partial file is deleted.
    """
    folder = mnist_cache_dir(cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the cache folder {folder}: {exc}") from exc
    for name, (size, md5) in MNIST_FILES.items():
        if is_verified(folder / name, size, md5):
            _report(progress, name, size, size)
            continue
        _download_one(name, folder, mirrors, progress, timeout)
    return folder


def find_mnist() -> Path | None:
    """Locate MNIST without downloading.

    Returns
    -------
    Path or None
        ``$CNNVIZ_MNIST_DIR`` if it holds the four files; else the cache folder
        (:func:`mnist_cache_dir`) if it holds the four verified files; else None.
    """
    env = os.environ.get("CNNVIZ_MNIST_DIR")
    if env and has_mnist_files(env):
        return Path(env)
    cached = mnist_cache_dir()
    if verify_mnist_folder(cached):
        return cached
    return None


def load_default_mnist(*, download: bool = False,
                       progress: ProgressCallback | None = None) -> Dataset:
    """Load MNIST from :func:`find_mnist`, optionally downloading it first.

    Parameters
    ----------
    download : bool
        When MNIST is not found, download it into the cache (see :func:`download_mnist`).
    progress : callable or None
        Passed to :func:`download_mnist`.

    Returns
    -------
    Dataset
        See :func:`~cnnviz.data.mnist.load_mnist`.

    Raises
    ------
    MnistError
        MNIST was not found and ``download`` is False.
    DownloadError, DownloadCancelled
        From the download.
    """
    folder = find_mnist()
    if folder is None and download:
        folder = download_mnist(progress=progress)
    if folder is None:
        raise MnistError(
            "MNIST not found: set CNNVIZ_MNIST_DIR to a folder holding the four MNIST files, "
            f"let cnnviz download them into {mnist_cache_dir()} (--data mnist, or MNIST in the "
            "Training panel), " + USE_OFFLINE + "."
        )
    return load_mnist(folder)
