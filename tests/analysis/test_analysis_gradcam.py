"""Grad-CAM against a hand computation, PyTorch's autograd and its invariances."""

import numpy as np
import pytest

from cnnviz.analysis import Target, grad_cam
from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential


def tiny_cam_net():
    """Conv 3x3 valid (2 filters) on 1x5x5, ReLU, Flatten, Dense(3): explicit weights."""
    rng = np.random.default_rng(42)
    model = Sequential([Conv2D(out_channels=2, kernel_size=3), ReLU(), Flatten(),
                        Dense(out_features=3)], input_shape=(1, 5, 5)).astype(np.float64)
    weights = {"0.weight": rng.standard_normal((2, 1, 3, 3)), "0.bias": np.array([0.3, -0.4]),
               "3.weight": rng.standard_normal((3, 18)), "3.bias": np.array([0.1, 0.0, -0.1])}
    model.set_weights(weights)
    return model, weights


def hand_cam(weights, x, cls, after_relu):
    """Grad-CAM by the definition, with explicit loops."""
    w, b, dense = weights["0.weight"], weights["0.bias"], weights["3.weight"]
    a = np.zeros((2, 3, 3))
    for k in range(2):
        for i in range(3):
            for j in range(3):
                a[k, i, j] = b[k] + sum(w[k, 0, u, v] * x[0, i + u, j + v]
                                        for u in range(3) for v in range(3))
    r = np.maximum(a, 0)
    d_r = np.zeros((2, 3, 3))
    for k in range(2):
        for i in range(3):
            for j in range(3):
                d_r[k, i, j] = dense[cls, k * 9 + i * 3 + j]     # d score / d R
    maps, grads = (r, d_r) if after_relu else (a, d_r * (a > 0))
    alpha = np.array([grads[k].sum() / 9 for k in range(2)])
    cam = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            cam[i, j] = max(0.0, alpha[0] * maps[0, i, j] + alpha[1] * maps[1, i, j])
    return alpha, cam


@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("cls", [0, 1, 2])
def test_grad_cam_equals_a_hand_computation(layer, cls):
    model, weights = tiny_cam_net()
    x = np.random.default_rng(cls).random((1, 5, 5)) - 0.3
    alpha, cam = hand_cam(weights, x, cls, after_relu=layer == 1)
    result = grad_cam(model, x, layer, cls)
    np.testing.assert_allclose(result.weights, alpha, rtol=1e-12)
    np.testing.assert_allclose(result.raw, cam, rtol=1e-12, atol=1e-15)
    assert result.layer == layer and result.target == Target.for_class(cls)
    assert result.value == pytest.approx(model.forward(x[None])[0, cls])
    if cam.max() > 0:
        # unit (i, j) sits at the centre of its 3x3 field, input pixel (i + 1, j + 1)
        np.testing.assert_allclose(result.heatmap[1:4, 1:4], cam / cam.max(), rtol=1e-6)
        np.testing.assert_array_equal(result.heatmap[0], result.heatmap[1])
    else:
        assert not result.heatmap.any()


def test_grad_cam_weights_are_the_spatial_mean_of_the_gradients():
    """A hand-built case with a non-square map: 1x1 convolution (3 channels) on 4x6, then one
    dense layer. d score / d A[k, i, j] is the dense weight of that cell, so each channel's
    weight is the mean of its 24 dense weights, and the map is relu(sum_k alpha_k A_k)."""
    model = Sequential([Conv2D(out_channels=3, kernel_size=1), Flatten(), Dense(out_features=2)],
                       input_shape=(1, 4, 6)).astype(np.float64)
    conv_w = np.array([1.0, -2.0, 0.5]).reshape(3, 1, 1, 1)
    conv_b = np.array([0.0, 1.0, -1.0])
    dense = np.arange(2 * 72, dtype=float).reshape(2, 72) % 7 - 3.0   # no two channels alike
    model.set_weights({"0.weight": conv_w, "0.bias": conv_b, "2.weight": dense,
                       "2.bias": np.zeros(2)})
    x = np.linspace(0.0, 1.0, 24).reshape(1, 4, 6)
    for cls in (0, 1):
        grads = dense[cls].reshape(3, 4, 6)
        alpha = [sum(grads[k, i, j] for i in range(4) for j in range(6)) / 24 for k in range(3)]
        maps = [conv_w[k, 0, 0, 0] * x[0] + conv_b[k] for k in range(3)]
        cam = np.maximum(sum(a * m for a, m in zip(alpha, maps)), 0.0)
        result = grad_cam(model, x, 0, cls)
        np.testing.assert_allclose(result.weights, alpha, rtol=1e-12)
        np.testing.assert_allclose(result.raw, cam, rtol=1e-12, atol=1e-12)
        assert result.raw.shape == (4, 6)


def test_some_hand_cases_are_not_trivial():
    model, weights = tiny_cam_net()
    cams = [hand_cam(weights, np.random.default_rng(c).random((1, 5, 5)) - 0.3, c, True)[1]
            for c in range(3)]
    assert sum(cam.max() > 0 and (cam == 0).any() for cam in cams) >= 1


def torch_grad_cam(torch, model, x, layer, cls):
    """Grad-CAM of the (pad-free or 'same') LeNet-5 with PyTorch ops and autograd."""
    F = torch.nn.functional
    h = torch.tensor(x[None].astype(np.float64), requires_grad=True)
    kept = None
    for i, lay in enumerate(model.layers):
        p = {k: torch.tensor(v.astype(np.float64)) for k, v in lay.params.items()}
        if lay.kind == "Conv2D":
            top, bottom, left, right = lay.pad
            h = F.conv2d(F.pad(h, (left, right, top, bottom)), p["weight"], p["bias"])
        elif lay.kind == "ReLU":
            h = F.relu(h)
        elif lay.kind == "MaxPool2D":
            h = F.max_pool2d(h, lay.size, lay.stride)
        elif lay.kind == "Flatten":
            h = h.flatten(1)
        else:
            h = F.linear(h, p["weight"], p["bias"])
        if i == layer:
            h.retain_grad()
            kept = h
    h[0, cls].backward()
    alpha = kept.grad[0].mean(dim=(1, 2))
    cam = F.relu((alpha[:, None, None] * kept[0]).sum(0))
    return alpha.detach().numpy(), cam.detach().numpy()


@pytest.mark.parametrize("layer", [0, 3, 4, 5])
def test_grad_cam_matches_pytorch_on_lenet5(torch, lenet, digits, layer):
    alpha, cam = torch_grad_cam(torch, lenet, digits[1], layer, 7)
    result = grad_cam(lenet, digits[1], layer, 7)
    np.testing.assert_allclose(result.weights, alpha, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.raw, cam, rtol=1e-4, atol=1e-6)


def test_lenet5_maps_are_sane(lenet, digits):
    for layer in (0, 1, 2, 3, 4, 5):
        result = grad_cam(lenet, digits[0], layer)
        assert result.heatmap.shape == (28, 28) and result.heatmap.dtype == np.float32
        assert 0 <= result.heatmap.min() and result.heatmap.max() <= 1
        assert result.heatmap.max() in (0.0, 1.0)
        predicted = int(lenet.predict(digits[:1])[0])
        assert result.target == Target.for_class(predicted)
    same = grad_cam(lenet, digits[0], 0, 1)       # 'same' padding: the map is on the pixels
    if same.raw.max() > 0:
        np.testing.assert_allclose(same.heatmap, same.raw / same.raw.max(), rtol=1e-5)
    stretched = grad_cam(lenet, digits[0], 3, 1, align="stretch")
    assert stretched.heatmap.shape == (28, 28)


def test_grad_cam_ignores_the_scale_and_offset_of_the_class_score(lenet, digits):
    model = lenet.copy()
    before = grad_cam(model, digits[2], 3, 4)
    model.layers[-1].params["weight"] *= 3
    model.layers[-1].params["bias"] += 5
    after = grad_cam(model, digits[2], 3, 4)
    np.testing.assert_allclose(after.weights, 3 * before.weights, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(after.heatmap, before.heatmap, atol=1e-5)


def test_any_target_after_the_layer_works(lenet, digits):
    unit = grad_cam(lenet, digits[0], 2, Target.unit(5, (3, 2, 2)))
    assert unit.raw.shape == (14, 14)
    mine = grad_cam(lenet, digits[0], 3, Target.feature_map(3, 6))   # its own feature map
    np.testing.assert_array_equal(mine.weights, np.eye(16)[6])   # mean of ones
    prob = grad_cam(lenet, digits[0], 4, Target.for_class(2, probability=True))
    assert 0 < prob.value < 1


def test_layers_without_feature_maps_and_misplaced_targets_are_rejected(lenet, digits):
    for layer in (6, 7, 8, -1):
        with pytest.raises(ValueError, match="feature maps"):
            grad_cam(lenet, digits[0], layer, 1)
    with pytest.raises(ValueError, match="before"):
        grad_cam(lenet, digits[0], 3, Target.unit(0, (1, 5, 5)))
    with pytest.raises(ValueError):
        grad_cam(lenet, digits[0], 3, 1, align="nearest")
    with pytest.raises(ValueError):
        grad_cam(lenet, digits, 3, 1)
    with pytest.raises(IndexError):
        grad_cam(lenet, digits[0], 12, 1)
    pooled = Sequential([Conv2D(out_channels=2, kernel_size=3), MaxPool2D(2), Flatten(),
                         Dense(out_features=2)], input_shape=(1, 6, 6), seed=0)
    assert grad_cam(pooled, np.ones((1, 6, 6)), 1, 0).raw.shape == (2, 2)
