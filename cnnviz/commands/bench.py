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
    return parser


def run_bench(args: argparse.Namespace) -> int:
    import numpy as np

    from cnnviz import benchmark
    from cnnviz.nn.threads import prepare_process

    prepare_process()
    torch = benchmark._torch()
    who = f"PyTorch {torch.__version__} with {torch.get_num_threads()} threads" if torch else \
        "PyTorch not installed: engine figures only"
    print(f"cnnviz bench — lenet5 on the CPU; reference: {who}")
    for batch in (64, 128):
        r = benchmark.training_throughput(batch, rounds=args.rounds, seconds=args.seconds)
        line = (f"training, batch {batch:>3}: numpy {r['numpy']:8,.0f} samples/s "
                f"({r['workers']} process{'es' * (r['workers'] > 1)}; one process "
                f"{r['numpy_1']:,.0f})")
        if "torch" in r:
            line += f"   torch {r['torch']:8,.0f} samples/s   ratio numpy/torch {r['numpy'] / r['torch']:.2f}"
        print(line, flush=True)
    lat = benchmark.trace_latency()
    ours = lat["numpy_trace"]
    line = (f"one image, full trace: median {np.median(ours):.3f} ms, p99 "
            f"{np.percentile(ours, 99):.3f} ms")
    if "torch_forward" in lat:
        line += f"   (torch forward alone: median {np.median(lat['torch_forward']):.3f} ms)"
    print(line, flush=True)
    if args.epoch or args.convergence:
        from cnnviz.commands._common import open_dataset
        from cnnviz.nn import build_preset

        data = open_dataset(args.data, model=build_preset("lenet5"))  # what it times
    if args.epoch:
        e = benchmark.mnist_epoch(data.train_x, data.train_y)
        line = (f"one {data.name} epoch, batch 64 (adam), median of 3: numpy {e['numpy']:.1f} s "
                f"({e['workers']} process{'es' * (e['workers'] > 1)})")
        if "torch" in e:
            line += f"   torch {e['torch']:.1f} s   time ratio numpy/torch {e['numpy'] / e['torch']:.2f}"
        print(line, flush=True)
    if args.convergence:
        for target, hit in benchmark.time_to_accuracy(data).items():
            text = f"{hit[0]:.1f} s of training ({hit[1]:.2f} epochs)" if hit else "not reached"
            print(f"time to {target:.0%} test accuracy (shipped recipe): {text}", flush=True)
    if args.predict:
        from cnnviz.commands._common import open_model

        rate = benchmark.predict_throughput(open_model(None))
        print(f"cnnviz predict on 1000 PNG files: {rate:,.0f} images/s", flush=True)
    return 0
