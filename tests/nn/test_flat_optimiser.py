"""The flat-buffer Adam (one vector for every gradient and moment) against the per-parameter
updates it replaces: the same numbers to the last bit, over several steps."""

import numpy as np
import pytest

from cnnviz.nn import SGD, Adam
from cnnviz.nn.optim import flat_views


def make_params(rng, dtype=np.float32):
    return {"0.weight": rng.standard_normal((4, 3, 3, 3)).astype(dtype),
            "0.bias": rng.standard_normal(4).astype(dtype),
            "2.weight": rng.standard_normal((10, 36)).astype(dtype)}


def per_parameter_step(opt, params, grads):
    """One step the old way: the per-parameter ``_update`` of every parameter."""
    opt.steps += 1
    opt._t = opt.steps
    for name, p in params.items():
        opt._update(name, p, opt._decayed(p, grads[name]))


@pytest.mark.parametrize("make", [
    lambda: Adam(lr=0.01), lambda: Adam(lr=0.003, beta1=0.8, weight_decay=1e-3),
])
def test_flat_steps_equal_per_parameter_steps(make):
    rng = np.random.default_rng(0)
    flat_params = make_params(rng)
    loop_params = {k: v.copy() for k, v in flat_params.items()}
    flat, loop = make(), make()
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape).astype(np.float32)
                 for k, v in flat_params.items()}
        flat.step(flat_params, grads)
        per_parameter_step(loop, loop_params, grads)
        for name in flat_params:
            np.testing.assert_array_equal(flat_params[name], loop_params[name])
            for slot, value in loop.state[name].items():
                np.testing.assert_array_equal(flat.state[name][slot], value)
    assert flat._g.size == sum(p.size for p in flat_params.values())  # the flat path ran


def test_state_is_kept_when_the_parameters_change():
    """A parameter added (or swapped for another shape) rebuilds the buffers: the state of the
    others carries over, the new one starts from zero, as with per-parameter state."""
    rng = np.random.default_rng(1)
    params = make_params(rng)
    grads = {k: np.ones_like(v) for k, v in params.items()}
    opt, loop = Adam(lr=0.01), Adam(lr=0.01)
    loop_params = {k: v.copy() for k, v in params.items()}
    opt.step(params, grads)
    per_parameter_step(loop, loop_params, grads)
    params["4.weight"] = rng.standard_normal((3, 10)).astype(np.float32)
    loop_params["4.weight"] = params["4.weight"].copy()
    grads["4.weight"] = np.full((3, 10), 0.5, np.float32)
    opt.step(params, grads)
    per_parameter_step(loop, loop_params, grads)
    for name in params:
        np.testing.assert_array_equal(params[name], loop_params[name])
        np.testing.assert_array_equal(opt.state[name]["m"], loop.state[name]["m"])


def test_mixed_types_fall_back_to_per_parameter_updates():
    rng = np.random.default_rng(2)
    params = make_params(rng)
    params["0.bias"] = params["0.bias"].astype(np.float64)
    loop_params = {k: v.copy() for k, v in params.items()}
    grads = {k: np.ones_like(v) for k, v in params.items()}
    opt, loop = Adam(lr=0.1), Adam(lr=0.1)
    for _ in range(3):
        opt.step(params, grads)
        per_parameter_step(loop, loop_params, grads)
    for name in params:
        np.testing.assert_array_equal(params[name], loop_params[name])


def flatten(arrays):
    """One flat vector of ``arrays`` (in order) and its layout."""
    return (np.concatenate([v.ravel() for v in arrays.values()]),
            tuple((name, v.shape) for name, v in arrays.items()))


@pytest.mark.parametrize("make", [
    lambda: Adam(lr=0.01), lambda: Adam(lr=0.003, beta1=0.8, weight_decay=1e-3),
    lambda: SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
])
def test_a_step_on_flat_vectors_equals_the_step_by_name(make):
    """step_vector (parameters and gradients each in one vector, as the parallel trainer keeps
    them) gives the same numbers to the last bit as step (arrays by name), leaves the gradient
    as it was, and shares the state by name with it: the two can alternate."""
    rng = np.random.default_rng(3)
    by_name = make_params(rng)
    vector, layout = flatten(by_name)
    ours, reference = make(), make()
    for step in range(6):
        grads = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in by_name.items()}
        g, _ = flatten(grads)
        kept = g.copy()
        reference.step(by_name, grads)
        if step == 3:   # once by name: the state carries over both ways
            ours.step(flat_views(vector, layout), flat_views(g, layout))
        else:
            ours.step_vector(vector, g, layout)
        np.testing.assert_array_equal(g, kept)
        np.testing.assert_array_equal(vector, flatten(by_name)[0])
        for name, state in reference.state.items():
            for slot, value in state.items():
                np.testing.assert_array_equal(ours.state[name][slot], value)


def test_adam_on_flat_vectors_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    params = make_params(rng)
    vector, layout = flatten(params)
    theirs = [torch.tensor(v, requires_grad=True) for v in params.values()]
    topt = torch.optim.Adam(theirs, lr=0.01, weight_decay=1e-4)
    ours = Adam(lr=0.01, weight_decay=1e-4)
    for _ in range(5):
        grads = [rng.standard_normal(v.shape).astype(np.float32) for v in params.values()]
        ours.step_vector(vector, np.concatenate([g.ravel() for g in grads]), layout)
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g)
        topt.step()
    for (name, value), t in zip(flat_views(vector, layout).items(), theirs):
        np.testing.assert_allclose(value, t.detach().numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
