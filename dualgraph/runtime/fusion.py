"""CPU kernels for fused nodes: one Numba loop built from the scalar templates of the ops inside.

A fused node's body (ir/ops/fused.py) is a list of elementwise nodes. The generator reads each
op's `template` (`"({0} * {1})"`, `"exp({0})"`) and its dtype rule, and writes one loop that
loads an element of every input, evaluates the ops in order in registers — each operand cast to
the op's compute dtype, each result to the op's result dtype, exactly the casts eager makes — and
stores the values the rest of the graph reads. No op is named here: a new elementwise op fuses
once it has a template. Numeric literals are typed as the compute dtype (so a float32 kernel
computes in float32, as NumPy does with Python scalars), and in float32 kernels exp, log, tanh
and erf become the vectorizable approximations of fastmath.py unless DUALGRAPH_EXACT_MATH=1.

Two layouts: when every tensor input has the output's shape (or one element), the kernel runs
over the flattened arrays; otherwise it loops over the output's dims and reads broadcast inputs
at index 0 of their size-1 dims. Dims stay symbolic, so one kernel serves every batch size.
Each kernel exists twice, serial and `parallel=True` (prange over the outer loop); the wrapper
takes the parallel one from GRAIN elements up, when Numba has more than one thread (PyTorch's
grain size idea: a thread pool costs microseconds a call). Sources are files in the kernel
cache (kernel_cache.py); a kernel Numba cannot compile falls back to the body's NumPy code.
"""

from __future__ import annotations

import ast
import math
import os
import warnings
from typing import Any, Callable

import numpy as np

from ..ir.graph import Block, Value, operand_type
from ..ir.types import DType, TensorType

# Elements from which a kernel runs on all of Numba's threads. Measured on 2 cores (OpenMP
# layer, a 4-array float32 update): parallel loses 3x at 2**17 and 2x at 2**18 elements (waking
# the pool costs more than the loop) and wins 2.6x at 2**20; the crossover is between.
GRAIN = 1 << 19

_CTORS = {"float32": "np.float32", "float64": "np.float64", "int64": "np.int64",
          "int32": "np.int32", "int16": "np.int16", "int8": "np.int8", "uint8": "np.uint8",
          "bool": "np.bool_"}
_BUILTINS = {"max", "min", "abs", "pow", "np", "True", "False", "None"}


class Unfusable(Exception):
    """The body cannot become one kernel here; the message says why (`f.explain()` shows it)."""


def exact_math() -> bool:
    """DUALGRAPH_EXACT_MATH=1: generated kernels call libm, not the float32 approximations."""
    return os.environ.get("DUALGRAPH_EXACT_MATH", "") not in ("", "0")


def _namespace() -> set:
    from . import scalar_math
    return set(scalar_math.__all__)


def _fast_names() -> dict:
    """{template function name: name of its float32 approximation} (empty under exact math)."""
    if exact_math():
        return {}
    from . import scalar_math
    return {name[len("fast_"):]: name for name in scalar_math.__all__ if name.startswith("fast_")}


class _Literals(ast.NodeTransformer):
    """Type numeric literals as the compute dtype; route calls to fast float32 functions; refuse
    names the kernel namespace does not have."""

    def __init__(self, ctor: str | None, fast: dict, allowed: set) -> None:
        self.ctor, self.fast, self.allowed = ctor, fast, allowed

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if self.ctor and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return ast.Call(ast.parse(self.ctor, mode="eval").body, [node], [])
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.fast:
            node.func = ast.Name(self.fast[node.func.id], ast.Load())
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in self.allowed:
            raise Unfusable(f"the template uses {node.id!r}, which kernels do not have")
        return node


def _ctor(dtype: DType) -> str:
    try:
        return _CTORS[dtype.name]
    except KeyError:
        raise Unfusable(f"Numba kernels have no {dtype.name} arithmetic") from None


def _literal(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "np.nan" if math.isnan(v) else ("np.inf" if v > 0 else "(-np.inf)")
    if isinstance(v, (bool, int, float)) or v is None:
        return repr(v)
    if isinstance(v, str):
        return repr(v)
    raise Unfusable(f"attribute value {v!r} has no place in a kernel")


def _expression(node: Any, names: dict, fast: dict, allowed: set) -> str:
    """One node's result as a typed scalar expression over the names of its operands."""
    op = node.op
    _, compute = op.dtype_rule([operand_type(x) for x in node.inputs], node.attrs)
    template = op.template
    if callable(template):
        template = template(node.attrs, compute)
    if not template:
        raise Unfusable(f"{op.name} has no scalar template")
    operands = []
    for i, x in enumerate(node.inputs):
        if isinstance(x, Value):
            ref = names[x]
            dtype = x.type.dtype if isinstance(x.type, TensorType) else None
            if i not in op.index_inputs and compute is not None and dtype is not compute:
                ref = f"{_ctor(compute)}({ref})"
            operands.append(ref)
        else:
            operands.append(_literal(x))
    attrs = {k: _literal(v) for k, v in node.attrs.items()}
    text = template.format(*operands, **attrs)
    numeric = compute is not None and compute.name != "bool"
    tree = _Literals(_ctor(compute) if numeric else None,
                     fast if compute is not None and compute.name == "float32" else {},
                     allowed | set(names.values())).visit(ast.parse(text, mode="eval"))
    return f"{_ctor(node.outputs[0].type.dtype)}({ast.unparse(tree)})"


def kernel_source(body: Block, title: str) -> tuple[str, str]:
    """(module source, layout) of the kernel for `body`; raises Unfusable with the reason."""
    outs = body.outputs
    if not outs or not all(isinstance(y, Value) and isinstance(y.type, TensorType) for y in outs):
        raise Unfusable("a fused body yields tensors only")
    shape = tuple(outs[0].type.shape)
    if any(tuple(y.type.shape) != shape for y in outs):
        raise Unfusable("the values it writes have different shapes")
    tensors = [v for v in body.inputs if isinstance(v.type, TensorType)]
    if not tensors:
        raise Unfusable("no tensor input")
    flat = all(tuple(v.type.shape) == shape or all(d == 1 for d in v.type.shape)
               for v in tensors)
    rank = 1 if flat else len(shape)
    loops = [f"j{d}" for d in range(rank)]

    def index(t: TensorType) -> str:
        if flat:
            return "[j0]" if tuple(t.shape) == shape and shape else "[0]"
        own = list(t.shape)
        offset = rank - len(own)
        parts = [("0" if d == 1 and shape[offset + k] != 1 else loops[offset + k])
                 for k, d in enumerate(own)]
        return "[" + ", ".join(parts) + "]" if parts else "[()]"

    names: dict = {}
    params, loads, prelude = [], [], []
    for i, v in enumerate(body.inputs):
        names[v] = f"x{i}"
        if isinstance(v.type, TensorType):
            params.append(f"in{i}")
            loads.append(f"x{i} = in{i}{index(v.type)}")
        else:
            params.append(f"s{i}")
            prelude.append(f"x{i} = s{i}")
    fast, allowed = _fast_names(), _namespace() | _BUILTINS
    compute = []
    for k, node in enumerate(body.nodes):
        if not (node.op.template and len(node.outputs) == 1 and not node.blocks):
            raise Unfusable(f"{node.op.name} is not an elementwise op with a template")
        expr = _expression(node, names, fast, allowed)
        names[node.outputs[0]] = f"t{k}"
        compute.append(f"t{k} = {expr}")
    where = "[j0]" if flat else "[" + ", ".join(loops) + "]"
    stores = [f"out{m}{where} = {names[y]}" for m, y in enumerate(outs)]
    args = ", ".join(params + [f"out{m}" for m in range(len(outs))])

    def nest(outer: str) -> list:
        lines = [f"    {p}" for p in prelude] + ["    shape = out0.shape"]
        indent = "    "
        for d, j in enumerate(loops):
            lines.append(f"{indent}for {j} in {outer if d == 0 else 'range'}(shape[{d}]):")
            indent += "    "
        return lines + [indent + s for s in loads + compute + stores]

    return module_source(f"fused kernel: {title}", args, nest), "flat" if flat else "nd"


def module_source(title: str, args: str, nest: Callable, fastmath: str = "") -> str:
    """A kernel module's source: a `serial` and a `parallel=True` variant of one function whose
    body `nest(outer)` gives (indented under its def), `outer` being `range` or `prange` for
    the outermost loop; `fastmath` is extra njit options (`, fastmath={...}`)."""
    lines = [f"# dualgraph {title}", "import numpy as np", "from numba import njit, prange",
             "from dualgraph.runtime.scalar_math import *  # noqa: F401,F403", ""]
    for variant, outer in (("serial", "range"), ("parallel", "prange")):
        opts = 'cache=True, error_model="numpy", nogil=True' + fastmath
        if variant == "parallel":
            opts += ", parallel=True"
        lines += [f"@njit({opts})", f"def {variant}({args}):"] + nest(outer) + [""]
    return "\n".join(lines) + "\n"


def fused_kernel(body: Block, title: str, fallback: Callable) -> Callable:
    """A callable `(*inputs) -> tuple of outputs` computing `body` in one Numba kernel, or
    `fallback` itself when the body cannot become one (Unfusable) or Numba is not installed."""
    if body.nodes and body.nodes[0].op.rows is not None:  # a row op and its consumers
        from .row_kernels import FusedRowKernel, fused_row_source
        try:
            source, layout = fused_row_source(body, title)
            from .kernel_cache import load_module
            module = load_module(source)
        except (Unfusable, ImportError):
            return fallback
        return FusedRowKernel(module, layout, body, title, fallback)
    try:
        source, layout = kernel_source(body, title)
    except Unfusable:
        return fallback
    try:
        from .kernel_cache import load_module
        module = load_module(source)
    except ImportError:  # no Numba: the body's NumPy code
        return fallback
    return _Wrapper(module, layout, body, title, fallback)


class _Wrapper:
    """Allocates the outputs, picks the serial or parallel kernel, and falls back to the body's
    NumPy code (with a warning) if Numba cannot compile the kernel for these inputs."""

    def __init__(self, module: Any, layout: str, body: Block, title: str,
                 fallback: Callable) -> None:
        import numba
        self.serial, self.parallel = module.serial, module.parallel
        self.flat = layout == "flat"
        self.title, self.fallback = title, fallback
        self.threads = numba.get_num_threads
        self.tensor = [isinstance(v.type, TensorType) for v in body.inputs]
        shape = tuple(body.outputs[0].type.shape)
        self.full = next((i for i, v in enumerate(body.inputs)
                          if isinstance(v.type, TensorType) and tuple(v.type.shape) == shape),
                         None)
        self.dtypes = [y.type.dtype.np for y in body.outputs]
        self.broken = False

    def __call__(self, *args: Any) -> tuple:
        if self.broken:
            return self.fallback(*args)
        if self.full is not None:
            shape = args[self.full].shape
        else:
            shape = np.broadcast_shapes(*(a.shape for a, t in zip(args, self.tensor) if t))
        outs = [np.empty(shape, d) for d in self.dtypes]
        n = outs[0].size
        kernel = self.parallel if n >= GRAIN and self.threads() > 1 else self.serial
        if self.flat:
            call = [a.reshape(-1) if t else a for a, t in zip(args, self.tensor)]
            call += [o.reshape(-1) for o in outs]
        else:
            call = list(args) + outs
        if not launch(self, kernel, call):
            return self.fallback(*args)
        return tuple(outs)


def launch(owner: Any, kernel: Callable, call: list) -> bool:
    """Run a generated kernel; False where Numba cannot compile it for these arguments (its
    typing or lowering errors): `owner.broken` is then set, a RuntimeWarning says so once, and
    the caller runs NumPy code instead."""
    try:
        kernel(*call)
        return True
    except Exception as exc:
        from numba.core.errors import NumbaError
        if not isinstance(exc, NumbaError):
            raise
        owner.broken = True
        warnings.warn(f"dualgraph: kernel {owner.title} did not compile ({type(exc).__name__}); "
                      f"running its ops through NumPy instead", RuntimeWarning, stacklevel=3)
        return False


# ------------------------------------------------------------------- eager's generated kernels

_EAGER: dict = {}


def eager_kernel(op_name: str, fallback: Callable) -> Callable:
    """A CPU eager kernel for an elementwise op that runs its scalar template as one generated
    loop (compiled once per dtype and attributes, cached on disk), so a composite op such as
    gelu makes one pass over memory instead of a NumPy call per step. Inputs of different
    shapes, dtypes the generator lacks, and attributes without a template use `fallback`."""
    def kernel(*arrays: Any, **attrs: Any) -> Any:
        first = arrays[0]
        if not all(isinstance(a, np.ndarray) and a.shape == first.shape for a in arrays):
            return fallback(*arrays, **attrs)
        key = (op_name, tuple(sorted(attrs.items())), tuple(a.dtype for a in arrays))
        run = _EAGER.get(key)
        if run is None:
            run = _EAGER[key] = _eager_body_kernel(op_name, arrays, attrs)
        if run is False:
            return fallback(*arrays, **attrs)
        (out,) = run(*(a.reshape(-1) for a in arrays))
        return out.reshape(first.shape)
    kernel.__name__ = op_name
    return kernel


def _eager_body_kernel(op_name: str, arrays: tuple, attrs: dict) -> Any:
    """The wrapper of a one-node body over flat arrays of a symbolic length, or False."""
    from ..ir.graph import Node
    from ..ir.registry import get
    from ..ir.types import CPU, dtype_from_numpy
    op = get(op_name)
    try:
        full = op.full_attrs(attrs)
        body = Block("body", [Value(TensorType(dtype_from_numpy(a.dtype), ("n",), CPU))
                              for a in arrays])
        node = Node(op, list(body.inputs), full, op.meta_all([v.type for v in body.inputs], full))
        body.nodes, body.outputs = [node], [node.outputs[0]]
        kernel_source(body, op_name)
    except Exception:  # noqa: BLE001 - anything the generator or meta refuses: NumPy's kernel
        return False
    run = fused_kernel(body, f"eager {op_name}", _unreachable)
    return run if isinstance(run, _Wrapper) else False


def _unreachable(*args: Any) -> Any:
    raise RuntimeError("a generated eager kernel fell back: the caller runs NumPy's kernel")
