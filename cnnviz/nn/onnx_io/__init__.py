"""Open ONNX files as cnnviz networks (no Qt here; the ``onnx`` package is imported on use).

An ONNX file is a graph of operators; cnnviz's networks are one chain of layers.  The importer
reads the graph with ``onnx``'s protobuf classes only (nothing in the file is executed), orders
the nodes itself (some converters write them out of order), and walks them, keeping track of
what each value is:

- a *constant*: an initializer, a ``Constant`` node or anything computed from them alone;
- a *shape*: a vector of sizes read from the data by ``Shape`` (the batch size unknown), which
  ``Gather``/``Unsqueeze``/``Squeeze``/``Concat``/``Cast`` may carry on to a ``Reshape``;
- an *activation*: the data flowing through the chain, after the layers made so far.

Each operator either becomes a layer (Conv, Gemm, MatMul, pooling, GlobalAveragePool,
activations, LRN, BatchNormalization, Dropout, Softmax, Flatten), or changes a layer just made
(an Add of a constant after a Conv, Gemm or MatMul is its bias), or is folded away (Identity; a
Reshape to (N, -1) is a Flatten; a Pad goes into the next convolution or pooling; a Transpose
from NHWC to NCHW at the input, and from NCHW to NHWC before a flatten whose dense layer then
reads its inputs in cnnviz's order).  Anything else is refused
with :class:`OnnxImportError`, which names the node, its operator and why.

The file is trusted no more than a ``.npz``: its size is checked before it is read (and against
this machine's memory), every tensor's declared size before it becomes an array, external data
must lie in the file's own folder, and the network's work and memory go through
:mod:`cnnviz.nn.budget` before any layer is built.  Then the import checks itself: the network's
output on a random input must match ``onnx.reference.ReferenceEvaluator`` running the original
graph (:func:`verify_import`).

The package, by responsibility:

- :mod:`.limits`: the limits against hostile files, the self-check's tolerances, metadata keys;
- :mod:`.reading`: the file read and checked (size, UTF-8 names, external data, tensors), its
  operator set and metadata;
- :mod:`.values`: the errors and the values the walk keeps track of (``N``, ``Sym``, ``Act``);
- :mod:`.walk`: set-up (the one input, the nodes ordered), shared helpers, dispatch, the build;
- :mod:`.shapes` and :mod:`.folding`: constants, shape arithmetic and what is folded at import;
- :mod:`.mapping`: the operators that become engine layers;
- :mod:`.convert`: the walker made of those parts; :mod:`.selfcheck`: the comparison with
  onnx's reference evaluator.  Writing ONNX is :mod:`cnnviz.nn.onnx_export`.
"""

from __future__ import annotations

from pathlib import Path

from .convert import _Walker, convert
from .limits import (CONTRACT_KEY, EXPORT_OPSET, MAX_ONNX_BYTES, METADATA_KEY,
                     MIN_OPSET, NAME_KEY)
from .reading import _contract, _metadata, _metadata_props, _opset, read_proto, tensor_array
from .selfcheck import reference_evaluator, verify_import
from .values import N, Act, Converted, OnnxImportError, Sym

__all__ = ["CONTRACT_KEY", "EXPORT_OPSET", "MAX_ONNX_BYTES", "METADATA_KEY", "MIN_OPSET", "NAME_KEY",
           "N", "Act", "Converted", "OnnxImportError", "Sym", "_Walker", "convert", "load_onnx",
           "read_proto", "reference_evaluator", "tensor_array", "verify_import"]


def load_onnx(path, verify: bool = True):
    """Read an ``.onnx`` file as a :class:`cnnviz.nn.io.NetworkFile`.

    Parameters
    ----------
    verify : bool
        Compare the network with ``onnx.reference.ReferenceEvaluator`` on a random input
        (:func:`verify_import`); a difference beyond float32 tolerance is an error.

    Raises
    ------
    ModelFileError
        (:class:`OnnxImportError`) naming the file and what is wrong; for an operator that
        cannot be represented, the node, its operator and why.
    """
    from ..io import NetworkFile, clean_text
    from ..onnx_input_affine import take_input_affine

    path = Path(path)
    proto = read_proto(path)
    affine = take_input_affine(proto, path)  # leading Sub/Div/Mul/Add: the contract's mean, std
    converted = convert(proto, path)
    model = converted.model
    meta = _metadata_props(proto, path)
    name = meta.get(NAME_KEY)
    if isinstance(name, str) and clean_text(name):
        model.name = clean_text(name)
    else:
        model.name = clean_text(path.stem) or "network"
    contract = _contract(meta, model, path)
    if affine is not None:
        contract = affine.contract(contract, path)
    metadata = _metadata(meta, path)
    metadata.setdefault("source", {"format": "onnx", "producer": clean_text(proto.producer_name, 60),
                                   "opset": _opset(proto, path)})
    if verify:
        verify_import(proto, converted, path)
        if affine is not None:
            affine.verify(path)
    return NetworkFile(model, metadata, contract)

