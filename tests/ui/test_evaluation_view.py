"""The Evaluation panel: confusion matrix, its cells' examples, and examples as the input."""

import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from cnnviz.analysis import Cancelled, cell_indices, most_confused
from cnnviz.data import make_synthetic_digits, preprocess_digit
from cnnviz.nn import Dense, Flatten, Sequential
from cnnviz.example_networks import shipped_network
from cnnviz.session import ImageInput, NetworkEntry, Session
from cnnviz.ui.interpret import evaluation_view
from cnnviz.ui.interpret.evaluation_view import EvaluationView, LabelledSet, LabelledSetSource
from cnnviz.ui.window.document import Document

LEFT, NO_MODIFIER = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def small_test_set(progress=None) -> LabelledSet:
    images, labels = make_synthetic_digits(300, seed=1)    # lenet5: 288 right, 12 wrong
    return LabelledSet("offline digit", images, labels.astype(np.int64))


def slow_test_set(progress):
    for step in range(400):
        time.sleep(0.005)
        if not progress(step, 400):
            raise Cancelled()
    return small_test_set()


def broken_test_set(progress):
    raise OSError("the disk is on fire")


SOURCES = [LabelledSetSource("300 offline digits", small_test_set),
           LabelledSetSource("slow", slow_test_set), LabelledSetSource("broken", broken_test_set)]


@pytest.fixture
def document():
    return Document(Session(shipped_network()[0]))


@pytest.fixture
def view(qtbot, document):
    widget = EvaluationView(document, SOURCES)
    qtbot.addWidget(widget)
    widget.resize(900, 560)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    assert widget.shutdown()
    assert not widget.runner.running


@pytest.fixture
def evaluated(qtbot, view):
    with qtbot.waitSignal(view.runner.finished, timeout=10000):
        view.evaluate_button.click()
    return view


def click_cell(view, label, predicted) -> None:
    """A real mouse click in the middle of a confusion-matrix cell."""
    graphics = view.matrix.graphics
    scene = view.matrix.plot.getViewBox().mapViewToScene(QPointF(predicted + 0.5, label + 0.5))
    QTest.mouseClick(graphics.viewport(), LEFT, NO_MODIFIER, graphics.mapFromScene(scene))


def click_example(grid, row) -> None:
    QTest.mouseClick(grid.viewport(), LEFT, NO_MODIFIER,
                     grid.visualItemRect(grid.item(row)).center())


def test_the_matrix_counts_every_example_and_a_click_lists_its_cell(qtbot, evaluated):
    view = evaluated
    evaluation = view.run.evaluation
    assert evaluation.confusion.sum() == 300 == len(view.run.test_set.labels)
    np.testing.assert_array_equal(view.matrix.confusion, evaluation.confusion)
    assert "98.33%" in view.summary_label.text()  # the shipped lenet5 on 300 offline digits

    label, predicted, count = most_confused(evaluation.confusion)[0]
    with qtbot.waitSignal(view.matrix.cell_clicked, timeout=2000) as blocker:
        click_cell(view, label, predicted)
    assert blocker.args == [label, predicted]
    assert view.grid.keys() == list(cell_indices(evaluation, label, predicted))
    assert len(view.grid.keys()) == count
    assert view.matrix.selection.isVisible()

    click_cell(view, 3, 3)
    assert view.grid.keys() == list(cell_indices(evaluation, 3, 3))
    assert all(evaluation.labels[i] == 3 == evaluation.predictions[i] for i in view.grid.keys())


def test_mistakes_are_listed_most_confident_first(evaluated):
    view = evaluated
    evaluation = view.run.evaluation
    assert view.grid.keys() == list(evaluation.misclassified())
    assert len(view.grid.keys()) == 5
    first = view.grid.keys()[0]
    label, predicted = evaluation.labels[first], evaluation.predictions[first]
    assert view.grid.item(0).text().startswith(f"{label}\u2192{predicted}\n")
    assert "offline digit #" in view.grid.item(0).toolTip()


def test_clicking_a_mistake_makes_it_the_input_and_undo_brings_the_old_one_back(evaluated,
                                                                                document):
    view = evaluated
    evaluation = view.run.evaluation
    before, depth = document.source, document.undo_stack.count()
    index = view.grid.keys()[0]
    click_example(view.grid, 0)
    source = document.source
    assert isinstance(source, ImageInput) and source is not before
    np.testing.assert_allclose(source.pixels, view.run.test_set.images[index] / 255.0)
    np.testing.assert_allclose(document.trace.network_input[0],
                               preprocess_digit(view.run.test_set.images[index]))
    assert document.trace.top_class == evaluation.predictions[index] != evaluation.labels[index]
    assert document.undo_stack.count() == depth + 1
    assert document.undo_stack.undoText() == f"Show offline digit #{index}"

    click_example(view.grid, 0)                 # the same example again: no new step
    assert document.undo_stack.count() == depth + 1
    document.undo()
    assert document.source is before
    document.redo()
    assert document.source is source


def test_cancel_leaves_no_thread(qtbot, view):
    view.source_combo.setCurrentIndex(1)
    with qtbot.waitSignal(view.runner.progress, timeout=5000):
        view.evaluate()
    assert view.cancel_button.isEnabled() and not view.evaluate_button.isEnabled()
    thread = view.runner.thread
    with qtbot.waitSignal(view.runner.cancelled, timeout=5000):
        view.cancel_button.click()
    assert thread.isFinished() and not view.runner.running
    assert view.evaluate_button.isEnabled() and view.run is None
    assert "cancelled" in view.summary_label.text()


def test_errors_reach_the_user(qtbot, view, document):
    view.source_combo.setCurrentIndex(2)
    with qtbot.waitSignal(view.runner.failed, timeout=5000):
        view.evaluate()
    assert "failed: OSError: the disk is on fire" in view.summary_label.text()

    wide = Sequential([Flatten(), Dense(out_features=10)], input_shape=(1, 32, 32), seed=0)
    document.set_network(NetworkEntry(wide))
    view.source_combo.setCurrentIndex(0)
    with qtbot.waitSignal(view.runner.failed, timeout=5000):
        view.evaluate()
    assert "takes inputs of shape (1, 32, 32)" in view.summary_label.text()


def test_before_the_first_run_the_matrix_says_what_to_do_not_empty_axes(qtbot, view):
    matrix = view.matrix
    assert not matrix.graphics.isVisible() and matrix.placeholder.message.isVisible()
    assert matrix.placeholder.message.text().startswith(
        "Run an evaluation to see the confusion matrix")
    view.source_combo.setCurrentIndex(2)  # a failed run leaves nothing to show either
    with qtbot.waitSignal(view.runner.failed, timeout=5000):
        view.evaluate()
    assert matrix.placeholder.message.isVisible() and not matrix.graphics.isVisible()
    view.source_combo.setCurrentIndex(0)
    with qtbot.waitSignal(view.runner.finished, timeout=10000):
        view.evaluate()
    assert matrix.graphics.isVisible() and not matrix.placeholder.message.isVisible()
    assert matrix.confusion.sum() == 300


def test_a_changed_network_marks_the_evaluation_out_of_date(evaluated, document):
    view = evaluated
    assert "changed since" not in view.summary_label.text()
    bias = document.model.named_params()["11.bias"]
    document.set_param("11.bias", bias + 0.5)
    assert "changed since" in view.summary_label.text()
    document.undo()
    assert "changed since" not in view.summary_label.text()


def test_default_test_sets(monkeypatch, mnist_dir):
    monkeypatch.setenv("CNNVIZ_MNIST_DIR", str(mnist_dir))
    titles = [source.title for source in evaluation_view.default_sources()]
    assert titles[0].startswith("MNIST test set") and titles[1].startswith("Offline")
    monkeypatch.setattr(evaluation_view, "find_mnist", lambda: None)
    titles = [source.title for source in evaluation_view.default_sources()]
    assert titles[0].startswith("Offline") and "download" in titles[1]


def test_the_window_has_the_analysis_docks_and_menu(qtbot, make_window):
    window = make_window()
    for name in ("analysis", "activation_gallery", "evaluation"):
        dock = window.docks[name]
        assert dock.objectName() == f"{name}_dock"
        assert dock.toggleViewAction() in window.panels_menu.actions()
    assert [a.objectName() for a in window.analysis_menu.actions()] == [
        "explain_action", "activation_max_action", "evaluate_action"]
    window.explain_action.trigger()
    assert window.analysis_panel.isVisible()
    assert window.analysis_panel.explanation is None            # the canvas is empty


def test_evaluating_from_the_menu_then_closing_the_window_leaves_no_thread(qtbot, make_window):
    window = make_window()
    view = window.evaluation_view
    view.sources[0] = SOURCES[1]                  # slow: still running when the window closes
    with qtbot.waitSignal(view.runner.progress, timeout=5000):
        window.evaluate_action.trigger()
    assert view.isVisible()
    thread = view.runner.thread
    window.close()
    assert thread.isFinished() and not view.runner.running


def test_no_tick_mark_runs_into_the_matrix(evaluated):
    """Tick marks at the middle of each row and column drew a dash before the counts of the first
    and last columns ("-975" for 975): the matrix's axes have none."""
    for side in ("left", "bottom", "right"):
        assert evaluated.matrix.plot.getAxis(side).style["tickLength"] == 0, side
