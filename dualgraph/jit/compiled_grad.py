"""Autograd through compiled graphs: the forward graph saves residuals, and the outputs'
`grad_fn` runs the compiled backward graph (both from the `autodiff` pass), so `loss.backward()`
in an eager loop reaches the parameters a scripted or traced function used.

PyTorch names this node `DifferentiableGraphBackward`; so do we. Under `dg.no_grad()` (or when
no input requires grad) the plain forward runs and nothing is saved.

Residuals may alias the call's inputs and outputs (the input array itself, a view of it, an
output the backward reads), so each such tensor's version is recorded at forward time with eager
autograd's own `save_tensor` / `SavedOutput`, and checked before the backward runs: an in-place
change in between raises PyTorch's "modified by an inplace operation" error, as eager does,
instead of giving wrong gradients. Tensors the backward does not read are not checked.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

from .. import recording
from ..autograd.graph import Node, SavedOutput, _seq, gradient_edge, save_tensor, unpack_saved
from ..autograd.grad_mode import state as grad_state
from ..runtime import backend_for
from ..tensor import Tensor, _wrap
from .codegen import compile_graph, instrumented


class CompiledGradient:
    """The forward-with-residuals and backward functions of one graph, for one set of inputs
    that require grad, compiled per device."""

    def __init__(self, graph: Any, wrt: Sequence[bool], name: str, opt_level: int = 3,
                 memory_budget: Any = None) -> None:
        from dualgraph.passes.autodiff import differentiate  # late: passes import jit
        from dualgraph.passes.manager import optimize
        from dualgraph.passes.recompute import recompute_under_budget
        self.gradient = g = differentiate(graph, wrt)
        # under a budget, cheap residuals are recomputed in the backward instead of saved
        self.budget = None if memory_budget is None else recompute_under_budget(g, memory_budget)
        if self.budget is not None and not self.budget.fits:
            warnings.warn(f"{name}: memory_budget={memory_budget}: recomputing every cheap "
                          f"residual leaves {self.budget.after} residual bytes, over the budget "
                          f"of {self.budget.budget}; see f.memory_plan(backward=True)",
                          RuntimeWarning, stacklevel=4)
        # both graphs go through the same pipeline as the forward graph did
        g.forward = optimize(g.forward, opt_level)[0]
        g.backward = optimize(g.backward, opt_level)[0]
        self.name = name
        self._compiled: dict = {}
        self.reads = _residuals_read(g.backward, len(g.grad_outputs))
        self.keeps = [r or any(isinstance(d, str) for d in getattr(v.type, "shape", ()))
                      for r, v in zip(self.reads, g.backward.inputs[len(g.grad_outputs):])]

    def functions(self, device: Any) -> tuple:
        entry = self._compiled.get(device)
        if entry is None:
            backend = backend_for(device)
            g = self.gradient
            entry = self._compiled[device] = (
                compile_graph(g.forward, backend, self.name, _plan(g.forward))[0],
                compile_graph(g.backward, backend, f"{self.name}_backward",
                              _plan(g.backward))[0])
        return entry

    def __call__(self, tensors: list) -> list:
        """Run forward, return output tensors whose grad_fn runs the backward graph."""
        g = self.gradient
        device = tensors[0]._device if tensors else None
        forward, backward = self.functions(device)
        if recording.ACTIVE is not None:  # profiling: each kernel reports itself
            forward = instrumented(forward)
        arrays = forward(*(t._data for t in tensors))
        outs = [_wrap(a, v.type.dtype, v.type.device)
                for a, v in zip(arrays[:g.n_outputs], g.forward.outputs)]
        node = object.__new__(DifferentiableGraphBackward)
        node._next = tuple(gradient_edge(tensors[i]) for i in g.wrt)
        node._seq = next(_seq)
        node._pre_hooks = node._post_hooks = None
        node._backward = backward
        # a residual the backward graph never reads is dropped now (not kept, not checked),
        # unless the generated code binds a symbolic size from its shape (kept, not checked)
        residuals = arrays[g.n_outputs:]
        node._saved = [a if k else None for a, k in zip(residuals, self.keeps)]
        saved = [a for a, r in zip(residuals, self.reads) if r]
        node._out_meta = [(outs[i]._data.shape, outs[i]._dtype, outs[i]._device)
                          for i in g.grad_outputs]
        node._in_meta = [(v.type.dtype, v.type.device) for v in g.backward.outputs]
        for nr, i in enumerate(g.grad_outputs):
            t = outs[i]
            t._requires_grad, t._grad_fn, t._output_nr = True, node, nr
        node._checks = _aliased(saved, tensors, outs)
        return outs


class DifferentiableGraphBackward(Node):
    """Runs a compiled backward graph on the incoming gradients and the saved residuals."""

    __slots__ = ("_backward", "_saved", "_out_meta", "_in_meta", "_checks")

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
        for check in self._checks:  # raises if a tensor the residuals alias changed in place
            check.unpack(self) if check.__class__ is SavedOutput else unpack_saved(check, self)
        grads = list(grads) + [None] * (len(self._out_meta) - len(grads))
        arrays = []
        for g, (shape, dtype, device) in zip(grads, self._out_meta):
            if g is None:
                arrays.append(backend_for(device).xp.zeros(shape, dtype.np))
            else:
                data = g._data
                arrays.append(data if data.dtype == dtype.np else data.astype(dtype.np))
        backward = self._backward if recording.ACTIVE is None else instrumented(self._backward)
        results = backward(*arrays, *self._saved)
        return [_wrap(a, dtype, device) for a, (dtype, device) in zip(results, self._in_meta)]

    def release(self) -> None:
        self._saved = None
        self._checks = ()


def _plan(graph: Any) -> Any:
    from dualgraph.passes.memory import plan_of  # late: passes import jit
    return plan_of(graph)


def _residuals_read(backward: Any, n_grads: int) -> list:
    """Per residual input of the backward graph: whether any node, block or output reads it."""
    read = {id(v) for v in backward.outputs}
    for node in backward.all_nodes():
        read.update(id(x) for x in node.inputs)
        for block in node.blocks:
            read.update(id(y) for y in block.outputs)
    return [id(v) in read for v in backward.inputs[n_grads:]]


def _owner(a: Any) -> Any:
    """The array that owns a's memory (a itself, or the base its view chain ends in)."""
    base = getattr(a, "base", None)
    while base is not None and hasattr(base, "shape"):
        a, base = base, getattr(base, "base", None)
    return a


def _aliased(saved: list, tensors: list, outs: list) -> tuple:
    """What the backward reads that the user can reach: for each input tensor and each output
    whose memory a residual shares (the array itself or a view of it, also inside residual
    lists), a version record — `save_tensor` for inputs, `SavedOutput` for outputs (it keeps
    no reference to the output, so no cycle through grad_fn)."""
    owners: set = set()
    stack = list(saved)
    while stack:
        a = stack.pop()
        if isinstance(a, (list, tuple)):
            stack.extend(a)
        elif hasattr(a, "shape"):
            owners.add(id(_owner(a)))
    if not owners:
        return ()
    checks: list = []
    seen: set = set()
    for t in tensors:
        if isinstance(t, Tensor) and id(t) not in seen and id(_owner(t._data)) in owners:
            seen.add(id(t))
            checks.append(save_tensor(t))
    for nr, t in enumerate(outs):
        if id(_owner(t._data)) in owners:
            checks.append(SavedOutput(t, t._output_nr if t._grad_fn is not None else nr))
    return tuple(checks)


def wants_grad(tensors: list) -> list:
    return [isinstance(t, Tensor) and t._requires_grad and t._dtype.is_floating_point
            for t in tensors]
