"""The Network Input panel: what the network sees, made from the drawing or the image as the
network's input contract says (the digit centred and scaled, or the image resized, cropped or
padded; a normalised input is shown as the image it was made from, its values in the status
bar as the network gets them).

A colour input is also shown as its three planes, R, G and B: the three slices (C, H, W) of the
volume the network's first convolution slides its kernels over, each in its own colour scale
(black to pure red, green or blue), labelled. They sit beside the picture in a wide panel, under
it in a tall one."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from cnnviz.display import LayerWindow, Mosaic
from cnnviz.session import Trace
from cnnviz.ui.shared.theme import accent, plot_colors, ThemedPanel
from cnnviz.ui.shared.window_overlay import WindowOverlay
from cnnviz.ui.window.document import Document

#: The planes of a colour input, in channel order.
PLANE_NAMES = ("R", "G", "B")
#: The colour each plane's scale runs to from black.
PLANE_COLOURS = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
#: A wide panel (width over height above this) shows the planes beside the picture.
SIDE_BY_SIDE_RATIO = 1.15


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

        # The R, G, B planes of a colour input, in a view box of their own.
        self.planes_viewbox = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.planes_viewbox.setMouseEnabled(x=False, y=False)
        self.planes_item = pg.ImageItem(axisOrder="row-major")
        self.planes_viewbox.addItem(self.planes_item)
        self.plane_labels = []
        for name, colour in zip(PLANE_NAMES, PLANE_COLOURS):
            label = pg.TextItem(name, anchor=(0.5, 0.5))
            label.setColor(QColor.fromRgbF(*colour).lighter(130))
            self.planes_viewbox.addItem(label, ignoreBounds=True)
            self.plane_labels.append(label)
        self.planes_overlay = WindowOverlay(self.planes_item)
        self.planes_mosaic: Mosaic | None = None
        self.planes = np.zeros((0, 1, 1), dtype=np.float32)
        self._side_by_side = False
        self._planes_window: LayerWindow | None = None

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

    @property
    def shows_planes(self) -> bool:
        """The R, G, B planes are on display (a colour input)."""
        return self.planes_mosaic is not None

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
        self._show_planes(shown if x.shape[0] == 3 else None)
        self._show_preprocessing(trace)

    # ----------------------------------------------------------------- planes
    def _show_planes(self, planes: np.ndarray | None) -> None:
        """Show the three planes of a colour input (float (3, H, W) in [0, 1]), or none."""
        if planes is None:
            if self.planes_mosaic is not None:
                self.graphics.ci.removeItem(self.planes_viewbox)
                self.planes_mosaic, self.planes = None, np.zeros((0, 1, 1), dtype=np.float32)
                self._planes_window = None
                self.planes_overlay.hide()
            return
        self.planes = planes
        side_by_side = self._wants_side_by_side()
        first = self.planes_mosaic is None
        if first or side_by_side != self._side_by_side or planes.shape[1:] != (
                self.planes_mosaic.height, self.planes_mosaic.width):
            self._arrange(side_by_side, planes.shape[1], planes.shape[2], first)
        self._draw_planes()

    def _wants_side_by_side(self) -> bool:
        size = self.graphics.size()
        return size.width() > SIDE_BY_SIDE_RATIO * max(1, size.height())

    def _arrange(self, side_by_side: bool, h: int, w: int, first: bool) -> None:
        """Put the planes beside the picture (a column) or under it (a row)."""
        layout = self.graphics.ci
        if not first:
            layout.removeItem(self.planes_viewbox)
        self._side_by_side = side_by_side
        gap = max(1, min(h, w) // 8)
        room = max(3, round(0.25 * min(h, w)))  # for the labels: left of a column, above a row
        self.planes_mosaic = Mosaic(3, h, w, 1 if side_by_side else 3, gap)
        if side_by_side:
            layout.addItem(self.planes_viewbox, row=0, col=1)
        else:
            layout.addItem(self.planes_viewbox, row=1, col=0)
        grid = layout.layout
        grid.setColumnStretchFactor(0, 3)
        grid.setColumnStretchFactor(1, 1 if side_by_side else 0)
        grid.setRowStretchFactor(0, 3)
        grid.setRowStretchFactor(1, 0 if side_by_side else 1)
        mh, mw = self.planes_mosaic.shape
        for channel, label in enumerate(self.plane_labels):
            # Beside the tile, never over it: right-aligned to its left edge, or above it.
            top, left = self.planes_mosaic.origin(channel)
            if side_by_side:
                label.setAnchor((1.0, 0.5))
                label.setPos(-0.5, top + h / 2)
            else:
                label.setAnchor((0.5, 1.0))
                label.setPos(left + w / 2, -0.5)
        if side_by_side:
            self.planes_viewbox.setRange(QRectF(-room, 0, mw + room, mh), padding=0.02)
        else:
            self.planes_viewbox.setRange(QRectF(0, -room, mw, mh + room), padding=0.02)
        if self._planes_window is not None:
            self.planes_overlay.show(self.planes_mosaic, self._planes_window)

    def _draw_planes(self) -> None:
        """Each plane in its own colour scale, in the tiles of the mosaic; the gaps in the
        background colour."""
        mosaic = self.planes_mosaic
        background, _ = plot_colors(self.palette())
        image = np.empty((*mosaic.shape, 3), dtype=np.float32)
        image[...] = np.array(QColor(background).getRgbF()[:3], dtype=np.float32)
        h, w = mosaic.height, mosaic.width
        for channel, colour in enumerate(PLANE_COLOURS):
            top, left = mosaic.origin(channel)
            image[top:top + h, left:left + w] = (self.planes[channel][..., None]
                                                 * np.array(colour, dtype=np.float32))
        self.planes_item.setImage(image, levels=(0.0, 1.0), autoLevels=False)

    def show_window_on_planes(self, window: LayerWindow | None) -> None:
        """Outline a unit's window of the input (its box in every plane), or nothing."""
        self._planes_window = window if self.planes_mosaic is not None else None
        if self._planes_window is None:
            self.planes_overlay.hide()
        else:
            self.planes_overlay.show(self.planes_mosaic, window)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self.planes_mosaic is not None and self._wants_side_by_side() != self._side_by_side:
            self._arrange(not self._side_by_side, self.planes_mosaic.height,
                          self.planes_mosaic.width, False)
            self._draw_planes()

    def _show_preprocessing(self, trace: Trace) -> None:
        info = trace.preprocess
        c, h, w = trace.network_input.shape
        contract = trace.contract
        self.caption.setToolTip(_pipeline_tip(contract, h, w))
        if info is None:
            self.box_item.hide()
            self.mass_item.setData([])
            sh, sw = trace.source.pixels.shape[:2]
            steps = _image_steps(contract, (sh, sw), (h, w))
            self.caption.setText(f"{c}\u00d7{h}\u00d7{w}, {steps}")
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
        if self.planes_mosaic is not None and self.planes_viewbox.sceneBoundingRect().contains(
                position):
            point = self.planes_viewbox.mapSceneToView(position)
            unit = self.planes_mosaic.locate(point.y(), point.x())
            if unit is None:
                self.cursor_info.emit("")
                return
            channel, row, col = unit
            self.cursor_info.emit(
                f"Network input plane {PLANE_NAMES[channel]}  row {row}, col {col}: "
                f"{self.planes[channel, row, col]:.3f} (the network gets "
                f"{self._values[row, col, channel]:.3f})")
            return
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
        if getattr(self, "planes_mosaic", None) is not None:
            self._draw_planes()


def _image_steps(contract, source: tuple[int, int], size: tuple[int, int]) -> str:
    """What the image pipeline did to a picture of ``source`` (height, width) to make the
    network's ``size``: "normalised from 32x32" when it already had the size (nothing was resized
    or cropped), "resized and cropped, normalised, from 500x375" otherwise."""
    image = contract is not None and contract.pipeline == "image"
    normalised = image and contract.normalised
    sh, sw = source
    if tuple(source) == tuple(size):
        return f"{'normalised' if normalised else 'as it is'}, from {sw}\u00d7{sh}"
    how = "resized"
    if image:
        how = "resized and cropped" if contract.fit == "crop" else "resized and padded"
    return f"{how}{', normalised,' if normalised else ''} from {sw}\u00d7{sh}"
