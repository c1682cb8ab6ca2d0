"""``cnnviz summary``: the layer table of a network file or preset."""

import argparse
import json


def add_summary_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "summary", help="print a network's layers, shapes, parameters and receptive fields",
        description="Print the layer table of a network: output shapes, parameter counts and "
                    "each layer's receptive field (size, effective stride, start offset).")
    parser.add_argument("model", nargs="?", metavar="MODEL_OR_PRESET",
                        help="a .npz network file or a preset name (lenet5, tiny, mlp); "
                             "default: the shipped lenet5")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead: name, input_shape, params and "
                             "layers (index, kind, settings, output_shape, params, "
                             "receptive_field with size, stride and start as [height, width], "
                             "or whole_input true after a dense layer)")
    return parser


def summary_dict(model) -> dict:
    """The layer table of ``model`` as plain JSON-ready values."""
    settings = model.config()["layers"]
    layers = []
    for row, spec in zip(model.summary(), settings):
        field = row["receptive_field"]
        layers.append({
            "index": row["index"], "kind": row["kind"],
            "settings": {key: value for key, value in spec.items() if key != "kind"},
            "output_shape": [int(n) for n in row["output_shape"]], "params": int(row["params"]),
            "receptive_field": {"whole_input": True} if field.global_ else {
                "whole_input": False, "size": [int(n) for n in field.size],
                "stride": [int(n) for n in field.jump], "start": [int(n) for n in field.start]},
        })
    return {"name": model.name, "input_shape": [int(n) for n in model.input_shape],
            "params": int(model.param_count()), "layers": layers}


def run_summary(args: argparse.Namespace) -> int:
    from cnnviz.commands._common import open_model
    from cnnviz.nn import format_summary

    model = open_model(args.model)
    if args.json:
        print(json.dumps(summary_dict(model)))
    else:
        print(format_summary(model))
    return 0
