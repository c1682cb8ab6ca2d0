"""A scroll area for a dock's panel that scrolls only when the dock is smaller than the panel.

Panels have minimum sizes so that their controls stay usable; a dock that insisted on them would
make the window larger than a laptop's screen once a few docks stand in one column. In this
area the panel takes the dock's size, and scrolls only below its minimum.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


class PanelScrollArea(QScrollArea):
    """Holds a panel at the dock's size, and scrolls it only when the dock is smaller than the
    panel's minimum size (so that a small dock never makes the window taller than the screen).

    ``QScrollArea.setWidgetResizable`` would size the panel by its height for the dock's width,
    which word-wrapped labels make taller than the dock: the panel would always scroll.
    """

    def __init__(self, panel: QWidget):
        super().__init__(frameShape=QFrame.Shape.NoFrame)
        self.setWidget(panel)

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit()

    def eventFilter(self, watched, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return super().eventFilter(watched, event)

    def _fit(self) -> None:
        panel = self.widget()
        panel.resize(self.maximumViewportSize().expandedTo(panel.minimumSizeHint()))
