"""``cnnviz summary``: the layer table of a network file or preset."""

import argparse


def add_summary_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "summary", help="print a network's layers, shapes, parameters and receptive fields",
        description="Print the layer table of a network: output shapes, parameter counts and "
                    "each layer's receptive field (size, effective stride, start offset).")
    parser.add_argument("model", nargs="?", metavar="MODEL_OR_PRESET",
                        help="a .npz network file or a preset name (lenet5, tiny, mlp); "
                             "default: the shipped lenet5")
    return parser


def run_summary(args: argparse.Namespace) -> int:
    from cnnviz.commands._common import open_model
    from cnnviz.nn import format_summary

    print(format_summary(open_model(args.model)))
    return 0
