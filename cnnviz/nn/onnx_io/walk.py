"""The walk over a graph: set-up (its one input, the nodes put in order), the helpers every
operator uses, the dispatch to the operators, and the network built at the end."""

from __future__ import annotations

import heapq

import numpy as np

from ..budget import BudgetError
from ..errors import ModelError
from ..layers import show_value
from ..model import Sequential, layer_from_config
from .folding import _FOLDABLE
from .limits import (MAX_INPUT_SIDE, MAX_LIST, MAX_NODES, MAX_NODE_INPUTS, MAX_PARAM_MAGNITUDE,
                     _FLOAT, _TYPE_NAMES)
from .reading import tensor_array
from .values import N, Act, Converted, Sym, _node_text, _Refused, _Spec


# The attribute types (AttributeProto.type) the operators cnnviz reads expect: 1 float,
# 2 int, 3 string, 4 tensor, 6 floats, 7 ints.
_ATTRIBUTE_TYPES = {
    **{name: (7,) for name in ("kernel_shape", "pads", "strides", "dilations", "perm", "axes")},
    **{name: (2,) for name in ("group", "ceil_mode", "count_include_pad", "transA", "transB",
                               "axis", "storage_order", "training_mode", "allowzero", "to",
                               "start", "end", "spatial")},
    **{name: (1,) for name in ("alpha", "beta", "epsilon", "ratio", "momentum", "bias")},
    "size": (2,),
    **{name: (3,) for name in ("auto_pad", "mode")},
}


#: Inputs each operator must have (the rest are optional); 1 for the others, 0 for Constant.
_REQUIRED_INPUTS = {"Conv": 2, "Gemm": 2, "MatMul": 2, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2,
                    "Gather": 2, "Reshape": 2, "BatchNormalization": 5, "Expand": 2,
                    "ConstantOfShape": 1, "Range": 3, "Where": 3, "Equal": 2, "Less": 2,
                    "Greater": 2, "Min": 1, "Max": 1, "Slice": 1}


_ELEMENTWISE = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softplus": "Softplus"}


class _WalkBase:
    def __init__(self, graph, opset, path):
        self.graph, self.opset, self.path = graph, opset, path
        self.values: dict[str, object] = {}
        self.specs: list[_Spec] = []
        self.notes: list[str] = []
        self.folded_bytes = 0
        self.output_exp = False  # the graph gives log-probabilities, the network probabilities

    # ------------------------------------------------------------------ set-up
    def run(self) -> Converted:
        graph = self.graph
        if len(graph.node) > MAX_NODES:
            raise _Refused(f"the graph has {len(graph.node):,} nodes, more than the "
                           f"{MAX_NODES:,} cnnviz reads")
        if graph.sparse_initializer:
            raise _Refused("the graph has sparse initializers, which cnnviz does not read")
        for tensor in graph.initializer:
            if tensor.name in self.values:
                raise _Refused(f"the initializer {show_value(tensor.name, 60)} appears twice")
            self.values[tensor.name] = tensor_array(tensor, self.path)
        inputs = [v for v in graph.input if v.name not in self.values]
        if len(inputs) != 1:
            names = ", ".join(show_value(v.name, 40) for v in inputs[:4])
            raise _Refused(f"the graph has {len(inputs)} inputs ({names or 'none'}); cnnviz "
                           f"networks take one image or vector")
        self.input_name = inputs[0].name
        dims = self._input_dims(inputs[0])
        nodes = self._ordered(graph)
        self.read = {name for node in nodes for name in node.input}
        self.read.update(value.name for value in graph.output)
        if [id(n) for n in nodes] != [id(n) for n in graph.node]:
            # The reference evaluator (the self-check) runs nodes in the file's order.
            ordered = [type(n)() for n in nodes]
            for copy, node in zip(ordered, nodes):
                copy.CopyFrom(node)
            del graph.node[:]
            graph.node.extend(ordered)
        consumers = [n for n in nodes if self.input_name in n.input]
        self.input_layout = "nchw"
        if len(dims) == 3 and consumers and all(
                n.op_type == "Transpose" and self._perm(n) == [0, 3, 1, 2] for n in consumers):
            self.input_layout = "nhwc"
            h, w, c = dims
            self.input_shape = (c, h, w)
        else:
            self.input_shape = tuple(dims)
        self.values[self.input_name] = Act(tuple(dims), 0, layout=self.input_layout)
        for node in nodes:
            self._node(node)
        if len(graph.output) != 1:
            raise _Refused(f"the graph has {len(graph.output)} outputs; a cnnviz network has "
                           f"one (its class scores)")
        out = self.values.get(graph.output[0].name)
        if not isinstance(out, Act):
            raise _Refused(f"the graph's output {show_value(graph.output[0].name, 60)} does not "
                           f"depend on its input")
        if out.taken or out.pos != len(self.specs):
            raise _Refused(f"the graph's output {show_value(graph.output[0].name, 60)} is not "
                           f"the end of its chain of layers: the graph branches")
        if out.pad is not None:
            raise _Refused("the graph ends with a Pad")
        if out.layout != "nchw":
            raise _Refused("the graph's output is in channels-last order (NHWC), which cnnviz "
                           "does not produce")
        if not self.specs:
            raise _Refused("the graph has no layers")
        return Converted(self._build(), self.input_name, self.input_layout, self.batch,
                         self.notes, self.output_exp)

    def _input_dims(self, value) -> list[int]:
        what = f"the input {show_value(value.name, 40)}"
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            raise _Refused(f"{what} is not a tensor")
        ttype = value.type.tensor_type
        if ttype.elem_type != _FLOAT:
            raise _Refused(f"{what} holds {_TYPE_NAMES.get(ttype.elem_type, 'unknown')} values; "
                           f"cnnviz networks take float (32-bit) images")
        if not ttype.HasField("shape"):
            raise _Refused(f"{what} has no declared shape")
        dims = list(ttype.shape.dim)
        if len(dims) not in (2, 4):
            raise _Refused(f"{what} has {len(dims)} dimensions; cnnviz takes images "
                           f"(batch, channels, height, width) or vectors (batch, features)")
        first = dims[0]
        self.batch = first.dim_value if first.HasField("dim_value") and first.dim_value > 0 else N
        out = []
        for i, dim in enumerate(dims[1:], 1):
            if not dim.HasField("dim_value") or dim.dim_value <= 0:
                label = show_value(dim.dim_param, 30) if dim.HasField("dim_param") else "unknown"
                raise _Refused(f"{what} has a dynamic size ({label}) in dimension {i}; cnnviz "
                               f"needs every size but the batch fixed")
            if dim.dim_value > MAX_INPUT_SIDE * (1 if len(dims) == 4 else 4096):
                raise _Refused(f"{what} is too large ({dim.dim_value:,} in dimension {i})")
            out.append(int(dim.dim_value))
        return out

    def _ordered(self, graph):
        """The nodes in an order where each comes after what it reads (Kahn's algorithm, the
        file's order among the ready ones); a node that can never run is refused."""
        nodes = list(graph.node)
        producer = {}
        for node in nodes:
            if len(node.input) > MAX_NODE_INPUTS or len(node.output) > MAX_NODE_INPUTS:
                raise _Refused(f"{_node_text(node)} has {max(len(node.input), len(node.output)):,} "
                               f"inputs or outputs, more than cnnviz follows")
        for index, node in enumerate(nodes):
            for name in node.output:
                if name and (name in producer or name in self.values or name == self.input_name):
                    raise _Refused(f"{_node_text(node)} writes {show_value(name, 60)}, which "
                                   f"is already defined")
                if name:
                    producer[name] = index
        waiting = [0] * len(nodes)
        readers: dict[int, list[int]] = {}
        for index, node in enumerate(nodes):
            for name in set(node.input):
                if not name or name in self.values or name == self.input_name:
                    continue
                if name not in producer:
                    raise _Refused(f"{_node_text(node)} reads {show_value(name, 60)}, which no "
                                   f"node writes")
                waiting[index] += 1
                readers.setdefault(producer[name], []).append(index)
        ready = [i for i, w in enumerate(waiting) if w == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            index = heapq.heappop(ready)
            order.append(nodes[index])
            for reader in readers.get(index, ()):
                waiting[reader] -= 1
                if waiting[reader] == 0:
                    heapq.heappush(ready, reader)
        if len(order) != len(nodes):
            stuck = next(nodes[i] for i, w in enumerate(waiting) if w)
            raise _Refused(f"{_node_text(stuck)} is part of a cycle (or reads one)")
        return order

    # ------------------------------------------------------------------ helpers
    def _attrs(self, node) -> dict:
        out = {}
        for attr in node.attribute:
            if attr.ref_attr_name:
                raise _Refused(f"{_node_text(node)} refers to a function attribute")
            kind = attr.type
            if max(len(attr.ints), len(attr.floats), len(attr.strings)) > MAX_LIST:
                raise _Refused(f"{_node_text(node)}: its attribute {show_value(attr.name, 40)} "
                               f"has more values than any operator cnnviz reads needs")
            wanted = _ATTRIBUTE_TYPES.get(attr.name)
            if wanted is not None and kind not in wanted and not (
                    node.op_type == "Constant" or (attr.name == "value" and kind == 1)):
                raise _Refused(f"{_node_text(node)}: its attribute {show_value(attr.name, 40)} "
                               f"has the wrong type (the file is damaged?)")
            if attr.name in out:
                raise _Refused(f"{_node_text(node)}: its attribute {show_value(attr.name, 40)} "
                               f"appears twice")
            if kind == 1:
                out[attr.name] = float(attr.f)
            elif kind == 2:
                out[attr.name] = int(attr.i)
            elif kind == 3:
                out[attr.name] = attr.s.decode("utf-8", "replace")
            elif kind == 4:
                out[attr.name] = tensor_array(attr.t, self.path)
            elif kind == 6:
                out[attr.name] = [float(v) for v in attr.floats]
            elif kind == 7:
                out[attr.name] = [int(v) for v in attr.ints]
            else:
                out[attr.name] = None  # graphs, strings lists...: no supported op uses them
        return out

    def _perm(self, node):
        for attr in node.attribute:
            if attr.name == "perm":
                return list(attr.ints)
        return None

    def _inputs(self, node):
        out = []
        for name in node.input:
            out.append(None if not name else self.values[name])
        return out

    def _take(self, node, act: Act) -> Act:
        if act.taken or act.pos != len(self.specs):
            raise _Refused(f"{_node_text(node)} reads a value that another node reads too (or "
                           f"an earlier layer's output): the graph branches (a residual or skip "
                           f"connection, or parallel paths), which cnnviz cannot represent: its "
                           f"networks are one chain of layers")
        act.taken = True
        return act

    def _const(self, node, value, what: str) -> np.ndarray:
        if isinstance(value, Sym):
            if any(v is N for v in value.items):
                raise _Refused(f"{_node_text(node)}: its {what} depends on the batch size")
            return np.array(value.items[0] if value.scalar else value.items, dtype=np.int64)
        if not isinstance(value, np.ndarray):
            raise _Refused(f"{_node_text(node)}: its {what} must be a constant, not computed "
                           f"from the input")
        return value

    def _ints(self, node, value, what) -> list[int]:
        array = self._const(node, value, what)
        if array.dtype.kind not in "iu" or array.ndim > 1 or array.size > MAX_LIST:
            raise _Refused(f"{_node_text(node)}: its {what} must be at most {MAX_LIST} whole "
                           f"numbers")
        return [int(v) for v in array.reshape(-1)]

    def _set(self, node, *values):
        for name, value in zip(node.output, values):
            if name:
                self.values[name] = value

    def _add_layer(self, node, config, weight=None, bias=None, shape_from=None,
                   arrays=None) -> Act:
        """Append a layer; returns the activation after it (its shape from the engine's rule)."""
        spec = _Spec(config, node.name or node.output[0], weight, bias, dict(arrays or {}))
        try:
            layer = layer_from_config(dict(config))
            shape = tuple(layer._output_shape(tuple(self._engine_shape(shape_from))))
        except ModelError as exc:
            raise _Refused(f"{_node_text(node)}: {exc}") from None
        self.specs.append(spec)
        self._shape = shape
        return Act(shape, len(self.specs), fresh=weight is not None)

    def _engine_shape(self, act: Act):
        if act.layout == "nhwc" and len(act.shape) == 3:
            h, w, c = act.shape
            return (c, h, w)
        return act.shape

    # ------------------------------------------------------------------ the operators
    def _node(self, node):
        if node.domain not in ("", "ai.onnx"):
            raise _Refused(f"{_node_text(node)} is an operator of domain "
                           f"{show_value(node.domain, 40)}, which cnnviz does not know")
        inputs = self._inputs(node)
        wanted = _REQUIRED_INPUTS.get(node.op_type, 1 if node.op_type != "Constant" else 0)
        if len(inputs) < wanted or any(v is None for v in inputs[:wanted]) or \
                len(node.output) < 1 or not node.output[0]:
            raise _Refused(f"{_node_text(node)} lacks an input or output it needs "
                           f"({wanted} inputs, one output)")
        handler = getattr(self, f"_op_{node.op_type}", None)
        acts = [v for v in inputs if isinstance(v, Act)]
        if handler is None:
            if not acts and node.op_type in _FOLDABLE:
                self._fold(node, inputs)
                return
            raise _Refused(f"{_node_text(node)}: cnnviz has no layer for the operator "
                           f"{show_value(node.op_type, 40)}")
        if len(acts) > 1:
            raise _Refused(f"{_node_text(node)} combines two activations (a branch such as a "
                           f"residual connection or a concatenation of feature maps), which "
                           f"cnnviz cannot represent: its networks are one chain of layers")
        handler(node, inputs, self._attrs(node))

    def _act_input(self, node, inputs, index=0) -> Act:
        value = inputs[index] if index < len(inputs) else None
        if not isinstance(value, Act):
            raise _Refused(f"{_node_text(node)} does not work on the network's data (its input "
                           f"{index} is a constant)")
        act = self._take(node, value)
        if act.pad is not None and node.op_type not in ("Conv", "MaxPool", "AveragePool", "Pad"):
            raise _Refused(f"{_node_text(node)} follows a Pad; cnnviz folds a Pad only into the "
                           f"convolution or pooling right after it")
        return act

    def _image_act(self, node, act):
        if len(act.shape) != 3 or act.layout != "nchw":
            what = "channels-last (NHWC) data" if act.layout == "nhwc" else \
                f"data of shape {show_value(list(act.shape))}"
            raise _Refused(f"{_node_text(node)} works on {what}; cnnviz's convolution and "
                           f"pooling take (channels, height, width) images")


    # ------------------------------------------------------------------ the network
    def _build(self) -> Sequential:
        layers = []
        for index, spec in enumerate(self.specs):
            layer = layer_from_config(dict(spec.config))
            for name in layer.file_arrays():
                value = spec.arrays.get(name, getattr(spec, name, None))
                if value is None:
                    continue
                with np.errstate(over="ignore", invalid="ignore"):
                    array = np.asarray(value, dtype=np.float32)  # the layer copies it
                if not np.isfinite(array).all():
                    raise _Refused(f"the {name} of node {show_value(spec.node, 60)} holds NaN "
                                   f"or infinite values (or values beyond float32)")
                largest = float(np.abs(array).max()) if array.size else 0.0
                if largest > MAX_PARAM_MAGNITUDE:
                    raise _Refused(f"the {name} of node {show_value(spec.node, 60)} holds "
                                   f"{largest:.2g}, beyond the ±{MAX_PARAM_MAGNITUDE:.0e} cnnviz "
                                   f"accepts")
                layer.set_file_array(name, array)
            layers.append(layer)
        try:
            return Sequential(layers, self.input_shape, seed=0, name="network")
        except BudgetError as exc:
            raise _Refused(f"the network is too large for this machine: {exc}") from None
        except ModelError as exc:
            raise _Refused(f"wrong shape or settings: {exc}") from None


