"""Layer lists: shapes row by row, problems explained before training, the network they build."""

import numpy as np
import pytest

from cnnviz.nn import ModelError, build_preset
from cnnviz.training.architecture import (build_network, check_layers, default_layer,
                                          describe_layer, editable_layers)


def lenet5_layers():
    return editable_layers(build_preset("lenet5", seed=0))


def test_every_row_gets_its_output_shape_and_weights():
    check = check_layers(lenet5_layers())
    assert check.ok
    assert [row.output_shape for row in check.rows][:3] == [(6, 28, 28), (6, 28, 28), (6, 14, 14)]
    assert check.rows[-1].output_shape == (10,)
    assert check.params == build_preset("lenet5").param_count()


def test_a_layer_that_does_not_fit_is_explained_and_later_rows_have_no_shape():
    layers = lenet5_layers()
    layers[3]["kernel_size"] = [15, 15]      # larger than the 14x14 maps it receives
    check = check_layers(layers)
    assert not check.ok
    assert check.problem.startswith("Layer 3 (Conv2D)") and "does not fit" in check.problem
    assert check.rows[3].error and check.rows[2].output_shape == (6, 14, 14)
    assert all(row.output_shape is None and row.error is None for row in check.rows[4:])


@pytest.mark.parametrize("edit, expected", [
    (lambda layers: layers[:6], "ends in maps of shape 16\u00d75\u00d75"),
    (lambda layers: layers[:-1], "gives 84 outputs, but the data have 10 classes"),
    (lambda layers: layers + [{"kind": "Softmax"}], "Remove the final Softmax"),
    (lambda layers: [], "the network has none"),
    (lambda layers: [{"kind": "Dense", "out_features": 10}], "add a Flatten layer"),
    (lambda layers: [{"kind": "Conv2D", "out_channels": 0}], "positive number of filters"),
])
def test_networks_that_cannot_learn_digits_are_explained(edit, expected):
    check = check_layers(edit(lenet5_layers()))
    assert not check.ok and expected in check.problem


def test_the_network_built_is_the_preset_for_the_preset_s_layers():
    model = build_network(lenet5_layers(), seed=5, name="lenet5")
    preset = build_preset("lenet5", seed=5)
    for name, value in preset.named_params().items():
        np.testing.assert_array_equal(model.named_params()[name], value)
    with pytest.raises(ModelError, match="Softmax"):
        build_network(lenet5_layers() + [{"kind": "Softmax"}])


def test_layers_are_described_briefly():
    assert describe_layer(lenet5_layers()[0]) == "6 filters 5\u00d75, same"
    assert describe_layer(lenet5_layers()[2]) == "2\u00d72, stride 2"
    assert describe_layer(default_layer("Dense")) == "10 units"
    assert describe_layer({"kind": "Conv2D", "out_channels": 4, "kernel_size": [3, 5],
                           "stride": 2}) == "4 filters 3\u00d75, valid, stride 2"


def test_batch_norm_and_global_pooling_can_be_added_in_the_editor():
    layers = [default_layer("Conv2D"), default_layer("BatchNorm"), {"kind": "ReLU"},
              default_layer("GlobalAvgPool2D"), {"kind": "Flatten"}, default_layer("Dense")]
    check = check_layers(layers)
    assert check.ok, check.problem
    assert [row.output_shape for row in check.rows][:4] == [(8, 26, 26), (8, 26, 26),
                                                           (8, 26, 26), (8, 1, 1)]
    assert check.rows[1].params == 16  # gamma and beta per channel (not the statistics)
    assert describe_layer(layers[1]) == "momentum 0.1"
    net = build_network(layers, seed=0)
    again = editable_layers(net)
    assert again[1] == {"kind": "BatchNorm", "eps": 1e-5, "momentum": 0.1}
    assert check_layers(again).ok
