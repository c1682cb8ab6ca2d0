"""``cnnviz export``: write a network as ONNX (or as cnnviz's own .npz), its input contract kept."""

import argparse
import sys
from pathlib import Path

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
    what = parser.add_argument_group(
        "what the network takes", "change the input contract the file records (default: the "
        "model's own; an ONNX file without one is a digit network at 1x28x28, an image network "
        "with values in [0, 1] otherwise)")
    what.add_argument("--classes", metavar="NAMES",
                      help="the class names, comma-separated, or @FILE for one name per line")
    what.add_argument("--pipeline", choices=("digits", "image", "none"),
                      help="how an image becomes the input")
    what.add_argument("--fit", choices=("crop", "pad"),
                      help="image pipeline: centre-crop, or pad to keep the whole picture")
    what.add_argument("--mean", metavar="M[,M,M]",
                      help="per-channel mean subtracted last (e.g. 0.485,0.456,0.406)")
    what.add_argument("--std", metavar="S[,S,S]",
                      help="per-channel standard deviation divided by last")
    return parser


def _numbers(text: str, option: str) -> tuple[float, ...]:
    from cnnviz.commands import UserError

    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"{option} {text}: give numbers separated by commas") from None


def _class_names(text: str) -> tuple[str, ...]:
    from cnnviz.commands import UserError

    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as handle:
                return tuple(line.strip() for line in handle if line.strip())
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--classes {text}: cannot be read ({exc})") from None
    return tuple(name.strip() for name in text.split(","))


def changed_contract(contract, args):
    """``contract`` with the options given on the command line (checked as a whole)."""
    from dataclasses import replace

    from cnnviz.commands import UserError
    from cnnviz.nn import ContractError

    changes = {}
    if args.classes is not None:
        changes["classes"] = _class_names(args.classes)
    for key in ("pipeline", "fit"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    for key in ("mean", "std"):
        if getattr(args, key) is not None:
            changes[key] = _numbers(getattr(args, key), f"--{key}")
    if not changes:
        return contract
    try:
        return replace(contract, **changes)
    except ContractError as exc:
        raise UserError(f"the input description is wrong: {exc}") from None


def run_export(args: argparse.Namespace) -> int:
    from cnnviz.commands import UserError
    from cnnviz.commands._common import open_network
    from cnnviz.nn import ModelError, save_model

    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"{args.out}: the file name must end in .onnx or .npz (the format "
                        f"follows it)")
    model, contract = open_network(args.model)
    contract = changed_contract(contract, args)
    try:
        save_model(model, out, contract=contract)
    except ModelError as exc:
        raise UserError(f"{args.out}: cannot be written: {exc}") from None
    except OSError as exc:
        raise UserError(f"{args.out}: cannot be written ({exc.strerror or exc})") from None
    print(f"wrote {out} ({FORMATS[out.suffix.lower()]}, {model.param_count():,} parameters)",
          file=sys.stderr)
    return 0
