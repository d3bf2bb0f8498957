"""Control-flow ops: `if` and `loop`, whose bodies are the node's blocks.

    %r = if(%cond) : f32[3] {            %out = loop(%trip, %go, %x) : f32[3] {
      then() { ...; yield (%a) }           body(%i: int, %c: f32[3]) {
      else() { ...; yield (%b) }             ...; yield (%keep_going, %c2)
    }                                      }
                                         }

`if` runs one block, chosen by a 0-d tensor (or a bool literal), and its outputs are that block's
yields. `loop` (TorchScript's form, which covers `for` and `while`) runs its body while the
iteration count is below `trip` and the condition holds; the body takes the count and the
carried values and yields the next condition and carried values; the outputs are the last
carried values. Their types come from the blocks, so the verifier checks them structurally
(`verify.py`); they have no kernels and run only inside graphs (generated `if`/`while`, or the
reference interpreter).
"""

from __future__ import annotations

from ..registry import OPAQUE, OpDef, OpError, register


def _types_from_blocks(operands, attrs):
    raise OpError("control-flow ops take their output types from their blocks")


IF = register(OpDef(
    name="if", inputs=("cond",), kind=OPAQUE, control=True,
    dtype_rule=_types_from_blocks, shape_rule=_types_from_blocks,
    doc="Run the `then` or the `else` block by a condition; yields become the outputs."))

LOOP = register(OpDef(
    name="loop", inputs=("max_trip_count", "cond", "*carried"), kind=OPAQUE, control=True,
    dtype_rule=_types_from_blocks, shape_rule=_types_from_blocks,
    doc="Run the body while count < max_trip_count and cond holds, carrying values."))
