"""The operators on constants and shapes (Constant, Shape, Gather, Unsqueeze, Squeeze, Concat,
Cast, Reshape, Flatten, Transpose and what is folded at import)."""

from __future__ import annotations

import math

import numpy as np

from ..budget import MEMORY_SHARE, machine_memory
from ..layers import show_value
from .folding import _FOLDABLE, _run_one
from .limits import (MAX_FOLDED, MAX_FOLDED_OUTPUT, MAX_LIST, READ_FACTOR, _INT32, _INT64)
from .values import N, Act, Sym, _node_text, _Refused


class _ShapeOps:
    # -- constants and shapes
    def _op_Constant(self, node, inputs, attrs):
        if "value" in attrs and isinstance(attrs["value"], np.ndarray):
            value = attrs["value"]
        elif "value_float" in attrs:
            value = np.array(attrs["value_float"], np.float32)
        elif "value_floats" in attrs:
            value = np.array(attrs["value_floats"], np.float32)
        elif "value_int" in attrs:
            value = np.array(attrs["value_int"], np.int64)
        elif "value_ints" in attrs:
            value = np.array(attrs["value_ints"], np.int64)
        else:
            raise _Refused(f"{_node_text(node)} holds a kind of constant cnnviz does not read")
        self._set(node, value)

    def _op_Shape(self, node, inputs, attrs):
        value = inputs[0]
        if isinstance(value, Act):
            if value.pad is not None:
                raise _Refused(f"{_node_text(node)} reads the shape of padded data")
            items = (self.batch,) + tuple(value.shape)
        elif isinstance(value, np.ndarray):
            items = tuple(value.shape)
        else:
            items = (len(value.items),) if not value.scalar else ()
        start, end = attrs.get("start", 0), attrs.get("end", len(items))
        self._set(node, Sym(tuple(items[slice(start, end)])))

    def _op_Identity(self, node, inputs, attrs):
        value = inputs[0]
        if isinstance(value, Act):
            act = self._take(node, value)
            value = Act(act.shape, act.pos, act.layout, act.perm, act.pad, act.fresh)
        self._set(node, value)

    def _sym_or_const(self, value):
        return value if isinstance(value, Sym) else None

    def _op_Gather(self, node, inputs, attrs):
        data, indices = inputs[0], self._const(node, inputs[1], "indices")
        if isinstance(data, Act):
            raise _Refused(f"{_node_text(node)} picks parts of the network's data, which cnnviz "
                           f"cannot represent")
        if isinstance(data, np.ndarray):
            return self._fold(node, [data, indices])
        if attrs.get("axis", 0) != 0 or data.scalar or indices.dtype.kind not in "iu" \
                or indices.ndim > 1 or indices.size > MAX_LIST:
            raise _Refused(f"{_node_text(node)}: cnnviz follows Gather on a shape only along "
                           f"its one axis")
        n = len(data.items)
        picks = []
        for i in indices.reshape(-1):
            if not -n <= i < n:
                raise _Refused(f"{_node_text(node)}: index {int(i)} is out of range")
            picks.append(data.items[int(i)])
        self._set(node, Sym(tuple(picks), scalar=indices.ndim == 0))

    def _axes(self, node, inputs, attrs):
        if "axes" in attrs:
            return attrs["axes"]
        if len(inputs) > 1 and inputs[1] is not None:
            return self._ints(node, inputs[1], "axes")
        return None

    def _op_Unsqueeze(self, node, inputs, attrs):
        data = inputs[0]
        if isinstance(data, Act):
            raise _Refused(f"{_node_text(node)} adds an axis to the network's data, which "
                           f"cnnviz cannot represent")
        axes = self._axes(node, inputs, attrs)
        if isinstance(data, np.ndarray):
            if axes is None:
                raise _Refused(f"{_node_text(node)} has no axes")
            return self._set(node, np.expand_dims(data, tuple(axes)))
        if data.scalar and axes in ([0], [-1]):
            return self._set(node, Sym(data.items))
        raise _Refused(f"{_node_text(node)}: cnnviz follows Unsqueeze on a shape only from a "
                       f"single size to a vector")

    def _op_Squeeze(self, node, inputs, attrs):
        data = inputs[0]
        axes = self._axes(node, inputs, attrs)
        if isinstance(data, Act):
            act = self._act_input(node, inputs)
            rank = len(act.shape) + 1
            if axes is None:
                axes = [i for i, d in enumerate(act.shape, 1) if d == 1]
            axes = sorted(a % rank for a in axes)
            if len(act.shape) == 3 and axes == [2, 3] and act.shape[1:] == (1, 1) \
                    and act.layout == "nchw":
                out = self._add_layer(node, {"kind": "Flatten"}, shape_from=act)
                return self._set(node, out)
            raise _Refused(f"{_node_text(node)} removes axes {axes} of data of shape "
                           f"{list(act.shape)}; cnnviz follows only (N, C, 1, 1) -> (N, C)")
        if isinstance(data, np.ndarray):
            return self._set(node, np.squeeze(data, tuple(axes) if axes is not None else None))
        if not data.scalar and len(data.items) == 1:
            return self._set(node, Sym(data.items, scalar=True))
        raise _Refused(f"{_node_text(node)}: cnnviz follows Squeeze on a shape only to one size")

    def _op_Concat(self, node, inputs, attrs):
        if all(isinstance(v, np.ndarray) for v in inputs):
            return self._fold(node, inputs)
        items = []
        for value in inputs:
            if isinstance(value, Sym):
                if value.scalar:
                    raise _Refused(f"{_node_text(node)} joins a single size")
                items.extend(value.items)
            else:
                array = self._const(node, value, "input")
                if array.ndim != 1 or array.dtype.kind not in "iu" or array.size > MAX_LIST:
                    raise _Refused(f"{_node_text(node)} joins values cnnviz cannot follow")
                items.extend(int(v) for v in array)
            if len(items) > MAX_LIST:
                raise _Refused(f"{_node_text(node)} makes a shape of over {MAX_LIST} sizes")
        self._set(node, Sym(tuple(items)))

    def _op_Cast(self, node, inputs, attrs):
        data = inputs[0]
        if isinstance(data, Sym) and attrs.get("to") in (_INT64, _INT32):
            return self._set(node, data)
        if isinstance(data, Act):
            raise _Refused(f"{_node_text(node)} converts the network's data to another type")
        self._fold(node, inputs)

    def _fold(self, node, inputs):
        """A standard operator on constants only, computed by onnx's reference implementation
        of that one operator (shape arithmetic: sizes are capped)."""
        arrays = [self._const(node, v, f"input {i}") if v is not None else None
                  for i, v in enumerate(inputs)]
        if node.op_type not in _FOLDABLE:
            raise _Refused(f"{_node_text(node)}: cnnviz has no layer for the operator "
                           f"{show_value(node.op_type, 40)}")
        if sum(a.size for a in arrays if a is not None) > MAX_FOLDED:
            raise _Refused(f"{_node_text(node)} computes on constants too large to follow")
        results = _run_one(node, arrays, self.opset)
        for r in results:
            self.folded_bytes += r.nbytes
            if r.size > MAX_FOLDED_OUTPUT:
                raise _Refused(f"{_node_text(node)} makes a constant too large to follow")
        memory = machine_memory()
        if memory is not None and READ_FACTOR * self.folded_bytes > MEMORY_SHARE * memory:
            raise _Refused(f"{_node_text(node)}: the constants computed at import need more "
                           f"memory than this machine gives cnnviz")
        self._set(node, *results)

    def _op_Reshape(self, node, inputs, attrs):
        data = inputs[0]
        if not isinstance(data, Act):
            return self._fold(node, inputs)
        act = self._act_input(node, inputs)
        target = inputs[1] if len(inputs) > 1 else None
        if target is None:
            raise _Refused(f"{_node_text(node)} has no target shape")
        if isinstance(target, Sym):
            items = list(target.items)
        else:
            items = self._ints(node, target, "target shape")
        full = [self.batch, *act.shape]
        if len(items) != 2 and list(items) != full:
            return self._refuse_reshape(node, act, items)
        if attrs.get("allowzero", 0) and 0 in items:
            return self._refuse_reshape(node, act, items)
        resolved = [full[i] if v == 0 and i < len(full) else v for i, v in enumerate(items)]
        features = math.prod(act.shape)
        if len(resolved) == 2:
            first, second = resolved
            ok = ((first is self.batch or first == self.batch or first == -1)
                  and second in (-1, features)) or (first is N and second == -1)
            if first == -1 and second == -1:
                ok = False
            if not ok:
                return self._refuse_reshape(node, act, items)
            return self._set(node, self._flatten(node, act))
        value = Act(act.shape, act.pos, act.layout, act.perm, None, act.fresh)
        self._set(node, value)  # a reshape to its own shape

    def _refuse_reshape(self, node, act, items):
        shown = ["N" if v is N else v for v in items]
        raise _Refused(f"{_node_text(node)} reshapes data of shape (N, "
                       f"{', '.join(map(str, act.shape))}) to {show_value(shown, 60)}; cnnviz "
                       f"follows only a flatten to (N, -1)")

    def _flatten(self, node, act) -> Act:
        if len(act.shape) == 1:
            return Act(act.shape, act.pos, act.layout, act.perm, None, act.fresh)
        if len(act.shape) != 3:
            raise _Refused(f"{_node_text(node)} flattens data of shape {list(act.shape)}")
        out = self._add_layer(node, {"kind": "Flatten"}, shape_from=act)
        if act.layout == "nhwc":
            # ONNX flattens (H, W, C); the engine flattens (C, H, W): the dense layer after it
            # takes its inputs in the engine's order (perm[i] = ONNX position of engine's i).
            h, w, c = act.shape
            out.layout = "perm"
            out.perm = np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)
        return out

    def _op_Flatten(self, node, inputs, attrs):
        data = inputs[0]
        if not isinstance(data, Act):
            return self._fold(node, inputs)
        act = self._act_input(node, inputs)
        axis = attrs.get("axis", 1)
        if axis not in (1, -len(act.shape)):
            raise _Refused(f"{_node_text(node)} flattens from axis {axis}; cnnviz flattens "
                           f"each image (axis 1)")
        self._set(node, self._flatten(node, act))

    def _op_Transpose(self, node, inputs, attrs):
        data = inputs[0]
        if not isinstance(data, Act):
            return self._fold(node, inputs)
        act = self._act_input(node, inputs)
        perm = attrs.get("perm")
        rank = len(act.shape) + 1
        if perm is None:
            perm = list(range(rank))[::-1]
        if perm == list(range(rank)):
            layout = act.layout
        elif rank == 4 and perm == [0, 3, 1, 2] and act.layout == "nhwc":
            layout = "nchw"
        elif rank == 4 and perm == [0, 2, 3, 1] and act.layout == "nchw":
            layout = "nhwc"
        else:
            raise _Refused(f"{_node_text(node)} permutes the axes {perm}; cnnviz follows only "
                           f"NHWC -> NCHW at the input and NCHW -> NHWC before a flatten")
        shape = tuple(act.shape[p - 1] for p in perm[1:])
        self._set(node, Act(shape, act.pos, layout, act.perm, None, act.fresh))
