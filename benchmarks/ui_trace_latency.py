"""How fast the network views follow the input, the weights and the pointer.

Runs the real main window (offscreen unless a platform is set, 1600x1000, the default layout, the
shipped lenet5) and measures, each with real Qt events:

- input changed: a real mouse move of a stroke on the canvas -> trace computed -> every network
  view applied it (the Feature Maps, Layers and Prediction panels stamp ``applied_at``) -> every
  panel repainted (the event loop idle again);
- weights changed: a weight edit (``Document.set_param``, undoable) -> the Filters panel and every
  view redrawn and repainted;
- hover: a real mouse move over a unit of the Feature Maps panel -> receptive-field overlays
  updated on the input, the Layers panel and the large view (the controller stamps
  ``updated_at``) -> repainted; again with the effective receptive field (a gradient per unit).

pyqtgraph ignores mouse moves less than 10 ms apart (``mouseRateLimit``), so hover moves are sent
13 ms apart, as a quick hand would. Settings are isolated: the user's saved layout is neither read
nor written. Timings on a shared machine are noisy: quote the medians.

Usage::

    python benchmarks/ui_trace_latency.py [--repeats 300]
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
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import (QEvent, QObject, QPoint, QPointF, QSettings,  # noqa: E402
                            QStandardPaths, Qt)
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

#: Digit strokes in canvas fractions (0..1).
STROKES = [
    [(0.5, 0.15), (0.3, 0.3), (0.27, 0.55), (0.35, 0.8), (0.5, 0.87), (0.66, 0.78), (0.72, 0.5),
     (0.66, 0.25), (0.5, 0.15)],
    [(0.3, 0.3), (0.45, 0.15), (0.65, 0.2), (0.68, 0.4), (0.3, 0.85), (0.72, 0.85)],
    [(0.25, 0.18), (0.72, 0.18), (0.42, 0.86)],
]
MOVE_INTERVAL = 1.0 / pg.getConfigOption("mouseRateLimit") + 0.003


class PaintLog(QObject):
    """Records which watched widgets received a paint event."""

    def __init__(self, widgets):
        super().__init__()
        self.painted = set()
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Paint:
            self.painted.add(watched)
        return False


def polyline(points, step=0.012):
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(np.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return out


def measure_input(window, app, repeats: int, log: PaintLog):
    """Stroke moves until ``repeats`` were measured: (to every view applied, to repainted)."""
    canvas = window.canvas_panel.canvas
    views = (window.prediction_panel, window.feature_maps, window.layers_overview)
    applied, painted = [], []
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    rect = canvas.paper_rect()
    while len(applied) < repeats:
        for stroke in STROKES:
            window.document.clear_canvas()
            points = [QPoint(round(rect.x() + fx * rect.width()),
                             round(rect.y() + fy * rect.height())) for fx, fy in polyline(stroke)]
            QTest.mousePress(canvas, left, none, points[0])
            for point in points[1:]:
                version = window.document.trace.version
                log.painted.clear()
                t0 = time.perf_counter()
                QTest.mouseMove(canvas, point)
                if window.document.trace.version == version:
                    continue  # too small a move to change the drawing
                assert all(view.applied_version == window.document.trace.version for view in views)
                applied.append(max(view.applied_at for view in views) - t0)
                app.processEvents()
                painted.append(time.perf_counter() - t0)
                assert len(log.painted) == len(log_targets(window)), "a view did not repaint"
            QTest.mouseRelease(canvas, left, none, points[-1])
            app.processEvents()
    return np.array(applied[:repeats]), np.array(painted[:repeats])


def measure_weights(window, app, repeats: int):
    """Weight edits of the first convolution: (to the filters redrawn, to repainted)."""
    document, filters = window.document, window.filters_view
    filters.show_layer(0)
    weight = document.model.layers[0].params["weight"].copy()
    rng = np.random.default_rng(0)
    applied, painted = [], []
    for _ in range(repeats):
        edited = weight + rng.normal(0, 0.05, weight.shape).astype(np.float32)
        t0 = time.perf_counter()
        document.set_param("0.weight", edited, merge_key="bench")
        applied.append(time.perf_counter() - t0)
        assert filters.weights_token == document.trace.weights_token
        app.processEvents()
        painted.append(time.perf_counter() - t0)
    document.undo()  # the edits merged into one step: back to the weights as opened
    return np.array(applied), np.array(painted)


def measure_hover(window, app, repeats: int, effective: bool):
    """Pointer moves over units of the Feature Maps panel: (to overlays updated, to repainted)."""
    fm, controller = window.feature_maps, window.receptive_field
    fm.effective_check.setChecked(effective)
    fm.set_layer(4)
    for _ in range(5):
        app.processEvents()
    rng = np.random.default_rng(1)
    updated, painted, dropped = [], [], 0
    last = 0.0
    while len(updated) < repeats:
        mosaic = fm.mosaic
        unit = (int(rng.integers(mosaic.count)), int(rng.integers(mosaic.height)),
                int(rng.integers(mosaic.width)))
        if controller.hovered == (4, unit):
            continue
        top, left = mosaic.origin(unit[0])
        scene = fm.image_item.mapToScene(QPointF(left + unit[2] + 0.5, top + unit[1] + 0.5))
        point = fm.graphics.mapFromScene(scene)
        while time.perf_counter() - last < MOVE_INTERVAL:
            time.sleep(0.0005)
        t0 = last = time.perf_counter()
        QTest.mouseMove(fm.graphics.viewport(), point)
        if controller.hovered != (4, unit):
            dropped += 1  # pyqtgraph's rate limit dropped it (the previous move was handled late)
            continue
        updated.append(controller.updated_at - t0)
        app.processEvents()
        painted.append(time.perf_counter() - t0)
    fm.effective_check.setChecked(False)
    if dropped:
        print(f"  ({dropped} moves dropped by pyqtgraph's rate limit, not counted)")
    return np.array(updated), np.array(painted)


def log_targets(window):
    return [window.feature_maps.graphics.viewport(), window.layers_overview.graphics.viewport(),
            window.prediction_panel.plot.viewport(), window.input_view.graphics.viewport()]


def describe(name: str, seconds: np.ndarray) -> str:
    ms = seconds * 1e3
    return (f"{name}: n={len(ms)}  median {np.median(ms):.2f} ms  p95 {np.percentile(ms, 95):.2f}"
            f"  p99 {np.percentile(ms, 99):.2f}  max {ms.max():.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=300, help="measurements per figure")
    args = parser.parse_args(argv)

    from cnnviz.ui.window.app import prepare_gui_process

    prepare_gui_process()  # as cnnviz.ui.window.app.run_app does
    app = QApplication.instance() or QApplication(["cnnviz"])
    settings_dir = tempfile.TemporaryDirectory()
    QStandardPaths.setTestModeEnabled(True)
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, settings_dir.name)
    from cnnviz.ui.window.main_window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    QTest.qWaitForWindowExposed(window)
    app.processEvents()
    print(f"network: {window.document.network.name}, platform: {app.platformName()}, "
          f"window {window.width()}x{window.height()}")
    log = PaintLog(log_targets(window))

    measure_input(window, app, 30, log)  # warm-up
    applied, painted = measure_input(window, app, args.repeats, log)
    print(describe("input changed -> every network view applied the trace", applied))
    print(describe("input changed -> every panel repainted (event loop idle)", painted))
    applied, painted = measure_weights(window, app, args.repeats)
    print(describe("weights changed -> filters, maps and prediction applied", applied))
    print(describe("weights changed -> every panel repainted", painted))
    for effective in (False, True):
        updated, painted = measure_hover(window, app, args.repeats, effective)
        what = " with the effective receptive field" if effective else ""
        print(describe(f"hover{what} -> overlays updated", updated))
        print(describe(f"hover{what} -> repainted", painted))

    window.document.undo_stack.clear()
    window.close()
    settings_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
