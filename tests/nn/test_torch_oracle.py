"""The engine against PyTorch: same weights, same inputs, same outputs, gradients and updates."""

import numpy as np
import pytest

from cnnviz.nn import (SGD, Adam, AvgPool2D, Conv2D, Flatten, Dense, MaxPool2D, ReLU, Sequential,
                       SoftmaxCrossEntropy, Tanh, build_preset)


def torch_params(torch, model):
    return {k: torch.tensor(v, requires_grad=True) for k, v in model.named_params().items()}


def torch_forward(torch, model, h, params):
    """Run ``model``'s architecture with PyTorch ops on the tensor ``h`` and the given weights."""
    F = torch.nn.functional
    for i, layer in enumerate(model.layers):
        if layer.kind in ("Conv2D", "MaxPool2D", "AvgPool2D"):
            top, bottom, left, right = layer.pad
            fill = -float("inf") if layer.kind == "MaxPool2D" else 0.0
            if layer.kind == "AvgPool2D":
                assert layer.pad == (0, 0, 0, 0), "torch averages padding in; keep it out of tests"
            h = F.pad(h, (left, right, top, bottom), value=fill)
        if layer.kind == "Conv2D":
            h = F.conv2d(h, params[f"{i}.weight"], params.get(f"{i}.bias"), stride=layer.stride,
                         dilation=layer.dilation)
        elif layer.kind == "MaxPool2D":
            h = F.max_pool2d(h, layer.size, layer.stride)
        elif layer.kind == "AvgPool2D":
            h = F.avg_pool2d(h, layer.size, layer.stride)
        elif layer.kind == "Flatten":
            h = h.flatten(1)
        elif layer.kind == "Dense":
            h = F.linear(h, params[f"{i}.weight"], params.get(f"{i}.bias"))
        elif layer.kind == "ReLU":
            h = F.relu(h)
        elif layer.kind == "Tanh":
            h = torch.tanh(h)
        else:
            raise AssertionError(f"no torch equivalent for {layer.kind}")
    return h


def strided_net(seed):
    """Stride, dilation, asymmetric 'same' padding, overlapping pooling, no-bias conv."""
    return Sequential([
        Conv2D(out_channels=5, kernel_size=3, stride=2, padding="same"), ReLU(),
        Conv2D(out_channels=6, kernel_size=3, dilation=2, padding=2, use_bias=False), Tanh(),
        MaxPool2D(3, 2, padding="same"),
        Conv2D(out_channels=4, kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)), ReLU(),
        AvgPool2D(2), Flatten(), Dense(out_features=10),
    ], input_shape=(3, 29, 31), seed=seed)


NETS = {"lenet5": lambda: build_preset("lenet5", seed=3), "strided": lambda: strided_net(4)}


def assert_step_matches_pytorch(torch, model, x, labels):
    """Loss, logits, the input gradient and every parameter gradient of one training step
    equal PyTorch's for the same weights."""
    logits = model.forward(x, training=True)
    loss, dlogits = SoftmaxCrossEntropy()(logits, labels)
    model.layers[0].need_input_grad = True
    dx = model.backward(dlogits)

    params = torch_params(torch, model)
    xt = torch.tensor(x, requires_grad=True)
    t_logits = torch_forward(torch, model, xt, params)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.tensor(labels))
    t_loss.backward()

    np.testing.assert_allclose(logits, t_logits.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert loss == pytest.approx(t_loss.item(), rel=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-5 * np.abs(xt.grad.numpy()).max())
    grads = model.named_grads()
    for pname, p in params.items():
        scale = max(np.abs(p.grad.numpy()).max(), 1e-3)
        np.testing.assert_allclose(grads[pname], p.grad.numpy(), atol=1e-5 * scale, err_msg=pname)


@pytest.mark.parametrize("name", NETS)
def test_forward_and_every_gradient_match_pytorch(torch, name):
    model = NETS[name]()
    rng = np.random.default_rng(0)
    x = rng.random((8,) + model.input_shape, dtype=np.float32)
    labels = rng.integers(0, 10, 8)

    assert_step_matches_pytorch(torch, model, x, labels)


def test_input_gradient_of_a_class_score_matches_pytorch(torch):
    model = strided_net(5)
    x = np.random.default_rng(1).random((1,) + model.input_shape, dtype=np.float32)
    ours = model.input_gradient(x, layer=-1, index=(7,))
    xt = torch.tensor(x, requires_grad=True)
    torch_forward(torch, model, xt, torch_params(torch, model))[0, 7].backward()
    np.testing.assert_allclose(ours, xt.grad.numpy(), atol=1e-6)


OPTIMISERS = {
    "sgd": (lambda: SGD(lr=0.05), lambda t, p: t.optim.SGD(p, lr=0.05)),
    "sgd-nesterov-wd": (lambda: SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
                        lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                                 weight_decay=1e-3)),
    "adam-wd": (lambda: Adam(lr=0.01, weight_decay=1e-4),
                lambda t, p: t.optim.Adam(p, lr=0.01, weight_decay=1e-4)),
}


@pytest.mark.parametrize("name", OPTIMISERS)
def test_a_few_optimiser_steps_match_pytorch(torch, name):
    make_ours, make_theirs = OPTIMISERS[name]
    model = build_preset("lenet5", seed=7)
    rng = np.random.default_rng(2)
    batches = [(rng.random((16, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 16))
               for _ in range(4)]
    params = torch_params(torch, model)
    theirs = make_theirs(torch, list(params.values()))
    ours = make_ours()
    for x, y in batches:
        _, d = SoftmaxCrossEntropy()(model.forward(x, training=True), y)
        model.backward(d)
        ours.step(model.named_params(), model.named_grads())
        theirs.zero_grad()
        out = torch_forward(torch, model, torch.tensor(x), params)
        torch.nn.functional.cross_entropy(out, torch.tensor(y)).backward()
        theirs.step()
    for pname, value in model.named_params().items():
        np.testing.assert_allclose(value, params[pname].detach().numpy(), atol=2e-5, err_msg=pname)
