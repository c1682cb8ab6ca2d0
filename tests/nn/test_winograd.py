"""Winograd F(2x2, 3x3) convolutions (cnnviz.nn.winograd) against loops written from the
definition of a convolution, in float64, and against PyTorch in float32: the forward pass and
the weight, bias and input gradients, for 1, 3 and 32 channels, odd and even sizes, every kind
of padding (none, 'same', one-sided, wider than the kernel), in one block of tiles, in whole
tile rows and in parts of a tile row."""

import numpy as np
import pytest

from cnnviz.nn import Conv2D, ops, reference, winograd


def tap_gradients(x, weight, dy, pad):
    """Weight and input gradients of a 3x3 stride-1 convolution, one kernel tap at a time, in
    float64: dw[f, c, i, j] = sum dy[n, f, a, b] * xpad[n, c, a + i, b + j], and each input
    pixel collects dy times the weight of every tap that read it."""
    top, bottom, left, right = pad
    n, c, h, w = x.shape
    ho, wo = dy.shape[2:]
    xp = np.zeros((n, c, h + top + bottom, w + left + right))
    xp[:, :, top:top + h, left:left + w] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros(weight.shape)
    for i in range(3):
        for j in range(3):
            window = xp[:, :, i:i + ho, j:j + wo]
            dw[:, :, i, j] = np.einsum("nfab,ncab->fc", dy, window)
            dxp[:, :, i:i + ho, j:j + wo] += np.einsum("nfab,fc->ncab", dy, weight[:, :, i, j])
    return dw, dxp[:, :, top:top + h, left:left + w]


def run_layer(x, weight, bias, padding, dy):
    layer = Conv2D(out_channels=weight.shape[0], kernel_size=3, padding=padding,
                   weight_init=weight.copy(), use_bias=bias is not None)
    layer.build(x.shape[1:])
    layer.params["weight"] = weight.copy()  # in the caller's precision
    if bias is not None:
        layer.params["bias"] = bias.copy()
    y = layer.forward(x, training=True)
    used = isinstance(layer._xp, winograd.SplitInput)
    dx = layer.backward(dy)
    return layer, y, dx, used


@pytest.fixture(params=[1, 3 * 1024, 1 << 30], ids=["part-rows", "rows", "one-block"])
def band_bytes(request, monkeypatch):
    monkeypatch.setattr(winograd, "BAND_BYTES", request.param)
    monkeypatch.setattr(ops, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(ops, "WINOGRAD_MIN_BATCH", 1)
    return request.param


@pytest.mark.parametrize("channels,filters,size,padding", [
    (1, 4, (7, 9), "same"), (3, 5, (8, 8), "valid"), (3, 2, (5, 6), (2, 1)),
    (32, 3, (6, 5), "same"), (2, 32, (9, 7), 3), (3, 4, (1, 1), "same"), (1, 1, (4, 3), 0),
])
def test_winograd_matches_loops(band_bytes, channels, filters, size, padding):
    rng = np.random.default_rng(channels * 100 + filters)
    x = rng.standard_normal((3, channels, *size)).astype(np.float32)
    weight = rng.standard_normal((filters, channels, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)
    layer = Conv2D(out_channels=filters, kernel_size=3, padding=padding)
    layer.build((channels, *size))
    dy = rng.standard_normal((3,) + layer.output_shape).astype(np.float32)
    layer, y, dx, used = run_layer(x, weight, bias, padding, dy)
    assert used, "the case must run through Winograd"
    if band_bytes == 1 and layer.output_shape[2] > 2:  # blocks of one tile: parts of a row
        assert winograd._block_tiles(*(-(-s // 2) for s in layer.output_shape[1:]),
                                     channels + filters, 3, 4) == 1
    x64, w64 = x.astype(np.float64), weight.astype(np.float64)
    expected = reference.conv2d(x64, w64, bias, (1, 1), (1, 1), layer.pad)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(y, expected, rtol=0, atol=2e-6 * scale)
    dw, dx_loop = tap_gradients(x64, w64, dy.astype(np.float64), layer.pad)
    np.testing.assert_allclose(layer.grads["weight"], dw, rtol=0, atol=2e-6 * np.abs(dw).max())
    np.testing.assert_allclose(layer.grads["bias"], dy.sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, dx_loop, rtol=0, atol=2e-6 * np.abs(dx_loop).max())


def test_winograd_is_exact_in_float64(monkeypatch):
    """In float64 the transforms lose nothing that matters: 1e-12 of the loops' values."""
    monkeypatch.setattr(ops, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(ops, "WINOGRAD_MIN_BATCH", 1)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 6))
    weight = rng.standard_normal((4, 3, 3, 3))
    dy = rng.standard_normal((2, 4, 7, 6))
    layer, y, dx, used = run_layer(x, weight, None, "same", dy)
    assert used and y.dtype == np.float64 and dx.dtype == np.float64
    expected = reference.conv2d(x, weight, None, (1, 1), (1, 1), layer.pad)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    dw, dx_loop = tap_gradients(x, weight, dy, layer.pad)
    np.testing.assert_allclose(layer.grads["weight"], dw, rtol=0, atol=1e-12 * np.abs(dw).max())
    np.testing.assert_allclose(dx, dx_loop, rtol=0, atol=1e-12 * np.abs(dx_loop).max())


def test_dispatch_by_shape(monkeypatch):
    """Winograd takes 3x3 stride-1 convolutions with enough input channels and images; im2col
    the rest."""
    batch = ops.WINOGRAD_MIN_BATCH

    def winograd_used(channels=16, images=batch, size=8, **kwargs):
        layer = Conv2D(out_channels=4, padding="same", **{"kernel_size": 3, **kwargs})
        layer.build((channels, size, size))
        layer.forward(np.zeros((images, channels, size, size), np.float32), training=True)
        return isinstance(layer._xp, winograd.SplitInput)

    # One large image (VGG-16's first layers in the window) has tiles enough; a small one not.
    side = 2 * int(np.ceil(np.sqrt(ops.WINOGRAD_MIN_TILES)))
    assert winograd_used(images=1, size=side)
    assert not winograd_used(images=1, size=side - 8)
    assert not winograd_used(images=1, size=side, stride=2)

    assert winograd_used()
    assert not winograd_used(stride=2)
    assert not winograd_used(dilation=2)
    assert not winograd_used(kernel_size=5)
    assert not winograd_used(channels=ops.WINOGRAD_MIN_CHANNELS - 1)
    assert not winograd_used(images=batch - 1)
    monkeypatch.setattr(ops, "WINOGRAD", False)
    assert not winograd_used()


@pytest.mark.parametrize("channels,padding", [(1, 1), (3, 1), (32, 1), (32, 0), (16, 2)])
def test_winograd_matches_pytorch(monkeypatch, channels, padding):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(ops, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(ops, "WINOGRAD_MIN_BATCH", 1)
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((4, channels, 12, 11)).astype(np.float32)
    weight = (rng.standard_normal((32, channels, 3, 3)) / np.sqrt(9 * channels)).astype(np.float32)
    bias = rng.standard_normal(32).astype(np.float32)
    layer = Conv2D(out_channels=32, kernel_size=3, padding=padding)
    layer.build(x.shape[1:])
    dy = rng.standard_normal((4,) + layer.output_shape).astype(np.float32)
    layer, y, dx, used = run_layer(x, weight, bias, padding, dy)
    assert used
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    bt = torch.tensor(bias, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, bt, padding=padding)
    yt.backward(torch.tensor(dy))
    for ours, theirs in [(y, yt), (dx, xt.grad), (layer.grads["weight"], wt.grad),
                         (layer.grads["bias"], bt.grad)]:
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6 * np.abs(theirs).max())


def test_memory_estimate_covers_winograd():
    """The budget's memory estimate (written for im2col) bounds what a training pass through
    the Winograd layers allocates."""
    import tracemalloc

    from cnnviz.nn import build_preset
    from cnnviz.nn.budget import check_budget

    model = build_preset("vgg-small", seed=0)
    batch = 16
    x = np.random.default_rng(0).standard_normal((batch, 3, 32, 32)).astype(np.float32)
    model.forward(x, training=True)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = model.forward(x, training=True)
        assert isinstance(model.layers[2]._xp, winograd.SplitInput)
        model.backward(np.ones_like(out))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= check_budget(model, batch=batch).memory_bytes(batch)


def test_vgg_small_training_step_matches_pytorch():
    """vgg-small on a batch large enough for Winograd (its last three convolutions): logits,
    loss, input gradient and every parameter gradient as PyTorch computes them."""
    pytest.importorskip("torch")
    import torch

    from cnnviz.nn import build_preset
    from test_torch_oracle import assert_step_matches_pytorch

    model = build_preset("vgg-small", seed=5)
    rng = np.random.default_rng(5)
    batch = ops.WINOGRAD_MIN_BATCH
    x = rng.random((batch, 3, 32, 32), dtype=np.float32)
    labels = rng.integers(0, 10, batch)
    model.forward(x, training=True)
    assert [isinstance(getattr(layer, "_xp", None), winograd.SplitInput)
            for layer in model.layers if layer.kind == "Conv2D"] == [False, True, True, True]
    assert_step_matches_pytorch(torch, model, x, labels)


def test_filter_transform_is_the_definition_to_the_last_bit():
    """``G g G^T`` (computed as one product with ``G ⊗ G``) against a loop over its definition in
    float64: every sum there is exact, so the float32 results agree bit for bit, for weights of
    ordinary and of widely different magnitudes within a kernel."""
    rng = np.random.default_rng(11)
    weight = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    weight[1] *= np.float32(1e-6)
    weight[2, :, 1] *= np.float32(3e3)
    g = winograd.G
    expected = np.zeros((4, 4, 5, 4))
    for a in range(4):
        for b in range(4):
            for i in range(3):
                for j in range(3):
                    expected[a, b] += g[a, i] * weight[:, :, i, j].astype(np.float64) * g[b, j]
    np.testing.assert_array_equal(winograd.transform_filters(weight),
                                  expected.reshape(16, 5, 4).astype(np.float32))
    assert winograd.transform_filters(weight).dtype == np.float32


def test_input_gradient_is_taken_at_the_forward_pass_weights():
    """The backward pass reuses the filters the forward pass transformed (it is the gradient of
    that computation): changing the weight array in place in between changes nothing, and the
    result is the loops' gradient at the forward pass's weights."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4, 6, 6)).astype(np.float32)  # (C, H, W, N)
    weight = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    kept = weight.copy()
    _, split = winograd.forward(x, weight, None, (1, 1, 1, 1), (4, 6))
    weight += 1  # an optimiser's step taken too early
    dx, _ = winograd.backward(dy, split, weight, (1, 1, 1, 1), (4, 6), need_dw=False)
    _, dx_loop = tap_gradients(x.transpose(3, 0, 1, 2).astype(np.float64), kept.astype(np.float64),
                               dy.transpose(3, 0, 1, 2).astype(np.float64), (1, 1, 1, 1))
    np.testing.assert_allclose(dx.transpose(3, 0, 1, 2), dx_loop, rtol=0,
                               atol=2e-6 * np.abs(dx_loop).max())

