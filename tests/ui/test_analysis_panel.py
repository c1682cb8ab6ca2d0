"""The Analysis panel: its maps are the analysis functions' maps, for the current input."""

import numpy as np
import pytest

from cnnviz.analysis import (Target, grad_cam, normalize, occlusion_map, saliency_map,
                             smooth_grad, vanilla_gradient)
from cnnviz.data import make_synthetic_digits
from cnnviz.example_networks import shipped_network
from cnnviz.session import Session, canvas_input
from cnnviz.ui.interpret.analysis_methods import feature_layers
from cnnviz.ui.interpret.analysis_panel import AnalysisPanel
from cnnviz.ui.window.document import Document


def digit(seed: int, index: int = 0) -> np.ndarray:
    """A 28x28 uint8 offline digit (white on black), usable as a canvas raster."""
    return make_synthetic_digits(index + 1, seed=seed)[0][index]


@pytest.fixture
def document():
    doc = Document(Session(shipped_network()[0]))
    doc.set_source(canvas_input(digit(7)), "Draw")      # a 0
    return doc


@pytest.fixture
def panel(qtbot, document):
    widget = AnalysisPanel(document)
    qtbot.addWidget(widget)
    widget.resize(360, 560)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert widget.shutdown()
    assert not widget.runner.running


def choose(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not offered"
    combo.setCurrentIndex(index)


def model_and_input(document):
    return document.model.copy(), document.trace.network_input


def test_gradient_overlay_is_the_saliency_map_of_the_current_input(panel, document):
    model, x = model_and_input(document)
    expected = saliency_map(vanilla_gradient(model, x, document.trace.top_class))
    shown = panel.explanation
    assert shown.settings.method == "gradient"
    assert shown.version == document.trace.version
    np.testing.assert_allclose(shown.values, expected, rtol=1e-6)
    np.testing.assert_allclose(panel.heat_item.image, normalize(expected, percentile=99))
    assert panel.heat_item.isVisible()

    document.set_source(canvas_input(digit(7, 2)), "Draw")    # a 1: the map follows at once
    x = document.trace.network_input
    expected = saliency_map(vanilla_gradient(model, x, document.trace.top_class))
    np.testing.assert_allclose(panel.explanation.values, expected, rtol=1e-6)


def test_choosing_a_class_explains_that_class(panel, document):
    predicted = panel.explanation
    assert predicted.target_class == document.trace.top_class == 0
    choose(panel.class_combo, 6)
    model, x = model_and_input(document)
    assert panel.explanation.target_class == 6
    np.testing.assert_allclose(panel.explanation.values,
                               saliency_map(vanilla_gradient(model, x, 6)), rtol=1e-6)
    assert not np.allclose(panel.explanation.values, predicted.values)
    assert "class 6" in panel.caption.text()


def test_occlusion_through_the_panel_equals_occlusion_map(qtbot, panel, document):
    choose(panel.method_combo, "occlusion")
    panel.patch_spin.setValue(5)
    panel.stride_spin.setValue(3)
    with qtbot.waitSignal(panel.explanation_ready, timeout=5000):
        choose(panel.fill_combo, "mean")
    model, x = model_and_input(document)
    expected = occlusion_map(model, x, Target.for_class(0), patch=5, stride=3, fill="mean")
    shown = panel.explanation
    assert (shown.settings.patch, shown.settings.stride, shown.settings.fill) == (5, 3, "mean")
    np.testing.assert_allclose(shown.values, expected.pixel_map, rtol=1e-5, atol=1e-6)
    assert "logit" in panel.caption.text()

    with qtbot.waitSignal(panel.explanation_ready, timeout=5000):
        choose(panel.measure_combo, "probability")
    probability = occlusion_map(model, x, 0, patch=5, stride=3, fill="mean")
    np.testing.assert_allclose(panel.explanation.values, probability.pixel_map, atol=1e-6)


def test_smooth_grad_runs_in_the_worker_with_its_parameters(qtbot, panel, document):
    panel.samples_spin.setValue(8)
    with qtbot.waitSignals([panel.runner.started, panel.explanation_ready], timeout=5000):
        choose(panel.method_combo, "smooth_grad")
    model, x = model_and_input(document)
    expected = saliency_map(smooth_grad(model, x, 0, n=8, noise=0.15))
    np.testing.assert_allclose(panel.explanation.values, expected, rtol=1e-5, atol=1e-7)


def test_a_burst_of_input_changes_starts_one_worker_computation(qtbot, panel, document):
    choose(panel.method_combo, "occlusion")
    qtbot.waitUntil(lambda: panel.explanation.settings.method == "occlusion", timeout=5000)
    starts = []
    panel.runner.started.connect(lambda: starts.append(document.trace.version))
    rasters = [digit(11, i) for i in range(12)]
    for raster in rasters:                 # like a stroke: one new trace every few ms
        document.update_stroke(raster)
        qtbot.wait(5)
    document.end_stroke()
    qtbot.waitUntil(lambda: panel.explanation.version == document.trace.version, timeout=5000)
    assert starts == [document.trace.version]
    model, x = model_and_input(document)
    expected = occlusion_map(model, x, Target.for_class(document.trace.top_class))
    np.testing.assert_allclose(panel.explanation.values, expected.pixel_map, atol=1e-5)


def test_grad_cam_layers_and_an_all_zero_map_is_explained(panel, document):
    document.set_source(canvas_input(digit(9)), "Draw")   # a 0 with all-zero Grad-CAM maps
    model, x = model_and_input(document)
    offered = [panel.layer_combo.itemData(i) for i in range(panel.layer_combo.count())]
    assert offered == feature_layers(model) == [0, 1, 2, 3, 4, 5]
    choose(panel.method_combo, "grad_cam")
    assert panel.explanation.settings.layer == 4          # the last convolution's ReLU
    np.testing.assert_allclose(panel.explanation.values, grad_cam(model, x, 4, 0).heatmap)
    assert panel.heat_item.isVisible()

    zero = [(layer, k) for layer in offered for k in range(10)
            if not grad_cam(model, x, layer, Target.for_class(k)).raw.max() > 0]
    assert zero, "this digit was chosen because some Grad-CAM map of it is all zero"
    layer, k = zero[0]
    choose(panel.layer_combo, layer)
    choose(panel.class_combo, k)
    assert panel.explanation.empty
    assert not panel.heat_item.isVisible()
    assert "zero everywhere" in panel.caption.text()


def test_blank_input_and_opacity(panel, document):
    panel.opacity_slider.setValue(40)
    assert panel.heat_item.opacity() == pytest.approx(0.4)
    document.clear_canvas()
    assert panel.explanation is None
    assert not panel.heat_item.isVisible()
    assert "draw a digit" in panel.caption.text()


def test_a_hidden_panel_computes_nothing_until_shown(qtbot, panel, document):
    panel.hide()
    before = panel.explanation
    document.set_source(canvas_input(digit(7, 1)), "Draw")
    assert panel.explanation is before
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.explanation.version == document.trace.version


def test_closing_while_the_worker_runs_leaves_no_thread(qtbot, panel):
    panel.samples_spin.setValue(200)
    with qtbot.waitSignal(panel.runner.started, timeout=5000):
        choose(panel.method_combo, "smooth_grad")
    thread = panel.runner.thread
    assert panel.shutdown()
    assert thread.isFinished() and not panel.runner.running


def test_a_big_networks_gradient_is_computed_in_the_worker(qtbot, document, monkeypatch):
    """On a network whose passes run in the background (VGG-16), even the quick gradient is
    computed in the worker, never in the GUI thread."""
    from cnnviz.ui.window import document as document_module

    monkeypatch.setattr(document_module, "BACKGROUND_MACS", 0)
    widget = AnalysisPanel(document)
    qtbot.addWidget(widget)
    widget.resize(360, 560)
    with qtbot.waitSignal(widget.runner.started, timeout=5000):
        widget.show()
    assert widget.explanation is None or widget.explanation.version != document.trace.version
    qtbot.waitUntil(lambda: widget.explanation is not None
                    and widget.explanation.version == document.trace.version, timeout=10000)
    model, x = model_and_input(document)
    expected = saliency_map(vanilla_gradient(model, x, document.trace.top_class))
    np.testing.assert_allclose(widget.explanation.values, expected, rtol=1e-6)
    assert widget.shutdown()
