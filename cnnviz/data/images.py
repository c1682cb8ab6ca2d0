"""Load image files into float arrays in [0, 1], bounded in memory and time.

:func:`load_image` turns PNG, JPEG, BMP, GIF (first frame), TIFF, WebP, PBM/PGM/PPM and ICO
files of every Pillow mode into ``float32`` greyscale ``(H, W)`` or colour ``(H, W, 3)`` arrays,
with EXIF orientation applied and transparency composited onto a background. Every failure
becomes an :class:`~cnnviz.data.errors.ImageLoadError` naming the file and the reason.

Only the decoders of those formats are ever run (``Image.open(..., formats=...)``): a file
holding anything else (Photoshop, EPS, ICNS...) is refused with a message naming what it is.
The size and mode the file declares are checked before anything is decoded; JPEGs are decoded
at a reduced scale when they are larger than needed and every other image is reduced right after
decoding (area averaging), so that the pixels kept are at most :data:`WORKING_PIXELS`: what the
canvas shows and the network needs. Range normalisation (16-bit, 32-bit integer and float data)
is computed in float64, block by block, and always gives finite values.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import ImageLoadCancelled, ImageLoadError

__all__ = [
    "MAX_PIXELS",
    "MAX_SIDE",
    "WORKING_PIXELS",
    "SUPPORTED_FORMATS",
    "SUPPORTED_FORMATS_TEXT",
    "LoadedImage",
    "ProgressCallback",
    "available_memory",
    "unit_from_floats",
    "unit_from_integers",
    "load_image",
    "to_grey",
    "resize_float",
    "to_network_input",
]

#: Largest image (width * height, as the file declares it) :func:`load_image` accepts by default.
MAX_PIXELS = 50_000_000

#: Longest side :func:`load_image` accepts (the largest JPEG or GIF side). Pillow keeps one pointer
#: per row and works row by row: a 1 x 33,000,000 image, within the pixel cap, would take seconds.
MAX_SIDE = 65_535

#: Largest image :func:`load_image` keeps by default (2048 x 2048): larger ones are reduced by an
#: integer factor (area averaging) while loading. Far more than a screen shows or a network needs.
WORKING_PIXELS = 2048 * 2048

#: Pillow formats whose decoders :func:`load_image` runs (JPEG includes its MPO variant; PPM reads
#: PBM, PGM, PPM and PNM).
SUPPORTED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM", "ICO")

#: The same, in words for messages.
SUPPORTED_FORMATS_TEXT = "PNG, JPEG, BMP, GIF, TIFF, WebP, PBM/PGM/PPM or ICO"

#: ``progress(fraction)`` with ``fraction`` in [0, 1]; return False to cancel the load.
ProgressCallback = Callable[[float], "bool | None"]

#: ITU-R BT.601 luma weights (R, G, B).
LUMA_601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
#: Elements per block when normalising in float64 (8 MiB of float64 at a time).
_BLOCK = 1 << 20
#: EXIF orientation -> the transpose that shows the image upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: Signatures of common files that are not images cnnviz reads (Pillow's own come first).
_OTHER_SIGNATURES = (
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "zip archive (a cnnviz network is one)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"<svg", "SVG drawing (vector graphics)"),
    (b"<?xml", "XML text"),
)


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image file decoded to floats.

    Attributes
    ----------
    pixels : np.ndarray
        float32, (H, W) for greyscale or (H, W, 3) for colour, values in [0, 1],
        after EXIF orientation and alpha compositing.
    mode : str
        The Pillow mode of the file as stored (e.g. ``"P"``, ``"I;16"``, ``"CMYK"``).
    size : tuple of int
        (width, height) of ``pixels`` (after EXIF orientation), Pillow's order.
    path : Path
        The file that was read.
    original_size : tuple of int or None
        (width, height) of the image in the file (after EXIF orientation); larger than ``size``
        when the image was reduced while loading. None means the same as ``size``.
    alpha : np.ndarray or None
        float32 (H, W) opacity in [0, 1] of an image with transparent pixels (``pixels`` is
        already composited over the background); None when every pixel is opaque. The digit
        pipeline reads ink drawn on a transparent background from it.
    """

    pixels: np.ndarray
    mode: str
    size: tuple[int, int]
    path: Path
    original_size: tuple[int, int] | None = None
    alpha: np.ndarray | None = None

    @property
    def is_grey(self) -> bool:
        """True for (H, W) greyscale pixels."""
        return self.pixels.ndim == 2

    @property
    def file_size(self) -> tuple[int, int]:
        """(width, height) of the image in the file, after EXIF orientation."""
        return self.original_size or self.size

    @property
    def scale(self) -> float:
        """Pixels kept per pixel of the file (1.0 unless the image was reduced while loading)."""
        return self.size[0] / self.file_size[0] if self.file_size[0] else 1.0


# --------------------------------------------------------------------------------- numbers
def _row_blocks(values: np.ndarray):
    """Slices of whole rows of ``values`` holding about ``_BLOCK`` elements each."""
    per_row = max(1, values.size // max(1, values.shape[0]))
    rows = max(1, _BLOCK // per_row)
    for start in range(0, values.shape[0], rows):
        yield slice(start, start + rows)


def _finite_range(values: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of the finite values as Python floats, or None when there is none."""
    lo, hi = math.inf, -math.inf
    for rows in _row_blocks(values):
        block = values[rows]
        if block.dtype.kind == "f":
            block = block[np.isfinite(block)]
        if block.size:
            lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    return (lo, hi) if lo <= hi else None


def _to_unit(values: np.ndarray, offset: float, span: float) -> np.ndarray:
    """``(values - offset) / span`` computed in float64, clipped to [0, 1], as float32.

    +inf becomes 1, -inf and NaN become 0, so the result is always finite. Works block by block:
    no float64 copy of the whole image is made.
    """
    out = np.empty(values.shape, dtype=np.float32)
    for rows in _row_blocks(values):
        with np.errstate(invalid="ignore"):  # a signalling NaN in the file raises "invalid"
            block = values[rows].astype(np.float64)
        block -= offset
        block /= span
        np.clip(block, 0.0, 1.0, out=block)
        out[rows] = np.nan_to_num(block, copy=False, nan=0.0)
    return out


def unit_from_integers(values: np.ndarray) -> np.ndarray:
    """Integer samples (16- or 32-bit) as float32 in [0, 1].

    Unsigned 16-bit data is divided by 65535. Other integers (mode "I") that all lie within
    0..65535 are taken as 16-bit samples (Pillow opens some 16-bit files as "I") and divided by
    65535 too; non-negative data exceeding 65535 is divided by its maximum; data with negative
    values is min-max scaled. A constant image is clipped to [0, 1] (no division by a zero range).
    """
    values = np.asarray(values)
    if values.dtype.kind == "u" and values.dtype.itemsize <= 2:
        return _to_unit(values, 0.0, float(np.iinfo(values.dtype).max))
    found = _finite_range(values)
    if found is None:  # empty
        return np.zeros(values.shape, dtype=np.float32)
    lo, hi = found
    if lo >= 0 and hi <= 65535:
        return _to_unit(values, 0.0, 65535.0)
    if lo >= 0:
        return _to_unit(values, 0.0, hi)
    if hi > lo:
        return _to_unit(values, lo, hi - lo)
    return _to_unit(values, 0.0, 1.0)


def unit_from_floats(values: np.ndarray) -> np.ndarray:
    """Float samples (mode "F") as float32 in [0, 1], always finite.

    Data whose finite values lie within [0, 1] is kept; anything else is min-max scaled over
    its finite values (the range computed in float64, so that +-3.4e38 does not overflow). A
    constant image is clipped to [0, 1]. +inf becomes 1, -inf and NaN become 0.
    """
    values = np.asarray(values)
    found = _finite_range(values)
    if found is None or (found[0] >= 0.0 and found[1] <= 1.0) or found[0] == found[1]:
        return _to_unit(values, 0.0, 1.0)
    lo, hi = found
    return _to_unit(values, lo, hi - lo)


def _composite(colour: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """Blend float ``colour`` (H, W[, C]) over ``background`` using ``alpha`` (H, W) in [0, 1]."""
    bg = np.asarray(background, dtype=np.float32)
    if colour.ndim == 3:
        alpha = alpha[..., None]
        bg = np.broadcast_to(bg, (3,)) if bg.ndim == 0 else bg
    elif bg.ndim == 1:  # colour background behind a grey image: use its luminance
        bg = np.float32(bg @ LUMA_601)
    return colour * alpha + bg * (1.0 - alpha)


def _palette_is_grey(im: Image.Image) -> bool:
    """True when every colour of a "P" image's palette has R == G == B."""
    palette = im.getpalette() or []
    rgb = np.asarray(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))


# --------------------------------------------------------------------------------- memory
def available_memory() -> int | None:
    """Bytes of memory available to this process now (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _decoding_bytes_per_pixel(mode: str) -> int:
    """Bytes per pixel of the file's size that decoding and converting an image of ``mode`` needs.

    Pillow keeps 1 byte per pixel for 1/L/P, 2 for I;16, 4 for everything else; converting to the
    working mode copies it once more (4 bytes), and integer/float data also go through numpy
    (4 + 4 bytes: the samples and the normalised float32).
    """
    stored = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    if mode in ("L", "RGB"):
        return stored + 4  # + a transparency key may ask for an RGBA copy
    if mode.startswith("I") or mode == "F":
        return stored + 8
    return stored + 4


def _reduction(width: int, height: int, work_pixels: int) -> int:
    """The smallest integer factor f such that (width / f) * (height / f) <= work_pixels."""
    factor = max(1, math.ceil(math.sqrt(width * height / max(1, work_pixels))))
    while math.ceil(width / factor) * math.ceil(height / factor) > work_pixels:
        factor += 1
    return factor


# --------------------------------------------------------------------------------- decoding
class _WatchedFile:
    """A binary file that reports how far it has been read and can stop the reading.

    Pillow's decoders pull the file's data through ``read``; each call reports the position
    to ``report`` (which may raise :class:`ImageLoadCancelled`). Everything else is the file's.
    """

    def __init__(self, raw, total: int, report: Callable[[float], None]):
        self._raw = raw
        self._total = max(1, total)
        self._report = report

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._report(min(1.0, self._raw.tell() / self._total))
        return data

    def __getattr__(self, name):
        return getattr(self._raw, name)


class _Progress:
    """Calls a :data:`ProgressCallback` at most once per percent; False from it cancels."""

    def __init__(self, callback: ProgressCallback | None, path: Path):
        self._callback = callback
        self._path = path
        self._last = -1.0

    def __call__(self, fraction: float) -> None:
        if self._callback is None or (fraction - self._last < 0.01 and fraction < 1.0):
            return
        self._last = fraction
        if self._callback(fraction) is False:
            raise ImageLoadCancelled(f"{self._path}: loading cancelled")

    def part(self, start: float, end: float) -> Callable[[float], None]:
        """A reporter mapping [0, 1] onto [start, end] of the whole load."""
        return lambda fraction: self(start + (end - start) * fraction)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1..8) of an opened image; 1 when absent or unreadable."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 -- malformed EXIF must not make the image unreadable
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION else 1


def _working_image(im: Image.Image) -> tuple[Image.Image, bool]:
    """A loaded image converted to "L", "RGB", "RGBA" or "F" (in [0, 1]); True if it is grey.

    Integer and float data are normalised here, at the file's resolution, so that the later
    reduction averages values already in [0, 1].
    """
    mode = im.mode
    if mode.startswith("I"):
        return Image.fromarray(unit_from_integers(np.asarray(im)), mode="F"), True
    if mode == "F":
        return Image.fromarray(unit_from_floats(np.asarray(im)), mode="F"), True
    grey = mode in ("1", "L", "LA", "La") or (mode in ("P", "PA") and _palette_is_grey(im))
    if mode in _ALPHA_MODES or "transparency" in im.info:
        return (im if mode == "RGBA" else im.convert("RGBA")), grey
    if mode == ("L" if grey else "RGB"):
        return im, grey
    # 1, P, RGBX, CMYK, YCbCr, LAB, HSV... are converted by Pillow.
    return im.convert("L" if grey else "RGB"), grey


def _float_pixels(im: Image.Image, grey: bool,
                  background) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 (H, W) or (H, W, 3) pixels of a working image (see :func:`_working_image`), and
    its alpha (H, W) when some pixel is not fully opaque (else None)."""
    if im.mode == "F":
        return np.asarray(im, dtype=np.float32), None
    values = np.asarray(im).astype(np.float32)
    values *= np.float32(1 / 255)
    if im.mode != "RGBA":
        return values, None
    colour = values[..., 0] if grey else values[..., :3]
    alpha = values[..., 3]
    pixels = _composite(colour, alpha, background).astype(np.float32, copy=False)
    return pixels, (np.ascontiguousarray(alpha) if alpha.min() < 1.0 else None)


def _identify(path: Path) -> tuple[str | None, str] | None:
    """What a file no supported decoder accepted looks like, from its first 16 bytes only.

    Returns (Pillow format or None, words such as "Adobe Photoshop (PSD)"), or None when nothing
    is recognised. Uses Pillow's signature checks (no decoding; some are loose, so this is a
    hint) and a few signatures of common files that are not images.
    """
    try:
        with open(path, "rb") as f:
            prefix = f.read(16)
    except OSError:
        return None
    Image.init()
    for name in Image.ID:
        factory, accept = Image.OPEN.get(name, (None, None))
        if accept is None:
            continue
        try:
            accepted = accept(prefix)
        except Exception:  # noqa: BLE001 -- a signature check is only a hint
            continue
        if accepted:
            description = getattr(factory, "format_description", None) or name
            return name, f"{description} ({name})" if description != name else name
    for signature, words in _OTHER_SIGNATURES:
        if prefix.lstrip().startswith(signature):
            return None, words
    return None


def _not_supported(path: Path) -> ImageLoadError:
    """The error for a file that none of the supported decoders recognised."""
    found = _identify(path)
    if found is None:
        return ImageLoadError(f"{path}: not an image file cnnviz can open (it opens "
                              f"{SUPPORTED_FORMATS_TEXT} images)")
    name, words = found
    if name in SUPPORTED_FORMATS:
        return ImageLoadError(f"{path}: starts like a {words} image but its header is damaged or "
                              "of a kind cnnviz cannot open")
    return ImageLoadError(f"{path}: the file's first bytes say {words}, a format cnnviz does not "
                          f"open (it opens {SUPPORTED_FORMATS_TEXT} images)")


def _check_path(path: Path) -> int:
    """The file's size in bytes; ImageLoadError for missing files, folders, pipes, empty files..."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: file not found") from None
    except PermissionError:
        raise ImageLoadError(f"{path}: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageLoadError(f"{path}: a symbolic link that leads back to itself") from None
        raise ImageLoadError(f"{path}: cannot access file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageLoadError(f"{path}: is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):  # never opened: reading a pipe could wait for ever
        raise ImageLoadError(f"{path}: is not a regular file (a pipe, device or socket?)")
    if info.st_size == 0:
        raise ImageLoadError(f"{path}: file is empty")
    return info.st_size


def _decode(path: Path, file_bytes: int, background, max_pixels: int, work_pixels: int,
            max_memory: int | None, progress: _Progress
            ) -> tuple[np.ndarray, np.ndarray | None, str, tuple[int, int]]:
    """Open, check, decode (reduced), convert and orient; exceptions are left to the caller."""
    # Damaged metadata makes Pillow warn ("Corrupt EXIF data"...): the image is still read (or the
    # load fails with a message); the warnings would only be noise on a terminal. The warning
    # filters are process-wide and catch_warnings() is not thread-safe, so they are only changed
    # in the main thread; elsewhere a warning may be printed, and the size checks below refuse
    # what a DecompressionBombWarning is about anyway.
    # (get_ident, not current_thread: in a thread Python did not start, a QThread, the latter
    # registers a dummy Thread object that is never removed.)
    main = threading.get_ident() == threading.main_thread().ident
    with (warnings.catch_warnings() if main else contextlib.nullcontext()), \
            open(path, "rb") as raw:
        if main:
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
        watched = _WatchedFile(raw, file_bytes, progress.part(0.0, 0.8))
        try:
            im = Image.open(watched, formats=SUPPORTED_FORMATS)
        except Image.UnidentifiedImageError:
            raise _not_supported(path) from None
        with im:
            mode = im.mode
            width, height = im.size
            if width < 1 or height < 1:
                raise ImageLoadError(f"{path}: the file declares an empty image ({width}x{height})")
            if width * height > max_pixels:
                raise ImageLoadError(
                    f"{path}: image is {width}x{height} = {width * height} pixels, more "
                    f"than the limit of {max_pixels} (possible decompression bomb)")
            if max(width, height) > MAX_SIDE:
                raise ImageLoadError(
                    f"{path}: image is {width}x{height} pixels; cnnviz opens images of up to "
                    f"{MAX_SIDE} pixels on a side")
            factor = _reduction(width, height, work_pixels)
            if factor > 1 and im.format in ("JPEG", "MPO"):
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: never larger than needed.
                im.draft(im.mode, (math.ceil(width / factor), math.ceil(height / factor)))
            # Pillow also keeps a pointer per row, in each copy.
            needed = im.size[1] * (im.size[0] * _decoding_bytes_per_pixel(im.mode) + 16)
            if max_memory is not None and needed > max_memory:
                raise ImageLoadError(
                    f"{path}: decoding this {width}x{height} {mode} image needs about "
                    f"{needed / 2**20:,.0f} MB of memory, more than the "
                    f"{max_memory / 2**20:,.0f} MB it may use")
            im.load()
            progress(0.8)
            # After load(): a PNG's getexif() loads the image itself (eXIf may follow the data),
            # and _orientation() ignores errors, which would hide a broken data stream.
            orientation = _orientation(im)
            work, grey = _working_image(im)
            factor = _reduction(work.size[0], work.size[1], work_pixels)
            if factor > 1:
                work = work.reduce(factor)
            progress(0.9)
            if orientation != 1:
                work = work.transpose(_ORIENTATION[orientation])
            pixels, alpha = _float_pixels(work, grey, background)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return pixels, alpha, mode, (width, height)


def load_image(
    path: str | Path,
    *,
    background: float | tuple[float, float, float] = 1.0,
    max_pixels: int = MAX_PIXELS,
    work_pixels: int = WORKING_PIXELS,
    max_memory: int | None = -1,
    progress: ProgressCallback | None = None,
) -> LoadedImage:
    """Read an image file into a float32 array in [0, 1].

    Parameters
    ----------
    path : str or Path
        A PNG, JPEG, BMP, GIF (first frame), TIFF, WebP, PBM/PGM/PPM or ICO file, whatever its
        name says (see :data:`SUPPORTED_FORMATS`); no other decoder is ever run.
    background : float or (r, g, b)
        Colour in [0, 1] behind transparent pixels (default white, 1.0).
    max_pixels : int
        Refuse images that declare more than this many pixels (decompression bombs); images
        with a side longer than :data:`MAX_SIDE` are refused too.
    work_pixels : int
        Keep at most this many pixels (default :data:`WORKING_PIXELS`): a larger image is
        reduced by the smallest integer factor that fits (area averaging; a JPEG is decoded at
        1/2, 1/4 or 1/8 scale directly). ``LoadedImage.original_size`` keeps the file's size.
    max_memory : int or None
        Refuse an image whose decoding would need more bytes than this. The default (-1) is half
        the memory available now (Linux ``MemAvailable``); None disables the check.
    progress : callable or None
        ``progress(fraction)``, fraction in [0, 1], called as the file is read and decoded
        (at most about once per percent, from the calling thread). Return False, or raise
        :class:`~cnnviz.data.errors.ImageLoadCancelled`, to stop: the load then raises
        ``ImageLoadCancelled`` (an ``ImageLoadError``).

    Returns
    -------
    LoadedImage
        ``pixels`` float32 (H, W) for greyscale modes (1, L, LA, I;16, I, F, P with a
        grey palette) or (H, W, 3) for colour modes (RGB, RGBA, P, CMYK, YCbCr...), always
        finite. 16-bit data is divided by 65535; mode "I" see :func:`unit_from_integers`; mode
        "F" see :func:`unit_from_floats`.

    Raises
    ------
    ImageLoadError
        Missing file, folder, empty file, not an image or a format cnnviz does not read,
        truncated or corrupt data, an image larger than ``max_pixels`` or ``max_memory``.
    """
    path = Path(path)
    if max_memory == -1:
        free = available_memory()
        max_memory = None if free is None else free // 2
    reporter = _Progress(progress, path)
    try:
        file_bytes = _check_path(path)
        reporter(0.0)
        pixels, alpha, mode, original = _decode(path, file_bytes, background, max_pixels,
                                                work_pixels, max_memory, reporter)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(
            f"{path}: image too large (possible decompression bomb): {exc}"
        ) from exc
    except PermissionError as exc:
        raise ImageLoadError(f"{path}: permission denied") from exc
    except MemoryError as exc:
        raise ImageLoadError(f"{path}: not enough memory to decode this image") from exc
    except Exception as exc:  # noqa: BLE001 -- decoders of untrusted files raise anything
        raise ImageLoadError(
            f"{path}: cannot decode image (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from exc
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    if not pixels.flags.writeable:  # numpy's view of a Pillow image
        pixels = pixels.copy()
    np.clip(pixels, 0.0, 1.0, out=pixels)
    reporter(1.0)
    size = (pixels.shape[1], pixels.shape[0])
    if alpha is not None:
        alpha = np.clip(np.nan_to_num(alpha.astype(np.float32, copy=False)), 0.0, 1.0)
    return LoadedImage(pixels=pixels, mode=mode, size=size, path=path,
                       original_size=original if original != size else None, alpha=alpha)


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """Greyscale version of an image.

    Parameters
    ----------
    pixels : np.ndarray
        (H, W) grey, or (H, W, 3) RGB (or (H, W, 1)), float in [0, 1].

    Returns
    -------
    np.ndarray
        float32 (H, W); RGB is weighted with ITU-R BT.601 luma (0.299, 0.587, 0.114).
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        return pixels
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        return pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return (pixels @ LUMA_601).astype(np.float32)
    raise ValueError(f"expected (H, W), (H, W, 1) or (H, W, 3) pixels, got shape {pixels.shape}")


def resize_float(
    image: np.ndarray, height: int, width: int, resample: int = Image.Resampling.LANCZOS
) -> np.ndarray:
    """Resize one float channel with Pillow (mode "F"), anti-aliased when shrinking.

    Parameters
    ----------
    image : np.ndarray
        (H, W) float array.
    height, width : int
        Output size (at least 1).
    resample : PIL.Image.Resampling
        Filter, LANCZOS by default (Pillow widens it when downscaling).

    Returns
    -------
    np.ndarray
        float32 (height, width). Not clipped (LANCZOS can overshoot slightly).
    """
    if height < 1 or width < 1:
        raise ValueError(f"output size must be positive, got {height}x{width}")
    image = np.ascontiguousarray(image, dtype=np.float32)
    if image.shape == (height, width):
        return image.copy()
    pil = Image.fromarray(image)  # float32 (H, W) -> mode "F"
    return np.asarray(pil.resize((width, height), resample), dtype=np.float32)


def to_network_input(pixels: np.ndarray, channels: int, height: int, width: int) -> np.ndarray:
    """Convert an image to a network input tensor.

    Parameters
    ----------
    pixels : np.ndarray
        (H, W) grey or (H, W, 3) RGB, float in [0, 1].
    channels : {1, 3}
        Channels the network expects: RGB is reduced to BT.601 luma, grey is repeated.
    height, width : int
        Spatial size the network expects; resized with anti-aliasing (LANCZOS).

    Returns
    -------
    np.ndarray
        float32 (channels, height, width), clipped to [0, 1].
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if channels == 1:
        planes = [to_grey(pixels)]
    elif channels == 3:
        rgb = pixels if pixels.ndim == 3 and pixels.shape[2] == 3 else to_grey(pixels)
        planes = [rgb[..., c] for c in range(3)] if rgb.ndim == 3 else [rgb] * 3
    else:
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    out = np.stack([resize_float(p, height, width) for p in planes])
    return np.clip(out, 0.0, 1.0).astype(np.float32)
