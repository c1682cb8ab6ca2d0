"""A trainer in a child process: the same run as in this one, requests honoured, failures
reported, nothing left behind."""

import glob
import tempfile

import numpy as np
import pytest

from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
from cnnviz.training import TrainConfig, Trainer
from cnnviz.training.remote import TrainerProcess, TrainingProcessError


def toy_data(n=256):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    x = rng.random((n, 1, 8, 8), dtype=np.float32) * 0.3
    x[y == 0, :, :, :4] += 0.7
    x[y == 1, :, :, 4:] += 0.7
    return x, y


def toy_model(dtype="float32"):
    return Sequential([Conv2D(out_channels=2, kernel_size=3, padding="same"), ReLU(),
                       MaxPool2D(2), Flatten(), Dense(out_features=2)], (1, 8, 8),
                      seed=0).astype(dtype)


def shared_files():
    folders = {"/dev/shm", tempfile.gettempdir()}
    return {p for folder in folders for p in glob.glob(f"{folder}/cnnviz-*")}


@pytest.fixture
def no_leftovers():
    before = shared_files()
    yield
    assert shared_files() == before


@pytest.mark.parametrize("workers", [1, 2])
def test_the_child_runs_the_same_training_as_this_process(workers, no_leftovers):
    x, y = toy_data()
    config = TrainConfig(epochs=2, batch_size=16, lr=0.05, optimizer="sgd", seed=3,
                         snapshot_interval=0.0, health_probe=8, health_interval=0.0,
                         workers=workers)
    # float64: the two runs differ only by the order of additions, far below any tolerance
    local_model, remote_model = toy_model("float64"), toy_model("float64")
    local = list(Trainer(local_model, x[:192], y[:192], x[192:], y[192:], config).run())
    trainer = TrainerProcess(remote_model, x[:192], y[:192], x[192:], y[192:], config, nice=1)
    remote = list(trainer.run())
    assert [r.kind for r in remote] == [r.kind for r in local]
    assert [r.step for r in remote] == [r.step for r in local]
    for ours, theirs in zip(remote, local):
        assert ours.loss == pytest.approx(theirs.loss, rel=1e-9)
        assert ours.accuracy == theirs.accuracy and ours.lr == theirs.lr
        assert ours.val_accuracy == theirs.val_accuracy
    assert remote[-2].per_class_accuracy == pytest.approx(local[-2].per_class_accuracy)
    snapshot = remote[3]
    assert snapshot.weights is not None and snapshot.health is not None
    assert snapshot.health.dead_relu.keys() == local[3].health.dead_relu.keys()
    for name, value in local_model.get_weights().items():
        np.testing.assert_allclose(remote_model.get_weights()[name], value, rtol=1e-9,
                                   atol=1e-12, err_msg=name)
    assert trainer.process is None  # the child has been waited for


def test_stop_ends_the_run_with_the_weights_it_reached(no_leftovers):
    x, y = toy_data()
    model = toy_model()
    before = model.get_weights()
    trainer = TrainerProcess(model, x, y, config=TrainConfig(epochs=1000, batch_size=8,
                                                             lr=0.01))
    reports = []
    for report in trainer.run():
        reports.append(report)
        if len(reports) == 5:
            trainer.stop()
    assert reports[-1].kind == "stopped"
    assert reports[-1].weights is not None
    trained = model.get_weights()
    assert any(not np.array_equal(trained[k], before[k]) for k in before)
    for name, value in reports[-1].weights.items():
        np.testing.assert_array_equal(trained[name], value)


def test_pause_holds_the_child_and_resume_goes_on(no_leftovers):
    import threading
    import time

    x, y = toy_data()
    trainer = TrainerProcess(toy_model(), x, y, config=TrainConfig(epochs=1000, batch_size=8))
    steps, done = [], threading.Event()

    def iterate():
        for report in trainer.run():
            steps.append(report.step)
        done.set()

    thread = threading.Thread(target=iterate)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while len(steps) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        trainer.pause()
        assert trainer.paused
        time.sleep(0.3)              # the step under way ends, its report arrives
        held = len(steps)
        time.sleep(0.3)
        assert len(steps) == held
        trainer.resume()
        while len(steps) == held and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(steps) > held
    finally:
        trainer.stop()
        assert done.wait(20)
        thread.join()


def test_an_error_in_the_child_is_raised_with_its_message(no_leftovers):
    x, y = toy_data()
    y = y.copy()
    y[5] = 7                          # the network has two classes
    trainer = TrainerProcess(toy_model(), x, y, config=TrainConfig(batch_size=8))
    with pytest.raises(TrainingProcessError, match="IndexError"):
        list(trainer.run())


def test_a_child_that_dies_is_a_clear_error(no_leftovers):
    x, y = toy_data()
    trainer = TrainerProcess(toy_model(), x, y, config=TrainConfig(epochs=1000, batch_size=8))
    with pytest.raises(TrainingProcessError, match="stopped unexpectedly"):
        for report in trainer.run():
            trainer.process.kill()


def test_leaving_the_loop_early_stops_the_child(no_leftovers):
    x, y = toy_data()
    trainer = TrainerProcess(toy_model(), x, y, config=TrainConfig(epochs=1000, batch_size=8))
    reports = trainer.run()
    next(reports)
    process = trainer.process
    reports.close()
    assert process.poll() is not None and trainer.process is None


class _GatedLock:
    """A lock that, released for the first time by ``holder``, lets ``holder`` go on only once
    another thread has taken and released it: the slowest interleaving of a request and the
    start of a run."""

    def __init__(self, holder_name):
        import threading

        self._lock = threading.Lock()
        self.holder_name = holder_name
        self.other_passed = threading.Event()
        self.held_back = False

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        import threading

        self._lock.release()
        if threading.current_thread().name != self.holder_name:
            self.other_passed.set()
        elif not self.held_back:
            self.held_back = True
            self.other_passed.wait(10)


def test_a_stop_before_the_run_starts_ends_it_at_once(no_leftovers):
    x, y = toy_data(32)
    model = toy_model()
    before = model.get_weights()
    trainer = TrainerProcess(model, x, y, config=TrainConfig(epochs=1000, batch_size=8))
    trainer.stop()
    reports = list(trainer.run())
    assert [r.kind for r in reports] == ["stopped"]
    assert reports[0].step == 0 and reports[0].epochs == 1000 and reports[0].batches == 4
    for name, value in reports[0].weights.items():
        np.testing.assert_array_equal(value, before[name])


def test_a_stop_while_the_run_starts_is_never_lost(no_leftovers):
    import threading

    x, y = toy_data(32)
    trainer = TrainerProcess(toy_model(), x, y, config=TrainConfig(epochs=1000, batch_size=8))
    trainer._lock = gate = _GatedLock("stopper")
    stopper = threading.Thread(target=trainer.stop, name="stopper")
    stopper.start()
    while not gate.held_back:   # stop() has been through the lock once
        stopper.join(0.001)
    kinds = []
    runner = threading.Thread(target=lambda: kinds.extend(r.kind for r in trainer.run()))
    runner.start()
    runner.join(20)
    stopper.join(10)
    if runner.is_alive():       # the stop was lost: end the run for the next tests
        trainer.stop()
        runner.join(20)
        pytest.fail("the run did not hear the stop")
    assert kinds[-1] == "stopped"


def test_the_child_exits_cleanly_run_after_run(no_leftovers):
    x, y = toy_data(32)
    statuses = []
    for seed in range(8):
        trainer = TrainerProcess(toy_model(), x, y,
                                 config=TrainConfig(epochs=1, batch_size=8, seed=seed))
        processes = {trainer.process for _ in trainer.run()}
        (process,) = processes
        statuses.append(process.returncode)
    assert statuses == [0] * 8


def test_a_child_that_ends_badly_after_its_last_report_is_reported(no_leftovers):
    import signal

    x, y = toy_data(32)
    trainer = TrainerProcess(toy_model(), x, y, config=TrainConfig(epochs=1, batch_size=8))
    kinds = []
    with pytest.raises(TrainingProcessError, match=r"killed by signal 9 \(SIGKILL\) after the run"):
        for report in trainer.run():
            kinds.append(report.kind)
            if report.kind == "finished":
                trainer.process.send_signal(signal.SIGKILL)
                trainer.process.wait()
    assert kinds[-1] == "finished"


def bn_model(dtype="float64"):
    from cnnviz.nn import BatchNorm

    return Sequential([Conv2D(out_channels=2, kernel_size=3, padding="same"), BatchNorm(),
                       ReLU(), MaxPool2D(2), Flatten(), Dense(out_features=2)], (1, 8, 8),
                      seed=0).astype(dtype)


def test_running_statistics_come_back_from_the_child(no_leftovers):
    """The child's batch normalisation statistics reach the window's model, in every snapshot
    and at the end, as a local run leaves them."""
    x, y = toy_data()
    config = TrainConfig(epochs=1, batch_size=16, lr=0.05, optimizer="sgd", seed=3,
                         snapshot_interval=0.0)
    local_model, remote_model = bn_model(), bn_model()
    local = list(Trainer(local_model, x, y, config=config).run())
    remote = list(TrainerProcess(remote_model, x, y, config=config).run())
    assert "1.running_var" in remote[2].weights
    np.testing.assert_allclose(remote[2].weights["1.running_var"],
                               local[2].weights["1.running_var"], rtol=1e-9)
    assert not np.allclose(remote_model.named_state()["1.running_mean"], 0.0)
    for name, value in local_model.named_state().items():
        np.testing.assert_allclose(remote_model.named_state()[name], value, rtol=1e-9,
                                   err_msg=name)
