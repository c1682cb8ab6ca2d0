"""How fast the window follows the pen, and how fast it starts.

Sends real mouse events (``QTest.mousePress/mouseMove/mouseRelease``) to the real canvas of the
real main window, along the strokes of digits, and measures for every mouse move the time from just
before the event is sent to the moment the prediction panel holds the new probabilities (the
panel stamps ``applied_at`` when it applies a trace). A second figure adds the repaint of every
panel (the event loop run until it is idle). Then it times the window's start: construction and
show in this process, and a cold start (a fresh interpreter, imports included) until the window
is on screen.

Usage::

    python benchmarks/ui_latency.py [--moves 600] [--starts 5] [--profile]

Runs headless (``QT_QPA_PLATFORM=offscreen`` unless a platform is set). Timings on a busy machine
are noisy: the medians are the figures to quote.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

#: Digit strokes in canvas fractions (0..1), one list of points per stroke.
DIGIT_STROKES = {
    0: [[(0.5, 0.15), (0.3, 0.3), (0.27, 0.55), (0.35, 0.8), (0.5, 0.87), (0.66, 0.78),
         (0.72, 0.5), (0.66, 0.25), (0.5, 0.15)]],
    1: [[(0.5, 0.12), (0.5, 0.88)]],
    2: [[(0.3, 0.3), (0.45, 0.15), (0.65, 0.2), (0.68, 0.4), (0.3, 0.85), (0.72, 0.85)]],
    3: [[(0.3, 0.18), (0.65, 0.2), (0.45, 0.47), (0.7, 0.65), (0.55, 0.85), (0.28, 0.8)]],
    7: [[(0.25, 0.18), (0.72, 0.18), (0.42, 0.86)]],
}

START_SCRIPT = """
import os, sys, time
t0 = float(sys.argv[1])
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest
app = QApplication(["cnnviz"])
from cnnviz.ui.window.main_window import MainWindow
window = MainWindow()
window.show()
QTest.qWaitForWindowExposed(window)
print(time.time() - t0)
window.document.undo_stack.clear()
window.close()
"""


def interpolate(points, step: float) -> list[tuple[float, float]]:
    """Points every ``step`` (canvas fraction) along the polyline ``points``."""
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(np.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return out


def widget_point(canvas, fx: float, fy: float) -> QPoint:
    rect = canvas.paper_rect()
    return QPoint(round(rect.x() + fx * rect.width()), round(rect.y() + fy * rect.height()))


def measure_moves(window, app, moves: int, step: float = 0.012, interval: float = 0.0):
    """Draw digits until ``moves`` mouse moves were measured.

    With ``interval`` 0, each move is sent once the previous one is fully handled (every panel
    repainted). With an ``interval`` (seconds), moves are due at that rate, as a mouse sends
    them, while the event loop keeps running; a move sent late because the loop was busy counts
    the delay (the latency is measured from when the move was due).

    Returns
    -------
    to_panel, to_idle : np.ndarray
        Seconds from the move (sent or due) to the prediction panel holding the new
        probabilities, and to the event loop being idle again (only without ``interval``).
    """
    canvas = window.canvas_panel.canvas
    panel = window.prediction_panel
    to_panel, to_idle = [], []
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    while len(to_panel) < moves:
        for digit, strokes in DIGIT_STROKES.items():
            window.document.clear_canvas()
            for stroke in strokes:
                points = [widget_point(canvas, *p) for p in interpolate(stroke, step)]
                QTest.mousePress(canvas, left, none, points[0])
                due = time.perf_counter()
                for point in points[1:]:
                    if interval:
                        due += interval
                        while time.perf_counter() < due:
                            app.processEvents()
                    before = panel.applied_version
                    t0 = due if interval else time.perf_counter()
                    QTest.mouseMove(canvas, point)
                    if panel.applied_version == before:
                        continue  # a move too small to change the drawing
                    to_panel.append(panel.applied_at - t0)
                    if not interval:
                        app.processEvents()
                        to_idle.append(time.perf_counter() - t0)
                QTest.mouseRelease(canvas, left, none, points[-1])
            app.processEvents()
    return np.array(to_panel[:moves]), np.array(to_idle[:moves])


def run_measurements(window, app, moves: int, label: str) -> None:
    """Print the back-to-back and the 60 Hz figures for the window as it is."""
    measure_moves(window, app, 50)  # warm-up
    to_panel, to_idle = measure_moves(window, app, moves)
    print(f"[{label}]")
    print("  " + describe("mouse move -> prediction panel updated", to_panel))
    print("  " + describe("mouse move -> every panel repainted (event loop idle)", to_idle))
    paced, _ = measure_moves(window, app, moves, interval=1 / 60)
    print("  " + describe("moves due at 60 Hz, loop running -> prediction panel updated", paced))


def cold_starts(count: int) -> list[float]:
    """Seconds from starting a fresh interpreter to the window being on screen."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    times = []
    for _ in range(count):
        result = subprocess.run([sys.executable, "-c", START_SCRIPT, repr(time.time())],
                                capture_output=True, text=True, env=env, cwd=root, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        times.append(float(result.stdout.split()[-1]))
    return times


def describe(name: str, seconds: np.ndarray) -> str:
    ms = seconds * 1e3
    return (f"{name}: n={len(ms)}  median {np.median(ms):.2f} ms  p95 {np.percentile(ms, 95):.2f}"
            f"  p99 {np.percentile(ms, 99):.2f}  max {ms.max():.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=600, help="mouse moves to measure")
    parser.add_argument("--starts", type=int, default=5, help="cold starts to time")
    parser.add_argument("--profile", action="store_true",
                        help="also print where the time of a mouse move goes (cProfile)")
    args = parser.parse_args(argv)

    from cnnviz.ui.window.app import prepare_gui_process

    prepare_gui_process()  # as cnnviz.ui.window.app.run_app does
    app = QApplication.instance() or QApplication(["cnnviz"])
    t0 = time.perf_counter()
    from cnnviz.ui.window.main_window import MainWindow

    imported = time.perf_counter()
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    QTest.qWaitForWindowExposed(window)
    shown = time.perf_counter()
    print(f"network: {window.document.network.name}, platform: {app.platformName()}")
    print(f"window construction + show: {(shown - imported) * 1e3:.0f} ms "
          f"(import of the UI modules before it: {(imported - t0) * 1e3:.0f} ms)")

    run_measurements(window, app, args.moves, "every panel as the window opens")
    core = ("canvas", "input", "prediction")
    for name, dock in window.docks.items():
        dock.setVisible(name in core)
    run_measurements(window, app, args.moves,
                     "only the Canvas, Network Input and Prediction docks shown")

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        measure_moves(window, app, 300)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    window.document.undo_stack.clear()
    window.close()
    if args.starts:
        starts = cold_starts(args.starts)
        print(f"cold start to window on screen (fresh interpreter, imports included), "
              f"{len(starts)} runs: median {np.median(starts) * 1e3:.0f} ms, "
              f"max {max(starts) * 1e3:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
