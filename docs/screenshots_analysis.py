"""Regenerate the screenshots of "Reading the network" and "Edit the filters" in the user guide
(``docs/images/*.png``).

Starts the real main window (offscreen unless a platform is chosen) with the shipped lenet5 in
the Interpret workspace of a 1600x1000 window, evaluates it on the MNIST test set from the
Analysis menu, clicks the confusion matrix's cell of the 4s read as 9 and the most confident of
them (real mouse clicks), and saves:

- ``evaluation.png``: the Interpret workspace: the Evaluation panel's confusion matrix with that
  cell selected, its 4s read as 9, the clicked one as the input, and what the Analysis panel makes
  of it;
- ``analysis.png``: the Analysis panel: occlusion on that 4, for the predicted 9;
- ``analysis-saliency.png``: the panel three times side by side: gradient, gradient x input and
  SmoothGrad on the same digit;
- ``analysis-occlusion-gradcam.png``: occlusion, Grad-CAM for the predicted 9 and Grad-CAM for
  class 4, side by side;
- ``analysis-activation-max.png``: the Activation Maximisation panel twice: the inputs that
  maximise the second convolution's 16 maps, and the ten classes of the last layer;
- ``filter-editor.png``: the Filter Editor, opened in the Explore workspace by a click on a weight
  of filter 3 of the first convolution in the Filters panel, after **Preset > Sobel x** (undone
  before the window closes).

Usage::

    CNNVIZ_MNIST_DIR=/path/to/mnist python docs/screenshots_analysis.py [--out docs/images]

The window's settings are kept in a temporary folder, so the screenshots never depend on (or
change) your own layout. Under Xvfb: ``DISPLAY=:99 QT_QPA_PLATFORM=xcb CNNVIZ_MNIST_DIR=...
python docs/screenshots_analysis.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QPainter, QPixmap  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from screenshots import click_weight, open_main_window  # noqa: E402
from screenshots_layers import WINDOW_SIZE  # noqa: E402
from screenshots_training import float_dock, save, wait, wait_for  # noqa: E402

LEFT, NO_MODIFIER = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def wait_until(condition, what: str, timeout_s: float = 300) -> None:
    """Run the event loop until ``condition()`` holds (the panels compute in worker threads)."""
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"{what} did not finish in time")
        wait(50)


def grab(widget) -> QPixmap:
    wait(300)  # let every panel repaint
    return widget.grab()


def side_by_side(pixmaps: list[QPixmap], path: Path) -> None:
    """Save ``pixmaps`` left to right as one picture."""
    picture = QPixmap(sum(p.width() for p in pixmaps), max(p.height() for p in pixmaps))
    picture.fill(Qt.GlobalColor.white)
    painter = QPainter(picture)
    x = 0
    for pixmap in pixmaps:
        painter.drawPixmap(x, 0, pixmap)
        x += pixmap.width()
    painter.end()
    if not picture.save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def click_cell(matrix, true: int, predicted: int) -> None:
    """Click the confusion matrix's cell (true class, predicted class) with the mouse."""
    scene = matrix.plot.getViewBox().mapViewToScene(QPointF(predicted + 0.5, true + 0.5))
    QTest.mouseClick(matrix.graphics.viewport(), LEFT, NO_MODIFIER,
                     matrix.graphics.mapFromScene(scene))


def explain(panel, method: str, target: int | None = None) -> None:
    """Choose ``method`` for class ``target`` (None: the predicted one) in the Analysis panel,
    and wait for its map."""
    combo = panel.class_combo
    combo.setCurrentIndex(0 if target is None else combo.findData(target))
    panel.method_combo.setCurrentIndex(panel.method_combo.findData(method))

    def shown():
        explanation = panel.explanation
        return (explanation is not None and explanation.settings == panel.settings()
                and explanation.version == panel.document.trace.version)
    wait_until(shown, f"the {method} map")


def gallery_of(gallery, layer: int) -> None:
    """Choose ``layer`` in the Activation Maximisation panel and wait for its images."""
    gallery.layer_combo.setCurrentIndex(gallery.layer_combo.findData(layer))
    wait_until(lambda: not gallery.runner.running, f"the gallery of layer {layer}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the Reading-the-network screenshots.")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from cnnviz.data import find_mnist
    from cnnviz.ui.window.app import prepare_gui_process

    if find_mnist() is None:
        print("MNIST not found: set CNNVIZ_MNIST_DIR", file=sys.stderr)
        return 2
    prepare_gui_process()
    with tempfile.TemporaryDirectory() as scratch:
        window = open_main_window(scratch, WINDOW_SIZE)
        window.show_workspace("interpret")
        view = window.evaluation_view
        view.source_combo.setCurrentIndex(0)  # the MNIST test set (10,000)
        window.evaluate_action.trigger()  # Analysis > Evaluate on the Test Set
        wait_for(view.runner.finished)
        print(view.summary_label.text())
        click_cell(view.matrix, 4, 9)
        wait(100)
        QTest.mouseClick(view.grid.viewport(), LEFT, NO_MODIFIER,
                         view.grid.visualItemRect(view.grid.item(0)).center())
        trace = window.document.trace
        print(f"{window.document.undo_stack.undoText()}: read as {trace.top_class} "
              f"({trace.confidence:.1%})")
        if trace.top_class != 9:
            raise RuntimeError("the clicked example is not a 4 read as 9")
        save(window, args.out / "evaluation.png")

        panel = window.analysis_panel
        float_dock(window, "analysis", 600, 680)
        explain(panel, "occlusion")
        save(panel, args.out / "analysis.png")

        float_dock(window, "analysis", 338, 570)
        tiles = []
        for method in ("gradient", "gradient_x_input", "smooth_grad"):
            explain(panel, method)
            tiles.append(grab(panel))
        side_by_side(tiles, args.out / "analysis-saliency.png")
        tiles = []
        for method, target in (("occlusion", None), ("grad_cam", None), ("grad_cam", 4)):
            explain(panel, method, target)
            tiles.append(grab(panel))
        side_by_side(tiles, args.out / "analysis-occlusion-gradcam.png")
        window.docks["analysis"].setFloating(False)

        gallery = window.activation_gallery
        float_dock(window, "activation_gallery", 518, 520)
        last = gallery.layer_combo.itemData(gallery.layer_combo.count() - 1)
        tiles = []
        for layer in (3, last):  # the second convolution, the classes
            gallery_of(gallery, layer)
            tiles.append(grab(gallery))
        side_by_side(tiles, args.out / "analysis-activation-max.png")
        window.docks["activation_gallery"].setFloating(False)

        editor = window.filter_editor
        window.show_workspace("explore")
        window.filters_view.show_layer(0)
        click_weight(window.filters_view, unit=3)  # opens the Filter Editor beside the Filters
        if (editor.layer, editor.unit) != (0, 3):
            raise RuntimeError("a click on a weight did not open its filter in the editor")
        float_dock(window, "filter_editor", 640, 560)
        sobel = next(action for action in editor.preset_button.menu().actions()
                     if action.text() == "Sobel x")
        sobel.trigger()  # Preset > Sobel x
        save(editor, args.out / "filter-editor.png")
        window.document.undo()  # the network unchanged, so that closing asks nothing

        window.document.undo_stack.clear()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
