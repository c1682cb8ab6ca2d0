"""Regenerate the colour screenshots of the user guide (``docs/images/colour-*.png`` and
``activation-max-colour.png``).

Starts the real main window (offscreen unless a platform is chosen) at 1366x768 (a common laptop
screen), opens the shipped colour network (vgg-small trained on CIFAR-10) and a CIFAR-10 test
photo, and saves:

- ``colour-explore.png``: the Explore workspace: the photo on the canvas, its R, G and B planes in
  Network Input, the second pooling layer's maps, and the pointer on one of its units (a real
  mouse move): its receptive field (and effective receptive field) on the picture and the same
  box on each plane;
- ``colour-paint.png``: the Explore workspace of a 1024x700 window (it fits) after a blue stroke
  painted across the cat's head with real mouse events: the prediction has changed;
- ``colour-filters.png``: the Filters panel of the first convolution: each filter's colour picture
  above its R, G and B kernels, one filter outlined under the pointer;
- ``colour-unit-math.png``: the step-by-step calculation of a clicked unit of the ReLU after the
  first convolution: three windows (R, G, B) times three kernels, three partial sums, the bias;
- ``colour-analysis.png``: the Interpret workspace: Grad-CAM of the photo over the colour picture
  (opacity 60%), beside the evaluation on CIFAR-10's test set;
- ``activation-max-colour.png``: the Activation Maximisation tab of the Interpret workspace on
  layer 8 (centre units, 50 steps): each map's optimised pattern beside the nine CIFAR-10 test
  images (of all 10,000) that excite it most, cut to its receptive field.

Usage::

    CNNVIZ_CIFAR_DIR=/path/to/cifar10 python docs/screenshots_colour.py [--out docs/images] \\
        [--network resources/models/vgg-small-cifar10.npz]

The window's settings are kept in a temporary folder, so the screenshots never depend on (or
change) your own layout. Under Xvfb: ``DISPLAY=:99 QT_QPA_PLATFORM=xcb python
docs/screenshots_colour.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from screenshots import open_main_window  # noqa: E402
from screenshots_analysis import explain, wait_until  # noqa: E402
from screenshots_layers import draw, unit_position  # noqa: E402
from screenshots_training import float_dock, save, wait  # noqa: E402

SIZE = (1366, 768)
#: The smaller window the painted photo is shown in: the panels still fit.
SMALL_SIZE = (1024, 700)
#: The test photo (CIFAR-10's test folder, class/name).
PHOTO = ("cat", "0001.jpg")
#: The unit clicked (map, row, col) in the first convolution's output (after its ReLU).
CLICKED = (5, 12, 17)
#: A stroke in fractions of the picture, painted ``STROKE_WIDTH`` screen pixels wide in
#: ``STROKE_COLOUR``: a band of sky blue across the cat's head.
STROKE = [(0.35, 0.35), (0.65, 0.35)]
STROKE_WIDTH = 60
STROKE_COLOUR = QColor(30, 60, 200)
LEFT, NO_MODIFIER = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def paint(canvas, points) -> None:
    """Paint along ``points`` (fractions of the picture shown in colour) with real mouse
    events."""
    draw(canvas, points, rect=canvas.colour_rect())


def read_as(window) -> str:
    trace = window.document.trace
    names = window.document.network.classes
    return f"{names[trace.top_class]} ({trace.confidence:.1%})"


def strongest_central_unit(window, layer: int) -> tuple[int, int, int]:
    """(map, row, col) of the most active unit of ``layer`` whose receptive field is near the
    middle of the picture (the central half of each map)."""
    maps = window.document.trace.outputs[layer]
    h, w = maps.shape[1:]
    centre = maps[:, h // 4: h - h // 4, w // 4: w - w // 4]
    c, y, x = np.unravel_index(int(np.argmax(centre)), centre.shape)
    return int(c), int(y) + h // 4, int(x) + w // 4


def hover_filter(filters_view, f: int) -> None:
    """Move the pointer onto filter ``f``'s colour picture: a real mouse move, or (offscreen, a
    floating dock gets none) the scene's mouse-move signal that such a move emits."""
    QApplication.processEvents()  # the view box lays a new layer out lazily
    picture = filters_view.filter_rects(f)[0]
    scene = filters_view.image_item.mapToScene(picture.center())
    QTest.mouseMove(filters_view.graphics.viewport(), filters_view.graphics.mapFromScene(scene))
    wait(50)
    if filters_view.hovered != f:
        filters_view.graphics.scene().sigMouseMoved.emit(scene)
    if filters_view.hovered != f:
        raise RuntimeError(f"filter {f} is not outlined under the pointer")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the colour screenshots.")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--network", type=Path,
                        default=ROOT / "resources" / "models" / "vgg-small-cifar10.npz")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from cnnviz.data import find_cifar10
    from cnnviz.ui.window.app import prepare_gui_process

    cifar = find_cifar10()
    if cifar is None:
        print("CIFAR-10 not found: set CNNVIZ_CIFAR_DIR", file=sys.stderr)
        return 2
    photo = Path(cifar) / "test" / PHOTO[0] / PHOTO[1]
    prepare_gui_process()
    with tempfile.TemporaryDirectory() as scratch:
        window = open_main_window(scratch, SIZE)
        window.show_workspace("explore")
        if not window.open_network(args.network, ask=False, remember=False):
            raise RuntimeError(f"could not open {args.network}")
        if not window.open_image(photo):
            raise RuntimeError(f"could not open {photo}")
        print(f"{PHOTO[0]} {PHOTO[1]} read as {read_as(window)}")

        feature_maps = window.feature_maps
        feature_maps.set_layer(10)  # the second pooling layer (activation 10: layer 9's output)
        feature_maps.effective_check.setChecked(True)
        QTest.mouseMove(feature_maps.graphics.viewport(),
                        unit_position(feature_maps, strongest_central_unit(window, 9)))
        print(window.cursor_label.text())
        save(window, args.out / "colour-explore.png")
        feature_maps.effective_check.setChecked(False)

        float_dock(window, "filters", 1000, 330)
        window.filters_view.show_layer(0)
        hover_filter(window.filters_view, 5)
        print(window.cursor_label.text())
        save(window.filters_view, args.out / "colour-filters.png")
        window.filters_view.graphics.scene().sigMouseMoved.emit(QPointF(-1e6, -1e6))  # away
        window.docks["filters"].setFloating(False)

        feature_maps.set_layer(2)  # the ReLU after the first convolution
        QTest.mouseClick(feature_maps.graphics.viewport(), LEFT, NO_MODIFIER,
                         unit_position(feature_maps, CLICKED))
        dialog = window.receptive_field.dialog
        dialog.resize(900, 740)
        save(dialog, args.out / "colour-unit-math.png")
        dialog.close()

        window.show_workspace("interpret")
        view = window.evaluation_view
        view.evaluate()  # CIFAR-10's test set, the one offered to a colour network
        wait_until(lambda: view.run is not None and not view.runner.running, "the evaluation")
        print(view.summary_label.text())
        explain(window.analysis_panel, "grad_cam")
        window.analysis_panel.opacity_slider.setValue(60)  # the cat shows through
        save(window, args.out / "colour-analysis.png")

        gallery = window.activation_gallery
        window.docks["activation_gallery"].raise_()
        gallery.objective_combo.setCurrentIndex(gallery.objective_combo.findData("centre"))
        gallery.steps_spin.setValue(50)
        gallery.count_spin.setValue(10000)  # all of them: the folders are in class order
        gallery.layer_combo.setCurrentIndex(gallery.layer_combo.findData(8))
        gallery.compute()
        wait(200)
        wait_until(lambda: not gallery.runner.running, "the activation maximisation gallery")
        save(window, args.out / "activation-max-colour.png")
        window.docks["evaluation"].raise_()

        window.resize(*SMALL_SIZE)
        window.show_workspace("explore")
        window.reset_layout()  # the shipped arrangement, shared for this size
        window.canvas_panel.canvas.set_brush_colour(STROKE_COLOUR)
        window.canvas_panel.canvas.set_brush_size(STROKE_WIDTH)
        paint(window.canvas_panel.canvas, STROKE)
        print(f"painted: read as {read_as(window)}")
        save(window, args.out / "colour-paint.png")

        window.document.undo_stack.clear()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
