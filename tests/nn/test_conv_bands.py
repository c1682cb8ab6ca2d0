"""Convolutions computed one band of output rows at a time (ops.CHUNK_BYTES) against loops
written from the definitions: the forward pass, the weight, bias and input gradients, with
several bands and a short last band, stride, dilation and padding; the input gradient both as
the convolution of dy with the flipped kernel (stride 1, padding within the dilated kernel) and
by scattering column gradients (the other cases: stride 2, padding 2 around a kernel 1 wide, a
'valid' kernel, and any case with ops.FLIPPED_MIN_CHANNELS out of reach)."""

import numpy as np
import pytest

from cnnviz.nn import Conv2D, ops, reference


def loop_gradients(x, weight, dy, stride, dilation, pad):
    """Weight, bias and input gradients of a convolution, tap by tap, in float64."""
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    ho, wo = dy.shape[2:]
    top, bottom, left, right = pad
    xp = np.zeros((n, c, h + top + bottom, w + left + right))
    xp[:, :, top:top + h, left:left + w] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros(weight.shape)
    for i in range(kh):
        for j in range(kw):
            for a in range(ho):
                for b in range(wo):
                    r, s = a * stride[0] + i * dilation[0], b * stride[1] + j * dilation[1]
                    # dy[:, :, a, b] (n, f) times the input pixel (n, c) under tap (i, j)
                    dw[:, :, i, j] += dy[:, :, a, b].T @ xp[:, :, r, s]
                    dxp[:, :, r, s] += dy[:, :, a, b] @ weight[:, :, i, j]
    return dw, dy.sum(axis=(0, 2, 3)), dxp[:, :, top:top + h, left:left + w]


@pytest.mark.parametrize("chunk_bytes", [1, 3 * 1024, 1 << 30])
@pytest.mark.parametrize("kernel,stride,dilation,padding", [
    (3, 1, 1, "same"), (3, 2, 1, "same"), ((3, 2), (1, 2), (2, 1), 1), (2, 1, 1, "valid"),
    (3, 1, 2, "same"), ((3, 1), 1, 1, 2), (2, 1, 1, "same"),
])
@pytest.mark.parametrize("flip_from", [1, 10**6])
def test_banded_conv_matches_loops(monkeypatch, chunk_bytes, kernel, stride, dilation, padding,
                                   flip_from):
    monkeypatch.setattr(ops, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(ops, "FLIPPED_MIN_CHANNELS", flip_from)
    rng = np.random.default_rng(5)
    layer = Conv2D(out_channels=4, kernel_size=kernel, stride=stride, dilation=dilation,
                   padding=padding, weight_init="he_normal")
    layer.build((3, 11, 9), rng)
    layer.params["bias"] = rng.standard_normal(4).astype(np.float32)
    x = rng.standard_normal((5, 3, 11, 9)).astype(np.float32)
    if chunk_bytes < 1 << 30:  # the case is meant to run in several bands, the last one short
        k = 3 * layer.kernel_size[0] * layer.kernel_size[1] + 1
        step = ops._band_rows(k, layer.output_shape[1:], 5, 4)
        assert step < layer.output_shape[1] and layer.output_shape[1] % step or step == 1
    weight = layer.params["weight"].astype(np.float64)
    expected = reference.conv2d(x.astype(np.float64), weight, layer.params["bias"], layer.stride,
                                layer.dilation, layer.pad)
    np.testing.assert_allclose(layer.forward(x, training=True), expected, rtol=1e-5, atol=1e-5)
    dy = rng.standard_normal((5,) + layer.output_shape).astype(np.float32)
    dx = layer.backward(dy)
    dw, db, dx_loop = loop_gradients(x.astype(np.float64), weight, dy.astype(np.float64),
                                     layer.stride, layer.dilation, layer.pad)
    np.testing.assert_allclose(layer.grads["weight"], dw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.grads["bias"], db, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, dx_loop, rtol=1e-4, atol=1e-4)


def test_forward_keeps_its_own_copy_of_an_unpadded_input():
    """The backward pass unfolds the input again: changing the caller's array in between (a
    reused batch buffer) must not change the gradient."""
    rng = np.random.default_rng(6)
    layer = Conv2D(out_channels=2, kernel_size=3)
    layer.build((1, 6, 6), rng)
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    dy = rng.standard_normal((2,) + layer.output_shape).astype(np.float32)
    layer.forward(x.copy(), training=True)
    layer.backward(dy)
    expected = layer.grads["weight"].copy()
    batch = x.copy()
    layer.forward(batch, training=True)
    batch[:] = 0.0
    layer.backward(dy)
    np.testing.assert_allclose(layer.grads["weight"], expected, rtol=1e-6)


@pytest.mark.parametrize("filters,k,out_hw,n,rows", [
    # 32 x 28 by 28 x (32 x 32) per row: 917,504 multiply-adds, so one row (1,024 columns), not
    # the 9 rows of 114,688 bytes that CHUNK_BYTES allows (vgg-small's first convolution).
    (32, 28, (32, 32), 32, 1),
    # 139,776 per row: 7 rows (6,272 columns) instead of 11 (lenet5's first).
    (6, 26, (28, 28), 32, 7),
    # 773,120 per row: one row would be 320 columns only, so CHUNK_BYTES decides: 5 rows.
    (16, 151, (10, 10), 32, 5),
    # more than a million per row and 2.4 MB of columns per row: one row.
    (64, 577, (16, 16), 64, 1),
])
def test_band_rows_for_the_small_matrix_kernels(monkeypatch, filters, k, out_hw, n, rows):
    """Bands are cut so that OpenBLAS multiplies them with its small-matrix kernels (at most
    ops.SMALL_PRODUCT multiply-adds) unless that leaves fewer than ops.SMALL_MIN_COLUMNS columns
    (with bands of at most 1 MB of columns here)."""
    monkeypatch.setattr(ops, "CHUNK_BYTES", 1 << 20)
    assert ops._band_rows(k, out_hw, n, 4, filters) == rows
