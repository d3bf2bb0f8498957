"""A custom `autograd.Function` inside a captured graph: the live side of `python_function`.

While tracing (or scripting), `Function.apply` reaches the tracer's `python_function`, which
runs `forward` once on symbolic tensors of a scratch graph to learn the output types, registers
a `LiveCall` under a fresh key in `ir.ops.python.CALLS`, and records one `python_function` node.
When the graph runs, the node's kernel calls `LiveCall.forward`: the Function's own `forward`
on the arrays (grad mode off), keeping that run's `ctx` under a token the node outputs; graph
autodiff gives the node a `python_function_backward`, whose kernel calls the Function's own
`backward` with that `ctx`. The `ctx` lives as long as the token (a residual of the compiled
backward): a run whose gradient is never asked for frees it with its outputs.

Differences from eager, all because the graph is compiled once for every call:
`ctx.needs_input_grad` is True for every floating-point tensor input, every floating output is
differentiable (marking it non-differentiable keeps its gradient out of `backward` only), and
output gradients reach `backward` materialized (zeros) whatever `set_materialize_grads` says.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

from ..autograd.function import new_ctx, run_forward
from ..autograd.graph import save_tensor
from ..ir.types import CPU, Device, dtype_from_numpy
from ..tensor import Tensor, _wrap

keys = itertools.count(1)


def _device_of(array: Any) -> Device:
    dev = getattr(array, "device", None)
    return CPU if dev is None or isinstance(dev, str) else Device("cuda", int(dev.id))


def _tensor(array: Any) -> Tensor:
    return _wrap(array, dtype_from_numpy(array.dtype), _device_of(array))


class LiveCall:
    """One traced call of a Function: the class, the non-tensor arguments, the output types the
    trace saw, and the `ctx` of each run whose token is still alive."""

    def __init__(self, cls: type, args: tuple, positions: tuple, kwargs: dict,
                 out_types: list) -> None:
        self.cls, self.args, self.positions, self.kwargs = cls, args, positions, kwargs
        self.out_types = out_types  # (dtype, rank) of each tensor output
        self.live: dict[int, Any] = {}
        self._tokens = itertools.count()

    @property
    def name(self) -> str:
        return self.cls.__qualname__

    def forward(self, xp: Any, arrays: tuple) -> tuple:
        args = list(self.args)
        for p, a in zip(self.positions, arrays):
            args[p] = _tensor(a)
        is_tensor = tuple(isinstance(a, Tensor) for a in args)
        needs = tuple(t and a._dtype.is_floating_point for a, t in zip(args, is_tensor))
        ctx = new_ctx(self.cls, needs)
        out = run_forward(self.cls, ctx, tuple(args), self.kwargs)
        outs = [o for o in (out if isinstance(out, tuple) else (out,)) if isinstance(o, Tensor)]
        got = [(o._dtype, o.dim()) for o in outs]
        if got != [(d, len(s)) for d, s in self.out_types]:
            raise RuntimeError(f"{self.name}.forward returned tensors of (dtype, rank) {got} when "
                               f"the graph runs, but {[(d, len(s)) for d, s in self.out_types]} "
                               "when it was traced: a traced Function must return the same "
                               "kinds of tensors on every call")
        ctx._is_tensor = is_tensor
        ctx._in_meta = tuple((tuple(a.shape), a._dtype, a._device) if t else None
                             for a, t in zip(args, is_tensor))
        ctx._out_meta = tuple((tuple(o.shape), o._dtype, o._device) for o in outs)
        ctx._saved = tuple(None if t is None else save_tensor(t) for t in ctx.to_save)
        ctx.to_save = ()
        key = next(self._tokens)
        token = xp.asarray(key, dtype=xp.int64)
        self.live[key] = ctx
        weakref.finalize(token, self.live.pop, key, None)
        return (token, *(o._data for o in outs))

    def backward(self, xp: Any, token: Any, grads: tuple, present: tuple) -> tuple:
        ctx = self.live.get(int(token))
        if ctx is None:
            raise RuntimeError(f"{self.name}: the forward run this gradient belongs to is gone")
        given = iter(grads)
        gs = [_tensor(next(given)) if p else None for p in present]
        materialize = ctx.materialize_grads
        ctx.materialize_grads = True  # non-floating outputs get zeros, as in eager
        try:
            result = ctx._run(gs)
        finally:
            ctx.materialize_grads = materialize
        return tuple(g._data if g is not None else xp.zeros(meta[0], meta[1].np)
                     for t, g, meta in zip(ctx._is_tensor, result, ctx._in_meta) if t)
