"""Random changes of the training images, chosen by what the network reads (its contract's
pipeline, :func:`augmentation_for`):

- digits (:func:`distort`): thinner or thicker strokes (:func:`change_thickness`, a grey
  erosion or dilation blended in), then small affine maps and elastic warps, applied in one
  bilinear resampling per image (Simard et al., 2003, used affine and elastic distortions of
  MNIST to reach well under 1% error); a mirrored digit is another glyph, so no flips;
- photos (:func:`flip_crop`): a random horizontal flip and a random crop of the image padded
  by 4 pixels on every side (the CIFAR-10 recipe of He et al., 2016), any number of channels.
  The padding is 0, which in normalised inputs is the training images' mean colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random distortions (degrees, scale factor, pixels, elastic strength)."""

    rotation: float = 12.0
    scale: float = 0.12
    shear: float = 0.15
    shift: float = 2.5
    elastic_alpha: float = 1.6
    elastic_sigma: float = 3.0
    # Stroke width: each image moves by a uniform fraction of at most this towards its 3x3
    # dilation (thicker) or, as often, its 3x3 erosion (thinner); 0: unchanged.
    thickness: float = 0.6


#: What :func:`augment_batch` does for each kind (``TrainConfig.augmentation``).
AUGMENTATIONS = ("digits", "photos")
#: Pixels of padding around a photo before the random crop.
CROP_PADDING = 4


def augmentation_for(pipeline: str) -> str:
    """The augmentation that suits a contract's pipeline: ``"digits"`` for the digit pipeline
    (the images are centred strokes), ``"photos"`` for everything else."""
    return "digits" if pipeline == "digits" else "photos"


def augment_batch(images: np.ndarray, rng: np.random.Generator, kind: str = "digits"):
    """Random training copies of ``images`` (N, C, H, W) float32: :func:`distort` for
    ``"digits"`` (one channel), :func:`random_flip_crop` for ``"photos"``."""
    if kind == "digits":
        return distort(images, rng)
    if kind == "photos":
        return random_flip_crop(images, rng)
    raise ValueError(f"unknown augmentation {kind!r} (known: {', '.join(AUGMENTATIONS)})")


def flip_crop(images: np.ndarray, top: np.ndarray, left: np.ndarray, flip: np.ndarray,
              padding: int = CROP_PADDING) -> np.ndarray:
    """Each image of ``images`` (N, C, H, W) padded with ``padding`` zeros on every side, then the
    H x W window at (``top[i]``, ``left[i]``) of the padded image (0..2*padding each), mirrored
    left to right where ``flip[i]``. One gather for the whole batch; returns a new float32 array.
    """
    n, c, h, w = images.shape
    top = np.asarray(top, dtype=np.int64)
    left = np.asarray(left, dtype=np.int64)
    flip = np.asarray(flip, dtype=bool)
    if padding < 0 or ((top < 0) | (top > 2 * padding) | (left < 0) | (left > 2 * padding)).any():
        raise ValueError("crop offsets must be within 0..2*padding")
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=np.float32)
    padded[:, :, padding:padding + h, padding:padding + w] = images
    rows = top[:, None] + np.arange(h)                                   # (N, H)
    columns = np.where(flip[:, None], np.arange(w)[::-1], np.arange(w))  # (N, W)
    columns = left[:, None] + columns
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], columns[:, None, None, :]]


def random_flip_crop(images: np.ndarray, rng: np.random.Generator,
                     padding: int = CROP_PADDING) -> np.ndarray:
    """:func:`flip_crop` with uniform random offsets and a flip for half of the images."""
    n = len(images)
    top = rng.integers(0, 2 * padding + 1, n)
    left = rng.integers(0, 2 * padding + 1, n)
    flip = rng.random(n) < 0.5
    return flip_crop(images, top, left, flip, padding)


def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix of a Gaussian blur along one axis, rows renormalised at the borders."""
    offsets = np.arange(n)[:, None] - np.arange(n)[None, :]
    m = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (m / m.sum(axis=1, keepdims=True)).astype(np.float32)


def _smooth(field: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of (N, H, W) random fields: one matrix product per axis."""
    _, h, w = field.shape
    return _blur_matrix(h, sigma) @ field @ _blur_matrix(w, sigma).T


def _neighbourhood(images: np.ndarray, fn) -> np.ndarray:
    """``fn`` (np.maximum or np.minimum) over each pixel's 3x3 neighbourhood of (N, H, W)
    images, the image's edge repeated outside."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = images.shape[1:]
    out = padded[:, 1:h + 1, 1:w + 1].copy()
    for dy in range(3):
        for dx in range(3):
            fn(out, padded[:, dy:dy + h, dx:dx + w], out=out)
    return out


def change_thickness(images: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Strokes of ``images`` (N, H, W) float32 made thicker (``amount[i] > 0``: that fraction of
    the way to the image's 3x3 grey dilation) or thinner (``< 0``: towards its 3x3 erosion);
    a new float32 array, scaled so that each image keeps its brightest value."""
    amount = np.asarray(amount, dtype=np.float32)[:, None, None]
    target = np.where(amount > 0, _neighbourhood(images, np.maximum),
                      _neighbourhood(images, np.minimum))
    out = images + np.abs(amount) * (target - images)
    # A thin stroke eroded gets dimmer; its brightest pixel goes back to the image's peak, as
    # the digit preprocessing scales every drawing to peak 1.
    peak, new_peak = images.max(axis=(1, 2), keepdims=True), out.max(axis=(1, 2), keepdims=True)
    out *= np.where(new_peak > 0, peak / np.maximum(new_peak, 1e-12), 1.0)
    return out.astype(np.float32)


def distort(images: np.ndarray, rng: np.random.Generator, aug: Augmentation = Augmentation()):
    """Return randomly distorted copies of ``images`` (N, 1, H, W) float32 in [0, 1]."""
    n, c, h, w = images.shape
    if c != 1:
        raise ValueError(f"digit distortions take one-channel images, not {c} channels")
    if aug.thickness > 0:
        images = change_thickness(images[:, 0], rng.uniform(-aug.thickness, aug.thickness, n))
        images = images[:, None]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    angle = np.deg2rad(rng.uniform(-aug.rotation, aug.rotation, n))
    scale = 1 + rng.uniform(-aug.scale, aug.scale, (n, 2))
    shear = rng.uniform(-aug.shear, aug.shear, n)
    shift = rng.uniform(-aug.shift, aug.shift, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    # Inverse map: output pixel -> source pixel, as a 2x2 matrix per image.
    a = np.stack([np.stack([cos / scale[:, 0], (-sin + shear * cos) / scale[:, 0]], 1),
                  np.stack([sin / scale[:, 1], (cos + shear * sin) / scale[:, 1]], 1)], 1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    oy, ox = yy - cy, xx - cx
    src_y = a[:, 0, 0, None, None] * oy + a[:, 0, 1, None, None] * ox + cy - shift[:, 0, None, None]
    src_x = a[:, 1, 0, None, None] * oy + a[:, 1, 1, None, None] * ox + cx - shift[:, 1, None, None]
    if aug.elastic_alpha > 0:
        field = rng.uniform(-1, 1, (2 * n, h, w)).astype(np.float32)
        field = _smooth(field, aug.elastic_sigma)
        field *= aug.elastic_alpha / (np.abs(field).max(axis=(1, 2), keepdims=True) + 1e-6)
        src_y = src_y + field[:n]
        src_x = src_x + field[n:]
    return _bilinear(images[:, 0], src_y, src_x)[:, None]


def _bilinear(img: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
    """Sample (N, H, W) images at float coordinates, zero outside."""
    n, h, w = img.shape
    padded = np.zeros((n, h + 2, w + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = img
    sy = np.clip(sy + 1, 0, h + 0.999)
    sx = np.clip(sx + 1, 0, w + 0.999)
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = (sy - y0).astype(np.float32), (sx - x0).astype(np.float32)
    flat = padded.reshape(n, -1)
    base = y0 * (w + 2) + x0

    def at(offset):
        return np.take_along_axis(flat, (base + offset).reshape(n, -1), axis=1).reshape(n, h, w)

    top = at(0) * (1 - fx) + at(1) * fx
    bottom = at(w + 2) * (1 - fx) + at(w + 3) * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
