"""``cnnviz predict``: read digits from image files with the canvas's preprocessing."""

import argparse
import json
import sys


def add_predict_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="predict the digit in image files",
        description="Predict the digit in each image, after the same MNIST-style preprocessing "
                    "the drawing canvas uses (crop to the ink, fit 20x20, centre by mass in "
                    "28x28, dark ink on light paper inverted). A file that cannot be read is "
                    "reported and the others still run; the exit status is 1 if any failed.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", help="a .npz network (default: the shipped lenet5)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: file, label, probabilities")
    return parser


def predict_files(model, paths):
    """Yield ``(path, probabilities or None, error message or None)`` for every path."""
    import numpy as np

    from cnnviz.data import DataError, load_image, preprocess_digit, to_grey, to_network_input

    for path in paths:
        try:
            pixels = load_image(path).pixels
        except DataError as exc:
            yield path, None, str(exc)
            continue
        c, h, w = model.input_shape
        if (c, h, w) == (1, 28, 28):
            x = preprocess_digit(to_grey(pixels))[None, None]
        else:
            x = to_network_input(pixels, c, h, w)[None]
        yield path, model.predict_proba(x.astype(np.float32))[0], None


def run_predict(args: argparse.Namespace) -> int:
    from cnnviz.commands._common import open_model
    from cnnviz.nn.threads import prepare_process

    prepare_process()
    model = open_model(args.model)
    failed = 0
    for path, probs, error in predict_files(model, args.images):
        if error is not None:
            failed += 1
            print(f"cnnviz: {error}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": path, "error": error}))
            continue
        label = int(probs.argmax())
        if args.json:
            print(json.dumps({"file": path, "label": label,
                              "probabilities": [round(float(p), 6) for p in probs]}))
        else:
            ranked = ", ".join(f"{d}: {probs[d]:.3f}" for d in probs.argsort()[::-1][:3])
            print(f"{path}: {label}  ({probs[label]:.1%}; {ranked})")
    return 1 if failed else 0
