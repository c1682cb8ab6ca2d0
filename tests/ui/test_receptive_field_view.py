"""Receptive fields under the cursor: the windows equal the engine's and brute force's, and real
hover events over the real views draw exactly them."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF
from PySide6.QtWidgets import QApplication

from cnnviz.display import unit_windows
from cnnviz.nn import build_preset

from network_views import (brute_force_reads, hover_unit, make_document, move_mouse,
                           rgb_dilated_net, settled, show_views, unit_point)
from ui_helpers import draw_digit

NETS = {"lenet5": lambda: build_preset("lenet5", seed=0), "rgb-dilated": rgb_dilated_net}


def image_units(model):
    """Every (activation index, unit) of the image-shaped layers' outputs."""
    for index, layer in enumerate(model.layers, start=1):
        if len(layer.output_shape) == 3:
            c, h, w = layer.output_shape
            for y in range(h):
                for x in range(w):
                    yield index, (c - 1, y, x)


@pytest.mark.parametrize("name", NETS)
def test_the_window_on_the_input_is_the_engines_receptive_field(name):
    model = NETS[name]()
    count = 0
    for index, unit in image_units(model):
        field = model.receptive_field(index - 1, unit[1], unit[2])
        window = unit_windows(model, index, unit)[0]
        np.testing.assert_array_equal(window.rows, field.rows)
        np.testing.assert_array_equal(window.cols, field.cols)
        rect = field.rect
        assert window.span == (rect.top, rect.left, rect.bottom, rect.right)
        assert window.bounds == (field.clipped.top, field.clipped.left, field.clipped.bottom,
                                 field.clipped.right)
        np.testing.assert_array_equal(window.channels, np.arange(model.input_shape[0]))
        count += 1
    assert count > 1000


def _pairs(model, largest_source=1400):
    """(source, target) activation pairs small enough to brute-force."""
    shapes = [model.input_shape] + [layer.output_shape for layer in model.layers]
    return [(s, t) for t in range(1, len(shapes)) for s in range(t)
            if np.prod(shapes[s]) <= largest_source]


@pytest.mark.parametrize("name", NETS)
def test_the_windows_in_every_earlier_layer_equal_brute_force(name):
    model = NETS[name]()
    checked = 0
    for source, target in _pairs(model):
        reads = brute_force_reads(model, source, target)
        target_shape = reads.shape[1:]
        units = list(np.ndindex(*target_shape))
        step = max(1, len(units) // 60)
        for unit in units[::step]:
            window = unit_windows(model, target, unit)[source]
            moved = reads[(slice(None), *unit)].reshape(model.input_shape if source == 0 else
                                                        model.layers[source - 1].output_shape)
            expected = np.zeros_like(moved)
            if window.rows is None:
                expected[window.channels] = True
            else:
                expected[np.ix_(window.channels, window.rows, window.cols)] = True
            np.testing.assert_array_equal(moved, expected, err_msg=f"{name} {source}<-{target} "
                                                                   f"{unit}")
            checked += 1
    assert checked > 300


def _rect(top, left, bottom, right):
    return QRectF(left, top, right - left + 1, bottom - top + 1)


@pytest.mark.gui
@pytest.mark.parametrize("name", NETS)
def test_hovering_units_draws_the_engines_rectangles_on_the_input_and_earlier_layers(qtbot, name):
    model = NETS[name]()
    views = show_views(qtbot, make_document("lenet5" if name == "lenet5" else model))
    model = views.document.model
    h, w = model.input_shape[1:]
    rng = np.random.default_rng(0)
    units = list(image_units(model))
    corners = [(i, (u[0], 0, 0)) for i, u in units[:1]]
    for index, unit in corners + [units[k] for k in rng.choice(len(units), 25, replace=False)]:
        hover_unit(views, index, unit)
        assert views.controller.hovered == (index, unit)
        field = model.receptive_field(index - 1, unit[1], unit[2])
        overlay = views.controller.input_overlay
        clip, rect = field.clipped, field.rect
        assert overlay.read_item.isVisible()
        assert overlay.read_item.path().boundingRect() == _rect(clip.top, clip.left, clip.bottom,
                                                                clip.right)
        sticks_out = rect.top < 0 or rect.left < 0 or rect.bottom >= h or rect.right >= w
        assert overlay.padding_item.isVisible() == sticks_out
        if (rect.top, rect.left, rect.bottom, rect.right) != (clip.top, clip.left, clip.bottom,
                                                              clip.right):
            assert overlay.span_item.path().boundingRect() == _rect(rect.top, rect.left,
                                                                    rect.bottom, rect.right)
        fog = overlay.fog_item.image[..., 3]
        np.testing.assert_array_equal(fog == 0, field.mask(h, w))
        windows = unit_windows(model, index, unit)
        for row in views.overview.rows:
            path = row.overlay.read_item.path()
            if row.index > index:
                assert not row.overlay.read_item.isVisible()
                continue
            window = windows[row.index]
            top, left, bottom, right = window.bounds
            for channel in range(row.mosaic.count):
                y0, x0 = row.mosaic.origin(channel)
                box = _rect(y0 + top, x0 + left, y0 + bottom, x0 + right)
                assert path.contains(box.center()) == (channel in window.channels)
        assert views.status[-1].startswith(f"Layer {index - 1} ")
    fm = views.feature_maps
    fm.set_layer(index - 1)  # another layer: the unit is no longer under the pointer
    assert views.controller.hovered is None
    hover_unit(views, index, unit)
    gap = settled(lambda: fm.graphics.mapFromScene(fm.image_item.mapToScene(
        QPointF(fm.mosaic.width + fm.mosaic.gap / 2, 1.5))))
    move_mouse(fm.graphics.viewport(), gap)
    assert views.controller.hovered is None
    assert not views.controller.input_overlay.read_item.isVisible()


@pytest.mark.gui
def test_the_status_bar_states_the_unit_its_value_field_and_stride(qtbot):
    views = show_views(qtbot, make_document())
    model, trace = views.document.model, views.document.trace
    hover_unit(views, 4, (5, 3, 6))
    value = trace.activations[4][5, 3, 6]
    field = model.receptive_field_of(3)
    text = views.status[-1]
    assert f"filter 5, row 3, col 6 = {value:.4g}" in text
    assert f"receptive field {field.size[0]}\u00d7{field.size[1]}" in text
    assert f"effective stride {field.jump[0]}" in text
    hover_unit(views, 9, (17,))
    assert f"unit 17 = {trace.activations[9][17]:.4g}" in views.status[-1]
    assert "the whole input" in views.status[-1]
    assert views.controller.input_overlay.read_item.path().boundingRect() == QRectF(0, 0, 28, 28)


@pytest.mark.gui
def test_the_effective_receptive_field_is_the_gradient_of_the_unit(qtbot):
    views = show_views(qtbot, make_document())
    document, controller = views.document, views.controller
    x = document.trace.network_input[None]
    # A channel whose units (2, 2) and (2, 3) both depend on this input (a unit cut off by its
    # ReLU has no gradient, and which ones are depends on the shipped weights).
    channel = next(c for c in range(document.trace.activations[6].shape[0])
                   if all(document.model.input_gradient(x, 5, index=(c, 2, col)).any()
                          for col in (2, 3)))
    hover_unit(views, 6, (channel, 2, 2))
    assert controller.heat is None and not controller.input_overlay.heat_item.isVisible()
    views.feature_maps.effective_check.setChecked(True)
    grad = document.model.input_gradient(x, 5, index=(channel, 2, 2))[0]
    expected = np.abs(grad).sum(axis=0)
    np.testing.assert_allclose(controller.heat, expected / expected.max(), rtol=1e-6)
    assert controller.input_overlay.heat_item.isVisible()
    field = document.model.receptive_field(5, 2, 2)
    assert not controller.heat[~field.mask(28, 28)].any()  # nothing outside the exact field
    hover_unit(views, 6, (channel, 2, 3))  # another unit: a new gradient
    grad = document.model.input_gradient(x, 5, index=(channel, 2, 3))[0]
    np.testing.assert_allclose(controller.heat, np.abs(grad).sum(0) / np.abs(grad).sum(0).max(),
                               rtol=1e-6)
    views.feature_maps.effective_check.setChecked(False)
    assert controller.heat is None and not controller.input_overlay.heat_item.isVisible()


@pytest.mark.gui
def test_hovering_the_overview_reports_units_too(qtbot):
    views = show_views(qtbot, make_document())
    overview = views.overview
    row = overview.rows[3]
    top, left = row.mosaic.origin(4)
    move_mouse(overview.graphics.viewport(), settled(lambda: overview.graphics.mapFromScene(
        row.image.mapToScene(QPointF(left + 5.5, top + 7.5)))))
    assert views.controller.hovered == (3, (4, 7, 5))
    field = views.document.model.receptive_field(2, 7, 5)
    clip = field.clipped
    assert views.controller.input_overlay.read_item.path().boundingRect() == _rect(
        clip.top, clip.left, clip.bottom, clip.right)


@pytest.mark.gui
def test_the_main_window_docks_the_views_and_states_the_hovered_unit(window):
    for name in ("feature_maps", "filters", "layers"):
        dock = window.docks[name]
        assert dock.objectName() == f"{name}_dock"
        assert dock.toggleViewAction() in window.panels_menu.actions()
    draw_digit(window.canvas_panel.canvas, 7)
    trace = window.document.trace
    assert window.feature_maps.applied_version == trace.version
    assert window.layers_overview.applied_version == trace.version
    fm = window.feature_maps
    fm.set_layer(3)
    move_mouse(fm.graphics.viewport(), settled(
        lambda: unit_point(fm, fm.image_item, fm.mosaic, 2, 13, 0)))
    text = window.cursor_label.text()
    assert text.startswith("Layer 2 MaxPool2D \u00b7 channel 2, row 13, col 0 = ")
    assert "receptive field 6\u00d76 (partly in the padding)" in text
    assert "effective stride 2" in text
    assert window.receptive_field.input_overlay.padding_item.isVisible()


@pytest.mark.gui
def test_the_layers_panel_scrolls_to_the_layer_shown_large(window):
    overview, area = window.layers_overview, window.layers_area
    window.resize(1100, 640)  # the Layers dock too small for every row
    QApplication.processEvents()
    assert area.verticalScrollBar().maximum() > 0
    last = len(window.document.model.layers)
    for index in (last, 0, 6):
        window.feature_maps.set_layer(index)
        QApplication.processEvents()
        top, bottom = overview.row_span(index)
        viewport = area.viewport()
        assert 0 <= overview.mapTo(viewport, QPoint(0, top)).y()
        assert overview.mapTo(viewport, QPoint(0, bottom)).y() <= viewport.height()
