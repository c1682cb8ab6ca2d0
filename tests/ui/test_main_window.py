"""The main window: actions and menus, About boxes, quitting, saved layout, run_app."""

import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QSize, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from cnnviz import __version__
from cnnviz.ui.main_window import GEOMETRY_KEY, STATE_KEY, MainWindow, app_settings

pytestmark = pytest.mark.gui

OFFSCREEN_NOTE = "This plugin does not support propagateSizeHints()"


@pytest.fixture
def make_window(qtbot):
    """Return a factory of main windows; the settings are empty when the test starts."""
    app_settings().clear()

    def make(**kwargs) -> MainWindow:
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        return window

    return make


def close_next_modal_message_box(seen: list[tuple[str, str]], timeout_ms: int = 5000) -> None:
    """Once a modal message box is open, append its ``(title, text)`` to ``seen`` and close it.

    Call before the action that opens a dialog with ``exec()``; polls from the dialog's own
    event loop and gives up after ``timeout_ms``.
    """
    remaining = [timeout_ms // 10]

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QMessageBox):
            seen.append((dialog.windowTitle(), dialog.text()))
            dialog.close()
        elif remaining[0] > 0:
            remaining[0] -= 1
            QTimer.singleShot(10, poll)

    QTimer.singleShot(0, poll)


def placeholder_text(window: MainWindow) -> str:
    """The text of the central placeholder."""
    return window.centralWidget().findChild(QLabel, "placeholder_text").text()


def test_window_identity(make_window):
    window = make_window()
    assert window.windowTitle() == "cnnviz"
    assert window.objectName() == "main_window"
    assert not window.windowIcon().pixmap(QSize(32, 32)).isNull()
    assert f"cnnviz {__version__}" in placeholder_text(window)


def test_model_and_image_are_kept_and_shown(make_window):
    window = make_window(model="lenet5.npz", image="seven.png")
    assert (window.model_path, window.image_path) == ("lenet5.npz", "seven.png")
    assert "lenet5.npz" in placeholder_text(window)
    assert "seven.png" in placeholder_text(window)


def test_menus_hold_their_actions(make_window):
    window = make_window()
    menus = [action.menu() for action in window.menuBar().actions() if action.menu()]
    assert [menu.title() for menu in menus] == ["&File", "&View", "&Help"]
    assert window.file_menu.actions() == [window.quit_action]
    assert window.help_menu.actions() == [window.about_action, window.about_qt_action]
    view_actions = [action for action in window.view_menu.actions() if not action.isSeparator()]
    assert view_actions == [
        window.panels_menu.menuAction(),
        window.main_tool_bar.toggleViewAction(),
    ]
    assert window.panels_menu.actions() == []
    assert window.quit_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)
    for action in (window.quit_action, window.about_action, window.about_qt_action):
        assert action.toolTip() and action.statusTip()


@pytest.mark.parametrize(
    ("action_name", "title", "text"),
    [
        ("about_action", "About cnnviz", f"cnnviz {__version__}"),
        ("about_qt_action", "About Qt", "Qt"),
    ],
)
def test_about_boxes_open_and_close(make_window, action_name, title, text):
    window = make_window()
    seen = []
    close_next_modal_message_box(seen)
    getattr(window, action_name).trigger()
    assert len(seen) == 1
    assert seen[0][0] == title
    assert text in seen[0][1]


def test_quit_closes_the_window_and_saves_the_layout(make_window, qtbot):
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    window.quit_action.trigger()
    assert not window.isVisible()
    settings = app_settings()
    assert not settings.value(GEOMETRY_KEY, QByteArray(), type=QByteArray).isEmpty()
    assert not settings.value(STATE_KEY, QByteArray(), type=QByteArray).isEmpty()


def test_layout_survives_a_restart(make_window, qtbot):
    first = make_window()
    first.show()
    qtbot.waitExposed(first)
    first.resize(640, 480)
    first.main_tool_bar.hide()
    first.close()

    second = make_window()
    assert second.size() == QSize(640, 480)
    assert second.main_tool_bar.isHidden()


def test_settings_stay_in_the_test_folder(isolated_qt_settings):
    assert Path(app_settings().fileName()).is_relative_to(isolated_qt_settings)


QUIT_SOON = textwrap.dedent(
    """
    import os, signal, sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from cnnviz.ui.app import run_app

    app = QApplication(["cnnviz"])
    if sys.argv[1] == "close":
        QTimer.singleShot(300, QApplication.closeAllWindows)
    else:
        QTimer.singleShot(300, lambda: os.kill(os.getpid(), signal.SIGINT))
    print(run_app(["cnnviz"]), app.applicationName(), app.organizationName())
    """
)


@pytest.mark.parametrize("how", ["close", "sigint"])
def test_run_app_exits_cleanly(run_python, tmp_path, how):
    result = run_python(["-c", QUIT_SOON, how])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 cnnviz cnnviz\n"
    assert result.stderr.replace(OFFSCREEN_NOTE, "").strip() == ""
    assert (tmp_path / "config" / "cnnviz" / "cnnviz.conf").is_file()
