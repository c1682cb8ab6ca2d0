"""The work and memory a network declares, counted from its architecture before it is built."""

import json
import time
import tracemalloc

import numpy as np
import pytest

from cnnviz.nn import ModelError, ModelFileError, Sequential, load_model
from cnnviz.nn import budget
from cnnviz.nn.budget import BudgetError, check_budget, check_cost, estimate
from cnnviz.nn.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnnviz.nn.model import layer_from_config


# ------------------------------------------------------------------ a naive reference
def naive_counts(specs, input_shape):
    """Multiply-adds and window reads counted one by one, by loops over every output unit."""
    shape, macs, reads = tuple(input_shape), [], []
    for spec in specs:
        kind = spec["kind"]
        if kind in ("Conv2D", "MaxPool2D", "AvgPool2D"):
            c, h, w = shape
            k = spec.get("kernel_size", spec.get("size"))
            s = spec.get("stride") or (1 if kind == "Conv2D" else k)
            d = spec.get("dilation", 1)
            p = spec.get("padding", 0)
            ho = wo = 0
            while (ho * s) + (k - 1) * d + 1 <= h + 2 * p:
                ho += 1
            while (wo * s) + (k - 1) * d + 1 <= w + 2 * p:
                wo += 1
            units = n = 0
            for _y in range(ho):
                for _x in range(wo):
                    for _i in range(k):
                        for _j in range(k):
                            n += 1  # one tap of one window, per channel
                    units += 1
            if kind == "Conv2D":
                f = spec["out_channels"]
                macs.append(f * (n * c + units))  # every tap of every input channel, and the bias
                reads.append(0)
                shape = (f, ho, wo)
            else:
                macs.append(0)
                reads.append(c * n)
                shape = (c, ho, wo)
        elif kind == "Flatten":
            macs.append(0), reads.append(0)
            shape = (int(np.prod(shape)),)
        elif kind == "Dense":
            total = 0
            for _o in range(spec["out_features"]):
                total += shape[0] + 1
            macs.append(total), reads.append(0)
            shape = (spec["out_features"],)
        else:
            macs.append(0), reads.append(0)
    return macs, reads


SMALL = [
    {"kind": "Conv2D", "out_channels": 3, "kernel_size": 3, "padding": 1},
    {"kind": "ReLU"},
    {"kind": "MaxPool2D", "size": 2},
    {"kind": "Conv2D", "out_channels": 4, "kernel_size": 2, "stride": 2, "dilation": 2},
    {"kind": "AvgPool2D", "size": 2, "stride": 1},
    {"kind": "Flatten"},
    {"kind": "Dense", "out_features": 5},
]


def test_counts_match_a_naive_loop_and_the_built_shapes():
    layers = [layer_from_config(s) for s in SMALL]
    cost = estimate(layers, (2, 13, 13))
    macs, reads = naive_counts(SMALL, (2, 13, 13))
    assert [c.macs for c in cost.layers] == macs
    window_reads = [c.moves if c.kind.endswith("Pool2D") else 0 for c in cost.layers]
    assert window_reads == reads
    model = Sequential([layer_from_config(s) for s in SMALL], (2, 13, 13), seed=0)
    assert [c.output_shape for c in cost.layers] == [lay.output_shape for lay in model.layers]
    assert cost.params == model.param_count()


def test_lenet_counts_by_hand():
    specs = [{"kind": "Conv2D", "out_channels": 6, "kernel_size": 5}, {"kind": "MaxPool2D", "size": 2},
             {"kind": "Flatten"}, {"kind": "Dense", "out_features": 10}]
    cost = estimate([layer_from_config(s) for s in specs], (1, 28, 28))
    # conv: 6 filters x 24x24 positions x (25 taps + bias); dense: 10 x (864 + bias)
    assert cost.macs == 6 * 24 * 24 * 26 + 10 * (6 * 12 * 12 + 1)
    # im2col copies 25 taps x 24x24 positions (and the ones row); pooling reads 4 per output
    assert cost.layers[0].moves == 26 * 24 * 24
    assert cost.layers[1].moves == 6 * 12 * 12 * 4


def test_memory_estimate_bounds_what_numpy_really_allocates():
    """tracemalloc sees numpy's buffers: the estimate must cover the peak of a forward and
    backward pass, without being wildly pessimistic."""
    model = Sequential([layer_from_config(s) for s in SMALL], (2, 40, 40), seed=0)
    batch = 64
    x = np.random.default_rng(0).standard_normal((batch, 2, 40, 40)).astype(np.float32)
    model.forward(x, training=True)  # warm up caches of the first call
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = model.forward(x, training=True)
        model.backward(np.ones_like(out))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    need = check_budget(model, batch=batch).memory_bytes(batch)
    params = 2 * 4 * model.param_count()
    assert peak <= need, (peak, need)
    assert need - params <= 3 * peak, (peak, need)


def test_vgg16_is_admitted():
    """The project plans VGG-16 import: 3x224x224, ~15.5 G multiply-adds, 138 M parameters."""
    specs, channels = [], [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                           512, 512, 512, "M"]
    for c in channels:
        specs.append({"kind": "MaxPool2D", "size": 2} if c == "M" else
                     {"kind": "Conv2D", "out_channels": c, "kernel_size": 3, "padding": 1})
        if c != "M":
            specs.append({"kind": "ReLU"})
    specs += [{"kind": "Flatten"}, {"kind": "Dense", "out_features": 4096}, {"kind": "ReLU"},
              {"kind": "Dense", "out_features": 4096}, {"kind": "ReLU"},
              {"kind": "Dense", "out_features": 1000}]
    cost = estimate([layer_from_config(s) for s in specs], (3, 224, 224))
    assert cost.params == 138_357_544  # the published count
    assert 15.4e9 < cost.macs < 15.6e9
    check_cost(cost, batch=1, memory=16 * 2**30)  # fits a 16 GiB machine
    assert cost.macs < budget.MAX_FORWARD_MACS / 6
    assert 1e8 < cost.moves < budget.MAX_FORWARD_MOVES / 6
    assert max(layer.largest for layer in cost.layers) * 4 < budget.MAX_LAYER_BYTES / 8


def hostile_file(tmp_path, name, input_shape, layers, params):
    arrays = {"architecture": np.frombuffer(json.dumps(
        {"format": "cnnviz-sequential", "version": 1, "name": name, "input_shape": input_shape,
         "layers": layers}).encode(), np.uint8)}
    arrays.update({f"params/{k}": v for k, v in params.items()})
    path = tmp_path / f"{name}.npz"
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def refused_quickly(path):
    start = time.perf_counter()
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert time.perf_counter() - start < 1.0
    return str(info.value)


def test_a_tiny_file_declaring_minutes_of_pooling_is_refused(tmp_path):
    path = hostile_file(tmp_path, "pool", [1, 4096, 4096],
                        [{"kind": "MaxPool2D", "size": 64, "stride": 1}, {"kind": "Flatten"}], {})
    assert path.stat().st_size < 1500
    message = refused_quickly(path)
    # 4033 x 4033 windows of 64 x 64 reads
    assert "one forward pass of one image moves ~6.7e+10 values" in message, message
    assert "over the limit of 1e+09" in message


def test_a_tiny_file_declaring_248_gib_is_refused(tmp_path):
    weight = np.zeros((1, 1, 64, 64), np.float32)
    path = hostile_file(tmp_path, "conv", [1, 4096, 4096],
                        [{"kind": "Conv2D", "out_channels": 1, "kernel_size": 64},
                         {"kind": "Flatten"}],
                        {"0.weight": weight, "0.bias": np.zeros(1, np.float32)})
    message = refused_quickly(path)
    # the unfolded input alone is 4097 x 4033 x 4033 float32 (248 GiB); its gradient as much
    gib = float(message.split("needs ~")[1].split(" GiB of memory for one image")[0])
    assert 2 * 248 <= gib < 2 * 249, message
    assert "this machine has" in message


def test_building_refuses_before_allocating():
    """4 TB of dense weights: refused from the shapes, before numpy is asked for them."""
    start = time.perf_counter()
    with pytest.raises(BudgetError, match="needs ~.* of memory"):
        Sequential([Flatten(), Dense(out_features=2**20)], (1, 1024, 1024), seed=0)
    assert time.perf_counter() - start < 1.0


def test_batch_and_training_are_counted():
    model = Sequential([Conv2D(out_channels=8, kernel_size=3), ReLU(), MaxPool2D(2), Flatten(),
                        Dense(out_features=10)], (1, 28, 28), seed=0)
    cost = check_budget(model)
    assert cost.memory_bytes(64) > 30 * cost.memory_bytes(1) / 2
    assert cost.memory_bytes(1, training=True) - cost.memory_bytes(1) == 8 * model.param_count()
    with pytest.raises(BudgetError, match="a batch of 100000 images"):
        check_budget(model, batch=100_000, memory=2**30)
    assert issubclass(BudgetError, ModelError)


def test_shapes_that_do_not_fit_still_say_so():
    with pytest.raises(ModelError, match="layer 1 .*does not fit"):
        Sequential([AvgPool2D(2), Conv2D(out_channels=1, kernel_size=9)], (1, 10, 10))


def test_one_layer_unfolding_gigabytes_is_refused():
    """A 27x27 kernel over a 735x498 image: 2.9 GB of im2col columns for one image (it took
    16 s on the development machine while the fuzzer ran), though the whole fits in memory."""
    layers = [Conv2D(out_channels=2, kernel_size=27), Flatten()]
    cost = estimate(layers, (3, 735, 498))
    assert cost.layers[0].largest == (3 * 27 * 27 + 1) * 709 * 472
    with pytest.raises(BudgetError, match=r"layer 0 \(Conv2D\) needs an array of ~2\.7 GiB "
                                          r"\(its unfolded input\) for one image"):
        Sequential(layers, (3, 735, 498), seed=0)


def test_machine_memory_is_the_smaller_of_physical_memory_and_the_container_limit(tmp_path,
                                                                                 monkeypatch):
    physical = budget.machine_memory()
    assert physical is None or physical > 2**28
    limit = tmp_path / "memory.max"
    limit.write_text("1073741824\n")
    monkeypatch.setattr(budget, "_CGROUP_LIMITS", (str(tmp_path / "absent"), str(limit)))
    assert budget.machine_memory() == min(physical, 2**30)
    limit.write_text("max\n")
    assert budget.machine_memory() == physical
