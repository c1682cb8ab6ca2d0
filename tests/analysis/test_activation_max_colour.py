"""Activation maximisation for colour networks: the input range through the contract, the
frequency penalty, the smoothness figure, and the ascent on the unit's field only."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.analysis import (field_crop, gallery, high_frequency_share, input_range, maximize,
                             settings_for, to_picture)
from cnnviz.analysis.activation_max import (field_network, filter_targets, frequency_filter,
                                            frequency_weights)
from cnnviz.analysis.target import target_values
from cnnviz.nn import Conv2D, MaxPool2D, ReLU, Sequential, build_preset
from cnnviz.nn.contract import InputContract

CONTRACT = InputContract(shape=(3, 16, 16), classes=tuple("abc"), pipeline="image",
                         mean=(0.5, 0.4, 0.3), std=(0.25, 0.2, 0.3))
PLAIN = dict(l2=0.0, blur_every=0, jitter=0, freq_decay=0.0)


def colour_net(seed=0) -> Sequential:
    """Strides, 'same' padding with stride 2 (size-dependent padding) and pooling."""
    model = Sequential([Conv2D(out_channels=4, kernel_size=3, padding="same"), ReLU(),
                        Conv2D(out_channels=6, kernel_size=3, stride=2, padding="same"), ReLU(),
                        MaxPool2D(size=2), Conv2D(out_channels=5, kernel_size=3, padding=1)],
                       input_shape=(3, 32, 32), seed=seed)
    return model.astype(np.float64)


def test_input_range_and_pictures_follow_the_contract():
    low, high = input_range(CONTRACT)
    np.testing.assert_allclose(low, [(0 - m) / s for m, s in zip(CONTRACT.mean, CONTRACT.std)])
    np.testing.assert_allclose(high, [(1 - m) / s for m, s in zip(CONTRACT.mean, CONTRACT.std)])
    assert input_range(None) == (0.0, 1.0)
    x = np.random.default_rng(0).standard_normal((3, 4, 4)).astype(np.float32)
    picture = to_picture(x, CONTRACT)
    for ch in range(3):
        np.testing.assert_allclose(picture[ch], x[ch] * CONTRACT.std[ch] + CONTRACT.mean[ch],
                                   rtol=1e-6)


def test_per_channel_clipping_keeps_the_picture_in_0_1():
    model = Sequential([Conv2D(out_channels=2, kernel_size=3, padding=1)],
                       input_shape=(3, 16, 16), seed=1)
    result = maximize(model, filter_targets(model, 0, [1])[0], steps=30, lr=0.5,
                      clip=input_range(CONTRACT))
    picture = to_picture(result.image, CONTRACT)
    assert picture.min() >= -1e-6 and picture.max() <= 1 + 1e-6
    # The bound is reached on some channel (lr 0.5 for 30 steps pushes pixels to the limits),
    # and that bound is the channel's own.
    low, high = (np.asarray(v)[:, None, None] for v in input_range(CONTRACT))
    at_bound = np.isclose(result.image, low, atol=1e-5) | np.isclose(result.image, high,
                                                                      atol=1e-5)
    assert at_bound.any()
    with pytest.raises(ValueError):
        maximize(model, filter_targets(model, 0, [0])[0], steps=1, clip=((0, 0, 1), (1, 1, 0)))


def test_the_frequency_penalty_weighs_each_sinusoid_by_its_frequency():
    h = w = 32
    yy, xx = np.mgrid[0:h, 0:w]
    for ky, kx, decay in ((0, 1, 1.0), (3, 4, 1.5), (8, 0, 2.0)):
        wave = np.cos(2 * np.pi * (ky * yy / h + kx * xx / w))
        f = np.hypot(ky / h, kx / w)
        expected = wave * (f / (1 / 32)) ** -decay  # closed form: 1 / f ** decay, 1 at f_min
        np.testing.assert_allclose(frequency_filter(wave[None], decay)[0], expected, atol=1e-9)
    assert frequency_weights(8, 8, 1.0)[0, 0] == 1.0  # the mean is kept
    x = np.random.default_rng(0).random((2, 3, 8, 8))
    np.testing.assert_array_equal(frequency_filter(x, 0.0), x)


def test_high_frequency_share_closed_forms():
    h = w = 32
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = np.cos(2 * np.pi * 2 * yy / h)            # 0.0625 cycles per pixel
    rough = np.cos(2 * np.pi * 12 * xx / w)             # 0.375 cycles per pixel
    assert high_frequency_share(smooth) == pytest.approx(0.0, abs=1e-12)
    assert high_frequency_share(rough) == pytest.approx(1.0)
    assert high_frequency_share(smooth + rough) == pytest.approx(0.5)
    assert high_frequency_share(np.full((h, w), 3.0)) == 0.0
    # White noise: about the share of the frequency plane above 0.25 cycles per pixel.
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    area = np.mean(np.hypot(fy, fx) > 0.25)
    noise = np.random.default_rng(0).standard_normal((40, h, w))
    assert high_frequency_share(noise) == pytest.approx(area, abs=0.02)


@pytest.mark.parametrize("layer", [1, 3, 4, 5])
def test_the_field_network_computes_the_unit_from_its_window(layer):
    model = colour_net()
    shape = model.layers[layer].output_shape
    targets = [t for t in filter_targets(model, layer)]
    field = field_network(model, targets)
    assert field is not None
    small, goals, window = field
    assert small.input_shape[1] * small.input_shape[2] < 32 * 32
    x = np.random.default_rng(5).standard_normal((3, 3, 32, 32))
    full = model.trace(x)[layer + 1][:, :, shape[1] // 2, shape[2] // 2]
    part = small.trace(np.ascontiguousarray(x[(slice(None),) + window]))[layer + 1]
    for i, goal in enumerate(goals):
        np.testing.assert_allclose(part[:, goal.index[0], goal.index[1], goal.index[2]],
                                   full[:, i], rtol=1e-10)


def test_plain_ascent_on_the_field_equals_ascent_on_the_whole_input():
    model = colour_net(seed=2)
    # Plain gradient steps (no normalisation, no jitter): the gradient is zero outside the
    # field, so both ascents move the same pixels by the same amounts.
    options = dict(PLAIN, steps=15, lr=0.05, normalize=False, clip=None)
    fast = gallery(model, 3, **options)
    slow = gallery(model, 3, field_only=False, **options)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.image, b.image, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a.history, b.history, rtol=1e-8, atol=1e-10)
        assert a.value == pytest.approx(float(target_values(model, a.image[None],
                                                            [a.target])[0]))


def test_no_field_network_for_maps_sums_dense_units_or_a_field_covering_the_input():
    model = build_preset("vgg-small", seed=0)
    assert field_network(model, filter_targets(model, 8, objective="channel")) is None
    assert field_network(model, filter_targets(model, 12)) is None
    small, _, _ = field_network(model, filter_targets(model, 8))
    assert small.input_shape[1:] == (16, 16)  # 14x14 field, aligned to the jump of 2


def test_regularised_colour_ascent_is_smoother_and_still_strong():
    """The colour settings against plain ascent on vgg-small (random weights), layer 8 (fields
    of 14x14): much less energy at high frequencies, still far above random pictures."""
    model = build_preset("vgg-small", seed=0)
    contract = InputContract(shape=(3, 32, 32), classes=tuple("abcdefghij"), pipeline="image",
                             mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    layer, channels = 8, [0, 1, 2, 3]
    options = settings_for(model, contract, layer)
    assert options["freq_decay"] > 0 and options["blur_every"] == 0
    options["steps"] = 30
    targets = filter_targets(model, layer, channels)
    pictures = np.random.default_rng(0).random((16, 3, 32, 32)).astype(np.float32)
    mean, std = (np.asarray(v, np.float32)[:, None, None] for v in (contract.mean, contract.std))
    # Each unit on each of 16 random pictures: the best of them.
    base = np.max([target_values(model, (pictures - mean) / std, [t] * 16) for t in targets],
                  axis=1)
    smooth = gallery(model, layer, channels, **options)
    plain = gallery(model, layer, channels, **dict(options, **PLAIN))

    def share(results):
        return high_frequency_share(np.stack([to_picture(field_crop(model, r), contract)
                                              for r in results]))

    assert share(smooth) < 0.5 * share(plain)
    assert share(smooth) < 0.5 * high_frequency_share(pictures[:, :, 9:23, 9:23])
    # Still far above what random pictures reach (a trained vgg-small: ~100 times their mean).
    assert all(r.value > 1.5 * max(b, 1e-2) for r, b in zip(smooth, base)), \
        ([r.value for r in smooth], base)


def test_small_fields_are_not_regularised():
    model = build_preset("vgg-small", seed=0)
    assert model.receptive_field_of(1).size == (3, 3)
    small = settings_for(model, None, 1)
    assert small["jitter"] == 0 and small.get("freq_decay", 0.0) == 0
    assert settings_for(model, None, 12)["freq_decay"] > 0  # a dense unit sees the whole input
    assert settings_for(build_preset("lenet5", seed=0), None, 1) == {}  # digits: the defaults
    assert settings_for(build_preset("lenet5", seed=0), CONTRACT)["clip"] == \
        input_range(CONTRACT)
