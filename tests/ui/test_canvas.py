"""Drawing with real mouse events: the prediction follows every move; strokes undo one by one."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from cnnviz.session import CanvasInput, ImageInput

from ui_helpers import DIGITS, LEFT, NO_MODIFIER, RIGHT, canvas_point, draw_digit, draw_stroke

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_a_digit_drawn_with_the_mouse_is_read_correctly(window, digit):
    draw_digit(window.canvas_panel.canvas, digit)
    trace = window.document.trace
    assert trace.top_class == digit, trace.probabilities
    panel = window.prediction_panel
    assert panel.top_class_label.text() == str(digit)
    assert panel.applied_version == trace.version
    np.testing.assert_array_equal(panel.probabilities, trace.probabilities)
    heights = panel.bars.opts["height"]
    assert int(np.argmax(heights)) == digit


def test_the_prediction_updates_on_every_mouse_move_before_the_release(window):
    panel = window.prediction_panel
    canvas = window.canvas_panel.canvas
    seen = []

    def check():
        seen.append((panel.applied_version, canvas.drawing, window.document.trace.version))

    draw_stroke(canvas, DIGITS[1][0], on_move=check)
    versions = [version for version, _, _ in seen]
    assert len(seen) > 20
    assert all(drawing for _, drawing, _ in seen)  # all during the stroke
    assert versions == sorted(set(versions))  # a new trace applied at every move
    assert all(version == trace for version, _, trace in seen)
    assert window.document.undo_stack.count() == 1  # the whole stroke is one step


def test_strokes_undo_and_redo_one_at_a_time(window):
    canvas = window.canvas_panel.canvas
    document = window.document
    draw_stroke(canvas, [(0.25, 0.18), (0.72, 0.18)])
    after_first = (canvas.raster.copy(), document.trace.probabilities.copy())
    draw_stroke(canvas, [(0.72, 0.18), (0.42, 0.86)])
    after_second = canvas.raster.copy()
    assert document.undo_stack.count() == 2
    assert window.undo_action.text() == "&Undo Stroke"

    window.undo_action.trigger()
    np.testing.assert_array_equal(canvas.raster, after_first[0])
    np.testing.assert_array_equal(window.prediction_panel.probabilities, after_first[1])
    window.undo_action.trigger()
    assert not canvas.raster.any() and document.trace.blank
    assert window.prediction_panel.top_class_label.text() == "\u2013"
    assert not window.undo_action.isEnabled()

    window.redo_action.trigger()
    window.redo_action.trigger()
    np.testing.assert_array_equal(canvas.raster, after_second)
    np.testing.assert_array_equal(document.source.raster, after_second)
    assert document.trace.top_class == 7


def test_clear_is_one_undoable_step(window):
    canvas = window.canvas_panel.canvas
    draw_digit(canvas, 7)
    drawn = canvas.raster.copy()
    window.canvas_actions["clear"].trigger()
    assert not canvas.raster.any() and window.document.trace.blank
    window.canvas_actions["clear"].trigger()  # already empty: no second step
    assert window.document.undo_stack.count() == 2
    window.undo_action.trigger()
    np.testing.assert_array_equal(canvas.raster, drawn)
    assert window.document.trace.top_class == 7


def test_the_right_button_and_the_eraser_remove_ink(window):
    canvas = window.canvas_panel.canvas
    draw_stroke(canvas, [(0.2, 0.5), (0.8, 0.5)])
    ink = int(canvas.raster.sum())
    draw_stroke(canvas, [(0.5, 0.3), (0.5, 0.7)], button=RIGHT)
    after_right = int(canvas.raster.sum())
    assert 0 < after_right < ink
    window.canvas_actions["eraser"].setChecked(True)
    draw_stroke(canvas, [(0.3, 0.3), (0.3, 0.7)])
    assert int(canvas.raster.sum()) < after_right
    assert window.undo_action.text() == "&Undo Erase"
    assert window.document.source.raster.sum() == canvas.raster.sum()


def test_the_brush_size_sets_the_width_of_the_line(window):
    canvas = window.canvas_panel.canvas
    widths = []
    for size in (6, 30):
        window.canvas_panel.brush_spin.setValue(size)
        assert canvas.brush_size == size and window.canvas_panel.brush_slider.value() == size
        window.canvas_actions["clear"].trigger()
        draw_stroke(canvas, [(0.2, 0.5), (0.8, 0.5)])
        widths.append(int((canvas.raster[:, 140] > 127).sum()))
    assert widths[0] == pytest.approx(6, abs=2) and widths[1] == pytest.approx(30, abs=2)
    window.canvas_actions["larger_brush"].trigger()
    assert window.canvas_panel.brush_spin.value() == 32


def test_pen_pressure_sets_the_width_of_the_line(window):
    canvas = window.canvas_panel.canvas
    canvas.set_brush_size(40)
    stylus = QPointingDevice("test stylus", 4242, QInputDevice.DeviceType.Stylus,
                             QPointingDevice.PointerType.Pen,
                             QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
                             1, 2)
    widths = []
    for pressure, row in ((0.3, 0.3), (1.0, 0.7)):
        for kind, fx in ((QEvent.Type.TabletPress, 0.2), (QEvent.Type.TabletMove, 0.5),
                         (QEvent.Type.TabletMove, 0.8), (QEvent.Type.TabletRelease, 0.8)):
            position = QPointF(canvas_point(canvas, fx, row))
            buttons = LEFT if kind != QEvent.Type.TabletRelease else Qt.MouseButton.NoButton
            event = QTabletEvent(kind, stylus, position, canvas.mapToGlobal(position), pressure,
                                 0.0, 0.0, 0.0, 0.0, 0.0, NO_MODIFIER, LEFT, buttons)
            QApplication.sendEvent(canvas, event)
        half = canvas.raster[:140] if row < 0.5 else canvas.raster[140:]
        widths.append(int((half[:, 140] > 127).sum()))
    assert widths[0] == pytest.approx(12, abs=3) and widths[1] == pytest.approx(40, abs=3)
    assert window.document.undo_stack.count() == 2


def test_drawing_over_an_opened_image_starts_a_new_drawing(window, digit_image):
    assert window.open_image(str(digit_image))
    assert isinstance(window.document.source, ImageInput)
    image_trace = window.document.trace
    draw_digit(window.canvas_panel.canvas, 1)
    assert isinstance(window.document.source, CanvasInput)
    assert window.document.trace.top_class == 1
    window.undo_action.trigger()
    assert window.document.source is image_trace.source
    assert window.document.trace.top_class == image_trace.top_class
    assert "seven.png" in window.canvas_panel.caption.text()


def test_undo_in_the_middle_of_a_stroke_finishes_it_first(window):
    canvas = window.canvas_panel.canvas
    draw_stroke(canvas, [(0.2, 0.5), (0.8, 0.5)])
    first = canvas.raster.copy()
    points = [canvas_point(canvas, 0.5, y) for y in (0.2, 0.4, 0.6)]
    QTest.mousePress(canvas, LEFT, NO_MODIFIER, points[0])
    QTest.mouseMove(canvas, points[1])
    window.undo_action.trigger()  # Ctrl+Z with the button still down
    np.testing.assert_array_equal(canvas.raster, first)
    np.testing.assert_array_equal(window.document.source.raster, first)
    QTest.mouseMove(canvas, points[2])  # the rest of that stroke draws nothing
    QTest.mouseRelease(canvas, LEFT, NO_MODIFIER, points[2])
    np.testing.assert_array_equal(canvas.raster, first)
    window.redo_action.trigger()  # the part drawn before the undo
    assert canvas.raster[int(0.3 * 280), 140] == 255 and canvas.raster[int(0.58 * 280), 140] == 0


def test_the_status_bar_says_what_is_under_the_cursor(window):
    canvas = window.canvas_panel.canvas
    draw_stroke(canvas, [(0.5, 0.2), (0.5, 0.8)])
    QTest.mouseMove(canvas, canvas_point(canvas, 0.52, 0.45))
    point = canvas.to_raster(QPointF(canvas_point(canvas, 0.52, 0.45)))
    text = window.cursor_label.text()
    assert text == f"Canvas  x {int(point.x())}, y {int(point.y())}: ink 1.00"
    QTest.mouseMove(canvas, canvas_point(canvas, 0.1, 0.5))
    assert "ink 0.00" in window.cursor_label.text()
