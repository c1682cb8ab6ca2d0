"""``cnnviz evaluate``: accuracy, per-class accuracy and confusion matrix on a test split."""

import argparse
import json


def add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="test a network: accuracy, per-class accuracy, confusion matrix",
        description="Evaluate a network on the test split of a dataset.")
    parser.add_argument("--model", help="a .npz network (default: the shipped lenet5)")
    parser.add_argument("--data", default="mnist",
                        help="mnist, cifar10, offline, or a folder (MNIST files, CIFAR-10's "
                             "binary release, or images in class folders)")
    parser.add_argument("--limit", type=int, metavar="N", help="use at most N test images")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def run_evaluate(args: argparse.Namespace) -> int:
    from cnnviz.commands._common import open_dataset, open_model
    from cnnviz.data import to_float_batch
    from cnnviz.nn.threads import prepare_process
    from cnnviz.training import evaluate

    prepare_process()
    model = open_model(args.model)
    data = open_dataset(args.data, limit=args.limit, model=model)
    result = evaluate(model, to_float_batch(data.test_x), data.test_y)
    if args.json:
        print(json.dumps({"model": args.model or "shipped lenet5", "data": data.name,
                          **result.to_dict()}))
        return 0
    print(f"{model.name} on {data.name} test set ({result.labels.size} images)")
    print(f"accuracy {result.accuracy:.4f}   loss {result.loss:.4f}\n")
    k = result.confusion.shape[0]
    print("true\\pred " + " ".join(f"{j:>5}" for j in range(k)) + "   accuracy")
    for t in range(k):
        row = " ".join(f"{v:>5}" for v in result.confusion[t])
        print(f"{t:>9} {row}   {result.per_class_accuracy[t]:.4f}")
    return 0
