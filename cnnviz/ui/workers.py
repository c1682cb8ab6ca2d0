"""Run one long function at a time in a worker thread: progress, cancel, errors, clean shutdown.

A :class:`TaskRunner` lives in the GUI thread.  :meth:`TaskRunner.start` runs ``function(progress)``
in a fresh ``QThread``; the function calls ``progress(done, total)`` now and then and stops when
it returns False (the convention of :mod:`cnnviz.analysis`, whose methods raise
:class:`~cnnviz.analysis.Cancelled` then).  The outcome comes back to the GUI thread, once the
thread has ended, as exactly one of the signals ``finished(result)``, ``cancelled()`` or
``failed(message)``.

Starting a new function while one runs cancels the running one and queues the new one: the
latest request wins, and results of superseded requests are never delivered.  The function must
not touch objects the GUI thread uses (give it its own ``model.copy()``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from cnnviz.analysis import Cancelled

#: ``function(progress)`` where ``progress(done, total) -> bool`` (False: stop now).
Task = Callable[[Callable[[int, int], bool]], Any]


class _Worker(QObject):
    """Calls the task in the worker thread and reports throttled progress and the outcome."""

    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, task: Task, cancel: threading.Event, interval: float):
        super().__init__()
        self._task, self._cancel, self._interval = task, cancel, interval
        self._last = 0.0

    @Slot()
    def run(self) -> None:
        try:
            result = self._task(self.report)
        except Cancelled:
            result = None
        except Exception as exc:  # reported to the user, never lost in the thread
            if not self._cancel.is_set():
                self.failed.emit(f"{type(exc).__name__}: {exc}")
                return
            result = None
        self.done.emit(result)

    def report(self, done: int, total: int) -> bool:
        """The ``progress`` callback given to the task: emits at most every ``interval``
        seconds (and always at the end); False once cancelled."""
        now = time.monotonic()
        if done >= total or now - self._last >= self._interval:
            self._last = now
            self.progress.emit(int(done), int(total))
        return not self._cancel.is_set()


class TaskRunner(QObject):
    """Runs tasks in a worker thread, one at a time; lives in the GUI thread.

    Parameters
    ----------
    name : str
        Name of the worker thread (for debuggers).
    parent : QObject, optional
        When the parent is destroyed, the running task is cancelled and its thread joined.
    rate : float
        At most this many ``progress`` signals per second.

    Signals
    -------
    started()
        A task started in the worker thread.
    progress(int, int)
        ``(done, total)`` reported by the running task.
    finished(object)
        The task returned this result (emitted after its thread has ended).
    cancelled()
        The task was cancelled (by :meth:`cancel`, or superseded by a newer :meth:`start`).
    failed(str)
        The task raised; the message says what happened.
    """

    started = Signal()
    progress = Signal(int, int)
    finished = Signal(object)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, name: str, parent: QObject | None = None, rate: float = 20.0):
        super().__init__(parent)
        self.name = name
        self.interval = 1.0 / rate
        self.thread: QThread | None = None
        self._worker: _Worker | None = None
        self._cancel = threading.Event()
        self._pending: Task | None = None
        self._outcome: tuple[str, Any] = ("cancelled", None)
        if parent is not None:
            parent.destroyed.connect(self._on_closing)
        QCoreApplication.instance().aboutToQuit.connect(self._on_closing)

    @property
    def running(self) -> bool:
        """A task is running (or a cancelled one is still winding down)."""
        return self.thread is not None

    def start(self, task: Task) -> None:
        """Run ``task(progress)`` in a worker thread.

        If a task is running, it is cancelled and ``task`` starts as soon as its thread has
        ended; a task queued that way and not started yet is replaced.
        """
        if self.thread is not None:
            self._pending = task
            self._cancel.set()
            return
        self._cancel = threading.Event()
        self._outcome = ("cancelled", None)
        self.thread = QThread()
        self.thread.setObjectName(self.name)
        self._worker = _Worker(task, self._cancel, self.interval)
        self._worker.moveToThread(self.thread)
        self.thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self.thread.finished.connect(self._on_thread_finished)
        self.thread.start()
        self.started.emit()

    @Slot()
    def cancel(self) -> None:
        """Ask the running task to stop (returns at once; ``cancelled`` follows) and drop the
        queued one."""
        self._pending = None
        self._cancel.set()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel and wait for the worker thread to end (closing); True if no thread is left."""
        self.cancel()
        if self.thread is None:
            return True
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            return False
        self._release()
        return True

    @Slot()
    def _on_closing(self) -> None:
        self.shutdown()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if not self._cancel.is_set():
            self.progress.emit(done, total)

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        self._outcome = ("finished", result)
        if self.thread is not None:
            self.thread.quit()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._outcome = ("failed", message)
        if self.thread is not None:
            self.thread.quit()

    @Slot()
    def _on_thread_finished(self) -> None:
        if self.thread is None:  # shutdown() already joined it
            return
        kind, value = self._outcome
        if self._cancel.is_set() and kind != "failed":
            kind = "cancelled"
        self._release()
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        pending, self._pending = self._pending, None
        if pending is not None:
            self.start(pending)

    def _release(self) -> None:
        """Forget the ended thread (``finished`` is emitted just before it really ends)."""
        self.thread.wait()
        self.thread = self._worker = None
