"""Fixtures for the tests of cnnviz.data (``mnist_dir`` comes from tests/conftest.py)."""

import pytest


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The real MNIST Dataset, loaded once per session."""
    from cnnviz.data.mnist import load_mnist

    return load_mnist(mnist_dir)
