"""Targets and the shared forward/backward passes against finite differences and the engine."""

import numpy as np
import pytest

from cnnviz.analysis import Target, forward_backward, target_values
from cnnviz.analysis.target import resolve, straight_through
from cnnviz.nn import Dense, Flatten, ReLU, Sequential, Softmax
from cnnviz.nn.gradcheck import numerical_gradient


def test_target_needs_exactly_one_of_index_and_channel():
    with pytest.raises(ValueError):
        Target(0)
    with pytest.raises(ValueError):
        Target(0, index=(0, 1, 1), channel=0)
    with pytest.raises(ValueError):
        Target(0, channel=1, probability=True)
    assert Target.for_class(3) == Target(-1, index=(3,))
    assert Target.for_class(np.int64(2), probability=True).index == (2,)
    assert Target.unit(2, [1, 2, 3]).index == (1, 2, 3)
    assert Target.feature_map(1, 4).channel == 4


def test_resolve_checks_layers_units_and_probabilities(small_net):
    assert resolve(small_net, Target.for_class(2)) == (3, False)
    assert resolve(small_net, Target.for_class(2, probability=True)) == (3, True)
    with pytest.raises(IndexError):
        resolve(small_net, Target(7, channel=0))
    with pytest.raises(IndexError):
        resolve(small_net, Target.for_class(3))
    with pytest.raises(IndexError):
        resolve(small_net, Target(0, channel=2))
    with pytest.raises(IndexError):
        resolve(small_net, Target.unit(0, (0, 6, 0)))
    with pytest.raises(ValueError, match="feature maps"):
        resolve(small_net, Target(3, channel=0))
    with pytest.raises(ValueError, match="probability"):
        resolve(small_net, Target(1, index=(0, 0, 0), probability=True))


def test_as_batch_accepts_an_image_or_a_batch_in_the_network_dtype(lenet):
    image = np.zeros((1, 28, 28), np.float64)
    batch, single = lenet.as_batch(image)
    assert single and batch.shape == (1, 1, 28, 28) and batch.dtype == np.float32
    batch, single = lenet.as_batch(np.zeros((3, 1, 28, 28)))
    assert not single and batch.shape == (3, 1, 28, 28)
    with pytest.raises(ValueError):
        lenet.as_batch(np.zeros((28, 28)))


@pytest.mark.parametrize("target", [Target.for_class(1), Target.for_class(2, probability=True),
                                    Target.unit(0, (1, 2, 3)), Target.feature_map(1, 0),
                                    Target.unit(2, (7,))])
def test_input_gradient_matches_finite_differences(small_net, target):
    x = np.random.default_rng(1).random((1, 1, 6, 6))
    values, activation, grad = forward_backward(small_net, x, target)
    assert activation is not None and np.array_equal(activation, x)

    def value():
        return target_values(small_net, x, target)[0]

    np.testing.assert_allclose(values[0], value())
    np.testing.assert_allclose(grad, numerical_gradient(value, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("entry", [1, 2, 3])
def test_gradient_at_an_intermediate_activation_matches_finite_differences(small_net, entry):
    x = np.random.default_rng(2).random((1, 1, 6, 6))
    target = Target.for_class(0, probability=True)
    _, activation, grad = forward_backward(small_net, x, target, grad_at=entry)
    act = np.array(activation)

    def value():  # the rest of the network, layer by layer
        out = act
        for layer in small_net.layers[entry:]:
            out = layer.forward(out)
        e = np.exp(out - out.max())
        return (e / e.sum())[0, 0]

    np.testing.assert_allclose(grad, numerical_gradient(value, act), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError):
        forward_backward(small_net, x, Target.unit(1, (0, 0, 0)), grad_at=3)


def test_a_softmax_network_uses_the_logits_for_class_targets():
    model = Sequential([Flatten(), Dense(out_features=4), Softmax()], input_shape=(1, 3, 3),
                       seed=0).astype(np.float64)
    x = np.random.default_rng(0).random((2, 1, 3, 3))
    assert resolve(model, Target.for_class(1)) == (1, False)
    assert resolve(model, Target.for_class(1, probability=True)) == (2, False)
    logit = forward_backward(model, x, 1)[2]
    np.testing.assert_allclose(logit, model.input_gradient(x, layer=1, index=(1,)))
    prob = forward_backward(model, x, Target.for_class(1, probability=True))[2]
    np.testing.assert_allclose(prob, model.input_gradient(x, layer=2, index=(1,)))
    plain = Sequential([Flatten(), Dense(out_features=4)], input_shape=(1, 3, 3), seed=0)
    plain.astype(np.float64)
    np.testing.assert_allclose(forward_backward(plain, x, Target.for_class(1, True))[2], prob)


def test_each_image_of_a_batch_can_have_its_own_target(small_net):
    x = np.random.default_rng(3).random((3, 1, 6, 6))
    targets = [Target.for_class(0), Target.for_class(2), Target.for_class(1)]
    values, _, grad = forward_backward(small_net, x, targets)
    for i, t in enumerate(targets):
        one_values, _, one = forward_backward(small_net, x[i:i + 1], t)
        np.testing.assert_allclose(values[i], one_values[0])
        np.testing.assert_allclose(grad[i], one[0])
    with pytest.raises(ValueError, match="same layer"):
        forward_backward(small_net, x[:2], [Target.for_class(0), Target.unit(0, (0, 0, 0))])
    with pytest.raises(ValueError):
        forward_backward(small_net, x, targets[:2])


def test_float32_networks_give_float32_results(lenet, digits):
    values, _, grad = forward_backward(lenet, digits, 3)
    assert values.dtype == np.float32 and grad.dtype == np.float32
    assert grad.flags.c_contiguous


def test_straight_through_skips_the_activations_above_the_last_weighted_layer(lenet):
    assert straight_through(lenet, 0) == frozenset()
    assert straight_through(lenet, 1) == {1}
    assert straight_through(lenet, 2) == {1}
    assert straight_through(lenet, 5) == {4}
    assert straight_through(lenet, 8) == {8}
    assert straight_through(lenet, 11) == frozenset()


def test_through_activation_gives_the_gradient_of_the_pre_activation(nets):
    model = nets["conv_relu_dense"](seed=4)
    model.layers[0].params["bias"][:] = -50.0            # every ReLU off
    x = np.random.default_rng(4).random((1, 1, 6, 6))
    relu_unit = Target.unit(1, (1, 2, 2))
    values, _, dead = forward_backward(model, x, relu_unit)
    assert values[0] == 0 and not dead.any()
    _, _, through = forward_backward(model, x, relu_unit, through_activation=True)
    np.testing.assert_allclose(through, model.input_gradient(x, layer=0, index=(1, 2, 2)))
    assert model.layers[1].kind == "ReLU" and isinstance(model.layers[1], ReLU)
