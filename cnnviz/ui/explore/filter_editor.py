"""The Filter Editor panel: put your hands on one filter's weights and watch the network respond.

Choose a convolution filter (or a dense unit) here, in the Filters panel or by clicking a feature
map; its kernel for every input channel appears in a :class:`~cnnviz.ui.shared.kernel_grid.KernelGrid`,
its bias below. A dense unit's weights are shown as maps of the shape its inputs had before they
were flattened (lenet5's first dense layer: 16 maps of 5x5), or, after another dense layer, as a
near-square block. Every edit - a typed value, a drag (scrub), a painted stroke, a preset, an
operation, a paste, a reset - becomes ``Document.set_param`` (one undo step; a drag or stroke
merges into one), so the document recomputes the trace once and every view follows.

A filter of several input channels can be edited channel by channel: the channel chooser shows
one channel's kernel alone, large (R, G or B for the first layer of a colour network, whose filter
is also previewed as a small colour picture, on the Filters panel's scale), and presets and
operations then change that channel only.

While a training run is in progress the trainer owns the weights (its snapshots replace the
document's a few times a second), so the editor is disabled with an explanation and re-enabled
when the run ends.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDockWidget, QDoubleSpinBox,
                               QGridLayout, QHBoxLayout, QLabel, QMenu, QPushButton, QRadioButton, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from cnnviz import kernels
from cnnviz.display import (PER_CHANNEL_KINDS, RGB_NAMES, filter_colours, input_channel_names,
                            nice_ceil, peak)
from cnnviz.session import SessionError, Trace
from cnnviz.ui.shared.kernel_grid import KernelGrid
from cnnviz.ui.shared.panel_scroll_area import PanelScrollArea
from cnnviz.ui.window.document import Document

TRAINING_NOTE = ("Training is running: the trainer replaces the weights several times a second, "
                 "so editing is off until the run stops.")
EDITING_HELP = "Drag a cell up or down, paint, or double-click to type; Ctrl+Z undoes."
#: Lines of text the caption under the grid holds.
CAPTION_LINES = 4
#: Side of the colour preview of a colour filter, in pixels.
PREVIEW_SIDE = 48


def editable_layers(model) -> list[int]:
    """Indices of the layers whose weights the editor shows (Conv2D and Dense)."""
    return [i for i, layer in enumerate(model.layers) if layer.kind in ("Conv2D", "Dense")]


def unit_map_shape(model, index: int) -> tuple[int, int, int]:
    """The (C, H, W) a unit's weights of layer ``index`` are shown as.

    Conv2D: (C, kh, kw). Dense: the shape its input had before a Flatten (the maps it reads), else
    a near-square (1, rows, columns) block of the input vector.
    """
    layer = model.layers[index]
    weight = layer.params["weight"]
    if weight.ndim == 4:
        return tuple(weight.shape[1:])
    n = weight.shape[1]
    for before in reversed(model.layers[:index]):
        shape = tuple(before.input_shape)
        if len(shape) == 3 and int(np.prod(shape)) == n:
            return shape
        if before.params:
            break
    columns = next(d for d in range(int(np.ceil(np.sqrt(n))), n + 1) if n % d == 0)
    return 1, n // columns, columns


def filter_for_activation(model, index: int, unit) -> tuple[int, int] | None:
    """(layer, filter) that made unit ``unit`` of activation ``index`` (a map of a convolution,
    or of the batch normalisation, ReLUs and pools after it; a dense unit), or None (the input, a
    Flatten)."""
    for layer in range(index - 1, -1, -1):
        kind = model.layers[layer].kind
        if kind in ("Conv2D", "Dense"):
            return layer, int(unit[0])
        if kind == "Flatten" or (model.layers[layer].params and kind not in PER_CHANNEL_KINDS):
            return None
    return None


class FilterEditor(QWidget):
    """Edit one filter (or dense unit): kernels per input channel, bias, presets, operations.

    Parameters
    ----------
    document : Document
    parent : QWidget, optional

    Attributes
    ----------
    layer, unit : int or None
        The layer (index into ``model.layers``) and filter / unit being edited.
    grid : KernelGrid
    clipboard : np.ndarray or None
        The copied filter's weights, (C, kh, kw).
    training_active : bool
        A training run owns the weights: editing is off.
    channel : int or None
        The one input channel shown and edited (None: every channel).
    preview : np.ndarray or None
        The colour picture of a colour filter (kh, kw, 3) in [0, 1], as previewed.
    applied_version, applied_at
        ``Trace.version`` of the trace shown and ``time.perf_counter()`` when it was applied.

    Signals
    -------
    filter_chosen(int, int)
        The (layer, filter) now being edited.
    """

    filter_chosen = Signal(int, int)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("filter_editor")
        self.document = document
        self.layer: int | None = None
        self.unit: int | None = None
        self.channel: int | None = None
        self.preview: np.ndarray | None = None
        self.clipboard: np.ndarray | None = None
        self.training_active = False
        self.weights_token = 0
        self.applied_version, self.applied_at = 0, 0.0
        self._rng = np.random.default_rng()

        self.layer_combo = QComboBox(objectName="editor_layer_combo")
        self.layer_combo.currentIndexChanged.connect(self._on_layer_chosen)
        self.unit_spin = QSpinBox(objectName="editor_unit_spin")
        self.unit_spin.valueChanged.connect(self._on_unit_chosen)
        self.unit_label = QLabel("Filter")
        chooser = QHBoxLayout()
        for widget, stretch in ((QLabel("Layer"), 0), (self.layer_combo, 1),
                                (self.unit_label, 0), (self.unit_spin, 0)):
            chooser.addWidget(widget, stretch)
        self.channel_combo = QComboBox(objectName="editor_channel")
        self.channel_combo.setToolTip("Edit every input channel's kernel, or one channel's alone")
        self.channel_combo.currentIndexChanged.connect(self._on_channel_chosen)
        self.channel_label = QLabel("Channel")
        self.preview_label = QLabel(objectName="editor_colour_preview")
        self.preview_label.setFixedSize(PREVIEW_SIDE, PREVIEW_SIDE)
        self.preview_label.setToolTip("The filter in colour: its R, G and B kernels as red, green "
                                      "and blue (grey: 0), on the Filters panel's scale")
        channel_row = QHBoxLayout()  # the preview first: a narrow dock scrolls off the right
        channel_row.addWidget(self.preview_label)
        channel_row.addWidget(self.channel_label)
        channel_row.addWidget(self.channel_combo, 1)

        self.grid = KernelGrid()
        self.grid.values_edited.connect(self._on_grid_edited)

        self.content = QWidget(objectName="editor_content")
        content = QVBoxLayout(self.content)
        content.setContentsMargins(0, 0, 0, 0)
        content.addLayout(channel_row)
        content.addLayout(self._build_mode_row())
        content.addLayout(self._build_tool_rows())
        content.addWidget(self.grid, 1)
        content.addLayout(self._build_bias_row())

        # What the filter is and how to edit it, or, during a run, why editing is off. Its
        # height is reserved: a caption growing by a line when training starts would re-lay the
        # whole window out (this dock is a tab beside the Network Input).
        self.caption = QLabel(objectName="editor_caption", wordWrap=True)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.caption.setMinimumHeight(CAPTION_LINES * self.caption.fontMetrics().lineSpacing())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(chooser)
        layout.addWidget(self.content, 1)
        layout.addWidget(self.caption)

        self._on_model_changed(document.network)
        document.model_changed.connect(self._on_model_changed)
        document.trace_changed.connect(self._on_trace_changed)

    # ----------------------------------------------------------------- building
    def _build_mode_row(self) -> QHBoxLayout:
        self.scrub_radio = QRadioButton("Drag to scrub", objectName="editor_scrub", checked=True)
        self.scrub_radio.setToolTip("Drag a cell up or down to change its value")
        self.paint_radio = QRadioButton("Paint", objectName="editor_paint")
        self.paint_radio.setToolTip("Press and move across cells to set them to the value")
        self.mode_group = QButtonGroup(self)
        for radio in (self.scrub_radio, self.paint_radio):
            self.mode_group.addButton(radio)
        self.mode_group.buttonToggled.connect(self._on_mode_toggled)
        self.paint_spin = QDoubleSpinBox(objectName="editor_paint_value", decimals=3,
                                         minimum=-100, maximum=100, singleStep=0.1)
        self.paint_spin.valueChanged.connect(self._on_paint_value)
        row = QHBoxLayout()
        for widget in (self.scrub_radio, self.paint_radio, self.paint_spin):
            row.addWidget(widget)
        row.addStretch(1)
        return row

    def _build_tool_rows(self) -> QGridLayout:
        self.preset_button = QToolButton(text="Preset", objectName="editor_preset",
                                         popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.preset_button)
        for name, label in {**kernels.PRESETS, "random": "Random (as initialised)"}.items():
            menu.addAction(label, lambda name=name: self.apply_preset(name))
        self.preset_button.setMenu(menu)
        self.all_channels = QCheckBox("Every input channel", objectName="editor_all_channels")
        self.all_channels.setToolTip("Presets and operations change every input channel's kernel, "
                                     "not only the selected one")
        self.scale_spin = QDoubleSpinBox(objectName="editor_scale", decimals=2, minimum=-10,
                                         maximum=10, value=2.0, singleStep=0.5, prefix="\u00d7")
        buttons = [(label, lambda name=name: self.apply_operation(name))
                   for name, (label, _) in kernels.OPERATIONS.items()]
        buttons += [("Scale", lambda: self.apply_operation("scale")), ("Copy", self.copy_filter),
                    ("Paste", self.paste_filter)]
        self.buttons = {}
        grid = QGridLayout()
        grid.addWidget(self.preset_button, 0, 0)
        grid.addWidget(self.all_channels, 0, 1, 1, 2)
        for k, (label, slot) in enumerate(buttons):
            button = QPushButton(label, objectName=f"editor_{label.split()[0].lower()}")
            button.clicked.connect(slot)
            self.buttons[label.split()[0].lower()] = button
            grid.addWidget(button, 1 + k // 4, k % 4)
        grid.addWidget(self.scale_spin, 2, 3)
        self.reset_button = QToolButton(text="Reset", objectName="editor_reset",
                                        popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.reset_button)
        menu.addAction("This filter, as loaded", self.reset_filter)
        menu.addAction("This layer, as loaded", self.reset_layer)
        menu.addAction("The whole network, as loaded", self.reset_network)
        self.reset_button.setMenu(menu)
        grid.addWidget(self.reset_button, 0, 3)
        return grid

    def _build_bias_row(self) -> QHBoxLayout:
        self.bias_spin = QDoubleSpinBox(objectName="editor_bias", decimals=4, minimum=-1e3,
                                        maximum=1e3, singleStep=0.05, keyboardTracking=False)
        self.bias_spin.valueChanged.connect(self.set_bias)
        row = QHBoxLayout()
        row.addWidget(QLabel("Bias"))
        row.addWidget(self.bias_spin)
        row.addStretch(1)
        return row

    # ----------------------------------------------------------------- selection
    @Slot(object)
    def _on_model_changed(self, network) -> None:
        model = network.model
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for index in editable_layers(model):
            layer = model.layers[index]
            shape = "\u00d7".join(map(str, layer.params["weight"].shape))
            self.layer_combo.addItem(f"{index} {layer.kind} {shape}", index)
        self.layer_combo.blockSignals(False)
        self.layer = self.unit = None
        self.select(self.layer_combo.itemData(0) if self.layer_combo.count() else None, 0)

    def select(self, layer: int | None, unit: int = 0) -> None:
        """Edit filter (or dense unit) ``unit`` of layer ``layer`` (None: nothing to edit)."""
        if layer is not None and layer not in editable_layers(self.document.model):
            return
        if layer != self.layer:
            self._fill_channels(layer)
        self.layer, self.unit = layer, unit
        self.layer_combo.blockSignals(True)
        self.layer_combo.setCurrentIndex(self.layer_combo.findData(layer))
        self.layer_combo.blockSignals(False)
        if layer is not None:
            kind = self.document.model.layers[layer].kind
            self.unit_label.setText("Filter" if kind == "Conv2D" else "Unit")
            self.unit_spin.blockSignals(True)
            self.unit_spin.setRange(0, self.document.model.layers[layer].params["weight"].shape[0] - 1)
            self.unit_spin.setValue(unit)
            self.unit_spin.blockSignals(False)
        self._update_enabled()
        self._apply(self.document.trace)
        if layer is not None:
            self.filter_chosen.emit(layer, unit)

    def channel_names(self, layer: int | None = None) -> list[str]:
        """Names of the input channels of ``layer`` (default: the edited one) as the grid titles
        them: R, G, B on a colour input."""
        layer = self.layer if layer is None else layer
        if layer is None:
            return []
        if self.document.model.layers[layer].kind == "Conv2D":
            return input_channel_names(self.document.model, layer)
        return [f"in {k}" for k in range(unit_map_shape(self.document.model, layer)[0])]

    def _fill_channels(self, layer: int | None) -> None:
        """List ``layer``'s input channels in the chooser (hidden for a single one), every
        channel chosen."""
        names = self.channel_names(layer) if layer is not None else []
        self.channel = None
        self.channel_combo.blockSignals(True)
        self.channel_combo.clear()
        self.channel_combo.addItem("Every channel", None)
        for k, name in enumerate(names):
            self.channel_combo.addItem(name if name == f"in {k}" else f"{name} (in {k})", k)
        self.channel_combo.setCurrentIndex(0)
        self.channel_combo.blockSignals(False)
        self.all_channels.setEnabled(True)
        for widget in (self.channel_label, self.channel_combo):
            widget.setVisible(len(names) > 1)

    def choose_channel(self, channel: int | None) -> None:
        """Show and edit input channel ``channel`` alone (None: every channel)."""
        row = self.channel_combo.findData(channel) if channel is not None else 0
        if row >= 0:
            self.channel_combo.setCurrentIndex(row)

    @Slot(int)
    def _on_channel_chosen(self, row: int) -> None:
        self.channel = self.channel_combo.itemData(row) if row >= 0 else None
        # One channel shown: presets and operations change that one (the box does not apply).
        self.all_channels.setEnabled(self.channel is None)
        self._apply(self.document.trace)

    @Slot(int)
    def _on_layer_chosen(self, row: int) -> None:
        self.select(self.layer_combo.itemData(row), 0)

    @Slot(int)
    def _on_unit_chosen(self, unit: int) -> None:
        self.select(self.layer, unit)

    @Slot(int, object)
    def select_from_activation(self, index: int, unit) -> None:
        """Edit the filter that made a clicked unit of activation ``index`` (see
        :func:`filter_for_activation`)."""
        found = filter_for_activation(self.document.model, index, unit)
        if found is not None:
            self.select(*found)

    # ----------------------------------------------------------------- showing
    @Slot(object)
    def _on_trace_changed(self, trace: Trace) -> None:
        if trace.weights_token != self.weights_token:
            self._apply(trace)

    def _apply(self, trace: Trace) -> None:
        self.weights_token = trace.weights_token
        if self.layer is None:
            self.grid.set_values(np.zeros((1, 1, 1), np.float32), 1.0, [""])
            self.caption.setText("This network has no convolution or dense layer to edit.")
        else:
            params = self.document.model.layers[self.layer].params
            kernels_now = self.unit_weights()
            top = nice_ceil(peak(params["weight"]))
            c = kernels_now.shape[0]
            names = self.channel_names()
            if self.channel is None:
                self.grid.set_values(kernels_now, top, names)
            else:
                k = self.channel
                self.grid.set_values(kernels_now[k:k + 1], top, [f"{names[k]}: input channel {k}"])
            self._show_preview(params["weight"], names)
            bias = params.get("bias")
            self.bias_spin.blockSignals(True)
            self.bias_spin.setValue(0.0 if bias is None else float(bias[self.unit]))
            self.bias_spin.blockSignals(False)
            self.bias_spin.setEnabled(bias is not None and not self.training_active)
            kind = self.document.model.layers[self.layer].kind
            what = ("filter" if kind == "Conv2D" else "unit") + f" {self.unit}"
            named = f" ({', '.join(names)})" if names == list(RGB_NAMES) else ""
            self.caption.setText(
                f"Layer {self.layer} {kind}, {what}: {c} input channel{'s' if c > 1 else ''}"
                f"{named} of "
                f"{kernels_now.shape[1]}\u00d7{kernels_now.shape[2]}; colours \u00b1{top:.2g}. "
                + (TRAINING_NOTE if self.training_active else EDITING_HELP))
        if self.layer is None:
            self._show_preview(None, [])
        self.applied_version, self.applied_at = trace.version, time.perf_counter()

    def _show_preview(self, weight: np.ndarray | None, names: list[str]) -> None:
        """The edited filter in colour (a colour network's first layer), else nothing."""
        if weight is None or names != list(RGB_NAMES) or weight.ndim != 4:
            self.preview = None
            self.preview_label.clear()
            self.preview_label.hide()
            return
        # The Filters panel's scale: the layer's largest weight maps to black or full colour.
        self.preview = filter_colours(weight[self.unit:self.unit + 1], peak(weight))[0]
        pixels = np.ascontiguousarray(np.round(self.preview * 255).astype(np.uint8))
        h, w, _ = pixels.shape
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.preview_label.setPixmap(QPixmap.fromImage(image).scaled(
            PREVIEW_SIDE, PREVIEW_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.FastTransformation))
        self.preview_label.show()

    def unit_weights(self) -> np.ndarray:
        """The edited filter's (or unit's) weights as float32 (C, kh, kw) (a copy)."""
        weight = self.document.model.layers[self.layer].params["weight"]
        shape = unit_map_shape(self.document.model, self.layer)
        return np.array(weight[self.unit], dtype=np.float32).reshape(shape)

    # ----------------------------------------------------------------- editing
    def set_unit_weights(self, values: np.ndarray, text: str, merge_key=None) -> bool:
        """Make ``values`` (C, kh, kw) the edited filter's weights (one undo step, merged with
        the previous one of the same ``merge_key``). False when refused (training, NaN)."""
        if self.layer is None or self.training_active:
            return False
        name = f"{self.layer}.weight"
        weight = np.array(self.document.model.layers[self.layer].params["weight"], copy=True)
        weight[self.unit] = np.asarray(values, dtype=np.float32).reshape(weight.shape[1:])
        return self._push({name: weight}, text, merge_key)

    def _push(self, weights: dict, text: str, merge_key=None) -> bool:
        try:
            self.document.set_weights(weights, text, merge_key)
        except SessionError as exc:
            self.caption.setText(f"Not applied: {exc}")
            return False
        return True

    @Slot(object, object)
    def _on_grid_edited(self, values: np.ndarray, gesture) -> None:
        c, i, j = self.grid.selected
        if self.channel is not None:  # the grid shows this channel alone
            c, kernel = self.channel, values[0]
            values = self.unit_weights()
            values[c] = kernel
        what = f"Edit Weight {self.layer}.{self.unit}[{c}, {i}, {j}]" if gesture is None else (
            f"{'Paint' if self.grid.mode == 'paint' else 'Drag'} Weights of {self._what()}")
        if not self.set_unit_weights(values, what, gesture):
            self._apply(self.document.trace)

    @Slot(float)
    def set_bias(self, value: float) -> None:
        """Set the edited filter's bias (one undo step)."""
        params = self.document.model.layers[self.layer].params if self.layer is not None else {}
        if "bias" not in params or self.training_active:
            return
        bias = np.array(params["bias"], copy=True)
        bias[self.unit] = value
        self._push({f"{self.layer}.bias": bias}, f"Edit Bias of {self._what()}")

    def _targets(self) -> list[int]:
        if self.channel is not None:
            return [self.channel]
        count = self.grid.values.shape[0]
        return list(range(count)) if self.all_channels.isChecked() else [self.grid.selected[0]]

    def apply_preset(self, name: str) -> None:
        """Put preset ``name`` (a key of ``kernels.PRESETS``, or ``"random"``) into the selected
        input channel's kernel (every channel's with "Every input channel")."""
        if self.layer is None:
            return
        values = self.unit_weights()
        if name == "random":
            layer = self.document.model.layers[self.layer]
            fresh = kernels.random_filter(layer.weight_init, layer.params["weight"].shape,
                                          self._rng).reshape(values.shape)
            values[self._targets()] = fresh[self._targets()]
            label = "Random"
        else:
            try:
                kernel = kernels.preset(name, values.shape[1:])
            except ValueError as exc:
                self.caption.setText(str(exc))
                return
            values[self._targets()] = kernel
            label = kernels.PRESETS[name]
        self.set_unit_weights(values, f"{label} into {self._what()}")

    def apply_operation(self, name: str) -> None:
        """Apply operation ``name`` (a key of ``kernels.OPERATIONS``, or ``"scale"`` by the scale
        box's factor) to the selected kernel (or every channel's)."""
        if self.layer is None:
            return
        values = self.unit_weights()
        if name == "scale":
            factor = self.scale_spin.value()
            operation, label = (lambda k: kernels.scale(k, factor)), f"Scale \u00d7{factor:g}"
        else:
            label, operation = kernels.OPERATIONS[name]
        try:
            for k in self._targets():
                values[k] = operation(values[k])
        except ValueError as exc:
            self.caption.setText(str(exc))
            return
        self.set_unit_weights(values, f"{label} {self._what()}")

    def copy_filter(self) -> None:
        """Remember the edited filter's weights, for :meth:`paste_filter`."""
        if self.layer is not None:
            self.clipboard = self.unit_weights()
            self._update_enabled()

    def paste_filter(self) -> None:
        """Replace the edited filter's weights with the copied ones (same shape only)."""
        if self.clipboard is None or self.layer is None:
            return
        if self.clipboard.shape != self.unit_weights().shape:
            self.caption.setText(f"The copied filter is {self.clipboard.shape}; this one is "
                                 f"{self.unit_weights().shape}.")
            return
        self.set_unit_weights(self.clipboard, f"Paste into {self._what()}")

    def reset_filter(self) -> None:
        """Bring back this filter's weights and bias as the network was loaded (one step)."""
        if self.layer is None or self.training_active:
            return
        loaded, params = self.document.network.loaded_weights, self._layer_params()
        changed = {}
        for name, value in params.items():
            restored = np.array(value, copy=True)
            restored[self.unit] = loaded[name][self.unit]
            changed[name] = restored
        self._push_reset(changed, f"Reset {self._what()}")

    def reset_layer(self) -> None:
        """Bring back this layer's weights and biases as loaded (one step)."""
        if self.layer is not None and not self.training_active:
            loaded = self.document.network.loaded_weights
            self._push_reset({name: loaded[name] for name in self._layer_params()},
                             f"Reset Layer {self.layer}")

    def _push_reset(self, weights: dict, text: str) -> None:
        """Push a partial reset; when it brings back every weight as loaded, make it the
        document's reset instead, so that the network is no longer marked modified."""
        loaded, now = self.document.network.loaded_weights, self.document.model.named_weights()
        if all(np.array_equal(weights.get(name, now[name]), value)
               for name, value in loaded.items()):
            self.document.reset_weights()
        else:
            self._push(weights, text)

    def reset_network(self) -> None:
        """Bring back every weight as loaded (one step)."""
        if not self.training_active:
            self.document.reset_weights()

    def _layer_params(self) -> dict[str, np.ndarray]:
        params = self.document.model.layers[self.layer].params
        return {f"{self.layer}.{key}": value for key, value in params.items()}

    def _what(self) -> str:
        kind = self.document.model.layers[self.layer].kind
        return f"{'Filter' if kind == 'Conv2D' else 'Unit'} {self.layer}.{self.unit}"

    # ----------------------------------------------------------------- modes, training
    @Slot()
    def _on_mode_toggled(self, *_args) -> None:
        self.grid.mode = "paint" if self.paint_radio.isChecked() else "scrub"

    @Slot(float)
    def _on_paint_value(self, value: float) -> None:
        self.grid.paint_value = value

    def set_training_active(self, active: bool) -> None:
        """Turn editing off (with the explanation shown) while a run owns the weights."""
        self.training_active = active
        self._update_enabled()
        self._apply(self.document.trace)

    @Slot()
    def on_training_started(self) -> None:
        self.set_training_active(True)

    @Slot(object)
    def on_training_ended(self, _final) -> None:
        self.set_training_active(False)

    def _update_enabled(self) -> None:
        editable = self.layer is not None and not self.training_active
        self.content.setEnabled(editable)
        self.buttons["paste"].setEnabled(editable and self.clipboard is not None)

    @Slot(int, int, int, int, int)
    def select_weight(self, layer: int, unit: int, channel: int, i: int, j: int) -> None:
        """Edit weight ``[unit, channel, i, j]`` of convolution ``layer``: select its cell (with
        one channel shown, show that weight's channel)."""
        if (layer, unit) != (self.layer, self.unit):
            self.select(layer, unit)
        if self.layer != layer or not 0 <= channel < self.unit_weights().shape[0]:
            return
        if self.channel is not None and self.channel != channel:
            self.choose_channel(channel)
        self.grid.select((0 if self.channel is not None else channel, i, j))

    @Slot(int, int)
    def show_filter(self, layer: int, unit: int) -> None:
        """Edit ``unit`` of ``layer`` and bring the editor's dock into view (it sits inside a
        scroll area, so the dock is an ancestor further up, not the parent)."""
        self.select(layer, unit)
        widget = self.parentWidget()
        while widget is not None and not isinstance(widget, QDockWidget):
            widget = widget.parentWidget()
        if widget is not None:
            widget.show()
            widget.raise_()


def add_filter_editor_dock(window) -> FilterEditor:
    """Create the Filter Editor in a dock of the main window ``window`` (each workspace places
    it; Explore beside the Filters) and connect it: a click on a weight in the Filters panel
    edits that filter (its cell selected), the panel outlines the filter being edited, a click
    on a feature map edits the filter that made it, and a training run turns editing off.

    Call once the Filters, Feature Maps, Layers and Training panels exist.
    """
    editor = FilterEditor(window.document)
    # Scrolling below its minimum size: the editor's controls would otherwise make the window
    # taller than a laptop's screen.
    window.add_dock("filter_editor", "Filter Editor", PanelScrollArea(editor),
                    Qt.DockWidgetArea.RightDockWidgetArea,
                    "change a filter's weights and watch every later layer respond")
    window.filters_view.filter_selected.connect(editor.show_filter)
    window.filters_view.filter_selected.connect(window.show_filter_editor)  # room for it
    window.filters_view.weight_clicked.connect(editor.select_weight)
    # The Filters panel outlines the filter being edited, while the editor is in view.
    dock = window.docks["filter_editor"]

    def mark(*_) -> None:
        if dock.isVisible() and editor.layer is not None:
            window.filters_view.mark_filter(editor.layer, editor.unit)
        else:
            window.filters_view.mark_filter(-1, -1)  # no layer: no outline

    editor.filter_chosen.connect(mark)
    dock.visibilityChanged.connect(mark)
    mark()
    window.feature_maps.unit_clicked.connect(editor.select_from_activation)
    panel = window.training_panel
    panel.run_started.connect(editor.on_training_started)
    panel.run_ended.connect(editor.on_training_ended)
    editor.set_training_active(panel.running)
    return editor
