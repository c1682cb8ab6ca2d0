"""``cnnviz bench``: the engine's speed, next to PyTorch on the CPU when it is installed."""

import argparse


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bench", help="measure training and inference speed (against PyTorch if installed)",
        description="Measure a network's training throughput (batch 64 and 128) and "
                    "single-image trace latency, alternating with PyTorch in the same run when it "
                    "is installed. --epoch also times one epoch of each on the data.")
    parser.add_argument("--model", "--arch", dest="model", metavar="NETWORK",
                        help="a preset (lenet5, tiny, mlp, cifar-tutorial, vgg-small) or a .npz "
                             "network (default: lenet5)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per figure")
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one round")
    parser.add_argument("--epoch", action="store_true",
                        help="also time one epoch of the training images of --data")
    parser.add_argument("--convergence", action="store_true",
                        help="also time the shipped recipe to 98%% and 99%% test accuracy "
                             "(lenet5 on MNIST)")
    parser.add_argument("--predict", action="store_true",
                        help="also time `cnnviz predict` on 1000 image files")
    parser.add_argument("--data", default=None,
                        help="dataset for --epoch and --convergence: mnist, cifar10, offline or "
                             "a folder (default: mnist for 1x28x28 networks, cifar10 for "
                             "3x32x32 ones)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object at the end instead of the lines: the "
                             "figures unrounded (samples/s, milliseconds, seconds), null for "
                             "what was not measured")
    return parser


def measure(args: argparse.Namespace, say=print) -> dict:
    """Every figure ``cnnviz bench`` asked for, as plain JSON-ready values; ``say(line)``
    reports each one in words as soon as it is measured."""
    import numpy as np

    from cnnviz import benchmark
    from cnnviz.commands import UserError
    from cnnviz.commands._common import open_network

    model, _ = open_network(args.model or "lenet5")
    data_name = args.data or {(1, 28, 28): "mnist", (3, 32, 32): "cifar10"}.get(
        tuple(model.input_shape))
    if (args.epoch or args.convergence) and data_name is None:
        raise UserError(f"--data: say which images to time {model.name} on (it takes "
                        f"{'x'.join(map(str, model.input_shape))} inputs)")
    if args.convergence and (args.model or "lenet5") != "lenet5":
        raise UserError("--convergence times the shipped recipe, which trains lenet5: leave "
                        "--model out")
    torch = benchmark._torch()
    who = f"PyTorch {torch.__version__} with {torch.get_num_threads()} threads" if torch else \
        "PyTorch not installed: engine figures only"
    twin = torch is not None and benchmark.torch_network(torch, model) is not None
    if torch is not None and not twin:
        who += f" (it has no equivalent of {model.name}: engine figures only)"
    say(f"cnnviz bench \u2014 {model.name} on the CPU; reference: {who}")
    result = {"torch": {"version": str(torch.__version__), "threads": torch.get_num_threads()}
              if torch else None, "training": [], "epoch": None, "convergence": None,
              "predict_images_per_s": None}
    # lenet5 by default: the functions' own default (so they can be replaced in tests)
    network = {"model": model} if args.model else {}
    for batch in (64, 128):
        r = benchmark.training_throughput(batch, rounds=args.rounds, seconds=args.seconds,
                                          **network)
        result["training"].append({"batch": batch, "workers": int(r["workers"]),
                                   "numpy_samples_per_s": float(r["numpy"]),
                                   "numpy_one_process_samples_per_s": float(r["numpy_1"]),
                                   "torch_samples_per_s": float(r["torch"]) if "torch" in r
                                   else None})
        line = (f"training, batch {batch:>3}: numpy {r['numpy']:8,.0f} samples/s "
                f"({r['workers']} process{'es' * (r['workers'] > 1)}; one process "
                f"{r['numpy_1']:,.0f})")
        if "torch" in r:
            line += f"   torch {r['torch']:8,.0f} samples/s   ratio numpy/torch {r['numpy'] / r['torch']:.2f}"
        say(line)
    if network:  # as many traces as fit in a figure's time (lenet5: the default 3000)
        import time

        x = np.zeros((1, *model.input_shape), model.dtype)
        begin = time.perf_counter()
        model.trace(x)
        once = max(time.perf_counter() - begin, 1e-6)
        traces = dict(network, repeats=int(min(3000, max(20, args.rounds * args.seconds / once))))
    lat = benchmark.trace_latency(**traces) if network else benchmark.trace_latency()
    ours = lat["numpy_trace"]
    result["trace_ms"] = {"median": float(np.median(ours)), "p99": float(np.percentile(ours, 99)),
                          "torch_forward_median": float(np.median(lat["torch_forward"]))
                          if "torch_forward" in lat else None}
    line = (f"one image, full trace: median {np.median(ours):.3f} ms, p99 "
            f"{np.percentile(ours, 99):.3f} ms")
    if "torch_forward" in lat:
        line += f"   (torch forward alone: median {np.median(lat['torch_forward']):.3f} ms)"
    say(line)
    if args.epoch or args.convergence:
        from cnnviz.commands._common import open_dataset

        data = open_dataset(data_name, model=model)  # what it times
    if args.epoch:
        e = benchmark.mnist_epoch(data.train_x, data.train_y, **network)
        result["epoch"] = {"data": data.name, "workers": int(e["workers"]),
                           "numpy_s": float(e["numpy"]),
                           "torch_s": float(e["torch"]) if "torch" in e else None}
        line = (f"one {data.name} epoch, batch 64 (adam), median of 3: numpy {e['numpy']:.1f} s "
                f"({e['workers']} process{'es' * (e['workers'] > 1)})")
        if "torch" in e:
            line += f"   torch {e['torch']:.1f} s   time ratio numpy/torch {e['numpy'] / e['torch']:.2f}"
        say(line)
    if args.convergence:
        result["convergence"] = {}
        for target, hit in benchmark.time_to_accuracy(data).items():
            result["convergence"][str(target)] = (
                {"seconds": float(hit[0]), "epochs": float(hit[1])} if hit else None)
            text = f"{hit[0]:.1f} s of training ({hit[1]:.2f} epochs)" if hit else "not reached"
            say(f"time to {target:.0%} test accuracy (shipped recipe): {text}")
    if args.predict:
        from cnnviz.commands._common import open_network as open_file

        shown, shown_contract = open_file(args.model)  # default: the shipped lenet5
        rate = benchmark.predict_throughput(shown, **({"contract": shown_contract}
                                                      if args.model else {}))
        result["predict_images_per_s"] = float(rate)
        say(f"cnnviz predict on 1000 PNG files: {rate:,.0f} images/s")
    return result


def run_bench(args: argparse.Namespace) -> int:
    import json

    from cnnviz.nn.threads import prepare_process

    from cnnviz.commands import UserError

    if args.rounds < 1 or not args.seconds > 0:
        raise UserError("--rounds must be at least 1 and --seconds above 0")
    prepare_process()
    if args.json:
        print(json.dumps(measure(args, say=lambda line: None)))
    else:
        measure(args, say=lambda line: print(line, flush=True))
    return 0
