"""What a network costs, from its architecture alone: work per image and memory per batch.

A network file of a kilobyte can declare a 4096x4096 input into a 64x64 window: minutes per
forward pass, or hundreds of gigabytes for the unfolded input of one convolution.  Everything
here is computed from the layers' shapes and window sizes, before any parameter exists, so that
such a network is refused when it is opened or built (:func:`check_budget`, called by
:class:`~cnnviz.nn.model.Sequential` and :func:`~cnnviz.nn.io.load_model`) with a message that
says what it would need.

Work is counted as in :mod:`cnnviz.nn.ops`, per image:

- a convolution is one matrix product of ``F x (C*kh*kw [+1])`` weights by the unfolded input
  (``F * Ho * Wo * (C*kh*kw [+1])`` multiply-adds), after copying ``C*kh*kw*Ho*Wo`` elements into
  the columns (and the padded input, when there is padding);
- a dense layer is ``out * (in [+1])`` multiply-adds;
- a pooling layer reads every window: ``C * Ho * Wo * kh * kw`` elements (plus the padded copy);
- element-wise layers touch each element a few times (:data:`ELEMENTWISE_PASSES`).

Multiply-adds run in BLAS; element moves run in numpy loops, at a far lower rate, so the two
have limits of their own.  Measured on the two-core development machine (December 2026, shared,
so the figures vary): one-thread sgemm did ~5e10 multiply-adds/s; numpy's loops 2e8 to 2e9
element moves/s (pooling windows fast, im2col of a large kernel and fresh activations slow).
:data:`MAX_FORWARD_MACS` (1e11, about two seconds) is six times VGG-16 (3x224x224, ~15.5 G
multiply-adds, 138 M parameters), which must stay openable; :data:`MAX_FORWARD_MOVES` (1e9,
half a second to five) is seven times VGG-16's ~1.4e8.

Memory follows what the layers keep between the forward and backward passes (outputs, the
convolution's unfolded columns, max pooling's padded input, dropout masks), plus the largest
transient buffer of one layer's forward or backward pass, plus parameters and gradients (and
Adam's two moments when training).  It must fit in :data:`MEMORY_SHARE` of the machine's
physical memory, and no single array of a layer may exceed :data:`MAX_LAYER_BYTES` for one image.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .errors import ModelError

#: Limit of one forward pass of one image: multiply-adds (BLAS) ...
MAX_FORWARD_MACS = 1e11
#: ... and elements moved by numpy loops (copies, pooling windows, activations).
MAX_FORWARD_MOVES = 1e9
#: Largest array one layer may need for one image (8x VGG-16's largest: its second convolution's
#: unfolded input, 116 MB).  A 27x27 kernel over a 735x498 image unfolds into 2.9 GB: such a
#: layer runs for seconds per image on first-touch page faults alone.
MAX_LAYER_BYTES = 2**30
#: Share of the machine's physical memory a forward and backward pass may need.
MEMORY_SHARE = 0.5
#: Passes over its elements each element-wise layer makes (forward).
ELEMENTWISE_PASSES = {"ReLU": 1, "LeakyReLU": 3, "Sigmoid": 6, "Tanh": 1, "Softplus": 3,
                      "Softmax": 4, "Dropout": 0}
#: Bytes per value (the engine computes in float32).
ITEMSIZE = 4


class BudgetError(ModelError):
    """A network that needs more work or memory than this machine can give it."""


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer for one image (counts of elements, not bytes)."""

    kind: str
    output_shape: tuple[int, ...]
    macs: int          # multiply-adds (BLAS)
    moves: int         # elements read or written by numpy loops (copies, windows, activations)
    kept: int          # elements kept from the forward pass for the backward pass
    scratch: int       # largest transient buffer of the forward or backward pass
    params: int
    largest: int = 0   # largest data array of the layer (im2col columns, padded input, output)


@dataclass(frozen=True)
class Cost:
    """Cost of a whole network (see :func:`estimate`)."""

    input_size: int
    layers: tuple[LayerCost, ...]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def moves(self) -> int:
        return sum(layer.moves for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def memory_bytes(self, batch: int = 1, training: bool = False) -> int:
        """Bytes a forward and backward pass of ``batch`` images needs at its peak.

        Parameters and their gradients (and two optimiser moments when ``training``), the input
        and everything the layers keep for the backward pass, and the largest transient buffer.
        """
        params = self.params * (4 if training else 2)
        kept = self.input_size + sum(layer.kept for layer in self.layers)
        scratch = max((layer.scratch for layer in self.layers), default=0)
        return ITEMSIZE * (params + batch * (kept + scratch))


def estimate(layers, input_shape) -> Cost:
    """The cost of ``layers`` applied to inputs of ``input_shape``, from shapes alone.

    Uses each layer's shape rule (``_output_shape``), which allocates nothing; raises
    ModelError (with the layer's index) when a layer does not fit its input.
    """
    shape = tuple(int(v) for v in input_shape)
    costs = []
    for index, layer in enumerate(layers):
        try:
            out = tuple(layer._output_shape(shape))
        except ModelError as exc:
            raise ModelError(f"layer {index} ({layer.kind}): {exc}") from None
        costs.append(_layer_cost(layer, shape, out))
        shape = out
    return Cost(math.prod(input_shape), tuple(costs))


def _layer_cost(layer, shape, out) -> LayerCost:
    size_in, size_out = math.prod(shape), math.prod(out)
    kind = layer.kind
    if kind == "Conv2D":
        c, h, w = shape
        f, ho, wo = out
        kh, kw = layer.kernel_size
        top, bottom, left, right = layer.pad
        padded = c * (h + top + bottom) * (w + left + right) if any(layer.pad) else 0
        rows = c * kh * kw + (1 if layer.use_bias else 0)
        columns = rows * ho * wo
        params = f * c * kh * kw + (f if layer.use_bias else 0)
        # backward: a contiguous copy of dy, the columns' gradient, the padded input gradient
        backward = size_out + c * kh * kw * ho * wo + (padded or size_in)
        return LayerCost(kind, out, f * ho * wo * rows, padded + columns, columns + size_out,
                         max(padded, backward), params, max(columns, padded, size_out, size_in))
    if kind in ("MaxPool2D", "AvgPool2D"):
        c, h, w = shape
        kh, kw = layer.size
        top, bottom, left, right = layer.pad
        padded = c * (h + top + bottom) * (w + left + right) if any(layer.pad) else 0
        reads = size_out * kh * kw + padded
        kept = size_out + (padded if kind == "MaxPool2D" else 0)
        # backward: the padded input gradient, masks and a product the size of the output
        backward = (padded or size_in) + 2 * size_out
        return LayerCost(kind, out, 0, reads, kept, max(padded, backward), 0,
                         max(padded, size_in, size_out))
    if kind == "Dense":
        bias = 1 if layer.use_bias else 0
        params = size_out * (size_in + bias)
        return LayerCost(kind, out, size_out * (size_in + bias), 0, size_out, size_in + size_out,
                         params, max(size_in, size_out))
    if kind == "Flatten":
        return LayerCost(kind, out, 0, 0, 0, size_in, 0, size_in)
    if kind == "Dropout":
        # training keeps a mask and the scaled output
        return LayerCost(kind, out, 0, 0, 2 * size_out, 2 * size_out, 0, size_out)
    if kind == "GlobalAvgPool2D":
        # reads every input value once; backward spreads each mean over its map
        return LayerCost(kind, out, 0, size_in, 0, size_in, 0, size_in)
    if kind == "BatchNorm":
        # statistics, centring, scaling (forward); three more passes backward; the normalised
        # input and the output are kept
        channels = shape[0]
        return LayerCost(kind, out, 0, 6 * size_in, 2 * size_out, 3 * size_out, 2 * channels,
                         size_in)
    passes = ELEMENTWISE_PASSES.get(kind, 4)
    return LayerCost(kind, out, 0, passes * size_out, size_out, 3 * size_out, 0,
                     max(size_in, size_out))


_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def machine_memory() -> int | None:
    """Memory this process may use, in bytes: the machine's physical memory, or the container's
    limit (cgroup) when lower; None when the system does not say."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    memory = pages * page_size
    for name in _CGROUP_LIMITS:
        try:
            with open(name, encoding="ascii") as handle:
                text = handle.read().strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text.isdigit() and 0 < int(text) < memory:
            memory = int(text)
    return memory


def _gib(n: float) -> str:
    gib = n / 2**30
    return f"{gib:.0f} GiB" if gib >= 10 else f"{gib:.1f} GiB" if gib >= 0.1 else f"{n / 2**20:.0f} MiB"


def check_cost(cost: Cost, batch: int = 1, training: bool = False,
               memory: int | None = None) -> None:
    """Raise :class:`BudgetError` when ``cost`` is beyond this machine (see :func:`check_budget`)."""
    memory = machine_memory() if memory is None else memory
    need = cost.memory_bytes(batch, training)
    if memory is not None and need > memory * MEMORY_SHARE:
        images = "one image" if batch == 1 else f"a batch of {batch} images"
        raise BudgetError(
            f"needs ~{_gib(need)} of memory for {images}; this machine has {_gib(memory)} and "
            f"cnnviz uses at most {MEMORY_SHARE:.0%} of it")
    for index, layer in enumerate(cost.layers):
        if ITEMSIZE * layer.largest > MAX_LAYER_BYTES:
            what = " (its unfolded input)" if layer.kind == "Conv2D" else ""
            raise BudgetError(
                f"layer {index} ({layer.kind}) needs an array of ~{_gib(ITEMSIZE * layer.largest)}"
                f"{what} for one image, over the limit of {_gib(MAX_LAYER_BYTES)} per layer")
    if cost.macs > MAX_FORWARD_MACS:
        raise BudgetError(
            f"one forward pass of one image is ~{cost.macs:.2g} multiply-adds, over the limit "
            f"of {MAX_FORWARD_MACS:.0e}: it would take minutes per image")
    if cost.moves > MAX_FORWARD_MOVES:
        raise BudgetError(
            f"one forward pass of one image moves ~{cost.moves:.2g} values (im2col copies, "
            f"pooling windows, activations), over the limit of {MAX_FORWARD_MOVES:.0e}: it "
            f"would take minutes per image")


def check_budget(model, batch: int = 1, training: bool = False, memory: int | None = None) -> Cost:
    """Check that ``model`` (a Sequential) can run a forward and backward pass of ``batch``
    images on this machine; returns its :class:`Cost`.

    Parameters
    ----------
    batch : int
        Images per pass (e.g. the training batch, or the evaluation batch).
    training : bool
        Count the optimiser's two moments per parameter too (Adam).
    memory : int, optional
        Bytes of memory to assume instead of this machine's.

    Raises
    ------
    BudgetError
        A ModelError whose message says what the network needs and what the limit is.
    """
    cost = estimate(model.layers, model.input_shape)
    check_cost(cost, batch, training, memory)
    return cost
