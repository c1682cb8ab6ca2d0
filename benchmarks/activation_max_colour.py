"""Activation maximisation on a colour network: how strong, how smooth and how fast.

    python benchmarks/activation_max_colour.py NETWORK.npz [--layers 3,8,13] [--patches 1000]

For each layer, the gallery of :func:`cnnviz.analysis.gallery` with the window's settings
(:func:`cnnviz.analysis.settings_for`) and without any regularisation: wall and CPU time, the
mean value the units reach against random pictures (uniform in [0, 1], through the network's
input contract), and the share of the optimised pictures' energy above a quarter cycle per pixel
(:func:`cnnviz.analysis.high_frequency_share`; random pictures: about 0.8).  With ``--patches N``
and CIFAR-10 found (``CNNVIZ_CIFAR_DIR``), also the time of the nine strongest of N test images
per unit (:func:`cnnviz.analysis.top_patches`).
"""

import argparse
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network")
    parser.add_argument("--layers", default="3,8,13")
    parser.add_argument("--patches", type=int, default=0)
    args = parser.parse_args(argv)

    from cnnviz.nn.threads import prepare_process
    prepare_process()
    from cnnviz.analysis import (field_crop, gallery, high_frequency_share, settings_for,
                                 to_picture, top_patches)
    from cnnviz.analysis.activation_max import filter_targets
    from cnnviz.analysis.target import target_values
    from cnnviz.data import batch_to_input, normalise
    from cnnviz.nn import load_network

    model, _, contract = load_network(args.network)
    rng = np.random.default_rng(0)
    images = None
    if args.patches:
        from cnnviz.data import load_default_cifar10
        images = load_default_cifar10().test_x[:args.patches]
    for layer in (int(v) for v in args.layers.split(",")):
        targets = filter_targets(model, layer)
        pictures = rng.random((len(targets),) + model.input_shape).astype(np.float32)
        base = target_values(model, normalise(pictures, contract), targets)
        kind = model.layers[layer]
        print(f"layer {layer} ({kind.kind} {kind.output_shape}): random pictures reach "
              f"{base.mean():.3f} on average")
        for name in ("window", "plain"):
            options = settings_for(model, contract, layer)
            if name == "plain":
                options.update(l2=0.0, blur_every=0, jitter=0, freq_decay=0.0)
            wall, cpu = time.perf_counter(), time.process_time()
            results = gallery(model.copy(), layer, **options)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            values = np.array([r.value for r in results])
            shown = np.stack([np.clip(to_picture(field_crop(model, r), contract), 0, 1)
                              for r in results])
            print(f"  {name:6s} {wall:5.1f} s ({cpu:5.1f} s CPU)  reached {values.mean():8.3f} on "
                  f"average (lowest {values.min():.3f}); high-frequency share "
                  f"{high_frequency_share(shown):.3f}")
        if images is not None:
            wall, cpu = time.perf_counter(), time.process_time()
            top_patches(model.copy(), lambda batch: batch_to_input(batch, contract), images, layer)
            print(f"  nine strongest of {len(images):,} test images: "
                  f"{time.perf_counter() - wall:.1f} s ({time.process_time() - cpu:.1f} s CPU)")


if __name__ == "__main__":
    main()
