"""cnnviz.nn.buffers: the engine's kernels run with a short numpy buffer, and leave the caller's
buffer size as it was, also when they fail."""

import numpy as np
import pytest

from cnnviz.nn import buffers, ops


def test_short_buffers_sets_and_restores_the_buffer_size():
    seen = []

    @buffers.short_buffers
    def kernel(fail=False):
        seen.append(np.getbufsize())
        if fail:
            raise ValueError("bad input")
        return 7

    before = np.getbufsize()
    assert kernel() == 7
    assert np.getbufsize() == before
    with pytest.raises(ValueError):
        kernel(fail=True)
    assert np.getbufsize() == before
    assert seen == [buffers.BUFFER_ELEMENTS] * 2


def test_convolution_leaves_the_buffer_size_alone():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)  # (C, H, W, N)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    before = np.getbufsize()
    y, xp = ops.conv_forward(x, w, None, (1, 1), (1, 1), (1, 1, 1, 1), (5, 5))
    ops.conv_backward(np.ones_like(y), xp, w, False, x.shape, (1, 1), (1, 1), (1, 1, 1, 1))
    assert np.getbufsize() == before
