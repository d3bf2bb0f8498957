"""Kernels of the creation ops: sources (`full`, `eye`, `arange`, `linspace`, `logspace`), random
draws and the fillers behind `x.uniform_()` and friends.

Random numbers are drawn on the host from dualgraph's generator (NumPy's PCG64, see
`dualgraph.creation.Generator`) and moved to the device with `xp.asarray`, so the CPU and the GPU
give the same numbers for the same seed, and a graph draws exactly what eager code draws.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...ir.ops.random import arange_length, random_bounds
from ...ir.types import dtype_from_numpy, float16, get_default_dtype, int64, scalar_dtype


def _rng(generator: Any) -> np.random.Generator:
    if generator is None:
        from ...creation import default_generator  # late: creation imports the runtime
        generator = default_generator
    return generator.rng


def uniform01(rng: np.random.Generator, shape: tuple, d: np.dtype) -> np.ndarray:
    """Floats in [0, 1) of NumPy dtype `d`, never rounded up to 1.0."""
    if d == np.float64:
        return rng.random(shape)
    if d == np.float32:
        return rng.random(shape, dtype=np.float32)
    bits = np.finfo(d).nmant + 1  # float16: 11, bfloat16: 8, so every value is exact
    return (rng.integers(0, 2 ** bits, size=shape) * 2.0 ** -bits).astype(d)


def standard_normal(rng: np.random.Generator, shape: tuple, d: np.dtype) -> np.ndarray:
    if d == np.float64:
        return rng.standard_normal(shape)
    return rng.standard_normal(shape, dtype=np.float32).astype(d, copy=False)


def _fma(a: Any, b: np.ndarray, c: Any) -> np.ndarray:
    """a * b + c rounded once to float64, as the fused multiply-add of PyTorch's CPU kernels
    (emulated in extended precision)."""
    wide = np.longdouble
    return (wide(a) * np.asarray(b, dtype=wide) + np.asarray(c, dtype=wide)).astype(np.float64)


def _arange_values(start: float, step: float, n: int, d: Any) -> np.ndarray:
    """PyTorch's CPU arange values, bit for bit on 256-bit SIMD: in blocks of one vector
    (32 bytes of the dtype) each lane is fma(step, lane, base) with base = fma(step, block start,
    start) rounded to the dtype; the elements after the last whole pair of vectors are
    fma(step, i, start). Each fma accumulates in double."""
    idx = np.arange(n)
    lanes = 32 // d.np.itemsize
    first = (idx // lanes) * lanes
    base = _fma(step, first, start).astype(d.np).astype(np.float64)
    vec = _fma(step, idx - first, base)
    scalar = _fma(step, idx, start)
    return np.where(idx < n - n % (2 * lanes), vec, scalar).astype(d.np)


def _spaced(start: Any, end: Any, steps: int, d: Any) -> np.ndarray:
    """linspace's values as PyTorch computes them: in the output's float type (double for
    integer outputs, whose bounds are truncated first), the first half fma(step, i, start) and
    the second half fma(-step, steps - 1 - i, end), so both ends are exact."""
    if not d.is_floating_point:
        start, end = int(start), int(end)
    t = np.float64 if not d.is_floating_point else (np.float32 if d is float16 else d.np.type)
    if steps == 1:
        return np.array([t(start)])
    s, e = t(start), t(end)
    step = (e - s) / t(max(steps - 1, 1))
    idx = np.arange(steps)
    up = _fma(step, idx, s)
    down = _fma(-step, steps - 1 - idx, e)
    return np.where(idx < steps // 2, up, down).astype(t)


def _log_exponents(start: Any, end: Any, steps: int, d: Any) -> np.ndarray:
    """logspace's exponents as PyTorch computes them: bounds in the output type, the step in
    double from their difference in the output type, no fused multiply-add."""
    t = np.float64 if not d.is_floating_point else (np.float32 if d is float16 else d.np.type)
    if not d.is_floating_point:
        start, end = int(start), int(end)
    s, e = t(start), t(end)
    if steps == 1:
        return np.array([float(start)])  # PyTorch takes the bound as given here
    step = float(t(e - s)) / max(steps - 1, 1)
    idx = np.arange(steps)
    return np.where(idx < steps // 2, float(s) + step * idx,
                    float(e) - step * (steps - 1 - idx))


def kernels(xp: Any) -> dict[str, Callable]:
    put = xp.asarray

    def host(a: Any) -> Any:
        return a if xp is np or not isinstance(a, xp.ndarray) else xp.asnumpy(a)

    def full(size=(), fill_value=0, dtype=None, device=None):
        d = dtype or scalar_dtype(0.0 if fill_value is None else fill_value)
        return xp.empty(size, d.np) if fill_value is None else xp.full(size, fill_value, d.np)

    def eye(n=1, m=None, dtype=None, device=None):
        return xp.eye(n, m, dtype=(dtype or get_default_dtype()).np)

    def arange(start=0, end=0, step=1, dtype=None, device=None):
        d = dtype or int64
        n = arange_length(start, end, step, d)
        if d.is_floating_point:
            return put(_arange_values(start, step, n, d))
        return put((int(start) + int(step) * np.arange(n, dtype=np.int64)).astype(d.np))

    def linspace(start=0.0, end=1.0, steps=100, dtype=None, device=None):
        d = dtype or get_default_dtype()
        return put(_spaced(start, end, steps, d).astype(d.np))

    def logspace(start=0.0, end=1.0, steps=100, base=10.0, dtype=None, device=None):
        d = dtype or get_default_dtype()
        return put(np.power(np.float64(base), _log_exponents(start, end, steps, d)).astype(d.np))

    def rand(size=(), dtype=None, device=None, generator=None):
        return put(uniform01(_rng(generator), size, (dtype or get_default_dtype()).np))

    def randn(size=(), dtype=None, device=None, generator=None):
        return put(standard_normal(_rng(generator), size, (dtype or get_default_dtype()).np))

    def randint(low=0, high=1, size=(), dtype=None, device=None, generator=None):
        draws = _rng(generator).integers(low, high, size=size, dtype=np.int64)
        return put(draws.astype((dtype or int64).np))

    def randperm(n=0, dtype=None, device=None, generator=None):
        return put(_rng(generator).permutation(n).astype((dtype or int64).np))

    def normal(self, mean, std, generator=None):
        shape = np.broadcast_shapes(*(np.shape(a) for a in (self, mean, std)))
        if hasattr(std, "shape") and bool((host(std) < 0).any()):
            raise RuntimeError("normal(): normal expects all elements of std >= 0.0")
        z = put(standard_normal(_rng(generator), shape, self.dtype))
        return (mean + std * z).astype(self.dtype, copy=False)

    def bernoulli(self, p, generator=None):
        shape = np.broadcast_shapes(np.shape(self), np.shape(p))
        probs = np.asarray(host(p), dtype=np.float64)
        if not bool(((probs >= 0) & (probs <= 1)).all()):
            raise RuntimeError("bernoulli(): Expected p_in >= 0 && p_in <= 1 to be true, but got "
                               "false.")
        return put((_rng(generator).random(shape) < probs).astype(self.dtype))

    def multinomial(input, num_samples=1, replacement=False, generator=None):
        return put(_multinomial(np.asarray(host(input), dtype=np.float64), num_samples,
                                replacement, _rng(generator)))

    def uniform(self, low=0.0, high=1.0, generator=None):
        u = uniform01(_rng(generator), self.shape, self.dtype)
        return put((low + (high - low) * u).astype(self.dtype, copy=False))

    def random(self, low=0, high=None, generator=None):
        lo, top = random_bounds(dtype_from_numpy(self.dtype), low, high)
        draws = _rng(generator).integers(lo, top, size=self.shape, endpoint=True, dtype=np.int64)
        return put(draws.astype(self.dtype))

    def exponential(self, lambd=1.0, generator=None):
        return put(_rng(generator).exponential(1.0 / lambd, self.shape).astype(self.dtype))

    def fill(self, value):
        out = xp.empty(self.shape, self.dtype)
        out[...] = value
        return out

    def zero(self):
        return xp.zeros(self.shape, self.dtype)

    return {"full": full, "eye": eye, "arange": arange, "linspace": linspace,
            "logspace": logspace, "rand": rand, "randn": randn, "randint": randint,
            "randperm": randperm, "normal": normal, "bernoulli": bernoulli,
            "multinomial": multinomial, "uniform": uniform, "random": random,
            "exponential": exponential, "fill": fill, "zero": zero}


def _multinomial(p: np.ndarray, k: int, replacement: bool, rng: np.random.Generator) -> Any:
    """Indices drawn from each row of weights `p` (1-D or 2-D)."""
    rows = p.reshape(-1, p.shape[-1])
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("multinomial(): probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    if (rows.sum(axis=-1) <= 0).any():
        raise RuntimeError("multinomial(): invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    if replacement:  # inverse CDF; side="right" never lands on a zero-weight index
        cdf = np.cumsum(rows, axis=-1)
        cdf /= cdf[:, -1:]
        u = rng.random((rows.shape[0], k))
        idx = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
        idx = np.minimum(idx, rows.shape[-1] - 1)
    else:  # exponential race: the k smallest E/p, zero weights (keys inf) last
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=rows.shape) / rows
        idx = np.argsort(keys, axis=-1, kind="stable")[:, :k]
    return idx.astype(np.int64).reshape(p.shape[:-1] + (k,))
