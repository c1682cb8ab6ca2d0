"""``cnnviz predict``: classify image files, each made into the network's input as its contract
says (the canvas's digit preprocessing for digit networks)."""

import argparse
import json
import sys
from typing import NamedTuple

from cnnviz.commands._common import add_contract_options


def add_predict_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="predict the class of each image file (the digit, for digit networks)",
        description="Predict the class of each image, made into the network's input as the "
                    "network file says (`cnnviz summary` shows it). Digit networks use the "
                    "MNIST-style preprocessing the drawing canvas uses (crop to the ink, fit "
                    "20x20, centre by mass in 28x28, dark ink on light paper inverted); image "
                    "networks resize and crop (or pad) the picture, in colour or grey, and "
                    "normalise it. A file that cannot be read is reported and the others still "
                    "run. For a digit network, an image without ink gets no digit: it is "
                    "reported as blank, with the network's output for it shown apart. The exit "
                    "status is 1 if any file could not be read or was blank.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", help="a .npz or .onnx network (default: the shipped lenet5)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: file, label (the class's index), class "
                             "(its name), probabilities (in the order of the network's "
                             "classes), blank (true, with label and class null, when a digit "
                             "image holds no ink), or file and error")
    add_contract_options(parser)
    return parser


class Prediction(NamedTuple):
    """What ``predict`` found in one file: probabilities (None if it could not be read), the
    error message (None if it was read) and whether the image holds no ink at all."""

    path: object
    probabilities: object
    error: str | None
    blank: bool = False


def predict_files(model, paths, contract=None):
    """Yield a :class:`Prediction` for every path; each image becomes the input as ``contract``
    says (None: the network's default contract, :func:`cnnviz.nn.default_contract`)."""
    from cnnviz.data import DataError, image_to_input, load_image
    from cnnviz.nn import default_contract

    if contract is None:
        contract = default_contract(model.input_shape, model.output_shape)
    for path in paths:
        try:
            loaded = load_image(path)
        except DataError as exc:
            yield Prediction(path, None, str(exc))
            continue
        made = image_to_input(loaded, contract)
        yield Prediction(path, model.predict_proba(made.x[None])[0], None, made.blank)


def run_predict(args: argparse.Namespace) -> int:
    from cnnviz.commands import UserError
    from cnnviz.commands._common import open_network
    from cnnviz.nn.threads import prepare_process

    prepare_process()
    model, contract = open_network(args.model, options=args)
    if contract.pipeline == "none":
        raise UserError(f"{model.name} takes {contract.shape_text} inputs, which are not made from "
                        f"images: `cnnviz predict` reads images")
    name = contract.class_name
    failed = 0
    for path, probs, error, blank in predict_files(model, args.images, contract):
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
                              "class": None if blank else name(label), "blank": blank,
                              "probabilities": [round(float(p), 6) for p in probs]}))
            continue
        ranked = ", ".join(f"{name(d)}: {probs[d]:.3f}" for d in probs.argsort()[::-1][:3])
        if blank:
            print(f"{path}: no digit: the image holds no ink (blank); the network's output "
                  f"anyway: {name(label)} ({probs[label]:.1%}; {ranked})")
        else:
            print(f"{path}: {name(label)}  ({probs[label]:.1%}; {ranked})")
    return 1 if failed else 0
