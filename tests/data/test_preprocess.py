"""Tests of the MNIST-style digit preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnviz.data import (
    center_of_mass,
    ink_is_dark,
    is_blank,
    preprocess_digit,
    preprocess_digit_info,
    preprocess_photo,
)


def drawn_seven(canvas=280, origin=(20, 15), height=160, width=18) -> np.ndarray:
    """A thick white '7' on black, off-centre, float32 (canvas, canvas)."""
    x0, y0 = origin
    im = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(im)
    draw.line([(x0, y0), (x0 + height * 0.6, y0), (x0 + height * 0.2, y0 + height)],
              fill=255, width=width, joint="curve")
    return np.asarray(im, dtype=np.float32) / 255.0


def ink_extent(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(image.max(axis=1) > 0)
    cols = np.flatnonzero(image.max(axis=0) > 0)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_off_centre_digit_is_centred_and_fitted():
    raw = drawn_seven()
    out = preprocess_digit(raw)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.max() == pytest.approx(1.0) and out.min() >= 0.0
    cy, cx = center_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    h, w = ink_extent(out)
    assert max(h, w) <= 21 and max(h, w) >= 19  # fitted to 20 (+ an anti-aliased edge)
    # the raw centre of mass was far from the middle
    assert center_of_mass(raw)[1] < 100


def test_info_reports_bbox_scale_and_shift():
    raw = np.zeros((100, 100), np.float32)
    raw[10:60, 30:40] = 1.0
    out, info = preprocess_digit_info(raw)
    assert info.bbox == (10, 30, 60, 40) and not info.inverted and not info.blank
    assert info.scale == pytest.approx(20 / 50)
    assert info.resized_shape == (20, 4)
    # patch centre of mass (9.5, 1.5) -> offset round(14 - 9.5), round(14 - 1.5), halves up
    assert info.offset == (5, 13)
    np.testing.assert_allclose(out[5:25, 13:17], 1.0)
    assert out.sum() == pytest.approx(80.0)
    assert info.center_of_mass == pytest.approx((14.5, 14.5))


def test_dark_on_light_equals_light_on_dark():
    light_on_dark = drawn_seven(origin=(90, 60), height=120, width=12)
    dark_on_light = 1.0 - light_on_dark
    assert ink_is_dark(dark_on_light) and not ink_is_dark(light_on_dark)
    a, info_a = preprocess_digit_info(light_on_dark)
    b, info_b = preprocess_digit_info(dark_on_light)
    assert info_b.inverted and not info_a.inverted
    np.testing.assert_allclose(a, b, atol=1e-6)
    # forcing the wrong polarity gives something else (the paper becomes the ink)
    forced = preprocess_digit(light_on_dark, invert=True)
    assert is_blank(forced) or np.abs(forced - a).mean() > 0.05


def test_grey_paper_and_uint8_input():
    ink = drawn_seven(origin=(60, 50), height=150, width=14)
    clean = preprocess_digit(ink)
    paper = (0.85 - 0.7 * ink).astype(np.float32)  # dark-grey ink on light-grey paper
    np.testing.assert_allclose(preprocess_digit(paper), clean, atol=1e-5)
    as_uint8 = np.round(ink * 255).astype(np.uint8)
    np.testing.assert_allclose(preprocess_digit(as_uint8), clean, atol=1e-5)


@pytest.mark.mnist
def test_mnist_digits_are_left_almost_unchanged(mnist):
    digits = mnist.test_x[:1000].astype(np.float32) / 255.0
    digits /= digits.max(axis=(1, 2), keepdims=True)
    out = np.stack([preprocess_digit(d) for d in digits])
    per_image = np.abs(out - digits).mean(axis=(1, 2))
    assert per_image.mean() < 0.005
    assert np.quantile(per_image, 0.99) < 0.02


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_blank_images_give_zeros(value):
    blank = np.full((50, 70), value, np.float32)
    out, info = preprocess_digit_info(blank)
    assert info.blank and is_blank(blank)
    np.testing.assert_array_equal(out, np.zeros((28, 28), np.float32))


def test_nearly_blank_noise_is_blank_but_a_digit_is_not():
    rng = np.random.default_rng(0)
    noise = (rng.random((60, 60)) * 0.02).astype(np.float32)
    assert is_blank(noise)
    assert not is_blank(drawn_seven())


@pytest.mark.parametrize(
    "region",
    [
        (slice(20, 260), slice(140, 141)),  # a "1", 1 px wide, 240 px tall
        (slice(140, 141), slice(20, 260)),  # a "-", 1 px tall
        (slice(100, 101), slice(100, 101)),  # a single dot
        (slice(0, 280), slice(0, 3)),  # touching the border
    ],
)
def test_thin_strokes_do_not_crash(region):
    raw = np.zeros((280, 280), np.float32)
    raw[region] = 1.0
    out = preprocess_digit(raw)
    assert np.isfinite(out).all() and out.max() == pytest.approx(1.0)
    cy, cx = center_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert max(ink_extent(out)) <= 20


def test_nan_and_out_of_range_values_are_tolerated():
    raw = drawn_seven()
    raw[0, 0] = np.nan
    raw[5, 5] = 3.0
    out = preprocess_digit(raw)
    assert np.isfinite(out).all() and 0.0 <= out.min() and out.max() <= 1.0


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        preprocess_digit(np.zeros(10))
    with pytest.raises(ValueError):
        preprocess_digit(np.zeros((5, 5)), invert="yes")


def test_colour_input_is_reduced_to_grey():
    grey = drawn_seven(origin=(70, 40))
    rgb = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_allclose(preprocess_digit(rgb), preprocess_digit(grey), atol=1e-5)


def test_preprocess_photo_resizes_without_centring():
    photo = np.zeros((100, 100, 3), np.float32)
    photo[:20, :20] = 1.0  # bright top-left corner stays there
    out = preprocess_photo(photo)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out[:4, :4].min() > 0.9 and out[10:, 10:].max() < 0.05
    assert preprocess_photo(photo, (10, 30)).shape == (10, 30)
    assert 0.0 <= out.min() and out.max() <= 1.0
