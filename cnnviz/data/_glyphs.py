"""Stroke skeletons of hand-written digits, used by :mod:`cnnviz.data.synthetic`.

Each glyph function takes a numpy ``Generator`` and returns a list of strokes; a
stroke is a float array (K, 2) of (x, y) points in a box about 0.6 wide and 1.0
tall, y pointing down (image convention). Random parameters inside the functions
vary loop sizes, bar lengths and curvature; slant, rotation, aspect, thickness
and smooth distortions are applied afterwards by the renderer.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Stroke = np.ndarray
GlyphFn = Callable[[np.random.Generator], list[Stroke]]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 0) -> Stroke:
    """Elliptical arc from angle ``a0`` to ``a1`` (degrees; 0 = right, 90 = down)."""
    n = n or max(8, int(abs(a1 - a0) / 8))
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def bez(*points: tuple[float, float], n: int = 20) -> Stroke:
    """Bezier curve (quadratic or cubic) through its control points."""
    p = np.asarray(points, dtype=np.float64)
    t = np.linspace(0.0, 1.0, n)[:, None]
    if len(p) == 3:
        return (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t**2 * p[2]
    u = 1 - t
    return u**3 * p[0] + 3 * u**2 * t * p[1] + 3 * u * t**2 * p[2] + t**3 * p[3]


def poly(*points: tuple[float, float]) -> Stroke:
    """Straight polyline through the points."""
    return np.asarray(points, dtype=np.float64)


def join(*parts: Stroke) -> Stroke:
    """Concatenate stroke pieces into one continuous stroke."""
    return np.concatenate(parts, axis=0)


# ---------------------------------------------------------------- 0
def zero_oval(r: np.random.Generator) -> list[Stroke]:
    rx, start = r.uniform(0.2, 0.45), r.uniform(-130, -50)
    sweep = (360 + r.uniform(-15, 30)) * r.choice([-1, 1])
    return [arc(0.3, 0.5, rx, 0.5, start, start + sweep)]


def zero_egg(r: np.random.Generator) -> list[Stroke]:
    rx, k = r.uniform(0.2, 0.4), r.uniform(-0.35, 0.35)
    start = r.uniform(-120, -60)
    t = np.radians(np.linspace(start, start + 360 + r.uniform(0, 25), 48))
    width = rx * (1 + k * np.sin(t))  # narrower at the top or the bottom
    return [np.stack([0.3 + width * np.cos(t), 0.5 + 0.5 * np.sin(t)], axis=1)]


# ---------------------------------------------------------------- 1
def one_plain(r: np.random.Generator) -> list[Stroke]:
    bow = r.uniform(-0.06, 0.06)
    return [bez((0.3, 0.0), (0.3 + bow, 0.5), (0.3, 1.0), n=8)]


def _one_flag(r: np.random.Generator) -> tuple[float, float]:
    """Start of the flag of a 1: 0.1..0.28 long, 30..65 degrees below the horizontal."""
    length, angle = r.uniform(0.1, 0.28), np.radians(r.uniform(30, 65))
    return 0.3 - length * np.cos(angle), length * np.sin(angle)


def one_flag(r: np.random.Generator) -> list[Stroke]:
    return [poly(_one_flag(r), (0.3, 0.0), (0.3, 1.0))]


def one_flag_base(r: np.random.Generator) -> list[Stroke]:
    half = r.uniform(0.15, 0.3)
    return [poly(_one_flag(r), (0.3, 0.0), (0.3, 1.0)), poly((0.3 - half, 1.0), (0.3 + half, 1.0))]


# ---------------------------------------------------------------- 2
def _two_top(r: np.random.Generator) -> Stroke:
    ry, rx = r.uniform(0.17, 0.3), r.uniform(0.22, 0.3)
    return arc(0.3, ry, rx, ry, r.uniform(165, 220), r.uniform(350, 395))


def two_plain(r: np.random.Generator) -> list[Stroke]:
    top = _two_top(r)
    end, foot = top[-1], (r.uniform(0.0, 0.1), 1.0)
    neck = bez(end, (end[0] - r.uniform(0.0, 0.15), r.uniform(0.5, 0.75)), foot, n=14)
    base = poly(foot, (r.uniform(0.5, 0.8), 1.0 - r.uniform(-0.05, 0.08)))
    return [join(top, neck, base)]


def two_loop(r: np.random.Generator) -> list[Stroke]:
    top = _two_top(r)
    end = top[-1]
    nx, ny = r.uniform(0.05, 0.15), r.uniform(0.88, 0.97)
    neck = bez(end, (end[0] - r.uniform(0.0, 0.12), 0.65), (nx, ny), n=14)
    s = r.uniform(0.7, 1.6)
    loop = bez((nx, ny), (nx - 0.18 * s, ny - 0.17 * s), (nx + 0.15 * s, ny - 0.25 * s),
               (nx + 0.08, 0.99), n=16)
    base = poly(loop[-1], (r.uniform(0.5, 0.8), 1.0 - r.uniform(-0.03, 0.06)))
    return [join(top, neck, loop, base)]


def two_z(r: np.random.Generator) -> list[Stroke]:
    top = bez((0.03, 0.2), (0.15, -0.05), (0.6, -0.05), (0.5, 0.3), n=16)
    return [join(top, poly((0.02, 1.0), (r.uniform(0.5, 0.75), 0.98)))]


# ---------------------------------------------------------------- 3
def _three_lower(r: np.random.Generator, mid: tuple[float, float]) -> Stroke:
    ry = (1.0 - mid[1]) / 2
    cx = r.uniform(0.28, 0.34)
    return join(poly(mid), arc(cx, mid[1] + ry, 0.28, ry, -100, r.uniform(140, 165)))


def three_round(r: np.random.Generator) -> list[Stroke]:
    mid = (r.uniform(0.15, 0.3), r.uniform(0.42, 0.5))
    ry = mid[1] / 2
    upper = arc(0.3, ry, 0.24, ry, r.uniform(190, 215), 450)
    upper[-1] = mid
    return [join(upper, _three_lower(r, mid)[1:])]


def three_flat(r: np.random.Generator) -> list[Stroke]:
    mid = (r.uniform(0.2, 0.32), r.uniform(0.38, 0.48))
    top = poly((r.uniform(0.0, 0.1), 0.0), (0.55, 0.0), mid)
    return [join(top, _three_lower(r, mid)[1:])]


def three_two_strokes(r: np.random.Generator) -> list[Stroke]:
    mid_y = r.uniform(0.42, 0.5)
    upper = arc(0.3, mid_y / 2, 0.23, mid_y / 2, r.uniform(190, 220), 450)
    lower = _three_lower(r, (r.uniform(0.15, 0.3), mid_y))
    return [upper, lower]


# ---------------------------------------------------------------- 4
def four_open(r: np.random.Generator) -> list[Stroke]:
    bar = r.uniform(0.5, 0.7)
    top = (r.uniform(0.05, 0.2), r.uniform(0.0, 0.15))
    left = poly(top, (0.02, bar), (0.62, bar - r.uniform(0, 0.05)))
    right = poly((0.45, r.uniform(-0.05, 0.2)), (0.45 + r.uniform(-0.05, 0.05), 1.0))
    return [left, right]


def four_closed(r: np.random.Generator) -> list[Stroke]:
    bar = r.uniform(0.55, 0.72)
    apex = (r.uniform(0.38, 0.48), 0.0)
    foot = (apex[0] + r.uniform(-0.03, 0.03), 1.0)
    return [poly(apex, (0.0, bar), (0.62, bar)), poly(apex, foot)]


def four_one_stroke(r: np.random.Generator) -> list[Stroke]:
    bar = r.uniform(0.5, 0.68)
    x = r.uniform(0.4, 0.5)
    return [poly((0.08, 0.0), (0.03, bar), (x, bar), (x, r.uniform(0.0, 0.2)), (x + 0.02, 1.0))]


# ---------------------------------------------------------------- 5
def _five_belly(r: np.random.Generator, top: tuple[float, float]) -> Stroke:
    ry = (1.0 - top[1]) / 2
    return arc(0.3, top[1] + ry, r.uniform(0.25, 0.32), ry, 215, r.uniform(460, 510))


def five_two_strokes(r: np.random.Generator) -> list[Stroke]:
    joint = (r.uniform(0.08, 0.16), r.uniform(0.38, 0.48))
    stem = join(poly((0.12, 0.0), joint), _five_belly(r, (0.0, joint[1] - 0.02))[1:])
    bar = poly((0.12 + r.uniform(-0.03, 0.03), 0.0), (r.uniform(0.5, 0.65), -r.uniform(0, 0.05)))
    return [stem, bar]


def five_one_stroke(r: np.random.Generator) -> list[Stroke]:
    y = r.uniform(0.38, 0.48)
    head = poly((r.uniform(0.5, 0.65), 0.0), (0.12, 0.0), (0.1, y))
    return [join(head, _five_belly(r, (0.0, y - 0.02))[1:])]


# ---------------------------------------------------------------- 6
def six_curved(r: np.random.Generator) -> list[Stroke]:
    ry, rx = r.uniform(0.2, 0.3), r.uniform(0.2, 0.3)
    cy = 1.0 - ry
    stem = bez((r.uniform(0.4, 0.6), 0.0), (0.1, 0.15), (0.3 - rx, cy), n=16)
    loop = arc(0.3, cy, rx, ry, 180, r.uniform(-235, -150))
    return [join(stem, loop[1:])]


def six_straight(r: np.random.Generator) -> list[Stroke]:
    ry, rx = r.uniform(0.18, 0.28), r.uniform(0.2, 0.3)
    cy = 1.0 - ry
    stem = poly((r.uniform(0.4, 0.55), 0.0), (0.3 - rx, cy))
    loop = arc(0.3, cy, rx, ry, 180, r.uniform(-235, -160))
    return [join(stem, loop[1:])]


def six_upright(r: np.random.Generator) -> list[Stroke]:
    ry, rx = r.uniform(0.15, 0.25), r.uniform(0.18, 0.28)
    cy = 1.0 - ry
    stem = bez((r.uniform(0.25, 0.5), 0.0), (r.uniform(0.05, 0.2), 0.35), (0.3 - rx, cy), n=16)
    loop = arc(0.3, cy, rx, ry, 180, r.uniform(-235, -150))
    return [join(stem, loop[1:])]


# ---------------------------------------------------------------- 7
def _seven_stem(r: np.random.Generator, corner: tuple[float, float]) -> Stroke:
    foot = (r.uniform(0.05, 0.45), 1.0)
    mid = ((corner[0] + foot[0]) / 2 + r.uniform(-0.08, 0.08), 0.5)
    return bez(corner, mid, foot, n=14)


def seven_plain(r: np.random.Generator) -> list[Stroke]:
    corner = (r.uniform(0.5, 0.65), 0.0)
    return [join(poly((r.uniform(0.0, 0.2), r.uniform(-0.03, 0.06))), _seven_stem(r, corner))]


def seven_crossbar(r: np.random.Generator) -> list[Stroke]:
    corner = (0.6, 0.0)
    stem = _seven_stem(r, corner)
    y = r.uniform(0.45, 0.6)
    x = np.interp(y, stem[:, 1], stem[:, 0])
    half = r.uniform(0.12, 0.2)
    return [join(poly((0.0, 0.02)), stem), poly((x - half, y + 0.02), (x + half, y - 0.02))]


def seven_hook(r: np.random.Generator) -> list[Stroke]:
    corner = (0.6, 0.0)
    return [join(poly((0.0, r.uniform(0.1, 0.22)), (0.02, 0.0)), _seven_stem(r, corner))]


# ---------------------------------------------------------------- 8
def eight_one_stroke(r: np.random.Generator) -> list[Stroke]:
    split = r.uniform(0.36, 0.5)  # height of the crossing
    w_top, w_bot = r.uniform(0.14, 0.28), r.uniform(0.2, 0.34)
    t0 = r.uniform(0.2, 0.8)
    t = np.linspace(t0, t0 + 2 * np.pi + r.uniform(0.1, 0.5), 64)
    y = (1 - np.cos(t)) / 2
    w = np.where(y < 0.5, w_top, w_bot)  # upper lobe vs lower lobe
    x = 0.3 + w * np.sin(2 * t)
    y = np.where(y < 0.5, y / 0.5 * split, split + (y - 0.5) / 0.5 * (1 - split))
    return [np.stack([x, y], axis=1)]


def eight_two_loops(r: np.random.Generator) -> list[Stroke]:
    split = r.uniform(0.4, 0.5)
    top = arc(0.3, split / 2, r.uniform(0.16, 0.25), split / 2, 0, 370 * r.choice([-1, 1]))
    bot_ry = (1 - split) / 2
    bot_rx = r.uniform(0.22, 0.32)
    bottom = arc(0.3, split + bot_ry, bot_rx, bot_ry, 270, 270 + 365 * r.choice([-1, 1]))
    return [top, bottom]


# ---------------------------------------------------------------- 9
def _nine_loop(r: np.random.Generator) -> tuple[Stroke, float, float]:
    ry, rx = r.uniform(0.14, 0.25), r.uniform(0.17, 0.28)
    loop = arc(0.3, ry, rx, ry, r.uniform(10, 40), r.uniform(-350, -330))
    return loop, rx, ry


def nine_straight(r: np.random.Generator) -> list[Stroke]:
    loop, rx, ry = _nine_loop(r)
    x = 0.3 + rx
    return [join(loop, poly((x, ry), (x - r.uniform(-0.05, 0.12), 1.0)))]


def nine_curved(r: np.random.Generator) -> list[Stroke]:
    loop, rx, ry = _nine_loop(r)
    x = 0.3 + rx
    tail = bez((x, ry), (x, 0.85), (0.15, 1.05), n=14)
    return [join(loop, tail)]


def nine_open(r: np.random.Generator) -> list[Stroke]:
    ry, rx = r.uniform(0.14, 0.24), r.uniform(0.16, 0.26)
    loop = arc(0.3, ry, rx, ry, r.uniform(-80, -50), r.uniform(-340, -310))
    x = 0.3 + rx + r.uniform(-0.02, 0.04)
    return [loop, poly((x, r.uniform(-0.03, 0.08)), (x - r.uniform(-0.05, 0.12), 1.0))]


#: digit -> [(glyph function, relative frequency), ...]
GLYPHS: dict[int, list[tuple[GlyphFn, float]]] = {
    0: [(zero_oval, 0.6), (zero_egg, 0.4)],
    1: [(one_plain, 0.6), (one_flag, 0.28), (one_flag_base, 0.12)],
    2: [(two_plain, 0.5), (two_loop, 0.35), (two_z, 0.15)],
    3: [(three_round, 0.5), (three_flat, 0.2), (three_two_strokes, 0.3)],
    4: [(four_open, 0.45), (four_closed, 0.35), (four_one_stroke, 0.2)],
    5: [(five_two_strokes, 0.65), (five_one_stroke, 0.35)],
    6: [(six_curved, 0.4), (six_straight, 0.25), (six_upright, 0.35)],
    7: [(seven_plain, 0.55), (seven_crossbar, 0.25), (seven_hook, 0.2)],
    8: [(eight_one_stroke, 0.8), (eight_two_loops, 0.2)],
    9: [(nine_straight, 0.45), (nine_curved, 0.3), (nine_open, 0.25)],
}


def glyph_strokes(digit: int, rng: np.random.Generator) -> list[Stroke]:
    """Strokes of one random variant of ``digit`` (0..9), chosen by relative frequency."""
    variants = GLYPHS[digit]
    weights = np.array([w for _, w in variants])
    fn = variants[rng.choice(len(variants), p=weights / weights.sum())][0]
    return fn(rng)
