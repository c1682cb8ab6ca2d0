"""How well does the digit pipeline read photos of handwritten digits?

Writes a reproducible set of generated photos of the first N MNIST test digits
(:mod:`cnnviz.data.photo_synth`: coloured ink on coloured paper, lighting gradients up to 40%,
soft shadows, noise, blur, JPEG; white or dark ink on transparent PNGs), reads each one exactly as
``cnnviz predict`` does (``load_image`` then ``image_to_input`` with the network's contract),
predicts with the shipped lenet5 and prints the share read correctly, overall and per habit.
It also photographs empty paper and counts how often the pipeline says "no ink".

Usage::

    CNNVIZ_MNIST_DIR=../shared/data/mnist python benchmarks/photo_digits.py
    python benchmarks/photo_digits.py --n 1000 --seed 0 --blank 100 --keep /tmp/photos
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnnviz.data import image_to_input, load_image  # noqa: E402
from cnnviz.data.download import find_mnist  # noqa: E402
from cnnviz.data.mnist import load_mnist  # noqa: E402
from cnnviz.data.photo_synth import (  # noqa: E402
    PhotoHabits,
    blank_photo,
    habit_set,
    write_photo_set,
)
from cnnviz.nn import load_network  # noqa: E402


def groups(habits: PhotoHabits) -> list[tuple[str, str]]:
    """(axis, value) pairs a photo counts under in the table."""
    if habits.transparent:
        return [("transparent", habits.transparent)]
    return [("ink", habits.ink), ("paper", habits.paper),
            ("gradient", f"{habits.gradient:.0%}"), ("shadow", "yes" if habits.shadow else "no"),
            ("compression", habits.jpeg), ("transparent", "no (paper)")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="photos (first N MNIST test digits)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blank", type=int, default=100, help="photos of empty paper")
    parser.add_argument("--model", default=str(ROOT / "resources/models/lenet5.npz"))
    parser.add_argument("--keep", help="write the photos here (default: a temporary folder)")
    args = parser.parse_args(argv)

    network = load_network(args.model)
    model, contract = network.model, network.contract
    data = load_mnist(find_mnist())
    digits, labels = data.test_x.reshape(-1, 28, 28), data.test_y
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        start = time.perf_counter()
        photos = write_photo_set(folder, digits, labels, args.n, args.seed)
        made = time.perf_counter() - start
        counts: dict = defaultdict(lambda: [0, 0, 0])  # right, total, said blank
        start = time.perf_counter()
        for path, label, habits in photos:
            x = image_to_input(load_image(path), contract)
            guess = int(model.predict_proba(x.x[None])[0].argmax())
            right = int(guess == label and not x.blank)
            for key in [("all", "all")] + groups(habits):
                counts[key][0] += right
                counts[key][1] += 1
                counts[key][2] += int(x.blank)
        read = time.perf_counter() - start
        said_blank = 0
        for i, habits in enumerate(habit_set(args.blank, args.seed + 1, transparent_share=0)):
            path = folder / f"blank_{i:04d}{habits.suffix}"
            path.write_bytes(blank_photo(habits, (args.seed + 1, i)))
            said_blank += image_to_input(load_image(path), contract).blank
    clean = model.predict_proba(digits[:args.n, None].astype(np.float32) / 255).argmax(axis=1)
    print(f"{args.n} photos of MNIST test digits (seed {args.seed}), model {args.model}")
    print(f"the same digits as MNIST images: {np.mean(clean == labels[:args.n]):.1%} read right")
    print(f"made in {made:.1f} s, read in {read:.1f} s ({1000 * read / max(args.n, 1):.1f} ms each)")
    print(f"{'habit':<12} {'value':<14} {'photos':>6} {'read right':>10} {'said no ink':>11}")
    order = ["all", "ink", "paper", "gradient", "shadow", "compression", "transparent"]
    for axis in order:
        for (a, value), (right, total, blank) in sorted(counts.items()):
            if a == axis:
                print(f"{axis:<12} {value:<14} {total:>6} {right / total:>10.1%} {blank:>11}")
    if args.blank:
        print(f"empty paper: {said_blank}/{args.blank} photos said 'no ink'")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
