"""The eager autograd graph: tape nodes, saved tensors, and how in-place ops rewire history.

A node is recorded per op call whose inputs require grad. Its class is named as PyTorch names it
(`AddBackward0`), its `apply` runs the op's VJP rule from `ir` — the same rule graph autodiff runs —
and `vjp.fit_grads` brings each input gradient to the input's shape and dtype.

In-place ops follow PyTorch: writing into a tensor bumps its version counter (shared with its views
and detached aliases), so a saved tensor changed since it was saved raises instead of giving a wrong
gradient; writing into a view rewires its base's history through a `CopySlices` node.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any, Callable, Sequence

from ..runtime import backend_for
from ..runtime.kernels.common import quiet_call
from ..dispatch import bind
from ..ir.registry import OpDef
from ..tensor import Tensor, VersionCounter, _wrap
from .grad_mode import state as grad_state
from .saved_hooks import SavedPacked, saved_tensors_hooks
from .vjp import Ctx, fit_grads

_seq = itertools.count()
_FIRST = 1 << 62  # added to an AccumulateGrad's sequence number: the engine runs it first
NO_EDGE = (None, 0)
_LEGACY = {"float16": "HalfTensor", "bfloat16": "BFloat16Tensor", "float32": "FloatTensor", "float64": "DoubleTensor",
           "int8": "CharTensor", "int16": "ShortTensor", "int32": "IntTensor",
           "int64": "LongTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


class Node:
    """A node of the backward graph (PyTorch's `torch.autograd.graph.Node`)."""

    __slots__ = ("_next", "_seq", "_pre_hooks", "_post_hooks", "__weakref__")

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        return self._next

    def register_hook(self, fn: Callable) -> "RemovableHandle":
        """`fn(grad_inputs, grad_outputs)` after this node ran; may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        return RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn: Callable) -> "RemovableHandle":
        """`fn(grad_outputs)` before this node runs; may return new grad_outputs."""
        hooks = self._hooks_for(-1)
        hooks.append(fn)
        return RemovableHandle(hooks, fn)

    def _hooks_for(self, output_nr: int) -> list:
        if self._pre_hooks is None:
            self._pre_hooks = {}
        return self._pre_hooks.setdefault(output_nr, [])

    def apply(self, grads: list) -> Sequence:
        raise TypeError(f"{self.name()} cannot be applied")

    def release(self) -> None:
        """Drop saved tensors after backward (unless retain_graph)."""

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def __call__(self, *grads: Any) -> Any:
        out = self.apply(list(grads))
        return out[0] if len(out) == 1 else tuple(out)


class RemovableHandle:
    """Returned by hook registration; `remove()` unregisters the hook."""

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


_INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`.")


def save_tensor(t: Tensor) -> tuple:
    """A tensor saved for backward, as (tensor, its version at save time)."""
    v = t._version
    if v is None:
        v = t._version = VersionCounter()
    elif v.__class__ is not VersionCounter:
        raise RuntimeError(_INFERENCE_SAVED)
    return (t, v.value)


def unpack_saved(saved: tuple, node: "Node") -> Tensor:
    t, version = saved
    if t._version.value != version:
        raise _modified_error(t, node, version)
    return t


def save_input(t: Tensor) -> Any:
    """An input tensor saved for backward: through the innermost `saved_tensors_hooks` when
    there are any, else with its version (`save_tensor`)."""
    hooks = grad_state.saved_hooks
    return save_tensor(t) if hooks is None else _packed(t, hooks)


def save_output(t: Tensor, nr: int = 0) -> Any:
    """A node's own output saved for backward: a `SavedOutput`, or packed by the hooks."""
    hooks = grad_state.saved_hooks
    return SavedOutput(t, nr) if hooks is None else SavedPacked(t, hooks, None, True, nr)


def _packed(t: Tensor, hooks: tuple) -> SavedPacked:
    edge = gradient_edge(t) if t._requires_grad else NO_EDGE
    return SavedPacked(t, hooks, edge[0] if isinstance(edge[0], AccumulateGrad) else None)


def unpack_any(s: Any, node: "Node") -> Any:
    """A saved record back as the tensor (version-checked unless hooks stored it); other
    entries (Python scalars, None) as they are."""
    if s.__class__ is tuple:
        return unpack_saved(s, node)
    if s.__class__ is SavedPacked or s.__class__ is SavedOutput:
        return s.unpack(node)
    return s


class SavedOutput:
    """A node's own output, kept without a reference cycle: re-made with `grad_fn=node`."""

    __slots__ = ("data", "dtype", "device", "counter", "version", "nr")

    def __init__(self, t: Tensor, nr: int = 0) -> None:
        self.data, self.dtype, self.device = t._data, t._dtype, t._device
        self.counter = t._version_counter()
        self.version = self.counter.value
        self.nr = nr

    def unpack(self, node: Node) -> Tensor:
        t = _wrap(self.data, self.dtype, self.device)
        t._version = self.counter
        if self.dtype.is_floating_point:
            t._grad_fn, t._output_nr, t._requires_grad = node, self.nr, True
        if self.counter.value != self.version:
            raise _modified_error(t, node, self.version)
        return t


def _modified_error(t: Tensor, node: Node, saved_version: int) -> RuntimeError:
    what = (f"output {t._output_nr} of {t._grad_fn.name()}" if t._grad_fn is not None
            else "a leaf or a tensor that does not require grad")
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [torch.{_LEGACY[t._dtype.name]} {list(t._data.shape)}], which is {what}, "
        f"is at version {t._version.value}; expected version {saved_version} instead "
        f"(needed by {node.name()}). Hint: clone() the tensor before changing it in place, or do "
        "the change out of place.")


class OpNode(Node):
    """The backward of one op call; subclassed per PyTorch name (`MulBackward0`)."""

    __slots__ = ("_op", "_attrs", "_saved", "_out", "_in_meta", "_released", "_out_meta")

    def apply(self, grads: list) -> Sequence:
        if self._out_meta is not None:
            return self._apply_multi(grads)
        g = grads[0]
        if g is None:
            return [None] * len(self._next)
        ctx = self._ctx()
        # the rule's own arithmetic (0 * inf where a `where` masks it) is as silent as PyTorch's
        return fit_grads(quiet_call(self._op.vjp, ctx, g), ctx)

    def _apply_multi(self, grads: list) -> Sequence:
        """An op of several outputs: the rule gets one gradient per output, zeros where none
        arrived (float outputs) and None for outputs that cannot have one (indices)."""
        grads = list(grads) + [None] * (len(self._out_meta) - len(grads))
        if all(g is None for g in grads):
            return [None] * len(self._next)
        full = []
        for g, (shape, dtype, device) in zip(grads, self._out_meta):
            if g is None and dtype.is_floating_point:
                g = _wrap(backend_for(device).xp.zeros(shape, dtype.np), dtype, device)
            full.append(g)
        ctx = self._ctx()
        return fit_grads(quiet_call(self._op.vjp, ctx, tuple(full)), ctx)

    def _ctx(self) -> Ctx:
        op = self._op
        if self._released and (op.save_inputs or op.save_output):
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or directly access saved "
                f"tensors after they have already been freed) in {self.name()}. Saved intermediate "
                "values of the graph are freed when you call .backward() or autograd.grad(). "
                "Specify retain_graph=True if you need to backward through the graph a second time "
                "or if you need to access saved tensors after calling backward.")
        inputs = tuple(unpack_saved(s, self) if s.__class__ is tuple else
                       s.unpack(self) if s.__class__ is SavedPacked else s for s in self._saved)
        out = self._out
        output = None if out is None else (out.unpack(self) if out.__class__ is not tuple
                                           else tuple(None if o is None else o.unpack(self)
                                                      for o in out))
        meta = self._in_meta
        return Ctx(op, inputs, output, self._attrs,
                   tuple(m[0] if m is not None else None for m in meta),
                   tuple(m[1] if m is not None else None for m in meta),
                   tuple(m[2] if m is not None else None for m in meta),
                   tuple(e is not NO_EDGE for e in self._next))

    def release(self) -> None:
        if self._op.save_inputs or self._op.save_output:
            self._saved = (None,) * len(self._saved)
            self._out = None
            self._released = True


_NODE_CLASSES: dict[str, type] = {}


def node_class(name: str, base: type = OpNode) -> type:
    cls = _NODE_CLASSES.get(name)
    if cls is None:
        cls = _NODE_CLASSES[name] = type(name, (base,), {"__slots__": ()})
    return cls


class AccumulateGrad(Node):
    """Where a leaf's gradient lands: runs the leaf's hooks, then adds into `.grad`.

    The leaf owns its accumulator (made once, not per op) and the accumulator refers back to the
    leaf weakly, so neither keeps the other alive in a cycle; a leaf that is gone has no `.grad`
    anyone could read."""

    __slots__ = ("_variable",)

    def __init__(self, variable: Tensor) -> None:
        self._variable = weakref.ref(variable)
        # run as soon as ready, as PyTorch's engine does (its accumulators have the highest
        # sequence number): a leaf's gradient is added into .grad and freed at once, not
        # buffered to the end of backward with every other parameter's
        self._next, self._seq, self._pre_hooks, self._post_hooks = (), _FIRST + next(_seq), \
            None, None

    @property
    def variable(self) -> Tensor | None:
        return self._variable()

    def apply(self, grads: list) -> Sequence:
        g = grads[0]
        var = self._variable()
        if g is None or var is None:
            return ()
        ag = var._ag
        if ag is not None and ag.hooks:
            for hook in list(ag.hooks):
                new = hook(g)
                if new is not None:
                    g = new
        accumulate(var, g)
        return ()


def accumulate(var: Tensor, g: Tensor) -> None:
    """`var.grad += g`: in place when no graph is being built, out of place under create_graph."""
    ag = var._meta()
    if ag.grad is None:
        ag.grad = g if grad_state.enabled else _wrap(g._data.copy(), g._dtype, g._device)
    elif grad_state.enabled:
        ag.grad = ag.grad + g
    else:
        ag.grad._data += g._data


def grad_accumulator(t: Tensor) -> AccumulateGrad:
    ag = t._meta()
    if ag.grad_acc is None:
        ag.grad_acc = AccumulateGrad(t)
    return ag.grad_acc


def gradient_edge(t: Tensor) -> tuple:
    """(node, output index) where t's gradient goes: its grad_fn, or its leaf accumulator."""
    fn = t.grad_fn if t._view is not None else t._grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    if t._requires_grad:
        return (grad_accumulator(t), 0)
    return NO_EDGE


def _input_meta(inputs: Sequence) -> tuple:
    """(shape, dtype, device) of each tensor input, None for Python scalars."""
    return tuple((x._data.shape, x._dtype, x._device) if isinstance(x, Tensor) else None
                 for x in inputs)


def _make_node(op: OpDef, name: str, attrs: dict, edges: list, saved: tuple,
               input_meta: tuple) -> OpNode:
    node = object.__new__(node_class(name))
    node._op = op
    node._attrs = op.full_attrs(attrs)
    node._next = tuple(edges)
    node._seq = next(_seq)
    node._pre_hooks = node._post_hooks = None
    node._saved = saved
    node._out = None
    node._in_meta = input_meta
    node._released = False
    node._out_meta = None
    return node


def _save(op: OpDef, inputs: Sequence, first: Any = None) -> tuple:
    keep = op.save_inputs
    out = []
    for i, x in enumerate(inputs):
        if i not in keep:
            out.append(None if isinstance(x, Tensor) else x)
        elif i == 0 and first is not None:
            out.append(first)
        else:
            out.append(save_input(x) if isinstance(x, Tensor) else x)
    return tuple(out)


def record(op: OpDef, inputs: Sequence, attrs: dict, out: Any) -> None:
    """Attach the backward node of `out = op(*inputs)` (called by the eager runtime on the hot
    path of training, hence one loop over the inputs and no helper calls). `out` is a tuple for
    an op of several outputs."""
    if out.__class__ is tuple:
        _record_multi(op, inputs, attrs, out)
        return
    if op.vjp is None or not out._dtype.is_floating_point:
        return
    name = op.grad_name if op.grad_name.__class__ is str else op.node_name(inputs, attrs)
    node = object.__new__(_NODE_CLASSES.get(name) or node_class(name))
    keep = op.save_inputs
    hooks = grad_state.saved_hooks  # saved_tensors_hooks: None unless some are active
    edges, saved, meta = [], [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            if x._requires_grad:
                fn = x.grad_fn if x._view is not None else x._grad_fn
                if fn is None:  # a leaf: its accumulator, made once and kept on the tensor
                    ag = x._ag
                    fn = ag.grad_acc if ag is not None else None
                    edges.append((fn or grad_accumulator(x), 0))
                else:
                    edges.append((fn, x._output_nr))
            else:
                edges.append(NO_EDGE)
            if i in keep and hooks is not None:
                saved.append(_packed(x, hooks))
            elif i in keep:
                v = x._version
                if v is None:
                    v = x._version = VersionCounter()
                elif v.__class__ is not VersionCounter:  # an inference tensor
                    raise RuntimeError(_INFERENCE_SAVED)
                saved.append((x, v.value))
            else:
                saved.append(None)
            meta.append((x._data.shape, x._dtype, x._device))
        else:
            edges.append(NO_EDGE)
            saved.append(x)
            meta.append(None)
    node._op = op
    node._attrs = op.full_attrs(attrs) if attrs else op.default_attrs
    node._next = tuple(edges)
    node._seq = next(_seq)
    node._pre_hooks = node._post_hooks = None
    node._saved = tuple(saved)
    node._out = (None if not op.save_output else SavedOutput(out) if hooks is None else
                 SavedPacked(out, hooks, None, True))
    node._in_meta = tuple(meta)
    node._released = False
    node._out_meta = None
    out._grad_fn = node
    out._requires_grad = True
    if out._view is not None:
        out._view.fn_version = out._version.value


def _record_multi(op: OpDef, inputs: Sequence, attrs: dict, outs: tuple) -> None:
    if op.vjp is None or not any(o._dtype.is_floating_point for o in outs):
        return
    edges = [gradient_edge(x) if isinstance(x, Tensor) and x._requires_grad else NO_EDGE
             for x in inputs]
    node = _make_node(op, op.node_name(inputs, attrs), attrs, edges, _save(op, inputs),
                      _input_meta(inputs))
    node._out_meta = tuple((o._data.shape, o._dtype, o._device) for o in outs)
    keep = op.save_output
    if keep:  # True: every output; a tuple: only those (indices, not the values PyTorch frees)
        node._out = tuple(save_output(o, i) if keep is True or i in keep else None
                          for i, o in enumerate(outs))
    for i, o in enumerate(outs):
        if o._dtype.is_floating_point:
            o._grad_fn, o._output_nr, o._requires_grad = node, i, True


# ------------------------------------------------------------------------------ in-place ops

def check_inplace_allowed(t: Tensor, op: OpDef) -> None:
    """Refuse what PyTorch refuses: writing into a leaf that requires grad, or a view of one."""
    view = t._view
    if view is None:
        if t._grad_fn is None and t._requires_grad:
            raise RuntimeError(f"{op.name}_(): a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        return
    base = view.base
    if view.chain is None and (base._requires_grad or t._requires_grad):
        raise RuntimeError(
            f"{op.name}_(): this view is an output of a function that returns multiple views "
            "(split, unbind, chunk); such outputs may not be modified in place while autograd "
            "records. Clone it first, or modify the base.")
    if base._grad_fn is None and base._requires_grad:
        raise RuntimeError(f"{op.name}_(): a view of a leaf Variable that requires grad is being "
                           "used in an in-place operation.")
    if not view.grad_ok and base._requires_grad:
        raise RuntimeError(f"{op.name}_(): a view was created in no_grad mode and is being "
                           "modified inplace with grad mode enabled; clone() it first.")


def snapshot_for_inplace(op: OpDef, t: Tensor) -> tuple:
    """What backward needs of t before it is overwritten: its grad edge and, if the VJP reads the
    old value, a copy of it that keeps the old history."""
    edge = gradient_edge(t)
    old = None
    if 0 in op.save_inputs:
        old_t = _wrap(t._data.copy(), t._dtype, t._device)
        old_t._grad_fn, old_t._output_nr = edge[0] if edge is not NO_EDGE and not isinstance(
            edge[0], AccumulateGrad) else None, edge[1]
        old_t._requires_grad = old_t._grad_fn is not None
        old = save_input(old_t)
    return edge, old


def record_inplace(op: OpDef, inputs: Sequence, attrs: dict, t: Tensor, snapshot: tuple) -> None:
    """Rewire history after `op_` wrote into t: a new node for t, and CopySlices for its base."""
    if op.vjp is None:
        return
    old_edge, old_value = snapshot
    edges = [old_edge] + [gradient_edge(x) if isinstance(x, Tensor) and x._requires_grad
                          else NO_EDGE for x in inputs[1:]]
    node = _make_node(op, op.node_name(inputs, attrs), attrs, edges,
                      _save(op, inputs, old_value), _input_meta(inputs))
    if op.save_output:
        node._out = save_output(t)
    view = t._view
    if view is None:
        t._grad_fn, t._output_nr, t._requires_grad = node, 0, True
        return
    base = view.base
    copy_slices = object.__new__(CopySlices)
    copy_slices._fn = node
    copy_slices._chain = view.chain
    copy_slices._next = (gradient_edge(base),) + node._next[1:]
    copy_slices._seq = next(_seq)
    copy_slices._pre_hooks = copy_slices._post_hooks = None
    base._grad_fn, base._output_nr, base._requires_grad = copy_slices, 0, True
    view.fn_version = -1  # force the view's grad_fn to be re-derived from the new base history
    refresh_view_grad_fn(t)


class CopySlices(Node):
    """The base's new history after an in-place op on one of its views (PyTorch's CopySlices)."""

    __slots__ = ("_fn", "_chain")

    def apply(self, grads: list) -> Sequence:
        g = grads[0]
        if g is None:
            return [None] * len(self._next)
        result = g.clone()
        region = replay_view(result, self._chain)
        res = self._fn.apply([region.clone()])
        region.copy_(res[0] if res[0] is not None else 0.0)
        return [result] + list(res[1:])

    def release(self) -> None:
        self._fn.release()


def replay_view(t: Tensor, chain: tuple) -> Tensor:
    """Apply a view chain recorded from a base to another tensor of the base's shape."""
    for op, attrs, _ in chain:
        t = bind(op, (t,), attrs)
    return t


def refresh_view_grad_fn(t: Tensor) -> None:
    """Re-derive a view's grad_fn from its base when the base's history changed in place."""
    view = t._view
    counter = t._version
    if counter is None or view.fn_version == counter.value or not view.grad_ok or \
            view.chain is None:
        return
    base = view.base
    if not base._requires_grad:
        return
    edge = gradient_edge(base)
    for op, attrs, shape in view.chain:
        node = _make_node(op, op.node_name((), attrs), attrs, [edge], (None,),
                          ((shape, base._dtype, base._device),))
        edge = (node, 0)
    t._grad_fn, t._output_nr, t._requires_grad = edge[0], 0, True
    view.fn_version = counter.value


# ------------------------------------------------------------------------------------ hooks

def register_tensor_hook(t: Tensor, hook: Callable) -> RemovableHandle:
    if not t._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t._grad_fn is None:
        ag = t._meta()
        if ag.hooks is None:
            ag.hooks = []
        ag.hooks.append(hook)
        return RemovableHandle(ag.hooks, hook)
    hooks = t.grad_fn._hooks_for(t._output_nr)
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def retain_grad(t: Tensor) -> None:
    if not t._requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if t._grad_fn is None or t.retains_grad:
        return
    ref = weakref.ref(t)

    def keep(g: Tensor) -> None:
        target = ref()
        if target is not None:
            accumulate(target, g)

    keep._retain_grad = True  # the engine runs these after the user's hooks, as PyTorch does
    t._meta().retains_grad = True
    t.grad_fn._hooks_for(t._output_nr).append(keep)

