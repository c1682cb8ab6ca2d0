"""Tests of load_image (every Pillow mode, EXIF, failures) and the conversions."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnviz.data import ImageLoadError, load_image, to_grey, to_network_input
from cnnviz.data.errors import DataError


def ramp(h=12, w=16, hi=255, dtype=np.uint8):
    return (np.arange(h * w).reshape(h, w) * hi // (h * w - 1)).astype(dtype)


def save(tmp_path, name, image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


# ------------------------------------------------------------------ modes
def test_mode_L_exact(tmp_path):
    arr = ramp()
    img = load_image(save(tmp_path, "l.png", Image.fromarray(arr)))
    assert img.mode == "L" and img.pixels.dtype == np.float32 and img.is_grey
    assert img.size == (16, 12) and img.path.name == "l.png"
    np.testing.assert_allclose(img.pixels, arr / 255.0, atol=1e-6)


def test_mode_1(tmp_path):
    arr = np.zeros((8, 8), bool)
    arr[2:5, 3] = True
    img = load_image(save(tmp_path, "b.png", Image.fromarray(arr)))
    assert img.mode == "1"
    np.testing.assert_array_equal(img.pixels, arr.astype(np.float32))


@pytest.mark.parametrize("fmt", ["png", "bmp", "tiff", "webp"])
def test_rgb_formats(tmp_path, fmt):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (10, 14, 3), dtype=np.uint8)
    kwargs = {"lossless": True} if fmt == "webp" else {}
    img = load_image(save(tmp_path, f"c.{fmt}", Image.fromarray(arr), **kwargs))
    assert img.pixels.shape == (10, 14, 3)
    np.testing.assert_allclose(img.pixels, arr / 255.0, atol=1e-6)


def test_rgba_composited_on_background(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [[0, 51, 102, 255]] * 4
    path = save(tmp_path, "a.png", Image.fromarray(rgba))
    alpha = rgba[..., 3] / 255.0
    white = load_image(path).pixels
    np.testing.assert_allclose(white[..., 0], 200 / 255 * alpha + (1 - alpha), atol=1e-6)
    np.testing.assert_allclose(white[..., 1], 1 - alpha, atol=1e-6)
    black = load_image(path, background=0.0).pixels
    np.testing.assert_allclose(black[..., 0], 200 / 255 * alpha, atol=1e-6)
    red = load_image(path, background=(1.0, 0.0, 0.0)).pixels
    np.testing.assert_allclose(red[..., 0], 200 / 255 * alpha + (1 - alpha), atol=1e-6)
    np.testing.assert_allclose(red[..., 1], 0.0, atol=1e-6)


def test_la_png(tmp_path):
    la = np.zeros((3, 5, 2), np.uint8)
    la[..., 0] = 100
    la[..., 1] = [0, 64, 128, 192, 255]
    img = load_image(save(tmp_path, "la.png", Image.fromarray(la, mode="LA")), background=0.5)
    assert img.mode == "LA" and img.pixels.shape == (3, 5)
    alpha = la[..., 1] / 255.0
    np.testing.assert_allclose(img.pixels, 100 / 255 * alpha + 0.5 * (1 - alpha), atol=1e-6)


def test_palette_png_with_transparency(tmp_path):
    im = Image.new("P", (6, 4), 0)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (253 * 3))
    im.paste(1, (0, 0, 3, 4))
    im.paste(2, (3, 0, 5, 4))  # column 5 stays index 0 = transparent
    path = save(tmp_path, "p.png", im, transparency=0)
    img = load_image(path)
    assert img.mode == "P" and img.pixels.shape == (4, 6, 3)
    np.testing.assert_allclose(img.pixels[0, 0], [1, 0, 0])
    np.testing.assert_allclose(img.pixels[0, 4], [0, 0, 1])
    np.testing.assert_allclose(img.pixels[0, 5], [1, 1, 1])  # transparent -> white
    np.testing.assert_allclose(load_image(path, background=0.0).pixels[0, 5], [0, 0, 0])


def test_palette_without_transparency(tmp_path):
    im = Image.new("P", (2, 1))
    im.putpalette([10, 20, 30, 200, 100, 0] + [0] * (254 * 3))
    im.putpixel((1, 0), 1)
    img = load_image(save(tmp_path, "p2.png", im))
    expected = np.array([[10, 20, 30], [200, 100, 0]]) / 255.0
    np.testing.assert_allclose(img.pixels[0], expected, atol=1e-6)


def test_animated_gif_first_frame(tmp_path):
    first = Image.fromarray(ramp(10, 10))
    second = Image.fromarray(255 - ramp(10, 10))
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    with Image.open(path) as check:
        assert check.n_frames == 2
    img = load_image(path)
    assert img.pixels.ndim == 2  # grey palette -> greyscale
    np.testing.assert_allclose(img.pixels, ramp(10, 10) / 255.0, atol=2 / 255)


def test_16_bit_png_scaled_not_clipped(tmp_path):
    arr = ramp(20, 30, hi=65535, dtype=np.uint16)
    assert arr.max() == 65535
    img = load_image(save(tmp_path, "d.png", Image.fromarray(arr)))
    assert img.mode.startswith("I")
    np.testing.assert_allclose(img.pixels, arr / 65535.0, atol=1e-6)
    assert img.pixels.max() == 1.0 and len(np.unique(img.pixels)) > 256


@pytest.mark.parametrize("hi, divisor", [(60000, 65535.0), (1_000_000, 1_000_000.0)])
def test_32_bit_int_tiff(tmp_path, hi, divisor):
    arr = (np.arange(12).reshape(3, 4) * hi // 11).astype(np.int32)
    img = load_image(save(tmp_path, "i.tiff", Image.fromarray(arr, mode="I")))
    assert img.mode == "I"
    np.testing.assert_allclose(img.pixels, arr / divisor, atol=1e-6)


def test_32_bit_int_negative_min_max(tmp_path):
    arr = np.array([[-100, 0, 100]], np.int32)
    img = load_image(save(tmp_path, "neg.tiff", Image.fromarray(arr, mode="I")))
    np.testing.assert_allclose(img.pixels, [[0.0, 0.5, 1.0]], atol=1e-6)


def test_float_tiff(tmp_path):
    inside = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    img = load_image(save(tmp_path, "f.tiff", Image.fromarray(inside)))
    assert img.mode == "F"
    np.testing.assert_array_equal(img.pixels, inside)
    outside = np.array([[-2.0, 0.0], [np.nan, 6.0]], np.float32)
    img = load_image(save(tmp_path, "g.tiff", Image.fromarray(outside)))
    np.testing.assert_allclose(img.pixels, [[0.0, 0.25], [0.0, 1.0]], atol=1e-6)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    im = Image.new("CMYK", (16, 16), (0, 255, 0, 0))  # magenta
    img = load_image(save(tmp_path, "cmyk.jpg", im, quality=95))
    assert img.mode == "CMYK" and img.pixels.shape == (16, 16, 3)
    np.testing.assert_allclose(img.pixels.mean(axis=(0, 1)), [1.0, 0.0, 1.0], atol=0.03)


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40), np.uint8)  # wide; bright block at the top-left
    stored[:8, :12] = 255
    im = Image.fromarray(stored).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = save(tmp_path, "o.jpg", im, exif=exif.tobytes(), quality=95)
    img = load_image(path)
    assert img.pixels.shape == (40, 20, 3) and img.size == (20, 40)
    expected = np.rot90(stored, k=-1) / 255.0
    assert np.abs(img.pixels[..., 0] - expected).mean() < 0.03
    # without orientation the image would be the stored one: make sure it is not
    assert img.pixels[:12, -8:, 0].mean() > 0.9 and img.pixels[:12, :8, 0].mean() < 0.1


# ------------------------------------------------------------------ failures
def png_header(width: int, height: int) -> bytes:
    """A PNG with a valid IHDR claiming width x height grey pixels and a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def assert_load_error(path, *fragments, **kwargs):
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kwargs)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_bomb_header_is_refused(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header(100_000, 100_000))
    assert_load_error(path, "bomb")


def test_absurd_side_is_refused_before_decoding(tmp_path):
    """1 x 65536 is within the pixel cap, but Pillow's per-row work makes such shapes slow."""
    from cnnviz.data.images import MAX_SIDE

    for width, height in ((1, MAX_SIDE + 1), (MAX_SIDE + 1, 1)):
        path = tmp_path / f"thin{width}.png"
        path.write_bytes(png_header(width, height))
        assert_load_error(path, f"{width}x{height}", f"up to {MAX_SIDE} pixels on a side")


def test_pixel_cap_parameter(tmp_path):
    path = save(tmp_path, "big.png", Image.new("L", (100, 100)))
    assert load_image(path, max_pixels=10_000).pixels.shape == (100, 100)
    assert_load_error(path, "100x100", "limit of 9999", max_pixels=9_999)


def test_truncated_png(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)
    good = save(tmp_path, "good.png", Image.fromarray(noise))
    bad = tmp_path / "cut.png"
    bad.write_bytes(good.read_bytes()[:-300])
    assert_load_error(bad, "truncated or corrupt")


def test_broken_png_stream_is_an_error_not_a_black_image(tmp_path):
    """The EXIF look-up of a PNG loads the image: its error must not be lost (a black image)."""
    image = Image.new("RGB", (300, 240), (235, 230, 220))
    good = save(tmp_path, "seven.png", image).read_bytes()
    bad = tmp_path / "broken.png"
    bad.write_bytes(good[:60] + b"\xff" * 40 + good[100:150])
    assert_load_error(bad, "truncated or corrupt", "broken data stream")


def test_truncated_jpeg(tmp_path):
    rng = np.random.default_rng(1)
    good = save(tmp_path, "good.jpg", Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)))
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    assert_load_error(bad)


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("random.png", np.random.default_rng(2).integers(0, 256, 500, np.uint8).tobytes(),
         "not an image"),
        ("notes.txt", b"hello, this is text", "not an image"),
        ("empty.png", b"", "empty"),
    ],
)
def test_non_images(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    assert_load_error(path, fragment)


def test_missing_and_folder(tmp_path):
    assert_load_error(tmp_path / "absent.png", "not found")
    assert_load_error(tmp_path, "folder")


def test_pipe_and_link_loop_are_named(tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer for ever
    assert_load_error(fifo, "not a regular file")
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    assert_load_error(loop, "symbolic link")


def test_damaged_files_never_leak_raw_errors(tmp_path):
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (32, 32, 3), np.uint8)
    good = save(tmp_path, "src.png", Image.fromarray(noise)).read_bytes()
    path = tmp_path / "damaged.png"
    for i in range(40):
        data = bytearray(good[: rng.integers(8, len(good))] if i % 2 else good)
        for pos in rng.integers(0, len(data), 3):
            data[pos] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(data))
        try:
            img = load_image(path)
        except DataError as exc:
            assert isinstance(exc, ImageLoadError)
        else:
            assert img.pixels.dtype == np.float32 and 0 <= img.pixels.min() <= img.pixels.max() <= 1


# ------------------------------------------------------------------ conversions
def test_to_grey():
    rgb = np.zeros((2, 2, 3), np.float32)
    rgb[0, 0] = [1, 0, 0]
    rgb[0, 1] = [0, 1, 0]
    rgb[1, 0] = [0, 0, 1]
    rgb[1, 1] = [1, 1, 1]
    np.testing.assert_allclose(to_grey(rgb), [[0.299, 0.587], [0.114, 1.0]], atol=1e-6)
    grey = np.random.default_rng(0).random((3, 3)).astype(np.float32)
    np.testing.assert_array_equal(to_grey(grey), grey)
    with pytest.raises(ValueError):
        to_grey(np.zeros((2, 2, 4)))


def test_to_network_input_channels_and_size():
    rng = np.random.default_rng(0)
    rgb = rng.random((40, 60, 3)).astype(np.float32)
    one = to_network_input(rgb, 1, 20, 30)
    assert one.shape == (1, 20, 30) and one.dtype == np.float32
    assert abs(float(one.mean()) - float(to_grey(rgb).mean())) < 0.01
    three = to_network_input(rgb[..., 0], 3, 8, 8)
    assert three.shape == (3, 8, 8)
    np.testing.assert_array_equal(three[0], three[2])
    kept = to_network_input(rgb, 3, 40, 60)
    np.testing.assert_allclose(kept, rgb.transpose(2, 0, 1), atol=1e-6)
    flat = to_network_input(np.full((50, 50), 0.3, np.float32), 1, 7, 9)
    np.testing.assert_allclose(flat, 0.3, atol=1e-5)
    with pytest.raises(ValueError):
        to_network_input(rgb, 2, 8, 8)


def test_to_network_input_antialiases():
    stripes = np.zeros((64, 64), np.float32)
    stripes[:, ::2] = 1.0  # 1-pixel stripes average to 0.5 when shrunk 8x
    small = to_network_input(stripes, 1, 8, 8)
    np.testing.assert_allclose(small, 0.5, atol=0.05)


@pytest.mark.parametrize(
    "mode, value, shape", [("L", 40, (3, 4)), ("RGB", (40, 40, 40), (3, 4, 3))]
)
def test_transparency_key_in_grey_and_rgb_png(tmp_path, mode, value, shape):
    im = Image.new(mode, (4, 3), value)
    im.putpixel((0, 0), 200 if mode == "L" else (200, 200, 200))
    img = load_image(save(tmp_path, f"t{mode}.png", im, transparency=value), background=1.0)
    assert img.pixels.shape == shape
    np.testing.assert_allclose(img.pixels[1, 1], 1.0)  # transparent -> background
    np.testing.assert_allclose(img.pixels[0, 0], 200 / 255, atol=1e-6)


# ------------------------------------------------------------------ range normalisation (issue 16)
def tiff_of(tmp_path, name, arr, mode):
    """A real TIFF file holding ``arr`` in Pillow ``mode``, read back to check Pillow kept it."""
    image = Image.fromarray(arr) if mode == "I;16" else Image.fromarray(arr, mode=mode)
    path = save(tmp_path, name, image)
    with Image.open(path) as check:
        assert check.mode == mode
        np.testing.assert_array_equal(np.asarray(check), arr)
    return path


@pytest.mark.parametrize("value", [-7, 0, 1, 65535, 70_000, -2**31, 2**31 - 1])
def test_constant_32_bit_tiff_is_finite(tmp_path, value):
    arr = np.full((5, 6), value, np.int32)
    img = load_image(tiff_of(tmp_path, "c.tiff", arr, "I"))
    assert np.isfinite(img.pixels).all()
    # The rules of unit_from_integers, in closed form: 0..65535 is 16-bit data, a larger
    # non-negative constant is its own maximum, a negative constant has no range: clipped to 0.
    expected = value / 65535 if 0 <= value <= 65535 else 1.0 if value > 0 else 0.0
    np.testing.assert_allclose(img.pixels, expected, atol=1e-7)


def test_32_bit_tiff_full_int_range_does_not_overflow(tmp_path):
    arr = np.array([[-2**31, 0, 2**31 - 1]], np.int32)
    img = load_image(tiff_of(tmp_path, "r.tiff", arr, "I"))
    span = (2**31 - 1) - (-2**31)
    np.testing.assert_allclose(img.pixels, [[0.0, 2**31 / span, 1.0]], rtol=1e-7)


def test_float_tiff_at_float32_extremes(tmp_path):
    big = np.finfo(np.float32).max  # 3.4028235e38
    arr = np.array([[-big, 0.0], [big, big / 2]], np.float32)
    img = load_image(tiff_of(tmp_path, "x.tiff", arr, "F"))
    assert np.isfinite(img.pixels).all()
    lo, span = -float(big), 2.0 * float(big)  # the min-max in float64, by hand
    expected = (arr.astype(np.float64) - lo) / span
    np.testing.assert_allclose(img.pixels, expected, atol=1e-7)


@pytest.mark.parametrize("value, expected", [(3.4e38, 1.0), (-3.4e38, 0.0), (0.25, 0.25),
                                             (7.0, 1.0), (-1e-30, 0.0)])
def test_constant_float_tiff(tmp_path, value, expected):
    arr = np.full((4, 3), value, np.float32)
    img = load_image(tiff_of(tmp_path, "k.tiff", arr, "F"))
    np.testing.assert_allclose(img.pixels, expected, atol=1e-7)


def test_float_tiff_non_finite_values(tmp_path):
    arr = np.array([[np.nan, np.inf, -np.inf, 0.5], [2.0, 4.0, 0.0, 1.0]], np.float32)
    img = load_image(tiff_of(tmp_path, "n.tiff", arr, "F"))
    # finite range 0..4: min-max scaled; +inf saturates to 1, -inf and NaN to 0
    np.testing.assert_allclose(img.pixels, [[0.0, 1.0, 0.0, 0.125], [0.5, 1.0, 0.0, 0.25]],
                               atol=1e-7)
    only = np.array([[np.nan, np.inf], [-np.inf, np.nan]], np.float32)
    img = load_image(tiff_of(tmp_path, "o.tiff", only, "F"))
    np.testing.assert_array_equal(img.pixels, [[0.0, 1.0], [0.0, 0.0]])


def test_16_bit_tiff_constant_and_extremes(tmp_path):
    for arr in (np.full((3, 3), 65535, np.uint16), np.array([[0, 1, 65535]], np.uint16)):
        img = load_image(tiff_of(tmp_path, "s.tiff", arr, "I;16"))
        np.testing.assert_allclose(img.pixels, arr / 65535.0, atol=1e-7)


def test_normalisation_works_in_blocks(tmp_path, monkeypatch):
    """A min-max image larger than one float64 block gives the same result as in one go."""
    from cnnviz.data import images

    rng = np.random.default_rng(5)
    arr = rng.uniform(-3.4e38, 3.4e38, (64, 50)).astype(np.float32)
    monkeypatch.setattr(images, "_BLOCK", 100)  # 2 rows per block
    img = load_image(tiff_of(tmp_path, "b.tiff", arr, "F"))
    wide = arr.astype(np.float64)
    expected = (wide - wide.min()) / (wide.max() - wide.min())
    np.testing.assert_allclose(img.pixels, expected, atol=1e-7)


# ------------------------------------------------------------------ formats (issue 16)
def psd_file(path, width=4, height=3):
    """A minimal valid Photoshop file: 3 channels, 8 bits, raw data (Pillow cannot write PSD)."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, resources, layers: empty
    data = struct.pack(">H", 0) + bytes(range(3 * width * height))
    path.write_bytes(header + sections + data)
    return path


@pytest.mark.parametrize("fmt, named", [("EPS", "EPS"), ("ICNS", "ICNS"), ("PCX", "PCX"),
                                        ("QOI", "QOI"), ("DDS", "DDS"), ("SGI", "SGI"),
                                        ("PDF", "PDF")])
def test_other_formats_are_refused_by_name(tmp_path, fmt, named):
    path = tmp_path / "picture.png"
    Image.new("RGB", (32, 32), (10, 200, 30)).save(path, format=fmt)
    message = assert_load_error(path, named, "a format cnnviz does not open")
    assert "PNG, JPEG, BMP, GIF, TIFF, WebP" in message


def test_photoshop_file_is_refused_by_name(tmp_path):
    path = psd_file(tmp_path / "layers.jpg")
    with Image.open(path) as check:  # a real PSD that Pillow's PSD decoder would read
        assert check.format == "PSD" and check.size == (4, 3)
    assert_load_error(path, "Adobe Photoshop (PSD)", "does not open")


def test_unknown_bytes_name_the_supported_formats(tmp_path):
    path = tmp_path / "scan.tga"
    Image.new("RGB", (8, 8)).save(path, format="TGA")  # TGA has no signature: not named
    assert_load_error(path, "cnnviz", "PNG, JPEG, BMP, GIF, TIFF, WebP")


def test_damaged_header_of_a_supported_format(tmp_path):
    good = save(tmp_path, "g.png", Image.new("L", (8, 8))).read_bytes()
    path = tmp_path / "bad.png"
    path.write_bytes(good[:16] + b"\0" * 20)
    assert_load_error(path, "Portable network graphics (PNG)", "header is damaged")


@pytest.mark.parametrize("fmt, name", [("PNG", "a.jpg"), ("JPEG", "b.png"), ("BMP", "c.gif"),
                                       ("GIF", "d.tif"), ("TIFF", "e.bmp"), ("WEBP", "f.png"),
                                       ("PPM", "g.ppm"), ("ICO", "h.ico"), ("MPO", "i.jpg")])
def test_supported_formats_whatever_the_name(tmp_path, fmt, name):
    arr = np.zeros((16, 16, 3), np.uint8)
    arr[4:12, 4:12] = (255, 255, 255)
    kwargs = {"lossless": True} if fmt == "WEBP" else {}
    path = save(tmp_path, name, Image.fromarray(arr), format=fmt, **kwargs)
    img = load_image(path)
    assert img.pixels.shape[:2] == (16, 16)
    assert img.pixels[8, 8].min() > 0.9 and img.pixels[0, 0].max() < 0.1


# ------------------------------------------------------------------ bounded decoding (issue 16)
def test_large_image_is_reduced_by_area_averaging(tmp_path):
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 256, (201, 300), np.uint8)
    img = load_image(save(tmp_path, "big.png", Image.fromarray(arr)), work_pixels=10_000)
    # factor 3 is the smallest with ceil(300/f) * ceil(201/f) <= 10,000
    assert img.size == (100, 67) and img.original_size == (300, 201) and img.file_size == (300, 201)
    assert img.scale == pytest.approx(1 / 3)
    blocks = arr.reshape(67, 3, 100, 3).mean(axis=(1, 3)) / 255.0
    np.testing.assert_allclose(img.pixels, blocks, atol=1 / 255 + 1e-6)


def test_small_image_is_kept_whole(tmp_path):
    img = load_image(save(tmp_path, "s.png", Image.new("L", (64, 48), 9)))
    assert img.original_size is None and img.file_size == (64, 48) and img.scale == 1.0


def test_reduced_jpeg_keeps_orientation_and_content(tmp_path):
    stored = np.zeros((400, 800), np.uint8)  # wide; bright block at the top-left
    stored[:160, :240] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(tmp_path, "o.jpg", Image.fromarray(stored).convert("RGB"), exif=exif.tobytes(),
                quality=95)
    img = load_image(path, work_pixels=20_000)
    assert img.original_size == (400, 800)
    h, w = img.pixels.shape[:2]
    assert h * w <= 20_000 and abs(h / w - 2.0) < 0.05
    expected = np.asarray(Image.fromarray(np.rot90(stored, k=-1)).resize((w, h), Image.BOX)) / 255
    assert np.abs(img.pixels[..., 0] - expected).mean() < 0.03


def test_memory_bound_refuses_before_decoding(tmp_path):
    path = save(tmp_path, "m.png", Image.new("RGB", (1000, 1000)))
    message = assert_load_error(path, "1000x1000", "MB of memory", max_memory=1_000_000)
    assert "RGB" in message
    assert load_image(path, max_memory=None).size == (1000, 1000)


def test_progress_reports_and_cancels(tmp_path):
    from cnnviz.data.errors import ImageLoadCancelled

    noise = np.random.default_rng(0).integers(0, 256, (300, 300, 3), np.uint8)
    path = save(tmp_path, "p.png", Image.fromarray(noise))
    seen = []
    load_image(path, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) > 3
    assert all(a <= b for a, b in zip(seen, seen[1:]))
    calls = []

    def stop_midway(fraction):
        calls.append(fraction)
        return fraction < 0.3

    with pytest.raises(ImageLoadCancelled, match="cancelled") as info:
        load_image(path, progress=stop_midway)
    assert isinstance(info.value, ImageLoadError) and str(path) in str(info.value)
    assert calls[-1] >= 0.3 and calls[-1] < 1.0


MEASURE = """
import resource, sys, time
from cnnviz.data import load_image


def peak_mb():
    # VmHWM: this process's own peak (ru_maxrss also counts the parent's, inherited at exec)
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


before = peak_mb()
start = time.perf_counter()
img = load_image(sys.argv[1])
seconds = time.perf_counter() - start
print(peak_mb() - before, seconds, *img.size, *getattr(img, "file_size", img.size))
"""


def test_big_photo_fits_in_little_memory(tmp_path):
    """A 4000x4000 RGB PNG and JPEG: the peak memory of a fresh process grows by little."""
    import os
    import subprocess
    import sys

    y, x = np.mgrid[0:4000, 0:4000]
    arr = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    image = Image.fromarray(arr)
    del arr, x, y
    limits = {"png": 200, "jpg": 120}  # MB; measured 134 and 74; before the bounded decoder ~500
    for suffix, limit in limits.items():
        path = tmp_path / f"photo.{suffix}"
        image.save(path, **({"compress_level": 1} if suffix == "png" else {"quality": 85}))
        out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True,
                             text=True, env=os.environ, check=True).stdout.split()
        grown, seconds = float(out[0]), float(out[1])
        size, file_size = tuple(map(int, out[2:4])), tuple(map(int, out[4:6]))
        assert file_size == (4000, 4000) and size[0] * size[1] <= 2048 * 2048
        print(f"{suffix}: peak RSS grew by {grown:.0f} MB in {seconds:.2f} s")
        assert grown < limit, f"{suffix}: peak RSS grew by {grown:.0f} MB in {seconds:.2f} s"


def test_loading_in_a_worker_thread_leaves_the_warning_filters_alone(tmp_path):
    """catch_warnings() is not thread-safe: a worker thread must not change the filters."""
    import threading
    import warnings

    path = save(tmp_path, "w.png", Image.new("L", (8, 8), 9))
    before = list(warnings.filters)
    seen = []
    entered, leave = threading.Event(), threading.Event()

    def progress(fraction):
        if fraction > 0 and not entered.is_set():  # reading the file: inside the decoder
            entered.set()
            leave.wait(5)

    worker = threading.Thread(target=lambda: seen.append(load_image(path, progress=progress)))
    worker.start()
    assert entered.wait(5)
    during = list(warnings.filters)  # while the worker is inside load_image
    leave.set()
    worker.join(5)
    assert seen and seen[0].size == (8, 8)
    assert during == before and list(warnings.filters) == before


def test_signalling_nan_in_a_float_tiff(tmp_path):
    """A signalling NaN (a random bit pattern can be one) is a NaN: 0, without a RuntimeWarning."""
    import warnings

    arr = np.array([[0.0, 2.0], [4.0, 1.0]], np.float32)
    arr.view(np.uint32)[0, 0] = 0x7F800001  # exponent all ones, quiet bit clear
    path = save(tmp_path, "snan.tiff", Image.fromarray(arr, mode="F"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        img = load_image(path)
    np.testing.assert_allclose(img.pixels, [[0.0, 1 / 3], [1.0, 0.0]], atol=1e-7)  # range 1..4
