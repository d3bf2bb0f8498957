"""CPU kernels for row-wise ops (softmax, log_softmax, logsumexp, layer norm): one Numba loop per row, built
from the op's `Rows` record (ir/registry.py), so no op is named here.

NumPy computes softmax in five passes over memory (max, subtract, exp, sum, divide), each
allocating a temporary as large as the input. The generated kernel views a C-contiguous input
as (outer, n, inner) around the op's dim and, for each row of n elements, runs the record's
steps: reductions ("max", "sum") over the row, per-row values ("row"), and then the output per
element (or once per row for a reduction). Sums accumulate in float64 and may be
reassociated (so they vectorize); elementwise math is in
the input's dtype, with the float32 approximations of fastmath.py unless DUALGRAPH_EXACT_MATH=1.
Rows run in parallel (prange over the outer dim) from GRAIN elements up. Inputs the kernel does
not cover (other dtypes, several dims, non-contiguous or empty arrays) use the NumPy kernel.
"""

from __future__ import annotations

import ast
import math
import warnings
from typing import Any, Callable

import numpy as np

from .fusion import (GRAIN, _BUILTINS, Unfusable, _ctor, _fast_names, _literal, _Literals,
                     _namespace)

_DTYPES = ("float32", "float64")
_KERNELS: dict = {}


def row_kernel_source(rows: Any, dtype_name: str, title: str, attrs: dict | None = None) -> str:
    """The module source of the row kernel for a `Rows` record at one float dtype, with the
    op's attributes written in as literals."""
    ctor = _ctor(_dtype(dtype_name))
    fast = _fast_names() if dtype_name == "float32" else {}
    names = {"x", "kept", "n"} | {step.name for step in rows.steps}
    taken = {"x", "kept", "n", "e_", "o", "i", "j", "inp", "out", "outer", "inner"}
    for step in rows.steps:
        if step.name in taken or step.name.endswith("_nan"):
            raise Unfusable(f"row step name {step.name!r} is one the kernel uses itself")
    literals = {k: _literal(v) for k, v in (attrs or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
    allowed = _namespace() | _BUILTINS | names

    def scalar(text: str) -> str:
        text = text.format(**literals)
        tree = _Literals(ctor, fast, allowed).visit(ast.parse(text, mode="eval"))
        return ast.unparse(tree)

    index = "[o, i]" if rows.per_row else "[o, j, i]"
    body = []
    for step in rows.steps:
        value = scalar(step.expr)
        if step.kind == "row":
            body.append(f"{step.name} = {value}")
            continue
        if step.kind == "max":  # max() vectorizes but drops NaN: a count of NaNs restores it
            body += [f"{step.name} = {ctor}(-np.inf)", f"{step.name}_nan = 0"]
            update = f"{step.name} = max({step.name}, e_)\n{step.name}_nan += e_ != e_"
        elif step.kind == "sum":
            body.append(f"{step.name} = 0.0")
            update = f"{step.name} += e_"
        else:
            raise Unfusable(f"row step kind {step.kind!r} is not max, sum or row")
        # an element's value in the dtype it is stored or compared in; a sum's in what it
        # computes in (float64 where it reads a float64 row value, as `(x - mu) ** 2`)
        typed = step.kind == "max" or step.store
        body += ["for j in range(n):", "    x = inp[o, j, i]",
                 f"    e_ = {ctor}({value})" if typed else f"    e_ = {value}"]
        if step.store:
            if rows.per_row:
                raise Unfusable("a per-row op cannot keep element values")
            body.append("    out[o, j, i] = e_")
        body += [f"    {line}" for line in update.split("\n")]
        if step.kind == "max":
            body += [f"if {step.name}_nan:", f"    {step.name} = {ctor}(np.nan)"]
    output = f"{ctor}({scalar(rows.output)})"
    if rows.per_row:
        body.append(f"out[o, i] = {output}")
    else:
        body += ["for j in range(n):", "    x = inp[o, j, i]", "    kept = out[o, j, i]",
                 f"    out[o, j, i] = {output}"]
    lines = [f"# dualgraph row kernel: {title}", "import numpy as np",
             "from numba import njit, prange",
             "from dualgraph.backends.scalar_math import *  # noqa: F401,F403", ""]
    for variant, outer in (("serial", "range"), ("parallel", "prange")):
        # reassociation lets the sums vectorize (each in float64, so the order barely matters)
        opts = 'cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"}'
        if variant == "parallel":
            opts += ", parallel=True"
        lines += [f"@njit({opts})", f"def {variant}(inp, out):",
                  "    outer, n, inner = inp.shape", f"    for o in {outer}(outer):",
                  "        for i in range(inner):"]
        lines += ["            " + line for line in body]
        lines.append("")
    return "\n".join(lines) + "\n"


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
        try:
            variant(src, out)
        except Exception as exc:  # Numba's typing/lowering errors: the NumPy kernel, said once
            from numba.core.errors import NumbaError
            if not isinstance(exc, NumbaError):
                raise
            _KERNELS[_key(op_name, x.dtype.name, {**defaults, **attrs})] = False
            warnings.warn(f"dualgraph: the {op_name} row kernel did not compile "
                          f"({type(exc).__name__}); using NumPy instead", RuntimeWarning,
                          stacklevel=2)
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
    from ..ir.graph import Value
    from ..ir.types import TensorType
    from .fusion import _expression
    head = body.nodes[0]
    rows, out_type = head.op.rows, head.outputs[0].type
    shape = tuple(out_type.shape)
    axis = head.attrs.get(rows.dim_attr) if rows.dim_attr else -1
    if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
        raise Unfusable("the row op's dim is not one int")
    axis %= len(shape)
    ctor = _ctor(out_type.dtype)
    fast = _fast_names() if out_type.dtype.name == "float32" else {}
    if head.inputs[0] not in body.inputs:
        raise Unfusable("the row op's input is computed inside the body")
    layout, params, loads, prelude = {}, [], [], []
    names: dict = {}
    for k, v in enumerate(body.inputs):
        names[v] = f"a{k}"
        if not isinstance(v.type, TensorType):
            params.append(f"s{k}")
            prelude.append(f"a{k} = s{k}")
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
    row_input = f"in{body.inputs.index(head.inputs[0])}"
    steps_src = row_kernel_source(rows, out_type.dtype.name, title,
                                  {k: v for k, v in head.attrs.items()})
    # the steps of the plain row kernel, reading the fused kernel's row input
    steps = _steps_lines(steps_src)
    allowed = _namespace() | _BUILTINS | set(names.values()) | {"x", "kept"}
    names[head.outputs[0]] = "t0"
    compute = [f"t0 = {ctor}({_output_expr(rows, ctor, fast, head.attrs)})"]
    for m, node in enumerate(body.nodes[1:], start=1):
        if not (node.op.template and len(node.outputs) == 1 and not node.blocks):
            raise Unfusable(f"{node.op.name} is not an elementwise op with a template")
        compute.append(f"t{m} = {_expression(node, names, fast, allowed)}")
        names[node.outputs[0]] = f"t{m}"
    stores = [f"out{m}[o, j, i] = {names[y]}" for m, y in enumerate(body.outputs)]
    args = ", ".join(params + [f"out{m}" for m in range(len(body.outputs))])
    lines = [f"# dualgraph fused row kernel: {title}", "import numpy as np",
             "from numba import njit, prange",
             "from dualgraph.backends.scalar_math import *  # noqa: F401,F403", ""]
    for variant, outer in (("serial", "range"), ("parallel", "prange")):
        opts = 'cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"}'
        if variant == "parallel":
            opts += ", parallel=True"
        lines += [f"@njit({opts})", f"def {variant}({args}):"]
        lines += [f"    {p}" for p in prelude]
        lines += [f"    outer, n, inner = {row_input}.shape", f"    for o in {outer}(outer):",
                  "        for i in range(inner):"]
        lines += ["            " + s.replace("inp[", f"{row_input}[").replace("out[", "out0[")
                  for s in steps]
        lines += ["            for j in range(n):", f"                x = {row_input}[o, j, i]",
                  "                kept = out0[o, j, i]"]
        lines += ["                " + s for s in loads + compute + stores]
        lines.append("")
    return "\n".join(lines) + "\n", layout


def _steps_lines(source: str) -> list:
    """The per-row step lines of a plain row kernel's serial variant (its last loop, the
    output pass, left out), unindented to the row body's level."""
    lines = source.split("def serial(inp, out):\n", 1)[1].split("\n\n", 1)[0].splitlines()
    body = [ln[12:] for ln in lines[3:]]  # under `for o` / `for i`
    last = max(k for k, ln in enumerate(body) if ln.startswith("for j in range(n):"))
    return body[:last]


def _output_expr(rows: Any, ctor: str, fast: dict, attrs: dict) -> str:
    literals = {k: _literal(v) for k, v in attrs.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
    allowed = _namespace() | _BUILTINS | {"x", "kept", "n"} | {s.name for s in rows.steps}
    tree = _Literals(ctor, fast, allowed).visit(ast.parse(rows.output.format(**literals),
                                                          mode="eval"))
    return ast.unparse(tree)


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
        try:
            kernel(*call, *outs)
        except Exception as exc:  # Numba's typing/lowering errors: NumPy code, said once
            from numba.core.errors import NumbaError
            if not isinstance(exc, NumbaError):
                raise
            self.broken = True
            warnings.warn(f"dualgraph: kernel {self.title} did not compile ({type(exc).__name__}"
                          f"); running its ops through NumPy instead", RuntimeWarning,
                          stacklevel=2)
            return self.fallback(*args)
        return tuple(o.reshape(shape) for o in outs)
