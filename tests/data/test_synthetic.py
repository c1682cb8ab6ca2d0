"""Tests of the offline synthetic and drawn digits (and of the package's dependencies)."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cnnviz.data
from cnnviz.data import (
    center_of_mass,
    make_drawn_digits,
    make_synthetic_digits,
    preprocess_digit,
    synthetic_dataset,
)


@pytest.fixture(scope="module")
def synth():
    return make_synthetic_digits(1000, seed=7)


def nearest_centroid_accuracy(train_x, train_y, test_x, test_y) -> float:
    """Accuracy of a nearest-class-mean classifier (a cheap stand-in for a network)."""
    flat = train_x.reshape(len(train_x), -1).astype(np.float32) / 255.0
    centroids = np.stack([flat[train_y == c].mean(axis=0) for c in range(10)])
    test = test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0
    dist = ((test[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    return float(np.mean(dist.argmin(axis=1) == test_y))


def test_shapes_labels_and_balance(synth):
    images, labels = synth
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (1000,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [100] * 10
    assert (images.reshape(1000, -1).max(axis=1) == 255).all()


def test_deterministic_per_seed():
    a = make_synthetic_digits(60, seed=3)
    b = make_synthetic_digits(60, seed=3)
    c = make_synthetic_digits(60, seed=4)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert a[0].tobytes() != c[0].tobytes()


def test_images_look_like_mnist(synth):
    images, _ = synth
    digits = images.astype(np.float32) / 255.0
    coms = np.array([center_of_mass(d) for d in digits])
    assert np.abs(coms - 14).max() <= 1.0
    for digit in digits[:200]:
        rows = np.flatnonzero(digit.max(axis=1) > 0)
        cols = np.flatnonzero(digit.max(axis=0) > 0)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21
    assert 0.08 < digits.mean() < 0.2  # MNIST: 0.13
    assert 0.12 < (digits > 0).mean() < 0.3  # MNIST: 0.19
    # already in preprocessed form: preprocessing again changes little
    again = np.stack([preprocess_digit(d) for d in digits[:100]])
    assert np.abs(again - digits[:100]).mean() < 0.01


def test_classes_are_distinct_and_varied(synth):
    images, labels = synth
    flat = images.reshape(len(images), -1).astype(np.float32)
    for c in range(10):
        members = flat[labels == c]
        assert len({m.tobytes() for m in members}) == len(members)  # no duplicates
        assert members.std(axis=0).mean() > 20  # shapes vary within a class


@pytest.mark.mnist
def test_synthetic_classes_match_mnist_classes(synth, mnist):
    images, labels = synth
    acc = nearest_centroid_accuracy(images, labels, mnist.test_x[:2000], mnist.test_y[:2000])
    assert acc > 0.5  # chance is 0.1; MNIST's own centroids score about 0.76


def test_size_parameter():
    images, _ = make_synthetic_digits(12, seed=0, size=32)
    assert images.shape == (12, 32, 32)
    assert np.abs(np.array(center_of_mass(images[0].astype(float))) - 16).max() <= 1.0


def test_speed():
    start = time.perf_counter()
    make_synthetic_digits(1000, seed=1)
    assert time.perf_counter() - start < 5.0  # about 0.6 s; 20000 digits take ~12 s


def test_synthetic_dataset():
    data = synthetic_dataset(n_train=120, n_test=40, seed=5)
    assert data.name == "synthetic" and data.n_train == 120 and data.n_test == 40
    assert data.train_x.shape[1:] == (28, 28)
    assert not np.array_equal(data.train_x[:40], data.test_x)
    again = synthetic_dataset(n_train=120, n_test=40, seed=5)
    assert again.test_x.tobytes() == data.test_x.tobytes()


# ------------------------------------------------------------------ drawn digits
@pytest.fixture(scope="module")
def drawn():
    return make_drawn_digits(200, seed=11)


def test_drawn_digits_are_raw_canvas_images(drawn):
    images, labels = drawn
    assert images.shape == (200, 280, 280) and images.dtype == np.float32
    assert labels.dtype == np.uint8 and np.bincount(labels).tolist() == [20] * 10
    assert images.min() >= 0.0 and images.max() <= 1.0
    edges = [images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]]
    borders = np.concatenate(edges, axis=1)
    assert np.median(borders) == 0.0  # white ink on black
    grey = ((images > 0.02) & (images < 0.98)).mean() / (images > 0.02).mean()
    assert grey > 0.03  # anti-aliased edges
    # not preprocessed: sizes and positions vary a lot
    coms = np.array([center_of_mass(im) for im in images])
    assert coms.std(axis=0).min() > 15
    heights = [np.ptp(np.flatnonzero(im.max(axis=1) > 0.5)) for im in images]
    assert min(heights) < 120 and max(heights) > 200


def test_drawn_digits_deterministic():
    a, la = make_drawn_digits(5, seed=2)
    b, lb = make_drawn_digits(5, seed=2)
    assert a.tobytes() == b.tobytes() and la.tobytes() == lb.tobytes()


@pytest.mark.mnist
def test_drawn_digits_read_like_mnist_after_preprocessing(drawn, mnist):
    images, labels = drawn
    prepped = np.stack([np.round(preprocess_digit(im) * 255).astype(np.uint8) for im in images])
    acc = nearest_centroid_accuracy(mnist.train_x[:10000], mnist.train_y[:10000], prepped, labels)
    assert acc > 0.45  # chance is 0.1


# ------------------------------------------------------------------ dependencies
FORBIDDEN = ("PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "torch", "qtpy")


def test_data_package_has_no_qt_or_torch_imports():
    folder = Path(cnnviz.data.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_importing_the_package_loads_no_qt():
    code = (
        "import sys, cnnviz.data\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    root = Path(cnnviz.data.__file__).parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
