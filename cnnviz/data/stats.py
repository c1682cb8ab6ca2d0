"""Dataset statistics: per-channel mean and standard deviation, accumulated in float64.

A float32 running sum stops growing once it is about 2**24 times the values added (adding
1.0 to 16,777,216.0 gives 16,777,216.0 in float32), so a float32 mean over CIFAR-10's 51 million
values per channel comes out wrong. Here every sum is float64, chunk by chunk (bounded
memory), and the standard deviation takes a second pass over the deviations from the mean
(no cancellation between E[x^2] and E[x]^2).
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_statistics"]

#: Images per chunk (CIFAR-10: 4096 x 3 x 32 x 32 float64 = 100 MB at most).
_CHUNK = 4096


def _channels_first(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        return images[:, None]
    if images.ndim == 4:
        return images
    raise ValueError(f"expected images of shape (N, H, W) or (N, C, H, W), got {images.shape}")


def channel_statistics(images: np.ndarray, scale: float | None = None,
                       chunk: int = _CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) standard deviation of each channel.

    Parameters
    ----------
    images : np.ndarray
        (N, H, W) grey or (N, C, H, W) images, any real dtype.
    scale : float or None
        Values are divided by it; None means 255 for uint8 images (the network's [0, 1] input)
        and 1 otherwise.
    chunk : int
        Images converted to float64 at a time.

    Returns
    -------
    mean, std : np.ndarray
        float64 (C,) each.
    """
    x = _channels_first(images)
    if x.shape[0] == 0:
        raise ValueError("no images to compute statistics of")
    if scale is None:
        scale = 255.0 if x.dtype == np.uint8 else 1.0
    per_channel = x.shape[0] * x.shape[2] * x.shape[3]
    total = np.zeros(x.shape[1], np.float64)
    for start in range(0, x.shape[0], chunk):
        total += x[start:start + chunk].sum(axis=(0, 2, 3), dtype=np.float64)
    mean = total / per_channel
    squares = np.zeros(x.shape[1], np.float64)
    for start in range(0, x.shape[0], chunk):
        deviation = x[start:start + chunk].astype(np.float64) - mean[None, :, None, None]
        squares += np.einsum("nchw,nchw->c", deviation, deviation)
    std = np.sqrt(squares / per_channel)
    return mean / scale, std / scale
