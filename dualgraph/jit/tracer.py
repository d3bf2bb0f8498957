"""The tracing interpreter: ops called while it is on the stack become graph nodes, not kernels.

User code sees `TracerTensor`s — real `Tensor` subclasses whose value is a graph `Value` — so
methods, operators and `dg.*` functions all reach `dispatch.bind` and land here. No kernel runs:
output types come from each op's meta function. Anything that would need the data (`bool(t)`,
`t.item()`, `if t > 0:`, printing) raises `TraceError` at the user's line, so a trace is never
silently specialized to the example's values. In-place ops are rewritten to pure ops plus a
rebinding of the tensor (and, for a view, a write-back into its base).
"""

from __future__ import annotations

import linecache
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np

from ..autograd.function import new_ctx, run_forward
from ..dispatch import Interpreter, interpreting
from ..ir.errors import DualgraphError
from ..ir.graph import MODULE, Graph, Node, Value
from ..ir.ops.python import CALLS, PYTHON_FUNCTION
from ..ir.registry import VIEW, OpDef, get
from ..ir.text import format_attr
from ..ir.types import TensorType
from ..size import Size, SymDim
from ..tensor import Tensor
from .pyfunction import LiveCall, keys

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_IR_DIR = os.path.join(os.path.dirname(_PACKAGE_DIR), "ir")


def is_tracing() -> bool:
    """Whether code runs under `dg.jit.trace` on this thread (PyTorch's torch.jit.is_tracing)."""
    from ..dispatch import active
    return any(isinstance(i, Tracer) for i in active())


class TraceError(DualgraphError):
    """Tracing met something a static graph cannot hold (a Python value taken from a tensor)."""


class ScriptError(DualgraphError):
    """`dg.jit.script` met Python it cannot compile; the message shows the line with a caret
    and what to write instead."""


def user_frame() -> tuple:
    """(file, line, source text) of the innermost frame outside dualgraph: the user's line."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_PACKAGE_DIR) or path.startswith(_IR_DIR)):
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            return frame.f_code.co_filename, frame.f_lineno, line
        frame = frame.f_back
    return "<unknown>", 0, ""


def trace_error(what: str, hint: str = "") -> TraceError:
    file, line, text = user_frame()
    where = f"{file}:{line}: {text}\n" if line else ""
    hint = hint or ("a traced graph cannot depend on tensor values in Python; keep such control "
                    "flow in the graph with @dg.script, or compute it outside the traced function")
    return TraceError(f"{where}{what}\nHint: {hint}")


def _data_error(what: str) -> TraceError:
    return trace_error(f"{what} needs the value of a traced tensor, which tracing does not "
                       "compute")


class TracerTensor(Tensor):
    """A tensor inside a trace: its value is a graph Value of the tracer that made it."""

    __slots__ = ("_value", "_tracer", "_tview", "_tstamp")

    @property
    def shape(self) -> Size:
        return _Shape(SymDim(d) if isinstance(d, str) else d for d in self._value.type.shape)

    def numel(self) -> Any:
        """The element count: an int, or a SymDim (`48*B`) when a dim is symbolic."""
        from ..ir.meta import numel
        n = numel(self._value.type.shape)
        return SymDim(n) if isinstance(n, str) else n

    def size(self, dim: int | None = None) -> Any:
        shape = self.shape
        if dim is None:
            return shape
        from ..ir.meta import normalize_dim
        return shape[normalize_dim("size", dim, len(shape))]

    def dim(self) -> int:
        return len(self._value.type.shape)

    @property
    def ndim(self) -> int:
        return len(self._value.type.shape)

    def __len__(self) -> int:
        shape = self._value.type.shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        if isinstance(shape[0], str):
            raise trace_error(f"len() of a tensor whose first dimension is symbolic ({shape[0]})")
        return shape[0]

    def __iter__(self) -> Any:
        """Rows, one node each, where the first dim is a concrete size; a symbolic one has no
        length to unroll now (zip(xs, ys) in script), which the error says."""
        shape = self._value.type.shape
        if not shape:
            raise TypeError("iteration over a 0-d tensor")
        if isinstance(shape[0], str):
            raise trace_error(f"iterating in Python over a tensor whose first dimension is "
                              f"symbolic ({shape[0]}) needs its length now",
                              "loop over range(x.shape[0]) and index the rows, or iterate the "
                              "tensor itself (`for row in x`) in a scripted function")
        return (self[i] for i in range(shape[0]))

    def item(self) -> Any:
        raise _data_error("item()")

    def tolist(self) -> Any:
        raise _data_error("tolist()")

    def numpy(self, force: bool = False) -> Any:
        raise _data_error("numpy()")

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise _data_error("converting to a NumPy array")

    def __bool__(self) -> bool:
        raise _data_error("using a tensor as a Python bool (an `if`, `while`, `and`, `or`)")

    def __float__(self) -> float:
        raise _data_error("float()")

    def __int__(self) -> int:
        raise _data_error("int()")

    def __index__(self) -> int:
        raise _data_error("using a tensor as an index or int")

    def __repr__(self, *, tensor_contents: Any = None) -> str:
        return f"TracerTensor(%{self._value.name or '?'}: {self._value.type})"

    def __format__(self, spec: str) -> str:
        raise _data_error("formatting a tensor")

    def __str__(self) -> str:  # print(t), str(t), logging: they would show the trace's values
        raise _data_error("printing a tensor")

    def contiguous(self, memory_format: Any = None) -> "TracerTensor":
        """A `contiguous` node: generated code must hand a later `view` a C-ordered array (the
        kernel copies only when the array is not already)."""
        return self._tracer.wrap(self._tracer._emit(get("contiguous"),
                                                    [self._tracer.current(self)], {}))

    def detach(self) -> "TracerTensor":
        return self._tracer.wrap(self._tracer._emit(get("detach"), [self._tracer.current(self)],
                                                    {}))

    @property
    def data(self) -> "TracerTensor":
        return self.detach()

    @property
    def grad_fn(self) -> Any:
        return None

    def _host(self) -> Any:
        raise _data_error("reading the values")


class _Shape(Size):
    def numel(self) -> Any:
        from ..ir.symbolic import prod
        n = prod(d.expr if isinstance(d, SymDim) else d for d in self)
        return SymDim(n) if isinstance(n, str) else n


class ViewLink:
    """A traced view's relation to its base: the ops that made it, to replay after the base
    changes in place, and the single op that can write it back (getitem only)."""

    __slots__ = ("base", "chain")

    def __init__(self, base: TracerTensor, chain: tuple) -> None:
        self.base, self.chain = base, chain


class Tracer(Interpreter):
    """Records every op into `graph`. Tensors from outside the trace become constants. Each node
    gets `meta["source"]` (the user's line) and, inside a submodule's forward, `meta["module"]`:
    the innermost open module path (`in_module`)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._constants: dict[int, tuple] = {}
        self._stamp = 0  # bumps on every in-place write, so stale views can be re-derived
        self.modules: list[str] = []  # the open submodule calls' paths, innermost last
        self.module_paths: dict[int, str] = {}  # id(submodule) -> its path in the captured root

    @contextmanager
    def in_module(self, path: str) -> Iterator[None]:
        """Nodes emitted inside the with belong to the submodule at `path` (`layers.0.attn`)."""
        self.modules.append(path)
        try:
            yield
        finally:
            self.modules.pop()

    def stamp_module(self, node: Node) -> None:
        """Record the innermost open submodule's path on `node` (nothing at the top level)."""
        if self.modules and self.modules[-1]:
            node.meta[MODULE] = self.modules[-1]

    # -------------------------------------------------------------------------- values
    def wrap(self, value: Value, view: ViewLink | None = None) -> TracerTensor:
        t = object.__new__(TracerTensor)
        typ = value.type
        t._data = None
        t._dtype, t._device = typ.dtype, typ.device
        t._requires_grad = False
        t._grad_fn, t._output_nr, t._version, t._ag, t._view = None, 0, None, None, None
        t._value, t._tracer, t._tview, t._tstamp = value, self, view, self._stamp
        return t

    def current(self, t: TracerTensor) -> Value:
        """The tensor's value now: a view of a base written in place since is re-derived."""
        link = t._tview
        if link is not None and t._tstamp != self._stamp:
            value = self.current(link.base)
            for op, attrs in link.chain:
                value = self._emit(op, [value], attrs)
            t._value, t._tstamp = value, self._stamp
        return t._value

    def value_of(self, x: Any) -> Any:
        if isinstance(x, TracerTensor):
            if x._tracer is not self:
                raise trace_error("a tensor from another (finished or outer) trace was used here",
                                  "return it from the traced function instead of storing it")
            return self.current(x)
        if isinstance(x, Tensor):
            return self.constant(x)
        if isinstance(x, SymDim):  # a size used as a number: computed when the graph runs
            from ..ir.types import int64
            return self._emit(get("full"), [], {"size": (), "fill_value": x.expr,
                                                "dtype": int64, "device": None})
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, (bool, int, float)):
            return x
        raise trace_error(f"an argument of type {type(x).__name__} cannot be traced")

    def constant(self, t: Tensor) -> Value:
        """A tensor from outside the trace, captured by value (as PyTorch's tracer does)."""
        known = self._constants.get(id(t))
        if known is not None and known[0] is t:
            return known[1]
        array = np.array(t._host(), copy=True)
        node = self.graph.add_node(get("constant"), [], {"value": array})
        name = f"c{len(self.graph.tensors)}"
        self.graph.tensors[name] = array
        node.meta["tensor"] = name
        self.stamp_module(node)
        self._constants[id(t)] = (t, node.output)  # keeps t alive: its id stays its own
        return node.output

    def _emit(self, op: OpDef, inputs: list, attrs: dict) -> Value:
        return self._emit_node(op, inputs, attrs).output

    def _emit_node(self, op: OpDef, inputs: list, attrs: dict) -> Any:
        for key, value in attrs.items():
            try:
                format_attr(value)  # what a graph can store: literals, dtypes, devices, arrays
            except TypeError:
                raise trace_error(
                    f"{op.name}({key}={type(value).__name__}) cannot be stored in a graph",
                    "graphs hold literals, dtypes, devices and tensors; a Generator cannot be "
                    "captured: seed the default generator (dg.manual_seed) instead") from None
        node = self.graph.add_node(op, inputs, attrs)
        file, line, _ = user_frame()
        node.meta["source"] = f"{file}:{line}"
        self.stamp_module(node)
        return node

    # ------------------------------------------------------------------------ interpret
    def process(self, op: OpDef, inputs: Sequence, attrs: dict) -> TracerTensor:
        values = [self.value_of(x) for x in inputs]
        node = self._emit_node(op, values, _plain_attrs(attrs))
        if op.num_outputs > 1:
            return tuple(self.wrap(v) for v in node.outputs)
        out = node.output
        link = None
        if op.kind == VIEW and isinstance(inputs[0], TracerTensor):
            src = inputs[0]
            base, chain = (src, ()) if src._tview is None else (src._tview.base, src._tview.chain)
            link = ViewLink(base, chain + ((op, _plain_attrs(attrs)),))
        return self.wrap(out, link)

    def process_inplace(self, op: OpDef, inputs: Sequence, attrs: dict) -> TracerTensor:
        target = inputs[0]
        if not isinstance(target, TracerTensor) or target._tracer is not self:
            raise trace_error(f"{op.name}_() writes into a tensor from outside the trace",
                              "pass the tensor in as an input, or write out of place")
        if op.kind == VIEW:  # `x.t_()`: x becomes the view (jit/trace.py refuses it on inputs)
            out = self.process(op, inputs, attrs)
            if target._tview is not None:
                target._tview = out._tview
            self._stamp += 1
            target._value, target._tstamp = out._value, self._stamp
            return target
        from ..eager import can_cast
        new = self._emit(op, [self.value_of(x) for x in inputs], _plain_attrs(attrs))
        old_type = self.current(target).type
        if new.type.shape != old_type.shape:
            raise trace_error(f"{op.name}_(): output with shape {list(old_type.shape)} doesn't "
                              f"match the broadcast shape {list(new.type.shape)}")
        if new.type.dtype is not old_type.dtype:
            if not can_cast(new.type.dtype, old_type.dtype):
                raise trace_error(f"{op.name}_(): result type {new.type.dtype} can't be cast to "
                                  f"the desired output type {old_type.dtype}")
            new = self._emit(get("to_dtype"), [new], {"dtype": old_type.dtype})
        link = target._tview
        if link is not None:
            self._write_back(target, link, new)
        self._stamp += 1
        target._value, target._tstamp = new, self._stamp
        return target

    def python_function(self, cls: type, args: tuple, kwargs: dict) -> Any:
        """`cls.apply(*args)` of a custom autograd.Function: one `python_function` node that runs
        its forward and, under graph autodiff, its own backward (jit/pyfunction.py)."""
        name = f"{cls.__name__}.apply()"
        for a in list(kwargs.values()) + [a for a in args if isinstance(a, (list, tuple, dict))]:
            if _holds_tensor(a):
                raise trace_error(f"{name}: a tensor inside a keyword argument or a container "
                                  "cannot be traced", "pass each tensor positionally")
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        tensors = [args[i] for i in positions]
        types = [self.value_of(t).type for t in tensors]
        structure, out_types = _probe(cls, args, kwargs, positions, types, name)
        key = next(keys)
        template = tuple(None if i in positions else a for i, a in enumerate(args))
        CALLS[key] = LiveCall(cls, template, positions, kwargs, out_types)
        outs = self.process(PYTHON_FUNCTION, tensors, {
            "function": f"{cls.__module__}.{cls.__qualname__}", "call": key,
            "out_dtypes": tuple(d for d, _ in out_types),
            "out_shapes": tuple(s for _, s in out_types)})
        made = iter(outs[1:])  # outs[0] is the token of the run's ctx
        result = [next(made) if is_tensor else v for is_tensor, v in structure]
        return result[0] if structure.single else tuple(result)

    def _write_back(self, view: TracerTensor, link: ViewLink, new: Value) -> None:
        """Write a view's new value into its base: supported when the view is one basic index."""
        if len(link.chain) != 1 or link.chain[0][0].name != "getitem":
            ops = " -> ".join(op.name for op, _ in link.chain)
            raise trace_error(f"an in-place write through a view made by {ops} cannot be traced",
                              "index the base directly (base[i] = ...), or write out of place")
        base = link.base
        updated = self._emit(get("setitem"), [self.current(base), new], link.chain[0][1])
        base._value = updated
        base._tstamp = self._stamp + 1


class _Structure(list):
    """(is a tensor, value) per output of a traced Function's forward."""

    single = False


def _holds_tensor(x: Any) -> bool:
    if isinstance(x, Tensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(_holds_tensor(y) for y in x)
    if isinstance(x, dict):
        return any(_holds_tensor(y) for y in x.values())
    return False


def _probe(cls: type, args: tuple, kwargs: dict, positions: tuple, types: list,
           name: str) -> tuple:
    """Run the Function's forward once on symbolic tensors of a scratch graph: its outputs'
    structure and the (dtype, shape) of each tensor output. Nothing lands in the real graph."""
    scratch = Graph(name="probe")
    probe = Tracer(scratch)
    probe_args = list(args)
    for i, t in zip(positions, types):
        probe_args[i] = probe.wrap(scratch.add_input(t, f"x{i}"))
    needs = tuple(i in positions and types[positions.index(i)].dtype.is_floating_point
                  for i in range(len(args)))
    ctx = new_ctx(cls, needs)
    try:
        with interpreting(probe):
            out = run_forward(cls, ctx, tuple(probe_args), kwargs)
    except TraceError as exc:
        raise TraceError(f"{exc}\n(while tracing {name}: its forward runs once on symbolic "
                         "tensors; every tensor it reads must be an argument of apply, and it "
                         "cannot take Python values from tensors)") from None
    if ctx.dirty_tensors:
        raise trace_error(f"{name}: forward marks inputs dirty (changes them in place), which a "
                          "traced graph cannot express for a Python function",
                          "return a new tensor instead of changing the input")
    if isinstance(out, list):
        raise trace_error(f"{name}: forward returned a list; a traced Function returns a "
                          "tensor or a tuple", "return tuple(...)")
    structure = _Structure()
    structure.single = not isinstance(out, tuple)
    out_types = []
    for o in (out,) if structure.single else out:
        if isinstance(o, TracerTensor):
            typ = o._value.type
        elif isinstance(o, Tensor):
            typ = TensorType(o._dtype, tuple(o.shape), o._device)
        else:
            structure.append((False, o))
            continue
        structure.append((True, None))
        out_types.append((typ.dtype, tuple(typ.shape)))
    return structure, out_types


def _plain_attrs(attrs: dict) -> dict:
    """Attributes with symbolic sizes (SymDim) turned into their expressions (SymExpr, a str),
    as graphs store them."""
    if not attrs:
        return attrs
    return {k: _plain(v) for k, v in attrs.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, SymDim):
        return v.expr
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, slice):  # `x[1:x.shape[0] - 1]`: a bound that is a size
        return slice(_plain(v.start), _plain(v.stop), _plain(v.step))
    return v
