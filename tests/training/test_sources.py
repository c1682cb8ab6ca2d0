"""Training data for the window: offline digits in chunks, splits, MNIST, cancel."""

import numpy as np
import pytest

from cnnviz.data import DownloadCancelled
from cnnviz.training import sources
from cnnviz.training.sources import (DataSource, load_dataset, load_training_data,
                                     offline_digits, split_training_data)


def test_offline_digits_are_seeded_and_the_first_ones_do_not_depend_on_how_many():
    small = offline_digits(30, seed=2)
    large = offline_digits(300, seed=2)
    np.testing.assert_array_equal(small.train_x, large.train_x[:30])
    assert large.train_x.shape == (300, 28, 28) and large.n_test == 0


def test_cancelling_the_offline_digits_stops_them(monkeypatch):
    monkeypatch.setattr(sources, "OFFLINE_CHUNK", 10)
    calls = []
    with pytest.raises(DownloadCancelled):
        offline_digits(100, progress=lambda done, total: calls.append(done) or len(calls) < 2)
    assert calls == [10, 20]


def test_the_split_holds_out_at_most_a_fifth_and_converts_the_images():
    data = split_training_data(offline_digits(50), validation=5000, seed=1)
    assert data.train_x.shape == (40, 1, 28, 28) and data.val_x.shape == (10, 1, 28, 28)
    assert data.train_x.dtype == np.float32 and data.train_x.max() <= 1.0
    assert data.train_y.dtype == np.int64
    none = split_training_data(offline_digits(20), validation=0)
    assert len(none.train_x) == 20 and len(none.val_x) == 0


def test_mnist_from_a_folder_keeps_the_first_images_asked_for(mnist_dir):
    data = load_training_data(DataSource("folder", mnist_dir), count=1000, validation=100)
    assert len(data.train_x) == 900 and len(data.val_x) == 100
    assert "MNIST" in DataSource("folder", mnist_dir).title


def test_mnist_not_found_is_downloaded_with_overall_byte_progress(monkeypatch, mnist_dir):
    seen = []

    def fake_download(progress):
        for name, (size, _) in sources.MNIST_FILES.items():
            progress(name, size, size)
        return mnist_dir

    monkeypatch.setattr(sources, "find_mnist", lambda: None)
    monkeypatch.setattr(sources, "download_mnist", fake_download)
    load_dataset(DataSource("mnist"), progress=lambda done, total: seen.append((done, total)))
    total = sum(size for size, _ in sources.MNIST_FILES.values())
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert DataSource("mnist").title == "MNIST (download 11 MB)"
