"""The Activation Maximisation panel: the analysis gallery, in a worker that can be cancelled."""

import numpy as np
import pytest

from cnnviz.analysis import gallery
from cnnviz.nn import build_preset
from cnnviz.example_networks import shipped_network
from cnnviz.session import NetworkEntry, Session
from cnnviz.ui.interpret.activation_gallery import ActivationGallery, gallery_layers
from cnnviz.ui.window.document import Document


@pytest.fixture
def document():
    return Document(Session(shipped_network()[0]))


@pytest.fixture
def panel(qtbot, document):
    widget = ActivationGallery(document)
    widget.steps_spin.setValue(20)
    qtbot.addWidget(widget)
    widget.resize(420, 560)
    with qtbot.waitSignal(widget.runner.finished, timeout=10000):
        widget.show()                       # the first showing computes the classes
    yield widget
    assert widget.shutdown()
    assert not widget.runner.running


def choose(combo, data) -> None:
    combo.setCurrentIndex(combo.findData(data))


def test_layers_offered_and_the_classes_first(panel, document):
    model = document.model
    offered = [panel.layer_combo.itemData(i) for i in range(panel.layer_combo.count())]
    assert offered == gallery_layers(model) == [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11]
    assert panel.settings().layer == 11
    assert panel.grid.count() == 10
    assert panel.grid.item(7).text().startswith("class 7")


def test_the_gallery_is_the_analysis_gallery(qtbot, panel, document):
    with qtbot.waitSignal(panel.runner.finished, timeout=10000):
        choose(panel.layer_combo, 3)
    expected = gallery(document.model.copy(), 3, steps=20)
    assert len(panel.results) == panel.grid.count() == 16
    for got, want in zip(panel.results, expected):
        np.testing.assert_allclose(got.image, want.image, atol=1e-6)
        assert got.target == want.target
    assert panel.crop_check.isEnabled()
    with qtbot.waitSignal(panel.runner.finished, timeout=10000):
        choose(panel.objective_combo, "channel")
    assert panel.results[0].target.channel == 0
    assert not panel.crop_check.isEnabled()


def test_progress_then_cancel_leaves_the_window_responsive_and_no_thread(qtbot, panel):
    before = [panel.grid.item(i).text() for i in range(panel.grid.count())]
    panel.steps_spin.setValue(2000)
    choose(panel.layer_combo, 7)             # 120 units, 2000 steps: many seconds
    panel.compute()
    steps = []
    panel.runner.progress.connect(lambda done, total: steps.append((done, total)))
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=10000)
    assert panel.cancel_button.isEnabled() and not panel.compute_button.isEnabled()
    assert panel.progress_bar.isVisible() and panel.progress_bar.maximum() == 2000
    assert 0 < steps[-1][0] < 2000
    thread = panel.runner.thread
    with qtbot.waitSignal(panel.runner.cancelled, timeout=5000):
        panel.cancel_button.click()
    assert thread.isFinished() and not panel.runner.running
    assert panel.compute_button.isEnabled() and not panel.progress_bar.isVisible()
    assert [panel.grid.item(i).text() for i in range(panel.grid.count())] == before
    assert "Cancelled" in panel.status_label.text()


def test_new_weights_mark_the_gallery_stale_and_a_new_network_recomputes(qtbot, panel,
                                                                        document):
    weights = document.model.named_params()
    document.set_param("11.bias", weights["11.bias"] + 1.0)
    assert "weights have changed" in panel.status_label.text()
    assert not panel.runner.running
    with qtbot.waitSignal(panel.runner.finished, timeout=10000):
        document.set_network(NetworkEntry(build_preset("tiny", seed=0)))
    assert panel.settings().layer == len(document.model.layers) - 1


def test_a_hidden_gallery_waits_until_shown(qtbot, panel):
    panel.hide()
    choose(panel.layer_combo, 0)
    assert not panel.runner.running
    with qtbot.waitSignal(panel.runner.finished, timeout=10000):
        panel.show()
    assert len(panel.results) == 6
