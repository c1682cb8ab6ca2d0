"""Fuzz tests of :func:`cnnviz.data.load_image`: hostile images generated here, thousands of them.

Every case must end either in a finite float32 image in [0, 1] of a consistent shape or in an
:class:`~cnnviz.data.ImageLoadError` whose message names the file, never in another exception,
and never take more than 2 s.

The cases are made from a bank of small valid files (PNG, JPEG/MPO, BMP, GIF, TIFF, WebP, PNM,
ICO in every Pillow mode they store: 1, L, LA, P with and without transparency, RGB, RGBA, CMYK,
YCbCr, LAB, I;16, I, F, with extreme values: +-2**31, +-3.4e38, NaN, inf, constants; animated
GIF/WebP/PNG) and of other formats cnnviz does not open, then mutated: bytes flipped, truncated,
chunks inserted or deleted, declared sizes patched to 0, to just under the pixel cap and to
decompression-bomb sizes, garbage behind a valid signature, and given a wrong file extension.
Case ``i`` is a pure function of ``CNNVIZ_FUZZ_SEED`` (default 16) and ``i``.

Environment variables
---------------------
CNNVIZ_FUZZ_CASES
    Number of cases (default 2000: a few seconds). ``CNNVIZ_FUZZ_CASES=5000`` for a long run.
CNNVIZ_FUZZ_SEED
    Seed of the case generator.
CNNVIZ_FUZZ_REPORT
    If set, a file to which the counts of outcomes are written (JSON).
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import time
import warnings
import zlib
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import ImageLoadError, image_to_input, load_image
from cnnviz.data.images import WORKING_PIXELS
from cnnviz.nn import InputContract, default_contract

CASES = int(os.environ.get("CNNVIZ_FUZZ_CASES", "2000"))
SEED = int(os.environ.get("CNNVIZ_FUZZ_SEED", "16"))
CASE_SECONDS = 2.0
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
EXTENSIONS = [".png", ".jpg", ".bmp", ".gif", ".tif", ".webp", ".ppm", ".ico", ".txt", ""]


# ------------------------------------------------------------------ the bank of valid files
def _values(rng: np.random.Generator, mode: str, h: int, w: int) -> Image.Image:
    """A small image of ``mode`` with ordinary or extreme values."""
    if mode == "I":
        kind = rng.integers(4)
        if kind == 0:
            arr = rng.integers(-2**31, 2**31 - 1, (h, w), dtype=np.int64)
        elif kind == 1:
            arr = np.full((h, w), rng.choice([-2**31, -7, 0, 1, 65535, 70_000, 2**31 - 1]))
        elif kind == 2:
            arr = rng.integers(0, 65536, (h, w))
        else:
            arr = np.where(rng.random((h, w)) < 0.5, -2**31, 2**31 - 1)
        return Image.fromarray(arr.astype(np.int32), mode="I")
    if mode == "I;16":
        choice = rng.integers(3)
        arr = (rng.integers(0, 65536, (h, w)) if choice == 0
               else np.full((h, w), rng.choice([0, 1, 65535])) if choice == 1
               else np.where(rng.random((h, w)) < 0.5, 0, 65535))
        return Image.fromarray(arr.astype(np.uint16))
    if mode == "F":
        big = float(np.finfo(np.float32).max)
        kind = rng.integers(5)
        if kind == 0:
            arr = rng.normal(0, 10.0 ** rng.integers(0, 39), (h, w))
        elif kind == 1:
            arr = np.full((h, w), rng.choice([big, -big, 0.0, 0.5, 7.0, 1e-45, -1e-45]))
        elif kind == 2:
            arr = np.where(rng.random((h, w)) < 0.5, -big, big)
        elif kind == 3:
            arr = rng.random((h, w))
        else:
            arr = np.full((h, w), np.nan)
        arr = np.clip(arr, -big, big).astype(np.float32)
        holes = rng.random((h, w))
        arr[holes < 0.1] = np.nan
        arr[(holes >= 0.1) & (holes < 0.15)] = np.inf
        arr[(holes >= 0.15) & (holes < 0.2)] = -np.inf
        return Image.fromarray(arr, mode="F")
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if rng.random() < 0.3:
        rgb[:] = rng.integers(0, 256, 3, dtype=np.uint8)  # constant
    image = Image.fromarray(rgb)
    if mode == "RGBA":
        image.putalpha(Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)))
        return image
    if mode == "LA":
        return image.convert("RGBA").convert("LA")
    if mode == "P":
        return image.convert("P", palette=Image.Palette.ADAPTIVE, colors=int(rng.integers(2, 256)))
    return image.convert(mode)


#: (format, mode, save options) of the bank; "P+t" is a palette with a transparent index.
BANK_SPEC = [
    ("PNG", m, {}) for m in ("1", "L", "LA", "P", "P+t", "RGB", "RGBA", "I;16")
] + [
    ("JPEG", m, {"quality": 80}) for m in ("L", "RGB", "CMYK", "YCbCr")
] + [
    ("BMP", m, {}) for m in ("1", "L", "P", "RGB", "RGBA")
] + [
    ("GIF", m, {}) for m in ("L", "P", "P+t")
] + [
    ("TIFF", m, {"compression": c})
    for m in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "I;16", "I", "F")
    for c in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits")
] + [
    ("WEBP", m, {"lossless": lossless}) for m in ("RGB", "RGBA") for lossless in (True, False)
] + [
    ("PPM", m, {}) for m in ("1", "L", "RGB", "I;16")
] + [
    ("ICO", "RGBA", {}),
    ("MPO", "RGB", {"animated": True}),
    ("GIF", "P", {"animated": True}),
    ("WEBP", "RGBA", {"animated": True}),
    ("PNG", "RGB", {"animated": True}),
] + [  # formats cnnviz does not open: refused, whatever they hold
    ("PCX", "RGB", {}), ("EPS", "RGB", {}), ("ICNS", "RGBA", {}), ("TGA", "RGB", {}),
    ("QOI", "RGB", {}), ("SGI", "RGB", {}), ("DDS", "RGBA", {}), ("PDF", "RGB", {}),
]
SUPPORTED = {"PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM", "ICO", "MPO"}


def _encode(rng: np.random.Generator, fmt: str, mode: str, options: dict) -> tuple[bytes, tuple]:
    """A valid file: its bytes and the (height, width) of its first frame."""
    options = dict(options)
    animated = options.pop("animated", False)
    h, w = (1, 1) if rng.random() < 0.1 else tuple(int(v) for v in rng.integers(1, 40, 2))
    if fmt == "ICO":
        h = w = int(rng.integers(8, 40))
        options["sizes"] = [(w, h)]
    if fmt == "ICNS":  # Pillow writes every size up to 1024x1024 (seconds): a header will do
        body = rng.integers(0, 256, int(rng.integers(0, 200)), np.uint8).tobytes()
        return b"icns" + struct.pack(">I", 8 + len(body)) + body, (h, w)
    base = mode[:-2] if mode.endswith("+t") else mode
    image = _values(rng, base, h, w)
    if mode == "P+t":
        options["transparency"] = int(rng.integers(0, 2))
    buffer = io.BytesIO()
    if animated:
        frames = [_values(rng, base, h, w) for _ in range(2)]
        image.save(buffer, format=fmt, save_all=True, append_images=frames, duration=50,
                   **options)
    else:
        image.save(buffer, format=fmt, **options)
    return buffer.getvalue(), (h, w)


@pytest.fixture(scope="module")
def bank():
    """A list of (format, mode, file bytes, (h, w)): a few versions of every spec."""
    rng = np.random.default_rng(SEED)
    files = []
    for fmt, mode, options in BANK_SPEC:
        for _ in range(3):
            data, shape = _encode(rng, fmt, mode, options)
            files.append((fmt, mode, data, shape))
    return files


def test_bank_covers_every_mode(bank):
    """The files in the bank really hold what the specs say (Pillow reads them back so)."""
    stored = Counter()
    for fmt, mode, data, _ in bank:
        if fmt in SUPPORTED:
            with Image.open(io.BytesIO(data)) as im:
                stored[im.mode] += 1
                if mode == "P+t":
                    assert "transparency" in im.info
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "I;16", "I", "F"):
        assert stored[mode] > 0, f"no {mode} file in the bank: {stored}"


# ------------------------------------------------------------------ mutations
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _declared_size(rng) -> tuple[int, int]:
    return [(0, 5), (5, 0), (0, 0), (7000, 7000), (7071, 7071), (100_000, 100_000),
            (2**31 - 1, 1), (1, 2**31 - 1), (65535, 65535), (50_000_001, 1)][rng.integers(10)]


def _patch_size(rng, fmt: str, data: bytes) -> bytes:
    """The same file with another declared size (CRC fixed for PNG), where we know the field."""
    w, h = _declared_size(rng)
    out = bytearray(data)
    if fmt == "PNG" and data[12:16] == b"IHDR":
        ihdr = struct.pack(">II", w & 0xFFFFFFFF, h & 0xFFFFFFFF) + data[24:29]
        out[8:33] = _chunk(b"IHDR", ihdr)
    elif fmt == "BMP":
        out[18:26] = struct.pack("<ii", min(w, 2**31 - 1), min(h, 2**31 - 1))
    elif fmt == "GIF":
        out[6:10] = struct.pack("<HH", min(w, 65535), min(h, 65535))
        at = data.find(b"\x2c", 13)
        if at > 0:
            out[at + 5:at + 9] = struct.pack("<HH", min(w, 65535), min(h, 65535))
    elif fmt in ("JPEG", "MPO"):
        at = data.find(b"\xff\xc0")
        if at < 0:
            at = data.find(b"\xff\xc2")
        if at > 0:
            out[at + 5:at + 9] = struct.pack(">HH", min(h, 65535), min(w, 65535))
    elif fmt == "PPM":
        lines = data.split(b"\n", 2)
        if len(lines) == 3:
            return lines[0] + b"\n" + f"{w} {h}".encode() + b"\n" + lines[2]
    else:  # TIFF, WebP, ICO...: overwrite a random 4-byte word with a size
        at = int(rng.integers(0, max(1, len(data) - 4)))
        out[at:at + 4] = struct.pack("<I", w & 0xFFFFFFFF)
    return bytes(out)


def _bomb_png(rng) -> bytes:
    """A PNG declaring a huge (or just-under-the-cap) image with a tiny compressed stream."""
    w, h = _declared_size(rng)
    ihdr = struct.pack(">IIBBBBB", w & 0xFFFFFFFF, h & 0xFFFFFFFF, 8, int(rng.choice([0, 2, 6])),
                       0, 0, 0)
    stream = zlib.compress(b"\0" * int(rng.integers(0, 100_000)), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", stream) + _chunk(
        b"IEND", b"")


def _mutate(rng, fmt: str, data: bytes) -> tuple[str, bytes]:
    """One mutation of ``data``: (its name, the new bytes)."""
    kind = ["none", "flip", "truncate", "flip+truncate", "splice", "size", "garbage",
            "bomb", "flip"][rng.integers(9)]
    out = bytearray(data)
    if kind in ("flip", "flip+truncate"):
        for at in rng.integers(0, len(out), int(rng.integers(1, 12))):
            out[at] ^= int(rng.integers(1, 256))
    if kind in ("truncate", "flip+truncate"):
        out = out[: int(rng.integers(0, len(out)))]
    if kind == "splice":
        at = int(rng.integers(0, len(out)))
        if rng.random() < 0.5:
            out[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        else:
            del out[at: at + int(rng.integers(1, 64))]
    if kind == "size":
        out = bytearray(_patch_size(rng, fmt, data))
    if kind == "garbage":
        keep = int(rng.integers(4, 33))
        out = out[:keep] + rng.integers(0, 256, int(rng.integers(0, 2000)), np.uint8).tobytes()
    if kind == "bomb":
        out = bytearray(_bomb_png(rng))
    return kind, bytes(out)


# ------------------------------------------------------------------ one case
def _reference(fmt: str, mode: str, data: bytes) -> np.ndarray | None:
    """The pixels an intact lossless 1/L/RGB/I;16 file must give, from Pillow directly."""
    if fmt not in ("PNG", "BMP", "TIFF", "PPM") or mode not in ("1", "L", "RGB", "I;16"):
        return None
    with Image.open(io.BytesIO(data)) as im:
        if mode == "I;16":
            return np.asarray(im).astype(np.float64) / 65535.0
        return np.asarray(im.convert("RGB" if mode == "RGB" else "L")).astype(np.float64) / 255.0



def _kind_of_error(message: str) -> str:
    for kind, pattern in [("cancelled", "cancelled"), ("empty file", "file is empty"),
                          ("declares empty", "declares an empty"),
                          ("too many pixels", "more than the limit|decompression bomb|on a side"),
                          ("memory", "memory"), ("other format", "a format cnnviz does not"),
                          ("damaged header", "header is damaged"),
                          ("not an image", "not an image file"),
                          ("corrupt data", "truncated or corrupt")]:
        if re.search(pattern, message):
            return kind
    return "other ImageLoadError"


PIPELINES = [InputContract((3, 32, 32), tuple("abcdefghij"), "image", mean=(0.5,) * 3,
                           std=(0.25,) * 3),
             InputContract((1, 20, 36), ("a", "b"), "image", fit="pad", fill=0.5),
             default_contract((1, 28, 28), (10,))]


def run_case(index: int, bank, folder) -> tuple[str, str]:
    """Run case ``index``: (outcome, description); raises AssertionError on a wrong outcome."""
    rng = np.random.default_rng([SEED, index])
    fmt, mode, data, (h, w) = bank[int(rng.integers(len(bank)))]
    mutation, data = _mutate(rng, fmt, data)
    extension = EXTENSIONS[int(rng.integers(len(EXTENSIONS)))]
    path = folder / f"case{index}{extension}"
    path.write_bytes(data)
    what = f"case {index}: {fmt} {mode} {mutation} as {path.name}"
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            image = exc
        except Exception as exc:  # noqa: BLE001 -- this is what the test is looking for
            raise AssertionError(f"{what}: {type(exc).__name__}: {exc}") from exc
    # numpy's warnings (overflow, invalid casts) would mean values escaped the float64 maths
    numeric = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not numeric, f"{what}: {numeric[0].message}"
    if isinstance(image, ImageLoadError):
        exc = image
        outcome = "error: " + _kind_of_error(str(exc))
        assert str(path) in str(exc) and len(str(exc)) > len(str(path)) + 10, (what, str(exc))
    else:
        pixels = image.pixels
        assert pixels.dtype == np.float32, what
        assert pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3), what
        assert image.size == (pixels.shape[1], pixels.shape[0]), what
        assert pixels.size // (3 if pixels.ndim == 3 else 1) <= WORKING_PIXELS, what
        assert np.isfinite(pixels).all(), f"{what}: non-finite pixels"
        assert pixels.min() >= 0.0 and pixels.max() <= 1.0, what
        for contract in PIPELINES:  # every image a file gives becomes any network's input
            x = image_to_input(image, contract).x
            assert x.shape == contract.shape and np.isfinite(x).all(), (what, contract.fit)
        if mutation == "none":
            assert fmt in SUPPORTED, f"{what}: a {fmt} file was opened"
            assert pixels.shape[:2] == (h, w), (what, pixels.shape)
            if mode in GREY_MODES and fmt != "GIF":
                assert pixels.ndim == 2, (what, pixels.shape)
            expected = _reference(fmt, mode, data)
            if expected is not None:
                np.testing.assert_allclose(pixels, expected, atol=1e-6, err_msg=what)
        outcome = "image"
    # CPU seconds of this process: the machine may be shared, and wall time would measure that.
    seconds = time.process_time() - cpu
    assert seconds < CASE_SECONDS, f"{what}: took {seconds:.2f} s of CPU"
    assert time.perf_counter() - start < 10 * CASE_SECONDS, f"{what}: waited too long"
    path.unlink()
    return outcome, what


def test_hostile_images(bank, tmp_path):
    """CNNVIZ_FUZZ_CASES generated cases; the counts of outcomes are printed (pytest -s)."""
    counts = Counter()
    by_mutation = Counter()
    failures = []
    for index in range(CASES):
        try:
            outcome, what = run_case(index, bank, tmp_path)
        except AssertionError as exc:
            failures.append(str(exc))
            continue
        counts[outcome] += 1
        by_mutation[what.split()[4]] += 1
    summary = {"cases": CASES, "seed": SEED, "failures": len(failures),
               "outcomes": dict(counts.most_common())}
    print(json.dumps(summary, indent=1))
    if os.environ.get("CNNVIZ_FUZZ_REPORT"):
        with open(os.environ["CNNVIZ_FUZZ_REPORT"], "w", encoding="utf-8") as report:
            json.dump(summary, report, indent=1)
    assert not failures, f"{len(failures)} of {CASES} cases failed:\n" + "\n".join(failures[:20])
    assert counts["image"] > 0 and len(counts) > 3  # the generator reaches both ends
