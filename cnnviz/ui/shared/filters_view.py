"""The Filters panel: every kernel of one convolution layer, with its biases.

Column ``f`` holds filter ``f``: its kernel for every input channel, one per row, then its bias (a
tile of one colour), on one diverging colour scale centred on zero for the whole layer (one
``ImageItem`` and one colour bar). The first layer of a colour network also shows each filter in
colour (its three input-channel kernels as red, green and blue) in a row above, as filters are
usually pictured: all on one scale, ``w / (2 max|w|) + 0.5`` with ``max|w|`` the layer's largest
weight (:func:`cnnviz.display.filter_colours`), and its kernel rows are named R, G and B. Hovering
a filter's colour picture or any of its kernels outlines the picture and every kernel of that
filter (the one being edited stays outlined). The view
follows the weights through the trace (``Trace.weights_token``): a weight edit, an undo or a
training step redraws it; a new input does not.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QFontMetrics, QPainterPath, QPen
from PySide6.QtWidgets import (QComboBox, QGraphicsPathItem, QHBoxLayout, QLabel, QSizePolicy,
                               QVBoxLayout, QWidget)

from cnnviz.display import Mosaic, filter_colours, input_channel_names, nice_ceil, peak
from cnnviz.session import Trace
from cnnviz.ui.shared.colormaps import colour_map, lookup_table
from cnnviz.ui.shared.placeholder import Placeholder
from cnnviz.ui.shared.theme import plot_colors, ThemedPanel
from cnnviz.ui.shared.window_overlay import gap_path
from cnnviz.ui.window.document import Document


#: What the panel says, in place of the grid, for a network without a convolution.
NO_FILTERS = "This network has no convolution filters."


def conv_layers(model) -> list[int]:
    """Indices of the network's convolution layers."""
    return [i for i, layer in enumerate(model.layers) if layer.kind == "Conv2D"]


def filter_tiles(weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Kernels and biases as tiles, input channel by input channel, the biases last:
    (C + 1) * F tiles of (kh, kw); tile ``k * F + f`` is filter ``f``'s kernel for channel ``k``
    (``k = C``: its bias, filling the tile)."""
    f, c, kh, kw = weight.shape
    bias = np.zeros(f, dtype=weight.dtype) if bias is None else bias
    tiles = np.empty((c + 1, f, kh, kw), dtype=np.float32)
    tiles[:c] = weight.transpose(1, 0, 2, 3)
    tiles[c] = bias[:, None, None]
    return tiles.reshape((c + 1) * f, kh, kw)


class FiltersView(ThemedPanel, QWidget):
    """The kernels of one convolution layer.

    Signals
    -------
    cursor_info(str)
        The weight or bias under the pointer ("" when none), for the status bar.
    filter_selected(int, int)
        A weight or bias was clicked: (layer, filter), to edit that filter.
    weight_clicked(int, int, int, int, int)
        Then, for a kernel's weight: (layer, filter, input channel, row, column).

    Attributes
    ----------
    layer : int or None
        Index of the convolution layer shown (None: the network has none).
    mosaic : Mosaic
    display : np.ndarray
        The tiled kernels on display.
    levels : (float, float)
    rgb : np.ndarray or None
        The colour pictures of the filters (first layer of an RGB network), (rows, cols, 3).
    rgb_top : float
        The weight magnitude the colour pictures map to black or full colour (their one scale).
    rgb_mosaic : Mosaic or None
        How the colour pictures are tiled (one tile per filter).
    hovered, marked : int or None
        The filter under the pointer, and the one being edited: each outlined, colour picture
        and kernels together.
    weights_token : int
        ``Trace.weights_token`` of the weights on display.
    """

    cursor_info = Signal(str)
    filter_selected = Signal(int, int)
    weight_clicked = Signal(int, int, int, int, int)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("filters_view")
        self.document = document
        self.layer: int | None = None
        self.mosaic = Mosaic(1, 1, 1, 1)
        self.display = np.zeros((1, 1), dtype=np.float32)
        self.levels = (-1.0, 1.0)
        self.rgb = None
        self.rgb_top = 1.0
        self.rgb_mosaic: Mosaic | None = None
        self.hovered: int | None = None
        self.marked: int | None = None
        self._edited: tuple[int, int] | None = None
        self.weights_token = 0
        self._labels: list[pg.TextItem] = []  # the filters' numbers, then the rows' names
        self._offset = 0.0  # height of the colour row above the kernels, with its gaps

        self.layer_combo = QComboBox(objectName="filters_layer_combo")
        self.layer_combo.setToolTip("The convolution layer whose filters are shown")
        self.layer_combo.setPlaceholderText("no convolution layer")
        self.layer_combo.currentIndexChanged.connect(self._on_layer_chosen)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Filters of"))
        controls.addWidget(self.layer_combo, 1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("filters_graphics")
        self.graphics.setMinimumSize(160, 160)
        self.viewbox = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True,
                                                enableMenu=False)
        self.viewbox.setMouseEnabled(x=False, y=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setLookupTable(lookup_table("diverging"))
        self.viewbox.addItem(self.image_item)
        self.rgb_item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.rgb_item)
        self.gap_item = QGraphicsPathItem(self.image_item)
        self.gap_item.setPen(QPen(Qt.PenStyle.NoPen))
        # Outlines of the hovered and the edited filter, in the image's pixel coordinates (the
        # view's: the image is not transformed); the colour pictures sit above the image, at
        # negative rows. Drawn over both images.
        self.hover_item, self.mark_item = QGraphicsPathItem(), QGraphicsPathItem()
        for item in (self.hover_item, self.mark_item):
            item.setBrush(QBrush(Qt.BrushStyle.NoBrush))
            self.viewbox.addItem(item, ignoreBounds=True)
            item.setZValue(100)
        self.colour_bar = pg.ColorBarItem(values=(-1, 1), width=14, interactive=False,
                                          colorMapMenu=False, colorMap=colour_map("diverging"))
        self.graphics.addItem(self.colour_bar, row=0, col=1)
        self.viewbox.sigResized.connect(self._fit)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)

        self.caption = QLabel(objectName="filters_caption", wordWrap=True)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        # A network without a convolution has no filters: a sentence says so, not empty axes.
        self.placeholder = Placeholder(self.graphics, "filters_placeholder")
        layout.addLayout(controls)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.caption)

        self._apply_palette()
        self._on_model_changed(document.network)
        document.model_changed.connect(self._on_model_changed)
        document.trace_changed.connect(self._on_trace_changed)

    # ----------------------------------------------------------------- document
    @Slot(object)
    def _on_model_changed(self, network) -> None:
        """List the network's convolutions and show the first; when they are the ones listed
        already (a new run of the same preset, say), stay on the layer shown."""
        model = network.model
        items = []
        for index in conv_layers(model):
            f, c, kh, kw = model.layers[index].params["weight"].shape
            items.append((f"{index} Conv2D: {f} filters of {c}\u00d7{kh}\u00d7{kw}", index))
        listed = [(self.layer_combo.itemText(row), self.layer_combo.itemData(row))
                  for row in range(self.layer_combo.count())]
        if items == listed and self.layer is not None:
            self._apply()
            return
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for text, index in items:
            self.layer_combo.addItem(text, index)
        self.layer_combo.blockSignals(False)
        self.layer = None
        self.show_layer(items[0][1] if items else None)

    @Slot(object)
    def _on_trace_changed(self, trace: Trace) -> None:
        if trace.weights_token != self.weights_token and self.layer is not None:
            self._apply()

    @Slot(int)
    def _on_layer_chosen(self, row: int) -> None:
        self.show_layer(self.layer_combo.itemData(row))

    @Slot(int)
    def follow_activation(self, index: int) -> None:
        """Show the convolution that computed activation ``index`` (the nearest one before it;
        the first one for the input)."""
        convs = conv_layers(self.document.model)
        if convs:
            before = [i for i in convs if i <= index - 1]
            self.show_layer(before[-1] if before else convs[0])

    def show_layer(self, layer: int | None) -> None:
        """Show the filters of convolution layer ``layer`` (None: nothing)."""
        if layer == self.layer and layer is not None:
            return
        self.layer = layer
        self.layer_combo.setEnabled(layer is not None)
        if layer is None:
            self._clear()
            return
        self.placeholder.show_content()
        self.layer_combo.blockSignals(True)
        self.layer_combo.setCurrentIndex(self.layer_combo.findData(layer))
        self.layer_combo.blockSignals(False)
        f, c, kh, kw = self.document.model.layers[layer].params["weight"].shape
        self.mosaic = Mosaic((c + 1) * f, kh, kw, f, max(1, min(kh, kw) // 3))
        self.gap_item.setPath(gap_path(self.mosaic))
        names = input_channel_names(self.document.model, layer)
        colour = names == ["R", "G", "B"]
        offset = (kh + 2 * self.mosaic.gap) if colour else 0
        self.rgb_item.setVisible(colour)
        self.rgb_mosaic = Mosaic(f, kh, kw, f, self.mosaic.gap) if colour else None
        self.hovered = None
        self.marked = self._edited[1] if self._edited and self._edited[0] == layer else None
        self._outline()
        self._offset = offset
        self._make_labels(f, names, offset)
        self._apply()
        self._fit()

    @Slot()
    def _fit(self, *_args) -> None:
        """Frame the filters with room, in screen pixels, for the row names on the left and the
        filter numbers above (whatever the panel's size), and number only every 2nd, 5th,
        10th... filter when the numbers would run into each other."""
        if self.layer is None or not self._labels:
            return
        m = self.mosaic
        h, w = m.shape
        filters = m.columns
        metrics = QFontMetrics(self._labels[0].textItem.font())
        left_px = max(metrics.horizontalAdvance(label.textItem.toPlainText())
                      for label in self._labels[filters:]) + 8
        top_px = metrics.height() + 2
        width, height = max(self.viewbox.width(), 1.0), max(self.viewbox.height(), 1.0)
        margin, above = 2.0 * m.width, m.height / 2
        for _ in range(4):  # the margins, in pixels of the mosaic, depend on the scale they set
            scale = min(width / (w + margin), height / (h + self._offset + above)) / 1.04
            margin, above = left_px / scale, top_px / scale
        self.viewbox.setRange(QRectF(-margin, -self._offset - above, w + margin,
                                     h + self._offset + above), padding=0.02)
        need = metrics.horizontalAdvance(str(filters - 1)) + 6
        column = (m.width + m.gap) * scale
        step = next(step for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
                    if step * column >= need or step * 2 > filters)
        for f, label in enumerate(self._labels[:filters]):
            label.setVisible(f % step == 0)

    def _clear(self) -> None:
        """Show nothing of the previous network (its kernels, labels, colour bar): say that this
        one has no convolution filters."""
        self.image_item.clear()
        self.rgb_item.clear()
        self.rgb_item.setVisible(False)
        self.gap_item.setPath(QPainterPath())
        self._remove_labels()
        self.mosaic = Mosaic(1, 1, 1, 1)
        self.display = np.zeros((1, 1), dtype=np.float32)
        self.rgb = None
        self.rgb_mosaic = None
        self.hovered = self.marked = None
        self._outline()
        self.levels = (-1.0, 1.0)
        self.colour_bar.setLevels(self.levels)
        self.placeholder.show_message(NO_FILTERS)
        self.caption.setText(
            "This network has no convolution filters: its weights are those of its dense layers, "
            "which the Filter Editor shows and edits; the Layers and Feature Maps panels show "
            "their outputs.")
        self.cursor_info.emit("")

    def _remove_labels(self) -> None:
        for label in self._labels:
            self.viewbox.removeItem(label)
        self._labels = []

    def _make_labels(self, filters: int, names: list[str], offset: float) -> None:
        self._remove_labels()
        _, foreground = plot_colors(self.palette())
        m = self.mosaic
        for f in range(filters):
            label = pg.TextItem(str(f), color=foreground, anchor=(0.5, 1))
            label.setPos(m.origin(f)[1] + m.width / 2, -offset - 0.1)
            self._labels.append(label)
        channels = len(names)
        heads = list(zip(names, range(channels))) + [("bias", channels)]
        if offset:
            heads.append(("RGB", None))
        for text, row in heads:
            label = pg.TextItem(text, color=foreground, anchor=(1, 0.5))
            y = -offset + m.height / 2 if row is None else m.origin(row * filters)[0] + m.height / 2
            label.setPos(-0.2, y)
            self._labels.append(label)
        for label in self._labels:
            self.viewbox.addItem(label, ignoreBounds=True)

    def _apply(self) -> None:
        layer = self.document.model.layers[self.layer]
        weight, bias = layer.params["weight"], layer.params.get("bias")
        top = nice_ceil(peak(weight if bias is None else np.concatenate([weight.ravel(), bias])))
        self.levels = (-top, top)
        self.display = self.mosaic.tile(filter_tiles(weight, bias))
        self.image_item.setImage(self.display, autoLevels=False, levels=self.levels)
        self.colour_bar.setLevels(self.levels)
        self.rgb = None
        f, c, kh, kw = weight.shape
        colour_text = ""
        if self.rgb_mosaic is not None:
            # One scale for every filter of the layer: the largest weight (not the biases, which
            # the pictures do not show) maps to black or full colour, zero to mid-grey.
            self.rgb_top = peak(weight)
            pictures = filter_colours(weight, self.rgb_top).transpose(3, 0, 1, 2)
            self.rgb = np.ascontiguousarray(np.stack(
                [self.rgb_mosaic.tile(plane, fill=1.0) for plane in pictures], axis=-1))
            self.rgb_item.setImage(self.rgb, autoLevels=False, levels=(0.0, 1.0))
            self.rgb_item.setRect(QRectF(0, -(kh + 2 * self.mosaic.gap), self.rgb.shape[1],
                                         self.rgb.shape[0]))
            colour_text = (f" Top row: each filter in colour, its R, G and B kernels as red, "
                           f"green and blue, all on one scale (grey 0, full \u00b1"
                           f"{self.rgb_top:.2g}: the layer's largest weight); hover one to see "
                           f"its kernels.")
        bias_text = "" if bias is None else " and its bias"
        self.caption.setText(
            f"Layer {self.layer}: {f} filters, each {c} kernel{'s' if c > 1 else ''} of "
            f"{kh}\u00d7{kw}{bias_text} (columns: filters; rows: input channels, then the bias). "
            f"Colours \u00b1{top:.2g}: the layer's largest weight or bias, rounded up."
            + colour_text)
        self.weights_token = self.document.trace.weights_token

    # ----------------------------------------------------------------- events
    #: ``weight_at``'s channel for a filter's colour picture.
    COLOUR = -1

    def weight_at(self, scene_position) -> tuple[int, int, int, int] | None:
        """``(filter, channel, i, j)`` under a scene position (channel C: the bias;
        :attr:`COLOUR`: the filter's colour picture), or None."""
        if self.layer is None or not self.viewbox.sceneBoundingRect().contains(scene_position):
            return None
        point = self.image_item.mapFromScene(scene_position)
        unit = self.mosaic.locate(point.y(), point.x())
        if unit is None and self.rgb_mosaic is not None:
            colour = self.rgb_mosaic.locate(point.y() + self.mosaic.height + 2 * self.mosaic.gap,
                                            point.x())
            return None if colour is None else (colour[0], self.COLOUR, colour[1], colour[2])
        if unit is None:
            return None
        tile, i, j = unit
        channel, f = divmod(tile, self.mosaic.columns)
        return f, channel, i, j

    def filter_rects(self, f: int) -> list[QRectF]:
        """Where filter ``f`` is drawn, in the image's pixels: its colour picture (first layer
        of a colour network), then its kernel for every input channel, then its bias."""
        m = self.mosaic
        rects = []
        if self.rgb_mosaic is not None:
            rects.append(QRectF(m.origin(f)[1], -(m.height + 2 * m.gap), m.width, m.height))
        for row in range(m.count // m.columns):
            top, left = m.origin(row * m.columns + f)
            rects.append(QRectF(left, top, m.width, m.height))
        return rects

    def mark_filter(self, layer: int, f: int) -> None:
        """Outline filter ``f`` of ``layer`` as the one being edited (when that layer is shown,
        now or later)."""
        self._edited = (layer, f)
        marked = f if layer == self.layer and self.layer is not None else None
        if marked != self.marked:
            self.marked = marked
            self._outline()

    def _hover(self, f: int | None) -> None:
        if f != self.hovered:
            self.hovered = f
            self._outline()

    def _outline(self) -> None:
        """Draw the outlines of the hovered and the marked filter."""
        for item, f in ((self.hover_item, self.hovered), (self.mark_item, self.marked)):
            path = QPainterPath()
            if f is not None and self.layer is not None:
                for rect in self.filter_rects(f):
                    path.addRect(rect)
            item.setPath(path)

    def _on_mouse_moved(self, position) -> None:
        spot = self.weight_at(position)
        self._hover(None if spot is None else spot[0])
        if spot is None:
            self.cursor_info.emit("")
            return
        f, channel, i, j = spot
        layer = self.document.model.layers[self.layer]
        weight = layer.params["weight"]
        if channel == self.COLOUR:
            r, g, b = (float(v) for v in weight[f, :, i, j])
            self.cursor_info.emit(f"Layer {self.layer} filter {f} in colour, row {i}, col {j}: "
                                  f"R {r:.4g}, G {g:.4g}, B {b:.4g} (its kernels are outlined "
                                  f"below)")
        elif channel == weight.shape[1]:
            bias = layer.params.get("bias")
            value = "none" if bias is None else f"{float(bias[f]):.4g}"
            self.cursor_info.emit(f"Layer {self.layer} filter {f}: bias {value}")
        else:
            name = input_channel_names(self.document.model, self.layer)[channel]
            which = f"{channel}" if name == f"in {channel}" else f"{channel} ({name})"
            self.cursor_info.emit(f"Layer {self.layer} filter {f}, input channel {which}, "
                                  f"row {i}, col {j}: weight {float(weight[f, channel, i, j]):.4g}")

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self._hover(None)
        super().leaveEvent(event)

    def _on_mouse_clicked(self, event) -> None:
        spot = self.weight_at(event.scenePos())
        if event.button() == Qt.MouseButton.LeftButton and spot is not None:
            self.filter_selected.emit(self.layer, spot[0])
            f, channel, i, j = spot
            weight = self.document.model.layers[self.layer].params["weight"]
            if 0 <= channel < weight.shape[1]:
                self.weight_clicked.emit(self.layer, f, channel, i, j)

    def _apply_palette(self) -> None:
        background, foreground = plot_colors(self.palette())
        self.graphics.setBackground(background)
        self.gap_item.setBrush(QBrush(background))
        # Hovered: a solid outline in the text colour; edited: a dashed one in the highlight's.
        for item, colour, style in (
                (self.hover_item, pg.mkColor(foreground), Qt.PenStyle.SolidLine),
                (self.mark_item, self.palette().highlight().color(), Qt.PenStyle.DashLine)):
            pen = QPen(colour, 2, style)
            pen.setCosmetic(True)
            item.setPen(pen)
        for name in ("left", "right", "top", "bottom"):
            axis = self.colour_bar.getAxis(name)
            axis.setPen(foreground)
            axis.setTextPen(foreground)
        for label in self._labels:
            label.setColor(foreground)
