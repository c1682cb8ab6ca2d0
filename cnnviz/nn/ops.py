"""Vectorised sliding-window kernels.

All arrays here are channel-major and batch-last, ``(C, H, W, N)``.  With that layout one matrix
product per convolution gives the output directly in the layout the next layer reads, with no
transpose; and every window of an image is a run of ``W * N`` (or at least ``N``) contiguous numbers
across the batch, so the slice copies and adds below move long runs instead of one short image row
at a time.  The layers expose the usual ``(N, C, H, W)`` view of the same memory (a transposed view
costs nothing).

Padding is ``(top, bottom, left, right)``; kernel, stride and dilation are ``(h, w)`` pairs.
"""

from __future__ import annotations

import numpy as np

from . import winograd
from .buffers import short_buffers


def pad_channel_major(x: np.ndarray, pad: tuple[int, int, int, int], value=0.0) -> np.ndarray:
    """Return ``x`` (C, H, W, N) padded by ``pad`` with ``value`` (a new contiguous array)."""
    top, bottom, left, right = pad
    if not any(pad):
        return x
    c, h, w, n = x.shape
    out = np.empty((c, h + top + bottom, w + left + right, n), dtype=x.dtype)
    out[:, :top] = value
    out[:, top + h:] = value
    out[:, top:top + h, :left] = value
    out[:, top:top + h, left + w:] = value
    out[:, top:top + h, left:left + w] = x
    return out


def _window_slices(i, j, out_hw, stride, dilation):
    """Slices of the padded input read by kernel tap ``(i, j)`` for every output position."""
    ho, wo = out_hw
    r0, c0 = i * dilation[0], j * dilation[1]
    return (slice(r0, r0 + stride[0] * (ho - 1) + 1, stride[0]),
            slice(c0, c0 + stride[1] * (wo - 1) + 1, stride[1]))


def im2col(xp: np.ndarray, kernel, stride, dilation, out_hw, ones_row: bool = False) -> np.ndarray:
    """Unfold a padded channel-major input into columns.

    Parameters
    ----------
    xp : ndarray, shape (C, Hp, Wp, N)
        Padded input.
    ones_row : bool
        Append a row of ones, so that a bias folded into the weight matrix is added by the product.

    Returns
    -------
    ndarray, shape (C * kh * kw [+ 1], Ho * Wo * N)
        Row ``(c, i, j)`` holds input channel ``c`` under kernel tap ``(i, j)``.
    """
    c, n = xp.shape[0], xp.shape[3]
    kh, kw = kernel
    ho, wo = out_hw
    rows = c * kh * kw
    cols = np.empty((rows + ones_row, ho * wo * n), dtype=xp.dtype)
    taps = cols[:rows].reshape(c, kh, kw, ho, wo, n)
    for i in range(kh):
        for j in range(kw):
            rs, cs = _window_slices(i, j, out_hw, stride, dilation)
            taps[:, i, j] = xp[:, rs, cs]
    if ones_row:
        cols[rows] = 1.0
    return cols


def col2im(cols: np.ndarray, padded_shape, kernel, stride, dilation, out_hw) -> np.ndarray:
    """Fold columns back, adding overlapping taps: the adjoint of :func:`im2col`.

    Parameters
    ----------
    cols : ndarray, shape (C * kh * kw, Ho * Wo * N)
    padded_shape : tuple
        ``(C, Hp, Wp, N)`` of the padded input.

    Returns
    -------
    ndarray, shape (C, Hp, Wp, N)
    """
    c, n = padded_shape[0], padded_shape[3]
    kh, kw = kernel
    ho, wo = out_hw
    taps = cols.reshape(c, kh, kw, ho, wo, n)
    out = np.zeros(padded_shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rs, cs = _window_slices(i, j, out_hw, stride, dilation)
            out[:, rs, cs] += taps[:, i, j]
    return out


def crop(xp: np.ndarray, pad: tuple[int, int, int, int]) -> np.ndarray:
    """Remove ``pad`` from a (C, H, W, N) array (a view)."""
    top, bottom, left, right = pad
    return xp[:, top:xp.shape[1] - bottom, left:xp.shape[2] - right]


#: Bytes of im2col columns unfolded at a time.  A convolution unfolds and multiplies a band of
#: output rows at a time into one small buffer that stays in the processor's cache between the
#: copies and the product, instead of writing all the columns to memory and reading them back
#: (for vgg-small's second convolution on 32 images that is 38 MB): 2-2.5 times faster.  2 MB
#: rather than 1: lenet5 training step, one core, 5.1 -> 4.9 ms on 64 images, 10.6 -> 10.2 ms
#: on 128 (4 MB: 5.2 and 10.0 ms).
CHUNK_BYTES = 1 << 21


#: Most multiply-adds of one band's matrix product that OpenBLAS runs with its kernels for small
#: matrices (it uses them up to M N K = 1e6); for the thin products here (a few dozen filters, a
#: short sum) they run about twice as fast as its general ones: 32 x 28 by 28 x 1024, 99 GFLOPS;
#: by 28 x 9216, 46 GFLOPS (AMD EPYC, one core).
SMALL_PRODUCT = 1_000_000

#: Fewest columns of a band cut down to :data:`SMALL_PRODUCT`: below that the calls cost more than
#: the faster kernels save (lenet5's second convolution, 16 x 151 by 151 x 320, is slower so).
#: lenet5 training step, one core: 5.7 -> 5.2 ms on 64 images, 2.8 -> 2.6 ms on 32.
SMALL_MIN_COLUMNS = 1024


def _band_rows(k, out_hw, n, itemsize, filters=0):
    """Output rows per band so that a band's ``k`` columns fit :data:`CHUNK_BYTES`, and its
    product with ``filters`` rows stays within :data:`SMALL_PRODUCT` when that leaves the band
    at least :data:`SMALL_MIN_COLUMNS` columns (at least 1 row)."""
    per_row = max(1, k * out_hw[1] * n * itemsize)
    rows = max(1, min(out_hw[0], CHUNK_BYTES // per_row))
    small = SMALL_PRODUCT // max(1, filters * k * out_hw[1] * n)
    return min(rows, small) if small * out_hw[1] * n >= SMALL_MIN_COLUMNS else rows


def _band_taps(taps, xp, r0, rows, kernel, stride, dilation, wo, scatter=False):
    """Copy the kernel taps of output rows ``r0 .. r0 + rows - 1`` from ``xp`` into ``taps``
    (C, kh, kw, band, Wo, N), or with ``scatter`` add ``taps`` back into ``xp``."""
    for i in range(kernel[0]):
        top = r0 * stride[0] + i * dilation[0]
        rs = slice(top, top + stride[0] * (rows - 1) + 1, stride[0])
        for j in range(kernel[1]):
            left = j * dilation[1]
            cs = slice(left, left + stride[1] * (wo - 1) + 1, stride[1])
            if scatter:
                xp[:, rs, cs] += taps[:, i, j, :rows]
            else:
                taps[:, i, j, :rows] = xp[:, rs, cs]


def conv_forward(x, weight, bias, stride, dilation, pad, out_hw, relu_input=False):
    """Convolution (cross-correlation, as in every deep-learning library).

    The input is unfolded (im2col) and multiplied one band of output rows at a time (see
    :data:`CHUNK_BYTES`); the bias rides along as a row of ones.

    Parameters
    ----------
    x : ndarray, shape (C, H, W, N)
    weight : ndarray, shape (F, C, kh, kw)
    bias : ndarray, shape (F,), or None

    Returns
    -------
    y : ndarray, shape (F, Ho, Wo, N), contiguous
    xp : ndarray, shape (C, Hp, Wp, N)
        The padded input (contiguous, not shared with the caller), kept for the backward pass.
    """
    f, c, kh, kw = weight.shape
    ho, wo = out_hw
    n = x.shape[3]
    if _use_winograd(weight.shape, stride, dilation, n, out_hw):
        return winograd.forward(x, weight, bias, pad, out_hw, relu_input)
    if relu_input:
        raise ValueError("a ReLU is folded into Winograd convolutions only")
    xp = pad_channel_major(x, pad)
    if xp is x:  # no padding: keep a private, contiguous copy for the backward pass
        xp = np.array(x, order="C")
    k = c * kh * kw
    w2 = weight.reshape(f, k)
    if bias is not None:
        w2 = np.concatenate([w2, bias[:, None]], axis=1)
    step = _band_rows(k + 1, out_hw, n, xp.itemsize, f)
    cols = np.empty((k + (bias is not None), step * wo * n), dtype=xp.dtype)
    if bias is not None:
        cols[k] = 1.0
    taps = cols[:k].reshape(c, kh, kw, step, wo, n)
    y = np.empty((f, ho * wo * n), dtype=np.result_type(w2, cols))
    run = wo * n
    for r0 in range(0, ho, step):
        rows = min(step, ho - r0)
        _band_taps(taps, xp, r0, rows, (kh, kw), stride, dilation, wo)
        np.matmul(w2, cols[:, :rows * run], out=y[:, r0 * run:(r0 + rows) * run])
    return y.reshape(f, ho, wo, n), xp


@short_buffers
def conv_backward(dy, xp, weight, has_bias, x_shape, stride, dilation, pad, need_dx=True,
                  need_dw=True, relu_input=False):
    """Gradients of :func:`conv_forward`, one band of output rows at a time (the columns are
    unfolded again from the padded input, in the cache, rather than kept in memory).

    Parameters
    ----------
    dy : ndarray, shape (F, Ho, Wo, N), contiguous
    xp : ndarray
        The padded input, from :func:`conv_forward`.
    x_shape : tuple
        ``(C, H, W, N)`` of the input.

    Returns
    -------
    dx : ndarray, shape (C, H, W, N), or None when ``need_dx`` is False
    dweight : ndarray, shape (F, C, kh, kw), or None when ``need_dw`` is False
    dbias : ndarray, shape (F,), or None
    """
    f, c, kh, kw = weight.shape
    ho, wo = dy.shape[1:3]
    n = dy.shape[3]
    k = c * kh * kw
    dy2 = dy.reshape(f, -1)
    dx = dweight = dbias = None
    padded_shape = (c, x_shape[1] + pad[0] + pad[1], x_shape[2] + pad[2] + pad[3], n)
    if isinstance(xp, winograd.SplitInput):  # the forward pass ran through Winograd
        dx, dweight = winograd.backward(dy, xp, weight, pad, x_shape[1:3], need_dx, need_dw,
                                        relu_input)
        dbias = dy2.sum(axis=1) if need_dw and has_bias else None
        return dx, dweight, dbias
    flipped_pad = _transposed_padding(weight.shape, stride, dilation, pad)
    if need_dx and flipped_pad is not None and c >= FLIPPED_MIN_CHANNELS \
            and ho * wo >= x_shape[1] * x_shape[2]:
        # The same identity through im2col: 1.15-1.2 times faster than scattering the column
        # gradients back.
        flipped = np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
        dx = conv_forward(dy, flipped, None, (1, 1), dilation, flipped_pad, x_shape[1:3])[0]
        need_dx = False
    if not (need_dx or need_dw):
        return dx, dweight, dbias
    dtype = np.result_type(dy, weight) if need_dx and not need_dw else np.result_type(dy, xp, weight)
    step = _band_rows(k, (ho, wo), n, np.dtype(dtype).itemsize, f)
    run = wo * n
    if need_dw:
        cols = np.empty((k, step * run), dtype=xp.dtype)
        taps = cols.reshape(c, kh, kw, step, wo, n)
        # Accumulated transposed, (k, F): OpenBLAS runs columns @ band.T 1.25-1.6 times faster
        # than band @ columns.T (the same product) for these shapes.
        dw2t = np.zeros((k, f), dtype=dtype)
        part = np.empty((k, f), dtype=dtype)
    if need_dx:
        dcols = np.empty((k, step * run), dtype=dtype)
        dtaps = dcols.reshape(c, kh, kw, step, wo, n)
        dxp = np.zeros(padded_shape, dtype=dtype)
        wt = weight.reshape(f, k).T
    for r0 in range(0, ho, step):
        rows = min(step, ho - r0)
        band = dy2[:, r0 * run:(r0 + rows) * run]
        if need_dw:
            _band_taps(taps, xp, r0, rows, (kh, kw), stride, dilation, wo)
            np.matmul(cols[:, :rows * run], band.T, out=part)
            dw2t += part
        if need_dx:
            np.matmul(wt, band, out=dcols[:, :rows * run])
            _band_taps(dtaps, dxp, r0, rows, (kh, kw), stride, dilation, wo, scatter=True)
    if need_dw:
        dweight = np.ascontiguousarray(dw2t.T).reshape(weight.shape)
        dbias = dy2.sum(axis=1) if has_bias else None
    if need_dx:
        dx = crop(dxp, pad)
    return dx, dweight, dbias


#: Compute 3x3 stride-1 convolutions (forward, weight gradient and, as a convolution of dy, input
#: gradient) by Winograd's F(2x2, 3x3) (:mod:`cnnviz.nn.winograd`) rather than im2col.
WINOGRAD = True

#: Fewest input channels for which Winograd pays: with fewer, the products it saves are small
#: (im2col's sum runs over channels times 9 taps) and its transforms cost more.
WINOGRAD_MIN_CHANNELS = 16


#: Fewest images in a batch for which Winograd pays: its slices' contiguous runs are a batch
#: long, and numpy's per-run overhead dominates short ones.  vgg-small, one core: one image
#: traced in 1.9 ms against 1.1 with im2col, 8 images about even, 16 images 13.4 against 15.2 ms,
#: 32 images trained 62 against 83 ms.
WINOGRAD_MIN_BATCH = 16

#: ... or fewest 2x2 output tiles (over the batch) for which it pays with fewer images: one
#: large image has runs a row of tiles long.  VGG-16's 3x3 convolutions on one 224x224 image,
#: one core (under load, so slow; ratios in the same run): 64 channels at 224x224 (12,544
#: tiles) 295 -> 197 ms, 128 at 112x112 (3,136) 219 -> 163 ms, 256 at 56x56 (784) 215 -> 194
#: ms, 512 at 28x28 (196) 178 -> 323 ms, at 14x14 47 -> 247 ms.
WINOGRAD_MIN_TILES = 2048


def _use_winograd(weight_shape, stride, dilation, batch, out_hw=(0, 0)):
    """Whether a convolution with ``weight_shape`` (F, C, kh, kw) of ``batch`` images with
    outputs of ``out_hw`` runs through Winograd."""
    tiles = batch * (-(-out_hw[0] // 2)) * (-(-out_hw[1] // 2))
    return WINOGRAD and winograd.applies(weight_shape[2:], stride, dilation) \
        and weight_shape[1] >= WINOGRAD_MIN_CHANNELS \
        and (batch >= WINOGRAD_MIN_BATCH or tiles >= WINOGRAD_MIN_TILES)


#: Fewest input channels for which the input gradient of a stride-1 convolution whose output is
#: as large as its input is computed as a convolution of dy (see :func:`conv_backward`); measured
#: on 32 images (whole backward pass, CPU time): 32 -> 32 channels on 32x32, 25.5 -> 24.5 ms;
#: 16 -> 32 on 28x28, 9.4 -> 9.7 ms; 3 -> 12 on 32x32, 2.8 -> 3.1 ms.  With a 'valid' kernel the
#: convolution of dy would also multiply the zeros around it (lenet5: 0.85 -> 1.9 ms).
FLIPPED_MIN_CHANNELS = 32


def _transposed_padding(weight_shape, stride, dilation, pad):
    """Padding of dy under which the stride-1 convolution of dy with the flipped kernel is the
    input gradient, or None when there is none (a stride above 1; padding wider than the
    dilated kernel, which would need negative padding)."""
    if tuple(stride) != (1, 1):
        return None
    span = ((weight_shape[2] - 1) * dilation[0], (weight_shape[3] - 1) * dilation[1])
    out = (span[0] - pad[0], span[0] - pad[1], span[1] - pad[2], span[1] - pad[3])
    return out if min(out) >= 0 else None


def pool_taps(xp, kernel, stride, out_hw):
    """Yield ``(i, j, view)`` for every kernel tap of a pooling window (no dilation)."""
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rs, cs = _window_slices(i, j, out_hw, stride, (1, 1))
            yield i, j, xp[:, rs, cs]


def maxpool_forward(x, kernel, stride, pad, out_hw):
    """Max pooling of ``x`` (C, H, W, N); padding counts as -inf.

    Returns ``y`` (C, N, Ho, Wo) and the padded input, which the backward pass compares with ``y``
    to find each window's arg-max (cheaper than tracking indices: data-dependent branches are slow).
    """
    xp = pad_channel_major(x, pad, value=-np.inf)
    y = None
    for _, _, view in pool_taps(xp, kernel, stride, out_hw):
        if y is None:
            y = view.copy()
        else:
            np.maximum(y, view, out=y)
    return y, xp


def maxpool_backward(dy, y, xp, kernel, stride, pad, positive_only=False):
    """Route ``dy`` (C, Ho, Wo, N) to the arg-max of each window; returns (C, H, W, N).

    On ties the first tap in row-major order wins, as in PyTorch.  With ``positive_only`` (a ReLU
    folded before the pooling), windows whose maximum ``y`` is not positive route nothing: the
    same numbers as ``dy * (y > 0)`` routed, without that full pass over ``dy`` (the windows are
    simply marked as taken before the first tap).
    """
    out_hw = dy.shape[1:3]
    non_overlapping = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    # Windows that tile the padded input exactly write every gradient once: no zeros needed.
    tiled = tuple(stride) == tuple(kernel) and xp.shape[1] == out_hw[0] * kernel[0] \
        and xp.shape[2] == out_hw[1] * kernel[1]
    dxp = (np.empty if tiled else np.zeros)(xp.shape, dtype=dy.dtype)
    taps = kernel[0] * kernel[1]
    taken = wins = None
    if positive_only:
        taken = np.less_equal(y, 0)  # windows the ReLU cut off, as if already routed
    for t, ((_, _, view), (_, _, grad)) in enumerate(zip(pool_taps(xp, kernel, stride, out_hw),
                                                         pool_taps(dxp, kernel, stride, out_hw))):
        wins = np.equal(view, y, out=wins)
        if taken is None:
            taken = wins.copy() if taps > 1 else None
        else:
            np.greater(wins, taken, out=wins)  # a win here, and none in an earlier tap
            if t < taps - 1:
                taken |= wins
        if non_overlapping:
            np.multiply(dy, wins, out=grad)
        else:
            grad += dy * wins
    return crop(dxp, pad)


def avgpool_forward(x, kernel, stride, pad, out_hw):
    """Average pooling of ``x`` (C, H, W, N); padded positions are not counted in the mean.

    Returns ``y`` (C, Ho, Wo, N) and the per-position divisor (Ho, Wo, 1).
    """
    xp = pad_channel_major(x, pad)
    y = np.zeros((x.shape[0], *out_hw, x.shape[3]), dtype=x.dtype)
    for _, _, view in pool_taps(xp, kernel, stride, out_hw):
        y += view
    count = _window_counts(x.shape[1:3], kernel, stride, pad, out_hw)[:, :, None].astype(x.dtype)
    y /= count
    return y, count


def avgpool_backward(dy, count, x_shape, kernel, stride, pad):
    """Spread ``dy`` (C, Ho, Wo, N) evenly over each window; returns (C, H, W, N)."""
    c, h, w, n = x_shape
    top, bottom, left, right = pad
    dxp = np.zeros((c, h + top + bottom, w + left + right, n), dtype=dy.dtype)
    share = dy / count
    for _, _, view in pool_taps(dxp, kernel, stride, dy.shape[1:3]):
        view += share
    return crop(dxp, pad)


def _window_counts(hw, kernel, stride, pad, out_hw):
    """How many real (unpadded) pixels each pooling window covers, shape (Ho, Wo)."""
    counts = []
    for axis in range(2):
        n, k, s, p0 = hw[axis], kernel[axis], stride[axis], pad[2 * axis]
        starts = np.arange(out_hw[axis]) * s - p0
        counts.append(np.clip(starts + k, 0, n) - np.clip(starts, 0, n))
    return np.outer(counts[0], counts[1])
