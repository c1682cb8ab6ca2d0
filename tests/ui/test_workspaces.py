"""Explore, Train and Interpret: one arrangement of the panels per task.

Switching keeps a training run going and the document as it was; each workspace keeps its own
arrangement across a restart and View ▸ Reset Layout brings back the shipped one; every workspace
fits a laptop's screen; clicking a weight opens the Filter Editor in view; the mouse wheel never
changes an unfocused spin box or combo box.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (QAbstractScrollArea, QApplication, QComboBox, QScrollArea,
                               QSpinBox, QTabBar, QVBoxLayout, QWidget)

from cnnviz.nn.threads import limit_blas_threads
from cnnviz.training.sources import DataSource, offline_digits
from cnnviz.ui.shared.wheel_guard import guard_wheel
from cnnviz.ui.train import training_data
from ui_helpers import draw_digit

WORKSPACES = ("explore", "train", "interpret")

#: The docks each workspace shows as it ships.
SHIPPED = {
    "explore": {"canvas", "feature_maps", "filters", "input", "prediction", "layers",
                "my_drawings"},
    "train": {"training", "training_curves", "network_health", "prediction", "filters",
              "feature_maps"},
    "interpret": {"canvas", "prediction", "analysis", "evaluation", "activation_gallery"},
}


def shown_docks(window) -> set[str]:
    """The docks shown, in view or behind another's tab."""
    docks = window.docks
    return {name for name, dock in docks.items()
            if dock.isVisible() or any(other.isVisible() for other in
                                       window.tabifiedDockWidgets(dock))}


@pytest.fixture(scope="module")
def digits():
    limit_blas_threads(1)
    return offline_digits(300, seed=0)


@pytest.fixture
def quick_data(monkeypatch, digits):
    monkeypatch.setattr(training_data, "load_dataset", lambda *args: digits)


def test_the_tab_bar_and_ctrl_numbers_switch_workspaces(window, qtbot):
    bar = window.workspace_bar
    assert [bar.tabText(i) for i in range(bar.count())] == ["Explore", "Train", "Interpret"]
    assert window.workspace.name == "explore"
    assert shown_docks(window) == SHIPPED["explore"]
    for number, name in ((2, "train"), (3, "interpret"), (1, "explore"), (3, "interpret")):
        with qtbot.waitSignal(window.workspace_changed) as changed:
            qtbot.keyClick(window, getattr(Qt.Key, f"Key_{number}"),
                           Qt.KeyboardModifier.ControlModifier)
        assert changed.args == [name]
        assert window.workspace.name == name and bar.currentIndex() == number - 1
        assert window.workspace_actions.checkedAction().objectName() == f"{name}_workspace_action"
        assert shown_docks(window) == SHIPPED[name]
    bar.setCurrentIndex(1)
    assert window.workspace.name == "train" and shown_docks(window) == SHIPPED["train"]


def test_switching_keeps_the_document_and_a_run_going(window, quick_data, qtbot):
    draw_digit(window.canvas_panel.canvas, 7)
    panel = window.training_panel
    window.show_workspace("train")
    panel.select_data(DataSource("offline"))
    panel.count_spin.setValue(300)
    panel.validation_spin.setValue(60)
    panel.settings.epochs_spin.setValue(1000)
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("current"))
    with qtbot.waitSignal(panel.run_started, timeout=20000):
        panel.start_button.click()
    status = window.training_status
    network = window.document.network
    source = window.document.source
    undo_count = window.document.undo_stack.count()
    for name in ("explore", "interpret", "train", "explore"):
        window.show_workspace(name)
        qtbot.wait(50)
        assert panel.running and panel.run is not None
        assert status.isVisible(), f"no training progress in the status bar of {name}"
        assert status.stop_button.isEnabled()
        assert window.document.network is network and window.document.source is source
    # The run goes on while another workspace is shown: its progress grows.
    start = panel.progress_bar.value()
    qtbot.waitUntil(lambda: panel.progress_bar.value() > start, timeout=20000)
    assert status.progress.value() == panel.progress_bar.value()
    with qtbot.waitSignal(panel.run_ended, timeout=20000):
        status.stop_button.click()  # Stop from the status bar, in Explore
    assert not status.isVisible()
    assert window.document.undo_stack.count() >= undo_count


def test_each_layout_survives_a_restart_and_reset_restores_the_shipped_one(make_window, qtbot):
    window = make_window(size=(1366, 768))
    window.docks["layers"].hide()  # Explore without its Layers panel
    window.show_workspace("interpret")
    window.docks["activation_gallery"].hide()
    window.show_workspace("train")
    window.close()
    window = make_window(size=(1366, 768))
    assert window.workspace.name == "train"
    assert shown_docks(window) == SHIPPED["train"]
    window.show_workspace("explore")
    assert shown_docks(window) == SHIPPED["explore"] - {"layers"}
    window.show_workspace("interpret")
    assert shown_docks(window) == SHIPPED["interpret"] - {"activation_gallery"}
    window.reset_layout_action.trigger()
    assert shown_docks(window) == SHIPPED["interpret"]
    window.show_workspace("explore")  # Reset Layout touched only the workspace shown
    assert shown_docks(window) == SHIPPED["explore"] - {"layers"}
    assert window.size().toTuple() == (1366, 768)


def test_a_damaged_saved_layout_falls_back_to_the_shipped_one(make_window):
    from cnnviz.ui.window import settings

    for name in WORKSPACES:
        settings.write(settings.workspace_state_key(name), b"not a layout")
    settings.write(settings.WORKSPACE_KEY, "nonsense")
    window = make_window(size=(1366, 768))
    assert window.workspace.name == "explore" and shown_docks(window) == SHIPPED["explore"]
    window.show_workspace("train")
    assert shown_docks(window) == SHIPPED["train"]


def fully_visible(widget) -> bool:
    """The whole widget is in the window, not clipped by a dock, a scroll area's viewport or the
    window's edge (the intersection of its rectangle with every ancestor's)."""
    if not widget.isVisible() or widget.width() <= 0 or widget.height() <= 0:
        return False
    window = widget.window()
    whole = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    shown = QRect(whole)
    parent = widget.parentWidget()
    while parent is not None and parent is not window:
        shown &= QRect(parent.mapTo(window, QPoint(0, 0)), parent.size())
        parent = parent.parentWidget()
    shown &= window.rect()
    return shown == whole


def reachable(widget) -> bool:
    """Visible, or inside a scroll area that can bring it into view."""
    if not widget.isVisibleTo(widget.window()):
        return False
    if fully_visible(widget):
        return True
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def key_widgets(window, workspace: str) -> tuple[dict[str, QWidget], dict[str, QWidget]]:
    """The controls of each workspace's main task (never scrolled, at either size), and its
    secondary panels (in view or reachable by scrolling)."""
    if workspace == "explore":
        maps, prediction = window.feature_maps, window.prediction_panel
        main = {"canvas": window.canvas_panel.canvas, "input": window.input_view,
                "feature maps layer": maps.layer_combo, "colours": maps.scale_combo,
                "effective receptive field": maps.effective_check, "save maps": maps.save_button,
                "top class": prediction.top_class_label,
                "confidence": prediction.confidence_label}
        secondary = {"prediction": prediction, "filters layer": window.filters_view.layer_combo,
                     "layers": window.layers_area}
        return main, secondary
    if workspace == "train":
        panel = window.training_panel
        main = {name: getattr(panel, name) for name in (
            "start_button", "pause_button", "stop_button", "reset_button", "save_button",
            "data_combo", "count_spin", "validation_spin", "network_combo", "editor")}
        controls = panel.settings.findChildren(QSpinBox) + panel.settings.findChildren(QComboBox)
        main.update({f"settings.{child.objectName() or i}": child
                     for i, child in enumerate(controls) if child.isVisibleTo(panel)})
        secondary = {"curves": window.training_curves, "prediction": window.prediction_panel,
                     "filters": window.filters_view, "maps": window.feature_maps}
        return main, secondary
    analysis, evaluation = window.analysis_panel, window.evaluation_view
    main = {"analysis method": analysis.method_combo, "evaluate": evaluation.evaluate_button,
            "test set": evaluation.source_combo}
    secondary = {"activation layer": window.activation_gallery.layer_combo,
                 "canvas": window.canvas_panel.canvas}
    return main, secondary


@pytest.mark.parametrize("size", [(1366, 768), (1024, 700)])
def test_every_workspace_fits(make_window, qtbot, size):
    window = make_window(size=size)
    for name in WORKSPACES:
        window.show_workspace(name)
        qtbot.wait(30)
        assert window.size().toTuple() == size, f"{name} resized the window"
        assert window.statusBar().isVisible()
        assert window.statusBar().geometry().bottom() < window.height()
        # No elided or clipped tab: the workspaces' and those of docks tabbed together.
        for bar in window.findChildren(QTabBar):
            if not bar.isVisible():
                continue
            for index in range(bar.count()):
                text_width = bar.fontMetrics().horizontalAdvance(bar.tabText(index))
                assert bar.tabRect(index).width() > text_width, bar.tabText(index)
        assert fully_visible(window.workspace_bar)
        for dock_name in SHIPPED[name]:  # no heading cut: each title fits its title bar
            dock = window.docks[dock_name]
            if not window.rect().intersects(dock.geometry()):  # behind another's tab (above)
                continue
            title_width = dock.fontMetrics().horizontalAdvance(dock.windowTitle())
            assert dock.width() > title_width + 40, f"{dock_name} title cut in {name}"
        main, secondary = key_widgets(window, name)
        hidden = [label for label, widget in main.items() if not fully_visible(widget)]
        hidden += [label for label, widget in secondary.items() if not reachable(widget)]
        assert hidden == [], f"{name} at {size}: {hidden}"


def test_the_fit_checks_can_fail(make_window, qtbot):
    window = make_window(size=(1366, 768))
    window.show_workspace("train")
    panel = window.training_panel
    assert fully_visible(panel.start_button)
    window.resizeDocks([window.docks["training"]], [200], Qt.Orientation.Horizontal)
    qtbot.wait(30)
    assert not all(fully_visible(w) for w in key_widgets(window, "train")[0].values())
    window.docks["training"].hide()
    assert not reachable(panel.start_button)


def test_a_click_on_a_weight_opens_the_filter_editor_in_view(window, qtbot):
    docks = window.docks
    before = {name for name in shown_docks(window) if not docks[name].visibleRegion().isEmpty()}
    assert "filters" in before and not docks["filter_editor"].isVisible()
    window.filters_view.filter_selected.emit(0, 2)
    qtbot.wait(30)
    assert docks["filter_editor"].isVisible()
    assert not docks["filter_editor"].visibleRegion().isEmpty()
    assert window.filter_editor.unit == 2
    # Nothing that was in view is hidden behind it.
    for name in before:
        assert docks[name].isVisible() and not docks[name].visibleRegion().isEmpty(), name


class _Holder(QWidget):
    def __init__(self):
        super().__init__()
        self.spin = QSpinBox(maximum=10000, value=5000, singleStep=500)
        self.combo = QComboBox()
        self.combo.addItems(["a", "b", "c"])
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.addWidget(self.spin)
        layout.addWidget(self.combo)
        inner.setMinimumHeight(2000)
        self.area = QScrollArea(widgetResizable=True, widget=inner)
        QVBoxLayout(self).addWidget(self.area)


def wheel(widget, steps=-1):
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_changes_only_a_focused_spin_or_combo_box(qtbot):
    holder = _Holder()
    guard_wheel(holder)
    qtbot.addWidget(holder)
    holder.resize(300, 200)
    holder.show()
    qtbot.waitExposed(holder)
    other = holder.area
    other.setFocus()
    scroll = holder.area.verticalScrollBar()
    wheel(holder.spin)
    wheel(holder.combo)
    assert holder.spin.value() == 5000 and holder.combo.currentIndex() == 0
    assert scroll.value() > 0  # the wheel scrolled the panel instead
    assert holder.spin.focusPolicy() == Qt.FocusPolicy.StrongFocus
    holder.spin.setFocus()
    qtbot.waitUntil(holder.spin.hasFocus)
    wheel(holder.spin)
    assert holder.spin.value() == 4500
    holder.combo.setFocus()
    qtbot.waitUntil(holder.combo.hasFocus)
    wheel(holder.combo)
    assert holder.combo.currentIndex() == 1


def test_the_window_guards_its_own_spin_boxes(window, qtbot):
    window.show_workspace("train")
    panel = window.training_panel
    panel.start_button.setFocus()
    wheel(panel.validation_spin)
    assert panel.validation_spin.value() == 5000
    # Also those the layer editor makes when a layer is chosen.
    panel.editor.table.selectRow(0)
    filters = panel.editor.findChild(QSpinBox, "setting_out_channels")
    before = filters.value()
    wheel(filters)
    assert filters.value() == before

