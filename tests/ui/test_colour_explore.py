"""The Explore workspace on a colour network: the canvas paints in colour over the picture (stroke
by stroke undoable), Network Input shows the R, G and B planes of the input, and a unit's
receptive field is drawn on the colour input and on each plane."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import QColorDialog

from cnnviz.data import CIFAR10_CLASSES, load_image
from cnnviz.data.pipeline import image_to_input
from cnnviz.display import Mosaic
from cnnviz.nn import build_preset, save_model
from cnnviz.nn.contract import InputContract
from cnnviz.session import (CanvasInput, ImageInput, NetworkEntry, Session, SessionError,
                            canvas_input, painted_image)
from cnnviz.ui.explore.input_view import InputView
from cnnviz.ui.window.document import Document

from network_views import (hover_unit, make_document, move_mouse, rgb_dilated_net, settled,
                           show_views)
from ui_helpers import RIGHT, along, canvas_point, draw_stroke

pytestmark = pytest.mark.gui

CIFAR = InputContract(shape=(3, 32, 32), classes=CIFAR10_CLASSES, pipeline="image",
                      mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
PAINT = QColor(200, 30, 90)


@pytest.fixture
def colour_network(tmp_path):
    return save_model(build_preset("cifar-tutorial", seed=0), tmp_path / "colour.npz",
                      contract=CIFAR)


@pytest.fixture
def noise_photo(tmp_path):
    """A 32x32 picture of random colours: every pixel differs from the paint."""
    pixels = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    pixels[(pixels == (200, 30, 90)).all(axis=2)] = (0, 0, 0)
    path = tmp_path / "noise.png"
    Image.fromarray(pixels).save(path)
    return path


def tile(image: np.ndarray, mosaic: Mosaic, channel: int) -> np.ndarray:
    top, left = mosaic.origin(channel)
    return image[top:top + mosaic.height, left:left + mosaic.width]


def segment_distance(h: int, w: int, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Distance of every pixel centre of an (h, w) picture to the segment p0-p1 (x, y)."""
    yy, xx = np.mgrid[0:h, 0:w]
    centres = np.stack([xx + 0.5, yy + 0.5], axis=-1).astype(np.float64)
    d = p1 - p0
    t = np.clip(((centres - p0) @ d) / (d @ d), 0.0, 1.0)
    return np.linalg.norm(centres - (p0 + t[..., None] * d), axis=-1)


def stroke_in_picture(canvas, points) -> tuple[np.ndarray, np.ndarray]:
    """The first and last mouse positions of ``draw_stroke(canvas, points)`` in picture pixels."""
    rect = canvas.colour_rect()
    w, h = canvas.colour_picture.size
    widget = [canvas_point(canvas, *p) for p in along(points)]
    ends = [np.array([(q.x() - rect.x()) * w / rect.width(),
                      (q.y() - rect.y()) * h / rect.height()]) for q in (widget[0], widget[-1])]
    return ends[0], ends[1]


# ----------------------------------------------------------------------------- Network Input
def test_the_rgb_planes_shown_are_the_network_inputs_channels(qtbot, noise_photo):
    document = Document(Session(NetworkEntry(build_preset("cifar-tutorial", seed=0),
                                             contract=CIFAR)))
    view = InputView(document)
    qtbot.addWidget(view)
    view.resize(420, 260)
    view.show()
    qtbot.waitExposed(view)
    document.open_image(noise_photo)
    trace = document.trace
    assert view.shows_planes and view.planes_viewbox.scene() is view.graphics.scene()
    pixels = load_image(noise_photo).pixels  # a 32x32 picture: the planes are its channels
    mean = np.array(CIFAR.mean, np.float32)[:, None, None]
    std = np.array(CIFAR.std, np.float32)[:, None, None]
    seen = np.clip(trace.network_input * std + mean, 0, 1)  # the input before normalising
    image, mosaic = view.planes_item.image, view.planes_mosaic
    for channel in range(3):
        plane = tile(image, mosaic, channel)
        np.testing.assert_array_equal(plane[..., channel], seen[channel])
        np.testing.assert_allclose(plane[..., channel], pixels[..., channel], atol=2e-6)
        others = [c for c in range(3) if c != channel]  # each plane in its own colour scale
        assert not plane[..., others].any()
    assert [label.textItem.toPlainText() for label in view.plane_labels] == ["R", "G", "B"]
    # Hovering a plane states the plane, the pixel, its value and what the network gets.
    said = []
    view.cursor_info.connect(said.append)
    top, left = mosaic.origin(1)
    move_mouse(view.graphics.viewport(), settled(lambda: view.graphics.mapFromScene(
        view.planes_item.mapToScene(QPointF(left + 7.5, top + 5.5)))))
    assert said[-1] == (f"Network input plane G  row 5, col 7: {seen[1, 5, 7]:.3f} "
                        f"(the network gets {trace.network_input[1, 5, 7]:.3f})")
    # Wide: the planes in a column beside the picture; tall: in a row under it.
    assert mosaic.columns == 1
    view.resize(260, 420)
    qtbot.waitUntil(lambda: view.planes_mosaic.columns == 3)
    np.testing.assert_array_equal(tile(view.planes_item.image, view.planes_mosaic, 1)[..., 1],
                                  seen[1])
    # A new input: the planes follow.
    document.undo()
    for channel in range(3):
        np.testing.assert_array_equal(
            tile(view.planes_item.image, view.planes_mosaic, channel)[..., channel],
            document.trace.input_image[channel])


def test_a_grey_network_shows_no_planes(qtbot):
    view = InputView(make_document())
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    assert not view.shows_planes and view.planes_viewbox.scene() is None
    assert view.image.shape == (28, 28)


# ----------------------------------------------------------------------------- painting
def test_a_stroke_paints_exactly_the_pixels_under_it_and_undo_brings_the_picture_back(
        make_window, colour_network, noise_photo):
    window = make_window(model=str(colour_network))
    document, canvas = window.document, window.canvas_panel.canvas
    assert window.canvas_panel.colour_button.isVisibleTo(window.canvas_panel)
    assert window.open_image(noise_photo)
    opened, before = document.source, document.trace
    original = load_image(noise_photo).pixels
    canvas.set_brush_colour(PAINT)
    canvas.set_brush_size(60)
    points = [(0.15, 0.5), (0.85, 0.5)]
    draw_stroke(canvas, points)

    painted = document.source
    assert isinstance(painted, ImageInput) and painted.original is opened
    assert document.undo_stack.count() == 2 and window.undo_action.text() == "&Undo Stroke"
    pixels = painted.pixels
    colour = np.array([200, 30, 90], np.float32) / np.float32(255)
    changed = (pixels != original).any(axis=2)
    np.testing.assert_array_equal(pixels[changed], np.broadcast_to(colour, pixels[changed].shape))
    np.testing.assert_array_equal(pixels[~changed], original[~changed])  # the rest, bit for bit
    # The pixels under the stroke: within half the brush of the mouse's path (one pixel of
    # slack at the edge, where rasterising decides).
    p0, p1 = stroke_in_picture(canvas, points)
    radius = canvas.colour_brush_width() / 2
    distance = segment_distance(32, 32, p0, p1)
    assert changed[distance <= radius - 1].all()
    assert not changed[distance > radius + 1].any()
    assert 60 < changed.sum() < 300
    # The prediction is the network's on the painted picture.
    trace = document.trace
    expected = image_to_input(pixels, CIFAR).x
    np.testing.assert_array_equal(trace.network_input, expected)
    assert not np.array_equal(trace.probabilities, before.probabilities)
    assert window.prediction_panel.applied_version == trace.version
    # The Network Input and its planes show the painted picture.
    shown = window.input_view.image
    np.testing.assert_allclose(shown[changed], np.broadcast_to(colour, shown[changed].shape),
                               atol=2e-6)

    window.undo_action.trigger()
    assert document.source is opened
    np.testing.assert_array_equal(document.source.pixels, original)
    np.testing.assert_array_equal(document.trace.network_input, before.network_input)
    np.testing.assert_array_equal(document.trace.probabilities, before.probabilities)
    np.testing.assert_array_equal(canvas.colour_picture.pixels, original)
    window.redo_action.trigger()
    assert document.source is painted
    np.testing.assert_array_equal(canvas.colour_picture.pixels, pixels)


def test_the_canvas_shows_the_picture_in_colour_pixel_for_pixel(make_window, colour_network,
                                                               noise_photo):
    window = make_window(model=str(colour_network))
    canvas = window.canvas_panel.canvas
    assert window.open_image(noise_photo)
    expected = np.asarray(Image.open(noise_photo).convert("RGB"))
    shot = canvas.grab().toImage()
    rect = canvas.colour_rect()
    for row, col in [(0, 0), (5, 17), (16, 16), (31, 2), (31, 31)]:
        x = rect.x() + (col + 0.5) * rect.width() / 32
        y = rect.y() + (row + 0.5) * rect.height() / 32
        colour = shot.pixelColor(int(x), int(y))
        assert (colour.red(), colour.green(), colour.blue()) == tuple(expected[row, col])


def test_strokes_undo_one_by_one_and_the_eraser_brings_the_picture_back(
        make_window, colour_network, noise_photo):
    window = make_window(model=str(colour_network))
    document, canvas = window.document, window.canvas_panel.canvas
    assert window.open_image(noise_photo)
    original = load_image(noise_photo).pixels
    canvas.set_brush_colour(PAINT)
    canvas.set_brush_size(40)
    draw_stroke(canvas, [(0.2, 0.3), (0.8, 0.3)])
    first = document.source
    canvas.set_brush_colour(QColor(0, 255, 0))
    draw_stroke(canvas, [(0.5, 0.1), (0.5, 0.9)])
    second = document.source
    assert document.undo_stack.count() == 3  # open image, two strokes
    green = (second.pixels == (0, 1, 0)).all(axis=2)
    assert green.any() and (second.pixels[~green] == first.pixels[~green]).all()
    # The right button erases: the picture as opened comes back under it.
    draw_stroke(canvas, [(0.1, 0.3), (0.9, 0.3)], button=RIGHT)
    erased = document.source
    assert window.undo_action.text() == "&Undo Erase"
    row = round(0.3 * 32)
    np.testing.assert_array_equal(erased.pixels[row], original[row])
    window.undo_action.trigger()
    assert document.source is second
    window.undo_action.trigger()
    assert document.source is first
    np.testing.assert_array_equal(canvas.colour_picture.pixels, first.pixels)
    window.undo_action.trigger()
    np.testing.assert_array_equal(document.source.pixels, original)


def test_an_empty_colour_canvas_is_a_white_page_to_paint_on(make_window, colour_network):
    window = make_window(model=str(colour_network))
    document, canvas = window.document, window.canvas_panel.canvas
    source = document.source
    assert isinstance(source, CanvasInput) and source.is_colour and source.is_blank
    assert (source.raster == 255).all() and document.trace.blank
    canvas.set_brush_colour(QColor(255, 0, 0))
    draw_stroke(canvas, [(0.2, 0.5), (0.8, 0.5)])
    raster = document.source.raster
    assert raster.shape == (280, 280, 3)
    assert (raster[140, 60:220] == (255, 0, 0)).all()  # the middle of the stroke
    assert (raster[20] == 255).all() and (raster[260] == 255).all()  # far from it: white
    assert not document.trace.blank
    np.testing.assert_array_equal(document.trace.network_input,
                                  image_to_input(raster.astype(np.float32) / 255, CIFAR).x)
    window.undo_action.trigger()
    assert document.source is source
    window.redo_action.trigger()
    window.canvas_actions["clear"].trigger()
    assert document.source.is_colour and document.source.is_blank


def test_switching_between_digit_and_colour_networks_keeps_each_its_canvas(
        make_window, colour_network):
    window = make_window()  # the shipped lenet5: digits, exactly as before
    document, canvas, panel = window.document, window.canvas_panel.canvas, window.canvas_panel
    assert canvas.colour_picture is None and not panel.colour_button.isVisibleTo(panel)
    assert not document.source.is_colour and canvas.toolTip().startswith("Draw a digit")
    assert window.open_network(str(colour_network), ask=False)
    assert document.source.is_colour and document.source.is_blank
    assert canvas.colour_picture is not None and canvas.colour_picture.page
    assert panel.colour_button.isVisibleTo(panel)
    window.undo_action.trigger()  # back to lenet5: a black canvas again
    assert not document.source.is_colour and document.source.is_blank
    assert canvas.colour_picture is None and not panel.colour_button.isVisibleTo(panel)


# ----------------------------------------------------------------------------- receptive field
def test_a_units_receptive_field_is_boxed_on_the_colour_input_and_on_each_plane(qtbot):
    views = show_views(qtbot, make_document(rgb_dilated_net()))
    model = views.document.model
    view, controller = views.input_view, views.controller
    _, h, w = model.input_shape
    assert view.shows_planes
    rng = np.random.default_rng(1)
    units = [(index, (c, y, x)) for index, layer in enumerate(model.layers, start=1)
             if len(layer.output_shape) == 3
             for c, y, x in [tuple(int(rng.integers(n)) for n in layer.output_shape)]]
    for index, unit in units:
        hover_unit(views, index, unit)
        assert controller.hovered == (index, unit)
        clip = model.receptive_field(index - 1, unit[1], unit[2]).clipped
        box = QRectF(clip.left, clip.top, clip.right - clip.left + 1, clip.bottom - clip.top + 1)
        assert controller.input_overlay.read_item.path().boundingRect() == box
        path = view.planes_overlay.read_item.path()
        assert view.planes_overlay.read_item.isVisible()
        mosaic = view.planes_mosaic
        for channel in range(3):  # the same box in each of the R, G and B planes
            top, left = mosaic.origin(channel)
            moved = box.translated(left, top)
            assert path.contains(moved.center())
            tile_path = QPainterPath()
            tile_path.addRect(QRectF(left, top, w, h))
            assert path.intersected(tile_path).boundingRect() == moved
    views.feature_maps.set_layer(0)  # nothing hovered any more: no boxes
    assert controller.hovered is None and not view.planes_overlay.read_item.isVisible()


def test_the_effective_receptive_field_on_colour_input_is_the_finite_difference_gradient(qtbot):
    views = show_views(qtbot, make_document(rgb_dilated_net()))
    document, controller = views.document, views.controller
    # A page of random colours: no unit sits exactly on a ReLU's or a max's kink.
    noise = np.random.default_rng(2).integers(0, 256, (280, 280, 3), dtype=np.uint8)
    document.set_source(canvas_input(noise), "Paint")
    views.feature_maps.effective_check.setChecked(True)
    index, unit = 3, (2, 4, 3)
    hover_unit(views, index, unit)
    assert controller.input_overlay.heat_item.isVisible()
    # Reference: central differences on a float64 copy, every input value of the three planes.
    model = document.model.copy().astype(np.float64)
    x = document.trace.network_input.astype(np.float64)
    eps = 1e-6
    grad = np.zeros_like(x)
    for position in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[position] += eps
        down[position] -= eps
        batch = np.stack([up, down])
        out = model.trace(batch)[index]
        grad[position] = (out[0][unit] - out[1][unit]) / (2 * eps)
    heat = np.abs(grad).sum(axis=0)
    np.testing.assert_allclose(controller.heat, heat / heat.max(), atol=1e-4)
    assert controller.heat.shape == x.shape[1:]


# ----------------------------------------------------------------------------- session
def test_an_empty_canvas_becomes_the_networks_own_and_a_drawing_stays(tmp_path):
    colour = NetworkEntry(build_preset("cifar-tutorial", seed=0), contract=CIFAR)
    digits = NetworkEntry(build_preset("lenet5", seed=0))
    session = Session(digits)
    assert not session.source.is_colour and session.source.is_blank
    session.set_network(colour)
    page = session.source
    assert page.is_colour and page.is_blank and (page.raster == 255).all()
    np.testing.assert_array_equal(session.trace.input_image, np.ones((3, 32, 32), np.float32))
    session.set_network(digits)
    assert not session.source.is_colour and not session.source.raster.any()
    drawing = session.set_canvas(np.eye(280, dtype=np.uint8) * 255).source
    session.set_network(colour)
    assert session.source is drawing  # something drawn is never replaced


def test_a_painted_picture_remembers_the_opened_one_and_is_opaque_where_painted(tmp_path):
    rgba = np.zeros((6, 8, 4), dtype=np.uint8)
    rgba[..., :3] = 120
    rgba[..., 3] = 90
    Image.fromarray(rgba, "RGBA").save(tmp_path / "glass.png")
    opened = ImageInput(load_image(tmp_path / "glass.png"))
    assert opened.image.alpha is not None and opened.original is opened
    pixels = _rgb3(opened.pixels)
    pixels[2, 3] = (1.0, 0.0, 0.0)
    painted = painted_image(opened, pixels)
    again = painted_image(painted, pixels)
    assert painted.original is opened and again.original is opened
    assert painted.name == opened.name
    expected = opened.image.alpha.copy()
    expected[2, 3] = 1.0
    np.testing.assert_array_equal(painted.image.alpha, expected)
    with pytest.raises(SessionError):
        painted_image(opened, pixels[:, :4])
    with pytest.raises(SessionError):
        painted_image(opened, np.full_like(pixels, np.nan))


def _rgb3(pixels: np.ndarray) -> np.ndarray:
    return (np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels).copy()


def test_the_brush_paints_where_the_pointer_is_on_a_larger_picture_of_another_shape(
        make_window, colour_network, tmp_path):
    """A 160x120 picture fills the paper's width, centred: the stroke lands under the pointer,
    as wide on the picture as the brush outline on screen."""
    pixels = np.zeros((120, 160, 3), dtype=np.uint8)
    pixels[..., 2] = 255
    Image.fromarray(pixels).save(tmp_path / "blue.png")
    window = make_window(model=str(colour_network))
    canvas = window.canvas_panel.canvas
    assert window.open_image(tmp_path / "blue.png")
    canvas.set_brush_colour(QColor(255, 255, 0))
    canvas.set_brush_size(30)
    points = [(0.3, 0.45), (0.7, 0.45)]
    draw_stroke(canvas, points)
    paper = canvas.paper_rect()
    scale = paper.width() / 160  # screen pixels per picture pixel
    top = paper.y() + (paper.height() - 120 * scale) / 2
    ends = [canvas_point(canvas, *p) for p in (along(points)[0], along(points)[-1])]
    p0, p1 = (np.array([(q.x() - paper.x()) / scale, (q.y() - top) / scale]) for q in ends)
    radius = 30 * paper.width() / 280 / scale / 2
    painted = (window.document.source.pixels == (1, 1, 0)).all(axis=2)
    distance = segment_distance(120, 160, p0, p1)
    assert painted[distance <= radius - 1].all()
    assert not painted[distance > radius + 1].any()
    assert (window.document.source.pixels[~painted] == (0, 0, 1)).all()


def test_the_colour_button_sets_the_brush_colour_from_the_colour_dialog(
        make_window, colour_network, monkeypatch):
    window = make_window(model=str(colour_network))
    panel = window.canvas_panel
    asked = []

    def get_color(initial, parent, title):
        asked.append((initial.name(), title))
        return QColor("#3366cc")

    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(get_color))
    panel.colour_button.click()
    assert asked == [("#000000", "Brush Colour")]
    assert panel.canvas.brush_colour == QColor("#3366cc")
    assert "#3366cc" in panel.colour_button.toolTip()
    swatch = panel.colour_button.icon().pixmap(16, 16).toImage()
    assert swatch.pixelColor(8, 8) == QColor("#3366cc")
    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(lambda *a: QColor()))  # Cancel
    panel.colour_button.click()
    assert panel.canvas.brush_colour == QColor("#3366cc")
