"""The C lowering of each kind of node: loops written from the registry's records where the
registry has them, calls into dg_runtime.h where it does not.

- Elementwise ops and fused groups: one loop nest over the output, each element computed from
  the ops' scalar templates (cexpr.py), with the casts eager makes (each operand to the op's
  compute dtype, each result to its result dtype). Adjacent dims that every operand walks
  contiguously are merged, so a broadcast bias over `[B, 128]` is two loops and a same-shape
  chain is one; the innermost stride is usually the literal 1, which the C compiler vectorizes.
- Row ops (softmax, log_softmax, logsumexp, layer norm, RMS norm) and fused groups headed by
  one: the op's `Rows` record (ir/registry.py) as a loop per row; sums accumulate in double.
- Reductions, matrix products, convolution, pooling, embedding, cat/stack, copies and
  creation: the entries of `LOWERINGS`, the table of ops with a C lowering. An op missing from
  it (and without a template or rows record) cannot be compiled to C; `dg.aot.compile` names
  it and its node's source line.
"""

from __future__ import annotations

from typing import Any, Callable

from ..ir.graph import Value, operand_type
from ..ir.symbolic import mul, prod
from ..ir.types import DType, TensorType, float32, float64, int64
from .cexpr import Unlowerable, c_type, literal, size_expr, suffix, template_c
from .layout import Layout, broadcast_strides, broadcast_to, same

LOWERINGS: dict[str, Callable] = {}


def lowering(*names: str) -> Callable:
    def register(fn: Callable) -> Callable:
        for name in names:
            LOWERINGS[name] = fn
        return fn
    return register


# ------------------------------------------------------------------------------ loop nests

def loop_nest(em: Any, shape: tuple, layouts: list, body: Callable[[list], list]) -> None:
    """Loops over `shape`, every layout (already broadcast to it) indexed at each element;
    `body(elements)` gives the innermost statements from the element expressions."""
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    merged: list = []  # [size, [stride per layout]]
    for d in dims:
        strides = [lay.strides[d] for lay in layouts]
        if merged and all(same(prev, mul(s, shape[d])) for prev, s in zip(merged[-1][1], strides)):
            merged[-1] = [mul(merged[-1][0], shape[d]), strides]
        else:
            merged.append([shape[d], strides])
    sizes = tuple(m[0] for m in merged)
    views = [Layout(lay.ptr, lay.dtype, sizes, tuple(m[1][k] for m in merged), lay.offset)
             for k, lay in enumerate(layouts)]
    index = [f"i{d}" for d in range(len(merged))]
    em.line("{")
    em.indent += 1
    for var, size in zip(index, sizes):
        em.line(f"for (int64_t {var} = 0; {var} < {size_expr(size)}; {var}++)")
    em.line("{")
    em.indent += 1
    for statement in body([v.at(index) for v in views]):
        em.line(statement)
    em.indent -= 1
    em.line("}")
    em.indent -= 1
    em.line("}")


def _cast(expr: str, src: DType | None, dst: DType | None) -> str:
    if dst is None or src is dst:
        return expr
    if dst.name == "bool":
        return f"(uint8_t)(({expr}) != 0)"
    return f"({c_type(dst)})({expr})"


def _operand(x: Any, names: dict, compute: DType | None, index_input: bool) -> str:
    if isinstance(x, Value):
        expr, dtype = names[x]
        return expr if index_input else _cast(expr, dtype, compute)
    return literal(x, None if compute is None or isinstance(x, bool) else compute)


def template_statements(nodes: list, names: dict, first_temp: int) -> list:
    """C statements computing each node from its template into a typed temporary; `names`
    maps Values to (C expression, dtype) and learns each node's output."""
    lines = []
    for k, node in enumerate(nodes, start=first_temp):
        op = node.op
        template = op.template
        _, compute = op.dtype_rule([operand_type(x) for x in node.inputs], node.attrs)
        if callable(template):
            template = template(node.attrs, compute)
        if not template or len(node.outputs) != 1 or node.blocks:
            raise Unlowerable(f"{op.name} has no scalar template for these attributes")
        operands = [_operand(x, names, compute, i in op.index_inputs)
                    for i, x in enumerate(node.inputs)]
        expr = template_c(template, operands, node.attrs, compute)
        out = node.outputs[0].type.dtype
        lines.append(f"const {c_type(out)} v{k} = {_cast(expr, None, out)};")
        names[node.outputs[0]] = (f"v{k}", out)
    return lines


def pointwise(em: Any, body_inputs: list, args: list, nodes: list, yields: list,
              outs: list) -> None:
    """One loop nest computing `nodes` (elementwise, with templates) for every element of the
    output shape: `args` are the values bound to `body_inputs`, `outs` the output layouts."""
    shape = outs[0].shape
    layouts, tensor_of, names = [], {}, {}
    for v, a in zip(body_inputs, args):
        if isinstance(v.type, TensorType):
            tensor_of[v] = len(layouts)
            layouts.append(broadcast_to(em.layout(a), shape))
        else:
            names[v] = (em.scalar(a), _scalar_dtype(v.type))
    n_in = len(layouts)
    layouts += outs

    def body(elements: list) -> list:
        local = dict(names)
        lines = []
        for v, k in tensor_of.items():
            local[v] = (f"a{k}", v.type.dtype)
            lines.append(f"const {c_type(v.type.dtype)} a{k} = {elements[k]};")
            lines.append(f"(void)a{k};")  # a template may not read every operand
        lines += template_statements(nodes, local, 0)
        for m, y in enumerate(yields):
            expr, dtype = local[y] if isinstance(y, Value) else (literal(y, None), None)
            lines.append(f"{elements[n_in + m]} = {_cast(expr, dtype, outs[m].dtype)};")
        return lines
    loop_nest(em, shape, layouts, body)


def _scalar_dtype(t: Any) -> DType:
    return {int: int64, float: float64, bool: int64}.get(t, float64)


@lowering("fused")
def lower_fused(em: Any, node: Any) -> None:
    body = node.blocks[0]
    outs = [em.output(node, m) for m in range(len(node.outputs))]
    try:
        if body.nodes and body.nodes[0].op.rows is not None:
            rows_kernel(em, body.nodes[0], body.nodes[1:], body.inputs, node.inputs,
                        body.outputs, outs)
        else:
            if any(tuple(o.shape) != tuple(outs[0].shape) for o in outs):
                raise Unlowerable("the fused values have different shapes")
            pointwise(em, body.inputs, node.inputs, body.nodes, body.outputs, outs)
        return
    except Unlowerable as why:
        em.comment(f"fused group as separate loops: {why}")
    em.inline_block(body, node.inputs, node.outputs)


def lower_elementwise(em: Any, node: Any) -> None:
    """A single elementwise op: a fused group of one."""
    out = em.output(node, 0)
    values = [x for x in node.inputs if isinstance(x, Value)]
    pointwise(em, values, values, [node], [node.outputs[0]], [out])


# ------------------------------------------------------------------------------------- rows

def _rows_names(rows: Any) -> dict:
    return {s.name: f"r_{s.name}" for s in rows.steps}


def rows_kernel(em: Any, head: Any, consumers: list, body_inputs: list, args: list,
                yields: list, outs: list) -> None:
    """A row op (and the elementwise consumers of a fused group) as a loop per row."""
    rows, out_type = head.op.rows, head.outputs[0].type
    x_value = head.inputs[0]
    if not isinstance(x_value, Value):
        raise Unlowerable("the row op's input is not a tensor")
    x_layout = em.layout(args[body_inputs.index(x_value)] if x_value in body_inputs else x_value)
    shape = tuple(x_layout.shape)
    axis = head.attrs.get(rows.dim_attr) if rows.dim_attr else -1
    if not isinstance(axis, int) or not shape or not -len(shape) <= axis < len(shape):
        raise Unlowerable("the row op's dim is not one int")
    axis %= len(shape)
    dtype = out_type.dtype
    if dtype not in (float32, float64) or x_layout.dtype is not dtype:
        raise Unlowerable(f"row kernels run on float32 or float64, not {dtype.name}")
    if rows.per_row and consumers:
        raise Unlowerable("a per-row op with consumers")
    if any(tuple(o.shape) != (tuple(outs[0].shape)) for o in outs):
        raise Unlowerable("the fused values have different shapes")
    ctype = c_type(dtype)
    n = shape[axis]
    # per-row loops go over every dim but the axis; the axis is the inner loop `j`
    outer_shape = tuple(d if k != axis else 1 for k, d in enumerate(shape))
    axis_strides = []

    def along(lay: Layout) -> Any:
        return broadcast_strides(lay, shape)[axis] if lay.rank else 0

    tensors, names_in = [], {}
    for v, a in zip(body_inputs, args):
        if v is x_value:
            continue
        if isinstance(v.type, TensorType):
            tensors.append((v, broadcast_to(em.layout(a), shape)))
        else:
            names_in[v] = (em.scalar(a), _scalar_dtype(v.type))
    out_layouts = [o if not rows.per_row else _per_row_layout(o, shape, axis) for o in outs]
    full_outs = [broadcast_to(o, shape) for o in out_layouts]
    all_layouts = [broadcast_to(x_layout, shape)] + [t for _, t in tensors] + full_outs
    axis_strides = [along(lay) for lay in all_layouts]
    step_names = _rows_names(rows)
    attrs = {k: v for k, v in head.attrs.items() if isinstance(v, (int, float))
             and not isinstance(v, bool)}

    def expr(text: str) -> str:
        table = dict(step_names, x="x_", kept="kept_", n=f"(({ctype}){size_expr(n)})")
        return _named_c(text, table, attrs, dtype)

    def at_j(base: str, stride: Any) -> str:
        # base is "ptr[offset]" for the row's first element; add j * stride inside the brackets
        inner = base[base.index("[") + 1:-1]
        step = "j" if same(stride, 1) else ("0" if same(stride, 0) else f"j*{size_expr(stride)}")
        return f"{base[:base.index('[')]}[{inner} + {step}]"

    def body(elements: list) -> list:
        x_el, out0_el = elements[0], elements[1 + len(tensors)]
        lines = []
        for step in rows.steps:
            name = step_names[step.name]
            if step.kind == "row":
                lines.append(f"const {ctype} {name} = ({ctype})({expr(step.expr)});")
                continue
            if step.kind == "max":
                lines += [f"{ctype} {name} = -INFINITY;", f"int {name}_nan = 0;"]
            elif step.kind == "sum":
                lines.append(f"double {name} = 0.0;")
            else:
                raise Unlowerable(f"row step kind {step.kind!r}")
            lines.append(f"for (int64_t j = 0; j < {size_expr(n)}; j++) {{")
            lines.append(f"  const {ctype} x_ = {at_j(x_el, axis_strides[0])};")
            lines.append(f"  const {ctype} e_ = ({ctype})({expr(step.expr)});")
            if step.store:
                if rows.per_row:
                    raise Unlowerable("a per-row op cannot keep element values")
                lines.append(f"  {at_j(out0_el, axis_strides[1 + len(tensors)])} = e_;")
            if step.kind == "max":
                lines += [f"  {name} = e_ > {name} ? e_ : {name};", f"  {name}_nan |= e_ != e_;"]
            else:
                lines.append(f"  {name} += e_;")
            lines.append("}")
            if step.kind == "max":
                lines.append(f"if ({name}_nan) {name} = NAN;")
        if rows.per_row:
            lines.append(f"{out0_el} = ({ctype})({expr(rows.output)});")
            return lines
        lines.append(f"for (int64_t j = 0; j < {size_expr(n)}; j++) {{")
        lines.append(f"  const {ctype} x_ = {at_j(x_el, axis_strides[0])};")
        lines.append(f"  const {ctype} kept_ = {at_j(out0_el, axis_strides[1 + len(tensors)])};")
        lines.append("  (void)x_; (void)kept_;")
        local = dict(names_in)
        for k, (v, _) in enumerate(tensors):
            local[v] = (f"a{k}", v.type.dtype)
            lines.append(f"  const {c_type(v.type.dtype)} a{k} = "
                         f"{at_j(elements[1 + k], axis_strides[1 + k])};")
        lines.append(f"  const {ctype} h_ = ({ctype})({expr(rows.output)});")
        local[head.outputs[0]] = ("h_", dtype)
        lines += ["  " + s for s in template_statements(consumers, local, 0)]
        for m, y in enumerate(yields):
            value, vtype = local[y]
            target = at_j(elements[1 + len(tensors) + m], axis_strides[1 + len(tensors) + m])
            lines.append(f"  {target} = {_cast(value, vtype, outs[m].dtype)};")
        lines.append("}")
        return lines

    outer = [Layout(lay.ptr, lay.dtype, outer_shape,
                    tuple(0 if k == axis else s for k, s in enumerate(lay.strides)), lay.offset)
             for lay in all_layouts]
    loop_nest(em, outer_shape, outer, body)


def _per_row_layout(out: Layout, shape: tuple, axis: int) -> Layout:
    """A per-row op's output (the axis dropped, or kept as size 1) read over the input's shape."""
    strides = list(out.strides)
    if out.rank == len(shape) - 1:
        strides.insert(axis, 0)
    else:
        strides[axis] = 0
    return Layout(out.ptr, out.dtype, shape, tuple(strides), out.offset)


def _named_c(text: str, names: dict, attrs: dict, dtype: DType) -> str:
    """A Rows expression (bare names, `{eps}` fields) as C."""
    import ast
    from .cexpr import _Writer
    fields = {k: repr(v) for k, v in attrs.items()}
    try:
        formatted = text.format(**fields)
    except (KeyError, IndexError) as exc:
        raise Unlowerable(f"row expression {text!r}: {exc}") from None
    return _Writer(dtype, names).write(ast.parse(formatted, mode="eval"))


def lower_rows_op(em: Any, node: Any) -> None:
    outs = [em.output(node, 0)]
    rows_kernel(em, node, [], [], [], [node.outputs[0]], outs)


# ------------------------------------------------------------------------------- reductions

_REDUCE = {  # op -> (initial value, update with acc and e_, finish) ; acc in the out dtype
    "sum": ("0", "acc += e_;", "acc"),
    "mean": ("0", "acc += e_;", "acc / (double)(count)"),
    "prod": ("1", "acc *= e_;", "acc"),
    "amax": ("-INFINITY", "if (e_ > acc || e_ != e_) acc = e_;", "acc"),
    "amin": ("INFINITY", "if (e_ < acc || e_ != e_) acc = e_;", "acc"),
    "all": ("1", "acc = acc && (e_ != 0);", "acc"),
    "any": ("0", "acc = acc || (e_ != 0);", "acc"),
}


def _reduced_dims(node: Any, rank: int) -> tuple:
    from ..ir.meta import reduce_dims
    dim = node.attrs.get("dim")
    if dim == () and node.op.name in ("amax", "amin"):
        dim = None
    return reduce_dims(node.op.name, dim, rank)


@lowering(*_REDUCE)
def lower_reduce(em: Any, node: Any) -> None:
    x = em.layout(node.inputs[0])
    out = em.output(node, 0)
    dims = _reduced_dims(node, x.rank)
    _reduction_loops(em, x, out, dims, node.op.name)


def _reduction_loops(em: Any, x: Layout, out: Layout, dims: tuple, kind: str) -> None:
    init, update, finish = _REDUCE[kind]
    kept = [d for d in range(x.rank) if d not in dims]
    out_strides = list(out.strides) if out.rank == len(kept) else [
        out.strides[d] for d in kept]
    if out.rank == x.rank:  # keepdim
        out_strides = [out.strides[d] for d in kept]
    outer_shape = tuple(x.shape[d] for d in kept)
    xo = Layout(x.ptr, x.dtype, outer_shape, tuple(x.strides[d] for d in kept), x.offset)
    oo = Layout(out.ptr, out.dtype, outer_shape, tuple(out_strides), out.offset)
    inner_shape = tuple(x.shape[d] for d in dims)
    count = prod(inner_shape) if inner_shape else 1
    floating = out.dtype.is_floating_point
    acc_type = "double" if floating else ("int64_t" if out.dtype.name != "bool" else "int")
    if not floating and init.endswith("INFINITY"):
        init = "INT64_MIN" if init.startswith("-") else "INT64_MAX"
    if not floating and kind == "mean":
        raise Unlowerable("mean of an integer tensor")

    def body(elements: list) -> list:
        x_el, out_el = elements
        base = x_el[x_el.index("[") + 1:-1]
        ptr = x_el[:x_el.index("[")]
        lines = [f"{acc_type} acc = {init};", "{"]
        inner_vars = [f"k{d}" for d in range(len(dims))]
        for var, d in zip(inner_vars, dims):
            lines.append(f"for (int64_t {var} = 0; {var} < {size_expr(x.shape[d])}; {var}++)")
        terms = [f"{v}*{size_expr(x.strides[d])}" if not same(x.strides[d], 1) else v
                 for v, d in zip(inner_vars, dims)]
        where = " + ".join([base] + terms) if terms else base
        lines += ["{", f"  const {acc_type} e_ = ({acc_type}){ptr}[{where}];", f"  {update}",
                  "}", "}"]
        fin = finish.replace("count", size_expr(count))
        lines.append(f"{out_el} = {_cast(fin, None, out.dtype)};")
        return lines
    loop_nest(em, outer_shape, [xo, oo], body)


@lowering("max", "min")
def lower_max_dim(em: Any, node: Any) -> None:
    """max(dim) / min(dim): values and the index of the first extreme (NaN counts as one)."""
    x = em.layout(node.inputs[0])
    values, indices = em.output(node, 0), em.output(node, 1)
    d = node.attrs["dim"] % max(x.rank, 1)
    better = ">" if node.op.name == "max" else "<"
    kept = [k for k in range(x.rank) if k != d]
    shape = tuple(x.shape[k] for k in kept)
    def strip(lay: Layout) -> Layout:  # the layout over the kept dims (keepdim or not)
        strides = tuple(lay.strides[k] for k in kept) if lay.rank == x.rank else lay.strides
        return Layout(lay.ptr, lay.dtype, shape, strides, lay.offset)
    xo, vo, io = strip(x), strip(values), strip(indices)
    ctype = c_type(x.dtype)

    def body(elements: list) -> list:
        x_el, v_el, i_el = elements
        return _extreme_search(ctype, x_el, x.strides[d], x.shape[d], better) + [
            f"{v_el} = best;", f"{i_el} = where;"]
    loop_nest(em, shape, [xo, vo, io], body)


def _extreme_search(ctype: str, first: str, stride: Any, n: Any, better: str) -> list:
    """C lines leaving in `best` and `where` the first extreme of n elements from the element
    expression `first` on, `stride` apart (a NaN is the extreme and ends the search)."""
    ptr, base = first[:first.index("[")], first[first.index("[") + 1:-1]
    step = "j" if same(stride, 1) else f"j*{size_expr(stride)}"
    return [f"{ctype} best = {ptr}[{base}];", "int64_t where = 0;",
            f"for (int64_t j = 1; j < {size_expr(n)} && best == best; j++) {{",
            f"  const {ctype} e_ = {ptr}[{base} + {step}];",
            f"  if (e_ {better} best || e_ != e_) {{ best = e_; where = j; }}", "}"]


# ------------------------------------------------------------------------- matrix products

def _matrix(lay: Layout) -> tuple | None:
    """(transposed, leading dimension) of the last two dims as BLAS reads them, or None."""
    rows, cols = lay.shape[-2], lay.shape[-1]
    sr, sc = lay.strides[-2], lay.strides[-1]
    if same(sc, 1) or cols == 1:
        return 0, (sr if rows != 1 else max_expr(cols))
    if same(sr, 1) or rows == 1:
        return 1, (sc if cols != 1 else max_expr(rows))
    return None


def max_expr(d: Any) -> Any:
    return d if not isinstance(d, int) else max(d, 1)


def _as_matrices(em: Any, lay: Layout, vector_as: str) -> Layout:
    """A matmul operand as a stack of matrices: a vector becomes [1, K] or [K, 1]."""
    if lay.rank == 1:
        if vector_as == "row":
            return Layout(lay.ptr, lay.dtype, (1, lay.shape[0]), (0, lay.strides[0]), lay.offset)
        return Layout(lay.ptr, lay.dtype, (lay.shape[0], 1), (lay.strides[0], 0), lay.offset)
    return lay


@lowering("matmul")
def lower_matmul(em: Any, node: Any) -> None:
    out = em.output(node, 0)
    _matmul_into(em, em.layout(node.inputs[0]), em.layout(node.inputs[1]), out, 1, 0)


def _matmul_into(em: Any, a: Layout, b: Layout, out: Layout, alpha: Any, beta: Any) -> None:
    if a.dtype not in (float32, float64) or b.dtype is not a.dtype:
        raise Unlowerable(f"matmul of {a.dtype.name} and {b.dtype.name}")
    a = _as_matrices(em, a, "row")
    b = _as_matrices(em, b, "col")
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = _batch_shape(a.shape[:-2], b.shape[:-2])
    # a batch of A against one B, A's rows contiguous across the batch: one product of
    # (batch*M) x K (a linear layer over [B, T, C])
    if batch and all(d == 1 for d in b.shape[:-2]) and _rows_chain(a, batch):
        a = Layout(a.ptr, a.dtype, (prod(batch + (M,)), K), (a.strides[-2], a.strides[-1]),
                   a.offset)
        b = Layout(b.ptr, b.dtype, (K, N), b.strides[-2:], b.offset)
        M, batch = prod(batch + (M,)), ()
    ma, mb = _matrix(a), _matrix(b)
    if ma is None:
        a = em.contiguous_copy(a)
        ma = _matrix(a)
    if mb is None:
        b = em.contiguous_copy(b)
        mb = _matrix(b)
    s = suffix(a.dtype)
    ctype = c_type(a.dtype)
    a_b = [0] * (len(batch) - (a.rank - 2)) + list(broadcast_strides(
        Layout(a.ptr, a.dtype, a.shape[:-2], a.strides[:-2]), batch[len(batch) - (a.rank - 2):]))
    b_b = [0] * (len(batch) - (b.rank - 2)) + list(broadcast_strides(
        Layout(b.ptr, b.dtype, b.shape[:-2], b.strides[:-2]), batch[len(batch) - (b.rank - 2):]))
    plane = mul(M, N)
    o_b = [s_ for s_ in contiguous_like(batch, plane)]
    index = [f"i{d}" for d in range(len(batch))]

    def off(base: Any, strides: list) -> str:
        terms = [] if same(base, 0) else [size_expr(base)]
        terms += [f"{v}*{size_expr(st)}" for v, st in zip(index, strides) if not same(st, 0)]
        return " + ".join(terms) if terms else "0"
    call = (f"dg_gemm{s}({ma[0]}, {mb[0]}, {size_expr(M)}, {size_expr(N)}, {size_expr(K)}, "
            f"({ctype}){alpha}, {a.ptr} + {off(a.offset, a_b)}, {size_expr(ma[1])}, "
            f"{b.ptr} + {off(b.offset, b_b)}, {size_expr(mb[1])}, ({ctype}){beta}, "
            f"{out.ptr} + {off(out.offset, o_b)}, {size_expr(N)});")
    em.line("{")
    em.indent += 1
    for v, d in zip(index, batch):
        em.line(f"for (int64_t {v} = 0; {v} < {size_expr(d)}; {v}++)")
    em.line(call)
    em.indent -= 1
    em.line("}")


def contiguous_like(shape: tuple, inner: Any) -> list:
    strides, step = [], inner
    for d in reversed(shape):
        strides.append(step)
        step = mul(step, d)
    return list(reversed(strides))


def _batch_shape(a: tuple, b: tuple) -> tuple:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        out.append(y if x == 1 else x)
    return tuple(out)


def _rows_chain(a: Layout, batch: tuple) -> bool:
    if a.rank - 2 != len(batch):
        return False
    step = mul(a.strides[-2], a.shape[-2])
    for d in range(a.rank - 3, -1, -1):
        if a.shape[d] != 1 and not same(a.strides[d], step):
            return False
        step = mul(step, a.shape[d])
    return not same(a.strides[-2], 0) or a.shape[-2] == 1


@lowering("addmm")
def lower_addmm(em: Any, node: Any) -> None:
    """beta * input + alpha * (mat1 @ mat2): the bias broadcast into the output, then one
    matrix product that adds to it (with beta 0 the bias is not read, as PyTorch has it)."""
    bias, m1, m2 = node.inputs
    out = em.output(node, 0)
    beta, alpha = node.attrs["beta"], node.attrs["alpha"]
    if beta == 0:
        _matmul_into(em, em.layout(m1), em.layout(m2), out, literal(alpha, out.dtype), 0)
        return
    if isinstance(bias, Value):
        src = broadcast_to(em.layout(bias), out.shape)
        scale = "" if beta == 1 else f"{literal(beta, out.dtype)} * "
        loop_nest(em, out.shape, [src, out], lambda el: [f"{el[1]} = {scale}{el[0]};"])
    else:
        value = literal(bias * beta, out.dtype)
        loop_nest(em, out.shape, [out], lambda el: [f"{el[0]} = {value};"])
    _matmul_into(em, em.layout(m1), em.layout(m2), out, literal(alpha, out.dtype), 1)


# ---------------------------------------------------------------------- convolution, pooling

def _pairs(node: Any, *names: str) -> list:
    values = []
    for name in names:
        v = node.attrs[name]
        v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
        if not all(isinstance(k, int) for k in v):
            raise Unlowerable(f"{node.op.name}: {name}={v!r} is not two ints")
        values += [str(k) for k in v]
    return values


@lowering("conv2d")
def lower_conv2d(em: Any, node: Any) -> None:
    x = em.contiguous_input(node.inputs[0])
    w = em.contiguous_input(node.inputs[1])
    bias = em.contiguous_input(node.inputs[2]) if len(node.inputs) > 2 and isinstance(
        node.inputs[2], Value) else None
    out = em.output(node, 0)
    if x.rank != 4 or x.dtype not in (float32, float64):
        raise Unlowerable("conv2d in C takes a 4-d float32 or float64 input")
    groups = node.attrs["groups"]
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh, ow = out.shape[2], out.shape[3]
    col = em.scratch(mul(mul(mul(cg, kh), mul(kw, oh)), ow), x.dtype)
    sh, sw, ph, pw, dh, dw = _pairs(node, "stride", "padding", "dilation")
    args = [x.ptr_at(), w.ptr_at(), bias.ptr_at() if bias else "NULL", out.ptr_at()] + [
        size_expr(v) for v in (n, c, h, wd, o, kh, kw)] + [sh, sw, ph, pw, dh, dw] + [
        size_expr(groups), size_expr(oh), size_expr(ow), col]
    em.line(f"dg_conv2d{suffix(x.dtype)}({', '.join(args)});")


@lowering("max_pool2d_with_indices")
def lower_max_pool(em: Any, node: Any) -> None:
    x = em.contiguous_input(node.inputs[0])
    values, indices = em.output(node, 0), em.output(node, 1)
    if x.dtype not in (float32, float64) or x.rank not in (3, 4):
        raise Unlowerable("max pooling in C takes a 3-d or 4-d float input")
    planes = prod(x.shape[:-2])
    kh, kw, sh, sw, ph, pw, dh, dw = _pairs(node, "kernel_size", "stride", "padding",
                                            "dilation")
    args = [x.ptr_at(), values.ptr_at(), indices.ptr_at(), size_expr(planes),
            size_expr(x.shape[-2]), size_expr(x.shape[-1]), kh, kw, sh, sw, ph, pw, dh, dw,
            size_expr(values.shape[-2]), size_expr(values.shape[-1])]
    em.line(f"dg_max_pool2d{suffix(x.dtype)}({', '.join(args)});")


@lowering("embedding")
def lower_embedding(em: Any, node: Any) -> None:
    """Rows of the weight picked by the indices; an index out of range ends the call with
    MODEL_ERR_INDEX (PyTorch's IndexError), before anything is read out of bounds."""
    weight = em.contiguous_input(node.inputs[0])
    idx = em.layout(node.inputs[1])
    out = em.output(node, 0)
    rows, dim = weight.shape
    ctype = c_type(idx.dtype)

    def body(elements: list) -> list:
        i_el, o_el = elements
        optr, obase = o_el[:o_el.index("[")], o_el[o_el.index("[") + 1:-1]
        return [f"const {ctype} r_ = {i_el};",
                f"if (r_ < 0 || r_ >= {size_expr(rows)}) return DG_ERR_INDEX;",
                f"memcpy(&{optr}[({obase}) * {size_expr(dim)}], {weight.ptr_at()} + "
                f"(int64_t)r_ * {size_expr(dim)}, (size_t)({size_expr(dim)}) * "
                f"sizeof({c_type(weight.dtype)}));"]
    # the output indexed by row number: one row of `dim` elements per index
    rows_out = Layout(out.ptr, out.dtype, idx.shape, tuple(contiguous_like(idx.shape, 1)),
                      out.offset)
    loop_nest(em, idx.shape, [idx, rows_out], body)


# ------------------------------------------------------------------------ copies, creation

def copy_into(em: Any, src: Layout, dst: Layout) -> None:
    """dst = src element by element (src broadcast to dst's shape, cast to its dtype)."""
    src = broadcast_to(src, dst.shape)
    loop_nest(em, dst.shape, [src, dst],
              lambda el: [f"{el[1]} = {_cast(el[0], src.dtype, dst.dtype)};"])


@lowering("clone", "contiguous", "to_dtype", "to_device", "detach")
def lower_copy(em: Any, node: Any) -> None:
    src = em.layout(node.inputs[0])
    if node.op.name in ("contiguous", "detach", "to_device") and src.is_contiguous() \
            and src.dtype is node.outputs[0].type.dtype:
        em.bind(node.outputs[0], src)  # already in C order: the same memory, as NumPy does
        return
    copy_into(em, src, em.output(node, 0))


@lowering("copy")
def lower_copy_from(em: Any, node: Any) -> None:
    out = em.output(node, 0)
    src = node.inputs[1]
    if isinstance(src, Value):
        copy_into(em, em.layout(src), out)
    else:
        value = literal(src, out.dtype)
        loop_nest(em, out.shape, [out], lambda el: [f"{el[0]} = {value};"])


@lowering("full", "scalar_tensor", "zero", "fill")
def lower_fill(em: Any, node: Any) -> None:
    out = em.output(node, 0)
    name = node.op.name
    if name == "full":
        value = node.attrs["fill_value"]
    elif name == "zero":
        value = 0
    else:
        value = node.inputs[0] if name == "scalar_tensor" else node.inputs[1]
    if isinstance(value, Value):
        expr = _cast(em.scalar(value), None, out.dtype)
    else:
        expr = literal(value, out.dtype) if out.dtype.name != "bool" else literal(bool(value), None)
    loop_nest(em, out.shape, [out], lambda el: [f"{el[0]} = {expr};"])


@lowering("arange")
def lower_arange(em: Any, node: Any) -> None:
    out = em.output(node, 0)
    start, step = node.attrs["start"], node.attrs["step"]
    if not all(isinstance(v, (int, float)) for v in (start, step)):
        raise Unlowerable("arange with computed bounds")
    ctype = c_type(out.dtype)
    loop_nest(em, out.shape, [out], lambda el: [
        f"{el[0]} = ({ctype})({literal(start, float64)} + (double)i0 * {literal(step, float64)});"])


@lowering("cat", "stack")
def lower_cat(em: Any, node: Any) -> None:
    out = em.output(node, 0)
    dim = node.attrs["dim"] % out.rank
    start: Any = 0
    for x in node.inputs:
        src = em.layout(x)
        if node.op.name == "stack":
            src = Layout(src.ptr, src.dtype, src.shape[:dim] + (1,) + src.shape[dim:],
                         src.strides[:dim] + (0,) + src.strides[dim:], src.offset)
        size = src.shape[dim]
        dst = Layout(out.ptr, out.dtype, out.shape[:dim] + (size,) + out.shape[dim + 1:],
                     out.strides, _add(out.offset, mul(start, out.strides[dim])))
        copy_into(em, src, dst)
        start = _add(start, size)


def _add(a: Any, b: Any) -> Any:
    from ..ir.symbolic import add
    return add(a, b)



def _every_index(em: Any, shape: tuple) -> list:
    """Open a block with one loop per dim of `shape` (no merging: the body needs each index)
    and return the index names; `_end_index` closes it."""
    index = [f"i{d}" for d in range(len(shape))]
    em.line("{")
    em.indent += 1
    for var, size in zip(index, shape):
        em.line(f"for (int64_t {var} = 0; {var} < {size_expr(size)}; {var}++)")
    return index


def _end_index(em: Any) -> None:
    em.indent -= 1
    em.line("}")


# ------------------------------------------------------------------- selections and masks

@lowering("masked_fill")
def lower_masked_fill(em: Any, node: Any) -> None:
    """input where the mask is false, the value where it is true (broadcast, as PyTorch)."""
    x, mask, value = node.inputs
    out = em.output(node, 0)
    src = broadcast_to(em.layout(x), out.shape)
    m = broadcast_to(em.layout(mask), out.shape)
    fill = _cast(em.scalar(value), None, out.dtype)
    loop_nest(em, out.shape, [src, m, out],
              lambda el: [f"{el[2]} = {el[1]} ? {fill} : {el[0]};"])


@lowering("tril", "triu")
def lower_triangle(em: Any, node: Any) -> None:
    """The lower (tril) or upper (triu) triangle of the last two dims, zeros elsewhere."""
    x = em.layout(node.inputs[0])
    out = em.output(node, 0)
    if x.rank < 2:
        raise Unlowerable("tril/triu of fewer than two dims")
    k = node.attrs["diagonal"]
    keep = "<=" if node.op.name == "tril" else ">="
    index = _every_index(em, x.shape)
    zero = literal(0, out.dtype) if out.dtype.name != "bool" else "0"
    em.line(f"{out.at(index)} = ({index[-1]} - {index[-2]} {keep} {literal(k, None)}) ? "
            f"{x.at(index)} : {zero};")
    _end_index(em)


@lowering("flip")
def lower_flip(em: Any, node: Any) -> None:
    """A copy through a layout that walks the flipped dims backwards."""
    x = em.layout(node.inputs[0])
    out = em.output(node, 0)
    dims = {d % x.rank for d in node.attrs["dims"]}
    offset, strides = x.offset, list(x.strides)
    for d in dims:
        offset = _add(offset, mul(_add(x.shape[d], -1), x.strides[d]))
        strides[d] = mul(-1, x.strides[d])
    copy_into(em, Layout(x.ptr, x.dtype, x.shape, tuple(strides), offset), out)


@lowering("index_select")
def lower_index_select(em: Any, node: Any) -> None:
    """input's slices along `dim` at the indices; an index out of range ends the call with
    ERR_INDEX before it is read."""
    x, idx = em.layout(node.inputs[0]), em.layout(node.inputs[1])
    out = em.output(node, 0)
    d = node.attrs["dim"] % max(x.rank, 1)
    index = _every_index(em, out.shape)
    _picked_copy(em, idx.at([index[d]]) if idx.rank else idx.at([]), x, out, d, index)
    _end_index(em)


def _picked_copy(em: Any, picked: str, x: Layout, out: Layout, d: int, index: list) -> None:
    """out[index] = x[index with dim d replaced by the index `picked`], checked against the
    dim's size first (no negative indices, as PyTorch)."""
    em.line("{")
    em.line(f"  const int64_t r_ = (int64_t){picked};")
    em.line(f"  if (r_ < 0 || r_ >= {size_expr(x.shape[d])}) return DG_ERR_INDEX;")
    src = list(index)
    src[d] = "r_"
    em.line(f"  {out.at(index)} = {x.at(src)};")
    em.line("}")


@lowering("argmax", "argmin")
def lower_argmax(em: Any, node: Any) -> None:
    """The index of the first extreme (NaN counts as the extreme, as PyTorch's), over one dim
    or over the flattened input."""
    x = em.layout(node.inputs[0])
    out = em.output(node, 0)
    dim = node.attrs["dim"]
    if dim is None:
        if not x.is_contiguous():
            x = em.contiguous_copy(x)
        flat = Layout(x.ptr, x.dtype, (prod(x.shape),), (1,), x.offset)
        x, d = flat, 0
        keep_shape = ()
    else:
        d = dim % max(x.rank, 1)
        keep_shape = tuple(s for k, s in enumerate(x.shape) if k != d)
    better = ">" if node.op.name == "argmax" else "<"
    kept = [k for k in range(x.rank) if k != d]
    xo = Layout(x.ptr, x.dtype, keep_shape, tuple(x.strides[k] for k in kept), x.offset)
    oo = Layout(out.ptr, out.dtype, keep_shape, tuple(_row_strides(keep_shape)), out.offset)
    ctype = c_type(x.dtype)

    def body(elements: list) -> list:
        x_el, o_el = elements
        return _extreme_search(ctype, x_el, x.strides[d], x.shape[d], better) + [
            f"{o_el} = where;"]
    loop_nest(em, keep_shape, [xo, oo], body)


def _row_strides(shape: tuple) -> list:
    return contiguous_like(shape, 1)


@lowering("var", "std")
def lower_var(em: Any, node: Any) -> None:
    """Two passes over each reduced slice (the mean, then squared deviations), in double."""
    x = em.layout(node.inputs[0])
    out = em.output(node, 0)
    dims = _reduced_dims(node, x.rank)
    kept = [d for d in range(x.rank) if d not in dims]
    outer_shape = tuple(x.shape[d] for d in kept)
    xo = Layout(x.ptr, x.dtype, outer_shape, tuple(x.strides[d] for d in kept), x.offset)
    oo = Layout(out.ptr, out.dtype, outer_shape, tuple(_row_strides(outer_shape)), out.offset)
    count = size_expr(prod(tuple(x.shape[d] for d in dims)) if dims else 1)
    correction = node.attrs["correction"]
    root = "sqrt" if node.op.name == "std" else ""

    def body(elements: list) -> list:
        x_el, o_el = elements
        ptr, base = x_el[:x_el.index("[")], x_el[x_el.index("[") + 1:-1]
        inner = [f"k{d}" for d in range(len(dims))]
        loops = [f"for (int64_t {v} = 0; {v} < {size_expr(x.shape[d])}; {v}++)"
                 for v, d in zip(inner, dims)]
        terms = [f"{v}*{size_expr(x.strides[d])}" for v, d in zip(inner, dims)]
        where = " + ".join([base] + terms)
        return (["double s_ = 0.0, q_ = 0.0;", "{"] + loops +
                [f"  s_ += (double){ptr}[{where}];", "}",
                 f"const double mean_ = s_ / (double){count};", "{"] + loops +
                [f"  {{ const double d_ = (double){ptr}[{where}] - mean_; q_ += d_ * d_; }}",
                 "}",
                 # PyTorch divides by max(0, N - correction): 0/0 is NaN, q/0 infinity
                 f"const double den_ = (double){count} - {literal(float(correction), None)};",
                 f"{o_el} = {_cast(f'{root}(q_ / (den_ > 0 ? den_ : 0.0))', None, out.dtype)};"])
    loop_nest(em, outer_shape, [xo, oo], body)


@lowering("max_all", "min_all")
def lower_extreme_all(em: Any, node: Any) -> None:
    x = em.layout(node.inputs[0])
    _reduction_loops(em, x, em.output(node, 0), tuple(range(x.rank)),
                     "amax" if node.op.name == "max_all" else "amin")


@lowering("sum_to_size")
def lower_sum_to_size(em: Any, node: Any) -> None:
    """The gradient of a broadcast: zeros, then every element added into its place."""
    x = em.layout(node.inputs[0])
    out = em.output(node, 0)
    zero = literal(0, out.dtype)
    loop_nest(em, out.shape, [out], lambda el: [f"{el[0]} = {zero};"])
    target = broadcast_to(out, x.shape)
    loop_nest(em, x.shape, [x, target],
              lambda el: [f"{el[1]} += {_cast(el[0], x.dtype, out.dtype)};"])


@lowering("cumsum", "cumprod")
def lower_scan(em: Any, node: Any) -> None:
    """A running sum or product along one dim (in double for floating values, as PyTorch's
    CPU kernels accumulate); cumsum's `reverse` runs from the end."""
    x = em.layout(node.inputs[0])
    out = em.output(node, 0)
    if x.rank == 0:
        copy_into(em, x, out)
        return
    d = (node.attrs["dim"] or 0) % x.rank
    reverse = node.attrs.get("reverse", False)
    kept = [k for k in range(x.rank) if k != d]
    shape = tuple(x.shape[k] for k in kept)
    xo = Layout(x.ptr, x.dtype, shape, tuple(x.strides[k] for k in kept), x.offset)
    oo = Layout(out.ptr, out.dtype, shape, tuple(out.strides[k] for k in kept), out.offset)
    acc = "double" if out.dtype.is_floating_point else "int64_t"
    op = "+=" if node.op.name == "cumsum" else "*="
    init = "0" if node.op.name == "cumsum" else "1"
    n = size_expr(x.shape[d])

    def body(elements: list) -> list:
        x_el, o_el = elements
        xp, xb = x_el[:x_el.index("[")], x_el[x_el.index("[") + 1:-1]
        op_, ob = o_el[:o_el.index("[")], o_el[o_el.index("[") + 1:-1]
        j = f"({n} - 1 - j)" if reverse else "j"
        xs = size_expr(x.strides[d])
        os_ = size_expr(out.strides[d])
        return [f"{acc} run_ = {init};", f"for (int64_t j = 0; j < {n}; j++) {{",
                f"  run_ {op} ({acc}){xp}[{xb} + {j}*{xs}];",
                f"  {op_}[{ob} + {j}*{os_}] = {_cast('run_', None, out.dtype)};", "}"]
    loop_nest(em, shape, [xo, oo], body)


@lowering("gather")
def lower_gather(em: Any, node: Any) -> None:
    """out[i][j] = input[index[i][j]][j] (for dim 0), indices checked against the input."""
    x, idx = em.layout(node.inputs[0]), em.layout(node.inputs[1])
    out = em.output(node, 0)
    d = node.attrs["dim"] % max(x.rank, 1)
    index = _every_index(em, out.shape)
    _picked_copy(em, idx.at(index), x, out, d, index)
    _end_index(em)


@lowering("eye")
def lower_eye(em: Any, node: Any) -> None:
    out = em.output(node, 0)
    one, zero = literal(1, out.dtype), literal(0, out.dtype)
    index = _every_index(em, out.shape)
    em.line(f"{out.at(index)} = i0 == i1 ? {one} : {zero};")
    _end_index(em)


@lowering("repeat")
def lower_repeat(em: Any, node: Any) -> None:
    """Tiles: each output element reads the input at its index modulo the input's size."""
    x = em.layout(node.inputs[0])
    out = em.output(node, 0)
    lead = out.rank - x.rank
    index = _every_index(em, out.shape)
    src = [f"({index[lead + k]} % {size_expr(x.shape[k])})" for k in range(x.rank)]
    em.line(f"{out.at(index)} = {x.at(src)};")
    _end_index(em)
