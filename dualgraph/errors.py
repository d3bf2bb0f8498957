"""dualgraph's own error kinds, all under `DualgraphError` (also exported at the top level)."""

from .ir.errors import DualgraphError, VerificationError
from .jit.tracer import ScriptError, TraceError
from .serialize import SerializationError


__all__ = ["DualgraphError", "VerificationError", "TraceError", "ScriptError",
           "SerializationError"]
