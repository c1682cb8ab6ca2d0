"""The Canvas panel: the drawing canvas with its brush controls and a caption."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QColorDialog, QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from cnnviz.session import CanvasInput, paints_in_colour
from cnnviz.ui.explore.canvas import BRUSH_MAX, BRUSH_MIN, DrawingCanvas, canvas_actions
from cnnviz.ui.window.document import Document

DRAW_HINT = "Draw a digit: left button draws, right button erases."
#: The hint for a network that does not read digits (a colour network, say).
SKETCH_HINT = "Draw here, or open an image: left button draws, right button erases."
#: The hint for a colour network's empty page.
PAINT_HINT = ("Draw here in the brush colour, or open a picture and paint over it: left button "
              "paints, right button erases.")


def swatch(colour: QColor, side: int = 16) -> QIcon:
    """A square of ``colour`` with a thin frame, for the brush colour button."""
    pixmap = QPixmap(side, side)
    pixmap.fill(colour)
    painter = QPainter(pixmap)
    painter.setPen(QColor(128, 128, 128))
    painter.drawRect(0, 0, side - 1, side - 1)
    painter.end()
    return QIcon(pixmap)


class CanvasPanel(QWidget):
    """Brush size, eraser and clear above the canvas; below it, what the canvas shows.

    Attributes
    ----------
    canvas : DrawingCanvas
    actions : dict of str to QAction
        ``"clear"``, ``"eraser"``, ``"larger_brush"``, ``"smaller_brush"`` for the window's menus.
    colour_button : QToolButton
        The brush colour (a swatch; a click opens the colour dialog), shown on colour networks.
    """

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("canvas_panel")
        self.document = document
        self.canvas = DrawingCanvas(document, self)
        self.actions = canvas_actions(self.canvas, self)

        self.brush_slider = QSlider(Qt.Orientation.Horizontal, objectName="brush_slider")
        self.brush_spin = QSpinBox(objectName="brush_spin", suffix=" px")
        for control in (self.brush_slider, self.brush_spin):
            control.setRange(BRUSH_MIN, BRUSH_MAX)
            control.setValue(self.canvas.brush_size)
            control.setToolTip("Brush diameter in canvas pixels (the canvas is 280 wide); [ and ]")
            control.valueChanged.connect(self.canvas.set_brush_size)
        self.brush_slider.setMinimumWidth(60)
        self.brush_slider.setMaximumWidth(220)
        self.canvas.brush_size_changed.connect(self._on_brush_size_changed)
        eraser_button = QToolButton(objectName="eraser_button")
        eraser_button.setDefaultAction(self.actions["eraser"])
        clear_button = QToolButton(objectName="clear_button")
        clear_button.setDefaultAction(self.actions["clear"])
        self.colour_button = QToolButton(objectName="brush_colour_button")
        self.colour_button.setIconSize(QSize(16, 16))
        self.colour_button.clicked.connect(self.choose_brush_colour)
        self.canvas.brush_colour_changed.connect(self._show_brush_colour)
        self._show_brush_colour(self.canvas.brush_colour)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Brush"))
        controls.addWidget(self.brush_slider, 1)
        controls.addWidget(self.brush_spin)
        controls.addWidget(self.colour_button)
        controls.addStretch(1)
        controls.addWidget(eraser_button)
        controls.addWidget(clear_button)

        self.caption = QLabel(objectName="canvas_caption", wordWrap=True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        # The canvas is square: in a tall panel the caption sits under it, the space below.
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.canvas.setSizePolicy(policy)
        layout.addWidget(self.canvas)
        layout.addWidget(self.caption)
        layout.addStretch(1)
        self._on_input_changed(document.source)
        document.input_changed.connect(self._on_input_changed)
        document.model_changed.connect(self._on_model_changed)

    @Slot(int)
    def _on_brush_size_changed(self, size: int) -> None:
        for control in (self.brush_slider, self.brush_spin):
            if control.value() != size:
                control.setValue(size)

    @Slot()
    def choose_brush_colour(self) -> None:
        """Ask for the brush colour (the colour dialog)."""
        colour = QColorDialog.getColor(self.canvas.brush_colour, self, "Brush Colour")
        if colour.isValid():
            self.canvas.set_brush_colour(colour)

    @Slot(QColor)
    def _show_brush_colour(self, colour: QColor) -> None:
        self.colour_button.setIcon(swatch(colour))
        self.colour_button.setToolTip(f"Brush colour {colour.name()} (RGB {colour.red()}, "
                                      f"{colour.green()}, {colour.blue()}): click to choose "
                                      "another")

    @Slot(object)
    def _on_model_changed(self, _network) -> None:
        self._on_input_changed(self.document.source)

    @Slot(object)
    def _on_input_changed(self, source) -> None:
        colour = paints_in_colour(self.document.network.contract)
        self.colour_button.setVisible(colour)
        if colour:
            self.caption.setText(self._colour_caption(source))
            return
        if isinstance(source, CanvasInput):
            digits = self.document.network.contract.pipeline == "digits"
            self.caption.setText(DRAW_HINT if digits else SKETCH_HINT)
        else:
            w, h = source.image.file_size
            colour = "grey" if source.image.is_grey else "colour"
            read = ("" if source.image.size == (w, h)
                    else ", read at {}\u00d7{}".format(*source.image.size))
            self.caption.setText(f"Image {source.name}: {w}\u00d7{h}, {colour} "
                                 f"({source.image.mode}){read}. Draw to start a new drawing.")

    @staticmethod
    def _colour_caption(source) -> str:
        """What the canvas of a colour network shows, and what the brush does to it."""
        if isinstance(source, CanvasInput):
            if source.is_colour or source.is_blank:
                return PAINT_HINT
            return "A drawing made for another network: paint over it in the brush colour."
        w, h = source.image.file_size
        read = ("" if source.image.size == (w, h)
                else ", read at {}\u00d7{}".format(*source.image.size))
        painted = " painted over" if source.painted_from is not None else ""
        return (f"Image {source.name}{painted}: {w}\u00d7{h}{read}. Paint over it in the brush "
                "colour; the right button brings the picture back.")
