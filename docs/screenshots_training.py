"""Regenerate the screenshots of "Watch it learn" in the user guide (``docs/images/training*.png``).

Starts the real main window (offscreen unless a platform is chosen), draws a "4" on the canvas
with real mouse events, and trains from the Training panel of the Train workspace:

- ``training.png``: the Train workspace of a 1600x1000 window a third of the way into an epoch of
  a new lenet5 on MNIST (the window's defaults: Adam from learning rate 0.005, annealed to zero):
  the settings and the layer list, the curves (the Network Health is the tab beside them), and
  the prediction, filters and feature maps of the drawn 4, with the run's progress in the status
  bar;
- ``training-curves.png``: the curves of that run once the epoch is over;
- ``training-health.png``: the Network Health panel (floated out of its tab) of a run with ten
  times too high a learning rate (Adam, 0.05): most ReLUs of the convolutions die within the
  first steps;
- ``training-layers.png``: the layer-list editor explaining why a list cannot be trained.

Usage::

    CNNVIZ_MNIST_DIR=/path/to/mnist python docs/screenshots_training.py [--out docs/images]

The window's settings are kept in a temporary folder, so the screenshots never depend on (or
change) your own layout.
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

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from screenshots import open_main_window  # noqa: E402
from screenshots_layers import FOUR, WINDOW_SIZE, draw  # noqa: E402


def wait(ms: int) -> None:
    """Run the event loop for ``ms`` (``QTest.qWait`` would keep the training thread waiting:
    it holds the interpreter)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal, timeout_ms: int = 600000):
    """Run the event loop until ``signal`` is emitted; its arguments."""
    loop, received = QEventLoop(), []
    signal.connect(lambda *args: (received.append(args), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    if not received:
        raise TimeoutError("the run did not end in time")
    return received[0]


def save(widget, path: Path) -> None:
    wait(300)  # let every panel repaint
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def float_dock(window, name: str, width: int, height: int):
    """Show dock ``name`` floating at ``width`` x ``height``, so that its panel has that size."""
    dock = window.docks[name]
    dock.show()
    dock.setFloating(True)
    dock.resize(width, height)
    wait(200)
    return dock


def configure(panel, folder, count, optimizer="adam", lr=5e-3, epochs=1) -> None:
    from cnnviz.training.sources import DataSource

    panel.select_data(DataSource("folder", folder))
    panel.count_spin.setValue(count)
    panel.validation_spin.setValue(5000)
    panel.network_combo.setCurrentIndex(panel.network_combo.findData("new"))
    panel.editor.fill_preset("lenet5")
    settings = panel.settings
    settings.optimizer_combo.setCurrentIndex(settings.optimizer_combo.findData(optimizer))
    settings.lr_spin.setValue(lr)
    settings.epochs_spin.setValue(epochs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the Watch-it-learn screenshots.")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from cnnviz.data import find_mnist
    from cnnviz.ui.window.app import prepare_gui_process

    folder = find_mnist()
    if folder is None:
        print("MNIST not found: set CNNVIZ_MNIST_DIR", file=sys.stderr)
        return 2
    prepare_gui_process()
    with tempfile.TemporaryDirectory() as scratch:
        window = open_main_window(scratch, WINDOW_SIZE)
        for stroke in FOUR:
            draw(window.canvas_panel.canvas, stroke)
        panel = window.training_panel
        window.show_workspace("train")

        configure(panel, folder, count=0)
        steps = []
        panel.runner.progress.connect(lambda report: steps.append(report.fraction))
        panel.start()
        wait_for(panel.run_started)
        while not steps or steps[-1] < 0.33:
            wait(100)
        save(window, args.out / "training.png")
        final = wait_for(panel.run_ended)[0]
        trace = window.document.trace
        print(f"{final.kind}: validation {final.val_accuracy:.2%}; the 4 reads as "
              f"{trace.top_class} ({trace.confidence:.1%})")
        float_dock(window, "training_curves", 1000, 440)
        save(window.training_curves, args.out / "training-curves.png")
        window.docks["training_curves"].setFloating(False)

        configure(panel, folder, count=0, lr=0.05)
        panel.start()
        final = wait_for(panel.run_ended)[0]
        print(f"learning rate 0.05: validation {final.val_accuracy:.2%}")
        float_dock(window, "network_health", 1000, 480)
        save(window.network_health, args.out / "training-health.png")
        window.docks["network_health"].setFloating(False)

        layers = panel.editor.layers()
        layers[3]["kernel_size"] = [15, 15]
        panel.editor.set_layers(layers)
        panel.editor.table.selectRow(3)
        float_dock(window, "training", 1000, 640)  # a shorter layer list than at full height
        save(panel.editor.parentWidget(), args.out / "training-layers.png")
        window.docks["training"].setFloating(False)

        window.document.undo_stack.clear()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
