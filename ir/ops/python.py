"""Python callbacks in graphs: a custom `autograd.Function` called while tracing or scripting.

`python_function` runs the Function's `forward` when the graph runs and `python_function_backward`
its `backward`, so a captured graph keeps the Function's own gradient, as PyTorch's tracer keeps
its `prim::PythonOp`. The Python side of a call — the Function class, its non-tensor arguments,
the `ctx` of each run — lives in this process, in `CALLS` (filled by
`dualgraph/jit/pyfunction.py`, read by the kernels in `dualgraph/runtime/kernels/python.py`);
the node holds only its key. So such a graph is never written to a `.dgm` file, nor read from
one (`python_callback`): the serializer refuses it naming the Function, as PyTorch's "Could not
export Python function call".

Output 0 of `python_function` is a token (an int64 scalar) naming the `ctx` of that run; the
backward node reads it as a residual. The Function's tensor outputs follow it.
"""

from __future__ import annotations

from typing import Any

from ..registry import ALL_INPUTS, OpDef, register
from ..types import int64

CALLS: dict[int, Any] = {}  # call key -> the live call (see dualgraph/jit/pyfunction.py)


def _forward_dtype(operands, attrs):
    return (int64, *attrs["out_dtypes"]), int64


def _forward_shape(operands, attrs):
    return ((), *attrs["out_shapes"])


def _vjp(ctx, grads):
    attrs = ctx.attrs
    given = grads[1:]  # one per Function output; None where the output is not floating
    present = tuple(g is not None for g in given)
    outs = ctx.bind("python_function_backward",
                    (ctx.output[0], *[g for g in given if g is not None]),
                    {"function": attrs["function"], "call": attrs["call"], "present": present,
                     "in_dtypes": tuple(ctx.dtypes), "in_shapes": tuple(ctx.shapes)})
    return tuple(outs)


PYTHON_FUNCTION = register(OpDef(
    name="python_function", inputs=("*inputs",),
    attrs={"function": "", "call": 0, "out_dtypes": (), "out_shapes": ()},
    num_outputs=2, index_inputs=ALL_INPUTS, graph_only=True, effect=True, python_callback=True,
    dtype_rule=_forward_dtype, shape_rule=_forward_shape, vjp=_vjp, save_output=(0,),
    grad_name=lambda inputs, attrs: f"{attrs['function'].rpartition('.')[2]}Backward",
    doc="A custom autograd.Function's forward on the tensor inputs: a token naming this run's "
        "ctx, then the Function's tensor outputs."))


def _backward_dtype(operands, attrs):
    return tuple(attrs["in_dtypes"]), int64


PYTHON_FUNCTION_BACKWARD = register(OpDef(
    name="python_function_backward", inputs=("*inputs",),
    attrs={"function": "", "call": 0, "present": (), "in_dtypes": (), "in_shapes": ()},
    num_outputs=2, index_inputs=ALL_INPUTS, graph_only=True, effect=True, python_callback=True,
    dtype_rule=_backward_dtype, shape_rule=lambda operands, attrs: tuple(attrs["in_shapes"]),
    doc="The Function's backward: (token, output gradients that exist) -> one gradient per "
        "tensor input of the forward node (zeros where backward gave None)."))
