"""Digits drawn in writing habits (cnnviz.data.drawn_habits): reproducible, a fifth dark ink on
white, read exactly as the window reads a drawing or an opened picture, training digits from a
stream that never gives an evaluation drawing."""

import numpy as np
from PIL import Image

from cnnviz.data import load_image
from cnnviz.data.drawn_habits import (BRUSH, CANVAS, DARK_SHARE, HABITS, draw_habit,
                                      habit_seed, make_habit_training_digits, read_habit)
from cnnviz.nn import default_contract
from cnnviz.session import ImageInput, canvas_input, network_input_for

CONTRACT = default_contract((1, 28, 28), (10,))


def test_every_digit_has_several_named_habits():
    names = [h.name for h in HABITS]
    assert len(set(names)) == len(names)
    counts = np.bincount([h.digit for h in HABITS], minlength=10)
    assert counts.min() >= 3, counts
    assert all(h.name.startswith(f"{h.digit} ") for h in HABITS)


def test_a_habit_set_is_the_same_bytes_for_the_same_seed_and_differs_otherwise():
    a, b, c = draw_habit(6, 10, seed=3), draw_habit(6, 10, seed=3), draw_habit(6, 10, seed=4)
    assert a.dtype == np.uint8 and a.shape == (10, CANVAS, CANVAS)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, draw_habit(7, 10, seed=3))  # each habit its own stream


def test_a_fifth_is_dark_ink_on_white_and_the_ink_is_a_round_brush_inside_the_canvas():
    n = 20
    rasters = draw_habit(0, n, seed=5)  # ovals: the stroke's width is easy to measure
    border = np.concatenate([rasters[:, 0], rasters[:, -1], rasters[:, :, 0], rasters[:, :, -1]],
                            axis=1)
    dark = border.min(axis=1) == 255
    assert dark.sum() == round(n * DARK_SHARE)
    assert (border[~dark].max(axis=1) == 0).all()  # nothing touches the edge
    ink = np.where(dark[:, None, None], 255 - rasters.astype(int), rasters.astype(int)) / 255
    # The stroke's width along a horizontal line through the middle of an oval's side:
    for image in ink:
        middle = int(np.mean(np.nonzero(image.max(axis=1) > 0.5)[0]))
        row = image[middle] > 0.5
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0])))[::2]
        assert len(runs) == 2, runs  # two sides of the oval
        assert (runs >= BRUSH[0] - 2).all() and (runs <= BRUSH[1] * 1.6).all(), runs


def test_drawings_are_read_as_the_window_reads_the_canvas_or_an_opened_picture(tmp_path):
    rasters = draw_habit(HABITS.index(next(h for h in HABITS if h.name == "1 European (long "
                                                                     "up-stroke)")), 10, seed=8)
    x = read_habit(rasters, CONTRACT)
    assert x.shape == (10, 1, 28, 28)
    for i, raster in enumerate(rasters):
        if raster[0, 0] == 0:  # white ink on black: what the canvas holds
            window, _ = network_input_for(canvas_input(raster), CONTRACT)
        else:  # dark ink on white: a picture the window opens
            path = tmp_path / f"{i}.png"
            Image.fromarray(raster).save(path)
            window, _ = network_input_for(ImageInput(load_image(path)), CONTRACT)
        assert np.array_equal(x[i], window), i


def test_training_digits_are_preprocessed_drawings_balanced_and_from_their_own_stream():
    images, labels = make_habit_training_digits(40, seed=21)
    again, _ = make_habit_training_digits(40, seed=21)
    assert images.dtype == np.uint8 and images.shape == (40, 28, 28)
    assert np.array_equal(images, again)
    assert np.bincount(labels, minlength=10).tolist() == [4] * 10
    assert (images.reshape(40, -1).max(axis=1) == 255).all()  # peak 1, like preprocess_digit
    # Training and evaluation streams never coincide, for the same seed or any other.
    train = {tuple(habit_seed(s, None).generate_state(4)) for s in range(50)}
    evaluate = {tuple(habit_seed(s, h).generate_state(4)) for s in range(50)
                for h in range(len(HABITS))}
    assert not train & evaluate
