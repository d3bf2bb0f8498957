"""Autograd through compiled graphs: the forward graph saves residuals, and the outputs'
`grad_fn` runs the compiled backward graph (both from the `autodiff` pass), so `loss.backward()`
in an eager loop reaches the parameters a scripted or traced function used.

PyTorch names this node `DifferentiableGraphBackward`; so do we. Under `dg.no_grad()` (or when
no input requires grad) the plain forward runs and nothing is saved.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..autograd.graph import Node, _seq, gradient_edge
from ..autograd.grad_mode import state as grad_state
from ..backends import backend_for
from ..tensor import Tensor, _wrap
from .codegen import compile_graph


class CompiledGradient:
    """The forward-with-residuals and backward functions of one graph, for one set of inputs
    that require grad, compiled per device."""

    def __init__(self, graph: Any, wrt: Sequence[bool], name: str, opt_level: int = 3) -> None:
        from dualgraph.passes.autodiff import differentiate  # late: passes import jit
        from dualgraph.passes.manager import optimize
        self.gradient = differentiate(graph, wrt)
        # both graphs go through the same pipeline as the forward graph did
        self.gradient.forward = optimize(self.gradient.forward, opt_level)[0]
        self.gradient.backward = optimize(self.gradient.backward, opt_level)[0]
        self.name = name
        self._compiled: dict = {}

    def functions(self, device: Any) -> tuple:
        entry = self._compiled.get(device)
        if entry is None:
            backend = backend_for(device)
            g = self.gradient
            entry = self._compiled[device] = (
                compile_graph(g.forward, backend, self.name)[0],
                compile_graph(g.backward, backend, f"{self.name}_backward")[0])
        return entry

    def __call__(self, tensors: list) -> list:
        """Run forward, return output tensors whose grad_fn runs the backward graph."""
        g = self.gradient
        device = tensors[0]._device if tensors else None
        forward, backward = self.functions(device)
        arrays = forward(*(t._data for t in tensors))
        outs = [_wrap(a, v.type.dtype, v.type.device)
                for a, v in zip(arrays[:g.n_outputs], g.forward.outputs)]
        node = object.__new__(DifferentiableGraphBackward)
        node._next = tuple(gradient_edge(tensors[i]) for i in g.wrt)
        node._seq = next(_seq)
        node._pre_hooks = node._post_hooks = None
        node._backward = backward
        node._saved = list(arrays[g.n_outputs:])
        node._out_meta = [(outs[i]._data.shape, outs[i]._dtype, outs[i]._device)
                          for i in g.grad_outputs]
        node._in_meta = [(v.type.dtype, v.type.device) for v in g.backward.outputs]
        for nr, i in enumerate(g.grad_outputs):
            t = outs[i]
            t._requires_grad, t._grad_fn, t._output_nr = True, node, nr
        return outs


class DifferentiableGraphBackward(Node):
    """Runs a compiled backward graph on the incoming gradients and the saved residuals."""

    __slots__ = ("_backward", "_saved", "_out_meta", "_in_meta")

    def apply(self, grads: list) -> Sequence:
        if self._saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed) in DifferentiableGraphBackward. "
                "Specify retain_graph=True if you need to backward through the graph a second "
                "time.")
        if grad_state.enabled:
            raise RuntimeError("double backward (create_graph=True) through a compiled function "
                               "is not supported: differentiate the Python function eagerly")
        grads = list(grads) + [None] * (len(self._out_meta) - len(grads))
        arrays = []
        for g, (shape, dtype, device) in zip(grads, self._out_meta):
            if g is None:
                arrays.append(backend_for(device).xp.zeros(shape, dtype.np))
            else:
                data = g._data
                arrays.append(data if data.dtype == dtype.np else data.astype(dtype.np))
        results = self._backward(*arrays, *self._saved)
        return [_wrap(a, dtype, device) for a, (dtype, device) in zip(results, self._in_meta)]

    def release(self) -> None:
        self._saved = None


def wants_grad(tensors: list) -> list:
    return [isinstance(t, Tensor) and t._requires_grad and t._dtype.is_floating_point
            for t in tensors]
