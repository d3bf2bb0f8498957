"""Tensor methods and operators that are ops: each is one `bind` through the registry.

Kept apart from `tensor.py` (state, autograd API, conversions) so each file stays small. The
public functions in `ops.py` reach the same ops; operators call `bind` directly because they are
the hottest path of eager mode.
"""

from __future__ import annotations

from typing import Any

from .dispatch import bind, bind_inplace
from .ir import get
from .size import SymDim

ADD, SUB, MUL, DIV, POW = get("add"), get("sub"), get("mul"), get("div"), get("pow")
NEG, RECIPROCAL, EXP, LOG, SQRT = (get("neg"), get("reciprocal"), get("exp"), get("log"),
                                   get("sqrt"))
TANH, SIGMOID, SIN, COS, SIGN, ABS, RELU = (get("tanh"), get("sigmoid"), get("sin"), get("cos"),
                                            get("sign"), get("abs"), get("relu"))
EQ, NE, LT, LE, GT, GE = get("eq"), get("ne"), get("lt"), get("le"), get("gt"), get("ge")
SUM, MEAN, MATMUL = get("sum"), get("mean"), get("matmul")
VIEW, RESHAPE, TRANSPOSE, PERMUTE, EXPAND = (get("view"), get("reshape"), get("transpose"),
                                             get("permute"), get("expand"))
SUM_TO_SIZE, UNSQUEEZE, SQUEEZE, GETITEM = (get("sum_to_size"), get("unsqueeze"), get("squeeze"),
                                            get("getitem"))
CLONE, COPY, TO_DTYPE = get("clone"), get("copy"), get("to_dtype")
MAX, MIN, GATHER, SCATTER_ADD = get("max"), get("min"), get("gather"), get("scatter_add")
INDEX, INDEX_PUT = get("index"), get("index_put")
T_OP = get("t")


def _alpha(alpha: Any) -> dict:
    return {} if alpha == 1 else {"alpha": alpha}


def sizes(args: tuple) -> tuple:
    """`view(2, 3)` and `view((2, 3))` both mean the shape (2, 3), as in PyTorch."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for a in args:
        if a.__class__ is not int:  # the common case, plain ints, returns as it is
            return tuple(a if isinstance(a, SymDim) else int(a) for a in args)
    return args


def _dims(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, list) else dim


def normalize_index(index: Any, ndim: int) -> tuple:
    """Split a Python index into (basic, tensors, dims), as PyTorch splits it: the basic part
    (ints, slices, None, ...) is applied first as a view; then each index tensor (integer or
    bool; lists and arrays become tensors) indexes the view starting at dim `dims[i]`."""
    if index.__class__ is int:
        return (index,), (), ()
    if not isinstance(index, tuple):
        index = _sequence_as_tuple(index) if isinstance(index, list) else (index,)
    entries = [_index_entry(i) for i in index]
    used = sum(_span(e) for e in entries)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if sum(1 for e in entries if e is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    basic, tensors, dims, at = [], [], [], 0  # `at`: the dim of the basic view reached
    for e in entries:
        if e is Ellipsis or e is None or isinstance(e, (int, slice)):
            basic.append(e)
            at += ndim - used if e is Ellipsis else 0 if isinstance(e, int) else 1
        else:
            k = _span(e)
            basic.extend([slice(None)] * k)
            tensors.append(e)
            dims.append(at)
            at += k
    return tuple(basic), tuple(tensors), tuple(dims)


def _sequence_as_tuple(index: list) -> Any:
    """A list is one index tensor, unless it holds slices, None, ... or sequences (PyTorch's
    deprecated reading as a tuple)."""
    if any(i is None or i is Ellipsis or isinstance(i, (slice, list, tuple, range)) or
           hasattr(i, "_data") for i in index):
        import warnings
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated "
                      "and will be changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq].",
                      UserWarning, stacklevel=4)
        return tuple(index)
    return (index,)


def _index_entry(i: Any) -> Any:
    """One entry of an index: an int, slice, None or Ellipsis, or an index tensor."""
    if i is None or i is Ellipsis:
        return i
    if isinstance(i, slice):
        if any(hasattr(p, "_data") for p in (i.start, i.stop, i.step)):
            return slice(*(None if p is None else p.__index__()
                           for p in (i.start, i.stop, i.step)))
        return i
    if isinstance(i, bool):  # True adds a dim of 1, False an empty one: a 0-d mask
        from .creation import tensor
        return tensor(i)
    if hasattr(i, "_data"):
        if i.dim() == 0 and i._data is not None and not i._dtype.is_floating_point and \
                i._dtype.name != "bool":
            return i.__index__()  # a concrete 0-d integer tensor selects, like an int
        if i._dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return i
    if hasattr(i, "__index__"):
        return i.__index__()
    if isinstance(i, (list, tuple, range)) or hasattr(i, "__array__"):
        from .creation import tensor
        from .ir.types import int64
        # a range holds ints only, and an empty sequence selects nothing (PyTorch: int64)
        empty = isinstance(i, (list, tuple, range)) and len(i) == 0
        t = tensor(i, dtype=int64) if isinstance(i, range) or empty else tensor(i)
        if t._dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return t
    raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                     f"Variables are valid indices (got {type(i).__name__})")


def _span(e: Any) -> int:
    """How many dims of the tensor an index entry consumes."""
    if e is None or e is Ellipsis:
        return 0
    if isinstance(e, (int, slice)):
        return 1
    return e.dim() if e._dtype.name in ("bool", "uint8") else 1


def _whole(basic: tuple) -> bool:
    return all(b is Ellipsis or b == slice(None) for b in basic)


def _value_tensor(self: Any, value: Any) -> Any:
    """A value to write that is neither a tensor nor a Python number: NumPy scalars pass as
    numbers; lists and arrays become tensors of the destination's dtype."""
    import numpy as np
    if isinstance(value, np.generic):
        return value.item()
    from .creation import tensor
    return tensor(value, dtype=self._dtype, device=self._device)


def _index_tensors(self: Any, tensors: tuple) -> tuple:
    from .methods.indexing import _as_index
    return tuple(_as_index(t, self._device) for t in tensors)


class TensorOps:
    """Op methods shared by every Tensor."""

    __slots__ = ()

    # arithmetic -------------------------------------------------------------------------------
    def __add__(self, other): return bind(ADD, (self, other))
    def __radd__(self, other): return bind(ADD, (self, other))
    def __sub__(self, other): return bind(SUB, (self, other))
    def __rsub__(self, other): return bind(SUB, (other, self))
    def __mul__(self, other): return bind(MUL, (self, other))
    def __rmul__(self, other): return bind(MUL, (self, other))
    def __truediv__(self, other): return bind(DIV, (self, other))
    def __rtruediv__(self, other): return bind(MUL, (bind(RECIPROCAL, (self,)), other))
    def __pow__(self, other): return bind(POW, (self, other))
    def __rpow__(self, other): return bind(POW, (other, self))
    def __neg__(self): return bind(NEG, (self,))
    def __pos__(self): return self
    def __abs__(self): return bind(ABS, (self,))
    def __matmul__(self, other): return bind(MATMUL, (self, other))
    def __rmatmul__(self, other): return bind(MATMUL, (other, self))
    def __iadd__(self, other): return bind_inplace(ADD, (self, other))
    def __isub__(self, other): return bind_inplace(SUB, (self, other))
    def __imul__(self, other): return bind_inplace(MUL, (self, other))
    def __itruediv__(self, other): return bind_inplace(DIV, (self, other))
    def __eq__(self, other): return bind(EQ, (self, other))  # type: ignore[override]
    def __ne__(self, other): return bind(NE, (self, other))  # type: ignore[override]
    def __lt__(self, other): return bind(LT, (self, other))
    def __le__(self, other): return bind(LE, (self, other))
    def __gt__(self, other): return bind(GT, (self, other))
    def __ge__(self, other): return bind(GE, (self, other))

    def add(self, other, *, alpha=1): return bind(ADD, (self, other), _alpha(alpha))
    def sub(self, other, *, alpha=1): return bind(SUB, (self, other), _alpha(alpha))
    def mul(self, other): return bind(MUL, (self, other))
    def div(self, other, *, rounding_mode=None):
        return bind(DIV, (self, other), {} if rounding_mode is None else
                    {"rounding_mode": rounding_mode})

    def pow(self, exponent): return bind(POW, (self, exponent))
    def add_(self, other, *, alpha=1): return bind_inplace(ADD, (self, other), _alpha(alpha))
    def sub_(self, other, *, alpha=1): return bind_inplace(SUB, (self, other), _alpha(alpha))
    def mul_(self, other): return bind_inplace(MUL, (self, other))
    def div_(self, other, *, rounding_mode=None):
        return bind_inplace(DIV, (self, other), {} if rounding_mode is None else
                            {"rounding_mode": rounding_mode})

    def pow_(self, exponent): return bind_inplace(POW, (self, exponent))
    subtract, multiply, divide, true_divide = sub, mul, div, div

    # unary math -------------------------------------------------------------------------------
    def neg(self): return bind(NEG, (self,))
    def reciprocal(self): return bind(RECIPROCAL, (self,))
    def exp(self): return bind(EXP, (self,))
    def log(self): return bind(LOG, (self,))
    def sqrt(self): return bind(SQRT, (self,))
    def tanh(self): return bind(TANH, (self,))
    def sigmoid(self): return bind(SIGMOID, (self,))
    def sin(self): return bind(SIN, (self,))
    def cos(self): return bind(COS, (self,))
    def sign(self): return bind(SIGN, (self,))
    def abs(self): return bind(ABS, (self,))
    def relu(self): return bind(RELU, (self,))
    def neg_(self): return bind_inplace(NEG, (self,))
    def exp_(self): return bind_inplace(EXP, (self,))
    def log_(self): return bind_inplace(LOG, (self,))
    def sqrt_(self): return bind_inplace(SQRT, (self,))
    def tanh_(self): return bind_inplace(TANH, (self,))
    def sigmoid_(self): return bind_inplace(SIGMOID, (self,))
    def relu_(self): return bind_inplace(RELU, (self,))
    def abs_(self): return bind_inplace(ABS, (self,))
    def sin_(self): return bind_inplace(SIN, (self,))
    def cos_(self): return bind_inplace(COS, (self,))
    def reciprocal_(self): return bind_inplace(RECIPROCAL, (self,))
    def sign_(self): return bind_inplace(SIGN, (self,))

    def equal(self, other):
        """True if both have the same shape and elements (a Python bool, as torch.equal)."""
        return tuple(self.shape) == tuple(other.shape) and bool((self == other).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True if |self - other| <= atol + rtol * |other| everywhere (torch.allclose)."""
        import numpy as np
        return bool(np.allclose(self._host(), other._host() if hasattr(other, "_host")
                                else other, rtol=rtol, atol=atol, equal_nan=equal_nan))
    negative = neg

    # comparisons ------------------------------------------------------------------------------
    def eq(self, other): return bind(EQ, (self, other))
    def ne(self, other): return bind(NE, (self, other))
    def lt(self, other): return bind(LT, (self, other))
    def le(self, other): return bind(LE, (self, other))
    def gt(self, other): return bind(GT, (self, other))
    def ge(self, other): return bind(GE, (self, other))

    # reductions and linear algebra ------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        return bind(SUM, (self,), _reduce_attrs(dim, keepdim, dtype))

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        return bind(MEAN, (self,), _reduce_attrs(dim, keepdim, dtype))

    def max(self, dim=None, keepdim=False, *, other=None):
        """The largest element; (values, indices) along `dim`; or the elementwise maximum with
        a tensor `other` (`x.max(y)`), as PyTorch's three overloads."""
        from .methods.statistics import _extreme
        return _extreme("max", self, dim, keepdim, other)

    def min(self, dim=None, keepdim=False, *, other=None):
        """The smallest element; (values, indices) along `dim`; or the elementwise minimum."""
        from .methods.statistics import _extreme
        return _extreme("min", self, dim, keepdim, other)

    def gather(self, dim, index): return bind(GATHER, (self, index), {"dim": dim})

    def scatter_add(self, dim, index, src):
        return bind(SCATTER_ADD, (self, index, src), {"dim": dim})

    def matmul(self, other): return bind(MATMUL, (self, other))

    def mm(self, mat2):
        if self.dim() != 2 or mat2.dim() != 2:
            raise RuntimeError(f"mm(): expected 2-D tensors, got {self.dim()}-D and "
                               f"{mat2.dim()}-D")
        return bind(MATMUL, (self, mat2))

    # shapes and views -------------------------------------------------------------------------
    def view(self, *shape): return bind(VIEW, (self,), {"shape": sizes(shape)})
    def reshape(self, *shape): return bind(RESHAPE, (self,), {"shape": sizes(shape)})
    def view_as(self, other): return self.view(other.shape)
    def reshape_as(self, other): return self.reshape(other.shape)
    def flatten(self, start_dim=0, end_dim=-1):
        """Dims start_dim..end_dim merged into one (a view when possible; self if none merge)."""
        from .ir.meta import normalize_dim
        n = self.dim()
        if n == 0:
            return bind(RESHAPE, (self,), {"shape": (1,)})
        start = normalize_dim("flatten", start_dim, n)
        end = normalize_dim("flatten", end_dim, n)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if start == end:
            return self
        shape = tuple(self.shape)
        return bind(RESHAPE, (self,), {"shape": shape[:start] + (-1,) + shape[end + 1:]})

    def transpose(self, dim0, dim1):
        return bind(TRANSPOSE, (self,), {"dim0": dim0, "dim1": dim1})

    def t(self):
        if self.dim() > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.dim()}D")
        return bind(T_OP, (self,), {})  # a new view at any rank, as PyTorch's (TBackward0)

    @property
    def T(self):
        n = self.dim()
        return self if n < 2 else bind(PERMUTE, (self,), {"dims": tuple(range(n - 1, -1, -1))})

    @property
    def mT(self):
        if self.dim() < 2:
            raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self.dim()}-D tensor.")
        return bind(TRANSPOSE, (self,), {"dim0": -2, "dim1": -1})

    def permute(self, *dims): return bind(PERMUTE, (self,), {"dims": sizes(dims)})
    def expand(self, *size): return bind(EXPAND, (self,), {"size": sizes(size)})
    def expand_as(self, other): return self.expand(other.shape)
    def sum_to_size(self, *size): return bind(SUM_TO_SIZE, (self,), {"size": sizes(size)})
    def unsqueeze(self, dim): return bind(UNSQUEEZE, (self,), {"dim": dim})

    def squeeze(self, dim=None):
        return bind(SQUEEZE, (self,), {} if dim is None else {"dim": _dims(dim)})

    def __getitem__(self, index):
        basic, tensors, dims = normalize_index(index, self.dim())
        if not tensors:
            return bind(GETITEM, (self,), {"index": basic})
        view = self if _whole(basic) else bind(GETITEM, (self,), {"index": basic})
        return bind(INDEX, (view, *_index_tensors(self, tensors)), {"dims": dims})

    def __setitem__(self, index, value):
        basic, tensors, dims = normalize_index(index, self.dim())
        if not hasattr(value, "_data") and not isinstance(value, (bool, int, float)):
            value = _value_tensor(self, value)
        if not tensors:
            bind_inplace(COPY, (bind(GETITEM, (self,), {"index": basic}), value))
            return
        tensors = _index_tensors(self, tensors)
        view = self if _whole(basic) else bind(GETITEM, (self,), {"index": basic})
        if hasattr(value, "_data") and value._dtype is not self._dtype and value.dim() == 0 \
                and len(tensors) == 1 and tensors[0]._dtype.name == "bool":
            value = value.to(self._dtype)  # x[mask] = 0-d tensor fills, as PyTorch
        bind_inplace(INDEX_PUT, (view, value, *tensors), {"dims": dims, "accumulate": False})

    # copies -----------------------------------------------------------------------------------
    def clone(self): return bind(CLONE, (self,))
    def contiguous(self): return self if self._data.flags.c_contiguous else bind(CLONE, (self,))
    def copy_(self, src, non_blocking=False): return bind_inplace(COPY, (self, src))
    def _cast(self, dtype): return bind(TO_DTYPE, (self,), {"dtype": dtype})


def _reduce_attrs(dim: Any, keepdim: bool, dtype: Any) -> dict:
    attrs = {}
    if dim is not None:
        attrs["dim"] = _dims(dim)
    if keepdim:
        attrs["keepdim"] = True
    if dtype is not None:
        attrs["dtype"] = dtype
    return attrs
