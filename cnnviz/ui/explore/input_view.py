"""The Network Input panel: what the network sees, made from the drawing or the image as the
network's input contract says (the digit centred and scaled, or the image resized, cropped or
padded; a normalised input is shown as the image it was made from, its values in the status
bar as the network gets them)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from cnnviz.session import Trace
from cnnviz.ui.shared.theme import accent, plot_colors, ThemedPanel
from cnnviz.ui.window.document import Document


def percent(fraction: float) -> str:
    """``fraction`` as a percentage, two significant digits or more: "0.33%", "4.2%", "250%"."""
    value = 100.0 * fraction
    if not math.isfinite(value) or value <= 0:
        return f"{value:g}%"
    decimals = max(0, 1 - math.floor(math.log10(value)))
    return f"{value:.{decimals}f}%"


def _pipeline_tip(contract, h: int, w: int) -> str:
    """How the network input is made, in words, for the caption's tool tip."""
    if contract is None or contract.pipeline == "digits":
        box = round(h * 20 / 28)
        return ("Like MNIST: the ink is cropped to its bounding box, scaled so that its larger "
                f"side is {box} pixels, and pasted into {h}\u00d7{w} with its centre of mass in "
                "the middle")
    text = contract.describe_pipeline()
    return text[:1].upper() + text[1:]


class InputView(ThemedPanel, QWidget):
    """The network input as an image, with the scaled digit's box and its centre of mass.

    Signals
    -------
    cursor_info(str)
        The input pixel under the pointer and its value ("" when none), for the status bar.
    """

    cursor_info = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("input_view")
        self.document = document
        self._input = np.zeros((1, 1), dtype=np.float32)
        self._values = self._input

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("input_graphics")
        self.graphics.setMinimumSize(140, 140)
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self.viewbox = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.viewbox.setMouseEnabled(x=False, y=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image_item)
        self.box_item = QGraphicsRectItem()
        self.box_item.setZValue(10)
        self.viewbox.addItem(self.box_item)
        self.mass_item = pg.ScatterPlotItem(symbol="+", size=14)
        self.mass_item.setZValue(11)
        self.viewbox.addItem(self.mass_item)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.caption = QLabel(objectName="input_caption", wordWrap=True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)

        self._apply_palette()
        self._on_trace_changed(document.trace)
        document.trace_changed.connect(self._on_trace_changed)

    @property
    def image(self) -> np.ndarray:
        """The image on display: float32 (H, W) or (H, W, 3), values in [0, 1] (the network
        input before its normalisation)."""
        return self._input

    @Slot(object)
    def _on_trace_changed(self, trace: Trace) -> None:
        x, shown = trace.network_input, trace.input_image
        values = x[0] if x.shape[0] == 1 else np.ascontiguousarray(x.transpose(1, 2, 0))
        image = shown[0] if x.shape[0] == 1 else np.ascontiguousarray(shown.transpose(1, 2, 0))
        reshaped = image.shape != self._input.shape
        self._input, self._values = image, values
        self.image_item.setImage(image, levels=(0.0, 1.0), autoLevels=False)
        if reshaped:
            h, w = image.shape[:2]
            self.viewbox.setRange(QRectF(0, 0, w, h), padding=0.02)
        self._show_preprocessing(trace)

    def _show_preprocessing(self, trace: Trace) -> None:
        info = trace.preprocess
        c, h, w = trace.network_input.shape
        contract = trace.contract
        self.caption.setToolTip(_pipeline_tip(contract, h, w))
        if info is None:
            self.box_item.hide()
            self.mass_item.setData([])
            sh, sw = trace.source.pixels.shape[:2]
            how = "resized"
            if contract is not None and contract.pipeline == "image":
                how = "resized and cropped" if contract.fit == "crop" else "resized and padded"
                how += ", normalised," if contract.normalised else ""
            self.caption.setText(f"{c}\u00d7{h}\u00d7{w}, {how} from {sw}\u00d7{sh}")
            return
        if info.blank:
            self.box_item.hide()
            self.mass_item.setData([])
            found = "no ink found in the image" if trace.source.kind == "image" else "no ink yet"
            self.caption.setText(f"{w}\u00d7{h}: {found}")
            return
        (top, left), (rh, rw) = info.offset, info.resized_shape
        self.box_item.setRect(QRectF(left, top, rw, rh))
        self.box_item.show()
        row, col = info.center_of_mass
        self.mass_item.setData([col + 0.5], [row + 0.5])
        inverted = ", inverted" if info.inverted else ""
        # info.scale is per pixel of the image as loaded; a large file was reduced while loading.
        scale = info.scale * getattr(getattr(trace.source, "image", None), "scale", 1.0)
        self.caption.setText(
            f"{w}\u00d7{h}: ink box scaled to {percent(scale)} ({rw}\u00d7{rh}){inverted}, "
            "centred by mass +")

    def _on_mouse_moved(self, position) -> None:
        point: QPointF = self.viewbox.mapSceneToView(position)
        h, w = self._values.shape[:2]
        col, row = int(np.floor(point.x())), int(np.floor(point.y()))
        if 0 <= row < h and 0 <= col < w and self.viewbox.sceneBoundingRect().contains(position):
            value = self._values[row, col]
            shown = (f"{value:.3f}" if np.ndim(value) == 0
                     else "RGB " + ", ".join(f"{v:.3f}" for v in value))
            self.cursor_info.emit(f"Network input  row {row}, col {col}: {shown}")
        else:
            self.cursor_info.emit("")

    def _apply_palette(self) -> None:
        background, _ = plot_colors(self.palette())
        self.graphics.setBackground(background)
        colour = QColor(accent(self.palette()))
        pen = QPen(colour, 0, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.box_item.setPen(pen)
        self.mass_item.setPen(pg.mkPen(colour, width=2))
        self.mass_item.setBrush(pg.mkBrush(colour))
