"""Limits of the ONNX reader (against hostile files), the self-check's tolerances, the
metadata keys and operator sets of cnnviz's own files, and the tensor types it reads."""

from __future__ import annotations

import numpy as np

#: The largest .onnx file (protobuf itself stops at 2 GiB).  VGG-16 is 553 MB.
MAX_ONNX_BYTES = 2**31 - 1
#: Reading a file needs about three times its size at the peak (its bytes, the parsed message,
#: the arrays); that must fit in this share of the machine's memory.
READ_FACTOR = 3
MAX_NODES = 20_000
#: Most inputs or outputs of one node, values of one list attribute, and sizes in a shape vector
#: (no operator cnnviz reads needs more; a file declaring millions would cost time and memory).
MAX_NODE_INPUTS = 1024
MAX_LIST = 64
MAX_TENSOR_BYTES = 2**31
MAX_INPUT_SIDE = 4096
#: Largest input of an operator computed at import (shape arithmetic)...
MAX_FOLDED = 2**20
#: ... and largest output (ConstantOfShape/Expand may make weights: structure-only files such
#: as onnx's own test networks); all of them together must fit as the file's size does.
MAX_FOLDED_OUTPUT = 2**28
MAX_PARAM_MAGNITUDE = 1e5
#: Oldest opset read (the issue's range: PyTorch and Keras converters write 7 and newer).
MIN_OPSET = 7
#: Opset of the files cnnviz writes.
EXPORT_OPSET = 17
#: metadata_props keys of cnnviz's own files.
CONTRACT_KEY = "cnnviz.input"
METADATA_KEY = "cnnviz.metadata"
NAME_KEY = "cnnviz.name"
MAX_METADATA_BYTES = 2**20
#: The self-check runs one image instead of two beyond this many multiply-adds (VGG-16: 1.5e10;
#: the reference evaluator takes a few seconds per image of it).
VERIFY_ONE_IMAGE_MACS = 1e9
#: Tolerance of the self-check, relative to the largest output of the reference.
VERIFY_RTOL = 1e-3
#: A graph whose batch size is fixed beyond this is not checked (the reference would need
#: that many images).
MAX_VERIFY_BATCH = 16
VERIFY_ATOL = 1e-5

_FLOAT, _UINT8, _INT8, _INT32, _INT64, _BOOL, _FLOAT16, _DOUBLE = 1, 2, 3, 6, 7, 9, 10, 11
_DTYPES = {_FLOAT: np.float32, _UINT8: np.uint8, _INT8: np.int8, _INT32: np.int32,
           _INT64: np.int64, _BOOL: np.bool_, _FLOAT16: np.float16, _DOUBLE: np.float64}
_TYPE_NAMES = {0: "undefined", 1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16",
               6: "int32", 7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "double",
               12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16"}
