"""Occlusion maps: ignored regions change nothing, important ones matter, geometry is exact."""

import numpy as np
import pytest

from cnnviz.analysis import Cancelled, Target, occlusion_map
from cnnviz.analysis.occlusion import patch_starts
from cnnviz.nn import Conv2D, Dense, Flatten, ReLU, Sequential, softmax


def right_half_blind_dense(dtype):
    """Flatten + Dense on 1x8x8 whose weights are zero for columns 4..7."""
    model = Sequential([Flatten(), Dense(out_features=3)], input_shape=(1, 8, 8), seed=1)
    weight = model.layers[1].params["weight"].reshape(3, 8, 8)
    weight[:, :, 4:] = 0
    model.layers[1].params["bias"][:] = [0.1, -0.2, 0.3]
    return model.astype(dtype)


def right_side_blind_conv(dtype):
    """Conv 3x3 'same' + ReLU, then a Dense reading feature-map columns 0..4 only: input
    columns 6..7 reach no weight."""
    model = Sequential([Conv2D(out_channels=2, kernel_size=3, padding="same"), ReLU(), Flatten(),
                        Dense(out_features=3)], input_shape=(1, 8, 8), seed=2)
    model.layers[0].params["bias"][:] = 0.05
    model.layers[3].params["weight"].reshape(3, 2, 8, 8)[:, :, :, 5:] = 0
    return model.astype(dtype)


@pytest.mark.parametrize("build,first_ignored", [(right_half_blind_dense, 4),
                                                 (right_side_blind_conv, 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_occluding_a_region_the_network_ignores_changes_nothing(build, first_ignored, dtype):
    model = build(dtype)
    x = np.random.default_rng(0).random((1, 8, 8)).astype(dtype)
    result = occlusion_map(model, x, 1, patch=2, stride=1, fill=0.7, batch_size=10)
    ignored = result.cols >= first_ignored
    assert np.all(result.drop[:, ignored] == 0)
    assert np.all(result.values[:, ignored] == result.base_value)
    assert np.all(np.abs(result.drop[:, ~ignored]).max(axis=0) > 0)
    assert np.all(result.pixel_map[:, first_ignored + 1:] == 0)


def test_occluding_the_evidence_lowers_the_class_probability():
    weight = np.zeros((2, 1, 6, 6))
    weight[0, 0, :3, :3] = 1.0          # class 0 counts the top-left quadrant
    weight[1, 0, 3:, 3:] = 1.0          # class 1 the bottom-right one
    model = Sequential([Flatten(), Dense(out_features=2)], input_shape=(1, 6, 6))
    model.set_weights({"1.weight": weight.reshape(2, -1), "1.bias": np.zeros(2)})
    model.astype(np.float64)
    x = np.zeros((1, 6, 6))
    x[0, :3, :3] = 1.0
    result = occlusion_map(model, x, 0, patch=3, stride=3)
    assert result.drop.shape == (2, 2)
    base = softmax(np.array([9.0, 0.0]))[0]
    assert result.base_probability == pytest.approx(base)
    assert result.drop[0, 0] == pytest.approx(base - 0.5)      # both logits 0 once covered
    assert result.drop[1, 1] == 0 and result.drop[0, 1] == 0 and result.drop[1, 0] == 0
    assert result.pixel_map[:3, :3].min() == result.drop[0, 0]


def brute_force(model, x, k, patch, stride, fill):
    """Occluded probabilities and per-pixel mean drops, one copy and one pixel at a time."""
    (ph, pw), (sh, sw) = patch, stride
    _, h, w = x.shape
    base = model.predict_proba(x[None])[0, k]
    rows, cols = range(0, h - ph + 1, sh), range(0, w - pw + 1, sw)
    probs = np.zeros((len(rows), len(cols)))
    total, count = np.zeros((h, w)), np.zeros((h, w), int)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            copy = x.copy()
            copy[:, r:r + ph, c:c + pw] = np.asarray(fill).reshape(-1, 1, 1)
            probs[i, j] = model.predict_proba(copy[None])[0, k]
            total[r:r + ph, c:c + pw] += base - probs[i, j]
            count[r:r + ph, c:c + pw] += 1
    return base, probs, np.where(count > 0, total / np.maximum(count, 1), 0), count


@pytest.mark.parametrize("patch,stride,fill", [((3, 5), (2, 3), 0.0), ((4, 4), (4, 4), [0.2, 0.9]),
                                               ((1, 2), (1, 5), 1.0)])
def test_map_geometry_and_values_match_a_brute_force_loop(patch, stride, fill):
    model = Sequential([Conv2D(out_channels=3, kernel_size=3), ReLU(), Flatten(),
                        Dense(out_features=4)], input_shape=(2, 10, 12), seed=3)
    model.astype(np.float64)
    x = np.random.default_rng(1).random((2, 10, 12))
    base, probs, pixels, count = brute_force(model, x, 2, patch, stride, fill)
    result = occlusion_map(model, x, 2, patch=patch, stride=stride, fill=fill, batch_size=5)
    rows = (10 - patch[0]) // stride[0] + 1
    cols = (12 - patch[1]) // stride[1] + 1
    assert result.drop.shape == result.values.shape == (rows, cols)
    np.testing.assert_array_equal(result.rows, np.arange(rows) * stride[0])
    np.testing.assert_array_equal(result.cols, np.arange(cols) * stride[1])
    assert result.patch == patch and result.stride == stride
    np.testing.assert_allclose(result.base_value, base, rtol=1e-12)
    np.testing.assert_allclose(result.values, probs, rtol=1e-10)
    np.testing.assert_allclose(result.drop, base - probs, atol=1e-12)
    np.testing.assert_array_equal(result.coverage, count)
    np.testing.assert_allclose(result.pixel_map, pixels, atol=1e-12)


def test_lenet_map_shape_fill_mean_and_batch_size_invariance(lenet, digits):
    x = digits[0]
    result = occlusion_map(lenet, x, 3)
    assert result.drop.shape == (13, 13) and result.pixel_map.shape == (28, 28)
    assert result.drop.dtype == np.float32 and result.coverage.min() >= 1
    small = occlusion_map(lenet, x, 3, batch_size=16)
    np.testing.assert_allclose(small.drop, result.drop, atol=1e-6)
    mean = occlusion_map(lenet, x, 3, fill="mean", patch=28, stride=1)
    copy = np.full_like(x, x.mean())
    expected = lenet.predict_proba(copy[None])[0, 3]
    np.testing.assert_allclose(mean.values[0, 0], expected, rtol=1e-5)
    logit = occlusion_map(lenet, x, Target.for_class(3), patch=28)
    np.testing.assert_allclose(logit.base_value, lenet.forward(x[None])[0, 3], atol=1e-5)


def test_progress_and_cancellation(lenet, digits):
    calls = []
    occlusion_map(lenet, digits[0], 1, patch=4, stride=4, batch_size=20,
                  progress=lambda d, t: calls.append((d, t)))
    assert calls == [(19, 49), (39, 49), (49, 49)]
    seen = []
    with pytest.raises(Cancelled):
        occlusion_map(lenet, digits[0], 1, batch_size=20,
                      progress=lambda d, t: seen.append(d) or False)
    assert seen == [19]


def test_bad_geometry_is_rejected(lenet, digits):
    with pytest.raises(ValueError):
        occlusion_map(lenet, digits[0], 1, patch=29)
    with pytest.raises(ValueError):
        occlusion_map(lenet, digits[0], 1, stride=0)
    with pytest.raises(ValueError):
        occlusion_map(lenet, digits[0], 1, fill="median")
    with pytest.raises(ValueError):
        occlusion_map(lenet, digits, 1)
    np.testing.assert_array_equal(patch_starts(7, 3, 2), [0, 2, 4])
