"""Where data meets a network: the shape check every command and panel shares."""

import numpy as np
import pytest

from cnnviz.data import InputShapeError, check_network_input, input_shape_of


def test_the_network_input_check_names_both_shapes():
    grey = np.zeros((4, 28, 28), np.uint8)
    assert input_shape_of(grey) == (1, 28, 28)
    check_network_input((1, 28, 28), grey)                      # fits: no error
    with pytest.raises(InputShapeError) as caught:
        check_network_input((3, 32, 32), grey, "the test digits")
    assert caught.value.network_shape == (3, 32, 32) and caught.value.data_shape == (1, 28, 28)
    message = str(caught.value)
    assert "takes 3x32x32" in message and "the test digits are 1x28x28" in message
    assert "choose a network made for 1x28x28 images" in message
    with pytest.raises(InputShapeError):                         # same pixels, other layout
        check_network_input((1, 32, 28), np.zeros((2, 28, 32), np.uint8))
