"""Offline digit datasets drawn from stroke skeletons (no download needed).

Two families share the glyph skeletons of :mod:`cnnviz.data._glyphs`:

* :func:`make_synthetic_digits` -- MNIST look-alikes: pen strokes of varied
  thickness, slant, rotation, aspect and smooth distortion, rendered at high
  resolution and put through :func:`~cnnviz.data.preprocess.preprocess_digit`
  exactly like real drawings (28x28 uint8, white on black, centred by mass).
* :func:`make_drawn_digits` -- digits as people draw them with a mouse on a
  280x280 canvas: coarse, jittery polylines, varied size, position and brush;
  returned raw (not preprocessed) to test the canvas preprocessing.

Everything is deterministic per seed (``np.random.default_rng``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ._glyphs import Stroke, glyph_strokes
from .datasets import Dataset
from .preprocess import DIGIT_BOX, DIGIT_SIZE, preprocess_digit_info

__all__ = ["make_synthetic_digits", "synthetic_dataset", "make_drawn_digits"]


@dataclass(frozen=True)
class _Style:
    """Ranges of the random variations applied to a glyph skeleton."""

    slant: tuple[float, float]  # mean, sd of the shear (x shift per unit of height)
    rotation_deg: float  # sd of the rotation
    aspect: tuple[float, float]  # range of the x scale
    warp: float  # amplitude of the smooth random distortion (units of height)
    stroke_shift: float  # sd of the offset of each stroke of multi-stroke glyphs
    step: float  # spacing of the polyline points (units of height)
    jitter: float  # sd of the independent noise of each point (units of height)


_PEN = _Style(slant=(0.12, 0.22), rotation_deg=9.0, aspect=(0.85, 1.45), warp=0.08,
              stroke_shift=0.02, step=0.02, jitter=0.003)
_MOUSE = _Style(slant=(0.05, 0.2), rotation_deg=8.0, aspect=(0.7, 1.35), warp=0.05,
                stroke_shift=0.025, step=0.045, jitter=0.008)

#: Height of the glyph when rendering synthetic digits (px) and stroke widths there.
_RENDER_HEIGHT = 80
_PEN_WIDTH = (0.08, 0.19)  # fraction of the glyph height
_PEN_BLUR = (0.0, 0.3)  # Gaussian blur radius, in pixels of the 28x28 result


def _balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (n,) labels with every class equally frequent (+-1), shuffled."""
    return rng.permutation(np.resize(np.arange(10, dtype=np.uint8), n))


def _densify(stroke: Stroke, step: float) -> Stroke:
    """Resample a polyline with points at most ``step`` apart (keeps the corners)."""
    seg = np.diff(stroke, axis=0)
    counts = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step)).astype(int)
    which = np.repeat(np.arange(len(seg)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    frac = (within / counts[which])[:, None]
    return np.concatenate([stroke[:1], stroke[which] + frac * seg[which]])


def _trim(stroke: Stroke, rng: np.random.Generator) -> Stroke:
    """Randomly drop up to two points at each end of a stroke (shorter/longer pen lines)."""
    if len(stroke) < 8:
        return stroke
    start, stop = rng.integers(0, 3, size=2)
    return stroke[start : len(stroke) - stop]


def _smooth_field(points: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A random smooth displacement (N, 2) at ``points`` (sum of three plane waves per axis)."""
    freq = rng.uniform(-1.3, 1.3, size=(2, 3, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(2, 3))
    amp = rng.normal(0, amplitude / np.sqrt(3), size=(2, 3))
    waves = np.sin(2 * np.pi * np.einsum("nd,akd->ank", points, freq) + phase[:, None, :])
    return np.einsum("ank,ak->na", waves, amp)


def _distort(strokes: list[Stroke], rng: np.random.Generator, style: _Style) -> list[Stroke]:
    """Apply densify, per-stroke shift, smooth warp, point jitter and an affine transform."""
    dense = [_trim(_densify(s, style.step), rng) for s in strokes]
    if len(dense) > 1:
        dense = [s + rng.normal(0, style.stroke_shift, 2) for s in dense]
    sizes = [len(s) for s in dense]
    pts = np.concatenate(dense)
    pts = pts + _smooth_field(pts, rng, style.warp)
    pts = pts + rng.normal(0, style.jitter, pts.shape)
    x, y = pts[:, 0] - 0.3, pts[:, 1] - 0.5
    x = x * rng.uniform(*style.aspect) + rng.normal(*style.slant) * (0.5 - pts[:, 1])
    angle = np.radians(rng.normal(0, style.rotation_deg))
    c, s = np.cos(angle), np.sin(angle)
    pts = np.stack([c * x - s * y, s * x + c * y], axis=1)
    return np.split(pts, np.cumsum(sizes)[:-1])


def _draw(strokes: list[Stroke], width: float, shape: tuple[int, int]) -> Image.Image:
    """Draw strokes (pixel coordinates) with a round brush of ``width`` px on black 'L'."""
    im = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(im)
    w = max(1, int(round(width)))
    r = w / 2.0
    for stroke in strokes:
        pts = [tuple(p) for p in stroke.tolist()]
        draw.line(pts, fill=255, width=w)
        for x, y in pts:  # round joints and caps (cheaper than joint="curve")
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return im


def _render_pen_digit(strokes: list[Stroke], rng: np.random.Generator) -> np.ndarray:
    """Render distorted unit-height strokes at high resolution; float32 (H, W) in [0, 1]."""
    width = rng.uniform(*_PEN_WIDTH) * _RENDER_HEIGHT
    pts = np.concatenate(strokes)
    lo = pts.min(axis=0)
    margin = width + 2
    scaled = [(s - lo) * _RENDER_HEIGHT + margin for s in strokes]
    extent = (pts.max(axis=0) - lo) * _RENDER_HEIGHT + 2 * margin
    shape = (int(np.ceil(extent[1])) + 1, int(np.ceil(extent[0])) + 1)
    image = _draw(scaled, width, shape)
    blur = rng.uniform(*_PEN_BLUR) * _RENDER_HEIGHT / DIGIT_BOX
    if blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(image, dtype=np.float32) / 255.0


def make_synthetic_digits(
    n: int, seed: int | np.random.SeedSequence, size: int = DIGIT_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like hand-written digits drawn from random pen strokes.

    Parameters
    ----------
    n : int
        Number of digits; classes 0..9 are balanced (counts differ by at most 1).
    seed : int or np.random.SeedSequence
        Seed for ``np.random.default_rng``; the same seed gives identical bytes.
    size : int
        Output side (28 for MNIST); the digit is fitted to ``size * 20 / 28``.

    Returns
    -------
    images : np.ndarray
        uint8 (n, size, size), white ink on black, preprocessed exactly like real
        drawings by :func:`~cnnviz.data.preprocess.preprocess_digit`.
    labels : np.ndarray
        uint8 (n,), 0..9.
    """
    rng = np.random.default_rng(seed)
    labels = _balanced_labels(n, rng)
    images = np.zeros((n, size, size), dtype=np.uint8)
    box = max(1, int(round(size * DIGIT_BOX / DIGIT_SIZE)))
    for i, label in enumerate(labels):
        strokes = _distort(glyph_strokes(int(label), rng), rng, _PEN)
        raw = _render_pen_digit(strokes, rng)
        digit, _ = preprocess_digit_info(raw, invert=False, size=size, box=box)
        images[i] = np.round(digit * 255.0).astype(np.uint8)
    return images, labels


def synthetic_dataset(n_train: int = 20000, n_test: int = 5000, seed: int = 0) -> Dataset:
    """An offline stand-in for MNIST built with :func:`make_synthetic_digits`.

    Parameters
    ----------
    n_train, n_test : int
        Sizes of the two splits (20000 training digits take about 15 s).
    seed : int
        The train and test splits use independent streams derived from it.

    Returns
    -------
    Dataset
        uint8 (N, 28, 28) images and uint8 (N,) labels, name "synthetic".
    """
    train_x, train_y = make_synthetic_digits(n_train, seed=np.random.SeedSequence([seed, 0]))
    test_x, test_y = make_synthetic_digits(n_test, seed=np.random.SeedSequence([seed, 1]))
    return Dataset(train_x, train_y, test_x, test_y, name="synthetic")


def _place_on_canvas(strokes: list[Stroke], rng: np.random.Generator, canvas: int,
                     brush: float, heights: tuple[float, float] = (0.3, 0.88)) -> list[Stroke]:
    """Scale unit-height strokes to a random size (``heights``: fractions of the canvas) and
    position inside the canvas (px)."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = np.maximum(hi - lo, 1e-6)
    room = canvas - brush - 4
    height = rng.uniform(*heights) * canvas
    scale = min(height / extent[1], room / extent[0], room / extent[1])
    size = extent * scale
    origin = brush / 2 + 2 + rng.uniform(0, 1, 2) * np.maximum(room - size, 0)
    return [(s - lo) * scale + origin for s in strokes]


def make_drawn_digits(n: int, seed: int, canvas: int = 280,
                      supersample: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Digits "drawn with a mouse" on a square canvas, NOT preprocessed.

    Coarse jittery polylines with a round brush, of random size (30 %..88 % of the
    canvas height), position, brush width (3 %..10 % of the canvas), slant and
    glyph variant (with/without serifs, flags and crossbars).

    Parameters
    ----------
    n : int
        Number of digits (balanced classes). Memory: n * canvas**2 * 4 bytes.
    seed : int
        Seed for ``np.random.default_rng`` (same seed, identical output).
    canvas : int
        Side of the canvas in pixels.
    supersample : int
        Drawn at this factor and reduced by area averaging (anti-aliased edges).

    Returns
    -------
    images : np.ndarray
        float32 (n, canvas, canvas) in [0, 1], white ink on black.
    labels : np.ndarray
        uint8 (n,).
    """
    rng = np.random.default_rng(seed)
    labels = _balanced_labels(n, rng)
    images = np.zeros((n, canvas, canvas), dtype=np.float32)
    big = canvas * supersample
    for i, label in enumerate(labels):
        strokes = _distort(glyph_strokes(int(label), rng), rng, _MOUSE)
        brush = rng.uniform(0.03, 0.1) * canvas
        placed = _place_on_canvas(strokes, rng, canvas, brush)
        im = _draw([s * supersample for s in placed], brush * supersample, (big, big))
        images[i] = np.asarray(im.reduce(supersample), dtype=np.float32) / 255.0
    return images, labels
