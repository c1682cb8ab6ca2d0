"""Per-channel statistics in float64, against closed forms, where float32 accumulation fails."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.data import channel_statistics


@pytest.fixture(scope="module")
def large():
    """20,000 images of 2 x 32 x 32: 20,480,000 values per channel (more than 2**24).

    Channel 0 is 255 everywhere (1.0 once scaled); channel 1 a checkerboard of 100 and 101.
    """
    images = np.empty((20_000, 2, 32, 32), np.uint8)
    images[:, 0] = 255
    board = (np.add.outer(np.arange(32), np.arange(32)) % 2).astype(np.uint8)
    images[:, 1] = 100 + board
    return images


def test_float32_accumulation_saturates_on_this_array(large):
    """The reason for float64: a float32 running sum of 20.48 million 1.0s stops at 2**24."""
    ones = large[:, 0].reshape(-1).astype(np.float32) / np.float32(255)
    running = np.cumsum(ones, dtype=np.float32)[-1]
    assert running == 2.0**24
    assert abs(running / ones.size - 1.0) > 0.15  # the mean a float32 accumulator gives


def test_statistics_match_the_closed_form(large):
    mean, std = channel_statistics(large)
    assert mean.dtype == np.float64 and std.dtype == np.float64 and mean.shape == (2,)
    # Channel 0: constant 1. Channel 1: half 100, half 101 -> mean 100.5, std 0.5 (/255).
    np.testing.assert_allclose(mean, [1.0, 100.5 / 255], rtol=0, atol=1e-12)
    np.testing.assert_allclose(std, [0.0, 0.5 / 255], rtol=0, atol=1e-12)


def test_statistics_match_a_naive_reference_on_random_data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (37, 3, 5, 6), dtype=np.uint8)
    mean, std = channel_statistics(images, chunk=4)  # several chunks, the last one short
    for c in range(3):
        values = [float(v) / 255 for v in images[:, c].reshape(-1)]
        m = sum(values) / len(values)
        s = (sum((v - m) ** 2 for v in values) / len(values)) ** 0.5
        assert mean[c] == pytest.approx(m, abs=1e-13) and std[c] == pytest.approx(s, abs=1e-13)


def test_grey_and_float_images():
    grey = np.full((3, 4, 4), 51, np.uint8)
    mean, std = channel_statistics(grey)
    assert mean.tolist() == [0.2] and std.tolist() == [0.0]
    floats = np.array([[[[0.0, 1.0]]], [[[2.0, 3.0]]]], np.float32)  # (2, 1, 1, 2)
    mean, std = channel_statistics(floats)
    assert mean.tolist() == [1.5] and std[0] == pytest.approx(np.sqrt(1.25))
    with pytest.raises(ValueError):
        channel_statistics(np.zeros((0, 1, 2, 2), np.uint8))
