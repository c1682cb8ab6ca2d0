"""Shared pieces of the cnnviz.analysis tests: one BLAS thread, small networks, known weights."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.nn import Conv2D, Dense, Flatten, ReLU, Sequential, Tanh, build_preset


@pytest.fixture(scope="package", autouse=True)
def one_blas_thread():
    """Keep BLAS at one thread here (the machine is shared; small products gain nothing)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


def conv_relu_dense(seed=0, dtype=np.float64, input_shape=(1, 6, 6), classes=3) -> Sequential:
    """Conv 3x3 'same' (2 filters), ReLU, Flatten, Dense: small enough for finite differences."""
    model = Sequential([Conv2D(out_channels=2, kernel_size=3, padding="same"), ReLU(), Flatten(),
                        Dense(out_features=classes)], input_shape=input_shape, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for name, value in model.named_params().items():  # non-zero biases too
        value[...] = rng.standard_normal(value.shape) * 0.5
    return model.astype(dtype)


def smooth_net(seed=0, dtype=np.float64) -> Sequential:
    """Conv, Tanh, Flatten, Dense: a smooth function of the input (for monotone ascent)."""
    model = Sequential([Conv2D(out_channels=3, kernel_size=3, padding="same"), Tanh(), Flatten(),
                        Dense(out_features=4)], input_shape=(1, 8, 8), seed=seed)
    return model.astype(dtype)


@pytest.fixture
def small_net():
    return conv_relu_dense()


@pytest.fixture(scope="module")
def lenet():
    """LeNet-5 with random weights (float32)."""
    return build_preset("lenet5", seed=0)


@pytest.fixture(scope="module")
def digits():
    """Four random 1x28x28 float32 images in [0, 1] with a few bright strokes."""
    rng = np.random.default_rng(7)
    x = rng.random((4, 1, 28, 28), dtype=np.float32) * 0.2
    x[:, :, 6:22, 12:16] = 0.9
    return x


@pytest.fixture(scope="session")
def shipped_model():
    """The pretrained LeNet-5 shipped with cnnviz, or skip."""
    from cnnviz.nn import load_model
    from cnnviz.resources import resource_path

    try:
        return load_model(resource_path("models", "lenet5.npz"))
    except FileNotFoundError:
        pytest.skip("the shipped lenet5.npz is not there")


def linear_net(weight, bias=None, input_shape=(1, 4, 4)) -> Sequential:
    """Flatten then Dense with the given weight (K, C*H*W) and bias (K,)."""
    weight = np.asarray(weight, dtype=np.float64)
    model = Sequential([Flatten(), Dense(out_features=weight.shape[0])], input_shape=input_shape)
    model.layers[1].params["weight"] = weight.copy()
    model.layers[1].params["bias"] = (np.zeros(weight.shape[0]) if bias is None
                                      else np.asarray(bias, dtype=np.float64))
    return model


@pytest.fixture
def nets():
    """The builders above, for tests that need several variants."""
    return {"conv_relu_dense": conv_relu_dense, "smooth": smooth_net, "linear": linear_net}
