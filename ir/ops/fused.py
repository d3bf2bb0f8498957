"""The fused op: a group of elementwise ops that one generated kernel computes.

    %3, %4 = fused(%x, %y) {kernel='mul_add_tanh'} : f32[B, 8], f32[B, 8] {
      body(%5: f32[B, 8], %6: f32[8]) {
        %7 = mul(%5, %6) : f32[B, 8]
        %8 = add(%7, 1.0) {alpha=1} : f32[B, 8]
        %9 = tanh(%8) : f32[B, 8]
        yield (%8, %9)
      }
    }

The node's inputs bind the body's inputs in order and its outputs are the body's yields, so the
node means exactly what its body means: the reference interpreter runs the body op by op, and a
backend runs one kernel generated from the ops' scalar templates (dualgraph/runtime/fusion.py).
Fused nodes are made by the fusion pass (passes/fuse.py), the last pass of a pipeline; they have
no VJP (autodiff runs on graphs before fusion) and are never saved (files hold the captured
graph). `kernel` names the ops inside, for people reading the IR, profiles and pictures.
"""

from __future__ import annotations

from ..registry import OPAQUE, OpDef, OpError, register


def _types_from_body(operands, attrs):
    raise OpError("fused: the output types come from the node's body")


FUSED = register(OpDef(
    name="fused", inputs=("*inputs",), attrs={"kernel": ""}, kind=OPAQUE, region=True,
    dtype_rule=_types_from_body, shape_rule=_types_from_body,
    doc="Elementwise ops computed by one generated kernel; its body holds them."))
