"""One unit of a convolution over a volume, step by step (``cnnviz.display.explain_unit``): one
partial sum per input channel, each equal to a naive loop over the unit's window, their total
plus the bias equal to the trace; the channels of a colour input named R, G and B."""

import numpy as np
import pytest
from PIL import Image

from cnnviz.display import explain_unit, input_channel_names
from cnnviz.nn import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, build_preset
from cnnviz.session import NetworkEntry, Session


def colour_picture(path, seed=0, size=(40, 36)):
    """A colour PNG with smooth shapes and noise (every channel different)."""
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [np.sin(7 * x + 3 * y), np.cos(5 * y - 2 * x), x * y]
    image = np.stack(planes, axis=-1) * 0.4 + 0.5 + rng.normal(0, 0.08, (h, w, 3))
    Image.fromarray(np.uint8(np.clip(image, 0, 1) * 255)).save(path)
    return path


def odd_colour_net(seed=0):
    """A colour network whose first convolution is strided, dilated and padded unevenly, and
    whose second reads 5 channels."""
    return Sequential([
        Conv2D(out_channels=5, kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2),
               padding=(1, 2)), ReLU(),
        Conv2D(out_channels=4, kernel_size=3, padding="same"), ReLU(), MaxPool2D(2),
        Flatten(), Dense(out_features=3),
    ], input_shape=(3, 20, 17), seed=seed, name="odd-colour")


def naive_channel_sum(x, weight, layer, unit, channel):
    """Filter ``unit[0]``'s kernel for ``channel`` times the input under it, added up with
    Python loops in float64; taps outside the input (in the padding) read 0."""
    f, y, x0 = unit
    top, _, left, _ = layer.pad
    kh, kw = weight.shape[2:]
    total = 0.0
    for i in range(kh):
        for j in range(kw):
            r = y * layer.stride[0] - top + i * layer.dilation[0]
            c = x0 * layer.stride[1] - left + j * layer.dilation[1]
            if 0 <= r < x.shape[1] and 0 <= c < x.shape[2]:
                total += float(x[channel, r, c]) * float(weight[f, channel, i, j])
    return total


@pytest.mark.parametrize("build", [lambda: build_preset("vgg-small", seed=3), odd_colour_net],
                         ids=["vgg-small", "odd-colour"])
def test_every_partial_sum_equals_a_loop_and_their_total_plus_the_bias_the_trace(tmp_path, build):
    session = Session(NetworkEntry(build()))
    session.open_image(colour_picture(tmp_path / "picture.png"))
    model, acts = session.model, session.trace.activations
    rng = np.random.default_rng(7)
    checked = {}
    for layer_index, layer in enumerate(model.layers):
        if layer.kind != "Conv2D":
            continue
        weight, bias = layer.params["weight"], layer.params["bias"]
        channels = weight.shape[1]
        out = acts[layer_index + 1]
        units = list(np.ndindex(*out.shape))
        for k in rng.choice(len(units), 12, replace=False):
            unit = units[k]
            # the convolution's own output, and through the ReLU after it
            for index in (layer_index + 1, layer_index + 2):
                terms = explain_unit(model, acts, index, unit).terms
                assert terms.layer == layer_index and terms.channel_sums.shape == (channels,)
                for c in range(channels):
                    assert terms.channel_sums[c] == pytest.approx(
                        naive_channel_sum(acts[layer_index], weight, layer, unit, c),
                        rel=1e-5, abs=1e-6)
                assert terms.total == pytest.approx(float(np.sum(terms.channel_sums)), abs=1e-12)
                assert terms.bias == float(bias[unit[0]])
                assert terms.result == terms.total + terms.bias
                # float32 tolerance: the engine sums in float32, in another order
                assert terms.result == pytest.approx(float(out[unit]), rel=1e-5, abs=1e-5)
        checked[layer_index] = channels
    # the first convolution reads the colour planes, the later ones many channels
    first = min(checked)
    assert checked[first] == 3 and max(checked.values()) > 3
    names = explain_unit(model, acts, first + 1, (0, 0, 0)).terms.channel_names
    assert names == ("R", "G", "B")
    later = max(checked)
    assert explain_unit(model, acts, later + 1, (0, 0, 0)).terms.channel_names == tuple(
        f"in {k}" for k in range(checked[later]))


def test_only_a_layer_reading_a_colour_input_names_its_channels_r_g_b():
    colour = build_preset("vgg-small", seed=0)
    assert input_channel_names(colour, 0) == ["R", "G", "B"]
    assert input_channel_names(colour, 2) == [f"in {k}" for k in range(32)]
    digits = build_preset("lenet5", seed=0)
    assert input_channel_names(digits, 0) == ["in 0"]
    # three channels that are not the picture's planes: not R, G, B
    three = Sequential([Conv2D(out_channels=3, kernel_size=3), ReLU(),
                        Conv2D(out_channels=2, kernel_size=3)], input_shape=(1, 9, 9), seed=0)
    assert input_channel_names(three, 2) == ["in 0", "in 1", "in 2"]
    # an element-wise layer before the first convolution still leaves the planes as they are
    relu_first = Sequential([ReLU(), Conv2D(out_channels=2, kernel_size=3)],
                            input_shape=(3, 9, 9), seed=0)
    assert input_channel_names(relu_first, 1) == ["R", "G", "B"]
    pooled_first = Sequential([MaxPool2D(2), Conv2D(out_channels=2, kernel_size=3), ReLU(),
                               Conv2D(out_channels=3, kernel_size=1),
                               Conv2D(out_channels=2, kernel_size=1)],
                              input_shape=(3, 12, 12), seed=0)
    assert input_channel_names(pooled_first, 1) == ["R", "G", "B"]
    assert input_channel_names(pooled_first, 4) == ["in 0", "in 1", "in 2"]
