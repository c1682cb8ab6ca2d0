"""Folders of images as datasets: odd content (non-images, grey, RGBA, palette and 16-bit files,
empty classes), pixels against Pillow, the train/test layouts, the cache of decoded arrays and
recognising what a folder holds."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import (DataError, ImageFolderError, ImageLoadCancelled, describe_data_folder,
                         guess_input_shape, is_image_folder, load_data_folder, load_image_folder)
from cnnviz.data import folders as folders_module


def rgb(seed: int, h: int = 8, w: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def odd_folder(tmp_path):
    """ROOT/CLASS/* with every kind of odd content; returns (root, {name: expected (3, 8, 8)})."""
    root = tmp_path / "odd"
    for name in ("cat", "dog", "empty", "bird"):
        (root / name).mkdir(parents=True)
    expected = {}
    Image.fromarray(rgb(1)).save(root / "cat" / "a.png")
    expected["cat/a.png"] = rgb(1).transpose(2, 0, 1)
    grey = rgb(2)[..., 0]
    Image.fromarray(grey).save(root / "cat" / "grey.png")
    expected["cat/grey.png"] = np.repeat(grey[None], 3, axis=0)
    rgba = np.dstack([rgb(3), np.full((8, 8), 0, np.uint8)])
    rgba[:4, :, 3] = 255  # top half opaque, bottom half transparent
    Image.fromarray(rgba).save(root / "cat" / "rgba.png")
    want = rgb(3).copy()
    want[4:] = 255  # transparent pixels become the white background
    expected["cat/rgba.png"] = want.transpose(2, 0, 1)
    big = rgb(4, 16, 24)
    Image.fromarray(big).save(root / "dog" / "big.bmp")
    expected["dog/big.bmp"] = np.asarray(
        Image.fromarray(big).resize((8, 8), Image.Resampling.LANCZOS)).transpose(2, 0, 1)
    palette = Image.fromarray(rgb(5)).quantize(16)
    palette.save(root / "dog" / "pal.gif")
    expected["dog/pal.gif"] = np.asarray(palette.convert("RGB")).transpose(2, 0, 1)
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    Image.fromarray(deep).save(root / "dog" / "deep.png")
    expected["dog/deep.png"] = np.repeat(np.rint(deep / 65535 * 255).astype(np.uint8)[None], 3, 0)
    Image.fromarray(rgb(6)).save(root / "bird" / "UPPER.PNG")
    expected["bird/UPPER.PNG"] = rgb(6).transpose(2, 0, 1)
    (root / "dog" / "broken.png").write_bytes(b"this is no image")
    good = root / "bird" / "whole.jpg"
    Image.fromarray(rgb(7)).save(good, quality=95)
    (root / "bird" / "truncated.jpg").write_bytes(good.read_bytes()[:200])
    good.unlink()
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.png").write_bytes(b"ignored silently")
    (root / ".git").mkdir()
    return root, expected


def test_odd_folder_is_read_and_reported(odd_folder, tmp_path):
    root, expected = odd_folder
    data = load_image_folder(root, (3, 8, 8), cache_dir=tmp_path / "cache")
    assert data.class_names == ("bird", "cat", "dog", "empty")
    assert data.input_shape == (3, 8, 8) and data.train_x.dtype == np.uint8
    assert data.n_train + data.n_test == len(expected)
    notes = "\n".join(data.notes)
    assert "2 of 9 image files" in notes
    assert "bird/truncated.jpg" in notes and "dog/broken.png (not an image cnnviz reads)" in notes
    assert "class folders without images" in notes and "empty" in notes
    assert "cat/notes.txt" in notes and ".hidden" not in notes and ".git" not in notes
    # Every image is found, as Pillow decodes it, under its class.
    images = np.concatenate([data.train_x, data.test_x])
    labels = np.concatenate([data.train_y, data.test_y])
    for rel, want in expected.items():
        hits = [i for i, image in enumerate(images) if np.abs(image.astype(int) - want).max() <= 1]
        assert len(hits) == 1, rel
        assert data.class_names[labels[hits[0]]] == rel.split("/")[0]


def test_grey_target_uses_luma(odd_folder, tmp_path):
    root, expected = odd_folder
    data = load_image_folder(root, (1, 8, 8), cache_dir=tmp_path / "cache")
    assert data.input_shape == (1, 8, 8)
    images = np.concatenate([data.train_x, data.test_x])[:, 0].astype(float)
    weights = np.array([0.299, 0.587, 0.114])
    for rel, want in expected.items():
        luma = np.tensordot(weights, want.astype(float), axes=1)
        # Within rounding (resized images are converted, then resized: two roundings).
        assert min(np.abs(image - luma).max() for image in images) <= 1.5, rel


def test_flat_folder_holds_out_a_fifth_of_each_class(tmp_path):
    root = tmp_path / "flat"
    for c, count in (("a", 10), ("b", 5), ("c", 1)):
        (root / c).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rgb(i, 4, 4)).save(root / c / f"{i}.png")
    data = load_image_folder(root, (3, 4, 4), use_cache=False)
    assert np.bincount(data.test_y, minlength=3).tolist() == [2, 1, 0]
    assert np.bincount(data.train_y, minlength=3).tolist() == [8, 4, 1]
    again = load_image_folder(root, (3, 4, 4), use_cache=False)
    np.testing.assert_array_equal(again.test_x, data.test_x)  # the same split every time


def test_train_test_layout_and_classes_missing_from_one_split(tmp_path):
    root = tmp_path / "split"
    for split, classes in (("train", ("x", "y")), ("test", ("x", "z"))):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            Image.fromarray(rgb(len(c), 6, 6)).save(root / split / c / "0.png")
    data = load_image_folder(root, (3, 6, 6), use_cache=False)
    assert data.class_names == ("x", "y", "z")
    assert data.train_y.tolist() == [0, 1] and data.test_y.tolist() == [0, 2]
    assert "train/z" in "".join(data.notes) and "test/y" in "".join(data.notes)


def test_cache_is_used_and_follows_the_folder(odd_folder, tmp_path, monkeypatch):
    root, _ = odd_folder
    cache = tmp_path / "cache"
    first = load_image_folder(root, (3, 8, 8), cache_dir=cache)
    entries = list((cache / "image-folders").iterdir())
    assert len(entries) == 1
    assert sorted(p.name for p in entries[0].iterdir()) == [
        "meta.json", "test_x.npy", "test_y.npy", "train_x.npy", "train_y.npy"]
    for part in ("train_x", "test_x"):  # raw arrays, loadable without pickle
        assert np.load(entries[0] / f"{part}.npy", allow_pickle=False).dtype == np.uint8
    json.loads((entries[0] / "meta.json").read_text())

    def no_decoding(*args):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(folders_module, "_decode", no_decoding)
    second = load_image_folder(root, (3, 8, 8), cache_dir=cache)
    for part in ("train_x", "train_y", "test_x", "test_y"):
        np.testing.assert_array_equal(getattr(second, part), getattr(first, part))
    assert second.class_names == first.class_names and second.notes == first.notes
    assert second.name == first.name == "odd"
    assert load_image_folder(root, (3, 8, 8), cache_dir=cache, name="Odd set").name == "Odd set"
    monkeypatch.undo()

    # Another shape is another entry; a changed file invalidates (and replaces) the entry.
    load_image_folder(root, (1, 4, 4), cache_dir=cache)
    Image.fromarray(rgb(42)).save(root / "cat" / "a.png")
    os.utime(root / "cat" / "a.png", ns=(1, 1))
    changed = load_image_folder(root, (3, 8, 8), cache_dir=cache)
    images = np.concatenate([changed.train_x, changed.test_x])
    assert any((image == rgb(42).transpose(2, 0, 1)).all() for image in images)
    assert len(list((cache / "image-folders").iterdir())) == 1


def test_damaged_cache_is_ignored(odd_folder, tmp_path):
    root, _ = odd_folder
    cache = tmp_path / "cache"
    first = load_image_folder(root, (3, 8, 8), cache_dir=cache)
    entry = next((cache / "image-folders").iterdir())
    (entry / "train_x.npy").write_bytes(b"\x93NUMPY garbage")
    again = load_image_folder(root, (3, 8, 8), cache_dir=cache)
    np.testing.assert_array_equal(again.train_x, first.train_x)


def test_progress_can_cancel(odd_folder, tmp_path):
    root, _ = odd_folder
    with pytest.raises(ImageLoadCancelled):
        load_image_folder(root, (3, 8, 8), use_cache=False, progress=lambda done, total: False)


def test_guessed_shape(tmp_path):
    root = tmp_path / "g"
    (root / "a").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(rgb(i, 5, 7)[..., 0]).save(root / "a" / f"{i}.png")
    Image.fromarray(rgb(9, 9, 9)[..., 0]).save(root / "a" / "z.png")
    assert guess_input_shape(root) == (1, 5, 7)
    Image.fromarray(rgb(9, 5, 7)).save(root / "a" / "colour.png")
    assert guess_input_shape(root) == (3, 5, 7)
    assert load_image_folder(root, use_cache=False).input_shape == (3, 5, 7)


@pytest.mark.parametrize("layout", ["missing", "file", "no-classes", "no-images", "all-broken"])
def test_unusable_folders_are_clear_errors(tmp_path, layout):
    root = tmp_path / "r"
    if layout == "file":
        root.write_text("x")
    elif layout != "missing":
        (root / "a").mkdir(parents=True)
        if layout == "no-classes":
            (root / "a").rmdir()
            Image.fromarray(rgb(0)).save(root / "loose.png")
        elif layout == "all-broken":
            (root / "a" / "x.png").write_bytes(b"nope")
    with pytest.raises(ImageFolderError) as info:
        load_image_folder(root, (3, 8, 8), use_cache=False)
    message = str(info.value)
    assert str(root) in message
    if layout == "no-classes":
        assert "CLASS/*.png" in message
    if layout == "all-broken":
        assert "a/x.png" in message


def test_data_folders_are_recognised_by_content(tmp_path, odd_folder):
    root, _ = odd_folder
    assert describe_data_folder(root) == "images" and is_image_folder(root)
    assert load_data_folder(root, (3, 8, 8)).class_names == ("bird", "cat", "dog", "empty")
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    (plain / "sub" / "a.txt").write_text("x")
    assert describe_data_folder(plain) is None and not is_image_folder(plain)
    with pytest.raises(DataError, match="not a dataset cnnviz recognises"):
        load_data_folder(plain)
    with pytest.raises(DataError, match="no such file or folder"):
        load_data_folder(tmp_path / "nowhere")


@pytest.mark.mnist
def test_mnist_folder_is_recognised(mnist_dir):
    assert describe_data_folder(mnist_dir) == "mnist"
    assert load_data_folder(mnist_dir).name == "MNIST"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_pipe_named_like_an_image_is_skipped_not_waited_on(odd_folder, tmp_path):
    root, expected = odd_folder
    os.mkfifo(root / "cat" / "pipe.png")
    assert guess_input_shape(root) == (3, 8, 8)
    data = load_image_folder(root, (3, 8, 8), use_cache=False)
    assert data.n_train + data.n_test == len(expected)
    assert "cat/pipe.png (not a regular file" in "".join(data.notes)


def test_a_folder_too_large_for_memory_is_refused_before_decoding(odd_folder, monkeypatch):
    root, _ = odd_folder
    monkeypatch.setattr(folders_module, "available_memory", lambda: 2 * 9 * 3 * 64 * 64 - 1)
    with pytest.raises(ImageFolderError, match="need 0 MB of memory, more than half"):
        load_image_folder(root, (3, 64, 64), use_cache=False)
    load_image_folder(root, (3, 32, 32), use_cache=False)  # a quarter of that fits
