"""Redraws spread over turns of the event loop, and the plots' round ranges."""

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from cnnviz.ui.shared.pacing import Stages
from cnnviz.ui.train.training_curves import round_range


def test_what_a_step_posts_is_delivered_before_the_next_step(qtbot):
    stages, calls = Stages(), []

    def first():
        calls.append("first")
        # A posted call, as a repaint request is: Qt delivers it before any timer fires.
        QTimer.singleShot(0, lambda: calls.append("posted by first"))

    stages.run(first, lambda: calls.append("second"))
    stages.run_next(lambda: calls.append("inserted"))
    assert calls == [] and stages.pending == 3        # nothing runs before the event loop
    qtbot.waitUntil(lambda: stages.pending == 0, timeout=2000)
    assert calls == ["inserted", "first", "posted by first", "second"]


def test_flush_runs_what_waits_now_and_clear_drops_it(qtbot):
    stages, calls = Stages(), []
    stages.run(lambda: calls.append(1), lambda: stages.run_next(lambda: calls.append(2)))
    stages.flush()
    assert calls == [1, 2] and stages.pending == 0
    stages.run(lambda: calls.append(3))
    stages.clear()
    qtbot.wait(20)
    assert calls == [1, 2]


def test_a_failing_step_does_not_stop_the_ones_after_it(qtbot):
    stages, calls = Stages(), []

    def broken():
        raise RuntimeError("drawing failed")

    stages.run(broken, lambda: calls.append("after"))
    with pytest.raises(RuntimeError):
        stages._run_next()                            # as the timer would call it
    qtbot.waitUntil(lambda: calls == ["after"], timeout=2000)


@pytest.mark.parametrize("values,log,expected", [
    ([0.03, 2.3], True, (-2.0, 0.5)),                 # half decades: 0.01 .. 3.16
    ([0.2], True, (-1.0, -0.5)),
    ([0.0, 0.0042, 0.005], False, (0.0, 0.005)),      # 1-2-5 steps from zero
    ([0.0051], False, (0.0, 0.01)),
    ([-3.0, 40.0], False, (-5.0, 50.0)),
    ([np.nan, np.inf], False, None),
    ([], True, None),
])
def test_round_ranges_hold_the_values_in_round_steps(values, log, expected):
    result = round_range(np.array(values, dtype=np.float64), log)
    assert result == (None if expected is None else pytest.approx(expected))
    if result is not None:
        finite = np.array([v for v in values if np.isfinite(v) and (v > 0 or not log)])
        shown = np.log10(finite) if log else finite
        assert result[0] <= shown.min() and shown.max() <= result[1]


def test_the_curves_follow_the_data_until_the_user_pans_or_zooms(qtbot):
    from cnnviz.training.history import TrainingHistory
    from cnnviz.ui.train.training_curves import TrainingCurves

    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.show()
    history = TrainingHistory(planned_steps=100)
    curves.set_history(history)

    def add(first, count, loss):
        steps = np.arange(first, first + count, dtype=np.float64)
        history.add_steps(np.column_stack([steps, np.zeros(count), np.full(count, loss),
                                           np.full(count, 0.5), np.full(count, 0.004)]))
        curves.refresh()

    add(1, 10, 2.0)
    loss_plot, lr_plot = curves.plots["loss"], curves.plots["lr"]
    (x0, x1), (y0, y1) = loss_plot.viewRange()
    assert x0 <= 0 and x1 >= 100                       # the whole run along the steps
    assert y0 <= np.log10(2.0) <= y1 and y1 - y0 < 0.7  # a half decade (and padding)
    assert lr_plot.viewRange()[1][1] == pytest.approx(0.005 * 1.02, rel=0.05)
    add(11, 10, 0.02)                                   # the loss falls: the range follows
    assert loss_plot.viewRange()[1][0] <= np.log10(0.02)

    viewbox = loss_plot.getViewBox()
    viewbox.setRange(xRange=(5, 15), yRange=(0, 0.1), padding=0)
    viewbox.sigRangeChangedManually.emit([True, True])  # as a drag or the wheel does
    add(21, 10, 0.001)
    assert loss_plot.viewRange()[0] == pytest.approx([5, 15])   # the user's view stays
    loss_plot.autoBtnClicked()                          # "A": follow the data again
    add(31, 10, 0.001)
    assert curves.following
    assert loss_plot.viewRange()[1][0] <= np.log10(0.001) and loss_plot.viewRange()[0][1] >= 100
