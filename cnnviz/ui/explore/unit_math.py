"""One unit, step by step: the calculation of a convolution or pooling unit as textbooks draw it.

For a convolution unit (a convolution over a volume): per input channel, the input window, the
kernel and their element-wise products with their sum, the channel's partial sum (R, G and B on
a colour input); then the partial sums added up, the bias, and every element-wise layer after it
(the activation). Many input channels: the first few one by one, the others in one summary
row. For a pooling unit: the window with the chosen maximum, or the mean (over the taps inside
the map, or over the whole window when the layer counts its padding; a global average over the
whole map, drawn as a grid only when small). A batch normalisation after the window shows its
formula with the channel's numbers: gamma * (x - mean) / sqrt(var + eps) + beta.
The numbers come from :func:`cnnviz.display.explain_unit`, which reads the trace and the current
weights; the dialog follows both.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from cnnviz.display import (NormTerms, UnitExplanation, WindowTerms, explain_unit,
                            nonnegative_activations, peak)
from cnnviz.ui.shared.colormaps import text_colour, to_rgba, value_table
from cnnviz.ui.window.document import Document

PADDING_CELL = "#9a9a9a"
CELL = "{:.3f}"
RESULT = "{:.4f}"


def _cell(value: float, levels, table, padded=False, chosen=False) -> str:
    if padded:
        return (f'<td align="right" bgcolor="{PADDING_CELL}" '
                f'style="color:#eee; white-space:nowrap"><i>pad</i></td>')
    rgba = to_rgba(np.array([value]), levels, table)[0]
    style = f"color:{text_colour(rgba)}; white-space:nowrap"
    text = CELL.format(value)
    if chosen:
        text = f"<b><u>{text}</u></b>"
    return (f'<td align="right" bgcolor="#{rgba[0]:02x}{rgba[1]:02x}{rgba[2]:02x}" '
            f'style="{style}">{text}</td>')


def grid_html(values: np.ndarray, levels, table, rows=None, cols=None, padded=None,
              chosen=None) -> str:
    """A (kh, kw) grid of numbers as an HTML table, coloured; optional headers of input rows and
    columns, padded cells greyed, one ``chosen`` cell underlined."""
    out = ['<table cellspacing="1" cellpadding="3">']
    if cols is not None:
        out.append("<tr><td></td>" + "".join(f'<td align="center"><small>{c}</small></td>'
                                               for c in cols) + "</tr>")
    for i in range(values.shape[0]):
        cells = "" if rows is None else f"<td><small>{rows[i]}</small></td>"
        cells += "".join(_cell(float(values[i, j]), levels, table,
                               padded is not None and bool(padded[i, j]), chosen == (i, j))
                         for j in range(values.shape[1]))
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "".join(out)


def _scale(values: np.ndarray, signed: bool) -> tuple[tuple[float, float], np.ndarray]:
    top = peak(values)
    return ((-top, top) if signed else (0.0, top)), value_table(signed)


def explanation_html(explanation: UnitExplanation, model, activations) -> str:
    """The whole calculation of ``explanation`` as HTML: the result and the activation first,
    then the window term by term."""
    terms = explanation.terms
    c, y, x = explanation.unit
    signed_input = (not nonnegative_activations(model)[terms.layer]
                    or activations[terms.layer].min() < 0)
    input_scale = _scale(activations[terms.layer], signed_input)
    head = (f"<h3>Layer {terms.layer} {terms.kind}: "
            f"{'filter' if terms.kind == 'Conv2D' else 'channel'} {c}, row {y}, col {x}</h3>")
    if terms.kind == "Conv2D":
        summary, details = _conv_html(terms, input_scale)
    else:
        summary, details = _pool_html(terms, c, input_scale)
    check = (f"<p>The trace holds <b>{RESULT.format(explanation.steps[0][2])}</b> for this unit "
             f"of layer {terms.layer}.</p>")
    steps = [_norm_html(explanation.norms[layer], value) if layer in explanation.norms else
             f"<p>Layer {layer} {kind}: {kind}({RESULT.format(before)}) = "
             f"<b>{RESULT.format(value)}</b></p>"
             for (_, _, before), (layer, kind, value) in zip(explanation.steps,
                                                             explanation.steps[1:])]
    return head + summary + check + "".join(steps) + "<hr>" + details


def _norm_html(norm: NormTerms, value: float) -> str:
    """A batch normalisation step: the formula, then the channel's numbers put in."""
    root = "\u221a"
    return (f"<p>Layer {norm.layer} BatchNorm (channel {norm.channel}): "
            f"\u03b3\u00b7(x \u2212 \u03bc) / {root}(\u03c3\u00b2 + \u03b5) + \u03b2, with "
            f"the running mean \u03bc and variance \u03c3\u00b2 gathered in training:<br>"
            f"{RESULT.format(norm.gamma)} \u00b7 ({RESULT.format(norm.value)} "
            f"{_signed(-norm.mean)}) / {root}({RESULT.format(norm.var)} + {norm.eps:g}) "
            f"{_signed(norm.beta)} = <b>{RESULT.format(value)}</b></p>")


def _signed(value: float) -> str:
    """``"+ 0.1234"`` or ``"\u2212 0.1234"``: a term added to a sum."""
    return f"{'+' if value >= 0 else chr(0x2212)} {RESULT.format(abs(value))}"


#: Up to this many input channels, every one is shown; beyond, the first :data:`SHOWN_CHANNELS`
#: are, and one summary row gives the partial sum of all the others.
ALL_CHANNELS_UP_TO = 8
SHOWN_CHANNELS = 3


def channel_title(terms: WindowTerms, k: int) -> str:
    """``"input channel 0 (R)"`` on a colour input, ``"input channel 3"`` otherwise."""
    names = terms.channel_names
    name = names[k] if k < len(names) else f"in {k}"
    return f"input channel {k}" + ("" if name == f"in {k}" else f" ({name})")


def shown_channels(count: int) -> int:
    """How many input channels a calculation shows one by one (the rest in a summary row)."""
    return count if count <= ALL_CHANNELS_UP_TO else SHOWN_CHANNELS


def _conv_html(terms: WindowTerms, input_scale) -> tuple[str, str]:
    weight_scale = _scale(terms.weights, True)
    product_scale = _scale(terms.products, True)
    sums = terms.channel_sums
    count = len(sums)
    shown = shown_channels(count)
    taps_r, taps_c = range(terms.weights.shape[1]), range(terms.weights.shape[2])
    window = (terms.rows, terms.cols, terms.padded)
    rows = ['<table cellspacing="6">']
    for k in range(shown):
        rows.append(
            f'<tr><td colspan="6"><b>{channel_title(terms, k)}</b></td></tr>'
            f"<tr><td>{grid_html(terms.inputs[k], *input_scale, *window)}</td>"
            f'<td valign="middle">\u00d7</td>'
            f"<td>{grid_html(terms.weights[k], *weight_scale, taps_r, taps_c)}</td>"
            f'<td valign="middle">=</td>'
            f"<td>{grid_html(terms.products[k], *product_scale, *window)}</td>"
            f'<td valign="middle">\u03a3 = {RESULT.format(sums[k])}</td></tr>')
    rows.append("</table>")
    if shown < count:
        rest = count - shown
        rows.append(f"<p>\u2026 and {rest} more input channels ({shown} to {count - 1}), each "
                    f"the same way: their partial sums add up to "
                    f"<b>{RESULT.format(float(sums[shown:].sum()))}</b>.</p>")
    kernel = "\u00d7".join(map(str, terms.weights.shape[1:]))
    channels = f"{count} input channel{'s' if count > 1 else ''}"
    summary = (f"<p>Each input channel's window (rows {_list(terms.rows)}, cols "
               f"{_list(terms.cols)}{_padding_note(terms, 'read 0')}) times the filter's {kernel} "
               f"kernel for that channel, element by element, and summed: one partial sum per "
               f"channel. The {channels}' partial sums added up, then the bias:</p>"
               + _sums_table(terms, shown) +
               f"<p><b>{RESULT.format(terms.total)} {_signed(terms.bias)} = "
               f"{RESULT.format(terms.result)}</b></p>")
    return summary, "".join(rows)


def _sums_table(terms: WindowTerms, shown: int) -> str:
    """The partial sums, one row per shown channel, a summary row for the others, the total."""
    sums = terms.channel_sums
    out = ['<table cellspacing="3">']
    for k in range(shown):
        out.append(f"<tr><td>{channel_title(terms, k)}</td>"
                   f'<td align="right">{_signed(float(sums[k]))}</td></tr>')
    if shown < len(sums):
        rest = len(sums) - shown
        out.append(f"<tr><td>\u2026 {rest} more channels: sum</td>"
                   f'<td align="right">{_signed(float(sums[shown:].sum()))}</td></tr>')
    out.append(f"<tr><td><b>total over the channels</b></td>"
               f'<td align="right"><b>{RESULT.format(terms.total)}</b></td></tr></table>')
    return "".join(out)


#: Windows of more taps than this (a global average over a large map) are not drawn as a grid.
MAX_GRID_TAPS = 400


def _pool_html(terms: WindowTerms, channel: int, input_scale) -> tuple[str, str]:
    taps = terms.inputs[0].size
    if taps > MAX_GRID_TAPS:
        grid = (f"<p>The window covers {terms.inputs[0].shape[0]}\u00d7"
                f"{terms.inputs[0].shape[1]} = {taps:,} values: too many to draw one by one "
                f"here (the Feature Maps show the map).</p>")
    else:
        grid = grid_html(terms.inputs[0], *input_scale, terms.rows, terms.cols, terms.padded,
                         terms.chosen)
    name = terms.channel_names[0] if terms.channel_names else f"in {channel}"
    named = "" if name == f"in {channel}" else f" ({name})"
    where = (f"input channel {channel}{named}, rows {_list(terms.rows)}, "
             f"cols {_list(terms.cols)}")
    if terms.kind == "MaxPool2D":
        i, j = terms.chosen
        summary = (f"<p>The largest value of the window ({where}), at row {terms.rows[i]}, "
                   f"col {terms.cols[j]} (underlined): <b>{RESULT.format(terms.result)}</b></p>")
    else:
        count = int(np.count_nonzero(~terms.padded))
        total = float(terms.inputs[0][~terms.padded].sum(dtype=np.float64))
        whole = "the whole map" if terms.kind == "GlobalAvgPool2D" else "the window"
        if terms.divisor != count:  # count_include_pad: the padded taps add 0 to the sum
            summary = (f"<p>The mean of {whole}'s {terms.divisor} taps ({where}"
                       f"{_padding_note(terms, 'count as 0')}): the sum of the {count} values "
                       f"inside the image, {RESULT.format(total)}, divided by "
                       f"{terms.divisor} = <b>{RESULT.format(terms.result)}</b></p>")
        else:
            inside = " inside the image" if terms.padded.any() else ""
            summary = (f"<p>The mean of {whole}'s {count:,} values{inside} ({where}"
                       f"{_padding_note(terms, 'are left out')}): {RESULT.format(total)} / "
                       f"{count:,} = <b>{RESULT.format(terms.result)}</b></p>")
    return summary, grid


def _padding_note(terms: WindowTerms, what: str) -> str:
    """``"; 3 of its 25 taps lie in the padding and read 0"``, or "" when the unit's window
    stays inside the image (a 'valid' layer, or a unit away from the border of a padded one)."""
    padded = int(np.count_nonzero(terms.padded))
    if not padded:
        return ""
    verb = "lies" if padded == 1 else "lie"
    return f"; {padded} of its {terms.padded.size} taps {verb} in the padding and {what}"


def _list(values) -> str:
    values = [int(v) for v in values]
    steps = set(np.diff(values)) if len(values) > 1 else {1}
    if steps == {1}:
        return f"{values[0]}\u2026{values[-1]}"
    return ", ".join(map(str, values))


class UnitMathDialog(QDialog):
    """A non-modal window with the calculation of one unit; it follows the trace.

    Attributes
    ----------
    explanation : UnitExplanation or None
        The calculation on display.
    """

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("unit_math_dialog")
        self.setWindowTitle("One unit, step by step")
        self.document = document
        self.index, self.unit = 0, None
        self.explanation: UnitExplanation | None = None
        self.browser = QTextBrowser(objectName="unit_math_browser")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(760, 560)
        document.trace_changed.connect(self._on_trace_changed)
        document.model_changed.connect(self._on_model_changed)

    def show_unit(self, index: int, unit) -> None:
        """Show the calculation of unit ``unit`` of activation ``index``."""
        self.index, self.unit = index, tuple(int(v) for v in unit)
        self._refresh()

    def _refresh(self) -> None:
        model, trace = self.document.model, self.document.trace
        self.explanation = explain_unit(model, trace.activations, self.index, self.unit)
        if self.explanation is None:
            self.browser.setHtml("<p>No step-by-step view for this unit.</p>")
            return
        terms = self.explanation.terms
        self.setWindowTitle(f"Step by step \u2014 layer {terms.layer} {terms.kind}, "
                            f"unit {self.unit}")
        self.browser.setHtml(explanation_html(self.explanation, model, trace.activations))

    @Slot(object)
    def _on_trace_changed(self, _trace) -> None:
        if self.unit is not None and self.isVisible():
            self._refresh()

    @Slot(object)
    def _on_model_changed(self, _network) -> None:
        self.unit, self.explanation = None, None
        self.close()
