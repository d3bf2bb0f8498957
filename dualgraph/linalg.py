"""`dg.linalg`: linear algebra as `torch.linalg` spells it — `inv`, `det`, `slogdet`, `svd`,
`svdvals`, `solve`, `norm`, `vector_norm`, `matrix_norm`, `cross`, `matrix_power`, `diagonal`,
`multi_dot`, and `matmul`.

    >>> import dualgraph as torch
    >>> torch.linalg.norm(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
    tensor(5.)
"""

from __future__ import annotations

import math
from typing import Any

from .runtime.kernels.linalg import LinAlgError
from .dispatch import bind
from .ir import get
from .ir.ops.linalg import torch_name
from .methods import linalg as _m
from .ops import matmul

__all__ = ["matmul", "inv", "det", "slogdet", "svd", "svdvals", "solve", "norm", "vector_norm",
           "matrix_norm", "cross", "matrix_power", "diagonal", "multi_dot", "LinAlgError"]

VECTOR_NORM, SOLVE = get("linalg_vector_norm"), get("linalg_solve")


def inv(A: Any, *, out: Any = None) -> Any:
    """Inverse of (batches of) square matrices; singular ones raise LinAlgError."""
    return _m.inverse(A, out=out)


def det(A: Any, *, out: Any = None) -> Any:
    """Determinant of (batches of) square matrices."""
    return _m._out("linalg.det", _m.det(A), out, (A,))


def slogdet(A: Any) -> Any:
    """(sign, log|det|), as `torch.return_types.linalg_slogdet`."""
    return _m.linalg_slogdet_result(*bind(_m.SLOGDET, (A,)))


def svd(A: Any, full_matrices: bool = True, *, driver: Any = None) -> Any:
    """(U, S, Vh) with A = U diag(S) Vh, as `torch.return_types.linalg_svd`; with
    `full_matrices=False` the thin factors (k = min(m, n) columns of U, rows of Vh)."""
    return _m.linalg_svd_result(*bind(_m.SVD, (A,), {"full_matrices": full_matrices}))


def svdvals(A: Any, *, driver: Any = None) -> Any:
    """The singular values of A, in descending order."""
    return bind(_m.SVD, (A,), {"full_matrices": False})[1]


def solve(A: Any, B: Any, *, left: bool = True, out: Any = None) -> Any:
    """X with A X = B (or X A = B when `left=False`); batched, and B may be a vector."""
    if left:
        x = bind(SOLVE, (A, B))
    elif B.dim() == 1:
        x = bind(SOLVE, (A.mT, B))
    else:
        x = bind(SOLVE, (A.mT, B.mT)).mT
    return _m._out("linalg.solve", x, out, (A, B))


def _dim_attr(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, list) else dim


def vector_norm(x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None, out: Any = None) -> Any:
    """The `ord`-norm of the elements (over `dim`): 2 by default, inf for max |x|, 0 counts."""
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    attrs = {"ord": ord, "dim": _dim_attr(dim), "keepdim": keepdim, "dtype": dtype}
    return _m._out("linalg.vector_norm", bind(VECTOR_NORM, (x,), attrs), out, (x,))


def _check_float(prefix: str, A: Any, dtype: Any) -> None:
    d = dtype or A.dtype
    if not d.is_floating_point:
        raise RuntimeError(f"{prefix}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_name(d)}")


def _matrix_dims(prefix: str, A: Any, dim: Any) -> tuple:
    if A.dim() < 2:
        raise RuntimeError(f"{prefix}: The input tensor A must have at least 2 dimensions.")
    d0, d1 = (d % A.dim() if -A.dim() <= d < A.dim() else d for d in dim)
    for d in (d0, d1):
        if not 0 <= d < A.dim():
            raise IndexError(f"{prefix}: Dimension out of range (expected to be in range of "
                             f"[{-A.dim()}, {A.dim() - 1}], but got {d})")
    if d0 == d1:
        raise RuntimeError(f"{prefix}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def _singular_values(A: Any, d0: int, d1: int) -> Any:
    """The singular values of the (d0, d1) planes, in a last dim."""
    rest = [d for d in range(A.dim()) if d not in (d0, d1)]
    return svdvals(A.permute(*rest, d0, d1))


def matrix_norm(A: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None, out: Any = None) -> Any:
    """A matrix norm over the two dims `dim`: 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2."""
    prefix = "linalg.matrix_norm"
    d0, d1 = _matrix_dims(prefix, A, tuple(dim))
    _check_float(prefix, A, dtype)
    if dtype is not None:
        A = A.to(dtype)
    if ord == "fro":
        result = bind(VECTOR_NORM, (A,), {"dim": (d0, d1), "keepdim": keepdim})
    elif ord in ("nuc", 2, -2):
        s = _singular_values(A, d0, d1)
        result = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                result = result.unsqueeze(d)
    elif ord in (1, -1, math.inf, -math.inf):  # the largest (smallest) column or row sum
        sums = A.abs().sum(d0 if abs(ord) == 1 else d1, keepdim=True)
        result = (sums.amax if ord > 0 else sums.amin)((d0, d1), keepdim=keepdim)
    else:
        raise RuntimeError(f"{prefix}: Order {ord} not supported.")
    return _m._out(prefix, result, out, (A,))


def norm(A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *, out: Any = None,
         dtype: Any = None) -> Any:
    """A vector norm (one dim, or a 1-D input) or a matrix norm (two dims, or a 2-D input); with
    neither `ord` nor `dim`, the 2-norm of all elements."""
    dim = (dim,) if isinstance(dim, int) else dim
    if dim is not None and len(dim) not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                           f"{list(dim)}")
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(A, "fro", dim, keepdim, dtype=dtype, out=out)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype, out=out)
    if dim is None:
        if A.dim() not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must "
                               f"be 1D or 2D. Got {A.dim()}D.")
        dim = (0,) if A.dim() == 1 else (-2, -1)
    if len(dim) == 2 or isinstance(ord, str):
        return matrix_norm(A, ord, dim, keepdim, dtype=dtype, out=out)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype, out=out)


def cross(input: Any, other: Any, *, dim: int = -1, out: Any = None) -> Any:
    """Cross product of 3-vectors along `dim` (the last by default)."""
    return _m.cross(input, other, dim, out=out)


def matrix_power(A: Any, n: int, *, out: Any = None) -> Any:
    """A @ A @ ... (n times); the inverse's power for negative n, the identity for 0."""
    return _m._out("linalg.matrix_power", _m.matrix_power(A, n), out, (A,))


def diagonal(A: Any, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:
    """A view of the diagonals of the matrices in the last two dims (by default)."""
    return _m.diagonal(A, offset, dim1, dim2)


def multi_dot(tensors: Any, *, out: Any = None) -> Any:
    """The product of a chain of matrices (the first may be 1-D, and the last)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    result = tensors[0]
    for t in tensors[1:]:
        result = matmul(result, t)
    return _m._out("linalg.multi_dot", result, out, tuple(tensors))

