"""File > Example Networks: the networks shipped with cnnviz, listed from its models folder, opened
as an undoable step, and the last one used opened at the next start."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cnnviz import resources
from cnnviz.data import CIFAR10_CLASSES
from cnnviz.nn import build_preset, save_model
from cnnviz.nn.contract import InputContract
from cnnviz.ui.window import settings

from ui_helpers import state_of


@pytest.fixture
def shipped_folder(tmp_path, monkeypatch):
    """A resources folder whose models are a copy of lenet5 and a colour network (with its
    training notes), standing in for the installed one: shipped, hence read-only."""
    root = tmp_path / "resources"
    (root / "models").mkdir(parents=True)
    (root / "icons").symlink_to(resources.resource_path("icons"))
    shutil.copy(resources.resource_path("models", "lenet5.npz"), root / "models" / "lenet5.npz")
    contract = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                             mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    save_model(build_preset("cifar-tutorial", seed=0), root / "models" / "cifar-tutorial.npz",
               metadata={"arch": "cifar-tutorial", "data": "CIFAR-10", "test_accuracy": 0.6083},
               contract=contract)
    monkeypatch.setattr(resources, "_INSTALLED_ROOT", root)
    return root / "models"


def example_actions(window):
    return [a for a in window.examples_menu.actions() if a.data()]


def test_the_menu_lists_every_shipped_network_with_a_title_from_its_file(make_window,
                                                                         shipped_folder):
    window = make_window()
    actions = example_actions(window)
    assert [a.text() for a in actions] == [
        "&1 cifar-tutorial: colour images 32\u00d732, 10 classes (CIFAR-10, 60.8% test accuracy)",
        "&2 lenet5: digits 28\u00d728, 10 classes (MNIST, 99.3% test accuracy)"]
    assert all(a.toolTip() and a.statusTip() for a in actions)
    assert window.examples_menu.menuAction() in window.file_menu.actions()
    # Data-driven: a network added to the folder appears the next time the menu opens.
    save_model(build_preset("tiny", seed=0), shipped_folder / "tiny.npz")
    window.examples_menu.aboutToShow.emit()
    assert [a.data() for a in example_actions(window)] == [
        str(shipped_folder / name) for name in ("cifar-tutorial.npz", "lenet5.npz", "tiny.npz")]


def test_an_example_opens_read_only_as_an_undoable_step_and_is_remembered(make_window,
                                                                          shipped_folder):
    window = make_window()
    assert window.document.network.name == "lenet5.npz"
    recent = settings.recent_files()
    example_actions(window)[0].trigger()
    network = window.document.network
    assert not window.errors, window.errors
    assert network.name == "cifar-tutorial.npz" and network.read_only
    assert network.classes == CIFAR10_CLASSES
    assert window.document.trace.network_input.shape == (3, 32, 32)
    assert window.prediction_panel.class_names == CIFAR10_CLASSES
    assert window.document.undo_stack.undoText() == "Open Network cifar-tutorial.npz"
    assert settings.recent_files() == recent  # not one of the user's own files
    assert settings.read_str(settings.EXAMPLE_NETWORK_KEY) == "cifar-tutorial.npz"
    window.document.undo()
    assert window.document.network.name == "lenet5.npz"
    window.document.redo()
    assert window.document.network is network
    window.close()
    # The next start opens the example used last ...
    second = make_window()
    assert second.document.network.name == "cifar-tutorial.npz"
    assert second.document.network.read_only and second.document.undo_stack.count() == 0
    assert second.prediction_panel.class_names == CIFAR10_CLASSES
    second.close()
    # ... and lenet5 when that file is gone.
    (shipped_folder / "cifar-tutorial.npz").unlink()
    third = make_window()
    assert third.document.network.name == "lenet5.npz" and not third.errors


def test_saving_an_example_asks_for_a_file_of_ones_own(make_window, shipped_folder,
                                                      monkeypatch, tmp_path):
    window = make_window()
    example_actions(window)[0].trigger()
    window.document.set_param("0.bias", np.full(12, 0.5, dtype=np.float32))
    asked = []
    target = tmp_path / "mine.npz"

    def get_save(*args):
        asked.append(args[1])
        return str(target), ""

    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName", get_save)
    assert window.save_network()
    assert asked == ["Save Network As"] and target.is_file()
    assert (shipped_folder / "cifar-tutorial.npz").stat().st_size > 0


def test_a_damaged_example_is_listed_as_such_and_opening_it_changes_nothing(make_window,
                                                                            shipped_folder):
    (shipped_folder / "broken.npz").write_bytes(b"not a network")
    window = make_window()
    action = next(a for a in example_actions(window) if a.data().endswith("broken.npz"))
    assert "cannot be read" in action.text()
    before = state_of(window)
    action.trigger()
    assert state_of(window) == before
    assert window.errors and window.errors[0][0] == "Cannot open the network"
    assert "broken.npz" in window.errors[0][1]
    assert settings.read_str(settings.EXAMPLE_NETWORK_KEY) == ""
