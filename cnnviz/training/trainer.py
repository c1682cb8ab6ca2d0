"""A Qt-free training loop written as a generator of small, immutable progress snapshots.

The caller (the CLI, or a worker thread of the window) iterates :meth:`Trainer.run`; the trainer
checks its pause and stop requests between steps only, so the model is never left half-updated,
and on a non-finite loss or gradient it restores the last good weights and reports divergence.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

from cnnviz.nn import Sequential, SoftmaxCrossEntropy, StepLR, make_optimizer
from cnnviz.nn.optim import CosineLR, flat_views

from .augment import AUGMENTATIONS, augment_batch
from .health import NetworkHealth, measure_health
from .metrics import evaluate


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run."""

    epochs: int = 1
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    lr_step: int = 0            # epochs between learning-rate drops; 0 keeps it constant
    lr_gamma: float = 0.1
    cosine: bool = False        # anneal the learning rate to zero over the run, step by step
    seed: int = 0
    augment: bool = False
    # With augment: "digits" (distortions), "photos" (flips, crops) or "auto": digits for
    # one-channel networks, photos otherwise (a caller knowing the pipeline says which).
    augmentation: str = "auto"
    snapshot_interval: float | None = None  # seconds between weight copies in progress; None: never
    health_probe: int = 0       # training images run to measure health at snapshots; 0: never
    health_interval: float = 1.0  # seconds between health measurements (at the next snapshot)
    workers: int = 1            # shards each batch is split into, one process each (see below)
    local_shard: bool = True    # compute the first shard in the calling thread
    worker_nice: int = 0        # lower the worker processes' priority by this much (the window)

    # With ``workers > 1`` every batch is split across processes (cnnviz.nn.parallel): that is how
    # the engine uses a second core.  The run stays reproducible for a given seed and number of
    # workers; it differs from a one-worker run only in the order of floating-point additions (and
    # in the dropout masks, which each worker draws for its own shard).

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch size must be at least 1")
        if not self.lr > 0:
            raise ValueError("the learning rate must be positive")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.augmentation not in AUGMENTATIONS + ("auto",):
            raise ValueError(f"unknown augmentation {self.augmentation!r} "
                             f"(known: {', '.join(AUGMENTATIONS)})")
        if self.cosine and self.lr_step:
            raise ValueError("choose either a step schedule or cosine annealing, not both")


@dataclass(frozen=True)
class Progress:
    """One report from the training loop.

    ``kind`` is ``"step"`` after each batch, ``"epoch"`` after each epoch (with validation
    figures), and finally one of ``"finished"``, ``"stopped"`` or ``"diverged"`` (with
    ``message``).  ``weights`` is a copy of every parameter when a snapshot was due, else None;
    ``health`` holds the network's health figures with some snapshots (as
    ``TrainConfig.health_probe`` and ``health_interval`` ask), else None.
    """

    kind: str
    step: int
    epoch: int                  # 0-based epoch in progress (or just finished)
    epochs: int
    batch: int                  # batches done in this epoch
    batches: int                # batches per epoch
    loss: float
    accuracy: float             # running accuracy over this epoch's batches so far
    lr: float
    samples_per_s: float
    elapsed: float
    val_loss: float | None = None
    val_accuracy: float | None = None
    per_class_accuracy: tuple | None = None
    weights: dict | None = field(default=None, repr=False)
    message: str = ""
    health: NetworkHealth | None = field(default=None, repr=False)

    @property
    def fraction(self) -> float:
        """Fraction of the whole run done, 0..1."""
        return (self.epoch * self.batches + self.batch) / max(self.epochs * self.batches, 1)

    @property
    def eta(self) -> float:
        """Estimated seconds left."""
        done = self.fraction
        return self.elapsed * (1 - done) / done if done > 0 else float("nan")


class Trainer:
    """Train ``model`` in place on ``(train_x, train_y)``, validating on ``(val_x, val_y)``.

    Parameters
    ----------
    model : Sequential
    train_x : ndarray, shape (N, *model.input_shape), float32
    train_y : ndarray, shape (N,), int
    val_x, val_y : optional validation set, evaluated after every epoch
    config : TrainConfig
    """

    def __init__(self, model: Sequential, train_x, train_y, val_x=None, val_y=None,
                 config: TrainConfig = TrainConfig()):
        config.validate()
        if len(train_x) != len(train_y) or len(train_x) == 0:
            raise ValueError("training images and labels must be non-empty and of equal length")
        self.model = model
        self.train_x, self.train_y = train_x, np.asarray(train_y, dtype=np.int64)
        self.val_x = val_x
        self.val_y = None if val_y is None else np.asarray(val_y, dtype=np.int64)
        self.config = config
        self.optimizer = make_optimizer(config.optimizer, lr=config.lr, momentum=config.momentum,
                                        nesterov=config.nesterov, weight_decay=config.weight_decay)
        self.schedule = StepLR(self.optimizer, config.lr_step, config.lr_gamma) if config.lr_step else None
        batches = -(-len(train_x) // config.batch_size)
        self.step_schedule = CosineLR(self.optimizer, config.epochs * batches) if config.cosine else None
        self.loss = SoftmaxCrossEntropy()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    # Requests, safe to call from any thread; honoured between steps.
    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def run(self):
        """Train, yielding a :class:`Progress` after every batch and every epoch."""
        cfg, model = self.config, self.model
        rng = np.random.default_rng(cfg.seed)
        n = len(self.train_x)
        batches = -(-n // cfg.batch_size)
        model.layers[0].need_input_grad = False
        start = last_snapshot = time.perf_counter()
        last_health = -float("inf")
        step, good = 0, model.get_weights()
        probe = self.train_x[:cfg.health_probe] if cfg.health_probe else None
        report = None
        parallel = None
        augmentation = cfg.augmentation if cfg.augmentation != "auto" else \
            "digits" if tuple(model.input_shape)[:1] == (1,) else "photos"
        try:
            if cfg.workers > 1 and cfg.batch_size > 1:
                from cnnviz.nn.parallel import ParallelGradients

                parallel = ParallelGradients(model, min(cfg.workers, cfg.batch_size),
                                             max_batch=cfg.batch_size, seed=cfg.seed,
                                             local=cfg.local_shard, nice=cfg.worker_nice)
                # The parameters in one flat vector the workers read: nothing to copy to them,
                # and the optimiser updates them all at once (the same numbers as by name).
                parallel.bind_parameters()
                if parallel.parameter_vector is not None:
                    good_vector = parallel.parameter_vector.copy()
                    good = dict(flat_views(good_vector, parallel.layout))
                    good.update({name: value.copy()  # batch normalisation's running statistics
                                 for name, value in model.named_state().items()})
            for epoch in range(cfg.epochs):
                order = rng.permutation(n)
                correct = seen = 0
                for b in range(batches):
                    if not self._running.is_set():
                        paused_at = time.perf_counter()
                        self._running.wait()
                        start += time.perf_counter() - paused_at
                    if self._stop.is_set():
                        report = report or Progress("step", 0, 0, cfg.epochs, 0, batches,
                                                    float("nan"), 0.0, self.optimizer.lr, 0.0, 0.0)
                        yield replace(report, kind="stopped", message="stopped by request")
                        return
                    idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                    x, y = self.train_x[idx], self.train_y[idx]
                    if cfg.augment:
                        x = augment_batch(x, rng, augmentation)
                    if parallel is not None:
                        loss, batch_correct, grads = parallel(x, y)
                    else:
                        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked
                            logits = model.forward(x, training=True)
                            loss, grad = self.loss(logits, y)
                            if np.isfinite(loss):
                                model.backward(grad)
                                grads = model.named_grads()
                        batch_correct = int((logits.argmax(axis=1) == y).sum())
                    finite = np.isfinite(loss) and (
                        bool(np.isfinite(parallel.gradient_vector).all()) if parallel is not None
                        else all(np.isfinite(g).all() for g in grads.values()))
                    if not finite:
                        model.set_weights(good)
                        elapsed = time.perf_counter() - start
                        yield Progress("diverged", step, epoch, cfg.epochs, b, batches, loss,
                                       correct / max(seen, 1), self.optimizer.lr, 0.0, elapsed,
                                       weights=model.get_weights(),
                                       message=f"training diverged at step {step + 1} (loss {loss}); "
                                               "the last good weights were kept — try a smaller "
                                               "learning rate")
                        return
                    vector = parallel.parameter_vector if parallel is not None else None
                    if vector is not None:
                        np.copyto(good_vector, vector)  # the weights to go back to
                        for name, value in model.named_state().items():  # running statistics
                            np.copyto(good[name], value)
                        self.optimizer.step_vector(vector, parallel.gradient_vector,
                                                   parallel.layout)
                    else:
                        for name, value in model.named_weights().items():  # weights to go back to
                            np.copyto(good[name], value)
                        self.optimizer.step(model.named_params(), grads)
                    if self.step_schedule is not None:
                        self.step_schedule.step()
                    step += 1
                    correct += batch_correct
                    seen += len(y)
                    now = time.perf_counter()
                    weights = health = None
                    if cfg.snapshot_interval is not None and now - last_snapshot >= cfg.snapshot_interval:
                        weights, last_snapshot = model.get_weights(), now
                        if probe is not None and now - last_health >= cfg.health_interval:
                            with np.errstate(over="ignore", invalid="ignore"):  # near divergence
                                health = measure_health(model, grads, probe)
                            last_health = now
                    elapsed = now - start
                    report = Progress("step", step, epoch, cfg.epochs, b + 1, batches, loss,
                                      correct / seen, self.optimizer.lr,
                                      step * cfg.batch_size / max(elapsed, 1e-9), elapsed,
                                      weights=weights, health=health)
                    yield report
                extra = {}
                if self.val_x is not None and len(self.val_x):
                    result = evaluate(model, self.val_x, self.val_y)
                    extra = dict(val_loss=result.loss, val_accuracy=result.accuracy,
                                 per_class_accuracy=tuple(float(v) for v in result.per_class_accuracy))
                report = replace(report, kind="epoch", weights=model.get_weights(), **extra)
                yield report
                if self.schedule is not None:
                    self.schedule.step()
            yield replace(report, kind="finished", weights=None, message="training finished")
        finally:
            model.layers[0].need_input_grad = True
            if parallel is not None:
                parallel.close()
