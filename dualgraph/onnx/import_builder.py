"""The import's builder: ONNX names -> IR values scope by scope (the graph, each If branch and
Loop body), registry nodes appended where ops go now, and the *static* values import needs for
ONNX inputs that are attributes in dualgraph (a Reshape's shape, a Slice's starts): constants,
and shapes whose sizes are symbols (`Shape` of a value of type f32[B, 784] is [B, 784]), folded
symbolically through Gather, Slice, Concat, arithmetic and Cast — nothing from the file runs.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..ir.graph import Block, Graph, Node, Value
from ..ir.registry import get
from ..ir.types import TensorType, dtype_from_numpy
from .dtypes import TO_ONNX, from_onnx


class ImportError_(ValueError):
    """A model that cannot be read as a dualgraph graph: names the node, op and attribute."""


class UnsupportedOpError(ImportError_):
    """An ONNX op (or an attribute value of one) that the import table does not map."""


class Symbolic:
    """A 1-D int64 tensor known at import time whose entries may be symbolic sizes."""

    __slots__ = ("items", "scalar")

    def __init__(self, items: Sequence, scalar: bool = False) -> None:
        self.items = list(items)
        self.scalar = scalar  # a 0-d tensor (one item)


class Scope:
    def __init__(self, parent: "Scope | None", nodes: list) -> None:
        self.parent = parent
        self.nodes = nodes
        self.values: dict = {}   # ONNX name -> Value (or a Python literal)
        self.static: dict = {}   # ONNX name -> np.ndarray or Symbolic

    def find(self, table: str, name: str) -> Any:
        s: Scope | None = self
        while s is not None:
            t = getattr(s, table)
            if name in t:
                return t[name]
            s = s.parent
        return None


class Builder:
    """What every import table entry works with (see import_table.py)."""

    def __init__(self, graph: Graph, opset: int) -> None:
        self.graph = graph
        self.opset = opset
        self.scope = Scope(None, graph.nodes)
        self.initializers: dict = {}  # name -> array (data of the file, not yet a value)
        self.state: list = []  # (name, Value, array): initializers read as data
        self.onnx_node: Any = None
        self.where = ""
        self.dtypes: dict = {}  # ONNX name -> element type, from ONNX's shape inference
        self.counted = 0  # nodes imported so far, in all graphs (bounded by the importer)
        self.run_subgraph: Any = None  # (GraphProto, where) -> output values; the importer's

    # --------------------------------------------------------------------- messages
    def fail(self, what: str, unsupported: bool = False) -> None:
        cls = UnsupportedOpError if unsupported else ImportError_
        raise cls(f"{self.where}: {what}")

    # --------------------------------------------------------------------- inputs
    def has(self, i: int) -> bool:
        ins = self.onnx_node.input
        return i < len(ins) and ins[i] != ""

    def n_inputs(self) -> int:
        return len(self.onnx_node.input)

    def value(self, i: int) -> Any:
        """Input `i` as an IR value, materializing constants and symbolic shapes on first use."""
        if not self.has(i):
            self.fail(f"input {i} is required")
        return self.lookup(self.onnx_node.input[i])

    def values(self, start: int = 0) -> list:
        return [self.value(i) for i in range(start, self.n_inputs()) if self.has(i)]

    def lookup(self, name: str) -> Any:
        v = self.scope.find("values", name)
        if v is not None:
            return v
        if name in self.initializers:
            return self._initializer(name)
        known = self.scope.find("static", name)
        if isinstance(known, np.ndarray):
            v = self.constant(known)
        elif isinstance(known, Symbolic):
            v = self.symbolic_value(known)
            if known.scalar:
                v = self.emit("reshape", [v], shape=())
        else:
            self.fail(f"the value {name!r} is used before it is defined")
        want = self.dtypes.get(name)
        if want is not None and want != TO_ONNX.get(v.type.dtype):  # folded as int64
            v = self.emit("to_dtype", [v], dtype=from_onnx(want, self.where))
        self.scope.values[name] = v
        return v

    def _initializer(self, name: str) -> Value:
        array = self.initializers[name]
        if array.dtype.kind == "f" and array.ndim > 0:  # a parameter: a state input
            v = Value(TensorType(dtype_from_numpy(array.dtype), array.shape), _ident(name))
            self.state.append((name, v, array))
        else:
            here, self.scope = self.scope, self._root()
            try:
                v = self.constant(array)
            finally:
                self.scope = here
        self._root().values[name] = v
        return v

    def _root(self) -> Scope:
        s = self.scope
        while s.parent is not None:
            s = s.parent
        return s

    def static(self, i: int, what: str) -> Any:
        """Input `i` known at import time (np.ndarray or Symbolic), or a clear refusal."""
        if not self.has(i):
            return None
        name = self.onnx_node.input[i]
        if name in self.initializers:
            return self.initializers[name]
        known = self.scope.find("static", name)
        if known is None:
            self.fail(f"input {i} ({what}) must be known when importing (a constant, or "
                      "computed from shapes); it is computed from data", unsupported=True)
        return known

    def static_ints(self, i: int, what: str) -> list | None:
        known = self.static(i, what)
        if known is None:
            return None
        if isinstance(known, Symbolic):
            return list(known.items)
        return [int(v) for v in np.asarray(known).reshape(-1)]

    def static_array(self, name: str) -> Any:
        if name in self.initializers:
            return self.initializers[name]
        return self.scope.find("static", name)

    # --------------------------------------------------------------------- attributes
    def attr(self, name: str, default: Any = None) -> Any:
        from onnx import helper
        for a in self.onnx_node.attribute:
            if a.name == name:
                v = helper.get_attribute_value(a)
                return v.decode() if isinstance(v, bytes) else v
        return default

    def attr_proto(self, name: str) -> Any:
        for a in self.onnx_node.attribute:
            if a.name == name:
                return a
        return None

    # --------------------------------------------------------------------- emitting
    def emit(self, op: str, inputs: Sequence, **attrs: Any) -> Any:
        """Append a registry node where ops go now; its output (a list if several)."""
        node = self.graph.add_node(get(op), list(inputs), attrs)
        if self.scope.nodes is not self.graph.nodes:
            self.graph.nodes.pop()
            self.scope.nodes.append(node)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a dualgraph function (`F.pad`, `F.nll_loss` ...) on IR values, recording the
        registry ops it binds where ops go now: the import of an ONNX op that dualgraph has as
        a composition. Tensor arguments and results are IR values."""
        from ..autograd.grad_mode import no_grad
        from ..dispatch import interpreting
        from ..jit.blocks import BlockTracer
        tracer = BlockTracer(self.graph)
        tracer.open = [self.scope.nodes]
        wrap = lambda a: tracer.wrap(a) if isinstance(a, Value) else a
        with no_grad(), interpreting(tracer):
            out = fn(*[wrap(a) for a in args], **{k: wrap(v) for k, v in kwargs.items()})
        unwrap = lambda t: tracer.current(t) if hasattr(t, "_tracer") else t
        return [unwrap(t) for t in out] if isinstance(out, (tuple, list)) else unwrap(out)

    def append(self, node: Node) -> None:
        self.scope.nodes.append(node)

    def constant(self, array: np.ndarray) -> Value:
        array = np.array(array, order="C")
        value = self.emit("constant", [], value=array)
        name = f"c{len(self.graph.tensors)}"
        self.graph.tensors[name] = array
        value.node.meta["tensor"] = name
        return value

    def symbolic_value(self, known: Symbolic) -> Value:
        """A 1-D int64 tensor of sizes, built from `sym_size` of the values that have them."""
        parts = []
        for d in known.items:
            if isinstance(d, str):
                parts.append(self.size_value(d))
            else:
                parts.append(self.constant(np.asarray(int(d), np.int64)))
        return self.emit("stack", parts, dim=0) if parts else self.constant(
            np.zeros((0,), np.int64))

    def size_value(self, d: str) -> Value:
        from ..ir.symbolic import SymExpr
        expr = SymExpr(d)
        if not isinstance(expr, str) or not expr.is_symbol:
            self.fail(f"the size {d} is an expression; only plain symbolic sizes are read back",
                      unsupported=True)
        holder = self.sizes.get(str(expr))
        if holder is None:
            self.fail(f"no value has the symbolic size {d}")
        v, axis = holder
        return self.emit("sym_size", [v], dim=axis)

    @property
    def sizes(self) -> dict:
        """symbol -> (a graph input having it, the axis): where run-time sizes are read."""
        found = self.__dict__.get("_sizes")
        if found is None:
            found = self.__dict__["_sizes"] = {}
            for v in self.graph.inputs:
                if isinstance(v.type, TensorType):
                    for axis, d in enumerate(v.type.shape):
                        if isinstance(d, str) and d not in found:
                            found[d] = (v, axis)
        return found

    # --------------------------------------------------------------------- outputs
    def define(self, name: str, value: Any, static: Any = None) -> None:
        if name == "":
            return
        if value is not None:
            self.scope.values[name] = value
        if static is not None:
            self.scope.static[name] = static

    def block(self, name: str, inputs: Sequence = ()) -> tuple:
        """Open a block: (Block, previous scope); the caller restores the scope."""
        block = Block(name, inputs)
        outer = self.scope
        self.scope = Scope(outer, block.nodes)
        return block, outer


def _ident(name: str) -> str:
    out = "".join(c if c.isalnum() or c in "._" else "_" for c in name)
    return out if out and not out[0].isdigit() else "v_" + out
