"""Opening, saving and dropping files; bad files; unsaved changes; settings across restarts."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSize, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from cnnviz.nn import load_model
from cnnviz.session import CanvasInput, ImageInput
from cnnviz.ui.window import settings
from cnnviz.ui.window.file_actions import NETWORK_FILTER, ONNX_FILTER
from ui_helpers import draw_digit, state_of

pytestmark = pytest.mark.gui

SAVE, DISCARD, CANCEL = (QMessageBox.StandardButton.Save, QMessageBox.StandardButton.Discard,
                         QMessageBox.StandardButton.Cancel)


@pytest.fixture
def dialogs(monkeypatch):
    """Answer the file dialogs with ``dialogs["open"]`` / ``dialogs["save"]``; records calls."""
    answers = {"open": "", "save": "", "calls": []}

    def get_open(parent, caption, folder, filters):
        answers["calls"].append(("open", caption, folder, filters))
        return answers["open"], ""

    def get_save(parent, caption, suggestion, filters, selected=""):
        answers["calls"].append(("save", caption, suggestion, filters))
        return answers["save"], answers.get("save_filter", selected)

    monkeypatch.setattr(QFileDialog, "getOpenFileName", get_open)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save)
    return answers


def drop(window, *paths) -> bool:
    """Drag files over the window and drop them; returns whether the drag was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    position = QPoint(window.width() // 2, window.height() // 2)
    enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(position), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    return True


def modify_weights(window) -> None:
    window.document.set_param("0.bias", np.full(6, 0.25, dtype=np.float32))


def test_open_image_by_dialog_shows_it_as_original_and_network_input(window, dialogs,
                                                                     digit_image):
    draw_digit(window.canvas_panel.canvas, 1)
    dialogs["open"] = str(digit_image)
    window.open_image_action.trigger()
    assert dialogs["calls"][0][:2] == ("open", "Open Image") and "*.png" in dialogs["calls"][0][3]
    document = window.document
    assert isinstance(document.source, ImageInput) and document.source.name == "seven.png"
    assert document.trace.top_class == 7
    assert window.canvas_panel.canvas._image.size() == QSize(300, 240)
    assert "seven.png" in window.canvas_panel.caption.text()
    assert window.input_view.image.shape == (28, 28)
    np.testing.assert_array_equal(window.input_view.image, document.trace.network_input[0])
    assert "inverted" in window.input_view.caption.text()  # dark ink on light paper
    assert settings.recent_files()[0] == str(digit_image.resolve())
    assert settings.last_folder(settings.IMAGE_FOLDER_KEY) == str(digit_image.parent)
    window.undo_action.trigger()
    assert isinstance(document.source, CanvasInput) and document.trace.top_class == 1


def test_a_cancelled_dialog_changes_nothing(window, dialogs):
    before = state_of(window)
    window.open_image_action.trigger()
    window.open_network_action.trigger()
    assert state_of(window) == before and window.errors == []


def test_open_image_and_network_by_drop(window, digit_image, network_file):
    assert drop(window, digit_image)
    assert window.document.source.name == "seven.png"
    assert drop(window, network_file)
    assert window.document.network.path == network_file
    assert window.windowTitle() == "fresh-lenet5.npz[*] \u2014 cnnviz"
    assert window.document.undo_stack.count() == 2
    mime = QMimeData()
    mime.setText("not a file")
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


@pytest.mark.parametrize("case", [
    "corrupt image", "text named .png", "missing image", "truncated network",
    "pickled network", "network of 2x28x28 inputs", "not a zip", "zip without arrays"])
@pytest.mark.parametrize("how", ["dialog", "drop"])
def test_a_bad_file_gives_a_message_and_leaves_everything_as_it_was(window, dialogs, bad_files,
                                                                    case, how):
    draw_digit(window.canvas_panel.canvas, 7)
    modify_weights(window)
    before = state_of(window)
    weights = window.document.session.weights()
    path = bad_files[case]
    if how == "dialog":
        dialogs["open"] = str(path)
        action = window.open_network_action if path.suffix == ".npz" else window.open_image_action
        action.trigger()
    else:
        drop(window, path)
    assert len(window.errors) == 1
    title, message = window.errors[0]
    assert title.startswith("Cannot open") and path.name in message
    assert state_of(window) == before
    for name, value in window.document.session.weights().items():
        np.testing.assert_array_equal(value, weights[name])
    window.undo_action.trigger()  # the history is intact too
    assert not window.document.modified


def test_save_as_then_open_round_trip(window, dialogs, tmp_path):
    modify_weights(window)
    assert window.isWindowModified()
    window.save_action.trigger()  # the shipped network is read-only: asks for a file
    assert dialogs["calls"][-1][:2] == ("save", "Save Network As")
    assert dialogs["calls"][-1][2] == "lenet5.npz"
    assert window.errors == [] and window.isWindowModified()  # the dialog was cancelled
    dialogs["save"] = str(tmp_path / "mine")  # without the suffix
    window.save_action.trigger()
    saved = tmp_path / "mine.npz"
    assert saved.is_file() and not window.isWindowModified()
    assert window.windowTitle() == "mine.npz[*] \u2014 cnnviz"
    np.testing.assert_array_equal(load_model(saved).layers[0].params["bias"], 0.25)

    window.document.set_param("0.bias", np.full(6, 0.5, dtype=np.float32))
    calls = len(dialogs["calls"])
    window.save_action.trigger()  # its own file now: no dialog
    assert len(dialogs["calls"]) == calls and not window.isWindowModified()
    np.testing.assert_array_equal(load_model(saved).layers[0].params["bias"], 0.5)

    window.document.undo_stack.clear()
    dialogs["open"] = str(saved)
    window.open_network_action.trigger()
    assert window.questions == []  # nothing unsaved
    np.testing.assert_array_equal(window.document.model.layers[0].params["bias"], 0.5)


def test_a_failed_save_says_so_and_keeps_the_changes(window, dialogs, tmp_path):
    modify_weights(window)
    dialogs["save"] = str(tmp_path / "no-such-folder" / "x.npz")
    window.save_as_action.trigger()
    assert len(window.errors) == 1 and window.errors[0][0] == "Cannot save the network"
    assert window.isWindowModified()


@pytest.mark.parametrize(("answer", "closes"), [(CANCEL, False), (DISCARD, True), (SAVE, True)])
def test_closing_with_unsaved_changes_asks_first(window, dialogs, tmp_path, answer, closes):
    modify_weights(window)
    window.answer = answer
    dialogs["save"] = str(tmp_path / "kept.npz")
    window.close()
    assert window.questions == ["lenet5.npz"]
    assert window.isVisible() is not closes
    assert (tmp_path / "kept.npz").is_file() is (answer == SAVE)
    if not closes:
        window.answer = DISCARD
        window.close()


def test_closing_without_changes_does_not_ask(window):
    draw_digit(window.canvas_panel.canvas, 1)  # strokes are not part of the network
    window.close()
    assert window.questions == [] and not window.isVisible()


def test_opening_another_network_with_unsaved_changes_asks_first(window, network_file):
    modify_weights(window)
    window.answer = CANCEL
    assert not window.open_network(network_file)
    assert window.questions == ["lenet5.npz"] and window.document.network.name == "lenet5.npz"
    window.answer = DISCARD
    assert window.open_network(network_file)
    assert window.document.network.path == network_file


def test_export_view_as_png(window, dialogs, tmp_path):
    draw_digit(window.canvas_panel.canvas, 0)
    dialogs["save"] = str(tmp_path / "view")
    window.export_action.trigger()
    image = Image.open(tmp_path / "view.png")
    assert image.size == (window.width(), window.height())
    assert window.errors == []


def test_recent_files_reopen_and_forget_missing_ones(window, digit_image, network_file,
                                                     tmp_path):
    def entries():
        return [a for a in window.recent_menu.actions() if a.data()]

    window.open_image(digit_image)
    window.open_network(network_file)
    assert [Path(a.data()).name for a in entries()] == ["fresh-lenet5.npz", "seven.png"]
    window.canvas_actions["clear"].trigger()
    entries()[1].trigger()
    assert window.document.source.name == "seven.png"
    assert [Path(a.data()).name for a in entries()] == ["seven.png", "fresh-lenet5.npz"]
    digit_image.rename(tmp_path / "gone.png")
    entries()[0].trigger()
    assert len(window.errors) == 1 and "no longer exists" in window.errors[0][1]
    assert [Path(a.data()).name for a in window.recent_menu.actions() if a.data()] == [
        "fresh-lenet5.npz"]
    window.clear_recent_action.trigger()
    assert settings.recent_files() == []


def test_settings_are_restored_in_the_next_window(make_window, digit_image):
    first = make_window()
    kept = ("canvas", "prediction", "history")
    for name, dock in first.docks.items():
        dock.setVisible(name in kept)
    QApplication.processEvents()  # the docks' new minimum sizes take effect
    first.resize(first.minimumSizeHint() + QSize(37, 23))  # a size no default gives
    screen = first.screen().availableGeometry()
    assert first.width() <= screen.width() and first.height() <= screen.height()
    first.canvas_panel.brush_spin.setValue(34)
    first.open_image(digit_image)
    QApplication.processEvents()
    size = first.size()
    first.close()

    second = make_window(size=None)
    assert second.size() == size
    assert [name for name, dock in second.docks.items() if dock.isVisible()] == list(kept)
    assert second.canvas_panel.canvas.brush_size == 34
    assert second.canvas_panel.brush_slider.value() == 34
    assert settings.recent_files() == [str(digit_image.resolve())]
    assert settings.last_folder(settings.IMAGE_FOLDER_KEY) == str(digit_image.parent)
    recent = [a.data() for a in second.recent_menu.actions() if a.data()]
    assert recent == [str(digit_image.resolve())]
    # A new start always begins with the shipped network and an empty canvas.
    assert second.document.source.is_blank


def test_a_damaged_settings_file_falls_back_to_defaults(make_window):
    store = settings.app_settings()
    store.setValue(settings.BRUSH_SIZE_KEY, "not a number")
    store.setValue(settings.STATE_KEY, b"garbage")
    store.setValue(settings.RECENT_FILES_KEY, 42)
    store.sync()
    window = make_window(show=False)
    assert window.canvas_panel.canvas.brush_size == 20
    assert settings.recent_files() == []


def test_onnx_networks_open_and_save_like_cnnvizs_own(window, dialogs, tmp_path, network_file):
    """Save As offers ONNX; the file written opens again to the same network, from File > Open
    Network and by drag and drop."""
    from cnnviz.nn import load_network

    assert "*.onnx" in NETWORK_FILTER
    original = load_network(network_file).model
    assert window.open_network(network_file, ask=False)
    dialogs["save"] = str(tmp_path / "exported")
    dialogs["save_filter"] = ONNX_FILTER
    assert window.save_network_as()
    exported = tmp_path / "exported.onnx"
    assert exported.is_file() and window.document.network.path == exported
    assert window.errors == []
    window.open_network(network_file, ask=False)
    assert drop(window, exported)
    opened = window.document.network
    assert opened.path == exported and window.errors == []
    for name, value in original.get_weights().items():
        np.testing.assert_allclose(opened.model.get_weights()[name], value, rtol=0, atol=1e-7)
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(opened.model.forward(x), original.forward(x), atol=1e-5)
    # Saving it again keeps the format it came in.
    dialogs["save"] = str(tmp_path / "again")
    dialogs.pop("save_filter")
    assert window.save_network_as()
    assert (tmp_path / "again.onnx").is_file()
    assert dialogs["calls"][-1][2].endswith("exported.onnx")
