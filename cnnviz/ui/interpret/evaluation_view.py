"""The Evaluation panel: how the network does on a test set, and which images it gets wrong.

The current network runs over a labelled test set in a worker thread on its own copy, with
progress and Cancel. The test sets offered follow the network's input contract: for a digit
network MNIST's (when it is found, else after a download) and digits cnnviz draws itself; for
any other image network (colour ones first) CIFAR-10's test set (found or downloaded) and the
test images of a folder of images the user chooses, made to the network's size. The images
become inputs as the contract says (its per-channel normalisation included). The confusion
matrix shows the counts with the class names and each class's accuracy; clicking a cell lists
its examples (in colour for colour images), and clicking an example makes it the window's input
(one undoable step, like opening an image), so that every other panel shows what the network
made of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from cnnviz.analysis import (Example, cell_examples, evaluate_dataset, misclassified_examples,
                             row_normalized)
from cnnviz.data import (CIFAR10_SHAPE, DataError, LoadedImage, batch_to_input, check_network_classes,
                         find_cifar10, find_mnist, format_input_shape, input_shape_of,
                         load_default_cifar10, load_default_mnist, load_image_folder,
                         make_synthetic_digits)
from cnnviz.nn import InputContract
from cnnviz.session import ImageInput, NetworkEntry, SessionError
from cnnviz.training.metrics import Evaluation
from cnnviz.ui.interpret.confusion_matrix import ConfusionMatrixView
from cnnviz.ui.shared.image_grid import ImageGrid
from cnnviz.ui.shared.workers import TaskRunner
from cnnviz.ui.window.document import Document

#: At most this many examples of one cell (or misclassified ones) in the gallery.
MAX_SHOWN = 300
#: What the matrix's place says before the first evaluation.
NOT_YET = ("Run an evaluation to see the confusion matrix: choose a test set above and press "
           "Evaluate.")
#: Size of the offline test set.
SYNTHETIC_TEST_SIZE = 2000


@dataclass(frozen=True, eq=False)
class LabelledSet:
    """Labelled test images: uint8 ``images`` (N, H, W) grey (digits: white ink on black) or
    (N, C, H, W) channels first, ``labels`` (N,)."""

    name: str
    images: np.ndarray
    labels: np.ndarray

    def picture(self, index: int) -> np.ndarray:
        """Image ``index`` as float32 (H, W) or (H, W, 3) in [0, 1], for showing it."""
        image = self.images[index]
        if image.ndim == 3:
            image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
        return image.astype(np.float32) / 255.0


@dataclass(frozen=True)
class LabelledSetSource:
    """One choice of the test-set menu: its title and ``load(progress) -> LabelledSet``;
    ``pick`` marks the entry that asks for a folder of images instead."""

    title: str
    load: Callable | None
    pick: bool = False


def mnist_test_set(progress=None, download: bool = False) -> LabelledSet:
    """The 10,000 MNIST test digits (found by :func:`cnnviz.data.find_mnist`, or downloaded
    into the cache first when ``download``; ``progress(done, total)`` then follows the bytes)."""
    def report(_name, done, total):
        return progress is None or progress(done, total or max(done, 1))

    dataset = load_default_mnist(download=download, progress=report)
    return LabelledSet("MNIST test", dataset.test_x, dataset.test_y.astype(np.int64))


def synthetic_test_set(progress=None) -> LabelledSet:
    """:data:`SYNTHETIC_TEST_SIZE` digits drawn by cnnviz (no download needed; seeded)."""
    images, labels = make_synthetic_digits(SYNTHETIC_TEST_SIZE, seed=np.random.SeedSequence([0, 1]))
    return LabelledSet("offline digit", images, labels.astype(np.int64))


def cifar10_test_set(progress=None, download: bool = False) -> LabelledSet:
    """CIFAR-10's 10,000 test images (found by :func:`cnnviz.data.find_cifar10`, or downloaded
    into the cache first when ``download``)."""
    def report(_name, done, total):
        return progress is None or progress(done, total or max(done, 1))

    dataset = load_default_cifar10(download=download, progress=report, folder_progress=progress)
    return LabelledSet("CIFAR-10 test", dataset.test_x, dataset.test_y.astype(np.int64))


def folder_test_set(folder, shape, progress=None) -> LabelledSet:
    """The test images of a folder of images (``test/`` or the fifth held out of each class),
    made ``shape`` (the network's input)."""
    dataset = load_image_folder(folder, shape, progress=progress)
    return LabelledSet(f"{Path(folder).name} test", dataset.test_x,
                       dataset.test_y.astype(np.int64))


def folder_source(folder, shape) -> LabelledSetSource:
    """The menu entry of the test images of ``folder``."""
    return LabelledSetSource(f"Test images of {folder}",
                             lambda progress: folder_test_set(folder, shape, progress))


def is_digit_contract(contract: InputContract | None) -> bool:
    """The network reads digits (or says nothing of its images): the digit test sets fit it."""
    return contract is None or contract.pipeline == "digits" or contract.shape == (1, 28, 28)


def default_sources(contract: InputContract | None = None) -> list[LabelledSetSource]:
    """The test sets for a network with ``contract``.

    Digit networks: MNIST's test set when it is on this computer, the offline digits, and the
    offer to download MNIST (11 MB) when it is not. Other image networks: CIFAR-10's test set
    (found, or downloaded first; offered first to 3x32x32 networks) and the test images of a
    folder of images the user chooses."""
    if not is_digit_contract(contract):
        if find_cifar10() is not None:
            cifar = LabelledSetSource("CIFAR-10 test set (10,000)", cifar10_test_set)
        else:
            cifar = LabelledSetSource("CIFAR-10 test set (download 170 MB first)",
                                      lambda progress: cifar10_test_set(progress, download=True))
        pick = LabelledSetSource("Images from a folder\u2026", None, pick=True)
        return [cifar, pick] if tuple(contract.shape) == CIFAR10_SHAPE else [pick, cifar]
    offline = LabelledSetSource(f"Offline digits ({SYNTHETIC_TEST_SIZE:,}, drawn by cnnviz)",
                            synthetic_test_set)
    if find_mnist() is not None:
        return [LabelledSetSource("MNIST test set (10,000)", mnist_test_set), offline]
    return [offline, LabelledSetSource("MNIST test set (download 11 MB first)",
                                   lambda progress: mnist_test_set(progress, download=True))]


def _family(contract: InputContract | None) -> tuple:
    """What decides the test sets offered (see :func:`default_sources`)."""
    return (is_digit_contract(contract),
            contract is not None and tuple(contract.shape) == CIFAR10_SHAPE)


@dataclass(frozen=True, eq=False)
class EvaluationRun:
    """One evaluation: the test set, the results, and the network state they belong to."""

    test_set: LabelledSet
    evaluation: Evaluation
    network: NetworkEntry
    token: int


def evaluate_test_set(model, source: LabelledSetSource, loaded: LabelledSet | None, network, token,
                      progress) -> EvaluationRun:
    """Load the test set (unless ``loaded``) and evaluate ``model`` (a copy) on it, its images
    made inputs as the network's contract says.

    Raises
    ------
    ValueError
        The images are not of the shape the network takes, or of more classes than it scores
        (the message says both; :class:`cnnviz.data.InputShapeError` for the classes).
    """
    test_set = loaded or source.load(progress)
    shape = input_shape_of(test_set.images)
    if tuple(model.input_shape) != shape:
        raise ValueError(f"this network takes inputs of shape {tuple(model.input_shape)} "
                         f"({format_input_shape(model.input_shape)} images); the "
                         f"{test_set.name} images are {format_input_shape(shape)}")
    check_network_classes(model.output_shape, test_set.labels, f"the {test_set.name} images")
    evaluation = evaluate_dataset(model, batch_to_input(test_set.images, network.contract),
                                  test_set.labels, progress=progress)
    return EvaluationRun(test_set, evaluation, network, token)


class EvaluationView(QWidget):
    """Accuracy, confusion matrix and a gallery of examples of the current network.

    Parameters
    ----------
    document : Document
    sources : list of LabelledSetSource, optional
        The test sets to offer (default: :func:`default_sources`).
    parent : QWidget, optional

    Attributes
    ----------
    run : EvaluationRun or None
        The evaluation on display.
    runner : TaskRunner
        The worker thread.

    Signals
    -------
    cursor_info(str)
        The confusion cell under the pointer, for the status bar.
    """

    cursor_info = Signal(str)

    def __init__(self, document: Document, sources: list[LabelledSetSource] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("evaluation_view")
        self.document = document
        self._fixed_sources = sources is not None
        self._family = _family(document.network.contract)
        self.sources = sources if sources is not None else default_sources(
            document.network.contract)
        self.run: EvaluationRun | None = None
        self._loaded: dict[str, LabelledSet] = {}
        self._shown: tuple | None = None
        self.runner = TaskRunner("cnnviz-evaluation", self)
        self.runner.started.connect(self._on_started)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self._on_failed)

        self.source_combo = QComboBox(objectName="test_set")
        for source in self.sources:
            self.source_combo.addItem(source.title)
        self.source_combo.activated.connect(self._on_source_chosen)
        self._source_index = 0
        self.source_combo.setToolTip("The labelled images to run the network on")
        self.source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setMinimumContentsLength(10)
        self.evaluate_button = QPushButton("Evaluate", objectName="evaluate_button")
        self.evaluate_button.setToolTip("Run the current network on every test image")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.cancel_button = QPushButton("Cancel", objectName="evaluation_cancel", enabled=False)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.progress_bar = QProgressBar(objectName="evaluation_progress", textVisible=False)
        self.progress_bar.setMaximumHeight(self.fontMetrics().height() // 2 + 2)
        self.progress_bar.hide()
        self.summary_label = QLabel("Press Evaluate to run the network on a test set.",
                                    objectName="evaluation_summary", wordWrap=True)
        self.summary_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary_label.setMinimumHeight(self.fontMetrics().lineSpacing() * 2)

        self.matrix = ConfusionMatrixView(NOT_YET)
        self.matrix.cell_clicked.connect(self.show_cell)
        self.matrix.cursor_info.connect(self.cursor_info)
        self.gallery_label = QLabel(objectName="gallery_heading", wordWrap=True)
        self.gallery_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.gallery_label.setMinimumHeight(self.fontMetrics().lineSpacing() * 2)
        self.misclassified_button = QPushButton("All mistakes", objectName="show_misclassified",
                                                enabled=False)
        self.misclassified_button.setToolTip("List every misclassified example, most confident "
                                             "first")
        self.misclassified_button.clicked.connect(self.show_misclassified)
        self.grid = ImageGrid(side=48)
        self.grid.setObjectName("example_grid")
        self.grid.setToolTip("Click an image to make it the window's input")
        self.grid.image_clicked.connect(self.show_example)

        controls = QHBoxLayout()
        controls.addWidget(self.source_combo, 1)
        controls.addWidget(self.evaluate_button)
        controls.addWidget(self.cancel_button)
        heading = QHBoxLayout()
        heading.addWidget(self.gallery_label, 1)
        heading.addWidget(self.misclassified_button)
        examples = QWidget()
        examples_layout = QVBoxLayout(examples)
        examples_layout.setContentsMargins(0, 0, 0, 0)
        examples_layout.addLayout(heading)
        examples_layout.addWidget(self.grid, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        self.splitter.addWidget(self.matrix)
        self.splitter.addWidget(examples)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.splitter, 1)

        document.model_changed.connect(self._on_model_changed)
        document.weights_changed.connect(self._on_network_changed)

    # ----------------------------------------------------------------- actions
    def set_sources(self, sources: list[LabelledSetSource]) -> None:
        """Offer ``sources`` in the test-set menu (the first chosen)."""
        self.sources = list(sources)
        self.source_combo.clear()
        for source in self.sources:
            self.source_combo.addItem(source.title)
        self._source_index = 0

    def add_folder(self, folder) -> None:
        """Offer (and choose) the test images of the folder of images ``folder``, made the
        current network's input size."""
        source = folder_source(folder, tuple(self.document.network.contract.shape))
        index = next((i for i, s in enumerate(self.sources) if s.title == source.title), None)
        if index is None:
            index = next((i for i, s in enumerate(self.sources) if s.pick), len(self.sources))
            self.sources.insert(index, source)
            self.source_combo.insertItem(index, source.title)
        else:
            self._loaded.pop(source.title, None)  # read it again: it may have changed
        self.source_combo.setCurrentIndex(index)
        self._source_index = index

    @Slot(int)
    def _on_source_chosen(self, index: int) -> None:
        if not self.sources[index].pick:
            self._source_index = index
            return
        folder = QFileDialog.getExistingDirectory(
            self, "Folder of images, one folder per class (CLASS/*.png or train/ and test/)")
        if folder:
            self.add_folder(folder)
        else:
            self.source_combo.setCurrentIndex(self._source_index)

    @Slot()
    def evaluate(self) -> None:
        """Evaluate the current network on the chosen test set, in the worker."""
        source = self.sources[self.source_combo.currentIndex()]
        if source.pick:
            self._on_source_chosen(self.source_combo.currentIndex())
            return
        network = self.document.network
        # A folder's images are made the network's size: another size, another set.
        shape = tuple(network.contract.shape)
        loaded = self._loaded.get((source.title, shape))
        model, token = network.model.sharing_weights(), network.token
        self.runner.start(lambda progress: ((source.title, shape), evaluate_test_set(
            model, source, loaded, network, token, progress)))

    def shutdown(self) -> bool:
        """Cancel the evaluation and join the worker thread (the window is closing)."""
        return self.runner.shutdown()

    @Slot()
    def show_misclassified(self) -> None:
        """List the misclassified examples, most confidently wrong first."""
        evaluation = self.run.evaluation
        total = len(evaluation.misclassified())
        self._show_examples(misclassified_examples(evaluation, limit=MAX_SHOWN),
                            f"{total:,} mistakes (most confident first)", total)
        self.matrix.select(None)

    @Slot(int, int)
    def show_cell(self, label: int, predicted: int) -> None:
        """List the examples of true class ``label`` predicted as ``predicted``."""
        if self.run is None:
            return
        evaluation = self.run.evaluation
        total = int(evaluation.confusion[label, predicted])
        names = self.run.network.classes
        what = "right" if label == predicted else f"read as {names[predicted]}"
        self._show_examples(cell_examples(evaluation, label, predicted, limit=MAX_SHOWN),
                            f"{total:,} {names[label]}s {what} (most confident first)", total)
        self.matrix.select((label, predicted))

    @Slot(int)
    def show_example(self, index: int) -> None:
        """Make test example ``index`` the window's input (an undoable step)."""
        run = self.run
        if self._shown is not None and self._shown[0] == (run, index) \
                and self._shown[1] is self.document.source:
            return  # the same click reported twice (click and activation)
        pixels = run.test_set.picture(index)
        h, w = pixels.shape[:2]
        name = f"{run.test_set.name} #{index}"
        source = ImageInput(LoadedImage(pixels, "RGB" if pixels.ndim == 3 else "L", (w, h),
                                        Path(name)))
        try:
            self.document.set_source(source, f"Show {name}")
        except SessionError as exc:
            self.summary_label.setText(f"Cannot show {name}: {exc}")
            return
        self._shown = ((run, index), source)

    # ----------------------------------------------------------------- worker
    @Slot()
    def _on_started(self) -> None:
        self.evaluate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.summary_label.setText("Evaluating\u2026")

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)

    @Slot(object)
    def _on_finished(self, outcome) -> None:
        key, run = outcome
        self._idle()
        self._loaded[key] = run.test_set
        self.run = run
        evaluation = run.evaluation
        self.matrix.show_confusion(evaluation.confusion, row_normalized(evaluation.confusion),
                                   evaluation.per_class_accuracy, run.network.classes)
        self._show_summary()
        self.misclassified_button.setEnabled(True)
        self.show_misclassified()

    @Slot()
    def _on_cancelled(self) -> None:
        self._idle()
        self.summary_label.setText("Evaluation cancelled.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._idle()
        if isinstance(self.runner.error, (ValueError, DataError)):
            message = str(self.runner.error)  # an expected failure: its words, no Python name
        self.summary_label.setText(self.runner.failure_text(f"The evaluation failed: {message}"))

    def _idle(self) -> None:
        self.evaluate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress_bar.hide()

    # ----------------------------------------------------------------- display
    def _show_summary(self) -> None:
        run = self.run
        evaluation, n = run.evaluation, len(run.evaluation.labels)
        wrong = int(n - np.trace(evaluation.confusion))
        text = (f"<b>{evaluation.accuracy:.2%}</b> of {n:,} {run.test_set.name} images right "
                f"({wrong:,} wrong), mean loss {evaluation.loss:.3f}. Rows: true class; blue: "
                f"right; yellow to red: confusions, the more the redder; right: each class's "
                f"accuracy. Click a cell to see its images.")
        # Each class's accuracy, worst first, in the tool tip (the matrix's right column has
        # them in class order; the panel's height is the matrix's).
        names = run.network.classes
        counts = evaluation.confusion.sum(axis=1)
        order = np.argsort(evaluation.per_class_accuracy, kind="stable")
        self.summary_label.setToolTip("Accuracy per class, worst first:\n" + "\n".join(
            f"{names[k]}: {evaluation.per_class_accuracy[k]:.1%} of {counts[k]:,}"
            for k in order if counts[k] > 0))
        network = self.document.network
        if run.network is not network or run.token != network.token:
            text += " <i>The network has changed since: evaluate again to update.</i>"
        self.summary_label.setText(text)

    def _show_examples(self, examples: list[Example], heading: str, total: int) -> None:
        name = self.run.test_set.name
        shown = f" (showing {len(examples)})" if total > len(examples) else ""
        self.gallery_label.setText(heading + shown + ":")
        names = self.run.network.classes
        test_set = self.run.test_set
        captions, tips = [], []
        for example in examples:
            captions.append(f"{names[example.label]}\u2192{names[example.predicted]}\n"
                            f"{example.confidence:.0%}")
            runner_up = ", ".join(f"{names[c]} ({p:.1%})" for c, p in
                                  zip(example.top_classes[1:], example.top_probabilities[1:]))
            tips.append(f"{name} #{example.index}: true {names[example.label]}, predicted "
                        f"{names[example.predicted]} ({example.confidence:.1%}); then "
                        f"{runner_up}")
        self.grid.set_images([test_set.picture(e.index) for e in examples], captions,
                             [e.index for e in examples], tips)

    @Slot()
    def _on_model_changed(self) -> None:
        """Another network: the test sets that fit its contract (digits or other images)."""
        contract = self.document.network.contract
        if not self._fixed_sources and _family(contract) != self._family:
            self._family = _family(contract)
            self.set_sources(default_sources(contract))
        self._on_network_changed()

    @Slot()
    def _on_network_changed(self) -> None:
        if self.run is not None:
            self._show_summary()

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        """Matrix beside the gallery when the panel is wide, above it when it is tall."""
        super().resizeEvent(event)
        wide = self.width() > 1.3 * self.height()
        self.splitter.setOrientation(Qt.Orientation.Horizontal if wide
                                     else Qt.Orientation.Vertical)
