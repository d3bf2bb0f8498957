"""The tracer of plain functions, which may be whole training steps: forward, loss,
`loss.backward()`, `optimizer.step()`, `zero_grad()`, all captured into one graph.

What a plain function reads from outside (it has no module whose state capture could list) is
found as it is read:
- a tensor that requires grad (a parameter) becomes a state input, read at every call: a leaf
  that `backward()` differentiates with respect to;
- a tensor the function changes in place (an optimizer's buffer, a parameter under `no_grad`)
  becomes a state input too, and its new value a write-back;
- other tensors are constants, as in PyTorch's tracer.
`.grad`, the optimizer's state and the learning rates are `Slot`s (jit/slots.py): the tracer
keeps its own view of them while the function runs (the real objects do not change during
tracing), and what the function left in them becomes graph outputs written back after each
call. `backward()` builds the VJPs into the same graph (passes/autodiff.backprop_in_graph, the
rules eager autograd runs), so forward, backward and update are one program for the passes.

Python-level decisions the trace took (which `.grad` were None, which optimizer state existed,
the hyper-parameters other than the learning rate) are guards: jit/train_step.py traces again
when a call finds them different. A scheduler's `step()` inside the function runs after each
call, eagerly: a schedule is Python arithmetic on Python state.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..autograd.grad_mode import no_grad, state as grad_state
from ..ir.graph import Graph, Value
from ..ir.types import TensorType
from ..tensor import Tensor
from .blocks import BlockTracer
from .slots import GradSlot, GroupScalarSlot, OptimizerStateSlot, Slot, TensorSlot
from .tracer import TraceError, TracerTensor, trace_error

class _Leaf:
    """A tensor that requires grad, read by the function: its values in the graph (one per
    version: an in-place update under no_grad makes a new one) and its `.grad` slot."""

    __slots__ = ("tensor", "versions", "grad")

    def __init__(self, tensor: Tensor) -> None:
        self.tensor, self.versions, self.grad = tensor, [], None


class _Grad:
    """The tracer's view of one `.grad`: the slot, the state input it was read as (or None, if
    it was None), and the tensor the function has left there now (a TracerTensor or None)."""

    __slots__ = ("slot", "initial", "now")

    def __init__(self, slot: GradSlot, initial: Value | None, now: Any) -> None:
        self.slot, self.initial, self.now = slot, initial, now


class StepTracer(BlockTracer):
    """A tracer whose function may read and change outside state (see the module docstring).
    Grad mode is the caller's while it runs (capture does not force no_grad): nodes recorded
    under no_grad, and the VJPs themselves, pass no gradient."""

    keeps_grad_mode = True

    def __init__(self, graph: Graph, names: dict | None = None) -> None:
        super().__init__(graph)
        self.outside = self  # dispatch.Interpreter.outside: .grad, backward, optimizer steps
        self.names = names or {}  # id(tensor) -> a qualified name found in the function's scope
        self.slots: list[Slot] = []  # one per state input, in input order
        self.slot_inputs: list[Value] = []
        self.slot_proxies: list[TracerTensor] = []
        self._proxy: dict[int, TracerTensor] = {}  # id(outside tensor) -> its tracer tensor
        self._keep: list = []  # the outside tensors the ids belong to (so ids stay theirs)
        self._leaves: dict[int, _Leaf] = {}
        self._leaf_of_proxy: dict[int, _Leaf] = {}  # id(proxy) -> the leaf it stands for
        self.grads: dict[int, _Grad] = {}
        self._active: set = set()  # values that depend differentiably on a leaf
        self._frozen: set = set()  # ids of nodes recorded under no_grad
        self._aliases: dict[int, TracerTensor] = {}  # id(detached alias) -> the tensor's proxy
        self.optimizers: list = []  # each optimizer stepped, once per step() call
        self._opt_snapshots: dict[int, tuple] = {}  # id(optimizer) -> (optimizer, state copy)
        self._scalars: dict[tuple, TracerTensor] = {}  # (id(group), key) -> its state input
        self.deferred: list[tuple] = []  # (label, callable) to run after each call
        self.took_gradients = False

    # ------------------------------------------------------------------ recording nodes
    def _emit_node(self, op: Any, inputs: list, attrs: dict) -> Any:
        node = super()._emit_node(op, inputs, attrs)
        if not grad_state.enabled:
            self._frozen.add(id(node))
        elif op.differentiable and any(isinstance(x, Value) and x in self._active
                                       for x in inputs):
            self._active.update(o for o in node.outputs if _floating(o.type))
        return node

    def wrap(self, value: Value, view: Any = None) -> TracerTensor:
        t = super().wrap(value, view)
        t._requires_grad = value in self._active
        return t

    # ---------------------------------------------------------------- outside tensors
    def _name_for(self, t: Tensor, kind: str) -> str:
        base = self.names.get(id(t)) or f"{kind}{len(self.slots)}"
        name, k = base, 1
        taken = {v.name for v in self.graph.inputs}
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        return name

    def _new_state(self, t: Tensor, slot: Slot) -> TracerTensor:
        """A state input for outside tensor `t`, read through `slot` at every call."""
        value = self.graph.add_input(TensorType(t._dtype, tuple(t.shape), t._device), slot.name)
        self.slots.append(slot)
        self.slot_inputs.append(value)
        proxy = self.wrap(value)
        self.slot_proxies.append(proxy)
        self._proxy[id(t)] = proxy
        self._keep.append(t)
        return proxy

    def _leaf(self, t: Tensor) -> _Leaf:
        leaf = self._leaves.get(id(t))
        if leaf is None:
            leaf = self._leaves[id(t)] = _Leaf(t)
        return leaf

    def proxy(self, t: Tensor, writing: bool = False) -> Any:
        """The tracer tensor standing for outside tensor `t` (made on first need), or None when
        `t` is read-only data (it stays a constant)."""
        if isinstance(t, TracerTensor):
            return t
        known = self._proxy.get(id(t))
        if known is not None:
            return known
        alias = self._aliases.get(id(t))
        if alias is not None:  # `p.detach()`, `p.data`: writes go to p, reads carry no grad
            return alias if writing else alias.detach()
        if not (t._requires_grad or writing):
            return None
        if id(t) in self._constants:
            raise trace_error("a tensor from outside the traced function was read as a "
                              "constant and then changed in place",
                              "change it before its first read, or pass it as an input")
        proxy = self._new_state(t, TensorSlot(t, self._name_for(t, "state")))
        if t._requires_grad:
            self._active.add(proxy._value)
            proxy._requires_grad = True
            leaf = self._leaf(t)
            leaf.versions.append(proxy._value)
            self._leaf_of_proxy[id(proxy)] = leaf
        return proxy

    def _inside(self, inputs: Sequence, writing: bool) -> list:
        out = list(inputs)
        for i, x in enumerate(out):
            if isinstance(x, Tensor) and not isinstance(x, TracerTensor):
                p = self.proxy(x, writing and i == 0)
                if p is not None:
                    out[i] = p
        return out

    def value_of(self, x: Any) -> Any:
        if isinstance(x, Tensor) and not isinstance(x, TracerTensor):
            p = self.proxy(x)
            if p is not None:
                return self.current(p)
        return super().value_of(x)

    def process(self, op: Any, inputs: Sequence, attrs: dict) -> Any:
        return super().process(op, self._inside(inputs, False), attrs)

    def process_inplace(self, op: Any, inputs: Sequence, attrs: dict) -> Any:
        target = inputs[0]
        outside = isinstance(target, Tensor) and not isinstance(target, TracerTensor)
        if outside and target._requires_grad and target._grad_fn is None and \
                grad_state.enabled:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        inputs = self._inside(inputs, True)
        proxy = inputs[0]
        result = super().process_inplace(op, inputs, attrs)
        if outside:
            leaf = self._leaf_of_proxy.get(id(proxy))
            if leaf is not None:  # a parameter updated under no_grad: a new leaf version
                value = self.current(proxy)
                self._active.add(value)
                leaf.versions.append(value)
            return target
        return result

    def alias(self, t: Tensor, alias: Tensor) -> None:
        """`t.detach()` / `t.data` of an outside tensor: the alias reads and writes `t`."""
        proxy = self._proxy.get(id(t))
        if proxy is None and t._requires_grad:
            proxy = self.proxy(t)
        if proxy is not None:
            self._aliases[id(alias)] = proxy
            self._keep.append(alias)

    # -------------------------------------------------------------------------- .grad
    def grad_of(self, t: Tensor) -> Any:
        if isinstance(t, TracerTensor):
            return None
        entry = self.grads.get(id(t))
        if entry is None:
            entry = self._grad_entry(t)
        return entry.now

    def _grad_entry(self, t: Tensor) -> _Grad:
        slot = GradSlot(t, self.names.get(id(t)) or self._name_for(t, "param"))
        real = slot.read()
        if real is None:
            entry = _Grad(slot, None, None)
        else:
            proxy = self._new_state(real, slot)
            entry = _Grad(slot, proxy._value, proxy)
        self.grads[id(t)] = entry
        self._keep.append(t)
        return entry

    def set_grad(self, t: Tensor, value: Any) -> None:
        if isinstance(t, TracerTensor):
            raise trace_error("setting .grad of a tensor computed inside the traced function")
        entry = self.grads.get(id(t)) or self._grad_entry(t)
        if value is not None and not isinstance(value, TracerTensor):
            value = self.wrap(self.value_of(value))
        entry.now = value

    # ------------------------------------------------------------------------ backward
    def _roots(self, outputs: tuple, grads: tuple, create_graph: bool) -> list:
        if create_graph:
            raise trace_error("backward(create_graph=True) inside a traced function",
                              "take higher-order gradients in eager mode")
        if grads and len(grads) != len(outputs):
            raise RuntimeError(f"got {len(grads)} gradients for {len(outputs)} outputs")
        roots = []
        for i, t in enumerate(outputs):
            if not (isinstance(t, TracerTensor) and t._tracer is self):
                raise trace_error("backward() of a tensor the traced function did not compute")
            v = self.current(t)
            if v not in self._active:
                raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                                   "have a grad_fn")
            g = grads[i] if grads else None
            with no_grad():
                if g is None:
                    if any(d != 1 for d in v.type.shape):
                        raise RuntimeError("grad can be implicitly created only for scalar "
                                           f"outputs (the output has shape "
                                           f"{list(v.type.shape)})")
                    g = self.filler(v.type, 1)
                elif not isinstance(g, Tensor):
                    raise TypeError(f"gradients must be Tensors or None, got "
                                    f"{type(g).__name__}")
                else:
                    g = self.wrap(self.value_of(g))
            roots.append((v, g))
        return roots

    def _differentiate(self, roots: list, leaves: list) -> dict:
        from dualgraph.passes.autodiff import backprop_in_graph  # late: passes import jit
        self.took_gradients = True
        return backprop_in_graph(self.graph, self, roots, leaves, self._frozen)

    def backward(self, outputs: tuple, grads: tuple, retain_graph: Any, create_graph: bool,
                 inputs: tuple | None) -> None:
        """`loss.backward()` inside the function: gradients of every leaf it read (or of
        `inputs`) accumulated into their `.grad`, as eager autograd does."""
        roots = self._roots(outputs, grads, create_graph)
        chosen = None if inputs is None else {id(t) for t in inputs}
        leaves = [leaf for key, leaf in self._leaves.items() if chosen is None or key in chosen]
        found = self._differentiate(roots, [v for leaf in leaves for v in leaf.versions])
        with no_grad():
            for leaf in leaves:
                parts = [found[v] for v in leaf.versions if v in found]
                if not parts:
                    continue
                total = parts[0]
                for p in parts[1:]:
                    total = total + p
                old = self.grad_of(leaf.tensor)
                new = total if old is None else old + total
                # .grad is a tensor of its own (a VJP's result may be a view: keep no link)
                self.set_grad(leaf.tensor, self.wrap(self.current(new)))

    def grad(self, outputs: tuple, grad_outputs: tuple, inputs: tuple, retain_graph: Any,
             create_graph: bool, allow_unused: Any, materialize_grads: bool) -> tuple:
        """`dg.autograd.grad` inside the function: the gradients, returned."""
        roots = self._roots(outputs, grad_outputs, create_graph)
        values = []
        for t in inputs:
            p = self.proxy(t) if not isinstance(t, TracerTensor) else t
            if p is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            values.append(self.current(p))
        found = self._differentiate(roots, values)
        result = []
        for i, v in enumerate(values):
            g = found.get(v)
            if g is None:
                if materialize_grads:
                    with no_grad():
                        g = self.filler(v.type, 0)
                elif not allow_unused:
                    raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to "
                                       "not have been used in the graph. Set allow_unused=True "
                                       "if this is the desired behavior.")
            result.append(g)
        return tuple(result)

    # ---------------------------------------------------------------- optimizers, schedules
    def optimizer_step(self, optimizer: Any, run: Callable) -> Any:
        """`optimizer.step()` inside the function: its state tensors become slots, each group's
        learning rate a state input, and the update is traced like any code."""
        if optimizer.__class__.__name__ == "LBFGS":
            raise trace_error("LBFGS.step(closure) inside a traced function: its closure and "
                              "line search decide in Python how often to evaluate the loss",
                              "run LBFGS eagerly, or trace only the closure's forward")
        name = self.names.get(id(optimizer), type(optimizer).__name__.lower())
        if id(optimizer) not in self._opt_snapshots:
            self._opt_snapshots[id(optimizer)] = (
                optimizer, {p: dict(s) for p, s in optimizer.state.items()},
                [dict(g) for g in optimizer.param_groups])
        index = {id(p): i for i, p in enumerate(optimizer._params())}
        for p, state in optimizer.state.items():
            for key, value in state.items():
                if isinstance(value, Tensor) and not isinstance(value, TracerTensor) and \
                        id(value) not in self._proxy:
                    slot = OptimizerStateSlot(optimizer, p, key,
                                              f"{name}.state.{index.get(id(p), 'x')}.{key}")
                    self._new_state(value, slot)
        replaced = []
        for i, group in enumerate(optimizer.param_groups):
            lr = group.get("lr")
            if isinstance(lr, (int, float)) and not isinstance(lr, bool):
                key = (id(group), "lr")
                proxy = self._scalars.get(key)
                if proxy is None:
                    slot = GroupScalarSlot(group, "lr", f"{name}.param_groups.{i}.lr")
                    proxy = self._scalars[key] = self._new_state(slot.read(), slot)
                replaced.append((group, lr))
                group["lr"] = proxy
        try:
            result = run()
        except TraceError as exc:
            raise TraceError(f"{exc}\n(in {type(optimizer).__name__}.step(): SGD, Adam and AdamW "
                             "compute their updates with tensors and can be traced; this "
                             "optimizer reads a Python number from its state)") from None
        finally:
            for group, lr in replaced:
                group["lr"] = lr
        self.optimizers.append(optimizer)
        return result

    def defer(self, label: str, fn: Callable) -> None:
        """A Python side effect (a scheduler's step) to run after each call, in order."""
        self.deferred.append((label, fn))

    # --------------------------------------------------------------------------- finish
    def finish(self) -> tuple:
        """(writes, clears, created): what the function left in its slots — (slot, value,
        how) for each write-back, the `.grad` slots it left None, and (slot, value) for
        optimizer state it created. Call `restore()` after, in any case."""
        writes, clears, created = [], [], []
        for slot, value, proxy in zip(self.slots, self.slot_inputs, self.slot_proxies):
            if isinstance(slot, (TensorSlot, OptimizerStateSlot)):
                now = self.current(proxy)
                if now is not value:
                    writes.append((slot, now, "inplace"))
        for entry in self.grads.values():
            if entry.now is None:
                if entry.initial is not None:
                    clears.append(entry.slot)
                continue
            now = self.current(entry.now)
            if now is not entry.initial:
                writes.append((entry.slot, now, "assign"))
        for optimizer, state, _ in self._opt_snapshots.values():
            index = {id(p): i for i, p in enumerate(optimizer._params())}
            name = self.names.get(id(optimizer), type(optimizer).__name__.lower())
            for p, entries in optimizer.state.items():
                before = state.get(p, {})
                for key, value in entries.items():
                    if isinstance(value, TracerTensor):
                        slot = OptimizerStateSlot(optimizer, p, key,
                                                  f"{name}.state.{index.get(id(p), 'x')}.{key}")
                        created.append((slot, self.current(value)))
                    elif key not in before or before[key] is not value:
                        what = ("a tensor made without an op (dg.tensor)" if
                                isinstance(value, Tensor) else f"a Python value ({value!r:.40})")
                        raise trace_error(f"{type(optimizer).__name__}.step() stored {what} "
                                          f"as its state {key!r} while traced",
                                          "keep optimizer state in tensors made by ops "
                                          "(dg.zeros, dg.full, clone)")
        return writes, clears, created

    def restore(self) -> None:
        """Put every optimizer the function stepped back as it was before tracing."""
        for optimizer, state, groups in self._opt_snapshots.values():
            optimizer.state.clear()
            optimizer.state.update({p: dict(s) for p, s in state.items()})
            for group, saved in zip(optimizer.param_groups, groups):
                group.clear()
                group.update(saved)


def _floating(t: Any) -> bool:
    return isinstance(t, TensorType) and t.dtype.is_floating_point
