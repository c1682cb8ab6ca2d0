"""Small dialogs: errors with their details, and the Help menu's About cnnviz and shortcuts."""

from __future__ import annotations

import platform

import numpy as np
import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QMessageBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from cnnviz import __version__

#: Mouse gestures of the canvas, listed with the keyboard shortcuts.
MOUSE_GESTURES = (
    ("Draw", "Left button on the canvas (a pen's pressure sets the width)"),
    ("Erase", "Right button on the canvas, or the pen's eraser end"),
)


def error_box(parent: QWidget | None, title: str, message: str,
              details: str | None = None) -> QMessageBox:
    """A warning box that says ``message``; ``details`` (a traceback) behind "Show Details…"."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                      parent, objectName="error_box")
    if details:
        box.setDetailedText(details)
    return box


def show_about(parent: QWidget) -> None:
    """The About cnnviz box."""
    QMessageBox.about(
        parent, "About cnnviz",
        f"<h3>cnnviz {__version__}</h3>"
        "<p>cnnviz makes a convolutional neural network visible: draw a digit and watch "
        "a small NumPy network read it, then look inside each layer.</p>"
        f"<p>Python {platform.python_version()}, Qt {qVersion()}, "
        f"PySide6 {PySide6.__version__}, NumPy {np.__version__}</p>")


def _plain(text: str) -> str:
    """An action's text without the ``&`` mnemonic marks and the trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("\u2026")


class ShortcutsDialog(QDialog):
    """A table of every action that has a shortcut, and the mouse gestures.

    Parameters
    ----------
    actions : iterable of QAction
    parent : QWidget, optional
    """

    def __init__(self, actions, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("shortcuts_dialog")
        self.setWindowTitle("Keyboard Shortcuts")
        rows = []
        seen = set()
        for action in actions:
            if not isinstance(action, QAction) or action.shortcut().isEmpty():
                continue
            name = _plain(action.text())
            if name in seen:
                continue
            seen.add(name)
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            rows.append((name, keys))
        rows.sort()
        rows.extend(MOUSE_GESTURES)
        self.table = QTableWidget(len(rows), 2, objectName="shortcuts_table")
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        for row, (name, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, 460)
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)

    def shortcuts(self) -> dict[str, str]:
        """``{action: keys}`` as shown."""
        return {self.table.item(r, 0).text(): self.table.item(r, 1).text()
                for r in range(self.table.rowCount())}
