"""One CIFAR-10 epoch of the vgg-small preset (batch 64, Adam): the engine as ``cnnviz train``
runs it against PyTorch on the CPU, measured in alternating rounds of the same run.

    python benchmarks/cifar_epoch.py [--preset vgg-small] [--batches 40] [--rounds 5]
                                     [--data /path/to/cifar10] [--json]

Without ``--data`` the images are random, of the preset's input shape: time per batch does not
depend on the pixels. Prints the times per batch after each round's first quarter, the first
quarter's time (which pays what an epoch pays once: the engine starts its worker processes), the
estimated epoch times (50,000 images: the first quarter once, then the others) and the numpy/PyTorch time ratio,
with the load average before and after.
"""

import argparse
import json
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="vgg-small")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40, help="batches per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--data", default=None, help="an image folder (e.g. ../shared/data/cifar10)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from cnnviz import benchmark
    from cnnviz.nn.threads import prepare_process

    prepare_process()
    data = None
    if args.data:
        from cnnviz.data import load_image_folder
        from cnnviz.nn import build_preset

        ds = load_image_folder(args.data, build_preset(args.preset).input_shape)
        data = (ds.train_x.astype("float32") / 255.0, ds.train_y)  # pixels in [0, 1]
    load = os.getloadavg()
    r = benchmark.epoch_time(args.preset, args.batch, args.batches, args.rounds,
                             workers=args.workers, torch_threads=args.torch_threads, data=data)
    r["loadavg_before"], r["loadavg_after"] = load, os.getloadavg()
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"{r['preset']}, batch {r['batch']}, Adam; {r['rounds']} alternating rounds of "
          f"{r['batches']} batches; numpy {r['workers']} process(es), torch "
          f"{r['torch_threads']} threads; load average {load[0]:.2f} -> {r['loadavg_after'][0]:.2f}")
    print(f"numpy ms/batch per round (after the first {r['head_batches']}): " + " ".join(f"{t * 1e3:.1f}" for t in r["numpy_rounds_s"]))
    if r["torch_rounds_s"]:
        print(f"torch ms/batch per round (after the first {r['head_batches']}): " + " ".join(f"{t * 1e3:.1f}" for t in r["torch_rounds_s"]))
    line = f"first {r['head_batches']} batches (median): numpy {r['numpy_first_s'] * 1e3:.0f} ms"
    if r["torch_rounds_s"]:
        line += f"   torch {r['torch_first_s'] * 1e3:.0f} ms"
    print(line)
    line = f"one epoch of {r['epoch_size']:,} images: numpy {r['numpy_epoch_s']:.1f} s"
    if "ratio" in r:
        line += f"   torch {r['torch_epoch_s']:.1f} s   time ratio numpy/torch {r['ratio']:.2f}"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
