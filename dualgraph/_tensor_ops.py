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


def _alpha(alpha: Any) -> dict:
    return {} if alpha == 1 else {"alpha": alpha}


def sizes(args: tuple) -> tuple:
    """`view(2, 3)` and `view((2, 3))` both mean the shape (2, 3), as in PyTorch."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(a if isinstance(a, SymDim) else int(a) for a in args)


def _dims(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, list) else dim


def normalize_index(index: Any) -> tuple:
    """Turn a Python index into a tuple of ints, slices, None and Ellipsis (basic indexing)."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if i is None or i is Ellipsis or isinstance(i, slice) and not any(
                hasattr(p, "_data") for p in (i.start, i.stop, i.step)):
            out.append(i)
        elif isinstance(i, slice):
            out.append(slice(*(None if p is None else p.__index__()
                               for p in (i.start, i.stop, i.step))))
        elif isinstance(i, bool):
            raise IndexError("indexing with a Python bool is not supported; use a bool tensor "
                             "mask with the tensor API")
        elif hasattr(i, "__index__") and (not hasattr(i, "_data") or i.dim() == 0):
            out.append(i.__index__())
        else:
            raise IndexError(
                f"only integers, slices (`:`), ellipsis (`...`), None and 0-dim integer tensors "
                f"are valid indices here, got {type(i).__name__}; advanced indexing with lists "
                f"and tensors is part of the full tensor API")
    return tuple(out)


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
    def div(self, other): return bind(DIV, (self, other))
    def pow(self, exponent): return bind(POW, (self, exponent))
    def add_(self, other, *, alpha=1): return bind_inplace(ADD, (self, other), _alpha(alpha))
    def sub_(self, other, *, alpha=1): return bind_inplace(SUB, (self, other), _alpha(alpha))
    def mul_(self, other): return bind_inplace(MUL, (self, other))
    def div_(self, other): return bind_inplace(DIV, (self, other))
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

    def max(self, dim=None, keepdim=False):
        """The largest element, or (values, indices) along `dim`."""
        from . import return_types
        if dim is None:
            return bind(MAX, (bind(RESHAPE, (self,), {"shape": (-1,)}),), {"dim": 0})[0]
        return return_types.max(*bind(MAX, (self,), {"dim": dim, "keepdim": keepdim}))

    def min(self, dim=None, keepdim=False):
        """The smallest element, or (values, indices) along `dim`."""
        from . import return_types
        if dim is None:
            return bind(MIN, (bind(RESHAPE, (self,), {"shape": (-1,)}),), {"dim": 0})[0]
        return return_types.min(*bind(MIN, (self,), {"dim": dim, "keepdim": keepdim}))

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
    def flatten(self): return bind(RESHAPE, (self,), {"shape": (-1,)})

    def transpose(self, dim0, dim1):
        return bind(TRANSPOSE, (self,), {"dim0": dim0, "dim1": dim1})

    def t(self):
        if self.dim() > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.dim()}D")
        return self if self.dim() < 2 else bind(TRANSPOSE, (self,), {"dim0": 0, "dim1": 1})

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
        return bind(GETITEM, (self,), {"index": normalize_index(index)})

    def __setitem__(self, index, value):
        view = bind(GETITEM, (self,), {"index": normalize_index(index)})
        bind_inplace(COPY, (view, value))

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
