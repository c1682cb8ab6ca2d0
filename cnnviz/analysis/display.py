"""Turning analysis results into pictures: scaling, resampling, blurring and tiling (numpy only)."""

from __future__ import annotations

import numpy as np


def normalize(values: np.ndarray, signed: bool = False, percentile: float = 100.0) -> np.ndarray:
    """Scale a map for display.

    Parameters
    ----------
    values : ndarray, any shape
    signed : bool
        False: map ``min .. percentile`` to ``0 .. 1``.  True: divide by the ``percentile`` of
        the magnitudes, keeping 0 at 0, into ``-1 .. 1`` (for diverging colour maps).
    percentile : float
        Upper reference (100: the maximum; 99 ignores a few extreme pixels, as SmoothGrad does).

    Returns
    -------
    ndarray, float32, same shape, clipped to ``[0, 1]`` (or ``[-1, 1]``); all zeros for a
    constant map.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.astype(np.float32)
    if signed:
        scale = np.percentile(np.abs(values), percentile)
        out = values / scale if scale > 0 else np.zeros_like(values)
        return np.clip(out, -1.0, 1.0).astype(np.float32)
    low = values.min()
    span = np.percentile(values, percentile) - low
    out = (values - low) / span if span > 0 else np.zeros_like(values)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def interpolation_matrix(positions: np.ndarray, size: int) -> np.ndarray:
    """Linear interpolation from samples at ``positions`` (n,) onto pixels ``0 .. size - 1``.

    Pixels before the first or after the last position take the nearest sample's value.

    Returns
    -------
    ndarray, shape (size, n)
        Row ``p`` holds the weights of the samples for pixel ``p`` (each row sums to 1).
    """
    positions = np.asarray(positions, dtype=np.float64)
    pixels = np.arange(size, dtype=np.float64)
    eye = np.eye(len(positions))
    return np.stack([np.interp(pixels, positions, eye[i]) for i in range(len(positions))], axis=1)


def stretch_positions(n: int, size: int) -> np.ndarray:
    """Sample positions of an ``n``-long map stretched over ``size`` pixels (pixel centres
    aligned, as ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``)."""
    return (np.arange(n) + 0.5) * size / n - 0.5


def place_bilinear(values: np.ndarray, row_positions, col_positions, shape) -> np.ndarray:
    """Bilinear interpolation of ``values`` (h, w), whose samples sit at input coordinates
    ``row_positions`` (h,) and ``col_positions`` (w,), onto a ``shape = (H, W)`` pixel grid.

    Returns
    -------
    ndarray, shape (H, W), float32
    """
    rows = interpolation_matrix(row_positions, shape[0])
    cols = interpolation_matrix(col_positions, shape[1])
    return (rows @ np.asarray(values, dtype=np.float64) @ cols.T).astype(np.float32)


def resize_bilinear(values: np.ndarray, shape) -> np.ndarray:
    """Stretch ``values`` (h, w) to ``shape = (H, W)`` by bilinear interpolation (float32)."""
    h, w = values.shape
    return place_bilinear(values, stretch_positions(h, shape[0]), stretch_positions(w, shape[1]),
                          shape)


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Blur the last two axes of ``images`` (..., H, W) with a Gaussian of ``sigma`` pixels.

    Borders are extended by reflection.  Returns a new array of the same shape and dtype.
    """
    if sigma <= 0:
        return images.copy()
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).astype(images.dtype)
    out = images
    for axis in (-2, -1):
        pad = [(0, 0)] * images.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect" if out.shape[axis] > radius else "edge")
        length = out.shape[axis]
        acc = np.zeros_like(out)
        for k, weight in enumerate(kernel):
            acc += weight * np.take(padded, np.arange(k, k + length), axis=axis)
        out = acc
    return out


def grid(images: np.ndarray, columns: int | None = None, pad: int = 1,
         background: float = 0.5) -> np.ndarray:
    """Tile images (K, C, H, W) into one picture, row by row.

    Returns
    -------
    ndarray
        ``(rows * (H + pad) - pad, columns * (W + pad) - pad)`` for one channel, with a trailing
        channel axis for several.
    """
    k, c, h, w = images.shape
    columns = columns or int(np.ceil(np.sqrt(k)))
    rows = -(-k // columns)
    out = np.full((c, rows * (h + pad) - pad, columns * (w + pad) - pad), background,
                  dtype=images.dtype)
    for i in range(k):
        r, q = divmod(i, columns)
        out[:, r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = images[i]
    return out[0] if c == 1 else out.transpose(1, 2, 0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (clipped) as uint8 0..255, rounded."""
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
