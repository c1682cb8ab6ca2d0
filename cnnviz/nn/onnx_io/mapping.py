"""The operators that become (or change) engine layers: activations, Dropout, Softmax, LRN,
Pad, Conv, pooling, Gemm/MatMul, the bias Add and BatchNormalization."""

from __future__ import annotations

import numpy as np

from ..geometry import resolve_padding
from ..layers import show_value
from .values import Act, _node_text, _Refused, _short, _Spec

#: Most groups of a grouped convolution opened as an ordinary one (AlexNet has 2).
MAX_GROUPS = 4


class _LayerOps:
    # -- layers
    def _elementwise(self, node, inputs, config):
        act = self._act_input(node, inputs)
        out = self._add_layer(node, config, shape_from=self._engine_view(act))
        out.shape, out.layout, out.perm = act.shape, act.layout, act.perm
        self._set(node, out)

    def _engine_view(self, act):
        return Act(self._engine_shape(act), act.pos)

    def _op_Relu(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "ReLU"})

    def _op_Sigmoid(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "Sigmoid"})

    def _op_Tanh(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "Tanh"})

    def _op_Softplus(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "Softplus"})

    def _op_LeakyRelu(self, node, inputs, attrs):
        self._elementwise(node, inputs, {"kind": "LeakyReLU",
                                         "alpha": _short(attrs.get("alpha", 0.01))})

    def _op_Dropout(self, node, inputs, attrs):
        if any(name in self.read for name in node.output[1:]):
            raise _Refused(f"{_node_text(node)}: its mask output is used")
        ratio = attrs.get("ratio", 0.5)
        if len(inputs) > 1 and inputs[1] is not None:
            ratio = float(self._const(node, inputs[1], "ratio").reshape(-1)[0])
        if len(inputs) > 2 and inputs[2] is not None:
            if bool(self._const(node, inputs[2], "training mode").reshape(-1)[0]):
                raise _Refused(f"{_node_text(node)} is in training mode (random at inference)")
        self._elementwise(node, inputs[:1], {"kind": "Dropout", "rate": _short(ratio)})

    def _op_Softmax(self, node, inputs, attrs):
        act = inputs[0]
        if isinstance(act, Act) and (len(act.shape) != 1 or act.layout != "nchw"):
            raise _Refused(f"{_node_text(node)} takes the softmax of data of shape "
                           f"{list(act.shape)}; cnnviz takes it over a vector of class scores")
        if attrs.get("axis", 1 if self.opset < 13 else -1) not in (1, -1):
            raise _Refused(f"{_node_text(node)} takes the softmax over the batch axis")
        self._elementwise(node, inputs, {"kind": "Softmax"})

    def _op_LRN(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        if "size" not in attrs:
            raise _Refused(f"{_node_text(node)} has no size")
        config = {"kind": "LRN", "size": attrs["size"], "alpha": _short(attrs.get("alpha", 1e-4)),
                  "beta": _short(attrs.get("beta", 0.75)), "bias": _short(attrs.get("bias", 1.0))}
        self._set(node, self._add_layer(node, config, shape_from=act))

    def _op_LogSoftmax(self, node, inputs, attrs):
        """A LogSoftmax at the end (PyTorch's MNIST example ends so) becomes a Softmax: the
        same probabilities; the self-check compares them with exp of the graph's output."""
        if [v.name for v in self.graph.output] != [node.output[0]]:
            raise _Refused(f"{_node_text(node)} is not the graph's last step; cnnviz takes a "
                           f"log-softmax only as the output (it shows the probabilities)")
        self._op_Softmax(node, inputs, attrs)
        self.output_exp = True

    def _op_Pad(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        mode = attrs.get("mode", "constant")
        if mode != "constant":
            raise _Refused(f"{_node_text(node)} pads by {show_value(mode)}; cnnviz pads with a "
                           f"constant only")
        if "pads" in attrs:
            pads, value = attrs["pads"], attrs.get("value", 0.0)
        else:
            pads = self._ints(node, inputs[1] if len(inputs) > 1 else None, "pads")
            value = 0.0
            if len(inputs) > 2 and inputs[2] is not None:
                value = float(self._const(node, inputs[2], "value").reshape(-1)[0])
            if len(inputs) > 3 and inputs[3] is not None:
                axes = [a % 4 for a in self._ints(node, inputs[3], "axes")]
                full = [0] * 8
                for i, a in enumerate(axes):
                    full[a], full[a + 4] = pads[i], pads[i + len(axes)]
                pads = full
        if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
            raise _Refused(f"{_node_text(node)} pads {show_value(pads)}; cnnviz pads only the "
                           f"height and width")
        if min(pads) < 0:
            raise _Refused(f"{_node_text(node)} crops (negative padding)")
        top, left, bottom, right = pads[2], pads[3], pads[6], pads[7]
        if act.pad is not None:
            if act.pad[4] != value:
                raise _Refused(f"{_node_text(node)} pads with two different values")
            top, bottom, left, right = (a + b for a, b in zip(act.pad[:4],
                                                              (top, bottom, left, right)))
        self._set(node, Act(act.shape, act.pos, pad=(top, bottom, left, right, value)))

    def _window_pads(self, node, act, attrs, kernel, stride, dilation):
        """(top, bottom, left, right) from auto_pad or pads; ONNX pads are (top, left, bottom,
        right)."""
        auto = attrs.get("auto_pad", "NOTSET")
        _, h, w = act.shape
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            out = []
            for n, k, s, d in zip((h, w), kernel, stride, dilation):
                total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
                small, large = total // 2, total - total // 2
                out += [small, large] if auto == "SAME_UPPER" else [large, small]
            return tuple(out)
        if auto == "VALID":
            return (0, 0, 0, 0)
        if auto != "NOTSET":
            raise _Refused(f"{_node_text(node)} has an unknown auto_pad {show_value(auto)}")
        pads = attrs.get("pads", [0, 0, 0, 0])
        if len(pads) != 4 or min(pads) < 0:
            raise _Refused(f"{_node_text(node)} has pads {show_value(pads)}; cnnviz needs four "
                           f"of at least 0 (a 2-D window)")
        return (pads[0], pads[2], pads[1], pads[3])

    def _pair_attr(self, node, attrs, name, default):
        value = attrs.get(name, default)
        if not isinstance(value, list) or len(value) != 2:
            raise _Refused(f"{_node_text(node)} has {name} {show_value(value)}; cnnviz's windows "
                           f"are 2-D")
        if min(value) < 1:
            raise _Refused(f"{_node_text(node)} has {name} {show_value(value)}; they must be at "
                           f"least 1")
        return value

    def _pending_pad(self, node, act, attrs, pads):
        """Add a Pad before to the window's own padding; returns (pads, pad value or None)."""
        if act.pad is None:
            return pads, None
        if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise _Refused(f"{_node_text(node)} follows a Pad and pads itself automatically")
        return tuple(a + b for a, b in zip(pads, act.pad[:4])), act.pad[4]

    @staticmethod
    def _padding_setting(pads, size, kernel, stride, dilation):
        """The engine's padding setting for ``pads`` (top, bottom, left, right): "valid",
        "same" (when it resolves to these pads, as cnnviz's own files say it), or numbers."""
        top, bottom, left, right = (int(v) for v in pads)
        if top == bottom == left == right == 0:
            return "valid"
        if resolve_padding("same", tuple(kernel), tuple(stride), tuple(dilation),
                           tuple(size)) == (top, bottom, left, right):
            return "same"
        if top == bottom == left == right:
            return top
        if top == bottom and left == right:
            return [top, left]
        return [top, bottom, left, right]

    def _ungrouped(self, node, weight, group, channels):
        """The weights of a grouped convolution as those of one ordinary convolution: filter
        ``f`` of group ``g`` keeps its kernels on group ``g``'s input channels and gets zeros on
        the others, which gives exactly the same outputs (AlexNet's two-GPU convolutions open
        so). A depthwise convolution, or more than :data:`MAX_GROUPS` groups, would multiply the
        work and mostly show zeros: refused."""
        filters, inner = weight.shape[:2]
        if not isinstance(group, int) or group < 1:
            raise _Refused(f"{_node_text(node)} has group {show_value(group)}")
        if group == channels:
            raise _Refused(f"{_node_text(node)} is a depthwise convolution (group={group}); "
                           f"cnnviz's convolutions connect every input channel to every filter")
        if group > MAX_GROUPS:
            raise _Refused(f"{_node_text(node)} is a grouped convolution (group={group}); cnnviz "
                           f"opens one of at most {MAX_GROUPS} groups as an ordinary convolution "
                           f"with zero weights between groups")
        if channels % group or filters % group or inner * group != channels:
            raise _Refused(f"{_node_text(node)} splits {channels} channels and {filters} filters "
                           f"into {group} groups of {inner} channels")
        per_group = filters // group
        dense = np.zeros((filters, channels) + weight.shape[2:], weight.dtype)
        for g in range(group):
            rows = slice(g * per_group, (g + 1) * per_group)
            dense[rows, g * inner:(g + 1) * inner] = weight[rows]
        self.notes.append(f"{_node_text(node)} is a grouped convolution (group={group}): opened "
                          f"as one convolution whose filters have zero weights on the other "
                          f"groups' channels")
        return dense

    def _op_Conv(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        weight = self._const(node, inputs[1] if len(inputs) > 1 else None, "weights")
        bias = inputs[2] if len(inputs) > 2 else None
        bias = None if bias is None else self._const(node, bias, "bias")
        channels = act.shape[0]
        if weight.ndim != 4:
            raise _Refused(f"{_node_text(node)} is a {weight.ndim - 2}-D convolution; cnnviz's "
                           f"are 2-D")
        group = attrs.get("group", 1)
        if group != 1:
            weight = self._ungrouped(node, weight, group, channels)
        filters, inner, kh, kw = weight.shape
        if inner != channels:
            raise _Refused(f"{_node_text(node)} has filters for {inner} channels, its input has "
                           f"{channels}")
        kernel = attrs.get("kernel_shape", [kh, kw])
        if min(weight.shape) < 1:
            raise _Refused(f"{_node_text(node)} has empty weights {list(weight.shape)}")
        if list(kernel) != [kh, kw]:
            raise _Refused(f"{_node_text(node)}: kernel_shape {kernel} differs from its weights")
        stride = self._pair_attr(node, attrs, "strides", [1, 1])
        dilation = self._pair_attr(node, attrs, "dilations", [1, 1])
        pads = self._window_pads(node, act, attrs, kernel, stride, dilation)
        pads, value = self._pending_pad(node, act, attrs, pads)
        if value not in (None, 0.0):
            raise _Refused(f"{_node_text(node)} follows a Pad with {value:g}; cnnviz's "
                           f"convolutions pad with 0")
        if bias is not None and bias.shape != (filters,):
            raise _Refused(f"{_node_text(node)} has a bias of shape {list(bias.shape)} for "
                           f"{filters} filters")
        config = {"kind": "Conv2D", "out_channels": int(filters), "kernel_size": [kh, kw],
                  "stride": stride, "dilation": dilation, "padding": self._padding_setting(pads, act.shape[1:], kernel, stride, dilation),
                  "use_bias": bias is not None}
        out = self._add_layer(node, config, weight, bias, shape_from=act)
        self._set(node, out)

    def _pool(self, node, inputs, attrs, kind):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        if any(name in self.read for name in node.output[1:]):
            raise _Refused(f"{_node_text(node)}: its indices output is used")
        kernel = self._pair_attr(node, attrs, "kernel_shape", None)
        stride = self._pair_attr(node, attrs, "strides", [1, 1])
        if attrs.get("dilations", [1, 1]) != [1, 1]:
            raise _Refused(f"{_node_text(node)} is a dilated pooling, which cnnviz does not have")
        pads = self._window_pads(node, act, attrs, kernel, stride, [1, 1])
        include = bool(attrs.get("count_include_pad", 0)) and kind == "AvgPool2D"
        pads, value = self._pending_pad(node, act, attrs, pads)
        if value is not None:
            if kind == "MaxPool2D" and not value <= -3.4e38:
                raise _Refused(f"{_node_text(node)} follows a Pad with {value:g}; cnnviz's max "
                               f"pooling pads with -infinity")
            if kind == "AvgPool2D":
                if value != 0.0 or (any(self._window_pads(node, act, attrs, kernel, stride,
                                                          [1, 1])) and not include):
                    raise _Refused(f"{_node_text(node)} follows a Pad that its average would "
                                   f"count, while its own padding is not counted")
                include = True
        if attrs.get("ceil_mode", 0):
            extra = []
            for n, k, s, p0, p1 in zip(act.shape[1:], kernel, stride, pads[0::2], pads[1::2]):
                out = -(-(n + p0 + p1 - k) // s) + 1
                if (out - 1) * s >= n + p0:  # the last window would start in the padding
                    out -= 1
                extra.append(max((out - 1) * s + k - (n + p0 + p1), 0))
            if any(extra) and include and any(pads):
                raise _Refused(f"{_node_text(node)} rounds its output size up and counts its "
                               f"padding in the mean; cnnviz cannot do both")
            pads = (pads[0], pads[1] + extra[0], pads[2], pads[3] + extra[1])
        if list(kernel) == [1, 1] and list(stride) == [1, 1] and not any(pads):
            # Nothing to pool (PyTorch's AdaptiveAvgPool2d((7, 7)) of a 7x7 map in torchvision's
            # VGG): no layer.
            self._set(node, Act(act.shape, act.pos))
            return
        config = {"kind": kind, "size": kernel, "stride": stride,
                  "padding": self._padding_setting(pads, act.shape[1:], kernel, stride,
                                                   (1, 1))}
        if include:
            config["count_include_pad"] = True
        self._set(node, self._add_layer(node, config, shape_from=act))

    def _op_MaxPool(self, node, inputs, attrs):
        if attrs.get("storage_order", 0) not in (0, 1):
            raise _Refused(f"{_node_text(node)} has an unknown storage_order")
        self._pool(node, inputs, attrs, "MaxPool2D")

    def _op_AveragePool(self, node, inputs, attrs):
        self._pool(node, inputs, attrs, "AvgPool2D")

    def _global_pool(self, node, inputs, kind):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        _, h, w = act.shape
        config = {"kind": kind, "size": [h, w], "stride": [h, w], "padding": "valid"}
        self._set(node, self._add_layer(node, config, shape_from=act))

    def _op_GlobalAveragePool(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._image_act(node, act)
        self._set(node, self._add_layer(node, {"kind": "GlobalAvgPool2D"}, shape_from=act))

    def _op_GlobalMaxPool(self, node, inputs, attrs):
        self._global_pool(node, inputs, "MaxPool2D")

    def _dense_input(self, node, act):
        if len(act.shape) != 1:
            raise _Refused(f"{_node_text(node)} multiplies data of shape {list(act.shape)}; "
                           f"cnnviz's dense layers take a flat vector (flatten first)")

    def _dense(self, node, act, weight, bias):
        """A Dense layer of ``weight`` (out, in) in ONNX's input order."""
        out_features, in_features = weight.shape
        if in_features != act.shape[0]:
            raise _Refused(f"{_node_text(node)} has weights for {in_features} inputs, its input "
                           f"has {act.shape[0]}")
        if act.layout == "perm":
            weight = weight[:, act.perm]
        config = {"kind": "Dense", "out_features": int(out_features),
                  "use_bias": bias is not None}
        self._set(node, self._add_layer(node, config, weight, bias,
                                        shape_from=Act(act.shape, act.pos)))

    def _op_Gemm(self, node, inputs, attrs):
        act = self._act_input(node, inputs)
        self._dense_input(node, act)
        if attrs.get("transA", 0):
            raise _Refused(f"{_node_text(node)} transposes the network's data (transA=1)")
        b = self._const(node, inputs[1], "weights").astype(np.float32, copy=False)
        if b.ndim != 2:
            raise _Refused(f"{_node_text(node)} has weights of shape {list(b.shape)}")
        b = b.T if attrs.get("transB", 0) else b  # now (in, out)
        alpha = attrs.get("alpha", 1.0)
        weight = b.T if alpha == 1.0 else np.float32(alpha) * b.T  # (out, in), a view if alpha 1
        bias = None
        if len(inputs) > 2 and inputs[2] is not None:
            c = self._const(node, inputs[2], "bias").astype(np.float64)
            try:
                bias = attrs.get("beta", 1.0) * np.broadcast_to(c, (1, weight.shape[0]))[0]
            except ValueError:
                raise _Refused(f"{_node_text(node)} adds a term of shape {list(c.shape)}, not a "
                               f"bias per unit") from None
            if c.ndim == 2 and c.shape[0] != 1:
                raise _Refused(f"{_node_text(node)} adds a different term per image")
        self._dense(node, act, weight, bias)

    def _op_MatMul(self, node, inputs, attrs):
        if not isinstance(inputs[0], Act):
            if isinstance(inputs[1], Act):
                raise _Refused(f"{_node_text(node)} multiplies a constant by the network's data "
                               f"(from the left)")
            return self._fold(node, inputs)
        act = self._act_input(node, inputs)
        self._dense_input(node, act)
        b = self._const(node, inputs[1], "weights")
        if b.ndim != 2:
            raise _Refused(f"{_node_text(node)} has weights of shape {list(b.shape)}")
        self._dense(node, act, b.T.astype(np.float32, copy=False), None)

    def _last_fresh(self, node, act, what) -> _Spec:
        if not act.fresh or act.pos != len(self.specs) or not self.specs \
                or self.specs[-1].weight is None:
            raise _Refused(f"{_node_text(node)} {what} data that is not the direct output of a "
                           f"convolution or dense layer; cnnviz cannot represent that")
        return self.specs[-1]

    def _op_Add(self, node, inputs, attrs):
        if not any(isinstance(v, Act) for v in inputs):
            return self._fold(node, inputs)
        index = 0 if isinstance(inputs[0], Act) else 1
        act = self._act_input(node, inputs, index)
        constant = self._const(node, inputs[1 - index], "added term").astype(np.float64)
        spec = self._last_fresh(node, act, "adds a constant to")
        units = spec.weight.shape[0]
        shape = (1, units) if len(act.shape) == 1 else (1, units, 1, 1)
        try:
            term = np.broadcast_to(constant, shape).reshape(units) \
                if np.broadcast_shapes(constant.shape, shape) == shape else None
        except ValueError:
            term = None
        if term is None or constant.ndim > len(shape):
            raise _Refused(f"{_node_text(node)} adds a constant of shape "
                           f"{list(constant.shape)}, which is not a bias per "
                           f"{'unit' if len(act.shape) == 1 else 'filter'}")
        spec.bias = term if spec.bias is None else spec.bias + term
        spec.config["use_bias"] = True
        self._set(node, Act(act.shape, act.pos, act.layout, act.perm, None, True))

    def _op_BatchNormalization(self, node, inputs, attrs):
        """A BatchNorm layer of its own (not folded into the convolution before it): the views
        show the convolution's raw output and then its normalisation, training goes on with
        running statistics, and an export writes the same node back."""
        act = self._act_input(node, inputs)
        if any(name in self.read for name in node.output[1:]):
            raise _Refused(f"{_node_text(node)} computes training statistics")
        if attrs.get("training_mode", 0):
            raise _Refused(f"{_node_text(node)} is in training mode")
        if not attrs.get("spatial", 1):
            raise _Refused(f"{_node_text(node)} normalises every position on its own "
                           f"(spatial=0); cnnviz's BatchNorm has statistics per channel")
        if act.layout == "nhwc" or len(act.shape) not in (1, 3):
            raise _Refused(f"{_node_text(node)} normalises data of shape {list(act.shape)}"
                           f"{' in channels-last order' if act.layout == 'nhwc' else ''}; "
                           f"cnnviz normalises (channels, height, width) maps or vectors")
        scale, beta, mean, var = (self._const(node, v, name).astype(np.float64)
                                  for v, name in zip(inputs[1:5],
                                                     ("scale", "bias", "mean", "variance")))
        channels = act.shape[0]
        if any(a.shape != (channels,) for a in (scale, beta, mean, var)):
            raise _Refused(f"{_node_text(node)} has statistics for other than its {channels} "
                           f"channels")
        if (var < 0).any():
            raise _Refused(f"{_node_text(node)} has a negative variance")
        arrays = {"gamma": scale, "beta": beta, "running_mean": mean, "running_var": var}
        if act.layout == "perm":  # a flattened NHWC vector: the engine's feature i is perm[i]
            arrays = {k: v[act.perm] for k, v in arrays.items()}
        # ONNX's momentum weighs the running value (0.9), PyTorch's and cnnviz's the batch's.
        config = {"kind": "BatchNorm", "num_features": int(channels),
                  "eps": _short(attrs.get("epsilon", 1e-5)),
                  "momentum": _short(1.0 - _short(attrs.get("momentum", 0.9)))}
        out = self._add_layer(node, config, shape_from=Act(act.shape, act.pos),
                              arrays=arrays)
        out.shape, out.layout, out.perm = act.shape, act.layout, act.perm
        self._set(node, out)
