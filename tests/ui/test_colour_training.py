"""Colour in the Train and Interpret workspaces: training a new network on a folder of colour
images in the window (its contract gets the folder's class names and per-channel statistics),
CIFAR-10 in the data menu, clear messages for data that do not fit the network, and the
evaluation of a colour network (per-class accuracy, a colour gallery of mistakes).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from cnnviz.data import Dataset
from cnnviz.nn import build_preset
from cnnviz.nn.threads import limit_blas_threads
from cnnviz.session import NetworkEntry
from cnnviz.training.sources import DataSource, split_training_data
from cnnviz.ui.interpret import evaluation_view
from cnnviz.ui.interpret.evaluation_view import folder_source
from cnnviz.ui.shared.image_grid import ImageGrid

CLASSES = ("apple", "lake", "moss")
#: A colour that leans to red, blue or green per class, so that the classes can be told apart.
TINTS = {"apple": (200, 40, 40), "lake": (40, 60, 200), "moss": (50, 170, 60)}
SIDE = 32


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    limit_blas_threads(1)  # as the app does at start-up


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Decoded folders are cached in the test's own folder, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNVIZ_CACHE_DIR", str(tmp_path / "cache"))


def write_folder(root, per_class: dict[str, int], seed: int = 0) -> dict[str, list[np.ndarray]]:
    """PNG images ROOT/CLASS/NNN.png, noisy tints of each class's colour; returns the images
    written (H, W, 3) uint8 by class, in file order."""
    rng = np.random.default_rng(seed)
    written = {}
    for name, count in per_class.items():
        (root / name).mkdir(parents=True)
        written[name] = []
        for i in range(count):
            noise = rng.integers(-60, 61, size=(SIDE, SIDE, 3))
            pixels = np.clip(np.array(TINTS[name]) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "RGB").save(root / name / f"{i:03d}.png")
            written[name].append(pixels)
    return written


@pytest.fixture
def colour_folder(tmp_path):
    """train/ (12 images per class) and test/ (5 per class) folders of 32x32 colour images."""
    root = tmp_path / "colours"
    train = write_folder(root / "train", {name: 12 for name in CLASSES}, seed=1)
    test = write_folder(root / "test", {name: 5 for name in CLASSES}, seed=2)
    return root, train, test


def test_a_new_network_trains_on_a_folder_of_colour_images_in_the_window(
        make_window, qtbot, colour_folder):
    root, train, _ = colour_folder
    window = make_window()
    window.show_workspace("train")
    panel = window.training_panel
    digit_network = window.document.network
    assert panel.select_image_folder(root)
    # The layer list is checked against the folder's images and classes (a colour preset).
    assert panel.editor.input_shape == (3, SIDE, SIDE) and panel.editor.classes == 3
    assert panel.editor.network_name == "cifar-tutorial" and panel.editor.check.ok
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("new"))
    panel.count_spin.setValue(0)
    panel.validation_spin.setValue(0)  # every training image trains (and makes the statistics)
    panel.settings.epochs_spin.setValue(1)
    assert panel.problem() is None and panel.start_button.isEnabled()

    with qtbot.waitSignal(panel.run_ended, timeout=120000) as ended:
        panel.start_button.click()
    final = ended.args[0]
    assert final is not None and final.kind == "finished", window.errors
    assert window.errors == []

    network = window.document.network
    assert network is not digit_network and network.model.input_shape == (3, SIDE, SIDE)
    assert tuple(network.model.output_shape) == (3,)
    contract = network.contract
    assert contract.classes == CLASSES and contract.pipeline == "image"
    # Independent statistics: every training image as written, float64, per channel.
    images = np.stack([p for name in CLASSES for p in train[name]]).astype(np.float64) / 255.0
    np.testing.assert_allclose(contract.mean, images.mean(axis=(0, 1, 2)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(contract.std, images.std(axis=(0, 1, 2)), rtol=0, atol=1e-12)
    # The images the network trained on were normalised by that contract.
    data = panel.loader._data[1]
    assert data.contract == contract and data.train_x.shape == (36, 3, SIDE, SIDE)
    np.testing.assert_allclose(data.train_x.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(data.train_x.std(axis=(0, 2, 3), dtype=np.float64), 1, atol=1e-5)
    assert panel.network_combo.isEnabled() and panel.start_button.isEnabled()

    window.document.undo_stack.undo()  # the weights from before the run
    window.document.undo_stack.undo()  # the network from before: the digits come back
    assert window.document.network is digit_network


def test_the_validation_images_are_left_out_of_the_statistics():
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, size=(50, 3, 8, 8), dtype=np.uint8)
    images[:25] //= 4  # dark and light halves: which images are held out matters
    labels = np.arange(50) % 2
    dataset = Dataset(images, labels, images[:1], labels[:1], name="toy",
                      class_names=("dark", "light"))
    contract = NetworkEntry(build_preset("mlp", seed=0, outputs=2)).contract  # digit network
    contract = type(contract)(shape=(3, 8, 8), classes=("0", "1"), pipeline="image")
    data = split_training_data(dataset, validation=10, seed=3, contract=contract, fresh=True)
    held_out = dataset.split_validation(10, seed=3)
    kept = held_out.train_x.astype(np.float64) / 255.0
    np.testing.assert_allclose(data.contract.mean, kept.mean(axis=(0, 2, 3)), atol=1e-12)
    np.testing.assert_allclose(data.contract.std, kept.std(axis=(0, 2, 3)), atol=1e-12)
    everything = images.astype(np.float64).mean(axis=(0, 2, 3)) / 255.0
    assert not np.allclose(data.contract.mean, everything, atol=1e-6)
    assert data.contract.classes == ("dark", "light")
    expected = (held_out.val_x / 255.0 - kept.mean(axis=(0, 2, 3))[:, None, None]) \
        / kept.std(axis=(0, 2, 3))[:, None, None]
    np.testing.assert_allclose(data.val_x, expected, atol=1e-5)


def test_the_data_menu_offers_cifar10_and_a_folder_of_images(make_window, monkeypatch,
                                                             tmp_path, colour_folder):
    window = make_window()
    panel = window.training_panel
    combo = panel.data_combo
    titles = [combo.itemText(i) for i in range(combo.count())]
    assert any(t.startswith("CIFAR-10") for t in titles)
    assert "Images from a folder\u2026" in titles
    panel.select_data(DataSource("cifar10"))
    assert panel.editor.input_shape == (3, 32, 32) and panel.editor.classes == 10
    assert panel.editor.network_name == "cifar-tutorial" and panel.editor.check.ok
    panel.editor.fill_preset("vgg-small")
    assert panel.editor.check.ok and panel.editor.check.rows[-1].output_shape == (10,)
    panel.select_data(DataSource("offline"))  # back to digits: back to a digit preset
    assert panel.editor.input_shape == (1, 28, 28) and panel.editor.network_name == "lenet5"

    # Choosing "Images from a folder..." asks for the folder; one that is not is refused.
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(empty))
    before = combo.currentIndex()
    combo.activated.emit(titles.index("Images from a folder\u2026"))
    assert combo.currentIndex() == before and window.errors
    title, message = window.errors[-1]
    assert "no class folders" in message and "Traceback" not in message
    root = colour_folder[0]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(root))
    combo.activated.emit(combo.findText("Images from a folder\u2026"))
    assert panel.data_source() == DataSource("images", root)
    assert panel.data_source().class_names == CLASSES


def test_data_that_do_not_fit_the_network_say_so_in_words(make_window, colour_folder):
    window = make_window()
    panel = window.training_panel
    panel.select_image_folder(colour_folder[0])
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("current"))
    problem = panel.problem()  # the shipped digit network: 10 scores, 3 classes here
    assert problem.startswith("The current network takes 1\u00d728\u00d728 inputs and gives 10 outputs")
    assert "3 class scores" in problem and not panel.start_button.isEnabled()
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("new"))
    panel.editor.fill_preset("lenet5")  # a digit network's layers: they fit any shape,
    panel.editor.add_layer("Dense")     # but not three classes once a layer is added
    assert panel.problem() is not None and not panel.start_button.isEnabled()
    assert "Traceback" not in panel.problem()


def evaluate(qtbot, view):
    with qtbot.waitSignal(view.runner.finished, timeout=60000):
        view.evaluate_button.click()
    return view.run


def test_evaluating_a_colour_network_per_class_accuracy_and_a_colour_gallery(
        make_window, qtbot, colour_folder):
    root, _, test = colour_folder
    window = make_window()
    window.show_workspace("interpret")
    model = build_preset("cifar-tutorial", seed=4, outputs=3)
    contract = NetworkEntry(model).contract
    contract = type(contract)(shape=(3, SIDE, SIDE), classes=CLASSES, pipeline="image",
                              mean=(0.4, 0.35, 0.3), std=(0.3, 0.25, 0.28))
    window.document.set_network(NetworkEntry(model, contract=contract), "colour")
    view = window.evaluation_view
    titles = [view.source_combo.itemText(i) for i in range(view.source_combo.count())]
    assert titles[0].startswith("CIFAR-10 test set") and "Images from a folder\u2026" in titles
    view.add_folder(root)
    run = evaluate(qtbot, view)

    # Independent: the test images as written, normalised by hand, through the network.
    images = np.stack([p for name in CLASSES for p in test[name]])        # (15, H, W, 3)
    labels = np.repeat(np.arange(3), 5)
    x = (images / 255.0 - np.array(contract.mean)) / np.array(contract.std)
    scores = model.forward(np.moveaxis(x, -1, 1).astype(np.float32))
    predicted = np.argmax(scores, axis=1)
    expected = [np.mean(predicted[labels == k] == k) for k in range(3)]
    np.testing.assert_allclose(run.evaluation.per_class_accuracy, expected)
    listed = view.summary_label.toolTip().splitlines()[1:]   # worst first
    assert listed == [f"{CLASSES[k]}: {expected[k]:.1%} of 5"
                      for k in np.argsort(expected, kind="stable")]
    ticks = view.matrix.plot.getAxis("right")._tickLevels[0]
    assert [text for _, text in ticks] == [f"{a:.1%}" for a in expected]

    # The gallery of mistakes: each tile the test image itself, in colour.
    wrong = np.nonzero(predicted != labels)[0]
    if len(wrong) == 0:
        pytest.fail("the untrained network should get some of these wrong")
    grid = view.grid
    assert sorted(grid.keys()) == sorted(wrong.tolist())
    for row, index in enumerate(grid.keys()):
        shown = grid.item(row).icon().pixmap(grid.side, grid.side).toImage()
        picture = np.ascontiguousarray(images[index])
        source = QImage(picture.data, SIDE, SIDE, 3 * SIDE, QImage.Format.Format_RGB888)
        expected_tile = source.scaled(grid.side, grid.side).convertToFormat(shown.format())
        assert shown == expected_tile
        assert len({shown.pixelColor(x, y).name() for x in range(0, grid.side, 7)
                    for y in range(0, grid.side, 7)}) > 3  # colours, not greys
        name = CLASSES[labels[index]]
        assert grid.item(row).text().startswith(f"{name}\u2192")

    # A mistake clicked becomes the window's colour input.
    view.show_example(grid.keys()[0])
    np.testing.assert_allclose(window.document.source.pixels,
                               images[grid.keys()[0]] / 255.0, atol=1e-7)


def test_colour_images_in_the_grid_keep_their_colours(qtbot):
    grid = ImageGrid(side=8)
    qtbot.addWidget(grid)
    picture = np.zeros((4, 4, 3), np.float32)
    picture[..., 0], picture[:2, :, 2] = 1.0, 0.5
    grid.set_images([picture], ["red and purple"])
    image = grid.item(0).icon().pixmap(8, 8).toImage()
    assert image.pixelColor(0, 7).getRgb()[:3] == (255, 0, 0)
    assert image.pixelColor(0, 0).getRgb()[:3] == (255, 0, 128)


def test_test_sets_follow_the_network(make_window, monkeypatch, mnist_dir):
    monkeypatch.setenv("CNNVIZ_MNIST_DIR", str(mnist_dir))
    window = make_window()
    view = window.evaluation_view
    assert view.source_combo.itemText(0).startswith("MNIST test set")
    window.document.set_network(NetworkEntry(build_preset("vgg-small", seed=0)), "colour")
    assert view.source_combo.itemText(0).startswith("CIFAR-10 test set")
    window.document.undo_stack.undo()
    assert view.source_combo.itemText(0).startswith("MNIST test set")
    assert [s.title for s in view.sources] == [s.title for s in evaluation_view.default_sources(
        window.document.network.contract)]
    assert folder_source("x", (3, 8, 8)).title == "Test images of x"


def test_a_task_that_starts_python_threads_leaves_none_listed(qtbot):
    """Decoding a folder of images uses a thread pool from the worker's QThread: Python then
    lists that QThread as a "dummy" thread, which Python 3.11 never forgets."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from cnnviz.ui.shared.workers import TaskRunner

    before = set(threading.enumerate())
    runner = TaskRunner("cnnviz-test-pool")

    def task(progress):
        with ThreadPoolExecutor(max_workers=2) as pool:
            return sum(pool.map(abs, range(-5, 5)))

    with qtbot.waitSignal(runner.finished, timeout=10000) as done:
        runner.start(task)
    assert done.args == [25]
    assert runner.shutdown()
    assert set(threading.enumerate()) <= before


def test_a_few_images_of_a_folder_read_class_by_class_cover_every_class():
    """CIFAR-10 from its JPEG folders, like any folder, comes class after class: the first
    5,000 images would all be airplanes. "Training images" then keeps a seeded choice spread
    over the classes, as ``cnnviz train --limit`` does; MNIST's order is kept."""
    labels = np.repeat(np.arange(4), 50).astype(np.uint8)         # grouped by class
    images = (np.arange(200, dtype=np.uint8)[:, None, None, None]
              * np.ones((1, 3, 2, 2), np.uint8))                   # image i is all i
    dataset = Dataset(images, labels, images[:1], labels[:1], name="grouped",
                      class_names=("a", "b", "c", "d"))
    data = split_training_data(dataset, count=40, validation=0, seed=2)
    kept = np.round(data.train_x[:, 0, 0, 0] * 255).astype(int)
    assert len(kept) == 40 and len(set(kept)) == 40 and (np.diff(kept) > 0).all()
    np.testing.assert_array_equal(data.train_y, labels[kept])
    assert set(data.train_y.tolist()) == {0, 1, 2, 3} and "spread over the classes" in data.name
    mixed = np.tile(np.arange(4), 50).astype(np.uint8)            # MNIST-like order
    shuffled = Dataset(images, mixed, images[:1], labels[:1], name="mixed")
    first = split_training_data(shuffled, count=40, validation=0)
    np.testing.assert_array_equal(np.round(first.train_x[:, 0, 0, 0] * 255), np.arange(40))


def test_cifar10_trains_a_new_network_in_the_window_and_its_test_set_evaluates_it(
        make_window, qtbot, tmp_path, monkeypatch):
    """CIFAR-10 found through CNNVIZ_CIFAR_DIR (here a small stand-in laid out as its JPEG
    folders, train/CLASS and test/CLASS): the menu's CIFAR-10 entry trains a new colour network
    named by its classes, and the Evaluation panel offers its test set to that network."""
    from cnnviz.data import CIFAR10_CLASSES

    root = tmp_path / "cifar"
    rng = np.random.default_rng(7)
    for split, count in (("train", 4), ("test", 2)):
        for name in CIFAR10_CLASSES:
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, size=(SIDE, SIDE, 3), dtype=np.uint8)
                Image.fromarray(pixels, "RGB").save(root / split / name / f"{i}.png")
    monkeypatch.setenv("CNNVIZ_CIFAR_DIR", str(root))
    window = make_window()
    panel = window.training_panel
    panel.select_data(DataSource("cifar10"))
    assert str(root) in panel.data_combo.currentText()
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("new"))
    panel.validation_spin.setValue(0)
    panel.settings.epochs_spin.setValue(1)
    with qtbot.waitSignal(panel.run_ended, timeout=120000) as ended:
        panel.start_button.click()
    assert ended.args[0] is not None and ended.args[0].kind == "finished", window.errors
    contract = window.document.network.contract
    assert contract.classes == CIFAR10_CLASSES and contract.shape == (3, 32, 32)
    assert len(contract.mean) == 3 and contract.pipeline == "image"

    view = window.evaluation_view
    assert view.source_combo.itemText(0).startswith("CIFAR-10 test set")
    run = evaluate(qtbot, view)
    assert len(run.test_set.labels) == 20 and run.evaluation.confusion.sum() == 20
    assert view.matrix.names == CIFAR10_CLASSES
