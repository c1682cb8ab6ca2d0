"""The Analysis panel: what in the current input the network's score for a class depends on.

Five methods of :mod:`cnnviz.analysis` explain the score (logit) of the predicted class, or of any
chosen class, as a heat map drawn over the network input:

- the gradient and gradient x input: one backward pass (~0.5 ms), computed at once in the GUI
  thread for every new trace, so the map follows the pen;
- SmoothGrad and occlusion: many passes, computed in a worker thread (on its own copy of the
  network) once the input has been still for :data:`DEBOUNCE_MS`;
- Grad-CAM on any layer with feature maps: one pass, in the GUI thread.

The panel computes nothing while it is hidden; it catches up when it is shown again.
"""

from __future__ import annotations

import functools
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QLabel,
                               QSizePolicy, QSlider, QSpinBox, QWidget)

from cnnviz.nn import Sequential
from cnnviz.session import Trace
from cnnviz.ui.interpret.analysis_methods import (FILLS, METHODS, AnalysisSettings,
                                                  Explanation, describe, default_cam_layer,
                                                  explain, feature_layers)
from cnnviz.ui.shared import workers
from cnnviz.ui.shared.theme import plot_colors, ThemedPanel
from cnnviz.ui.shared.workers import TaskRunner
from cnnviz.ui.window.document import Document
from cnnviz.ui.window import errors

#: Quiet time (ms) after the last input change before a worker method starts.
DEBOUNCE_MS = 120


@functools.cache
def overlay_lut(signed: bool) -> np.ndarray:
    """A 256-entry RGBA lookup table whose opacity grows with the magnitude of the value, so
    that the input shows through where the map is weak (inferno; blue-white-red if signed)."""
    ramp = np.linspace(-1.0, 1.0, 256) if signed else np.linspace(0.0, 1.0, 256)
    if signed:
        colours = pg.colormap.get("CET-D1").map((ramp + 1) / 2, mode="byte")
    else:
        colours = pg.colormap.get("inferno").map(0.3 + 0.7 * ramp, mode="byte")
    colours[:, 3] = np.round(255 * np.minimum(1.0, 1.4 * np.abs(ramp)) ** 0.8)
    return colours.astype(np.ubyte)


#: The input under a heat map is shown at this fraction of its brightness (white ink or a white
#: sky as mid grey), so that the map's colours stand out.
BACKDROP_DIM = 1 / 1.7


def input_backdrop(picture: np.ndarray) -> np.ndarray:
    """The picture drawn under a heat map: a network input as a picture (C, H, W) in [0, 1]
    (:attr:`Trace.input_image`), dimmed by :data:`BACKDROP_DIM`: grey (H, W) for one channel,
    colour (H, W, 3) for three, any other number of channels as their mean."""
    picture = np.clip(picture, 0.0, 1.0)
    if picture.shape[0] == 3:
        image = picture.transpose(1, 2, 0)
    else:
        image = picture[0] if picture.shape[0] == 1 else picture.mean(axis=0)
    return np.ascontiguousarray(image * BACKDROP_DIM, dtype=np.float32)


class AnalysisPanel(ThemedPanel, QWidget):
    """A heat map over the network input explaining the score of one class.

    Attributes
    ----------
    explanation : Explanation or None
        The map on display (None when there is nothing to explain).
    runner : TaskRunner
        The worker of SmoothGrad and occlusion.

    Signals
    -------
    explanation_ready(Explanation)
        A new map is on display.
    cursor_info(str)
        The pixel under the pointer and its map value, for the status bar.
    """

    explanation_ready = Signal(object)
    cursor_info = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("analysis_panel")
        self.document = document
        self.explanation: Explanation | None = None
        self._model: Sequential | None = None
        self._model_key = None
        self._dirty = True
        self.runner = TaskRunner("cnnviz-analysis", self)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_worker_finished)
        self.runner.failed.connect(self._on_worker_failed)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._start_worker)
        self._build_controls()
        self._build_view()
        self._apply_palette()
        self._on_model_changed(document.network)
        document.model_changed.connect(self._on_model_changed)
        document.trace_changed.connect(self._on_trace_changed)

    # ----------------------------------------------------------------- building
    def _build_controls(self) -> None:
        self.method_combo = QComboBox(objectName="analysis_method",
                                      toolTip="How to explain the class score")
        for key, (title, _) in METHODS.items():
            self.method_combo.addItem(title, key)
        self.class_combo = QComboBox(objectName="analysis_class",
                                     toolTip="The class whose score is explained")
        self.samples_spin = QSpinBox(minimum=1, maximum=200, value=25, objectName="samples",
                                     toolTip="SmoothGrad: how many noisy copies to average")
        self.noise_spin = QDoubleSpinBox(
            minimum=0.0, maximum=1.0, singleStep=0.05, value=0.15, decimals=2, objectName="noise",
            toolTip="SmoothGrad: standard deviation of the noise (input units)")
        self.patch_spin = QSpinBox(minimum=1, maximum=28, value=4, suffix=" px",
                                   objectName="patch", toolTip="Occlusion: side of the patch")
        self.stride_spin = QSpinBox(minimum=1, maximum=4, value=2, suffix=" px",
                                    objectName="stride",
                                    toolTip="Occlusion: step between patch positions")
        self.fill_combo = QComboBox(objectName="fill",
                                    toolTip="Occlusion: what the patch paints over the input")
        for key, (title, _) in FILLS.items():
            self.fill_combo.addItem(title, key)
        self.measure_combo = QComboBox(
            objectName="measure",
            toolTip="Occlusion: the score whose drop is mapped. A confident network's "
                    "probability stays near 1 whatever is hidden; the logit still shows the "
                    "differences")
        self.measure_combo.addItem("logit", "logit")
        self.measure_combo.addItem("probability", "probability")
        self.layer_combo = QComboBox(objectName="cam_layer",
                                     toolTip="Grad-CAM: the layer whose feature maps are weighed")

        self.form = QFormLayout()
        self.form.addRow("Method", self.method_combo)
        self.form.addRow("Class", self.class_combo)
        self._rows = {self.samples_spin: ("Copies", "smooth_grad"),
                      self.noise_spin: ("Noise", "smooth_grad"),
                      self.patch_spin: ("Patch", "occlusion"),
                      self.stride_spin: ("Stride", "occlusion"),
                      self.fill_combo: ("Fill", "occlusion"),
                      self.measure_combo: ("Score", "occlusion"),
                      self.layer_combo: ("Layer", "grad_cam")}
        for widget, (label, _) in self._rows.items():
            self.form.addRow(label, widget)
        self._show_rows()

        for signal in (self.method_combo.currentIndexChanged, self.class_combo.currentIndexChanged,
                       self.samples_spin.valueChanged, self.noise_spin.valueChanged,
                       self.patch_spin.valueChanged, self.stride_spin.valueChanged,
                       self.fill_combo.currentIndexChanged, self.measure_combo.currentIndexChanged,
                       self.layer_combo.currentIndexChanged):
            signal.connect(self._on_settings_changed)

    def _build_view(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("analysis_graphics")
        self.graphics.setMinimumSize(160, 160)
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self.viewbox = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.viewbox.setMouseEnabled(x=False, y=False)
        self.input_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item.setZValue(1)
        self.viewbox.addItem(self.input_item)
        self.viewbox.addItem(self.heat_item)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, objectName="opacity",
                                      minimum=0, maximum=100, value=85,
                                      toolTip="Opacity of the heat map over the input")
        self.opacity_slider.valueChanged.connect(self._on_opacity_changed)
        self.status_label = QLabel(objectName="analysis_status")
        self.caption = QLabel(objectName="analysis_caption", wordWrap=True,
                              textFormat=Qt.TextFormat.RichText)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.caption.setMinimumHeight(self.fontMetrics().lineSpacing() * 5)

        self.controls = QWidget()
        self.controls.setLayout(self.form)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.footer = QWidget()
        footer = QGridLayout(self.footer)
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addWidget(QLabel("Opacity"), 0, 0)
        footer.addWidget(self.opacity_slider, 0, 1)
        footer.addWidget(self.status_label, 0, 2)
        footer.addWidget(self.caption, 1, 0, 1, 3)
        footer.setRowStretch(2, 1)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(6, 6, 6, 6)
        self._wide: bool | None = None
        self._arrange(wide=False)
        self._on_opacity_changed(self.opacity_slider.value())

    def _arrange(self, wide: bool) -> None:
        """Controls and caption beside the image (wide panel) or above and below it (tall)."""
        if wide == self._wide:
            return
        self._wide = wide
        grid = self._grid
        for widget in (self.controls, self.graphics, self.footer):
            grid.removeWidget(widget)
        if wide:
            grid.addWidget(self.controls, 0, 0)
            grid.addWidget(self.footer, 1, 0)
            grid.addWidget(self.graphics, 0, 1, 3, 1)
        else:
            grid.addWidget(self.controls, 0, 0)
            grid.addWidget(self.graphics, 1, 0)
            grid.addWidget(self.footer, 2, 0)
        grid.setColumnStretch(1, 1 if wide else 0)
        grid.setRowStretch(1, 0 if wide else 1)
        grid.setRowStretch(2, 1 if wide else 0)
        self.controls.setMaximumWidth(340 if wide else 16777215)
        self.footer.setMaximumWidth(340 if wide else 16777215)

    def _show_rows(self) -> None:
        """Show the parameters of the chosen method only."""
        method = self.method_combo.currentData()
        for widget, (_, owner) in self._rows.items():
            self.form.setRowVisible(widget, owner == method)

    # ----------------------------------------------------------------- state
    def settings(self) -> AnalysisSettings:
        """The settings the controls show."""
        return AnalysisSettings(
            method=self.method_combo.currentData(), target_class=self.class_combo.currentData(),
            samples=self.samples_spin.value(), noise=self.noise_spin.value(),
            patch=self.patch_spin.value(), stride=self.stride_spin.value(),
            fill=self.fill_combo.currentData(), measure=self.measure_combo.currentData(),
            layer=self.layer_combo.currentData() if self.layer_combo.count() else -1)

    def refresh(self) -> None:
        """Explain the current trace with the current settings (now, or soon in the worker)."""
        self._timer.stop()
        self.runner.cancel()
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        trace = self.document.trace
        names = self.document.network.classes
        top = trace.top_class
        self.class_combo.setItemText(0, f"predicted ({names[top] if top < len(names) else top})")
        self._show_input(trace)
        if trace.blank:
            thing = "a digit" if self.document.network.contract.pipeline == "digits" else \
                "on the canvas"
            self._show(None, f"Nothing to explain yet: draw {thing} or open an image.")
            return
        settings = self.settings()
        # The quick methods run here, except on a big network (a VGG-16 gradient takes seconds).
        if METHODS[settings.method][1] or self.document.in_background:
            self.status_label.setText("computing\u2026")
            self._timer.start()
            return
        try:
            self._show(explain(self._analysis_model(), trace, settings))
        except (ValueError, IndexError) as exc:
            self._show(None, f"Cannot compute this map: {exc}")
        except MemoryError:
            self._model = self._model_key = None
            self._show(None, f"Cannot compute this map: {workers.NO_MEMORY}.")
        except Exception as exc:  # noqa: BLE001 (reported here, as the worker's failures are)
            # Never into Qt: refresh runs inside show and resize events.
            path = errors.write_log("In cnnviz-analysis (window)", exc)
            self._show(None, f"The computation failed: {errors.summary(exc)}. "
                             f"{errors.log_note(path)}")

    def shutdown(self) -> bool:
        """Stop any computation and join the worker thread (the window is closing)."""
        self._timer.stop()
        return self.runner.shutdown()

    def _analysis_model(self) -> Sequential:
        """The current network with layers of its own (over the same weights, never copied:
        VGG-16's are 553 MB) for the GUI thread's own passes (analysis methods overwrite the
        layers' caches and gradients)."""
        key = (self.document.network, self.document.trace.weights_token)
        if key != self._model_key:
            self._model, self._model_key = self.document.model.sharing_weights(), key
        return self._model

    # ----------------------------------------------------------------- document
    @Slot(object)
    def _on_model_changed(self, network) -> None:
        model = network.model
        for combo in (self.class_combo, self.layer_combo):
            combo.blockSignals(True)
            combo.clear()
        self.class_combo.addItem("predicted", None)
        for k, name in enumerate(network.classes):
            self.class_combo.addItem(name, k)
        for i in feature_layers(model):
            layer = model.layers[i]
            shape = "\u00d7".join(map(str, layer.output_shape))
            self.layer_combo.addItem(f"{i}: {layer.kind} {shape}", i)
        if self.layer_combo.count():
            self.layer_combo.setCurrentIndex(self.layer_combo.findData(default_cam_layer(model)))
        for combo in (self.class_combo, self.layer_combo):
            combo.blockSignals(False)
        size = min(model.input_shape[1:])
        self.patch_spin.setMaximum(size)
        grad_cam_row = list(METHODS).index("grad_cam")
        self.method_combo.model().item(grad_cam_row).setEnabled(self.layer_combo.count() > 0)
        self.viewbox.setRange(QRectF(0, 0, model.input_shape[2], model.input_shape[1]),
                              padding=0.02)

    @Slot(object)
    def _on_trace_changed(self, trace: Trace) -> None:
        self.refresh()

    @Slot()
    def _on_settings_changed(self) -> None:
        self._show_rows()
        self.stride_spin.setMaximum(self.patch_spin.value())
        self.refresh()

    # ----------------------------------------------------------------- worker
    @Slot()
    def _start_worker(self) -> None:
        model, trace, settings = (self._analysis_model().sharing_weights(), self.document.trace,
                                  self.settings())
        self.runner.start(lambda progress: explain(model, trace, settings, progress))

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.status_label.setText(f"computing\u2026 {done / max(total, 1):.0%}")

    @Slot(object)
    def _on_worker_finished(self, explanation: Explanation) -> None:
        if explanation.version == self.document.trace.version \
                and explanation.settings == self.settings():
            self._show(explanation)

    @Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        self._show(None, self.runner.failure_text(f"The computation failed: {message}"))

    # ----------------------------------------------------------------- display
    def _show_input(self, trace: Trace) -> None:
        self.input_item.setImage(input_backdrop(trace.input_image), levels=(0.0, 1.0),
                                 autoLevels=False)

    def _show(self, explanation: Explanation | None, message: str = "") -> None:
        self.status_label.setText("")
        self.explanation = explanation
        if explanation is None or explanation.empty:
            self.heat_item.hide()
        else:
            lut = overlay_lut(explanation.signed)
            if self.heat_item.lut is not lut:
                self.heat_item.setLookupTable(lut)
            levels = (-1.0, 1.0) if explanation.signed else (0.0, 1.0)
            self.heat_item.setImage(explanation.display, levels=levels, autoLevels=False)
            self.heat_item.show()
        self.caption.setText(escape(message) if message else describe(
            explanation, float(self.document.trace.probabilities[explanation.target_class])))
        if explanation is not None:
            self.explanation_ready.emit(explanation)

    # ----------------------------------------------------------------- events
    @Slot(int)
    def _on_opacity_changed(self, value: int) -> None:
        self.heat_item.setOpacity(value / 100)

    def _on_mouse_moved(self, position) -> None:
        point: QPointF = self.viewbox.mapSceneToView(position)
        col, row = int(np.floor(point.x())), int(np.floor(point.y()))
        explanation = self.explanation
        if explanation is None or not self.viewbox.sceneBoundingRect().contains(position):
            self.cursor_info.emit("")
            return
        h, w = explanation.values.shape
        if 0 <= row < h and 0 <= col < w:
            self.cursor_info.emit(f"{METHODS[explanation.settings.method][0]}  row {row}, "
                                  f"col {col}: {explanation.values[row, col]:.4g}")
        else:
            self.cursor_info.emit("")

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._arrange(wide=self.width() > 1.4 * self.height())

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def _apply_palette(self) -> None:
        self.graphics.setBackground(plot_colors(self.palette())[0])
