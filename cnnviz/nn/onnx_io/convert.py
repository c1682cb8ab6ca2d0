"""From a graph to a network: the walker made of its parts."""

from __future__ import annotations

import numpy as np

from .limits import MIN_OPSET
from .mapping import _LayerOps
from .reading import _opset
from .shapes import _ShapeOps
from .values import Converted, _fail, _Refused
from .walk import _WalkBase


class _Walker(_ShapeOps, _LayerOps, _WalkBase):
    """Walks a graph's nodes in order, each operator handled by its ``_op_<name>`` method."""


def convert(proto, path) -> Converted:
    """The cnnviz network of an ONNX graph (weights included), or OnnxImportError."""
    opset = _opset(proto, path)
    import onnx.defs

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        _fail(path, f"it uses ONNX operator set {opset}; cnnviz reads {MIN_OPSET} to {newest}")
    walker = _Walker(proto.graph, opset, path)
    try:
        with np.errstate(all="ignore"):  # NaN and overflow are checked where they matter
            return walker.run()
    except _Refused as exc:
        _fail(path, str(exc))
