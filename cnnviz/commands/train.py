"""``cnnviz train``: train a network headless, with a progress bar, and save it."""

import argparse
import json
import shlex
import signal
import sys


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a network on MNIST, the offline digits or a folder of MNIST files",
        description="Train a network and save it. Ctrl-C stops after the current batch and still "
                    "saves. The last line on standard output is a JSON summary.")
    parser.add_argument("--arch", default="lenet5",
                        help="preset (lenet5, tiny, mlp) or a .npz network to train further")
    parser.add_argument("--data", default="mnist", help="mnist, offline, or a folder of MNIST files")
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
                        help="random affine and elastic distortions of the training images")
    parser.add_argument("--val-split", type=int, default=5000, metavar="N",
                        help="hold out N training images for validation after each epoch (0: none)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="use at most N training and N test images (quick experiments)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="split each batch across N processes (default: one per core, up to "
                             "4, shards of at least 16); a run is reproducible for a given seed "
                             "and N")
    parser.add_argument("--out", default="model.npz", help="where to save the network")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_train(args: argparse.Namespace) -> int:
    from cnnviz.commands import UserError
    from cnnviz.commands._common import ProgressBar, format_seconds, open_dataset, open_network
    from cnnviz.data import to_float_batch
    from cnnviz.nn import save_model
    from cnnviz.nn.parallel import WorkerError, default_workers
    from cnnviz.nn.threads import prepare_process
    from cnnviz.training import TrainConfig, Trainer, evaluate

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
    data = open_dataset(args.data, seed=args.seed, limit=args.limit)
    if (1,) + data.train_x.shape[1:] != model.input_shape:
        raise UserError(f"the network takes inputs of shape {model.input_shape}, the data is "
                        f"{data.train_x.shape[1:]}")
    if args.val_split and not 0 < args.val_split < len(data.train_x):
        raise UserError(f"--val-split must be below the {len(data.train_x)} training images")
    split = data.split_validation(args.val_split, seed=args.seed) if args.val_split else None
    train_x, train_y = (split.train_x, split.train_y) if split else (data.train_x, data.train_y)
    val = (to_float_batch(split.val_x), split.val_y) if split else (None, None)
    trainer = Trainer(model, to_float_batch(train_x), train_y, *val, config=config)

    previous = signal.signal(signal.SIGINT, lambda *_: trainer.stop())
    bar = ProgressBar()
    print(f"training {model.name} on {data.name}: {len(train_x)} images, "
          f"{config.epochs} epochs of batch {config.batch_size}, {config.optimizer} lr {lr}, "
          f"{config.workers} worker{'s' * (config.workers > 1)}", file=sys.stderr)
    last = None
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
            elif p.kind in ("stopped", "diverged"):
                bar.close() if not args.quiet else None
                print(f"cnnviz: {p.message}", file=sys.stderr)
    except WorkerError as exc:
        raise UserError(f"{exc}; nothing was saved") from None
    finally:
        signal.signal(signal.SIGINT, previous)

    test = evaluate(model, to_float_batch(data.test_x), data.test_y)
    summary = {"status": last.kind, "arch": model.name, "data": data.name,
               "epochs_completed": last.epoch + (last.kind in ("epoch", "finished")),
               "steps": last.step, "train_loss": last.loss, "val_accuracy": last.val_accuracy,
               "test_accuracy": test.accuracy, "seconds": round(last.elapsed, 2),
               "samples_per_s": round(last.samples_per_s, 1), "out": args.out,
               "command": "cnnviz " + shlex.join(sys.argv[1:])}
    try:
        save_model(model, args.out, metadata=summary, contract=contract)
    except OSError as exc:
        raise UserError(f"cannot save the network to {args.out}: {exc}") from None
    print(f"test accuracy {test.accuracy:.4f}; saved {args.out}", file=sys.stderr)
    print(json.dumps(summary))
    return 0 if last.kind in ("finished", "stopped") else 1
