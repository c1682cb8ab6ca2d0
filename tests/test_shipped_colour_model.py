"""The pretrained colour network installed with cnnviz (vgg-small on CIFAR-10): it loads with its
input contract, is small enough to ship, and reads CIFAR-10's test images at 80% or better."""

import pytest

from cnnviz.data import CIFAR10_CLASSES, batch_to_input, load_image_folder
from cnnviz.nn import load_network
from cnnviz.resources import resource_path
from cnnviz.training import evaluate

pytestmark = pytest.mark.cifar

SHIPPED = resource_path("models", "vgg-small-cifar10.npz")


@pytest.fixture(scope="module")
def shipped():
    return load_network(SHIPPED)


def test_it_is_vgg_small_for_cifar10_and_says_how_it_was_made(shipped):
    assert shipped.model.name == "vgg-small" and shipped.model.input_shape == (3, 32, 32)
    contract = shipped.contract
    assert contract.classes == CIFAR10_CLASSES
    assert contract.pipeline == "image" and contract.shape == (3, 32, 32)
    assert len(contract.mean) == 3 and len(contract.std) == 3
    assert shipped.metadata["command"].startswith("cnnviz train --arch vgg-small --data cifar10")
    assert shipped.metadata["status"] == "finished"


def test_the_file_is_at_most_4_mb():
    assert SHIPPED.stat().st_size <= 4 * 1024 * 1024, SHIPPED.stat().st_size


def test_it_reaches_80_percent_on_the_cifar10_test_images(shipped, cifar_dir):
    data = load_image_folder(cifar_dir, shipped.model.input_shape)
    assert len(data.test_y) == 10_000
    x = batch_to_input(data.test_x, shipped.contract)
    result = evaluate(shipped.model, x, data.test_y)
    assert result.accuracy >= 0.80, result.accuracy
