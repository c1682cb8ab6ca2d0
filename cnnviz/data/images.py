"""Load image files of any Pillow-readable kind into float arrays in [0, 1].

:func:`load_image` turns PNG, JPEG, BMP, GIF (first frame), TIFF, WebP... of every
Pillow mode into ``float32`` greyscale ``(H, W)`` or colour ``(H, W, 3)`` arrays,
with EXIF orientation applied and transparency composited onto a background.
Every failure becomes an :class:`~cnnviz.data.errors.ImageLoadError` naming the
file and the reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .errors import ImageLoadError

__all__ = [
    "MAX_PIXELS",
    "LoadedImage",
    "load_image",
    "to_grey",
    "resize_float",
    "to_network_input",
]

#: Largest image (width * height) :func:`load_image` accepts by default.
MAX_PIXELS = 50_000_000

#: ITU-R BT.601 luma weights (R, G, B).
LUMA_601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}


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
    """

    pixels: np.ndarray
    mode: str
    size: tuple[int, int]
    path: Path

    @property
    def is_grey(self) -> bool:
        """True for (H, W) greyscale pixels."""
        return self.pixels.ndim == 2


def _composite(colour: np.ndarray, alpha: np.ndarray, background) -> np.ndarray:
    """Blend float ``colour`` (H, W[, C]) over ``background`` using ``alpha`` (H, W) in [0, 1]."""
    bg = np.asarray(background, dtype=np.float32)
    if colour.ndim == 3:
        alpha = alpha[..., None]
        bg = np.broadcast_to(bg, (3,)) if bg.ndim == 0 else bg
    elif bg.ndim == 1:  # colour background behind a grey image: use its luminance
        bg = np.float32(bg @ LUMA_601)
    return colour * alpha + bg * (1.0 - alpha)


def _scale_int32(values: np.ndarray) -> np.ndarray:
    """Mode "I": 16-bit data (0..65535) is divided by 65535; otherwise min-max scaled.

    Values that are all within 0..65535 are taken as 16-bit samples (Pillow opens
    some 16-bit files as "I"). Non-negative data exceeding 65535 is divided by its
    maximum; data with negative values is min-max scaled to [0, 1].
    """
    values = values.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    if lo >= 0 and hi <= 65535:
        out = values / 65535.0
    elif lo >= 0:
        out = values / hi
    else:
        out = (values - lo) / (hi - lo)
    return out.astype(np.float32)


def _scale_float(values: np.ndarray) -> np.ndarray:
    """Mode "F": keep data already in [0, 1]; min-max scale anything else; NaN/inf -> 0."""
    values = values.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros_like(values)
    lo, hi = float(values[finite].min()), float(values[finite].max())
    if lo < 0.0 or hi > 1.0:
        span = hi - lo
        values = (values - lo) / span if span > 0 else np.zeros_like(values)
    return np.where(finite, values, 0.0).astype(np.float32)


def _palette_is_grey(im: Image.Image) -> bool:
    """True when every colour of a "P" image's palette has R == G == B."""
    palette = im.getpalette() or []
    rgb = np.asarray(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))


def _pixels_from_pil(im: Image.Image, background) -> np.ndarray:
    """Convert an opened, loaded Pillow image of any mode to float32 (H, W) or (H, W, 3)."""
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        return np.asarray(im, dtype=np.float32) / 65535.0
    if mode == "I":
        return _scale_int32(np.asarray(im))
    if mode == "F":
        return _scale_float(np.asarray(im))
    grey = mode in ("1", "L", "LA", "La") or (mode in ("P", "PA") and _palette_is_grey(im))
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        colour = rgba[..., 0] if grey else rgba[..., :3]
        return _composite(colour, rgba[..., 3], background).astype(np.float32)
    # RGB, RGBX, CMYK, YCbCr, LAB, HSV... are converted to RGB by Pillow.
    return np.asarray(im.convert("L" if grey else "RGB"), dtype=np.float32) / 255.0


def _check_path(path: Path) -> None:
    """Raise ImageLoadError for missing files, folders and empty files."""
    if not path.exists():
        raise ImageLoadError(f"{path}: file not found")
    if path.is_dir():
        raise ImageLoadError(f"{path}: is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"{path}: file is empty")


def _decode(path: Path, background, max_pixels: int) -> tuple[np.ndarray, str]:
    """Open, check size, load, orient and convert; exceptions are left to the caller."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            mode = im.mode
            width, height = im.size
            if width * height > max_pixels:
                raise ImageLoadError(
                    f"{path}: image is {width}x{height} = {width * height} pixels, more "
                    f"than the limit of {max_pixels} (possible decompression bomb)"
                )
            im.seek(0)
            im.load()
            return _pixels_from_pil(_oriented(im), background), mode


def _oriented(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; a broken EXIF block leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 -- malformed EXIF must not make the image unreadable
        return im


def load_image(
    path: str | Path,
    *,
    background: float | tuple[float, float, float] = 1.0,
    max_pixels: int = MAX_PIXELS,
) -> LoadedImage:
    """Read an image file into a float32 array in [0, 1].

    Parameters
    ----------
    path : str or Path
        Any file Pillow can read (PNG, JPEG, BMP, GIF -- first frame --, TIFF, WebP...).
    background : float or (r, g, b)
        Colour in [0, 1] behind transparent pixels (default white, 1.0).
    max_pixels : int
        Refuse images with more than this many pixels (decompression bombs).

    Returns
    -------
    LoadedImage
        ``pixels`` float32 (H, W) for greyscale modes (1, L, LA, I;16, I, F, P with a
        grey palette) or (H, W, 3) for colour modes (RGB, RGBA, P, CMYK, YCbCr...).
        16-bit data is divided by 65535; mode "I" see :func:`_scale_int32`; mode "F"
        is kept when within [0, 1], otherwise min-max scaled, NaN -> 0.

    Raises
    ------
    ImageLoadError
        Missing file, folder, empty file, not an image, truncated or corrupt data,
        or an image larger than ``max_pixels``.
    """
    path = Path(path)
    try:
        _check_path(path)
    except OSError as exc:
        raise ImageLoadError(f"{path}: cannot access file ({exc})") from exc
    try:
        pixels, mode = _decode(path, background, max_pixels)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(
            f"{path}: image too large (possible decompression bomb): {exc}"
        ) from exc
    except PermissionError as exc:
        raise ImageLoadError(f"{path}: permission denied") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not an image file Pillow can read") from exc
    except Exception as exc:  # noqa: BLE001 -- decoders of untrusted files raise anything
        raise ImageLoadError(
            f"{path}: cannot decode image (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from exc
    pixels = np.clip(np.ascontiguousarray(pixels, dtype=np.float32), 0.0, 1.0)
    return LoadedImage(pixels=pixels, mode=mode, size=(pixels.shape[1], pixels.shape[0]), path=path)


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
