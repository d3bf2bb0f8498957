"""Code generation: a graph becomes straight-line Python that calls the backend's kernels.

The source is exec'd once; calling it never walks the graph. Each node is one line — inputs cast
to the op's compute dtype where the dtype rule says so, symbolic dimensions read from the inputs'
shapes, dead values freed as soon as their last user ran — and carries a comment with the user's
source line. The file name is registered with `linecache`, so tracebacks and pdb show the
generated lines. CPU and GPU share this generator; only the kernel table differs.
"""

from __future__ import annotations

import itertools
import linecache
import math
from typing import Any, Callable

import numpy as np

from ..backends import Backend
from ..backends.kernels.common import quiet
from ..ir.graph import Graph, Value, operand_type, walk
from ..ir.types import Device, DType, ListType, TensorType

_counter = itertools.count()


class _Emitter:
    """Holds the globals of one generated function and names what the source refers to."""

    def __init__(self, graph: Graph, backend: Backend) -> None:
        self.graph = graph
        self.backend = backend
        self.env: dict[str, Any] = {"_asarray": backend.xp.asarray, "_truth": bool}
        self.symbols = {s: f"s_{i}" for i, s in enumerate(graph.symbols())}
        self.names: dict[Value, str] = {}
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
        """Python source for an attribute value; symbols become the variables bound at entry."""
        if isinstance(v, str) and v in self.symbols:
            return self.symbols[v]
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


def _call(em: _Emitter, node: Any) -> str:
    op = node.op
    if op.name == "constant":
        return em.literal(node.attrs["value"])
    _, compute = op.dtype_rule([operand_type(x) for x in node.inputs], node.attrs)
    args = [em.operand(x, None if i in op.index_inputs else compute)
            for i, x in enumerate(node.inputs)]
    extra = {k: v for k, v in node.attrs.items() if not _same(v, op.attrs[k])}
    if extra:
        kernel = em.global_name(f"k_{op.name}_", em.backend.kernel(op.name))
        args += [f"{k}={em.literal(v)}" for k, v in extra.items()]
    else:
        kernel = em.global_name(f"k_{op.name}_",
                                em.backend.plain.get(op.name) or em.backend.kernel(op.name))
    call = f"{kernel}({', '.join(args)})"
    out = node.outputs[0].type
    if node.op.num_outputs == 1 and isinstance(out, TensorType) and not out.shape:
        call = f"_asarray({call}, dtype={em.literal(out.dtype.np)})"  # NumPy gives 0-d scalars
    return call


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    return type(a) is type(b) and a == b


def _bind_fresh(em: _Emitter, node: Any, indent: str) -> list:
    """Sizes known only now (`nonzero`'s count): bind their symbols from the outputs' shapes."""
    lines = []
    for out in node.outputs:
        for d, sym in enumerate(getattr(out.type, "shape", ())):
            if isinstance(sym, str) and sym not in em.symbols:
                em.symbols[sym] = f"s_{len(em.symbols)}"
                lines.append(f"{indent}{em.symbols[sym]} = {em.names[out]}.shape[{d}]  # {sym}")
    return lines


def generate(graph: Graph, backend: Backend, name: str = "forward") -> tuple[str, dict]:
    """Python source for `graph` and the globals it runs with."""
    em = _Emitter(graph, backend)
    args = []
    for i, v in enumerate(graph.inputs):
        em.names[v] = f"a{i}"
        args.append(f"a{i}")
    lines = [f"def {name}({', '.join(args)}):"]
    for sym, var in em.symbols.items():
        i, d = next((i, d) for i, v in enumerate(graph.inputs)
                    for d, s in enumerate(getattr(v.type, "shape", ())) if s == sym)
        lines.append(f"    {var} = a{i}.shape[{d}]  # {sym}")
    last = _last_uses(graph)
    keep = set(graph.inputs) | set(graph.outputs)
    top = set(graph.nodes)  # only values of the function's own scope are deleted
    for k, node in enumerate(graph.nodes):
        _emit_node(em, node, "    ", lines)
        dead = [em.names[x] for x in dict.fromkeys(_used(node))
                if last.get(x) == k and x not in keep and x.node in top]
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    results = []
    for v in graph.outputs:
        ref = em.names[v] if isinstance(v, Value) else em.literal(v)
        if isinstance(v, Value) and v.node is not None and v.node.op.name == "constant":
            ref += ".copy()"  # never hand out the graph's own constant
        results.append(ref)
    lines.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    return "\n".join(lines) + "\n", em.env


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
    source = node.meta.get("source")
    comment = f"  # {source}" if source else ""
    k = em.next_id()
    if node.op.num_outputs == 1:
        em.names[node.outputs[0]] = f"v{k}"
        lines.append(f"{indent}v{k} = {_call(em, node)}{comment}")
        lines += _bind_fresh(em, node, indent)
        return
    targets = []
    for i, out in enumerate(node.outputs):
        em.names[out] = f"v{k}_{i}"
        targets.append(f"v{k}_{i}")
    trailing = "," if len(targets) == 1 else ""  # split into one piece: still a sequence
    lines.append(f"{indent}{', '.join(targets)}{trailing} = {_call(em, node)}{comment}")
    lines += _bind_fresh(em, node, indent)
    for i, out in enumerate(node.outputs):
        if isinstance(out.type, TensorType) and not out.type.shape:
            lines.append(f"{indent}v{k}_{i} = _asarray(v{k}_{i}, "
                         f"dtype={em.literal(out.type.dtype.np)})")


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
    """TorchScript's loop as a while: the carried values live in the loop's output variables."""
    k = em.next_id()
    trip, cond, *carried = node.inputs
    outs = [f"v{k}_{i}" for i in range(len(node.outputs))]
    count, go, limit = f"i{k}", f"go{k}", f"n{k}"
    if outs:
        values = [em.operand(x, None) for x in carried]
        lines.append(f"{indent}{', '.join(outs)} = {', '.join(values)}")
    lines.append(f"{indent}{count}, {limit} = 0, int({em.operand(trip, None)})")
    lines.append(f"{indent}{go} = _truth({em.operand(cond, None)})")
    lines.append(f"{indent}while {go} and {count} < {limit}:")
    body = node.blocks[0]
    em.names[body.inputs[0]] = count
    for v, name in zip(body.inputs[1:], outs):
        em.names[v] = name
    _emit_body(em, body, indent + "    ", lines, [go] + outs)
    lines.append(f"{indent}    {go} = _truth({go})")
    lines.append(f"{indent}    {count} += 1")
    for v, name in zip(node.outputs, outs):
        em.names[v] = name


def compile_graph(graph: Graph, backend: Backend, name: str = "forward") -> tuple[Callable, str]:
    """Generate, compile and exec the graph's function; returns (function, source)."""
    source, env = generate(graph, backend, name)
    filename = f"<dualgraph-generated-{next(_counter)}:{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), env)
    fn = env[name]
    if backend.xp.__name__ == "numpy":  # NumPy's FP warnings off for the call (PyTorch is silent)
        fn = quiet(fn)
    return fn, source
