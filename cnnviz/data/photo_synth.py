"""Reproducible "photos" of handwritten digits, for measuring how the digit pipeline reads photos.

A 28x28 digit (MNIST) is drawn as pen ink of some colour on paper of some colour, enlarged to a
photo-like size and placed off-centre, then photographed: a lighting gradient across the page, a
soft shadow, sensor noise, a slight blur and JPEG compression. Digits can also be drawn on a
transparent background (white or dark ink, PNG with alpha). Every photo is a pure function of
``(digit, habits, seed)``: the same call always gives the same bytes.

No Qt; numpy and Pillow only.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

__all__ = [
    "INKS",
    "PAPERS",
    "GRADIENTS",
    "JPEG_LEVELS",
    "PhotoHabits",
    "habit_set",
    "render_photo",
    "encode_photo",
    "make_photo",
    "blank_photo",
    "write_photo_set",
]

#: Ink reflectance (R, G, B) in [0, 1].
INKS = {
    "blue": (0.12, 0.22, 0.62),
    "red": (0.78, 0.12, 0.12),
    "green": (0.10, 0.48, 0.20),
    "black": (0.08, 0.08, 0.10),
}
#: Paper reflectance (R, G, B) in [0, 1].
PAPERS = {
    "white": (0.95, 0.95, 0.94),
    "cream": (0.96, 0.92, 0.78),
    "light green": (0.74, 0.90, 0.68),
    "yellow": (0.98, 0.94, 0.52),
    "pink": (0.98, 0.78, 0.84),
    "light blue": (0.74, 0.85, 0.97),
}
#: Lighting gradients: the fraction of the range the light falls by across the page.
GRADIENTS = (0.0, 0.2, 0.4)
#: Compression: None is a PNG; otherwise a range of JPEG qualities drawn from.
JPEG_LEVELS = {"png": None, "jpeg 76-90": (76, 90), "jpeg 60-75": (60, 75)}
#: Backgrounds that are not paper: ink on a transparent PNG.
TRANSPARENT = ("white ink", "dark ink")


@dataclass(frozen=True)
class PhotoHabits:
    """How one photo is taken.

    Attributes
    ----------
    ink, paper : str
        Keys of :data:`INKS` and :data:`PAPERS` (``paper`` is ``"transparent"`` when
        ``transparent`` is set).
    gradient : float
        The light falls by this fraction of the range across the page (0 to 0.4).
    shadow : bool
        A soft shadow (a darker region with a blurred edge) falls on part of the page.
    jpeg : str
        A key of :data:`JPEG_LEVELS`.
    transparent : str or None
        ``"white ink"`` or ``"dark ink"`` on a transparent background (no paper, no light, PNG).
    """

    ink: str = "black"
    paper: str = "white"
    gradient: float = 0.0
    shadow: bool = False
    jpeg: str = "png"
    transparent: str | None = None

    @property
    def suffix(self) -> str:
        return ".png" if JPEG_LEVELS[self.jpeg] is None or self.transparent else ".jpg"


def habit_set(n: int, seed: int = 0, transparent_share: float = 0.1) -> list[PhotoHabits]:
    """``n`` habits covering every combination of ink, paper, gradient, shadow and compression
    (in a seeded shuffled order, repeated as needed), with about ``transparent_share`` of them
    on a transparent background (white and dark ink alternately)."""
    combos = [PhotoHabits(ink, paper, gradient, shadow, jpeg)
              for ink, paper, gradient, shadow, jpeg in itertools.product(
                  INKS, PAPERS, GRADIENTS, (False, True), JPEG_LEVELS)]
    rng = np.random.default_rng([seed, 17])
    order = rng.permutation(len(combos))
    every = int(round(1 / transparent_share)) if transparent_share > 0 else 0
    habits, k, t = [], 0, 0
    for i in range(n):
        if every and i % every == every - 1:
            kind = TRANSPARENT[t % 2]
            ink = "white" if kind == "white ink" else list(INKS)[(t // 2) % len(INKS)]
            habits.append(PhotoHabits(ink=ink, paper="transparent", transparent=kind))
            t += 1
        else:
            habits.append(combos[order[k % len(combos)]])
            k += 1
    return habits


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _ink_coverage(digit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """Pen coverage (H, W) in [0, 1] of the digit on a page of random photo-like size."""
    raw = np.asarray(digit)
    digit = raw.astype(np.float32)
    if raw.dtype == np.uint8 or digit.max() > 1.0:
        digit /= 255.0
    page_h, page_w = int(rng.integers(200, 401)), int(rng.integers(200, 401))
    side = int(round(min(page_h, page_w) * rng.uniform(0.5, 0.85)))  # the 28x28 frame
    pil = Image.fromarray(np.ascontiguousarray(digit, dtype=np.float32), mode="F")
    big = np.asarray(pil.resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32)
    # A pen stroke: solid inside, a narrow soft edge; the pen width varies a little.
    lo = float(rng.uniform(0.2, 0.45))
    cover = _smoothstep(big, lo, lo + 0.25)
    top = int(rng.integers(0, page_h - side + 1))
    left = int(rng.integers(0, page_w - side + 1))
    page = np.zeros((page_h, page_w), dtype=np.float32)
    page[top:top + side, left:left + side] = cover
    return page, page_h, page_w


def _light(h: int, w: int, habits: PhotoHabits, rng: np.random.Generator) -> np.ndarray:
    """Illumination (H, W): exposure x linear gradient x soft shadow."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy /= max(h - 1, 1)
    xx /= max(w - 1, 1)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    light = np.float32(rng.uniform(0.9, 1.05)) * (1.0 - np.float32(habits.gradient) * ramp)
    if habits.shadow:
        # A half-plane shadow (a hand or a phone) with an edge blurred over 10-25% of the page.
        a2 = rng.uniform(0, 2 * np.pi)
        d = np.cos(a2) * xx + np.sin(a2) * yy
        edge = rng.uniform(np.quantile(d, 0.55), np.quantile(d, 0.85))
        width = rng.uniform(0.10, 0.25)
        depth = np.float32(rng.uniform(0.15, 0.35))
        light = light * (1.0 - depth * _smoothstep(d, edge - width / 2, edge + width / 2))
    return light.astype(np.float32)


def render_photo(digit: np.ndarray, habits: PhotoHabits, seed: int | tuple = 0) -> Image.Image:
    """The photo of ``digit`` (28x28 uint8 white-on-black, as MNIST) taken with ``habits``:
    an RGB image, or an RGBA one on a transparent background."""
    rng = np.random.default_rng(seed)
    cover, h, w = _ink_coverage(digit, rng)
    if habits.transparent:
        rgb = (1.0, 1.0, 1.0) if habits.transparent == "white ink" else INKS[habits.ink]
        colour = np.broadcast_to(np.asarray(rgb, dtype=np.float32), (h, w, 3))
        rgba = np.concatenate([colour, cover[..., None]], axis=2)
        return Image.fromarray(np.round(rgba * 255).astype(np.uint8), mode="RGBA")
    jitter = lambda: rng.uniform(-0.04, 0.04, 3).astype(np.float32)  # noqa: E731
    ink = np.clip(np.asarray(INKS[habits.ink], dtype=np.float32) + jitter(), 0, 1)
    paper = np.clip(np.asarray(PAPERS[habits.paper], dtype=np.float32) + jitter(), 0, 1)
    # The pen does not cover evenly: a little pressure variation along the strokes.
    pressure = np.float32(rng.uniform(0.8, 1.0))
    a = (cover * pressure)[..., None]
    page = paper * (1.0 - a) + ink * a
    page = page * _light(h, w, habits, rng)[..., None]
    # Optics: a slight blur; sensor: noise.
    radius = float(rng.uniform(0.4, 1.2))
    sharp = Image.fromarray(np.round(np.clip(page, 0, 1) * 255).astype(np.uint8), mode="RGB")
    page = np.asarray(sharp.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255
    page += rng.normal(0.0, rng.uniform(0.005, 0.03), page.shape).astype(np.float32)
    return Image.fromarray(np.round(np.clip(page, 0, 1) * 255).astype(np.uint8), mode="RGB")


def encode_photo(image: Image.Image, habits: PhotoHabits, seed: int | tuple = 0) -> bytes:
    """The photo's file bytes: JPEG at a quality from the habit's range, or PNG."""
    buf = io.BytesIO()
    quality = JPEG_LEVELS[habits.jpeg]
    if quality is None or image.mode == "RGBA":
        image.save(buf, format="PNG")
    else:
        q = int(np.random.default_rng(seed).integers(quality[0], quality[1] + 1))
        image.save(buf, format="JPEG", quality=q)
    return buf.getvalue()


def make_photo(digit: np.ndarray, habits: PhotoHabits, seed: int | tuple = 0) -> bytes:
    """:func:`render_photo` then :func:`encode_photo`."""
    return encode_photo(render_photo(digit, habits, seed), habits, seed)


def blank_photo(habits: PhotoHabits, seed: int | tuple = 0) -> bytes:
    """A photo of empty paper taken with ``habits`` (no ink at all)."""
    return make_photo(np.zeros((28, 28), dtype=np.uint8), habits, seed)


def write_photo_set(folder: str | Path, digits: np.ndarray, labels: np.ndarray, n: int,
                    seed: int = 0) -> list[tuple[Path, int, PhotoHabits]]:
    """Write photos of the first ``n`` digits into ``folder`` (``NNNN_label.png|jpg``).

    Photo ``i`` depends only on ``(digits[i], seed, i)``, so a smaller set is a prefix of a
    larger one. Returns ``(path, label, habits)`` for each photo.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, habits in enumerate(habit_set(n, seed)):
        path = folder / f"{i:04d}_{int(labels[i])}{habits.suffix}"
        path.write_bytes(make_photo(digits[i], habits, (seed, i)))
        out.append((path, int(labels[i]), habits))
    return out
