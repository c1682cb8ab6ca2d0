"""Fixtures of the UI tests: windows that report instead of blocking, digits drawn with the mouse,
good and bad files.

Mouse strokes are real ``QTest`` mouse events sent to the canvas widget inside the window.
"""

from __future__ import annotations

import gc
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnviz.nn import Dense, Flatten, Sequential, build_preset, save_model
from cnnviz.ui.window import errors
from cnnviz.ui.window.main_window import MainWindow
from cnnviz.ui.window.settings import app_settings


@pytest.fixture(autouse=True)
def nothing_left_behind(qapp):
    """Fail a test that leaves a window open or a thread running; destroy its widgets here.

    Windows and panels hold reference cycles (slots that capture ``self``), so they die in a
    garbage collection, and Python collects in whichever thread happens to allocate: a worker
    thread of a later test, computing with numpy, would run a QWidget's destructor beside the
    GUI thread and crash the process. Collecting at the end of each test keeps that in the GUI
    thread.
    """
    threads = set(threading.enumerate())
    yield
    gc.collect()
    QApplication.processEvents()
    left = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    assert not left, f"windows left open: {left}"
    assert set(threading.enumerate()) <= threads, "threads left running"


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch):
    """The user's data folder (error logs) of the test: never the real one."""
    folder = tmp_path / "user-data"
    monkeypatch.setattr(errors, "data_folder", lambda: folder)
    return folder


@pytest.fixture(autouse=True)
def no_blocking_message_boxes(monkeypatch):
    """A modal warning or question nobody answers would hang the test run: fail instead."""

    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected modal message box: {args[1:3]}")

    for name in ("warning", "question", "critical", "information", "exec"):
        monkeypatch.setattr(QMessageBox, name, unexpected)


@pytest.fixture
def make_window(qtbot, monkeypatch):
    """A factory of shown main windows; the settings are empty when the test starts.

    Each window records its error boxes in ``window.errors`` (title, message), their details
    (traceback or None) in ``window.error_details``, and its
    unsaved-changes questions in ``window.questions``; ``window.answer`` (default Discard) is what
    the question returns.
    """
    app_settings().clear()
    app_settings().sync()

    def make(show=True, size=(1100, 760), **kwargs) -> MainWindow:
        window = MainWindow(**kwargs)
        window.errors = []
        window.questions = []
        window.answer = QMessageBox.StandardButton.Discard
        window.error_details = []

        def show_error(title, message, details=None):
            window.errors.append((title, message))
            window.error_details.append(details)

        window.show_error = show_error

        def ask():
            window.questions.append(window.document.network.name)
            return window.answer

        window.ask_save_changes = ask
        qtbot.addWidget(window)
        if size is not None:
            window.resize(*size)
        if show:
            window.show()
            qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def window(make_window) -> MainWindow:
    return make_window()


@pytest.fixture
def digit_image(tmp_path):
    """A 300x240 RGB photo-like PNG of a dark "7" on light paper."""
    image = Image.new("RGB", (300, 240), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.line([(90, 50), (210, 50), (130, 200)], fill=(30, 30, 40), width=18, joint="curve")
    path = tmp_path / "seven.png"
    image.save(path)
    return path


@pytest.fixture
def network_file(tmp_path):
    """A valid network file: a freshly initialised lenet5 (its predictions differ from the
    shipped one's)."""
    return save_model(build_preset("lenet5", seed=3), tmp_path / "fresh-lenet5.npz")


def _hostile_npz(path):
    """An .npz whose architecture entry is a pickled object array (never to be loaded)."""
    with open(path, "wb") as handle:
        np.savez(handle, architecture=np.array([{"layers": []}], dtype=object))
    return path


def _truncated_npz(path, good):
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return path


def _wrong_input_npz(path):
    model = Sequential([Flatten(), Dense(out_features=10)], input_shape=(2, 28, 28), seed=0)
    return save_model(model, path)


def _not_a_zip(path):
    path.write_bytes(b"this is not a network")
    return path


def _zip_without_arrays(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil.py", "import os")
    return path


def _corrupt_png(path, good):
    data = good.read_bytes()
    path.write_bytes(data[:60] + b"\xff" * 40 + data[100:150])
    return path


def _not_an_image(path):
    path.write_text("just text, not pixels")
    return path


@pytest.fixture
def bad_files(tmp_path, network_file, digit_image):
    """``{case: path}`` of files that must be refused with a message."""
    return {
        "corrupt image": _corrupt_png(tmp_path / "corrupt.png", digit_image),
        "text named .png": _not_an_image(tmp_path / "text.png"),
        "missing image": tmp_path / "missing.png",
        "truncated network": _truncated_npz(tmp_path / "truncated.npz", network_file),
        "pickled network": _hostile_npz(tmp_path / "pickled.npz"),
        "network of 2x28x28 inputs": _wrong_input_npz(tmp_path / "two-channels.npz"),
        "not a zip": _not_a_zip(tmp_path / "text.npz"),
        "zip without arrays": _zip_without_arrays(tmp_path / "script.npz"),
    }
