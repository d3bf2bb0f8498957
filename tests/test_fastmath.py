"""Accuracy and edge behaviour of dualgraph.runtime.fastmath against float64 references."""

import math

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from dualgraph.runtime.fastmath import FAST_FLOAT32  # noqa: E402

# Stated worst error of each function (fastmath.py's docstring), in float32 ulps of the true
# result: exp and erf work in float32 (roundings that add up); log and tanh round once from
# float64, which is faithful to within a hair of half an ulp.
ULP_BOUND = {"exp": 0.78, "erf": 1.13, "log": 0.5005, "tanh": 0.5005}

_erf64 = np.vectorize(math.erf, otypes=[np.float64])
REFERENCE = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "erf": _erf64}


@numba.njit(cache=False)
def _apply(f, x, out):
    for i in range(x.size):
        out[i] = f(x[i])


def _run(name: str, x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _apply(FAST_FLOAT32[name], x, out)
    return out


def _sample() -> np.ndarray:
    """Every float32 exponent and both signs, log-spaced magnitudes, and edge neighbourhoods."""
    rng = np.random.default_rng(1234)
    # random bit patterns: uniform over exponents (covers denormals, both signs)
    bits = rng.integers(0, 2**32, size=1_500_000, dtype=np.uint64).astype(np.uint32)
    parts = [bits.view(np.float32)]
    mags = np.logspace(-45, 38.5, 400_000).astype(np.float32)
    parts += [mags, -mags]
    # dense around the points where the reductions switch or results saturate
    for c in (0.0, 0.01, 1.0, 4.0, 20.0, 88.72283, 89.0, -87.33655, -103.27893, -103.97208,
              -110.0, 110.0, 0.5 * math.log(2), 1.4142135, 0.70710677, 3.92, 9.01):
        c32 = np.float32(c)
        steps = np.arange(-2000, 2001, dtype=np.int64)
        b = c32.view(np.int32).astype(np.int64) + steps
        near = b[(b >= 0) & (b < 2**31)].astype(np.int32).view(np.float32)
        parts += [near, -near]
    tiny = np.arange(0, 200_000, dtype=np.int32).view(np.float32)  # +0 and denormals
    parts += [tiny, -tiny]
    x = np.concatenate(parts)
    return x[np.isfinite(x)]


SAMPLE = _sample()


def _ulp_errors(got: np.ndarray, ref64: np.ndarray) -> np.ndarray:
    """|got - ref| in ulps of the true result: 2**(e - 23) for 2**e <= |ref| < 2**(e + 1)."""
    with np.errstate(over="ignore"):
        ref32 = ref64.astype(np.float32)
    finite = np.isfinite(ref32)
    assert np.array_equal(got[~finite], ref32[~finite], equal_nan=True)
    _, exponent = np.frexp(np.abs(ref64[finite]))       # |ref| = m * 2**exponent, m in [0.5, 1)
    ulp = np.ldexp(1.0, np.maximum(exponent - 24, -149))  # denormals: fixed spacing 2**-149
    return np.abs(got[finite].astype(np.float64) - ref64[finite]) / ulp


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "erf"])
def test_ulp_bound_dense_sample(name):
    x = SAMPLE
    if name == "log":
        x = np.abs(x)
    got = _run(name, x)
    with np.errstate(all="ignore"):
        ref = REFERENCE[name](x.astype(np.float64))
    err = _ulp_errors(got, ref)
    worst = int(np.argmax(err))
    with np.errstate(over="ignore"):
        where = float(x[np.isfinite(ref.astype(np.float32))][worst])
    assert err[worst] <= ULP_BOUND[name], (name, where, float(err[worst]))


def test_erf_bound_dense_over_its_polynomials():
    """Every float32 step of erf's two polynomial ranges (|x| < 4.5), where its error peaks."""
    x = np.linspace(-4.5, 4.5, 3_000_001, dtype=np.float32)
    err = _ulp_errors(_run("erf", x), _erf64(x.astype(np.float64)))
    assert err.max() <= ULP_BOUND["erf"], (float(x[np.argmax(err)]), float(err.max()))


NAN, INF = np.float32(np.nan), np.float32(np.inf)
SPECIAL = {
    "exp": [(NAN, NAN), (INF, INF), (-INF, 0.0), (0.0, 1.0), (-0.0, 1.0), (89.0, INF),
            (88.72284, INF), (-104.0, 0.0), (-103.97208, 1e-45), (np.float32(1e-45), 1.0)],
    "log": [(NAN, NAN), (0.0, -INF), (-0.0, -INF), (-1.0, NAN), (-INF, NAN), (INF, INF),
            (1.0, 0.0), (np.float32(1e-45), np.float32(np.log(np.float64(np.float32(1e-45)))))],
    "tanh": [(NAN, NAN), (INF, 1.0), (-INF, -1.0), (0.0, 0.0), (-0.0, -0.0),
             (np.float32(1e-30), np.float32(1e-30)), (np.float32(-1e-45), np.float32(-1e-45)),
             (30.0, 1.0), (-30.0, -1.0)],
    "erf": [(NAN, NAN), (INF, 1.0), (-INF, -1.0), (0.0, 0.0), (-0.0, -0.0), (10.0, 1.0),
            (-10.0, -1.0), (np.float32(1e-30), np.float32(math.erf(1e-30)))],
}


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_special_values_exact(name):
    xs = np.array([a for a, _ in SPECIAL[name]], dtype=np.float32)
    want = np.array([b for _, b in SPECIAL[name]], dtype=np.float32)
    got = _run(name, xs)
    assert np.array_equal(got, want, equal_nan=True), (xs, got, want)
    nz = want == 0
    assert np.array_equal(np.signbit(got[nz]), np.signbit(want[nz]))  # signed zeros kept


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "erf"])
def test_matches_eager_at_edges(name):
    """NaN, infinities and zeros give exactly what eager (NumPy float32 / math.erf) gives."""
    xs = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38],
                  dtype=np.float32)
    got = _run(name, xs)
    with np.errstate(all="ignore"):
        if name == "erf":
            want = np.array([math.erf(v) for v in xs.astype(np.float64)]).astype(np.float32)
        else:
            want = REFERENCE[name](xs)
    assert np.array_equal(got, want, equal_nan=True)
    num = ~np.isnan(want)  # the sign of a NaN is not specified
    assert np.array_equal(np.signbit(got[num]), np.signbit(want[num]))


@numba.njit(cache=False)
def _loop_all(x, e, lg, t, er):
    for i in range(x.size):
        e[i] = _EXP(x[i])
        lg[i] = _LOG(x[i])
        t[i] = _TANH(x[i])
        er[i] = _ERF(x[i])


_EXP, _LOG, _TANH, _ERF = (FAST_FLOAT32[k] for k in ("exp", "log", "tanh", "erf"))


def test_njit_loop_equals_scalar_calls():
    x = np.random.default_rng(7).standard_normal(1000).astype(np.float32) * 5
    outs = [np.empty_like(x) for _ in range(4)]
    _loop_all(x, *outs)
    for out, f in zip(outs, (_EXP, _LOG, _TANH, _ERF)):
        scalar = np.array([f(np.float32(v)) for v in x[:50]], dtype=np.float32)
        assert np.array_equal(out[:50], scalar, equal_nan=True)
        assert out.dtype == np.float32


def test_table_names():
    assert set(FAST_FLOAT32) >= {"exp", "log", "tanh", "erf"}
