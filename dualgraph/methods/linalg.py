"""Linear-algebra tensor methods and `dualgraph.*` functions: `bmm`, `dot`, `vdot`, `mv`,
`outer`, `trace`, `diag`, `diagonal`, `diag_embed`, `triu`/`tril`, `inverse`, `det`, `logdet`,
`slogdet`, `svd`, `einsum`, `cross`, `matrix_power`, `kron`.

`bmm`, `dot` and `mv` are `matmul` after PyTorch's stricter checks (its node is then named
`BmmBackward0`, `DotBackward0`, `MvBackward0`); `outer`, `kron`, `matrix_power` and `logdet` are
compositions, as PyTorch's own grad_fn names show. `dualgraph.linalg` builds on these.
"""

from __future__ import annotations

import string
from typing import Any

from ..dispatch import bind, bind_inplace
from ..ir import get
from ..ir.ops.linalg import torch_name
from .. import return_types

MATMUL, VDOT, TRACE = get("matmul"), get("vdot"), get("trace")
DIAGONAL, DIAG_EMBED, TRIU, TRIL = get("diagonal"), get("diag_embed"), get("triu"), get("tril")
INV, DET, SLOGDET, SVD = (get("linalg_inv"), get("linalg_det"), get("linalg_slogdet"),
                          get("linalg_svd"))
EINSUM, CROSS = get("einsum"), get("linalg_cross")

svd_result = return_types.svd
linalg_svd_result = return_types.linalg_svd
slogdet_result = return_types.slogdet
linalg_slogdet_result = return_types.linalg_slogdet

__all__ = ["bmm", "dot", "vdot", "mv", "outer", "ger", "trace", "diag", "diagonal",
           "diag_embed", "triu", "tril", "inverse", "det", "logdet", "slogdet", "svd", "einsum",
           "cross", "matrix_power", "kron"]


def _out(name: str, result: Any, out: Any, inputs: tuple) -> Any:
    from ..ops import _out as write_out
    return write_out(name, result, out, inputs)


def _known(*sizes: Any) -> bool:
    """Every size is a plain int (symbolic dims of a trace are checked by the meta functions)."""
    return all(isinstance(s, int) for s in sizes)


def _dims(t: Any) -> tuple:
    return tuple(t.shape)


# ------------------------------------------------------------------------------------- products

def bmm(input: Any, mat2: Any, *, out: Any = None) -> Any:
    """Batched matrix product of two 3-D tensors with equal batch sizes (no broadcasting)."""
    for name, t in (("batch1", input), ("batch2", mat2)):
        if t.dim() != 3:
            raise RuntimeError(f"bmm(): {name} must be a 3D tensor")
    (b, _, k), (b2, k2, _) = _dims(input), _dims(mat2)
    if _known(b, k, b2, k2) and (b, k) != (b2, k2):
        raise RuntimeError(f"bmm(): Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b}, {k}] but got: [{b2}, {k2}].")
    if input.dtype is not mat2.dtype:
        raise RuntimeError(f"bmm(): expected scalar type {torch_name(input.dtype)} but found "
                           f"{torch_name(mat2.dtype)}")
    return _out("bmm", bind(MATMUL, (input, mat2)), out, (input, mat2))


def _check_vectors(name: str, a: Any, b: Any) -> None:
    if a.dim() != 1 or b.dim() != 1:
        raise RuntimeError(f"{name}(): 1D tensors expected, but got {a.dim()}D and {b.dim()}D "
                           "tensors")
    n, m = _dims(a)[0], _dims(b)[0]
    if _known(n, m) and n != m:
        raise RuntimeError(f"{name}(): inconsistent tensor size, expected tensor [{n}] and src "
                           f"[{m}] to have the same number of elements, but got {n} and {m} "
                           "elements respectively")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{name}(): expected both vectors to have same dtype, but found "
                           f"{torch_name(a.dtype)} and {torch_name(b.dtype)}")


def dot(input: Any, other: Any, *, out: Any = None) -> Any:
    """Inner product of two 1-D tensors of one dtype and length."""
    _check_vectors("dot", input, other)
    if input.dtype.name == "bool":
        raise NotImplementedError("\"dot\" not implemented for 'Bool'")
    return _out("dot", bind(MATMUL, (input, other)), out, (input, other))


def vdot(input: Any, other: Any, *, out: Any = None) -> Any:
    """Inner product conjugating the first vector (the same as `dot` for real tensors)."""
    _check_vectors("vdot", input, other)
    return _out("vdot", bind(VDOT, (input, other)), out, (input, other))


def mv(input: Any, vec: Any, *, out: Any = None) -> Any:
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"mv(): vector + matrix @ vector expected, got 1, {input.dim()}, "
                           f"{vec.dim()}")
    (n, m), (k,) = _dims(input), _dims(vec)
    if _known(m, k) and m != k:
        raise RuntimeError(f"mv(): size mismatch, got input ({n}), mat ({n}x{m}), vec ({k})")
    if input.dtype is not vec.dtype:
        raise RuntimeError(f"mv(): expected both inputs to have the same dtype, but got "
                           f"{torch_name(input.dtype)} and {torch_name(vec.dtype)}")
    return _out("mv", bind(MATMUL, (input, vec)), out, (input, vec))


def outer(input: Any, vec2: Any, *, out: Any = None) -> Any:
    """Outer product of two vectors: input[i] * vec2[j] (a broadcast `mul`, as in PyTorch)."""
    for name, t in (("self", input), ("vec2", vec2)):
        if t.dim() != 1:
            raise RuntimeError(f"outer(): Expected 1-D argument {name}, but got {t.dim()}-D")
    return _out("outer", input.unsqueeze(-1) * vec2, out, (input, vec2))


ger = outer


def kron(input: Any, other: Any, *, out: Any = None) -> Any:
    """Kronecker product: every element of `input` times the whole of `other`, tiled."""
    nd = max(input.dim(), other.dim())
    a = input.reshape((1,) * (nd - input.dim()) + _dims(input))
    b = other.reshape((1,) * (nd - other.dim()) + _dims(other))
    sa, sb = _dims(a), _dims(b)
    left = a.reshape(tuple(d for s in sa for d in (s, 1)))
    right = b.reshape(tuple(d for s in sb for d in (1, s)))
    result = (left * right).reshape(tuple(x * y for x, y in zip(sa, sb)))
    return _out("kron", result, out, (input, other))


def matrix_power(input: Any, n: int) -> Any:
    """The matrix product of `n` copies of a square matrix (inverse first for negative `n`)."""
    shape = _dims(input)
    from ..ir.ops.linalg import square_shape
    square_shape("linalg.matrix_power", shape)
    if n == 0:
        return bind(DIAG_EMBED, (input.new_ones(shape[:-1]),))
    if n < 0:
        input, n = bind(INV, (input,)), -n
    if n == 1:
        return input.clone()
    result, base = None, input
    while n:  # square-and-multiply: log2(n) products
        if n & 1:
            result = base if result is None else bind(MATMUL, (result, base))
        n >>= 1
        if n:
            base = bind(MATMUL, (base, base))
    return result


# ------------------------------------------------------------------------ diagonals and triangles

def trace(input: Any) -> Any:
    """Sum of the main diagonal of a 2-D tensor."""
    return bind(TRACE, (input,))


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
    """A view of the diagonal `offset` of the (dim1, dim2) planes, as the last dim."""
    return bind(DIAGONAL, (input,), {"offset": offset, "dim1": dim1, "dim2": dim2})


def diag_embed(input: Any, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:
    """Matrices (in dims dim1, dim2) whose diagonal `offset` holds the last dim of `input`."""
    return bind(DIAG_EMBED, (input,), {"offset": offset, "dim1": dim1, "dim2": dim2})


def diag(input: Any, diagonal: int = 0, *, out: Any = None) -> Any:
    """A vector's diagonal matrix, or a copy of a matrix's diagonal `diagonal`."""
    if input.dim() == 1:
        result = bind(DIAG_EMBED, (input,), {"offset": diagonal, "dim1": 0, "dim2": 1})
    elif input.dim() == 2:
        result = bind(DIAGONAL, (input,), {"offset": diagonal}).clone()
    else:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")
    return _out("diag", result, out, (input,))


def _triangle_attrs(diagonal: int) -> dict:
    return {"diagonal": diagonal} if diagonal else {}


def triu(input: Any, diagonal: int = 0, *, out: Any = None) -> Any:
    """The upper triangle (on and above diagonal `diagonal`) of the last two dims."""
    return _out("triu", bind(TRIU, (input,), _triangle_attrs(diagonal)), out, (input,))


def tril(input: Any, diagonal: int = 0, *, out: Any = None) -> Any:
    """The lower triangle (on and below diagonal `diagonal`) of the last two dims."""
    return _out("tril", bind(TRIL, (input,), _triangle_attrs(diagonal)), out, (input,))


# ------------------------------------------------------------------ inverse, determinants, svd

def inverse(input: Any, *, out: Any = None) -> Any:
    """Inverse of (batches of) square matrices; a singular one raises `linalg.LinAlgError`."""
    return _out("inverse", bind(INV, (input,)), out, (input,))


def det(input: Any) -> Any:
    """Determinant of (batches of) square matrices."""
    return bind(DET, (input,))


def slogdet(input: Any) -> Any:
    """(sign, log|det|): the determinant without overflow, as `torch.return_types.slogdet`."""
    return slogdet_result(*bind(SLOGDET, (input,)))


def logdet(input: Any) -> Any:
    """log(det): nan for a negative determinant, -inf for a singular matrix."""
    sign, logabsdet = bind(SLOGDET, (input,))
    return logabsdet + sign.log()


def svd(input: Any, some: bool = True, compute_uv: bool = True, *, out: Any = None) -> Any:
    """(U, S, V) with input = U diag(S) V^T, as `torch.svd` (V, not V^T; `some` = thin)."""
    if input.dim() < 2:
        raise RuntimeError(f"linalg.svd: input should have at least 2 dimensions, but has "
                           f"{input.dim()} dimensions instead")
    u, s, vh = bind(SVD, (input,), {"full_matrices": compute_uv and not some})
    if not compute_uv:  # PyTorch returns zero-filled U and V
        shape = _dims(input)
        m, n = shape[-2:]
        return svd_result(input.new_zeros(shape[:-2] + (m, m)), s,
                          input.new_zeros(shape[:-2] + (n, n)))
    return svd_result(u, s, vh.mT)


# ----------------------------------------------------------------------------------- einsum

def _operands_list(operands: tuple) -> tuple:
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        return tuple(operands[0])
    return operands


def canonical_equation(equation: str, ndims: list) -> str:
    """An explicit equation without spaces or `...`: ellipses become free letters (aligned on
    the right, so their dims broadcast), an implicit output becomes the ellipsis letters and then
    the letters used once, sorted."""
    for i, c in enumerate(equation):
        if c not in string.ascii_letters and c not in ".,->" and not c.isspace():
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               "string, subscripts must be in [a-zA-Z]")
    eq = "".join(equation.split())
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) > len(ndims):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(ins) < len(ndims):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    free = [c for c in string.ascii_letters if c not in eq]
    widths = []
    for k, (sub, nd) in enumerate(zip(ins, ndims)):
        if sub.count(".") not in (0, 3) or (sub.count(".") == 3 and "..." not in sub):
            raise RuntimeError(f"einsum(): found '.' for operand {k} for which an ellipsis was "
                               "already found")
        widths.append(max(nd - (len(sub) - 3), 0) if "..." in sub else 0)
    ell = "".join(free[:max(widths, default=0)])
    ins = [s.replace("...", ell[len(ell) - w:]) for s, w in zip(ins, widths)]
    if arrow:
        out = out.replace("...", ell)
    else:
        letters = "".join(c for s in lhs.split(",") for c in s if c != ".")
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for c in out:
        if out.count(c) > 1:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                               "output")
    return ",".join(ins) + "->" + out


def einsum(equation: str, *operands: Any) -> Any:
    """Einstein summation: `einsum('ij,jk->ik', a, b)` is a @ b; `...` broadcasts, repeated
    letters take diagonals, letters missing from the output are summed."""
    if not isinstance(equation, str):
        raise TypeError("einsum(): the sublist form (operand, [0, 1], ...) is not supported; "
                        "write the equation as a string")
    operands = _operands_list(operands)
    if not operands:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    eq = canonical_equation(equation, [t.dim() for t in operands])
    return bind(EINSUM, operands, {"equation": eq})


# ------------------------------------------------------------------------------------ cross

def cross(input: Any, other: Any, dim: int | None = None, *, out: Any = None) -> Any:
    """Cross product of 3-vectors along `dim` (by default the first dim of size 3)."""
    if dim is None:
        shape = _dims(input) if input.dim() != other.dim() else tuple(
            max(a, b) if _known(a, b) else a for a, b in zip(_dims(input), _dims(other)))
        dim = next((d for d, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("cross(): no dimension of size 3 in input")
    return _out("cross", bind(CROSS, (input, other), {"dim": dim}), out, (input, other))


# ---------------------------------------------------------------------------------- methods

class Methods:
    """Tensor methods of the linear-algebra family (`m.trace()`, `m.triu_()`, `a.bmm(b)`)."""

    __slots__ = ()

    def bmm(self, mat2): return bmm(self, mat2)
    def dot(self, other): return dot(self, other)
    def vdot(self, other): return vdot(self, other)
    def mv(self, vec): return mv(self, vec)
    def outer(self, vec2): return outer(self, vec2)
    def ger(self, vec2): return outer(self, vec2)
    def kron(self, other): return kron(self, other)
    def matrix_power(self, n): return matrix_power(self, n)
    def trace(self): return bind(TRACE, (self,))
    def diag(self, diagonal=0): return diag(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return diagonal(self, offset, dim1, dim2)
    def diag_embed(self, offset=0, dim1=-2, dim2=-1): return diag_embed(self, offset, dim1, dim2)
    def triu(self, diagonal=0): return bind(TRIU, (self,), _triangle_attrs(diagonal))
    def tril(self, diagonal=0): return bind(TRIL, (self,), _triangle_attrs(diagonal))
    def triu_(self, diagonal=0): return bind_inplace(TRIU, (self,), _triangle_attrs(diagonal))
    def tril_(self, diagonal=0): return bind_inplace(TRIL, (self,), _triangle_attrs(diagonal))
    def inverse(self): return bind(INV, (self,))
    def det(self): return bind(DET, (self,))
    def logdet(self): return logdet(self)
    def slogdet(self): return slogdet(self)
    def svd(self, some=True, compute_uv=True): return svd(self, some, compute_uv)
    def cross(self, other, dim=None): return cross(self, other, dim)
