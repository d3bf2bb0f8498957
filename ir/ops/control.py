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
carried values.

A loop may also have *scan outputs* (ONNX's form): the body yields, after the condition and the
carried values, one tensor per scan output, and the node's outputs are the last carried values
followed by each scan's per-iteration values stacked along a new first axis. How many there are
follows from the node: its outputs beyond its carried inputs (`scan_count`). A scan output's type
is `[n, *item]`, `n` the number of iterations run: the trip count's size expression (`T`), an int
when the loop always runs a literal trip count to the end, or a fresh symbol (`u0`) bound when the
loop ends; a loop that runs no iteration gives `[0, *item]`.

    %h, %hs = loop(%T, True, %h0) : f32[B, H], f32[T, B, H] {
      body(%t: int, %h1: f32[B, H]) { ...; yield (True, %h2, %h2) }
    }

Their types come from the blocks, so the verifier checks them structurally (`verify.py`); they
have no kernels and run only inside graphs (generated `if`/`while`, or the reference interpreter).
"""

from __future__ import annotations

from typing import Any

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
    doc="Run the body while count < max_trip_count and cond holds, carrying values (and "
        "stacking scan outputs)."))


def scan_count(node: Any) -> int:
    """How many scan outputs a `loop` node has: its outputs beyond its carried values."""
    return len(node.outputs) - (len(node.inputs) - 2)
