"""``cnnviz bench``: the engine's speed, next to PyTorch on the CPU when it is installed."""

import argparse


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bench", help="measure training and inference speed (against PyTorch if installed)",
        description="Measure lenet5 training throughput (batch 64 and 128) and single-image "
                    "trace latency, alternating with PyTorch in the same run when it is "
                    "installed. --epoch also times one MNIST epoch of each.")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per figure")
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one round")
    parser.add_argument("--epoch", action="store_true", help="also time one MNIST epoch (needs MNIST)")
    parser.add_argument("--convergence", action="store_true",
                        help="also time the shipped recipe to 98%% and 99%% test accuracy (needs MNIST)")
    parser.add_argument("--predict", action="store_true",
                        help="also time `cnnviz predict` on 1000 image files")
    parser.add_argument("--data", default="mnist", help="dataset for --epoch and --convergence")
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

    torch = benchmark._torch()
    who = f"PyTorch {torch.__version__} with {torch.get_num_threads()} threads" if torch else \
        "PyTorch not installed: engine figures only"
    say(f"cnnviz bench \u2014 lenet5 on the CPU; reference: {who}")
    result = {"torch": {"version": str(torch.__version__), "threads": torch.get_num_threads()}
              if torch else None, "training": [], "epoch": None, "convergence": None,
              "predict_images_per_s": None}
    for batch in (64, 128):
        r = benchmark.training_throughput(batch, rounds=args.rounds, seconds=args.seconds)
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
    lat = benchmark.trace_latency()
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
        from cnnviz.nn import build_preset

        data = open_dataset(args.data, model=build_preset("lenet5"))  # what it times
    if args.epoch:
        e = benchmark.mnist_epoch(data.train_x, data.train_y)
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
        from cnnviz.commands._common import open_model

        rate = benchmark.predict_throughput(open_model(None))
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
