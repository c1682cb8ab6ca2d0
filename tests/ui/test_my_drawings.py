"""Teach it your handwriting: a digit key or a click on a bar keeps the drawing, labelled, in the
user's own dataset as one undoable step; the My Drawings panel relabels and deletes (undoable)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from cnnviz.data import CIFAR10_CLASSES, load_image_folder
from cnnviz.data.user_drawings import dataset_folder, picture_from_input
from cnnviz.nn import build_preset, save_model
from cnnviz.nn.contract import InputContract

from ui_helpers import colour_photo, draw_digit

pytestmark = pytest.mark.gui

CIFAR = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                      mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))


def kept(data_folder, contract):
    folder = dataset_folder(data_folder, contract)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))


def expected_picture(window) -> np.ndarray:
    """What the network reads now, as 8-bit pixels (independently of the module's helper:
    undo the contract's normalisation by hand)."""
    contract = window.document.network.contract
    x = np.asarray(window.document.trace.network_input, np.float64)
    c = x.shape[0]
    plain = x * np.array(contract.std).reshape(c, 1, 1) + np.array(contract.mean).reshape(c, 1, 1)
    out = np.rint(np.clip(plain, 0, 1) * 255).astype(np.uint8)
    return out[0] if c == 1 else out.transpose(1, 2, 0)


def test_a_digit_key_keeps_the_drawing_and_undo_removes_it(window, data_folder, qtbot):
    contract = window.document.network.contract
    draw_digit(window.canvas_panel.canvas, 7)
    picture = expected_picture(window)
    stack = window.document.undo_stack
    before = stack.count()
    window.canvas_panel.canvas.setFocus()
    QTest.keyClick(window.canvas_panel.canvas, Qt.Key.Key_1)  # "it is a 1"
    assert kept(data_folder, contract) == ["1/0001.png"]
    path = dataset_folder(data_folder, contract) / "1" / "0001.png"
    assert np.array_equal(np.asarray(Image.open(path)), picture)
    assert "\u201c1\u201d" in window.statusBar().currentMessage()
    assert stack.count() == before + 1 and "Label" in window.undo_action.text()
    assert window.document.source.raster.any()  # the drawing stays on the canvas
    window.undo_action.trigger()
    assert kept(data_folder, contract) == []
    window.redo_action.trigger()
    assert kept(data_folder, contract) == ["1/0001.png"]
    assert np.array_equal(np.asarray(Image.open(path)), picture)
    # the folder is a dataset with the network's classes, as cnnviz train --data reads it
    QTest.keyClick(window.canvas_panel.canvas, Qt.Key.Key_1)
    for _ in range(3):
        QTest.keyClick(window.canvas_panel.canvas, Qt.Key.Key_7)
    data = load_image_folder(dataset_folder(data_folder, contract), (1, 28, 28), use_cache=False)
    assert data.class_names == tuple(contract.classes)
    assert {data.class_names[k] for k in np.concatenate([data.train_y, data.test_y])} == {"1", "7"}


def test_nothing_drawn_is_not_kept(window, data_folder):
    count = window.document.undo_stack.count()
    window.label_actions[3].trigger()
    assert kept(data_folder, window.document.network.contract) == []
    assert window.document.undo_stack.count() == count
    assert window.statusBar().currentMessage().startswith("Nothing to label")


def click_bar(panel, qtbot, k: int, height: float = 0.9):
    view = panel.plot.getPlotItem().vb
    scene = view.mapViewToScene(QPointF(k, height))
    widget_point = panel.plot.mapFromScene(scene)
    QTest.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)


def test_a_click_on_a_bar_labels_the_drawing(window, data_folder, qtbot):
    contract = window.document.network.contract
    panel = window.prediction_panel
    draw_digit(window.canvas_panel.canvas, 7)
    qtbot.waitUntil(lambda: len(panel.probabilities) == 10)
    click_bar(panel, qtbot, 9)  # above a short bar: its column counts
    assert kept(data_folder, contract) == ["9/0001.png"]
    click_bar(panel, qtbot, 8.5)  # between two bars: nothing
    assert kept(data_folder, contract) == ["9/0001.png"]
    window.undo_action.trigger()
    assert kept(data_folder, contract) == []


def test_the_gallery_relabels_and_deletes_undoably(window, data_folder, qtbot):
    contract = window.document.network.contract
    folder = dataset_folder(data_folder, contract)
    panel = window.my_drawings_panel
    draw_digit(window.canvas_panel.canvas, 7)
    window.label_actions[4].trigger()
    window.label_actions[9].trigger()
    assert panel.gallery.count() == 2
    data = (folder / "9" / "0001.png").read_bytes()
    docks = window.docks
    window.show_workspace("explore")  # shipped as a tab behind the Filters: brought forward
    window.show_my_drawings_action.trigger()
    assert not docks["my_drawings"].visibleRegion().isEmpty()
    assert docks["filters"].visibleRegion().isEmpty()
    assert docks["my_drawings"] in window.tabifiedDockWidgets(docks["filters"])
    window.show_workspace("interpret")  # not in Interpret: a tab beside Evaluation
    assert not docks["my_drawings"].isVisible()
    window.show_my_drawings_action.trigger()
    assert not docks["my_drawings"].visibleRegion().isEmpty()
    assert docks["my_drawings"] in window.tabifiedDockWidgets(docks["evaluation"])

    panel.gallery.item(1).setSelected(True)  # the 9
    panel.relabel_combo.setCurrentIndex(panel.relabel_combo.findData("4"))
    panel.relabel_button.click()
    assert kept(data_folder, contract) == ["4/0001.png", "4/0002.png"]
    assert (folder / "4" / "0002.png").read_bytes() == data
    window.undo_action.trigger()
    assert kept(data_folder, contract) == ["4/0001.png", "9/0001.png"]
    assert (folder / "9" / "0001.png").read_bytes() == data
    window.redo_action.trigger()
    assert kept(data_folder, contract) == ["4/0001.png", "4/0002.png"]
    window.undo_action.trigger()

    panel.class_combo.setCurrentIndex(panel.class_combo.findData("9"))
    assert panel.gallery.count() == 1
    panel.gallery.item(0).setSelected(True)
    panel.delete_button.click()
    assert kept(data_folder, contract) == ["4/0001.png"] and panel.gallery.count() == 0
    window.undo_action.trigger()
    assert (folder / "9" / "0001.png").read_bytes() == data and panel.gallery.count() == 1
    window.redo_action.trigger()
    assert kept(data_folder, contract) == ["4/0001.png"]
    window.docks["my_drawings"].hide()


def test_a_colour_network_labels_the_opened_photo_with_its_class_names(make_window, data_folder,
                                                                       tmp_path):
    network = save_model(build_preset("cifar-tutorial", seed=0), tmp_path / "colour.npz",
                         contract=CIFAR)
    window = make_window(model=str(network))
    assert window.open_image(colour_photo(tmp_path / "photo.png"))
    assert window.label_actions[3].text() == "As \u201ccat\u201d"
    picture = expected_picture(window)
    window.label_actions[3].trigger()
    assert kept(data_folder, CIFAR) == ["cat/0001.png"]
    path = dataset_folder(data_folder, CIFAR) / "cat" / "0001.png"
    saved = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert picture.shape == saved.shape == (32, 32, 3)
    assert np.abs(saved - picture).max() <= 1  # (float32 rounding)
    assert dataset_folder(data_folder, CIFAR).name.startswith("pictures-3x32x32-")
    window.undo_action.trigger()
    assert kept(data_folder, CIFAR) == []


def test_a_folder_that_cannot_be_written_is_reported_and_nothing_is_pushed(window, data_folder):
    data_folder.mkdir(parents=True, exist_ok=True)
    (data_folder / "my-drawings").write_text("a file where the folder should be")
    draw_digit(window.canvas_panel.canvas, 1)
    count = window.document.undo_stack.count()
    window.label_actions[3].trigger()
    assert window.document.undo_stack.count() == count
    assert window.errors and window.errors[-1][0] == "My Drawings"
    assert "could not be kept" in window.errors[-1][1]


def test_a_digit_typed_into_a_number_box_is_not_a_label(window, data_folder, qtbot):
    draw_digit(window.canvas_panel.canvas, 7)
    spin = window.canvas_panel.brush_spin
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    spin.selectAll()
    QTest.keyClick(spin, Qt.Key.Key_3)
    QTest.keyClick(spin, Qt.Key.Key_0)
    assert spin.value() == 30
    assert kept(data_folder, window.document.network.contract) == []


def test_fine_tuning_becomes_the_networks_weights_as_one_undo_step(window, data_folder, qtbot,
                                                                   monkeypatch):
    from cnnviz.data import Dataset
    from cnnviz.training.sources import offline_digits
    from cnnviz.ui.explore import my_drawings

    train, test = offline_digits(200, seed=0), offline_digits(100, seed=1)
    replay = Dataset(train.train_x, train.train_y, test.train_x, test.train_y, name="drawn")
    monkeypatch.setattr(my_drawings, "replay_data", lambda contract: replay)
    canvas, document = window.canvas_panel.canvas, window.document
    for digit in (7, 1, 0):
        for _ in range(3):
            draw_digit(canvas, digit)
            window.label_actions[digit].trigger()
            document.clear_canvas()
    before = {k: v.copy() for k, v in document.model.get_weights().items()}
    count = document.undo_stack.count()
    panel = window.my_drawings_panel
    panel.tune_button.click()
    qtbot.waitUntil(lambda: panel.tune_button.isEnabled(), timeout=60000)
    assert panel.tune_label.text().startswith("Fine-tuned (held-out drawings (3):")
    assert "drawn:" in panel.tune_label.text()
    assert document.undo_stack.count() == count + 1 and document.modified
    after = document.model.get_weights()
    assert any(not np.array_equal(after[k], before[k]) for k in before)
    window.undo_action.trigger()
    assert all(np.array_equal(document.model.get_weights()[k], before[k]) for k in before)


def test_fine_tuning_without_drawings_says_so(window, data_folder, qtbot):
    panel = window.my_drawings_panel
    count = window.document.undo_stack.count()
    panel.tune_button.click()
    assert panel.tune_button.isEnabled() and not window.my_drawings.runner.running
    assert panel.tune_label.text().startswith("Cannot fine-tune: there are no drawings")
    assert window.document.undo_stack.count() == count


def test_fine_tuning_a_colour_network_without_its_training_set_is_refused(
        make_window, data_folder, tmp_path, qtbot, monkeypatch):
    monkeypatch.delenv("CNNVIZ_CIFAR_DIR", raising=False)
    from cnnviz.data import loaders
    monkeypatch.setattr(loaders, "find_cifar10", lambda: None)
    network = save_model(build_preset("cifar-tutorial", seed=0), tmp_path / "colour.npz",
                         contract=CIFAR)
    window = make_window(model=str(network))
    assert window.open_image(colour_photo(tmp_path / "photo.png"))
    window.label_actions[3].trigger()
    count = window.document.undo_stack.count()
    panel = window.my_drawings_panel
    panel.tune_button.click()
    qtbot.waitUntil(lambda: panel.tune_button.isEnabled(), timeout=30000)
    assert panel.tune_label.text().startswith("Cannot fine-tune: there is no training set")
    assert window.errors and window.errors[-1][0] == "My Drawings"
    assert window.document.undo_stack.count() == count


def test_deleting_several_drawings_is_one_undo_step(window, data_folder):
    contract = window.document.network.contract
    draw_digit(window.canvas_panel.canvas, 7)
    for digit in (7, 7, 1):
        window.label_actions[digit].trigger()
    panel = window.my_drawings_panel
    for row in range(panel.gallery.count()):
        panel.gallery.item(row).setSelected(True)
    count = window.document.undo_stack.count()
    panel.delete_button.click()
    assert kept(data_folder, contract) == [] and window.document.undo_stack.count() == count + 1
    window.undo_action.trigger()
    assert kept(data_folder, contract) == ["1/0001.png", "7/0001.png", "7/0002.png"]
