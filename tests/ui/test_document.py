"""The document: signals after every change, undo commands that restore state exactly."""

import numpy as np
import pytest

from cnnviz.data import DataError
from cnnviz.nn import ModelFileError, build_preset
from cnnviz.session import CanvasInput, ImageInput, NetworkEntry, Session, SessionError
from cnnviz.ui.window.document import THROTTLE_MS, Document

pytestmark = pytest.mark.gui


@pytest.fixture
def document(qapp):
    document = Document(Session(build_preset("lenet5", seed=1)))
    yield document
    document.deleteLater()


@pytest.fixture
def signals(document):
    """Every signal the document emits, in order, as (name, argument)."""
    seen = []
    for name in ("trace_changed", "input_changed", "model_changed", "weights_changed",
                 "network_file_changed", "modified_changed"):
        getattr(document, name).connect(lambda *args, name=name: seen.append((name, *args)))
    return seen


def raster_with(rows, cols):
    raster = np.zeros((280, 280), dtype=np.uint8)
    raster[rows, cols] = 255
    return raster


def names(signals):
    return [signal[0] for signal in signals]


def test_a_stroke_updates_live_and_becomes_one_undo_step(document, signals):
    blank_trace = document.trace
    document.begin_stroke()
    document.update_stroke(raster_with(slice(50, 100), slice(130, 150)))
    document.update_stroke(raster_with(slice(50, 200), slice(130, 150)))
    assert names(signals) == ["input_changed", "trace_changed"] * 2
    assert document.undo_stack.count() == 0
    document.end_stroke()
    assert document.undo_stack.count() == 1 and document.undo_stack.undoText() == "Stroke"
    assert len(signals) == 4  # pushing the finished stroke recomputes nothing
    stroke_trace = document.trace

    document.undo()
    assert document.source is blank_trace.source
    np.testing.assert_array_equal(document.trace.probabilities, blank_trace.probabilities)
    document.redo()
    assert document.source is stroke_trace.source
    assert names(signals)[4:] == ["input_changed", "trace_changed"] * 2
    assert [s[1].version for s in signals if s[0] == "trace_changed"] == [2, 3, 4, 5]


def test_cancel_stroke_brings_back_the_input_before_it(document):
    before = document.source
    document.begin_stroke()
    document.update_stroke(raster_with(slice(50, 100), slice(130, 150)))
    document.cancel_stroke()
    assert document.source is before and document.undo_stack.count() == 0


def test_clear_canvas_is_undoable_and_skipped_when_empty(document):
    document.clear_canvas()
    assert document.undo_stack.count() == 0
    document.begin_stroke()
    document.end_stroke(raster_with(slice(50, 200), slice(130, 150)))
    drawn = document.source
    document.clear_canvas()
    assert isinstance(document.source, CanvasInput) and document.source.is_blank
    assert document.undo_stack.undoText() == "Clear Canvas"
    document.undo()
    assert document.source is drawn


def test_opening_an_image_is_undone_to_the_drawing_and_its_trace(document, digit_image):
    document.begin_stroke()
    document.end_stroke(raster_with(slice(50, 200), slice(130, 150)))
    drawn_trace = document.trace
    document.open_image(digit_image)
    assert isinstance(document.source, ImageInput)
    assert document.undo_stack.undoText() == "Open Image seven.png"
    document.undo()
    assert document.source is drawn_trace.source
    np.testing.assert_array_equal(document.trace.probabilities, drawn_trace.probabilities)


def test_opening_a_network_is_undone_to_the_previous_network_as_it_was(document, signals,
                                                                      network_file):
    first = document.network
    document.set_param("0.bias", np.full(6, 0.5, dtype=np.float32))
    assert document.modified
    document.open_network(network_file)
    assert document.network.path == network_file and not document.modified
    assert "model_changed" in names(signals) and ("modified_changed", False) in signals
    document.undo()
    assert document.network is first and document.modified
    np.testing.assert_array_equal(first.model.layers[0].params["bias"], 0.5)
    document.undo()
    assert not document.modified


def test_weight_changes_merge_by_key_and_undo_to_unmodified(document, signals):
    original = document.session.weights()
    for step in range(1, 4):
        document.set_param("0.weight", original["0.weight"] + step, "Drag Weight",
                           merge_key=("drag", 1))
    assert document.undo_stack.count() == 1
    np.testing.assert_array_equal(document.model.layers[0].params["weight"],
                                  original["0.weight"] + 3)
    assert names(signals).count("trace_changed") == 3
    assert [s for s in signals if s[0] == "modified_changed"] == [("modified_changed", True)]
    document.set_weights({"3.bias": original["3.bias"] + 1},
                         merge_key=("drag", 2))
    assert document.undo_stack.count() == 2
    document.undo()
    document.undo()
    for name, value in document.session.weights().items():
        np.testing.assert_array_equal(value, original[name])
    assert not document.modified and signals[-1] == ("modified_changed", False)
    document.redo()
    np.testing.assert_array_equal(document.model.layers[0].params["weight"],
                                  original["0.weight"] + 3)


def test_saving_clears_modified_and_undo_after_saving_sets_it_again(document, tmp_path):
    document.set_param("0.bias", np.ones(6, dtype=np.float32))
    path = document.save_network(tmp_path / "saved.npz")
    assert not document.modified and document.network.path == path
    document.undo()
    assert document.modified
    document.redo()
    assert not document.modified


def test_reset_weights_is_one_undoable_step(document):
    original = document.session.weights()
    document.set_param("0.bias", np.ones(6, dtype=np.float32))
    document.set_param("3.bias", np.ones(16, dtype=np.float32))
    document.reset_weights()
    assert not document.modified and document.undo_stack.undoText() == "Reset Weights"
    np.testing.assert_array_equal(document.model.layers[3].params["bias"], original["3.bias"])
    document.undo()
    np.testing.assert_array_equal(document.model.layers[3].params["bias"], 1.0)


def test_failed_changes_push_nothing_and_emit_nothing(document, signals, bad_files):
    before = (document.network, document.source, document.trace)
    with pytest.raises(SessionError):
        document.set_param("0.weight", np.zeros(3, dtype=np.float32))
    with pytest.raises(SessionError):
        document.open_network(bad_files["network of 2x28x28 inputs"])
    with pytest.raises(ModelFileError):
        document.open_network(bad_files["pickled network"])
    with pytest.raises(DataError):
        document.open_image(bad_files["corrupt image"])
    assert (document.network, document.source, document.trace) == before
    assert signals == [] and document.undo_stack.count() == 0


def test_a_weight_command_refuses_to_run_on_another_network(document, network_file):
    document.set_param("0.bias", np.ones(6, dtype=np.float32))
    command = document.undo_stack.command(0)
    document.session.set_network(NetworkEntry.open(network_file))  # behind the stack's back
    with pytest.raises(RuntimeError):
        document._apply_params(command.network, command.before, command.before_token)


def test_the_throttled_trace_signal_coalesces_a_fast_stroke(document, qtbot):
    throttled = []
    document.trace_changed_throttled.connect(throttled.append)
    document.begin_stroke()
    for end in range(60, 260, 4):  # 50 moves in a burst, faster than THROTTLE_MS
        document.update_stroke(raster_with(slice(50, end), slice(130, 150)))
    assert [t.version for t in throttled] == [2]  # the first at once
    qtbot.waitUntil(lambda: len(throttled) == 2, timeout=1000)
    assert throttled[-1] is document.trace  # then the latest
    qtbot.wait(3 * THROTTLE_MS)
    assert len(throttled) == 2
    document.end_stroke()
