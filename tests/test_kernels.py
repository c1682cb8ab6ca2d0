"""Kernel presets equal the textbook kernels; operations are exact and leave their input alone."""

import numpy as np
import pytest

from cnnviz import kernels
from cnnviz.nn import build_preset
from cnnviz.nn.initializers import initialize

TEXTBOOK = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "prewitt_x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "prewitt_y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "gaussian": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    "box": np.ones((3, 3)) / 9,
    "zero": np.zeros((3, 3)),
}


@pytest.mark.parametrize("name", list(kernels.PRESETS))
def test_3x3_presets_are_the_textbook_kernels(name):
    kernel = kernels.preset(name, 3)
    assert kernel.dtype == np.float32 and kernel.shape == (3, 3)
    np.testing.assert_array_equal(kernel, np.asarray(TEXTBOOK[name], dtype=np.float32))


def test_5x5_derivative_kernels_embed_the_3x3_at_the_centre():
    sobel = kernels.preset("sobel_x", 5)
    np.testing.assert_array_equal(sobel[1:4, 1:4], TEXTBOOK["sobel_x"])
    assert np.count_nonzero(sobel) == np.count_nonzero(TEXTBOOK["sobel_x"])
    assert kernels.preset("identity", (5, 5))[2, 2] == 1
    np.testing.assert_array_equal(kernels.preset("laplacian", (4, 4))[:3, :3], TEXTBOOK["laplacian"])


def test_blurs_scale_with_the_size():
    gauss = kernels.preset("gaussian", 5)
    np.testing.assert_allclose(gauss, np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256)
    np.testing.assert_allclose(kernels.preset("box", (2, 4)), np.full((2, 4), 1 / 8))
    assert kernels.preset("gaussian", (3, 5)).sum() == pytest.approx(1.0)


def test_bad_presets_are_refused():
    with pytest.raises(ValueError, match="unknown"):
        kernels.preset("blur-ish", 3)
    with pytest.raises(ValueError, match="at least 3x3"):
        kernels.preset("sobel_x", 2)


def test_operations():
    sobel = kernels.preset("sobel_x")
    before = sobel.copy()
    np.testing.assert_array_equal(kernels.negate(sobel), -before)
    np.testing.assert_array_equal(kernels.scale(sobel, 0.5), before / 2)
    np.testing.assert_array_equal(kernels.transpose(sobel), kernels.preset("sobel_y"))
    np.testing.assert_array_equal(kernels.rotate90(sobel), -kernels.preset("sobel_y"))
    np.testing.assert_array_equal(
        kernels.rotate90(kernels.rotate90(kernels.rotate90(kernels.rotate90(sobel)))), sobel)
    np.testing.assert_allclose(kernels.normalise(sobel), before / 8)
    np.testing.assert_allclose(kernels.normalise(np.ones((3, 3)) * 4), np.ones((3, 3)) / 9)
    np.testing.assert_array_equal(kernels.normalise(np.zeros((3, 3))), np.zeros((3, 3)))
    np.testing.assert_array_equal(sobel, before)  # inputs unchanged
    with pytest.raises(ValueError, match="square"):
        kernels.transpose(np.zeros((3, 5)))


def test_random_filter_draws_as_the_layers_initialiser():
    model = build_preset("lenet5", seed=0)
    layer = model.layers[3]
    shape = layer.params["weight"].shape
    drawn = kernels.random_filter(layer.weight_init, shape, np.random.default_rng(5))
    expected = initialize(layer.weight_init, shape, np.random.default_rng(5))[0]
    np.testing.assert_array_equal(drawn, expected)
    assert drawn.shape == shape[1:] and drawn.dtype == np.float32
    limit = np.sqrt(6 / (6 * 25 + 16 * 25))  # glorot: the layer's fans, not one filter's
    assert np.abs(drawn).max() <= limit and np.abs(drawn).max() > limit / 2
