"""Turn any picture of a digit into an MNIST-style 28x28 image.

MNIST digits were made from high-resolution black-and-white scans: each digit was
scaled (anti-aliased, keeping its aspect ratio) to fit a 20x20 box, then pasted
into a 28x28 image so that its centre of mass lies at the centre. The functions
here repeat those steps for canvas drawings, loaded image files and the synthetic
digits, so the network always sees the same kind of input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from .images import resize_float, to_grey

__all__ = [
    "DIGIT_SIZE",
    "DIGIT_BOX",
    "PreprocessInfo",
    "ink_is_dark",
    "to_white_on_black",
    "is_blank",
    "center_of_mass",
    "preprocess_digit",
    "preprocess_digit_info",
    "preprocess_photo",
]

#: Side of the output image (MNIST: 28).
DIGIT_SIZE = 28
#: The digit's larger side after scaling (MNIST: 20).
DIGIT_BOX = 20
#: Pixels brighter than this fraction of the maximum count as ink for the bounding box.
INK_THRESHOLD = 0.05
#: An image whose ink (after background removal) never exceeds this is blank.
BLANK_LEVEL = 0.05

Invert = Literal["auto"] | bool


@dataclass(frozen=True)
class PreprocessInfo:
    """What :func:`preprocess_digit_info` did (useful to show "what the network sees").

    Attributes
    ----------
    inverted : bool
        The input was dark ink on light paper and was inverted.
    blank : bool
        No ink was found; the output is all zeros.
    bbox : tuple of int or None
        Ink bounding box in input pixels, ``(top, left, bottom, right)``, end-exclusive.
    scale : float
        Output pixels per input pixel.
    resized_shape : tuple of int
        (h, w) of the digit after scaling (larger side ``DIGIT_BOX``).
    offset : tuple of int
        (row, col) of the top-left corner of the scaled digit in the output.
    center_of_mass : tuple of float
        (row, col) centre of mass of the output (ideally ``DIGIT_SIZE / 2``).
    """

    inverted: bool
    blank: bool
    bbox: tuple[int, int, int, int] | None = None
    scale: float = 0.0
    resized_shape: tuple[int, int] = (0, 0)
    offset: tuple[int, int] = (0, 0)
    center_of_mass: tuple[float, float] = (0.0, 0.0)


def _as_float_grey(grey: np.ndarray) -> np.ndarray:
    """Validate a 2-D image; uint8 is divided by 255; NaN -> 0; clipped to [0, 1]."""
    arr = np.asarray(grey)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    if arr.ndim == 3:
        arr = to_grey(arr)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"expected a non-empty (H, W) greyscale image, got shape {arr.shape}")
    arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(arr, 0.0, 1.0)


def _border(grey: np.ndarray) -> np.ndarray:
    """The outermost rows and columns of ``grey`` as one 1-D array."""
    return np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])


def ink_is_dark(grey: np.ndarray) -> bool:
    """True when ``grey`` (H, W) in [0, 1] looks like dark ink on light paper.

    Decided from the median of the border pixels: paper brighter than 0.5 means dark ink.
    """
    return bool(np.median(_border(_as_float_grey(grey))) > 0.5)


def to_white_on_black(grey: np.ndarray, invert: Invert = "auto") -> tuple[np.ndarray, bool]:
    """Return the image as white ink on black, with the background level removed.

    Parameters
    ----------
    grey : np.ndarray
        (H, W) float in [0, 1] (uint8 is accepted and divided by 255).
    invert : "auto" or bool
        "auto" inverts dark-on-light images (see :func:`ink_is_dark`); True/False force it.

    Returns
    -------
    image : np.ndarray
        float32 (H, W) in [0, 1]; the median border level is subtracted so that
        grey paper becomes 0.
    inverted : bool
        Whether the image was inverted.
    """
    grey = _as_float_grey(grey)
    if invert == "auto":
        inverted = bool(np.median(_border(grey)) > 0.5)
    elif isinstance(invert, (bool, np.bool_)):
        inverted = bool(invert)
    else:
        raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")
    if inverted:
        grey = 1.0 - grey
    background = float(np.median(_border(grey)))
    if background > 0.0:
        grey = np.clip(grey - background, 0.0, 1.0)
    return grey.astype(np.float32), inverted


def is_blank(grey: np.ndarray, invert: Invert = "auto") -> bool:
    """True when the image holds no ink (nothing brighter than ``BLANK_LEVEL`` above the paper)."""
    ink, _ = to_white_on_black(grey, invert)
    return bool(ink.max() < BLANK_LEVEL)


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, col) intensity-weighted centre of an (H, W) image; the middle if it is empty."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    if total <= 0:
        return ((image.shape[0] - 1) / 2.0, (image.shape[1] - 1) / 2.0)
    rows = image.sum(axis=1) @ np.arange(image.shape[0]) / total
    cols = image.sum(axis=0) @ np.arange(image.shape[1]) / total
    return float(rows), float(cols)


def _ink_bbox(ink: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (top, left, bottom, right), end-exclusive, of pixels above the threshold."""
    mask = ink > INK_THRESHOLD * ink.max()
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _fit_box(crop: np.ndarray, box: int) -> tuple[np.ndarray, float]:
    """Scale ``crop`` so that its larger side is ``box`` pixels, keeping the aspect ratio."""
    h, w = crop.shape
    scale = box / max(h, w)
    new_h = min(box, max(1, int(round(h * scale))))
    new_w = min(box, max(1, int(round(w * scale))))
    # Area averaging when shrinking (anti-aliasing as in MNIST), bilinear when enlarging.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = resize_float(crop, new_h, new_w, resample)
    return np.clip(resized, 0.0, None), scale


def _paste_centred(digit: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Paste ``digit`` into a size x size image with its centre of mass at (size/2, size/2)."""
    h, w = digit.shape
    cy, cx = center_of_mass(digit)
    top = int(np.floor(size / 2.0 - cy + 0.5))
    left = int(np.floor(size / 2.0 - cx + 0.5))
    top = min(max(top, 0), size - h)
    left = min(max(left, 0), size - w)
    out = np.zeros((size, size), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    return out, (top, left)


def preprocess_digit_info(
    grey: np.ndarray,
    *,
    invert: Invert = "auto",
    size: int = DIGIT_SIZE,
    box: int = DIGIT_BOX,
) -> tuple[np.ndarray, PreprocessInfo]:
    """MNIST-style normalisation of a digit image, with a report of what was done.

    Steps: white-on-black (invert dark ink on light paper), crop to the ink's
    bounding box, scale the larger side to ``box`` pixels (anti-aliased), paste
    into ``size`` x ``size`` with the centre of mass at the centre, scale to max 1.

    Parameters
    ----------
    grey : np.ndarray
        (H, W) float in [0, 1] (uint8 and (H, W, 3) colour are accepted), any size.
    invert : "auto" or bool
        See :func:`to_white_on_black`.
    size, box : int
        Output side and digit box (MNIST: 28 and 20).

    Returns
    -------
    image : np.ndarray
        float32 (size, size) in [0, 1], max 1.0; all zeros for a blank input.
    info : PreprocessInfo
    """
    ink, inverted = to_white_on_black(grey, invert)
    if ink.max() < BLANK_LEVEL:
        return np.zeros((size, size), dtype=np.float32), PreprocessInfo(inverted, True)
    top, left, bottom, right = _ink_bbox(ink)
    digit, scale = _fit_box(ink[top:bottom, left:right], box)
    out, offset = _paste_centred(digit, size)
    peak = float(out.max())
    if peak > 0:
        out /= peak
    info = PreprocessInfo(
        inverted=inverted,
        blank=False,
        bbox=(top, left, bottom, right),
        scale=scale,
        resized_shape=digit.shape,
        offset=offset,
        center_of_mass=center_of_mass(out),
    )
    return out, info


def preprocess_digit(grey: np.ndarray, *, invert: Invert = "auto") -> np.ndarray:
    """MNIST-style 28x28 float32 image of a digit; see :func:`preprocess_digit_info`.

    Parameters
    ----------
    grey : np.ndarray
        (H, W) float in [0, 1], white-on-black or dark-on-light, any size.
    invert : "auto" or bool

    Returns
    -------
    np.ndarray
        float32 (28, 28) in [0, 1], white ink on black, centred by mass, digit
        fitted to 20x20; zeros when there is no ink.
    """
    return preprocess_digit_info(grey, invert=invert)[0]


def preprocess_photo(pixels: np.ndarray, size: int | tuple[int, int] = DIGIT_SIZE) -> np.ndarray:
    """Plain greyscale + resize path for images that are not digits (no crop, no centring).

    Parameters
    ----------
    pixels : np.ndarray
        (H, W) grey or (H, W, 3) RGB, float in [0, 1].
    size : int or (height, width)
        Output size.

    Returns
    -------
    np.ndarray
        float32 (height, width) in [0, 1], resized with anti-aliasing (LANCZOS).
    """
    height, width = (size, size) if isinstance(size, int) else size
    grey = _as_float_grey(to_grey(np.asarray(pixels, dtype=np.float32)))
    return np.clip(resize_float(grey, height, width), 0.0, 1.0)
