"""Where the unit under the cursor looks: overlays on the input and on every earlier layer.

Hovering a unit of the feature maps or of the layers overview sends ``(index, unit)`` here; the
:class:`ReceptiveFieldController` computes the unit's windows once
(:func:`cnnviz.display.unit_windows`: stride, padding, dilation and pooling accounted for) and
moves a few graphics items:

- on the network input (the Network Input panel): the pixels the unit reads in a solid box, the
  others fogged; the box of its taps dashed where it sticks out into the padding, the padding part
  hatched; with "Effective receptive field" on, the magnitude of the gradient of the unit with
  respect to the input (summed over its channels) as a heat map (the one computation made on
  hover; in a worker thread for a big network, whose pass takes a second, the latest hover
  winning); on a colour input, the same boxes on each of its R, G and B planes;
- in the overview: the window in every earlier layer, and the unit itself;
- in the large view: the window when it shows an earlier layer, else the unit.

It also writes the status bar text (unit, value, receptive-field size and effective stride) and
opens the step-by-step calculation of a clicked unit.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QColor

from cnnviz.display import LayerWindow, Mosaic, explain_unit, unit_windows
from cnnviz.ui.explore.unit_math import UnitMathDialog
from cnnviz.ui.shared.colormaps import lookup_table
from cnnviz.ui.shared.theme import accent, plot_colors
from cnnviz.ui.shared.window_overlay import WindowOverlay
from cnnviz.ui.shared.workers import TaskRunner
from cnnviz.ui.window.document import Document

FOG_ALPHA = 150


class FieldOverlay(WindowOverlay):
    """A unit's receptive field over an input image: outlines, the pixels it does not read
    fogged, and the heat map of the effective receptive field.

    The outlines are children of the image's ``ImageItem``; the fog and the heat map are images of
    their own in the same view box, placed like it (an ``ImageItem`` child of an ``ImageItem`` is
    not drawn).
    """

    def __init__(self, viewbox, image_item: pg.ImageItem, z: float = 10.0):
        super().__init__(image_item, z + 2)
        self.image_item = image_item
        self.fog_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item.setLookupTable(lookup_table("heat"))
        for offset, item in enumerate((self.fog_item, self.heat_item)):
            viewbox.addItem(item, ignoreBounds=True)
            item.setZValue(z + offset)
            item.hide()
        self._fog = np.zeros((1, 1, 4), dtype=np.uint8)
        self._fog_colour = (255, 255, 255, FOG_ALPHA)

    @property
    def items(self):
        return super().items + (self.fog_item, self.heat_item)

    def set_colours(self, colour: QColor, background: QColor) -> None:
        """Outlines in ``colour``; the fog of the ``background`` colour."""
        self.set_colour(colour)
        self._fog_colour = (background.red(), background.green(), background.blue(), FOG_ALPHA)

    def show_field(self, mosaic: Mosaic, window: LayerWindow) -> None:
        """Outline ``window`` (of the input) and fog the pixels it does not read; the image is
        one tile (the input's channels share one field)."""
        window = replace(window, channels=window.channels[:1])
        self.show(mosaic, window)
        h, w = mosaic.shape
        if self._fog.shape[:2] != (h, w):
            self._fog = np.empty((h, w, 4), dtype=np.uint8)
        self._fog[...] = self._fog_colour
        self._fog[np.ix_(window.rows, window.cols)] = 0
        self.fog_item.setImage(self._fog, autoLevels=False, levels=(0, 255))
        self.fog_item.setTransform(self.image_item.transform())
        self.fog_item.show()

    def show_heat(self, heat: np.ndarray | None) -> None:
        """Show ``heat`` (float (H, W) in [0, 1]) over the image, or hide it (None)."""
        if heat is None:
            self.heat_item.hide()
            return
        self.heat_item.setImage(heat, autoLevels=False, levels=(0.0, 1.0))
        self.heat_item.setTransform(self.image_item.transform())
        self.heat_item.show()

    def hide(self) -> None:
        super().hide()
        self.fog_item.hide()
        self.heat_item.hide()


def effective_field(model, network_input: np.ndarray, index: int,
                    unit: tuple[int, ...]) -> np.ndarray:
    """|d unit / d input| summed over the input channels, scaled to [0, 1]: float32 (H, W)."""
    grad = model.input_gradient(network_input[None], index - 1, index=tuple(unit))[0]
    heat = np.abs(grad).sum(axis=0)
    top = float(heat.max())
    return np.ascontiguousarray(heat / top if top > 0 else heat, dtype=np.float32)


class ReceptiveFieldController(QObject):
    """Connects the hover and click of the network views to the overlays, the status bar and the
    step-by-step dialog.

    Parameters
    ----------
    document : Document
    input_view : InputView
        The Network Input panel (``viewbox``, ``image_item``): the field is drawn there.
    overview : LayersOverview
    feature_maps : FeatureMapsView
    filters : FiltersView, optional
        Follows the layer shown large.

    Signals
    -------
    cursor_info(str)
        The hovered unit, its value, receptive field and effective stride ("" when none).

    Attributes
    ----------
    hovered : (int, tuple) or None
        The unit under the cursor.
    windows : list of LayerWindow
        Its windows in every activation up to its own.
    heat : np.ndarray or None
        The effective receptive field on display.
    dialog : UnitMathDialog or None
        The step-by-step calculation, once a unit was clicked.
    updated_at : float
        ``time.perf_counter()`` when the overlays last followed the pointer (for latency
        measurements).
    """

    cursor_info = Signal(str)

    def __init__(self, document: Document, input_view, overview, feature_maps, filters=None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.input_view = input_view
        self.overview = overview
        self.feature_maps = feature_maps
        self.filters = filters
        self.hovered = None
        self.windows: list[LayerWindow] = []
        self.heat = None
        self.dialog: UnitMathDialog | None = None
        self.updated_at = 0.0
        self._colours: tuple[QColor, QColor] | None = None
        self.input_overlay = FieldOverlay(input_view.viewbox, input_view.image_item)
        # The effective field of a big network's unit, computed off the GUI thread.
        self.heat_runner = TaskRunner("cnnviz-effective-field", self)
        self.heat_runner.finished.connect(self._on_heat_computed)
        overview.unit_hovered.connect(self._on_unit_hovered)
        feature_maps.unit_hovered.connect(self._on_unit_hovered)
        feature_maps.unit_clicked.connect(self._on_unit_clicked)
        overview.layer_activated.connect(feature_maps.set_layer)
        feature_maps.layer_changed.connect(overview.set_selected)
        feature_maps.normalisation_changed.connect(overview.set_normalisation)
        feature_maps.effective_toggled.connect(self._on_effective_toggled)
        if filters is not None:
            feature_maps.layer_changed.connect(filters.follow_activation)
            filters.follow_activation(feature_maps.index)
        overview.set_selected(feature_maps.index)
        document.trace_changed.connect(self._on_trace_changed)
        document.model_changed.connect(self._on_model_changed)

    @property
    def effective(self) -> bool:
        return self.feature_maps.effective_check.isChecked()

    def _follow_palette(self) -> None:
        """Take the overlay colours from the input view's palette (accent and background), which
        changes with the colour scheme; checked on every hover, as it costs next to nothing."""
        palette = self.input_view.palette()
        colours = (QColor(accent(palette)), QColor(plot_colors(palette)[0]))
        if colours != self._colours:
            self._colours = colours
            self.input_overlay.set_colours(*colours)
            # The planes run from black to pure red, green and blue: white stands out on all.
            self.input_view.planes_overlay.set_colour(QColor(255, 255, 255))

    # ----------------------------------------------------------------- hover
    @Slot(object)
    def _on_unit_hovered(self, hover) -> None:
        if hover == self.hovered:
            return
        self.hovered = hover
        if hover is None:
            self.windows, self.heat = [], None
            self.input_overlay.hide()
            self.input_view.show_window_on_planes(None)
            self.overview.show_windows([])
            self.feature_maps.show_windows([])
            self.cursor_info.emit("")
            self.updated_at = time.perf_counter()
            return
        index, unit = hover
        self._follow_palette()
        model = self.document.model
        self.windows = unit_windows(model, index, unit)
        _, h, w = model.input_shape
        self.input_overlay.show_field(Mosaic(1, h, w, 1), self.windows[0])
        self.input_view.show_window_on_planes(self.windows[0])
        self._update_heat()
        self.overview.show_windows(self.windows)
        self.feature_maps.show_windows(self.windows)
        self.cursor_info.emit(self.describe(index, unit))
        self.updated_at = time.perf_counter()

    def _update_heat(self) -> None:
        index = self.hovered[0] if self.hovered else 0
        if not self.effective or index == 0:
            self.heat = None
            self.heat_runner.cancel()
        elif self.document.in_background:
            # Hidden until this unit's own map comes (an old unit's would mislead).
            self.heat = None
            model = self.document.model.sharing_weights()
            network_input, hover = self.document.trace.network_input, self.hovered
            self.heat_runner.start(
                lambda _progress: (hover, effective_field(model, network_input, *hover)))
        else:
            self.heat = effective_field(self.document.model, self.document.trace.network_input,
                                        *self.hovered)
        self.input_overlay.show_heat(self.heat)

    @Slot(object)
    def _on_heat_computed(self, result) -> None:
        hover, heat = result
        if hover == self.hovered and self.effective:
            self.heat = heat
            self.input_overlay.show_heat(heat)

    @Slot(bool)
    def _on_effective_toggled(self, _on: bool) -> None:
        if self.hovered is not None:
            self._update_heat()

    def describe(self, index: int, unit: tuple[int, ...]) -> str:
        """The status bar text of unit ``unit`` of activation ``index``."""
        model, trace = self.document.model, self.document.trace
        value = float(trace.activations[index][unit])
        name = "Input" if index == 0 else f"Layer {index - 1} {model.layers[index - 1].kind}"
        if len(unit) == 3:
            what = (f"channel {unit[0]}" if index == 0 or model.layers[index - 1].kind != "Conv2D"
                    else f"filter {unit[0]}")
            where = f"{what}, row {unit[1]}, col {unit[2]}"
        else:
            where = f"unit {unit[0]}"
        text = f"{name} \u00b7 {where} = {value:.4g}"
        if index == len(model.layers):
            text += f" (probability {float(trace.probabilities[unit[0]]):.4f})"
        field = self.windows[0]
        shape = model.input_shape
        top, left, bottom, right = field.span
        if index > 0 and model.receptive_field_of(index - 1).global_:
            return text + " \u00b7 receptive field: the whole input"
        jump = model.receptive_field_of(index - 1).jump if index > 0 else (1, 1)
        size = f"{bottom - top + 1}\u00d7{right - left + 1}"
        padded = (" (partly in the padding)" if top < 0 or left < 0 or bottom >= shape[1]
                  or right >= shape[2] else "")
        stride = f"{jump[0]}" if jump[0] == jump[1] else f"{jump[0]}\u00d7{jump[1]}"
        return (f"{text} \u00b7 receptive field {size}{padded}, rows {top}\u2026{bottom}, "
                f"cols {left}\u2026{right} \u00b7 effective stride {stride}")

    # ----------------------------------------------------------------- click
    @Slot(int, object)
    def _on_unit_clicked(self, index: int, unit) -> None:
        trace = self.document.trace
        if explain_unit(self.document.model, trace.activations, index, unit) is None:
            self.cursor_info.emit("Step by step: click a unit of a convolution or pooling layer "
                                  "(or of the activation after one)")
            return
        if self.dialog is None:
            self.dialog = UnitMathDialog(self.document, self.feature_maps.window())
        self.dialog.show_unit(index, unit)
        self.dialog.show()
        self.dialog.activateWindow()

    # ----------------------------------------------------------------- document
    @Slot(object)
    def _on_trace_changed(self, _trace) -> None:
        if self.hovered is not None:
            if self.heat is not None or self.heat_runner.running:
                self._update_heat()
            self.cursor_info.emit(self.describe(*self.hovered))

    @Slot(object)
    def _on_model_changed(self, _network) -> None:
        self._on_unit_hovered(None)
        if self.filters is not None:
            # The feature maps may have followed the new network before the filters listed its
            # convolutions: show the one behind the activation shown large.
            self.filters.follow_activation(self.feature_maps.index)
