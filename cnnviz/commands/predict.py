"""``cnnviz predict``: read digits from image files with the canvas's preprocessing."""

import argparse
import json
import sys
from typing import NamedTuple


def add_predict_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="predict the digit in image files",
        description="Predict the digit in each image, after the same MNIST-style preprocessing "
                    "the drawing canvas uses (crop to the ink, fit 20x20, centre by mass in "
                    "28x28, dark ink on light paper inverted). A file that cannot be read is "
                    "reported and the others still run. An image without ink gets no digit: "
                    "it is reported as blank, with the network's output for it shown apart. "
                    "The exit status is 1 if any file could not be read or was blank.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", help="a .npz network (default: the shipped lenet5)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: file, label, probabilities, blank "
                             "(true, with label null, when the image holds no ink), or file "
                             "and error")
    return parser


class Prediction(NamedTuple):
    """What ``predict`` found in one file: probabilities (None if it could not be read), the
    error message (None if it was read) and whether the image holds no ink at all."""

    path: object
    probabilities: object
    error: str | None
    blank: bool = False


def predict_files(model, paths):
    """Yield a :class:`Prediction` for every path."""
    import numpy as np

    from cnnviz.data import (DataError, is_blank, load_image, preprocess_digit_info, to_grey,
                             to_network_input)

    for path in paths:
        try:
            pixels = load_image(path).pixels
        except DataError as exc:
            yield Prediction(path, None, str(exc))
            continue
        c, h, w = model.input_shape
        if (c, h, w) == (1, 28, 28):
            image, info = preprocess_digit_info(to_grey(pixels))
            x, blank = image[None, None], info.blank
        else:
            x, blank = to_network_input(pixels, c, h, w)[None], is_blank(to_grey(pixels))
        yield Prediction(path, model.predict_proba(x.astype(np.float32))[0], None, blank)


def run_predict(args: argparse.Namespace) -> int:
    from cnnviz.commands._common import open_model
    from cnnviz.nn.threads import prepare_process

    prepare_process()
    model = open_model(args.model)
    failed = 0
    for path, probs, error, blank in predict_files(model, args.images):
        if error is not None:
            failed += 1
            print(f"cnnviz: {error}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": str(path), "error": error}))
            continue
        failed += blank
        label = int(probs.argmax())
        if args.json:
            print(json.dumps({"file": str(path), "label": None if blank else label,
                              "blank": blank,
                              "probabilities": [round(float(p), 6) for p in probs]}))
            continue
        ranked = ", ".join(f"{d}: {probs[d]:.3f}" for d in probs.argsort()[::-1][:3])
        if blank:
            print(f"{path}: no digit: the image holds no ink (blank); the network's output "
                  f"anyway: {label} ({probs[label]:.1%}; {ranked})")
        else:
            print(f"{path}: {label}  ({probs[label]:.1%}; {ranked})")
    return 1 if failed else 0
