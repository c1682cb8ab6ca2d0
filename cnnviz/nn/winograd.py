"""Winograd's minimal filtering F(2x2, 3x3) for 3x3, stride-1, dilation-1 convolutions.

A 2x2 block of outputs of a 3x3 convolution reads a 4x4 tile of the (padded) input.  Lavin and
Gray (*Fast Algorithms for Convolutional Neural Networks*, 2016) compute it as

    Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A

with ``g`` the 3x3 kernel, ``d`` the 4x4 tile and the constant matrices ``B``, ``G``, ``A``
below: 16 multiplications instead of 36.  Summed over input channels, each of the 16 products
``(a, b)`` is one matrix product ``U[a, b] (F, C) @ V[a, b] (C, tiles * N)``, so the work in BLAS
falls by 2.25 times; the transforms of ``d`` and of the result are additions and subtractions of
whole strided slices (entries 0, ±1 and ±1/2: no rounding beyond float32 sums of a few terms).

The arrays are channel-major and batch-last, ``(C, H, W, N)`` (see :mod:`cnnviz.nn.ops`).  The
padded input is first copied with its columns split by parity (:class:`SplitInput`), so that row
``k`` or column ``k`` of every tile is a slice with long contiguous runs.  The tiles are taken in
blocks (:data:`BAND_BYTES`) so that the transformed tiles and the products stay in the cache.

The backward pass is the gradient of the same computation.  With ``dM = A dY A^T`` per output
block: ``dU[a, b] = dM[a, b] @ V[a, b]^T`` and ``dg = G^T dU G`` for the weight, and
``dV[a, b] = U[a, b]^T @ dM[a, b]`` followed by the adjoint of the input transform (``B dV B^T``,
added into the padded input's gradient, since neighbouring tiles overlap) for the input.
"""

from __future__ import annotations

import numpy as np

from .buffers import short_buffers

#: Filter transform (4x3).
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
#: Input transform, as B^T (4x4): rows d0 - d2, d1 + d2, d2 - d1, d1 - d3.
BT = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, -1.0, 1.0, 0.0],
               [0.0, 1.0, 0.0, -1.0]])
#: Output transform, as A^T (2x4): rows m0 + m1 + m2, m1 - m2 - m3.
AT = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]])

#: Bytes of transformed tiles (input and products) handled per block of tiles: small enough to
#: stay in the processor's caches between the transforms and the products.  vgg-small training
#: step on 32 images, one core: 1 MB 69.5 ms, 2 MB 67.2 ms, 4 MB 76.2 ms, 8 MB 81.5 ms.
BAND_BYTES = 1 << 21


def applies(kernel, stride, dilation) -> bool:
    """True for the convolutions this module computes: 3x3 kernel, stride 1, dilation 1."""
    return tuple(kernel) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)


#: ``G ⊗ G`` as a (16, 9) matrix: entry (a, b) of ``G g G^T`` is ``KRON_G[4 a + b] @ g.ravel()``.
#: Its entries are products of 0, ±1/2 and 1, exact in floating point.
KRON_G = np.kron(G, G)


def transform_filters(weight: np.ndarray) -> np.ndarray:
    """``G g G^T`` of every (F, C) kernel, as a (16, F, C) stack (computed in float64).

    One product ``(16, 9) @ (9, F C)``: each entry is a sum of at most nine float32 weights
    scaled by powers of two, exact in float64 (the same float32 result as any other order of
    the sums) unless a kernel's weights span more than about 2^25 in magnitude."""
    f, c = weight.shape[:2]
    u = KRON_G @ weight.reshape(f * c, 9).T.astype(np.float64)
    return u.reshape(16, f, c).astype(weight.dtype)


class SplitInput:
    """A padded input with its columns split by parity, as the tiles read it.

    ``data`` is (C, 2 th + 2, 2, tw + 1, N): ``data[:, r, e, s]`` is column ``2 s + e`` of padded
    row ``r``, zero beyond the padded input.  Column ``k`` of tile column ``s`` (``2 s + k``) is
    then parity ``k % 2`` at pair ``s + k // 2``: for all tiles, a slice whose contiguous runs are
    ``tw * N`` numbers long, where a stride-2 slice of the (C, H, W, N) array would give runs of
    ``N`` (and numpy's per-run overhead would dominate).  Kept by the forward pass for the
    backward pass, which transforms the tiles again (keeping the transformed tiles, 4 times the
    input, was no faster: they must then travel to memory and back).
    """

    #: The forward pass's transformed filters ``G g G^T`` (16, F, C), which the input gradient
    #: multiplies by again: the backward pass is the gradient of the forward pass's computation,
    #: at the weights it used.
    filters = None

    def __init__(self, x, pad, tiles, relu=False):
        self.tiles = tiles
        self.data = split_columns(x, pad[0], pad[2], 2 * tiles[0] + 2, tiles[1] + 1, relu)


def split_columns(x, top, left, height, pairs, relu=False):
    """``x`` (C, H, W, N) placed at row ``top``, column ``left`` of a zero (C, height, 2 pairs,
    N) array, returned as (C, height, 2, pairs, N) with the columns split by parity; with
    ``relu``, ``max(x, 0)`` placed so (the ReLU before the convolution, in the same pass)."""
    c, h, w, n = x.shape
    out = np.empty((c, height, 2, pairs, n), dtype=x.dtype)
    out[:, :top] = 0
    out[:, top + h:] = 0
    inside = out[:, top:top + h]
    for parity in (0, 1):
        first = (parity - left) % 2  # the first column of x that lands on this parity
        start, count = (left + first) // 2, len(range(first, w, 2))
        inside[:, :, parity, :start] = 0
        if relu:
            np.maximum(x[:, :, first::2], 0, out=inside[:, :, parity, start:start + count])
        else:
            inside[:, :, parity, start:start + count] = x[:, :, first::2]
        inside[:, :, parity, start + count:] = 0
    return out


def _blocks(th, tw, tiles):
    """Blocks ``(t0, rows, s0, cols)`` of about ``tiles`` tiles each that cover the th x tw
    tiles: whole tile rows when one fits, else parts of one tile row."""
    if tiles >= tw:
        step = min(th, tiles // tw)
        for t0 in range(0, th, step):
            yield t0, min(step, th - t0), 0, tw
    else:
        for t0 in range(th):
            for s0 in range(0, tw, tiles):
                yield t0, 1, s0, min(tiles, tw - s0)


def _block_tiles(th, tw, channels, n, itemsize):
    """Tiles per block, so that a block's 16 transformed entries of ``channels`` (input and
    output channels together) fit :data:`BAND_BYTES`."""
    tiles = max(1, BAND_BYTES // max(1, 16 * channels * n * itemsize))
    return min(tiles, tw) if tiles < tw else min(th, tiles // tw) * tw


def _input_transform(xs, t0, rows, s0, cols, rbuf, v):
    """``B^T d B`` of the tiles in tile rows ``t0 ..`` and tile columns ``s0 ..`` of the split
    input ``xs`` (C, 2 th + 2, 2, tw + 1, N) into ``v`` (4, 4, C, rows, cols, N): ``v[a, b]`` is
    entry (a, b) of every tile.  ``rbuf`` is a (4, C, rows, 2, cols + 1, N) scratch buffer."""
    top, stop = 2 * t0, 2 * t0 + 2 * rows - 1
    # Row k of every tile: (C, rows, 2, cols + 1, N).
    d = [xs[:, top + k:stop + k:2, :, s0:s0 + cols + 1] for k in range(4)]
    np.subtract(d[0], d[2], out=rbuf[0])
    np.add(d[1], d[2], out=rbuf[1])
    np.subtract(d[2], d[1], out=rbuf[2])
    np.subtract(d[1], d[3], out=rbuf[3])
    # Column k of every tile: parity k % 2, pair s + k // 2; (4, C, rows, cols, N).
    e = [rbuf[:, :, :, k % 2, k // 2:k // 2 + cols] for k in range(4)]
    np.subtract(e[0], e[2], out=v[:, 0])
    np.add(e[1], e[2], out=v[:, 1])
    np.subtract(e[2], e[1], out=v[:, 2])
    np.subtract(e[1], e[3], out=v[:, 3])


def _output_transform(m, sbuf, tmp, y):
    """``A^T m A`` of every tile: ``m`` (4, 4, F, rows, cols, N) to ``y`` (F, 2 rows, 2 cols, N);
    ``sbuf`` (2, 4, F, rows, cols, N) and ``tmp`` (F, rows, cols, N) are scratch buffers."""
    np.add(m[0], m[1], out=sbuf[0])
    sbuf[0] += m[2]
    np.subtract(m[1], m[2], out=sbuf[1])
    sbuf[1] -= m[3]
    for i in range(2):  # output row 2t + i of the tile; only the last operation is strided
        s = sbuf[i]
        np.add(s[0], s[1], out=tmp)
        np.add(tmp, s[2], out=y[:, i::2, 0::2])
        np.subtract(s[1], s[2], out=tmp)
        np.subtract(tmp, s[3], out=y[:, i::2, 1::2])


@short_buffers
def forward(x: np.ndarray, weight: np.ndarray, bias, pad, out_hw, relu_input=False):
    """3x3 stride-1 convolution of ``x`` (C, H, W, N), padded by ``pad`` (top, bottom, left,
    right), with ``weight`` (F, C, 3, 3) and ``bias`` (F,) or None; with ``relu_input``, of
    ``max(x, 0)`` (a ReLU before it, applied while the input is copied for the tiles).

    Returns ``y`` (F, Ho, Wo, N), contiguous, and the :class:`SplitInput` the weight gradient
    reads."""
    f, c = weight.shape[:2]
    ho, wo = out_hw
    n = x.shape[3]
    th, tw = -(-ho // 2), -(-wo // 2)
    split = SplitInput(x, pad, (th, tw), relu_input)
    dtype = np.result_type(x, weight)
    u = transform_filters(weight).astype(dtype, copy=False)
    split.filters = u
    y = np.empty((f, 2 * th, 2 * tw, n), dtype=dtype)
    most = _block_tiles(th, tw, c + f, n, np.dtype(dtype).itemsize)
    rbuf = np.empty(4 * c * 2 * (most + th) * n, dtype=dtype)
    vbuf = np.empty(16 * c * most * n, dtype=dtype)
    mbuf = np.empty(16 * f * most * n, dtype=dtype)
    sbuf = np.empty(8 * f * most * n, dtype=dtype)
    tbuf = np.empty(f * most * n, dtype=dtype)
    for t0, rows, s0, cols in _blocks(th, tw, most):
        size = rows * cols * n
        v = vbuf[:16 * c * size].reshape(4, 4, c, rows, cols, n)
        r = rbuf[:4 * c * rows * 2 * (cols + 1) * n].reshape(4, c, rows, 2, cols + 1, n)
        _input_transform(split.data, t0, rows, s0, cols, r, v)
        m = mbuf[:16 * f * size].reshape(16, f, size)
        np.matmul(u, v.reshape(16, c, size), out=m)
        if bias is not None:
            # A^T e A is all ones for the entry e = (1, 1): the bias added there reaches all
            # four outputs of the block once.
            m[5] += bias[:, None]
        _output_transform(m.reshape(4, 4, f, rows, cols, n),
                          sbuf[:8 * f * size].reshape(2, 4, f, rows, cols, n),
                          tbuf[:f * size].reshape(f, rows, cols, n),
                          y[:, 2 * t0:2 * (t0 + rows), 2 * s0:2 * (s0 + cols)])
    if (ho, wo) != (2 * th, 2 * tw):
        y = np.ascontiguousarray(y[:, :ho, :wo])
    return y, split


def merge_columns(xs, top, left, h, w):
    """The inverse of :func:`split_columns`: rows ``top ..`` and columns ``left ..`` of the
    split ``xs`` (C, height, 2, pairs, N) as a contiguous (C, h, w, N) array."""
    out = np.empty((xs.shape[0], h, w, xs.shape[4]), dtype=xs.dtype)
    inside = xs[:, top:top + h]
    for parity in (0, 1):
        first = (parity - left) % 2
        start, count = (left + first) // 2, len(range(first, w, 2))
        out[:, :, first::2] = inside[:, :, parity, start:start + count]
    return out


def _output_transform_adjoint(top, bottom, m):
    """``dM = A dY A^T`` of every output block, without its minus signs (see :data:`SIGNS`):
    ``top`` and ``bottom`` (F, rows, 2, cols, N) are the blocks' two output rows (their two
    columns split by parity), ``m`` (4, 4, F, rows, cols, N) receives entry (a, b) of every block.

    Row ``a`` of dM is (top, top + bottom, top - bottom, bottom) and column ``b`` likewise (left,
    left + right, left - right, right); the sums of rows 1 and 2 are formed in their own first
    and last columns and reused there, so no intermediate (4, F, rows, 2, cols, N) array is
    written and read back."""
    for a, rows_of in ((0, top), (3, bottom)):
        left, right = rows_of[:, :, 0], rows_of[:, :, 1]
        m[a, 0] = left
        np.add(left, right, out=m[a, 1])
        np.subtract(left, right, out=m[a, 2])
        m[a, 3] = right
    for a, combine in ((1, np.add), (2, np.subtract)):
        left, right = m[a, 0], m[a, 3]
        combine(top[:, :, 0], bottom[:, :, 0], out=left)
        combine(top[:, :, 1], bottom[:, :, 1], out=right)
        np.add(left, right, out=m[a, 1])
        np.subtract(left, right, out=m[a, 2])


def _input_transform_adjoint(dv, t0, rows, s0, cols, rbuf, tmp, dxs):
    """Add the adjoint of :func:`_input_transform` (``B dV B^T`` of every tile) into ``dxs``
    (C, 2 th + 2, 2, tw + 1, N), where neighbouring tiles overlap.

    ``dv`` is (4, 4, C, rows, cols, N); ``rbuf`` a (4, C, rows, 2, cols + 1, N) and ``tmp`` a
    (4, C, rows, cols, N) scratch buffer.
    """
    # Columns: the adjoint of v0 = e0 - e2, v1 = e1 + e2, v2 = e2 - e1, v3 = e1 - e3 gives
    # e0 = v0, e1 = v1 - v2 + v3, e2 = v1 + v2 - v0, e3 = -v3; column k of tile s is parity
    # k % 2 of pair s + k // 2, so pairs receive from two neighbouring tiles.
    even, odd = rbuf[:, :, :, 0], rbuf[:, :, :, 1]
    even[..., :cols, :] = dv[:, 0]
    even[..., cols, :] = 0
    np.add(dv[:, 1], dv[:, 2], out=tmp)
    tmp -= dv[:, 0]
    even[..., 1:, :] += tmp
    np.subtract(dv[:, 1], dv[:, 2], out=tmp)
    tmp += dv[:, 3]
    odd[..., :cols, :] = tmp
    odd[..., cols, :] = 0
    odd[..., 1:, :] -= dv[:, 3]
    # Rows, likewise: d0 = r0, d1 = r1 - r2 + r3, d2 = r1 + r2 - r0, d3 = -r3 on padded rows
    # 2t + k (tmp, free again, holds d1 and d2).
    top, stop = 2 * t0, 2 * t0 + 2 * rows - 1
    row = [dxs[:, top + k:stop + k:2, :, s0:s0 + cols + 1] for k in range(4)]
    row[0] += rbuf[0]
    row[3] -= rbuf[3]
    d = tmp.reshape(-1)[:rbuf[0].size].reshape(rbuf[0].shape)
    np.subtract(rbuf[1], rbuf[2], out=d)
    d += rbuf[3]
    row[1] += d
    np.add(rbuf[1], rbuf[2], out=d)
    d -= rbuf[0]
    row[2] += d


@short_buffers
def backward(dy: np.ndarray, split: SplitInput, weight: np.ndarray, pad, x_hw, need_dx=True,
             need_dw=True, relu_input=False):
    """Gradients of :func:`forward`: the input gradient (C, H, W, N) and the weight gradient
    (F, C, 3, 3), each None when not needed.  ``dy`` is (F, Ho, Wo, N), ``split`` the forward
    pass's :class:`SplitInput`, ``x_hw`` the input's (H, W).  With ``relu_input`` (a forward
    pass with it), the input gradient is the one at the ReLU's input: masked where the
    rectified input (``split``) is not positive, before it is copied out.

    Both come from ``dM = A dY A^T`` of every output block: ``dU = dM V^T`` (then
    ``dg = G^T dU G``) and ``dV = U^T dM`` (then the adjoint of the input transform, which adds
    each tile's ``B dV B^T`` into the padded input's gradient).
    """
    f, c = weight.shape[:2]
    n = dy.shape[3]
    th, tw = split.tiles
    dtype = np.result_type(dy, split.data)
    # Split like the input; zeros stand for the outputs beyond an odd edge.
    dys = split_columns(dy, 0, 0, 2 * th, tw)
    most = _block_tiles(th, tw, c + f, n, np.dtype(dtype).itemsize)
    rbuf = np.empty(4 * c * 2 * (most + th) * n, dtype=dtype)
    mbuf = np.empty(16 * f * most * n, dtype=dtype)
    if need_dw:
        du = np.zeros((16, f, c), dtype=dtype)
        part = np.empty((16, f, c), dtype=dtype)
        vbuf = np.empty(16 * c * most * n, dtype=dtype)
    if need_dx:
        # U with the signs left out of dM (below), transposed: (16, C, F).
        u = split.filters if split.filters is not None else transform_filters(weight)
        ut = (u.astype(dtype, copy=False) * SIGNS.reshape(16, 1, 1).astype(dtype)).transpose(0, 2, 1)
        dvbuf = np.empty(16 * c * most * n, dtype=dtype)
        tbuf = np.empty(4 * c * most * n, dtype=dtype)
        dxs = np.zeros_like(split.data, dtype=dtype)
    for t0, rows, s0, cols in _blocks(th, tw, most):
        size = rows * cols * n
        r = rbuf[:4 * c * rows * 2 * (cols + 1) * n].reshape(4, c, rows, 2, cols + 1, n)
        # dM = A dY A^T with A = [[1, 0], [1, 1], [1, -1], [0, -1]]; the minus signs of row and
        # column 3 are left out here and applied to the small dU and U instead (see SIGNS).
        block = dys[:, 2 * t0:2 * (t0 + rows), :, s0:s0 + cols]  # (F, 2 rows, 2, cols, N)
        m = mbuf[:16 * f * size].reshape(4, 4, f, rows, cols, n)
        _output_transform_adjoint(block[:, 0::2], block[:, 1::2], m)
        m = m.reshape(16, f, size)
        if need_dw:
            v = vbuf[:16 * c * size].reshape(4, 4, c, rows, cols, n)
            _input_transform(split.data, t0, rows, s0, cols, r, v)
            v = v.reshape(16, c, size)
            # (F, size) @ (size, C): the long sum as the inner dimension of the product (OpenBLAS
            # runs it up to 1.2 times faster than (C, size) @ (size, F)).
            np.matmul(m, v.transpose(0, 2, 1), out=part)
            du += part
        if need_dx:
            dv = dvbuf[:16 * c * size].reshape(16, c, size)
            np.matmul(ut, m, out=dv)
            _input_transform_adjoint(dv.reshape(4, 4, c, rows, cols, n), t0, rows, s0, cols, r,
                                     tbuf[:4 * c * size].reshape(4, c, rows, cols, n), dxs)
    dx = dw = None
    if need_dx:
        if relu_input:
            dxs *= split.data > 0
        dx = merge_columns(dxs, pad[0], pad[2], *x_hw)
    if need_dw:
        # dg = G^T dU G, contracted in the order einsum("ai,abfc,bj->fcij") takes (a, then b),
        # so the sums (of float32 numbers of any spread, not always exact in float64) round as
        # they did; without einsum's planning and copies.
        du = du.reshape(4, 4, f, c).astype(np.float64) * SIGNS
        dw = np.tensordot(np.tensordot(G, du, axes=(0, 0)), G, axes=(1, 0))  # (i, f, c, j)
        dw = dw.transpose(1, 2, 0, 3).astype(dtype)
    return dx, dw


#: Signs of the entries of ``A dY A^T`` left out in :func:`backward` (row and column 3).
SIGNS = (np.array([1.0, 1.0, 1.0, -1.0])[:, None] * np.array([1.0, 1.0, 1.0, -1.0]))[:, :, None, None]
