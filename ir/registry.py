"""The op registry: every op is declared once, here, and every interpreter reads the same record.

An `OpDef` holds what an op *is* — its inputs and attributes, how its output type follows from its
input types (`dtype_rule`, `shape_rule`), its flags, a scalar template for fusion, its VJP rule
(written with dualgraph ops, so it serves eager autograd and graph autodiff alike), and sample
inputs with a NumPy reference for the conformance tests. Kernels live with the backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .types import Device, TensorType

ELEMENTWISE = "elementwise"
REDUCTION = "reduction"
VIEW = "view"
OPAQUE = "opaque"


class _AllInputs:
    """`save_inputs=ALL_INPUTS`: a variadic op's VJP reads every input, however many."""

    def __contains__(self, index: object) -> bool:
        return True

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "ALL_INPUTS"


ALL_INPUTS = _AllInputs()


class OpError(RuntimeError):
    """A call that an op's meta function rejects (wrong shapes, dtypes or devices).

    Subclasses RuntimeError, the kind PyTorch raises for the same mistakes.
    """


@dataclass
class Sample:
    """One sample call of an op: inputs (NumPy arrays or Python scalars) and attributes."""

    inputs: tuple
    attrs: dict = field(default_factory=dict)
    grad: bool = True  # include in the gradient check (False for points where it is not smooth)
    note: str = ""


@dataclass(frozen=True)
class Algebra:
    """The identities an op obeys, read by the simplification pass (passes/simplify.py) so that
    the pass itself names no op. Each rule is applied only where the result keeps the value's
    dtype and shape exactly.

    identity: {input position: e} with op(..., e at that position, ...) == the other input
        (`x * 1`, `x + 0`); a callable (attrs) -> that dict when attributes matter
        (`x / 1` only without a rounding mode).
    involution: op(op(x)) == x (`--x`).        idempotent: op(op(x)) == op(x) (`detach`).
    same_type_identity: the op returns its input when the output type equals the input type
        (`reshape`, `expand`, `to_dtype` to what it already is).
    reshape_like: the output is the input's elements in row-major order, reshaped; a chain of
        such ops collapses into one op that has `from_shape` ((shape) -> its attrs).
    permutation: (attrs, rank) -> the axes order the op applies; a chain of such ops collapses
        into one op that has `from_permutation` ((dims) -> its attrs), or vanishes.
    unit_reduction: over dims of size 1 the op returns its input (reshaped if not keepdim).
    rewrite: (node, emit) -> a replacement value or None, for strength reduction
        (`x ** 2` -> `x * x`); `emit(op_name, inputs, attrs)` adds a node before `node`.
    epilogue: (node, emit) -> a replacement value or None: the op as a core that stays a library
        call (a BLAS matmul) followed by elementwise ops (`addmm` -> `matmul`, then the bias
        `add`). The fusion pass (passes/fuse.py) uses it where an elementwise consumer can fuse
        with that tail, so bias, activation and residual run as one kernel over the product.
    """

    identity: Any = None
    involution: bool = False
    idempotent: bool = False
    same_type_identity: bool = False
    reshape_like: bool = False
    from_shape: Callable | None = None
    permutation: Callable | None = None
    from_permutation: Callable | None = None
    unit_reduction: bool = False
    rewrite: Callable | None = None
    epilogue: Callable | None = None


NO_ALGEBRA = Algebra()


@dataclass(frozen=True)
class RowStep:
    """One step of a row kernel (see `Rows`): `kind` "max" or "sum" reduces `expr` over the
    row's elements; "row" computes `expr` once per row. `store` keeps a reduction's element
    values in the output, where the output expression reads them as `kept`."""

    name: str
    kind: str
    expr: str
    store: bool = False


@dataclass(frozen=True)
class Rows:
    """How an op over one dim (`attrs[dim_attr]`, or the last dim where `dim_attr` is None) runs
    as a loop per row, read by the CPU kernel generator (runtime/row_kernels.py) so it names no
    op: the steps in order, over scalar expressions of the element `x`, the row length `n`,
    earlier steps' names and the op's attributes (`{eps}`), then `output` per element (or once
    per row, `per_row`, for a reduction such as logsumexp). Sums accumulate in float64."""

    steps: tuple
    output: str
    dim_attr: str | None = "dim"
    per_row: bool = False


@dataclass(eq=False)
class OpDef:
    """One op, declared once. See the module docstring; fields are read by every interpreter."""

    name: str
    inputs: tuple  # input names, for messages and the text IR
    dtype_rule: Callable  # (operand types, attrs) -> (result dtype, compute dtype)
    shape_rule: Callable  # (input types, attrs) -> output shape
    attrs: dict = field(default_factory=dict)  # attribute name -> default value
    kind: str = OPAQUE
    version: int = 1
    inplace_variant: bool = False  # a `name_` in-place form exists (written back by the runtime)
    random: bool = False
    may_alias: bool = False  # the kernel may return an input (or a view of it) as is, as
    # `contiguous` does for a C-ordered input: memory planning keeps that input alive (VIEW
    # ops always may)
    moves_device: bool = False  # the output lives on attrs["device"], not on the inputs' device
    num_outputs: int = 1  # >1: dtype_rule gives a tuple of dtypes, shape_rule a tuple of shapes
    index_inputs: tuple = ()  # inputs holding indices: never cast to the compute dtype
    control: bool = False  # a control-flow op (if, loop): its types come from its blocks
    region: bool = False  # computes what its one block computes, the block's inputs bound to
    # the node's inputs and its yields being the outputs (a fused kernel: passes/fuse.py)
    effect: bool = False  # has a side effect (`assert`): passes must keep it though unread
    graph_only: bool = False  # runs only in generated code (autodiff's residual lists)
    python_callback: bool = False  # calls Python code that lives in this process only (a
    # custom autograd.Function): such a graph runs, but is never saved to or loaded from a file
    type_rule: Callable | None = None  # (operand types, attrs) -> output types, for non-tensors
    template: Any = None  # elementwise scalar expression, e.g. "({0} * {1})", or
    # (attrs, compute dtype or None) -> one, or None where these attributes do not fuse
    rows: Rows | None = None  # a row-wise op's loop (softmax): see `Rows`
    vjp: Callable | None = None  # (ctx, grad) -> tuple of input grads (None where no grad)
    save_inputs: tuple = ()  # indices of inputs the VJP reads
    save_output: Any = False  # whether the VJP reads the output; for an op of several outputs
    # a tuple of the output indices it reads (`(1,)`: the indices of `max(dim)`), True for all
    grad_name: Any = None  # node name as PyTorch prints it, or fn(inputs, attrs) -> name
    samples: Callable | None = None  # (rng) -> list[Sample]
    algebra: Algebra = NO_ALGEBRA  # identities for the simplification pass
    ref: Callable | None = None  # NumPy reference: (*inputs, **attrs) -> array
    doc: str = ""
    eager: Any = None  # filled by the eager runtime: the precomputed per-op entries
    eager_inplace: Any = None

    def __post_init__(self) -> None:
        if self.grad_name is None:
            self.grad_name = "".join(p.capitalize() for p in self.name.split("_")) + "Backward0"
        self.default_attrs = dict(self.attrs)  # shared, read-only: never mutate
        if self.kind != VIEW:  # a view shares its input's storage: it is never cast
            self.dtype_rule = computing_in_kernel_dtype(self.dtype_rule)

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    def node_name(self, inputs: Sequence, attrs: dict) -> str:
        g = self.grad_name
        return g if isinstance(g, str) else g(inputs, attrs)

    def full_attrs(self, attrs: dict) -> dict:
        """Attributes with defaults filled in, in declaration order; unknown names are refused."""
        for k in attrs:
            if k not in self.attrs:
                raise TypeError(f"{self.name}(): unexpected attribute {k!r}; "
                                f"expected one of {list(self.attrs) or 'none'}")
        return {k: attrs.get(k, v) for k, v in self.attrs.items()}

    def meta(self, operands: Sequence, attrs: dict) -> Any:
        """Output type from input types (TensorTypes or Python scalars) without computing: a
        TensorType, or a tuple of them for an op of several outputs."""
        types = self.meta_all(operands, attrs)
        return types[0] if self.num_outputs == 1 else tuple(types)

    def meta_all(self, operands: Sequence, attrs: dict) -> list:
        """The types of all outputs, as a list (one element for most ops)."""
        attrs = self.full_attrs(attrs)
        if self.type_rule is not None:
            return list(self.type_rule(operands, attrs))
        check_devices(self.name, operands)
        dtype, _ = self.dtype_rule(operands, attrs)
        shape = self.shape_rule(operands, attrs)
        device = next((x.device for x in operands if isinstance(x, TensorType)), None)
        if device is None or self.moves_device:
            device = attrs.get("device") or Device("cpu")
        if self.num_outputs == 1:
            return [TensorType(dtype, shape, device)]
        return [TensorType(d, s, device) for d, s in zip(dtype, shape)]

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def computing_in_kernel_dtype(rule: Callable) -> Callable:
    """Wrap a dtype rule so that a storage-only compute dtype (bfloat16) becomes the dtype its
    kernels compute in (float32): inputs are cast up, the result rounded back to the result
    dtype, for every op and every interpreter, as PyTorch's CPU kernels compute."""
    if getattr(rule, "widens_storage", False):
        return rule

    def rule_in_kernel_dtype(operands: Sequence, attrs: dict) -> Any:
        result, compute = rule(operands, attrs)
        wide = getattr(compute, "compute", compute)
        return (result, wide) if wide is not compute else (result, compute)

    rule_in_kernel_dtype.__name__ = getattr(rule, "__name__", "rule")
    rule_in_kernel_dtype.__wrapped__ = rule
    rule_in_kernel_dtype.widens_storage = True
    rule_in_kernel_dtype.ignores_attrs = getattr(rule, "ignores_attrs", False)
    return rule_in_kernel_dtype


def check_devices(op_name: str, operands: Sequence) -> Device | None:
    """Raise naming the op and both devices when tensor operands live on different devices."""
    first = None
    for x in operands:
        if isinstance(x, TensorType):
            if first is None:
                first = x.device
            elif x.device is not first:
                raise OpError(
                    f"{op_name}(): Expected all tensors to be on the same device, but found at "
                    f"least two devices, {first} and {x.device}!")
    return first


_REGISTRY: dict[str, OpDef] = {}
_LISTENERS: list[Callable[[OpDef], None]] = []


def register(op: OpDef) -> OpDef:
    """Add an op; interpreters that asked to hear of new ops (the eager runtime) are told."""
    if op.name in _REGISTRY:
        raise ValueError(f"op {op.name!r} is registered twice")
    _REGISTRY[op.name] = op
    for fn in _LISTENERS:
        fn(op)
    return op


def on_register(fn: Callable[[OpDef], None]) -> None:
    """Call `fn` for every op registered so far and every op registered later."""
    _LISTENERS.append(fn)
    for op in list(_REGISTRY.values()):
        fn(op)


def get(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None


def all_ops() -> list[OpDef]:
    return list(_REGISTRY.values())

