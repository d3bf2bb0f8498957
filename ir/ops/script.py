"""Ops that compiled Python needs beside the math: a Python scalar as a 0-d tensor (a loop's
count), a dimension's size as a tensor (`range(x.size(0))` with a symbolic batch), and a runtime
`assert`. Each is an ordinary op (meta, kernel, samples), so eager, traces and files share them.
"""

from __future__ import annotations

import numpy as np

from ..meta import normalize_dim
from ..registry import OPAQUE, Algebra, OpDef, OpError, Sample, register
from ..types import ListType, TensorType, bool_, int64, scalar_dtype


def _scalar_tensor_dtype(operands, attrs):
    value = operands[0]
    if isinstance(value, TensorType) or not isinstance(value, (bool, int, float)):
        raise OpError(f"scalar_tensor(): value must be a Python bool, int or float, got "
                      f"{type(value).__name__}")
    d = attrs["dtype"] or scalar_dtype(value)
    return d, d


SCALAR_TENSOR = register(OpDef(
    name="scalar_tensor", inputs=("value",), attrs={"dtype": None, "device": None},
    kind=OPAQUE,
    dtype_rule=_scalar_tensor_dtype, shape_rule=lambda operands, attrs: (),
    samples=lambda rng: [Sample((3,)), Sample((2.5,)), Sample((True,)),
                         Sample((7,), {"dtype": int64})],
    ref=lambda value, dtype=None, device=None: np.asarray(value, (dtype or scalar_dtype(value)).np),
    doc="A Python scalar (a loop's iteration count, an int argument) as a 0-d tensor."))


def _tensor_input(op: str, operands) -> TensorType:
    x = operands[0]
    if not isinstance(x, TensorType):
        raise OpError(f"{op}(): input must be a tensor, got {type(x).__name__}")
    return x


def _sym_size_shape(operands, attrs):
    x = _tensor_input("sym_size", operands)
    normalize_dim("sym_size", attrs["dim"], len(x.shape))
    return ()


SYM_SIZE = register(OpDef(
    name="sym_size", inputs=("input",), attrs={"dim": 0}, kind=OPAQUE,
    dtype_rule=lambda operands, attrs: (int64, int64), shape_rule=_sym_size_shape,
    samples=lambda rng: [Sample((rng.uniform(size=(3, 4)),), {"dim": 1}),
                         Sample((rng.uniform(size=(5,)),), {"dim": -1})],
    ref=lambda x, dim=0: np.asarray(x.shape[dim], np.int64),
    doc="The size of one dimension as a 0-d int64 tensor (a symbolic size at run time)."))


def _assert_shape(operands, attrs):
    cond = operands[0]
    if isinstance(cond, TensorType) and cond.shape:
        raise OpError(f"assert(): the condition must be a 0-d tensor or a bool, got shape "
                      f"{list(cond.shape)}")
    return ()


ASSERT = register(OpDef(
    name="assert", inputs=("cond",), attrs={"message": ""}, kind=OPAQUE, effect=True,
    dtype_rule=lambda operands, attrs: (bool_, bool_), shape_rule=_assert_shape,
    samples=lambda rng: [Sample((np.array(True),), {"message": "never raised"}),
                         Sample((np.array(2.5),))],
    ref=lambda cond, message="": np.asarray(True),
    doc="Raise AssertionError(message) when the condition is false (a script `assert`); "
        "its output is True. An effect: passes must keep it even when nobody reads it."))


DETACH = register(OpDef(
    name="detach", inputs=("input",), kind=OPAQUE, may_alias=True,
    dtype_rule=lambda operands, attrs: (operands[0].dtype, operands[0].dtype),
    shape_rule=lambda operands, attrs: _tensor_input("detach", operands).shape,
    samples=lambda rng: [Sample((rng.uniform(size=(2, 3)),)), Sample((np.arange(3),))],
    ref=lambda x: np.array(x, copy=True),
    doc="The input, cut from autograd: what `t.detach()` records in a graph (no VJP, so "
        "graph autodiff stops here as eager autograd does)."))


# Residual lists: graph autodiff's forward loop appends what each iteration's VJP reads, and the
# backward loop reads it back by iteration. They live only in generated code (`graph_only`).

def _no_dtype(operands, attrs):
    return None, None


def _list_of(op: str, x):
    if not isinstance(x, ListType):
        raise OpError(f"{op}(): expected a list, got {x!r}")
    return x


LIST_NEW = register(OpDef(
    name="list_new", inputs=(), attrs={"element": None}, graph_only=True,
    dtype_rule=_no_dtype, shape_rule=_no_dtype,
    type_rule=lambda operands, attrs: [ListType(attrs["element"])],
    doc="An empty list of tensors of type `element`."))

LIST_APPEND = register(OpDef(
    name="list_append", inputs=("list", "value"), graph_only=True, effect=True,
    dtype_rule=_no_dtype, shape_rule=_no_dtype,
    type_rule=lambda operands, attrs: [_list_of("list_append", operands[0])],
    doc="The list with `value` appended (the same list object: each is used once)."))

LIST_GET = register(OpDef(
    name="list_get", inputs=("list", "index"), graph_only=True, index_inputs=(1,),
    dtype_rule=_no_dtype, shape_rule=_no_dtype,
    type_rule=lambda operands, attrs: [_list_of("list_get", operands[0]).element],
    doc="The element at `index` (an int or a 0-d integer tensor)."))


DETACH.algebra = Algebra(idempotent=True)  # detach(detach(x)) == detach(x) (passes/simplify.py)
