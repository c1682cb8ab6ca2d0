"""``cnnviz export``: write a network as ONNX (or as cnnviz's own .npz), its input contract kept."""

import argparse
import sys
from pathlib import Path

from cnnviz.commands._common import add_contract_options

FORMATS = {".onnx": "ONNX", ".npz": "cnnviz .npz"}


def add_export_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="write a network as an ONNX file (or a .npz), for other tools",
        description="Write a network file or preset as ONNX (operator set 17, a dynamic batch "
                    "axis, float32 weights), which PyTorch, onnxruntime, Netron and cnnviz "
                    "itself read; what the network takes (input shape, pipeline, class names) "
                    "goes into the file's metadata, so cnnviz opens it again unchanged. The "
                    "format follows OUT's extension: .onnx, or .npz to turn an ONNX file into "
                    "cnnviz's own format.")
    parser.add_argument("model", metavar="MODEL_OR_PRESET",
                        help="a .npz or .onnx network file or a preset name (lenet5, tiny, mlp, "
                             "cifar-tutorial, vgg-small)")
    parser.add_argument("out", metavar="OUT", help="the file to write (.onnx or .npz)")
    add_contract_options(parser, "the model's own")
    return parser


def run_export(args: argparse.Namespace) -> int:
    from cnnviz.commands import UserError
    from cnnviz.commands._common import open_network
    from cnnviz.nn import ModelError, save_model

    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"{args.out}: the file name must end in .onnx or .npz (the format "
                        f"follows it)")
    model, contract = open_network(args.model, options=args)
    try:
        save_model(model, out, contract=contract)
    except ModelError as exc:
        raise UserError(f"{args.out}: cannot be written: {exc}") from None
    except OSError as exc:
        raise UserError(f"{args.out}: cannot be written ({exc.strerror or exc})") from None
    print(f"wrote {out} ({FORMATS[out.suffix.lower()]}, {model.param_count():,} parameters)",
          file=sys.stderr)
    return 0
