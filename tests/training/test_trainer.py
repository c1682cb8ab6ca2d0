"""The training loop: determinism, progress, pause/resume/stop, divergence, metrics."""

import threading

import numpy as np
import pytest

from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
from cnnviz.training import TrainConfig, Trainer, distort, evaluate
from cnnviz.training.augment import Augmentation


def toy_data(n=96, seed=0):
    """Bright-left vs bright-right images: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.random((n, 1, 8, 8), dtype=np.float32) * 0.3
    x[y == 0, :, :, :4] += 0.7
    x[y == 1, :, :, 4:] += 0.7
    return x, y


def toy_net(seed=0):
    return Sequential([Conv2D(out_channels=2, kernel_size=3, padding="same"), ReLU(), MaxPool2D(2),
                       Flatten(), Dense(out_features=2)], input_shape=(1, 8, 8), seed=seed)


def run_all(trainer):
    return list(trainer.run())


def test_same_seed_gives_the_same_run_and_the_model_learns():
    x, y = toy_data()
    config = TrainConfig(epochs=3, batch_size=16, lr=0.01, seed=4)
    a, b = toy_net(), toy_net()
    ra = run_all(Trainer(a, x, y, x, y, config=config))
    rb = run_all(Trainer(b, x, y, x, y, config=config))
    assert [p.loss for p in ra] == [p.loss for p in rb]
    for name, value in a.named_params().items():
        np.testing.assert_array_equal(value, b.named_params()[name])
    epochs = [p for p in ra if p.kind == "epoch"]
    assert len(epochs) == 3 and epochs[-1].val_accuracy > 0.95
    assert ra[-1].kind == "finished"
    assert len(epochs[-1].per_class_accuracy) == 2


def test_progress_counts_steps_fraction_and_snapshots():
    x, y = toy_data(50)
    reports = run_all(Trainer(toy_net(), x, y, config=TrainConfig(epochs=2, batch_size=16,
                                                                   snapshot_interval=0.0)))
    steps = [p for p in reports if p.kind == "step"]
    assert [p.step for p in steps] == list(range(1, 9))      # 4 batches (16,16,16,2) x 2 epochs
    assert steps[-1].fraction == pytest.approx(1.0)
    assert all(p.weights is not None for p in steps)
    # snapshots are copies, not the live arrays
    assert not np.shares_memory(steps[0].weights["0.weight"], steps[-1].weights["0.weight"])
    assert not np.array_equal(steps[0].weights["0.weight"], steps[-1].weights["0.weight"])


def test_stop_between_steps_leaves_a_whole_model():
    x, y = toy_data()
    model = toy_net()
    trainer = Trainer(model, x, y, config=TrainConfig(epochs=50, batch_size=8))
    seen = []
    for p in trainer.run():
        seen.append(p)
        if p.step == 5:
            trainer.stop()
    assert seen[-1].kind == "stopped" and seen[-1].step == 5
    assert all(np.isfinite(v).all() for v in model.named_params().values())
    assert model.layers[0].need_input_grad  # restored for display gradients


def test_pause_blocks_until_resume_from_another_thread():
    x, y = toy_data()
    trainer = Trainer(toy_net(), x, y, config=TrainConfig(epochs=1, batch_size=8))
    gen = trainer.run()
    next(gen)
    trainer.pause()
    assert trainer.paused
    result = {}

    def consume():
        result["next"] = next(gen)

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(0.3)
    assert worker.is_alive() and "next" not in result   # waiting while paused
    trainer.resume()
    worker.join(5)
    assert not worker.is_alive() and result["next"].step == 2


def test_divergence_stops_and_restores_the_last_good_weights():
    x, y = toy_data()
    model = toy_net()
    trainer = Trainer(model, x, y, config=TrainConfig(epochs=5, batch_size=8, optimizer="sgd",
                                                      lr=1e30, momentum=0.0))
    reports = run_all(trainer)
    last = reports[-1]
    assert last.kind == "diverged" and "diverged" in last.message
    assert all(np.isfinite(v).all() for v in model.named_params().values())
    logits = model.forward(x)
    assert np.isfinite(logits).all()


def naive_evaluation(model, x, labels, classes):
    """Confusion matrix, per-class accuracy and loss by explicit loops, one image at a time."""
    confusion = [[0] * classes for _ in range(classes)]
    loss = 0.0
    for image, label in zip(x, labels):
        logits = [float(v) for v in model.forward(image[None].astype(np.float64))[0]]
        best = max(range(classes), key=lambda k: logits[k])
        confusion[int(label)][best] += 1
        top = max(logits)
        loss += top + np.log(sum(np.exp(v - top) for v in logits)) - logits[int(label)]
    per_class = [confusion[t][t] / sum(confusion[t]) if sum(confusion[t]) else 0.0
                 for t in range(classes)]
    return np.array(confusion), np.array(per_class), loss / len(labels)


def test_evaluation_confusion_matrix_counts_every_pair():
    """Against a loop count, in batches that do not divide the images (10 of 64), with four
    classes so that the matrix has off-diagonal cells to get wrong."""
    rng = np.random.default_rng(5)
    x = rng.random((64, 1, 8, 8))
    y = rng.integers(0, 4, 64)
    model = Sequential([Conv2D(out_channels=3, kernel_size=3), ReLU(), Flatten(),
                        Dense(out_features=4)], input_shape=(1, 8, 8), seed=3).astype(np.float64)
    result = evaluate(model, x, y, batch_size=10)
    confusion, per_class, loss = naive_evaluation(model, x, y, 4)
    assert (confusion > 0).sum() >= 6 and np.trace(confusion) < 64      # not a trivial matrix
    np.testing.assert_array_equal(result.confusion, confusion)
    np.testing.assert_allclose(result.per_class_accuracy, per_class, rtol=1e-12)
    assert result.accuracy == pytest.approx(np.trace(confusion) / 64)
    assert result.loss == pytest.approx(loss, rel=1e-6)
    assert result.probabilities.shape == (64, 4)
    wrong = result.misclassified()
    assert set(wrong) == set(np.nonzero(result.predictions != y)[0])
    conf = result.probabilities[wrong].max(axis=1)
    assert np.all(np.diff(conf) <= 0)


def test_distortions_are_seeded_bounded_and_keep_the_digit():
    x = np.zeros((4, 1, 28, 28), np.float32)
    x[:, :, 8:20, 12:16] = 1.0
    a = distort(x, np.random.default_rng(1))
    b = distort(x, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1.0 + 1e-6
    assert not np.array_equal(a, x)
    # the geometric distortions keep about the same amount of ink (the stroke width changes
    # too by default: tests/training/test_thickness.py)
    same_width = distort(x, np.random.default_rng(1), Augmentation(thickness=0.0))
    np.testing.assert_allclose(same_width.sum(axis=(1, 2, 3)), x.sum(axis=(1, 2, 3)), rtol=0.35)


def test_cosine_annealing_follows_the_closed_form():
    """lr after step t of T is lr0 * (1 + cos(pi t / T)) / 2: half at the middle, zero at the end."""
    x, y = toy_data(64)
    config = TrainConfig(epochs=3, batch_size=16, lr=0.02, optimizer="sgd", cosine=True)
    reports = [p for p in run_all(Trainer(toy_net(), x, y, config=config)) if p.kind == "step"]
    total = 3 * 4
    assert [p.step for p in reports] == list(range(1, total + 1))
    expected = [0.02 * (1 + np.cos(np.pi * t / total)) / 2 for t in range(1, total + 1)]
    np.testing.assert_allclose([p.lr for p in reports], expected, rtol=1e-12, atol=1e-15)
    assert reports[total // 2 - 1].lr == pytest.approx(0.01, rel=1e-12)
    assert reports[-1].lr == pytest.approx(0.0, abs=1e-15)


def test_cosine_annealing_follows_torch_and_reaches_zero(torch):
    x, y = toy_data(64)
    config = TrainConfig(epochs=2, batch_size=16, lr=0.02, optimizer="sgd", cosine=True)
    reports = [p for p in run_all(Trainer(toy_net(), x, y, config=config)) if p.kind == "step"]
    # Each report gives the rate after its step, as torch does after scheduler.step().
    net = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.02)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
    expected = []
    for _ in range(8):
        opt.step()
        sched.step()
        expected.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose([p.lr for p in reports], expected, rtol=1e-9, atol=1e-12)
    assert reports[-1].lr == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="either"):
        TrainConfig(lr_step=1, cosine=True).validate()


def bn_net(seed=0):
    from cnnviz.nn import BatchNorm

    return Sequential([Conv2D(out_channels=2, kernel_size=3, padding="same"), BatchNorm(),
                       ReLU(), MaxPool2D(2), Flatten(), Dense(out_features=2)],
                      input_shape=(1, 8, 8), seed=seed)


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_norm_trains_in_training_mode_and_evaluates_with_running_statistics(workers):
    x, y = toy_data()
    model = bn_net()
    reports = run_all(Trainer(model, x, y, x, y, config=TrainConfig(
        epochs=3, batch_size=16, lr=0.05, seed=1, workers=workers)))
    assert reports[-2].val_accuracy > 0.9
    state = model.named_state()
    assert not np.allclose(state["1.running_mean"], 0) and not np.allclose(
        state["1.running_var"], 1)
    # evaluation uses the running statistics: an image's scores do not depend on its batch
    together = model.forward(x[:10])
    alone = np.concatenate([model.forward(x[i:i + 1]) for i in range(10)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("workers", [1, 2])  # 2: the parameters bound to the workers' vector
def test_divergence_restores_the_running_statistics_of_the_last_good_step(workers):
    x, y = toy_data()
    model = bn_net()
    reports = run_all(Trainer(model, x, y, config=TrainConfig(
        epochs=5, batch_size=8, optimizer="sgd", lr=1e30, momentum=0.0, snapshot_interval=0.0,
        workers=workers)))
    assert reports[-1].kind == "diverged" and len(reports) >= 2
    good = reports[-2].weights
    for name, value in model.named_state().items():
        assert np.isfinite(value).all()
        np.testing.assert_array_equal(value, good[name], err_msg=name)
