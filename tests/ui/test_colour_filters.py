"""Colour networks in the Filters panel, the Filter Editor and the step-by-step maths: colour
pictures of the first filters on one scale, linked to their R, G and B kernels both ways; one
channel of a filter edited alone (and undone); a convolution over a volume, channel by channel,
with the trace's numbers. Digit networks look as before."""

import re

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from cnnviz.nn import build_preset
from cnnviz.session import NetworkEntry
from cnnviz.ui.explore.unit_math import RESULT, UnitMathDialog
from cnnviz.ui.shared.filters_view import FiltersView

from network_views import make_document, move_mouse, settled, show_views

pytestmark = pytest.mark.gui
LEFT, NONE = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def vgg(seed=1):
    return build_preset("vgg-small", seed=seed)


def expected_pictures(weight):
    """The classic filter pictures, computed here: every filter on the layer's one scale,
    w / (2 max|w|) + 0.5, channels last."""
    top = np.abs(weight.astype(np.float64)).max()
    return np.clip(weight.transpose(0, 2, 3, 1) / (2 * top) + 0.5, 0, 1)


def colour_tiles(filters):
    """The colour pictures as the panel shows them, cut out of its mosaic: (F, kh, kw, 3)."""
    layout = filters.arrangement
    tiles = []
    for f in range(layout.filters):
        top, left = layout.tile_origin(f, -1)
        top += layout.picture_offset  # the pictures' array starts at the first one's top
        tiles.append(filters.rgb[top:top + layout.kh, left:left + layout.kw])
    return np.array(tiles)


def pixel_centre(filters, f, row):
    """Image coordinates of the centre of filter ``f``'s tile in ``row`` (-1: its colour
    picture, above the kernels; 0..C-1: its kernel for that channel; C: its bias)."""
    layout = filters.arrangement
    top, left = layout.tile_origin(f, row)
    return QPointF(left + layout.kw / 2, top + layout.kh / 2)


def hover(filters, image_point):
    move_mouse(filters.graphics.viewport(), settled(lambda: filters.graphics.mapFromScene(
        filters.image_item.mapToScene(image_point))))


def test_the_colour_pictures_are_the_weights_on_one_scale_for_the_whole_layer(qtbot):
    views = show_views(qtbot, make_document(vgg()))
    document, filters = views.document, views.filters
    assert filters.layer == 0
    weight = document.model.layers[0].params["weight"]
    np.testing.assert_allclose(colour_tiles(filters), expected_pictures(weight), atol=1e-6)

    # A faint filter stays faint (no scale of its own), and a large bias, which the pictures do
    # not show, does not wash them out.
    faint, bias = weight.copy(), document.model.layers[0].params["bias"].copy()
    faint[0] *= 0.01
    bias[1] = 40 * np.abs(weight).max()
    document.set_weights({"0.weight": faint, "0.bias": bias}, "Faint filter, large bias")
    pictures = colour_tiles(filters)
    np.testing.assert_allclose(pictures, expected_pictures(faint), atol=1e-6)
    assert np.abs(pictures[0] - 0.5).max() < 0.01
    assert np.abs(pictures[1:] - 0.5).max() > 0.3
    assert filters.rgb_top == pytest.approx(np.abs(faint).max())


def test_hovering_a_colour_picture_outlines_its_kernels_and_a_kernel_its_picture(qtbot):
    views = show_views(qtbot, make_document(vgg()))
    filters = views.filters
    weight = views.document.model.layers[0].params["weight"]
    names = [text.textItem.toPlainText() for text in filters._labels]
    assert {"R", "G", "B", "RGB", "bias"} <= set(names)

    hover(filters, pixel_centre(filters, 2, -1))
    assert filters.hovered == 2
    outline = filters.hover_item.path()
    for f in range(4):
        for row in (-1, 0, 1, 2):  # the picture and the R, G, B kernels
            assert outline.contains(pixel_centre(filters, f, row)) == (f == 2), (f, row)
    r, g, b = weight[2, :, 1, 1]
    assert views.status[-1].startswith(f"Layer 0 filter 2 in colour, row 1, col 1: "
                                       f"R {r:.4g}, G {g:.4g}, B {b:.4g}")

    hover(filters, pixel_centre(filters, 4, 1))  # filter 4's G kernel
    assert filters.hovered == 4
    outline = filters.hover_item.path()
    assert outline.contains(pixel_centre(filters, 4, -1))
    assert not outline.contains(pixel_centre(filters, 2, -1))
    assert "input channel 1 (G)" in views.status[-1]

    # Away from every filter: nothing outlined. A deeper layer: no colour row, channels numbered.
    move_mouse(filters.graphics.viewport(), filters.graphics.viewport().rect().bottomLeft())
    assert filters.hovered is None and filters.hover_item.path().isEmpty()
    filters.show_layer(2)
    assert filters.rgb is None and not filters.arrangement.colour
    assert "in 31" in [text.textItem.toPlainText() for text in filters._labels]


@pytest.fixture
def colour_editor(window, qtbot):
    window.document.set_network(NetworkEntry(vgg()))
    window.docks["filter_editor"].show()
    editor = window.filter_editor
    qtbot.waitUntil(editor.grid.isVisible)
    return editor


def weight_bytes(document):
    return {name: value.tobytes() for name, value in document.model.get_weights().items()}


def test_the_editor_changes_only_the_chosen_channel_and_undo_restores_it(window, colour_editor):
    editor, document = colour_editor, window.document
    editor.select(0, 5)
    combo = editor.channel_combo
    assert combo.isVisibleTo(editor)
    assert [combo.itemText(k) for k in range(combo.count())] == [
        "Every channel", "R (in 0)", "G (in 1)", "B (in 2)"]
    weight = document.model.layers[0].params["weight"]
    np.testing.assert_allclose(editor.preview, expected_pictures(weight)[5], atol=1e-6)
    before, steps = weight_bytes(document), document.undo_stack.count()
    original = weight.copy()

    editor.choose_channel(1)
    assert editor.grid.values.shape == (1, 3, 3)
    np.testing.assert_array_equal(editor.grid.values[0], weight[5, 1])
    assert not editor.all_channels.isEnabled()
    QTest.mouseDClick(editor.grid, LEFT, NONE, editor.grid.cell_rect(0, 1, 2).center())
    line = editor.grid.findChild(type(editor.grid._editor), "kernel_cell_editor")
    QTest.keyClicks(line, "0.75")
    QTest.keyClick(line, Qt.Key.Key_Return)
    editor.apply_operation("negate")  # the chosen channel's kernel only

    weight = document.model.layers[0].params["weight"]
    expected = original.copy()
    expected[5, 1, 1, 2] = 0.75
    expected[5, 1] = -expected[5, 1]
    np.testing.assert_array_equal(weight, expected)  # R and B of filter 5, other filters: as were
    assert document.undo_stack.count() == steps + 2
    np.testing.assert_allclose(editor.preview, expected_pictures(expected)[5], atol=1e-6)
    np.testing.assert_array_equal(editor.grid.values[0], expected[5, 1])

    document.undo()
    document.undo()
    assert weight_bytes(document) == before
    np.testing.assert_allclose(editor.preview, expected_pictures(original)[5], atol=1e-6)

    editor.choose_channel(None)
    assert editor.grid.values.shape == (3, 3, 3) and editor.grid.titles == ["R", "G", "B"]
    assert editor.all_channels.isEnabled()


def test_the_filter_being_edited_is_outlined_in_the_filters_panel(window, colour_editor, qtbot):
    filters, editor = window.filters_view, colour_editor
    window.show_workspace("explore")
    editor.select(0, 5)
    assert filters.marked == 5
    assert filters.mark_item.path().contains(pixel_centre(filters, 5, -1))
    qtbot.waitUntil(filters.isVisible)
    point = settled(lambda: filters.graphics.mapFromScene(
        filters.image_item.mapToScene(pixel_centre(filters, 7, -1))))
    QTest.mouseClick(filters.graphics.viewport(), LEFT, NONE, point)
    assert (editor.layer, editor.unit) == (0, 7) and filters.marked == 7

    def click_weight(f, channel, i, j):
        top, left = filters.arrangement.tile_origin(f, channel)
        point = settled(lambda: filters.graphics.mapFromScene(
            filters.image_item.mapToScene(QPointF(left + j + 0.5, top + i + 0.5))))
        QTest.mouseClick(filters.graphics.viewport(), LEFT, NONE, point)

    click_weight(3, 1, 1, 2)  # filter 3's G kernel, row 1, col 2: its cell is selected
    assert (editor.unit, editor.channel, editor.grid.selected) == (3, None, (1, 1, 2))
    editor.choose_channel(2)  # B alone on show: a click on a G weight shows G
    click_weight(3, 1, 2, 0)
    assert (editor.unit, editor.channel, editor.grid.selected) == (3, 1, (0, 2, 0))
    assert editor.channel_combo.currentText() == "G (in 1)"
    editor.select(2, 0)
    assert filters.marked is None  # the Filters panel shows layer 0
    filters.show_layer(2)
    assert filters.marked == 0
    # Only while the editor is in view: closed, it edits nothing, and nothing is outlined.
    window.docks["filter_editor"].close()
    assert filters.marked is None and filters.mark_item.path().isEmpty()
    window.show_filter_editor()
    assert filters.marked == 0


def test_digit_networks_keep_their_filters_and_editor(window, qtbot):
    window.docks["filter_editor"].show()
    editor, filters = window.filter_editor, window.filters_view
    editor.select(0, 0)
    assert not editor.channel_combo.isVisibleTo(editor) and editor.preview is None
    assert not editor.preview_label.isVisibleTo(editor)
    editor.select(3, 2)
    assert editor.channel_combo.isVisibleTo(editor) and editor.channel_combo.count() == 7
    assert editor.grid.titles == [f"in {k}" for k in range(6)] and editor.preview is None
    filters.show_layer(0)
    assert filters.rgb is None and not filters.arrangement.colour


def colour_picture(path, size=(40, 36)):
    """A colour PNG with smooth shapes and noise (every channel different)."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [np.sin(7 * x + 3 * y), np.cos(5 * y - 2 * x), x * y]
    image = np.stack(planes, axis=-1) * 0.4 + 0.5
    image += np.random.default_rng(0).normal(0, 0.08, (h, w, 3))
    Image.fromarray(np.uint8(np.clip(image, 0, 1) * 255)).save(path)
    return path


def test_one_unit_of_a_convolution_over_a_volume_with_r_g_b_and_a_summary_row(qtbot, tmp_path):
    document = make_document(vgg())
    document.open_image(colour_picture(tmp_path / "picture.png"))
    dialog = UnitMathDialog(document)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.show_unit(1, (4, 10, 12))
    terms = dialog.explanation.terms
    text = dialog.browser.toPlainText()
    for k, name in enumerate("RGB"):
        assert text.count(f"input channel {k} ({name})") == 2  # its partial sum, its grids
        assert RESULT.format(abs(terms.channel_sums[k])) in text
    assert f"{RESULT.format(terms.total)} " in text
    assert f"= {RESULT.format(terms.result)}" in text
    assert terms.result == pytest.approx(float(document.trace.activations[1][4, 10, 12]),
                                         rel=1e-5, abs=1e-5)

    dialog.show_unit(3, (7, 3, 3))  # the second convolution reads 32 channels
    terms = dialog.explanation.terms
    text = dialog.browser.toPlainText()
    assert len(terms.channel_sums) == 32
    assert len(re.findall(r"input channel \d", text)) == 3 * 2  # three shown: sum and grids
    assert "29 more input channels (3 to 31)" in text
    rest = float(terms.channel_sums[3:].sum())
    sign = "+" if rest >= 0 else "\u2212"
    assert f"\u2026 29 more channels: sum\n{sign} {RESULT.format(abs(rest))}" in text
    assert f"add up to {RESULT.format(rest)}" in text
    assert f"= {RESULT.format(terms.result)}" in text
    dialog.close()


def test_many_small_filters_in_a_small_panel_are_dealt_into_bands(qtbot):
    """vgg-small's 32 first filters in a small panel: two bands of 16, larger than one row of
    32; every kernel, bias and picture where the layout says, and the mouse finds them there.
    lenet5's six 5x5 filters stay in one row."""
    document = make_document(vgg())
    filters = FiltersView(document)
    qtbot.addWidget(filters)
    filters.resize(390, 300)
    filters.show()
    qtbot.waitExposed(filters)
    qtbot.waitUntil(lambda: filters.arrangement.bands > 1)
    layout = filters.arrangement
    assert layout.per_band < 32 and layout.bands * layout.per_band >= 32
    weight = document.model.layers[0].params["weight"]
    bias = document.model.layers[0].params["bias"]
    for f in range(32):
        for row in range(3):
            top, left = layout.tile_origin(f, row)
            np.testing.assert_array_equal(filters.display[top:top + 3, left:left + 3],
                                          weight[f, row])
        top, left = layout.tile_origin(f, 3)
        assert (filters.display[top:top + 3, left:left + 3] == bias[f]).all()
    np.testing.assert_allclose(colour_tiles(filters), expected_pictures(weight), atol=1e-6)
    status = []
    filters.cursor_info.connect(status.append)
    f = layout.per_band + 4  # in the second band
    hover(filters, pixel_centre(filters, f, 1))
    assert filters.hovered == f
    assert status[-1].startswith(f"Layer 0 filter {f}, input channel 1 (G), row 1, col 1")
    hover(filters, pixel_centre(filters, f, -1))
    assert filters.hovered == f and status[-1].startswith(f"Layer 0 filter {f} in colour")

    document.set_network(NetworkEntry(build_preset("lenet5", seed=0)))
    qtbot.waitUntil(lambda: filters.arrangement is not None and filters.layer == 0)
    assert filters.arrangement.bands == 1
    assert filters.display.shape == filters.mosaic.shape


@pytest.mark.parametrize("shape", [(32, 3, 3, 3, 16, True), (7, 2, 1, 1, 3, False),
                                   (5, 3, 5, 2, 2, True), (6, 1, 5, 5, 6, False)])
def test_the_band_layout_finds_every_tile_where_it_put_it(shape):
    """Every pixel of every tile maps back to its (filter, row, i, j); the background (gaps,
    room between bands, columns past the last filter) to nothing and is never a tile."""
    from cnnviz.ui.shared.filters_view import FilterLayout

    layout = FilterLayout(*shape, label_room=4)
    owner = {}
    for f in range(layout.filters):
        for row in range(-1 if layout.colour else 0, layout.channels + 1):
            top, left = layout.tile_origin(f, row)
            for i in range(layout.kh):
                for j in range(layout.kw):
                    assert layout.locate(top + i + 0.5, left + j + 0.5) == (f, row, i, j)
                    owner[(top + i, left + j)] = f
    for top, left, h, w in layout.background():
        for y in range(top, top + h):
            for x in range(left, left + w):
                assert (y, x) not in owner or (
                    layout.colour and layout.locate(y + 0.5, x + 0.5)[1] == -1)
                if (y, x) not in owner:
                    assert layout.locate(y + 0.5, x + 0.5) is None
    rows, columns = layout.shape
    assert layout.locate(-layout.head - 0.5, 0.5) is None
    assert layout.locate(rows + 0.5, 0.5) is None and layout.locate(0.5, columns + 0.5) is None
