"""The image pipeline against Pillow doing the same steps on its own, and the digits pipeline."""

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import (PipelineError, fit_geometry, image_to_input, load_image,
                         preprocess_digit_info)
from cnnviz.nn import InputContract, default_contract

CLASSES = tuple("abcdefghij")


def rgb_contract(**changes):
    settings = dict(shape=(3, 32, 32), classes=CLASSES, pipeline="image", fit="crop",
                    mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    settings.update(changes)
    return InputContract(**settings)


def smooth_image(h, w, seed, colour=True):
    """A smooth random picture (values 0-255 as uint8), so that every resize filter is sensible."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = []
    for _ in range(3 if colour else 1):
        a, b, c, d = rng.uniform(1, 6, 4)
        planes.append(0.5 + 0.25 * np.sin(a * xx + b * yy) + 0.25 * np.cos(c * xx * d - yy))
    out = np.stack(planes, axis=-1) if colour else planes[0]
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def expected_geometry(h, w, out_h, out_w, fit):
    """By hand: the scale that covers (crop) or fits (pad) the frame, then the middle."""
    if fit == "crop":
        s = out_h / h if out_h / h > out_w / w else out_w / w
    else:
        s = out_h / h if out_h / h < out_w / w else out_w / w
    nh, nw = int(np.floor(h * s + 0.5)), int(np.floor(w * s + 0.5))
    nh = max(nh, out_h) if fit == "crop" else max(1, min(nh, out_h))
    nw = max(nw, out_w) if fit == "crop" else max(1, min(nw, out_w))
    return nh, nw


def pillow_reference(array, contract):
    """The same steps with Pillow's own operations (resize, crop, paste) and a hand-written
    normalisation loop: the array is opened as a Pillow image of each channel in mode "F"."""
    c, out_h, out_w = contract.shape
    floats = array.astype(np.float32) / 255.0
    if floats.ndim == 2:
        floats = floats[..., None]
    if c == 1 and floats.shape[2] == 3:
        floats = (floats[..., 0] * 0.299 + floats[..., 1] * 0.587 + floats[..., 2] * 0.114)[..., None]
    elif c == 3 and floats.shape[2] == 1:
        floats = np.repeat(floats, 3, axis=2)
    h, w = floats.shape[:2]
    nh, nw = expected_geometry(h, w, out_h, out_w, contract.fit)
    resample = Image.Resampling.BOX if nh <= h and nw <= w else Image.Resampling.BILINEAR
    out = np.zeros((c, out_h, out_w), np.float64)
    for ch in range(c):
        plane = Image.fromarray(np.ascontiguousarray(floats[..., ch]), mode="F")
        plane = plane.resize((nw, nh), resample)
        if contract.fit == "crop":
            left, top = (nw - out_w) // 2, (nh - out_h) // 2
            plane = plane.crop((left, top, left + out_w, top + out_h))
        else:
            frame = Image.new("F", (out_w, out_h), contract.fill)
            frame.paste(plane, ((out_w - nw) // 2, (out_h - nh) // 2))
            plane = frame
        values = np.asarray(plane, dtype=np.float64)
        for y in range(out_h):
            for x in range(out_w):
                v = min(max(values[y, x], 0.0), 1.0)
                out[ch, y, x] = (v - contract.mean[ch]) / contract.std[ch]
    return out


CASES = [
    # (image h, w, colour), contract changes
    ((48, 80, True), dict()),                               # wide photo, crop the sides
    ((90, 40, True), dict()),                               # tall photo, crop top and bottom
    ((20, 25, True), dict()),                               # smaller than the frame: enlarged
    ((32, 32, True), dict()),                               # already the size: no resampling
    ((48, 80, True), dict(fit="pad", fill=0.5)),            # pad above and below
    ((90, 41, True), dict(fit="pad", fill=0.0)),            # pad the sides, odd pixel
    ((50, 60, False), dict()),                              # grey photo into RGB: repeated
    ((50, 60, True), dict(shape=(1, 24, 40), mean=(0.5,), std=(0.5,))),  # RGB into grey, wide
    ((60, 50, True), dict(shape=(1, 24, 40), fit="pad", mean=(0.5,), std=(0.5,))),
]


@pytest.mark.parametrize("image, changes", CASES)
def test_the_image_pipeline_matches_pillow(tmp_path, image, changes):
    h, w, colour = image
    array = smooth_image(h, w, seed=h * w, colour=colour)
    path = tmp_path / "photo.png"
    Image.fromarray(array).save(path)
    contract = rgb_contract(**changes)
    result = image_to_input(load_image(path), contract)
    assert result.x.dtype == np.float32 and result.x.shape == contract.shape
    assert not result.blank and result.digit is None
    np.testing.assert_allclose(result.x, pillow_reference(array, contract), atol=2e-5)


def test_the_image_pipeline_agrees_with_pillows_rgb_resize_too(tmp_path):
    """An independent route: Pillow resizing the 8-bit RGB image itself (rounding to 1/255)."""
    array = smooth_image(120, 200, seed=5)
    contract = rgb_contract(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    ours = image_to_input(array.astype(np.float32) / 255, contract).x
    # covers 32x32: 120x200 -> 32x53, then the middle 32 columns (10 .. 42)
    theirs = Image.fromarray(array).resize((53, 32), Image.Resampling.BOX).crop((10, 0, 42, 32))
    theirs = np.asarray(theirs, np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(ours, theirs, atol=1.01 / 255)


@pytest.mark.parametrize("h, w, out_h, out_w", [(48, 80, 32, 32), (90, 41, 32, 32), (3, 1000, 32, 32),
                                                (1000, 3, 24, 40), (7, 7, 32, 32), (32, 32, 32, 32)])
@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_geometry_covers_or_fits_the_frame(h, w, out_h, out_w, fit):
    nh, nw, top, left = fit_geometry(h, w, out_h, out_w, fit)
    assert (nh, nw) == expected_geometry(h, w, out_h, out_w, fit)
    if fit == "crop":  # covers, and the frame is the middle
        assert nh >= out_h and nw >= out_w
        assert top == (nh - out_h) // 2 and left == (nw - out_w) // 2
    else:  # fits, and sits in the middle
        assert 1 <= nh <= out_h and 1 <= nw <= out_w
        assert top == (out_h - nh) // 2 and left == (out_w - nw) // 2
    assert nh == out_h or nw == out_w  # one side is exactly the frame's


def test_the_digits_pipeline_is_the_canvas_preprocessing(tmp_path):
    """A digit network's contract gives exactly what the canvas and `predict` always gave."""
    ink = np.zeros((60, 40), np.uint8) + 230
    ink[10:50, 18:24] = 20  # a dark "1" on light paper
    path = tmp_path / "one.png"
    Image.fromarray(ink).save(path)
    loaded = load_image(path)
    result = image_to_input(loaded, default_contract((1, 28, 28), (10,)))
    expected, info = preprocess_digit_info(loaded.pixels)
    np.testing.assert_array_equal(result.x, expected[None])
    assert result.x.shape == (1, 28, 28) and not result.blank and result.digit == info


def test_the_digits_pipeline_scales_to_the_contracts_side_and_normalises():
    ink = np.zeros((60, 60), np.float32)
    ink[10:50, 25:32] = 1.0
    contract = InputContract((1, 56, 56), tuple("0123456789"), "digits", mean=(0.1,), std=(0.3,))
    result = image_to_input(ink, contract)
    plain, info = preprocess_digit_info(ink, size=56, box=40)
    np.testing.assert_allclose(result.x[0], (plain - 0.1) / 0.3, rtol=1e-6)
    assert max(info.resized_shape) == 40


def test_a_blank_digit_image_says_so():
    result = image_to_input(np.ones((30, 30), np.float32), default_contract((1, 28, 28), (10,)))
    assert result.blank and not result.x.any()


def test_a_contract_without_an_image_pipeline_is_a_clear_error():
    with pytest.raises(PipelineError, match="takes 2x8x8 inputs, which are not made from images"):
        image_to_input(np.zeros((8, 8), np.float32), InputContract((2, 8, 8), ("a",), "none"))


def test_odd_pixels_stay_finite_and_in_range():
    pixels = np.full((10, 10, 3), np.nan, np.float32)
    pixels[0, 0] = np.inf
    x = image_to_input(pixels, rgb_contract(mean=(0, 0, 0), std=(1, 1, 1))).x
    assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
