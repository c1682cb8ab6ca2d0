"""Start the desktop application."""

import signal
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from cnnviz import __version__
from cnnviz.nn.threads import limit_blas_threads
from cnnviz.ui.main_window import MainWindow

#: How often Python gets control back from Qt's event loop to run its signal handlers.
SIGNAL_POLL_MS = 250


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
    # The engine's matrix products are tiny: BLAS threads would only spin against the GUI thread.
    limit_blas_threads(1)
    QApplication.setApplicationName("cnnviz")
    QApplication.setOrganizationName("cnnviz")
    QApplication.setApplicationVersion(__version__)
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
