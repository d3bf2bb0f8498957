"""CPU kernels for row-wise ops (softmax, log_softmax, logsumexp, layer norm): one Numba loop
per row, built from the op's `Rows` record (ir/registry.py), so no op is named here.

NumPy computes softmax in five passes over memory (max, subtract, exp, sum, divide), each
allocating a temporary as large as the input. The generated kernel views a C-contiguous input
as (outer, n, inner) around the op's dim and, for each row of n elements, runs the record's
steps: reductions ("max", "sum") over the row, per-row values ("row"), and then the output per
element (or once per row for a reduction). Sums accumulate in float64 and may be
reassociated (so they vectorize); per-row values and elementwise math are in the input's dtype
(float32 rows run eight lanes to a vector, as PyTorch's kernels do), with the float32
approximations of fastmath.py in element loops unless DUALGRAPH_EXACT_MATH=1 (per-row values
call libm).
Rows run in parallel (prange over the outer dim) from GRAIN elements up. Inputs the kernel does
not cover (other dtypes, several dims, non-contiguous or empty arrays) use the NumPy kernel.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Callable

import numpy as np

from .fusion import (GRAIN, _BUILTINS, Unfusable, _ctor, _fast_names, _literal, _Literals,
                     _namespace, launch, module_source)

_DTYPES = ("float32", "float64")
_KERNELS: dict = {}


_TAKEN = {"x", "kept", "n", "e_", "o", "i", "j", "inp", "out", "outer", "inner"}


def _scalar_writer(rows: Any, dtype_name: str, attrs: dict | None) -> tuple[str, Callable]:
    """(the dtype's constructor, a function turning a record expression into kernel source:
    attributes written in as literals, literals typed, float32 math routed to fastmath)."""
    ctor = _ctor(_dtype(dtype_name))
    fast = _fast_names() if dtype_name == "float32" else {}
    for step in rows.steps:
        if step.name in _TAKEN or step.name.endswith("_nan"):
            raise Unfusable(f"row step name {step.name!r} is one the kernel uses itself")
    literals = {k: _literal(v) for k, v in (attrs or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
    allowed = _namespace() | _BUILTINS | {"x", "kept", "n"} | {s.name for s in rows.steps}

    def scalar(text: str, extra: set = frozenset(), once_per_row: bool = False) -> str:
        # a value computed once per row is scalar code: libm is faster there than the
        # approximations, which pay off only in loops that vectorize
        tree = _Literals(ctor, {} if once_per_row else fast, allowed | extra).visit(
            ast.parse(text.format(**literals), mode="eval"))
        return ast.unparse(tree)
    return ctor, scalar


def _row_steps(rows: Any, ctor: str, scalar: Callable, row: str, out: str) -> list:
    """The lines computing a record's steps for one row (under `for o` / `for i`), reading the
    element from `row` and keeping stored values in `out`; the output pass is the caller's."""
    body = []
    for step in rows.steps:
        value = scalar(step.expr, once_per_row=step.kind == "row")
        if step.kind == "row":  # in the dtype, so the element passes that read it stay in it
            body.append(f"{step.name} = {ctor}({value})")
            continue
        if step.kind == "max":  # max() vectorizes but drops NaN: a count of NaNs restores it
            body += [f"{step.name} = {ctor}(-np.inf)", f"{step.name}_nan = 0"]
            update = [f"{step.name} = max({step.name}, e_)", f"{step.name}_nan += e_ != e_"]
        elif step.kind == "sum":
            body.append(f"{step.name} = 0.0")
            update = [f"{step.name} += e_"]
        else:
            raise Unfusable(f"row step kind {step.kind!r} is not max, sum or row")
        # an element's value in the dtype it is stored or compared in; a sum's in what it
        # computes in (the dtype, since row values are in it), added into a float64 total
        typed = step.kind == "max" or step.store
        body += ["for j in range(n):", f"    x = {row}[o, j, i]",
                 f"    e_ = {ctor}({value})" if typed else f"    e_ = {value}"]
        if step.store:
            if rows.per_row:
                raise Unfusable("a per-row op cannot keep element values")
            body.append(f"    {out}[o, j, i] = e_")
        body += [f"    {line}" for line in update]
        if step.kind == "max":
            body += [f"if {step.name}_nan:", f"    {step.name} = {ctor}(np.nan)"]
    return body


def _rows_nest(row: str, per_row_lines: list) -> Callable:
    """The loop nest over (outer, inner) around one row's lines, for `module_source`."""
    def nest(outer: str) -> list:
        return ([f"    outer, n, inner = {row}.shape", f"    for o in {outer}(outer):",
                 "        for i in range(inner):"]
                + ["            " + line for line in per_row_lines])
    return nest


# reassociation lets the sums vectorize (each in float64, so the order barely matters)
_REASSOC = ', fastmath={"reassoc"}'


def row_kernel_source(rows: Any, dtype_name: str, title: str, attrs: dict | None = None) -> str:
    """The module source of the row kernel for a `Rows` record at one float dtype, with the
    op's attributes written in as literals."""
    ctor, scalar = _scalar_writer(rows, dtype_name, attrs)
    body = _row_steps(rows, ctor, scalar, "inp", "out")
    output = f"{ctor}({scalar(rows.output, once_per_row=rows.per_row)})"
    if rows.per_row:
        body.append(f"out[o, i] = {output}")
    else:
        body += ["for j in range(n):", "    x = inp[o, j, i]", "    kept = out[o, j, i]",
                 f"    out[o, j, i] = {output}"]
    return module_source(f"row kernel: {title}", "inp, out", _rows_nest("inp", body), _REASSOC)


def _dtype(name: str) -> Any:
    from ..ir import types
    return getattr(types, name)


def row_kernel(op_name: str, fallback: Callable) -> Callable:
    """The CPU eager kernel of a row-wise op: its generated row loop where it applies (a float32
    or float64 C-contiguous input reduced over one dim), else `fallback` (the NumPy kernel)."""
    from ..ir.registry import get
    op = get(op_name)
    rows, defaults = op.rows, op.default_attrs

    def kernel(x: Any, **attrs: Any) -> Any:
        plan = _plan(x, attrs, rows)
        run = plan and _module(op_name, rows, x.dtype.name, {**defaults, **attrs})
        if not run:
            return fallback(x, **attrs)
        axis, keep = plan
        outer = math.prod(x.shape[:axis])
        n, inner = x.shape[axis], math.prod(x.shape[axis + 1:])
        src = x.reshape(outer, n, inner)
        out = np.empty((outer, inner) if rows.per_row else (outer, n, inner), x.dtype)
        variant = run.parallel if x.size >= GRAIN and outer > 1 and _threads() > 1 \
            else run.serial
        if not launch(run, variant, [src, out]):  # the module carries its title
            _KERNELS[_key(op_name, x.dtype.name, {**defaults, **attrs})] = False
            return fallback(x, **attrs)
        if not rows.per_row:
            return out.reshape(x.shape)
        shape = list(x.shape)
        if keep:
            shape[axis] = 1
        else:
            del shape[axis]
        return out.reshape(shape)
    kernel.__name__ = op_name
    return kernel


def _plan(x: Any, attrs: dict, rows: Any) -> tuple | None:
    """(axis, keepdim) where the row loop computes this call exactly as the NumPy kernel, else
    None: a float input of its own result dtype, one reduced dim, C order, not empty."""
    if not (isinstance(x, np.ndarray) and x.dtype.name in _DTYPES and x.ndim
            and x.size and x.flags.c_contiguous):
        return None
    if attrs.get("dtype") is not None and getattr(attrs["dtype"], "np", None) != x.dtype:
        return None
    dim = attrs.get(rows.dim_attr) if rows.dim_attr else -1
    if isinstance(dim, (tuple, list)):
        if len(dim) != 1:
            return None
        dim = dim[0]
    if dim is None:
        if x.ndim != 1 or not rows.per_row:
            return None
        dim = 0
    if not isinstance(dim, int) or not -x.ndim <= dim < x.ndim:
        return None
    return dim % x.ndim, bool(attrs.get("keepdim", False))


def _key(op_name: str, dtype_name: str, attrs: dict) -> tuple:
    return op_name, dtype_name, tuple(sorted((k, repr(v)) for k, v in attrs.items()))


def _module(op_name: str, rows: Any, dtype_name: str, attrs: dict) -> Any:
    """The compiled kernel module for (op, dtype, attributes), or False where it cannot be
    built."""
    key = _key(op_name, dtype_name, attrs)
    module = _KERNELS.get(key)
    if module is None:
        try:
            from .kernel_cache import load_module
            module = load_module(row_kernel_source(rows, dtype_name, f"{op_name} {dtype_name}",
                                                   attrs))
            module.title = f"{op_name} {dtype_name}"  # for launch's warning
        except (ImportError, Unfusable):
            module = False
        _KERNELS[key] = module
    return module


def _threads() -> int:
    import numba
    return numba.get_num_threads()


# ------------------------------------------------- fused: a row op and its elementwise consumers

def fused_row_source(body: Any, title: str) -> tuple[str, dict]:
    """(module source, layout) for a fused body headed by a row-wise op (passes/fuse.py): the
    op's row loop, whose last pass computes the consumers' templates in registers and stores
    every value the body yields. Inputs are the row (viewed (outer, n, inner)), tensors of its
    shape, single elements, or, where the row is the last dim, vectors of the row's length."""
    from ..ir.types import TensorType
    from .fusion import _expression
    head = body.nodes[0]
    rows, out_type = head.op.rows, head.outputs[0].type
    shape = tuple(out_type.shape)
    axis = head.attrs.get(rows.dim_attr) if rows.dim_attr else -1
    if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
        raise Unfusable("the row op's dim is not one int")
    axis %= len(shape)
    if head.inputs[0] not in body.inputs:
        raise Unfusable("the row op's input is computed inside the body")
    ctor, scalar = _scalar_writer(rows, out_type.dtype.name, head.attrs)
    fast = _fast_names() if out_type.dtype.name == "float32" else {}
    layout, params, loads, prelude = {}, [], [], []
    names: dict = {}
    for k, v in enumerate(body.inputs):
        names[v] = f"a{k}"
        if not isinstance(v.type, TensorType):
            params.append(f"s{k}")
            prelude.append(f"    a{k} = s{k}")
            continue
        own = tuple(v.type.shape)
        params.append(f"in{k}")
        if own == shape:
            layout[k], index = "rows", "[o, j, i]"
        elif all(d == 1 for d in own):
            layout[k], index = "one", "[0]"
        elif axis == len(shape) - 1 and own[-1] == shape[-1] and all(d == 1 for d in own[:-1]):
            layout[k], index = "row", "[j]"
        else:
            raise Unfusable(f"an input of shape {list(own)} broadcasts across rows")
        loads.append(f"a{k} = x" if v is head.inputs[0] else f"a{k} = in{k}{index}")
    row = f"in{body.inputs.index(head.inputs[0])}"
    allowed = _namespace() | _BUILTINS | set(names.values()) | {"x", "kept"}
    names[head.outputs[0]] = "t0"
    compute = [f"t0 = {ctor}({scalar(rows.output)})"]
    for m, node in enumerate(body.nodes[1:], start=1):
        if not (node.op.template and len(node.outputs) == 1 and not node.blocks):
            raise Unfusable(f"{node.op.name} is not an elementwise op with a template")
        compute.append(f"t{m} = {_expression(node, names, fast, allowed)}")
        names[node.outputs[0]] = f"t{m}"
    stores = [f"out{m}[o, j, i] = {names[y]}" for m, y in enumerate(body.outputs)]
    # the output pass: the head's output, then its consumers, in registers (out0 holds what a
    # step stored, such as softmax's exps, until this pass overwrites it)
    per_row = _row_steps(rows, ctor, scalar, row, "out0")
    per_row += ["for j in range(n):", f"    x = {row}[o, j, i]", "    kept = out0[o, j, i]"]
    per_row += [f"    {line}" for line in loads + compute + stores]
    args = ", ".join(params + [f"out{m}" for m in range(len(body.outputs))])
    inner = _rows_nest(row, per_row)
    source = module_source(f"fused row kernel: {title}", args,
                           lambda outer: prelude + inner(outer), _REASSOC)
    return source, layout


class FusedRowKernel:
    """Calls a fused row kernel: views the inputs as its layout needs, allocates the outputs,
    picks the serial or parallel variant; NumPy code (with a warning) where Numba fails."""

    def __init__(self, module: Any, layout: dict, body: Any, title: str,
                 fallback: Callable) -> None:
        head = body.nodes[0]
        rows = head.op.rows
        self.serial, self.parallel = module.serial, module.parallel
        self.layout, self.title, self.fallback = layout, title, fallback
        self.row = body.inputs.index(head.inputs[0])
        rank = len(head.outputs[0].type.shape)
        axis = head.attrs.get(rows.dim_attr) if rows.dim_attr else -1
        self.axis = axis % rank
        self.dtypes = [y.type.dtype.np for y in body.outputs]
        self.broken = False

    def __call__(self, *args: Any) -> tuple:
        if self.broken:
            return self.fallback(*args)
        shape = args[self.row].shape
        outer = math.prod(shape[:self.axis])
        n, inner = shape[self.axis], math.prod(shape[self.axis + 1:])
        call = []
        for k, a in enumerate(args):
            how = self.layout.get(k)
            if how == "rows":
                call.append(np.ascontiguousarray(a).reshape(outer, n, inner))
            elif how is not None:
                call.append(np.ascontiguousarray(a).reshape(-1))
            else:
                call.append(a)
        outs = [np.empty((outer, n, inner), d) for d in self.dtypes]
        size = outer * n * inner
        kernel = self.parallel if size >= GRAIN and outer > 1 and _threads() > 1 \
            else self.serial
        if not launch(self, kernel, call + outs):
            return self.fallback(*args)
        return tuple(o.reshape(shape) for o in outs)
