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
from typing import Any, Callable

import numpy as np

from ..backends import Backend
from ..ir.graph import Graph, Value
from ..ir.types import Device, DType, TensorType

_counter = itertools.count()


class _Emitter:
    """Holds the globals of one generated function and names what the source refers to."""

    def __init__(self, graph: Graph, backend: Backend) -> None:
        self.graph = graph
        self.backend = backend
        self.env: dict[str, Any] = {"_asarray": backend.xp.asarray}
        self.symbols = {s: f"s_{i}" for i, s in enumerate(graph.symbols())}
        self.names: dict[Value, str] = {}

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
        return repr(v)

    def operand(self, x: Any, compute: DType | None) -> str:
        if not isinstance(x, Value):
            return self.literal(x)
        ref = self.names[x]
        if compute is not None and isinstance(x.type, TensorType) and x.type.dtype is not compute:
            return f"{ref}.astype({self.literal(compute.np)})"
        return ref


def _last_uses(graph: Graph) -> dict:
    last: dict = {}
    for k, node in enumerate(graph.nodes):
        for x in node.inputs:
            if isinstance(x, Value):
                last[x] = k
    return last


def _call(em: _Emitter, node: Any) -> str:
    op = node.op
    if op.name == "constant":
        return em.literal(node.attrs["value"])
    types = [x.type if isinstance(x, Value) else x for x in node.inputs]
    _, compute = op.dtype_rule(types, node.attrs)
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
    if len(node.outputs) == 1 and isinstance(out, TensorType) and not out.shape:
        call = f"_asarray({call}, dtype={em.literal(out.dtype.np)})"  # NumPy gives 0-d scalars
    return call


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    return type(a) is type(b) and a == b


def _bind_fresh(em: _Emitter, node: Any) -> list:
    """Sizes known only now (`nonzero`'s count): bind their symbols from the outputs' shapes."""
    lines = []
    for out in node.outputs:
        for d, sym in enumerate(getattr(out.type, "shape", ())):
            if isinstance(sym, str) and sym not in em.symbols:
                em.symbols[sym] = f"s_{len(em.symbols)}"
                lines.append(f"    {em.symbols[sym]} = {em.names[out]}.shape[{d}]  # {sym}")
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
                    for d, s in enumerate(v.type.shape) if s == sym)
        lines.append(f"    {var} = a{i}.shape[{d}]  # {sym}")
    last = _last_uses(graph)
    keep = set(graph.inputs) | set(graph.outputs)
    for k, node in enumerate(graph.nodes):
        source = node.meta.get("source")
        comment = f"  # {source}" if source else ""
        if len(node.outputs) == 1:
            em.names[node.outputs[0]] = f"v{k}"
            lines.append(f"    v{k} = {_call(em, node)}{comment}")
            lines += _bind_fresh(em, node)
        else:
            targets = []
            for i, out in enumerate(node.outputs):
                em.names[out] = f"v{k}_{i}"
                targets.append(f"v{k}_{i}")
            lines.append(f"    {', '.join(targets)} = {_call(em, node)}{comment}")
            lines += _bind_fresh(em, node)
            for i, out in enumerate(node.outputs):
                if isinstance(out.type, TensorType) and not out.type.shape:
                    lines.append(f"    v{k}_{i} = _asarray(v{k}_{i}, "
                                 f"dtype={em.literal(out.type.dtype.np)})")
        dead = [em.names[x] for x in dict.fromkeys(node.input_values())
                if last.get(x) == k and x not in keep]
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


def compile_graph(graph: Graph, backend: Backend, name: str = "forward") -> tuple[Callable, str]:
    """Generate, compile and exec the graph's function; returns (function, source)."""
    source, env = generate(graph, backend, name)
    filename = f"<dualgraph-generated-{next(_counter)}:{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), env)
    return env[name], source
