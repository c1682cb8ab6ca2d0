"""The image pipeline against Pillow doing the same steps on its own, and the digits pipeline."""

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import (PipelineError, crop_box, image_to_input, load_image, pad_geometry,
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


def expected_box(h, w, out_h, out_w):
    """By hand: the middle of the image with the frame's aspect ratio, as large as fits."""
    if w * out_h >= h * out_w:  # the image is wider than the frame: full height
        box_w = h * out_w / out_h
        return ((w - box_w) / 2, 0.0, (w + box_w) / 2, float(h))
    box_h = w * out_h / out_w
    return (0.0, (h - box_h) / 2, float(w), (h + box_h) / 2)


def expected_pad(h, w, out_h, out_w):
    """By hand: the scale that fits the frame, sides rounded half up, the rest split evenly."""
    s = out_h / h if out_h / h < out_w / w else out_w / w
    nh = max(1, min(out_h, int(np.floor(h * s + 0.5))))
    nw = max(1, min(out_w, int(np.floor(w * s + 0.5))))
    return nh, nw


def pillow_reference(array, contract):
    """The same steps with Pillow's own operations (resize of a box, new, paste) and a
    hand-written normalisation loop; each channel is a Pillow image in mode "F"."""
    c, out_h, out_w = contract.shape
    floats = array.astype(np.float32) / 255.0
    if floats.ndim == 2:
        floats = floats[..., None]
    if c == 1 and floats.shape[2] == 3:
        luma = floats[..., 0] * 0.299 + floats[..., 1] * 0.587 + floats[..., 2] * 0.114
        floats = luma[..., None]
    elif c == 3 and floats.shape[2] == 1:
        floats = np.repeat(floats, 3, axis=2)
    h, w = floats.shape[:2]
    out = np.zeros((c, out_h, out_w), np.float64)
    for ch in range(c):
        plane = Image.fromarray(np.ascontiguousarray(floats[..., ch]), mode="F")
        if contract.fit == "crop":
            box = expected_box(h, w, out_h, out_w)
            shrink = box[2] - box[0] >= out_w and box[3] - box[1] >= out_h
            plane = plane.resize((out_w, out_h), Image.Resampling.BOX if shrink
                                 else Image.Resampling.BILINEAR, box=box)
        else:
            nh, nw = expected_pad(h, w, out_h, out_w)
            shrink = nh <= h and nw <= w
            plane = plane.resize((nw, nh), Image.Resampling.BOX if shrink
                                 else Image.Resampling.BILINEAR)
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


def test_the_image_pipeline_agrees_with_pillows_rgb_resize_too():
    """An independent route: Pillow cropping and resizing the 8-bit RGB image itself."""
    array = smooth_image(120, 200, seed=5)
    contract = rgb_contract(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    ours = image_to_input(array.astype(np.float32) / 255, contract).x
    # to cover 32x32 the picture shrinks by 120/32: the middle 120x120 (columns 40..160) is kept
    theirs = Image.fromarray(array).crop((40, 0, 160, 120)).resize((32, 32), Image.Resampling.BOX)
    theirs = np.asarray(theirs, np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(ours, theirs, atol=1.01 / 255)


def test_cropping_is_resizing_the_whole_image_then_cutting_out_the_middle():
    """The textbook definition (resize so that the image covers the frame, then crop), which
    rounds the resized size to whole pixels: the same picture within that rounding."""
    array = smooth_image(90, 150, seed=8)
    contract = rgb_contract(shape=(3, 24, 24), mean=(0.0,) * 3, std=(1.0,) * 3)
    ours = image_to_input(array.astype(np.float32) / 255, contract).x
    resized = Image.fromarray(array).resize((40, 24), Image.Resampling.BOX)  # 150 * 24 / 90 = 40
    theirs = np.asarray(resized.crop((8, 0, 32, 24)), np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(ours, theirs, atol=0.03)


def test_a_very_long_image_is_cropped_without_a_huge_intermediate():
    """1 x 60,000 pixels covering 64x64 would be 64 x 3,840,000 pixels if resized whole."""
    import time

    pixels = np.tile(np.linspace(0, 1, 60_000, dtype=np.float32), (1, 1))
    contract = rgb_contract(shape=(3, 64, 64), mean=(0.0,) * 3, std=(1.0,) * 3)
    start = time.perf_counter()
    x = image_to_input(pixels, contract).x
    assert time.perf_counter() - start < 1.0
    assert x.shape == (3, 64, 64) and np.isfinite(x).all()
    # the middle pixel of the strip, enlarged (bilinear): about 0.5 everywhere
    np.testing.assert_allclose(x, 0.5, atol=1e-3)


@pytest.mark.parametrize("h, w, out_h, out_w", [(48, 80, 32, 32), (90, 41, 32, 32),
                                                (3, 1000, 32, 32), (1000, 3, 24, 40),
                                                (7, 7, 32, 32), (32, 32, 32, 32), (1, 60000, 8, 8)])
def test_geometry_covers_or_fits_the_frame(h, w, out_h, out_w):
    left, top, right, bottom = crop_box(h, w, out_h, out_w)
    assert (left, top, right, bottom) == pytest.approx(expected_box(h, w, out_h, out_w))
    assert 0 <= left <= right <= w and 0 <= top <= bottom <= h
    assert (right - left) * out_h == pytest.approx((bottom - top) * out_w)  # the frame's shape
    assert right - left == pytest.approx(w) or bottom - top == pytest.approx(h)  # as large as fits
    nh, nw, ptop, pleft = pad_geometry(h, w, out_h, out_w)
    assert (nh, nw) == expected_pad(h, w, out_h, out_w)
    assert 1 <= nh <= out_h and 1 <= nw <= out_w
    assert nh == out_h or nw == out_w  # one side is exactly the frame's
    assert (ptop, pleft) == ((out_h - nh) // 2, (out_w - nw) // 2)


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
