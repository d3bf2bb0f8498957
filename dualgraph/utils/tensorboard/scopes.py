"""Which submodule emitted each captured node: its module path (`fc1`, `layers.0.attn`).

Capture records it (`node.meta["module"]`, see dualgraph/jit/trace.py `module_scopes`), so a
graph traced or scripted from a module carries its scopes into `add_graph` whether it was
captured here or by the user; the optimization passes keep it. This module only reads it.
"""

from __future__ import annotations

from dualgraph.ir.graph import MODULE as MODULE_KEY
from dualgraph.ir.graph import module_of

__all__ = ["MODULE_KEY", "module_of"]
