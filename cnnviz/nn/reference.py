"""Slow, obviously correct loop versions of the sliding-window layers.

These exist only so that tests can compare the vectorised kernels in :mod:`cnnviz.nn.ops` with
something written straight from the definitions.  Layout here is the usual ``(N, C, H, W)``.
"""

from __future__ import annotations

import numpy as np


def pad(x, padding, value=0.0):
    """Pad ``x`` (N, C, H, W) by ``(top, bottom, left, right)``."""
    top, bottom, left, right = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def out_size(n, k, s, d, p0, p1):
    return (n + p0 + p1 - (k - 1) * d - 1) // s + 1


def conv2d(x, weight, bias, stride, dilation, padding):
    """y[n, f, a, b] = bias[f] + sum_{c,i,j} w[f, c, i, j] * xpad[n, c, a*s + i*d, b*s + j*d]."""
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    xp = pad(x, padding)
    ho = out_size(h, kh, stride[0], dilation[0], padding[0], padding[1])
    wo = out_size(w, kw, stride[1], dilation[1], padding[2], padding[3])
    y = np.zeros((n, f, ho, wo), dtype=np.float64)
    for b in range(n):
        for o in range(f):
            for a in range(ho):
                for q in range(wo):
                    total = 0.0 if bias is None else float(bias[o])
                    for ch in range(c):
                        for i in range(kh):
                            for j in range(kw):
                                total += weight[o, ch, i, j] * xp[
                                    b, ch, a * stride[0] + i * dilation[0], q * stride[1] + j * dilation[1]]
                    y[b, o, a, q] = total
    return y


def conv2d_input_grad_full(dy, weight, x_shape):
    """Input gradient of a stride-1, dilation-1, unpadded convolution, computed as the *full*
    convolution of ``dy`` with the kernel rotated by 180 degrees (the textbook identity)."""
    n, c, h, w = x_shape
    f, _, kh, kw = weight.shape
    rotated = weight[:, :, ::-1, ::-1]
    dyp = np.pad(dy, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    dx = np.zeros(x_shape, dtype=np.float64)
    for b in range(n):
        for ch in range(c):
            for a in range(h):
                for q in range(w):
                    dx[b, ch, a, q] = np.sum(dyp[b, :, a:a + kh, q:q + kw] * rotated[:, ch])
    return dx


def pool2d(x, kernel, stride, padding, mode):
    """Max or average pooling; padding is -inf for max and not counted for the average."""
    n, c, h, w = x.shape
    xp = pad(x, padding, value=-np.inf if mode == "max" else np.nan)
    ho = out_size(h, kernel[0], stride[0], 1, padding[0], padding[1])
    wo = out_size(w, kernel[1], stride[1], 1, padding[2], padding[3])
    y = np.zeros((n, c, ho, wo), dtype=np.float64)
    for b in range(n):
        for ch in range(c):
            for a in range(ho):
                for q in range(wo):
                    win = xp[b, ch, a * stride[0]:a * stride[0] + kernel[0],
                             q * stride[1]:q * stride[1] + kernel[1]]
                    y[b, ch, a, q] = np.max(win) if mode == "max" else np.nanmean(win)
    return y
