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

No worker thread outlives its runner's window: :meth:`TaskRunner.shutdown` cancels, waits at most
:data:`SHUTDOWN_WAIT_MS`, and refuses any later task.  A task that does not hear the cancellation
in time (one step of it takes longer) is never destroyed while it runs, which would abort the
process ("QThread: Destroyed while thread is still running"): its thread is kept in a list of
detached threads until it ends, and :func:`wait_for_detached` tells the application, before it
exits, whether any is left.

:func:`run_with_progress` runs one function in a worker while the caller waits in a local event
loop (the window keeps drawing and answering), behind a progress dialog that appears only when
the wait is longer than :data:`DIALOG_DELAY_MS`; opening files uses it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from cnnviz.analysis import Cancelled
from cnnviz.ui.window import errors

#: ``function(progress)`` where ``progress(done, total) -> bool`` (False: stop now).
Task = Callable[[Callable[[int, int], bool]], Any]

#: What a ``failed`` signal says of a ``MemoryError``.
NO_MEMORY = "there is not enough memory on this computer for this computation"

#: How long closing waits for a task to hear its cancellation (milliseconds).
SHUTDOWN_WAIT_MS = 3000

#: The progress dialog of :func:`run_with_progress` appears after this wait (milliseconds).
DIALOG_DELAY_MS = 300


def _forget_foreign_thread() -> None:
    """Forget this QThread in :mod:`threading`'s registry, if a task registered it there.

    A QThread whose task starts Python threads (a thread pool decoding a folder of images) is
    registered by Python as a "dummy" thread when the first one is made, and Python 3.11 never
    removes it: :func:`threading.enumerate` would list every such worker forever."""
    ident = threading.get_ident()
    if isinstance(threading._active.get(ident), threading._DummyThread):
        with threading._active_limbo_lock:
            threading._active.pop(ident, None)


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
            self._run()
        finally:
            _forget_foreign_thread()

    def _run(self) -> None:
        self.error: BaseException | None = None
        try:
            result = self._task(self.report)
        except Cancelled:
            result = None
        except Exception as exc:  # MemoryError included: reported, never lost in the thread
            if not self._cancel.is_set():
                self.error = exc
                self.failed.emit(NO_MEMORY if isinstance(exc, MemoryError)
                                 else f"{type(exc).__name__}: {exc}")
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
        The task raised; the message says what happened ("Type: message", or that memory ran
        out), :attr:`error` holds the exception itself, with its traceback, and
        :attr:`error_log` the log file the traceback was appended to
        (:meth:`failure_text` says where it is).
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
        self._closed = False
        #: The exception of the last failed task (None when it did not fail), and the log
        #: file its traceback was written to (None: not written, or a MemoryError).
        self.error: BaseException | None = None
        self.error_log: Path | None = None
        if parent is not None:
            parent.destroyed.connect(self._on_closing)
        QCoreApplication.instance().aboutToQuit.connect(self._on_closing)

    def failure_text(self, message: str) -> str:
        """``message`` of a ``failed`` signal, and where its details are (if logged)."""
        if self.error_log is None:
            return message
        return f"{message}. {errors.log_note(self.error_log)}"

    @property
    def running(self) -> bool:
        """A task is running (or a cancelled one is still winding down)."""
        return self.thread is not None

    def start(self, task: Task) -> None:
        """Run ``task(progress)`` in a worker thread.

        If a task is running, it is cancelled and ``task`` starts as soon as its thread has
        ended; a task queued that way and not started yet is replaced.  After :meth:`shutdown`
        nothing starts any more.
        """
        if self._closed:
            return
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

    def shutdown(self, timeout_ms: int | None = None) -> bool:
        """Cancel, refuse later tasks, and wait for the worker thread to end (closing), at most
        ``timeout_ms`` (default :data:`SHUTDOWN_WAIT_MS`); True if no thread is left.

        A thread still running then is detached (see :func:`wait_for_detached`), never
        destroyed while it runs; its outcome is dropped.
        """
        self._closed = True
        self.cancel()
        if self.thread is None:
            return True
        self.thread.quit()
        if not self.thread.wait(SHUTDOWN_WAIT_MS if timeout_ms is None else timeout_ms):
            _detach(self.thread, self._worker)
            self.thread = self._worker = None
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
        self._outcome = ("failed", (message, self._worker.error if self._worker else None))
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
        self.error = value[1] if kind == "failed" else None
        self.error_log = None
        if self.error is not None and not isinstance(self.error, MemoryError):
            self.error_log = errors.write_log(f"In {self.name}", self.error)
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "failed":
            self.failed.emit(value[0])
        else:
            self.cancelled.emit()
        pending, self._pending = self._pending, None
        if pending is not None:
            self.start(pending)

    def _release(self) -> None:
        """Forget the ended thread (``finished`` is emitted just before it really ends)."""
        self.thread.wait()
        self.thread = self._worker = None


# --------------------------------------------------------------------------------- detached
class _Reaper(QObject):
    """Keeps detached threads (and their workers) alive until they end; lives in the GUI
    thread, so that a thread's last reference is dropped there, after it has ended."""

    def __init__(self):
        super().__init__()
        self.threads: dict[QThread, _Worker | None] = {}

    def keep(self, thread: QThread, worker: _Worker | None) -> None:
        self.threads[thread] = worker
        thread.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        if thread.isFinished():
            self._on_finished()

    @Slot()
    def _on_finished(self) -> None:
        for thread in [t for t in self.threads if t.isFinished()]:
            thread.wait()
            del self.threads[thread]


_reaper: _Reaper | None = None


def _detach(thread: QThread, worker: _Worker | None) -> None:
    global _reaper
    if _reaper is None:
        _reaper = _Reaper()
    for signal in (worker.progress, worker.done, worker.failed) if worker else ():
        signal.disconnect()
    _reaper.keep(thread, worker)


def detached_threads() -> int:
    """How many detached worker threads are still running."""
    if _reaper is None:
        return 0
    _reaper._on_finished()
    return len(_reaper.threads)


def wait_for_detached(timeout_ms: int) -> bool:
    """Wait up to ``timeout_ms`` for the detached threads to end; True when none is left (the
    process may then exit normally; otherwise it must not destroy them, see ``cnnviz.ui.window.app``)."""
    deadline = time.monotonic() + timeout_ms / 1000
    if _reaper is not None:
        for thread in list(_reaper.threads):
            thread.wait(max(0, int((deadline - time.monotonic()) * 1000)))
    return detached_threads() == 0


# --------------------------------------------------------------------------------- waiting
class Abandoned(Exception):
    """The user cancelled a :func:`run_with_progress` wait (the work's outcome is dropped)."""


def run_with_progress(runner: TaskRunner, function: Callable[[], Any], label: str,
                      parent: QWidget | None, title: str = "cnnviz") -> Any:
    """Run ``function()`` in ``runner``'s worker and wait for it in a local event loop.

    A wait cursor shows at once and a progress dialog (with Cancel, modal to ``parent``'s
    window) after :data:`DIALOG_DELAY_MS`; meanwhile the window keeps repainting and its timers
    run.  Returns the function's result or raises its exception (with its traceback);
    :class:`Abandoned` when the user pressed Cancel, or :func:`abandon_waits` was called, or
    the runner was shut down (the work then ends in the background and its result is dropped).
    """
    loop = QEventLoop()
    outcome: list = []

    # A task abandoned earlier may still be running: this one is queued behind it, and the
    # outcome of the earlier one (its "cancelled") is not this one's.
    ours = [False]

    def started():
        ours[0] = True

    def finished(result):
        if ours[0]:
            outcome.append(("finished", result))
            loop.quit()

    def failed(_message):
        if ours[0]:
            outcome.append(("failed", runner.error))
            loop.quit()

    def cancelled():
        if ours[0]:
            abandon()

    def abandon():
        outcome.append(("cancelled", None))
        loop.quit()

    dialog = QProgressDialog(label, "Cancel", 0, 0, parent, objectName="file_progress_dialog",
                             minimumDuration=DIALOG_DELAY_MS)
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setValue(0)  # starts the delay (else Qt 6 waits its default 4 s)
    dialog.canceled.connect(abandon)
    connections = [(runner.started, started), (runner.finished, finished),
                   (runner.failed, failed), (runner.cancelled, cancelled)]
    for signal, slot in connections:
        signal.connect(slot)
    _waits.append(abandon)
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        runner.start(lambda _progress: function())
        if not runner.running:  # shut down already
            outcome.append(("cancelled", None))
        if not outcome:
            loop.exec()
    finally:
        QApplication.restoreOverrideCursor()
        _waits.remove(abandon)
        for signal, slot in connections:
            signal.disconnect(slot)
        dialog.canceled.disconnect(abandon)
        dialog.reset()
        dialog.hide()
        dialog.deleteLater()
    kind, value = outcome[0]
    if kind == "finished":
        return value
    if kind == "failed" and value is not None:
        raise value
    if kind == "failed":
        raise RuntimeError("the work failed in its thread")
    runner.cancel()
    raise Abandoned()


#: The ``abandon`` callbacks of the waits in progress (innermost last).
_waits: list[Callable[[], None]] = []


def abandon_waits() -> None:
    """End every :func:`run_with_progress` wait in progress as if Cancel was pressed."""
    for abandon in list(_waits):
        abandon()
