"""KServe v2 tensor datatypes (`FP32`, `INT64`, `BOOL` ...) and dualgraph's dtypes, both ways."""

from __future__ import annotations

import numpy as np

from ..ir import types as T

_TO_NAME = {T.float16: "FP16", T.float32: "FP32", T.float64: "FP64", T.int8: "INT8",
            T.int16: "INT16", T.int32: "INT32", T.int64: "INT64", T.uint8: "UINT8",
            T.bool_: "BOOL"}
_FROM_NAME = {v: k for k, v in _TO_NAME.items()}
# the protocol's other names, which no dualgraph graph can take
KNOWN_ELSEWHERE = ("UINT16", "UINT32", "UINT64", "BF16", "BYTES")


def datatype_of(dtype: T.DType) -> str:
    """The protocol's name of a dtype (`float32` -> `FP32`)."""
    return _TO_NAME[dtype]


def dtype_of(name: object) -> T.DType | None:
    """The dtype a protocol datatype names, or None when dualgraph has none."""
    return _FROM_NAME.get(name) if isinstance(name, str) else None


def wire_dtype(dtype: T.DType) -> np.dtype:
    """The little-endian NumPy dtype of the binary extension's raw bytes."""
    return dtype.np.newbyteorder("<")
