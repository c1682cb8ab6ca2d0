"""A view that says what to do, or why it is empty, instead of showing blank axes.

:class:`Placeholder` holds a panel's content (a plot, an image) and a centred message in one
place: :meth:`Placeholder.show_message` hides the content behind a sentence (no convolution to
show, nothing evaluated yet), :meth:`Placeholder.show_content` brings the content back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QStackedWidget, QWidget


class Placeholder(QStackedWidget):
    """``content``, or in its place a short message, centred and wrapped.

    Attributes
    ----------
    content : QWidget
    message : QLabel
        The message shown instead of the content.
    """

    def __init__(self, content: QWidget, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.content = content
        self.message = QLabel(objectName=name, wordWrap=True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setMargin(12)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.addWidget(content)
        self.addWidget(self.message)

    def show_message(self, text: str) -> None:
        """Hide the content behind ``text``."""
        self.message.setText(text)
        self.setCurrentWidget(self.message)

    def show_content(self) -> None:
        self.setCurrentWidget(self.content)
