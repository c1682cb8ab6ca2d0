"""Digits drawn on the canvas in named writing habits, reproducibly per seed.

People write digits otherwise than MNIST's American writers: a 1 with a long up-stroke (much of
Europe), a 7 crossed or with a curl, a 4 closed or in one stroke, a 9 with a curled tail. Each
:class:`Habit` is one such way of writing one digit, drawn from a stroke skeleton (the ones of
:mod:`cnnviz.data._glyphs` and a few more here) with a smooth pen, a round brush of 16 to 24 px
on the 280x280 canvas, a fifth of them as dark ink on white. :func:`draw_habit` returns the
canvas rasters (not preprocessed); :func:`read_habit` reads them the way the window reads the
canvas (:func:`cnnviz.data.pipeline.image_to_input` with the network's contract).

These sets share the skeleton generator with :func:`make_habit_training_digits` (extra training
digits) and with :mod:`cnnviz.data.synthetic`, so they are not an independent judge; their
seeds are kept apart from the training ones by construction (:func:`habit_seed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _glyphs as g
from ._glyphs import GlyphFn, Stroke, arc, bez, join, poly
from .preprocess import DIGIT_BOX, DIGIT_SIZE, preprocess_digit_info
from .synthetic import _distort, _draw, _place_on_canvas, _Style

__all__ = ["Habit", "HABITS", "CANVAS", "BRUSH", "DARK_SHARE", "EVAL_SEED", "habit_seed",
           "draw_habit", "read_habit", "habit_inputs", "make_habit_training_digits"]

#: The canvas side and the brush diameters (px) the drawings are made with.
CANVAS = 280
BRUSH = (16.0, 24.0)
#: Share of the drawings made as dark ink on white paper.
DARK_SHARE = 0.2
#: Seed of the evaluation sets (tests, benchmark, docs).
EVAL_SEED = 21

#: A pen on a tablet: smooth lines, moderate slant and rotation; digits 45-85% of the canvas
#: high.
_HAND = _Style(slant=(0.08, 0.18), rotation_deg=7.0, aspect=(0.75, 1.35), warp=0.06,
               stroke_shift=0.02, step=0.02, jitter=0.002)
_HEIGHT = (0.45, 0.85)


# ----------------------------------------------------------------- extra skeletons
def zero_narrow(r: np.random.Generator) -> list[Stroke]:
    start = r.uniform(-120, -60)
    return [arc(0.3, 0.5, r.uniform(0.1, 0.17), 0.5, start, start - 360 - r.uniform(0, 30))]


def zero_overlap(r: np.random.Generator) -> list[Stroke]:
    """Started inside, at the top, with the end running past the start."""
    rx = r.uniform(0.2, 0.32)
    loop = arc(0.3, 0.5, rx, 0.5, -90, -90 - 360 - r.uniform(25, 50))
    return [join(poly((0.3 + r.uniform(0.02, 0.1), 0.12)), loop)]


def one_european(r: np.random.Generator) -> list[Stroke]:
    """A long up-stroke from the lower left to the top, then straight down."""
    length, angle = r.uniform(0.25, 0.55), np.radians(r.uniform(35, 60))  # below horizontal
    start = (0.3 - length * np.cos(angle), length * np.sin(angle))
    return [poly(start, (0.3, 0.0), (0.3 + r.uniform(-0.03, 0.03), 1.0))]


def one_european_base(r: np.random.Generator) -> list[Stroke]:
    half = r.uniform(0.12, 0.25)
    return one_european(r) + [poly((0.3 - half, 1.0), (0.3 + half, 1.0))]


def two_curly(r: np.random.Generator) -> list[Stroke]:
    """A 2 whose foot is a small closed loop sitting on the base line."""
    top = g._two_top(r)
    end = top[-1]
    neck = bez(end, (end[0] - r.uniform(0.05, 0.15), 0.7), (0.12, 0.9), n=14)
    loop = arc(0.12, 0.9, 0.08, 0.08, -90, 180, n=20)
    base = poly(loop[-1], (r.uniform(0.5, 0.75), 0.96))
    return [join(top, neck, loop, base)]


def three_pointed(r: np.random.Generator) -> list[Stroke]:
    """Two bowls meeting in a sharp point in the middle (no horizontal bar)."""
    mid = (r.uniform(0.2, 0.3), r.uniform(0.42, 0.5))
    upper = bez((0.02, 0.08), (0.35, -0.08), (0.7, 0.15), mid, n=18)
    return [join(upper, g._three_lower(r, mid)[1:])]


def four_closed_one_stroke(r: np.random.Generator) -> list[Stroke]:
    """Down the left side, along the bar, back up to the apex and down the stem: closed."""
    bar = r.uniform(0.55, 0.7)
    apex = (r.uniform(0.38, 0.48), r.uniform(0.0, 0.05))
    right = apex[0] + r.uniform(0.12, 0.2)
    return [poly(apex, (0.0, bar), (right, bar), (apex[0] + 0.01, 0.0),
                 (apex[0] + r.uniform(-0.02, 0.04), 1.0))]


def four_crossed(r: np.random.Generator) -> list[Stroke]:
    """An open 4 whose bar runs well past the stem."""
    bar = r.uniform(0.5, 0.66)
    left = poly((r.uniform(0.05, 0.2), 0.0), (0.0, bar), (0.65, bar - r.uniform(0, 0.05)))
    right = poly((0.4, r.uniform(0.0, 0.15)), (0.4 + r.uniform(-0.05, 0.05), 1.0))
    return [left, right]


def five_flag(r: np.random.Generator) -> list[Stroke]:
    """The bar drawn first, right to left, then the stem and belly in one stroke."""
    joint = (r.uniform(0.08, 0.14), r.uniform(0.4, 0.5))
    head = poly((r.uniform(0.5, 0.65), 0.0), (0.1, 0.02), joint)
    belly = arc(0.3, joint[1] + (1 - joint[1]) / 2, r.uniform(0.25, 0.3), (1 - joint[1]) / 2,
                215, r.uniform(440, 480))
    return [join(head, belly[1:])]


def six_loop_high(r: np.random.Generator) -> list[Stroke]:
    """A 6 with a big loop reaching half way up."""
    ry, rx = r.uniform(0.27, 0.33), r.uniform(0.24, 0.3)
    cy = 1.0 - ry
    stem = bez((r.uniform(0.45, 0.6), 0.0), (0.05, 0.2), (0.3 - rx, cy), n=16)
    loop = arc(0.3, cy, rx, ry, 180, r.uniform(-220, -170))
    return [join(stem, loop[1:])]


def seven_european(r: np.random.Generator) -> list[Stroke]:
    """A crossed 7 whose top starts with a small downward flag."""
    corner = (0.6, 0.0)
    stem = g._seven_stem(r, corner)
    y = r.uniform(0.45, 0.6)
    x = np.interp(y, stem[:, 1], stem[:, 0])
    half = r.uniform(0.12, 0.2)
    flag = poly((0.0, r.uniform(0.08, 0.18)), (0.02, 0.0))
    return [join(flag, stem), poly((x - half, y), (x + half, y - 0.02))]


def seven_curl(r: np.random.Generator) -> list[Stroke]:
    """A 7 whose top bar is a wave and whose stem curves, often crossed."""
    top = bez((0.0, r.uniform(0.05, 0.12)), (0.15, -0.1), (0.35, 0.12), (0.62, 0.0), n=16)
    foot = (r.uniform(0.1, 0.3), 1.0)
    stem = bez((0.62, 0.0), (0.4, 0.35), (foot[0] + 0.1, 0.7), foot, n=16)
    strokes = [join(top, stem[1:])]
    if r.random() < 0.5:
        y = r.uniform(0.45, 0.58)
        x = np.interp(y, stem[:, 1], stem[:, 0])
        strokes.append(poly((x - 0.15, y + 0.01), (x + 0.15, y - 0.01)))
    return strokes


def eight_pinched(r: np.random.Generator) -> list[Stroke]:
    """Two loops started at the crossing and drawn in one stroke the same way round."""
    split = r.uniform(0.42, 0.52)
    top = arc(0.3, split / 2, r.uniform(0.14, 0.22), split / 2, 90, 90 + 360)
    bot = arc(0.3, split + (1 - split) / 2, r.uniform(0.2, 0.3), (1 - split) / 2, -90, -90 - 360)
    return [join(top, bot)]


def nine_curl(r: np.random.Generator) -> list[Stroke]:
    """A 9 whose tail curls back to the left and up."""
    loop, rx, ry = g._nine_loop(r)
    x = 0.3 + rx
    tail = join(bez((x, ry), (x + 0.02, 0.75), (x - 0.05, 0.95), n=12),
                bez((x - 0.05, 0.95), (x - 0.2, 1.08), (0.0, 1.0), (r.uniform(0.0, 0.08),
                                                                    r.uniform(0.78, 0.88)), n=14))
    return [join(loop, tail[1:])]


def nine_hook(r: np.random.Generator) -> list[Stroke]:
    """A straight tail ending in a short hook to the left."""
    loop, rx, ry = g._nine_loop(r)
    x = 0.3 + rx
    foot = x - r.uniform(0.0, 0.08)
    tail = poly((x, ry), (foot, 0.9), (foot - r.uniform(0.1, 0.18), 1.0 - r.uniform(-0.02, 0.05)))
    return [join(loop, tail[1:])]


@dataclass(frozen=True)
class Habit:
    """One way of writing one digit."""

    digit: int
    name: str            # short, unique: "1 European"
    glyph: GlyphFn


def _h(digit: int, name: str, glyph: GlyphFn) -> Habit:
    return Habit(digit, f"{digit} {name}", glyph)


#: The habits, digit by digit.
HABITS: tuple[Habit, ...] = (
    _h(0, "oval", g.zero_oval), _h(0, "egg", g.zero_egg), _h(0, "narrow", zero_narrow),
    _h(0, "overlapping", zero_overlap),
    _h(1, "plain stroke", g.one_plain), _h(1, "with flag", g.one_flag),
    _h(1, "European (long up-stroke)", one_european), _h(1, "with base", g.one_flag_base),
    _h(1, "European with base", one_european_base),
    _h(2, "plain", g.two_plain), _h(2, "with loop", g.two_loop), _h(2, "Z-like", g.two_z),
    _h(2, "curly foot", two_curly),
    _h(3, "round", g.three_round), _h(3, "flat top", g.three_flat),
    _h(3, "two strokes", g.three_two_strokes), _h(3, "pointed middle", three_pointed),
    _h(4, "open", g.four_open), _h(4, "closed", g.four_closed),
    _h(4, "one stroke (open)", g.four_one_stroke),
    _h(4, "one stroke (closed)", four_closed_one_stroke), _h(4, "long bar", four_crossed),
    _h(5, "two strokes", g.five_two_strokes), _h(5, "one stroke", g.five_one_stroke),
    _h(5, "bar first", five_flag),
    _h(6, "curved", g.six_curved), _h(6, "straight stem", g.six_straight),
    _h(6, "upright", g.six_upright), _h(6, "big loop", six_loop_high),
    _h(7, "plain", g.seven_plain), _h(7, "crossed", g.seven_crossbar),
    _h(7, "with serif", g.seven_hook), _h(7, "European (flag and bar)", seven_european),
    _h(7, "curled", seven_curl),
    _h(8, "one stroke", g.eight_one_stroke), _h(8, "two loops", g.eight_two_loops),
    _h(8, "pinched", eight_pinched),
    _h(9, "straight tail", g.nine_straight), _h(9, "curved tail", g.nine_curved),
    _h(9, "curled tail", nine_curl), _h(9, "hooked tail", nine_hook),
    _h(9, "two strokes", g.nine_open),
)


def habit_seed(seed: int, habit: int | None) -> np.random.SeedSequence:
    """The random stream of a set: evaluation sets of habit ``habit`` (its index in
    :data:`HABITS`) and training digits (``habit=None``) use different spawn keys, so no
    training seed ever gives an evaluation drawing, whatever the two seeds are."""
    key = (0, habit) if habit is not None else (1,)
    return np.random.SeedSequence(seed, spawn_key=key)


def _draw_one(glyph: GlyphFn, rng: np.random.Generator, dark: bool) -> np.ndarray:
    """One canvas raster: uint8 (CANVAS, CANVAS) as the canvas keeps it."""
    strokes = _distort(glyph(rng), rng, _HAND)
    brush = rng.uniform(*BRUSH)
    placed = [s * 2 for s in _place_on_canvas(strokes, rng, CANVAS, brush, _HEIGHT)]
    im = _draw(placed, brush * 2, (2 * CANVAS, 2 * CANVAS)).reduce(2)
    raster = np.asarray(im, dtype=np.uint8)
    return 255 - raster if dark else raster


def draw_habit(habit: Habit | int, n: int, seed: int = EVAL_SEED) -> np.ndarray:
    """``n`` drawings of one habit (a :class:`Habit` or its index in :data:`HABITS`): uint8
    (n, CANVAS, CANVAS) canvas rasters, white ink on black except ``round(n * DARK_SHARE)`` of
    them, dark ink on white. The same habit, n and seed give the same bytes."""
    index = HABITS.index(habit) if isinstance(habit, Habit) else int(habit)
    rng = np.random.default_rng(habit_seed(seed, index))
    dark = np.zeros(n, dtype=bool)
    dark[rng.permutation(n)[:round(n * DARK_SHARE)]] = True
    return np.stack([_draw_one(HABITS[index].glyph, rng, d) for d in dark]) if n else \
        np.zeros((0, CANVAS, CANVAS), np.uint8)


def read_habit(rasters: np.ndarray, contract) -> np.ndarray:
    """Network inputs (n, C, H, W) of canvas rasters, made as the window makes them from the
    canvas (:func:`cnnviz.session.network_input_for`: the raster / 255, then
    :func:`cnnviz.data.pipeline.image_to_input` with ``contract``). A dark-on-white raster is
    read as the window reads an opened picture of it: the same function on the same pixels (its
    light border makes the digit preprocessing invert it)."""
    from .pipeline import image_to_input

    return np.stack([image_to_input(r.astype(np.float32) / 255.0, contract).x for r in rasters])


def habit_inputs(contract, n: int, seed: int = EVAL_SEED):
    """Yield ``(habit, inputs, labels)`` for every habit: ``n`` drawings each, read by
    :func:`read_habit`."""
    for i, habit in enumerate(HABITS):
        x = read_habit(draw_habit(i, n, seed), contract)
        yield habit, x, np.full(n, habit.digit, dtype=np.int64)


def make_habit_training_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` training digits drawn in the habits (digits balanced, a digit's habits picked
    uniformly), drawn as the evaluation sets are, read as the canvas is read (the digit
    preprocessing, 28x28) and kept as uint8 like MNIST. Their stream
    (:func:`habit_seed` with ``habit=None``) never meets an evaluation set's.

    Returns uint8 (n, 28, 28) white on black and uint8 (n,) labels.
    """
    rng = np.random.default_rng(habit_seed(seed, None))
    labels = rng.permutation(np.resize(np.arange(10, dtype=np.uint8), n))
    by_digit = {d: [h for h in HABITS if h.digit == d] for d in range(10)}
    images = np.zeros((n, DIGIT_SIZE, DIGIT_SIZE), dtype=np.uint8)
    for i, label in enumerate(labels):
        options = by_digit[int(label)]
        habit = options[rng.integers(len(options))]
        raster = _draw_one(habit.glyph, rng, bool(rng.random() < DARK_SHARE))
        digit, _ = preprocess_digit_info(raster.astype(np.float32) / 255.0, size=DIGIT_SIZE,
                                         box=DIGIT_BOX)
        images[i] = np.round(digit * 255.0).astype(np.uint8)
    return images, labels
