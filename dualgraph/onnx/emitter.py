"""The export's builder: ONNX nodes, initializers and names, scope by scope (the graph, then each
`If` branch and `Loop` body), plus what every table entry needs — an operand cast to a dtype, a
literal as a typed constant, a shape whose sizes are symbols computed from `Shape` at run time.

A symbolic size (`B`, or an expression such as `B*T`) is read at run time from the first value
seen to have it (a graph input, or a node output for the data-dependent sizes `u0` of `nonzero`),
emitted once in that value's scope and shared by everything nested inside it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..ir.graph import Node, Value
from ..ir.registry import OpError
from ..ir.symbolic import SymExpr
from ..ir.types import DType, TensorType
from ._deps import onnx
from .dtypes import TO_ONNX, dtype_of_type

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)


class ExportError(OpError):
    """A graph that cannot be written as ONNX: names the op (or the value) and why."""


class Scope:
    """One ONNX graph being built: its nodes, and the symbolic sizes computed in it."""

    def __init__(self, parent: "Scope | None") -> None:
        self.parent = parent
        self.nodes: list = []
        self.dims: dict = {}  # symbol -> name of a 1-element int64 tensor holding its size


class Emitter:
    """Collects one ONNX model's nodes and initializers; table entries call its helpers."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.helper = onnx().helper
        self.initializers: list = []
        self.names: dict = {}  # Value -> ONNX name
        self.taken: set = set()
        self.scope = Scope(None)
        self.top = self.scope
        self.sources: dict = {}  # symbol -> (scope, ONNX name, axis)
        self._consts: dict = {}  # (dtype, shape, bytes) -> name, for small constants
        self.node: Node | None = None  # the IR node being exported (for messages)
        self.used: set = set()  # values something reads (set by the exporter)

    # ----------------------------------------------------------------------------- names
    def fresh(self, hint: str) -> str:
        base = "".join(c if c.isalnum() or c in "._" else "_" for c in hint) or "v"
        name, k = base, 1
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def define(self, value: Value, name: str) -> None:
        """Bind an IR value to an ONNX name, and note where its symbolic sizes can be read."""
        self.names[value] = name
        if isinstance(value.type, TensorType):
            for axis, d in enumerate(value.type.shape):
                if isinstance(d, str) and SymExpr(d).is_symbol and d not in self.sources:
                    self.sources[str(d)] = (self.scope, name, axis)

    def fail(self, what: str) -> None:
        op = self.node.op.name if self.node is not None else "graph"
        raise ExportError(f"onnx.export: {op}: {what}")

    # ----------------------------------------------------------------------------- nodes
    def emit(self, op_type: str, inputs: Sequence[str], outputs: int | Sequence[str] = 1,
             **attrs: Any) -> Any:
        """Append one ONNX node to the current scope; its output name (a list if several)."""
        hint = (self.node.op.name if self.node is not None else op_type.lower())
        outs = [self.fresh(hint) for _ in range(outputs)] if isinstance(outputs, int) \
            else list(outputs)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.scope.nodes.append(self.helper.make_node(op_type, list(inputs), outs,
                                                      name=self.fresh("n_" + op_type), **attrs))
        return outs[0] if isinstance(outputs, int) and outputs == 1 else outs

    def const(self, value: Any, dtype: DType | None = None, hint: str = "const") -> str:
        """An initializer holding `value` (small ones shared), of `dtype` if given."""
        array = np.asarray(value, dtype=None if dtype is None else dtype.np)
        key = None
        if array.size <= 64:
            key = (array.dtype.str, array.shape, array.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(hint)
        self.initializers.append(onnx().numpy_helper.from_array(np.array(array, order="C"), name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values: Sequence[int]) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), hint="ints")

    # --------------------------------------------------------------------------- operands
    def dtype(self, x: Any) -> DType:
        """The ONNX-side dtype of an operand (a Value, or a literal by its Python type)."""
        if isinstance(x, Value):
            return dtype_of_type(x.type)
        return dtype_of_type(type(x) if type(x) in (bool, int, float) else float)

    def get(self, x: Any, dtype: DType | None = None) -> str:
        """The ONNX name of operand `x`, cast to `dtype` when given and different: a Value's
        name, or a literal as a 0-d constant."""
        if not isinstance(x, Value):
            if x is None:
                self.fail("an operand is None where a tensor is needed")
            return self.const(np.asarray(x, dtype=(dtype or self.dtype(x)).np))
        if x not in self.names:
            self.fail(f"the value %{x.name} is not defined where it is used")
        name = self.names[x]
        if dtype is not None and dtype is not self.dtype(x):
            return self.cast(name, dtype)
        return name

    def cast(self, name: str, dtype: DType) -> str:
        return self.emit("Cast", [name], to=TO_ONNX[dtype])

    # ----------------------------------------------------------------------- symbolic sizes
    def shape(self, dims: Sequence[Any]) -> str:
        """A 1-D int64 tensor of these sizes: a constant when all are ints, else a Concat of
        constants and the run-time values of the symbolic ones."""
        if all(isinstance(d, (int, np.integer)) and not isinstance(d, str) for d in dims):
            return self.ints([int(d) for d in dims])
        parts, run = [], []
        for d in dims:
            if isinstance(d, str):
                if run:
                    parts.append(self.ints(run))
                    run = []
                parts.append(self.size(d))
            else:
                run.append(int(d))
        if run:
            parts.append(self.ints(run))
        return parts[0] if len(parts) == 1 else self.emit("Concat", parts, axis=0)

    def scalar_size(self, d: Any) -> str:
        """A 0-d int64 tensor of one size (an int or a symbolic one)."""
        if not isinstance(d, str):
            return self.const(np.asarray(int(d), np.int64))
        return self.emit("Squeeze", [self.size(d), self.ints([0])])

    def size(self, d: str) -> str:
        """A 1-element int64 tensor holding the run-time value of the symbolic size `d`."""
        expr = SymExpr(d)
        if isinstance(expr, int):
            return self.ints([expr])
        if expr.is_symbol:
            return self._symbol(str(expr))
        terms = []
        for monomial, coef in expr.poly.items():
            if getattr(coef, "denominator", 1) != 1:
                self.fail(f"the size {d} divides symbols, which ONNX sizes here cannot express")
            factors = [self._symbol(s) for s in monomial]
            if int(coef) != 1 or not factors:
                factors.append(self.ints([int(coef)]))
            term = factors[0]
            for f in factors[1:]:
                term = self.emit("Mul", [term, f])
            terms.append(term)
        total = terms[0]
        for t in terms[1:]:
            total = self.emit("Add", [total, t])
        return total

    def _symbol(self, s: str) -> str:
        if s not in self.sources:
            self.fail(f"the symbolic size {s} is not the size of any value defined before it")
        scope, name, axis = self.sources[s]
        if s not in scope.dims:
            here, self.scope = self.scope, scope  # emit where the source is visible from all
            try:
                scope.dims[s] = self.emit("Shape", [name], start=axis, end=axis + 1)
            finally:
                self.scope = here
        return scope.dims[s]

    def value_info(self, name: str, t: Any, dim_names: dict | None = None) -> Any:
        """A ValueInfoProto for a graph input or output of IR type `t` (symbols as dim_param)."""
        dtype = dtype_of_type(t)
        shape = [] if not isinstance(t, TensorType) else [
            (dim_names or {}).get(i, str(d)) if isinstance(d, str) or i in (dim_names or {})
            else int(d) for i, d in enumerate(t.shape)]
        return self.helper.make_tensor_value_info(name, TO_ONNX[dtype], shape)

