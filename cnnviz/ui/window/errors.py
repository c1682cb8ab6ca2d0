"""What the window does with an error nobody expected: a short message, the details, a log file.

An error dialog says what happened in one line ("Type: message"); the traceback waits behind
"Show Details…" (:func:`error_box`), and :func:`write_log` appends it to ``errors.log`` in the
user's data folder (``QStandardPaths.AppDataLocation``, e.g. ``~/.local/share/cnnviz/cnnviz``), so
that a report can quote it after the dialog is gone.

:func:`install_hooks` makes the window the last resort of the whole process while it runs: an
exception that reaches the event loop (a slot, an event handler) or ends a Python thread becomes
an error dialog instead of a traceback on a console nobody reads.
"""

from __future__ import annotations

import datetime
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal, Slot

from cnnviz import __version__

LOG_NAME = "errors.log"
#: The log starts again (the old one kept as ``errors.log.1``) beyond this size, in bytes.
MAX_LOG_BYTES = 1_000_000


def data_folder() -> Path:
    """The folder where cnnviz keeps the user's data (tests point it elsewhere)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location) if location else Path.home() / ".cnnviz"


def summary(exc: BaseException) -> str:
    """One line: the exception's type and message."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def details(exc: BaseException) -> str:
    """The traceback of ``exc`` as text."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()


def write_log(what: str, exc: BaseException) -> Path | None:
    """Append ``what`` and the traceback of ``exc`` to the error log; its path, or None when the
    log cannot be written (the error is still shown)."""
    folder = data_folder()
    path = folder / LOG_NAME
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    entry = f"--- {stamp} cnnviz {__version__}: {what}\n{details(exc)}\n\n"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
            path.replace(path.with_name(LOG_NAME + ".1"))
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(entry)
    except OSError:
        return None
    return path


def log_note(path: Path | None) -> str:
    """The sentence of an error dialog that says where the log is."""
    if path is None:
        return "The details could not be written to a log file."
    return f"The details are also in the log file {path}."


class ErrorReporter(QObject):
    """Turns uncaught exceptions of any thread into ``show(title, message, details)`` calls in
    the GUI thread (the reporter must be created there)."""

    raised = Signal(str, object)

    def __init__(self, show: Callable[[str, str, str], None], parent: QObject | None = None):
        super().__init__(parent)
        self._show = show
        self._showing = False
        self.raised.connect(self._on_raised)

    def report(self, where: str, exc: BaseException) -> None:
        """Show ``exc`` (from any thread: queued to the GUI thread)."""
        self.raised.emit(where, exc)

    @Slot(str, object)
    def _on_raised(self, where: str, exc: BaseException) -> None:
        path = write_log(where, exc)
        if self._showing:  # one dialog at a time: a failing mouse move would raise on each move
            return
        self._showing = True
        try:
            self._show("Unexpected error",
                       f"{where}: {summary(exc)}\n\n{log_note(path)}", details(exc))
        except Exception as failure:  # noqa: BLE001 - never back to the hook: it would loop
            print(f"cnnviz: {where}: {summary(exc)}\n{details(exc)}\n(and showing it failed: "
                  f"{summary(failure)})", file=sys.stderr, flush=True)
        finally:
            self._showing = False


def install_hooks(reporter: ErrorReporter) -> Callable[[], None]:
    """Route uncaught exceptions of the event loop and of Python threads to ``reporter``;
    returns the function that puts the previous hooks back."""
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook

    def hook(kind, exc, tb):
        if issubclass(kind, KeyboardInterrupt):
            previous_hook(kind, exc, tb)
            return
        if exc is None:
            exc = kind()
        exc.__traceback__ = tb
        reporter.report("Something went wrong", exc)

    def thread_hook(args):
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "a worker thread"
        reporter.report(f"In {name}", args.exc_value)

    sys.excepthook, threading.excepthook = hook, thread_hook

    def uninstall() -> None:
        sys.excepthook, threading.excepthook = previous_hook, previous_thread_hook

    return uninstall
