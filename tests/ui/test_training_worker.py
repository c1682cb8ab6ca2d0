"""Training in a worker thread: progress reaches the GUI thread, stop/pause work, nothing leaks."""

import threading

import numpy as np
import pytest

from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
from cnnviz.training import TrainConfig, Trainer
from cnnviz.ui.train.training_worker import TrainingRunner


def toy_trainer(epochs=2, **config):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256)
    x = rng.random((256, 1, 8, 8), dtype=np.float32) * 0.3
    x[y == 0, :, :, :4] += 0.7
    x[y == 1, :, :, 4:] += 0.7
    model = Sequential([Conv2D(out_channels=2, kernel_size=3, padding="same"), ReLU(),
                        MaxPool2D(2), Flatten(), Dense(out_features=2)], (1, 8, 8), seed=0)
    return Trainer(model, x, y, x[:64], y[:64],
                   config=TrainConfig(epochs=epochs, batch_size=8, lr=0.01, **config))


@pytest.fixture
def runner(qtbot):
    r = TrainingRunner()
    yield r
    assert r.shutdown(5000)
    assert not r.running


def test_progress_arrives_in_the_gui_thread_and_the_run_finishes(qtbot, runner):
    seen, threads = [], set()
    runner.progress.connect(lambda p: (seen.append(p), threads.add(threading.get_ident())))
    with qtbot.waitSignal(runner.finished, timeout=20000) as blocker:
        runner.start(toy_trainer(snapshot_interval=0.0), rate=1000)
    final = blocker.args[0]
    assert final.kind == "finished"
    assert threads == {threading.get_ident()}
    assert [p.epoch for p in seen if p.kind == "epoch"] == [0, 1]
    assert any(p.weights is not None for p in seen if p.kind == "step")
    assert not runner.running


def test_steps_are_throttled(qtbot, runner):
    steps = []
    runner.progress.connect(lambda p: p.kind == "step" and steps.append(p))
    with qtbot.waitSignal(runner.finished, timeout=20000):
        runner.start(toy_trainer(epochs=3), rate=2)
    assert 1 <= len(steps) < 3 * 32 / 4


def test_stop_ends_the_run_with_a_whole_model(qtbot, runner):
    trainer = toy_trainer(epochs=200)
    with qtbot.waitSignal(runner.progress, timeout=10000):
        runner.start(trainer, rate=100)
    with qtbot.waitSignal(runner.finished, timeout=10000) as blocker:
        runner.stop()
    assert blocker.args[0].kind == "stopped"
    assert all(np.isfinite(v).all() for v in trainer.model.named_params().values())


def test_pause_holds_the_worker_until_resume(qtbot, runner):
    trainer = toy_trainer(epochs=200)
    with qtbot.waitSignal(runner.progress, timeout=10000):
        runner.start(trainer, rate=1000)
    runner.pause()
    qtbot.wait(100)   # let the worker reach the pause
    steps = []
    runner.progress.connect(lambda p: steps.append(p.step))
    qtbot.wait(300)
    frozen = list(steps)
    qtbot.wait(200)
    assert steps == frozen                      # nothing new while paused
    runner.resume()
    qtbot.waitUntil(lambda: len(steps) > len(frozen), timeout=5000)


def test_an_exception_in_the_worker_reaches_the_gui(qtbot, runner):
    trainer = toy_trainer()
    trainer.train_x = trainer.train_x[:, :, :4]   # wrong shape: the network will refuse it
    with qtbot.waitSignal(runner.failed, timeout=10000) as blocker:
        runner.start(trainer)
    assert "expects inputs of shape" in blocker.args[0]
    qtbot.waitUntil(lambda: not runner.running, timeout=5000)


def test_shutdown_while_running_joins_the_thread(qtbot):
    runner = TrainingRunner()
    with qtbot.waitSignal(runner.progress, timeout=10000):
        runner.start(toy_trainer(epochs=1000), rate=100)
    assert runner.shutdown(5000)
    assert not runner.running


def test_every_step_reaches_the_gui_in_records_despite_throttling(qtbot, runner):
    records = []
    runner.steps.connect(records.append)
    with qtbot.waitSignal(runner.finished, timeout=20000):
        runner.start(toy_trainer(epochs=3), rate=2)
    steps = np.concatenate(records)
    assert steps.shape == (3 * 32, 5)
    assert steps[:, 0].tolist() == list(range(1, 97))
    assert set(steps[:, 1]) == {0, 1, 2}


def test_reports_of_a_run_joined_by_shutdown_do_not_reach_the_next_one(qtbot):
    runner = TrainingRunner()
    late = []
    with qtbot.waitSignal(runner.progress, timeout=10000):
        runner.start(toy_trainer(epochs=1000), rate=1000)
    assert runner.shutdown(5000)
    runner.progress.connect(late.append)
    runner.finished.connect(late.append)
    qtbot.wait(200)          # what the first worker queued before it was joined arrives now
    assert late == []
    with qtbot.waitSignal(runner.finished, timeout=20000) as blocker:
        runner.start(toy_trainer(epochs=1))
    assert blocker.args[0].kind == "finished" and blocker.args[0].epochs == 1
    assert not runner.running
