"""Display helpers: scaling, bilinear resampling (a naive loop, a linear ramp, PyTorch), blur, tiling."""

import numpy as np
import pytest

from cnnviz.analysis import grid, normalize, resize_bilinear, to_uint8
from cnnviz.analysis.display import gaussian_blur, interpolation_matrix, place_bilinear


def test_normalize_unsigned_signed_and_constant():
    np.testing.assert_allclose(normalize(np.array([2.0, 4.0, 6.0])), [0, 0.5, 1])
    np.testing.assert_allclose(normalize(np.array([-2.0, 1.0, 4.0]), signed=True), [-0.5, 0.25, 1])
    np.testing.assert_array_equal(normalize(np.full((3, 3), 7.0)), np.zeros((3, 3)))
    values = np.arange(101, dtype=float)
    assert normalize(values, percentile=50)[60] == 1.0
    assert normalize(values).dtype == np.float32


@pytest.mark.parametrize("src,dst", [((5, 5), (28, 28)), ((10, 10), (28, 28)), ((7, 3), (20, 11)),
                                     ((4, 6), (2, 3))])
def test_resize_matches_pytorch_bilinear(torch, src, dst):
    values = np.random.default_rng(0).random(src)
    expected = torch.nn.functional.interpolate(torch.tensor(values)[None, None], size=dst,
                                               mode="bilinear", align_corners=False)[0, 0]
    np.testing.assert_allclose(resize_bilinear(values, dst), expected.numpy(), atol=1e-6)


def source_coordinate(i, n_in, n_out):
    """Input coordinate of output pixel ``i`` (pixel centres aligned), clamped to the samples."""
    return min(max((i + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1.0)


def naive_bilinear(values, shape):
    """Bilinear resampling by the definition, one output pixel at a time."""
    h, w = values.shape
    out = np.zeros(shape)
    for i in range(shape[0]):
        y = source_coordinate(i, h, shape[0])
        y0 = int(np.floor(y))
        y1, fy = min(y0 + 1, h - 1), y - y0
        for j in range(shape[1]):
            x = source_coordinate(j, w, shape[1])
            x0 = int(np.floor(x))
            x1, fx = min(x0 + 1, w - 1), x - x0
            out[i, j] = ((1 - fy) * ((1 - fx) * values[y0, x0] + fx * values[y0, x1])
                         + fy * ((1 - fx) * values[y1, x0] + fx * values[y1, x1]))
    return out


@pytest.mark.parametrize("src,dst", [((5, 5), (28, 28)), ((10, 10), (28, 28)), ((7, 3), (20, 11)),
                                     ((4, 6), (2, 3)), ((3, 8), (9, 5)), ((1, 4), (3, 8))])
def test_resize_matches_a_naive_bilinear_loop(src, dst):
    values = np.random.default_rng(1).random(src)
    np.testing.assert_allclose(resize_bilinear(values, dst), naive_bilinear(values, dst),
                               rtol=1e-6, atol=1e-6)


def test_resize_of_a_linear_ramp_is_the_ramp_at_each_pixels_source():
    """Bilinear interpolation reproduces a linear function exactly (inside the clamped border)."""
    rows, cols = np.meshgrid(np.arange(4.0), np.arange(6.0), indexing="ij")
    ramp = 2.0 * rows - 0.5 * cols + 1.0
    out = resize_bilinear(ramp, (10, 9))
    for i in range(10):
        for j in range(9):
            expected = (2.0 * source_coordinate(i, 4, 10) - 0.5 * source_coordinate(j, 6, 9)
                        + 1.0)
            assert out[i, j] == pytest.approx(expected, abs=1e-5)
    assert out[0, 0] == pytest.approx(1.0, abs=1e-6)           # clamped to the first sample
    assert out[4, 4] == pytest.approx(2 * 1.3 - 0.5 * (4.5 * 6 / 9 - 0.5) + 1, abs=1e-5)


def test_placing_samples_keeps_them_and_clamps_the_borders():
    values = np.array([[1.0, 3.0], [5.0, 7.0]])
    out = place_bilinear(values, [1, 3], [0, 2], (5, 4))
    np.testing.assert_allclose(out[1, [0, 2]], [1, 3])
    np.testing.assert_allclose(out[2, 1], (1 + 3 + 5 + 7) / 4)
    np.testing.assert_allclose(out[0], out[1])
    np.testing.assert_allclose(out[:, 3], out[:, 2])
    np.testing.assert_allclose(interpolation_matrix([0.5], 3), np.ones((3, 1)))


def test_gaussian_blur_matches_a_direct_convolution():
    image = np.random.default_rng(1).random((2, 1, 9, 8))
    sigma = 0.8
    radius = 3
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps[:, None] ** 2 + taps[None, :] ** 2) / sigma ** 2)
    kernel /= kernel.sum()
    padded = np.pad(image, ((0, 0), (0, 0), (radius, radius), (radius, radius)), mode="reflect")
    expected = np.zeros_like(image)
    for i in range(9):
        for j in range(8):
            window = padded[:, :, i:i + 2 * radius + 1, j:j + 2 * radius + 1]
            expected[:, :, i, j] = (window * kernel).sum(axis=(2, 3))
    np.testing.assert_allclose(gaussian_blur(image, sigma), expected, rtol=1e-12)
    np.testing.assert_array_equal(gaussian_blur(image, 0), image)
    assert gaussian_blur(image.astype(np.float32), 0.5).dtype == np.float32


def test_grid_tiles_row_by_row():
    images = np.arange(5 * 2 * 2, dtype=float).reshape(5, 1, 2, 2)
    out = grid(images, columns=3, pad=1, background=-1)
    assert out.shape == (5, 8)
    np.testing.assert_array_equal(out[3:5, 3:5], images[4, 0])
    assert out[2, 0] == -1 and np.all(out[3:, 6:] == -1)
    colour = grid(np.zeros((2, 3, 4, 4)), pad=0)
    assert colour.shape == (4, 8, 3)
    np.testing.assert_array_equal(to_uint8(np.array([-1.0, 0.5, 2.0])), [0, 128, 255])
