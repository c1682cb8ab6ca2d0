"""The import checks itself: the converted network against ``onnx.reference.ReferenceEvaluator``
running the original graph."""

from __future__ import annotations

import math

import numpy as np

from ..budget import estimate
from .limits import (MAX_VERIFY_BATCH, VERIFY_ATOL, VERIFY_ONE_IMAGE_MACS, VERIFY_RTOL)
from .values import N, Converted, _fail


def reference_evaluator(proto):
    """``onnx.reference.ReferenceEvaluator`` for ``proto``, with two operators as ONNX defines
    them where onnx 1.23's reference does not:

    - LRN: the reference loops over the batch instead of the channels (every channel from the
      batch size on is left unnormalised);
    - BatchNormalization with one output (inference: the given mean and variance), which the
      reference of opsets 7-8 runs in training mode (returning a tuple) and that of opsets 9-13
      mixes with the batch's own statistics whenever the node has a ``momentum`` attribute
      (PyTorch writes one).  The importer refuses every training-mode form, so inference is all
      this needs to compute."""
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun

    class LRN(OpRun):
        op_domain = ""

        def _run(self, x, alpha=None, beta=None, bias=None, size=None):
            alpha = 1e-4 if alpha is None else alpha
            beta = 0.75 if beta is None else beta
            bias = 1.0 if bias is None else bias
            channels = x.shape[1]
            square_sum = np.zeros_like(x)
            for c in range(channels):  # the operator's definition, channel by channel
                first = max(0, c - math.floor((size - 1) / 2))
                last = min(channels - 1, c + math.ceil((size - 1) / 2))
                square_sum[:, c] = (x[:, first:last + 1] ** 2).sum(axis=1)
            return ((x / (bias + alpha / size * square_sum) ** beta).astype(x.dtype),)

    class BatchNormalization(OpRun):
        op_domain = ""

        def _run(self, x, scale, bias, mean, var, epsilon=None, momentum=None, spatial=None,
                 is_test=None, training_mode=None):
            epsilon = 1e-5 if epsilon is None else epsilon
            shape = (1, -1) + (1,) * (x.ndim - 2)  # per channel: axis 1
            y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon)
            return ((y * scale.reshape(shape) + bias.reshape(shape)).astype(x.dtype),)

    return ReferenceEvaluator(proto, new_ops=[LRN, BatchNormalization])


def verify_import(proto, converted: Converted, path, seed: int = 0) -> float:
    """Compare the converted network with ``onnx.reference.ReferenceEvaluator`` on the original
    graph, on random inputs in [0, 1) (two images, one for networks over
    :data:`VERIFY_ONE_IMAGE_MACS` multiply-adds); returns the largest difference relative to the
    reference's largest output, and fails (OnnxImportError) beyond :data:`VERIFY_RTOL`."""
    model = converted.model
    macs = estimate(model.layers, model.input_shape).macs
    if converted.batch is not N and converted.batch > MAX_VERIFY_BATCH:
        converted.notes.append(f"not checked against the reference: the graph's batch size is "
                               f"fixed at {converted.batch:,}")
        return math.nan
    count = converted.batch if converted.batch is not N else \
        (1 if macs > VERIFY_ONE_IMAGE_MACS else 2)
    rng = np.random.default_rng(seed)
    x = rng.random((count, *model.input_shape), dtype=np.float32)
    with np.errstate(all="ignore"):  # a non-finite output is reported below
        ours = model.forward(x)
    feed = x.transpose(0, 2, 3, 1) if converted.input_layout == "nhwc" else x
    try:
        reference = reference_evaluator(proto).run(None, {converted.input_name: feed})[0]
    except Exception as exc:  # noqa: BLE001 - the reference failing on this graph is the file's
        from ..io import clean_text

        detail = clean_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 100)
        _fail(path, f"the check of the import failed: onnx's reference evaluator cannot run "
                    f"the graph ({detail})")
    reference = np.asarray(reference, dtype=np.float64)
    if converted.output_exp:
        reference = np.exp(reference)
    if reference.size != ours.size:
        _fail(path, f"the check of the import failed: the graph's output has shape "
                    f"{list(reference.shape)}, the network's {list(ours.shape)}")
    reference = reference.reshape(ours.shape)
    scale = max(float(np.abs(reference).max()), 1.0) if reference.size else 1.0
    difference = float(np.abs(ours.astype(np.float64) - reference).max()) if ours.size else 0.0
    if not np.isfinite(ours).all() or not np.isfinite(reference).all():
        _fail(path, "the check of the import failed: the network's outputs are not finite")
    if difference > VERIFY_RTOL * scale + VERIFY_ATOL:
        _fail(path, f"the check of the import failed: the converted network differs from the "
                    f"ONNX graph by {difference:.3g} (outputs up to {scale:.3g}), beyond "
                    f"float32 tolerance; cnnviz misreads some operator of this file")
    return difference / scale
