"""Sequential's views: trace, unit gradients, weights, copies, summaries and construction errors."""

import numpy as np
import pytest

from cnnviz.nn import (Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelError, ReLU, Sequential,
                       StepLR, SGD, build_preset, format_summary, make_optimizer)
from cnnviz.nn.gradcheck import numerical_gradient
from cnnviz.nn.initializers import initialize


def small_net(seed=0):
    return Sequential([Conv2D(out_channels=3, kernel_size=3, padding="same"), ReLU(), MaxPool2D(2),
                       Flatten(), Dense(out_features=4)], input_shape=(1, 6, 6), seed=seed)


def test_trace_holds_input_and_every_layer_output():
    model = build_preset("lenet5", seed=0)
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    trace = model.trace(x)
    assert len(trace) == len(model.layers) + 1
    assert trace[0] is not None and np.array_equal(trace[0], x)
    for out, layer in zip(trace[1:], model.layers):
        assert out.shape == (3,) + layer.output_shape and out.dtype == np.float32
    np.testing.assert_array_equal(trace[-1], model.forward(x))
    np.testing.assert_allclose(trace[2], np.maximum(trace[1], 0))


def test_predict_proba_is_softmax_of_logits():
    model = build_preset("tiny", seed=0)
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    p = model.predict_proba(x)
    z = model.forward(x).astype(np.float64)
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x), expected.argmax(axis=1))


@pytest.mark.parametrize("layer,kwargs", [(0, {"index": (1, 2, 3)}), (0, {"channel": 2}),
                                          (2, {"index": (0, 1, 1)}), (-1, {"index": (3,)}),
                                          (1, {"channel": 0})])
def test_input_gradient_matches_finite_differences(layer, kwargs):
    model = small_net().astype(np.float64)
    x = np.random.default_rng(1).standard_normal((1, 1, 6, 6))
    grad = model.input_gradient(x, layer=layer, **kwargs)

    def value():
        out = model.trace(x)[model._layer_index(layer) + 1][0]
        return out[kwargs["channel"]].sum() if "channel" in kwargs else out[kwargs["index"]]

    np.testing.assert_allclose(grad, numerical_gradient(value, x), rtol=1e-5, atol=1e-8)


def test_input_gradient_needs_exactly_one_target():
    with pytest.raises(ValueError):
        small_net().input_gradient(np.zeros((1, 1, 6, 6)), layer=0)


def test_copy_is_independent_and_equal():
    model = small_net()
    clone = model.copy()
    x = np.random.default_rng(2).random((2, 1, 6, 6), dtype=np.float32)
    np.testing.assert_array_equal(clone.forward(x), model.forward(x))
    clone.layers[0].params["weight"][:] = 0
    assert not np.array_equal(clone.forward(x), model.forward(x))


def test_set_weights_checks_names_and_shapes_and_copies():
    model = small_net()
    weights = model.get_weights()
    weights["0.weight"] += 1
    model.set_weights(weights)
    expected = weights["0.weight"].copy()
    weights["0.weight"] += 1  # the model must not see later changes of the caller's arrays
    np.testing.assert_array_equal(model.named_params()["0.weight"], expected)
    with pytest.raises(ModelError, match="missing"):
        model.set_weights({k: v for k, v in weights.items() if k != "4.bias"})
    bad = dict(weights, **{"4.bias": np.zeros(5, np.float32)})
    with pytest.raises(ModelError, match="shape"):
        model.set_weights(bad)


def test_config_round_trip_rebuilds_the_same_architecture():
    model = build_preset("lenet5", seed=0)
    again = Sequential.from_config(model.config(), seed=1)
    assert again.config() == model.config()
    assert [l.output_shape for l in again.layers] == [l.output_shape for l in model.layers]


@pytest.mark.parametrize("layers,fragment", [
    ([Dense(out_features=3)], "flat input"),
    ([Flatten(), Conv2D(out_channels=2)], "image input"),
    ([Conv2D(out_channels=2, kernel_size=9)], "does not fit"),
    ([Conv2D(in_channels=3, out_channels=2)], "expects 3 input channels"),
    ([MaxPool2D(2, padding=2)], "smaller than the window"),
])
def test_bad_architectures_are_explained(layers, fragment):
    with pytest.raises(ModelError, match=fragment):
        Sequential(layers, input_shape=(1, 6, 6))


def test_input_shape_is_checked():
    with pytest.raises(ModelError, match="expects inputs of shape"):
        small_net().forward(np.zeros((1, 1, 5, 6), np.float32))


def test_summary_counts_parameters_and_shows_fields():
    model = build_preset("lenet5", seed=0)
    rows = model.summary()
    assert sum(r["params"] for r in rows) == model.param_count() == 61706
    assert rows[3]["output_shape"] == (16, 10, 10)
    text = format_summary(model)
    assert "61,706" in text and "whole input" in text and "MaxPool2D" in text


def test_dropout_is_active_only_in_training_inside_a_network():
    model = Sequential([Flatten(), Dropout(0.5, seed=0), Dense(out_features=2)], (1, 4, 4), seed=0)
    x = np.ones((8, 1, 4, 4), np.float32)
    np.testing.assert_array_equal(model.forward(x), model.forward(x))
    assert not np.array_equal(model.forward(x, training=True), model.forward(x))


@pytest.mark.parametrize("name,check", [
    ("glorot_uniform", lambda w: np.abs(w).max() <= np.sqrt(6 / (27 + 48))),
    ("he_normal", lambda w: abs(w.std() - np.sqrt(2 / 27)) < 0.02 and np.abs(w).max() <= 2 * np.sqrt(2 / 27) / 0.8796 + 1e-6),
    ("uniform", lambda w: -0.5 <= w.min() and w.max() <= 0.5 and w.std() > 0.25),
    ("zeros", lambda w: not w.any()),
])
def test_initialisers(name, check):
    w = initialize(name, (16, 3, 3, 3) if name != "he_normal" else (2000, 3, 3, 3),
                   np.random.default_rng(0))
    assert w.dtype == np.float32 and check(w)


def test_explicit_initial_weights_are_used():
    w = np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3)
    layer = Conv2D(out_channels=2, kernel_size=3, weight_init=w)
    layer.build((1, 5, 5))
    np.testing.assert_array_equal(layer.params["weight"], w)
    with pytest.raises(ModelError):
        Conv2D(out_channels=3, kernel_size=3, weight_init=w).build((1, 5, 5))


def test_step_schedule_and_optimiser_factory():
    opt = make_optimizer("sgd", lr=0.1, momentum=0.9, beta1=0.5)
    assert isinstance(opt, SGD) and opt.momentum == 0.9
    sched = StepLR(opt, step_size=2, gamma=0.5)
    assert [sched.step() for _ in range(4)] == [0.1, 0.05, 0.05, 0.025]
    with pytest.raises(ValueError):
        make_optimizer("rmsprop", lr=0.1)


def test_sgd_decreases_the_loss_on_a_small_problem():
    from cnnviz.nn import SoftmaxCrossEntropy
    rng = np.random.default_rng(0)
    x = rng.random((32, 1, 6, 6), dtype=np.float32)
    y = (x[:, 0, :3].mean(axis=(1, 2)) > x[:, 0, 3:].mean(axis=(1, 2))).astype(int)
    model, opt, loss = small_net(), SGD(lr=0.5, momentum=0.9), SoftmaxCrossEntropy()
    first = None
    for _ in range(60):
        value, grad = loss(model.forward(x, training=True), y)
        first = value if first is None else first
        model.backward(grad)
        opt.step(model.named_params(), model.named_grads())
    assert value < 0.5 * first


def test_input_gradient_leaves_parameter_gradients_alone():
    model = small_net()
    x = np.random.default_rng(3).random((2, 1, 6, 6), dtype=np.float32)
    from cnnviz.nn import SoftmaxCrossEntropy
    _, d = SoftmaxCrossEntropy()(model.forward(x, training=True), np.array([0, 1]))
    model.backward(d)
    before = {k: v.copy() for k, v in model.named_grads().items()}
    model.input_gradient(x, layer=-1, index=(2,))
    for name, value in model.named_grads().items():
        np.testing.assert_array_equal(value, before[name])
    assert all(layer.need_param_grads for layer in model.layers)


def test_trace_reports_each_layer_and_a_raising_callback_stops_it():
    model = build_preset("lenet5", seed=0)
    x = np.random.default_rng(0).random((1, 1, 28, 28)).astype(np.float32)
    seen = []
    outputs = model.trace(x, lambda done, total: seen.append((done, total)))
    n = len(model.layers)
    assert seen == [(i, n) for i in range(1, n + 1)]
    for a, b in zip(outputs, model.trace(x)):
        np.testing.assert_array_equal(a, b)

    class Stop(Exception):
        pass

    def stop_after_two(done, total):
        if done == 2:
            raise Stop
    with pytest.raises(Stop):
        model.trace(x, stop_after_two)


def test_a_clone_sharing_weights_copies_none_and_keeps_its_own_caches():
    model = build_preset("lenet5", seed=0)
    clone = model.sharing_weights()
    for name, value in clone.named_params().items():
        assert value is model.named_params()[name]  # the same arrays, not copies
    rng = np.random.default_rng(1)
    a, b = (rng.random((1, 1, 28, 28)).astype(np.float32) for _ in range(2))
    expected = model.input_gradient(a, -1, index=(3,))
    # The clone's pass on another input leaves the model's caches alone (and the other way).
    model.forward(a)
    clone.forward(b)
    assert model.layers[-1]._x is not clone.layers[-1]._x
    np.testing.assert_allclose(clone.input_gradient(a, -1, index=(3,)), expected, rtol=1e-6)
    np.testing.assert_array_equal(clone.forward(b), model.forward(b))
    # A parameter replaced in the model (as the window does) is not seen by the clone.
    old = clone.forward(b)
    model.layers[-1].params["bias"] = model.layers[-1].params["bias"] + 1
    np.testing.assert_array_equal(clone.forward(b), old)
    np.testing.assert_allclose(model.forward(b), old + 1, rtol=1e-6)
