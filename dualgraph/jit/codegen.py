"""Code generation: a graph becomes straight-line Python that calls the backend's kernels.

The source is exec'd once; calling it never walks the graph. Each node is one line — inputs cast
to the op's compute dtype where the dtype rule says so, symbolic dimensions read from the inputs'
shapes, dead values freed as soon as their last user ran — and carries a comment with the user's
source line. The file name is registered with `linecache` while the function lives (and removed
when it dies), so tracebacks and pdb show the generated lines. CPU and GPU share this generator;
only the kernel table differs.

Graphs may come from files (`dg.load`), so nothing from a graph reaches the source as text except
through a safe encoding: the function's name is used only if it is a plain identifier (else
`forward`), comments (source locations, symbol names) are escaped with `repr` unless every
character is printable, attribute values are Python literals from `repr` or globals, and every
other name in the source is made here. `generate` checks that the source has exactly the lines it
emitted.
"""

from __future__ import annotations

import itertools
import keyword
import linecache
import math
import os
import re
import sys
import types
import weakref
from typing import Any, Callable

import numpy as np

from .. import recording
from ..runtime import Backend
from ..runtime.kernels.common import quiet
from ..ir.graph import Graph, Value, operand_type, walk
from ..ir.registry import VIEW
from ..ir.symbolic import SymbolicError, SymExpr, dim, solve_source, to_source
from ..ir.types import Device, DType, ListType, TensorType

_counter = itertools.count()
_free_numbers: list = []  # numbers of generated file names whose function died
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_COMMENT = 200  # characters of a comment's text kept (longer ones end in "...")


def safe_name(name: object, fallback: str = "forward") -> str:
    """`name` if it is an ASCII identifier that is not a keyword, else `fallback`."""
    if isinstance(name, str) and _IDENTIFIER.fullmatch(name) and not keyword.iskeyword(name):
        return name
    return fallback


def comment(text: object) -> str:
    """`  # text` with `text` as is when every character is printable, else as `repr` gives it:
    no newline, carriage return or other line break can end up in the source."""
    text = str(text)
    if len(text) > _MAX_COMMENT:
        text = text[:_MAX_COMMENT] + "..."
    if not text.isprintable():
        text = repr(text)
    return f"  # {text}" if text else ""


class _Emitter:
    """Holds the globals of one generated function and names what the source refers to."""

    def __init__(self, graph: Graph, backend: Backend) -> None:
        self.graph = graph
        self.backend = backend
        self.env: dict[str, Any] = {"_asarray": backend.xp.asarray, "_truth": bool}
        self.symbols = {s: f"s_{i}" for i, s in enumerate(graph.symbols())}
        self.names: dict[Value, str] = {}
        self.outs: dict = {}  # node -> source of the planned array its kernel writes (out=)
        self._ids = itertools.count()

    def next_id(self) -> int:
        return next(self._ids)

    def global_name(self, prefix: str, obj: Any) -> str:
        for k, v in self.env.items():
            if v is obj and k.startswith(prefix):
                return k
        name = f"{prefix}{sum(1 for k in self.env if k.startswith(prefix))}"
        self.env[name] = obj
        return name

    def literal(self, v: Any) -> str:
        """Python source for an attribute value; symbolic sizes become arithmetic on the
        variables bound at entry (`B*T` -> `(s_0*s_1)`)."""
        if isinstance(v, str):
            size = self.size(v)
            if size is not None:
                return size
        if isinstance(v, DType):
            return self.global_name(f"dt_{v.name}_", v)
        if isinstance(v, np.dtype):
            return self.global_name(f"np_{v.name}_", v)
        if isinstance(v, Device):
            return self.global_name("dev_", v)
        if isinstance(v, (TensorType, ListType)):
            return self.global_name("type_", v)
        if isinstance(v, np.ndarray):
            return self.global_name("const_", self.backend.xp.asarray(v))
        if isinstance(v, tuple):
            inner = ", ".join(self.literal(x) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        if isinstance(v, list):
            return "[" + ", ".join(self.literal(x) for x in v) + "]"
        if isinstance(v, slice):
            return f"slice({self.literal(v.start)}, {self.literal(v.stop)}, {self.literal(v.step)})"
        if v is Ellipsis:
            return "..."
        if isinstance(v, float) and not math.isfinite(v):
            return f"float({str(v)!r})"  # inf, -inf and nan are not Python literals
        return repr(v)

    def size(self, v: str) -> str | None:
        """Source for a string that is a symbolic size of this graph, else None (a plain
        string attribute such as `reduction='mean'`)."""
        if v in self.symbols:
            return self.symbols[v]
        if isinstance(v, SymExpr) or any(c in v for c in "+-*"):
            try:
                e = dim(v)
            except (SymbolicError, RecursionError):
                return None
            if isinstance(e, str) and all(s in self.symbols for s in e.symbols):
                return to_source(e, self.symbols)
        return None

    def operand(self, x: Any, compute: DType | None) -> str:
        if not isinstance(x, Value):
            return self.literal(x)
        ref = self.names[x]
        if compute is not None and isinstance(x.type, TensorType) and x.type.dtype is not compute:
            return f"{ref}.astype({self.literal(compute.np)})"
        return ref


def _last_uses(graph: Graph) -> dict:
    """Value -> index of the last top-level node that uses it; a use anywhere inside a node's
    blocks (a loop body runs many times) counts as a use by that node."""
    last: dict = {}
    for k, node in enumerate(graph.nodes):
        for inner in walk([node]):
            used = list(inner.inputs) + [y for b in inner.blocks for y in b.outputs]
            for x in used:
                if isinstance(x, Value):
                    last[x] = k
    return last


def _call(em: _Emitter, node: Any, out: str | None = None) -> str:
    op = node.op
    if op.name == "constant":
        return em.literal(node.attrs["value"])
    _, compute = op.dtype_rule([operand_type(x) for x in node.inputs], node.attrs)
    args = [em.operand(x, None if i in op.index_inputs else compute)
            for i, x in enumerate(node.inputs)]
    extra = {k: v for k, v in node.attrs.items() if not _same(v, op.attrs[k])}
    if extra:
        kernel = em.global_name(f"k_{op.name}_", _unquiet(em, em.backend.kernel(op.name)))
        args += [f"{safe_name(k, '_bad_attribute')}={em.literal(v)}" for k, v in extra.items()]
    else:
        kernel = em.global_name(f"k_{op.name}_", _unquiet(
            em, em.backend.plain.get(op.name) or em.backend.kernel(op.name)))
    if out is not None:
        args.append(f"out={out}")
    call = f"{kernel}({', '.join(args)})"
    out = node.outputs[0].type
    if node.op.num_outputs == 1 and isinstance(out, TensorType) and (
            not out.shape or _rounds(op, out)):
        # NumPy gives 0-d scalars; a bfloat16 result was computed in float32: round it
        call = f"_asarray({call}, dtype={em.literal(out.dtype.np)})"
    return call


def _rounds(op: Any, t: TensorType) -> bool:
    """Whether a kernel's result must be rounded to `t.dtype`: a storage-only dtype (bfloat16)
    is computed in its wider compute dtype (ir/registry.computing_in_kernel_dtype)."""
    return t.dtype.compute is not t.dtype and op.kind != VIEW


def _unquiet(em: _Emitter, kernel: Any) -> Any:
    """A NumPy kernel without its `quiet` wrapper: `compile_graph` runs the whole generated
    function with NumPy's warnings off, so the wrapper would only cost a call per node."""
    if em.backend.xp.__name__ == "numpy":
        return getattr(kernel, "__wrapped__", kernel)
    return kernel


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    return type(a) is type(b) and a == b


def _bind_symbols(em: _Emitter, graph: Graph) -> list:
    """Lines binding each symbol from the input shapes: from a dim that is the symbol itself,
    else by solving a dim linear in it (`6*B` -> `a0.shape[0] // 6`) once the others are
    bound. Calls check every dim against the input types before the code runs."""
    dims = [(f"a{i}.shape[{d}]", s) for i, v in enumerate(graph.inputs)
            for d, s in enumerate(getattr(v.type, "shape", ())) if isinstance(s, str)]
    bound: dict = {}
    lines = []
    while len(bound) < len(em.symbols):
        progress = False
        for ref, s in dims:
            if s in em.symbols and s not in bound:
                bound[s] = em.symbols[s]
                lines.append(f"    {em.symbols[s]} = {ref}{comment(s)}")
                progress = True
        for ref, s in dims:
            solved = solve_source(s, ref, bound)
            if solved is not None:
                sym, source = solved
                bound[sym] = em.symbols[sym]
                lines.append(f"    {em.symbols[sym]} = {source}{comment(sym)}")
                progress = True
        if not progress:
            missing = [s for s in em.symbols if s not in bound]
            raise ValueError(f"graph {graph.name}: the sizes {', '.join(missing)} cannot be "
                             "read from the input shapes (no input dim is one of them, or "
                             "linear in one)")
    return lines


def _bind_fresh(em: _Emitter, node: Any, indent: str) -> list:
    """Sizes known only now (`nonzero`'s count): bind their symbols from the outputs' shapes."""
    lines = []
    for out in node.outputs:
        for d, sym in enumerate(getattr(out.type, "shape", ())):
            if isinstance(sym, str) and sym not in em.symbols:
                em.symbols[sym] = f"s_{len(em.symbols)}"
                lines.append(f"{indent}{em.symbols[sym]} = {em.names[out]}.shape[{d}]"
                             f"{comment(sym)}")
    return lines


def generate(graph: Graph, backend: Backend, name: str = "forward",
             plan: Any = None) -> tuple[str, dict]:
    """Python source for `graph` and the globals it runs with; with a memory plan
    (passes/memory.py) its planned values are written into the plan's buffers."""
    name = safe_name(name)
    em = _Emitter(graph, backend)
    args = []
    for i, v in enumerate(graph.inputs):
        em.names[v] = f"a{i}"
        args.append(f"a{i}")
    lines = [f"def {name}({', '.join(args)}):"]
    lines += _bind_symbols(em, graph)
    last = _last_uses(graph)
    keep = set(graph.inputs) | set(graph.outputs)
    top = set(graph.nodes)  # only values of the function's own scope are deleted
    buffers = _plan_buffers(em, plan, graph)
    for k, node in enumerate(graph.nodes):
        lines += buffers.alloc.get(k, [])
        _emit_node(em, node, "    ", lines)
        dead = [em.names[x] for x in dict.fromkeys(_used(node))
                if last.get(x) == k and x not in keep and x.node in top]
        dead += buffers.free.get(k, [])
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    results = []
    for v in graph.outputs:
        ref = em.names[v] if isinstance(v, Value) else em.literal(v)
        if isinstance(v, Value) and v.node is not None and v.node.op.name == "constant":
            ref += ".copy()"  # never hand out the graph's own constant
        results.append(ref)
    lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    if source.splitlines() != lines:  # a line break smuggled into a line: never compile it
        raise AssertionError("generated code has a line break inside a line; refusing it")
    return source, em.env


class _Buffers:
    """The lines allocating each planned buffer (before its first value's node) and the buffer
    names freed after each node."""

    def __init__(self) -> None:
        self.alloc: dict = {}
        self.free: dict = {}


def _plan_buffers(em: _Emitter, plan: Any, graph: Graph) -> _Buffers:
    """Allocation lines and out= sources for the plan's buffers. A buffer every value of which
    has one shape and dtype is that array itself; others are bytes each value views. Before a
    buffer is written again the code checks that nothing still refers to it (a planning
    bug: raised under DUALGRAPH_CHECK, else warned once and given a fresh array)."""
    found = _Buffers()
    if plan is None or not plan.valid_for(graph) or not plan.buffers:
        return found
    xp = em.backend.xp
    strict = bool(os.environ.get("DUALGRAPH_CHECK"))
    em.env["_busy"], em.env["_at"] = _buffer_checks(em.backend, strict)
    em.env["_refs"] = sys.getrefcount
    em.env["_empty"], em.env["_buffer"] = xp.empty, em.backend.buffer
    last = len(graph.nodes) - 1
    for b in plan.buffers:
        ref = f"b{b.index}"
        for i, v in enumerate(b.values):
            e = plan.by_value[v]
            t = v.type
            if b.typed is not None:
                if i == 0:
                    size = em.literal(tuple(t.shape))
                    found.alloc.setdefault(e.index, []).append(
                        f"    {ref} = _empty({size}, {em.literal(t.dtype.np)})"
                        f"{comment(f'buffer {ref}: {b.nbytes} bytes')}")
                # inline: the variable and getrefcount's argument are its only references
                em.outs[v.node] = ref if i == 0 else \
                    f"{ref} if _refs({ref}) == 2 else _busy({ref})"
            else:
                if i == 0:
                    found.alloc.setdefault(e.index, []).append(
                        f"    {ref} = _buffer({em.literal(b.nbytes)})"
                        f"{comment(f'buffer {ref}: {b.nbytes} bytes')}")
                em.outs[v.node] = (f"_at({ref}, {em.literal(tuple(t.shape))}, "
                                   f"{em.literal(t.dtype.np)})")
        if b.end < last:
            found.free.setdefault(b.end, []).append(ref)
    return found


def _buffer_checks(backend: Backend, strict: bool) -> tuple:
    """`_busy(buf)`: what to write instead of a buffer something still refers to (raise when
    strict, else warn once and give a fresh array); `_at(buf, shape, dtype)`: a view of the
    buffer's bytes, checked first to be unreferenced (its only references: the generated
    function's variable, this call's argument and getrefcount's own)."""
    refs, view, warned = sys.getrefcount, backend.at, []

    def busy(buf: Any) -> Any:
        message = ("memory plan: a planned buffer is still referenced when a new value is "
                   "written into it (a bug of passes/memory.py: a value that may alias it "
                   "was not found)")
        if strict:
            raise RuntimeError(message)
        if not warned:
            import warnings
            warnings.warn(message + "; using a fresh array", RuntimeWarning, stacklevel=3)
            warned.append(True)
        return backend.xp.empty_like(buf)

    def at(buf: Any, shape: tuple, dtype: Any) -> Any:
        return view(buf if refs(buf) <= 3 else busy(buf), shape, dtype)

    return busy, at


def _used(node: Any) -> list:
    """Values a top-level node reads, its blocks' reads of outer values included."""
    found = []
    for inner in walk([node]):
        found += [x for x in inner.inputs if isinstance(x, Value)]
        found += [y for b in inner.blocks for y in b.outputs if isinstance(y, Value)]
    return found


def _emit_node(em: _Emitter, node: Any, indent: str, lines: list) -> None:
    if node.op.control:
        (_emit_if if node.op.name == "if" else _emit_loop)(em, node, indent, lines)
        return
    if node.op.region:
        _emit_fused(em, node, indent, lines)
        return
    source = node.meta.get("source")
    note = comment(source) if source else ""
    k = em.next_id()
    if node.op.num_outputs == 1:
        em.names[node.outputs[0]] = f"v{k}"
        lines.append(f"{indent}v{k} = {_call(em, node, em.outs.get(node))}{note}")
        lines += _bind_fresh(em, node, indent)
        return
    targets = []
    for i, out in enumerate(node.outputs):
        em.names[out] = f"v{k}_{i}"
        targets.append(f"v{k}_{i}")
    trailing = "," if len(targets) == 1 else ""  # split into one piece: still a sequence
    lines.append(f"{indent}{', '.join(targets)}{trailing} = {_call(em, node)}{note}")
    lines += _bind_fresh(em, node, indent)
    for i, out in enumerate(node.outputs):
        if isinstance(out.type, TensorType) and (not out.type.shape or _rounds(node.op, out.type)):
            lines.append(f"{indent}v{k}_{i} = _asarray(v{k}_{i}, "
                         f"dtype={em.literal(out.type.dtype.np)})")


def _emit_fused(em: _Emitter, node: Any, indent: str, lines: list) -> None:
    """A fused node: one call of the backend's kernel for its body (or, where the backend has
    no generator or cannot compile the body, the body's own ops compiled as a function)."""
    body = node.blocks[0]
    title = f"fused[{node.attrs['kernel']}]"
    inner = Graph(body.inputs, body.nodes, body.outputs, safe_name(node.attrs["kernel"], "fused"))
    kernel = em.global_name("fk_", em.backend.fused(body, title, _LazyBody(inner, em.backend)))
    k = em.next_id()
    targets = []
    for i, out in enumerate(node.outputs):
        em.names[out] = f"v{k}_{i}"
        targets.append(f"v{k}_{i}")
    args = ", ".join(em.operand(x, None) for x in node.inputs)
    source = node.meta.get("source")
    trailing = "," if len(targets) == 1 else ""
    lines.append(f"{indent}{', '.join(targets)}{trailing} = {kernel}({args})"
                 f"{comment(title + (': ' + source if source else ''))}")


class _LazyBody:
    """A fused body's ops as a generated NumPy function, compiled only if a kernel needs it (no
    generator for the backend, or one Numba could not compile)."""

    def __init__(self, graph: Graph, backend: Backend) -> None:
        self.graph, self.backend, self.fn = graph, backend, None

    def __call__(self, *args: Any) -> Any:
        if self.fn is None:
            self.fn = compile_graph(self.graph, self.backend, self.graph.name)[0]
        return self.fn(*args)


def _emit_body(em: _Emitter, block: Any, indent: str, lines: list, targets: list) -> None:
    """A block's nodes, then its yields assigned to `targets` (the owner's variables)."""
    for node in block.nodes:
        _emit_node(em, node, indent, lines)
    if targets:
        values = [em.operand(y, None) for y in block.outputs]
        lines.append(f"{indent}{', '.join(targets)} = {', '.join(values)}")
    elif not block.nodes:
        lines.append(f"{indent}pass")


def _emit_if(em: _Emitter, node: Any, indent: str, lines: list) -> None:
    k = em.next_id()
    outs = [f"v{k}_{i}" for i in range(len(node.outputs))]
    for v, name in zip(node.outputs, outs):
        em.names[v] = name
    lines.append(f"{indent}if _truth({em.operand(node.inputs[0], None)}):")
    _emit_body(em, node.blocks[0], indent + "    ", lines, outs)
    lines.append(f"{indent}else:")
    _emit_body(em, node.blocks[1], indent + "    ", lines, outs)


def _emit_loop(em: _Emitter, node: Any, indent: str, lines: list) -> None:
    """TorchScript's loop as a while: the carried values live in the loop's output variables;
    each scan output collects its items in a list, stacked when the loop ends."""
    k = em.next_id()
    trip, cond, *carried = node.inputs
    outs = [f"v{k}_{i}" for i in range(len(node.outputs))]
    carried_outs, scan_outs = outs[:len(carried)], outs[len(carried):]
    items = [f"l{k}_{j}" for j in range(len(scan_outs))]
    count, go, limit = f"i{k}", f"go{k}", f"n{k}"
    if carried_outs:
        values = [em.operand(x, None) for x in carried]
        lines.append(f"{indent}{', '.join(carried_outs)} = {', '.join(values)}")
    if items:
        lines.append(f"{indent}{', '.join(items)} = {', '.join('[]' for _ in items)}")
    lines.append(f"{indent}{count}, {limit} = 0, int({em.operand(trip, None)})")
    lines.append(f"{indent}{go} = _truth({em.operand(cond, None)})")
    lines.append(f"{indent}while {go} and {count} < {limit}:")
    body = node.blocks[0]
    em.names[body.inputs[0]] = count
    for v, name in zip(body.inputs[1:], carried_outs):
        em.names[v] = name
    _emit_body(em, body, indent + "    ", lines, [go] + carried_outs + [f"{x}_" for x in items])
    for x in items:
        lines.append(f"{indent}    {x}.append({x}_)")
    lines.append(f"{indent}    {go} = _truth({go})")
    lines.append(f"{indent}    {count} += 1")
    if items:
        em.env.setdefault("_stack_scan", _stack_scan(em.backend.xp))
    for x, name, v in zip(items, scan_outs, node.outputs[len(carried):]):
        typ = v.type
        lead = typ.shape[0]
        expected = str(lead) if isinstance(lead, int) else em.size(lead) or "None"
        lines.append(f"{indent}{name} = _stack_scan({x}, {em.literal(tuple(typ.shape[1:]))}, "
                     f"{em.literal(typ.dtype.np)}, {expected})")
        lines.append(f"{indent}del {x}")
    for v, name in zip(node.outputs, outs):
        em.names[v] = name
    lines += _bind_fresh(em, node, indent)


def _stack_scan(xp: Any) -> Callable:
    """The generated code's stacking of a scan output's items (empty: shape [0, *item]); a
    leading size the graph declares is checked against the iterations that ran."""

    def stack(items: list, item_shape: tuple, dtype: Any, expected: Any) -> Any:
        if expected is not None and len(items) != expected:
            raise RuntimeError(f"a loop's scan output has {len(items)} items but its type says "
                               f"{expected}")
        if not items:
            return xp.empty((0, *item_shape), dtype=dtype)
        return xp.stack([xp.asarray(x, dtype=dtype) for x in items])

    return stack


def compile_graph(graph: Graph, backend: Backend, name: str = "forward",
                  plan: Any = None) -> tuple[Callable, str]:
    """Generate, compile and exec the graph's function (writing into the buffers of `plan`, a
    memory plan, where given); returns (function, source). Its source stays in `linecache` for
    tracebacks until the function is garbage."""
    name = safe_name(name)
    source, env = generate(graph, backend, name, plan)
    number = _free_numbers.pop() if _free_numbers else next(_counter)
    filename = f"<dualgraph-generated-{number}:{name}>"
    exec(compile(source, filename, "exec"), env)
    fn = env.pop(name)  # the globals do not hold the function: no cycle keeps it alive
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # The code object lives while the function or a traceback's frame does; then the source
    # leaves linecache and the file name is reused (CPython keeps each file name it compiled).
    weakref.finalize(fn.__code__, _release, filename, number)
    if backend.xp.__name__ == "numpy":  # NumPy's FP warnings off for the call (PyTorch is silent)
        fn = quiet(fn)
    return fn, source


def _release(filename: str, number: int) -> None:
    linecache.cache.pop(filename, None)
    _free_numbers.append(number)


# ------------------------------------------------------------------------- profiled variant

_INSTRUMENTED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_KERNEL_GLOBAL = re.compile(r"k_(.+)_\d+")


def instrumented(fn: Callable) -> Callable:
    """A copy of a generated function whose kernel calls report to the profiler, one range per
    node (`kernel::matmul`, `kernel::fused[...]`). Made on first use while profiling, from the
    same code object with wrapped kernels in its globals, so the plain function is untouched."""
    found = _INSTRUMENTED.get(fn)
    if found is None:
        raw = getattr(fn, "__wrapped__", fn)  # the quiet wrapper of NumPy graphs
        env = dict(raw.__globals__)
        for key, value in raw.__globals__.items():
            name = _kernel_row(key, value)
            if name is not None:
                env[key] = recording.timed(name, "kernel", value)
        copy = types.FunctionType(raw.__code__, env, raw.__name__, raw.__defaults__)
        found = _INSTRUMENTED[fn] = quiet(copy) if raw is not fn else copy
    return found


def _kernel_row(key: str, value: Any) -> str | None:
    """The profiler's row name for a kernel global of generated code, None for other globals."""
    if key.startswith("fk_"):
        title = getattr(value, "title", None)
        if title is None:  # no fused-kernel generator: the body's ops as one function
            title = f"fused[{getattr(getattr(value, 'graph', None), 'name', 'body')}]"
        return f"kernel::{title}"
    match = _KERNEL_GLOBAL.fullmatch(key)
    return f"kernel::{match.group(1)}" if match else None
