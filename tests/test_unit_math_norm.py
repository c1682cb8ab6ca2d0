"""The unit maths of batch normalisation, global average pooling and average pooling that counts
its padding (``cnnviz.display.explain_unit``), each number against a naive float64 loop and the
trace."""

import math

import numpy as np
import pytest

from cnnviz.display import explain_unit
from cnnviz.nn import (AvgPool2D, BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool2D, ReLU,
                       Sequential)


def bn_net():
    net = Sequential([Conv2D(out_channels=3, kernel_size=3, padding=1), BatchNorm(eps=1e-3),
                      ReLU(), AvgPool2D(3, 2, padding=1, count_include_pad=True),
                      GlobalAvgPool2D(), Flatten(), Dense(out_features=2)], (2, 9, 8), seed=1)
    rng = np.random.default_rng(2)
    bn = net.layers[1]
    bn.params = {"gamma": np.array([1.5, -0.7, 0.9], np.float32),
                 "beta": np.array([0.2, 0.1, -0.3], np.float32)}
    bn.state = {"running_mean": np.array([0.1, -0.2, 0.05], np.float32),
                "running_var": np.array([0.5, 2.0, 0.04], np.float32)}
    return net, rng.random((1, 2, 9, 8), dtype=np.float32)


def trace(net, x):
    return [a[0] for a in net.trace(x)]


@pytest.mark.parametrize("unit", [(0, 0, 0), (1, 4, 5), (2, 8, 7)])
def test_a_batch_norm_unit_shows_its_channels_numbers(unit):
    net, x = bn_net()
    acts = trace(net, x)
    for index in (2, 3):  # the normalisation itself, and the ReLU after it
        explanation = explain_unit(net, acts, index, unit)
        assert [kind for _, kind, _ in explanation.steps] == ["Conv2D", "BatchNorm", "ReLU"][
            :index]
        norm = explanation.norms[1]
        c, y, x0 = unit
        gamma, beta, mean, var = (float(np.float32(v[c])) for v in (
            [1.5, -0.7, 0.9], [0.2, 0.1, -0.3], [0.1, -0.2, 0.05], [0.5, 2.0, 0.04]))
        assert (norm.gamma, norm.beta, norm.mean, norm.var, norm.eps) == pytest.approx(
            (gamma, beta, mean, var, 1e-3))
        conv_value = float(acts[1][c, y, x0])
        assert norm.value == conv_value == explanation.steps[0][2]
        want = gamma * (conv_value - mean) / math.sqrt(var + 1e-3) + beta
        assert norm.result == pytest.approx(want, rel=1e-12)
        assert norm.result == pytest.approx(float(acts[2][c, y, x0]), rel=1e-5, abs=1e-6)
        assert explanation.value == pytest.approx(float(acts[index][c, y, x0]))


@pytest.mark.parametrize("unit", [(0, 0, 0), (1, 2, 1), (2, 4, 3)])
def test_an_average_counting_its_padding_divides_by_the_whole_window(unit):
    """The corner unit of a 3x3 window with padding 1 reads 4 pixels and 5 padded zeros: the
    engine (PyTorch's default) divides by 9."""
    net, x = bn_net()
    acts = trace(net, x)
    explanation = explain_unit(net, acts, 4, unit)
    c, y, x0 = unit
    source = acts[3][c]
    total, taps = 0.0, 0
    for i in range(3):
        for j in range(3):
            r, col = 2 * y - 1 + i, 2 * x0 - 1 + j
            taps += 1
            if 0 <= r < source.shape[0] and 0 <= col < source.shape[1]:
                total += float(source[r, col])
    assert explanation.terms.divisor == taps == 9
    assert explanation.terms.result == pytest.approx(total / 9, rel=1e-12)
    assert explanation.terms.result == pytest.approx(float(acts[4][c, y, x0]), rel=1e-5)
    if unit == (0, 0, 0):
        assert explanation.terms.padded.sum() == 5


def test_an_average_without_counting_the_padding_divides_by_the_taps_inside():
    net = Sequential([AvgPool2D(3, 2, padding=1)], (1, 5, 5), seed=0)
    x = np.random.default_rng(3).random((1, 1, 5, 5), dtype=np.float32)
    acts = trace(net, x)
    terms = explain_unit(net, acts, 1, (0, 0, 0)).terms
    assert terms.divisor == 4
    assert terms.result == pytest.approx(float(x[0, 0, :2, :2].astype(np.float64).mean()))
    assert terms.result == pytest.approx(float(acts[1][0, 0, 0]), rel=1e-6)


def test_a_global_average_unit_is_the_mean_of_its_whole_map():
    net, x = bn_net()
    acts = trace(net, x)
    explanation = explain_unit(net, acts, 5, (2, 0, 0))
    terms = explanation.terms
    source = acts[4][2]
    assert terms.kind == "GlobalAvgPool2D" and terms.divisor == source.size
    want = sum(float(v) for v in source.reshape(-1)) / source.size
    assert terms.result == pytest.approx(want, rel=1e-12)
    assert terms.result == pytest.approx(float(acts[5][2, 0, 0]), rel=1e-6)
