"""One unit, step by step: every term equals the trace (and the loop reference), and a click on a
unit opens its calculation, which follows the input."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from cnnviz.display import ELEMENTWISE_KINDS, explain_unit
from cnnviz.nn import reference
from cnnviz.example_networks import shipped_network
from cnnviz.session import NetworkEntry, Session, canvas_input
from cnnviz.ui.explore.unit_math import RESULT, explanation_html

from network_views import (digit_raster, make_document, rgb_dilated_net, settled, show_views,
                           unit_point)

NETS = {"lenet5": lambda: shipped_network()[0],
        "rgb-dilated": lambda: NetworkEntry(rgb_dilated_net())}


def window_layer(model, index):
    """The convolution or pooling layer behind activation ``index`` (through element-wise
    layers), or None."""
    layer = index - 1
    while layer >= 0 and model.layers[layer].kind in ELEMENTWISE_KINDS:
        layer -= 1
    kinds = ("Conv2D", "MaxPool2D", "AvgPool2D")
    return layer if layer >= 0 and model.layers[layer].kind in kinds else None


def padded_window(layer, x, rows, cols):
    """The reference window: ``x`` (C, H, W) padded with zeros as the layer pads, at the taps."""
    top, bottom, left, right = layer.pad
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    return xp[:, rows + top][:, :, cols + left]


@pytest.mark.parametrize("name", NETS)
def test_every_term_equals_the_trace_and_the_reference(name):
    session = Session(NETS[name](), canvas_input(digit_raster(4)))
    model, acts = session.model, session.trace.activations
    rng = np.random.default_rng(1)
    explained, loops = 0, {}
    for index in range(1, len(acts)):
        source = window_layer(model, index)
        units = list(np.ndindex(*acts[index].shape))
        for unit in [units[k] for k in rng.choice(len(units), min(40, len(units)), replace=False)]:
            explanation = explain_unit(model, acts, index, unit)
            if source is None:
                assert explanation is None
                continue
            c, y, x = unit
            terms, layer = explanation.terms, model.layers[source]
            assert terms.layer == source and terms.kind == layer.kind
            channels = slice(None) if layer.kind == "Conv2D" else slice(c, c + 1)
            np.testing.assert_array_equal(terms.inputs,
                                          padded_window(layer, acts[source], terms.rows,
                                                        terms.cols)[channels])
            if layer.kind == "Conv2D":
                np.testing.assert_array_equal(terms.weights, layer.params["weight"][c])
                np.testing.assert_array_equal(terms.products, terms.inputs * terms.weights)
                if source not in loops:
                    loops[source] = reference.conv2d(
                        acts[source][None].astype(np.float64),
                        layer.params["weight"].astype(np.float64),
                        layer.params["bias"].astype(np.float64), layer.stride, layer.dilation,
                        layer.pad)[0]
                assert terms.result == pytest.approx(loops[source][c, y, x], rel=1e-6, abs=1e-6)
            elif layer.kind == "MaxPool2D":
                assert terms.inputs[0][terms.chosen] == terms.result
                assert not terms.padded[terms.chosen]
            # the window layer's own output, then each element-wise layer, as the trace holds them
            assert [s[0] for s in explanation.steps] == list(range(source, index))
            for step_layer, _, value in explanation.steps:
                assert value == acts[step_layer + 1][unit]
            assert terms.result == pytest.approx(explanation.steps[0][2], rel=1e-5, abs=1e-5)
            assert RESULT.format(terms.result) == RESULT.format(explanation.steps[0][2])
            explained += 1
    assert explained > 150


def click_unit(views, index, unit):
    fm = views.feature_maps
    fm.set_layer(index)
    tile, y, x = (unit[0], 0, 0) if len(unit) == 1 else unit
    point = settled(lambda: unit_point(fm, fm.image_item, fm.mosaic, tile, y, x))
    QTest.mouseClick(fm.graphics.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, point)


@pytest.mark.gui
def test_clicking_a_unit_opens_its_calculation_which_follows_the_input(qtbot):
    views = show_views(qtbot, make_document(digit=7))
    document, controller = views.document, views.controller
    click_unit(views, 5, (3, 5, 4))  # ReLU after the second convolution
    dialog = controller.dialog
    qtbot.addWidget(dialog)
    assert dialog.isVisible()
    explanation = dialog.explanation
    assert explanation.index == 5 and explanation.unit == (3, 5, 4)
    assert explanation.value == document.trace.activations[5][3, 5, 4]
    text = dialog.browser.toPlainText()
    assert text.count("input channel") >= 6
    assert f"= {RESULT.format(explanation.terms.result)}" in text
    relu = f"ReLU({RESULT.format(explanation.steps[0][2])}) = {RESULT.format(explanation.value)}"
    assert relu in text

    document.set_source(canvas_input(digit_raster(1)), "Draw a one")
    assert dialog.explanation is not explanation
    assert dialog.explanation.value == document.trace.activations[5][3, 5, 4]
    assert f"= {RESULT.format(dialog.explanation.terms.result)}" in dialog.browser.toPlainText()

    click_unit(views, 3, (2, 0, 0))  # max pooling in the corner
    terms = dialog.explanation.terms
    assert terms.kind == "MaxPool2D"
    assert f"{RESULT.format(terms.result)}" in dialog.browser.toPlainText()
    click_unit(views, 1, (0, 0, 0))  # a padded corner of the first convolution
    assert dialog.explanation.terms.padded.any()
    assert "pad" in dialog.browser.toPlainText()
    dialog.close()


@pytest.mark.gui
def test_a_dense_unit_has_no_step_by_step_view(qtbot):
    views = show_views(qtbot, make_document())
    click_unit(views, 8, (5,))
    assert views.controller.dialog is None
    assert views.status[-1].startswith("Step by step: click a unit of a convolution")


def window_reaches_padding(layer, input_shape, y, x) -> bool:
    """Whether unit (y, x) of a convolution or pooling layer reads outside its input, from the
    layer's own padding, stride, dilation and kernel (independently of ``explain_unit``)."""
    kh, kw = layer.kernel_size if layer.kind == "Conv2D" else layer.size
    dh, dw = layer.dilation if layer.kind == "Conv2D" else (1, 1)
    top, _, left, _ = layer.pad
    _, h, w = input_shape
    rows = y * layer.stride[0] - top + dh * np.arange(kh)
    cols = x * layer.stride[1] - left + dw * np.arange(kw)
    return bool(rows.min() < 0 or rows.max() >= h or cols.min() < 0 or cols.max() >= w)


@pytest.mark.parametrize("name", NETS)
def test_the_padding_is_mentioned_only_when_the_window_reaches_into_it(name):
    """lenet5's 'same' first convolution: its border units read the padding, its centre units do
    not; its 'valid' second convolution never does. The text says so exactly then."""
    session = Session(NETS[name](), canvas_input(digit_raster(4)))
    model, acts = session.model, session.trace.activations
    seen = {True: 0, False: 0}
    for source, layer in enumerate(model.layers):
        if layer.kind not in ("Conv2D", "AvgPool2D"):
            continue
        _, ho, wo = layer.output_shape
        for y, x in np.ndindex(ho, wo):
            explanation = explain_unit(model, acts, source + 1, (0, y, x))
            summary = explanation_html(explanation, model, acts).split("<hr>")[0]
            expected = window_reaches_padding(layer, layer.input_shape, y, x)
            assert ("padding" in summary) == expected, (source, y, x, summary)
            seen[expected] += 1
    assert seen[True] and seen[False]
    if name == "lenet5":
        valid = model.layers[3]
        assert valid.pad == (0, 0, 0, 0)
        assert not any(window_reaches_padding(valid, valid.input_shape, y, x)
                       for y, x in np.ndindex(*valid.output_shape[1:]))
        assert window_reaches_padding(model.layers[0], model.input_shape, 0, 0)
        assert not window_reaches_padding(model.layers[0], model.input_shape, 14, 14)


def bn_session():
    """A colour network with a convolution, batch normalisation (trained statistics), ReLU,
    average pooling that counts its padding and a global average."""
    from cnnviz.nn import (AvgPool2D, BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool2D, ReLU,
                           Sequential)

    net = Sequential([Conv2D(out_channels=4, kernel_size=3, padding=1), BatchNorm(), ReLU(),
                      AvgPool2D(3, 2, padding=1, count_include_pad=True), GlobalAvgPool2D(),
                      Flatten(), Dense(out_features=3)], (3, 60, 60), seed=2, name="bn")
    net.forward(np.random.default_rng(0).random((8, 3, 60, 60), dtype=np.float32),
                training=True)
    return Session(NetworkEntry(net), canvas_input(digit_raster(4)))


def test_a_batch_norm_step_shows_its_formula_with_the_numbers():
    session = bn_session()
    model, acts = session.model, session.trace.activations
    explanation = explain_unit(model, acts, 3, (2, 5, 6))
    html = explanation_html(explanation, model, acts)
    norm = explanation.norms[1]
    summary = html.split("<hr>")[0]
    assert "BatchNorm (channel 2)" in summary and "running mean" in summary
    for number in (norm.gamma, norm.value, abs(norm.mean), norm.var, abs(norm.beta)):
        assert RESULT.format(number) in summary
    assert f"<b>{RESULT.format(float(acts[2][2, 5, 6]))}</b>" in summary  # the BatchNorm output
    assert f"ReLU({RESULT.format(float(acts[2][2, 5, 6]))})" in summary


def test_an_average_counting_its_padding_says_so_and_a_global_one_skips_the_grid():
    session = bn_session()
    model, acts = session.model, session.trace.activations
    corner = explanation_html(explain_unit(model, acts, 4, (1, 0, 0)), model, acts)
    summary = corner.split("<hr>")[0]
    assert "5 of its 9 taps lie in the padding and count as 0" in summary
    assert "divided by 9" in summary
    whole = explanation_html(explain_unit(model, acts, 5, (3, 0, 0)), model, acts)
    assert "whole map's 900 values" in whole and "<table" not in whole.split("<hr>")[1]
