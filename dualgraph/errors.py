"""dualgraph's own error kinds, all under `DualgraphError` (also exported at the top level)."""

from .ir.errors import DualgraphError, VerificationError
from .jit.tracer import TraceError
from .serialize import SerializationError


class ScriptError(DualgraphError):
    """`dg.jit.script` met Python it cannot compile; the message shows the line with a caret
    and what to write instead."""


__all__ = ["DualgraphError", "VerificationError", "TraceError", "ScriptError",
           "SerializationError"]
