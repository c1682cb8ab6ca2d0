"""The pretrained lenet5 installed with cnnviz: it loads, reads MNIST and reads drawn digits."""

import numpy as np
import pytest

from cnnviz.commands._common import default_model_path
from cnnviz.data import load_mnist, make_drawn_digits, preprocess_digit, to_float_batch
from cnnviz.nn import load_model_with_metadata
from cnnviz.training import evaluate


@pytest.fixture(scope="module")
def shipped():
    return load_model_with_metadata(default_model_path())


def test_the_shipped_network_is_lenet5_and_says_how_it_was_made(shipped):
    model, meta = shipped
    assert model.name == "lenet5" and model.input_shape == (1, 28, 28)
    assert meta["command"].startswith("cnnviz train --arch lenet5")
    assert meta["status"] == "finished"


def test_shipped_network_reaches_99_percent_on_the_mnist_test_set(shipped, mnist_dir):
    data = load_mnist(mnist_dir)
    result = evaluate(shipped[0], to_float_batch(data.test_x), data.test_y)
    assert result.accuracy >= 0.990, result.accuracy


def test_shipped_network_reads_drawn_digits_through_the_canvas_preprocessing(shipped):
    """Mouse-drawn-like digits (not MNIST): different sizes, places, widths, slants, glyphs."""
    correct = 0
    for chunk in range(10):  # 100 canvases at a time: each is 280x280 float32
        images, labels = make_drawn_digits(100, seed=2024 + chunk)
        x = np.stack([preprocess_digit(img) for img in images])[:, None]
        correct += int((shipped[0].predict(x) == labels).sum())
    accuracy = correct / 1000
    assert accuracy >= 0.97, accuracy
