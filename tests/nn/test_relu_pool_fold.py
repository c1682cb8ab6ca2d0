"""A ReLU followed by max pooling, or by a convolution computed through Winograd, runs as one
step in training (MaxPool2D/Conv2D.forward_after_relu): the pooling first and the ReLU on its 4
times smaller output; the ReLU applied as the convolution copies its input.  The backward pass
then needs no full-size ReLU pass either.  It must give the same numbers as the two layers one
after the other."""

import numpy as np
import pytest

from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, SoftmaxCrossEntropy


def networks():
    return {
        "tiled": lambda: Sequential([Conv2D(out_channels=4, kernel_size=3, padding="same"), ReLU(),
                                     MaxPool2D(2), Flatten(), Dense(out_features=5)],
                                    input_shape=(2, 8, 8), seed=0),
        "overlapping, odd size": lambda: Sequential(
            [Conv2D(out_channels=3, kernel_size=2), ReLU(), MaxPool2D(3, stride=2), ReLU(),
             MaxPool2D(2, stride=1), Flatten(), Dense(out_features=4)],
            input_shape=(1, 10, 10), seed=1),
        "relu first": lambda: Sequential([ReLU(), MaxPool2D(2), Flatten(), Dense(out_features=3)],
                                         input_shape=(2, 6, 6), seed=2),
        "into Winograd convolutions": lambda: Sequential(
            [Conv2D(out_channels=16, kernel_size=3, padding="same"), ReLU(),
             Conv2D(out_channels=16, kernel_size=3, padding="same"), ReLU(),
             Conv2D(out_channels=5, kernel_size=3), ReLU(), MaxPool2D(2), Flatten(),
             Dense(out_features=4)], input_shape=(2, 7, 7), seed=3),
    }


def folded_pairs(model):
    """Indices of the layers that took the ReLU before them along in the last forward pass."""
    return [i for i, layer in enumerate(model.layers)
            if getattr(layer, "_after_relu", None) is not None]


def lumpy(shape, seed):
    """Values from a handful, so that windows tie and many are all zero or negative."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, -0.5, 0.0, 0.0, 0.5, 1.0], np.float32), size=shape)


def layer_by_layer(model, x, y, upto=0):
    """Forward and backward one layer at a time (no folding): logits, input gradient, grads."""
    h = x
    for layer in model.layers:
        h = layer.forward(h, True)
    loss, d = SoftmaxCrossEntropy()(h, y)
    for layer in reversed(model.layers[upto:]):
        d = layer.backward(d)
    return h, d, {k: v.copy() for k, v in model.named_grads().items()}


@pytest.mark.parametrize("name", list(networks()))
@pytest.mark.parametrize("upto", [0, "pool"])
def test_folded_relu_and_pooling_give_the_numbers_of_the_two_layers(name, upto):
    model, reference = networks()[name](), networks()[name]()
    n = 16  # Winograd from 16 images
    x = lumpy((n, *model.input_shape), 3)
    y = np.arange(n) % model.output_shape[0]
    # upto "pool": the backward pass stops at the first pooling's input (the ReLU's output).
    start = 0 if upto == 0 else next(i for i, l in enumerate(model.layers) if l.kind == "MaxPool2D")
    logits = model.forward(x, training=True)
    expected = [i for i, l in enumerate(model.layers) if i and model.layers[i - 1].kind == "ReLU"
                and (l.kind == "MaxPool2D" or (l.kind == "Conv2D" and l.in_channels >= 16))]
    assert expected and folded_pairs(model) == expected
    _, d = SoftmaxCrossEntropy()(logits, y)
    dx = model.backward(d, upto=start)
    ref_logits, ref_dx, ref_grads = layer_by_layer(reference, x, y, start)
    np.testing.assert_array_equal(logits, ref_logits)
    np.testing.assert_array_equal(dx, ref_dx)
    for key, value in model.named_grads().items():
        np.testing.assert_array_equal(value, ref_grads[key], err_msg=key)


def test_a_folded_pair_still_answers_layer_by_layer():
    """After a folded training pass, each layer's own backward (as the analysis tools call
    them) still gives its own gradient."""
    model = networks()["into Winograd convolutions"]()
    reference = networks()["into Winograd convolutions"]()
    x = lumpy((16, 2, 7, 7), 5)
    model.forward(x, training=True)
    assert folded_pairs(model) == [2, 4, 6]
    h = x
    for layer in reference.layers:
        h = layer.forward(h, True)
    d = np.random.default_rng(0).standard_normal(h.shape).astype(np.float32)
    ours, theirs = d, d
    for mine, ref in zip(reversed(model.layers), reversed(reference.layers)):
        ours, theirs = mine.backward(ours), ref.backward(theirs)
        np.testing.assert_array_equal(ours, theirs, err_msg=mine.kind)


def test_padded_pooling_and_inference_are_not_folded():
    model = Sequential([ReLU(), MaxPool2D(2, padding="same"), Flatten(), Dense(out_features=2)],
                       input_shape=(1, 5, 5), seed=0)
    model.forward(lumpy((2, 1, 5, 5), 1), training=True)
    assert model.layers[1]._after_relu is None
    tiled = networks()["tiled"]()
    tiled.forward(lumpy((2, 2, 8, 8), 1))                      # inference: layer by layer
    assert folded_pairs(tiled) == []
    convs = networks()["into Winograd convolutions"]()
    convs.forward(lumpy((8, 2, 7, 7), 1), training=True)      # 8 images: im2col, not folded
    assert folded_pairs(convs) == [6]


def naive_routed(dy, x, kernel, stride, positive_only):
    """Max pooling's input gradient by a loop over windows (C, H, W, N layout, no padding): each
    window's first arg-max in row-major order receives its gradient; with ``positive_only``,
    only windows whose maximum is above zero (a ReLU before the pooling)."""
    dx = np.zeros(x.shape, dtype=dy.dtype)
    c, ho, wo, n = dy.shape
    for ch in range(c):
        for a in range(ho):
            for b in range(wo):
                for k in range(n):
                    window = x[ch, a * stride[0]:a * stride[0] + kernel[0],
                               b * stride[1]:b * stride[1] + kernel[1], k]
                    if positive_only and window.max() <= 0:
                        continue
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    dx[ch, a * stride[0] + i, b * stride[1] + j, k] += dy[ch, a, b, k]
    return dx


@pytest.mark.parametrize("kernel,stride,size", [((2, 2), (2, 2), (6, 8)), ((3, 3), (2, 2), (7, 7)),
                                                ((2, 2), (1, 1), (5, 4)), ((1, 1), (1, 1), (3, 3))])
def test_pooling_gradient_for_positive_windows_only(kernel, stride, size):
    """ops.maxpool_backward(..., positive_only=True), the folded pair's backward pass, routes
    like a loop over windows that skips the windows the ReLU set to zero, and gives the numbers
    the unfolded code gave (``dy * (y > 0)`` routed), signs of zero included."""
    from cnnviz.nn import ops

    x = lumpy((3, *size, 5), 7)  # ties, zero and negative windows
    out_hw = tuple((s - k) // st + 1 for s, k, st in zip(size, kernel, stride))
    y, xp = ops.maxpool_forward(x, kernel, stride, (0, 0, 0, 0), out_hw)
    dy = np.random.default_rng(8).standard_normal(y.shape).astype(np.float32)
    np.maximum(y, 0, out=y)  # as MaxPool2D.forward_after_relu leaves it
    ours = ops.maxpool_backward(dy, y, xp, kernel, stride, (0, 0, 0, 0), positive_only=True)
    # (overlapping windows add into a pixel in another order than the loop: float32 rounding)
    np.testing.assert_allclose(ours, naive_routed(dy, x, kernel, stride, True), rtol=0, atol=1e-6)
    before = ops.maxpool_backward(dy * (y > 0), y, xp, kernel, stride, (0, 0, 0, 0))
    np.testing.assert_array_equal(ours, before)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(before))
