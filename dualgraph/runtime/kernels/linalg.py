"""Linear-algebra kernels: diagonals, triangles, einsum, and the LAPACK-backed ops through
`xp.linalg`. A singular matrix raises `LinAlgError` (a RuntimeError) worded as PyTorch words it."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...ir.ops.decompositions import solve_is_vector
from ...ir.ops.linalg import split_equation
from . import common
from .common import axis


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (a singular matrix), as torch.linalg's."""


def first_zero_pivot(a: np.ndarray) -> int:
    """The 1-based column of the first zero pivot of an LU factorization with partial pivoting
    (what LAPACK reports for a singular matrix), or 0 if there is none."""
    a = np.array(a, dtype=np.float64, copy=True)
    n = a.shape[0]
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        if a[p, k] == 0:
            return k + 1
        a[[k, p]] = a[[p, k]]
        a[k + 1:, k:] -= np.outer(a[k + 1:, k] / a[k, k], a[k, k:])
    return 0


def singular_message(a: Any) -> str | None:
    """`linalg.inv`'s message for the first singular matrix of a batch (None if none is)."""
    host = np.asarray(a.get() if hasattr(a, "get") else a)
    mats = host.reshape((-1,) + host.shape[-2:])
    for b, m in enumerate(mats):
        k = first_zero_pivot(m)
        if k:
            where = f"(Batch element {b}): " if host.ndim > 2 else ""
            return (f"linalg.inv: {where}The diagonal element {k} is zero, the inversion could "
                    "not be completed because the input matrix is singular.")
    return None


def _writable_diagonal(xp: Any, x: Any, offset: int, dim1: int, dim2: int) -> Any:
    """`xp.diagonal` as a writable view (NumPy returns a read-only one; PyTorch's is writable)."""
    d = xp.diagonal(x, offset, dim1, dim2)
    if isinstance(d, np.ndarray) and not d.flags.writeable and x.flags.writeable:
        d.flags.writeable = True
    return d


def _require(ok: bool) -> None:
    """Refuse an input the op does not take: the eager runtime then asks the op's meta function,
    which says what is wrong in PyTorch's words (kernels run without shape checks otherwise)."""
    if not ok:
        raise ValueError("invalid arguments")


def _square(a: Any) -> None:
    _require(a.ndim >= 2 and a.shape[-1] == a.shape[-2])


def _diag_positions(xp: Any, n: int, offset: int) -> tuple:
    rows = xp.arange(n) + max(-offset, 0)
    return rows, rows - max(-offset, 0) + max(offset, 0)


# Products and norms that may overflow, log|det| of a singular matrix: see kernels/__init__.
QUIET = frozenset({'linalg_vector_norm', 'vdot', 'einsum', 'trace', 'linalg_det', 'linalg_slogdet'})


def kernels(xp: Any) -> dict[str, Callable]:
    lapack_error = getattr(xp.linalg, "LinAlgError", np.linalg.LinAlgError)

    def diagonal_backward(g, shape, offset=0, dim1=0, dim2=1):
        out = xp.zeros(shape, dtype=g.dtype)
        rows, cols = _diag_positions(xp, g.shape[-1], offset)
        xp.moveaxis(out, (dim1, dim2), (-2, -1))[..., rows, cols] = g
        return out

    def diag_embed(x, offset=0, dim1=-2, dim2=-1):
        n = x.shape[-1] + abs(offset) if x.ndim else 0
        ndim = x.ndim + 1
        _require(x.ndim >= 1 and all(-ndim <= d < ndim for d in (dim1, dim2))
                 and dim1 % ndim != dim2 % ndim)
        d1, d2 = dim1 % ndim, dim2 % ndim
        shape = list(x.shape[:-1])
        for d in sorted((d1, d2)):
            shape.insert(d, n)
        return diagonal_backward(x, tuple(shape), offset, d1, d2)

    def singular(a, out):
        """CuPy reports a singular matrix with non-finite results rather than an exception."""
        return xp is not np and not bool(xp.isfinite(out).all()) and singular_message(a)

    def inv(a):
        _square(a)
        try:
            out = xp.linalg.inv(a)
        except lapack_error:
            out = None
        if out is None or singular(a, out):
            raise LinAlgError(singular_message(a) or "linalg.inv: The input matrix is singular.")
        return out

    def solve(a, b):
        vector = solve_is_vector(a.shape, b.shape)
        _square(a)
        _require(b.ndim >= (1 if vector else 2) and b.shape[-1 if vector else -2] == a.shape[-1])
        try:
            x = xp.linalg.solve(a, b[..., None] if vector else b)
        except lapack_error:
            x = None
        if x is None or singular(a, x):
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix "
                              "is singular.")
        return x[..., 0] if vector else x

    def vdot(a, b):
        _require(a.ndim == 1 and b.ndim == 1)
        return xp.dot(a, b)

    def trace(x):
        _require(x.ndim == 2)
        return xp.trace(x)

    def triangle(fn):
        def kernel(x, diagonal=0):
            _require(x.ndim >= 2)
            return fn(x, diagonal)
        return kernel

    def vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
        return common.vector_norm(xp, x, ord, None if dim == () else axis(dim), keepdim)

    def einsum(*operands, equation):
        ins, out = split_equation(equation)
        distinct = "".join(dict.fromkeys(out))
        r = xp.einsum(f"{','.join(ins)}->{distinct}", *operands, optimize=len(operands) > 2)
        if distinct == out:
            return r
        # Repeated output letters (the VJP of a diagonal): write r onto that diagonal.
        full = xp.zeros([r.shape[distinct.index(c)] for c in out], dtype=r.dtype)
        index = tuple(xp.arange(r.shape[distinct.index(c)]).reshape(
            [-1 if k == distinct.index(c) else 1 for k in range(len(distinct))]) for c in out)
        full[index] = r
        return full

    def cross(a, b, dim=-1):
        _require(a.ndim == b.ndim and a.ndim > 0 and a.shape[dim] == 3 and b.shape[dim] == 3)
        a, b = xp.broadcast_arrays(a, b)
        return xp.cross(a, b, axis=dim)

    return {
        "vdot": vdot, "trace": trace,
        "diagonal": lambda x, offset=0, dim1=0, dim2=1: _writable_diagonal(xp, x, offset, dim1,
                                                                           dim2),
        "diagonal_backward": diagonal_backward, "diag_embed": diag_embed,
        "triu": triangle(xp.triu), "tril": triangle(xp.tril),
        "linalg_inv": inv, "linalg_det": xp.linalg.det,
        "linalg_slogdet": lambda a: tuple(xp.linalg.slogdet(a)),
        "linalg_svd": lambda a, full_matrices=True: tuple(xp.linalg.svd(a, full_matrices)),
        "linalg_vector_norm": vector_norm, "linalg_solve": solve,
        "einsum": einsum, "linalg_cross": cross,
    }
