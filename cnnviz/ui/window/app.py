"""Start the desktop application."""

import os
import signal
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from cnnviz import __version__
from cnnviz.nn.threads import prepare_process
from cnnviz.ui.shared import workers
from cnnviz.ui.window import errors
from cnnviz.ui.window.main_window import MainWindow

#: How often Python gets control back from Qt's event loop to run its signal handlers.
SIGNAL_POLL_MS = 250


#: How long a Python thread may hold the interpreter while another waits for it, seconds.
SWITCH_INTERVAL = 0.001

#: How long the ending application waits for worker threads that did not stop when the window
#: closed (one step of their work outlasted the window's own wait), milliseconds.
EXIT_WAIT_MS = 5000


def prepare_gui_process() -> None:
    """Set the window's process up: the engine's settings (one BLAS thread: the matrix products
    are tiny, and BLAS threads would only spin against the GUI thread), and quick turns between
    Python threads, so that a worker thread woken by its data does not wait the default 5 ms for
    a GUI thread busy in Python, nor the GUI thread for it."""
    prepare_process()
    sys.setswitchinterval(SWITCH_INTERVAL)


def run_app(argv: Sequence[str], model: str | None = None, image: str | None = None,
            contract_changes: dict | None = None) -> int:
    """Create the application and the main window, and run the event loop.

    High-DPI scaling needs no setting: Qt 6 always scales, with fractional factors.

    Parameters
    ----------
    argv : sequence of str
        Command line for Qt (program name first); cnnviz's own options are already parsed.
    model : str, optional
        Model file to open.
    image : str, optional
        Image to open as the input.
    contract_changes : dict, optional
        Changes to the opened model's input contract (``cnnviz gui --classes ...``).

    Returns
    -------
    int
        The exit code of the event loop: 0 after the window was closed.

    While the event loop runs, an exception that reaches it (or ends a Python thread) is shown
    in an error dialog with its traceback, and logged (:mod:`cnnviz.ui.window.errors`). A worker thread
    still computing after the window has closed and :data:`EXIT_WAIT_MS` more must not be
    destroyed (Qt would abort): the process then ends at once, with the exit code.
    """
    prepare_gui_process()
    QApplication.setApplicationName("cnnviz")
    QApplication.setOrganizationName("cnnviz")
    QApplication.setApplicationVersion(__version__)
    QApplication.setDesktopFileName("cnnviz")  # resources/cnnviz.desktop; the Wayland app id
    app = QApplication.instance() or QApplication(list(argv))
    shown: list[MainWindow] = []

    def show_error(title: str, message: str, details: str) -> None:
        if shown:
            shown[0].show_error(title, message, details)
        else:  # while the window is being built
            print(f"cnnviz: {message}\n{details}", file=sys.stderr, flush=True)

    reporter = errors.ErrorReporter(show_error)
    uninstall_hooks = errors.install_hooks(reporter)
    extra = {"contract_changes": contract_changes} if contract_changes else {}
    window = MainWindow(model=model, image=image, **extra)
    shown.append(window)
    # Ctrl+C in the terminal closes the window as the Quit action does (saving the layout).
    # Python runs signal handlers only when it has control, hence the idle timer.
    signal.signal(signal.SIGINT, lambda _signum, _frame: window.close())
    wakeup = QTimer(interval=SIGNAL_POLL_MS)
    wakeup.timeout.connect(lambda: None)
    wakeup.start()
    window.show()
    try:
        status = app.exec()
    finally:
        wakeup.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        uninstall_hooks()
    if not workers.wait_for_detached(EXIT_WAIT_MS):
        print(f"cnnviz: a computation did not stop within {EXIT_WAIT_MS / 1000:g} s of closing "
              "the window; ending the process", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(status)
    return status
