"""An editable grid of kernels: one block of cells per input channel, painted by hand.

Each cell shows one weight as colour (diverging map centred on zero, symmetric levels shared by
the whole grid) and, when the cells are large enough, as text. The mouse edits it:

- drag vertically on a cell (scrub mode) to change its value, up for more: the whole height of
  the grid spans the colour scale once;
- press and move across cells (paint mode) to set each one to the paint value;
- double-click a cell, or select it and type a number, Enter or F2, to type its value: Enter
  (or a click anywhere else) commits it once, Escape cancels it.

The grid does not change the weights itself: it emits :attr:`KernelGrid.values_edited` with the
edited array and a gesture key (one per drag or stroke, None for a typed value), and shows what
:meth:`KernelGrid.set_values` gives it back.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QDoubleValidator, QFocusEvent, QFont, QKeyEvent, QMouseEvent,
                           QPainter, QPen)
from PySide6.QtWidgets import QLineEdit, QSizePolicy, QWidget

from cnnviz.ui.shared.colormaps import lookup_table, text_colour, to_rgba

#: Cells at least this many pixels wide show their value as text.
TEXT_CELL = 24
#: Height of the title above each block, gap between blocks (pixels).
TITLE, GAP = 16, 8
_gestures = itertools.count(1)


class CellEditor(QLineEdit):
    """The line edit over a cell being typed into: it reports how the typing ends, once.

    Enter and Escape are taken here (a plain ``QLineEdit`` passes them on to the grid, whose
    Enter opens the editor again); losing the focus to another widget commits, as a click away
    does in a spreadsheet, but not to a popup (the editor's own context menu) or another window.

    Signals
    -------
    finished(bool)
        True: commit the text (Enter, focus moved away); False: cancel (Escape).
    """

    finished = Signal(bool)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape):
            event.accept()
            self.finished.emit(event.key() != Qt.Key.Key_Escape)
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 (Qt override)
        super().focusOutEvent(event)
        if event.reason() not in (Qt.FocusReason.PopupFocusReason,
                                  Qt.FocusReason.ActiveWindowFocusReason):
            self.finished.emit(True)


class KernelGrid(QWidget):
    """Blocks of (kh, kw) cells, one per channel, laid out in rows.

    Signals
    -------
    values_edited(object, object)
        The whole edited array (float32 (C, kh, kw), a new one) and the gesture key: consecutive
        edits with the same key belong to one drag or stroke; None for a typed value.

    Attributes
    ----------
    values : np.ndarray
        float32 (C, kh, kw) on display.
    top : float
        The colour scale runs from ``-top`` to ``top``.
    mode : str
        ``"scrub"`` or ``"paint"``.
    paint_value : float
        What paint mode writes.
    selected : (int, int, int)
        The selected cell (channel, row, column).
    """

    values_edited = Signal(object, object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("kernel_grid")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 170)
        self.values = np.zeros((1, 1, 1), dtype=np.float32)
        self.titles = [""]
        self.top = 1.0
        self.mode = "scrub"
        self.paint_value = 0.0
        self.selected = (0, 0, 0)
        self._table = lookup_table("diverging")
        self._drag: dict | None = None
        self._editor = CellEditor(self, objectName="kernel_cell_editor", visible=False)
        self._editor.setValidator(QDoubleValidator(self._editor))
        self._editor.finished.connect(self._finish_typing)
        self._typing = False  # the cell editor is open; finishing it clears this first

    # ----------------------------------------------------------------- model
    def set_values(self, values: np.ndarray, top: float, titles: list[str]) -> None:
        """Show ``values`` (C, kh, kw) on the scale ``±top`` with one title per channel."""
        values = np.asarray(values, dtype=np.float32)
        reshaped = values.shape != self.values.shape
        self.values, self.top, self.titles = values.copy(), float(top) or 1.0, list(titles)
        if reshaped:
            self._finish_typing(False)
            self.selected = (0, 0, 0) if not self._in_range(self.selected) else self.selected
        self.update()

    def _in_range(self, cell) -> bool:
        return all(0 <= a < b for a, b in zip(cell, self.values.shape))

    # ----------------------------------------------------------------- geometry
    def layout_blocks(self) -> tuple[int, int]:
        """``(columns of blocks, cell side in pixels)`` that make the cells largest here."""
        c, kh, kw = self.values.shape
        best = (1, 1)
        for columns in range(1, c + 1):
            rows = math.ceil(c / columns)
            side = min((self.width() - GAP * (columns + 1)) / (columns * kw),
                       (self.height() - (TITLE + GAP) * rows - GAP) / (rows * kh))
            if side > best[1]:
                best = (columns, int(side))
        return best[0], max(best[1], 2)

    def cell_rect(self, channel: int, i: int, j: int) -> QRect:
        """The widget rectangle of a cell."""
        columns, side = self.layout_blocks()
        _, kh, kw = self.values.shape
        row, column = divmod(channel, columns)
        x = GAP + column * (kw * side + GAP) + j * side
        y = GAP + TITLE + row * (kh * side + TITLE + GAP) + i * side
        return QRect(x, y, side, side)

    def cell_at(self, point: QPointF) -> tuple[int, int, int] | None:
        """The cell (channel, row, column) under a widget position, or None."""
        columns, side = self.layout_blocks()
        c, kh, kw = self.values.shape
        for channel in range(c):
            origin = self.cell_rect(channel, 0, 0)
            i = math.floor((point.y() - origin.y()) / side)
            j = math.floor((point.x() - origin.x()) / side)
            if 0 <= i < kh and 0 <= j < kw:
                return channel, i, j
        return None

    # ----------------------------------------------------------------- painting
    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        c, kh, kw = self.values.shape
        _, side = self.layout_blocks()
        colours = to_rgba(self.values, (-self.top, self.top), self._table)
        font = QFont(self.font())
        font.setPixelSize(max(8, min(12, side // 3)))
        painter.setFont(font)
        show_text = side >= TEXT_CELL
        foreground = self.palette().windowText().color()
        for channel in range(c):
            origin = self.cell_rect(channel, 0, 0)
            painter.setPen(foreground)
            painter.drawText(QRect(origin.x(), origin.y() - TITLE, kw * side, TITLE),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self.titles[channel] if channel < len(self.titles) else "")
            for i in range(kh):
                for j in range(kw):
                    rgba = colours[channel, i, j]
                    rect = QRect(origin.x() + j * side, origin.y() + i * side, side, side)
                    painter.fillRect(rect, QColor(*(int(v) for v in rgba)))
                    if show_text:
                        painter.setPen(QColor(text_colour(rgba)))
                        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                                         format_value(float(self.values[channel, i, j])))
        if self._in_range(self.selected):
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.cell_rect(*self.selected)).adjusted(1, 1, -1, -1))

    # ----------------------------------------------------------------- mouse
    def select(self, cell: tuple[int, int, int]) -> None:
        """Make ``cell`` the selected one."""
        if cell != self.selected and self._in_range(cell):
            self.selected = cell
            self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        cell = self.cell_at(event.position())
        if event.button() != Qt.MouseButton.LeftButton or cell is None or not self.isEnabled():
            return super().mousePressEvent(event)
        self._finish_typing(True)  # a click on another cell commits what was typed
        self.select(cell)
        # The grid's height drags through the whole colour scale, -top .. top, once; the step
        # stays that of the press, or a drag past the scale's end would speed itself up.
        self._drag = {"gesture": ("kernel grid", next(_gestures)), "cell": cell,
                      "y": event.position().y(), "start": float(self.values[cell]),
                      "step": self.scrub_step()}
        if self.mode == "paint":
            self._paint(cell)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._drag is None:
            return super().mouseMoveEvent(event)
        if self.mode == "paint":
            cell = self.cell_at(event.position())
            if cell is not None:
                self._paint(cell)
            return
        value = self._drag["start"] + (self._drag["y"] - event.position().y()) * self._drag["step"]
        self._emit_cell(self._drag["cell"], value, self._drag["gesture"])

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self._drag = None
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        cell = self.cell_at(event.position())
        if cell is not None and self.isEnabled():
            self.select(cell)
            self.edit_selected()

    def scrub_step(self) -> float:
        """How much one pixel of vertical drag changes a weight: the grid's height spans the
        colour scale once."""
        return 2 * self.top / max(self.height(), 1)

    def _paint(self, cell) -> None:
        if self.values[cell] != np.float32(self.paint_value):
            self._emit_cell(cell, self.paint_value, self._drag["gesture"])

    def _emit_cell(self, cell, value: float, gesture) -> None:
        edited = self.values.copy()
        edited[cell] = value
        self.values = edited
        self.update()
        self.values_edited.emit(edited, gesture)

    # ----------------------------------------------------------------- typing
    def edit_selected(self, text: str | None = None) -> None:
        """Open the cell editor over the selected cell, with ``text`` or the cell's value."""
        if not self._in_range(self.selected) or not self.isEnabled():
            return
        rect = self.cell_rect(*self.selected)
        width = max(rect.width(), 64)
        self._editor.setGeometry(rect.x(), rect.y(), width, max(rect.height(), 22))
        self._editor.setText(format_value(float(self.values[self.selected]), 6)
                             if text is None else text)
        self._typing = True
        self._editor.show()
        self._editor.setFocus()
        if text is None:
            self._editor.selectAll()

    def _finish_typing(self, commit: bool) -> None:
        """Close the cell editor; with ``commit``, emit its value (one edit), else drop it.

        Every way out (Enter, Escape, a click on a cell, the focus moving away) comes here, and
        the editor's hiding moves the focus again: only the first call does anything.
        """
        if not self._typing:
            return
        self._typing = False
        text = self._editor.text()
        had_focus = self._editor.hasFocus()
        self._editor.hide()
        if had_focus:
            self.setFocus()
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            return
        if commit and math.isfinite(value) and self._in_range(self.selected):
            self._emit_cell(self.selected, value, None)

    def event(self, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Claim the keys that type a value before any shortcut does (the digit keys label the
        drawing elsewhere in the window)."""
        if event.type() == QEvent.Type.ShortcutOverride and _types_a_value(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        key, text = event.key(), event.text()
        moves = {Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Up: (-1, 0),
                 Qt.Key.Key_Down: (1, 0)}
        if key in moves:
            c, i, j = self.selected
            self.select((c, i + moves[key][0], j + moves[key][1]))
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2):
            self.edit_selected()
        elif text and text in "0123456789-.":
            self.edit_selected(text)
        else:
            super().keyPressEvent(event)


def _types_a_value(event: QKeyEvent) -> bool:
    """A key without Ctrl/Alt/Meta that types part of a number."""
    held = event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                | Qt.KeyboardModifier.AltModifier
                                | Qt.KeyboardModifier.MetaModifier)
    return not held and bool(event.text()) and event.text() in "0123456789-."


def format_value(value: float, digits: int = 2) -> str:
    """A weight as a cell shows it: ``digits`` decimals, fewer for large values, no ``-0``."""
    text = f"{value:.{digits if abs(value) < 10 else 0}f}"
    return "0" if float(text) == 0 else text.rstrip("0").rstrip(".") if "." in text else text
