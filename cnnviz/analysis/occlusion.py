"""Occlusion sensitivity (Zeiler & Fergus, 2014): cover part of the image, see what is lost.

A patch of ``fill`` slides over the input; for every position the network runs on the occluded
copy, and the map records how much the target (by default a class probability) dropped.  Copies
are batched: one forward pass handles ``batch_size`` positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.nn import Sequential
from cnnviz.nn.geometry import pair

from .target import Cancelled, as_target, keep_going, target_values


@dataclass(frozen=True)
class OcclusionResult:
    """Result of :func:`occlusion_map`.

    Attributes
    ----------
    drop : ndarray, shape (Hout, Wout)
        ``base_value - values``: how much occluding each patch position lowered the target.
    pixel_map : ndarray, shape (H, W)
        Per pixel, the mean drop of the patches covering it (0 where no patch reaches).
    coverage : ndarray, shape (H, W)
        How many patch positions cover each pixel.
    values : ndarray, shape (Hout, Wout)
        The target on each occluded copy.
    base_value : float
        The target on the unoccluded image.
    rows, cols : ndarray, shapes (Hout,), (Wout,)
        Top row and left column of each patch position.
    patch, stride : (int, int)
    """

    drop: np.ndarray
    pixel_map: np.ndarray
    coverage: np.ndarray
    values: np.ndarray
    base_value: float
    rows: np.ndarray
    cols: np.ndarray
    patch: tuple[int, int]
    stride: tuple[int, int]

    @property
    def base_probability(self) -> float:
        """``base_value`` (a probability for the default class targets)."""
        return self.base_value


def patch_starts(size: int, patch: int, stride: int) -> np.ndarray:
    """Start positions ``0, stride, ...`` of a ``patch``-wide window along an axis of ``size``
    pixels: ``(size - patch) // stride + 1`` of them."""
    if not 1 <= patch <= size:
        raise ValueError(f"the patch ({patch}) must be between 1 and the image size ({size})")
    if stride < 1:
        raise ValueError(f"the stride must be at least 1, got {stride}")
    return np.arange(0, size - patch + 1, stride)


def _cover(starts: np.ndarray, patch: int, size: int) -> np.ndarray:
    """Boolean (len(starts), size): which pixels each window covers."""
    pixels = np.arange(size)
    return (pixels >= starts[:, None]) & (pixels < starts[:, None] + patch)


def _fill_values(x: np.ndarray, fill) -> np.ndarray:
    """The fill as a (C, 1, 1) array: a number, one number per channel, or "mean" of each
    channel of ``x`` (C, H, W)."""
    if isinstance(fill, str):
        if fill != "mean":
            raise ValueError(f"fill must be a number, one per channel, or 'mean', not {fill!r}")
        return x.mean(axis=(1, 2), keepdims=True)
    values = np.asarray(fill, dtype=x.dtype).reshape(-1, 1, 1)
    if values.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"fill has {values.shape[0]} values for {x.shape[0]} channels")
    return np.broadcast_to(values, (x.shape[0], 1, 1))


def occlusion_map(model: Sequential, x, target, patch=4, stride=2, fill=0.0,
                  batch_size: int = 256, progress=None) -> OcclusionResult:
    """Slide an occluding patch over one image and map the drop of the target.

    Parameters
    ----------
    model : Sequential
    x : ndarray, shape (C, H, W)
    target : int or Target
        An int is a class, measured by its probability; a Target is used as given (a logit, a
        unit, a feature map...).
    patch, stride : int or (int, int)
        Patch size and step in pixels (rows, columns).
    fill : float, sequence of float (one per channel), or "mean"
        Value painted over the patch; "mean" uses each channel's mean over the image.
    batch_size : int
        Occluded copies per forward pass.
    progress : callable, optional
        ``progress(done, total)`` after each pass, counting patch positions; returning False
        raises :class:`~cnnviz.analysis.target.Cancelled`.

    Returns
    -------
    OcclusionResult
    """
    target = as_target(target, probability=True)
    batch, single = model.as_batch(x)
    if not single:
        raise ValueError("occlusion_map takes one image (C, H, W)")
    image = batch[0]
    (ph, pw), (sh, sw) = pair(patch, "patch"), pair(stride, "stride")
    _, h, w = image.shape
    rows, cols = patch_starts(h, ph, sh), patch_starts(w, pw, sw)
    cover_r, cover_c = _cover(rows, ph, h), _cover(cols, pw, w)
    fill_value = _fill_values(image, fill)
    values = _occluded_values(model, image, target, cover_r, cover_c, fill_value, batch_size,
                              progress)
    base, values = float(values[0]), values[1:].reshape(len(rows), len(cols))
    drop = (base - values).astype(image.dtype)
    coverage = np.outer(cover_r.sum(axis=0), cover_c.sum(axis=0))
    summed = cover_r.T.astype(np.float64) @ drop @ cover_c.astype(np.float64)
    pixel_map = np.divide(summed, coverage, out=np.zeros_like(summed), where=coverage > 0)
    return OcclusionResult(drop, pixel_map.astype(image.dtype), coverage, values, base, rows, cols,
                           (ph, pw), (sh, sw))


def _occluded_values(model, image, target, cover_r, cover_c, fill_value, batch_size, progress):
    """Target values of the unoccluded image followed by every occluded copy, row-major.

    The unoccluded image goes through the same batched pass as the first copies, so that a
    patch the network ignores gives exactly the base value.
    """
    positions = [(i, j) for i in range(len(cover_r)) for j in range(len(cover_c))]
    total = len(positions)
    out = []
    for start in range(-1, total, batch_size):
        chunk = positions[max(start, 0):start + batch_size]
        masks = np.zeros((len(chunk),) + image.shape[1:], dtype=bool)
        for k, (i, j) in enumerate(chunk):
            masks[k] = cover_r[i][:, None] & cover_c[j][None, :]
        copies = np.where(masks[:, None], fill_value, image[None]).astype(image.dtype, copy=False)
        if start < 0:
            copies = np.concatenate([image[None], copies])
        out.append(target_values(model, copies, target, batch_size=len(copies)))
        if not keep_going(progress, min(start + batch_size, total), total):
            raise Cancelled()
    return np.concatenate(out)
