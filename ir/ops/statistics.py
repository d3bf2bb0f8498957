"""Reductions beyond sum/mean: prod, amax/amin (and the full `max()`/`min()`), argmax/argmin,
median, mode, var/std (and var_mean/std_mean) and dist (scans and softmax: `scans.py`).

VJP rules use tensor methods and `ctx.bind` only. Where PyTorch's gradient is defined at points
a naive formula is not (zeros in `prod`/`cumprod`, ties in `amax`, a zero norm), the rules stay
branch-free — masks instead of data-dependent `if`s — so they also run under the tracer.
"""

from __future__ import annotations

import collections
import functools
import math

import numpy as np

from .. import meta
from ..registry import REDUCTION, OpDef, OpError, Sample, register
from ..types import bool_, float64, int64

# PyTorch's names for dtypes in messages ("Got Int").
_TORCH_NAME = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char",
               "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}


# ----------------------------------------------------------------------------------- shared rules

def _is_all(dim) -> bool:
    return dim is None or (isinstance(dim, (tuple, list)) and not dim)


def _dims(op_name: str, dim, ndim: int) -> tuple:
    """Reduced dims, sorted; `None` or `()` means all of them, as in `amax(x)`."""
    return tuple(range(ndim)) if _is_all(dim) else meta.reduce_dims(op_name, dim, ndim)


def _reduced(shape: tuple, dims: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if i in dims else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in dims)


def _check_nonempty(op_name: str, shape: tuple, dim, full_error: type = RuntimeError,
                    hint: str = " Specify the reduction dim with the 'dim' argument.") -> None:
    """Reductions without an identity (max, argmax, median ...) refuse empty dims, as PyTorch."""
    if _is_all(dim):
        if any(d == 0 for d in shape):
            raise full_error(f"{op_name}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0.{hint}")
        return
    for d in _dims(op_name, dim, len(shape)):
        if shape and shape[d] == 0:
            raise IndexError(f"{op_name}(): Expected reduction dim {d} to have non-zero size.")


def _reduction_shape(op_name: str, nonempty: bool = False):
    def rule(operands, attrs):
        shape = tuple(operands[0].shape)
        if nonempty:
            _check_nonempty(op_name, shape, attrs.get("dim"))
        return _reduced(shape, _dims(op_name, attrs.get("dim"), len(shape)),
                        attrs.get("keepdim", False))
    return rule


def _float_only(message: str, outputs: int = 1):
    def rule(operands, attrs):
        d = operands[0].dtype
        if not d.is_floating_point:
            raise OpError(message)
        return ((d,) * outputs if outputs > 1 else d), d
    return rule


def _keep(t, shape: tuple, dims: tuple, keepdim: bool):
    """A reduced tensor reshaped with its reduced dims kept (size 1), so it broadcasts back."""
    if keepdim or not shape:
        return t
    return t.reshape(_reduced(shape, dims, True))


def _attr_dims(ctx) -> tuple:
    shape = ctx.shapes[0]
    return shape, _dims(ctx.op_name, ctx.attrs.get("dim"), len(shape)), ctx.attrs.get(
        "keepdim", False)


def _spread_vjp(ctx, g):
    """The gradient of a selected value, split evenly among the elements equal to it (amax)."""
    shape, dims, keep = _attr_dims(ctx)
    mask = ctx.inputs[0] == _keep(ctx.output, shape, dims, keep)
    return ((_keep(g, shape, dims, keep) * mask) / mask.sum(dims, keepdim=True),)


def _index_vjp(ctx, grads):
    """(values, indices) along a dim: each value's gradient goes to the element it came from."""
    g, index = grads[0], ctx.output[1]
    if not ctx.shapes[0]:
        return (g,)
    dim = ctx.attrs["dim"]
    if not ctx.attrs["keepdim"]:
        g, index = g.unsqueeze(dim), index.unsqueeze(dim)
    return (ctx.bind("scatter_add", (g.new_zeros(ctx.shapes[0]), index, g), {"dim": dim}),)


def _np_moved(x, dims: tuple):
    """`x` with the reduced dims moved last and flattened into one: (..., n)."""
    x = np.asarray(x)
    rest = [i for i in range(x.ndim) if i not in dims]
    moved = np.transpose(x, rest + list(dims))
    return moved.reshape(moved.shape[:len(rest)] + (-1,))


def _np_finish(out, x_shape: tuple, dims: tuple, keepdim: bool):
    out = np.asarray(out)
    return out.reshape(_reduced(x_shape, dims, True)) if keepdim else out


def _distinct(rng, *shape):
    """Values without ties (selections have a gradient there), away from zero."""
    n = math.prod(shape)
    return (rng.permutation(n).reshape(shape) - n / 2 + 0.25) / 4.0


# ------------------------------------------------------------------------------------------ prod

def _prod_vjp(ctx, g):
    # d/dx_i of prod(x) is the product of the others: P'/x_i when no element is zero; the
    # product of the nonzeros P' at the only zero; zero everywhere with two zeros or more.
    x = ctx.inputs[0]
    shape, dims, keep = _attr_dims(ctx)
    zero = x == 0
    safe = x + zero
    others = ctx.bind("prod", (safe,), {"dim": ctx.attrs["dim"], "keepdim": True})
    zeros = zero.sum(dims, keepdim=True)
    return (_keep(g, shape, dims, keep) * others * ((zeros == 0) / safe + zero * (zeros == 1)),)


def _int_dim(op_name: str, dim) -> None:
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool)):
        raise TypeError(f"{op_name}(): argument 'dim' must be int, not {type(dim).__name__}")


def _prod_shape(operands, attrs):
    _int_dim("prod", attrs["dim"])
    return _reduction_shape("prod")(operands, attrs)


def _prod_ref(x, dim=None, keepdim=False, dtype=None):
    x = np.asarray(x)
    x = x.astype(dtype.np if dtype is not None else (x.dtype if x.dtype.kind == "f" else np.int64))
    dims = _dims("prod", dim, x.ndim)
    rows = np.moveaxis(_np_moved(x, dims), -1, 0)
    return _np_finish(functools.reduce(np.multiply, rows, np.ones(rows.shape[1:], x.dtype)),
                      x.shape, dims, keepdim)


def _prod_samples(rng):
    x = rng.uniform(0.5, 1.5, size=(2, 3, 2)) * rng.choice([-1.0, 1.0], size=(2, 3, 2))
    zeros = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.5], [1.0, -2.0, 0.5]])
    return [Sample((x,), {}), Sample((x,), {"dim": 1}), Sample((x,), {"dim": -1, "keepdim": True}),
            Sample((zeros,), {"dim": 1}, note="one, two and no zeros"),
            Sample((zeros,), {"dim": 0}, note="zeros"), Sample((zeros[0],), {}, note="one zero"),
            Sample((zeros,), {}, note="several zeros"), Sample((np.array(1.5),), {}),
            Sample((x,), {"dim": 0, "dtype": float64}),
            Sample((np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32),), {"dim": 1}, grad=False)]


register(OpDef(
    name="prod", inputs=("input",), attrs={"dim": None, "keepdim": False, "dtype": None},
    kind=REDUCTION, dtype_rule=meta.reduction_dtype("prod", needs_float=False),
    shape_rule=_prod_shape, vjp=_prod_vjp, save_inputs=(0,),
    grad_name=lambda ins, attrs: f"ProdBackward{0 if attrs.get('dim') is None else 1}",
    samples=_prod_samples, ref=_prod_ref))


# ----------------------------------------------------------------- amax, amin, max(), min()

def _select_all_ref(pick_last: bool):
    def ref(x, dim=None, keepdim=False):
        x = np.asarray(x)
        dims = _dims("amax", dim, x.ndim)
        s = np.sort(_np_moved(x, dims), axis=-1)
        return _np_finish(s[..., -1] if pick_last else s[..., 0], x.shape, dims, keepdim)
    return ref


def _amax_samples(rng):
    x = _distinct(rng, 3, 4, 2)
    ties = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    return [Sample((x,), {}), Sample((x,), {"dim": 1}), Sample((x,), {"dim": (0, 2)}),
            Sample((x,), {"dim": -1, "keepdim": True}), Sample((np.array(0.5),), {}),
            Sample((ties,), {"dim": 1}, grad=False, note="ties"),
            Sample((np.array([[3, -1], [7, 2]], dtype=np.int64),), {"dim": 0}, grad=False)]


def _full_samples(rng):
    return [Sample((_distinct(rng, 3, 4),), {}), Sample((np.array(-0.5),), {}),
            Sample((np.array([1.0, 3.0, 3.0, 2.0]),), {}, grad=False, note="ties")]


for _name, _last in (("amax", True), ("amin", False)):
    register(OpDef(
        name=_name, inputs=("input",), attrs={"dim": (), "keepdim": False}, kind=REDUCTION,
        dtype_rule=meta.keep_first, shape_rule=_reduction_shape(_name, nonempty=True),
        vjp=_spread_vjp, save_inputs=(0,), save_output=True, samples=_amax_samples,
        ref=_select_all_ref(_last),
        doc=f"{_name} over `dim` (all dims when empty); ties share the gradient evenly."))

for _name, _last in (("max", True), ("min", False)):
    register(OpDef(
        name=f"{_name}_all", inputs=("input",), kind=REDUCTION, dtype_rule=meta.keep_first,
        shape_rule=_reduction_shape(_name, nonempty=True), vjp=_spread_vjp, save_inputs=(0,),
        save_output=True, grad_name=f"{_name.capitalize()}Backward1", samples=_full_samples,
        ref=_select_all_ref(_last), doc=f"`x.{_name}()`: the {_name} of every element."))


# --------------------------------------------------------------------------- argmax, argmin

def _arg_dtype(op_name: str):
    def rule(operands, attrs):
        d = operands[0].dtype
        if d is bool_:
            raise OpError(f"{op_name}(): does not support bool input")
        return int64, d
    return rule


def _arg_shape(op_name: str):
    def rule(operands, attrs):
        shape, dim, keep = tuple(operands[0].shape), attrs["dim"], attrs["keepdim"]
        _int_dim(op_name, dim)
        _check_nonempty(op_name, shape, dim, IndexError, hint="")
        if dim is None:
            return (1,) * len(shape) if keep else ()
        return _reduced(shape, _dims(op_name, dim, len(shape)), keep)
    return rule


def _arg_ref(first_of):
    def ref(x, dim=None, keepdim=False):
        x = np.asarray(x)
        if dim is None:
            flat = x.reshape(-1)
            idx = np.flatnonzero(flat == first_of(flat))[0]
            return np.full((1,) * x.ndim if keepdim else (), idx)
        if x.ndim == 0:
            return np.array(0)
        out = np.apply_along_axis(lambda r: np.flatnonzero(r == first_of(r))[0], dim, x)
        return np.expand_dims(out, dim) if keepdim else out
    return ref


def _arg_samples(rng):
    x = _distinct(rng, 3, 4, 2)
    ties = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    return [Sample((x,), {}), Sample((x,), {"dim": 1}), Sample((x,), {"dim": -1, "keepdim": True}),
            Sample((x,), {"keepdim": True}), Sample((ties,), {"dim": 1}, note="first of ties"),
            Sample((np.array(2.0),), {}), Sample((np.array([[3, -1], [7, 2]]),), {"dim": 0})]


for _name, _pick in (("argmax", np.max), ("argmin", np.min)):
    register(OpDef(
        name=_name, inputs=("input",), attrs={"dim": None, "keepdim": False}, kind=REDUCTION,
        dtype_rule=_arg_dtype(_name), shape_rule=_arg_shape(_name), samples=_arg_samples,
        ref=_arg_ref(_pick), doc="Index of the first extreme element (of the flattened input "
                                 "when `dim` is None)."))


# ---------------------------------------------------------------------------- median, mode

def _selection_dtype(op_name: str, allow_bool: bool):
    def rule(operands, attrs):
        d = operands[0].dtype
        if d is bool_ and not allow_bool:
            raise OpError(f"{op_name}(): not implemented for 'Bool'")
        return ((d, int64) if "dim" in attrs else d), d
    return rule


def _selection_shape(op_name: str):
    def rule(operands, attrs):
        shape = tuple(operands[0].shape)
        dim = meta.normalize_dim(op_name, attrs["dim"], len(shape))
        _check_nonempty(op_name, shape, dim)
        out = _reduced(shape, (dim,) if shape else (), attrs["keepdim"])
        return out, out
    return rule


def _along(x, dim: int, keepdim: bool, pick):
    """Apply `pick(row) -> (value, index)` to every 1-D slice along `dim` (a reference loop)."""
    x = np.asarray(x)
    if x.ndim == 0:
        return pick(x.reshape(1))
    moved = np.moveaxis(x, dim, -1)
    values, indices = np.empty(moved.shape[:-1], x.dtype), np.empty(moved.shape[:-1], np.int64)
    for pos in np.ndindex(moved.shape[:-1]):
        values[pos], indices[pos] = pick(moved[pos])
    if keepdim:
        values, indices = np.expand_dims(values, dim), np.expand_dims(indices, dim)
    return values, indices


def _median_of(row):
    """Lower median; its index is the occurrence a stable sort puts at the median position."""
    if row.dtype.kind == "f" and np.isnan(row).any():
        return np.nan, np.flatnonzero(np.isnan(row))[0]
    k = (row.size - 1) // 2
    v = np.sort(row)[k]
    nth = k - np.count_nonzero(row < v)  # how many equal values a stable sort puts before it
    return v, np.flatnonzero(row == v)[nth]


def _mode_of(row):
    """Most frequent value (the smallest among equally frequent), at its last occurrence."""
    counts = collections.Counter(row.tolist())
    top = max(counts.values())
    v = min(k for k, c in counts.items() if c == top)
    return v, np.flatnonzero(row == v)[-1]


def _median_all_ref(x):
    x = np.asarray(x)
    return np.array(np.nan) if x.size == 0 else np.asarray(_median_of(x.reshape(-1))[0])


def _median_samples(rng):
    x = _distinct(rng, 3, 5)
    ties = np.array([[3.0, 3.0, 1.0, 1.0], [2.0, 1.0, 2.0, 2.0]])
    return [Sample((x,), {"dim": 1}), Sample((x,), {"dim": 0, "keepdim": True}),
            Sample((x,), {"dim": -1}), Sample((ties,), {"dim": 1}, grad=False, note="ties"),
            Sample((np.array(1.5),), {"dim": 0}),
            Sample((np.array([[4, 1, 3], [2, 2, 5]], dtype=np.int32),), {"dim": 1}, grad=False)]


def _mode_samples(rng):
    ints = rng.integers(0, 3, size=(3, 6)).astype(np.float64)
    return [Sample((ints,), {}, grad=False), Sample((ints,), {"dim": 0, "keepdim": True},
                                                    grad=False),
            Sample((_distinct(rng, 2, 4),), {"dim": 1}, note="distinct: the smallest"),
            Sample((np.array(2.5),), {"dim": 0}),
            Sample((np.array([[True, False, True], [False, False, True]]),), {"dim": 1},
                   grad=False)]


register(OpDef(
    name="median", inputs=("input",), attrs={"dim": -1, "keepdim": False}, kind=REDUCTION,
    num_outputs=2, dtype_rule=_selection_dtype("median", False),
    shape_rule=_selection_shape("median"), vjp=_index_vjp, save_output=(1,),
    grad_name="MedianBackward1", samples=_median_samples,
    ref=lambda x, dim=-1, keepdim=False: _along(x, dim, keepdim, _median_of),
    doc="(lower median, its index) along `dim`: torch.median(x, dim)."))

register(OpDef(
    name="median_all", inputs=("input",), kind=REDUCTION,
    dtype_rule=_selection_dtype("median", False), shape_rule=lambda ops, attrs: (),
    vjp=_spread_vjp, save_inputs=(0,), save_output=True, grad_name="MedianBackward0",
    samples=lambda rng: [Sample((_distinct(rng, 3, 4),)), Sample((_distinct(rng, 5),)),
                         Sample((np.array([1.0, 2.0, 2.0, 3.0]),), grad=False, note="ties")],
    ref=_median_all_ref, doc="`x.median()`: the lower median of every element."))

register(OpDef(
    name="mode", inputs=("input",), attrs={"dim": -1, "keepdim": False}, kind=REDUCTION,
    num_outputs=2, dtype_rule=_selection_dtype("mode", True), shape_rule=_selection_shape("mode"),
    vjp=_index_vjp, save_output=(1,), samples=_mode_samples,
    ref=lambda x, dim=-1, keepdim=False: _along(x, dim, keepdim, _mode_of),
    doc="(most frequent value, its last index) along `dim`: torch.mode(x, dim)."))


# ------------------------------------------------------------------------------ var and std

def _var_parts(ctx):
    """(shape, dims, keepdim, x - mean, divisor N - correction, N) of a var/std call. N is a
    number, or — when a reduced size is symbolic (graph autodiff of a dynamic batch) — a 0-d
    tensor of the size computed when the graph runs, and so is the divisor."""
    x = ctx.inputs[0]
    shape, dims, keep = _attr_dims(ctx)
    n = math.prod(shape[d] for d in dims)
    if not isinstance(n, int):
        n = x.new_ones(()) * n  # the size as a value (x's dtype)
        div = (n - ctx.attrs["correction"]).clamp(min=0)
    else:
        div = max(0, n - ctx.attrs["correction"])
    return shape, dims, keep, x - x.mean(dims, keepdim=True), div, n


def _recip(k, div):
    """k / div, inf where div is 0 (div a number or a 0-d tensor)."""
    if isinstance(div, (int, float)):
        return k / div if div else math.inf
    return k / div  # a tensor divides by 0 to inf


def _var_grad(g, centered, div):
    return g * centered * _recip(2, div)


def _std_grad(g, centered, div, std):
    # Where std is 0 every centered value is 0 too: PyTorch's gradient there is 0, not nan.
    return g * centered * _recip(1, div) / (std + (std == 0))


def _var_vjp(ctx, g):
    shape, dims, keep, centered, div, _ = _var_parts(ctx)
    g = _keep(g, shape, dims, keep)
    if ctx.op_name == "var":
        return (_var_grad(g, centered, div),)
    return (_std_grad(g, centered, div, _keep(ctx.output, shape, dims, keep)),)


def _var_mean_vjp(ctx, grads):
    shape, dims, keep, centered, div, n = _var_parts(ctx)
    g, g_mean = (_keep(t, shape, dims, keep) for t in grads)
    if ctx.op_name == "std_mean":
        grad = _std_grad(g, centered, div, _keep(ctx.output[0], shape, dims, keep))
    else:
        grad = _var_grad(g, centered, div)
    return (grad + g_mean / (max(n, 1) if isinstance(n, int) else n.clamp(min=1)),)


def _var_ref(x, dim=None, correction=1, keepdim=False):
    x = np.asarray(x)
    dims = _dims("var", dim, x.ndim)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.var(_np_moved(x, dims), axis=-1, ddof=correction)
    return _np_finish(out, x.shape, dims, keepdim)


def _mean_ref(x, dim=None, keepdim=False):
    x = np.asarray(x)
    dims = _dims("mean", dim, x.ndim)
    return _np_finish(np.mean(_np_moved(x, dims), axis=-1), x.shape, dims, keepdim)


def _with_mean(ref):
    def both(x, dim=None, correction=1, keepdim=False):
        return ref(x, dim, correction, keepdim), _mean_ref(x, dim, keepdim)
    return both


def _var_samples(rng):
    x = rng.uniform(-2.0, 2.0, size=(3, 4, 2))
    return [Sample((x,), {}), Sample((x,), {"dim": 1}), Sample((x,), {"dim": (0, 2)}),
            Sample((x,), {"dim": -1, "keepdim": True, "correction": 0}),
            Sample((x,), {"dim": 1, "correction": 2}), Sample((x,), {"correction": 1.5})]


for _name, _ref in (("var", _var_ref), ("std", lambda *a, **kw: np.sqrt(_var_ref(*a, **kw)))):
    register(OpDef(
        name=_name, inputs=("input",), attrs={"dim": None, "correction": 1, "keepdim": False},
        kind=REDUCTION, dtype_rule=_float_only(
            f"{_name}(): std and var only support floating point and complex dtypes"),
        shape_rule=_reduction_shape(_name), vjp=_var_vjp, save_inputs=(0,),
        save_output=_name == "std", samples=_var_samples, ref=_ref))
    register(OpDef(
        name=f"{_name}_mean", inputs=("input",),
        attrs={"dim": None, "correction": 1, "keepdim": False}, kind=REDUCTION, num_outputs=2,
        dtype_rule=_float_only(f"{_name}_mean(): {_name}_mean only support floating point and "
                               "complex dtypes", outputs=2),
        shape_rule=lambda ops, attrs, rule=_reduction_shape(f"{_name}_mean"): (
            rule(ops, attrs),) * 2, vjp=_var_mean_vjp,
        save_inputs=(0,), save_output=True, samples=_var_samples, ref=_with_mean(_ref)))


# ------------------------------------------------------------------------------------ dist

def _norm_grad(x, norm, g, ord: float, dims: tuple):
    """d||x||_ord / dx times g (norm and g broadcast over x); 0 where PyTorch masks 0/0."""
    if ord == 0:
        return None
    if ord == 1:
        return g * x.sign()
    if ord == 2:
        return g * x / (norm + (norm == 0))
    if math.isinf(ord):
        mask = x.abs() == norm
        return g * x.sign() * mask / mask.sum(dims, keepdim=True)
    a = x.abs()
    return g * x.sign() * (a + (a == 0)) ** (ord - 1) / (norm + (norm == 0)) ** (ord - 1)


def _dist_dtype(operands, attrs):
    d = meta.result_type(operands)
    if not d.is_floating_point:
        raise OpError(f"dist(): input dtype should be either floating point or complex. Got "
                      f"{_TORCH_NAME[d.name]} instead.")
    return d, d


def _dist_shape(operands, attrs):
    meta.broadcast_rule("dist")(operands, attrs)  # the shapes must broadcast; the result is 0-d
    return ()


def _dist_vjp(ctx, g):
    a, b = ctx.inputs
    d = a - b
    grad = _norm_grad(d, ctx.output, g, ctx.attrs["p"], tuple(range(d.ndim)))
    return (None, None) if grad is None else (grad, -grad)


def _dist_samples(rng):
    a, b = rng.uniform(-2, 2, size=(3, 4)), rng.uniform(-2, 2, size=(4,))
    return [Sample((a, b), {}), Sample((a, b), {"p": 1.0}), Sample((a, b), {"p": math.inf}),
            Sample((a, a * 0.5), {"p": 3.0})]


register(OpDef(
    name="dist", inputs=("input", "other"), attrs={"p": 2.0}, kind=REDUCTION,
    dtype_rule=_dist_dtype, shape_rule=_dist_shape, vjp=_dist_vjp, save_inputs=(0, 1),
    save_output=True, samples=_dist_samples,
    ref=lambda a, b, p=2.0: np.linalg.norm(np.ravel(np.subtract(a, b)), ord=p)))
