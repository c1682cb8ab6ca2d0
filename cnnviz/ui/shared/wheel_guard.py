"""Spin boxes and combo boxes change with the mouse wheel only when they have the keyboard focus.

Otherwise the wheel, meant to scroll a panel, changes whatever setting passes under the pointer
(it took "Validation images" from 5000 to 4500). :func:`guard_wheel` makes a widget, or every such
widget inside one, stop taking the focus from the wheel, and hands a wheel event that reaches one
without the focus to its parents instead (a scroll area then scrolls).

One filter object watches only the guarded widgets: an event filter on the whole application
would be Python code on every event of the program.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QWidget

GUARDED = (QAbstractSpinBox, QComboBox)
_GUARD_NAME = "cnnviz_wheel_guard"


class WheelGuard(QObject):
    """The event filter of the guarded widgets (see the module)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() != QEvent.Type.Wheel or watched.hasFocus():
            return False
        # Up the parents until one takes it (the viewport of a scroll area scrolls).
        parent = watched.parentWidget()
        while parent is not None:
            event.setAccepted(True)
            QCoreApplication.sendEvent(parent, event)
            if event.isAccepted() or parent.isWindow():
                break
            parent = parent.parentWidget()
        return True


def _guard() -> WheelGuard:
    app = QCoreApplication.instance()
    guard = app.findChild(WheelGuard, _GUARD_NAME)
    if guard is None:
        guard = WheelGuard(app, objectName=_GUARD_NAME)
    return guard


def guard_wheel(root: QWidget) -> QWidget:
    """Guard ``root`` if it is a spin box or combo box, and every one inside it; returns ``root``
    (so that a widget can be guarded where it is made). Guarding twice does nothing more."""
    guard = _guard()
    widgets = [root] if isinstance(root, GUARDED) else []
    for kind in GUARDED:
        widgets += root.findChildren(kind)
    for widget in widgets:
        if widget.property(_GUARD_NAME):
            continue
        widget.setProperty(_GUARD_NAME, True)
        if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.installEventFilter(guard)
    return root
