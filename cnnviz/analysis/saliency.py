"""Gradient saliency: which input pixels the target is most sensitive to.

- :func:`vanilla_gradient`: d target / d input (Simonyan et al., 2014);
- :func:`gradient_x_input`: that gradient times the input (Shrikumar et al., 2016);
- :func:`smooth_grad`: the gradient averaged over noisy copies of the input (Smilkov et al., 2017).

Each accepts one image ``(C, H, W)`` or a batch ``(N, C, H, W)`` and returns the same shape, in the
network's dtype (float32 unless it was converted).  :func:`saliency_map` turns the result into a
``(H, W)`` heat map; :func:`cnnviz.analysis.display.normalize` scales it for display.
"""

from __future__ import annotations

import numpy as np

from cnnviz.nn import Sequential

from .target import Cancelled, forward_backward, keep_going


def vanilla_gradient(model: Sequential, x, target) -> np.ndarray:
    """Gradient of the target with respect to the input.

    Parameters
    ----------
    model : Sequential
    x : ndarray, shape (C, H, W) or (N, C, H, W)
    target : Target or int
        An int is a class (its logit).

    Returns
    -------
    ndarray, same shape as ``x``
    """
    batch, single = model.as_batch(x)
    grad = forward_backward(model, batch, target)[2]
    return grad[0] if single else grad


def gradient_x_input(model: Sequential, x, target) -> np.ndarray:
    """The input gradient times the input, element-wise; same shape as ``x``."""
    batch, single = model.as_batch(x)
    out = forward_backward(model, batch, target)[2] * batch
    return out[0] if single else out


def smooth_grad(model: Sequential, x, target, n: int = 25, noise: float = 0.15, seed: int = 0,
                batch_size: int = 64, progress=None) -> np.ndarray:
    """The input gradient averaged over ``n`` copies of ``x`` with Gaussian noise added.

    Parameters
    ----------
    x : ndarray, shape (C, H, W) or (N, C, H, W)
    target : Target or int
    n : int
        Noisy copies per image.
    noise : float
        Standard deviation of the noise, in input units (for inputs in [0, 1], the fraction of
        the value range; 0.1 to 0.2 work well).  0 gives the vanilla gradient.
    seed : int
        Seed of the noise: the same seed gives the same result.
    batch_size : int
        Noisy images per forward/backward pass.
    progress : callable, optional
        ``progress(done, total)`` after each pass (counting noisy images); returning False
        raises :class:`~cnnviz.analysis.target.Cancelled`.

    Returns
    -------
    ndarray, same shape as ``x``
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    batch, single = model.as_batch(x)
    rng = np.random.default_rng(seed)
    copies = np.repeat(batch[None], n, axis=0)                 # (n, N, C, H, W)
    if noise:
        copies += (noise * rng.standard_normal(copies.shape)).astype(copies.dtype)
    copies = copies.reshape((-1,) + batch.shape[1:])
    targets = target if not _is_sequence(target) else list(target) * n
    total = np.empty_like(copies)
    for start in range(0, len(copies), batch_size):
        stop = min(start + batch_size, len(copies))
        group = targets if not _is_sequence(targets) else targets[start:stop]
        total[start:stop] = forward_backward(model, copies[start:stop], group)[2]
        if not keep_going(progress, stop, len(copies)):
            raise Cancelled()
    mean = total.reshape((n,) + batch.shape).mean(axis=0, dtype=batch.dtype)
    return mean[0] if single else mean


def _is_sequence(target) -> bool:
    return isinstance(target, (list, tuple))


def saliency_map(attribution: np.ndarray, reduce: str = "max_abs") -> np.ndarray:
    """Reduce an attribution (C, H, W) (or a batch (N, C, H, W)) over its channels.

    Parameters
    ----------
    attribution : ndarray, shape (C, H, W) or (N, C, H, W)
    reduce : {"max_abs", "sum_abs", "sum"}
        ``"max_abs"``: the largest magnitude over channels (Simonyan et al.); ``"sum_abs"``: the
        summed magnitudes; ``"sum"``: the signed sum (for gradient x input).

    Returns
    -------
    ndarray, shape (H, W) (or (N, H, W))
    """
    axis = attribution.ndim - 3
    if reduce == "max_abs":
        return np.abs(attribution).max(axis=axis)
    if reduce == "sum_abs":
        return np.abs(attribution).sum(axis=axis)
    if reduce == "sum":
        return attribution.sum(axis=axis)
    raise ValueError(f"reduce must be 'max_abs', 'sum_abs' or 'sum', not {reduce!r}")
