"""Big networks (VGG-16) in the window: the trace of a new input is computed in a worker thread,
its progress shown after half a second, stale passes dropped; the Prediction shows the top 5 of
many classes.

A small stand-in (3x32x32, 1,000 classes) plays the big network here, made to run in the
background by lowering the document's threshold, and held in its worker by a gate in one of its
layers, so that "the pass is still running" is a state the test controls, not a race.
``benchmarks/onnx_vgg16.py --window`` times the real VGG-16 in the real window.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import load_image
from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, build_preset, save_model
from cnnviz.session import ImageInput, NetworkEntry, Session, compute_trace
from cnnviz.ui.explore.receptive_field import effective_field
from cnnviz.ui.shared import prediction_panel
from cnnviz.ui.shared.prediction_panel import TOP_K, shown_classes
from cnnviz.ui.window import document as document_module
from cnnviz.ui.window.document import PROGRESS_DELAY_MS, Document, runs_in_background

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_layers():
    layers = []
    for v in VGG16:
        layers += ([MaxPool2D(size=2)] if v == "M" else
                   [Conv2D(out_channels=v, kernel_size=3, padding="same"), ReLU()])
    return layers + [Flatten(), Dense(out_features=4096), ReLU(), Dense(out_features=4096),
                     ReLU(), Dense(out_features=1000)]


def stand_in(seed=0) -> Sequential:
    """3x32x32 in, 1,000 classes out: VGG-16's ends, small enough for a test."""
    return Sequential([Conv2D(out_channels=8, kernel_size=3, padding="same"), ReLU(),
                       MaxPool2D(size=2), Conv2D(out_channels=8, kernel_size=3, padding="same"),
                       ReLU(), MaxPool2D(size=2), Flatten(), Dense(out_features=1000)],
                      input_shape=(3, 32, 32), seed=seed, name="stand-in")


class Gate:
    """Holds every pass outside the GUI thread in its first ReLU until :meth:`open`; records
    the thread of every pass."""

    def __init__(self, monkeypatch):
        self.event = threading.Event()
        self.threads = []
        self.waited = 0
        original = ReLU.forward
        gate = self

        def forward(layer, x, training=False):
            if threading.current_thread() is not threading.main_thread():
                gate.waited += 1
                assert gate.event.wait(20), "the test never opened the gate"
            return original(layer, x, training)

        original_trace = Sequential.trace

        def trace(model, x, progress=None):
            gate.threads.append(threading.current_thread() is threading.main_thread())
            return original_trace(model, x, progress)

        monkeypatch.setattr(ReLU, "forward", forward)
        monkeypatch.setattr(Sequential, "trace", trace)

    def close(self):
        self.event.clear()

    def open(self):
        self.event.set()


@pytest.fixture
def background(monkeypatch):
    """Every network computes its traces in the worker thread."""
    monkeypatch.setattr(document_module, "BACKGROUND_MACS", 0)


def photo(path, seed):
    pixels = (np.random.default_rng(seed).random((40, 48, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def top5(probabilities):
    order = sorted(range(len(probabilities)), key=lambda k: (-probabilities[k], k))
    return order[:TOP_K]


def test_vgg16_runs_in_the_background_and_the_small_networks_do_not():
    vgg = SimpleNamespace(layers=vgg16_layers(), input_shape=(3, 224, 224))
    assert runs_in_background(vgg)
    for name in ("lenet5", "vgg-small", "cifar-tutorial"):
        assert not runs_in_background(build_preset(name, seed=0))


def test_the_top_five_of_many_classes_most_probable_first():
    rng = np.random.default_rng(1)
    for count in (21, 100, 1000):
        p = rng.random(count).astype(np.float32)
        p[[3, 7]] = p.max() + 1  # a tie: the lower class first
        assert shown_classes(p).tolist() == top5(p)
    for count in (1, 3, 10, prediction_panel.MAX_BARS):
        assert shown_classes(rng.random(count)).tolist() == list(range(count))


def test_a_big_network_opens_and_follows_its_input_without_blocking_the_window(
        make_window, qtbot, tmp_path, background, monkeypatch):
    path = save_model(stand_in(), tmp_path / "stand-in.npz")
    window = make_window(size=(1366, 768))
    gate = Gate(monkeypatch)
    gate.open()
    assert window.open_network(path, ask=False)
    document = window.document
    assert document.model.name == "stand-in" and document.in_background
    # Its first pass ran in the file worker, none in the GUI thread.
    assert gate.threads and not any(gate.threads)
    assert document.trace.source is document.source

    # The Prediction: the top 5 of 1,000 classes, each under its name.
    panel = window.prediction_panel
    probs = document.trace.probabilities
    assert len(panel.bars.opts["height"]) == TOP_K
    assert panel.shown.tolist() == top5(probs)
    np.testing.assert_array_equal(panel.bars.opts["height"], probs[top5(probs)])
    ticks = panel.plot.getAxis("bottom")._tickLevels[0]
    assert [k for k, _ in ticks] == list(range(TOP_K))
    assert "1,000 classes" in panel.plot.getAxis("bottom").labelText

    shown = []
    document.trace_changed.connect(lambda trace: shown.append(trace.source))
    first = ImageInput(load_image(photo(tmp_path / "a.png", 1)))
    second = ImageInput(load_image(photo(tmp_path / "b.png", 2)))
    before = document.trace
    pending = []
    document.trace_pending.connect(lambda on: pending.append((on, time.perf_counter())))
    gate.close()
    started = time.perf_counter()
    document.set_image(first)
    # At once: the new input is the document's, its pass runs in the worker (held by the gate:
    # were it in the GUI thread, the test would hang here until the gate's timeout).
    assert document.source is first and document.computing
    assert document.trace is before and not shown
    # After half a second, the status bar says so, with the layers as progress.
    assert not window.trace_status.isVisible()
    qtbot.waitUntil(window.trace_status.isVisible, timeout=5000)
    assert pending[0][0] and pending[0][1] - started >= PROGRESS_DELAY_MS / 1000
    assert window.trace_status.progress.maximum() == len(document.model.layers)
    assert "stand-in" in window.trace_status.label.text()
    # A newer input while the pass runs: the first one's outcome is never shown.
    document.set_image(second)
    assert document.source is second
    gate.open()
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    assert shown == [second]
    assert not any(gate.threads), "a pass ran in the GUI thread"
    trace = document.trace
    assert trace.source is second and trace.version > before.version
    expected = compute_trace(document.model, second, 0, 0, document.network.contract)
    np.testing.assert_array_equal(trace.probabilities, expected.probabilities)
    qtbot.waitUntil(lambda: not window.trace_status.isVisible(), timeout=5000)
    assert [on for on, _ in pending] == [True, False]
    assert panel.shown.tolist() == top5(trace.probabilities)

    # Undo brings the first input back, through the worker too.
    gate.threads.clear()
    document.undo()
    assert document.source is first
    qtbot.waitUntil(lambda: document.trace.source is first, timeout=10000)
    assert shown == [second, first] and gate.threads == [False]


def test_weights_changed_during_a_pass_are_in_its_trace(qtbot, tmp_path, background, monkeypatch):
    document = Document(Session(NetworkEntry(stand_in())))
    gate = Gate(monkeypatch)
    source = ImageInput(load_image(photo(tmp_path / "a.png", 3)))
    document.set_image(source)
    qtbot.waitUntil(lambda: gate.waited == 1, timeout=5000)
    bias = document.model.named_params()["7.bias"]
    document.set_param("7.bias", bias + 1.0)  # while the pass runs with the old weights
    gate.open()
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    trace = document.trace
    assert trace.source is source and trace.weights_token == document.network.token
    expected = compute_trace(document.model, source, 0, 0, document.network.contract)
    np.testing.assert_array_equal(trace.probabilities, expected.probabilities)
    document.trace_runner.shutdown()


def test_a_failing_pass_is_reported_and_the_input_goes_back(make_window, qtbot, tmp_path,
                                                             background, monkeypatch):
    window = make_window()
    document = window.document
    document.set_network(NetworkEntry(stand_in()))
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    shown_source = document.source

    def broken(model, x, progress=None):
        raise MemoryError()

    monkeypatch.setattr(Sequential, "trace", broken)
    document.set_image(ImageInput(load_image(photo(tmp_path / "a.png", 4))))
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    assert document.source is shown_source and document.trace.source is shown_source
    assert len(window.errors) == 1 and "not enough memory" in window.errors[0][1]


def test_a_big_networks_effective_field_is_computed_off_the_gui_thread(
        make_window, qtbot, tmp_path, background, monkeypatch):
    window = make_window()
    document = window.document
    document.set_network(NetworkEntry(stand_in()))
    document.set_image(ImageInput(load_image(photo(tmp_path / "a.png", 5))))
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    window.feature_maps.effective_check.setChecked(True)
    gate = Gate(monkeypatch)
    controller = window.receptive_field
    unit = (4, (2, 5, 6))  # the second ReLU's channel 2, row 5, column 6
    controller._on_unit_hovered(unit)
    qtbot.waitUntil(lambda: gate.waited == 1, timeout=5000)  # in the worker, not here
    assert controller.heat is None
    gate.open()
    qtbot.waitUntil(lambda: controller.heat is not None, timeout=10000)
    expected = effective_field(document.model, document.trace.network_input, *unit)
    np.testing.assert_allclose(controller.heat, expected, rtol=1e-5, atol=1e-7)
    # The unit reads input rows 7..14, columns 9..16 (conv 3, pool 2, conv 3).
    assert expected[7:15, 9:17].max() == 1 and not expected[:7].any() and not expected[15:].any()


def test_the_padding_hatch_is_the_span_outside_every_tile(qapp):
    """The hatched padding of a window over hundreds of channels, computed once per
    arrangement of neighbouring tiles, is exactly the boxes minus the union of all tiles."""
    from PySide6.QtCore import QPointF, QRectF
    from PySide6.QtGui import QPainterPath

    from cnnviz.display import LayerWindow, Mosaic
    from cnnviz.ui.shared.window_overlay import window_paths

    rng = np.random.default_rng(0)
    for count, size, columns, gap, span in [(512, 14, 23, 1, (-3, -2, 16, 15)),
                                            (64, 56, 8, 7, (-18, -9, 73, 60)),
                                            (10, 5, 4, 1, (-7, -1, 4, 12)),
                                            (7, 3, 3, 2, (-1, -1, 3, 3))]:
        mosaic = Mosaic(count, size, size, columns, gap)
        channels = np.sort(rng.choice(count, size=min(count, 40), replace=False))
        window = LayerWindow(0, channels, np.arange(size), np.arange(size), span)
        _, boxes, padding = window_paths(mosaic, window)
        tiles = QPainterPath()
        for c in range(count):
            y0, x0 = mosaic.origin(c)
            tiles.addRect(QRectF(x0, y0, size, size))
        expected = boxes.subtracted(tiles)
        # Every pixel centre of every box (the padding lies within them), and a ring around.
        points = {(y0 + y + 0.5, x0 + x + 0.5) for y0, x0 in map(mosaic.origin, channels)
                  for y in range(span[0] - 1, span[2] + 2) for x in range(span[1] - 1, span[3] + 2)}
        got = [padding.contains(QPointF(x, y)) for y, x in sorted(points)]
        want = [expected.contains(QPointF(x, y)) for y, x in sorted(points)]
        assert got == want and any(want) and not all(want)


def test_a_big_networks_new_weights_are_traced_in_the_worker(qtbot, tmp_path, background,
                                                              monkeypatch):
    """An edit of a weight (Filter Editor, undo) on a big network: the new trace comes from the
    worker, the views keep the previous one meanwhile."""
    document = Document(Session(NetworkEntry(stand_in())))
    source = ImageInput(load_image(photo(tmp_path / "a.png", 6)))
    document.set_image(source)
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    gate = Gate(monkeypatch)
    before = document.trace
    shown, modified = [], []
    document.trace_changed.connect(shown.append)
    document.modified_changed.connect(modified.append)
    bias = document.model.named_params()["7.bias"].copy()
    document.set_param("7.bias", bias + 1.0, "Edit")
    assert modified == [True] and document.computing and document.trace is before
    qtbot.waitUntil(lambda: gate.waited == 1, timeout=5000)
    gate.open()
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    assert len(shown) == 1 and shown[0] is document.trace
    assert document.trace.weights_token == document.network.token
    assert document.trace.source is source and not any(gate.threads[:1])
    expected = compute_trace(document.model, source, 0, 0, document.network.contract)
    np.testing.assert_array_equal(document.trace.probabilities, expected.probabilities)
    # Undo: the old weights, their trace again from the worker.
    gate.threads.clear()
    document.undo()
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    assert gate.threads == [False] and modified == [True, False]
    np.testing.assert_array_equal(document.trace.probabilities, before.probabilities)
    document.trace_runner.shutdown()


def test_closing_the_window_stops_a_pass_in_progress(make_window, qtbot, tmp_path, background,
                                                     monkeypatch):
    from cnnviz.ui.shared import workers

    window = make_window()
    document = window.document
    document.set_network(NetworkEntry(stand_in()))
    qtbot.waitUntil(lambda: not document.computing, timeout=10000)
    gate = Gate(monkeypatch)
    steps = []
    document.trace_progress.connect(lambda done, total: steps.append(done))
    document.set_image(ImageInput(load_image(photo(tmp_path / "a.png", 7))))
    qtbot.waitUntil(lambda: gate.waited == 1, timeout=5000)
    opener = threading.Timer(0.1, gate.open)  # while the window waits for the worker to stop
    opener.start()
    window.close()
    opener.join()
    assert not document.trace_runner.running and workers.detached_threads() == 0
    # It stopped at the next layer: the ReLU (layer 1) done, nothing after.
    assert max(steps, default=0) <= 2


def wide_network() -> Sequential:
    """150 and 130 filters, 1,000 classes: more labels than are ever shown."""
    return Sequential([Conv2D(out_channels=150, kernel_size=3, padding="same"), ReLU(),
                       Conv2D(out_channels=130, kernel_size=3, padding="same"), ReLU(),
                       Flatten(), Dense(out_features=1000)],
                      input_shape=(3, 6, 6), seed=0, name="wide")


def visible_labels(items):
    return sorted((item.textItem.toPlainText(), round(item.pos().x(), 3), round(item.pos().y(), 3))
                  for item in items if item.isVisible())


@pytest.mark.parametrize("size", [(900, 700), (1600, 1200)])
def test_many_filters_and_classes_make_few_labels_and_show_the_same(qtbot, monkeypatch, size):
    """Labels of hundreds of filters, channels or classes: only those that can be shown are
    made (a thousand text items took 0.7-0.9 s to show a VGG-16 layer); what is visible is the
    same as when every one was made."""
    import pyqtgraph as pg
    from network_views import show_views

    from cnnviz.ui.shared import feature_maps as fm_module
    from cnnviz.ui.shared.filters_view import FiltersView

    def shown(capped: bool):
        if not capped:  # every label made, as before
            monkeypatch.setattr(FiltersView, "_thin_labels", eager_thin_labels)
            monkeypatch.setattr(fm_module, "MAX_OUTPUT_LABELS", 10**6)
        views = show_views(qtbot, Document(Session(NetworkEntry(wide_network()))))
        views.resize(*size)
        views.filters.show_layer(2)
        views.feature_maps.set_layer(6)
        qtbot.wait(50)
        result = (len(views.filters._labels), visible_labels(views.filters._labels),
                  len(views.feature_maps._labels))
        views.close()
        monkeypatch.undo()
        return result

    lazy_thin_labels = FiltersView._thin_labels

    def eager_thin_labels(view, metrics, scale):
        for place in view._label_places:
            if place[0] is None:
                text, position, anchor = place[3:]
                place[0] = pg.TextItem(text, anchor=anchor)
                place[0].setPos(*position)
                view.viewbox.addItem(place[0], ignoreBounds=True)
                view._labels.append(place[0])
        lazy_thin_labels(view, metrics, scale)

    made, filters_shown, classes = shown(True)
    all_made, all_filters_shown, all_classes = shown(False)
    assert all_made >= 130 + 150 + 1 and made * 4 < all_made
    assert filters_shown == all_filters_shown and len(filters_shown) >= 4
    assert all_classes == 1000 and classes == 10  # 0, 100, ... 900


def test_channel_labels_leave_room_for_the_bias_label(qtbot):
    """512 input channels in a small panel: every 100th channel is named, but not one so close to
    the bias row that their labels would overlap ("in 500" was drawn over "bias")."""
    from network_views import show_views

    network = Sequential([Conv2D(out_channels=512, kernel_size=1), ReLU(),
                          Conv2D(out_channels=2, kernel_size=3, padding="same"), ReLU(),
                          Flatten(), Dense(out_features=3)], input_shape=(3, 4, 4), seed=0)
    views = show_views(qtbot, Document(Session(NetworkEntry(network))))
    views.resize(900, 420)
    views.filters.show_layer(2)
    qtbot.wait(50)
    rows = {}
    for label in views.filters._labels:
        if label.isVisible():
            rows[label.textItem.toPlainText()] = label.pos().y()
    assert "bias" in rows and "in 0" in rows
    channel_rows = sorted(y for text, y in rows.items() if text.startswith("in "))
    gaps = np.diff(channel_rows)
    assert len(channel_rows) >= 2 and rows["bias"] - channel_rows[-1] >= gaps.min() * 0.99
    views.close()
