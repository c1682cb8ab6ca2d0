"""Receptive fields against brute force: which input pixels can change a unit at all."""

import numpy as np
import pytest

from cnnviz.nn import (AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, Tanh,
                       build_preset)


def dilated_net():
    return Sequential([
        Conv2D(out_channels=2, kernel_size=3, dilation=2, padding="same"), ReLU(),
        Conv2D(out_channels=2, kernel_size=2, stride=2, padding=(1, 0)), Tanh(),
        MaxPool2D(3, 2, padding=1), AvgPool2D(2, 1),
        Conv2D(out_channels=2, kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2)), ReLU(),
        Flatten(), Dense(out_features=3),
    ], input_shape=(1, 23, 19), seed=0)


def strided_same_net():
    return Sequential([
        Conv2D(out_channels=2, kernel_size=4, stride=3, padding="same"), ReLU(),
        MaxPool2D(2, 2, padding="same"), Conv2D(out_channels=2, kernel_size=3, padding=2),
    ], input_shape=(2, 17, 20), seed=1)


NETS = {"lenet5": lambda: build_preset("lenet5", seed=0), "dilated": dilated_net,
        "strided-same": strided_same_net}


def influence(model):
    """For every layer, a boolean array (H*W pixels, *layer output) of which pixels move a unit.

    All weights and inputs are made positive, so every unit increases with every pixel it can see
    (ReLU stays active, max-pooling is monotone); a pixel is raised far above the rest, one image
    of the batch per pixel, and any unit whose value changes can see that pixel.
    """
    for layer in model.layers:
        for key, value in layer.params.items():
            layer.params[key] = (np.abs(value) + 0.1).astype(np.float64)
    c, h, w = model.input_shape
    base = np.full((1, c, h, w), 0.5)
    batch = np.repeat(base, h * w, axis=0)
    for p in range(h * w):
        batch[p, :, p // w, p % w] += 100.0
    ref, out = model.trace(base), model.trace(batch)
    return [np.abs(o - r) > 1e-9 for o, r in zip(out[1:], ref[1:])]


@pytest.mark.parametrize("name", NETS)
def test_receptive_field_rectangles_equal_brute_force(name):
    model = NETS[name]()
    h, w = model.input_shape[1:]
    moved = influence(model)
    for index, layer in enumerate(model.layers):
        changed = moved[index]
        if layer.kind == "Flatten" or changed.ndim == 2:
            if model.receptive_field_of(index).global_:
                field = model.receptive_field(index, 0, 0)
                assert field.whole_input
                assert changed.reshape(h * w, -1).any(axis=1).all()
            continue
        _, ho, wo = layer.output_shape
        for y in range(ho):
            for x in range(wo):
                support = changed[:, :, y, x].any(axis=1).reshape(h, w)
                field = model.receptive_field(index, y, x)
                rows, cols = np.nonzero(support)
                assert rows.size, f"layer {index} unit {(y, x)} sees nothing"
                clip = field.clipped
                assert (clip.top, clip.left, clip.bottom, clip.right) == (
                    rows.min(), cols.min(), rows.max(), cols.max()), (name, index, y, x)


@pytest.mark.parametrize("name", NETS)
def test_field_size_and_jump_match_unit_rectangles(name):
    model = NETS[name]()
    for index, layer in enumerate(model.layers):
        info = model.receptive_field_of(index)
        if info.global_:
            continue
        a, b = model.receptive_field(index, 0, 0).rect, model.receptive_field(index, 1, 1).rect
        assert (a.height, a.width) == info.size
        assert (a.top, a.left) == info.start
        assert (b.top - a.top, b.left - a.left) == info.jump


def test_lenet5_fields_match_the_hand_computation():
    model = build_preset("lenet5", seed=0)
    sizes = [model.receptive_field_of(i).size[0] for i in (0, 2, 3, 5)]
    jumps = [model.receptive_field_of(i).jump[0] for i in (0, 2, 3, 5)]
    assert sizes == [5, 6, 14, 16]
    assert jumps == [1, 2, 2, 4]
    corner = model.receptive_field(0, 0, 0)
    assert (corner.rect.top, corner.rect.left) == (-2, -2)
    assert (corner.clipped.top, corner.clipped.bottom) == (0, 2)
    assert model.receptive_field(8, 0, 0).whole_input
