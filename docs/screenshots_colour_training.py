"""Screenshots of training and evaluating a colour network in the window
(``docs/images/colour-training.png`` and ``colour-evaluation.png`` are in the user guide; the
script also writes ``colour-training-end.png`` and ``colour-training-explore.png``).

Starts the real main window (offscreen unless a platform is chosen) at 1366x768, trains a new
cifar-tutorial network on 20,000 CIFAR-10 images (2 epochs) from the Train workspace (pictures
taken a third of the way into the run, after it and in the Explore workspace), then opens a
trained colour network and evaluates it on CIFAR-10's test set in the Interpret workspace,
showing the cats it reads as dogs and the first of them as the input.

Usage::

    CNNVIZ_CIFAR_DIR=/path/to/cifar10 python docs/screenshots_colour_training.py \\
        --network resources/models/vgg-small-cifar10.npz [--out docs/images] \\
        [--count 20000 --epochs 2]
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

from screenshots import open_main_window  # noqa: E402
from screenshots_training import save, wait, wait_for  # noqa: E402

SIZE = (1366, 768)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--network", type=Path,
                        default=ROOT / "resources" / "models" / "vgg-small-cifar10.npz")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--at", type=float, default=0.33,
                        help="the fraction of the run done when the first picture is taken")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from cnnviz.training.sources import DataSource

    with tempfile.TemporaryDirectory() as scratch:
        window = open_main_window(scratch, SIZE)
        cifar = Path(os.environ.get("CNNVIZ_CIFAR_DIR") or ROOT.parent / "shared/data/cifar10")
        picture = cifar / "test" / "cat" / "0001.jpg"
        if picture.exists():
            window.document.open_image(picture)  # the predictions follow the training
        window.show_workspace("train")
        panel = window.training_panel
        panel.select_data(DataSource("cifar10"))
        panel.count_spin.setValue(args.count)
        panel.validation_spin.setValue(500)
        panel.network_combo.setCurrentIndex(panel.network_combo.findData("new"))
        panel.settings.epochs_spin.setValue(args.epochs)
        ended, done = [], []
        panel.run_ended.connect(ended.append)
        panel.runner.progress.connect(lambda report: done.append(report.fraction))
        panel.start_button.click()
        wait_for(panel.run_started)
        while not ended and (not done or done[-1] < args.at):  # (a run of a few seconds)
            wait(20)
        if not ended:
            save(window, args.out / "colour-training.png")
            wait_for(panel.run_ended)
        save(window, args.out / "colour-training-end.png")
        window.show_workspace("explore")
        save(window, args.out / "colour-training-explore.png")

        window.document.open_network(args.network)
        window.show_workspace("interpret")
        view = window.evaluation_view
        view.evaluate()
        wait_for(view.runner.finished)
        names = window.document.network.classes
        view.show_cell(names.index("cat"), names.index("dog"))
        view.show_example(view.grid.keys()[0])  # the most confident mistake: the input
        save(window, args.out / "colour-evaluation.png")
        window.document.undo_stack.clear()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
