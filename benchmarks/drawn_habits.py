"""How well does a digit network read digits drawn in different writing habits?

Draws, for every habit of :data:`cnnviz.data.drawn_habits.HABITS` (a European 1, a crossed 7, a
closed 4, a 9 with a curled tail...), ``--n`` digits on the 280x280 canvas with a 16 to 24 px
round brush (a fifth dark ink on white), reads them as the window reads the canvas
(``image_to_input`` with the network's contract), and prints the share read correctly per
habit, per digit and overall, with the most frequent mistakes. A habit-free check follows:
``make_drawn_digits`` (mouse-like drawings) with a seed no training recipe uses.

The sets share the skeleton generator with the extra training digits of the shipped lenet5's
recipe (``make_habit_training_digits``), so they are not independent; their seeds never meet
(``habit_seed``).

Usage::

    python benchmarks/drawn_habits.py                       # the shipped lenet5
    python benchmarks/drawn_habits.py --model other.npz --n 200 --seed 21 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnnviz.data import make_drawn_digits  # noqa: E402
from cnnviz.data.drawn_habits import EVAL_SEED, habit_inputs, read_habit  # noqa: E402
from cnnviz.nn import load_network  # noqa: E402

#: Seeds of the habit-free check (make_drawn_digits); tests/test_shipped_model.py uses 2024-2033.
HABIT_FREE_SEEDS = range(7100, 7110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "resources/models/lenet5.npz"))
    parser.add_argument("--n", type=int, default=200, help="drawings per habit")
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    parser.add_argument("--habit-free", type=int, default=1000,
                        help="mouse-like drawings of the habit-free check (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    network = load_network(args.model)
    model, contract = network.model, network.contract
    start = time.perf_counter()
    rows, mistakes, by_digit = [], Counter(), {}
    for habit, x, y in habit_inputs(contract, args.n, args.seed):
        pred = model.predict(x)
        right = int((pred == y).sum())
        rows.append({"habit": habit.name, "digit": habit.digit, "correct": right, "n": len(y)})
        d = by_digit.setdefault(habit.digit, [0, 0])
        d[0] += right
        d[1] += len(y)
        mistakes.update(f"{habit.digit}->{p}" for p in pred[pred != y])
    total = sum(r["correct"] for r in rows) / sum(r["n"] for r in rows)
    free = None
    if args.habit_free:
        per = max(1, args.habit_free // len(HABIT_FREE_SEEDS))
        right = seen = 0
        for seed in HABIT_FREE_SEEDS:
            images, labels = make_drawn_digits(per, seed=seed)
            raster = np.round(images * 255).astype(np.uint8)
            right += int((model.predict(read_habit(raster, contract)) == labels).sum())
            seen += len(labels)
        free = right / seen
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({"model": args.model, "seed": args.seed, "per_habit": rows,
                          "overall": total, "habit_free": free,
                          "mistakes": mistakes.most_common(12), "seconds": round(seconds, 1)}))
        return 0
    print(f"{args.model}: {args.n} drawings per habit, seed {args.seed}")
    for r in rows:
        print(f"  {r['habit']:<30} {r['correct'] / r['n']:7.1%}")
    print("per digit: " + "  ".join(f"{d}: {c / n:.1%}" for d, (c, n) in sorted(by_digit.items())))
    print(f"overall: {total:.2%} of {sum(r['n'] for r in rows)}")
    if free is not None:
        print(f"habit-free check (make_drawn_digits, seeds {HABIT_FREE_SEEDS.start}-"
              f"{HABIT_FREE_SEEDS.stop - 1}): {free:.2%}")
    print("most frequent mistakes: " + ", ".join(f"{k} x{v}" for k, v in mistakes.most_common(10)))
    print(f"{seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
