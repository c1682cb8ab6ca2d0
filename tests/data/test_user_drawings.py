"""The user's own labelled drawings: a folder of images the image-folder reader reads back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnviz.data import CIFAR10_CLASSES, load_image_folder
from cnnviz.data.pipeline import image_to_input
from cnnviz.data.user_drawings import (UserDrawings, UserDrawingsError, dataset_folder,
                                       network_picture)
from cnnviz.nn.contract import InputContract, default_contract

DIGITS = default_contract((1, 28, 28), (10,))
CIFAR = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                      mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))


def canvas_drawing(seed: int) -> np.ndarray:
    """A 280x280 canvas raster: a white stroke on black, somewhere off-centre."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (280, 280), 0)
    x, y = rng.integers(20, 120, 2)
    dx, dy, ex = rng.integers(20, 120, 3)  # a different shape each time, not just moved
    ImageDraw.Draw(image).line([(x, y), (x + dx, y + 20), (x + ex, y + dy + 40)], fill=255,
                               width=int(rng.integers(14, 24)))
    return np.asarray(image)


def test_a_digit_is_kept_as_the_network_reads_it(tmp_path):
    raster = canvas_drawing(0)
    picture = network_picture(raster, DIGITS)
    assert picture.dtype == np.uint8 and picture.shape == (28, 28)
    x = image_to_input(raster.astype(np.float32) / 255.0, DIGITS).x[0]
    mean, std = DIGITS.mean[0], DIGITS.std[0]
    # the picture is the network input before (x - mean) / std, rounded to 8 bits
    np.testing.assert_allclose((picture / 255.0 - mean) / std, x, atol=0.51 / 255 / std)
    assert picture[0].max() == 0 and picture.max() == 255  # white ink on black, centred


def test_colour_pictures_are_kept_at_the_network_input_size():
    photo = np.random.default_rng(1).random((48, 64, 3)).astype(np.float32)
    picture = network_picture(photo, CIFAR)
    assert picture.shape == (32, 32, 3) and picture.dtype == np.uint8
    x = image_to_input(photo, CIFAR).x
    back = (picture.transpose(2, 0, 1) / 255.0 - np.array(CIFAR.mean)[:, None, None]) \
        / np.array(CIFAR.std)[:, None, None]
    np.testing.assert_allclose(back, x, atol=0.51 / 255 / min(CIFAR.std))


def test_the_folder_round_trips_through_the_image_folder_reader(tmp_path):
    drawings = UserDrawings(tmp_path / "mine", classes=DIGITS.classes)
    kept = {}
    for i in range(10):
        label = "7" if i % 2 else "1"
        picture = network_picture(canvas_drawing(i), DIGITS)
        path = drawings.add(label, picture)
        assert path.parent.name == label and path.suffix == ".png"
        kept[path] = (label, picture)
    assert len({p.name for p in kept if p.parent.name == "7"}) == 5  # numbered, none overwritten
    data = load_image_folder(tmp_path / "mine", (1, 28, 28), use_cache=False)
    assert data.class_names == DIGITS.classes  # every class folder, the network's order
    images = np.concatenate([data.train_x, data.test_x])[:, 0]
    labels = np.concatenate([data.train_y, data.test_y])
    assert len(images) == 10
    for label, picture in kept.values():
        matches = [i for i in range(len(images)) if np.array_equal(images[i], picture)]
        assert matches and all(data.class_names[labels[i]] == label for i in matches)
    assert sorted(p for _, p in drawings.list()) == sorted(kept)


def test_colour_pictures_round_trip_too(tmp_path):
    drawings = UserDrawings(tmp_path / "photos", classes=CIFAR.classes)
    picture = network_picture(np.random.default_rng(2).random((40, 40, 3)), CIFAR)
    drawings.add("cat", picture)
    for k in range(1, 5):
        drawings.add("cat", np.roll(picture, k, axis=0))
    data = load_image_folder(tmp_path / "photos", (3, 32, 32), use_cache=False)
    assert data.class_names == CIFAR.classes
    got = np.concatenate([data.train_x, data.test_x])
    assert any(np.array_equal(img.transpose(1, 2, 0), picture) for img in got)
    assert set(np.concatenate([data.train_y, data.test_y])) == {3}


def test_relabel_delete_and_restore(tmp_path):
    drawings = UserDrawings(tmp_path / "mine", classes=DIGITS.classes)
    picture = network_picture(canvas_drawing(3), DIGITS)
    path = drawings.add("9", picture)
    moved = drawings.relabel(path, "4")
    assert not path.exists() and moved.parent.name == "4"
    assert np.array_equal(np.asarray(Image.open(moved)), picture)
    data = drawings.delete(moved)
    assert not moved.exists() and drawings.list() == []
    drawings.restore(moved, data)
    assert drawings.list() == [("4", moved)]
    assert drawings.move(moved, path) == path and drawings.list() == [("9", path)]


@pytest.mark.parametrize("label", ["", "../x", "a/b", ".hidden", " 3"])
def test_labels_that_are_not_folder_names_are_refused(tmp_path, label):
    drawings = UserDrawings(tmp_path / "mine")
    with pytest.raises(UserDrawingsError):
        drawings.add(label, np.zeros((28, 28), np.uint8))
    assert not any((tmp_path).rglob("*.png"))


def test_files_outside_the_folder_are_not_touched(tmp_path):
    outside = tmp_path / "other" / "3" / "0001.png"
    outside.parent.mkdir(parents=True)
    outside.write_bytes(b"x")
    with pytest.raises(UserDrawingsError):
        UserDrawings(tmp_path / "mine").delete(outside)
    assert outside.exists()


def test_each_kind_of_network_has_its_own_folder(tmp_path):
    digits = dataset_folder(tmp_path, DIGITS)
    assert digits == tmp_path / "my-drawings" / "digits"
    assert dataset_folder(tmp_path, CIFAR) not in (digits, dataset_folder(
        tmp_path, InputContract(shape=(3, 32, 32), classes=tuple("abcdefghij"), pipeline="image")))


def test_kept_digits_read_back_as_the_same_network_inputs(tmp_path):
    """A folder of kept digits is a training set for a digit network: read as an image folder
    (what ``cnnviz train --data FOLDER`` does), each picture is the network input it was kept
    from, so the shipped network reads them as it read the drawings."""
    from cnnviz.data.pipeline import batch_to_input
    from cnnviz.resources import resource_path
    from cnnviz.nn import load_model

    model = load_model(resource_path("models", "lenet5.npz"))
    drawings = UserDrawings(tmp_path / "mine", classes=DIGITS.classes)
    inputs = []
    for seed in range(12):
        raster = canvas_drawing(seed)
        inputs.append(image_to_input(raster.astype(np.float32) / 255.0, DIGITS).x)
        label = str(int(model.predict(inputs[-1][None])[0]))
        drawings.add(label, network_picture(raster, DIGITS))
    data = load_image_folder(tmp_path / "mine", (1, 28, 28), use_cache=False)
    x = batch_to_input(np.concatenate([data.train_x, data.test_x]), DIGITS)
    y = np.concatenate([data.train_y, data.test_y])
    assert (model.predict(x) == y).mean() == 1.0
    nearest = [min(np.abs(row - xi).max() for xi in inputs) for row in x]
    assert max(nearest) <= 0.51 / 255 / DIGITS.std[0]


def test_read_drawings_is_the_image_folder_reader_and_takes_a_few_drawings_too(tmp_path):
    from cnnviz.data.user_drawings import read_drawings

    drawings = UserDrawings(tmp_path / "mine", classes=DIGITS.classes)
    for i in range(10):
        drawings.add("7" if i % 2 else "1", network_picture(canvas_drawing(i), DIGITS))
    ours = read_drawings(tmp_path / "mine", (1, 28, 28))
    theirs = load_image_folder(tmp_path / "mine", (1, 28, 28), use_cache=False)
    assert ours.class_names == theirs.class_names
    for a, b in (("train_x", "train_x"), ("train_y", "train_y"), ("test_x", "test_x"),
                 ("test_y", "test_y")):
        assert np.array_equal(getattr(ours, a), getattr(theirs, b))
    few = UserDrawings(tmp_path / "few")
    few.add("3", network_picture(canvas_drawing(0), DIGITS))
    data = read_drawings(tmp_path / "few", (1, 28, 28))
    assert data.n_train == 1 and data.n_test == 0 and data.class_names == ("3",)
    (tmp_path / "few" / "3" / "0002.png").write_bytes(b"not a png")
    assert "could not be read" in read_drawings(tmp_path / "few", (1, 28, 28)).notes[0]
    with pytest.raises(UserDrawingsError):
        read_drawings(tmp_path / "empty", (1, 28, 28))
