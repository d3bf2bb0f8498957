"""dualgraph dtypes <-> ONNX element types (TensorProto codes), both ways, with names for errors."""

from __future__ import annotations

from typing import Any

from ..ir import types as T

# TensorProto.DataType codes (fixed by the ONNX spec, so no import of onnx is needed here)
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)

TO_ONNX = {T.float32: FLOAT, T.uint8: UINT8, T.int8: INT8, T.int16: INT16, T.int32: INT32,
           T.int64: INT64, T.bool_: BOOL, T.float16: FLOAT16, T.float64: DOUBLE}
FROM_ONNX = {code: d for d, code in TO_ONNX.items()}

# the Python types of scalar-typed IR values (a loop's counter) travel as 0-d tensors of these
SCALAR = {int: T.int64, float: T.float64, bool: T.bool_}


class UnsupportedDTypeError(TypeError):
    """An ONNX element type that dualgraph has no dtype for (bfloat16, string, complex ...)."""


def onnx_name(code: int) -> str:
    """`TensorProto.BFLOAT16` -> 'BFLOAT16' (for messages), without failing on unknown codes."""
    from ._deps import onnx
    try:
        return onnx().TensorProto.DataType.Name(code)
    except (ValueError, ImportError):
        return f"element type {code}"


def from_onnx(code: int, where: str) -> T.DType:
    """The dualgraph dtype of an ONNX element type; UnsupportedDTypeError names it otherwise."""
    try:
        return FROM_ONNX[code]
    except KeyError:
        raise UnsupportedDTypeError(
            f"{where}: ONNX type {onnx_name(code)} has no dualgraph dtype (supported: "
            + ", ".join(onnx_name(c) for c in sorted(FROM_ONNX)) + ")") from None


def dtype_of_type(t: Any) -> T.DType:
    """The dtype a value of IR type `t` has in ONNX: a tensor's, or a scalar type's 0-d one."""
    if isinstance(t, T.TensorType):
        return t.dtype
    return SCALAR[t]
