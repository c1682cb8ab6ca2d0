"""Activation maximisation: ascent raises the target, follows the weights, galleries, cancelling."""

import numpy as np
import pytest

from cnnviz.analysis import (Cancelled, Target, field_crop, filter_targets, gallery, maximize,
                             target_values)
from cnnviz.analysis.activation_max import AscentSettings

PLAIN = dict(l2=0.0, blur_every=0, jitter=0, clip=None)      # no regularisation at all


def test_the_target_rises_monotonically_without_regularisation(nets):
    model = nets["smooth"](seed=1)
    for target in (Target.for_class(2), Target.unit(1, (1, 3, 4)), Target.feature_map(0, 2)):
        result = maximize(model, target, steps=60, lr=0.01, **PLAIN)
        assert len(result.history) == 61
        assert np.all(np.diff(result.history) > 0), target
        assert result.value == pytest.approx(target_values(model, result.image[None], target)[0])


@pytest.mark.parametrize("normalize", [True, False])
def test_relu_lenet_target_rises_monotonically_with_small_steps(lenet, normalize):
    model = lenet.copy().astype(np.float64)
    lr = 0.002 if normalize else 0.01
    result = maximize(model, 5, steps=40, lr=lr, normalize=normalize, **PLAIN)
    assert np.all(np.diff(result.history) > 0)


def test_a_class_of_a_linear_net_pulls_the_image_along_its_weights(nets):
    weight = np.random.default_rng(0).standard_normal((3, 16))
    model = nets["linear"](weight)
    start = np.random.default_rng(1).random((1, 4, 4))
    plain = maximize(model, 1, steps=10, lr=0.1, normalize=False, init=start, **PLAIN)
    np.testing.assert_allclose(plain.image - start, 10 * 0.1 * weight[1].reshape(1, 4, 4),
                               rtol=1e-12)
    np.testing.assert_allclose(np.diff(plain.history), 0.1 * weight[1] @ weight[1], rtol=1e-10)
    normed = maximize(model, 1, steps=10, lr=0.1, init=start, **PLAIN)
    step = (normed.image - start).ravel()
    cosine = step @ weight[1] / np.linalg.norm(step) / np.linalg.norm(weight[1])
    assert cosine == pytest.approx(1.0, abs=1e-12)
    assert np.sqrt(np.mean((step / 10) ** 2)) == pytest.approx(0.1)
    clipped = maximize(model, 1, steps=200, lr=0.1, l2=0.0, blur_every=0, jitter=0)
    assert np.all((clipped.image == 1) == (weight[1].reshape(1, 4, 4) > 0))


def test_regularised_images_stay_in_range_and_are_seeded(lenet):
    a = maximize(lenet, 3, steps=30, seed=4)
    assert a.image.shape == (1, 28, 28) and a.image.dtype == np.float32
    assert 0 <= a.image.min() and a.image.max() <= 1
    assert a.history[-1] > a.history[0]
    np.testing.assert_array_equal(a.image, maximize(lenet, 3, steps=30, seed=4).image)
    assert not np.array_equal(a.image, maximize(lenet, 3, steps=30, seed=5).image)


def test_a_dead_relu_unit_moves_only_through_its_pre_activation(nets):
    model = nets["conv_relu_dense"](seed=2)
    model.layers[0].params["bias"][:] = -0.5                    # off for inputs in [0, 0.1)
    weight = model.layers[0].params["weight"][0]
    assert 0.1 * np.abs(weight).sum() < 0.5 < np.maximum(weight, 0).sum()
    unit = Target.unit(1, (0, 3, 3))
    stuck = maximize(model, unit, steps=20, through_activation=False, **PLAIN)
    assert np.all(stuck.history == 0)
    moving = maximize(model, unit, steps=200, lr=0.1, jitter=0)
    assert moving.value > 0


def test_gallery_gives_one_image_per_channel_equal_to_maximize(lenet):
    results = gallery(lenet, 0, steps=15)
    assert len(results) == 6
    assert [r.target for r in results] == [Target.unit(0, (c, 14, 14)) for c in range(6)]
    for r in results[::3]:
        single = maximize(lenet, r.target, steps=15)
        np.testing.assert_allclose(r.image, single.image, atol=1e-5)
    maps = gallery(lenet, 3, channels=[5, 2], objective="channel", steps=5)
    assert [r.target for r in maps] == [Target(3, channel=5), Target(3, channel=2)]
    classes = gallery(lenet, -1, channels=[0, 9], steps=5, clip=[0, 1])
    assert [r.target.index for r in classes] == [(0,), (9,)]
    assert filter_targets(lenet, 9, [4]) == [Target(9, index=(4,))]
    with pytest.raises(ValueError):
        filter_targets(lenet, 0, objective="corner")
    with pytest.raises(IndexError):
        gallery(lenet, 12)


def test_field_crop_cuts_the_receptive_field_of_the_unit(lenet):
    result = maximize(lenet, Target.unit(3, (0, 5, 5)), steps=2)
    assert field_crop(lenet, result).shape == (1, 14, 14)
    edge = maximize(lenet, Target.unit(0, (0, 0, 0)), steps=2)
    assert field_crop(lenet, edge).shape == (1, 3, 3)            # clipped to the image
    whole = maximize(lenet, Target.feature_map(0, 1), steps=2)
    assert field_crop(lenet, whole) is whole.image


def test_cancelling_stops_early_with_the_partial_result(lenet):
    calls = []

    def progress(step, total):
        calls.append((step, total))
        return step < 5

    with pytest.raises(Cancelled) as info:
        maximize(lenet, 1, steps=100, progress=progress)
    assert calls == [(1, 100), (2, 100), (3, 100), (4, 100), (5, 100)]
    partial = info.value.partial
    assert len(partial.history) == 6 and partial.image.shape == (1, 28, 28)
    with pytest.raises(Cancelled) as info:
        gallery(lenet, 0, channels=[1, 2], steps=50, progress=lambda s, t: False)
    assert len(info.value.partial) == 2


def test_bad_settings_are_rejected(lenet):
    with pytest.raises(ValueError):
        maximize(lenet, 1, lr=0)
    with pytest.raises(ValueError):
        maximize(lenet, 1, clip=(1, 0))
    with pytest.raises(ValueError):
        maximize(lenet, 1, init=np.zeros((28, 28)))
    with pytest.raises(TypeError):
        gallery(lenet, 0, steps=2, colour="red")
    assert AscentSettings().steps == 200


def test_shipped_network_recognises_its_own_class_images(shipped_model):
    results = gallery(shipped_model, -1)
    images = np.stack([r.image for r in results])
    predicted = shipped_model.predict(images)
    assert (predicted == np.arange(10)).sum() >= 9
