"""How MNIST-like are the offline synthetic digits?

Trains a LeNet-5 (PyTorch, CPU) on ``cnnviz.data.synthetic_dataset`` only and
prints its accuracy on the real MNIST test set. With ``--drawn N`` it also trains
a LeNet-5 on real MNIST and prints its accuracy on N mouse-style canvas drawings
(``make_drawn_digits``) put through ``preprocess_digit``.

PyTorch is a development tool here; cnnviz itself never imports it.

Usage::

    CNNVIZ_MNIST_DIR=../shared/data/mnist python benchmarks/synthetic_vs_mnist.py
    python benchmarks/synthetic_vs_mnist.py --n-train 20000 --epochs 6 --seed 0 --drawn 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnviz.data import (  # noqa: E402
    load_mnist,
    make_drawn_digits,
    preprocess_digit,
    synthetic_dataset,
)


def lenet5() -> nn.Module:
    """LeNet-5 as in the cnnviz docs (ReLU, max pooling)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) pixel / 255."""
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


def train(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> nn.Module:
    """Adam lr 1e-3, batch 64."""
    torch.manual_seed(seed)
    model = lenet5()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = to_tensor(x), torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(xt), 64):
            idx = order[start : start + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}/{epochs}: loss {total / len(xt):.4f}", flush=True)
    return model


@torch.no_grad()
def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correctly classified images; also prints the per-class accuracy."""
    model.eval()
    pred = torch.cat([model(b).argmax(1) for b in torch.split(to_tensor(x), 1000)]).numpy()
    per_class = [float(np.mean(pred[y == c] == c)) for c in range(10)]
    print("  per class:", " ".join(f"{c}:{a:.2f}" for c, a in enumerate(per_class)))
    return float(np.mean(pred == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_mnist = os.environ.get("CNNVIZ_MNIST_DIR", "../shared/data/mnist")
    parser.add_argument("--mnist", default=default_mnist)
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drawn", type=int, default=0, help="also test N drawn digits")
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    mnist = load_mnist(args.mnist)
    t0 = time.perf_counter()
    synth = synthetic_dataset(n_train=args.n_train, n_test=2000, seed=args.seed)
    print(f"generated {args.n_train + 2000} synthetic digits in {time.perf_counter() - t0:.1f} s")

    print("LeNet-5 trained on synthetic digits:")
    model = train(synth.train_x, synth.train_y, args.epochs, args.seed)
    acc_synth = accuracy(model, synth.test_x, synth.test_y)
    print(f"synthetic test accuracy: {acc_synth:.2%}")
    acc = accuracy(model, mnist.test_x, mnist.test_y)
    print(f"MNIST test accuracy (trained on synthetic only): {acc:.2%}")

    if args.drawn:
        print("LeNet-5 trained on MNIST, tested on drawn canvas digits:")
        model = train(mnist.train_x, mnist.train_y, 2, args.seed)
        raw, labels = make_drawn_digits(args.drawn, seed=args.seed + 1)
        prepped = np.stack([np.round(preprocess_digit(im) * 255).astype(np.uint8) for im in raw])
        print(f"drawn-digit accuracy (trained on MNIST): {accuracy(model, prepped, labels):.2%}")


if __name__ == "__main__":
    main()
