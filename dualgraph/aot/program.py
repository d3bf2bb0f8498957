"""One graph as a C entry point: storage for every value, the nodes in schedule order, control
flow as C control flow, and the checks that keep a wrong call from writing out of bounds.

Storage. Graph inputs are the caller's arrays; parameters and constants live in the weights
blob; graph outputs are written straight into the caller's output buffers where their node
writes them. Every other value lives in one workspace laid out by the memory plan
(passes/memory.py): the planner's liveness and buffer sharing, applied to every value a C
kernel writes (the C kernels all accept an output, so all of them are planned). Buffers are
sized by formulas of the size arguments, and the offsets are computed when the entry point
runs (`<name>_workspace_bytes` gives the total); values inside `loop` and `if` bodies and the
scratch space of a convolution or a strided matrix product get regions of their own after
the planned buffers. Views are layouts over their base (layout.py), never copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Block, Graph, Node, Value
from ..ir.registry import ELEMENTWISE, VIEW
from ..ir.symbolic import mul, prod, symbols_of
from ..ir.types import TensorType
from .cexpr import Unlowerable, c_type, identifier, literal, size_expr
from .kernels import (LOWERINGS, _cast, copy_into, lower_elementwise, lower_fused,
                      lower_rows_op, loop_nest)
from .layout import Layout, contiguous, view_layouts

MAX_RANK = 8


@dataclass
class Weight:
    """A parameter or constant stored in the weights blob at `offset` bytes."""

    name: str
    array: Any
    var: str = ""  # its pointer's name in the entry point
    offset: int = 0


@dataclass
class Signature:
    """What a caller passes and gets: names, dtypes and symbolic shapes."""

    inputs: list  # (C field name, TensorType)
    outputs: list  # (C field name, TensorType)
    symbols: list


@dataclass
class EntryPoint:
    """The C of one graph's entry point and what its header declares."""

    name: str
    signature: Signature
    body: str
    layout_fn: str
    weights: list = field(default_factory=list)


def _source(node: Node) -> str:
    meta = node.meta if isinstance(node.meta, dict) else {}
    return str(meta.get("source", "") or "")


def _safe_comment(text: str) -> str:
    """Text that cannot end (or open) a C comment: printable, no `*/` or `/*`."""
    text = "".join(ch if ch.isprintable() and ch.isascii() else "?" for ch in str(text))[:160]
    return text.replace("*/", "* /").replace("/*", "/ *")


class Emitter:
    """Writes one graph's entry point; the kernels (kernels.py) call back for storage."""

    def __init__(self, graph: Graph, name: str) -> None:
        self.graph, self.name = graph, name
        self.lines: list = []
        self.indent = 1
        self.env: dict = {}  # id(Value) -> Layout, or ("scalar", C expression)
        self.regions: list = []  # [C comment, bytes formula]
        self.storage: dict = {}  # id(Value) -> ("region", k) or ("output", k)
        self.scratch_needs: list = []  # the bytes each node's scratch needs
        self._scratch_used: Any = 0
        self._temps = 0
        self.weights: list = []
        self.weight_arrays: dict = {}  # C variable -> the array it points at
        self.output_vars: dict = {}  # C variable -> the output buffer k it points at
        self.symbols = [identifier(s, "size symbol") for s in graph.symbols()]

    # ------------------------------------------------------------------------ writing
    def line(self, text: str) -> None:
        self.lines.append("  " * self.indent + text)

    def comment(self, text: str) -> None:
        self.line(f"/* {_safe_comment(text)} */")

    def fresh(self, prefix: str = "t") -> str:
        self._temps += 1
        return f"{prefix}{self._temps}"

    # ------------------------------------------------------------------------ values
    def layout(self, x: Any) -> Layout:
        entry = self.env.get(id(x)) if isinstance(x, Value) else None
        if not isinstance(entry, Layout):
            raise Unlowerable(f"operand {x!r:.40} is not a tensor here")
        return entry

    def scalar(self, x: Any) -> str:
        """A scalar operand as C: a literal, a scalar value, or a 0-d tensor's element."""
        if not isinstance(x, Value):
            return literal(x, None)
        entry = self.env.get(id(x))
        if isinstance(entry, tuple):
            return entry[1]
        if isinstance(entry, Layout) and all(d == 1 for d in entry.shape):
            return entry.at(["0"] * entry.rank)
        raise Unlowerable(f"operand {x!r:.40} is not a scalar")


    def bind(self, v: Value, layout: Layout) -> None:
        self.env[id(v)] = layout

    def region(self, nbytes: Any, what: str) -> int:
        self.regions.append([_safe_comment(what), nbytes])
        return len(self.regions) - 1

    def output(self, node: Node, i: int) -> Layout:
        """The contiguous storage a node's output i is written into (and bound to)."""
        v = node.outputs[i]
        t = v.type
        if not isinstance(t, TensorType):
            raise Unlowerable(f"{node.op.name} returns {t!r}, not a tensor")
        ctype = c_type(t.dtype)
        where = self.storage.get(id(v))
        if where is None:
            where = self.storage[id(v)] = ("region", self.region(_bytes(t), f"%{v.name or '?'}"))
        var = self.fresh()
        if where[0] == "output":
            self.line(f"{ctype} *const {var} = o{where[1]};")
            self.output_vars[var] = where[1]
        else:
            self.line(f"{ctype} *const {var} = ({ctype} *)(ws + off[{where[1]}]);")
        lay = contiguous(var, t.dtype, tuple(t.shape))
        self.bind(v, lay)
        return lay

    def scratch(self, nelems: Any, dtype: Any) -> str:
        """A pointer to temporary space for the current node (reused by every node)."""
        ctype = c_type(dtype)
        start = self._scratch_used
        nbytes = mul(nelems, dtype.itemsize)
        self._scratch_used = ("+", start, nbytes)
        return f"(({ctype} *)(ws + off[DG_SCRATCH] + {_scratch_offset(start)}))"

    def contiguous_copy(self, lay: Layout) -> Layout:
        var = self.fresh()
        ptr = self.scratch(prod(lay.shape), lay.dtype)
        self.line(f"{c_type(lay.dtype)} *const {var} = {ptr};")
        dst = contiguous(var, lay.dtype, lay.shape)
        copy_into(self, lay, dst)
        return dst

    def contiguous_input(self, x: Any) -> Layout:
        lay = self.layout(x)
        return lay if lay.is_contiguous() else self.contiguous_copy(lay)

    # ------------------------------------------------------------------------ nodes
    def emit_nodes(self, nodes: list) -> None:
        for node in nodes:
            self.emit_node(node)

    def emit_node(self, node: Node) -> None:
        op = node.op
        src = _source(node)
        module = node.meta.get("module") if isinstance(node.meta, dict) else None
        self.comment(f"{op.name}{' (' + src + ')' if src else ''}"
                     f"{' in ' + str(module) if module else ''}")
        self._scratch_used = 0
        try:
            if op.kind == VIEW:
                self._view(node)
            elif op.name in ("loop", "if"):
                (self._loop if op.name == "loop" else self._if)(node)
            elif op.name == "constant":
                self._constant(node)
            elif op.name == "sym_size":
                x = self.layout(node.inputs[0])
                self.env[id(node.outputs[0])] = ("scalar", size_expr(
                    x.shape[node.attrs["dim"] % x.rank]))
            elif op.region:
                lower_fused(self, node)
            elif op.name in LOWERINGS:
                LOWERINGS[op.name](self, node)
            elif op.rows is not None:
                lower_rows_op(self, node)
            elif op.kind == ELEMENTWISE and op.template:
                lower_elementwise(self, node)
            else:
                raise Unlowerable(f"{op.name} has no C lowering")
        except Unlowerable as why:
            raise Unlowerable(f"{op.name}{' at ' + src if src else ''}: {why}") from None
        if self._scratch_used != 0:
            self.scratch_needs.append(_scratch_offset(self._scratch_used))

    def _view(self, node: Node) -> None:
        x = self.layout(node.inputs[0])
        types = [o.type for o in node.outputs]
        layouts = view_layouts(node.op, node.attrs, x, types)
        if layouts is None:  # a reshape of a strided value: copy to C order, then view
            dst = self.contiguous_region(x, f"C-order copy for %{node.outputs[0].name}")
            layouts = view_layouts(node.op, node.attrs, dst, types)
        for v, lay in zip(node.outputs, layouts):
            if lay.ptr in self.weight_arrays and not lay.is_contiguous():
                lay = self._folded(lay, f"{node.op.name} of {v.name}")
            self.bind(v, lay)

    def _folded(self, lay: Layout, what: str) -> Layout:
        """A strided view of a weight, stored in C order beside it when the C is written (a
        linear layer's transposed weight becomes a plain matrix, which the product reads
        row by row)."""
        import numpy as np
        if not all(isinstance(d, int) for d in lay.shape + lay.strides + (lay.offset,)):
            return lay
        base = self.weight_arrays[lay.ptr]
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(
            base.reshape(-1)[lay.offset:], shape=lay.shape,
            strides=tuple(s * item for s in lay.strides), writeable=False)
        return self.weight(what, np.array(view, order="C"))

    def contiguous_region(self, lay: Layout, what: str) -> Layout:
        var = self.fresh()
        k = self.region(mul(prod(lay.shape), lay.dtype.itemsize), what)
        ctype = c_type(lay.dtype)
        self.line(f"{ctype} *const {var} = ({ctype} *)(ws + off[{k}]);")
        dst = contiguous(var, lay.dtype, lay.shape)
        copy_into(self, lay, dst)
        return dst

    def _constant(self, node: Node) -> None:
        import numpy as np
        value = node.attrs["value"]
        array = np.array(value, dtype=node.outputs[0].type.dtype.np, order="C")
        self.bind(node.outputs[0], self.weight(f"constant %{node.outputs[0].name}", array))

    def weight(self, name: str, array: Any) -> Layout:
        """A layout over an array stored in the weights blob."""
        from ..ir.types import dtype_from_numpy
        dtype = dtype_from_numpy(array.dtype)
        var = f"w{len(self.weights)}"
        w = Weight(name, array, var)
        self.weights.append(w)
        self.weight_arrays[var] = array
        return contiguous(var, dtype, tuple(array.shape))

    # ------------------------------------------------------------------------ control flow
    def _copy_value(self, src: Any, dst: Layout) -> None:
        if isinstance(src, Value) and isinstance(self.env.get(id(src)), Layout):
            copy_into(self, self.layout(src), dst)
        else:
            value = _cast(self.scalar(src), None, dst.dtype)
            loop_nest(self, dst.shape, [dst], lambda el: [f"{el[0]} = {value};"])

    def _condition(self, x: Any) -> str:
        return f"({self.scalar(x)} != 0)"

    def _loop(self, node: Node) -> None:
        max_trip, cond, *init = node.inputs
        body = node.blocks[0]
        carried = [self.output(node, i) for i in range(len(node.outputs))]
        for x, dst in zip(init, carried):
            self._copy_value(x, dst)
        k, c = self.fresh("k"), self.fresh("c")
        trips = self.scalar(max_trip)
        self.line(f"int64_t {k} = 0;")
        self.line(f"int {c} = {self._condition(cond)};")
        self.line(f"while ({c} && {k} < {trips}) {{")
        self.indent += 1
        self.env[id(body.inputs[0])] = ("scalar", k)
        for v, lay in zip(body.inputs[1:], carried):
            self.bind(v, lay)
        self.emit_nodes(body.nodes)
        next_cond, *yields = body.outputs
        self.line(f"{c} = {self._condition(next_cond)};")
        carried_ptrs = {lay.ptr for lay in carried}
        through = any(isinstance(y, Value) and isinstance(self.env.get(id(y)), Layout)
                      and self.layout(y).ptr in carried_ptrs for y in yields)
        if through:  # a yield reads the carried storage: go through temporaries
            temps = [self.contiguous_region_of(y, lay) for y, lay in zip(yields, carried)]
            for t, dst in zip(temps, carried):
                copy_into(self, t, dst)
        else:
            for y, dst in zip(yields, carried):
                self._copy_value(y, dst)
        self.line(f"{k}++;")
        self.indent -= 1
        self.line("}")

    def contiguous_region_of(self, y: Any, like: Layout) -> Layout:
        var = self.fresh()
        k = self.region(mul(prod(like.shape), like.dtype.itemsize), "loop-carried temporary")
        ctype = c_type(like.dtype)
        self.line(f"{ctype} *const {var} = ({ctype} *)(ws + off[{k}]);")
        dst = contiguous(var, like.dtype, like.shape)
        self._copy_value(y, dst)
        return dst

    def _if(self, node: Node) -> None:
        outs = [self.output(node, i) for i in range(len(node.outputs))]
        then, other = node.blocks
        self.line(f"if ({self._condition(node.inputs[0])}) {{")
        for block in (then, other):
            self.indent += 1
            self.emit_nodes(block.nodes)
            for y, dst in zip(block.outputs, outs):
                self._copy_value(y, dst)
            self.indent -= 1
            self.line("} else {" if block is then else "}")

    def inline_block(self, body: Block, args: list, outputs: list) -> None:
        """A region's body as separate nodes (when it is not one kernel here)."""
        for v, a in zip(body.inputs, args):
            if isinstance(a, Value):
                self.env[id(v)] = self.env[id(a)]
            else:
                self.env[id(v)] = ("scalar", literal(a, None))
        saved = self._scratch_used
        self.emit_nodes(body.nodes)
        self._scratch_used = saved
        for m, (y, out) in enumerate(zip(body.outputs, outputs)):
            node = out.node
            dst = self.output(node, m)
            self._copy_value(y, dst)


def _bytes(t: TensorType) -> Any:
    return mul(prod(t.shape), t.dtype.itemsize)


def _scratch_offset(used: Any) -> str:
    """C bytes of a chain ("+", earlier, nbytes) of scratch pieces, each aligned."""
    if used == 0:
        return "0"
    _, start, nbytes = used
    head = _scratch_offset(start)
    piece = f"DG_ALIGN({size_expr(nbytes)})"
    return piece if head == "0" else f"{head} + {piece}"


# ------------------------------------------------------------------------------ the plan

def plan_storage(graph: Graph, em: Emitter) -> None:
    """Outputs into the caller's buffers; every other value a top-level node writes into a
    workspace buffer shared by the planner's liveness (passes/memory.py)."""
    from ..passes.memory import _assign, make_plan
    plan = make_plan(graph)
    out_index: dict = {}
    for k, v in enumerate(graph.outputs):
        if isinstance(v, Value) and v.node is not None and v.node.op.kind != VIEW \
                and id(v) not in out_index and v.node.op.name not in ("constant",):
            out_index[id(v)] = k
    entries = []
    for e in plan.entries:
        if id(e.value) in out_index:
            em.storage[id(e.value)] = ("output", out_index[id(e.value)])
            continue
        if e.kind in ("buffer", "own") and isinstance(e.value.type, TensorType):
            e.kind = "buffer"
            entries.append(e)
    buffers, _ = _assign(entries, tuple(plan.symbols))
    first = len(em.regions)
    for b in buffers:
        names = ", ".join(f"%{plan.names.get(v, '?')}" for v in b.values[:6])
        em.region(b.nbytes, f"buffer b{b.index}: {names}{' ...' if len(b.values) > 6 else ''}")
    for e in entries:
        em.storage[id(e.value)] = ("region", first + e.buffer)


def check_graph(graph: Graph) -> None:
    symbols = set(graph.symbols())
    for v in list(graph.inputs) + [y for y in graph.outputs]:
        if not isinstance(v, Value) or not isinstance(v.type, TensorType):
            raise Unlowerable(f"inputs and outputs of a C entry point are tensors, not {v!r:.40}")
        if len(v.type.shape) > MAX_RANK:
            raise Unlowerable(f"rank {len(v.type.shape)} is more than {MAX_RANK}")
    for node in graph.all_nodes():
        for o in node.outputs:
            if isinstance(o.type, TensorType):
                for d in o.type.shape:
                    extra = [s for s in symbols_of(d) if s not in symbols]
                    if extra:
                        src = _source(node)
                        raise Unlowerable(
                            f"{node.op.name}{' at ' + src if src else ''}: its size {d} depends "
                            f"on the data (symbol {extra[0]}); C entry points need sizes that "
                            f"follow from the input sizes")
