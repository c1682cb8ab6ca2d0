"""The benchmark compares like with like: its PyTorch LeNet-5 is the engine's network."""

import numpy as np

from cnnviz import benchmark
from cnnviz.nn import build_preset


def test_torch_reference_network_computes_the_same_logits(torch):
    model = build_preset("lenet5", seed=3)
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    net = benchmark.torch_lenet5(torch, model)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.forward(x), theirs, rtol=1e-4, atol=1e-5)


def test_throughput_and_latency_report_positive_figures(torch):
    result = benchmark.training_throughput(8, rounds=1, seconds=0.05)
    assert result["numpy"] > 0 and result["torch"] > 0
    lat = benchmark.trace_latency(repeats=20)
    assert lat["numpy_trace"].shape == (20,) and (lat["numpy_trace"] > 0).all()


def test_epoch_estimate_counts_the_worker_start_once_not_in_every_batch(torch):
    # A run's first batches pay for starting the worker process (about a tenth of a second, while
    # the caller computes the worker's shards itself); an epoch pays it once, so the estimate
    # must not spread it over every one of its batches: the round's first quarter is timed apart.
    r = benchmark.epoch_time("lenet5", batch_size=32, batches=8, rounds=1, epoch_size=32 * 100,
                             workers=2)
    assert r["head_batches"] == 2
    for name in ("numpy", "torch"):
        first, batch = r[f"{name}_first_s"], r[f"{name}_batch_s"]
        assert first > 0 and batch > 0
        assert np.isclose(r[f"{name}_epoch_s"], first + 98 * batch)
    assert np.isclose(r["ratio"], r["numpy_epoch_s"] / r["torch_epoch_s"])
