"""`dg.jit`: capture into static graphs, where PyTorch keeps it.

`trace` runs a function or module once under the tracing interpreter and returns a compiled
`TracedFunction` (`.graph`, `.code`, `.save()`); `freeze` bakes a module's parameters and
buffers into a `FrozenFunction` as constants, batch norm folded into its layers; `save` and
`load` write and read `.dgm` files that run with dualgraph and NumPy alone.
"""

from ..ir.errors import DualgraphError, VerificationError
from .freeze import FrozenFunction, freeze
from .function import GraphFunction, GraphInputError, run_reference
from .io import LoadedFunction, load, save
from .script import ScriptFunction, ScriptModule, script
from .trace import TracedFunction, trace
from .tracer import ScriptError, TraceError, is_tracing

__all__ = ["trace", "script", "freeze", "FrozenFunction", "ScriptFunction", "ScriptModule",
           "save", "load", "TracedFunction", "LoadedFunction", "GraphFunction",
           "TraceError", "ScriptError", "GraphInputError", "DualgraphError", "VerificationError",
           "run_reference", "is_tracing"]
