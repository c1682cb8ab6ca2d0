"""Data-parallel gradients: the same numbers as one process, clean failures, nothing left behind."""

import glob
import os
import signal
import tempfile

import numpy as np
import pytest

from cnnviz.nn import (Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential,
                       SoftmaxCrossEntropy, build_preset)
from cnnviz.nn.parallel import ParallelGradients, WorkerError, default_workers
from cnnviz.training import TrainConfig, Trainer


def serial_gradients(model, x, y):
    model.layers[0].need_input_grad = False
    logits = model.forward(x, training=True)
    loss, grad = SoftmaxCrossEntropy()(logits, y)
    model.backward(grad)
    model.layers[0].need_input_grad = True
    correct = int((logits.argmax(axis=1) == y).sum())
    return loss, correct, {k: v.copy() for k, v in model.named_grads().items()}


def shared_files():
    """The shared files of ParallelGradients that have a name now."""
    folders = {"/dev/shm", tempfile.gettempdir()}
    return {path for folder in folders for path in glob.glob(f"{folder}/cnnviz-gradients-*")}


def batch(n, seed=0, shape=(1, 28, 28)):
    rng = np.random.default_rng(seed)
    return rng.random((n, *shape), dtype=np.float32), rng.integers(0, 10, n)


@pytest.mark.parametrize("workers,local,n", [(2, True, 64), (2, False, 64), (3, True, 7),
                                             (3, False, 2)])
def test_shards_add_up_to_the_single_process_gradient(workers, local, n):
    model = build_preset("lenet5", seed=1)
    reference = model.copy()
    x, y = batch(n)
    before = shared_files()
    with ParallelGradients(model, workers, max_batch=64, local=local) as parallel:
        # Once the workers have mapped it, the file has no name: a killed parent leaves nothing.
        assert shared_files() == before
        for seed in range(2):  # twice: the second batch must not see the first one's leftovers
            x, y = batch(n, seed)
            loss, correct, grads = parallel(x, y)
            ref_loss, ref_correct, ref_grads = serial_gradients(reference, x, y)
            assert loss == pytest.approx(ref_loss, rel=1e-5)
            assert correct == ref_correct
            assert grads.keys() == ref_grads.keys()
            for name, g in grads.items():
                np.testing.assert_allclose(g, ref_grads[name], rtol=1e-4, atol=1e-6, err_msg=name)
        procs = [p for p in parallel._procs if p is not None]
        assert len(procs) == workers - local
    assert all(p.poll() is not None for p in procs)       # every worker has exited
    assert shared_files() == before


def test_weights_changed_between_batches_reach_the_workers():
    model = build_preset("tiny", seed=0)
    reference = model.copy()
    x, y = batch(16)
    with ParallelGradients(model, 2, max_batch=16, local=False) as parallel:
        parallel(x, y)
        for m in (model, reference):
            m.layers[0].params["weight"] *= -2.0
        _, _, grads = parallel(x, y)
        np.testing.assert_allclose(grads["0.weight"], serial_gradients(reference, x, y)[2]["0.weight"],
                                   rtol=1e-4, atol=1e-6)


def test_float64_networks_stay_float64():
    model = build_preset("tiny", seed=0).astype(np.float64)
    x, y = batch(8)
    x = x.astype(np.float64)
    with ParallelGradients(model, 2, max_batch=8) as parallel:
        _, _, grads = parallel(x, y)
    ref = serial_gradients(model.copy(), x, y)[2]
    for name, g in grads.items():
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, ref[name], rtol=1e-10, atol=1e-12)


def test_bad_batches_are_refused_and_a_dead_worker_is_reported():
    model = build_preset("tiny", seed=0)
    with ParallelGradients(model, 2, max_batch=8) as parallel:
        with pytest.raises(ValueError, match="max_batch"):
            parallel(*batch(9))
        with pytest.raises(Exception, match="shape"):
            parallel(*batch(4, shape=(1, 20, 20)))
        parallel(*batch(8))                                 # still works after the refusals
        proc = parallel._procs[1]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with pytest.raises(WorkerError, match="stopped unexpectedly"):
            parallel(*batch(8))
    assert proc.poll() is not None


def dropout_net():
    return Sequential([Conv2D(out_channels=4, kernel_size=3), ReLU(), MaxPool2D(2), Flatten(),
                       Dropout(0.5), Dense(out_features=10)], input_shape=(1, 12, 12), seed=0)


def test_dropout_masks_are_reproducible_per_seed():
    x, y = batch(32, shape=(1, 12, 12))
    runs = []
    for seed in (5, 5, 6):
        with ParallelGradients(dropout_net(), 2, max_batch=32, seed=seed, local=False) as parallel:
            runs.append(parallel(x, y)[2]["5.weight"].copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_a_two_worker_training_run_is_reproducible_and_matches_one_worker():
    rng = np.random.default_rng(0)
    x = rng.random((96, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    finals = {}
    for key, workers in (("a", 2), ("b", 2), ("one", 1)):
        model = build_preset("tiny", seed=3)
        reports = list(Trainer(model, x, y, config=TrainConfig(epochs=2, batch_size=32, seed=1,
                                                               workers=workers)).run())
        assert reports[-1].kind == "finished"
        finals[key] = (model.get_weights(), [p.loss for p in reports if p.kind == "step"],
                       [p.accuracy for p in reports if p.kind == "step"])
    wa, la, aa = finals["a"]
    wb, lb, ab = finals["b"]
    w1, l1, a1 = finals["one"]
    assert la == lb and aa == ab
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name])
        np.testing.assert_allclose(wa[name], w1[name], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(la, l1, rtol=1e-4)
    assert aa == a1


def test_a_diverging_parallel_run_keeps_the_last_good_weights():
    x, y = batch(64)
    model = build_preset("tiny", seed=0)
    reports = list(Trainer(model, x, y, config=TrainConfig(epochs=3, batch_size=16, optimizer="sgd",
                                                           lr=1e30, momentum=0.0, workers=2)).run())
    assert reports[-1].kind == "diverged"
    assert all(np.isfinite(v).all() for v in model.named_params().values())


def test_workers_start_from_a_script_without_a_main_guard(run_python, tmp_path):
    """Workers never re-run the caller's main module (unlike multiprocessing's spawn)."""
    script = tmp_path / "train_here.py"
    script.write_text(
        "import numpy as np\n"
        "from cnnviz.nn import build_preset\n"
        "from cnnviz.nn.parallel import ParallelGradients\n"
        "print('main module ran')\n"
        "m = build_preset('tiny', seed=0)\n"
        "x = np.zeros((8, 1, 28, 28), np.float32); y = np.arange(8) % 10\n"
        "with ParallelGradients(m, 2, max_batch=8, local=False) as p:\n"
        "    loss, correct, grads = p(x, y)\n"
        "print('loss', round(loss, 4))\n")
    result = run_python([str(script)], env={"PYTHONPATH": os.getcwd()})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("main module ran") == 1 and "loss 2.30" in result.stdout


def test_default_workers_keeps_shards_of_at_least_16():
    assert default_workers(8) == 1
    assert 1 <= default_workers(64) <= 4
    assert default_workers(32) <= 2


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_the_shared_memory_never_has_a_name_that_could_stay_behind():
    """Whatever kills the processes, and when: the workers map memory with no file name."""
    model = build_preset("tiny", seed=0)
    with ParallelGradients(model, 3, max_batch=8) as parallel:
        parallel.wait_for_workers()
        for proc in parallel._procs[1:]:
            with open(f"/proc/{proc.pid}/maps") as f:
                shared = [line for line in f if "cnnviz" in line]
            assert shared and all("/memfd:cnnviz-gradients" in line for line in shared), shared


def test_a_worker_whose_parent_is_gone_ends_quietly(capfd):
    """Its reply meets a closed pipe: no BrokenPipeError traceback, a clean exit."""
    model = build_preset("lenet5", seed=0)
    parallel = ParallelGradients(model, 2, max_batch=64, local=False)
    try:
        procs = parallel._procs
        parallel.submit(*batch(64, shape=(1, 28, 28)))   # the workers compute
        for proc in procs:
            proc.stdout.close()                            # as if the parent had died
        for proc in procs:
            proc.stdin.close()
            assert proc.wait(timeout=30) == 0
    finally:
        parallel._pending = None
        parallel.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def bn_network(seed=3):
    from cnnviz.nn import BatchNorm, GlobalAvgPool2D

    return Sequential([Conv2D(out_channels=4, kernel_size=3, padding="same"), BatchNorm(),
                       ReLU(), GlobalAvgPool2D(), Flatten(), Dense(out_features=6),
                       BatchNorm(momentum=0.3), Dense(out_features=10)], (1, 8, 8), seed=seed)


def shard_inputs(model, x, workers, index):
    """The input of layer ``index`` when each shard of ``x`` goes through in training mode (each
    normalised by its own batch statistics), the shards joined again."""
    bounds = np.linspace(0, len(x), workers + 1).round().astype(int)
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        out = x[a:b].astype(np.float64)
        for layer in model.layers[:index]:
            out = layer.forward(out, training=True)
        parts.append(np.array(out))
    return np.concatenate(parts)


@pytest.mark.parametrize("workers,local", [(2, True), (3, False)])
def test_batch_norm_running_statistics_are_the_whole_batchs(workers, local):
    """Each shard normalises by its own statistics, but the running statistics move once per
    batch by the whole batch's mean and variance; the workers read the parent's."""
    model, reference = bn_network(), bn_network().astype(np.float64)
    for layer in reference.layers:
        layer.update_running = False
    first = model.layers[1]
    with ParallelGradients(model, workers, max_batch=32, local=local) as parallel:
        for seed in range(3):
            x, y = batch(29, seed, (1, 8, 8))
            before = {k: v.astype(np.float64) for k, v in model.named_state().items()}
            parallel(x, y)
            for index, momentum in ((1, 0.1), (6, 0.3)):
                values = shard_inputs(reference, x, workers, index)
                values = np.moveaxis(values, 1, 0).reshape(values.shape[1], -1)
                count = values.shape[1]
                want_mean = (1 - momentum) * before[f"{index}.running_mean"] + \
                    momentum * values.mean(axis=1)
                want_var = (1 - momentum) * before[f"{index}.running_var"] + \
                    momentum * values.var(axis=1) * count / (count - 1)
                np.testing.assert_allclose(model.named_state()[f"{index}.running_mean"],
                                           want_mean, rtol=1e-4, atol=1e-6)
                np.testing.assert_allclose(model.named_state()[f"{index}.running_var"],
                                           want_var, rtol=1e-4, atol=1e-6)
            assert first.update_running  # the local shard's switch is put back
        # the first normalisation reads no earlier one: its statistics are one process's
        single = bn_network()
        for seed in range(3):
            single.forward(batch(29, seed, (1, 8, 8))[0], training=True)
        np.testing.assert_allclose(model.named_state()["1.running_var"],
                                   single.named_state()["1.running_var"], rtol=1e-5)
        # in inference mode the shards use the running statistics: exactly one process's
        x, y = batch(29, 7, (1, 8, 8))
        before = model.get_weights()
        loss, _, grads = parallel(x, y, training=False)
        reference = bn_network()
        reference.set_weights(before)
        reference.layers[0].need_input_grad = False
        logits = reference.forward(x, training=False)
        ref_loss, grad = SoftmaxCrossEntropy()(logits, y)
        reference.backward(grad)
        assert loss == pytest.approx(ref_loss, rel=1e-5)
        for name, g in reference.named_grads().items():
            np.testing.assert_allclose(grads[name], g, rtol=1e-4, atol=1e-6, err_msg=name)
        for name, value in before.items():  # inference changes no statistics
            np.testing.assert_array_equal(model.get_weights()[name], value)


def test_the_caller_stands_in_for_workers_still_starting_with_the_same_numbers(monkeypatch):
    """Until a worker is ready the caller computes its shard; the numbers are the same to the
    last bit as when every worker computes its own from the start."""
    from cnnviz.nn import Adam

    x, y = batch(48 * 6, seed=4)
    original, original_stand_in = ParallelGradients._worker_ready, ParallelGradients._stand_in_shard
    runs = {}
    for late in (0, 3):
        left = {"calls": late, "stand_ins": 0}

        def ready(self, k):
            if left["calls"] > 0:  # still starting, as far as the caller can tell
                return False
            self._receive(k)       # wait for it: from this batch on, the worker computes
            self._ready[k] = True
            return True

        def stand_in(self, k, share):
            left["stand_ins"] += 1
            return original_stand_in(self, k, share)

        monkeypatch.setattr(ParallelGradients, "_worker_ready", ready)
        monkeypatch.setattr(ParallelGradients, "_stand_in_shard", stand_in)
        model, opt, losses = build_preset("lenet5", seed=2), Adam(lr=1e-3), []
        with ParallelGradients(model, 3, max_batch=48) as parallel:
            for step in range(6):
                loss, correct, grads = parallel(x[48 * step:48 * (step + 1)],
                                                y[48 * step:48 * (step + 1)])
                losses.append((loss, correct))
                opt.step(model.named_params(), grads)
                left["calls"] -= 1
        runs[late] = (losses, model.get_weights(), left["stand_ins"])
    monkeypatch.setattr(ParallelGradients, "_worker_ready", original)
    assert runs[0][2] == 0 and runs[3][2] == 3 * 2   # 3 batches, 2 workers each
    assert runs[0][0] == runs[3][0]
    for name, value in runs[0][1].items():
        np.testing.assert_array_equal(value, runs[3][1][name], err_msg=name)


def test_a_worker_that_dies_while_starting_is_reported():
    model = build_preset("tiny", seed=0)
    with ParallelGradients(model, 2, max_batch=8) as parallel:
        parallel._procs[1].send_signal(signal.SIGKILL)
        parallel._procs[1].wait()
        with pytest.raises(WorkerError, match="stopped unexpectedly"):
            parallel(*batch(8))


def test_a_run_with_the_parameters_in_the_shared_vector_equals_one_by_name(monkeypatch):
    """The trainer binds the parameters to the workers' flat vector and steps the optimiser on
    it: the same run, to the last bit, as copying them to the workers and stepping by name; and
    the model has ordinary arrays of its own again afterwards."""
    rng = np.random.default_rng(5)
    x = rng.random((96, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    config = TrainConfig(epochs=2, batch_size=32, seed=1, workers=2, weight_decay=1e-4)
    runs, vectors = {}, []
    original = ParallelGradients.bind_parameters

    def bind(self):
        original(self)
        vectors.append(self.parameter_vector)

    for how in ("vector", "by name"):
        monkeypatch.setattr(ParallelGradients, "bind_parameters",
                            bind if how == "vector" else lambda self: None)
        model = build_preset("lenet5", seed=3)
        reports = list(Trainer(model, x, y, config=config).run())
        assert reports[-1].kind == "finished"
        runs[how] = (model.get_weights(), [p.loss for p in reports if p.kind == "step"])
        for value in model.named_params().values():
            assert value.flags.owndata and value.flags.writeable
    assert len(vectors) == 1
    assert runs["vector"][1] == runs["by name"][1]
    for name, value in runs["vector"][0].items():
        np.testing.assert_array_equal(value, runs["by name"][0][name], err_msg=name)


def test_parameters_replaced_while_bound_reach_the_workers():
    model = build_preset("tiny", seed=0)
    reference = model.copy()
    x, y = batch(16)
    with ParallelGradients(model, 2, max_batch=16, local=False) as parallel:
        parallel.bind_parameters()
        vector = parallel.parameter_vector
        assert np.shares_memory(vector, model.layers[0].params["weight"])
        parallel(x, y)
        weights = {k: -2.0 * v for k, v in model.get_weights().items()}
        model.set_weights(weights)                      # new arrays: no longer the bound views
        reference.set_weights(weights)
        assert parallel.parameter_vector is None
        _, _, grads = parallel(x, y)
        assert np.shares_memory(parallel.parameter_vector, model.layers[0].params["weight"])
        np.testing.assert_allclose(grads["0.weight"], serial_gradients(reference, x, y)[2]["0.weight"],
                                   rtol=1e-4, atol=1e-6)
