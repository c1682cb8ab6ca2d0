"""The main window: menus, tool bar and status bar around the panels.

Built like Qt for Python's dockwidgets example: ``create_actions``, ``create_menus``,
``create_tool_bars`` and ``create_status_bar`` run in that order, then ``read_settings``
restores the size, position and layout saved by ``closeEvent``.
"""

import platform
from html import escape

import numpy as np
import PySide6
from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, Slot, qVersion
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from cnnviz import __version__
from cnnviz.resources import resource_path

#: QSettings location: organisation and application name.
SETTINGS_ORGANIZATION = "cnnviz"
SETTINGS_APPLICATION = "cnnviz"
GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"
#: Version of the saved tool bar and dock layout; bump it when the layout changes so that
#: layouts saved by older versions are ignored.
STATE_VERSION = 1

PLACEHOLDER_ICON_SIZE = QSize(96, 96)
PLACEHOLDER_TEXT_WIDTH = 560
PLACEHOLDER_TEXT = (
    "<h2>cnnviz {version}</h2>"
    "<p>Coming to this window: a canvas to draw a digit and the network's live prediction, "
    "the feature maps and filters of every layer, the receptive field under the cursor, "
    "and training that you can watch as it runs.</p>"
)


def app_settings() -> QSettings:
    """Return the user settings of cnnviz (organisation and application ``cnnviz``)."""
    return QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)


class MainWindow(QMainWindow):
    """The cnnviz main window.

    Parameters
    ----------
    model : str, optional
        Model file given on the command line, kept for the panels to open.
    image : str, optional
        Image file given on the command line, kept for the panels to open.
    parent : QWidget, optional
        Parent widget.
    """

    def __init__(
        self, model: str | None = None, image: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model_path = model
        self.image_path = image
        self.setObjectName("main_window")
        self.setWindowTitle("cnnviz")
        self.setWindowIcon(QIcon(str(resource_path("icons", "cnnviz.svg"))))
        self.setCentralWidget(self._create_placeholder())
        self.create_actions()
        self.create_menus()
        self.create_tool_bars()
        self.create_status_bar()
        self.read_settings()

    def _create_placeholder(self) -> QWidget:
        """Return the central widget: the icon and what the window will show."""
        icon = QLabel(objectName="placeholder_icon")
        icon.setPixmap(self.windowIcon().pixmap(PLACEHOLDER_ICON_SIZE))
        html = PLACEHOLDER_TEXT.format(version=__version__)
        for label, path in (("Model", self.model_path), ("Image", self.image_path)):
            if path is not None:
                html += f"<p>{label} given: <code>{escape(path)}</code></p>"
        text = QLabel(html, objectName="placeholder_text", wordWrap=True)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setMaximumWidth(PLACEHOLDER_TEXT_WIDTH)
        # A word-wrapped label gets its height right only when a layout sets its width
        # (not an alignment flag): hence the row, half text and a quarter stretch each side.
        text_row = QHBoxLayout()
        text_row.addStretch(1)
        text_row.addWidget(text, 2)
        text_row.addStretch(1)
        placeholder = QWidget(objectName="placeholder")
        layout = QVBoxLayout(placeholder)
        layout.addStretch()
        layout.addWidget(icon, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(text_row)
        layout.addStretch()
        return placeholder

    def create_actions(self) -> None:
        """Create the window's actions."""
        self.quit_action = QAction(
            QIcon.fromTheme(QIcon.ThemeIcon.ApplicationExit),
            "&Quit",
            self,
            shortcut=QKeySequence.StandardKey.Quit,
            menuRole=QAction.MenuRole.QuitRole,
            toolTip="Quit cnnviz",
            statusTip="Quit cnnviz, keeping the window layout for the next start",
            triggered=self.close,
        )
        self.about_action = QAction(
            "&About cnnviz",
            self,
            menuRole=QAction.MenuRole.AboutRole,
            toolTip="About cnnviz",
            statusTip="Show what cnnviz is and which versions it runs on",
            triggered=self.about,
        )
        self.about_qt_action = QAction(
            "About &Qt",
            self,
            menuRole=QAction.MenuRole.AboutQtRole,
            toolTip="About Qt",
            statusTip="Show the Qt library's About box",
            triggered=self.about_qt,
        )

    def create_menus(self) -> None:
        """Create the File, View and Help menus."""
        self.file_menu = self.menuBar().addMenu("&File")
        self.file_menu.addAction(self.quit_action)

        self.view_menu = self.menuBar().addMenu("&View")
        # Every dock's toggleViewAction goes here; disabled while there are none.
        self.panels_menu = self.view_menu.addMenu("&Panels")
        self.panels_menu.setEnabled(False)
        self.view_menu.addSeparator()

        self.menuBar().addSeparator()
        self.help_menu = self.menuBar().addMenu("&Help")
        self.help_menu.addAction(self.about_action)
        self.help_menu.addAction(self.about_qt_action)

    def create_tool_bars(self) -> None:
        """Create the main tool bar and its show/hide action in the View menu."""
        self.main_tool_bar = self.addToolBar("Tool Bar")
        self.main_tool_bar.setObjectName("main_tool_bar")
        self.main_tool_bar.addAction(self.quit_action)
        toggle = self.main_tool_bar.toggleViewAction()
        toggle.setStatusTip("Show or hide the tool bar")
        self.view_menu.addAction(toggle)

    def create_status_bar(self) -> None:
        """Show the status bar with a first message."""
        self.statusBar().showMessage("Ready")

    def read_settings(self) -> None:
        """Restore the geometry and layout saved by the last ``closeEvent``."""
        settings = app_settings()
        geometry = settings.value(GEOMETRY_KEY, QByteArray(), type=QByteArray)
        if not self.restoreGeometry(geometry):
            available = self.screen().availableGeometry()
            self.resize(available.width() * 2 // 3, available.height() * 3 // 4)
            self.move(
                available.center().x() - self.width() // 2,
                available.center().y() - self.height() // 2,
            )
        self.restoreState(settings.value(STATE_KEY, QByteArray(), type=QByteArray), STATE_VERSION)

    def write_settings(self) -> None:
        """Save the geometry and layout for the next start."""
        settings = app_settings()
        settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        settings.setValue(STATE_KEY, self.saveState(STATE_VERSION))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """Save the settings, then close."""
        self.write_settings()
        event.accept()

    @Slot()
    def about(self) -> None:
        """Show the About cnnviz box."""
        QMessageBox.about(
            self,
            "About cnnviz",
            f"<h3>cnnviz {__version__}</h3>"
            "<p>cnnviz makes a convolutional neural network visible: draw a digit and watch "
            "each layer of a small NumPy network respond, then train it and see it change.</p>"
            f"<p>Python {platform.python_version()}, Qt {qVersion()}, "
            f"PySide6 {PySide6.__version__}, NumPy {np.__version__}</p>",
        )

    @Slot()
    def about_qt(self) -> None:
        """Show Qt's About box."""
        QMessageBox.aboutQt(self, "About Qt")
