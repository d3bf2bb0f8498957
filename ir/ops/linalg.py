"""Linear algebra: diagonals and triangles, `trace`, `vdot`, `einsum`, `linalg_cross`, and the
LAPACK-backed ops (`linalg_inv`, `linalg_det`, `linalg_slogdet`, `linalg_svd`, `linalg_solve`,
`linalg_vector_norm`), named as ATen names them so that graph nodes read like PyTorch's.

`bmm`, `dot`, `mv` and `mm` are `matmul` (whose node names follow the operand ranks); `outer`,
`kron`, `matrix_power`, `logdet` and the matrix norms are compositions, as in PyTorch. The VJP
rules are written with tensor methods and `ctx.bind`, so they also run under the tracer.
`einsum` takes any number of operands; its equation attribute is explicit (`->`, no `...`) and may
repeat output letters (a diagonal embedding), which is what its own VJP needs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .. import meta
from ..registry import ALL_INPUTS, OPAQUE, VIEW, OpDef, OpError, Sample, register
from ..types import bool_, float16, float64, int64

# PyTorch's names for dtypes in messages ("Expected a floating point ... Got Long").
TORCH_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char",
               "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte",
               "bool": "Bool"}


def torch_name(dtype) -> str:
    return TORCH_NAMES[dtype.name]


def _is_int(d) -> bool:
    return isinstance(d, int)


# ------------------------------------------------------------------------------- shared rules

def float_rule(prefix: str, outputs: int = 1):
    """LAPACK ops: floating inputs of one dtype, no float16 (as PyTorch refuses Half)."""
    def rule(operands, attrs):
        ts = meta.tensors(operands)
        d = ts[0].dtype
        if not d.is_floating_point:
            raise OpError(f"{prefix}: Expected a floating point or complex tensor as input. "
                          f"Got {torch_name(d)}")
        if d is float16:
            raise OpError(f"{prefix}: Low precision dtypes not supported. Got Half")
        for t in ts[1:]:
            if t.dtype is not d:
                raise OpError(f"{prefix}: Expected A and B to have the same dtype, but found A of "
                              f"type {torch_name(d)} and B of type {torch_name(t.dtype)} instead")
        return (d if outputs == 1 else (d,) * outputs), d
    return rule


def same_dtype_rule(op_name: str, no_bool: bool = False):
    """Every tensor shares the first one's dtype ("expected scalar type Float but found Double")."""
    def rule(operands, attrs):
        ts = meta.tensors(operands)
        d = ts[0].dtype
        for t in ts[1:]:
            if t.dtype is not d:
                raise OpError(f"{op_name}(): expected scalar type {torch_name(d)} but found "
                              f"{torch_name(t.dtype)}")
        if no_bool and d is bool_:
            raise NotImplementedError(f'"{op_name}" not implemented for \'Bool\'')
        return d, d
    return rule


def square_shape(prefix: str, shape: tuple) -> None:
    """Batches of square matrices, with PyTorch's messages."""
    if len(shape) < 2:
        raise OpError(f"{prefix}: The input tensor A must have at least 2 dimensions.")
    m, n = shape[-2:]
    if _is_int(m) and _is_int(n) and m != n:
        raise OpError(f"{prefix}: A must be batches of square matrices, but they are {m} by {n} "
                      "matrices")


def _square_rule(prefix: str, keep: int = 0, outputs: int = 1):
    """Shape rule of an op on square matrices: the input's shape, less its last `keep` dims
    (the batch shape for determinants), for each of `outputs` outputs."""
    def rule(operands, attrs):
        shape = tuple(operands[0].shape)
        square_shape(prefix, shape)
        out = shape[:len(shape) - keep]
        return out if outputs == 1 else (out,) * outputs
    return rule


def _well_conditioned(rng, *shape):
    """Random matrices plus n*I: far from singular, so inverse-based gradients are stable."""
    n = shape[-1]
    return rng.uniform(-1.0, 1.0, size=shape) + n * np.eye(n)


def _det_ref(a):
    """Determinant by cofactor expansion along the first row (independent of LAPACK)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim > 2:
        return np.array([_det_ref(m) for m in a]).reshape(a.shape[:-2])
    n = a.shape[0]
    if n == 0:
        return np.float64(1.0)
    if n == 1:
        return a[0, 0]
    return sum((-1) ** j * a[0, j] * _det_ref(np.delete(a[1:], j, axis=1)) for j in range(n))


# ------------------------------------------------------------------------------ vdot and trace

def _vdot_shape(operands, attrs):
    a, b = (tuple(t.shape) for t in operands)
    if len(a) != 1 or len(b) != 1:
        raise OpError(f"vdot(): 1D tensors expected, but got {len(a)}D and {len(b)}D tensors")
    if _is_int(a[0]) and _is_int(b[0]) and a[0] != b[0]:
        raise OpError(f"vdot(): inconsistent tensor size, expected tensor [{a[0]}] and src "
                      f"[{b[0]}] to have the same number of elements, but got {a[0]} and {b[0]} "
                      "elements respectively")
    return ()


VDOT = register(OpDef(
    name="vdot", inputs=("input", "other"), dtype_rule=same_dtype_rule("vdot", no_bool=True),
    shape_rule=_vdot_shape, vjp=lambda ctx, g: (g * ctx.inputs[1], g * ctx.inputs[0]),
    save_inputs=(0, 1), samples=lambda rng: [Sample((rng.normal(size=4), rng.normal(size=4)))],
    ref=lambda a, b: sum(a[i] * b[i] for i in range(len(a))),
    doc="Dot product of two 1-D tensors (conjugating the first: the same for real tensors)."))


def _trace_dtype(operands, attrs):
    d = operands[0].dtype
    if d is bool_:
        raise NotImplementedError('"trace" not implemented for \'Bool\'')
    return (d, d) if d.is_floating_point else (int64, int64)


def _trace_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    if len(shape) != 2:
        raise OpError(f"trace(): expected a matrix, but got tensor with dim {len(shape)}")
    return ()


def _trace_vjp(ctx, g):
    m, n = ctx.shapes[0]
    attrs = {"shape": ctx.shapes[0], "offset": 0, "dim1": 0, "dim2": 1}
    return (ctx.bind("diagonal_backward", (g.expand(min(m, n)),), attrs),)


TRACE = register(OpDef(
    name="trace", inputs=("input",), dtype_rule=_trace_dtype, shape_rule=_trace_shape,
    vjp=_trace_vjp, samples=lambda rng: [Sample((rng.normal(size=(3, 3)),)),
                                         Sample((rng.normal(size=(3, 4)),), note="rectangular")],
    ref=lambda x: sum(x[i, i] for i in range(min(x.shape))),
    doc="Sum of the main diagonal of a 2-D tensor; integer inputs sum in int64."))


# ------------------------------------------------------------------------------------ diagonals

def _diag_dims(op_name: str, ndim: int, attrs: dict) -> tuple:
    d1 = meta.normalize_dim(op_name, attrs["dim1"], ndim)
    d2 = meta.normalize_dim(op_name, attrs["dim2"], ndim)
    if d1 == d2:
        raise OpError(f"{op_name}(): diagonal dimensions cannot be identical {attrs['dim1']}, "
                      f"{attrs['dim2']}")
    return d1, d2


def diag_length(s1, s2, offset: int):
    """How many elements the diagonal `offset` of an (s1, s2) matrix has."""
    if not (_is_int(s1) and _is_int(s2)):
        if offset == 0 and s1 == s2:
            return s1
        raise OpError("the diagonal of symbolic dimensions is only known for offset 0 of a "
                      "square matrix")
    return max(0, min(s1, s2 - offset) if offset >= 0 else min(s1 + offset, s2))


def _diagonal_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    d1, d2 = _diag_dims("diagonal", len(shape), attrs)
    rest = tuple(s for i, s in enumerate(shape) if i not in (d1, d2))
    return rest + (diag_length(shape[d1], shape[d2], attrs["offset"]),)


def _diag_attrs(ctx) -> dict:
    return {k: ctx.attrs[k] for k in ("offset", "dim1", "dim2")}


def _diagonal_ref(x, offset=0, dim1=0, dim2=1):
    """Gather x[..., i, i + offset] with dim1, dim2 moved last, by an explicit loop."""
    y = np.moveaxis(x, (dim1, dim2), (-2, -1))
    n = diag_length(y.shape[-2], y.shape[-1], offset)
    r0, c0 = max(-offset, 0), max(offset, 0)
    out = np.zeros(y.shape[:-2] + (n,), dtype=x.dtype)
    for i in range(n):
        out[..., i] = y[..., r0 + i, c0 + i]
    return out


def _diagonal_backward_ref(g, shape, offset=0, dim1=0, dim2=1):
    out = np.zeros(shape, dtype=g.dtype)
    y = np.moveaxis(out, (dim1, dim2), (-2, -1))
    r0, c0 = max(-offset, 0), max(offset, 0)
    for i in range(g.shape[-1]):
        y[..., r0 + i, c0 + i] = g[..., i]
    return out


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, size=shape)


DIAGONAL = register(OpDef(
    name="diagonal", inputs=("input",), attrs={"offset": 0, "dim1": 0, "dim2": 1}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=_diagonal_shape,
    vjp=lambda ctx, g: (ctx.bind("diagonal_backward", (g,),
                                 {"shape": ctx.shapes[0], **_diag_attrs(ctx)}),),
    samples=lambda rng: [Sample((_u(rng, 3, 4),)), Sample((_u(rng, 3, 4),), {"offset": 1}),
                         Sample((_u(rng, 2, 3, 4),), {"offset": -1, "dim1": 2, "dim2": 0})],
    ref=_diagonal_ref, doc="A view of the diagonal `offset` of the (dim1, dim2) planes, last."))

DIAGONAL_BACKWARD = register(OpDef(
    name="diagonal_backward", inputs=("grad",),
    attrs={"shape": None, "offset": 0, "dim1": 0, "dim2": 1},
    dtype_rule=meta.keep_first, shape_rule=lambda ops, attrs: tuple(attrs["shape"]),
    vjp=lambda ctx, g: (ctx.bind("diagonal", (g,), _diag_attrs(ctx)),),
    samples=lambda rng: [Sample((_u(rng, 3),), {"shape": (3, 4)}),
                         Sample((_u(rng, 3, 2),), {"shape": (2, 3, 4), "offset": 1, "dim1": 0,
                                                   "dim2": 2})],
    ref=_diagonal_backward_ref,
    doc="Zeros of `shape` with `grad` written on the diagonal: the VJP of `diagonal`."))


def _diag_embed_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    if not shape:
        raise OpError("diag_embed(): the input must have at least 1 dimension")
    d1, d2 = _diag_dims("diag_embed", len(shape) + 1, attrs)
    n = shape[-1] + abs(attrs["offset"]) if _is_int(shape[-1]) else shape[-1]
    out = list(shape[:-1])
    for d in sorted((d1, d2)):
        out.insert(d, n)
    return tuple(out)


def _diag_embed_ref(x, offset=0, dim1=-2, dim2=-1):
    shape = _diag_embed_shape((x,), {"offset": offset, "dim1": dim1, "dim2": dim2})
    return _diagonal_backward_ref(x, shape, offset, dim1 % len(shape), dim2 % len(shape))


DIAG_EMBED = register(OpDef(
    name="diag_embed", inputs=("input",), attrs={"offset": 0, "dim1": -2, "dim2": -1},
    dtype_rule=meta.keep_first, shape_rule=_diag_embed_shape,
    vjp=lambda ctx, g: (ctx.bind("diagonal", (g,), _diag_attrs(ctx)),),
    samples=lambda rng: [Sample((_u(rng, 3),)), Sample((_u(rng, 2, 3),), {"offset": 1}),
                         Sample((_u(rng, 2, 3),), {"offset": -1, "dim1": 0, "dim2": 2})],
    ref=_diag_embed_ref, doc="Matrices whose diagonal `offset` in (dim1, dim2) is the last dim."))


# ------------------------------------------------------------------------------------ triangles

def _triangle(name: str, keep):
    def shape_rule(operands, attrs):
        shape = tuple(operands[0].shape)
        if len(shape) < 2:
            raise OpError(f"{name}(): input tensor must have at least 2 dimensions")
        return shape

    def ref(x, diagonal=0):
        out = np.array(x, copy=True)
        for i, j in itertools.product(range(x.shape[-2]), range(x.shape[-1])):
            if not keep(j - i, diagonal):
                out[..., i, j] = 0
        return out

    return register(OpDef(
        name=name, inputs=("input",), attrs={"diagonal": 0}, dtype_rule=meta.keep_first,
        shape_rule=shape_rule, inplace_variant=True,
        vjp=lambda ctx, g: (ctx.bind(name, (g,), {"diagonal": ctx.attrs["diagonal"]}),),
        samples=lambda rng: [Sample((_u(rng, 3, 4),)), Sample((_u(rng, 4, 3),), {"diagonal": 1}),
                             Sample((_u(rng, 2, 3, 3),), {"diagonal": -1})],
        ref=ref, doc=f"Zero the elements {'below' if name == 'triu' else 'above'} the diagonal "
                     "`diagonal` of the last two dims."))


TRIU = _triangle("triu", lambda k, d: k >= d)
TRIL = _triangle("tril", lambda k, d: k <= d)


# ------------------------------------------------------------------------------------ vector norm

def norm_dims(dim, ndim: int) -> tuple:
    """The dims a norm reduces: all for None or (), as `torch.linalg.vector_norm` does."""
    return meta.reduce_dims("linalg.vector_norm", None if dim == () else dim, ndim)


def _vector_norm_dtype(operands, attrs):
    d, want = operands[0].dtype, attrs["dtype"]
    if not d.is_floating_point:
        raise OpError("linalg.vector_norm: Expected a floating point or complex tensor as input. "
                      f"Got {torch_name(d)}")
    if want is None:
        return d, d
    if not want.is_floating_point:
        raise OpError("linalg.vector_norm: dtype should be floating point or complex, but got "
                      f"{torch_name(want)}")
    return want, want


def _vector_norm_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    dims = norm_dims(attrs["dim"], len(shape))
    if math.isinf(attrs["ord"]) and any(shape[d] == 0 for d in dims):
        raise OpError("linalg.vector_norm cannot compute the inf norm on an empty tensor because "
                      "the operation does not have an identity")
    keep = attrs["keepdim"]
    return tuple(1 if i in dims else s for i, s in enumerate(shape) if keep or i not in dims)


def _vector_norm_vjp(ctx, g):
    x, out, p = ctx.inputs[0], ctx.output, ctx.attrs["ord"]
    shape = ctx.shapes[0]
    dims = norm_dims(ctx.attrs["dim"], len(shape))
    if not ctx.attrs["keepdim"]:  # broadcast the result and its gradient over the reduced dims
        kept = tuple(1 if i in dims else s for i, s in enumerate(shape))
        g, out = g.reshape(kept), out.reshape(kept)
    if p == 0:
        return (g * x * 0,)  # a count: zero almost everywhere
    if p == 1:
        return (g * x.sign(),)
    if p == 2:
        return (g * x / (out + (out == 0)),)  # a zero norm has zero gradient, as in PyTorch
    if math.isinf(p):  # shared evenly among the elements that reach the max (or min)
        hit = x.abs() == out
        return (g * x.sign() * hit / hit.sum(dims, keepdim=True),)
    return (g * x.sign() * x.abs() ** (p - 1) / out ** (p - 1),)


def _vector_norm_ref(x, ord=2, dim=None, keepdim=False, dtype=None):
    """NumPy's own vector norm over the reduced dims moved last and flattened."""
    dims = norm_dims(dim, x.ndim)
    x = x.astype(dtype.np) if dtype is not None else x
    rest = [d for d in range(x.ndim) if d not in dims]
    flat = np.transpose(x, rest + list(dims)).reshape([x.shape[d] for d in rest] + [-1])
    out = np.linalg.norm(flat, ord=ord, axis=-1)
    if keepdim:
        out = out.reshape([1 if d in dims else x.shape[d] for d in range(x.ndim)])
    return out


def _norm_samples(rng):
    def x(*shape):  # magnitudes well apart from 0 and from each other: no kinks, no ties
        mags = rng.permutation(math.prod(shape)).reshape(shape) / 4.0 + 0.5
        return rng.choice([-1.0, 1.0], size=shape) * mags
    return [Sample((x(3, 4),)), Sample((x(3, 4),), {"ord": 1, "dim": 1}),
            Sample((x(3, 4),), {"ord": math.inf, "dim": 0, "keepdim": True}),
            Sample((x(2, 3, 2),), {"ord": 3, "dim": (0, 2)}),
            Sample((x(3, 4),), {"ord": -math.inf}), Sample((x(3, 4),), {"ord": 0}),
            Sample((x(2, 3),), {"ord": 0.5, "dim": -1}), Sample((np.array(-1.5),), {}),
            Sample((x(2, 3),), {"dtype": float64, "keepdim": True})]


LINALG_VECTOR_NORM = register(OpDef(
    name="linalg_vector_norm", inputs=("x",),
    attrs={"ord": 2, "dim": None, "keepdim": False, "dtype": None}, kind=OPAQUE,
    dtype_rule=_vector_norm_dtype, shape_rule=_vector_norm_shape, vjp=_vector_norm_vjp,
    save_inputs=(0,), save_output=True, samples=_norm_samples, ref=_vector_norm_ref,
    doc="The `ord`-norm of the elements over `dim` (all by default): (sum |x|^ord)^(1/ord), "
        "max |x| for inf, min |x| for -inf, the count of nonzeros for 0."))


# ----------------------------------------------------------------------------------------- einsum

def split_equation(equation: str) -> tuple:
    """'ij,jk->ik' -> (['ij', 'jk'], 'ik'): the explicit form the op's attribute holds."""
    lhs, _, out = equation.partition("->")
    return lhs.split(","), out


def _einsum_sizes(ins: list, shapes: list) -> dict:
    sizes: dict = {}
    for k, (sub, shape) in enumerate(zip(ins, shapes)):
        if len(sub) != len(shape):
            raise OpError(f"einsum(): the number of subscripts in the equation ({len(sub)}) does "
                          f"not match the number of dimensions ({len(shape)}) for operand {k} "
                          "and no ellipsis was given")
        own: dict = {}
        for c, s in zip(sub, shape):
            if c in own and own[c] != s:
                raise OpError(f"einsum(): subscript {c} is repeated for operand {k} but the "
                              f"sizes don't match, {s} != {own[c]}")
            own[c] = s
            prev = sizes.get(c)
            if prev is None or prev == 1 or (isinstance(prev, str) and s != 1):
                sizes[c] = s
            elif s != 1 and s != prev and _is_int(s) and _is_int(prev):
                raise OpError(f"einsum(): subscript {c} has size {s} for operand {k} which does "
                              f"not broadcast with previously seen size {prev}")
    return sizes


def _einsum_shape(operands, attrs):
    ins, out = split_equation(attrs["equation"])
    if len(ins) > len(operands):
        raise OpError("einsum(): fewer operands were provided than specified in the equation")
    if len(ins) < len(operands):
        raise OpError("einsum(): more operands were provided than specified in the equation")
    sizes = _einsum_sizes(ins, [tuple(t.shape) for t in operands])
    for c in out:
        if c not in sizes:
            raise OpError(f"einsum(): output subscript {c} does not appear in the equation for "
                          "any input operand")
    return tuple(sizes[c] for c in out)


def _einsum_vjp(ctx, g):
    """Operand i's gradient is the einsum of the output gradient with the other operands, onto
    i's distinct letters; letters only i has are broadcast back, repeated ones embedded."""
    ins, out = split_equation(ctx.attrs["equation"])
    grads = []
    for i, sub in enumerate(ins):
        if not ctx.needs_input_grad[i]:
            grads.append(None)
            continue
        others = [j for j in range(len(ins)) if j != i]
        avail = set(out).union(*(ins[j] for j in others))
        uniq = "".join(dict.fromkeys(sub))
        have = "".join(c for c in uniq if c in avail)
        eq = ",".join([out] + [ins[j] for j in others]) + "->" + have
        gi = ctx.bind("einsum", (g, *(ctx.inputs[j] for j in others)), {"equation": eq})
        if have != uniq:
            for pos, c in enumerate(uniq):
                if c not in avail:
                    gi = gi.unsqueeze(pos)
            gi = gi.expand(*(-1 if c in avail else ctx.shapes[i][sub.index(c)] for c in uniq))
        if uniq != sub:
            gi = ctx.bind("einsum", (gi,), {"equation": f"{uniq}->{sub}"})
        grads.append(gi)
    return tuple(grads)


def _einsum_ref(*ops, equation):
    """Sum of products over every assignment of the letters: the definition, as loops."""
    ins, out = split_equation(equation)
    sizes = {}
    for sub, x in zip(ins, ops):
        for c, s in zip(sub, np.shape(x)):
            sizes[c] = max(sizes.get(c, 1), s)
    letters = sorted(sizes)
    result = np.zeros([sizes[c] for c in out], dtype=np.result_type(*ops))
    for values in itertools.product(*(range(sizes[c]) for c in letters)):
        env = dict(zip(letters, values))
        term = 1
        for sub, x in zip(ins, ops):  # a size-1 dim broadcasts: index 0
            term = term * x[tuple(min(env[c], x.shape[k] - 1) for k, c in enumerate(sub))]
        result[tuple(env[c] for c in out)] += term
    return result


def _einsum_samples(rng):
    n = rng.normal
    return [Sample((n(size=(3, 4)), n(size=(4, 2))), {"equation": "ij,jk->ik"}),
            Sample((n(size=(3, 3)),), {"equation": "ii->i"}),
            Sample((n(size=(3, 3)),), {"equation": "ii->"}),
            Sample((n(size=(2, 2, 3)), n(size=(2, 3, 2))), {"equation": "bij,bjk->bik"}),
            Sample((n(size=3), n(size=2)), {"equation": "i,j->ij"}),
            Sample((n(size=(3, 4)),), {"equation": "ij->j"}),
            Sample((n(size=(2, 3)), n(size=(3, 2)), n(size=(2, 2))),
                   {"equation": "ij,jk,kl->il"}),
            Sample((n(size=(1, 3)), n(size=(2, 3))), {"equation": "ij,ij->ij"}, note="broadcast"),
            Sample((np.array(1.5), n(size=3)), {"equation": ",i->i"}),
            Sample((n(size=3),), {"equation": "i->ii"}, note="diagonal embedding"),
            Sample((n(size=(2, 2, 3)),), {"equation": "iij->ji"})]


EINSUM = register(OpDef(
    name="einsum", inputs=("*operands",), attrs={"equation": ""}, kind=OPAQUE, may_alias=True,
    dtype_rule=same_dtype_rule("einsum"), shape_rule=_einsum_shape, vjp=_einsum_vjp,
    save_inputs=ALL_INPUTS,  # variadic: every operand
    samples=_einsum_samples, ref=_einsum_ref,
    doc="Einstein summation over any number of operands; `equation` is explicit ('ij,jk->ik')."))


# ------------------------------------------------------------------------------------------ cross

def _cross_shape(operands, attrs):
    a, b = (tuple(t.shape) for t in operands)
    if len(a) != len(b):
        raise OpError("linalg.cross: inputs must have the same number of dimensions.")
    out = meta.broadcast_shapes("linalg.cross", a, b)
    d = meta.normalize_dim("linalg.cross", attrs["dim"], len(out))
    if a[d] != 3 or b[d] != 3:
        raise OpError(f"linalg.cross: inputs dimension {attrs['dim']} must have length 3. Got "
                      f"{a[d]} and {b[d]}")
    return out


def _cross_ref(a, b, dim=-1):
    a, b = np.broadcast_arrays(a, b)
    a, b = np.moveaxis(a, dim, 0), np.moveaxis(b, dim, 0)
    out = np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                    a[0] * b[1] - a[1] * b[0]])
    return np.moveaxis(out, 0, dim)


def _cross_vjp(ctx, g):
    a, b = ctx.inputs
    attrs = {"dim": ctx.attrs["dim"]}
    return (ctx.bind("linalg_cross", (b, g), attrs) if ctx.needs_input_grad[0] else None,
            ctx.bind("linalg_cross", (g, a), attrs) if ctx.needs_input_grad[1] else None)


LINALG_CROSS = register(OpDef(
    name="linalg_cross", inputs=("input", "other"), attrs={"dim": -1},
    dtype_rule=same_dtype_rule("linalg.cross"), shape_rule=_cross_shape, vjp=_cross_vjp,
    save_inputs=(0, 1), ref=_cross_ref,
    samples=lambda rng: [Sample((_u(rng, 3), _u(rng, 3))),
                         Sample((_u(rng, 2, 3), _u(rng, 1, 3)), note="broadcast"),
                         Sample((_u(rng, 3, 2), _u(rng, 3, 2)), {"dim": 0})],
    doc="Cross product of 3-vectors along `dim`, broadcasting the other dims."))
