"""Speed of fastmath vs libm in a single-threaded Numba loop over 4M float32 (median of runs).

Also times a plain copy loop (memory-bound floor) and NumPy's ufunc on the same array, and
reports whether the fastmath loop's machine code uses packed vector instructions.

    python benchmarks/fastmath_speed.py
"""

from __future__ import annotations

import math
import re
import time

import numba
import numpy as np

from dualgraph.runtime.fastmath import FAST_FLOAT32

N = 4 * 1024 * 1024
LIBM = {"exp": math.exp, "log": math.log, "tanh": math.tanh, "erf": math.erf}
NUMPY = {"exp": np.exp, "log": np.log, "tanh": np.tanh}


def _loop(f):
    @numba.njit(cache=False)
    def run(x, out):
        for i in range(x.size):
            out[i] = f(x[i])
    return run


@numba.njit(cache=False)
def _copy(x, out):
    for i in range(x.size):
        out[i] = x[i]


def _median_ms(fn, *args, reps: int = 7) -> float:
    fn(*args)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(*args)
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def main() -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(N) * 3).astype(np.float32)
    xpos = np.abs(x) + np.float32(1e-3)
    out = np.empty_like(x)
    print(f"copy loop          {_median_ms(_copy, x, out):7.2f} ms")
    for name, fast in FAST_FLOAT32.items():
        arg = xpos if name == "log" else x
        loop = _loop(fast)
        t_fast = _median_ms(loop, arg, out)
        t_libm = _median_ms(_loop(LIBM[name]), arg, out)
        np_f = NUMPY.get(name)
        t_np = _median_ms(np_f, arg, out) if np_f else float("nan")
        asm = next(iter(loop.inspect_asm().values()))
        packed = len(re.findall(r"\bv\w+p[sd]\s.*[yz]mm", asm))
        print(f"{name:5s} fast {t_fast:7.2f} ms | math.{name} {t_libm:7.2f} ms | "
              f"np.{name} {t_np:7.2f} ms | packed ymm/zmm instrs in fast loop: {packed}")


if __name__ == "__main__":
    main()
