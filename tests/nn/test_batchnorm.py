"""Batch normalisation and global average pooling, engine layers: forward and backward in
training and inference mode against a naive float64 loop, finite differences and PyTorch (where
installed); the running statistics through copies, weight snapshots and model files."""

import numpy as np
import pytest

from cnnviz.nn import (BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool2D, ModelError, ReLU,
                       Sequential, load_model, save_model)
from cnnviz.nn.gradcheck import numerical_gradient
from cnnviz.nn.model import layer_from_config


def naive_batchnorm(x, gamma, beta, mean, var, eps):
    """Value by value, in float64: y = gamma (x - mean) / sqrt(var + eps) + beta per channel."""
    y = np.empty(x.shape, np.float64)
    for index in np.ndindex(*x.shape):
        c = index[1]
        y[index] = gamma[c] * (x[index] - mean[c]) / np.sqrt(var[c] + eps) + beta[c]
    return y


def naive_statistics(x):
    """Per channel: the mean and the biased variance over the batch and every position."""
    channels = x.shape[1]
    mean, var = np.zeros(channels), np.zeros(channels)
    for c in range(channels):
        values = [float(v) for v in np.moveaxis(x, 1, 0)[c].reshape(-1)]
        mean[c] = sum(values) / len(values)
        var[c] = sum((v - mean[c]) ** 2 for v in values) / len(values)
    return mean, var


def make_bn(shape, rng, momentum=0.1, eps=1e-5, dtype=np.float64):
    bn = BatchNorm(eps=eps, momentum=momentum)
    bn.build(shape)
    c = shape[0]
    bn.params = {"gamma": rng.uniform(0.5, 2, c).astype(dtype),
                 "beta": rng.standard_normal(c).astype(dtype)}
    bn.state = {"running_mean": rng.standard_normal(c).astype(dtype),
                "running_var": rng.uniform(0.2, 3, c).astype(dtype)}
    return bn


@pytest.mark.parametrize("shape", [(3, 4, 5), (6,)])
def test_forward_matches_a_naive_loop_in_both_modes(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, *shape)) * 3 + 1
    bn = make_bn(shape, rng, momentum=0.3)
    gamma, beta = bn.params["gamma"].copy(), bn.params["beta"].copy()
    rm, rv = bn.state["running_mean"].copy(), bn.state["running_var"].copy()
    # inference: the running statistics
    np.testing.assert_allclose(bn.forward(x, False), naive_batchnorm(x, gamma, beta, rm, rv, 1e-5),
                               rtol=1e-12)
    np.testing.assert_array_equal(bn.state["running_mean"], rm)  # unchanged in inference
    # training: the batch's statistics; the running ones move by momentum (unbiased variance)
    mean, var = naive_statistics(x)
    np.testing.assert_allclose(bn.forward(x, True), naive_batchnorm(x, gamma, beta, mean, var,
                                                                    1e-5), rtol=1e-10, atol=1e-12)
    count = x.size // shape[0]
    np.testing.assert_allclose(bn.state["running_mean"], 0.7 * rm + 0.3 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.state["running_var"],
                               0.7 * rv + 0.3 * var * count / (count - 1), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 3), (5,)])
def test_backward_matches_finite_differences(training, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, *shape))
    bn = make_bn(shape, rng, momentum=0.0)  # momentum 0: repeated forwards change nothing
    dy = rng.standard_normal(x.shape)

    def loss():
        return float((bn.forward(x, training) * dy).sum())

    loss()
    dx = bn.backward(dy)
    grads = {k: v.copy() for k, v in bn.grads.items()}
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name in ("gamma", "beta"):
        np.testing.assert_allclose(grads[name], numerical_gradient(loss, bn.params[name]),
                                   rtol=1e-6, atol=1e-8)


def test_a_batch_of_one_vector_trains_but_leaves_the_running_statistics():
    rng = np.random.default_rng(9)
    bn = make_bn((4,), rng)
    before = {k: v.copy() for k, v in bn.state.items()}
    x = rng.standard_normal((1, 4))
    y = bn.forward(x, training=True)  # normalised by itself: beta
    np.testing.assert_allclose(y, bn.params["beta"][None], atol=1e-12)
    assert np.isfinite(bn.backward(np.ones_like(x))).all()
    for k, v in before.items():
        np.testing.assert_array_equal(bn.state[k], v)
    images = make_bn((4, 2, 2), rng)  # one image has 4 values per channel: it counts
    old_var = images.state["running_var"].copy()
    images.forward(rng.standard_normal((1, 4, 2, 2)), training=True)
    assert not np.allclose(images.state["running_var"], old_var)


def test_input_gradient_only_leaves_parameter_gradients_alone():
    rng = np.random.default_rng(2)
    bn = make_bn((2, 3, 3), rng)
    x = rng.standard_normal((2, 2, 3, 3))
    bn.forward(x, True)
    bn.backward(np.ones_like(x))
    before = {k: v.copy() for k, v in bn.grads.items()}
    bn.need_param_grads = False
    bn.forward(x, False)
    assert bn.backward(np.ones_like(x)).shape == x.shape
    for k in before:
        np.testing.assert_array_equal(bn.grads[k], before[k])


def test_float32_batch_last_memory_matches_float64():
    """After a convolution the data is a batch-last view; the layer keeps it so, in float32."""
    rng = np.random.default_rng(3)
    model = Sequential([Conv2D(out_channels=4, kernel_size=3), BatchNorm(), ReLU()], (2, 7, 7),
                       seed=0)
    x = rng.random((5, 2, 7, 7)).astype(np.float32)
    y32 = model.forward(x, training=True)
    conv = model.layers[0].forward(x.astype(np.float64))
    mean, var = naive_statistics(conv)
    want = np.maximum(naive_batchnorm(conv, np.ones(4), np.zeros(4), mean, var, 1e-5), 0)
    np.testing.assert_allclose(y32, want, atol=2e-5)


# ----------------------------------------------------------------------------- PyTorch
def test_matches_pytorch_forward_backward_and_running_statistics():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((6, 3, 5, 4)) * 2 + 0.5)
    dy = rng.standard_normal(x.shape)
    bn = make_bn((3, 5, 4), rng, momentum=0.2, eps=1e-3)
    ref = torch.nn.BatchNorm2d(3, eps=1e-3, momentum=0.2).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(bn.params["gamma"]))
        ref.bias.copy_(torch.tensor(bn.params["beta"]))
        ref.running_mean.copy_(torch.tensor(bn.state["running_mean"]))
        ref.running_var.copy_(torch.tensor(bn.state["running_var"]))
    for training in (True, True, False):
        ref.train(training)
        xt = torch.tensor(x, requires_grad=True)
        yt = ref(xt)
        yt.backward(torch.tensor(dy))
        y = bn.forward(x, training)
        dx = bn.backward(dy)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(bn.grads["gamma"], ref.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(bn.grads["beta"], ref.bias.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(bn.state["running_mean"], ref.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(bn.state["running_var"], ref.running_var.numpy(), rtol=1e-12)
        ref.zero_grad()


def test_global_average_pool_matches_pytorch_and_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 70, 90))  # beyond the 64x64 window pooling layers take
    pool = GlobalAvgPool2D()
    assert pool.build(x.shape[1:]) == (3, 1, 1)
    want = np.array([[[[np.mean([x[n, c, i, j] for i in range(70) for j in range(90)])]]
                      for c in range(3)] for n in range(2)])
    np.testing.assert_allclose(pool.forward(x), want, rtol=1e-12)
    small = rng.standard_normal((2, 2, 3, 4))
    pool.build(small.shape[1:])
    dy = rng.standard_normal((2, 2, 1, 1))

    def loss():
        return float((pool.forward(small) * dy).sum())

    loss()
    np.testing.assert_allclose(pool.backward(dy), numerical_gradient(loss, small), rtol=1e-7)
    torch = pytest.importorskip("torch")
    xt = torch.tensor(small, requires_grad=True)
    yt = torch.nn.AdaptiveAvgPool2d(1)(xt)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(pool.forward(small), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(pool.backward(dy), xt.grad.numpy(), rtol=1e-12)


def test_global_average_pool_receptive_field_is_the_whole_map():
    model = Sequential([Conv2D(out_channels=2, kernel_size=3), GlobalAvgPool2D(), Flatten(),
                        Dense(out_features=3)], (1, 9, 11), seed=0)
    field = model.receptive_field(1, 0, 0)
    assert (field.rect.height, field.rect.width) == (9, 11)
    assert not field.whole_input  # a window, not a dense layer: the bookkeeping goes through


# ----------------------------------------------------------------------------- the network
def bn_network(seed=0):
    return Sequential([Conv2D(out_channels=3, kernel_size=3, padding="same"), BatchNorm(),
                       ReLU(), GlobalAvgPool2D(), Flatten(), Dense(out_features=4),
                       BatchNorm(momentum=0.5)], (2, 6, 6), seed=seed)


def test_running_statistics_travel_with_the_weights(tmp_path):
    rng = np.random.default_rng(6)
    model = bn_network()
    x = rng.random((8, 2, 6, 6)).astype(np.float32)
    for _ in range(3):
        model.forward(x, training=True)
    state = model.named_state()
    assert set(state) == {"1.running_mean", "1.running_var", "6.running_mean", "6.running_var"}
    assert "1.running_mean" not in model.named_params()  # never given to the optimiser
    assert model.param_count() == 2 * 3 * 9 + 3 + 2 * 3 + 3 * 4 + 4 + 2 * 4
    assert not np.allclose(state["1.running_var"], 1.0)
    # copies and snapshots
    clone = model.copy()
    np.testing.assert_array_equal(clone.forward(x), model.forward(x))
    clone.forward(x * 3, training=True)
    assert not np.array_equal(clone.named_state()["1.running_mean"], state["1.running_mean"])
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.forward(x), model.forward(x))
    # model files
    path = save_model(model, tmp_path / "bn.npz")
    loaded = load_model(path)
    for name, value in model.named_weights().items():
        np.testing.assert_array_equal(loaded.named_weights()[name], value)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


def test_inference_output_of_one_image_does_not_depend_on_the_batch():
    rng = np.random.default_rng(7)
    model = bn_network()
    x = rng.random((5, 2, 6, 6)).astype(np.float32)
    model.forward(x, training=True)
    together = model.forward(x)
    alone = np.concatenate([model.forward(x[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_model_file_checks_the_statistics(tmp_path):
    import zipfile

    model = bn_network()
    path = save_model(model, tmp_path / "bn.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    from cnnviz.nn import ModelFileError
    for change, message in ((lambda a: a.pop("params/1.running_var"), "missing parameter"),
                            (lambda a: a.__setitem__("params/1.running_var",
                                                     -np.ones(3, np.float32)), "negative"),
                            (lambda a: a.__setitem__("params/6.running_mean",
                                                     np.full(4, np.nan, np.float32)), "NaN")):
        bad = dict(arrays)
        change(bad)
        target = tmp_path / "bad.npz"
        np.savez(target, **bad)
        assert zipfile.is_zipfile(target)
        with pytest.raises(ModelFileError, match=message):
            load_model(target)


@pytest.mark.parametrize("settings, message", [({"eps": 0}, "eps"), ({"momentum": 2}, "momentum"),
                                               ({"num_features": 0}, "num_features")])
def test_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ModelError, match=message):
        layer_from_config({"kind": "BatchNorm", **settings})


def test_wrong_input_is_refused_in_words():
    with pytest.raises(ModelError, match="expects 5 channels"):
        Sequential([Conv2D(out_channels=3, kernel_size=1), BatchNorm(num_features=5)], (1, 4, 4))
    with pytest.raises(ModelError, match="GlobalAvgPool2D needs an image"):
        Sequential([Flatten(), GlobalAvgPool2D()], (1, 4, 4))


def test_analysis_gradients_go_through_the_running_statistics():
    """Saliency (the input gradient) of a class score through batch normalisation in inference,
    against finite differences in float64; Grad-CAM at the normalised maps runs and leaves the
    running statistics alone."""
    from cnnviz.analysis.gradcam import grad_cam
    from cnnviz.analysis.saliency import vanilla_gradient

    rng = np.random.default_rng(8)
    model = bn_network()
    model.forward(rng.random((8, 2, 6, 6), dtype=np.float32), training=True)
    model.astype(np.float64)
    before = {k: v.copy() for k, v in model.named_state().items()}
    x = rng.random((2, 6, 6))
    grad = vanilla_gradient(model, x, 2)
    probe = x[None].copy()
    numeric = numerical_gradient(lambda: float(model.forward(probe)[0, 2]), probe)[0]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    cam = grad_cam(model, x, 2, target=1)
    assert np.isfinite(np.asarray(cam.heatmap)).all()
    for name, value in before.items():
        np.testing.assert_array_equal(model.named_state()[name], value)
