"""The Activation Maximisation panel: for each filter of a layer, the input it responds to most.

:func:`cnnviz.analysis.gallery` runs gradient ascent on the input, from faint noise, for every
feature map (or unit, or class) of the chosen layer at once.  That takes from a tenth of a second
(a first convolution) to a few seconds (a wide dense layer), so it runs in a worker thread on its
own copy of the network, with a progress bar and a Cancel button.

The gallery is computed again when the layer or a setting changes, not when the weights change
(training changes them several times a second): the panel then says the images are out of date.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout,
                               QWidget)

from cnnviz.analysis import MaximizationResult, field_crop, gallery, normalize
from cnnviz.nn import Sequential
from cnnviz.ui.shared.image_grid import ImageGrid
from cnnviz.ui.shared.workers import TaskRunner
from cnnviz.ui.window.document import Document

#: Layers whose output says nothing new: an identity at inference, or a reshaped copy.
SKIPPED_KINDS = frozenset({"Flatten", "Dropout", "Softmax"})

OBJECTIVES = {
    "centre": ("centre unit", "Maximise the unit at the centre of each feature map: the pattern "
                              "inside its receptive field"),
    "channel": ("whole map", "Maximise the sum of each feature map: a texture over the whole "
                             "image"),
}


@dataclass(frozen=True)
class GallerySettings:
    """What :func:`cnnviz.analysis.gallery` is asked for."""

    layer: int
    objective: str = "centre"
    steps: int = 200


def gallery_layers(model: Sequential) -> list[int]:
    """The layers worth a gallery: every layer except flattening, dropout and softmax."""
    return [i for i, layer in enumerate(model.layers) if layer.kind not in SKIPPED_KINDS]


def unit_name(model: Sequential, layer: int) -> str:
    """What one image of a layer's gallery maximises: "map", "unit" or "class"."""
    if len(model.layers[layer].output_shape) == 3:
        return "map"
    last = len(model.layers) - 1
    if layer == last or (layer == last - 1 and model.layers[last].kind == "Softmax"):
        return "class"
    return "unit"


class ActivationGallery(QWidget):
    """A grid of the images that maximise each feature map, unit or class of one layer.

    Attributes
    ----------
    results : list of MaximizationResult
        The gallery on display (empty before the first computation).
    runner : TaskRunner
        The worker thread of the computation.
    """

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("activation_gallery")
        self.document = document
        self.results: list[MaximizationResult] = []
        self._computed: GallerySettings | None = None
        self._dirty = True
        self.runner = TaskRunner("cnnviz-activation-max", self)
        self.runner.started.connect(self._on_started)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self._on_failed)

        self.layer_combo = QComboBox(objectName="gallery_layer")
        self.layer_combo.setToolTip("The layer whose feature maps, units or classes to show")
        self.objective_combo = QComboBox(objectName="gallery_objective")
        for key, (title, tip) in OBJECTIVES.items():
            self.objective_combo.addItem(title, key)
            self.objective_combo.setItemData(self.objective_combo.count() - 1, tip,
                                             Qt.ItemDataRole.ToolTipRole)
        self.objective_combo.setToolTip("For feature maps: maximise the centre unit or the "
                                        "whole map")
        self.steps_spin = QSpinBox(minimum=10, maximum=2000, singleStep=50, value=200,
                                   objectName="gallery_steps")
        self.steps_spin.setToolTip("Gradient ascent steps (more: sharper, slower)")
        self.crop_check = QCheckBox("Receptive field only", checked=True,
                                    objectName="gallery_crop")
        self.crop_check.setToolTip("For centre units: show only the part of the input the unit "
                                   "can see (the rest stays blank)")
        self.compute_button = QPushButton("Compute", objectName="gallery_compute")
        self.compute_button.setToolTip("Compute the gallery again (for new weights)")
        self.cancel_button = QPushButton("Cancel", objectName="gallery_cancel", enabled=False)
        self.cancel_button.setToolTip("Stop the computation")
        self.progress_bar = QProgressBar(objectName="gallery_progress", textVisible=False)
        self.progress_bar.setMaximumHeight(self.fontMetrics().height() // 2 + 2)
        self.progress_bar.hide()
        self.status_label = QLabel(objectName="gallery_status", wordWrap=True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label.setMinimumHeight(self.fontMetrics().lineSpacing() * 2)
        self.grid = ImageGrid(side=64)
        self.grid.setObjectName("gallery_grid")

        form = QFormLayout()
        form.addRow("Layer", self.layer_combo)
        form.addRow("Objective", self.objective_combo)
        form.addRow("Steps", self.steps_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.crop_check, 1)
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.grid, 1)

        self._on_model_changed(document.network)
        self.layer_combo.currentIndexChanged.connect(self._on_settings_changed)
        self.objective_combo.currentIndexChanged.connect(self._on_settings_changed)
        self.steps_spin.editingFinished.connect(self._on_settings_changed)
        self.crop_check.toggled.connect(self._show_results)
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button.clicked.connect(self.runner.cancel)
        document.model_changed.connect(self._on_model_changed)
        document.weights_changed.connect(self._on_weights_changed)

    # ----------------------------------------------------------------- actions
    def settings(self) -> GallerySettings:
        """The settings the controls show."""
        return GallerySettings(self.layer_combo.currentData(), self.objective_combo.currentData(),
                               self.steps_spin.value())

    @Slot()
    def compute(self) -> None:
        """Compute the gallery of the chosen layer in the worker (replacing one under way)."""
        self._dirty = False
        settings = self.settings()
        model = self.document.model.copy()
        self.runner.start(lambda progress: (settings, gallery(
            model, settings.layer, objective=settings.objective, steps=settings.steps,
            progress=progress)))

    def shutdown(self) -> bool:
        """Cancel the computation and join the worker thread (the window is closing)."""
        return self.runner.shutdown()

    # ----------------------------------------------------------------- document
    @Slot(object)
    def _on_model_changed(self, network) -> None:
        model = network.model
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for i in gallery_layers(model):
            layer = model.layers[i]
            shape = "\u00d7".join(map(str, layer.output_shape))
            what = " (classes)" if unit_name(model, i) == "class" else ""
            self.layer_combo.addItem(f"{i}: {layer.kind} {shape}{what}", i)
        self.layer_combo.setCurrentIndex(self.layer_combo.count() - 1)
        self.layer_combo.blockSignals(False)
        self.results, self._computed = [], None
        self.grid.set_images([], [])
        self._update_objective()
        self._request()

    @Slot()
    def _on_weights_changed(self) -> None:
        if self._computed is not None and self.results:
            self.status_label.setText("The weights have changed since these images were "
                                      "computed: press Compute to update them.")

    @Slot()
    def _on_settings_changed(self) -> None:
        self._update_objective()
        if self.settings() != self._computed:
            self._request()

    def _update_objective(self) -> None:
        layer = self.layer_combo.currentData()
        maps = layer is not None and len(self.document.model.layers[layer].output_shape) == 3
        self.objective_combo.setEnabled(maps)
        self.crop_check.setEnabled(maps and self.objective_combo.currentData() == "centre")

    def _request(self) -> None:
        """Compute now if the panel is shown, else when it is."""
        if self.isVisible():
            self.compute()
        else:
            self._dirty = True
            self.runner.cancel()

    # ----------------------------------------------------------------- worker
    @Slot()
    def _on_started(self) -> None:
        self.compute_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.status_label.setText("Computing\u2026")

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.status_label.setText(f"Computing\u2026 step {done} of {total}")

    @Slot(object)
    def _on_finished(self, outcome) -> None:
        self._idle()
        self._computed, self.results = outcome
        layer = self._computed.layer
        self.status_label.setText(
            f"{len(self.results)} images, each stretched to its own contrast; under each: the "
            f"value its {unit_name(self.document.model, layer)} reaches on it.")
        self._show_results()

    @Slot()
    def _on_cancelled(self) -> None:
        self._idle()
        self.status_label.setText("Cancelled.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._idle()
        self.status_label.setText(self.runner.failure_text(f"The computation failed: {message}"))

    def _idle(self) -> None:
        self.compute_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress_bar.hide()

    @Slot()
    def _show_results(self) -> None:
        if self._computed is None:
            return
        model = self.document.model
        settings = self._computed
        name = unit_name(model, settings.layer)
        crop = self.crop_check.isChecked() and settings.objective == "centre"
        classes = self.document.network.classes
        images, captions, tips = [], [], []
        for k, result in enumerate(self.results):
            image = field_crop(model, result) if crop else result.image
            images.append(normalize(image.mean(axis=0)))
            unit = classes[k] if name == "class" and k < len(classes) else k
            captions.append(f"{name} {unit}\n{result.value:.3g}")
            tips.append(f"Layer {settings.layer} ({model.layers[settings.layer].kind}), {name} "
                        f"{unit}: reaches {result.value:.4g} on this image "
                        f"({settings.steps} ascent steps)")
        self.grid.set_images(images, captions, tooltips=tips)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._dirty:
            self.compute()
