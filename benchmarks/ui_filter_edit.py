"""How fast every view follows an edit made in the Filter Editor.

Runs the real main window (offscreen unless a platform is set, 1600x1000, the default layout with
the Filter Editor's tab raised, the shipped lenet5, a digit on the canvas) and drags cells of the
editor's grid with real Qt mouse events: each one-pixel move of a scrub is one edit (all the
moves of one drag merge into one undo step). For each edit it measures

- edit -> applied: the mouse move sent -> the weights set through ``Document.set_param`` -> the
  trace computed -> every view in sight applied it (Feature Maps, Layers, Prediction and the
  editor stamp ``applied_version``, the Filters panel its ``weights_token``);
- edit -> repainted: the same, then the event loop run until idle (every panel repainted).

Drags alternate between the first and the second convolution's filters (every later layer and the
prediction change). Timings on a shared machine are noisy: quote the medians.

Usage::

    python benchmarks/ui_filter_edit.py [--edits 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, QSettings, QStandardPaths, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

#: One-pixel moves per drag (down then up again, so that the weights stay in range).
DRAG_MOVES = 20


def views_applied(window) -> bool:
    """True when every view in sight shows the document's current trace."""
    trace = window.document.trace
    stamped = (window.feature_maps, window.layers_overview, window.prediction_panel,
               window.filter_editor)
    return (all(view.applied_version == trace.version for view in stamped)
            and window.filters_view.weights_token == trace.weights_token)


def measure(window, app, edits: int):
    """Drag edits until ``edits`` were measured: (to every view applied, to repainted)."""
    editor, document = window.filter_editor, window.document
    grid = editor.grid
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    rng = np.random.default_rng(0)
    applied, painted = [], []
    while len(applied) < edits:
        layer = (0, 3)[len(applied) // DRAG_MOVES % 2]
        editor.select(layer, int(rng.integers(6)))
        window.filters_view.show_layer(layer)
        app.processEvents()
        c, kh, kw = grid.values.shape
        cell = (int(rng.integers(c)), int(rng.integers(kh)), int(rng.integers(kw)))
        start = grid.cell_rect(*cell).center()
        QTest.mousePress(grid, left, none, start)
        app.processEvents()
        offsets = list(range(1, DRAG_MOVES // 2 + 1)) + list(range(DRAG_MOVES // 2 - 1, -1, -1))
        for dy in offsets:
            version = document.trace.version
            t0 = time.perf_counter()
            QTest.mouseMove(grid, start + QPoint(0, dy))
            if document.trace.version == version:
                continue
            while not views_applied(window):
                app.processEvents()
            applied.append(time.perf_counter() - t0)
            app.processEvents()
            painted.append(time.perf_counter() - t0)
        QTest.mouseRelease(grid, left, none, start)
        app.processEvents()
    return np.array(applied[:edits]), np.array(painted[:edits])


def describe(name: str, seconds: np.ndarray) -> str:
    ms = seconds * 1e3
    return (f"{name}: n={len(ms)}  median {np.median(ms):.2f} ms  p95 {np.percentile(ms, 95):.2f}"
            f"  p99 {np.percentile(ms, 99):.2f}  max {ms.max():.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=300, help="edits measured (at least 200)")
    args = parser.parse_args(argv)

    from cnnviz.ui.window.app import prepare_gui_process

    prepare_gui_process()  # as cnnviz.ui.window.app.run_app does
    app = QApplication.instance() or QApplication(["cnnviz"])
    settings_dir = tempfile.TemporaryDirectory()
    QStandardPaths.setTestModeEnabled(True)
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, settings_dir.name)
    from cnnviz.session import canvas_input
    from cnnviz.ui.window.main_window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    QTest.qWaitForWindowExposed(window)
    window.docks["filter_editor"].raise_()
    raster = np.zeros((280, 280), dtype=np.uint8)
    raster[60:220, 120:160] = 255
    window.document.set_source(canvas_input(raster), "Bar")
    app.processEvents()
    print(f"network: {window.document.network.name}, platform: {app.platformName()}, "
          f"window {window.width()}x{window.height()}, editor grid "
          f"{window.filter_editor.grid.width()}x{window.filter_editor.grid.height()}")

    measure(window, app, 40)  # warm-up
    steps = window.document.undo_stack.count()
    applied, painted = measure(window, app, max(args.edits, 200))
    drags = window.document.undo_stack.count() - steps
    print(describe("edit (drag move) -> every view applied the trace", applied))
    print(describe("edit (drag move) -> every panel repainted (event loop idle)", painted))
    print(f"undo steps added: {drags} (one per drag)")

    window.document.undo_stack.clear()
    window.close()
    settings_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
