"""Folders of image files as datasets: ``ROOT/CLASS/*.png`` or ``ROOT/train/CLASS`` and
``ROOT/test/CLASS``.

Class names are the class folders' names, sorted (the union over both splits). Every image,
whatever its size and mode, becomes the network's input: red, green, blue or grey (ITU-R 601
luma), transparency composited onto white, EXIF orientation applied, resized to HxW (Lanczos),
as uint8 channels first. Only the decoders of :data:`~cnnviz.data.images.SUPPORTED_FORMATS` run,
and the declared size is checked before decoding. Files that cannot be read are skipped and
reported (``Dataset.notes``), so are empty class folders and files whose names are not images.

Without ``train``/``test`` folders, a fixed fifth of each class (chosen at random, seed 0) is
the test set.

Decoded arrays are cached in the user's cache folder (:func:`default_cache_dir`
``/image-folders``) as raw ``.npy`` files (read with ``allow_pickle=False``) and a JSON file,
each written atomically, keyed by a hash of the folder's listing (relative names, sizes and
modification times) and the target shape: a second run of an unchanged folder reads the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from cnnviz.fileio import atomic_write

from .datasets import Dataset
from .download import default_cache_dir
from .errors import ImageFolderError, ImageLoadCancelled, ImageLoadError
from .images import (_ORIENTATION, MAX_PIXELS, MAX_SIDE, SUPPORTED_FORMATS, _orientation,
                     available_memory, load_image, to_network_input)

__all__ = [
    "IMAGE_SUFFIXES",
    "TEST_FRACTION",
    "FolderProgress",
    "folder_cache_dir",
    "guess_input_shape",
    "is_image_folder",
    "load_image_folder",
]

#: File name endings taken as images (case-insensitive); other files are ignored and reported.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: Share of each class held out as the test set when the folder has no train/test split.
TEST_FRACTION = 0.2
#: Paths named in a note before "and N more".
MAX_NAMED = 5
#: Bumped whenever the decoding changes, so that old caches are not used.
CACHE_VERSION = 1

#: ``progress(images_done, images_total)``; return False to stop (raises ImageLoadCancelled).
FolderProgress = Callable[[int, int], Optional[bool]]

#: Pillow modes decoded by the fast path (anything else goes through :func:`load_image`).
_FAST_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


@dataclass
class _Listing:
    """What a folder holds: files per split as (relative path, class index, size, mtime_ns)."""

    root: Path
    split_layout: bool
    classes: tuple[str, ...]
    files: dict[str, list[tuple[str, int, int, int]]]
    empty: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def key(self, shape: tuple[int, int, int]) -> str:
        """Hash of the listing and the target shape."""
        digest = hashlib.sha256()
        digest.update(json.dumps([CACHE_VERSION, list(shape), self.split_layout,
                                  list(self.classes)]).encode())
        for split in ("train", "test"):
            for rel, label, size, mtime in self.files.get(split, []):
                digest.update(f"\n{split}\0{rel}\0{label}\0{size}\0{mtime}".encode("utf-8",
                                                                                  "surrogatepass"))
        return digest.hexdigest()


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _visible_dirs(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as entries:
        return sorted((e for e in entries if not e.name.startswith(".") and e.is_dir()),
                      key=lambda e: e.name)


def _class_files(folder: Path, prefix: str, ignored: list[str]) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of the image files directly in one class folder."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{prefix}/{entry.name}"
            if not _is_image_name(entry.name):
                if not entry.is_dir():
                    ignored.append(rel)
                continue
            try:
                info = entry.stat()
            except OSError:
                info = None
            found.append((rel, info.st_size if info else -1, info.st_mtime_ns if info else -1))
    found.sort()
    return found


def _has_split_layout(root: Path) -> bool:
    return (root / "train").is_dir() and (root / "test").is_dir()


def _scan(root: Path) -> _Listing:
    """List a folder's classes and image files."""
    try:
        if not root.is_dir():
            raise ImageFolderError(f"{root}: not a folder")
        split_layout = _has_split_layout(root)
        splits = {"train": root / "train", "test": root / "test"} if split_layout \
            else {"all": root}
        per_split: dict[str, dict[str, list]] = {}
        ignored: list[str] = []
        for split, folder in splits.items():
            prefix = "" if split == "all" else f"{split}/"
            per_split[split] = {entry.name: _class_files(Path(entry.path), prefix + entry.name,
                                                         ignored)
                                for entry in _visible_dirs(folder)}
    except OSError as exc:
        raise ImageFolderError(f"{root}: cannot list the folder ({exc.strerror or exc})") from None
    classes = tuple(sorted({name for split in per_split.values() for name in split}))
    if not classes:
        raise ImageFolderError(
            f"{root}: no class folders: a folder of images is laid out CLASS/*.png (one folder "
            "per class, named after it), optionally inside train/ and test/ folders")
    files: dict[str, list] = {}
    empty = []
    for split, by_class in per_split.items():
        files[split] = []
        for index, name in enumerate(classes):
            found = by_class.get(name, [])
            if not found:
                empty.append(name if split == "all" else f"{split}/{name}")
            files[split].extend((rel, index, size, mtime) for rel, size, mtime in found)
    if not any(files.values()):
        raise ImageFolderError(
            f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) in its class folders")
    return _Listing(root, split_layout, classes, files, empty, ignored)


def is_image_folder(path: str | Path) -> bool:
    """True when ``path`` is laid out as a folder of images (class folders holding at least one
    file named as an image, perhaps inside train/ and test/); looks at names only, cheaply."""
    root = Path(path)
    try:
        if not root.is_dir():
            return False
        top = root / "train" if _has_split_layout(root) else root
        for entry in _visible_dirs(top):
            with os.scandir(entry.path) as files:
                if any(_is_image_name(f.name) and not f.name.startswith(".") for f in files):
                    return True
    except OSError:
        return False
    return False


def guess_input_shape(path: str | Path, sample: int = 64) -> tuple[int, int, int]:
    """A shape for a folder's images when no network says which: the most common size among the
    first ``sample`` images, grey (1 channel) if all of those are grey, else colour (3)."""
    listing = _scan(Path(path))
    sizes: Counter = Counter()
    grey = True
    for rel, *_ in [f for split in listing.files.values() for f in split][:sample]:
        try:
            if not stat.S_ISREG(os.stat(listing.root / rel).st_mode):
                continue  # a pipe would never answer
            with Image.open(listing.root / rel, formats=SUPPORTED_FORMATS) as im:
                sizes[(im.size[1], im.size[0])] += 1
                grey = grey and (im.mode in _GREY_MODES or (
                    im.mode == "P" and _palette_grey(im)))
        except Exception:  # noqa: BLE001 -- unreadable files are reported when decoding
            continue
    if not sizes:
        raise ImageFolderError(f"{path}: none of the first {sample} image files can be read")
    height, width = sizes.most_common(1)[0][0]
    return (1 if grey else 3, height, width)


def _palette_grey(im: Image.Image) -> bool:
    colours = np.asarray(im.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    return bool(np.all(colours == colours[:, :1]))


def _decode_fast(path: Path, channels: int, height: int, width: int) -> np.ndarray | None:
    """uint8 (channels, height, width) with Pillow directly; None for modes it leaves to
    :func:`load_image`."""
    with open(path, "rb") as raw:
        im = Image.open(raw, formats=SUPPORTED_FORMATS)
        with im:
            w, h = im.size
            if w < 1 or h < 1:
                raise ImageLoadError(f"the file declares an empty image ({w}x{h})")
            if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
                raise ImageLoadError(f"image is {w}x{h} pixels, more than cnnviz opens")
            if im.mode not in _FAST_MODES:
                return None
            if im.format in ("JPEG", "MPO") and (w >= 2 * width and h >= 2 * height):
                im.draft(im.mode, (width, height))  # libjpeg decodes at 1/2, 1/4 or 1/8 scale
            im.load()
            orientation = _orientation(im)
            work = im
            if work.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in work.info:
                rgba = work.convert("RGBA")
                work = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)),
                                             rgba)
            work = work.convert("RGB" if channels == 3 else "L")
            if orientation != 1:
                work = work.transpose(_ORIENTATION[orientation])
            if work.size != (width, height):
                work = work.resize((width, height), Image.Resampling.LANCZOS)
            pixels = np.asarray(work, dtype=np.uint8)
    return pixels.transpose(2, 0, 1) if channels == 3 else pixels[None]


def _decode(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """uint8 (C, H, W) pixels of one file; ImageLoadError (reason only) when it cannot be read."""
    channels, height, width = shape
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # opening a pipe could wait for ever
            raise ImageLoadError("not a regular file (a pipe, device or socket?)")
        pixels = _decode_fast(path, channels, height, width)
        if pixels is None:  # 16-bit, 32-bit and float images: scaled by load_image
            loaded = load_image(path, max_memory=None)
            floats = to_network_input(loaded.pixels, channels, height, width)
            pixels = np.rint(floats * 255.0).astype(np.uint8)
        return pixels
    except ImageLoadError as exc:
        raise ImageLoadError(str(exc).replace(f"{path}: ", "")) from None
    except Image.UnidentifiedImageError:
        raise ImageLoadError("not an image cnnviz reads") from None
    except FileNotFoundError:
        raise ImageLoadError("file vanished") from None
    except MemoryError:
        raise ImageLoadError("not enough memory") from None
    except Exception as exc:  # noqa: BLE001 -- decoders of untrusted files raise anything
        raise ImageLoadError(f"cannot decode ({exc or type(exc).__name__})") from None


def _decode_all(listing: _Listing, shape: tuple[int, int, int],
                progress: FolderProgress | None, workers: int):
    """Decode every listed file: {split: (images, labels)} and [(relative path, reason)]."""
    jobs = [(split, i, rel, label) for split, files in listing.files.items()
            for i, (rel, label, _, _) in enumerate(files)]
    arrays = {split: np.zeros((len(files), *shape), np.uint8)
              for split, files in listing.files.items()}
    ok = {split: np.zeros(len(files), bool) for split, files in listing.files.items()}
    failures: list[tuple[str, str]] = []
    lock, stop = threading.Lock(), threading.Event()
    done = [0]

    def run(chunk):
        for split, i, rel, _ in chunk:
            if stop.is_set():
                return
            try:
                arrays[split][i] = _decode(listing.root / rel, shape)
                ok[split][i] = True
            except ImageLoadError as exc:
                with lock:
                    failures.append((rel, str(exc)))
            with lock:
                done[0] += 1

    size = 256
    chunks = [jobs[k:k + size] for k in range(0, len(jobs), size)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(run, chunk) for chunk in chunks]
        for future in futures:
            future.result()
            if progress is not None and progress(done[0], len(jobs)) is False:
                stop.set()
        if stop.is_set():
            raise ImageLoadCancelled(f"{listing.root}: reading the images cancelled")
    labels = {split: np.array([label for _, label, _, _ in files], np.uint8)
              for split, files in listing.files.items()}
    out = {split: (arrays[split][ok[split]], labels[split][ok[split]]) for split in arrays}
    failures.sort()
    return out, failures


def _hold_out(images: np.ndarray, labels: np.ndarray, n_classes: int):
    """Split into train and test: TEST_FRACTION of each class (seed 0), order kept."""
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), bool)
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        n_test = int(round(TEST_FRACTION * len(members))) if len(members) >= 2 else 0
        test[rng.permutation(members)[:n_test]] = True
    return images[~test], labels[~test], images[test], labels[test]


def _named(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def _notes(listing: _Listing, failures: list[tuple[str, str]], total: int) -> list[str]:
    notes = []
    if failures:
        notes.append(f"{len(failures)} of {total} image files in {listing.root} could not be "
                     f"read and were skipped: "
                     + _named([f"{rel} ({reason})" for rel, reason in failures]))
    if listing.empty:
        notes.append(f"class folders without images in {listing.root}: {_named(listing.empty)}")
    if listing.ignored:
        notes.append(f"{len(listing.ignored)} files in {listing.root} that are not named as "
                     f"images ({', '.join(IMAGE_SUFFIXES)}) were ignored: "
                     + _named(sorted(listing.ignored)))
    return notes


def folder_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Where decoded image folders are cached: ``<cache_dir>/image-folders``."""
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "image-folders"


_PARTS = ("train_x", "train_y", "test_x", "test_y")


def _read_cache(folder: Path, shape: tuple[int, int, int], name: str) -> Dataset | None:
    """The cached dataset in ``folder``, or None if absent or not as written."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("version") != CACHE_VERSION:
            return None
        arrays = {part: np.load(folder / f"{part}.npy", allow_pickle=False) for part in _PARTS}
        for split in ("train", "test"):
            x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
            if (x.dtype != np.uint8 or y.dtype != np.uint8 or x.shape[1:] != tuple(shape)
                    or x.shape[0] != meta[f"n_{split}"] or y.shape != (x.shape[0],)):
                return None
        return Dataset(*(arrays[p] for p in _PARTS), name=name,
                       class_names=tuple(meta["classes"]), notes=tuple(meta["notes"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(folder: Path, data: Dataset) -> None:
    """Write the arrays, then the JSON file that makes them valid; best effort."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for part in _PARTS:
            with atomic_write(folder / f"{part}.npy") as out:
                np.save(out, np.ascontiguousarray(getattr(data, part)), allow_pickle=False)
        meta = {"version": CACHE_VERSION, "classes": list(data.class_names),
                "notes": list(data.notes), "n_train": data.n_train, "n_test": data.n_test}
        with atomic_write(folder / "meta.json", "w", encoding="utf-8") as out:
            json.dump(meta, out)
    except OSError:
        pass  # a cache that cannot be written only costs time on the next run


def _remove_older(cache: Path, prefix: str, keep: str) -> None:
    """Remove earlier caches of the same folder (same root hash, another listing)."""
    try:
        entries = list(os.scandir(cache))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name != keep and entry.is_dir():
            for name in os.listdir(entry.path):
                try:
                    os.unlink(os.path.join(entry.path, name))
                except OSError:
                    pass
            try:
                os.rmdir(entry.path)
            except OSError:
                pass


def load_image_folder(
    path: str | Path,
    shape: tuple[int, int, int] | None = None,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: FolderProgress | None = None,
    workers: int | None = None,
    name: str | None = None,
) -> Dataset:
    """Read a folder of images as a dataset.

    Parameters
    ----------
    path : str or Path
        ``ROOT`` with ``ROOT/CLASS/*.png|jpg|jpeg|bmp|gif|tif|tiff|webp``, or with
        ``ROOT/train/CLASS/...`` and ``ROOT/test/CLASS/...``.
    shape : (C, H, W) or None
        What every image becomes: C = 3 (red, green, blue) or 1 (grey), resized to HxW. None:
        :func:`guess_input_shape`.
    cache_dir : str, Path or None
        The cache's parent folder (default :func:`default_cache_dir`).
    use_cache : bool
        Read and write the cache of decoded arrays.
    progress : callable or None
        ``progress(done, total)`` while decoding; return False to stop.
    workers : int or None
        Decoding threads (default: the number of processors).
    name : str or None
        The dataset's name (default: the folder's name).

    Returns
    -------
    Dataset
        uint8 (N, C, H, W) images, labels indexing ``class_names`` (the sorted class folder
        names); ``notes`` report skipped files, empty class folders and ignored files.

    Raises
    ------
    ImageFolderError
        Not a folder, no class folders, no image that can be read, a split without images.
    ImageLoadCancelled
        ``progress`` asked to stop.
    """
    root = Path(path)
    listing = _scan(root)
    shape = tuple(int(n) for n in (shape or guess_input_shape(root)))
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) < 1:
        raise ImageFolderError(f"{root}: images can become 1xHxW (grey) or 3xHxW (colour) "
                               f"inputs, not {'x'.join(map(str, shape))}")
    total = sum(len(files) for files in listing.files.values())
    needed, free = total * shape[0] * shape[1] * shape[2], available_memory()
    if free is not None and needed > free // 2:
        raise ImageFolderError(
            f"{root}: its {total:,} images as {'x'.join(map(str, shape))} inputs need "
            f"{needed / 2**20:,.0f} MB of memory, more than half of the {free / 2**20:,.0f} MB "
            "available: choose a network with smaller inputs, or a folder with fewer images")
    name = name or root.resolve().name or str(root)
    cache = folder_cache_dir(cache_dir)
    root_hash = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogatepass")).hexdigest()
    entry = f"{root_hash[:16]}-{listing.key(shape)[:32]}"
    if use_cache:
        cached = _read_cache(cache / entry, shape, name)
        if cached is not None:
            return cached
    out, failures = _decode_all(listing, shape, progress, workers or os.cpu_count() or 1)
    notes = _notes(listing, failures, total)
    if listing.split_layout:
        (train_x, train_y), (test_x, test_y) = out["train"], out["test"]
    else:
        train_x, train_y, test_x, test_y = _hold_out(*out["all"], len(listing.classes))
    for split, images in (("training", train_x), ("test", test_x)):
        if len(images) == 0:
            where = f"{root}/{'train' if split == 'training' else 'test'}" \
                if listing.split_layout else str(root)
            detail = f"; {notes[0]}" if failures else ""
            raise ImageFolderError(f"{where}: no {split} image could be read{detail}")
    data = Dataset(train_x, train_y, test_x, test_y, name=name, class_names=listing.classes,
                   notes=tuple(notes))
    if use_cache:
        _write_cache(cache / entry, data)
        _remove_older(cache, root_hash[:16] + "-", entry)
    return data
