"""A clickable confusion matrix: colours per true class (row), counts written in the cells."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontInfo, QFontMetrics, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget

from cnnviz.ui.shared.class_ticks import class_ticks
from cnnviz.ui.shared.placeholder import Placeholder
from cnnviz.ui.shared.theme import accent, plot_colors, ThemedPanel

#: Right answers: light grey (none of the class) to blue (all of it).
RIGHT_COLOURS = "CET-L12"
#: Confusions: white (none) to red (the most frequent confusion).
WRONG_COLOURS = "CET-L18"
#: Pixels the class names beside the rows may take (longer names are cut short).
LEFT_LABEL_ROOM = 80


def confusion_levels(fractions: np.ndarray) -> np.ndarray:
    """Colour levels in [0, 1] of a row-normalised confusion matrix (K, K).

    The diagonal keeps its fraction of the row; off the diagonal, the square root of the
    fraction relative to the largest confusion, so that rare confusions still show.
    """
    diagonal = np.eye(len(fractions), dtype=bool)
    off = np.where(diagonal, 0.0, fractions)
    peak = off.max(initial=0.0)
    wrong = np.sqrt(off / peak) if peak > 0 else off
    return np.where(diagonal, fractions, wrong)


def confusion_colours(fractions: np.ndarray) -> np.ndarray:
    """RGB uint8 (K, K, 3): blue shades on the diagonal, red shades off it (see
    :func:`confusion_levels`)."""
    levels = confusion_levels(fractions).reshape(-1)
    diagonal = np.eye(len(fractions), dtype=bool).reshape(-1)
    right = pg.colormap.get(RIGHT_COLOURS).map(levels, mode="byte")[:, :3]
    wrong = pg.colormap.get(WRONG_COLOURS).map(levels, mode="byte")[:, :3]
    rgb = np.where(diagonal[:, None], right, wrong)
    return np.ascontiguousarray(rgb.reshape(fractions.shape + (3,)), dtype=np.ubyte)


class ConfusionMatrixView(ThemedPanel, QWidget):
    """Rows: true class; columns: predicted class; click a cell to choose it.

    Until :meth:`show_confusion` gives it a matrix, a sentence (``empty_message``) stands in
    place of the empty axes.

    Signals
    -------
    cell_clicked(int, int)
        ``(true class, predicted class)`` of the clicked cell.
    cursor_info(str)
        The cell under the pointer, for the status bar.
    """

    cell_clicked = Signal(int, int)
    cursor_info = Signal(str)

    def __init__(self, empty_message: str = "No confusion matrix yet.",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("confusion_matrix")
        self.confusion = np.zeros((0, 0), dtype=np.int64)
        self.fractions = np.zeros((0, 0))
        self.names: tuple[str, ...] = ()
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(220, 220)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.placeholder = Placeholder(self.graphics, "confusion_placeholder")
        self.placeholder.show_message(empty_message)
        layout.addWidget(self.placeholder)
        self.plot = self.graphics.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.showAxis("right")
        self.plot.setLabel("left", "true class")
        self.plot.setLabel("bottom", "predicted class")
        self.plot.setLabel("right", "right answers")
        # No tick marks: pointing into the matrix at each row's and column's middle they drew a
        # dash before the counts of the first and last columns ("-975" for 975).
        for side in ("left", "bottom", "right"):
            self.plot.getAxis(side).setStyle(tickLength=0)
        right = self.plot.getAxis("right")
        right.setWidth(self.fontMetrics().horizontalAdvance("100.0%")
                       + self.fontMetrics().height() + 12)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.selection = QGraphicsRectItem()
        self.selection.setZValue(20)
        self.selection.hide()
        self.plot.addItem(self.selection)
        self._texts: list[pg.TextItem] = []
        self.graphics.scene().sigMouseClicked.connect(self._on_clicked)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.getViewBox().sigResized.connect(self._fit_text)
        self._apply_palette()

    def show_confusion(self, confusion: np.ndarray, fractions: np.ndarray,
                       per_class_accuracy: np.ndarray, names=None) -> None:
        """Show counts ``confusion`` (K, K), coloured by the row-normalised ``fractions``, the
        classes called by their ``names`` (their numbers by default)."""
        k = len(confusion)
        self.confusion, self.fractions = confusion, fractions
        self.names = tuple(names) if names is not None else tuple(str(i) for i in range(k))
        self.placeholder.show_content()
        self.image.setImage(confusion_colours(fractions), levels=(0, 255), autoLevels=False)
        self.image.setRect(QRectF(0, 0, k, k))
        for item in self._texts:
            self.plot.removeItem(item)
        levels = confusion_levels(fractions)
        self._texts = []
        for t in range(k):
            for p in range(k):
                if confusion[t, p] == 0:
                    continue
                colour = "w" if levels[t, p] > 0.6 else (30, 30, 30)
                item = pg.TextItem(str(confusion[t, p]), color=colour, anchor=(0.5, 0.5))
                item.setPos(p + 0.5, t + 0.5)
                self.plot.addItem(item)
                self._texts.append(item)
        self.plot.getAxis("right").setTicks(
            [[(i + 0.5, f"{a:.1%}") for i, a in enumerate(per_class_accuracy)]])
        self.plot.setRange(QRectF(0, 0, k, k), padding=0)
        self._fit_text()
        self.select(None)

    def _fit_text(self) -> None:
        """Size the counts so that four digits fit in a cell; the class names to the room they
        have."""
        units_per_pixel = self.plot.getViewBox().viewPixelSize()[0]
        if self.names:
            for side, room in (("bottom", 1 / units_per_pixel if units_per_pixel > 0 else 0),
                               ("left", LEFT_LABEL_ROOM)):
                axis = self.plot.getAxis(side)
                axis.setTicks(class_ticks(self.names, room, QFontMetrics(axis.font()), 0.5,
                                          edge=0.5 if side == "bottom" else None))
        if not self._texts or units_per_pixel <= 0:
            return
        font = QFont(self.font())
        cell = 1 / units_per_pixel
        font.setPixelSize(int(np.clip(0.36 * cell, 7, QFontInfo(self.font()).pixelSize())))
        for item in self._texts:
            item.setFont(font)

    def select(self, cell: tuple[int, int] | None) -> None:
        """Outline cell ``(true, predicted)``, or nothing."""
        if cell is None:
            self.selection.hide()
            return
        self.selection.setRect(QRectF(cell[1], cell[0], 1, 1))
        self.selection.show()

    def cell_at(self, scene_position) -> tuple[int, int] | None:
        """The ``(true, predicted)`` cell at a scene position, or None."""
        k = len(self.confusion)
        viewbox = self.plot.getViewBox()
        if not k or not viewbox.sceneBoundingRect().contains(scene_position):
            return None
        point = viewbox.mapSceneToView(scene_position)
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        return (row, col) if 0 <= row < k and 0 <= col < k else None

    def _on_clicked(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked.emit(*cell)

    def _on_mouse_moved(self, position) -> None:
        cell = self.cell_at(position)
        if cell is None:
            self.cursor_info.emit("")
            return
        t, p = cell
        true, predicted = self.names[t], self.names[p]
        self.cursor_info.emit(f"True {true}, predicted {predicted}: {self.confusion[t, p]:,} "
                              f"images ({self.fractions[t, p]:.1%} of the {true}s)")

    def _apply_palette(self) -> None:
        background, foreground = plot_colors(self.palette())
        self.graphics.setBackground(background)
        for name in ("left", "bottom", "right"):
            axis = self.plot.getAxis(name)
            axis.setPen(foreground)
            axis.setTextPen(foreground)
        pen = QPen(QColor(accent(self.palette())), 3)
        pen.setCosmetic(True)
        self.selection.setPen(pen)
