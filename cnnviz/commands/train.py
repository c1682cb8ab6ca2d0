"""``cnnviz train``: train a network headless, with a progress bar, and save it."""

import argparse
import json
import shlex
import signal
import sys
from dataclasses import replace


#: Validation images held out by default: this many, or a tenth of the training images if fewer.
DEFAULT_VAL_SPLIT = 5000


def default_val_split(train_images: int) -> int:
    """How many images ``--val-split`` holds out when it is not given."""
    return min(DEFAULT_VAL_SPLIT, train_images // 10)


def command_line(args: argparse.Namespace) -> str:
    """The ``cnnviz train`` command that runs with the settings ``args`` (every option, so
    that it repeats the run even if a default changes)."""
    parser = argparse.ArgumentParser(add_help=False)
    train = add_train_parser(parser.add_subparsers())
    words = ["cnnviz", "train"]
    for action in train._actions:
        if not action.option_strings or action.dest == "help" or not hasattr(args, action.dest):
            continue
        value, flag = getattr(args, action.dest), action.option_strings[-1]
        if action.nargs == 0:  # a switch
            if value:
                words.append(flag)
        elif value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


class _Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM while ``cnnviz train`` runs, handled so that the run is
    never lost and everything is cleaned up (worker processes, shared memory).

    While training (``mode = "stop"``) a signal asks the trainer to stop after the current batch;
    during the final test (``"skip"``) it raises :class:`KeyboardInterrupt` to skip it; while
    saving (``"hold"``) it is only noted, as it is at any time in ``received``."""

    def __init__(self, trainer):
        self.trainer, self.mode, self.received = trainer, "stop", None
        self._previous = {}

    def _handle(self, number, _frame) -> None:
        self.received = signal.Signals(number).name
        if self.mode == "stop":
            self.trainer.stop()
        elif self.mode == "skip":
            raise KeyboardInterrupt

    def __enter__(self):
        for name in ("SIGINT", "SIGTERM"):
            number = getattr(signal, name, None)
            if number is not None:
                try:
                    self._previous[number] = signal.signal(number, self._handle)
                except ValueError:  # not the main thread: signals are not ours to handle
                    pass
        return self

    def __exit__(self, *exc) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a network on MNIST, CIFAR-10, the offline digits or a folder",
        description="Train a network and save it. Ctrl-C (or SIGTERM) stops after the current "
                    "batch and still saves; during the final test it skips the test and saves. "
                    "The last line on standard output is a JSON summary.")
    parser.add_argument("--arch", default="lenet5",
                        help="preset (lenet5, tiny, mlp for digits; cifar-tutorial, vgg-small for "
                             "colour images; its last layer gets one unit per class of the data) "
                             "or a .npz or .onnx network to train further")
    parser.add_argument("--data", default="mnist",
                        help="mnist, cifar10, offline, or a folder (MNIST files, CIFAR-10's "
                             "binary release, or images in class folders)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default 0.001 for adam, 0.01 for sgd)")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    parser.add_argument("--momentum", type=float, default=0.9, help="for sgd")
    parser.add_argument("--nesterov", action="store_true", help="Nesterov momentum (sgd)")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--lr-step", type=int, default=0, metavar="EPOCHS",
                        help="multiply the learning rate by --lr-gamma every EPOCHS epochs")
    parser.add_argument("--lr-gamma", type=float, default=0.1)
    parser.add_argument("--cosine", action="store_true",
                        help="anneal the learning rate to zero over the run (half a cosine, "
                             "updated every batch)")
    parser.add_argument("--augment", action="store_true",
                        help="random changes of the training images: for digit networks "
                             "thinner or thicker strokes, affine and elastic distortions; for "
                             "image networks (colour or grey photos) horizontal flips and crops "
                             "of the image padded by 4 pixels")
    parser.add_argument("--drawn-habits", type=int, default=0, metavar="N",
                        help="digit networks: add N digits drawn on the canvas in named writing "
                             "habits (a European 1, a crossed 7, a closed 4...; generated from "
                             "--seed) to the training images")
    parser.add_argument("--val-split", type=int, default=None, metavar="N",
                        help="hold out N training images for validation after each epoch (0: "
                             f"none; default {DEFAULT_VAL_SPLIT}, or a tenth of the training "
                             "images when that is fewer, as with --limit)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="use at most N training and N test images (quick experiments)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="split each batch across N processes (default: one per core, up to "
                             "4, shards of at least 16); a run is reproducible for a given seed "
                             "and N")
    parser.add_argument("--out", default="model.npz", help="where to save the network")
    parser.add_argument("--save-every-epoch", action="store_true",
                        help="also save the network after every epoch (a long run killed "
                             "outright keeps its last whole epoch)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _with_drawn_habits(train_x, train_y, n: int, seed: int, contract, data):
    """The training images and labels with ``n`` digits drawn in writing habits added
    (:func:`cnnviz.data.drawn_habits.make_habit_training_digits`, read as the canvas is read)."""
    import numpy as np

    from cnnviz.commands import UserError
    from cnnviz.data.drawn_habits import make_habit_training_digits

    if n < 0:
        raise UserError("--drawn-habits must be 0 or more")
    if contract.pipeline != "digits" or tuple(train_x.shape[1:]) != (28, 28) \
            or data.n_classes != 10:
        raise UserError("--drawn-habits adds drawn digits: it needs a digit network (1x28x28, "
                        "ten classes) and digit data")
    images, labels = make_habit_training_digits(n, seed)
    return (np.concatenate([train_x, images.astype(train_x.dtype)]),
            np.concatenate([train_y, labels.astype(train_y.dtype)]))


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnviz.commands import UserError
    from cnnviz.commands._common import (ProgressBar, check_fits, describe_data, format_seconds,
                                         open_dataset, open_network)
    from cnnviz.data import batch_to_input
    from cnnviz.nn import PRESETS, ContractError, build_preset, default_contract, save_model
    from cnnviz.nn.parallel import WorkerError, default_workers
    from cnnviz.nn.threads import prepare_process
    from cnnviz.training import TrainConfig, Trainer, augmentation_for, evaluate
    from cnnviz.training.contracts import training_contract  # shared with the window

    prepare_process()
    lr = args.lr if args.lr is not None else (1e-3 if args.optimizer == "adam" else 1e-2)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                         lr=lr, momentum=args.momentum, nesterov=args.nesterov,
                         weight_decay=args.weight_decay, lr_step=args.lr_step,
                         lr_gamma=args.lr_gamma, cosine=args.cosine, seed=args.seed,
                         augment=args.augment,
                         workers=args.workers if args.workers is not None
                         else default_workers(args.batch_size))
    try:
        config.validate()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    model, contract = open_network(args.arch, seed=args.seed)  # a file's contract is kept
    fresh = args.arch in PRESETS and not Path(args.arch).exists()
    data = open_dataset(args.data, seed=args.seed, limit=args.limit, model=model, check=False)
    if fresh and model.output_shape != (data.n_classes,):  # one output per class of the data
        model = build_preset(args.arch, seed=args.seed, outputs=data.n_classes)
        contract = default_contract(model.input_shape, model.output_shape)
    check_fits(model, data, describe_data(args.data))
    val_split = args.val_split if args.val_split is not None \
        else default_val_split(len(data.train_x))
    if val_split < 0 or val_split and val_split >= len(data.train_x):
        raise UserError(f"--val-split must be below the {len(data.train_x)} training images "
                        "(0: no validation)")
    split = data.split_validation(val_split, seed=args.seed) if val_split else None
    train_x, train_y = (split.train_x, split.train_y) if split else (data.train_x, data.train_y)
    if args.drawn_habits:
        train_x, train_y = _with_drawn_habits(train_x, train_y, args.drawn_habits, args.seed,
                                              contract, data)
    try:
        contract = training_contract(contract, data, train_x, fresh)
        contract.check_network(model.input_shape, model.output_shape)
    except ContractError as exc:
        raise UserError(f"the class folders of {describe_data(args.data)} cannot name the "
                        f"network's outputs: {exc}") from None
    config = replace(config, augmentation=augmentation_for(contract.pipeline))
    val = (batch_to_input(split.val_x, contract), split.val_y) if split else (None, None)
    trainer = Trainer(model, batch_to_input(train_x, contract), train_y, *val, config=config)

    bar = ProgressBar()
    print(f"training {model.name} on {data.name}: {len(train_x)} images, "
          f"{len(split.val_y) if split else 0} for validation, "
          f"{config.epochs} epochs of batch {config.batch_size}, {config.optimizer} lr {lr}, "
          f"{config.workers} worker{'s' * (config.workers > 1)}"
          + (f", {config.augmentation} augmentation" if config.augment else ""), file=sys.stderr)
    print(f"input: {contract.describe_pipeline()}", file=sys.stderr)
    last = None

    def summary_of(p, test_accuracy):
        return {"status": p.kind, "arch": model.name, "data": data.name,
                "epochs_completed": p.epoch + (p.kind in ("epoch", "finished")),
                "steps": p.step, "train_loss": p.loss,
                "val_accuracy": p.val_accuracy, "test_accuracy": test_accuracy,
                "seconds": round(p.elapsed, 2),
                "samples_per_s": round(p.samples_per_s, 1), "out": args.out,
                "command": command_line(args)}

    with _Interrupts(trainer) as interrupts:
        try:
            for p in trainer.run():
                last = p
                if p.kind == "step" and not args.quiet:
                    bar.update(p.fraction, f"epoch {p.epoch + 1}/{p.epochs} loss {p.loss:.4f} "
                               f"acc {p.accuracy:.4f} {p.samples_per_s:,.0f} img/s "
                               f"ETA {format_seconds(p.eta)}")
                elif p.kind == "epoch":
                    bar.close() if not args.quiet else None
                    val_text = f" val_acc {p.val_accuracy:.4f} val_loss {p.val_loss:.4f}" \
                        if p.val_accuracy is not None else ""
                    print(f"epoch {p.epoch + 1}/{p.epochs}: loss {p.loss:.4f} train_acc "
                          f"{p.accuracy:.4f}{val_text} lr {p.lr:g} {p.samples_per_s:,.0f} img/s "
                          f"{format_seconds(p.elapsed)}", file=sys.stderr, flush=True)
                    if args.save_every_epoch and p.epoch + 1 < p.epochs:
                        try:  # atomic: the file is always a whole network
                            save_model(model, args.out, metadata=summary_of(p, None),
                                       contract=contract)
                        except OSError as exc:
                            raise UserError(f"cannot save the network to {args.out}: {exc}") \
                                from None
                elif p.kind in ("stopped", "diverged"):
                    bar.close() if not args.quiet else None
                    print(f"cnnviz: {p.message}", file=sys.stderr)
        except WorkerError as exc:
            raise UserError(f"{exc}; nothing was saved") from None

        # The run is over: from here on a signal never throws it away. During the test it skips
        # the test; during the save it waits for the save to end.
        # A Ctrl-C that stopped the run still lets the test run (another one skips it); a
        # SIGTERM asks for a prompt end: the test is skipped.
        test_accuracy, stopped_by = None, interrupts.received
        if stopped_by != "SIGTERM":
            interrupts.mode, interrupts.received = "skip", None
            try:
                test_accuracy = evaluate(model, batch_to_input(data.test_x, contract),
                                         data.test_y).accuracy
            except KeyboardInterrupt:
                pass
        interrupts.mode = "hold"
        interrupts.received = interrupts.received or stopped_by
        if test_accuracy is None:
            print(f"cnnviz: {interrupts.received}: the test was skipped", file=sys.stderr)
        summary = summary_of(last, test_accuracy)
        if interrupts.received is not None:
            summary["interrupted_by"] = interrupts.received
        try:
            save_model(model, args.out, metadata=summary, contract=contract)
        except OSError as exc:
            raise UserError(f"cannot save the network to {args.out}: {exc}") from None
    tested = f"test accuracy {test_accuracy:.4f}" if test_accuracy is not None else "not tested"
    print(f"{tested}; saved {args.out}", file=sys.stderr)
    print(json.dumps(summary))
    return 0 if last.kind in ("finished", "stopped") else 1
