"""Regenerate the screenshots of the README and the user guide (``docs/images/*.png``).

Starts the real main window (offscreen unless a platform is chosen) as on a first start, draws a
digit on the canvas with real mouse events, opens a photo-like image of a handwritten digit, and
saves:

- ``main-window.png``: the Explore workspace at 1280x800 (the first size on a large screen): a "3"
  drawn with the mouse and the network's answer;
- ``main-window-dark.png``: the same in the dark colour scheme;
- ``opened-image.png``: an opened photo of a digit, as the original and as the network input;
- ``workspace-explore.png``, ``workspace-train.png``, ``workspace-interpret.png``: each workspace
  as it ships, in a 1366x768 window (a common laptop screen), with the drawn "3": Explore with the
  second convolution's maps and the Filter Editor opened by a click on one of its weights; Train
  set up for a new LeNet-5 (the Network Health is the tab beside the Training Curves); Interpret
  with Grad-CAM of the "3" and an evaluation on the offline digits (Activation Maximisation is the
  tab beside it).

Usage::

    python docs/screenshots.py [--out docs/images]

The window's settings are kept in a temporary folder, so the screenshots never depend on (or
change) your own layout. Under Xvfb: ``DISPLAY=:99 QT_QPA_PLATFORM=xcb python docs/screenshots.py``.
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
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from PySide6.QtCore import QEventLoop, QPoint, QSettings, QStandardPaths, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

WINDOW_SIZE = (1280, 800)
#: The size of the workspace pictures: a common laptop screen.
WORKSPACE_SIZE = (1366, 768)


def _arc(cx, cy, rx, ry, start, stop, n=40):
    """Points on an ellipse arc (degrees; y down, so 90 is the bottom)."""
    angles = np.radians(np.linspace(start, stop, n))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles)))


#: A "3" in canvas fractions, as someone would draw it with the mouse: two bowls.
THREE = _arc(0.47, 0.31, 0.17, 0.15, -155, 95) + _arc(0.46, 0.65, 0.2, 0.19, -95, 150)


def photo_of_a_digit(path: Path) -> Path:
    """A 640x480 photo-like JPEG: a blue-ink "4" on slightly shaded, noisy paper."""
    rng = np.random.default_rng(4)
    h, w = 480, 640
    shade = np.linspace(0.93, 0.91, w)[None, :] * np.linspace(1.0, 0.985, h)[:, None]
    paper = np.stack([shade * 1.0, shade * 0.98, shade * 0.92], axis=-1)
    paper += rng.normal(0, 0.006, paper.shape)
    image = Image.fromarray(np.uint8(np.clip(paper, 0, 1) * 255))
    draw = ImageDraw.Draw(image)
    ink = (40, 50, 120)
    draw.line([(340, 95), (300, 190), (262, 292), (425, 282)], fill=ink, width=17,
              joint="curve")
    draw.line([(378, 180), (366, 400)], fill=ink, width=17)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    image.save(path, quality=88)
    return path


def draw(canvas, points, step=0.01) -> None:
    """Press, move along ``points`` (canvas fractions) and release, with real mouse events."""
    rect = canvas.paper_rect()

    def at(fx, fy):
        return QPoint(round(rect.x() + fx * rect.width()), round(rect.y() + fy * rect.height()))

    path = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(np.hypot(x1 - x0, y1 - y0) / step))
        path += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mousePress(canvas, left, none, at(*path[0]))
    for point in path[1:]:
        QTest.mouseMove(canvas, at(*point))
    QTest.mouseRelease(canvas, left, none, at(*path[-1]))
    QTest.mouseMove(canvas, at(0.82, 0.62))  # the brush outline, somewhere harmless


def open_main_window(scratch: str, size: tuple[int, int]):
    """Show the real main window, its settings kept in the folder ``scratch`` (never the user's)."""
    QStandardPaths.setTestModeEnabled(True)
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, scratch)
    app = QApplication.instance() or QApplication(["cnnviz"])
    app.setApplicationName("cnnviz")
    app.setOrganizationName("cnnviz")
    from cnnviz.ui.window.main_window import MainWindow

    window = MainWindow()
    window.ask_save_changes = lambda: None
    window.resize(*size)
    window.show()
    QTest.qWaitForWindowExposed(window)
    return window


def save(window, path: Path) -> None:
    QTest.qWait(150)  # let every panel repaint
    if not window.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def wait_until(condition, what: str, timeout_s: float = 120) -> None:
    """Run the event loop until ``condition()`` holds (some panels compute in worker threads)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish in time")
        # An event loop of our own, not QTest.qWait: that holds the interpreter, and the worker
        # threads would wait for it.
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()


def click_weight(filters_view, unit: int, channel: int = 0) -> None:
    """Click (a real mouse click) the middle weight of filter ``unit``, input ``channel``, in the
    Filters panel."""
    from PySide6.QtCore import QPointF

    QApplication.processEvents()  # the view box lays a new layer out lazily
    mosaic = filters_view.mosaic
    top, left = mosaic.origin(channel * mosaic.columns + unit)
    kernel = filters_view.document.model.layers[filters_view.layer].params["weight"].shape[-1]
    scene = filters_view.image_item.mapToScene(QPointF(left + kernel / 2, top + kernel / 2))
    QTest.mouseClick(filters_view.graphics.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, filters_view.graphics.mapFromScene(scene))


def workspace_pictures(window, out: Path) -> None:
    """The three workspaces as they ship in a ``WORKSPACE_SIZE`` window, with the current input."""
    window.resize(*WORKSPACE_SIZE)
    window.show_workspace("explore")
    window.reset_layout()  # the shipped arrangement, shared for this size
    window.feature_maps.set_layer(1)  # the first convolution (activation 1: layer 0's output)
    click_weight(window.filters_view, unit=3)
    editor = window.filter_editor
    if not window.docks["filter_editor"].isVisible() or editor.unit != 3:
        raise RuntimeError("a click on a weight did not open the Filter Editor")
    save(window, out / "workspace-explore.png")

    window.show_workspace("train")
    panel = window.training_panel
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("new"))
    panel.editor.fill_preset("lenet5")
    panel.editor.table.selectRow(3)
    save(window, out / "workspace-train.png")

    window.show_workspace("interpret")
    analysis = window.analysis_panel
    analysis.method_combo.setCurrentIndex(analysis.method_combo.findData("grad_cam"))
    view = window.evaluation_view
    offline = next(i for i in range(view.source_combo.count())
                   if view.source_combo.itemText(i).startswith("Offline digits"))
    view.source_combo.setCurrentIndex(offline)  # drawn by cnnviz: no download
    view.evaluate_button.click()
    wait_until(lambda: view.run is not None and not view.runner.running, "the evaluation")
    if not window.docks["evaluation"].isVisible():
        raise RuntimeError("the Evaluation tab is not the one shown")
    print(view.summary_label.text())
    save(window, out / "workspace-interpret.png")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the screenshots in docs/images.")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as scratch:
        from cnnviz.ui.shared.theme import apply_scheme

        window = open_main_window(scratch, WINDOW_SIZE)
        window.show_workspace("explore")  # (where a first start opens)
        draw(window.canvas_panel.canvas, THREE)
        trace = window.document.trace
        print(f"drawn 3 read as {trace.top_class} ({trace.confidence:.1%})")
        save(window, args.out / "main-window.png")

        apply_scheme("dark")
        save(window, args.out / "main-window-dark.png")
        apply_scheme("system")

        workspace_pictures(window, args.out)
        window.resize(*WINDOW_SIZE)
        window.show_workspace("explore")
        window.reset_layout()

        photo = photo_of_a_digit(Path(scratch) / "photo-of-a-four.jpg")
        if not window.open_image(photo):
            raise RuntimeError("could not open the generated photo")
        trace = window.document.trace
        print(f"photo of a 4 read as {trace.top_class} ({trace.confidence:.1%})")
        save(window, args.out / "opened-image.png")

        window.document.undo_stack.clear()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
