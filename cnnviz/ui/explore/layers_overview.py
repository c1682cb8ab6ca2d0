"""The Layers panel: every layer of the network in order, with its maps for the current input.

One row per activation: the input, then each layer's output, labelled with the layer's index,
kind, output shape and parameter count. Maps are tiled into one ``ImageItem`` per row (all maps
of a row at the same display size), vectors are strips, and the output row shows the class
probabilities. Clicking a row opens it large in the Feature Maps panel (``layer_activated``);
hovering a unit reports it like the large view does, and the windows of a hovered unit are
outlined in every earlier row.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem, QVBoxLayout, QWidget

from cnnviz.display import NORMALISATIONS, Mosaic, nonnegative_activations
from cnnviz.session import Trace
from cnnviz.ui.shared.colormaps import lookup_table
from cnnviz.ui.shared.feature_maps import activation_scale, network_peak
from cnnviz.ui.shared.theme import accent, plot_colors
from cnnviz.ui.shared.window_overlay import WindowOverlay, gap_path
from cnnviz.ui.window.document import Document

TILE = 28.0          # display height of one map, in view units
TILE_GAP = 4.0       # between maps
ROW_GAP = 12.0       # between rows
LINE_TILES = 8       # maps per line before wrapping
STRIP_HEIGHT = 10.0  # height of a vector's strip
STRIP_CELL = 4.0     # widest unit of a strip
OUTPUT_CELL = 16.0   # one class of the output row
LABEL_MARGIN = 10    # pixels between a label and its maps
TOP_MARGIN = 6       # pixels above the first row (its label is taller than its maps)
VIEW_MARGIN = 4      # pixels around the view
MIN_SCALE = 0.75     # pixels per view unit below which the panel scrolls (labels would overlap)


@dataclass
class Row:
    """One activation's row: where its mosaic sits and the items that draw it."""

    index: int
    mosaic: Mosaic
    rect: QRectF
    image: pg.ImageItem
    gaps: QGraphicsPathItem
    label: pg.TextItem
    overlay: WindowOverlay
    table: str = ""


def _kind_and_shape(model, index: int) -> tuple[str, tuple[int, ...]]:
    if index == 0:
        return "Input", tuple(model.input_shape)
    layer = model.layers[index - 1]
    return f"{index - 1} {layer.kind}", tuple(layer.output_shape)


def row_label(model, index: int) -> str:
    """HTML label of activation ``index``: index and kind, then output shape. Short enough that
    the maps keep most of a narrow dock; the rest is in :func:`row_description`."""
    kind, shape = _kind_and_shape(model, index)
    size = "\u00d7".join(map(str, shape))
    return f"<b>{kind}</b>{'<br>' if len(shape) == 3 else ' '}{size}"


def row_labels(model) -> tuple[str, ...]:
    """The labels of every row: the input, then each layer's output."""
    return tuple(row_label(model, index) for index in range(len(model.layers) + 1))


def row_description(model, index: int) -> str:
    """What activation ``index`` is, in full (the tooltip of its row)."""
    kind, shape = _kind_and_shape(model, index)
    size = "\u00d7".join(map(str, shape))
    what = "channels \u00d7 height \u00d7 width" if len(shape) == 3 else "units"
    text = f"{kind}: {size} ({what})"
    if index:
        params = model.layers[index - 1].param_count()
        text += f", {params:,} parameters" if params else ", no parameters"
    if index == len(model.layers):
        text += "; the class probabilities"
    return text + ". Click to see it large; hover a unit for its receptive field."


class LayersOverview(QWidget):
    """All layers, in order, for the current input.

    Signals
    -------
    layer_activated(int)
        A row was clicked: activation index to show large.
    unit_hovered(object)
        ``(index, unit)`` under the pointer, or None.

    Attributes
    ----------
    rows : list of Row
    selected : int
    applied_version, applied_at
        ``Trace.version`` of the trace on display and ``time.perf_counter()`` when applied.
    """

    layer_activated = Signal(int)
    unit_hovered = Signal(object)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layers_overview")
        self.document = document
        self.rows: list[Row] = []
        self.selected = 1
        self.normalisation = NORMALISATIONS[0]
        self.applied_version, self.applied_at = 0, 0.0
        self._applied: Trace | None = None
        self._hovered = None
        self._dirty = False
        self._layout_key: tuple = ()   # the labels the rows were built for
        self._stale_rows = False       # rows of an older network: build them when shown
        self._size = (1.0, 1.0)
        self._label_left = 0.0
        self._signs: list[bool] = []

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("layers_graphics")
        self.graphics.setMinimumSize(240, 160)
        self.graphics.ci.setContentsMargins(*(VIEW_MARGIN,) * 4)
        self.viewbox = self.graphics.addViewBox(invertY=True, enableMenu=False)
        self.viewbox.setMouseEnabled(x=False, y=False)
        self.viewbox.disableAutoRange()
        self.viewbox.sigResized.connect(self._on_view_resized)
        self.selection_item = QGraphicsRectItem()
        self.selection_item.setPen(QPen(Qt.PenStyle.NoPen))
        self.selection_item.setZValue(-10)
        self.viewbox.addItem(self.selection_item, ignoreBounds=True)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.graphics)

        self._on_model_changed(document.network)
        document.model_changed.connect(self._on_model_changed)
        document.trace_changed.connect(self._on_trace_changed)

    # ----------------------------------------------------------------- building
    @Slot(object)
    def _on_model_changed(self, network) -> None:
        """Build a row per activation; a hidden panel builds when shown. A network of the same
        layers as the one shown (a new run of the same preset, say) reuses the rows."""
        model = network.model
        key = row_labels(model)
        if key == self._layout_key:  # the trace that follows redraws the rows
            self._stale_rows = False
            self._signs = nonnegative_activations(model)
        elif self.isVisible() or not self.rows:
            self._build(network, key)
        else:
            self._stale_rows = self._dirty = True

    def _build(self, network, key: tuple) -> None:
        self._stale_rows, self._layout_key = False, key
        for row in self.rows:
            self.viewbox.removeItem(row.image)
            self.viewbox.removeItem(row.label)
        model = network.model
        self._signs = nonnegative_activations(model)
        shapes = [tuple(model.input_shape)] + [tuple(layer.output_shape) for layer in model.layers]
        line = LINE_TILES * (TILE + TILE_GAP) - TILE_GAP
        top, self.rows = 0.0, []
        for index, shape in enumerate(shapes):
            if len(shape) == 3:
                c, h, w = shape
                gap = max(1, round(h * TILE_GAP / TILE))
                mosaic = Mosaic(c, h, w, min(c, LINE_TILES), gap)
                scale = TILE / h
                width, height = mosaic.shape[1] * scale, mosaic.shape[0] * scale
            else:
                mosaic = Mosaic.for_shape(shape)
                output = index == len(shapes) - 1
                cell = OUTPUT_CELL if output else min(STRIP_CELL, line / shape[0])
                width, height = shape[0] * cell, OUTPUT_CELL if output else STRIP_HEIGHT
            rect = QRectF(0, top, width, height)
            image = pg.ImageItem(np.zeros(mosaic.shape, dtype=np.float32), axisOrder="row-major")
            image.setRect(rect)
            self.viewbox.addItem(image)
            gaps = QGraphicsPathItem(image)
            gaps.setPen(QPen(Qt.PenStyle.NoPen))
            gaps.setPath(gap_path(mosaic))
            label = pg.TextItem(html=key[index], anchor=(1, 0.5))
            self.viewbox.addItem(label, ignoreBounds=True)
            self.rows.append(Row(index, mosaic, rect, image, gaps, label, WindowOverlay(image)))
            top += height + ROW_GAP
        self._size = (line, top - ROW_GAP)
        # Below this size the labels would overlap (or crowd out the maps): the dock scrolls
        # instead.
        label_px = max(row.label.textItem.boundingRect().width() for row in self.rows)
        self.graphics.setMinimumSize(
            math.ceil(label_px + LABEL_MARGIN + line * MIN_SCALE + 2 * VIEW_MARGIN),
            int(self._size[1] * MIN_SCALE + 2 * ROW_GAP))
        self._hovered = None
        self._apply_palette()
        self._apply(self.document.trace)
        self.set_selected(min(self.selected, len(self.rows) - 1))
        self._fit()

    @Slot(object)
    def _on_view_resized(self, _viewbox) -> None:
        if self.isVisible():  # a hidden (or closing) panel fits when shown
            self._fit()

    def _fit(self) -> None:
        """Fill the view: maps scaled to fit beside the widest label, from the top left."""
        if not self.rows:
            return
        label_px = max(row.label.textItem.boundingRect().width() for row in self.rows)
        label_px += LABEL_MARGIN
        width_px = max(self.viewbox.width() - label_px, 10.0)
        height_px = max(self.viewbox.height() - 2 * TOP_MARGIN, 10.0)
        content_w, content_h = self._size
        scale = min(width_px / content_w, height_px / content_h)
        left, top = -label_px / scale, -TOP_MARGIN / scale
        self.viewbox.setRange(xRange=(left, left + self.viewbox.width() / scale),
                              yRange=(top, top + self.viewbox.height() / scale), padding=0)
        for row in self.rows:
            row.label.setPos(-LABEL_MARGIN / 2 / scale, row.rect.center().y())
        self._label_left = left
        self.set_selected(self.selected)

    # ----------------------------------------------------------------- document
    @Slot(object)
    def _on_trace_changed(self, trace: Trace) -> None:
        if trace is self._applied and not self._stale_rows and not self._dirty:
            return  # drawn already: a new network's rows are built with its first trace
        if self.isVisible():
            self._apply(trace)
        else:
            self._dirty = True

    def _apply(self, trace: Trace) -> None:
        if self._stale_rows:
            return  # drawn when the rows are built
        self._dirty = False
        mode = self.normalisation
        whole = network_peak(trace) if mode == "network" else 1.0
        for row, nonnegative in zip(self.rows, self._signs):
            values, scale, table = activation_scale(trace, row.index, nonnegative, mode, whole)
            if table != row.table:
                row.table = table
                row.image.setLookupTable(lookup_table(table))
            row.image.setImage(row.mosaic.tile(values, fill=scale.levels[0]), autoLevels=False,
                               levels=scale.levels)
        self.applied_version, self.applied_at = trace.version, time.perf_counter()
        self._applied = trace

    @Slot(str)
    def set_normalisation(self, mode: str) -> None:
        """Normalise the colours of every row per ``"layer"``, ``"map"`` or ``"network"``."""
        self.normalisation = mode
        self._apply(self.document.trace)

    @Slot(int)
    def set_selected(self, index: int) -> None:
        """Mark activation ``index`` as the one shown large."""
        self.selected = index
        if 0 <= index < len(self.rows):
            rect = self.rows[index].rect
            left = self._label_left
            self.selection_item.setRect(QRectF(left, rect.top() - ROW_GAP / 3,
                                               self._size[0] - left + TILE_GAP,
                                               rect.height() + 2 * ROW_GAP / 3))

    def row_span(self, index: int) -> tuple[int, int] | None:
        """Top and bottom, in this widget's pixels, of activation ``index``'s row (to scroll it
        into view); None while the rows wait to be built."""
        if self._stale_rows or not 0 <= index < len(self.rows):
            return None
        rect = self.rows[index].rect
        top, bottom = (self.graphics.mapTo(self, self.graphics.mapFromScene(
            self.viewbox.mapViewToScene(point))).y()
            for point in (rect.topLeft(), rect.bottomLeft()))
        return top, bottom

    def show_windows(self, windows) -> None:
        """Outline a hovered unit's window in every row up to its own (none: hide)."""
        for row in self.rows:
            if row.index < len(windows):
                row.overlay.show(row.mosaic, windows[row.index])
            else:
                row.overlay.hide()

    # ----------------------------------------------------------------- events
    def row_at(self, scene_position) -> Row | None:
        """The row whose band (label included) holds a scene position."""
        if not self.viewbox.sceneBoundingRect().contains(scene_position):
            return None
        y = self.viewbox.mapSceneToView(scene_position).y()
        for row in self.rows:
            if row.rect.top() - ROW_GAP / 2 <= y < row.rect.bottom() + ROW_GAP / 2:
                return row
        return None

    def unit_at(self, scene_position) -> tuple[int, tuple[int, ...]] | None:
        """``(index, unit)`` under a scene position, or None."""
        return self._unit_in(self.row_at(scene_position), scene_position)

    @staticmethod
    def _unit_in(row: Row | None, scene_position) -> tuple[int, tuple[int, ...]] | None:
        if row is None:
            return None
        point = row.image.mapFromScene(scene_position)
        unit = row.mosaic.locate(point.y(), point.x())
        return None if unit is None else (row.index, unit)

    def _on_mouse_moved(self, position) -> None:
        row = self.row_at(position)
        tip = "" if row is None else row_description(self.document.model, row.index)
        if tip != self.graphics.toolTip():
            self.graphics.setToolTip(tip)
        hover = self._unit_in(row, position)
        if hover != self._hovered:
            self._hovered = hover
            self.unit_hovered.emit(hover)

    def _on_mouse_clicked(self, event) -> None:
        row = self.row_at(event.scenePos())
        if event.button() == Qt.MouseButton.LeftButton and row is not None:
            self.set_selected(row.index)
            self.layer_activated.emit(row.index)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if self._hovered is not None:
            self._hovered = None
            self.unit_hovered.emit(None)
        super().leaveEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._stale_rows:
            self._build(self.document.network, row_labels(self.document.model))
        elif self._dirty:
            self._apply(self.document.trace)
        self._fit()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        background, foreground = plot_colors(self.palette())
        self.graphics.setBackground(background)
        colour = QColor(accent(self.palette()))
        for row in self.rows:
            row.gaps.setBrush(QBrush(background))
            row.label.setColor(foreground)
            row.overlay.set_colour(colour)
        selection = QColor(colour)
        selection.setAlpha(45)
        self.selection_item.setBrush(QBrush(selection))
