"""The nine test images that excite a unit most, cut to the unit's receptive field."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.analysis import Cancelled, TopPatch, top_patches, window_crop
from cnnviz.display import unit_windows
from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, build_preset
from cnnviz.nn.model import Rect


def strided_net(seed=0) -> Sequential:
    """Padding, stride and pooling, so that fields grow, jump and leave the image."""
    model = Sequential([Conv2D(out_channels=4, kernel_size=3, padding=1), ReLU(),
                        Conv2D(out_channels=5, kernel_size=3, stride=2, padding=2), ReLU(),
                        MaxPool2D(size=2), Flatten(), Dense(out_features=6)],
                       input_shape=(3, 13, 11), seed=seed)
    rng = np.random.default_rng(seed + 7)
    for value in model.named_params().values():
        value[...] = rng.standard_normal(value.shape) * 0.4
    return model


def naive_top(model, inputs, layer, channel, k):
    """Per image, the channel's largest value and its first position, by plain loops over the
    full trace; then the k largest, ties to the earlier image."""
    rows = []
    for i in range(len(inputs)):
        out = model.trace(inputs[i:i + 1])[layer + 1][0]
        if out.ndim == 1:
            rows.append((float(out[channel]), i, None))
            continue
        best, where = -np.inf, None
        for y in range(out.shape[1]):
            for x in range(out.shape[2]):
                if out[channel, y, x] > best:
                    best, where = float(out[channel, y, x]), (y, x)
        rows.append((best, i, where))
    rows.sort(key=lambda row: (-row[0], row[1]))
    return rows[:k]


def reference_crop(model, picture, layer, unit, fill):
    """The window of ``unit`` (channel, row, col) from display.unit_windows' own walk back
    through the layers, cut from the picture padded far out with ``fill``."""
    top, left, bottom, right = unit_windows(model, layer + 1, unit)[0].span
    margin = 64
    padded = np.stack([np.pad(plane, margin, constant_values=f)
                       for plane, f in zip(picture, np.broadcast_to(fill, len(picture)))])
    return padded[:, top + margin:bottom + margin + 1, left + margin:right + margin + 1]


def random_set(model, n, seed=0):
    rng = np.random.default_rng(seed)
    pictures = rng.random((n,) + model.input_shape).astype(np.float32)
    return pictures, (pictures - 0.45) / 0.25


@pytest.mark.parametrize("layer", [1, 3, 4, 6])
def test_top_nine_are_the_largest_activations_and_crops_are_the_fields(layer):
    model = strided_net()
    pictures, inputs = random_set(model, 30)
    fill = (0.45, 0.5, 0.55)
    result = top_patches(model, inputs, pictures, layer, k=9, fill=fill, batch_size=7)
    shape = model.layers[layer].output_shape
    assert len(result) == shape[0]
    left_image = 0
    for channel, patches in enumerate(result):
        expected = naive_top(model, inputs, layer, channel, 9)
        assert [p.image for p in patches] == [row[1] for row in expected]
        np.testing.assert_allclose([p.value for p in patches], [row[0] for row in expected],
                                   rtol=1e-5, atol=1e-6)
        for patch, (_, image, where) in zip(patches, expected):
            assert isinstance(patch, TopPatch)
            if where is None:  # a dense unit: the whole image
                assert patch.position is None
                np.testing.assert_array_equal(patch.crop, pictures[image])
                continue
            assert patch.position == where
            np.testing.assert_array_equal(
                patch.crop, reference_crop(model, pictures[image], layer, (channel,) + where,
                                           fill))
            size = model.receptive_field_of(layer).size
            assert patch.crop.shape == (3,) + tuple(size)
            h, w = model.input_shape[1:]
            r = patch.rect
            left_image += r.top < 0 or r.left < 0 or r.bottom >= h or r.right >= w
    if len(shape) == 3:
        assert left_image > 0  # the padded case is exercised


def test_the_result_does_not_depend_on_the_batch_size_and_ties_go_to_the_earlier_image():
    model = strided_net(seed=3)
    pictures, inputs = random_set(model, 6, seed=4)
    pictures = np.concatenate([pictures, pictures])  # every value twice: ties everywhere
    inputs = np.concatenate([inputs, inputs])
    runs = [top_patches(model, inputs, pictures, 3, k=4, batch_size=b) for b in (1, 5, 100)]
    for run in runs[1:]:
        assert [[p.image for p in ps] for ps in run] == [[p.image for p in ps] for ps in runs[0]]
    for patches in runs[0]:
        for first, second in zip(patches[0::2], patches[1::2]):
            assert first.value == second.value and first.image + 6 == second.image


def test_a_digit_network_over_a_small_set():
    model = build_preset("lenet5", seed=0)
    pictures, inputs = random_set(model, 12, seed=1)
    layer = 2  # after the first convolution and its activation, or its pooling
    result = top_patches(model, inputs, pictures, layer, channels=[1, 4], k=9)
    assert len(result) == 2 and all(len(p) == 9 for p in result)
    for channel, patches in zip([1, 4], result):
        expected = naive_top(model, inputs, layer, channel, 9)
        assert [p.image for p in patches] == [row[1] for row in expected]
        for patch, (_, image, where) in zip(patches, expected):
            np.testing.assert_array_equal(
                patch.crop, reference_crop(model, pictures[image], layer, (channel,) + where, 0.0))


def test_fewer_images_than_k_and_colour_preset():
    model = build_preset("vgg-small", seed=0)
    pictures, inputs = random_set(model, 4, seed=2)
    result = top_patches(model, inputs, pictures, 8, channels=[0], k=9)
    assert len(result[0]) == 4
    assert sorted(p.image for p in result[0]) == [0, 1, 2, 3]
    assert result[0][0].crop.shape == (3, 14, 14)


def test_window_crop_pads_outside_the_picture():
    picture = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    crop = window_crop(picture, Rect(-1, 2, 1, 5), fill=(-1.0, -2.0))
    assert crop.shape == (2, 3, 4)
    np.testing.assert_array_equal(crop[0, 0], [-1, -1, -1, -1])
    np.testing.assert_array_equal(crop[1, 1:, :2], picture[1, :2, 2:])
    np.testing.assert_array_equal(crop[1, 1:, 2:], -2.0)
    far = window_crop(picture, Rect(5, 5, 6, 6), fill=0.5)
    np.testing.assert_array_equal(far, 0.5)


def test_progress_reports_images_and_cancels():
    model = strided_net()
    pictures, inputs = random_set(model, 10)
    seen = []
    top_patches(model, inputs, pictures, 1, batch_size=4,
                progress=lambda done, total: seen.append((done, total)))
    assert seen == [(4, 10), (8, 10), (10, 10)]
    with pytest.raises(Cancelled):
        top_patches(model, inputs, pictures, 1, batch_size=4, progress=lambda d, t: False)


def test_bad_arguments_are_refused():
    model = strided_net()
    pictures, inputs = random_set(model, 3)
    with pytest.raises(IndexError):
        top_patches(model, inputs, pictures, 7)
    with pytest.raises(IndexError):
        top_patches(model, inputs, pictures, 1, channels=[4])
    with pytest.raises(ValueError):
        top_patches(model, inputs, pictures[:2], 1)


def test_the_images_searched_are_spread_over_a_set_read_class_by_class():
    """A test set read from class folders comes class after class: the first 1,000 of CIFAR-10's
    test images are all airplanes. The gallery searches images spread over the whole set."""
    from cnnviz.analysis.top_patches import spread

    labels = np.repeat(np.arange(10), 1000)  # class by class, as a folder is read
    chosen = spread(len(labels), 1000)
    assert len(chosen) == 1000 and len(set(chosen.tolist())) == 1000
    assert np.bincount(labels[chosen], minlength=10).tolist() == [100] * 10
    assert spread(50, 1000).tolist() == list(range(50))
    assert spread(10, 3).tolist() == [0, 4, 9]
