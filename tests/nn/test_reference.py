"""The vectorised kernels against loops written straight from the definitions."""

import numpy as np
import pytest

from cnnviz.nn import AvgPool2D, Conv2D, MaxPool2D
from cnnviz.nn import reference


@pytest.mark.parametrize("kernel,stride,dilation,padding", [
    (3, 1, 1, "valid"), (5, 1, 1, "same"), (3, 2, 1, "same"), (2, 1, 1, "same"),
    ((3, 1), (1, 2), (2, 1), 2), (3, 3, 2, (1, 0)),
])
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv_forward_matches_loops(kernel, stride, dilation, padding, use_bias):
    rng = np.random.default_rng(0)
    layer = Conv2D(out_channels=4, kernel_size=kernel, stride=stride, dilation=dilation,
                   padding=padding, use_bias=use_bias, weight_init="he_normal")
    layer.build((3, 9, 8), rng)
    if use_bias:
        layer.params["bias"] = rng.standard_normal(4).astype(np.float32)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    expected = reference.conv2d(x.astype(np.float64), layer.params["weight"].astype(np.float64),
                                layer.params.get("bias"), layer.stride, layer.dilation, layer.pad)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-5, atol=1e-5)


def test_conv_input_gradient_is_full_convolution_with_rotated_kernel():
    rng = np.random.default_rng(1)
    layer = Conv2D(out_channels=3, kernel_size=(3, 4))
    layer.build((2, 7, 9), rng)
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    x = rng.standard_normal((2, 2, 7, 9))
    dy = rng.standard_normal((2,) + layer.output_shape)
    layer.forward(x)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, reference.conv2d_input_grad_full(dy, layer.params["weight"],
                                                                    x.shape), rtol=1e-10)


@pytest.mark.parametrize("mode,cls", [("max", MaxPool2D), ("avg", AvgPool2D)])
@pytest.mark.parametrize("size,stride,padding", [(2, 2, "valid"), (3, 2, "same"), ((2, 3), 1, 1),
                                                 (3, 3, "valid")])
def test_pool_forward_matches_loops(mode, cls, size, stride, padding):
    rng = np.random.default_rng(2)
    layer = cls(size, stride, padding)
    layer.build((3, 8, 7))
    x = rng.standard_normal((2, 3, 8, 7)).astype(np.float32)
    expected = reference.pool2d(x.astype(np.float64), layer.size, layer.stride, layer.pad, mode)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-6, atol=1e-6)


def test_same_padding_keeps_size_and_strided_same_is_ceil():
    for stride, expected in [(1, (4, 13, 11)), (2, (4, 7, 6)), (3, (4, 5, 4))]:
        layer = Conv2D(out_channels=4, kernel_size=4, stride=stride, padding="same")
        assert layer.build((1, 13, 11)) == expected


@pytest.mark.parametrize("size,stride,padding,hw", [(2, 2, "valid", (8, 6)), (2, 2, "valid", (7, 5)),
                                                     (3, 3, "valid", (9, 9)), (3, 2, "same", (7, 8)),
                                                     ((2, 3), (1, 2), 1, (5, 7))])
def test_maxpool_backward_on_ties_matches_loops(size, stride, padding, hw):
    """After a ReLU most windows hold several equal maxima (zeros): each window's gradient goes
    to its first arg-max in row-major order, as PyTorch's; positions no window reads get 0."""
    rng = np.random.default_rng(7)
    layer = MaxPool2D(size, stride, padding)
    layer.build((3, *hw))
    x = np.maximum(rng.integers(-3, 2, (4, 3, *hw)), 0).astype(np.float32)  # many ties
    layer.forward(x, training=True)
    dy = rng.standard_normal((4,) + layer.output_shape).astype(np.float32)
    dx = layer.backward(dy)
    (kh, kw), (sh, sw), (top, _, left, _) = layer.size, layer.stride, layer.pad
    expected = np.zeros(x.shape)
    for a in range(layer.output_shape[1]):
        for b in range(layer.output_shape[2]):
            for n in range(4):
                for c in range(3):
                    best = None
                    for i in range(kh):
                        for j in range(kw):
                            r, s = a * sh + i - top, b * sw + j - left
                            if 0 <= r < hw[0] and 0 <= s < hw[1] and (
                                    best is None or x[n, c, r, s] > x[n, c, best[0], best[1]]):
                                best = (r, s)
                    expected[n, c, best[0], best[1]] += dy[n, c, a, b]
    np.testing.assert_allclose(dx, expected, rtol=1e-6, atol=1e-6)
