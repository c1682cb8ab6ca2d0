"""What the panels say about an opened image: no ink found, and the scale of a large image."""

import pytest
from PIL import Image, ImageDraw

from cnnviz.ui.explore.input_view import percent

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("value, text", [(0.004, "0.40%"), (0.0033, "0.33%"), (0.042, "4.2%"),
                                         (0.25, "25%"), (1.0, "100%"), (2.5, "250%"),
                                         (0.000012, "0.0012%")])
def test_percent_keeps_two_significant_digits(value, text):
    assert percent(value) == text


def test_an_opened_image_without_ink_says_so(window, tmp_path):
    path = tmp_path / "blank page.png"
    Image.new("L", (120, 90), 235).save(path)  # plain paper
    window.document.open_image(path)
    assert window.document.trace.blank
    panel = window.prediction_panel
    assert panel.confidence_label.text() == "No ink found"
    hint = panel.runner_up_label
    assert hint.text() == "in the opened image."
    assert "blank page.png" in hint.toolTip()
    assert hint.fontMetrics().horizontalAdvance(hint.text()) <= hint.width()
    assert window.input_view.caption.text().endswith("no ink found in the image")
    window.undo_action.trigger()  # back to the empty canvas: that still asks for a drawing
    assert panel.confidence_label.text() == "Nothing drawn yet"
    assert hint.text() == "Draw a digit."
    assert window.input_view.caption.text().endswith("no ink yet")


def test_the_scale_of_a_large_image_is_a_meaningful_figure(window, tmp_path):
    path = tmp_path / "poster.png"
    image = Image.new("L", (6000, 6000), 0)
    ImageDraw.Draw(image).rectangle((500, 500, 5499, 5499), outline=255, width=400)
    image.save(path, compress_level=1)
    window.document.open_image(path)
    assert window.document.source.image.original_size == (6000, 6000)
    caption = window.input_view.caption.text()
    # The 5000-pixel ink box fitted to 20 pixels: 20 / 5000 = 0.40 % of the file's pixels.
    assert "ink box scaled to 0.40% (20\u00d720)" in caption, caption
    assert "\u00d70.00" not in caption
    canvas_caption = window.canvas_panel.caption.text()
    assert "6000\u00d76000" in canvas_caption and "read at 2000\u00d72000" in canvas_caption
