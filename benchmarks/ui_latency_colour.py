"""How fast the window follows a change of the input on the shipped colour network.

Opens the real main window (offscreen unless a platform is set) in the Explore workspace, makes
the colour network current (the shipped ``vgg-small-cifar10.npz``, or the file given), and
changes the input again and again to another CIFAR-10 test image (each an undoable step, as when
an image is opened or an example clicked). For every change it measures the time from just
before the change to the moment the Prediction panel holds the new probabilities (the panel
stamps ``applied_at``), and to the moment every visible view has been redrawn (the event loop
run until it is idle). Then the same while the changes are due at 30 Hz with the loop running,
counting any delay.

Targets (issue 19): input change -> prediction and every visible view redrawn, median <= 33 ms,
p99 <= 50 ms.

Usage::

    python benchmarks/ui_latency_colour.py [--network FILE] [--changes 400]
                                           [--images DIR] [--size 1280x800]

``--images`` is a folder of CIFAR-10 images in class folders (default ``$CNNVIZ_CIFAR_DIR/test``
or ``../shared/data/cifar10/test``); with none found, random 32x32 colour pictures are used.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TARGET_MEDIAN_MS, TARGET_P99_MS = 33.0, 50.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_network() -> Path | None:
    shipped = ROOT / "resources" / "models" / "vgg-small-cifar10.npz"
    return shipped if shipped.exists() else None


def load_pictures(folder: Path | None, count: int):
    """``count`` LoadedImages of CIFAR-10 test images (cycled), or random colour pictures."""
    from cnnviz.data import LoadedImage, load_image

    files = sorted(folder.glob("*/*.jpg"))[::37][:count] if folder and folder.is_dir() else []
    if files:
        return [load_image(path) for path in files], f"{len(files)} images of {folder}"
    rng = np.random.default_rng(0)
    pictures = [LoadedImage(rng.random((32, 32, 3), dtype=np.float32), "RGB", (32, 32),
                            Path(f"random-{i}.png")) for i in range(count)]
    return pictures, f"{count} random 32x32 colour pictures"


def measure(window, app, pictures, changes: int, interval: float = 0.0):
    """Change the input ``changes`` times; seconds to the prediction, and to the loop idle."""
    from cnnviz.session import ImageInput

    panel = window.prediction_panel
    document = window.document
    to_panel, to_idle = [], []
    due = time.perf_counter()
    for i in range(changes):
        source = ImageInput(pictures[i % len(pictures)])
        if interval:
            due += interval
            while time.perf_counter() < due:
                app.processEvents()
        t0 = due if interval else time.perf_counter()
        document.set_source(source, f"Show {source.name}")
        to_panel.append(panel.applied_at - t0)
        if not interval:
            app.processEvents()
            to_idle.append(time.perf_counter() - t0)
    return np.array(to_panel), np.array(to_idle)


def describe(name: str, seconds: np.ndarray) -> str:
    ms = seconds * 1e3
    return (f"{name}: n={len(ms)}  median {np.median(ms):.2f} ms  p95 {np.percentile(ms, 95):.2f}"
            f"  p99 {np.percentile(ms, 99):.2f}  max {ms.max():.2f}")


def verdict(seconds: np.ndarray) -> str:
    ms = seconds * 1e3
    ok = np.median(ms) <= TARGET_MEDIAN_MS and np.percentile(ms, 99) <= TARGET_P99_MS
    return (f"target median <= {TARGET_MEDIAN_MS:.0f} ms, p99 <= {TARGET_P99_MS:.0f} ms: "
            f"{'met' if ok else 'NOT met'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", type=Path, default=None,
                        help="the colour network (default: the shipped vgg-small-cifar10.npz)")
    parser.add_argument("--changes", type=int, default=400, help="input changes to measure")
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--size", default="1280x800", help="window size WxH")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure this many times (a shared machine varies between rounds)")
    parser.add_argument("--profile", action="store_true",
                        help="also print where the time of an input change goes (cProfile)")
    args = parser.parse_args(argv)
    network = args.network or default_network()
    if network is None:
        parser.error("the shipped colour network is not there: give --network FILE")
    images = args.images
    if images is None:
        base = os.environ.get("CNNVIZ_CIFAR_DIR") or str(ROOT.parent / "shared/data/cifar10")
        images = Path(base) / "test"

    from cnnviz.ui.window.app import prepare_gui_process

    prepare_gui_process()  # as cnnviz.ui.window.app.run_app does
    app = QApplication.instance() or QApplication(["cnnviz"])
    from cnnviz.ui.window.main_window import MainWindow

    window = MainWindow()
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    window.show()
    QTest.qWaitForWindowExposed(window)
    window.show_workspace("explore")
    window.document.open_network(network)
    pictures, what = load_pictures(images, 200)
    app.processEvents()
    visible = sorted(name for name, dock in window.docks.items() if dock.isVisible())
    print(f"network: {window.document.network.name} ({network}), "
          f"input {window.document.network.contract.shape_text}")
    print(f"inputs: {what}; window {width}x{height}, Explore workspace, platform "
          f"{app.platformName()}")
    print(f"visible docks: {', '.join(visible)}")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores")

    measure(window, app, pictures, 30)  # warm-up
    for round_ in range(args.rounds):
        print(f"[round {round_ + 1}, load average {os.getloadavg()[0]:.1f}]")
        to_panel, to_idle = measure(window, app, pictures, args.changes)
        print("  " + describe("input change -> prediction panel updated", to_panel))
        print("  " + describe("input change -> every visible view redrawn (loop idle)", to_idle))
        print("  " + verdict(to_idle))
        paced, _ = measure(window, app, pictures, args.changes, interval=1 / 30)
        print("  " + describe("changes due at 30 Hz, loop running -> prediction panel updated",
                              paced))
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        measure(window, app, pictures, 200)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)

    window.document.undo_stack.clear()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
