"""Operators computed at import on constants only (shape arithmetic), by onnx's reference
implementation of that one operator, their sizes checked first."""

from __future__ import annotations

import math

import numpy as np

from .limits import (MAX_FOLDED_OUTPUT)
from .values import _node_text, _Refused


#: Operators computed at import when all their inputs are constants (shape arithmetic).
_FOLDABLE = {"Add", "Sub", "Mul", "Div", "Concat", "Gather", "Cast", "Unsqueeze", "Squeeze",
             "Reshape", "Flatten", "Transpose", "Slice", "Range", "Floor", "Ceil", "Sqrt",
             "Neg", "Abs", "Min", "Max", "ReduceProd", "Equal", "Where", "Not", "Less", "Greater",
             "ConstantOfShape", "Expand", "Identity", "MatMul"}
_SIZE_LIMITED = {"ConstantOfShape", "Expand", "Range"}


def _run_one(node, arrays, opset):
    """One standard operator on constants, by onnx's reference implementation."""
    import onnx
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    if node.op_type in _SIZE_LIMITED:
        # Their output size is a value, not a size: check it first.
        target = arrays[0] if node.op_type != "Range" else None
        if node.op_type == "Range":
            start, limit, delta = (float(a.reshape(-1)[0]) for a in arrays[:3])
            count = math.ceil((limit - start) / delta) if delta else math.inf
        elif node.op_type == "Expand":
            count = math.prod(int(v) for v in np.maximum(arrays[1].reshape(-1), 1)) \
                * max(arrays[0].size, 1)
        else:
            count = math.prod(int(v) for v in target.reshape(-1))
        if not 0 <= count <= MAX_FOLDED_OUTPUT:
            raise _Refused(f"{_node_text(node)} makes a constant too large to follow")
    names = [f"in{i}" if a is not None else "" for i, a in enumerate(arrays)]
    feeds = {n: a for n, a in zip(names, arrays) if n}
    outs = [f"out{i}" for i in range(len(node.output))]
    clone = helper.make_node(node.op_type, names, outs)
    clone.attribute.extend(node.attribute)
    graph = helper.make_graph(
        [clone], "fold",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for n, a in feeds.items()],
        [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]
    except Exception as exc:  # noqa: BLE001 - any failure on the file's constants is its problem
        from ..io import clean_text

        raise _Refused(f"{_node_text(node)} cannot be computed "
                       f"({clean_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 80)})") from None

