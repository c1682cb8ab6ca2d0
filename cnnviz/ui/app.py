"""Start the desktop application."""

import signal
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from cnnviz import __version__
from cnnviz.nn.threads import prepare_process
from cnnviz.ui.main_window import MainWindow

#: How often Python gets control back from Qt's event loop to run its signal handlers.
SIGNAL_POLL_MS = 250


#: How long a Python thread may hold the interpreter while another waits for it, seconds.
SWITCH_INTERVAL = 0.001


def prepare_gui_process() -> None:
    """Set the window's process up: the engine's settings (one BLAS thread: the matrix products
    are tiny, and BLAS threads would only spin against the GUI thread), and quick turns between
    Python threads, so that a worker thread woken by its data does not wait the default 5 ms for
    a GUI thread busy in Python, nor the GUI thread for it."""
    prepare_process()
    sys.setswitchinterval(SWITCH_INTERVAL)


def run_app(argv: Sequence[str], model: str | None = None, image: str | None = None) -> int:
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

    Returns
    -------
    int
        The exit code of the event loop: 0 after the window was closed.
    """
    prepare_gui_process()
    QApplication.setApplicationName("cnnviz")
    QApplication.setOrganizationName("cnnviz")
    QApplication.setApplicationVersion(__version__)
    QApplication.setDesktopFileName("cnnviz")  # resources/cnnviz.desktop; the Wayland app id
    app = QApplication.instance() or QApplication(list(argv))
    window = MainWindow(model=model, image=image)
    # Ctrl+C in the terminal closes the window as the Quit action does (saving the layout).
    # Python runs signal handlers only when it has control, hence the idle timer.
    signal.signal(signal.SIGINT, lambda _signum, _frame: window.close())
    wakeup = QTimer(interval=SIGNAL_POLL_MS)
    wakeup.timeout.connect(lambda: None)
    wakeup.start()
    window.show()
    try:
        return app.exec()
    finally:
        wakeup.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
