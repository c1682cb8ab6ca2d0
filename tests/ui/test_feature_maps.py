"""Feature maps, the layers overview and the filters: mosaics, colour scales, following the input
and the weights, export."""

import numpy as np
import pytest
import pyqtgraph as pg
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from cnnviz.display import (Mosaic, best_columns, nice_ceil, nonnegative_activations,
                            scale_values)
from cnnviz.nn import build_preset
from cnnviz.session import NetworkEntry, canvas_input
from cnnviz.ui.shared.colormaps import lookup_table

from network_views import digit_raster, make_document, rgb_dilated_net, settled, show_views


# --------------------------------------------------------------------------------- Qt-free parts
@pytest.mark.parametrize("shape", [(6, 28, 28), (16, 5, 5), (3, 7, 4), (1, 9, 9), (120,), (10,)])
@pytest.mark.parametrize("columns", [None, 1, 5])
def test_a_mosaic_tiles_every_value_and_finds_it_again(shape, columns):
    mosaic = Mosaic.for_shape(shape, columns)
    values = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    image = mosaic.tile(values, fill=np.nan)
    assert image.shape == mosaic.shape and image.flags.c_contiguous and image.dtype == np.float32
    assert np.count_nonzero(~np.isnan(image)) == values.size
    for top, left, height, width in mosaic.gaps():
        assert np.isnan(image[top:top + height, left:left + width]).all()
    for row, col in zip(*np.nonzero(~np.isnan(image))):
        unit = mosaic.locate(row + 0.5, col + 0.99)
        assert values[unit] == image[row, col]
    for row, col in zip(*np.nonzero(np.isnan(image))):
        assert mosaic.locate(row + 0.5, col + 0.5) is None
    assert mosaic.locate(-0.5, 0) is None and mosaic.locate(0, mosaic.shape[1] + 1) is None


def test_best_columns_fill_the_area():
    assert best_columns(16, 10, 10, 1, 1.0) == 4
    assert best_columns(16, 10, 10, 1, 4.0) == 8
    assert best_columns(6, 28, 28, 3, 100.0) == 6
    assert best_columns(6, 28, 28, 3, 0.01) == 1


def test_colour_scales_per_layer_per_map_and_network():
    maps = np.stack([np.full((2, 2), -3.0), np.full((2, 2), 0.5)]).astype(np.float32)
    display, scale = scale_values(maps, True, "layer")
    np.testing.assert_array_equal(display, maps)
    assert scale.levels == (-3.0, 3.0) and scale.signed and scale.peak == 3.0
    _, scale = scale_values(maps * 1.01, True, "layer")
    assert scale.levels == (-3.1, 3.1) and scale.peak == pytest.approx(3.03)
    display, scale = scale_values(maps, True, "map")
    np.testing.assert_allclose(display, np.stack([np.full((2, 2), -1.0), np.full((2, 2), 1.0)]))
    assert scale.levels == (-1.0, 1.0)
    display, scale = scale_values(np.abs(maps), False, "network", network_peak=7.0)
    assert scale.levels == (0.0, 7.0) and not scale.signed
    _, scale = scale_values(np.zeros((3, 2, 2)), False, "map")
    assert scale.levels == (0.0, 1.0)
    with pytest.raises(ValueError):
        scale_values(maps, True, "everything")


@pytest.mark.parametrize("value", [7.139, 0.0531, 1.0, 0.99, 123.4, 2.0000001, 3e-7])
def test_colour_bar_ends_are_rounded_up_to_two_digits(value):
    end = nice_ceil(value)
    assert value <= end < value * 1.1 + 1e-12
    assert float(f"{end:.2g}") == end


def test_which_layers_are_non_negative():
    kinds = [layer.kind for layer in build_preset("lenet5").layers]
    signs = nonnegative_activations(build_preset("lenet5"))
    assert signs[0] is True
    assert dict(zip(kinds, signs[1:])) == {"Conv2D": False, "ReLU": True, "MaxPool2D": True,
                                          "Flatten": True, "Dense": False}


def test_the_display_module_does_not_import_qt(run_python):
    code = ("import sys, cnnviz.display; "
            "print(sorted(m for m in ('PySide6', 'pyqtgraph') if m in sys.modules))")
    result = run_python(["-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


# --------------------------------------------------------------------------------- views
def expected_mosaic(view, trace, index):
    values = trace.probabilities if index == len(trace.outputs) else trace.activations[index]
    display, _ = scale_values(values, view.scale.signed, view.normalisation) \
        if index != len(trace.outputs) else (values, None)
    return view.mosaic.tile(display, fill=view.scale.levels[0])


@pytest.mark.gui
def test_every_view_follows_the_input(qtbot):
    views = show_views(qtbot, make_document(digit=7))
    document, fm, overview = views.document, views.feature_maps, views.overview
    for digit in (1, 4):
        document.set_source(canvas_input(digit_raster(digit)), f"Draw {digit}")
        trace = document.trace
        assert fm.applied_version == overview.applied_version == trace.version
        for index in (0, 1, 2, 4, 6, 9, len(trace.outputs)):
            fm.set_layer(index)
            np.testing.assert_array_equal(fm.display, expected_mosaic(fm, trace, index))
            np.testing.assert_array_equal(fm.image_item.image, fm.display)
            assert tuple(fm.image_item.levels) == fm.scale.levels
            assert fm.colour_bar.levels() == fm.scale.levels
        for row in overview.rows:
            values = (trace.probabilities if row.index == len(trace.outputs)
                      else trace.activations[row.index])
            tiled = row.mosaic.tile(values, fill=row.image.levels[0])
            np.testing.assert_array_equal(row.image.image, tiled)


@pytest.mark.gui
def test_colours_diverge_for_signed_layers_and_normalise_as_chosen(qtbot):
    views = show_views(qtbot, make_document())
    fm, trace = views.feature_maps, views.document.trace
    fm.set_layer(1)  # convolution: signed
    assert fm.scale.signed and fm.scale.levels[0] == -fm.scale.levels[1]
    np.testing.assert_array_equal(fm.image_item.lut, lookup_table("diverging"))
    assert fm.scale.peak == pytest.approx(np.abs(trace.activations[1]).max())
    assert fm.scale.levels[1] == nice_ceil(fm.scale.peak) >= fm.scale.peak
    fm.set_layer(2)  # ReLU: non-negative
    assert not fm.scale.signed and fm.scale.levels[0] == 0
    np.testing.assert_array_equal(fm.image_item.lut, lookup_table("sequential"))
    fm.set_normalisation("map")
    assert views.overview.normalisation == "map"
    for c in range(6):
        top, left = fm.mosaic.origin(c)
        tile = fm.display[top:top + 28, left:left + 28]
        peak = np.abs(trace.activations[2][c]).max()
        assert tile.max() == pytest.approx(1.0 if peak > 0 else 0.0)
    assert "own largest magnitude" in fm.caption.text()
    fm.set_normalisation("network")
    top = max(np.abs(a).max() for a in trace.outputs[:-1])
    assert fm.scale.peak == pytest.approx(top) and fm.scale.levels == (0.0, nice_ceil(top))
    fm.set_layer(len(trace.outputs))  # the output: probabilities
    np.testing.assert_allclose(fm.display[0], trace.probabilities)
    assert fm.scale.levels == (0.0, 1.0) and len(fm._labels) == 10


@pytest.mark.gui
def test_the_overview_lists_every_layer_and_a_click_opens_it_large(qtbot):
    views = show_views(qtbot, make_document())
    model, overview = views.document.model, views.overview
    assert len(overview.rows) == len(model.layers) + 1
    for row, layer in zip(overview.rows[1:], model.layers):
        text = row.label.textItem.toPlainText()
        assert layer.kind in text and "\u00d7".join(map(str, layer.output_shape)) in text
    # The parameter count is in the row's tooltip, shown when the pointer is over the row.
    row = overview.rows[4]
    point = settled(lambda: overview.graphics.mapFromScene(
        row.image.mapToScene(QPointF(2.5, 2.5))))
    QTest.mouseMove(overview.graphics.viewport(), point)
    assert overview.graphics.toolTip().startswith(
        f"3 Conv2D: 16\u00d710\u00d710 (channels \u00d7 height \u00d7 width), "
        f"{model.layers[3].param_count():,} parameters")
    row = overview.rows[6]
    point = settled(lambda: overview.graphics.mapFromScene(
        row.image.mapToScene(QPointF(2.5, 2.5))))
    QTest.mouseClick(overview.graphics.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, point)
    assert views.feature_maps.index == 6 and overview.selected == 6
    assert views.filters.layer == 3  # the convolution behind it
    views.feature_maps.layer_combo.setCurrentIndex(1)
    assert overview.selected == 1 and views.filters.layer == 0


@pytest.mark.gui
def test_the_filters_follow_the_weights_and_undo(qtbot):
    views = show_views(qtbot, make_document())
    document, filters = views.document, views.filters
    filters.show_layer(3)
    weight = document.model.layers[3].params["weight"]
    bias = document.model.layers[3].params["bias"]
    m = filters.mosaic
    f_, c_ = weight.shape[:2]
    for f, c in [(0, 0), (15, 5), (7, 2)]:
        top, left = m.origin(c * f_ + f)
        np.testing.assert_array_equal(filters.display[top:top + 5, left:left + 5], weight[f, c])
    top, left = m.origin(c_ * f_ + 9)
    assert (filters.display[top:top + 5, left:left + 5] == bias[9]).all()
    version = views.feature_maps.applied_version
    edited = weight.copy()
    edited[2, 1] = -edited[2, 1]
    document.set_param("3.weight", edited)
    top, left = m.origin(1 * f_ + 2)
    np.testing.assert_array_equal(filters.display[top:top + 5, left:left + 5], edited[2, 1])
    assert views.feature_maps.applied_version > version  # the maps follow the weights too
    document.undo()
    np.testing.assert_array_equal(filters.display[top:top + 5, left:left + 5], weight[2, 1])
    point = settled(lambda: filters.graphics.mapFromScene(
        filters.image_item.mapToScene(QPointF(left + 3.5, top + 1.5))))
    QTest.mouseMove(filters.graphics.viewport(), point)
    assert views.status[-1] == (f"Layer 3 filter 2, input channel 1, row 1, col 3: weight "
                                f"{float(weight[2, 1, 1, 3]):.4g}")


@pytest.mark.gui
def test_the_first_filters_of_a_colour_network_are_shown_in_colour(qtbot):
    views = show_views(qtbot, make_document(rgb_dilated_net()))
    filters = views.filters
    assert filters.layer == 0 and filters.rgb is not None
    weight = views.document.model.layers[0].params["weight"]
    top = np.abs(weight).max()  # one scale for the layer: its largest weight (not the biases)
    tile = filters.rgb[:3, :3]
    np.testing.assert_allclose(tile, np.clip(weight[0].transpose(1, 2, 0) / (2 * top) + 0.5, 0, 1),
                               rtol=1e-6)
    filters.show_layer(2)
    assert filters.rgb is None and not filters.rgb_item.isVisible()


@pytest.mark.gui
def test_hidden_views_catch_up_when_shown(qtbot):
    views = show_views(qtbot, make_document())
    fm = views.feature_maps
    fm.hide()
    views.document.set_source(canvas_input(digit_raster(1)), "Draw a one")
    assert fm.applied_version < views.document.trace.version
    fm.show()
    assert fm.applied_version == views.document.trace.version


@pytest.mark.gui
def test_the_overview_builds_when_shown_and_keeps_rows_for_the_same_layers(qtbot):
    views = show_views(qtbot, make_document())
    document, overview, filters = views.document, views.overview, views.filters
    views.feature_maps.set_layer(4)
    assert filters.layer == 3
    rows = list(overview.rows)
    before = rows[1].image.image.copy()
    # A new network of the same layers (a fresh run of the preset): rows and chosen layer stay,
    # and show the new network's activations.
    document.set_network(NetworkEntry(build_preset("lenet5", seed=7)))
    assert overview.rows == rows
    assert views.feature_maps.index == 4 and filters.layer == 3 and overview.selected == 4
    assert overview.applied_version == document.trace.version
    assert not np.array_equal(rows[1].image.image, before)
    # Another architecture while hidden: nothing is built until the panel is shown again.
    overview.hide()
    document.set_network(NetworkEntry(rgb_dilated_net()))
    assert overview.rows == rows and overview.row_span(1) is None
    # Its activation 4 is another layer than lenet5's: the feature maps show its first
    # convolution, and the filters follow them.
    assert views.feature_maps.index == 1 and filters.layer == 0
    overview.show()
    model = document.model
    assert len(overview.rows) == len(model.layers) + 1 and overview.rows[0] is not rows[0]
    assert overview.applied_version == document.trace.version
    assert overview.row_span(len(model.layers)) is not None


@pytest.mark.gui
def test_export_the_maps_as_png_and_the_activations_as_npy(qtbot, tmp_path):
    views = show_views(qtbot, make_document())
    fm, trace = views.feature_maps, views.document.trace
    fm.set_layer(4)
    asked = []
    fm.ask_save_path = lambda caption, suggested, _filter: (
        asked.append(suggested) or str(tmp_path / suggested))
    fm.save_npy_action.trigger()
    fm.save_png_action.trigger()
    assert asked == ["lenet5-layer3.npy", "lenet5-layer3.png"]
    saved = np.load(tmp_path / "lenet5-layer3.npy", allow_pickle=False)
    np.testing.assert_array_equal(saved, trace.activations[4])
    assert saved.dtype == np.float32
    image = np.asarray(Image.open(tmp_path / "lenet5-layer3.png").convert("RGBA"))
    h, w = fm.mosaic.shape
    factor = image.shape[0] // h
    assert image.shape[:2] == (h * factor, w * factor) and factor > 1
    colours = lookup_table("diverging")
    low, high = fm.scale.levels
    for c, y, x in [(0, 0, 0), (5, 3, 7), (15, 9, 9)]:
        top, left = fm.mosaic.origin(c)
        index = int(np.clip((trace.activations[4][c, y, x] - low) / (high - low) * 255 + 0.5,
                            0, 255))
        np.testing.assert_array_equal(image[(top + y) * factor, (left + x) * factor],
                                      colours[index])
    gap_top, gap_left, _, _ = fm.mosaic.gaps()[0]
    assert image[gap_top * factor, gap_left * factor, 3] == 0
    fm.ask_save_path = lambda *args: ""
    fm.save_png_action.trigger()  # cancelled: nothing happens


@pytest.mark.gui
def test_a_new_network_is_shown_at_the_same_layer_or_at_its_first_convolution(qtbot):
    """The layer shown large stays when the new network has the same layer at that place (index,
    kind and shape); otherwise the first convolution's maps (the first dense layer of an MLP)."""
    views = show_views(qtbot, make_document())
    document, fm, overview = views.document, views.feature_maps, views.overview

    def open_preset(name, seed=1):
        document.set_network(NetworkEntry(build_preset(name, seed=seed)))
        return fm.layer_combo.currentText()

    fm.set_layer(7)
    assert fm.layer_combo.currentText() == "6 Flatten 400"
    assert open_preset("lenet5", seed=5) == "6 Flatten 400"  # the same layers: stay
    assert fm.index == 7
    # tiny's layer 6 is a Flatten too, of 784 values: another layer, so its first convolution.
    assert open_preset("tiny") == "0 Conv2D 8\u00d728\u00d728"
    fm.set_layer(7)
    assert fm.layer_combo.currentText() == "6 Flatten 784"
    # The case: lenet5 opened after another network used to land on "6 Flatten".
    assert open_preset("lenet5") == "0 Conv2D 6\u00d728\u00d728"
    assert open_preset("mlp") == "1 Dense 128"  # no convolution: its first dense layer
    assert fm.index == 2 and overview.selected == 2
    assert views.filters.layer is None
    document.undo()  # back to lenet5 (a new network again): its first convolution
    assert fm.layer_combo.currentText() == "0 Conv2D 6\u00d728\u00d728"
    assert overview.selected == fm.index == 1 and views.filters.layer == 0


@pytest.mark.gui
def test_a_network_without_convolution_says_so_in_the_filters_panel(qtbot):
    """An MLP leaves no kernels, labels or list entries of the previous network in Filters: a
    sentence in their place says that it has no convolution filters; a CNN brings them back."""
    views = show_views(qtbot, make_document())
    document, filters = views.document, views.filters
    assert filters.graphics.isVisible() and filters._labels
    document.set_network(NetworkEntry(build_preset("mlp", seed=1)))
    qtbot.waitUntil(filters.placeholder.message.isVisible)
    assert filters.layer is None and not filters.graphics.isVisible()
    assert filters.placeholder.message.text() == "This network has no convolution filters."
    assert "no convolution" in filters.caption.text()
    texts = [item for item in filters.viewbox.addedItems if isinstance(item, pg.TextItem)]
    assert not texts and not filters._labels  # no "0 1 2 ... in 0 ... bias" of lenet5 left
    assert filters.image_item.image is None and filters.rgb is None
    assert filters.layer_combo.count() == 0 and not filters.layer_combo.isEnabled()
    assert filters.weight_at(filters.graphics.mapToScene(10, 10)) is None
    # A network with convolutions again: its filters, labelled, in place of the sentence.
    document.set_network(NetworkEntry(build_preset("tiny", seed=1)))
    qtbot.waitUntil(filters.graphics.isVisible)
    assert not filters.placeholder.message.isVisible() and filters.layer == 0
    assert filters.layer_combo.isEnabled() and filters.layer_combo.currentData() == 0
    assert len(filters._labels) == 8 + 2  # 8 filters, then "in 0" and "bias"
    assert filters.display.shape == filters.mosaic.shape


@pytest.mark.gui
def test_an_export_that_fails_half_way_leaves_the_earlier_file_whole(qtbot, tmp_path,
                                                                     monkeypatch):
    """Maps and activations are written atomically: a failure before the rename (here the
    rename itself) keeps the file that stood there and leaves no temporary file behind."""
    views = show_views(qtbot, make_document())
    fm = views.feature_maps
    fm.set_layer(1)
    for name in ("maps.png", "maps.npy"):
        (tmp_path / name).write_bytes(b"the earlier export")

    def no_rename(*args):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", no_rename)
    with pytest.raises(OSError):
        fm.save_png(tmp_path / "maps.png")
    with pytest.raises(OSError):
        fm.save_npy(tmp_path / "maps.npy")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps.npy", "maps.png"]
    for name in ("maps.png", "maps.npy"):
        assert (tmp_path / name).read_bytes() == b"the earlier export"
    fm.save_png(tmp_path / "maps.png")
    assert Image.open(tmp_path / "maps.png").format == "PNG"
