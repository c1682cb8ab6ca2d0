"""Fixtures for the tests of cnnviz.data (``mnist_dir`` comes from tests/conftest.py)."""

import pytest


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The real MNIST Dataset, loaded once per session."""
    from cnnviz.data.mnist import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture
def clean_download_environment(monkeypatch):
    """Talk to 127.0.0.1 directly (no proxy) and start without any CNNVIZ_* data folder."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for var in ("CNNVIZ_CACHE_DIR", "CNNVIZ_MNIST_DIR", "CNNVIZ_CIFAR_DIR"):
        monkeypatch.delenv(var, raising=False)
