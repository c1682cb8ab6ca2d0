"""Fine-tune a network on the user's own drawings, replaying its old training data; no Qt.

The user's drawings (:mod:`cnnviz.data.user_drawings`, read with
:func:`cnnviz.data.load_image_folder`: a fixed fifth of each class is held out) are few, and a
network trained on them alone forgets what it knew. So each epoch sees the drawings, augmented
(:func:`cnnviz.training.augment.augment_batch`: distortions for digits, flips and crops for
photos), mixed with ``replay`` images of the data the network learnt from (MNIST, the offline
digits, CIFAR-10...) drawn at random, :data:`REPLAY_PER_DRAWING` for each drawing, with a small
learning rate. Accuracy on the held-out drawings and on the replay set's test images is measured
before and after (:class:`FineTuneReport`).

The drawings' classes are matched to the network's by name (a folder ``7`` is the network's class
"7"); folders of other names are left out and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from cnnviz.data import Dataset
from cnnviz.data.pipeline import batch_to_input
from cnnviz.nn import Sequential
from cnnviz.nn.contract import InputContract

from .augment import augmentation_for
from .metrics import evaluate
from .trainer import TrainConfig, Trainer

__all__ = ["FineTuneError", "FineTuneReport", "fine_tune", "REPLAY_PER_DRAWING"]

#: Replayed images per drawing in each epoch.
REPLAY_PER_DRAWING = 16
#: Test images of the replay set measured before and after (the first ones, spread by class).
REPLAY_TEST = 2000


class FineTuneError(ValueError):
    """The drawings cannot fine-tune this network; the message says why."""


@dataclass(frozen=True)
class FineTuneReport:
    """Accuracy before and after (None where there was nothing to measure)."""

    drawings_before: float | None
    drawings_after: float | None
    replay_before: float
    replay_after: float
    trained_on: int
    held_out: int
    replayed: int
    epochs: int
    notes: tuple[str, ...] = field(default=())

    def text(self, replay_name: str = "the test set") -> str:
        def pct(v):
            return "\u2013" if v is None else f"{v:.1%}"

        return (f"held-out drawings ({self.held_out}): {pct(self.drawings_before)} \u2192 "
                f"{pct(self.drawings_after)}; {replay_name}: {pct(self.replay_before)} \u2192 "
                f"{pct(self.replay_after)}")


def _to_network_classes(data: Dataset, contract: InputContract):
    """The drawings' images and labels as the network's class indices; notes on the rest."""
    index = {name: k for k, name in enumerate(contract.classes)}
    names = data.class_names
    mapping = np.array([index.get(name, -1) for name in names], np.int64)
    unknown = [name for name, k in zip(names, mapping) if k < 0]
    out = []
    for x, y in ((data.train_x, data.train_y), (data.test_x, data.test_y)):
        labels = mapping[np.asarray(y, np.int64)] if len(y) else np.zeros(0, np.int64)
        keep = labels >= 0
        out += [x[keep], labels[keep]]
    notes = ([f"class folders the network has no class for were left out: "
              f"{', '.join(unknown)}"] if unknown else [])
    return (*out, notes)


def _inputs(images: np.ndarray, contract: InputContract) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    return batch_to_input(images, contract)


def fine_tune(model: Sequential, contract: InputContract, drawings: Dataset, replay: Dataset, *,
              epochs: int = 4, lr: float = 2e-4, batch_size: int = 32, seed: int = 0,
              replay_per_drawing: int = REPLAY_PER_DRAWING, replay_test: int = REPLAY_TEST,
              progress: Optional[Callable[[int, int], Optional[bool]]] = None,
              ) -> tuple[dict[str, np.ndarray], FineTuneReport]:
    """Fine-tune a copy of ``model`` (left unchanged) on ``drawings`` mixed with ``replay``.

    Parameters
    ----------
    drawings : Dataset
        The user's drawings as the image-folder reader gives them (class names are the folders').
    replay : Dataset
        What the network learnt from, uint8 images of its input size; labels are its classes.
    progress : callable, optional
        ``progress(step, steps)`` after every batch; False stops (the weights so far are kept).

    Returns
    -------
    weights : dict of str to np.ndarray
        The fine-tuned weights.
    report : FineTuneReport

    Raises
    ------
    FineTuneError
        No drawing of a class the network has.
    """
    train_x, train_y, held_x, held_y, notes = _to_network_classes(drawings, contract)
    if len(train_x) == 0:
        raise FineTuneError("there is no drawing to learn from of a class this network has: "
                            "label some drawings first")
    rng = np.random.default_rng(seed)
    tune = model.copy()
    held = _inputs(held_x, contract) if len(held_x) else None
    test_n = min(replay_test, len(replay.test_y))
    test_idx = np.sort(rng.choice(len(replay.test_y), test_n, replace=False))
    replay_test_x = _inputs(replay.test_x[test_idx], contract)
    replay_test_y = np.asarray(replay.test_y[test_idx], np.int64)

    def measure():
        drawn = evaluate(tune, held, held_y).accuracy if held is not None else None
        return drawn, evaluate(tune, replay_test_x, replay_test_y).accuracy

    drawings_before, replay_before = measure()
    own = _inputs(train_x, contract)
    count = min(len(replay.train_y), replay_per_drawing * len(train_y))
    config = TrainConfig(epochs=1, batch_size=batch_size, lr=lr, optimizer="adam", augment=True,
                         augmentation=augmentation_for(contract.pipeline))
    steps_per_epoch = -(-(len(own) + count) // batch_size)
    step, total = 0, epochs * steps_per_epoch
    done_epochs = 0
    for epoch in range(epochs):
        pick = rng.choice(len(replay.train_y), count, replace=False)
        x = np.concatenate([own, _inputs(replay.train_x[pick], contract)])
        y = np.concatenate([train_y, np.asarray(replay.train_y[pick], np.int64)])
        trainer = Trainer(tune, x, y, config=replace(config, seed=int(rng.integers(2**31))))
        stopped = False
        for report in trainer.run():
            if report.kind == "step":
                step += 1
                if progress is not None and progress(step, total) is False:
                    trainer.stop()
                    stopped = True
            elif report.kind in ("diverged", "error"):
                raise FineTuneError(f"fine-tuning failed: {report.message}")
        done_epochs = epoch + 1
        if stopped:
            break
    drawings_after, replay_after = measure()
    return tune.get_weights(), FineTuneReport(
        drawings_before, drawings_after, replay_before, replay_after, len(train_y),
        len(held_y), count, done_epochs, tuple(notes))


#: Offline digits drawn for replay when MNIST is not on disk (training; test is a fifth of it).
OFFLINE_REPLAY = 5000


def replay_data(contract: InputContract) -> Dataset:
    """What to replay for a network of ``contract`` without downloading anything: MNIST if it is
    on disk, else digits cnnviz draws (:func:`~cnnviz.training.sources.offline_digits`, a test
    set drawn with another seed) for a digit network; CIFAR-10 if it is on disk for a network
    with CIFAR-10's classes.

    Raises
    ------
    FineTuneError
        Nothing to replay for this network (a colour network without CIFAR-10 on disk).
    """
    from cnnviz.data import CIFAR10_CLASSES, DataError, find_mnist, load_mnist
    from cnnviz.data.loaders import find_cifar10, load_default_cifar10

    from .sources import offline_digits

    try:
        if contract.pipeline == "digits" and tuple(contract.classes) == tuple(
                str(d) for d in range(10)) and tuple(contract.shape) == (1, 28, 28):
            folder = find_mnist()
            if folder is not None:
                return load_mnist(folder)
            train = offline_digits(OFFLINE_REPLAY, seed=0)
            test = offline_digits(OFFLINE_REPLAY // 5, seed=1)
            return Dataset(train.train_x, train.train_y, test.train_x, test.train_y,
                           name="offline digits")
        if tuple(contract.classes) == tuple(CIFAR10_CLASSES) and tuple(contract.shape) == (
                3, 32, 32) and find_cifar10() is not None:
            return load_default_cifar10(download=False)
    except DataError as exc:
        raise FineTuneError(f"the images to replay cannot be read: {exc}") from None
    raise FineTuneError("there is no training set on disk to replay for this network, so "
                        "fine-tuning would make it forget what it knew (digit networks replay "
                        "MNIST or drawn digits, CIFAR-10 networks CIFAR-10)")
