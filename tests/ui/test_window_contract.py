"""The window reads the network's input contract: class names, any number of classes, colour
networks, and the contract kept through Save and Save As."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QFileDialog

from cnnviz.data import CIFAR10_CLASSES, load_image, make_synthetic_digits
from cnnviz.data.pipeline import image_to_input
from cnnviz.nn import Dense, Flatten, Sequential, build_preset, load_network, save_model
from cnnviz.nn.contract import InputContract
from cnnviz.example_networks import shipped_network
from cnnviz.session import NetworkEntry, Session, canvas_input
from cnnviz.ui.interpret.evaluation_view import EvaluationView, LabelledSet, LabelledSetSource
from cnnviz.ui.shared.prediction_panel import PredictionPanel
from cnnviz.ui.window.document import Document

from network_views import digit_raster
from ui_helpers import colour_photo

CIFAR = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                      mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
FRUIT = ("apple", "banana", "cherry")


def fruit_network() -> NetworkEntry:
    model = Sequential([Flatten(), Dense(out_features=3)], input_shape=(3, 12, 12), seed=0)
    contract = InputContract(shape=(3, 12, 12), classes=FRUIT, pipeline="image")
    return NetworkEntry(model, contract=contract)


def shown_ticks(axis) -> list[tuple[float, str]]:
    """The (position, text) of an axis's fixed ticks (a staggered label's line break removed)."""
    return [(k, text.lstrip("\n")) for level in axis._tickLevels for k, text in level]


def drawn_labels(axis) -> list[str]:
    """The labels pyqtgraph draws on the axis as it is now (it drops those that do not fit)."""
    image = QImage(max(1, int(axis.width())), max(1, int(axis.height())),
                   QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text.lstrip("\n") for _, _, text in texts]


@pytest.fixture
def panel(qtbot):
    def make(entry, raster=None, width=900):
        source = canvas_input(raster) if raster is not None else None
        document = Document(Session(entry, source))
        widget = PredictionPanel(document)
        qtbot.addWidget(widget)
        widget.resize(width, 320)
        widget.show()
        qtbot.waitExposed(widget)
        return widget
    return make


def test_the_prediction_shows_the_contracts_class_names_for_three_classes(panel):
    widget = panel(fruit_network(), digit_raster(7))
    probs = widget.probabilities
    assert len(probs) == 3 and widget.class_names == FRUIT
    assert len(widget.bars.opts["height"]) == 3
    top = int(np.argmax(probs))
    assert widget.top_class_label.text() == FRUIT[top]
    second = int(np.argsort(probs)[-2])
    assert widget.runner_up_label.text().startswith(f"next: {FRUIT[second]} ")
    assert shown_ticks(widget.plot.getAxis("bottom")) == list(enumerate(FRUIT))


def test_the_prediction_of_a_colour_network_names_its_ten_classes(panel, qtbot):
    entry = NetworkEntry(build_preset("cifar-tutorial", seed=0), contract=CIFAR)
    widget = panel(entry, digit_raster(4), width=1400)
    assert len(widget.bars.opts["height"]) == 10
    assert widget.top_class_label.text() == CIFAR10_CLASSES[int(np.argmax(widget.probabilities))]
    # Wide enough: every name in full under its bar ...
    assert shown_ticks(widget.plot.getAxis("bottom")) == list(enumerate(CIFAR10_CLASSES))
    assert drawn_labels(widget.plot.getAxis("bottom")) == list(CIFAR10_CLASSES)
    # ... narrow: cut short, never overlapping, never numbers.
    widget.resize(360, 320)
    qtbot.waitUntil(lambda: shown_ticks(widget.plot.getAxis("bottom"))
                    != list(enumerate(CIFAR10_CLASSES)))
    ticks = shown_ticks(widget.plot.getAxis("bottom"))
    assert [k for k, _ in ticks] == list(range(10))
    for k, text in ticks:
        name = CIFAR10_CLASSES[int(k)]
        assert text == name or (text.endswith("\u2026") and name.startswith(text[:-1]))
    assert any(text.endswith("\u2026") for _, text in ticks)
    assert drawn_labels(widget.plot.getAxis("bottom")) == [text for _, text in ticks]
    # The winner's name is never cut, and fits the panel.
    label = widget.top_class_label
    assert label.fontMetrics().horizontalAdvance("automobile") <= widget.width()


def test_digits_are_labelled_as_before(panel):
    widget = panel(shipped_network()[0], digit_raster(7))
    assert widget.top_class_label.text() == "7"
    assert shown_ticks(widget.plot.getAxis("bottom")) == [(k, str(k)) for k in range(10)]
    assert widget.top_class_label.font().pointSize() == 44


def named_digits_test_set(progress=None) -> LabelledSet:
    images, labels = make_synthetic_digits(120, seed=1)
    return LabelledSet("offline digit", images, labels.astype(np.int64))


def test_the_evaluation_names_the_classes(qtbot):
    names = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    shipped = shipped_network()[0]
    contract = InputContract(shape=(1, 28, 28), classes=names, pipeline="digits")
    entry = NetworkEntry(shipped.model, contract=contract)
    document = Document(Session(entry))
    view = EvaluationView(document, [LabelledSetSource("120 digits", named_digits_test_set)])
    qtbot.addWidget(view)
    view.resize(900, 560)
    view.show()
    qtbot.waitExposed(view)
    try:
        with qtbot.waitSignal(view.runner.finished, timeout=10000):
            view.evaluate()
        evaluation = view.run.evaluation
        left = shown_ticks(view.matrix.plot.getAxis("left"))
        assert [text for _, text in left] == list(names)
        view.show_cell(3, 3)
        assert view.gallery_label.text().startswith(
            f"{int(evaluation.confusion[3, 3]):,} threes right")
        assert view.grid.count() == int(evaluation.confusion[3, 3]) > 0
        assert view.grid.item(0).text().startswith("three\u2192three\n")
        assert "true three, predicted three" in view.grid.item(0).toolTip()
    finally:
        assert view.shutdown()


def test_save_and_save_as_keep_the_contract(make_window, tmp_path, monkeypatch):
    contract = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                             fit="pad", fill=0.25, mean=(0.5, 0.4, 0.3), std=(0.2, 0.3, 0.4))
    path = save_model(build_preset("cifar-tutorial", seed=2), tmp_path / "colour.npz",
                      contract=contract)
    window = make_window(model=str(path))
    assert window.document.network.contract == contract
    window.document.set_param("0.bias", np.full(12, 0.5, dtype=np.float32))
    assert window.save_network()  # its own file
    assert load_network(path).contract == contract
    other = tmp_path / "copy.npz"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (str(other), ""))
    assert window.save_network_as()
    assert load_network(other).contract == contract
    assert window.open_network(other, ask=False)
    assert window.document.network.contract == contract
    assert window.prediction_panel.class_names == CIFAR10_CLASSES
    assert not window.errors


def test_a_colour_network_works_in_every_panel(make_window, tmp_path, qtbot):
    path = save_model(build_preset("vgg-small", seed=0), tmp_path / "vgg-small.npz",
                      contract=CIFAR)
    photo = colour_photo(tmp_path / "photo.png")
    window = make_window(model=str(path), image=str(photo))
    document = window.document
    assert not window.errors, window.errors
    trace = document.trace
    assert trace.network_input.shape == (3, 32, 32)
    np.testing.assert_array_equal(trace.network_input, image_to_input(load_image(photo), CIFAR).x)
    panel = window.prediction_panel
    assert len(panel.bars.opts["height"]) == 10 and panel.class_names == CIFAR10_CLASSES
    assert panel.top_class_label.text() in CIFAR10_CLASSES
    assert window.input_view.image.shape == (32, 32, 3)
    assert "digit" not in window.canvas_panel.caption.text()
    # Every layer in the large view; the filters of each convolution.
    combo = window.feature_maps.layer_combo
    for index in range(combo.count()):
        combo.setCurrentIndex(index)
        qtbot.waitUntil(lambda: window.feature_maps.applied_version == document.trace.version)
        assert np.isfinite(window.feature_maps.display).all() and window.feature_maps.display.size > 1
    filters = window.filters_view.layer_combo
    assert filters.count() >= 4  # vgg-small: four convolutions
    for index in range(filters.count()):
        filters.setCurrentIndex(index)
        assert window.filters_view.display.size > 1
    window.docks["layers"].raise_()
    qtbot.waitUntil(lambda: window.layers_overview.applied_version == document.trace.version)
    # Drawing on the canvas feeds the colour network too.
    window.document.set_source(canvas_input(digit_raster(1)), "Stroke")
    assert document.trace.network_input.shape == (3, 32, 32)
    assert not window.errors, window.errors


def test_the_input_panels_describe_the_colour_pipeline_not_digits(make_window, tmp_path):
    path = save_model(build_preset("cifar-tutorial", seed=0), tmp_path / "colour.npz",
                      contract=CIFAR)
    window = make_window(model=str(path))
    # An empty canvas: the hint does not ask for a digit.
    assert "digit" not in window.canvas_panel.caption.text()
    assert window.canvas_panel.caption.text().startswith("Draw")
    assert window.prediction_panel.runner_up_label.text() == "Open an image."
    assert window.open_image(colour_photo(tmp_path / "photo.png"))
    view = window.input_view
    x = window.document.trace.network_input
    # The normalised input is shown as the image it was made from, in [0, 1] ...
    shown = np.clip(x * np.array(CIFAR.std, np.float32)[:, None, None]
                    + np.array(CIFAR.mean, np.float32)[:, None, None], 0, 1)
    np.testing.assert_allclose(view.image, shown.transpose(1, 2, 0), atol=1e-6)
    assert view.caption.text() == "3\u00d732\u00d732, resized and cropped, normalised, from 160\u00d7120"
    assert view.caption.toolTip().startswith("RGB image: resize and centre-crop to 32x32")
    # A picture that already has the network's size was neither resized nor cropped.
    assert window.open_image(colour_photo(tmp_path / "small.png", (32, 32)))
    assert view.caption.text() == "3\u00d732\u00d732, normalised, from 32\u00d732"
    # ... the classes of the Analysis panel are the network's names.
    combo = window.analysis_panel.class_combo
    assert [combo.itemText(i) for i in range(1, combo.count())] == list(CIFAR10_CLASSES)
    assert not window.errors


def test_occlusion_fills_are_picture_values_normalised_as_the_contract_says(tmp_path):
    from cnnviz.analysis import Target, occlusion_map
    from cnnviz.session import ImageInput
    from cnnviz.ui.interpret.analysis_methods import AnalysisSettings, explain

    model = build_preset("cifar-tutorial", seed=0)
    session = Session(NetworkEntry(model, contract=CIFAR),
                      ImageInput(load_image(colour_photo(tmp_path / "photo.png"))))
    trace = session.trace
    settings = AnalysisSettings(method="occlusion", patch=8, stride=4, fill="black")
    got = explain(model.copy(), trace, settings)
    # Black in the picture is (0 - mean) / std in the network's input.
    black = tuple(-m / s for m, s in zip(CIFAR.mean, CIFAR.std))
    expected = occlusion_map(model.copy(), trace.network_input, Target.for_class(trace.top_class),
                             8, 4, black)
    np.testing.assert_allclose(got.values, expected.pixel_map, rtol=1e-5, atol=1e-6)
    zero = occlusion_map(model.copy(), trace.network_input, Target.for_class(trace.top_class),
                         8, 4, 0.0)
    assert not np.allclose(zero.pixel_map, expected.pixel_map)


def test_the_activation_gallery_names_the_classes(qtbot):
    from cnnviz.ui.interpret.activation_gallery import ActivationGallery

    document = Document(Session(NetworkEntry(build_preset("cifar-tutorial", seed=0),
                                             contract=CIFAR)))
    widget = ActivationGallery(document)
    widget.steps_spin.setValue(10)
    qtbot.addWidget(widget)
    widget.resize(420, 560)
    try:
        with qtbot.waitSignal(widget.runner.finished, timeout=20000):
            widget.show()  # the first showing computes the classes
        assert widget.grid.count() == 10
        assert [widget.grid.item(k).text().split("\n")[0] for k in range(10)] == \
            [f"class {name}" for name in CIFAR10_CLASSES]
    finally:
        assert widget.shutdown()
