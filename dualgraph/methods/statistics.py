"""Tensor methods and `dualgraph.*` functions of the statistics family: prod, amax/amin,
max/min (all overloads), argmax/argmin, median, mode, var/std (+ var_mean/std_mean), norm, dist,
logsumexp, cumsum/cumprod, all/any, softmax/log_softmax. The ops are in `ir/ops/statistics.py`.
"""

from __future__ import annotations

from typing import Any

from ..dispatch import bind, bind_inplace
from ..ir import get
from .. import return_types

__all__ = ["prod", "amax", "amin", "max", "min", "argmax", "argmin", "median", "mode", "var",
           "std", "var_mean", "std_mean", "norm", "dist", "logsumexp", "cumsum", "cumprod",
           "all", "any", "softmax", "log_softmax"]

PROD, AMAX, AMIN, MAX_ALL, MIN_ALL = (get("prod"), get("amax"), get("amin"), get("max_all"),
                                      get("min_all"))
ARGMAX, ARGMIN, MEDIAN, MEDIAN_ALL, MODE = (get("argmax"), get("argmin"), get("median"),
                                            get("median_all"), get("mode"))
VAR, STD, VAR_MEAN, STD_MEAN = get("var"), get("std"), get("var_mean"), get("std_mean")
NORM = get("linalg_vector_norm")  # registered by ir/ops/linalg.py
DIST, LOGSUMEXP = get("dist"), get("logsumexp")
CUMSUM, CUMPROD, ALL, ANY = get("cumsum"), get("cumprod"), get("all"), get("any")
SOFTMAX, LOG_SOFTMAX = get("softmax"), get("log_softmax")

# Named results, printed as PyTorch prints them. They belong with the others in return_types.py.
median_result = return_types.median
mode_result = return_types.mode


def _attrs(**kw: Any) -> dict:
    """Attributes without the ones left at their default (None/False), so that plain calls keep
    the eager fast path; lists become tuples (attributes are hashable, printable IR)."""
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in kw.items()
            if v is not None and v is not False}


def _int_dim(name: str, dim: Any) -> None:
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool)):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")


def _out(name: str, result: Any, out: Any, inputs: tuple) -> Any:
    if out is None:
        return result
    from ..ops import _out as write
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{name}(): argument 'out' must be a tuple of {len(result)} Tensors")
        return type(result)(*(write(name, r, o, inputs) for r, o in zip(result, out)))
    return write(name, result, out, inputs)


# ------------------------------------------------------------------------------- reductions

def prod(input: Any, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None,
         out: Any = None) -> Any:
    """Product of all elements, or along one `dim`; integers and bools give int64."""
    _int_dim("prod", dim)
    return _out("prod", bind(PROD, (input,), _attrs(dim=dim, keepdim=keepdim, dtype=dtype)), out,
                (input,))


def amax(input: Any, dim: Any = (), keepdim: bool = False, *, out: Any = None) -> Any:
    """Largest value over `dim` (an int or a tuple; all dims when empty). Ties share the
    gradient evenly."""
    dim = None if dim == () else dim
    return _out("amax", bind(AMAX, (input,), _attrs(dim=dim, keepdim=keepdim)), out, (input,))


def amin(input: Any, dim: Any = (), keepdim: bool = False, *, out: Any = None) -> Any:
    """Smallest value over `dim` (see `amax`)."""
    dim = None if dim == () else dim
    return _out("amin", bind(AMIN, (input,), _attrs(dim=dim, keepdim=keepdim)), out, (input,))


def _extreme(name: str, input: Any, dim: Any, keepdim: bool, other: Any) -> Any:
    """`max()` (every element), `max(dim)` ((values, indices)) and `max(other)` (elementwise)."""
    from .. import return_types
    from ..tensor import Tensor
    if isinstance(dim, Tensor):
        dim, other = None, dim
    if other is not None:
        op_name = "maximum" if name == "max" else "minimum"
        return bind(get(op_name), (input, other))
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}(): keepdim=True needs a dim to reduce")
        return bind(MAX_ALL if name == "max" else MIN_ALL, (input,))
    _int_dim(name, dim)
    values = bind(get(name), (input,), {"dim": dim, "keepdim": keepdim})
    return getattr(return_types, name)(*values)


def max(input: Any, dim: Any = None, keepdim: bool = False, *, other: Any = None,
        out: Any = None) -> Any:
    """The largest element; (values, indices) along `dim`; or the elementwise maximum with
    another tensor, as torch.max's three forms."""
    return _out("max", _extreme("max", input, dim, keepdim, other), out, (input,))


def min(input: Any, dim: Any = None, keepdim: bool = False, *, other: Any = None,
        out: Any = None) -> Any:
    """The smallest element; (values, indices) along `dim`; or the elementwise minimum."""
    return _out("min", _extreme("min", input, dim, keepdim, other), out, (input,))


def argmax(input: Any, dim: int | None = None, keepdim: bool = False, *,
           out: Any = None) -> Any:
    """Index of the first largest element (in the flattened input when `dim` is None)."""
    _int_dim("argmax", dim)
    return _out("argmax", bind(ARGMAX, (input,), _attrs(dim=dim, keepdim=keepdim)), out,
                (input,))


def argmin(input: Any, dim: int | None = None, keepdim: bool = False, *,
           out: Any = None) -> Any:
    """Index of the first smallest element (in the flattened input when `dim` is None)."""
    _int_dim("argmin", dim)
    return _out("argmin", bind(ARGMIN, (input,), _attrs(dim=dim, keepdim=keepdim)), out,
                (input,))


def median(input: Any, dim: int | None = None, keepdim: bool = False, *,
           out: Any = None) -> Any:
    """The lower median of every element (0-d), or (values, indices) along `dim`."""
    if dim is None:
        if keepdim:
            raise TypeError("median(): keepdim=True needs a dim to reduce")
        return _out("median", bind(MEDIAN_ALL, (input,)), out, (input,))
    _int_dim("median", dim)
    return _out("median", median_result(*bind(MEDIAN, (input,), {"dim": dim,
                                                                "keepdim": keepdim})),
                out, (input,))


def mode(input: Any, dim: int = -1, keepdim: bool = False, *, out: Any = None) -> Any:
    """(most frequent value, index of its last occurrence) along `dim`; among equally frequent
    values, the smallest."""
    _int_dim("mode", dim)
    return _out("mode", mode_result(*bind(MODE, (input,), {"dim": dim, "keepdim": keepdim})),
                out, (input,))


def _correction(name: str, dim: Any, unbiased: Any, correction: Any) -> tuple:
    """PyTorch's overloads: `var(unbiased)`, `var(dim, unbiased, keepdim)`, `correction=`."""
    if isinstance(dim, bool):  # var(False): the positional argument is `unbiased`
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): pass either unbiased= or correction=, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return dim, correction


def _moments(op: Any, name: str, input: Any, dim: Any, unbiased: Any, keepdim: bool,
             correction: Any) -> Any:
    dim, correction = _correction(name, dim, unbiased, correction)
    attrs = _attrs(dim=dim, keepdim=keepdim)
    if correction != 1:
        attrs["correction"] = correction
    return bind(op, (input,), attrs)


def var(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: Any = None, out: Any = None) -> Any:
    """Variance over `dim` with divisor N - correction (1 unless `unbiased=False`)."""
    return _out("var", _moments(VAR, "var", input, dim, unbiased, keepdim, correction), out,
                (input,))


def std(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: Any = None, out: Any = None) -> Any:
    """Standard deviation over `dim` (see `var`)."""
    return _out("std", _moments(STD, "std", input, dim, unbiased, keepdim, correction), out,
                (input,))


def var_mean(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: Any = None) -> tuple:
    """(variance, mean) in one pass, as a plain tuple (as PyTorch returns it)."""
    return tuple(_moments(VAR_MEAN, "var_mean", input, dim, unbiased, keepdim, correction))


def std_mean(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: Any = None) -> tuple:
    """(standard deviation, mean), as a plain tuple."""
    return tuple(_moments(STD_MEAN, "std_mean", input, dim, unbiased, keepdim, correction))


def _norm_order(p: Any, dim: Any) -> float:
    """PyTorch's `p` of `norm`: a number, or 'fro' (the 2-norm of the dims it reduces)."""
    if p is None or p == "fro":
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise RuntimeError(f"norm(): the 'fro' norm reduces one or two dims, got dim="
                               f"{tuple(dim)}")
        return 2.0
    if isinstance(p, str):
        raise RuntimeError(f"norm(): Order {p} not supported.")
    if not isinstance(p, (int, float)):
        raise TypeError(f"norm(): argument 'p' must be a number or a string, not "
                        f"{type(p).__name__}")
    return float(p)


def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False, out: Any = None,
         dtype: Any = None) -> Any:
    """Vector p-norm over `dim` (all dims when None): p = 2 ('fro'), 1, inf, -inf, 0 or any
    other number; p='nuc' is the nuclear norm of a matrix (or of `dim`'s two dims)."""
    if p == "nuc":
        from ..linalg import matrix_norm
        dims = (-2, -1) if dim is None else dim
        return _out("norm", matrix_norm(input, "nuc", dim=dims, keepdim=keepdim), out, (input,))
    ord = _norm_order(p, dim)
    attrs = _attrs(dim=dim, keepdim=keepdim, dtype=dtype)
    if ord != 2.0:
        attrs["ord"] = ord
    return _out("norm", bind(NORM, (input,), attrs), out, (input,))


def dist(input: Any, other: Any, p: float = 2) -> Any:
    """The p-norm of `input - other` (broadcast)."""
    return bind(DIST, (input, other), {} if p == 2 else {"p": float(_norm_order(p, None))})


def logsumexp(input: Any, dim: Any, keepdim: bool = False, *, out: Any = None) -> Any:
    """log(sum(exp(x))) over `dim`, computed without overflow (the max is taken out first)."""
    return _out("logsumexp", bind(LOGSUMEXP, (input,), _attrs(dim=dim, keepdim=keepdim)), out,
                (input,))


def all(input: Any, dim: Any = None, keepdim: bool = False, *, out: Any = None) -> Any:
    """Whether every element (over `dim`) is nonzero; bool (uint8 for uint8 input)."""
    return _out("all", bind(ALL, (input,), _attrs(dim=dim, keepdim=keepdim)), out, (input,))


def any(input: Any, dim: Any = None, keepdim: bool = False, *, out: Any = None) -> Any:
    """Whether some element (over `dim`) is nonzero; bool (uint8 for uint8 input)."""
    return _out("any", bind(ANY, (input,), _attrs(dim=dim, keepdim=keepdim)), out, (input,))


# ------------------------------------------------------------------------------------- scans

def cumsum(input: Any, dim: int, *, dtype: Any = None, out: Any = None) -> Any:
    """Running sums along `dim`; integers and bools give int64."""
    _int_dim("cumsum", dim)
    return _out("cumsum", bind(CUMSUM, (input,), _attrs(dim=dim, dtype=dtype)), out, (input,))


def cumprod(input: Any, dim: int, *, dtype: Any = None, out: Any = None) -> Any:
    """Running products along `dim`; the gradient is exact with zeros present."""
    _int_dim("cumprod", dim)
    return _out("cumprod", bind(CUMPROD, (input,), _attrs(dim=dim, dtype=dtype)), out,
                (input,))


def softmax(input: Any, dim: int, dtype: Any = None) -> Any:
    """exp(x) / sum(exp(x)) along `dim`, shifted by the max so large inputs do not overflow."""
    _int_dim("softmax", dim)
    return bind(SOFTMAX, (input,), _attrs(dim=dim, dtype=dtype))


def log_softmax(input: Any, dim: int, dtype: Any = None) -> Any:
    """x - logsumexp(x) along `dim`, computed stably."""
    _int_dim("log_softmax", dim)
    return bind(LOG_SOFTMAX, (input,), _attrs(dim=dim, dtype=dtype))


class Methods:
    """`Tensor.prod`, `.amax`, ... (Tensor.max/min live in _tensor_ops and call `_extreme`)."""

    __slots__ = ()

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return prod(self, dim, keepdim, dtype=dtype)

    def amax(self, dim=(), keepdim=False): return amax(self, dim, keepdim)
    def amin(self, dim=(), keepdim=False): return amin(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return argmin(self, dim, keepdim)
    def median(self, dim=None, keepdim=False): return median(self, dim, keepdim)
    def mode(self, dim=-1, keepdim=False): return mode(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return std(self, dim, unbiased, keepdim, correction=correction)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return norm(self, p, dim, keepdim, dtype=dtype)

    def dist(self, other, p=2): return dist(self, other, p)
    def logsumexp(self, dim, keepdim=False): return logsumexp(self, dim, keepdim)
    def all(self, dim=None, keepdim=False): return all(self, dim, keepdim)
    def any(self, dim=None, keepdim=False): return any(self, dim, keepdim)
    def cumsum(self, dim, *, dtype=None): return cumsum(self, dim, dtype=dtype)
    def cumprod(self, dim, *, dtype=None): return cumprod(self, dim, dtype=dtype)

    def cumsum_(self, dim, *, dtype=None):
        _int_dim("cumsum_", dim)
        return bind_inplace(CUMSUM, (self,), _attrs(dim=dim, dtype=dtype))

    def cumprod_(self, dim, *, dtype=None):
        _int_dim("cumprod_", dim)
        return bind_inplace(CUMPROD, (self,), _attrs(dim=dim, dtype=dtype))

    def softmax(self, dim, dtype=None): return softmax(self, dim, dtype)
    def log_softmax(self, dim, dtype=None): return log_softmax(self, dim, dtype)
