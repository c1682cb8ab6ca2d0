"""Random distortions of digit images for training: small affine maps and elastic warps.

Both are applied in one bilinear resampling per image (Simard et al., 2003, used affine and
elastic distortions of MNIST to reach well under 1% error).
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


def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix of a Gaussian blur along one axis, rows renormalised at the borders."""
    offsets = np.arange(n)[:, None] - np.arange(n)[None, :]
    m = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (m / m.sum(axis=1, keepdims=True)).astype(np.float32)


def _smooth(field: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of (N, H, W) random fields: one matrix product per axis."""
    _, h, w = field.shape
    return _blur_matrix(h, sigma) @ field @ _blur_matrix(w, sigma).T


def distort(images: np.ndarray, rng: np.random.Generator, aug: Augmentation = Augmentation()):
    """Return randomly distorted copies of ``images`` (N, 1, H, W) float32 in [0, 1]."""
    n, _, h, w = images.shape
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
