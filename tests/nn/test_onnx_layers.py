"""The engine additions the ONNX importer needs: padding per side, and average pooling that
counts the padding (PyTorch's default), against PyTorch and finite differences."""

import numpy as np
import pytest

from cnnviz.nn import AvgPool2D, Conv2D, MaxPool2D, ModelError
from cnnviz.nn.gradcheck import numerical_gradient
from cnnviz.nn.model import layer_from_config


def test_four_sided_padding_matches_explicit_zero_padding():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 7, 6)).astype(np.float64)
    w = rng.standard_normal((3, 2, 3, 3))
    conv = Conv2D(out_channels=3, kernel_size=3, stride=2, padding=[1, 0, 2, 1],
                  weight_init=w, use_bias=False)
    conv.build((2, 7, 6))
    conv.params = {"weight": w}
    padded = np.pad(x, ((0, 0), (0, 0), (1, 0), (2, 1)))
    plain = Conv2D(out_channels=3, kernel_size=3, stride=2, weight_init=w, use_bias=False)
    plain.build(padded.shape[1:])
    plain.params = {"weight": w}
    assert conv.output_shape == plain.output_shape == (3, 3, 4)
    np.testing.assert_allclose(conv.forward(x), plain.forward(padded), rtol=1e-12)
    # the gradient with respect to the input is the padded one's, cropped
    dy = rng.standard_normal((2, *conv.output_shape))
    np.testing.assert_allclose(conv.backward(dy), plain.backward(dy)[:, :, 1:, 2:-1], rtol=1e-12)


@pytest.mark.parametrize("padding", [[1, 2, 0, 1], [3, 0, 0, 0]])
def test_max_pool_four_sided_padding_reads_minus_infinity(padding):
    x = -np.abs(np.random.default_rng(1).standard_normal((1, 1, 5, 5)))  # all below 0
    pool = MaxPool2D(size=(4, 2), stride=1, padding=padding)
    pool.build((1, 5, 5))
    top, bottom, left, right = padding
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf)
    want = np.array([[padded[0, 0, i:i + 4, j:j + 2].max()
                      for j in range(padded.shape[3] - 1)] for i in range(padded.shape[2] - 3)])
    np.testing.assert_array_equal(pool.forward(x)[0, 0], want)


def test_padding_settings_are_checked():
    for bad in ([1, 2, 3], [1, -1, 0, 0], [0, 0, 0, 65], [True, 0, 0, 0]):
        with pytest.raises(ModelError, match="padding"):
            layer_from_config({"kind": "Conv2D", "out_channels": 1, "padding": bad})
    layer = layer_from_config({"kind": "Conv2D", "out_channels": 1, "padding": [0, 1, 2, 3]})
    assert layer.config()["padding"] == [0, 1, 2, 3]


@pytest.mark.torch
def test_average_pool_counting_padding_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    pool = AvgPool2D(size=3, stride=2, padding=1, count_include_pad=True)
    pool.build((3, 7, 8))
    assert pool.config()["count_include_pad"] is True
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.avg_pool2d(tx, 3, 2, padding=1, count_include_pad=True)
    np.testing.assert_allclose(pool.forward(x), ty.detach().numpy(), rtol=1e-6, atol=1e-7)
    dy = rng.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(pool.backward(dy), tx.grad.numpy(), rtol=1e-6, atol=1e-7)
    # and without it, padding stays out of the mean (the engine's default), as before
    plain = AvgPool2D(size=3, stride=2, padding=1)
    plain.build((3, 7, 8))
    assert "count_include_pad" not in plain.config()
    want = torch.nn.functional.avg_pool2d(torch.tensor(x), 3, 2, padding=1,
                                          count_include_pad=False).numpy()
    np.testing.assert_allclose(plain.forward(x), want, rtol=1e-6, atol=1e-7)


def test_average_pool_counting_padding_gradient_by_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 5, 4))
    dy = rng.standard_normal((1, 2, 3, 2))
    pool = AvgPool2D(size=(3, 2), stride=2, padding=[1, 1, 0, 1], count_include_pad=True)
    pool.build((2, 5, 4))

    def loss():
        return float((pool.forward(x) * dy).sum())

    numeric = numerical_gradient(loss, x)
    pool.forward(x)
    np.testing.assert_allclose(pool.backward(dy), numeric, rtol=1e-6, atol=1e-8)
    # the first window of row 0 holds 2 real pixels of its 6 taps: its mean divides by 6
    y = pool.forward(x)
    assert y[0, 0, 0, 0] == pytest.approx(x[0, 0, 0:2, 0:2].sum() / 6)


def lrn_naive(x, size, alpha, beta, bias):
    """Channel by channel, as ONNX's operator definition says."""
    out = np.empty_like(x)
    c = x.shape[1]
    for ch in range(c):
        lo, hi = max(0, ch - (size - 1) // 2), min(c - 1, ch + size // 2)
        s = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        out[:, ch] = x[:, ch] / (bias + alpha / size * s) ** beta
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_lrn_forward_and_backward(size):
    from cnnviz.nn.layers import LRN

    rng = np.random.default_rng(size)
    x = rng.standard_normal((2, 6, 3, 4)) * 2
    layer = LRN(size=size, alpha=0.3, beta=0.75, bias=1.5)
    layer.build((6, 3, 4))
    np.testing.assert_allclose(layer.forward(x), lrn_naive(x, size, 0.3, 0.75, 1.5), rtol=1e-12)
    dy = rng.standard_normal(x.shape)

    def loss():
        return float((layer.forward(x) * dy).sum())

    numeric = numerical_gradient(loss, x)
    layer.forward(x)
    np.testing.assert_allclose(layer.backward(dy), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.torch
def test_lrn_matches_torch():
    torch = pytest.importorskip("torch")
    from cnnviz.nn.layers import LRN

    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 7, 5, 5)).astype(np.float32)
    layer = LRN(size=5, alpha=1e-2, beta=0.75, bias=2.0)
    layer.build((7, 5, 5))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.local_response_norm(tx, 5, alpha=1e-2, beta=0.75, k=2.0)
    np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_the_self_checks_reference_lrn_follows_the_definition():
    """onnx 1.23's reference LRN loops over the batch, not the channels; the self-check's own
    replacement must be the operator as defined (the naive loop above)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from cnnviz.nn.onnx_io import reference_evaluator

    x = np.random.default_rng(4).standard_normal((2, 7, 3, 3)).astype(np.float32)
    node = helper.make_node("LRN", ["x"], ["y"], size=4, alpha=0.5, beta=0.6, bias=1.2)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [2, 7, 3, 3])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    got = reference_evaluator(proto).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, lrn_naive(x.astype(np.float64), 4, 0.5, 0.6, 1.2),
                               rtol=1e-5)
