"""Run a :class:`~cnnviz.training.Trainer` from a worker thread and hand its progress to the GUI.

The trainer trains its own copy of the network (the window's runs in a process of its own: a
:class:`~cnnviz.training.remote.TrainerProcess`, driven the same way); the GUI only ever receives immutable
:class:`~cnnviz.training.Progress` snapshots (weights are copies), throttled so that a fast
trainer cannot flood the event loop, and, with each, the figures of every step since the last
one (so that the curves miss no step).  Signals reach bound slots of objects living in the GUI
thread, so the GUI's handlers run there.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from cnnviz.nn.threads import lower_thread_priority
from cnnviz.training import Progress, Trainer
from cnnviz.training.history import STEP_FIELDS, step_record


class TrainingWorker(QObject):
    """Iterates the trainer in its own thread and emits at most ``rate`` step reports per second
    (epoch and final reports always), each preceded by ``steps`` with the records of the steps
    since the previous one."""

    progress = Signal(object)
    steps = Signal(object)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, trainer: Trainer, rate: float = 10.0, nice: int = 0):
        super().__init__()
        self.trainer = trainer
        self.interval = 1.0 / rate
        self.nice = nice
        #: The run's last report, once the run has ended (read it after joining the thread).
        self.final: Progress | None = None

    @Slot()
    def run(self) -> None:
        # Below the GUI thread: starting a run copies the whole data set for the training
        # process (100-150 ms of a core), and the GUI thread, drawing the new network at that
        # moment, must not wait for a core.
        lower_thread_priority(self.nice)
        last_sent, final, records = 0.0, None, []
        try:
            for report in self.trainer.run():
                if report.kind == "step":
                    records.append(step_record(report))
                    now = time.monotonic()
                    if now - last_sent < self.interval and report.weights is None:
                        continue
                    last_sent = now
                    records = self._flush(records)
                    self.progress.emit(report)
                elif report.kind == "epoch":
                    records = self._flush(records)
                    self.progress.emit(report)
                else:
                    final = report
        except Exception as exc:  # reported to the user, never lost in the thread
            self._flush(records)
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self._flush(records)
        self.final = final
        self.done.emit(final)

    def _flush(self, records: list) -> list:
        """Emit ``steps`` with the records gathered (an (n, 5) array), if any; a fresh list."""
        if records:
            self.steps.emit(np.array(records, dtype=np.float64).reshape(-1, len(STEP_FIELDS)))
        return []


class TrainingRunner(QObject):
    """Owns the worker thread of one training run; lives in the GUI thread.

    Signals
    -------
    progress(Progress)
        A throttled step report or an epoch report.
    steps(np.ndarray)
        Just before each ``progress`` (and ``finished``): float64 (n, 5) records of every step
        since the last ``steps``, columns :data:`~cnnviz.training.history.STEP_FIELDS`.
    finished(Progress)
        The last report (kind ``finished``, ``stopped`` or ``diverged``) once the thread has ended.
    failed(str)
        The worker raised; the message says what happened.
    """

    progress = Signal(object)
    steps = Signal(object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self.trainer: Trainer | None = None
        self._final: Progress | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, trainer: Trainer, rate: float = 10.0, nice: int = 0) -> None:
        """Start training ``trainer`` (which must own its own copy of the network), from a
        thread whose scheduling priority is ``nice`` lower than the GUI's."""
        if self.running:
            raise RuntimeError("a training run is already in progress")
        self.trainer, self._final = trainer, None
        self._thread = QThread()
        self._thread.setObjectName("cnnviz-training")
        self._worker = TrainingWorker(trainer, rate, nice)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.steps.connect(self._on_steps)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._thread.finished.connect(self._on_thread_finished)
        self._thread.start()

    def pause(self) -> None:
        if self.trainer is not None:
            self.trainer.pause()

    def resume(self) -> None:
        if self.trainer is not None:
            self.trainer.resume()

    def stop(self) -> None:
        """Ask the trainer to stop after the current step (returns at once)."""
        if self.trainer is not None:
            self.trainer.stop()

    @property
    def final(self) -> Progress | None:
        """The last report of the last run that ended (None while one runs, or if it failed);
        after :meth:`shutdown` too, which drops the signals still queued."""
        return self._final

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Stop and wait for the thread to end (for closing the window); True if it ended.
        Its ``finished`` signal is not emitted: :attr:`final` holds the last report."""
        if self._thread is None:
            return True
        self.stop()
        self._thread.quit()
        ended = self._thread.wait(timeout_ms)
        if ended:
            self._final = self._worker.final
            self._cleanup()
        return ended

    # Signals queued by a worker that shutdown() already joined, or by the worker of an earlier
    # run, arrive late: their sender is no longer this run's worker (or thread) and they are
    # dropped, so that nothing of an ended run reaches the next one.
    @Slot(object)
    def _on_progress(self, report: Progress) -> None:
        if self.sender() is self._worker:
            self.progress.emit(report)

    @Slot(object)
    def _on_steps(self, records: np.ndarray) -> None:
        if self.sender() is self._worker:
            self.steps.emit(records)

    @Slot(object)
    def _on_done(self, report: Progress) -> None:
        if self.sender() is self._worker:
            self._final = report
            self._thread.quit()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self.sender() is self._worker:
            self._thread.quit()
            self.failed.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self.sender() is not self._thread:
            return
        final = self._final
        self._cleanup()
        if final is not None:
            self.finished.emit(final)

    def _cleanup(self) -> None:
        if self._thread is None:
            return
        self._worker.deleteLater()
        self._thread.deleteLater()
        self._thread = self._worker = None
