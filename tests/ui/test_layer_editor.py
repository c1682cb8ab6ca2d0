"""The layer-list editor: rows with live output shapes, editing, problems explained."""

import pytest
from PySide6.QtWidgets import QSpinBox

from cnnviz.nn import build_preset
from cnnviz.ui.train.layer_editor import LayerListEditor


@pytest.fixture
def editor(qtbot):
    widget = LayerListEditor()
    qtbot.addWidget(widget)
    return widget


def column(editor, index):
    return [editor.table.item(row, index).text() for row in range(editor.table.rowCount())]


def test_a_preset_fills_the_rows_with_their_output_shapes(editor):
    editor.fill_preset("lenet5")
    assert editor.table.rowCount() == 12
    assert column(editor, 0)[0] == "0  Conv2D"
    assert column(editor, 2)[:3] == ["6\u00d728\u00d728", "6\u00d728\u00d728", "6\u00d714\u00d714"]
    assert column(editor, 2)[-1] == "10"
    assert editor.check.ok and editor.network_name == "lenet5"
    assert "61,706 weights" in editor.problem_label.text()


def test_a_setting_that_does_not_fit_marks_its_row_and_explains(editor, qtbot):
    editor.fill_preset("lenet5")
    editor.table.selectRow(3)
    kernel = editor.settings_box.findChild(QSpinBox, "setting_kernel_size")
    assert kernel.value() == 5
    with qtbot.waitSignal(editor.changed):
        kernel.setValue(15)                      # the maps reaching it are 14x14
    assert not editor.check.ok
    assert column(editor, 2)[3] == "cannot be built"
    assert set(column(editor, 2)[4:]) == {"\u2014"}
    assert "Layer 3 (Conv2D)" in editor.problem_label.text()
    assert "does not fit" in editor.table.item(3, 0).toolTip()
    assert editor.network_name == "custom"
    kernel.setValue(3)
    assert editor.check.ok and column(editor, 2)[3] == "16\u00d712\u00d712"


def test_layers_are_added_removed_and_reordered(editor):
    editor.fill_preset("mlp")                    # Flatten, Dense 128, ReLU, Dense 10
    editor.table.selectRow(2)
    editor.add_layer("Dropout")
    assert column(editor, 0)[3] == "3  Dropout" and editor.selected_row() == 3
    assert editor.check.ok
    editor.move_layer(-1)
    assert [spec["kind"] for spec in editor.layers()] == ["Flatten", "Dense", "Dropout", "ReLU",
                                                         "Dense"]
    editor.table.selectRow(4)
    editor.remove_button.click()
    assert not editor.check.ok
    assert "gives 128 outputs" in editor.problem_label.text()
    editor.table.selectRow(0)
    editor.move_layer(-1)                         # already first: nothing happens
    assert editor.layers()[0]["kind"] == "Flatten"


def test_the_current_network_s_layers_can_be_loaded(editor):
    assert not editor.fill_current_action.isEnabled()
    model = build_preset("tiny", seed=0)
    editor.set_current_model(model)
    editor.fill_current_action.trigger()
    assert [spec["kind"] for spec in editor.layers()] == [l.kind for l in model.layers]
    assert all("in_channels" not in spec and "in_features" not in spec
               for spec in editor.layers())
    assert editor.check.ok and editor.check.params == model.param_count()


def test_editing_the_copy_leaves_the_editor_s_list_alone(editor):
    layers = editor.layers()
    layers[0]["out_channels"] = 99
    assert editor.layers()[0]["out_channels"] == 6
