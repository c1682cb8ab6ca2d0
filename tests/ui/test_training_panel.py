"""Watch it learn: training from the window, live adoption of the weights, pause/stop, close.

The data are 300 offline digits made once for the module (the loader's ``load_dataset`` is
replaced by a function returning them), except in the test of loading itself.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton

from cnnviz.nn import load_model_with_metadata
from cnnviz.nn.threads import limit_blas_threads
from cnnviz.training.sources import DataSource, offline_digits
from cnnviz.ui.train import training_data, training_panel

Button = QMessageBox.StandardButton


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    limit_blas_threads(1)  # as the app does at start-up


@pytest.fixture(scope="module")
def digits():
    return offline_digits(300, seed=0)


@pytest.fixture
def quick_data(monkeypatch, digits):
    monkeypatch.setattr(training_data, "load_dataset", lambda *args: digits)


def configure(panel, epochs=2, preset="tiny", network="new", optimizer="adam", lr=None):
    panel.select_data(DataSource("offline"))
    panel.count_spin.setValue(300)
    panel.validation_spin.setValue(60)
    panel.settings.epochs_spin.setValue(epochs)
    panel.network_combo.setCurrentIndex(panel.network_combo.findData(network))
    panel.editor.fill_preset(preset)
    panel.settings.optimizer_combo.setCurrentIndex(
        panel.settings.optimizer_combo.findData(optimizer))
    if lr is not None:
        panel.settings.lr_spin.setValue(lr)


def train(qtbot, panel, timeout=60000):
    """Start and wait for the run's end; returns its last report."""
    with qtbot.waitSignal(panel.run_ended, timeout=timeout) as ended:
        panel.start_button.click()
    return ended.args[0]


def assert_idle(panel):
    assert panel.run is None and not panel.runner.running and not panel.loader.running


def params_equal(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_new_network_trains_on_offline_digits_and_the_window_follows(window, quick_data,
                                                                       qtbot, digit_image):
    panel = window.training_panel
    window.open_image(digit_image)
    configure(panel, epochs=3)
    shipped = window.document.network
    at_start = {}
    panel.run_started.connect(lambda: at_start.update(
        weights=window.document.model.get_weights(),
        probabilities=window.document.trace.probabilities.copy()))
    reports = []
    panel.runner.progress.connect(reports.append)

    final = train(qtbot, panel)

    assert final.kind == "finished" and final.step == 3 * 4    # 240 images in batches of 64
    assert_idle(panel)
    assert [r.epoch for r in reports if r.kind == "epoch"] == [0, 1, 2]
    document = window.document
    assert document.network is not shipped and document.network.name == "tiny"
    assert not params_equal(document.model.get_weights(), at_start["weights"])
    assert not np.allclose(document.trace.probabilities, at_start["probabilities"])
    window.training_curves.refresh()
    curves = window.training_curves
    x, y = curves.loss_curve.xData, curves.loss_curve.yData
    assert len(x) == 12 and np.isfinite(y).all()
    assert curves.val_accuracy_curve.xData.tolist() == [4, 8, 12]
    assert curves.history.planned_steps == 12       # the step axis is laid out for the run
    assert curves.plots["loss"].viewRange()[0][1] >= 12
    assert window.docks["training_curves"].isVisible()
    assert document.network.metadata["last_training"]["status"] == "finished"
    # one undo step for the whole run, then the new network itself
    stack = document.undo_stack
    assert stack.undoText() == "Train Network"
    document.undo()
    assert params_equal(document.model.get_weights(), at_start["weights"])
    assert not document.modified
    document.undo()
    assert document.network is shipped
    assert window.errors == []


def test_pause_resume_and_stop_leave_a_whole_network(window, quick_data, qtbot):
    panel = window.training_panel
    configure(panel, epochs=1000)
    steps = []
    panel.runner.progress.connect(lambda report: steps.append(report.step))
    with qtbot.waitSignal(panel.runner.progress, timeout=20000):
        panel.start_button.click()
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    panel.pause_button.click()
    assert panel.pause_button.text() == "Resume"
    qtbot.wait(150)    # the worker reaches the pause; reports in flight arrive
    frozen = list(steps)
    qtbot.wait(300)
    assert steps == frozen
    panel.pause_button.click()
    qtbot.waitUntil(lambda: len(steps) > len(frozen), timeout=10000)
    with qtbot.waitSignal(panel.run_ended, timeout=20000) as ended:
        panel.stop_button.click()
    assert ended.args[0].kind == "stopped"
    assert_idle(panel)
    trained = panel.runner.trainer.model.get_weights()
    assert params_equal(window.document.model.get_weights(), trained)
    assert all(np.isfinite(v).all() for v in trained.values())
    assert panel.start_button.isEnabled()


def test_starting_a_run_keeps_the_window_layout(make_window, quick_data, qtbot):
    """The first Start of a session must not re-lay the window out: every panel keeps its place
    and size (a caption growing by a line, or a hidden panel rebuilt, once held the GUI thread
    for 50-100 ms while the run began)."""
    window = make_window(size=(1280, 800))
    panel = window.training_panel
    configure(panel, epochs=1000, preset="lenet5")
    window.show_workspace("train")
    qtbot.waitExposed(panel)
    qtbot.wait(100)

    def layout():
        return {name: dock.geometry().getRect() for name, dock in window.docks.items()
                if dock.isVisible()}

    before = layout()
    assert len(before) >= 6
    with qtbot.waitSignal(panel.run_started, timeout=20000):
        panel.start_button.click()
    qtbot.wait(100)
    assert layout() == before
    with qtbot.waitSignal(panel.run_ended, timeout=20000):
        panel.stop_button.click()


def test_start_spreads_its_work_over_turns_of_the_event_loop(window, quick_data, qtbot):
    """The click only disables the controls; the new network becomes current (and is drawn) in
    the next turn, the curves in the one after: no single turn holds the window for all of it."""
    panel = window.training_panel
    configure(panel, epochs=1000)
    shipped = window.document.network
    panel.start_button.click()
    assert panel.running and not panel.start_button.isEnabled()
    assert window.document.network is shipped and panel.run is None
    with qtbot.waitSignal(panel.run_started, timeout=20000):
        pass
    assert window.document.network is not shipped and panel.run is not None
    with qtbot.waitSignal(panel.run_ended, timeout=20000):
        panel.stop_button.click()


def test_stop_before_the_run_began_starts_nothing(window, quick_data, qtbot):
    panel = window.training_panel
    configure(panel, epochs=1000)
    shipped, steps = window.document.network, window.document.undo_stack.count()
    started = []
    panel.run_started.connect(lambda: started.append(1))
    with qtbot.waitSignal(panel.loader.loaded, timeout=20000):
        panel.start_button.click()
    assert panel.running and panel.run is None  # the data are there; the run begins next turn
    panel.stop()
    qtbot.wait(300)
    assert started == [] and not panel.running and panel.start_button.isEnabled()
    assert window.document.network is shipped and window.document.undo_stack.count() == steps
    assert_idle(panel)


def test_the_current_network_continues_training(window, quick_data, qtbot):
    panel = window.training_panel
    configure(panel, epochs=1, network="current")
    before = window.document.network
    assert panel.start_button.isEnabled()
    final = train(qtbot, panel)
    assert final.kind == "finished"
    assert window.document.network is before and window.document.modified
    assert window.document.undo_stack.count() == 1


def test_the_trained_network_can_be_saved_with_how_it_was_trained(window, quick_data, qtbot,
                                                                  tmp_path, monkeypatch):
    panel = window.training_panel
    configure(panel, epochs=1)
    train(qtbot, panel)
    path = tmp_path / "trained.npz"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(path), ""))
    panel.save_button.click()
    model, metadata = load_model_with_metadata(path)
    assert params_equal(model.get_weights(), window.document.model.get_weights())
    assert metadata["last_training"]["status"] == "finished"
    assert metadata["last_training"]["optimizer"] == "adam"
    assert not window.document.modified


def test_undoing_the_new_network_during_a_run_stops_it_and_leaves_the_old_one_alone(
        window, quick_data, qtbot):
    panel = window.training_panel
    configure(panel, epochs=1000)
    document = window.document
    shipped, before = document.network, document.model.get_weights()
    with qtbot.waitSignal(document.weights_changed, timeout=20000):
        panel.start_button.click()
    with qtbot.waitSignal(panel.run_ended, timeout=20000) as ended:
        while document.network is not shipped:
            document.undo()
    assert ended.args[0].kind == "stopped"
    assert_idle(panel)
    assert params_equal(document.model.get_weights(), before) and not document.modified
    assert "Another network is current" in panel.status_label.text()
    document.redo()
    assert document.network.name == "tiny"       # redo: the trained network again


def test_start_is_disabled_and_explained_while_the_layer_list_cannot_learn(window):
    panel = window.training_panel
    configure(panel)
    panel.editor.set_layers(panel.editor.layers()[:-2])        # ends in 16x7x7 maps
    assert not panel.start_button.isEnabled()
    assert "add a Flatten layer" in panel.start_button.toolTip()
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("current"))
    assert panel.start_button.isEnabled()


def test_a_diverging_run_stops_with_a_message_and_keeps_finite_weights(window, quick_data,
                                                                       qtbot, monkeypatch):
    panel = window.training_panel
    configure(panel, epochs=50, optimizer="sgd")
    chosen = panel.config()
    # Softmax cross-entropy keeps the loss finite at any sensible rate: force the overflow.
    monkeypatch.setattr(panel, "config", lambda: replace(chosen, lr=1e30, momentum=0.0))
    final = train(qtbot, panel)
    assert final.kind == "diverged"
    assert_idle(panel)
    assert [title for title, _ in window.errors] == ["Training diverged"]
    assert "smaller learning rate" in window.errors[0][1]
    assert all(np.isfinite(v).all() for v in window.document.model.get_weights().values())
    assert "Diverged" in panel.status_label.text()


def test_an_error_in_the_training_process_reaches_the_user(window, quick_data, qtbot):
    panel = window.training_panel
    configure(panel, epochs=1000)
    with qtbot.waitSignal(panel.runner.progress, timeout=20000):
        panel.start_button.click()
    with qtbot.waitSignal(panel.run_ended, timeout=20000) as ended:
        panel.runner.trainer.process.kill()     # as if it had crashed
    assert ended.args[0] is None
    assert_idle(panel)
    [(title, message)] = window.errors
    assert title == "Training failed"
    assert "training process stopped unexpectedly" in message
    assert all(np.isfinite(v).all() for v in window.document.model.get_weights().values())
    assert panel.start_button.isEnabled() and "failed" in panel.status_label.text()


@pytest.mark.parametrize("answer", [Button.Yes, Button.No])
def test_closing_the_window_while_training_stops_the_run_as_the_user_answers(
        make_window, quick_data, qtbot, answer):
    window = make_window()
    panel = window.training_panel
    configure(panel, epochs=1000, network="current")
    document = window.document
    before = document.model.get_weights()
    asked = []
    window.ask_keep_training = lambda: asked.append(True) or answer
    with qtbot.waitSignal(document.weights_changed, timeout=20000):
        panel.start_button.click()          # wait until a snapshot was adopted
    assert window.close()
    assert asked == [True] and not window.isVisible()
    assert_idle(panel)
    weights = document.model.get_weights()
    if answer == Button.Yes:
        assert params_equal(weights, panel.runner.trainer.model.get_weights())
        assert window.questions == [document.network.name]   # then: save the changes?
    else:
        assert params_equal(weights, before) and not document.modified
        assert window.questions == []


def test_cancel_on_closing_goes_on_training(window, quick_data, qtbot):
    panel = window.training_panel
    configure(panel, epochs=1000)
    with qtbot.waitSignal(panel.runner.progress, timeout=20000):
        panel.start_button.click()
    window.ask_keep_training = lambda: Button.Cancel
    assert not window.close()
    assert window.isVisible() and panel.run is not None
    with qtbot.waitSignal(panel.runner.progress, timeout=20000):
        pass
    with qtbot.waitSignal(panel.run_ended, timeout=20000):
        panel.stop()


def test_loading_shows_progress_and_can_be_cancelled(window, qtbot):
    panel = window.training_panel
    configure(panel)
    panel.count_spin.setValue(0)            # all: 20,000 digits to draw
    progress = []
    panel.loader.runner.progress.connect(lambda done, total: progress.append((done, total)))
    panel.start_button.click()
    assert panel.loader.running and not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: len(progress) > 0, timeout=20000)
    assert progress[0][1] == 20000
    dialog = panel.loader.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    with qtbot.waitSignal(panel.loader.cancelled, timeout=20000):
        dialog.findChild(QPushButton).click()
    assert_idle(panel)
    assert panel.status_label.text() == "Loading cancelled." and panel.start_button.isEnabled()


def test_a_load_that_reports_no_progress_shows_its_dialog_soon(window, qtbot, monkeypatch):
    """The loading dialog appears after its short delay even before the first progress report
    (a QProgressDialog that is never given a value waits Qt's default four seconds)."""
    import threading
    import time

    from cnnviz.analysis import Cancelled

    release = threading.Event()

    def silent_load(source, count, seed, progress):
        release.wait(10)
        raise Cancelled()

    monkeypatch.setattr(training_data, "load_dataset", silent_load)
    panel = window.training_panel
    configure(panel)
    started = time.monotonic()
    panel.start_button.click()
    try:
        qtbot.waitUntil(lambda: panel.loader.dialog is not None
                        and panel.loader.dialog.isVisible(), timeout=3000)
        assert time.monotonic() - started < 2.5
    finally:
        with qtbot.waitSignal(panel.loader.cancelled, timeout=10000):
            panel.loader.runner.cancel()
            release.set()
    assert_idle(panel)


def test_loading_for_real_then_training(window, qtbot):
    panel = window.training_panel
    configure(panel, epochs=1)
    panel.count_spin.setValue(250)
    final = train(qtbot, panel)
    assert final.kind == "finished" and final.step == 4   # 200 training images
    assert panel.loader.cached(DataSource("offline"), 250, 60, 0) is not None


def test_reset_weights_gives_new_random_weights_undoably(window):
    panel = window.training_panel
    document = window.document
    before = document.model.get_weights()
    panel.reset_button.click()
    assert not params_equal(document.model.get_weights(), before) and document.modified
    document.undo()
    assert params_equal(document.model.get_weights(), before) and not document.modified


def test_curves_and_health_export_png_and_csv(window, quick_data, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(training_panel, "SNAPSHOT_INTERVAL", 0.0)
    monkeypatch.setattr(training_panel, "HEALTH_INTERVAL", 0.0)
    panel = window.training_panel
    configure(panel, epochs=2)
    train(qtbot, panel)
    curves, health = window.training_curves, window.network_health
    health.refresh()
    assert health.curves and all(len(c.xData) >= 1 for c in health.curves.values())
    png = curves.export_png(tmp_path / "curves.png")
    assert not QImage(str(png)).isNull()
    csv_path = health.export_csv(tmp_path / "health.csv")
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 1 + 8 and "dead_relu:1 ReLU" in lines[0]
    assert curves.export_png(tmp_path / "missing" / "curves.png") is None
    assert window.errors and window.errors[-1][0] == "Export failed"


@pytest.mark.parametrize("answer", [Button.Yes, Button.No])
def test_cancel_at_save_the_changes_after_stopping_leaves_the_panel_usable(
        window, quick_data, qtbot, answer):
    """Close while training, answer Yes (or No), then Cancel at "Save the changes?": the run was
    stopped as asked; the window stays, with the run shown stopped and Start ready."""
    panel = window.training_panel
    configure(panel, epochs=1000, network="current")
    document = window.document
    document.set_weights({k: v * 0.5 for k, v in document.model.get_weights().items()},
                         "Halve")  # modified whatever the answer: the save question is asked
    window.ask_keep_training = lambda: answer
    window.answer = Button.Cancel
    try:
        ended = []
        panel.run_ended.connect(ended.append)
        with qtbot.waitSignal(document.weights_changed, timeout=20000):
            panel.start_button.click()          # wait until a snapshot was adopted
        assert not window.close()
        assert window.isVisible() and window.questions == [document.network.name]
        assert_idle(panel)
        assert [report.kind for report in ended] == ["stopped"]
        assert panel.start_button.isEnabled() and panel.reset_button.isEnabled()
        assert not panel.pause_button.isEnabled() and not panel.stop_button.isEnabled()
        assert "left" not in panel.rate_label.text()
        assert "closing" in panel.status_label.text()
        final = train(qtbot, replace_epochs(panel, 1))   # and another run can start
        assert final.kind == "finished"
    finally:
        window.answer = Button.Discard   # the window can close at the test's end


def replace_epochs(panel, epochs):
    panel.settings.epochs_spin.setValue(epochs)
    return panel


def test_after_stop_no_time_is_left(window, quick_data, qtbot):
    panel = window.training_panel
    configure(panel, epochs=1000)
    with qtbot.waitSignal(panel.runner.progress, timeout=20000):
        panel.start_button.click()
    assert "left" in panel.rate_label.text()
    with qtbot.waitSignal(panel.run_ended, timeout=20000):
        panel.stop()
    assert "left" not in panel.rate_label.text() and "images/s" in panel.rate_label.text()
    assert panel.progress_bar.format().startswith("stopped at epoch 1/1000")


def test_figures_of_a_run_are_marked_once_its_weights_are_gone(window, quick_data, qtbot):
    panel, curves = window.training_panel, window.training_curves
    configure(panel, epochs=1)
    train(qtbot, panel)
    qtbot.waitUntil(lambda: curves.isVisible(), timeout=5000)
    curves.refresh()
    metrics = panel.metrics_label.text()
    assert "accuracy" in metrics and not curves.outdated
    assert not curves.summary_label.text().startswith(training_panel.OUTDATED_NOTE)
    panel.reset_button.click()
    curves.refresh()
    assert "changed since the last run" in panel.metrics_label.text()
    assert panel.progress_bar.format() == "" and panel.rate_label.text() == ""
    assert curves.summary_label.text().startswith(training_panel.OUTDATED_NOTE)
    assert window.network_health.outdated == training_panel.OUTDATED_NOTE
    window.document.undo()                  # the trained weights are back: so are their figures
    curves.refresh()
    assert panel.metrics_label.text() == metrics and not curves.outdated
    assert not curves.summary_label.text().startswith(training_panel.OUTDATED_NOTE)
    window.reset_weights_action.trigger()   # Edit > Reset Weights: the weights as opened
    assert "changed since the last run" in panel.metrics_label.text()
