"""The Filters panel: every kernel of one convolution layer, with its biases.

Column ``f`` holds filter ``f``: its kernel for every input channel, one per row, then its bias (a
tile of one colour), on one diverging colour scale centred on zero for the whole layer (one
``ImageItem`` and one colour bar). The first layer of a colour network also shows each filter in
colour (its three input-channel kernels as red, green and blue) in a row above, as filters are
usually pictured: all on one scale, ``w / (2 max|w|) + 0.5`` with ``max|w|`` the layer's largest
weight (:func:`cnnviz.display.filter_colours`), and its kernel rows are named R, G and B. Hovering
a filter's colour picture or any of its kernels outlines the picture and every kernel of that
filter (the one being edited stays outlined). Many small filters in a small panel are dealt
into bands (:class:`FilterLayout`) when one row of them would be too small to read. The view
follows the weights through the trace (``Trace.weights_token``): a weight edit, an undo or a
training step redraws it; a new input does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

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
from cnnviz.ui.window.document import Document


#: Tiles (a kernel, a colour picture) at least this many screen pixels high and wide read well:
#: below it, the filters are dealt into several bands if that makes them larger.
READABLE_TILE = 16
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


@dataclass(frozen=True)
class FilterLayout:
    """Where a layer's filters are drawn, in the image's pixels (row, column).

    The filters are dealt into ``bands`` stacked top to bottom, ``per_band`` to a band: in a band,
    column ``k`` holds filter ``band * per_band + k``, its kernel for every input channel one per
    row, then its bias (:attr:`mosaic`: the tiles of one band, whose top row is
    :meth:`band_top`). Above a band's kernels, its filters' colour pictures (``colour``: a first
    layer reading a colour image) and ``label_room`` rows for the filters' numbers: the band's
    :attr:`head`. Rows 0 on hold the kernels of band 0, so that a single band is the plain
    mosaic of ``(C + 1) * F`` tiles, filter ``f`` in column ``f``.
    """

    filters: int
    channels: int
    kh: int
    kw: int
    per_band: int
    colour: bool = False
    label_room: int = 0

    @property
    def gap(self) -> int:
        return max(1, min(self.kh, self.kw) // 3)

    @property
    def bands(self) -> int:
        return -(-self.filters // self.per_band)

    @property
    def mosaic(self) -> Mosaic:
        return Mosaic((self.channels + 1) * self.per_band, self.kh, self.kw, self.per_band,
                      self.gap)

    @property
    def picture_offset(self) -> int:
        """From the top of a band's colour pictures down to the top of its kernels (0: none)."""
        return self.kh + 2 * self.gap if self.colour else 0

    @property
    def head(self) -> int:
        return self.picture_offset + self.label_room

    @property
    def pitch(self) -> int:
        """From one band's kernels to the next one's."""
        return self.mosaic.shape[0] + self.gap + self.head

    def band_top(self, band: int) -> int:
        return band * self.pitch

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) from the top of band 0's kernels to the bottom of the last band."""
        return self.band_top(self.bands - 1) + self.mosaic.shape[0], self.mosaic.shape[1]

    def tile_origin(self, f: int, row: int) -> tuple[int, int]:
        """(top, left) of filter ``f``'s tile in ``row``: -1 its colour picture, ``0 .. C - 1``
        its kernels, ``C`` its bias."""
        band, column = divmod(f, self.per_band)
        if row < 0:
            return (self.band_top(band) - self.picture_offset,
                    column * (self.kw + self.gap))
        top, left = self.mosaic.origin(row * self.per_band + column)
        return self.band_top(band) + top, left

    def locate(self, y: float, x: float) -> tuple[int, int, int, int] | None:
        """``(filter, row, i, j)`` at image position (y, x) (row as :meth:`tile_origin`), or
        None over a gap, a number or outside."""
        band = math.floor((y + self.head) / self.pitch)
        if not 0 <= band < self.bands or x < 0:
            return None
        y -= self.band_top(band)
        if y < 0:  # above the kernels: the colour pictures, or the numbers
            i = math.floor(y + self.picture_offset)
            column, j = divmod(int(x), self.kw + self.gap)
            if not (self.colour and 0 <= i < self.kh and j < self.kw
                    and column < self.per_band):
                return None
            row = -1
        else:
            unit = self.mosaic.locate(y, x)
            if unit is None:
                return None
            tile, i, j = unit if len(unit) == 3 else (unit[0], 0, 0)  # 1x1 kernels
            row, column = divmod(tile, self.per_band)
        f = band * self.per_band + column
        return None if f >= self.filters else (f, row, int(i), int(j))

    def tile(self, tiles: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The image of ``tiles`` ((rows, F, kh, kw): rows of tiles, one per filter), laid out
        in the bands: float32 :attr:`shape`, ``fill`` between the tiles."""
        rows, per = tiles.shape[0], self.per_band
        out = np.full(self.shape, fill, dtype=np.float32)
        band_mosaic = Mosaic(rows * per, self.kh, self.kw, per, self.gap)
        for band in range(self.bands):
            part = np.full((rows, per, self.kh, self.kw), fill, dtype=np.float32)
            chunk = tiles[:, band * per:(band + 1) * per]
            part[:, :chunk.shape[1]] = chunk
            image = band_mosaic.tile(part.reshape(-1, self.kh, self.kw), fill)
            top = self.band_top(band)
            out[top:top + image.shape[0]] = image
        return out

    def background(self) -> list[tuple[int, int, int, int]]:
        """Rectangles (top, left, height, width) of the image around the kernels: the gaps
        between them, the room between the bands, the columns past the last filter."""
        height, width = self.mosaic.shape
        out = []
        for band in range(self.bands):
            top = self.band_top(band)
            out += [(t + top, left, h, w) for t, left, h, w in self.mosaic.gaps()]
            if band + 1 < self.bands:
                out.append((top + height, 0, self.pitch - height, width))
        used = self.filters - (self.bands - 1) * self.per_band
        if used < self.per_band:
            left = used * (self.kw + self.gap) - self.gap
            out.append((self.band_top(self.bands - 1), left, height, width - left))
        return out


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
    arrangement : FilterLayout or None
        Where the filters are drawn: in bands of filters when that makes them larger in the
        panel (a layer of many filters in a narrow panel).
    mosaic : Mosaic
        The tiles of one band (all of them in a single band).
    display : np.ndarray
        The tiled kernels on display.
    levels : (float, float)
    rgb : np.ndarray or None
        The colour pictures of the filters (first layer of an RGB network), (rows, cols, 3),
        from the top of band 0's pictures (filter 0's is ``rgb[:kh, :kw]``).
    rgb_top : float
        The weight magnitude the colour pictures map to black or full colour (their one scale).
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
        self.arrangement: FilterLayout | None = None
        self.hovered: int | None = None
        self.marked: int | None = None
        self._edited: tuple[int, int] | None = None
        self.weights_token = 0
        self._labels: list[pg.TextItem] = []  # the filters' numbers, then the rows' names
        # [label or None (not made yet), filter or None, row or None, text, position, anchor]
        self._label_places: list[list] = []

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
        self.arrangement = None
        self.hovered = None
        self.marked = self._edited[1] if self._edited and self._edited[0] == layer else None
        self._fit()

    def _candidates(self) -> list[FilterLayout]:
        """The layer's filters in 1, 2, 3... bands (each band count once)."""
        f, c, kh, kw = self.document.model.layers[self.layer].params["weight"].shape
        colour = input_channel_names(self.document.model, self.layer) == ["R", "G", "B"]
        out, seen = [], set()
        for bands in range(1, f + 1):
            per_band = -(-f // bands)
            if per_band not in seen:
                seen.add(per_band)
                out.append(FilterLayout(f, c, kh, kw, per_band, colour))
        return out

    def _fit(self, *_args) -> None:
        """Lay the filters out in one band, or, when its tiles would be smaller than
        :data:`READABLE_TILE` pixels, in the bands that make them largest in the panel, with
        room, in screen pixels, for the row names on the left and the filter numbers above each
        band; number only every 2nd, 5th, 10th... filter (name every n-th channel) when they
        would run into each other."""
        if self.layer is None:
            return
        metrics = QFontMetrics(self.font())
        names = input_channel_names(self.document.model, self.layer) + ["bias", "RGB"]
        left_px = max(metrics.horizontalAdvance(name) for name in names) + 8
        top_px = metrics.height() + 2
        width, height = self.viewbox.width(), self.viewbox.height()
        candidates = self._candidates()
        if width < 2 or height < 2:  # not laid out yet: one band, the plain mosaic
            candidates = candidates[:1]
            width, height = 400.0, 200.0
        best, best_scale = None, 0.0
        for layout in candidates:
            scale = 1.0
            for _ in range(4):  # the margins in image pixels depend on the scale they set
                layout = replace(layout, label_room=math.ceil(top_px / scale))
                rows, columns = layout.shape
                scale = min(width / (columns + left_px / scale),
                            height / (rows + layout.head)) / 1.04
            if best is None and scale * min(layout.kh, layout.kw) >= READABLE_TILE:
                best, best_scale = layout, scale  # one band is large enough: keep it
                break
            if scale > best_scale * 1.05:  # more bands only when clearly larger
                best, best_scale = layout, scale
        if best != self.arrangement:
            self._build(best)
        rows, columns = best.shape
        margin = left_px / best_scale
        self.viewbox.setRange(QRectF(-margin, -best.head, columns + margin, rows + best.head),
                              padding=0.02)
        self._thin_labels(metrics, best_scale)

    def _build(self, layout: FilterLayout) -> None:
        """Lay the filters out anew: images, gaps, names, outlines."""
        self.arrangement = layout
        self.mosaic = layout.mosaic
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.WindingFill)
        for top, left, h, w in layout.background():
            path.addRect(QRectF(left, top, w, h))
        self.gap_item.setPath(path)
        self.rgb_item.setVisible(layout.colour)
        self._make_labels()
        self._apply()
        self._outline()

    def _thin_labels(self, metrics: QFontMetrics, scale: float) -> None:
        layout = self.arrangement
        need = metrics.horizontalAdvance(str(layout.filters - 1)) + 2
        step = _step(need / ((layout.kw + layout.gap) * scale))
        row_step = _step(metrics.height() / ((layout.kh + layout.gap) * scale))
        foreground = None
        for place in self._label_places:
            label, f, row = place[:3]
            if f is not None:
                visible = f % layout.per_band % step == 0
            else:
                # every row_step-th channel, none so close to the bias row that they overlap
                visible = not 0 <= row < layout.channels or (
                    row % row_step == 0 and layout.channels - row >= row_step)
            if visible and label is None:  # made when first shown (see _make_labels)
                if foreground is None:
                    _, foreground = plot_colors(self.palette())
                text, position, anchor = place[3:]
                label = place[0] = pg.TextItem(text, color=foreground, anchor=anchor)
                label.setPos(*position)
                self.viewbox.addItem(label, ignoreBounds=True)
                self._labels.append(label)
            if label is not None:
                label.setVisible(visible)

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
        self.arrangement = None
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
        self._labels, self._label_places = [], []

    def _make_labels(self) -> None:
        """The filters' numbers above each band, the rows' names on its left."""
        self._remove_labels()
        layout = self.arrangement
        names = input_channel_names(self.document.model, self.layer)
        # Where each label goes; a label is made when _thin_labels first shows it (VGG-16's 512
        # filters and 512 channels made a thousand text items, most never shown: 0.7 s).
        places = []
        for f in range(layout.filters):
            top, left = layout.tile_origin(f, -1 if layout.colour else 0)
            places.append([None, f, None, str(f), (left + layout.kw / 2, top - 0.1), (0.5, 1)])
        heads = list(zip(names, range(layout.channels))) + [("bias", layout.channels)]
        if layout.colour:
            heads.append(("RGB", -1))
        for band in range(layout.bands):
            for text, row in heads:
                top, _ = layout.tile_origin(band * layout.per_band, row)
                places.append([None, None, row, text, (-0.2, top + layout.kh / 2), (1, 0.5)])
        self._label_places = places
        self._labels = []

    def _apply(self) -> None:
        layer = self.document.model.layers[self.layer]
        weight, bias = layer.params["weight"], layer.params.get("bias")
        top = nice_ceil(peak(weight if bias is None else np.concatenate([weight.ravel(), bias])))
        self.levels = (-top, top)
        f, c, kh, kw = weight.shape
        self.display = self.arrangement.tile(filter_tiles(weight, bias).reshape(c + 1, f, kh, kw))
        self.image_item.setImage(self.display, autoLevels=False, levels=self.levels)
        self.colour_bar.setLevels(self.levels)
        self.rgb = None
        colour_text = ""
        if self.arrangement.colour:
            # One scale for every filter of the layer: the largest weight (not the biases, which
            # the pictures do not show) maps to black or full colour, zero to mid-grey.
            self.rgb_top = peak(weight)
            # Laid out as the kernels, shifted up to the pictures' row; transparent elsewhere.
            layout, up = self.arrangement, self.arrangement.picture_offset
            pictures = filter_colours(weight, self.rgb_top).transpose(3, 0, 1, 2)
            height = layout.shape[0] - up
            planes = [layout.tile(plane[None], fill=1.0)[:height] for plane in pictures]
            spots = layout.tile(np.ones((1, f, kh, kw), np.float32))[:height]
            self.rgb = np.ascontiguousarray(np.stack(planes, axis=-1))
            rgba = np.ascontiguousarray(np.dstack([self.rgb, spots]))
            self.rgb_item.setImage(rgba, autoLevels=False, levels=(0.0, 1.0))
            self.rgb_item.setRect(QRectF(0, -up, rgba.shape[1], rgba.shape[0]))
            colour_text = (f"Layer {self.layer}: {f} filters of {kh}\u00d7{kw} per input "
                           f"channel{' and a bias' if bias is not None else ''} (columns: "
                           f"filters; rows: R, G, B kernels, bias), colours \u00b1{top:.2g}. "
                           f"Above: each filter in colour, one scale for all (grey 0, full "
                           f"\u00b1{self.rgb_top:.2g}); hover one for its kernels.")
        bias_text = "" if bias is None else " and its bias"
        self.caption.setText(colour_text or (
            f"Layer {self.layer}: {f} filters, each {c} kernel{'s' if c > 1 else ''} of "
            f"{kh}\u00d7{kw}{bias_text} (columns: filters; rows: input channels, then the bias). "
            f"Colours \u00b1{top:.2g}: the layer's largest weight or bias, rounded up."))
        self.weights_token = self.document.trace.weights_token

    # ----------------------------------------------------------------- events
    #: ``weight_at``'s channel for a filter's colour picture.
    COLOUR = -1

    def weight_at(self, scene_position) -> tuple[int, int, int, int] | None:
        """``(filter, channel, i, j)`` under a scene position (channel C: the bias;
        :attr:`COLOUR`: the filter's colour picture), or None."""
        if (self.layer is None or self.arrangement is None
                or not self.viewbox.sceneBoundingRect().contains(scene_position)):
            return None
        point = self.image_item.mapFromScene(scene_position)
        return self.arrangement.locate(point.y(), point.x())

    def filter_rects(self, f: int) -> list[QRectF]:
        """Where filter ``f`` is drawn, in the image's pixels: its colour picture (first layer
        of a colour network), then its kernel for every input channel, then its bias."""
        layout = self.arrangement
        rows = range(-1 if layout.colour else 0, layout.channels + 1)
        return [QRectF(left, top, layout.kw, layout.kh)
                for top, left in (layout.tile_origin(f, row) for row in rows)]

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
            if f is not None and self.arrangement is not None:
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


def _step(ratio: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at least ``ratio``: label every n-th."""
    step = 1
    while step < ratio:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step
