"""Decompositions and solvers: `linalg_inv`, `linalg_det`, `linalg_slogdet`, `linalg_svd`
(Townsend's gradient) and `linalg_solve`. Shared rules and samples come from `linalg.py`."""

from __future__ import annotations

import numpy as np

from .. import meta
from ..registry import OpDef, OpError, Sample, register
from ..types import FRESH
from .linalg import _det_ref, _is_int, _square_rule, _well_conditioned, float_rule, square_shape


# ----------------------------------------------------------------------- inverse and determinant

def _inv_vjp(ctx, g):
    inv_t = ctx.output.mT
    return (-(inv_t @ g @ inv_t),)


def _inv_samples(rng):
    return [Sample((_well_conditioned(rng, 3, 3),)), Sample((_well_conditioned(rng, 2, 2, 2),)),
            Sample((_well_conditioned(rng, 1, 1),))]


LINALG_INV = register(OpDef(
    name="linalg_inv", inputs=("A",), dtype_rule=float_rule("linalg.inv"),
    shape_rule=_square_rule("linalg.inv"), vjp=_inv_vjp, save_output=True,
    grad_name="LinalgInvExBackward0", samples=_inv_samples,
    ref=lambda a: np.linalg.solve(a, np.broadcast_to(np.eye(a.shape[-1]), a.shape)),
    doc="Inverse of (batches of) square matrices; a singular one raises LinAlgError."))


def _inv_t(ctx):
    """A^-T of the saved input: d det(A) / dA = det(A) A^-T."""
    return ctx.bind("linalg_inv", (ctx.inputs[0],), {}).mT


LINALG_DET = register(OpDef(
    name="linalg_det", inputs=("A",), dtype_rule=float_rule("linalg.det"),
    shape_rule=_square_rule("linalg.det", keep=2),
    vjp=lambda ctx, g: (((g * ctx.output).unsqueeze(-1).unsqueeze(-1)) * _inv_t(ctx),),
    save_inputs=(0,), save_output=True, samples=_inv_samples, ref=_det_ref,
    doc="Determinant of (batches of) square matrices (the gradient needs them invertible)."))


def _slogdet_samples(rng):
    flip = np.diag([1.0, -1.0, 1.0])  # a negative determinant
    return [Sample((_well_conditioned(rng, 3, 3) @ flip,)),
            Sample((_well_conditioned(rng, 2, 2, 2),))]


LINALG_SLOGDET = register(OpDef(
    name="linalg_slogdet", inputs=("A",), num_outputs=2,
    dtype_rule=float_rule("linalg.slogdet", 2), shape_rule=_square_rule("linalg.slogdet", 2, 2),
    vjp=lambda ctx, gs: (gs[1].unsqueeze(-1).unsqueeze(-1) * _inv_t(ctx),),
    save_inputs=(0,), samples=_slogdet_samples,
    ref=lambda a: (np.sign(_det_ref(a)), np.log(np.abs(_det_ref(a)))),
    doc="(sign, log|det|) of (batches of) square matrices."))


# -------------------------------------------------------------------------------------------- svd

def _svd_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    if len(shape) < 2:
        raise OpError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    batch, (m, n) = shape[:-2], shape[-2:]
    k = min(m, n) if _is_int(m) and _is_int(n) else (m if m == n else FRESH)
    if attrs["full_matrices"]:
        return batch + (m, m), batch + (k,), batch + (n, n)
    return batch + (m, k), batch + (k,), batch + (k, n)


def _svd_vjp(ctx, grads):
    """The real SVD's VJP (Townsend, "Differentiating the Singular Value Decomposition", 2016):
    A = U S Vh with k = min(m, n) singular values, assumed distinct and nonzero where U, V get
    gradients. With full_matrices, the columns beyond k carry no gradient (as in PyTorch)."""
    g_u, g_s, g_vh = grads
    u, s, vh = ctx.output
    m, n = ctx.shapes[0][-2:]
    k = min(m, n)
    if ctx.attrs["full_matrices"] and m != n:
        cols, rows = (Ellipsis, slice(None), slice(0, k)), (Ellipsis, slice(0, k), slice(None))
        u, g_u, vh, g_vh = u[cols], g_u[cols], vh[rows], g_vh[rows]
    v, g_v = vh.mT, g_vh.mT
    eye = ctx.bind("diag_embed", (s * 0 + 1,), {"offset": 0, "dim1": -2, "dim2": -1})
    s2 = s * s
    f = 1 / (s2.unsqueeze(-2) - s2.unsqueeze(-1) + eye) - eye  # 1/(s_j^2 - s_i^2), 0 on diagonal
    ut_gu, vt_gv = u.mT @ g_u, v.mT @ g_v
    j = f * (ut_gu - ut_gu.mT)
    kk = f * (vt_gv - vt_gv.mT)
    inner = j * s.unsqueeze(-2) + s.unsqueeze(-1) * kk + ctx.bind(
        "diag_embed", (g_s,), {"offset": 0, "dim1": -2, "dim2": -1})
    g_a = u @ inner @ vh
    if m > k:  # the part of g_u outside U's column space
        g_a = g_a + ((g_u - u @ ut_gu) / s.unsqueeze(-2)) @ vh
    if n > k:
        g_a = g_a + u @ ((g_v - v @ vt_gv) / s.unsqueeze(-2)).mT
    return (g_a,)


def _svd_ref(a, full_matrices=True):
    """S and V from the eigendecomposition of A^T A, U = A V / S, each singular pair's sign
    matched to NumPy's SVD (unique only up to it); full U, Vh take NumPy's extra columns."""
    u0, s0, vh0 = np.linalg.svd(a, full_matrices=full_matrices)
    m, n = a.shape[-2:]
    k = min(m, n)
    w, v = np.linalg.eigh(np.swapaxes(a, -1, -2) @ a)
    v = v[..., ::-1]
    s = np.sqrt(np.clip(w[..., ::-1][..., :k], 0, None))
    u = (a @ v[..., :k]) / s[..., None, :]
    sign = np.sign(np.sum(u * u0[..., :k], axis=-2))
    u, v = u * sign[..., None, :], v[..., :k] * sign[..., None, :]
    if u0.shape[-1] > k:
        u = np.concatenate([u, u0[..., k:]], axis=-1)
    vh = np.swapaxes(v, -1, -2)
    if vh0.shape[-2] > k:
        vh = np.concatenate([vh, vh0[..., k:, :]], axis=-2)
    return u, s, vh


def _svd_samples(rng):
    def distinct(*shape):  # singular values k+1, ..., 2 (well apart) in random orthogonal frames
        m, n = shape[-2:]
        k = min(m, n)
        q1 = np.linalg.qr(rng.normal(size=shape[:-2] + (m, m)))[0][..., :k]
        q2 = np.linalg.qr(rng.normal(size=shape[:-2] + (n, n)))[0][..., :k]
        return (q1 * np.arange(k + 1, 1, -1.0)) @ np.swapaxes(q2, -1, -2)
    return [Sample((distinct(3, 3),), {}), Sample((distinct(4, 3),), {"full_matrices": False}),
            Sample((distinct(2, 4),), {"full_matrices": False}),
            Sample((distinct(2, 3, 2),), {"full_matrices": False}),
            Sample((distinct(3, 2),), {"full_matrices": True}, grad=False,
                   note="U's third column is any unit vector orthogonal to the others")]


LINALG_SVD = register(OpDef(
    name="linalg_svd", inputs=("A",), attrs={"full_matrices": True}, num_outputs=3,
    dtype_rule=float_rule("linalg.svd", 3), shape_rule=_svd_shape, vjp=_svd_vjp, save_output=True,
    samples=_svd_samples, ref=_svd_ref,
    doc="(U, S, Vh) with A = U diag(S) Vh, singular values descending, as torch.linalg.svd."))


# ------------------------------------------------------------------------------------------ solve

def solve_is_vector(a_shape: tuple, b_shape: tuple) -> bool:
    """B is a (batch of) vector(s) when 1-D, or when it is A's shape without the last dim."""
    return len(b_shape) == 1 or (len(b_shape) == len(a_shape) - 1 and
                                 tuple(b_shape) == tuple(a_shape[:-1]))


def _solve_shape(operands, attrs):
    a, b = (tuple(t.shape) for t in operands)
    square_shape("linalg.solve", a)
    n = a[-1]
    vector = solve_is_vector(a, b)
    rows = b[-1] if vector else (b[-2] if len(b) >= 2 else None)
    if rows is None or (_is_int(rows) and _is_int(n) and rows != n):
        got = f"{b[-1]}x1" if vector or len(b) < 2 else f"{b[-2]}x{b[-1]}"
        raise OpError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                      f"({a[-2]}x{a[-1]} and {got})")
    if vector:
        return meta.broadcast_shapes("linalg.solve", a[:-2], b[:-1]) + (n,)
    return meta.broadcast_shapes("linalg.solve", a[:-2], b[:-2]) + b[-2:]


def _solve_vjp(ctx, g):
    a, x = ctx.inputs[0], ctx.output
    g_b = ctx.bind("linalg_solve", (a.mT, g), {})  # A^T gB = gX
    if not ctx.needs_input_grad[0]:
        return None, g_b
    if solve_is_vector(ctx.shapes[0], ctx.shapes[1]):
        g_a = -(g_b.unsqueeze(-1) * x.unsqueeze(-2))
    else:
        g_a = -(g_b @ x.mT)
    return g_a, g_b


def _solve_samples(rng):
    return [Sample((_well_conditioned(rng, 3, 3), rng.normal(size=3))),
            Sample((_well_conditioned(rng, 2, 3, 3), rng.normal(size=(2, 3, 2)))),
            Sample((_well_conditioned(rng, 3, 3), rng.normal(size=(2, 3, 1))), note="broadcast"),
            Sample((_well_conditioned(rng, 2, 2, 2), rng.normal(size=(2, 2))), note="vectors")]


def _solve_ref(a, b):
    inv = np.linalg.inv(a)
    if solve_is_vector(a.shape, b.shape):
        return (inv @ b[..., None])[..., 0]
    return inv @ b


LINALG_SOLVE = register(OpDef(
    name="linalg_solve", inputs=("A", "B"), dtype_rule=float_rule("linalg.solve"),
    shape_rule=_solve_shape, vjp=_solve_vjp, save_inputs=(0,), save_output=True,
    grad_name="LinalgSolveExBackward0", samples=_solve_samples, ref=_solve_ref,
    doc="X with A X = B for square A (batched, broadcasting); B may be a vector."))
