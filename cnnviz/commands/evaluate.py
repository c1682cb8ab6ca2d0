"""``cnnviz evaluate``: accuracy, per-class accuracy and confusion matrix on a test split."""

import argparse
import json
import sys

from cnnviz.commands._common import add_contract_options

#: Widest confusion-matrix column; longer class names are cut to it (the rows show them whole).
COLUMN = 10


def add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="test a network: accuracy, per-class accuracy, confusion matrix",
        description="Evaluate a network on the test split of a dataset. Images become the "
                    "network's input as its file says (normalisation included); classes are "
                    "named as the network names them.")
    parser.add_argument("--model", help="a .npz or .onnx network (default: the shipped lenet5)")
    parser.add_argument("--data", default="mnist",
                        help="mnist, cifar10, offline, or a folder (MNIST files, CIFAR-10's "
                             "binary release, or images in class folders)")
    parser.add_argument("--limit", type=int, metavar="N", help="use at most N test images")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_contract_options(parser)
    return parser


def class_names(contract, data, outputs: int) -> tuple[str, ...]:
    """The names of the network's ``outputs`` classes: its contract's, else the data's (when it
    names as many), else the class numbers."""
    if contract.classes:
        return tuple(contract.classes)
    if len(data.classes) == outputs:
        return tuple(data.classes)
    return tuple(str(i) for i in range(outputs))


def confusion_table(names, confusion, per_class) -> list[str]:
    """The confusion matrix as lines: one row per true class (its whole name), one column per
    predicted class (names cut to :data:`COLUMN` characters), then the class's accuracy."""
    width = max(5, min(COLUMN, max(len(n) for n in names)))
    corner = "true\\pred"
    first = max(len(corner), max(len(n) for n in names))
    lines = [f"{corner:>{first}} " + " ".join(f"{n[:width]:>{width}}" for n in names)
             + "   accuracy"]
    for t, name in enumerate(names):
        row = " ".join(f"{v:>{width}}" for v in confusion[t])
        lines.append(f"{name:>{first}} {row}   {per_class[t]:.4f}")
    return lines


def run_evaluate(args: argparse.Namespace) -> int:
    from cnnviz.commands._common import open_dataset, open_network
    from cnnviz.data import batch_to_input
    from cnnviz.nn.threads import prepare_process
    from cnnviz.training import evaluate

    prepare_process()
    model, contract = open_network(args.model, options=args)
    data = open_dataset(args.data, limit=args.limit, model=model)
    result = evaluate(model, batch_to_input(data.test_x, contract), data.test_y)
    names = class_names(contract, data, result.confusion.shape[0])
    if data.class_names and tuple(data.class_names) != names[:len(data.class_names)]:
        print(f"cnnviz: the data's classes ({', '.join(data.class_names)}) are not named as the "
              f"network's ({', '.join(names)}): labels are matched by number",
              file=sys.stderr)
    if args.json:
        print(json.dumps({"model": args.model or "shipped lenet5", "data": data.name,
                          "classes": list(names), **result.to_dict()}))
        return 0
    print(f"{model.name} on {data.name} test set ({result.labels.size} images)")
    print(f"accuracy {result.accuracy:.4f}   loss {result.loss:.4f}\n")
    for line in confusion_table(names, result.confusion, result.per_class_accuracy):
        print(line)
    return 0
