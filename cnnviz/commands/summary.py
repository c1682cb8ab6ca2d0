"""``cnnviz summary``: the layer table of a network file or preset, and what it takes."""

import argparse
import json

from cnnviz.commands._common import add_contract_options


def add_summary_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "summary", help="print a network's layers, shapes, parameters and receptive fields",
        description="Print the layer table of a network: output shapes, parameter counts and "
                    "each layer's receptive field (size, effective stride, start offset); then "
                    "what it takes: the input shape, how an image becomes its input, and the "
                    "names of its classes.")
    parser.add_argument("model", nargs="?", metavar="MODEL_OR_PRESET",
                        help="a .npz or .onnx network file or a preset name (lenet5, tiny, mlp, "
                             "cifar-tutorial, vgg-small); default: the shipped lenet5")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead: name, input_shape, params and "
                             "layers (index, kind, settings, output_shape, params, "
                             "receptive_field with size, stride and start as [height, width], "
                             "or whole_input true after a dense layer), and input (shape, "
                             "classes, pipeline and its settings fit, fill, mean, std, and "
                             "description: the pipeline in words)")
    add_contract_options(parser)
    return parser


def summary_dict(model, contract=None) -> dict:
    """The layer table of ``model`` and its input contract (None: the network's default one) as
    plain JSON-ready values."""
    from cnnviz.nn import default_contract

    if contract is None:
        contract = default_contract(model.input_shape, model.output_shape)
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
    contract_dict = contract.to_dict()
    del contract_dict["format"], contract_dict["version"]
    return {"name": model.name, "input_shape": [int(n) for n in model.input_shape],
            "params": int(model.param_count()), "layers": layers,
            "input": {**contract_dict, "description": contract.describe_pipeline()}}


def format_contract(contract) -> str:
    """What the network takes, in three lines: input shape, pipeline, class names."""
    names, count = contract.classes, len(contract.classes)
    if not count:
        classes = "classes: numbered (no names)"
    elif count > 12:
        classes = (f"classes ({count}): {', '.join(names[:10])}, ... ({count - 11} more), "
                   f"{names[-1]}")
    else:
        classes = f"classes ({count}): {', '.join(names)}"
    return f"input: {contract.shape_text}\npipeline: {contract.describe_pipeline()}\n{classes}"


def run_summary(args: argparse.Namespace) -> int:
    from cnnviz.commands._common import open_network
    from cnnviz.nn import format_summary

    model, contract = open_network(args.model, options=args)
    if args.json:
        print(json.dumps(summary_dict(model, contract)))
    else:
        print(format_summary(model))
        print(format_contract(contract))
    return 0
