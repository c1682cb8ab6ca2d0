"""Saliency against the engine's input gradient, finite differences and hand-made references."""

import numpy as np
import pytest

from cnnviz.analysis import (Cancelled, Target, gradient_x_input, saliency_map, smooth_grad,
                             vanilla_gradient)
from cnnviz.nn.gradcheck import numerical_gradient

TARGETS = {"class": (Target.for_class(4), dict(layer=-1, index=(4,))),
           "unit": (Target.unit(3, (2, 4, 5)), dict(layer=3, index=(2, 4, 5))),
           "channel": (Target.feature_map(4, 7), dict(layer=4, channel=7)),
           "dense unit": (Target.unit(8, (17,)), dict(layer=8, index=(17,)))}


@pytest.mark.parametrize("name", TARGETS)
def test_vanilla_gradient_equals_the_engine_input_gradient(lenet, digits, name):
    target, engine = TARGETS[name]
    expected = lenet.input_gradient(digits[:1], **engine)[0]
    got = vanilla_gradient(lenet, digits[0], target)
    assert got.shape == (1, 28, 28) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_an_int_target_is_a_class_logit(lenet, digits):
    np.testing.assert_array_equal(vanilla_gradient(lenet, digits[1], 6),
                                  vanilla_gradient(lenet, digits[1], Target.for_class(6)))


def test_vanilla_gradient_matches_finite_differences(small_net):
    x = np.random.default_rng(0).random((1, 6, 6))
    grad = vanilla_gradient(small_net, x, 1)
    numeric = numerical_gradient(lambda: small_net.forward(x[None])[0, 1], x)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_batches_give_the_same_maps_as_single_images(lenet, digits):
    batch = vanilla_gradient(lenet, digits, 2)
    assert batch.shape == digits.shape
    for i in range(len(digits)):
        np.testing.assert_allclose(batch[i], vanilla_gradient(lenet, digits[i], 2), atol=1e-7)


def test_gradient_times_input(lenet, digits):
    expected = vanilla_gradient(lenet, digits[0], 5) * digits[0]
    np.testing.assert_allclose(gradient_x_input(lenet, digits[0], 5), expected, rtol=1e-6)
    np.testing.assert_allclose(gradient_x_input(lenet, digits, 5)[3],
                               vanilla_gradient(lenet, digits[3], 5) * digits[3], rtol=1e-5,
                               atol=1e-9)


def test_smooth_grad_without_noise_is_the_vanilla_gradient(lenet, digits):
    np.testing.assert_allclose(smooth_grad(lenet, digits[0], 3, n=7, noise=0.0),
                               vanilla_gradient(lenet, digits[0], 3), rtol=1e-5, atol=1e-8)


def test_smooth_grad_is_the_mean_gradient_over_seeded_noise(lenet, digits):
    x, n, noise = digits[2], 9, 0.2
    rng = np.random.default_rng(5)
    noisy = x[None] + (noise * rng.standard_normal((n,) + x.shape)).astype(np.float32)
    expected = lenet.input_gradient(noisy, layer=-1, index=(8,)).mean(axis=0)
    got = smooth_grad(lenet, x, 8, n=n, noise=noise, seed=5, batch_size=4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert got.dtype == np.float32


def test_smooth_grad_is_deterministic_for_a_seed(lenet, digits):
    a = smooth_grad(lenet, digits[0], 1, n=5, seed=11)
    np.testing.assert_array_equal(a, smooth_grad(lenet, digits[0], 1, n=5, seed=11))
    assert not np.allclose(a, smooth_grad(lenet, digits[0], 1, n=5, seed=12))
    batch = smooth_grad(lenet, digits[:2], 1, n=5, seed=11)
    assert batch.shape == (2, 1, 28, 28)


def test_smooth_grad_reports_progress_and_can_be_cancelled(lenet, digits):
    calls = []
    smooth_grad(lenet, digits[0], 1, n=10, batch_size=4, progress=lambda *a: calls.append(a))
    assert calls == [(4, 10), (8, 10), (10, 10)]
    seen = []
    with pytest.raises(Cancelled):
        smooth_grad(lenet, digits[0], 1, n=10, batch_size=4,
                    progress=lambda d, t: seen.append(d) or False)
    assert seen == [4]
    with pytest.raises(ValueError):
        smooth_grad(lenet, digits[0], 1, n=0)


def test_saliency_map_reductions():
    attr = np.array([[[1.0, -3.0]], [[-2.0, 1.0]]])      # (C=2, H=1, W=2)
    np.testing.assert_array_equal(saliency_map(attr), [[2.0, 3.0]])
    np.testing.assert_array_equal(saliency_map(attr, "sum_abs"), [[3.0, 4.0]])
    np.testing.assert_array_equal(saliency_map(attr, "sum"), [[-1.0, -2.0]])
    assert saliency_map(np.stack([attr, attr])).shape == (2, 1, 2)
    with pytest.raises(ValueError):
        saliency_map(attr, "mean")
