"""Photos of handwritten digits: the generator, and the digit pipeline finding the ink in them."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import image_to_input, load_image, preprocess_digit_info
from cnnviz.data.photo_synth import (
    GRADIENTS,
    INKS,
    JPEG_LEVELS,
    PAPERS,
    PhotoHabits,
    blank_photo,
    habit_set,
    make_photo,
    render_photo,
    write_photo_set,
)
from cnnviz.data.synthetic import make_synthetic_digits
from cnnviz.nn import default_contract

FIXTURE = Path(__file__).with_name("canvas_digits_before_photos.npz")
DIGITS = default_contract((1, 28, 28), (10,))


def digits(n: int = 10, seed: int = 5) -> np.ndarray:
    """MNIST-like 28x28 uint8 white-on-black digits (no MNIST files needed)."""
    return make_synthetic_digits(n, seed=seed)[0]


def read(tmp_path: Path, data: bytes, name: str = "photo"):
    """The photo's bytes through load_image and the digit contract, as `cnnviz predict` does."""
    suffix = ".png" if data[:4] == b"\x89PNG" else ".jpg"
    path = tmp_path / f"{name}{suffix}"
    path.write_bytes(data)
    return image_to_input(load_image(path), DIGITS)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two 28x28 digits' ink (> 0.3)."""
    a, b = a > 0.3, b > 0.3
    return float((a & b).sum() / max((a | b).sum(), 1))


# --------------------------------------------------------------------------------- generator
def test_habit_set_covers_every_combination_and_is_a_prefix():
    habits = habit_set(1000, seed=0)
    paper = [h for h in habits if not h.transparent]
    combos = {(h.ink, h.paper, h.gradient, h.shadow, h.jpeg) for h in paper}
    assert combos == set(itertools.product(INKS, PAPERS, GRADIENTS, (False, True), JPEG_LEVELS))
    kinds = {h.transparent for h in habits if h.transparent}
    assert kinds == {"white ink", "dark ink"}
    assert 0.08 <= 1 - len(paper) / len(habits) <= 0.12
    assert habit_set(200, seed=0) == habits[:200]
    # A 200-photo sample still has every ink, paper, gradient, shadow and compression level.
    small = habit_set(200, seed=0)
    for axis, levels in (("ink", INKS), ("paper", PAPERS), ("gradient", GRADIENTS),
                         ("jpeg", JPEG_LEVELS)):
        assert {getattr(h, axis) for h in small if not h.transparent} == set(levels)


def test_photos_are_reproducible_and_look_like_photos():
    digit = digits(1)[0]
    habits = PhotoHabits("blue", "light green", 0.4, True, "jpeg 60-75")
    a, b = make_photo(digit, habits, (0, 3)), make_photo(digit, habits, (0, 3))
    assert a == b and a[:2] == b"\xff\xd8"  # the same JPEG bytes
    assert make_photo(digit, habits, (0, 4)) != a
    image = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.float32) / 255
    h, w = image.shape[:2]
    assert 200 <= h <= 400 and 200 <= w <= 400
    clean = np.asarray(render_photo(np.zeros((28, 28), np.uint8),
                                    PhotoHabits("blue", "white", 0.4), 1), np.float32) / 255
    light = clean.mean(axis=2)
    # The light falls by up to 40% across the page, and there is noise.
    assert 0.2 < np.quantile(light, 0.99) - np.quantile(light, 0.01) < 0.5
    transparent = Image.open(io.BytesIO(make_photo(digit, PhotoHabits(
        "white", "transparent", transparent="white ink"), 1)))
    assert transparent.mode == "RGBA"
    alpha = np.asarray(transparent)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255


# --------------------------------------------------------------------------------- clean images
def test_canvas_drawings_and_clean_digits_are_read_exactly_as_before():
    """Outputs stored from the pipeline before photos were handled (canvas rasters, float
    drawings, dark ink on light paper, equal-channel RGB, a stroke along the border, 28x28
    MNIST-like digits): bit-identical today."""
    stored = np.load(FIXTURE)
    names = [k[3:] for k in stored.files if k.startswith("in/")]
    assert len(names) >= 20
    for name in names:
        out, info = preprocess_digit_info(stored["in/" + name])
        assert np.array_equal(out, stored["out/" + name]), name
        bbox = stored["bbox/" + name]
        assert (info.bbox or (-1, -1, -1, -1)) == tuple(int(v) for v in bbox), name
        assert [info.inverted, info.blank] == stored["flags/" + name].tolist(), name


# --------------------------------------------------------------------------------- photos
@pytest.mark.parametrize("ink, paper, gradient, shadow", [
    ("blue", "white", 0.3, False),        # the blue "5" read as "9"
    ("red", "light green", 0.0, False),   # the red "1" that was "Nothing drawn yet"
    ("red", "light green", 0.4, True),
    ("green", "pink", 0.4, False),
    ("black", "cream", 0.2, True),
    ("blue", "light blue", 0.4, True),
])
def test_ink_is_found_in_photos_of_coloured_ink_on_coloured_paper(tmp_path, ink, paper,
                                                                  gradient, shadow):
    habits = PhotoHabits(ink, paper, gradient, shadow, "jpeg 60-75")
    scores = []
    for i, digit in enumerate(digits(6, seed=11)):
        made = read(tmp_path, make_photo(digit, habits, (7, i)), f"p{i}")
        clean, _ = preprocess_digit_info(digit)
        assert not made.blank
        scores.append(agreement(made.x[0], clean))
    assert np.median(scores) > 0.6, scores


def test_white_and_dark_ink_on_a_transparent_background(tmp_path):
    for kind, ink in (("white ink", "white"), ("dark ink", "blue")):
        habits = PhotoHabits(ink, "transparent", transparent=kind)
        for i, digit in enumerate(digits(3, seed=2)):
            loaded_path = tmp_path / f"t{i}.png"
            loaded_path.write_bytes(make_photo(digit, habits, (1, i)))
            loaded = load_image(loaded_path)
            assert loaded.alpha is not None and loaded.alpha.shape == loaded.pixels.shape[:2]
            made = image_to_input(loaded, DIGITS)
            clean, _ = preprocess_digit_info(digit)
            assert not made.blank, kind
            assert agreement(made.x[0], clean) > 0.6, kind


def test_opaque_images_have_no_alpha(tmp_path):
    path = tmp_path / "opaque.png"
    Image.new("RGBA", (20, 10), (10, 20, 30, 255)).save(path)
    assert load_image(path).alpha is None
    Image.new("RGB", (20, 10), (10, 20, 30)).save(path)
    assert load_image(path).alpha is None


def test_photos_of_empty_paper_hold_no_ink(tmp_path):
    """Paper with a lighting gradient, a shadow and JPEG noise is "no ink", not a made-up
    digit."""
    seen = 0
    for i, (paper, gradient, shadow, jpeg) in enumerate(itertools.product(
            PAPERS, (0.0, 0.4), (False, True), ("jpeg 60-75", "png"))):
        habits = PhotoHabits("black", paper, gradient, shadow, jpeg)
        made = read(tmp_path, blank_photo(habits, (9, i)), f"b{i}")
        assert made.blank, habits
        assert not made.x.any()
        seen += 1
    assert seen == 48


def test_a_uniform_colour_image_is_blank_even_with_noise():
    uniform = np.broadcast_to(np.float32([0.8, 0.3, 0.2]), (120, 90, 3)).copy()
    out, info = preprocess_digit_info(uniform)
    assert info.blank and not out.any()
    noisy = uniform + np.random.default_rng(0).normal(0, 0.02, uniform.shape).astype(np.float32)
    assert preprocess_digit_info(np.clip(noisy, 0, 1))[1].blank


@pytest.mark.mnist
def test_photos_of_mnist_test_digits_are_read_correctly(tmp_path, mnist):
    """200 generated photos (every ink, paper, gradient, shadow, compression level, and
    transparent PNGs) of the first MNIST test digits, read by the shipped lenet5 as
    `cnnviz predict` does. The full 1,000-photo figure: benchmarks/photo_digits.py."""
    from cnnviz.nn import load_network

    root = Path(__file__).resolve().parents[2]
    network = load_network(root / "resources/models/lenet5.npz")
    photos = write_photo_set(tmp_path, mnist.test_x.reshape(-1, 28, 28), mnist.test_y, 200)
    right = 0
    for path, label, _ in photos:
        made = image_to_input(load_image(path), network.contract)
        right += int(not made.blank
                     and network.model.predict_proba(made.x[None])[0].argmax() == label)
    assert right / len(photos) >= 0.95


def test_the_window_reads_photos_and_transparent_drawings_as_cnnviz_predict(tmp_path):
    from cnnviz.session import ImageInput, network_input_for

    digit = digits(1, seed=4)[0]
    for i, habits in enumerate((PhotoHabits("white", "transparent", transparent="white ink"),
                                PhotoHabits("red", "light green", 0.4, True, "jpeg 60-75"))):
        path = tmp_path / f"w{i}{habits.suffix}"
        path.write_bytes(make_photo(digit, habits, (3, i)))
        loaded = load_image(path)
        x, info = network_input_for(ImageInput(loaded), DIGITS)
        assert not info.blank
        np.testing.assert_array_equal(x, image_to_input(loaded, DIGITS).x)
        assert agreement(x[0], preprocess_digit_info(digit)[0]) > 0.6


@pytest.mark.parametrize("width", [1, 4])
@pytest.mark.parametrize("paper, ink", [((255, 255, 255), (30, 60, 200)),
                                        ((200, 240, 190), (220, 30, 30))])
def test_thin_coloured_strokes_are_ink_and_the_box_is_in_photo_pixels(paper, ink, width):
    from PIL import ImageDraw

    for side in (300, 1500):  # the larger one is analysed reduced
        s = side / 300
        im = Image.new("RGB", (side, side), paper)
        ImageDraw.Draw(im).line([(100 * s, 40 * s), (160 * s, 40 * s), (120 * s, 250 * s)],
                                fill=ink, width=max(1, round(width * s)))
        out, info = preprocess_digit_info(np.asarray(im, np.float32) / 255)
        assert not info.blank and out.max() == pytest.approx(1.0)
        top, left, bottom, right = info.bbox
        tol = 3 * s + width
        assert abs(top - 40 * s) <= tol and abs(bottom - 250 * s) <= tol
        assert abs(left - 100 * s) <= tol and abs(right - 160 * s) <= tol
        assert info.scale == pytest.approx(20 / max(bottom - top, right - left), rel=0.1)


def test_red_ink_on_green_paper_of_the_same_brightness(tmp_path, monkeypatch):
    """Luma cannot tell this ink from this paper (0.38 vs 0.41); their colours can."""
    monkeypatch.setitem(PAPERS, "green", (0.20, 0.55, 0.20))
    monkeypatch.setitem(INKS, "red", (0.80, 0.20, 0.20))
    habits = PhotoHabits("red", "green", 0.2, False, "jpeg 76-90")
    scores = []
    for i, digit in enumerate(digits(4, seed=8)):
        made = read(tmp_path, make_photo(digit, habits, (5, i)), f"g{i}")
        assert not made.blank
        scores.append(agreement(made.x[0], preprocess_digit_info(digit)[0]))
    assert min(scores) > 0.5, scores
