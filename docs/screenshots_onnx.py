"""Regenerate the user guide's pictures of a network opened from ONNX (``docs/images/onnx-*.png``).

Writes a small ImageNet-shaped network to an ``.onnx`` file the way other tools do (no cnnviz
description in its metadata: its classes are numbered, it takes pictures in [0, 1]): 3x64x64 in,
two convolutions each followed by batch normalisation, global average pooling, 1,000 classes out,
random weights (the last layer's scaled up, so that the prediction is as peaked as a trained
network's). Then starts the real main window (offscreen unless a platform is chosen) at
1366x768, opens the file and a photo (a CIFAR-10 test picture when ``CNNVIZ_CIFAR_DIR`` is set,
else a drawn gradient), and saves:

- ``onnx-contract.png``: Edit ▸ Network Input and Classes… with the names loaded from a text file
  (``kind 0`` … ``kind 999``, ``crane`` twice as in ImageNet's list: numbered) and ImageNet's mean
  and standard deviation;
- ``onnx-explore.png``: the Explore workspace after OK: the Prediction's top five of the 1,000
  classes under their names, the maps of the first batch normalisation;
- ``onnx-batchnorm-math.png``: the step-by-step calculation of a clicked unit of the first batch
  normalisation: the convolution's sum, then γ·(x − μ)/√(σ² + ε) + β with the channel's numbers.

Usage::

    python docs/screenshots_onnx.py [--out docs/images]
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
from PIL import Image  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialogButtonBox  # noqa: E402
from screenshots import open_main_window  # noqa: E402
from screenshots_analysis import wait_until  # noqa: E402
from screenshots_layers import save_unit_math  # noqa: E402
from screenshots_training import save  # noqa: E402

SIZE = (1366, 768)
CLASSES = 1000
#: The unit clicked (map, row, col) in the first batch normalisation's output.
CLICKED = (3, 20, 28)


def network_file(folder: Path) -> Path:
    """The ONNX file, without cnnviz's description (as PyTorch writes one)."""
    import onnx

    from cnnviz.nn import (BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool2D, MaxPool2D, ReLU,
                           Sequential, save_model)

    model = Sequential([Conv2D(out_channels=16, kernel_size=3, padding="same"), BatchNorm(),
                        ReLU(), MaxPool2D(size=2),
                        Conv2D(out_channels=32, kernel_size=3, padding="same"), BatchNorm(),
                        ReLU(), GlobalAvgPool2D(), Flatten(), Dense(out_features=CLASSES)],
                       input_shape=(3, 64, 64), seed=3, name="imagenet-shaped")
    rng = np.random.default_rng(3)
    state = {name: (rng.uniform(0.5, 2.0, value.shape) if name.endswith("running_var")
                    else rng.normal(0.0, 0.2, value.shape)).astype(np.float32)
             for name, value in model.named_state().items()}
    weights = model.get_weights()
    weights["9.weight"] = weights["9.weight"] * 200  # sure of itself, as a trained one is
    model.set_weights({**weights, **state})  # statistics as if trained
    path = save_model(model, folder / "imagenet-shaped.onnx")
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(path))
    return path


def photo_file(folder: Path) -> Path:
    cifar = os.environ.get("CNNVIZ_CIFAR_DIR")
    picture = Path(cifar, "test", "ship", "0003.jpg") if cifar else None
    if picture is not None and picture.is_file():
        return picture
    y, x = np.mgrid[0:96, 0:128] / 127.0
    image = np.stack([x, 0.6 * y + 0.2, 1.0 - 0.5 * x], axis=-1)
    path = folder / "gradient.png"
    Image.fromarray((image * 255).astype(np.uint8)).save(path)
    return path


def class_names(folder: Path) -> Path:
    names = [f"kind {k}" for k in range(CLASSES)]
    names[134] = names[517] = "crane"
    path = folder / "classes.txt"
    path.write_text("\n".join(names) + "\n", encoding="utf-8")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from cnnviz.ui.window.contract_dialog import ContractDialog

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        window = open_main_window(str(folder / "settings"), SIZE)
        window.show_workspace("explore")
        path = network_file(folder)
        assert window.open_network(path, ask=False, remember=False)
        wait_until(lambda: window.document.network.model.input_shape == (3, 64, 64),
                   "opening the network", 120)
        assert window.open_image(photo_file(folder))

        window.contract_action.trigger()
        dialog = next(d for d in window.findChildren(ContractDialog) if d.isVisible())
        dialog.load_names(class_names(folder))
        from cnnviz.ui.window.contract_dialog import IMAGENET_MEAN, IMAGENET_STD

        dialog.set_normalisation(IMAGENET_MEAN, IMAGENET_STD)  # its ImageNet button
        save(dialog, args.out / "onnx-contract.png")
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        wait_until(lambda: window.document.network.classes[0] == "kind 0", "the new classes", 30)
        trace = window.document.trace
        print(f"read as {window.document.network.classes[trace.top_class]} "
              f"({trace.confidence:.1%})")

        feature_maps = window.feature_maps
        feature_maps.set_layer(2)  # the first batch normalisation's output (activation 2)
        save(window, args.out / "onnx-explore.png")

        save_unit_math(window, CLICKED, args.out / "onnx-batchnorm-math.png", (980, 700))

        window.document.undo_stack.clear()
        window.close()
        QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
