"""Exhaustive accuracy check of dualgraph.runtime.fastmath over all 2**32 float32 patterns.

For every bit pattern x, compares the fast function with the float64 reference (np.exp, np.log,
np.tanh, math.erf on float64) and reports the worst error in float32 ulps (ulp of the binade of
the true value, denormal spacing 2**-149 at the bottom) and where it occurs.  Where the
reference rounds to inf/NaN in float32 the result must match exactly (a mismatch counts as inf).

    python benchmarks/fastmath_accuracy.py [exp log tanh erf]
"""

from __future__ import annotations

import math
import sys
import time

import numba
import numpy as np

from dualgraph.runtime.fastmath import (FAST_FLOAT32, bitcast_f64_i64, bitcast_i32_f32,
                                         bitcast_i64_f64)

_BLOCK = 1 << 20
_NBLOCKS = (1 << 32) // _BLOCK


@numba.njit(inline="always")
def _ulp_error(got: np.float32, ref: float) -> float:
    r32 = np.float32(ref)
    if ref != ref or not math.isfinite(r32):
        same = (got == r32) or (got != got and r32 != r32)
        return 0.0 if same else math.inf
    bits = bitcast_f64_i64(abs(ref))
    e = max(((bits >> np.int64(52)) & np.int64(0x7FF)) - np.int64(1023), np.int64(-126))
    ulp = bitcast_i64_f64((e - np.int64(23) + np.int64(1023)) << np.int64(52))
    d = abs(np.float64(got) - ref)
    return d / ulp if d == d else math.inf


def _make_checker(f, ref):
    @numba.njit(parallel=True)
    def check(worst: np.ndarray, where: np.ndarray) -> None:
        for b in numba.prange(_NBLOCKS):
            w = -1.0
            at = np.int64(0)
            base = np.int64(b) * _BLOCK
            for j in range(_BLOCK):
                u = base + j
                x = bitcast_i32_f32(np.int32(u - (u >> np.int64(31) << np.int64(32))))
                err = _ulp_error(f(x), ref(np.float64(x)))
                if err > w:
                    w = err
                    at = u
            worst[b] = w
            where[b] = at
    return check


@numba.njit(inline="always")
def _ref_exp(v):
    return np.exp(v)


@numba.njit(inline="always")
def _ref_log(v):
    return np.log(v) if v >= 0.0 else math.nan


@numba.njit(inline="always")
def _ref_tanh(v):
    return np.tanh(v)


@numba.njit(inline="always")
def _ref_erf(v):
    return math.erf(v)


REFS = {"exp": _ref_exp, "log": _ref_log, "tanh": _ref_tanh, "erf": _ref_erf}


def main(names: list[str]) -> None:
    for name in names:
        check = _make_checker(FAST_FLOAT32[name], REFS[name])
        worst = np.empty(_NBLOCKS)
        where = np.empty(_NBLOCKS, dtype=np.int64)
        t0 = time.perf_counter()
        check(worst, where)
        dt = time.perf_counter() - t0
        b = int(np.argmax(worst))
        x = np.array([where[b]], dtype=np.uint32).view(np.float32)[0]
        print(f"{name:5s} worst {worst[b]:.4f} ulp at x = {x!r} (bits 0x{int(where[b]):08x})"
              f"  [{dt:.1f} s incl. compile, {numba.get_num_threads()} threads]", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(FAST_FLOAT32))
