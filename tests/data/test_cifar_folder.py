"""The real CIFAR-10 images (``CNNVIZ_CIFAR_DIR``, ``train/CLASS/NNNN.jpg``, ``test/...``).

The decoded arrays are cached in pytest's cache folder (``.pytest_cache``), so that only the
first run decodes the 60,000 files (about 12 s here); later runs read the cache (about 1 s).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import (CIFAR10_CLASSES, channel_statistics, describe_data_folder,
                         load_default_cifar10, load_image_folder)

pytestmark = pytest.mark.cifar


@pytest.fixture(scope="module")
def cache(request):
    return request.config.cache.mkdir("cnnviz-cache")


@pytest.fixture(scope="module")
def cifar(cifar_dir, cache):
    return load_image_folder(cifar_dir, (3, 32, 32), cache_dir=cache, name="CIFAR-10")


def test_counts_classes_and_shapes(cifar):
    assert cifar.class_names == CIFAR10_CLASSES
    assert cifar.train_x.shape == (50_000, 3, 32, 32) and cifar.test_x.shape == (10_000, 3, 32, 32)
    assert cifar.train_x.dtype == np.uint8 and cifar.train_y.dtype == np.uint8
    assert cifar.class_counts("train").tolist() == [5000] * 10
    assert cifar.class_counts("test").tolist() == [1000] * 10
    assert cifar.notes == () and cifar.input_shape == (3, 32, 32)


@pytest.mark.parametrize("split, label, number", [
    ("train", 0, 0), ("train", 3, 1234), ("train", 9, 4999), ("test", 5, 17), ("test", 9, 999)])
def test_pixels_are_pillows_decode_of_the_file(cifar, cifar_dir, split, label, number):
    # Files are listed by class, then name (NNNN.jpg): image k of class c is c * per_class + k.
    per_class = 5000 if split == "train" else 1000
    index = label * per_class + number
    path = cifar_dir / split / CIFAR10_CLASSES[label] / f"{number:04d}.jpg"
    want = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)
    images, labels = (cifar.train_x, cifar.train_y) if split == "train" else \
        (cifar.test_x, cifar.test_y)
    assert labels[index] == label
    np.testing.assert_array_equal(images[index], want)


def test_statistics_are_cifar10s(cifar):
    """The per-channel means and standard deviations usually quoted for CIFAR-10's training set
    (0.4914, 0.4822, 0.4465; 0.2470, 0.2435, 0.2616), up to the JPEG compression of this copy."""
    mean, std = channel_statistics(cifar.train_x)
    np.testing.assert_allclose(mean, [0.4914, 0.4822, 0.4465], atol=0.003)
    np.testing.assert_allclose(std, [0.2470, 0.2435, 0.2616], atol=0.003)


def test_cnnviz_cifar_dir_is_what_data_cifar10_finds(cifar, cifar_dir, cache, monkeypatch):
    monkeypatch.setenv("CNNVIZ_CIFAR_DIR", str(cifar_dir))
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(cache))  # the same cache as above
    assert describe_data_folder(cifar_dir) == "images"
    data = load_default_cifar10()
    assert data.name == "CIFAR-10" and data.class_names == CIFAR10_CLASSES
    np.testing.assert_array_equal(data.test_x, cifar.test_x)
