"""Every layer's backward pass against central finite differences, in float64."""

import numpy as np
import pytest

from cnnviz.nn import (AvgPool2D, Conv2D, Dense, Dropout, Flatten, LeakyReLU, MaxPool2D, ReLU,
                       Sigmoid, Softmax, Softplus, Tanh)
from cnnviz.nn.losses import MeanSquaredError, SoftmaxCrossEntropy

from cnnviz.nn.gradcheck import numerical_gradient


def check_layer(layer, input_shape, batch=2, seed=0, training=False, x=None):
    """Compare dx and every parameter gradient of ``layer`` with finite differences."""
    rng = np.random.default_rng(seed)
    layer.build(input_shape, rng)
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    if x is None:
        x = rng.standard_normal((batch,) + tuple(input_shape))
    y = layer.forward(x, training)
    r = rng.standard_normal(y.shape)

    def loss():
        return float(np.sum(layer.forward(x, training) * r))

    layer.forward(x, training)
    dx = layer.backward(r.copy())
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-5, atol=1e-7)
    for name, p in layer.params.items():
        layer.forward(x, training)
        layer.backward(r.copy())
        analytic = layer.grads[name].copy()
        np.testing.assert_allclose(analytic, numerical_gradient(loss, p), rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    return dx


CONV_CASES = [
    dict(kernel_size=3, stride=1, padding="valid", dilation=1),
    dict(kernel_size=3, stride=2, padding="same", dilation=1),
    dict(kernel_size=2, stride=1, padding="same", dilation=1),       # even kernel: asymmetric pad
    dict(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=1),
    dict(kernel_size=3, stride=1, padding="same", dilation=2),
    dict(kernel_size=2, stride=2, padding=(1, 0), dilation=2),
    dict(kernel_size=4, stride=3, padding="valid", dilation=1),
    dict(kernel_size=1, stride=1, padding="valid", dilation=1),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "-".join(map(str, c.values())))
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("size", [(7, 7), (8, 6)])
def test_conv2d_gradients(case, use_bias, size):
    check_layer(Conv2D(out_channels=3, use_bias=use_bias, **case), (2,) + size)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("size,stride,padding,shape", [
    (2, None, "valid", (2, 6, 6)),
    (2, None, "valid", (2, 7, 5)),      # odd sizes drop the last row/column
    (3, 2, "valid", (1, 7, 7)),         # overlapping windows
    (3, 1, "same", (2, 5, 6)),
    (2, 2, "same", (1, 5, 5)),
    ((2, 3), (1, 2), 1, (2, 5, 7)),
])
def test_pool_gradients(cls, size, stride, padding, shape):
    # Distinct values so that the max is unique and the function is differentiable.
    rng = np.random.default_rng(1)
    x = rng.permutation(2 * np.prod(shape)).reshape((2,) + shape) * 0.01
    check_layer(cls(size, stride, padding), shape, x=x.astype(np.float64))


def test_maxpool_routes_gradient_to_first_argmax_on_ties():
    layer = MaxPool2D(2)
    layer.build((1, 2, 2))
    layer.forward(np.ones((1, 1, 2, 2)))
    dx = layer.backward(np.full((1, 1, 1, 1), 5.0))
    np.testing.assert_array_equal(dx[0, 0], [[5.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("layer", [ReLU(), LeakyReLU(0.1), Sigmoid(), Tanh(), Softplus(), Softmax()],
                         ids=lambda l: l.kind)
def test_activation_gradients(layer):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 7))
    x[np.abs(x) < 0.01] = 0.5  # keep away from the kink of ReLU-like functions
    check_layer(layer, (7,), x=x)


def test_dense_and_flatten_gradients():
    check_layer(Dense(out_features=4), (6,), batch=3)
    check_layer(Dense(out_features=3, use_bias=False), (5,), batch=2)
    check_layer(Flatten(), (2, 3, 2))


def test_dropout_gradient_uses_the_same_mask_and_is_identity_at_inference():
    layer = Dropout(0.4, seed=5)
    layer.build((10,))
    x = np.random.default_rng(0).standard_normal((4, 10))
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.6)
    np.testing.assert_allclose(dx, kept / 0.6)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy(), MeanSquaredError()], ids=lambda l: l.name)
@pytest.mark.parametrize("soft_targets", [False, True])
def test_loss_gradients(loss, soft_targets):
    rng = np.random.default_rng(4)
    z = rng.standard_normal((5, 4)) * 3
    t = rng.dirichlet(np.ones(4), size=5) if soft_targets else rng.integers(0, 4, 5)
    _, grad = loss(z, t)
    np.testing.assert_allclose(grad, numerical_gradient(lambda: loss(z, t)[0], z), rtol=1e-5,
                               atol=1e-8)


def test_cross_entropy_is_stable_for_huge_logits():
    value, grad = SoftmaxCrossEntropy()(np.array([[1000.0, -1000.0, 0.0]]), np.array([1]))
    assert np.isfinite(value) and value == pytest.approx(2000.0)
    assert np.isfinite(grad).all()
