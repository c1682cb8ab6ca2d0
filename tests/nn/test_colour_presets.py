"""The colour presets: their architecture, their gradients (finite differences, no PyTorch) and
their forward and backward passes against PyTorch."""

import numpy as np
import pytest

from cnnviz.nn import PRESETS, SoftmaxCrossEntropy, build_preset
from cnnviz.nn.gradcheck import numerical_gradient

from test_torch_oracle import assert_step_matches_pytorch


def layer_list(model):
    return [(layer.kind, layer.config()) for layer in model.layers]


def test_the_tutorial_example_is_the_cs231n_network():
    """[32x32x3] -> conv 12 3x3 'same' -> ReLU -> max pool 2 -> [16x16x12] -> dense 10."""
    model = build_preset("cifar-tutorial", seed=0)
    assert model.input_shape == (3, 32, 32)
    assert [layer.kind for layer in model.layers] == ["Conv2D", "ReLU", "MaxPool2D", "Flatten",
                                                      "Dense"]
    assert model.layers[0].params["weight"].shape == (12, 3, 3, 3)  # 3x3x3 kernels
    assert model.layers[2].output_shape == (12, 16, 16)
    assert model.output_shape == (10,)
    assert model.param_count() == 12 * 27 + 12 + 16 * 16 * 12 * 10 + 10


def test_the_vgg_style_network():
    model = build_preset("vgg-small", seed=0)
    convs = [layer for layer in model.layers if layer.kind == "Conv2D"]
    assert [c.params["weight"].shape for c in convs] == [(32, 3, 3, 3), (32, 32, 3, 3),
                                                         (64, 32, 3, 3), (64, 64, 3, 3)]
    kinds = [layer.kind for layer in model.layers]
    assert kinds == ["Conv2D", "ReLU", "Conv2D", "ReLU", "MaxPool2D",
                     "Conv2D", "ReLU", "Conv2D", "ReLU", "MaxPool2D",
                     "Flatten", "Dense", "ReLU", "Dense"]
    assert model.layers[9].output_shape == (64, 8, 8) and model.output_shape == (10,)
    # a trained copy must fit the 4 MB a shipped network may take
    assert model.param_count() * 4 < 4_000_000


def test_every_preset_builds_from_the_list_with_its_own_input():
    """The layer editor and the commands list the presets from PRESETS: each one builds."""
    assert {"cifar-tutorial", "vgg-small"} <= set(PRESETS)
    for name in PRESETS:
        model = build_preset(name, seed=0)
        assert model.name == name and model.output_shape == (10,)
        assert model.input_shape == ((3, 32, 32) if name in ("cifar-tutorial", "vgg-small")
                                     else (1, 28, 28))


def sampled_gradient_check(model, x, labels, samples=12, seed=0):
    """Backpropagated gradients of the loss against central differences, in float64, for the
    input and a random sample of every parameter's entries."""
    loss_fn = SoftmaxCrossEntropy()

    def loss():
        return loss_fn(model.forward(x), labels)[0]

    _, d = loss_fn(model.forward(x, training=True), labels)
    model.layers[0].need_input_grad = True
    dx = model.backward(d)
    grads = {k: v.copy() for k, v in model.named_grads().items()}
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-5, atol=1e-9)
    rng = np.random.default_rng(seed)
    for name, p in model.named_params().items():
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, min(samples, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            plus = loss()
            flat[i] = old - 1e-6
            minus = loss()
            flat[i] = old
            assert grads[name].reshape(-1)[i] == pytest.approx((plus - minus) / 2e-6,
                                                               rel=1e-5, abs=1e-9), (name, i)


@pytest.mark.parametrize("name", ["cifar-tutorial", "vgg-small"])
def test_colour_gradients_match_finite_differences(name):
    """Small colour inputs (3x8x8) through the presets' architectures, in float64."""
    model = PRESETS[name](seed=1, input_shape=(3, 8, 8)).astype(np.float64)
    rng = np.random.default_rng(2)
    x = rng.random((2, 3, 8, 8))
    sampled_gradient_check(model, x, rng.integers(0, 10, 2))


def test_each_kernel_slice_meets_its_own_colour_plane():
    """Raising only the green plane changes the output exactly as the green slices say."""
    model = build_preset("cifar-tutorial", seed=3).astype(np.float64)
    x = np.zeros((1, 3, 32, 32))
    x[0, 1, 10, 10] = 1.0  # one green pixel
    conv = model.trace(x)[1][0]  # the convolution's output
    w, b = model.layers[0].params["weight"], model.layers[0].params["bias"]
    # output (f, y, x) reads input pixel (y + dy - 1, x + dx - 1): here (10, 10)
    for dy in range(3):
        for dx in range(3):
            np.testing.assert_allclose(conv[:, 11 - dy, 11 - dx], w[:, 1, dy, dx] + b)
    assert np.allclose(conv[:, 0, 0], b)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["vgg-small", "cifar-tutorial"])
def test_colour_forward_and_backward_match_pytorch(torch, name):
    model = build_preset(name, seed=5)
    rng = np.random.default_rng(6)
    x = rng.random((6, 3, 32, 32), dtype=np.float32)
    labels = rng.integers(0, 10, 6)

    assert_step_matches_pytorch(torch, model, x, labels)
