"""The Activation Maximisation panel: for each filter of a layer, the input it responds to most,
and beside it the test images that excite it most.

:func:`cnnviz.analysis.gallery` runs gradient ascent on the input, from faint noise, for every
feature map (or unit, or class) of the chosen layer at once (regularised for colour networks:
:func:`cnnviz.analysis.settings_for`).  Then :func:`cnnviz.analysis.top_patches` runs the network
up to that layer over a test set (MNIST's or the offline digits for digit networks, CIFAR-10's
for 32x32 colour ones) and keeps, for each unit, the nine images where it is strongest, cut to
its receptive field.  Together that takes from a tenth of a second to several seconds, so it runs
in a worker thread on its own copy of the network, with a progress bar and a Cancel button.

The gallery is computed again when the layer or a setting changes, not when the weights change
(training changes them several times a second): the panel then says the images are out of date.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout,
                               QWidget)

from cnnviz.analysis import (MaximizationResult, TopPatch, field_crop, gallery, normalize,
                             settings_for, to_picture, top_patches)
from cnnviz.analysis.top_patches import spread
from cnnviz.data import (CIFAR10_SHAPE, DataError, batch_to_input, find_cifar10, find_mnist,
                         load_default_cifar10, load_default_mnist, make_synthetic_digits)
from cnnviz.nn import Sequential
from cnnviz.ui.shared.image_grid import ImageGrid, image_pixmap
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


#: Strongest test images shown beside each unit.
TOP_K = 9
#: Size of the offline digit set.
OFFLINE_DIGITS = 2000
#: Tile side (pixels) of the grid without and with the test images.
SIDE, SIDE_WITH_PATCHES = 64, 168


@dataclass(frozen=True)
class GallerySettings:
    """What :func:`cnnviz.analysis.gallery` and :func:`cnnviz.analysis.top_patches` are asked
    for (``source``: the title of the test set, None for none; ``count``: how many of its
    images, spread over it)."""

    layer: int
    objective: str = "centre"
    steps: int = 200
    source: str | None = None
    count: int = 1000


@dataclass(frozen=True)
class PatchSource:
    """A test set offered for the strongest images: its title and ``load(progress)``, which
    returns uint8 images (N, H, W) or (N, C, H, W) of the network's size."""

    title: str
    load: Callable


def mnist_test_images(progress=None) -> np.ndarray:
    """The 10,000 MNIST test digits (found on this computer, never downloaded here)."""
    return load_default_mnist(download=False).test_x


def offline_digit_images(progress=None) -> np.ndarray:
    """:data:`OFFLINE_DIGITS` digits drawn by cnnviz (seeded: the same every time)."""
    return make_synthetic_digits(OFFLINE_DIGITS, seed=np.random.SeedSequence([0, 1]))[0]


def cifar_test_images(progress=None) -> np.ndarray:
    """CIFAR-10's 10,000 test images (found on this computer, never downloaded here)."""
    def report(done, total):
        return progress is None or progress(done, total)
    return load_default_cifar10(folder_progress=report).test_x


def patch_sources(model: Sequential) -> list[PatchSource]:
    """The test sets whose images fit ``model``: MNIST's test set (when found) and the offline
    digits for 1x28x28 inputs, CIFAR-10's test set (when found) for 3x32x32 ones."""
    shape = tuple(model.input_shape)
    if shape == (1, 28, 28):
        sources = [PatchSource("MNIST test set", mnist_test_images)] if find_mnist() else []
        return sources + [PatchSource(f"offline digits ({OFFLINE_DIGITS:,})",
                                      offline_digit_images)]
    if shape == tuple(CIFAR10_SHAPE) and find_cifar10() is not None:
        return [PatchSource("CIFAR-10 test set", cifar_test_images)]
    return []


def unit_picture(model: Sequential, result: MaximizationResult, contract, crop: bool
                 ) -> np.ndarray:
    """The optimised image of one unit for display, in [0, 1]: grey (H, W) stretched to its own
    contrast for one channel; colour (H, W, 3) for three, the picture the input stands for
    (:func:`cnnviz.analysis.to_picture`) stretched as a whole, so that its hues stay."""
    image = field_crop(model, result) if crop else result.image
    if image.shape[0] == 3:
        return normalize(to_picture(image, contract)).transpose(1, 2, 0)
    return normalize(image.mean(axis=0))


def patch_mosaic(crops: Sequence[np.ndarray], shape, background: float = 0.3) -> np.ndarray:
    """Up to :data:`TOP_K` crops (C, h, w), uint8 or floats in [0, 1], as a 3x3 mosaic with
    one-pixel gaps, row by row, strongest first; empty cells stay ``background``.  ``shape`` is
    (C, h, w) of a cell.  Returns (3h + 2, 3w + 2) for grey, (..., 3) for colour."""
    c, h, w = shape
    out = np.full((c, 3 * h + 2, 3 * w + 2), background, dtype=np.float32)
    for i, crop in enumerate(crops[:TOP_K]):
        r, q = divmod(i, 3)
        values = crop.astype(np.float32) / 255 if crop.dtype == np.uint8 else crop
        out[:, r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = values
    return out[0] if c == 1 else out.transpose(1, 2, 0)


def unit_tile(picture: np.ndarray, mosaic: np.ndarray, background: float = 0.3) -> np.ndarray:
    """The optimised ``picture`` (h, w[, 3]) scaled (nearest neighbour) to the height of the
    ``mosaic`` (H, W[, 3]), then two pixels of ``background``, then the mosaic."""
    if picture.ndim != mosaic.ndim:  # a grey picture beside colour crops, or the reverse
        picture, mosaic = (np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a
                           for a in (picture, mosaic))
    size = mosaic.shape[0]
    h, w = picture.shape[:2]
    scale = size / max(h, w)
    rows = np.minimum((np.arange(int(round(h * scale))) / scale).astype(int), h - 1)
    cols = np.minimum((np.arange(int(round(w * scale))) / scale).astype(int), w - 1)
    scaled = picture[rows][:, cols]
    out = np.full((size, scaled.shape[1] + 2 + mosaic.shape[1]) + mosaic.shape[2:],
                  background, dtype=np.float32)
    top = (size - scaled.shape[0]) // 2
    out[top:top + scaled.shape[0], :scaled.shape[1]] = scaled
    out[:, scaled.shape[1] + 2:] = mosaic
    return out


class UnitGrid(ImageGrid):
    """An :class:`ImageGrid` whose tiles may be colour (H, W, 3) and wider than tall."""

    def set_tiles(self, tiles: Sequence[np.ndarray], captions: Sequence[str],
                  tooltips: Sequence[str]) -> None:
        """Show ``tiles`` (H, W) or (H, W, 3) in [0, 1], all of one shape, ``side`` pixels wide
        (the height follows the tiles' aspect ratio, at most ``side``)."""
        self.set_images([np.zeros((1, 1))] * len(tiles), captions, tooltips=tooltips)
        if not tiles:
            return
        h, w = tiles[0].shape[:2]
        width = self.side if w >= h else max(1, round(self.side * w / h))
        height = self.side if h >= w else max(1, round(self.side * h / w))
        self.setIconSize(QSize(width, height))
        grid = self.gridSize()
        self.setGridSize(QSize(grid.width(), grid.height() - self.side + height))
        for row, tile in enumerate(tiles):
            self.item(row).setIcon(QIcon(image_pixmap(tile, width, height)))


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
        #: Per unit of :attr:`results`, its strongest test images (empty lists: none asked).
        self.patches: list[list[TopPatch]] = []
        #: The pictures on display, one per unit (the optimised image, and the mosaic).
        self.tiles: list[np.ndarray] = []
        self._sources: dict[str, PatchSource] = {}
        self._image_sets: dict[str, np.ndarray] = {}
        self._phase = "ascent"
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
        self.source_combo = QComboBox(objectName="gallery_source")
        self.source_combo.setToolTip("The test images searched for each unit's strongest "
                                     "examples, shown beside its image cut to its receptive "
                                     "field")
        self.count_spin = QSpinBox(minimum=100, maximum=60000, singleStep=500, value=1000,
                                   objectName="gallery_count")
        self.count_spin.setToolTip("How many of the test set's images to search (spread over "
                                   "the whole set, so every class is in)")
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
        self.grid = UnitGrid(side=SIDE)
        self.grid.setObjectName("gallery_grid")

        form = QFormLayout()
        form.addRow("Layer", self.layer_combo)
        form.addRow("Objective", self.objective_combo)
        form.addRow("Steps", self.steps_spin)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_combo, 1)
        source_row.addWidget(self.count_spin)
        form.addRow("Test images", source_row)
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
        self.source_combo.currentIndexChanged.connect(self._on_settings_changed)
        self.count_spin.editingFinished.connect(self._on_settings_changed)
        self.crop_check.toggled.connect(self._show_results)
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button.clicked.connect(self.runner.cancel)
        document.model_changed.connect(self._on_model_changed)
        document.weights_changed.connect(self._on_weights_changed)

    # ----------------------------------------------------------------- actions
    def settings(self) -> GallerySettings:
        """The settings the controls show."""
        return GallerySettings(self.layer_combo.currentData(), self.objective_combo.currentData(),
                               self.steps_spin.value(), self.source_combo.currentData(),
                               self.count_spin.value())

    @Slot()
    def compute(self) -> None:
        """Compute the gallery of the chosen layer, then each unit's strongest test images, in
        the worker (replacing a computation under way)."""
        self._dirty = False
        settings = self.settings()
        # Its own layers over the same weights: no copy (VGG-16's are 553 MB).
        model = self.document.model.sharing_weights()
        contract = self.document.network.contract
        options = settings_for(model, contract, settings.layer)
        options["steps"] = settings.steps
        source = self._sources.get(settings.source)
        loaded = self._image_sets.get(settings.source)
        # Where a unit's field leaves the image it reads the network's padding: zeros, which are
        # the data's mean colour for a normalised input.
        fill = np.round(to_picture(np.zeros((model.input_shape[0], 1, 1), np.float32),
                                   contract).ravel() * 255)
        self._phase = "ascent"

        def task(progress):
            self._phase = "ascent"
            results = gallery(model, settings.layer, objective=settings.objective,
                              progress=progress, **options)
            if source is None:
                return settings, results, [[] for _ in results], None, ""
            self._phase = "loading"
            try:
                images = loaded if loaded is not None else source.load(progress)
            except (DataError, OSError) as exc:  # the images stay; the test set is reported
                return (settings, results, [[] for _ in results], None,
                        f" The {source.title} could not be read: {exc}")
            self._phase = "patches"
            chosen = spread(len(images), settings.count)  # every class, not the first ones
            pictures = images[chosen]
            if pictures.ndim == 3:
                pictures = pictures[:, None]
            patches = top_patches(model, lambda batch: batch_to_input(batch, contract),
                                  pictures, settings.layer, channels=range(len(results)),
                                  k=TOP_K, fill=fill, progress=progress)
            patches = [[replace(p, image=int(chosen[p.image])) for p in unit]
                       for unit in patches]  # numbered as in the test set
            return settings, results, patches, (source.title, images), ""

        self.runner.start(task)

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
        previous = self.source_combo.currentData()
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        self._sources = {source.title: source for source in patch_sources(model)}
        for title in self._sources:
            self.source_combo.addItem(title, title)
        self.source_combo.addItem("none", None)
        if previous in self._sources:
            self.source_combo.setCurrentIndex(self.source_combo.findData(previous))
        self.source_combo.blockSignals(False)
        self.steps_spin.setValue(settings_for(model).get("steps", 200))
        self.results, self.patches, self.tiles, self._computed = [], [], [], None
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
        what = {"ascent": f"step {done} of {total}",
                "loading": "reading the test images",
                "patches": f"test image {done:,} of {total:,}"}[self._phase]
        self.status_label.setText(f"Computing\u2026 {what}")

    @Slot(object)
    def _on_finished(self, outcome) -> None:
        self._idle()
        self._computed, self.results, self.patches, loaded, note = outcome
        if loaded is not None:
            title, images = loaded
            self._image_sets = {title: images}  # one set kept: the one in use
        layer = self._computed.layer
        text = (f"{len(self.results)} images, each stretched to its own contrast; under each: "
                f"the value its {unit_name(self.document.model, layer)} reaches on it.")
        if any(self.patches):
            searched = min(self._computed.count, len(self._image_sets[self._computed.source]))
            text += (f" Beside each: the {TOP_K} of {searched:,} images spread over the "
                     f"{self._computed.source} where it is strongest, each cut to its receptive "
                     f"field.")
        self.status_label.setText(text + note)
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
        contract = self.document.network.contract
        tiles, captions, tips = [], [], []
        for k, result in enumerate(self.results):
            picture = unit_picture(model, result, contract, crop)
            patches = self.patches[k] if k < len(self.patches) else []
            unit = classes[k] if name == "class" and k < len(classes) else k
            tip = (f"Layer {settings.layer} ({model.layers[settings.layer].kind}), {name} "
                   f"{unit}: reaches {result.value:.4g} on this image "
                   f"({settings.steps} ascent steps)")
            if patches:
                picture = unit_tile(picture, patch_mosaic([p.crop for p in patches],
                                                          patches[0].crop.shape))
                tip += (f"; beside it, the test images where it is strongest: "
                        f"{patches[0].value:.4g} (image {patches[0].image}) to "
                        f"{patches[-1].value:.4g}")
            tiles.append(picture)
            captions.append(f"{name} {unit}\n{result.value:.3g}")
            tips.append(tip)
        self.grid.side = SIDE_WITH_PATCHES if any(self.patches) else SIDE
        self.tiles = tiles
        self.grid.set_tiles(tiles, captions, tips)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._dirty:
            self.compute()
