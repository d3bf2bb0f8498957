"""Index-driven data movement along a dim: `gather` and `scatter_add` (each the other's VJP)."""

from __future__ import annotations

import numpy as np

from .. import meta
from ..registry import OPAQUE, OpDef, OpError, Sample, register
from ..types import int64


def _check_index(op_name: str):
    def rule(operands, attrs):
        x, index = operands[0], operands[1]
        if index.dtype is not int64:
            raise OpError(f"{op_name}(): Expected dtype int64 for index, got {index.dtype}")
        ndim = len(x.shape)
        meta.normalize_dim(op_name, attrs["dim"], ndim)
        if len(index.shape) != ndim:
            raise OpError(f"{op_name}(): Index tensor must have the same number of dimensions "
                          f"as input tensor ({len(index.shape)} vs {ndim})")
        return x.dtype, x.dtype
    return rule


def _gather_ref(x, index, dim):
    return np.take_along_axis(x, index, axis=dim)


def _scatter_add_ref(x, index, src, dim):
    out = np.array(x, copy=True)
    for pos in np.ndindex(index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] += src[pos]
    return out


def _index_samples(rng):
    x = rng.normal(size=(3, 4))
    return [Sample((x, rng.integers(0, 3, size=(2, 4))), {"dim": 0}),
            Sample((x, rng.integers(0, 4, size=(3, 2))), {"dim": 1}),
            Sample((x, rng.integers(0, 4, size=(3, 2))), {"dim": -1})]


GATHER = register(OpDef(
    name="gather", inputs=("input", "index"), attrs={"dim": 0}, kind=OPAQUE,
    dtype_rule=_check_index("gather"), shape_rule=lambda ops, attrs: tuple(ops[1].shape),
    vjp=lambda ctx, g: (ctx.bind("scatter_add", (g.new_zeros(ctx.shapes[0]), ctx.inputs[1], g),
                                 {"dim": ctx.attrs["dim"]}), None),
    save_inputs=(1,), index_inputs=(1,), samples=_index_samples, ref=_gather_ref))


def _scatter_add_samples(rng):
    return [Sample((rng.normal(size=(3, 4)), rng.integers(0, 3, size=(2, 4)),
                    rng.normal(size=(2, 4))), {"dim": 0}),
            Sample((rng.normal(size=(3, 4)), rng.integers(0, 4, size=(3, 5)),
                    rng.normal(size=(3, 5))), {"dim": 1})]


SCATTER_ADD = register(OpDef(
    name="scatter_add", inputs=("self", "index", "src"), attrs={"dim": 0}, kind=OPAQUE,
    dtype_rule=_check_index("scatter_add"), shape_rule=meta.first_shape,
    vjp=lambda ctx, g: (g, None, g.gather(ctx.attrs["dim"], ctx.inputs[1])),
    save_inputs=(1,), index_inputs=(1,), samples=_scatter_add_samples, ref=_scatter_add_ref))
