"""dualgraph.ir: the shared IR — value types, the op registry and the op definitions.

Everything an interpreter needs to know about an op is read from here; nothing here computes
with arrays.
"""

from . import ops  # noqa: F401  (registers every op)
from .registry import (ELEMENTWISE, OPAQUE, REDUCTION, VIEW, OpDef, OpError, Sample, all_ops,
                       get, on_register, register)
from .types import CPU, Device, DType, TensorType, promote_types, result_type

__all__ = ["ELEMENTWISE", "OPAQUE", "REDUCTION", "VIEW", "OpDef", "OpError", "Sample", "all_ops",
           "get", "on_register", "register", "CPU", "Device", "DType", "TensorType",
           "promote_types", "result_type"]
