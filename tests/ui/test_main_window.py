"""The main window: start-up, menus and actions, About boxes, quitting, run_app."""

import itertools
import textwrap

import pytest
from PySide6.QtCore import QByteArray, QSize, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from cnnviz import __version__
from cnnviz.session import CanvasInput
from cnnviz.ui.shared.theme import is_dark
from cnnviz.ui.window.main_window import GEOMETRY_KEY, app_settings
from cnnviz.ui.window.settings import workspace_state_key

pytestmark = pytest.mark.gui

OFFSCREEN_NOTE = "This plugin does not support propagateSizeHints()"


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


def test_the_window_starts_with_the_shipped_lenet5_and_an_empty_canvas(window):
    document = window.document
    assert document.network.name == "lenet5.npz" and document.network.read_only
    assert isinstance(document.source, CanvasInput) and document.source.is_blank
    assert window.windowTitle() == "lenet5.npz[*] \u2014 cnnviz"
    assert not window.isWindowModified()
    assert document.undo_stack.count() == 0 and not window.undo_action.isEnabled()
    assert window.errors == []
    assert window.prediction_panel.top_class_label.text() == "\u2013"
    assert "61,706 weights" in window.network_label.text()
    assert window.objectName() == "main_window"
    assert not window.windowIcon().pixmap(QSize(32, 32)).isNull()


def test_every_panel_is_a_named_dock_with_a_toggle_in_the_view_menu(window):
    named = {name: dock.objectName() for name, dock in window.docks.items()}
    for name in ("canvas", "input", "prediction", "history"):
        assert named[name] == f"{name}_dock"
    assert all(object_name == f"{name}_dock" for name, object_name in named.items())
    assert window.panels_menu.actions() == [d.toggleViewAction() for d in window.docks.values()]
    assert window.docks["canvas"].widget() is window.canvas_panel
    assert window.docks["input"].widget() is window.input_view
    assert window.docks["prediction"].widget().widget() is window.prediction_panel
    assert window.docks["history"].isHidden()
    for name in ("canvas", "input", "prediction"):
        assert window.docks[name].isVisible()
    window.docks["prediction"].toggleViewAction().trigger()
    assert window.docks["prediction"].isHidden()


def test_menus_hold_the_actions_with_standard_shortcuts(window):
    menus = [action.menu() for action in window.menuBar().actions() if action.menu()]
    titles = [menu.title() for menu in menus]
    assert titles[:3] == ["&File", "&Edit", "&View"] and titles[-1] == "&Help"
    file_actions = [a for a in window.file_menu.actions() if not a.isSeparator()]
    assert file_actions == [window.open_image_action, window.open_network_action,
                            window.examples_menu.menuAction(),
                            window.recent_menu.menuAction(), window.save_action,
                            window.save_as_action, window.export_action, window.quit_action]
    assert window.edit_menu.actions()[:2] == [window.undo_action, window.redo_action]
    assert window.canvas_actions["clear"] in window.edit_menu.actions()
    assert window.help_menu.actions()[-2:] == [window.about_action, window.about_qt_action]
    for action, key in ((window.open_image_action, QKeySequence.StandardKey.Open),
                        (window.save_action, QKeySequence.StandardKey.Save),
                        (window.undo_action, QKeySequence.StandardKey.Undo),
                        (window.redo_action, QKeySequence.StandardKey.Redo),
                        (window.quit_action, QKeySequence.StandardKey.Quit)):
        assert action.shortcut() == QKeySequence(key)
    assert window.open_image_action.shortcut().toString() == "Ctrl+O"
    assert window.save_action.shortcut().toString() == "Ctrl+S"


def menu_actions(menu):
    """Every action of a menu and its submenus."""
    for action in menu.actions():
        if action.menu():
            yield from menu_actions(action.menu())
        elif not action.isSeparator():
            yield action


def test_every_action_has_a_tool_tip_and_a_status_tip(window, digit_image):
    window.open_image(digit_image)  # a recent file
    actions = [a for a in window.main_tool_bar.actions() if not a.isSeparator()]
    for menu_action in window.menuBar().actions():
        if menu_action.menu():
            actions += list(menu_actions(menu_action.menu()))
    assert len(set(actions)) >= 25
    missing = [a.text() for a in actions if not (a.toolTip() and a.statusTip())]
    assert missing == []


def test_the_shortcuts_dialog_lists_the_shortcuts(window, qtbot):
    window.shortcuts_action.trigger()
    dialog = window.shortcuts_dialog
    assert dialog.isVisible()
    shortcuts = dialog.shortcuts()
    assert shortcuts["Open Image"] == QKeySequence("Ctrl+O").toString(
        QKeySequence.SequenceFormat.NativeText)
    assert "Undo" in shortcuts and "Clear Canvas" in shortcuts and "Erase" in shortcuts
    with qtbot.waitSignal(dialog.destroyed):
        dialog.close()  # deleted on close


@pytest.mark.parametrize(
    ("action_name", "title", "text"),
    [("about_action", "About cnnviz", f"cnnviz {__version__}"),
     ("about_qt_action", "About Qt", "Qt")],
)
def test_about_boxes_open_and_close(window, action_name, title, text):
    seen = []
    close_next_modal_message_box(seen)
    getattr(window, action_name).trigger()
    assert len(seen) == 1
    assert seen[0][0] == title
    assert text in seen[0][1]


def test_quit_closes_the_window_and_saves_the_layout(window):
    window.quit_action.trigger()
    assert not window.isVisible()
    settings = app_settings()
    assert not settings.value(GEOMETRY_KEY, QByteArray(), type=QByteArray).isEmpty()
    assert not settings.value(workspace_state_key("explore"), QByteArray(),
                              type=QByteArray).isEmpty()


def test_a_model_and_an_image_given_at_start_are_opened(make_window, network_file,
                                                       digit_image):
    window = make_window(model=str(network_file), image=str(digit_image))
    assert window.document.network.path == network_file
    assert window.document.source.name == "seven.png"
    assert window.document.undo_stack.count() == 0  # nothing to undo at the start
    assert window.errors == []


def test_a_bad_model_given_at_start_is_reported_and_the_shipped_one_used(make_window,
                                                                         bad_files):
    window = make_window(model=str(bad_files["truncated network"]))
    assert window.document.network.name == "lenet5.npz"
    assert len(window.errors) == 1 and "truncated.npz" in window.errors[0][1]


def test_the_dark_scheme_darkens_the_plots_and_the_canvas(window):
    panel, canvas = window.prediction_panel, window.canvas_panel.canvas
    light_background = panel.plot.backgroundBrush().color()
    dark_action = next(a for a in window.scheme_actions.actions() if a.data() == "dark")
    system_action = next(a for a in window.scheme_actions.actions() if a.data() == "system")
    try:
        dark_action.trigger()
        QApplication.processEvents()
        assert is_dark(QApplication.palette())
        assert panel.plot.backgroundBrush().color().lightness() < 100
        assert canvas._paper.lightness() < 100 and canvas._ink.lightness() > 150
        assert app_settings().value("view/color_scheme", "", type=str) == "dark"
    finally:
        system_action.trigger()
        QApplication.processEvents()
    assert panel.plot.backgroundBrush().color() == light_background


QUIT_SOON = textwrap.dedent(
    """
    import os, signal, sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from cnnviz.ui.window.app import run_app

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


@pytest.mark.gui
@pytest.mark.parametrize("size", [(1280, 800), (1024, 700)])
def test_the_first_layout_fits_a_laptop_screen_with_every_layer_label_readable(make_window,
                                                                               size):
    window = make_window(size=size)
    QApplication.processEvents()
    assert window.size().toTuple() == size  # no panel forces the window larger
    docks = window.docks
    assert docks["canvas"].width() < docks["feature_maps"].width()
    assert docks["input"].width() < docks["feature_maps"].width()
    assert docks["layers"].height() > 100
    overview = window.layers_overview
    lines = []  # each label's lines of text, without the text item's document margin
    for row in overview.rows:
        item = row.label.textItem
        margin = item.document().documentMargin()
        lines.append(item.mapRectToScene(
            item.boundingRect().adjusted(margin, margin, -margin, -margin)))
    for upper, lower in itertools.pairwise(lines):
        assert upper.bottom() <= lower.top() + 1  # in order, apart (1 px of rounding)
    hint = window.prediction_panel.runner_up_label  # what to do first, on an empty canvas
    assert hint.text() and hint.fontMetrics().horizontalAdvance(hint.text()) <= hint.width()
