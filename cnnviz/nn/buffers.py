"""numpy's buffer size while the engine's sliding-window kernels run.

Their operands are strided slices whose contiguous runs are a few hundred numbers long (a row of
a band of output rows times the batch, in the (C, H, W, N) layout).  With its default buffer of
8192 elements numpy copies such operands through its buffer in chunks of 8192 before adding or
comparing them; with a buffer no larger than a run it works on the slices in place, which is up
to twice as fast.  Measured on AMD EPYC with numpy 2.4, one core: the input transform of
vgg-small's second convolution (Winograd, 32 images) 5.3 -> 2.7 ms, its forward pass 11.3 ->
8.6 ms; lenet5's training step on 64 images 5.3 -> 5.0 ms with the im2col backward pass
decorated (the forward pass and pooling gained nothing, pooling lost a little: only the
functions that gain are decorated).  Only speed changes, never a result.
"""

from __future__ import annotations

import functools

import numpy as np

#: numpy's buffer size (elements) inside the functions decorated with :func:`short_buffers`.
BUFFER_ELEMENTS = 1024


def short_buffers(func):
    """Run ``func`` with numpy's buffer size set to :data:`BUFFER_ELEMENTS` (restored after)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        old = np.setbufsize(BUFFER_ELEMENTS)
        try:
            return func(*args, **kwargs)
        finally:
            np.setbufsize(old)
    return wrapper
