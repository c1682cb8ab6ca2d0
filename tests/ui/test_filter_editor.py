"""The Filter Editor: real mouse and key events on the grid change the weights exactly, undo
brings them back bit for bit, presets and operations, Sobel on a drawn bar, dense units, and
editing off while training."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from cnnviz import kernels
from cnnviz.nn import Sequential
from cnnviz.nn.threads import limit_blas_threads
from cnnviz.session import canvas_input
from cnnviz.training.sources import DataSource, offline_digits
from cnnviz.ui.explore.filter_editor import EDITING_HELP, TRAINING_NOTE, filter_for_activation
from cnnviz.ui.train import training_data

pytestmark = pytest.mark.gui
LEFT, NONE = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


@pytest.fixture
def editor(window, qtbot):
    window.docks["filter_editor"].show()
    editor = window.filter_editor
    qtbot.waitUntil(editor.grid.isVisible)
    return editor


def centre(grid, cell):
    return grid.cell_rect(*cell).center()


def weight_bytes(document):
    return {name: value.tobytes() for name, value in document.model.get_weights().items()}


def independent_trace(document, weights):
    """Every layer's output for the document's input, from a fresh model with ``weights``."""
    model = Sequential.from_config(document.model.config())
    model.set_weights(weights)
    return model.trace(document.trace.network_input[None].copy())


def test_a_typed_value_changes_the_trace_as_the_engine_computes_it(window, editor, qtbot):
    document = window.document
    document.set_source(canvas_input(bar_raster()), "Bar")
    editor.select(3, 5)
    before, steps = weight_bytes(document), document.undo_stack.count()
    cell = (2, 1, 3)
    QTest.mouseDClick(editor.grid, LEFT, NONE, centre(editor.grid, cell))
    line = editor.grid.findChild(type(editor.grid._editor), "kernel_cell_editor")
    assert line.isVisible()
    QTest.keyClicks(line, "0.75")
    QTest.keyClick(line, Qt.Key.Key_Return)

    weight = document.model.layers[3].params["weight"]
    assert weight[5, 2, 1, 3] == np.float32(0.75)
    expected = {name: np.frombuffer(data, np.float32).reshape(value.shape).copy()
                for (name, data), value in zip(before.items(), document.model.get_weights().values())}
    expected["3.weight"][5, 2, 1, 3] = 0.75
    engine = independent_trace(document, expected)
    for ours, theirs in zip(document.trace.outputs, engine[1:]):
        np.testing.assert_array_equal(ours, theirs[0])
    assert document.trace.weights_token == document.network.token
    assert document.undo_stack.count() == steps + 1 and document.modified
    assert window.isWindowModified()

    document.undo()
    assert weight_bytes(document) == before and not document.modified
    document.redo()
    assert document.model.layers[3].params["weight"][5, 2, 1, 3] == np.float32(0.75)


def test_a_drag_of_many_moves_is_one_undo_step(window, editor):
    document = window.document
    editor.select(0, 1)
    before, steps = weight_bytes(document), document.undo_stack.count()
    cell = (0, 2, 2)
    start = centre(editor.grid, cell)
    old = float(editor.grid.values[cell])
    step = editor.grid.scrub_step()
    QTest.mousePress(editor.grid, LEFT, NONE, start)
    for dy in range(2, 42, 2):
        QTest.mouseMove(editor.grid, start - type(start)(0, dy))
    QTest.mouseRelease(editor.grid, LEFT, NONE, start - type(start)(0, 40))
    new = float(document.model.layers[0].params["weight"][1, 0, 2, 2])
    assert new == pytest.approx(old + 40 * step, abs=1e-5)
    assert document.undo_stack.count() == steps + 1
    document.undo()
    assert weight_bytes(document) == before


def test_painting_a_stroke_sets_every_cell_it_crosses_in_one_step(window, editor):
    document = window.document
    editor.select(0, 4)
    editor.paint_radio.setChecked(True)
    editor.paint_spin.setValue(0.5)
    steps = document.undo_stack.count()
    QTest.mousePress(editor.grid, LEFT, NONE, centre(editor.grid, (0, 1, 0)))
    for j in range(1, 5):
        QTest.mouseMove(editor.grid, centre(editor.grid, (0, 1, j)))
    QTest.mouseRelease(editor.grid, LEFT, NONE, centre(editor.grid, (0, 1, 4)))
    np.testing.assert_array_equal(document.model.layers[0].params["weight"][4, 0, 1], 0.5)
    assert document.undo_stack.count() == steps + 1
    assert document.undo_stack.undoText().startswith("Paint")


def test_presets_operations_copy_and_paste(window, editor):
    document = window.document
    weight = lambda: document.model.layers[3].params["weight"]  # noqa: E731
    editor.select(3, 2)
    editor.grid.select((4, 0, 0))
    editor.apply_preset("laplacian")
    np.testing.assert_array_equal(weight()[2, 4], kernels.preset("laplacian", 5))
    editor.apply_operation("negate")
    np.testing.assert_array_equal(weight()[2, 4], -kernels.preset("laplacian", 5))
    editor.all_channels.setChecked(True)
    editor.apply_preset("sobel_x")
    editor.apply_operation("transpose")
    assert all(np.array_equal(weight()[2, c], kernels.preset("sobel_y", 5)) for c in range(6))
    editor.scale_spin.setValue(0.5)
    editor.apply_operation("scale")
    np.testing.assert_array_equal(weight()[2, 0], kernels.preset("sobel_y", 5) / 2)
    editor.copy_filter()
    editor.select(3, 9)
    editor.paste_filter()
    np.testing.assert_array_equal(weight()[9], weight()[2])
    editor.select(0, 0)
    assert not editor.buttons["paste"].isEnabled() or editor.clipboard.shape != (1, 5, 5)
    editor.paste_filter()  # 6 channels into a filter of 1: refused, said why
    assert "copied filter" in editor.caption.text()


def test_resets_bring_back_the_loaded_weights(window, editor):
    document = window.document
    loaded = document.network.loaded_weights
    editor.select(0, 1)
    editor.apply_preset("zero")
    editor.select(0, 2)
    editor.apply_preset("identity")
    editor.reset_filter()
    weight = document.model.layers[0].params["weight"]
    np.testing.assert_array_equal(weight[2], loaded["0.weight"][2])
    assert not weight[1].any() and document.modified
    editor.reset_layer()
    assert weight_bytes(document) == {k: v.tobytes() for k, v in loaded.items()}
    assert not document.modified
    editor.apply_preset("box")
    editor.reset_network()
    assert not document.modified
    document.undo()
    assert document.model.layers[0].params["weight"][2, 0, 0, 0] == np.float32(1 / 25)


def bar_raster():
    raster = np.zeros((280, 280), dtype=np.uint8)
    raster[40:240, 120:160] = 255
    return raster


def test_sobel_x_lights_up_the_edges_of_a_drawn_vertical_bar(window, editor):
    document = window.document
    document.set_source(canvas_input(bar_raster()), "Bar")
    editor.select(0, 3)
    editor.apply_preset("sobel_x")
    editor.bias_spin.setValue(0.0)
    x = document.trace.network_input[0]
    maps = document.trace.outputs[0][3]  # the convolution's output, before the ReLU
    assert document.model.layers[0].params["bias"][3] == 0
    rows = np.flatnonzero(x.max(axis=1) > 0.5)
    middle = rows[len(rows) // 2]
    ink = np.flatnonzero(x[middle] > 0.5)
    left, right = ink[0], ink[-1]
    brighter = np.sign(x[middle, left:right + 1].mean() - x[0].mean())  # the bar against paper
    peak = 4 * abs(x[middle, left:right + 1].max() - x[0].mean())  # Sobel on a sharp step: 4x
    assert brighter * maps[middle, left - 1:left + 1].max() > 0.5 * peak
    assert brighter * maps[middle, right:right + 2].min() < -0.5 * peak
    assert abs(int(np.argmax(brighter * maps[middle])) - left) <= 1
    assert abs(int(np.argmin(brighter * maps[middle])) - right) <= 1
    # Where the 3x3 window sees no change, the response is zero.
    padded = np.pad(x, 1, mode="constant")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    flat = windows.max(axis=(2, 3)) == windows.min(axis=(2, 3))
    assert flat.sum() > 300
    np.testing.assert_allclose(maps[flat], 0.0, atol=1e-6)


def test_choosing_a_filter_in_the_filters_panel_and_from_a_feature_map(window, editor, qtbot):
    filters = window.filters_view
    filters.show_layer(3)
    qtbot.wait(50)
    top, left = filters.mosaic.origin(1 * filters.mosaic.columns + 7)  # channel 1 of filter 7
    scene = filters.image_item.mapToScene(QPointF(left + 1.5, top + 1.5))
    point = filters.graphics.mapFromScene(scene)
    QTest.mouseClick(filters.graphics.viewport(), LEFT, NONE, point)
    assert (editor.layer, editor.unit) == (3, 7)
    assert editor.unit_spin.value() == 7 and editor.layer_combo.currentData() == 3
    model = window.document.model
    assert filter_for_activation(model, 3, (4, 1, 1)) == (0, 4)  # pool after conv 0's ReLU
    assert filter_for_activation(model, 0, (0, 1, 1)) is None  # the input
    editor.select_from_activation(9, (11,))
    assert (editor.layer, editor.unit) == (7, 11)


def test_a_dense_unit_is_shown_and_edited_as_maps_of_its_inputs(window, editor):
    document = window.document
    editor.select(7, 5)
    weight = document.model.layers[7].params["weight"]
    np.testing.assert_array_equal(editor.grid.values, weight[5].reshape(16, 5, 5))
    editor.grid.select((9, 2, 3))
    editor.apply_preset("zero")
    weight = document.model.layers[7].params["weight"]
    assert not weight[5, 9 * 25:10 * 25].any() and weight[5, :9 * 25].any()
    editor.select(9, 0)
    assert editor.grid.values.shape == (1, 10, 12)  # 120 inputs as a near-square block


@pytest.fixture
def quick_data(monkeypatch):
    limit_blas_threads(1)
    digits = offline_digits(300, seed=0)
    monkeypatch.setattr(training_data, "load_dataset", lambda *args: digits)


def test_editing_is_off_and_explained_while_training(window, editor, quick_data, qtbot):
    panel = window.training_panel
    panel.select_data(DataSource("offline"))
    panel.count_spin.setValue(300)
    panel.validation_spin.setValue(60)
    panel.settings.epochs_spin.setValue(1000)
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("current"))
    window.docks["filter_editor"].show()
    qtbot.waitExposed(editor)
    minimum = editor.minimumSizeHint()
    with qtbot.waitSignal(panel.run_started, timeout=20000):
        panel.start_button.click()
    assert editor.training_active and not editor.content.isEnabled()
    assert editor.caption.text().endswith(TRAINING_NOTE)
    # The explanation takes no more room than the help it replaces: the window keeps its layout.
    assert editor.minimumSizeHint() == minimum
    steps = window.document.undo_stack.count()
    assert not editor.set_unit_weights(np.zeros((1, 5, 5), np.float32), "refused")
    QTest.mouseDClick(editor.grid, LEFT, NONE, centre(editor.grid, (0, 0, 0)))
    assert not editor.grid._editor.isVisible()
    with qtbot.waitSignal(panel.run_ended, timeout=30000):
        panel.stop_button.click()
    assert window.document.undo_stack.count() <= steps + 1  # only the training's own step
    assert not editor.training_active and editor.content.isEnabled()
    assert editor.caption.text().endswith(EDITING_HELP)
    editor.apply_preset("zero")
    assert not window.document.model.layers[0].params["weight"][0].any()


def open_cell_editor(editor, cell):
    """Double-click ``cell`` of the grid: its editor opens, focused, over the cell."""
    QTest.mouseDClick(editor.grid, LEFT, NONE, centre(editor.grid, cell))
    line = editor.grid.findChild(type(editor.grid._editor), "kernel_cell_editor")
    assert line.isVisible() and line.hasFocus()
    return line


@pytest.fixture
def active_editor(window, editor, qtbot):
    """The editor in an active window (focus moves on clicks, as on a desktop)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    editor.select(3, 5)
    return editor


def test_enter_commits_a_typed_value_once_and_closes_the_editor(window, active_editor):
    editor, document = active_editor, window.document
    steps = document.undo_stack.count()
    line = open_cell_editor(editor, (2, 1, 3))
    QTest.keyClicks(line, "0.75")
    QTest.keyClick(line, Qt.Key.Key_Return)
    assert not line.isVisible() and editor.grid.hasFocus()
    assert document.model.layers[3].params["weight"][5, 2, 1, 3] == np.float32(0.75)
    assert document.undo_stack.count() == steps + 1
    # Clicking elsewhere afterwards, in the grid or on another control, commits nothing again.
    QTest.mouseClick(editor.grid, LEFT, NONE, centre(editor.grid, (0, 0, 0)))
    QTest.mouseClick(editor.bias_spin, LEFT, NONE, editor.bias_spin.rect().center())
    assert not line.isVisible()
    assert document.undo_stack.count() == steps + 1
    document.undo()
    assert document.model.layers[3].params["weight"][5, 2, 1, 3] != np.float32(0.75)


def test_escape_cancels_a_typed_value(window, active_editor):
    editor, document = active_editor, window.document
    before, steps = weight_bytes(document), document.undo_stack.count()
    line = open_cell_editor(editor, (2, 1, 3))
    QTest.keyClicks(line, "0.75")
    QTest.keyClick(line, Qt.Key.Key_Escape)
    assert not line.isVisible() and editor.grid.hasFocus()
    QTest.mouseClick(editor.bias_spin, LEFT, NONE, editor.bias_spin.rect().center())
    assert weight_bytes(document) == before and document.undo_stack.count() == steps
    # A key typed on a selected cell opens the editor with it; Escape again changes nothing.
    editor.grid.setFocus()
    QTest.keyClick(editor.grid, Qt.Key.Key_7)
    assert line.isVisible() and line.text() == "7"
    QTest.keyClick(line, Qt.Key.Key_Escape)
    assert weight_bytes(document) == before and document.undo_stack.count() == steps


@pytest.mark.parametrize("away", ["another control", "another cell"])
def test_clicking_away_commits_a_typed_value_once(window, active_editor, away):
    editor, document = active_editor, window.document
    steps = document.undo_stack.count()
    line = open_cell_editor(editor, (2, 1, 3))
    QTest.keyClicks(line, "-1.5")
    if away == "another control":
        QTest.mouseClick(editor.bias_spin, LEFT, NONE, editor.bias_spin.rect().center())
    else:
        QTest.mouseClick(editor.grid, LEFT, NONE, centre(editor.grid, (0, 4, 4)))
        assert editor.grid.selected == (0, 4, 4)
    assert not line.isVisible()
    assert document.model.layers[3].params["weight"][5, 2, 1, 3] == np.float32(-1.5)
    assert document.undo_stack.count() == steps + 1
    QTest.mouseClick(editor.grid, LEFT, NONE, centre(editor.grid, (1, 0, 0)))
    assert document.undo_stack.count() == steps + 1


def test_a_map_after_batch_normalisation_leads_to_the_convolutions_filter():
    from cnnviz.nn import BatchNorm, Conv2D, Dense, Flatten, ReLU, Sequential

    model = Sequential([Conv2D(out_channels=3, kernel_size=3), BatchNorm(), ReLU(), Flatten(),
                        Dense(out_features=2), BatchNorm()], (1, 6, 6), seed=0)
    assert filter_for_activation(model, 3, (2, 1, 1)) == (0, 2)  # through BatchNorm and ReLU
    assert filter_for_activation(model, 6, (1,)) == (4, 1)  # a dense unit, normalised
