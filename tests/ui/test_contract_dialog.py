"""Edit ▸ Network Input and Classes…: the input contract of an opened network (an ONNX file
without one, say) named and normalised in the window, as one undo step, shown in every view at
once and kept by Save (.npz and .onnx)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QPushButton

from cnnviz.nn import Dense, Flatten, Sequential, load_network
from cnnviz.nn.contract import InputContract
from cnnviz.nn.onnx_export import save_onnx
from cnnviz.ui.window.contract_dialog import ContractDialog

OUTPUTS = 1000


@pytest.fixture
def foreign_onnx(tmp_path):
    """A 3x8x8 -> 1,000 classes ONNX file without cnnviz's description (as PyTorch writes
    them)."""
    model = Sequential([Flatten(), Dense(out_features=OUTPUTS)], input_shape=(3, 8, 8), seed=0)
    path = save_onnx(model, tmp_path / "foreign.onnx")
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(path))
    return path


@pytest.fixture
def imagenet_names(tmp_path):
    """1,000 names, one per line, with ImageNet's repeated "crane" (outputs 134 and 517)."""
    names = [f"kind {k}" for k in range(OUTPUTS)]
    names[134] = names[517] = "crane"
    path = tmp_path / "imagenet_classes.txt"
    path.write_text("\ufeff" + "\n".join(names) + "\n\n", encoding="utf-8")
    expected = list(names)
    expected[517] = "crane (2)"
    return path, tuple(expected)


def open_dialog(window) -> ContractDialog:
    window.contract_action.trigger()
    dialogs = [d for d in window.findChildren(ContractDialog) if d.isVisible()]
    assert len(dialogs) == 1
    return dialogs[0]


def press(dialog, button) -> None:
    dialog.buttons.button(button).click()


def test_the_classes_and_normalisation_change_as_one_undo_step_in_every_view(
        make_window, foreign_onnx, imagenet_names, tmp_path):
    window = make_window(model=str(foreign_onnx))
    document = window.document
    assert document.network.contract.classes == tuple(str(k) for k in range(OUTPUTS))
    assert not document.modified
    steps = document.undo_stack.count()
    dialog = open_dialog(window)
    names_file, expected = imagenet_names
    assert dialog.load_names(names_file)
    assert "'crane' appears twice" in dialog.names_count.text()
    dialog.findChild(QPushButton, "imagenet_button").click()
    dialog.fit_combo.setCurrentIndex(dialog.fit_combo.findData("pad"))
    dialog.fill_spin.setValue(0.5)
    assert dialog.problem_label.text() == "" and dialog.ok_button.isEnabled()
    press(dialog, QDialogButtonBox.StandardButton.Ok)

    contract = document.network.contract
    assert contract == InputContract(shape=(3, 8, 8), classes=expected, pipeline="image",
                                     fit="pad", fill=0.5, mean=(0.485, 0.456, 0.406),
                                     std=(0.229, 0.224, 0.225))
    assert document.undo_stack.count() == steps + 1
    assert document.undo_stack.undoText() == "Change Input and Classes"
    assert document.modified and window.isWindowModified()
    # The prediction names the classes; the network input is the empty page (1.0 in every
    # channel) normalised by the new mean and std.
    assert window.prediction_panel.class_names == expected
    mean, std = np.array(contract.mean), np.array(contract.std)
    expected_input = np.broadcast_to(((1.0 - mean) / std)[:, None, None], (3, 8, 8))
    np.testing.assert_allclose(document.trace.network_input, expected_input, rtol=1e-6)
    assert document.trace.contract == contract
    assert "normalised" in window.input_view.caption.text()

    document.undo()
    assert document.network.contract.classes == tuple(str(k) for k in range(OUTPUTS))
    assert window.prediction_panel.class_names[517] == "517"
    np.testing.assert_allclose(document.trace.network_input, 1.0)
    assert not document.modified
    document.redo()
    assert document.network.contract == contract
    assert window.prediction_panel.class_names[517] == "crane (2)"

    # Saving keeps it, in either format; reopening gives it back.
    for name in ("named.npz", "named.onnx"):
        saved = document.save_network(tmp_path / name)
        assert not document.modified
        assert load_network(saved).contract == contract


def test_wrong_values_are_named_and_change_nothing(make_window, foreign_onnx, tmp_path):
    window = make_window(model=str(foreign_onnx))
    document = window.document
    before, steps = document.network.contract, document.undo_stack.count()
    dialog = open_dialog(window)
    problem = dialog.problem_label

    dialog.set_names(f"kind {k}" for k in range(OUTPUTS - 1))
    assert problem.text() == "999 class names for the network's 1000 outputs."
    assert not dialog.ok_button.isEnabled()
    dialog.number_names()
    assert problem.text() == "" and dialog.ok_button.isEnabled()

    dialog.mean_edit.setText("0.5, 0.5")
    assert problem.text() == ("The mean: 2 numbers for 3 channels (give one per channel, or one "
                              "for all).")
    dialog.mean_edit.setText("0.5, half, 0.5")
    assert problem.text() == "The mean: 'half' is not a number."
    dialog.mean_edit.setText("0.5")  # one number: every channel
    assert problem.text() == "" and dialog.ok_button.isEnabled()
    dialog.std_edit.setText("0.2, 0, 0.2")
    assert problem.text() == ("The standard deviation of channel 1 must be a number from 0.0001 "
                              "to 1000, not 0.0.")
    assert not dialog.ok_button.isEnabled()
    dialog.std_edit.setText("0.25")
    assert dialog.ok_button.isEnabled()

    binary = tmp_path / "names.bin"
    binary.write_bytes(b"\xff\xfe\x00cat\n")
    text = dialog.names_edit.toPlainText()
    assert not dialog.load_names(binary)
    assert "not UTF-8 text" in problem.text()
    assert not dialog.load_names(tmp_path / "missing.txt")
    assert "missing.txt cannot be read" in problem.text()
    assert dialog.names_edit.toPlainText() == text

    press(dialog, QDialogButtonBox.StandardButton.Cancel)
    assert document.network.contract is before
    assert document.undo_stack.count() == steps and not document.modified


def test_a_digit_network_can_become_a_grey_image_network(make_window, network_file):
    window = make_window(model=str(network_file))
    dialog = open_dialog(window)
    assert [dialog.pipeline_combo.itemData(i) for i in range(dialog.pipeline_combo.count())] \
        == ["digits", "image"]
    assert dialog.findChild(QPushButton, "imagenet_button") is None  # one channel
    dialog.pipeline_combo.setCurrentIndex(1)
    dialog.mean_edit.setText("0.1307")
    dialog.std_edit.setText("0.3081")
    press(dialog, QDialogButtonBox.StandardButton.Ok)
    contract = window.document.network.contract
    assert (contract.pipeline, contract.mean, contract.std) == ("image", (0.1307,), (0.3081,))
    # The empty canvas (black for a digit network) is 0, normalised.
    np.testing.assert_allclose(window.document.trace.network_input, (0 - 0.1307) / 0.3081,
                               rtol=1e-6)


def test_the_command_lines_options_open_the_network_changed(make_window, foreign_onnx):
    names = tuple(f"kind {k}" for k in range(OUTPUTS))
    window = make_window(model=str(foreign_onnx), contract_changes={
        "classes": names, "mean": "0.5", "std": "0.25, 0.5, 1"})
    document = window.document
    assert document.network.contract == InputContract(
        shape=(3, 8, 8), classes=names, pipeline="image", mean=(0.5,) * 3, std=(0.25, 0.5, 1.0))
    assert window.prediction_panel.class_names == names
    assert document.modified and document.undo_stack.count() == 0
    assert window.errors == []


def test_options_that_do_not_fit_are_reported_and_change_nothing(make_window, foreign_onnx):
    window = make_window(model=str(foreign_onnx), contract_changes={"classes": ("a", "b")})
    assert window.document.network.name == "foreign.onnx"
    assert window.document.network.contract.classes[:2] == ("0", "1")
    assert not window.document.modified
    assert window.errors == [("Network Input and Classes",
                              "--classes: the input description does not fit the network: 2 "
                              "class names for the network's 1000 outputs")]


def test_a_changed_contract_is_an_unsaved_change(make_window, foreign_onnx, network_file):
    window = make_window(model=str(foreign_onnx))
    dialog = open_dialog(window)
    dialog.mean_edit.setText("0.5")
    press(dialog, QDialogButtonBox.StandardButton.Ok)
    assert window.document.modified
    window.answer = QMessageBox.StandardButton.Cancel
    window.open_network(str(network_file))
    assert window.questions == ["foreign.onnx"]
    assert window.document.network.name == "foreign.onnx"
    window.answer = QMessageBox.StandardButton.Discard  # (closing asks again)


def test_no_change_while_the_network_trains(make_window, foreign_onnx, monkeypatch):
    window = make_window(model=str(foreign_onnx))
    monkeypatch.setattr(type(window.training_panel), "running", property(lambda self: True))
    window.contract_action.trigger()
    assert not [d for d in window.findChildren(ContractDialog) if d.isVisible()]
    assert window.errors == [("Network Input and Classes",
                              "The network is training on images made as its input description "
                              "says: stop the training first.")]


def test_a_graph_that_normalises_its_input_opens_with_that_normalisation(make_window, tmp_path):
    """Sub/Div at the graph's input (PyTorch's normalisation in forward) were refused; now they
    are the contract's mean and std, shown in Network Input and in the dialog."""
    from onnx import helper, numpy_helper

    model = Sequential([Flatten(), Dense(out_features=4)], input_shape=(3, 8, 8), seed=0)
    proto = onnx.load(str(save_onnx(model, tmp_path / "plain.onnx")))
    del proto.metadata_props[:]
    graph = proto.graph
    graph.node[0].input[0] = "normalised"
    graph.node.insert(0, helper.make_node("Div", ["centred", "std"], ["normalised"]))
    graph.node.insert(0, helper.make_node("Sub", ["input", "mean"], ["centred"]))
    graph.initializer.extend([
        numpy_helper.from_array(np.array([0.5, 0.4, 0.3], np.float32).reshape(3, 1, 1), "mean"),
        numpy_helper.from_array(np.array([0.2, 0.25, 0.5], np.float32).reshape(3, 1, 1), "std")])
    path = tmp_path / "normalising.onnx"
    onnx.save(proto, str(path))
    window = make_window(model=str(path))
    assert window.errors == [] and window.document.network.name == "normalising.onnx"
    contract = window.document.network.contract
    np.testing.assert_allclose(contract.mean, [0.5, 0.4, 0.3], rtol=1e-6)
    np.testing.assert_allclose(contract.std, [0.2, 0.25, 0.5], rtol=1e-6)
    assert "normalised" in window.input_view.caption.text()
    np.testing.assert_allclose(window.document.trace.network_input[:, 0, 0],
                               [(1 - 0.5) / 0.2, (1 - 0.4) / 0.25, (1 - 0.3) / 0.5], rtol=1e-5)
    dialog = open_dialog(window)
    assert (dialog.mean_edit.text(), dialog.std_edit.text()) == ("0.5, 0.4, 0.3", "0.2, 0.25, 0.5")
    press(dialog, QDialogButtonBox.StandardButton.Cancel)
