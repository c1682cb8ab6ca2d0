"""The Feature Maps panel: one layer's activations, large, for the current input.

All maps of the layer are tiled into one image (:class:`cnnviz.display.Mosaic`) drawn by one
``ImageItem`` with explicit levels and a colour bar; a dense layer is a strip of units and the
output the class probabilities. Signed values use a diverging colour map centred on zero,
non-negative ones the sequential map; the colours are normalised per layer (the default, as CNN
Explainer), per map or over the whole network. Hovering a unit reports it (``unit_hovered``), a
click asks for its calculation (``unit_clicked``); the layer's maps can be saved as a PNG and its
activations as ``.npy``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QAction, QBrush, QColor, QImage, QPen
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGraphicsPathItem, QGridLayout,
                               QLabel, QMenu, QMessageBox, QSizePolicy, QToolButton, QVBoxLayout,
                               QWidget)

from cnnviz.display import (NORMALISATIONS, Mosaic, Scale, best_columns, nonnegative_activations,
                            scale_values)
from cnnviz.fileio import atomic_write
from cnnviz.session import Trace
from cnnviz.ui.shared import export
from cnnviz.ui.shared.colormaps import colour_map, lookup_table, to_rgba
from cnnviz.ui.shared.theme import accent, plot_colors
from cnnviz.ui.shared.window_overlay import WindowOverlay, gap_path
from cnnviz.ui.window.document import Document

NORMALISATION_LABELS = {"layer": "Per layer", "map": "Per map", "network": "Whole network"}
#: Exported PNGs are scaled up (nearest neighbour) until their longer side reaches this.
EXPORT_SIDE = 600


#: Most class numbers written under the output layer's units (every 10th, 100th... beyond).
MAX_OUTPUT_LABELS = 20


def layer_titles(model) -> list[str]:
    """One title per activation: ``"Input 1×28×28"``, ``"0 Conv2D 6×28×28"``, ..."""
    shape = "\u00d7".join(map(str, model.input_shape))
    titles = [f"Input {shape}"]
    for index, layer in enumerate(model.layers):
        titles.append(f"{index} {layer.kind} {'×'.join(map(str, layer.output_shape))}")
    return titles


def first_layer_shown(model) -> int:
    """The activation a newly opened network is shown at: its first convolution's maps; without
    a convolution, its first layer with weights (a dense layer's units); else its first layer."""
    convolutions = [i for i, layer in enumerate(model.layers) if layer.kind == "Conv2D"]
    weighted = [i for i, layer in enumerate(model.layers) if layer.params]
    for candidates in (convolutions, weighted):
        if candidates:
            return candidates[0] + 1
    return 1 if model.layers else 0


def activation_values(trace: Trace, index: int) -> np.ndarray:
    """What activation ``index`` shows: its values, or the probabilities for the output."""
    return trace.probabilities if index == len(trace.outputs) else trace.activations[index]


def network_peak(trace: Trace) -> float:
    """The largest magnitude of every hidden layer's output (the "whole network" scale)."""
    hidden = trace.outputs[:-1] or trace.outputs
    return max(float(np.abs(a).max()) for a in hidden) or 1.0


def activation_scale(trace: Trace, index: int, nonnegative: bool, mode: str,
                     whole: float = 1.0) -> tuple[np.ndarray, Scale, str]:
    """The display array, its scale and lookup-table name of activation ``index``.

    ``nonnegative``: the network guarantees values >= 0 there
    (:func:`cnnviz.display.nonnegative_activations`); ``whole``: :func:`network_peak`, for the
    ``"network"`` mode.
    """
    values = activation_values(trace, index)
    if index == len(trace.outputs):
        return np.ascontiguousarray(values), Scale(False, (0.0, 1.0), "layer"), "sequential"
    signed = not nonnegative or float(values.min()) < 0
    display, scale = scale_values(values, signed, mode, whole)
    if index == 0:
        return display, scale, "grey"
    return display, scale, "diverging" if signed else "sequential"


class FeatureMapsView(QWidget):
    """The selected layer's maps, large, with its colour bar and export.

    Signals
    -------
    unit_hovered(object)
        ``(index, unit)`` of the unit under the pointer, or None.
    unit_clicked(int, object)
        Activation index and unit clicked.
    layer_changed(int)
        The activation shown (0: the input, ``i + 1``: layer ``i``'s output).
    normalisation_changed(str)
        One of :data:`cnnviz.display.NORMALISATIONS`.
    effective_toggled(bool)
        The "Effective receptive field" box was switched.

    Attributes
    ----------
    index : int
        Activation shown.
    mosaic : Mosaic
    display : np.ndarray
        The mosaic image on display (float32, row-major).
    scale : Scale
    applied_version, applied_at
        ``Trace.version`` of the trace on display and ``time.perf_counter()`` when applied.
    """

    unit_hovered = Signal(object)
    unit_clicked = Signal(int, object)
    layer_changed = Signal(int)
    normalisation_changed = Signal(str)
    effective_toggled = Signal(bool)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("feature_maps_view")
        self.document = document
        self.index = 1
        self.mosaic = Mosaic(1, 1, 1, 1)
        self.display = np.zeros((1, 1), dtype=np.float32)
        self.scale = Scale(False, (0.0, 1.0), "layer")
        self.applied_version, self.applied_at = 0, 0.0
        self._table = ""
        self._hovered = None
        self._dirty = False
        self._labels: list[pg.TextItem] = []

        self.layer_combo = QComboBox(objectName="layer_combo", minimumContentsLength=14)
        self.layer_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_combo.setToolTip("The layer shown large")
        self.layer_combo.currentIndexChanged.connect(self.set_layer)
        self.scale_combo = QComboBox(objectName="scale_combo")
        for mode in NORMALISATIONS:
            self.scale_combo.addItem(NORMALISATION_LABELS[mode], mode)
        self.scale_combo.setToolTip("Colours scaled per layer, per map, or over the whole network")
        self.scale_combo.currentIndexChanged.connect(self._on_scale_chosen)
        self.effective_check = QCheckBox("Effective receptive field", objectName="effective_check")
        self.effective_check.setToolTip(
            "On hover, show how strongly each input pixel moves the unit: the magnitude of the "
            "gradient of the unit with respect to the input")
        self.effective_check.toggled.connect(self.effective_toggled)
        # One Save button with a menu, and two rows of controls: they must fit a panel about
        # 400 px wide (Explore at 1024x700).
        self.save_png_action = QAction("Maps as PNG\u2026", self, objectName="save_png_action",
                                       toolTip="Save this layer's maps as a PNG picture",
                                       triggered=lambda: self._export("png"))
        self.save_npy_action = QAction("Activations as .npy\u2026", self,
                                       objectName="save_npy_action",
                                       toolTip="Save this layer's activations as a numpy .npy file",
                                       triggered=lambda: self._export("npy"))
        self.save_button = QToolButton(text="Save", objectName="save_maps_button",
                                       toolTip="Save this layer's maps (PNG) or activations (.npy)",
                                       popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        save_menu = QMenu(self.save_button)
        save_menu.addActions([self.save_png_action, self.save_npy_action])
        self.save_button.setMenu(save_menu)
        controls = QGridLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.layer_combo, 0, 0, 1, 3)
        controls.addWidget(self.save_button, 0, 3)
        controls.addWidget(QLabel("Colours"), 1, 0)
        controls.addWidget(self.scale_combo, 1, 1)
        controls.addWidget(self.effective_check, 1, 2, 1, 2)
        controls.setColumnStretch(2, 1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("feature_maps_graphics")
        self.graphics.setMinimumSize(200, 160)
        self.viewbox = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True,
                                                enableMenu=False)
        self.viewbox.setMouseEnabled(x=False, y=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image_item)
        self.gap_item = QGraphicsPathItem(self.image_item)
        self.gap_item.setPen(QPen(Qt.PenStyle.NoPen))
        self.gap_item.setZValue(1)
        self.window_overlay = WindowOverlay(self.image_item)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), width=14, interactive=False,
                                          colorMapMenu=False)
        self.graphics.addItem(self.colour_bar, row=0, col=1)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)

        self.caption = QLabel(objectName="feature_maps_caption", wordWrap=True)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)

        self._apply_palette()
        self._on_model_changed(document.network)
        document.model_changed.connect(self._on_model_changed)
        document.trace_changed.connect(self._on_trace_changed)
        self.viewbox.sigResized.connect(self._on_view_resized)

    @property
    def normalisation(self) -> str:
        return self.scale_combo.currentData()

    # ----------------------------------------------------------------- document
    @Slot(object)
    def _on_model_changed(self, network) -> None:
        """List the new network's layers and choose the one to show: the same one when the new
        network has the same layer at that place (same index, kind and shape: a new run of the
        same architecture, an undo), else :func:`first_layer_shown`."""
        titles = layer_titles(network.model)
        shown = self.layer_combo.itemText(self.index) if self.index >= 0 else None
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(titles)
        self.layer_combo.blockSignals(False)
        same = 0 <= self.index < len(titles) and titles[self.index] == shown
        index = self.index if same else first_layer_shown(network.model)
        self.index = -1
        self.set_layer(index)

    @Slot(object)
    def _on_trace_changed(self, trace: Trace) -> None:
        if self.isVisible():
            self._apply(trace)
        else:
            self._dirty = True

    @Slot(int)
    def set_layer(self, index: int) -> None:
        """Show activation ``index`` (0: the input, ``i + 1``: the output of layer ``i``)."""
        if index == self.index or not 0 <= index < self.layer_combo.count():
            return
        self.index = index
        self.layer_combo.blockSignals(True)
        self.layer_combo.setCurrentIndex(index)
        self.layer_combo.blockSignals(False)
        if self._hovered is not None:
            self._hovered = None
            self.unit_hovered.emit(None)
        self._layout(force=True)
        self.layer_changed.emit(index)

    def _layout(self, force: bool = False) -> None:
        """Tile the shown layer so that its maps come out largest in the view (on a new layer,
        and on resizes that change the best number of columns)."""
        model = self.document.model
        index = self.index
        shape = tuple(model.input_shape if index == 0 else model.layers[index - 1].output_shape)
        output = index == len(model.layers)
        probe = Mosaic.for_shape(shape)
        aspect = self.viewbox.width() / max(self.viewbox.height(), 1.0)
        columns = (shape[0] if output else
                   best_columns(probe.count, probe.height, probe.width, probe.gap, aspect))
        if not force and columns == self.mosaic.columns:
            return
        self.mosaic = Mosaic.for_shape(shape, columns)
        self.gap_item.setPath(gap_path(self.mosaic))
        self._make_labels(output)
        self.window_overlay.hide()
        self._apply(self.document.trace)
        h, w = self.mosaic.shape
        self.viewbox.setRange(QRectF(0, 0, w, h + (1 if self._labels else 0)), padding=0.02)

    @Slot(object)
    def _on_view_resized(self, _viewbox) -> None:
        if self.isVisible():  # a hidden (or closing) panel lays out when shown
            self._layout()

    def _make_labels(self, output: bool) -> None:
        for label in self._labels:
            self.viewbox.removeItem(label)
        self._labels = []
        if not output:
            return
        _, foreground = plot_colors(self.palette())
        # One number per class up to 20 classes; every 10th (100th...) beyond (ImageNet's 1,000
        # would make a thousand text items, 0.9 s to show the layer, too narrow to read anyway).
        step = 1
        while -(-self.mosaic.count // step) > MAX_OUTPUT_LABELS:
            step *= 10
        for k in range(0, self.mosaic.count, step):
            top, left = self.mosaic.origin(k)
            label = pg.TextItem(str(k), color=foreground, anchor=(0.5, 0))
            label.setPos(left + 0.5, top + 1.0)
            self.viewbox.addItem(label)
            self._labels.append(label)

    @Slot(int)
    def _on_scale_chosen(self, _row: int) -> None:
        self._apply(self.document.trace)
        self.normalisation_changed.emit(self.normalisation)

    def set_normalisation(self, mode: str) -> None:
        """Normalise the colours per ``"layer"``, per ``"map"`` or over the ``"network"``."""
        self.scale_combo.setCurrentIndex(NORMALISATIONS.index(mode))

    def _apply(self, trace: Trace) -> None:
        self._dirty = False
        mode = self.normalisation
        signs = nonnegative_activations(self.document.model)
        values, self.scale, table = activation_scale(
            trace, self.index, signs[self.index], mode,
            network_peak(trace) if mode == "network" else 1.0)
        self.display = self.mosaic.tile(values, fill=self.scale.levels[0])
        if table != self._table:
            self._table = table
            self.image_item.setLookupTable(lookup_table(table))
            self.colour_bar.setColorMap(colour_map(table))
        self.image_item.setImage(self.display, autoLevels=False, levels=self.scale.levels)
        if self.colour_bar.levels() != self.scale.levels:  # relabelling the bar is costly
            self.colour_bar.setLevels(self.scale.levels)
        self._update_caption(trace)
        self.applied_version, self.applied_at = trace.version, time.perf_counter()

    def _update_caption(self, trace: Trace) -> None:
        model = self.document.model
        shape = trace.activations[self.index].shape
        if self.index == 0:
            what = f"the network input, {shape[0]} channel{'s' if shape[0] > 1 else ''}"
        else:
            layer = model.layers[self.index - 1]
            units = (f"{shape[0]} maps of {shape[1]}\u00d7{shape[2]}" if len(shape) == 3
                     else f"{shape[0]} units")
            what = f"layer {self.index - 1} {layer.kind}: {units}"
        if self.index == len(model.layers):
            colours = "class probabilities (softmax of the outputs), 0 \u2026 1"
        else:
            colours = self.scale.description
        self.caption.setText(f"{what} \u00b7 {colours}. Hover a unit for its receptive field; "
                             "click it for its calculation.")

    # ----------------------------------------------------------------- overlays
    def show_windows(self, windows) -> None:
        """Outline the shown layer's part of a hovered unit's windows (none: hide)."""
        if not windows or windows[-1].index < self.index:
            self.window_overlay.hide()
        else:
            self.window_overlay.show(self.mosaic, windows[self.index])

    # ----------------------------------------------------------------- events
    def unit_at(self, scene_position) -> tuple[int, ...] | None:
        """The unit under a scene position, or None."""
        if not self.viewbox.sceneBoundingRect().contains(scene_position):
            return None
        point = self.image_item.mapFromScene(scene_position)
        return self.mosaic.locate(point.y(), point.x())

    def _on_mouse_moved(self, position) -> None:
        unit = self.unit_at(position)
        hover = None if unit is None else (self.index, unit)
        if hover != self._hovered:
            self._hovered = hover
            self.unit_hovered.emit(hover)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        unit = self.unit_at(event.scenePos())
        if unit is not None:
            self.unit_clicked.emit(self.index, unit)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if self._hovered is not None:
            self._hovered = None
            self.unit_hovered.emit(None)
        super().leaveEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._dirty:
            self._apply(self.document.trace)
        self._layout()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        background, foreground = plot_colors(self.palette())
        self.graphics.setBackground(background)
        self.gap_item.setBrush(QBrush(background))
        for name in ("left", "right", "top", "bottom"):
            axis = self.colour_bar.getAxis(name)
            axis.setPen(foreground)
            axis.setTextPen(foreground)
        for label in self._labels:
            label.setColor(foreground)
        self.window_overlay.set_colour(QColor(accent(self.palette())))

    # ----------------------------------------------------------------- export
    def save_png(self, path: str | Path) -> Path:
        """Save the maps on display, coloured as shown (gaps transparent), as a PNG."""
        rgba = to_rgba(self.display, self.scale.levels, lookup_table(self._table)).copy()
        for top, left, height, width in self.mosaic.gaps():
            rgba[top:top + height, left:left + width] = 0
        factor = max(1, EXPORT_SIDE // max(rgba.shape[:2]))
        rgba = np.ascontiguousarray(rgba.repeat(factor, axis=0).repeat(factor, axis=1))
        h, w = rgba.shape[:2]
        image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
        return export.save_png(image, path)

    def save_npy(self, path: str | Path) -> Path:
        """Save the shown layer's activations (float32, (C, H, W) or (F,)) as ``.npy``."""
        with atomic_write(path) as handle:
            np.save(handle, np.asarray(self.document.trace.activations[self.index]))
        return Path(path)

    def ask_save_path(self, caption: str, suggested: str, file_filter: str) -> str:
        """Ask where to save (tests replace this method); "" when cancelled."""
        path, _ = QFileDialog.getSaveFileName(self, caption, suggested, file_filter)
        return path

    def _export(self, kind: str) -> None:
        stem = Path(self.document.network.name).stem
        layer = "input" if self.index == 0 else f"layer{self.index - 1}"
        if kind == "png":
            path = self.ask_save_path("Save the maps as PNG", f"{stem}-{layer}.png",
                                      "PNG images (*.png)")
            save = self.save_png
        else:
            path = self.ask_save_path("Save the activations", f"{stem}-{layer}.npy",
                                      "numpy arrays (*.npy)")
            save = self.save_npy
        if not path:
            return
        try:
            save(path)
        except OSError as exc:
            QMessageBox.warning(self, "Save failed", f"Could not save {path}: {exc}")
