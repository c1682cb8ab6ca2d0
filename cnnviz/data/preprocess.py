"""Turn any picture of a digit into an MNIST-style 28x28 image.

MNIST digits were made from high-resolution black-and-white scans: each digit was
scaled (anti-aliased, keeping its aspect ratio) to fit a 20x20 box, then pasted
into a 28x28 image so that its centre of mass lies at the centre. The functions
here repeat those steps for canvas drawings, loaded image files and the synthetic
digits, so the network always sees the same kind of input.

Clean images (a canvas drawing, an MNIST digit, any grey image on flat paper) are read as they
always were: the paper level is the median of the border, dark ink is inverted. Photos (colour,
uneven light, noise) first go through :func:`find_ink`: the paper is estimated and removed (a
smooth background per channel that ignores the ink), ink and paper are told apart by the colour
difference that is actually there (the principal direction of the differences from the paper, so
a red pen on green paper counts as much as black on white), the ink is the minority side, and
the ink map is thresholded relative to the paper's noise. Ink drawn on a transparent background
is read from the alpha channel.
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
    "InkMap",
    "find_ink",
]

#: Side of the output image (MNIST: 28).
DIGIT_SIZE = 28
#: The digit's larger side after scaling (MNIST: 20).
DIGIT_BOX = 20
#: Pixels brighter than this fraction of the maximum count as ink for the bounding box.
INK_THRESHOLD = 0.05
#: An image whose ink (after background removal) never exceeds this is blank.
BLANK_LEVEL = 0.05
#: Photos are analysed with at most this many pixels on the longer side (the digit becomes 20x20).
PHOTO_SIDE = 512
#: A grey image whose border is at least this share "flat" (within ``FLAT_LEVEL`` of its median)
#: is a clean drawing and is read by the border-median rule; anything else is read as a photo.
FLAT_SHARE = 0.6
FLAT_LEVEL = 2.5 / 255
#: In a photo, ink must differ from the paper by at least this much (in units of the paper's
#: brightness, along the ink's colour direction) and stand this many noise deviations above it.
MIN_CONTRAST = 0.2
MIN_SNR = 10.0
#: Ink weaker than ``STRONG_CONTRAST`` must have sharp edges: its contrast changes by at least
#: ``MIN_SHARPNESS`` of itself per pixel (analysis size) across most of its outline.
STRONG_CONTRAST = 0.8
MIN_SHARPNESS = 0.18

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


# --------------------------------------------------------------------------------- photos
@dataclass(frozen=True)
class InkMap:
    """What :func:`find_ink` found in a photo.

    Attributes
    ----------
    ink : np.ndarray
        float32 (h, w) white-on-black ink in [0, 1] (1 = full ink, 0 = paper), at the analysis
        size (the photo reduced so that its longer side is at most ``PHOTO_SIDE``).
    mask : np.ndarray
        bool (h, w): the solid ink (the part above half the ink's contrast), for the ink box.
    factor : float
        Photo pixels per analysis pixel (>= 1).
    blank : bool
        No ink stands out from the paper.
    dark : bool
        The ink is darker than the paper.
    contrast : float
        Ink level above the paper (in units of the paper's brightness).
    noise : float
        The paper's noise (robust deviation) on the same scale.
    """

    ink: np.ndarray
    mask: np.ndarray
    factor: float
    blank: bool
    dark: bool
    contrast: float = 0.0
    noise: float = 0.0


def _box_mean(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1) x (2r+1) window (edges repeated), along the first two axes; float64."""
    a = np.asarray(a, dtype=np.float64)
    if r <= 0:
        return a
    n = 2 * r + 1
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis)
        hi = np.take(c, np.arange(n, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - n), axis=axis)
        a = (hi - lo) / n
    return a


#: The paper (a smooth field) is estimated on a copy with at most this many pixels on a side.
FIELD_SIDE = 96


def _shrink(planes: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """(h, w, C) float planes area-averaged to (sh, sw, C)."""
    return np.stack([resize_float(np.ascontiguousarray(planes[..., c], dtype=np.float32), sh, sw,
                                  Image.Resampling.BOX) for c in range(planes.shape[2])], axis=2)


def _enlarge(planes: np.ndarray, h: int, w: int) -> np.ndarray:
    """(sh, sw, C) smooth planes enlarged (bilinear) to (h, w, C), float64."""
    return np.stack([resize_float(np.ascontiguousarray(planes[..., c], dtype=np.float32), h, w,
                                  Image.Resampling.BILINEAR) for c in range(planes.shape[2])],
                    axis=2).astype(np.float64)


def _field_size(h: int, w: int) -> tuple[int, int]:
    scale = min(1.0, FIELD_SIDE / max(h, w))
    return max(2, round(h * scale)), max(2, round(w * scale))


#: The paper is the lower envelope of the ink contrast over windows this share of the page wide
#: (wider than a pen stroke: MNIST strokes are up to a fifth of the digit).
OPENING_WIDTH = 0.1


def _opening(a: np.ndarray, k: int) -> np.ndarray:
    """Grey-level opening of ``a`` (h, w) by a (2k+1) square: minimum filter, then maximum
    filter (each separable; edges repeated). Removes bright structures narrower than the
    square, keeps broad ones (steps, slopes) as they are."""
    def rank(x, fn):
        for axis in (0, 1):
            pad = [(0, 0), (0, 0)]
            pad[axis] = (k, k)
            win = np.lib.stride_tricks.sliding_window_view(np.pad(x, pad, mode="edge"),
                                                           2 * k + 1, axis=axis)
            x = fn(win, axis=-1)
        return x
    return rank(rank(a, np.min), np.max)


def _poly_terms(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Cubic polynomial terms of normalised coordinates, (N, 10)."""
    return np.stack([np.ones_like(xx), xx, yy, xx * xx, xx * yy, yy * yy,
                     xx ** 3, xx * xx * yy, xx * yy * yy, yy ** 3], axis=1)


def _poly_background(planes: np.ndarray) -> np.ndarray:
    """A first paper estimate: a smooth (cubic) surface per channel fitted to a small copy, the
    pixels far from it (the ink) left out and the fit repeated."""
    h, w, channels = planes.shape
    sh, sw = _field_size(h, w)
    small = _shrink(planes, sh, sw)
    yy, xx = np.mgrid[0:sh, 0:sw]
    terms = _poly_terms(yy.ravel() / max(sh - 1, 1) - 0.5, xx.ravel() / max(sw - 1, 1) - 0.5)
    values = small.reshape(-1, channels).astype(np.float64)
    keep = np.ones(len(values), bool)
    for _ in range(5):
        t = terms[keep]
        coef = np.linalg.solve(t.T @ t + 1e-9 * np.eye(t.shape[1]), t.T @ values[keep])
        res = np.sqrt(((values - terms @ coef) ** 2).sum(axis=1))
        spread = 1.4826 * float(np.median(res[keep])) + 1e-3
        new = res < 2.5 * spread
        if new.sum() < terms.shape[1] * 3 or np.array_equal(new, keep):
            break
        keep = new
    return _enlarge((terms @ coef).reshape(sh, sw, channels), h, w)


#: Robust statistics of large images are taken on every n-th pixel.
_SAMPLE_STEP = 3


def _robust_level(values: np.ndarray) -> tuple[float, float]:
    """(median, 1.4826 * median absolute deviation) of ``values``."""
    values = values.ravel()
    if values.size >= 4096:
        values = values[::_SAMPLE_STEP]
    med = float(np.median(values))
    return med, 1.4826 * float(np.median(np.abs(values - med)))


def _contrast(planes: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project the difference from the paper (relative to the paper's brightness) on the
    direction in colour space in which the image differs most from its paper (the principal
    axis of the largest differences), signed so that the minority (the ink) is positive.

    Returns the projected contrast (h, w) and the direction (C,)."""
    light = np.maximum(background.mean(axis=2, keepdims=True), 0.25)
    diff = (planes - background) / light
    flat = diff.reshape(-1, diff.shape[2])
    sample = flat[::_SAMPLE_STEP] if len(flat) >= 4096 else flat  # statistics only
    if flat.shape[1] == 1:
        direction = np.ones(1)
    else:
        # The largest differences (the ink, not the noise) set the axis.
        size = (sample ** 2).sum(axis=1)
        far = size > np.quantile(size, 0.9)
        pts = sample[far] if far.sum() >= 3 else sample
        _, vectors = np.linalg.eigh(pts.T @ pts)
        direction = vectors[:, -1]
    # Paper sits at 0 on both sides; the ink is the side that reaches further.
    lo, hi = np.quantile(sample @ direction, [0.002, 0.998])
    if -lo > hi:
        direction = -direction
    return (flat @ direction).reshape(diff.shape[:2]), direction


def find_ink(pixels: np.ndarray) -> InkMap:
    """Find the ink in a photo of a digit (any paper, light, ink colour).

    Parameters
    ----------
    pixels : np.ndarray
        (H, W) grey or (H, W, 3) RGB, float in [0, 1] (uint8 is divided by 255).

    Returns
    -------
    InkMap
    """
    arr = np.asarray(pixels)
    planes = arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    if planes.ndim == 2:
        planes = planes[..., None]
    if planes.ndim != 3 or planes.shape[2] not in (1, 3) or planes.size == 0:
        raise ValueError(f"expected (H, W) grey or (H, W, 3) RGB pixels, got shape {arr.shape}")
    planes = np.clip(np.nan_to_num(planes, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    h, w = planes.shape[:2]
    factor = max(1.0, max(h, w) / PHOTO_SIDE)
    if factor > 1.0:
        sh, sw = max(1, round(h / factor)), max(1, round(w / factor))
        planes = np.stack([resize_float(planes[..., c], sh, sw, Image.Resampling.BOX)
                           for c in range(planes.shape[2])], axis=2)
        factor = h / sh
    planes = planes.astype(np.float64)
    h, w = planes.shape[:2]
    # 1. A first paper (a smooth surface per channel) tells the ink's colour direction and side.
    background = _poly_background(planes)
    _, direction = _contrast(planes, background)
    # 2. Along that direction the ink is a narrow ridge; lighting gradients and shadows are
    #    broad. A morphological opening (the lower envelope over a window wider than a stroke)
    #    keeps those and drops the strokes: it is the paper, shadows included.
    projected = planes @ direction
    sh, sw = _field_size(h, w)
    small = _shrink(projected[..., None], sh, sw)[..., 0].astype(np.float64)
    k = max(1, round(OPENING_WIDTH * max(sh, sw)))
    paper_small = _box_mean(_opening(small, k), 1)
    paper_level = _enlarge(paper_small[..., None], h, w)[..., 0]
    light = np.maximum(background.mean(axis=2), 0.25)
    c = (projected - paper_level) / light
    paper, noise = _robust_level(c)
    strong = c > paper + max(MIN_SNR * noise, MIN_CONTRAST / 2)
    # The ink's level: near the top of what stands out (what is left of a shadow is weaker).
    level = float(np.quantile(c[strong], 0.9)) if strong.sum() >= 4 else paper
    contrast = level - paper
    # Solid ink: above half the contrast, with a third of its 3x3 neighbourhood (no specks).
    mask = c > paper + 0.5 * contrast
    mask &= _box_mean(mask.astype(np.float64), 1) > 0.3  # a 1-pixel line keeps 3 of 9
    min_pixels = max(4, int(2e-4 * h * w))
    blank = bool(contrast < MIN_CONTRAST or contrast < MIN_SNR * noise
                 or int(mask.sum()) < min_pixels)
    if not blank and contrast < STRONG_CONTRAST:
        # Pen strokes have sharp edges; what is left of a soft shadow does not.
        blank = _edge_sharpness(c, mask) < MIN_SHARPNESS * contrast
    if not blank:
        mask = _digit_parts(mask)
    if blank:
        return InkMap(np.zeros((h, w), np.float32), np.zeros((h, w), bool), factor, True,
                      True, float(contrast), float(noise))
    low = paper + max(4.0 * noise, 0.25 * contrast)
    ink = np.clip((c - low) / max(level - low, 1e-6), 0.0, 1.0).astype(np.float32)
    # Only the ink around the digit's parts (its soft edges included), not stray marks.
    ink *= _box_mean(mask.astype(np.float64), max(2, round(max(h, w) / 50))) > 1e-6
    luma = np.array([0.299, 0.587, 0.114]) if planes.shape[2] == 3 else np.ones(1)
    dark = bool(np.mean(planes[mask] @ luma) < np.mean(background[mask] @ luma))
    return InkMap(ink, mask, factor, False, dark, float(contrast), float(noise))


#: Components of the ink are found on a copy with at most this many cells on a side.
COMPONENT_SIDE = 128
#: Ink components smaller than this share of the largest are specks, not part of the digit.
MIN_PART = 0.1


def _components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of ``mask`` (h, w): labels (0 = background, 1..n) and n.

    Runs of each row are joined with the touching runs of the row above (union-find)."""
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    runs_per_row = []
    above: list[tuple[int, int, int]] = []
    for row in mask:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.view(np.int8), [0]])))
        runs = []
        for start, end in zip(edges[::2], edges[1::2]):
            index = len(parent)
            parent.append(index)
            for a_start, a_end, a_index in above:
                if a_start <= end and start <= a_end:  # touching, diagonals included
                    ra, rb = find(a_index), find(index)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
            runs.append((int(start), int(end), index))
        runs_per_row.append(runs)
        above = runs
    labels = np.zeros(mask.shape, np.int32)
    roots: dict[int, int] = {}
    for y, runs in enumerate(runs_per_row):
        for start, end, index in runs:
            labels[y, start:end] = roots.setdefault(find(index), len(roots) + 1)
    return labels, len(roots)


def _digit_parts(mask: np.ndarray) -> np.ndarray:
    """``mask`` without its specks: the components (on a reduced grid) of at least
    ``MIN_PART`` of the largest one's ink."""
    h, w = mask.shape
    f = max(1, int(np.ceil(max(h, w) / COMPONENT_SIDE)))
    ph, pw = -(-h // f), -(-w // f)
    padded = np.zeros((ph * f, pw * f), bool)
    padded[:h, :w] = mask
    cells = padded.reshape(ph, f, pw, f).any(axis=(1, 3))
    labels, n = _components(cells)
    if n <= 1:
        return mask
    full = np.repeat(np.repeat(labels, f, axis=0), f, axis=1)[:h, :w]
    area = np.bincount(full[mask], minlength=n + 1)
    area[0] = 0
    keep = area >= MIN_PART * area.max()
    return mask & keep[full]


def _edge_sharpness(c: np.ndarray, mask: np.ndarray) -> float:
    """How steeply ``c`` changes across the outline of ``mask``: the upper quartile of the
    gradient magnitude on the outline pixels (0 when there is no outline)."""
    inside = _box_mean(mask.astype(np.float64), 1) > 0.999
    edge = mask & ~inside
    if not edge.any():
        return 0.0
    gy, gx = np.gradient(c)
    return float(np.quantile(np.hypot(gx, gy)[edge], 0.75))


def _is_clean_grey(grey: np.ndarray) -> bool:
    """A grey image on flat paper (a canvas drawing, MNIST...): most of its border is one level."""
    border = _border(grey)
    return bool(np.mean(np.abs(border - np.median(border)) <= FLAT_LEVEL) >= FLAT_SHARE)


def _grey_if_grey(pixels: np.ndarray) -> np.ndarray | None:
    """The (H, W) image if ``pixels`` is grey (2-D, or three equal channels), else None."""
    arr = np.asarray(pixels)
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 1:
        return arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 3 and arr.size and (
            np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
        return arr[..., 0]
    return None


def _alpha_is_ink(pixels: np.ndarray, alpha: np.ndarray | None) -> bool:
    """The drawing is on a transparent background: some pixels are transparent, and the opaque
    ones are the minority or all one colour (the alpha channel is then the drawing)."""
    if alpha is None:
        return False
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.shape != np.asarray(pixels).shape[:2]:
        raise ValueError(f"alpha has shape {alpha.shape}, the image {np.asarray(pixels).shape}")
    opaque = alpha > 0.5
    share = float(opaque.mean())
    if share == 0.0 or share == 1.0:
        return False
    if share < 0.5:
        return True
    colours = np.asarray(pixels, dtype=np.float32)[opaque]
    return bool(np.all(colours.std(axis=0) < 0.05))


def preprocess_digit_info(
    grey: np.ndarray,
    *,
    invert: Invert = "auto",
    size: int = DIGIT_SIZE,
    box: int = DIGIT_BOX,
    alpha: np.ndarray | None = None,
) -> tuple[np.ndarray, PreprocessInfo]:
    """MNIST-style normalisation of a digit image, with a report of what was done.

    Steps: white-on-black ink (see below), crop to the ink's bounding box, scale the larger side
    to ``box`` pixels (anti-aliased), paste into ``size`` x ``size`` with the centre of mass at
    the centre, scale to max 1.

    The ink is found in one of three ways:

    - drawn on a transparent background (``alpha`` given, some pixels transparent, the opaque
      ones a minority or all one colour): the alpha channel is the ink;
    - a clean grey image (a canvas drawing, an MNIST digit: most of the border at one level),
      or ``invert`` given explicitly: :func:`to_white_on_black` (the median border level is the
      paper; dark ink on light paper is inverted), exactly as before photos were handled;
    - anything else (colour, uneven light, noise) is a photo: :func:`find_ink`.

    Parameters
    ----------
    grey : np.ndarray
        (H, W) float in [0, 1] (uint8 and (H, W, 3) colour are accepted), any size.
    invert : "auto" or bool
        See :func:`to_white_on_black`.
    size, box : int
        Output side and digit box (MNIST: 28 and 20).
    alpha : np.ndarray or None
        (H, W) opacity in [0, 1] of an image with transparent pixels
        (:attr:`cnnviz.data.LoadedImage.alpha`); ``grey`` is then the image composited over
        its background.

    Returns
    -------
    image : np.ndarray
        float32 (size, size) in [0, 1], max 1.0; all zeros for a blank input.
    info : PreprocessInfo
    """
    if invert != "auto" and not isinstance(invert, (bool, np.bool_)):
        raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")
    if _alpha_is_ink(grey, alpha):
        return _clean_digit(alpha, False, size, box)
    plain = _grey_if_grey(grey)
    if invert != "auto" or (plain is not None and _is_clean_grey(_as_float_grey(plain))):
        return _clean_digit(grey, invert, size, box)
    found = find_ink(grey)
    if found.blank:
        return np.zeros((size, size), dtype=np.float32), PreprocessInfo(found.dark, True)
    top, left, bottom, right = _ink_bbox(found.mask.astype(np.float32))
    f = found.factor
    in_h, in_w = np.asarray(grey).shape[:2]
    bbox = (int(np.floor(top * f)), int(np.floor(left * f)),
            min(in_h, int(np.ceil(bottom * f))), min(in_w, int(np.ceil(right * f))))
    return _finish(found.ink[top:bottom, left:right], found.dark, bbox, f, size, box)


def _clean_digit(grey: np.ndarray, invert: Invert, size: int,
                 box: int) -> tuple[np.ndarray, PreprocessInfo]:
    """The border-median rule (:func:`to_white_on_black`) for clean images."""
    ink, inverted = to_white_on_black(grey, invert)
    if ink.max() < BLANK_LEVEL:
        return np.zeros((size, size), dtype=np.float32), PreprocessInfo(inverted, True)
    top, left, bottom, right = _ink_bbox(ink)
    return _finish(ink[top:bottom, left:right], inverted, (top, left, bottom, right), 1.0,
                   size, box)


def _finish(crop: np.ndarray, inverted: bool, bbox: tuple[int, int, int, int], factor: float,
            size: int, box: int) -> tuple[np.ndarray, PreprocessInfo]:
    """Fit the cropped ink in ``box``, centre it by mass in ``size`` x ``size``, peak 1."""
    digit, scale = _fit_box(crop, box)
    out, offset = _paste_centred(digit, size)
    peak = float(out.max())
    if peak > 0:
        out /= peak
    info = PreprocessInfo(
        inverted=inverted,
        blank=False,
        bbox=bbox,
        scale=scale / factor,
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
